/*
 * bench-common.h: small helpers shared by the benches (clocks, /proc readings, a private sysmemd,
 * a syscall counter, percentiles and a log-log fit). Not part of libsysmem.
 */
#ifndef BENCH_COMMON_H
#define BENCH_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* CLOCK_MONOTONIC in nanoseconds. */
uint64_t bench_now_ns(void);
/* CPU time (user + system, all threads) of a process, through clock_getcpuclockid(); 0 on error. */
uint64_t bench_cpu_ns(pid_t pid);
/* Field 0, 1 or 2 of /proc/PID/schedstat (on-CPU ns, run-queue wait ns, times switched in); 0 on error. */
uint64_t bench_schedstat(pid_t pid, int field);
/* Entries of /proc/PID/fd; -1 on error. */
int bench_fd_count(pid_t pid);
/* VmRSS from /proc/PID/status in KiB; -1 on error. */
long bench_rss_kib(pid_t pid);
/* Any "Name:  N kB" line of /proc/PID/status (field "RssAnon", "RssShmem", "VmHWM", ...) in KiB; -1 on error. */
long bench_status_kib(pid_t pid, const char *field);
/* Raises RLIMIT_NOFILE's soft limit to the hard one (children inherit it); returns the soft limit now, -1 on error. */
long bench_raise_nofile(void);

/* The prefix of error messages ("prog: what: strerror"). */
void bench_set_name(const char *prog);
/* Prints "prog: what: strerror(|r|)", stops the daemon this process started (if any) and exits 1. */
_Noreturn void bench_fail(const char *what, int r);

/* Unless BENCH_NO_PIN=1: pins this process (children inherit) to the last CPU it may use; whether it did. */
bool bench_pin_one_cpu(void);
/* Undoes bench_pin_one_cpu(): back to the CPUs this process had before; whether it changed anything. */
bool bench_unpin(void);

/*
 * fork+exec: sysmemd --socket socket_path --log-level warning extra_args... (extra_args NULL-terminated,
 * may be NULL); waits until the socket exists and remembers the pid for bench_fail(). Exits on failure.
 */
pid_t bench_start_daemon(const char *sysmemd, const char *socket_path, const char *const *extra_args);
/* SIGTERM + waitpid: the exit status, or -1 if it did not exit normally. */
int bench_stop_daemon(pid_t pid);

/*
 * Counts the syscalls a process (and the children it starts afterwards) makes: a perf event on the
 * raw_syscalls:sys_enter tracepoint. bench_syscalls_open() returns < 0 when that is not available,
 * with sc->fd = -1 and sc->why saying why.
 */
struct bench_syscalls {
        int fd;
        char why[160];
};
int bench_syscalls_open(struct bench_syscalls *sc, pid_t pid);
/* The count so far (0 when unavailable). */
uint64_t bench_syscalls_read(const struct bench_syscalls *sc);
void bench_syscalls_close(struct bench_syscalls *sc);

/* Percentiles in microseconds. */
struct bench_stats {
        double p10, p50, p90;
};
/* Sorts ns[0..n) in place; all zero for n == 0. */
struct bench_stats bench_summarize(uint64_t *ns, size_t n);
/* Least-squares slope of log(y) on log(x) over the n points with x, y > 0 (NAN with fewer than 2). */
double bench_fit_exponent(const double *x, const double *y, size_t n);

#endif
