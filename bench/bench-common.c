/* bench-common.c: see bench-common.h. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* sched_setaffinity, CPU_SET (meson defines it too) */
#endif
#include "bench-common.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/perf_event.h>
#include <math.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char *bench_name = "bench";
static pid_t started_daemon = -1, daemon_starter = -1;

uint64_t bench_now_ns(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t bench_cpu_ns(pid_t pid) {
        clockid_t clk;
        struct timespec ts;
        if (clock_getcpuclockid(pid, &clk) != 0 || clock_gettime(clk, &ts) < 0)
                return 0;
        return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t bench_schedstat(pid_t pid, int field) {
        char path[64];
        snprintf(path, sizeof path, "/proc/%d/schedstat", (int)pid);
        FILE *f = fopen(path, "re");
        if (!f)
                return 0;
        uint64_t v[3];
        int n = fscanf(f, "%" SCNu64 " %" SCNu64 " %" SCNu64, &v[0], &v[1], &v[2]);
        fclose(f);
        return field >= 0 && field < n ? v[field] : 0;
}

int bench_fd_count(pid_t pid) {
        char path[64];
        snprintf(path, sizeof path, "/proc/%d/fd", (int)pid);
        DIR *d = opendir(path);
        if (!d)
                return -1;
        int n = 0;
        for (struct dirent *e; (e = readdir(d));)
                if (e->d_name[0] != '.')
                        n++;
        closedir(d);
        return pid == getpid() ? n - 1 : n; /* not the DIR's own fd */
}

long bench_status_kib(pid_t pid, const char *field) {
        char path[64], line[256];
        snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
        FILE *f = fopen(path, "re");
        if (!f)
                return -1;
        size_t len = strlen(field);
        long kib = -1;
        while (fgets(line, sizeof line, f))
                if (!strncmp(line, field, len) && line[len] == ':') {
                        kib = strtol(line + len + 1, NULL, 10);
                        break;
                }
        fclose(f);
        return kib;
}

long bench_rss_kib(pid_t pid) {
        return bench_status_kib(pid, "VmRSS");
}

long bench_raise_nofile(void) {
        struct rlimit rl;
        if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
                return -1;
        if (rl.rlim_cur < rl.rlim_max) {
                rl.rlim_cur = rl.rlim_max;
                (void)setrlimit(RLIMIT_NOFILE, &rl);
                if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
                        return -1;
        }
        return rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > (rlim_t)LONG_MAX ? LONG_MAX : (long)rl.rlim_cur;
}

void bench_set_name(const char *prog) {
        bench_name = prog;
}

_Noreturn void bench_fail(const char *what, int r) {
        fprintf(stderr, "%s: %s: %s\n", bench_name, what, strerror(r < 0 ? -r : r));
        if (started_daemon > 0 && getpid() == daemon_starter) {
                kill(started_daemon, SIGTERM);
                (void)waitpid(started_daemon, NULL, 0);
        }
        exit(1);
}

static cpu_set_t cpus_before_pin;
static bool have_cpus_before_pin;

bool bench_pin_one_cpu(void) {
        const char *no = getenv("BENCH_NO_PIN");
        if (no && !strcmp(no, "1"))
                return false;
        cpu_set_t set;
        if (sched_getaffinity(0, sizeof set, &set) != 0)
                return false;
        if (!have_cpus_before_pin) {
                cpus_before_pin = set;
                have_cpus_before_pin = true;
        }
        int cpu = CPU_SETSIZE - 1;
        while (cpu >= 0 && !CPU_ISSET(cpu, &set))
                cpu--;
        if (cpu < 0)
                return false;
        CPU_ZERO(&set);
        CPU_SET(cpu, &set);
        return sched_setaffinity(0, sizeof set, &set) == 0;
}

bool bench_unpin(void) {
        return have_cpus_before_pin && sched_setaffinity(0, sizeof cpus_before_pin, &cpus_before_pin) == 0;
}

static _Noreturn void exec_daemon(const char *sysmemd, const char *socket_path, const char *const *extra_args) {
        size_t n = 0;
        while (extra_args && extra_args[n])
                n++;
        const char **argv = calloc(n + 6, sizeof *argv);
        if (!argv)
                _exit(127);
        argv[0] = sysmemd;
        argv[1] = "--socket";
        argv[2] = socket_path;
        argv[3] = "--log-level";
        argv[4] = "warning";
        for (size_t i = 0; i < n; i++)
                argv[5 + i] = extra_args[i];
        execv(sysmemd, (char *const *)argv);
        fprintf(stderr, "%s: exec %s: %s\n", bench_name, sysmemd, strerror(errno));
        _exit(127);
}

pid_t bench_start_daemon(const char *sysmemd, const char *socket_path, const char *const *extra_args) {
        fflush(NULL);
        pid_t pid = fork();
        if (pid < 0)
                bench_fail("fork", errno);
        if (pid == 0)
                exec_daemon(sysmemd, socket_path, extra_args);
        for (int i = 0; i < 1000; i++) {
                struct stat st;
                if (stat(socket_path, &st) == 0 && S_ISSOCK(st.st_mode)) {
                        started_daemon = pid;
                        daemon_starter = getpid();
                        return pid;
                }
                if (waitpid(pid, NULL, WNOHANG) == pid) {
                        fprintf(stderr, "%s: sysmemd %s exited before creating %s\n", bench_name, sysmemd,
                                socket_path);
                        exit(1);
                }
                struct timespec ts = {0, 10 * 1000 * 1000};
                nanosleep(&ts, NULL);
        }
        fprintf(stderr, "%s: sysmemd did not come up on %s\n", bench_name, socket_path);
        kill(pid, SIGKILL);
        (void)waitpid(pid, NULL, 0);
        exit(1);
}

int bench_stop_daemon(pid_t pid) {
        if (pid <= 0)
                return -1;
        if (kill(pid, SIGTERM) < 0)
                return -1;
        int st;
        pid_t w;
        while ((w = waitpid(pid, &st, 0)) < 0 && errno == EINTR)
                ;
        if (pid == started_daemon)
                started_daemon = -1;
        if (w != pid || !WIFEXITED(st))
                return -1;
        return WEXITSTATUS(st);
}

/* The id of the raw_syscalls:sys_enter tracepoint, or -errno with why filled. */
static long syscall_tracepoint_id(char *why, size_t why_size) {
        static const char *const paths[] = {
                "/sys/kernel/tracing/events/raw_syscalls/sys_enter/id",
                "/sys/kernel/debug/tracing/events/raw_syscalls/sys_enter/id",
        };
        int err = ENOENT;
        for (size_t i = 0; i < sizeof paths / sizeof *paths; i++) {
                FILE *f = fopen(paths[i], "re");
                if (!f) {
                        if (errno != ENOENT)
                                err = errno;
                        continue;
                }
                long id = -1;
                int n = fscanf(f, "%ld", &id);
                fclose(f);
                if (n == 1 && id >= 0)
                        return id;
        }
        snprintf(why, why_size, "no raw_syscalls/sys_enter/id in tracefs (%s%s)", strerror(err),
                 err == EACCES ? ": not root?" : ": tracefs not mounted?");
        return -err;
}

int bench_syscalls_open(struct bench_syscalls *sc, pid_t pid) {
        sc->fd = -1;
        sc->why[0] = '\0';
        long id = syscall_tracepoint_id(sc->why, sizeof sc->why);
        if (id < 0)
                return (int)id;
        struct perf_event_attr attr;
        memset(&attr, 0, sizeof attr);
        attr.type = PERF_TYPE_TRACEPOINT;
        attr.size = sizeof attr;
        attr.config = (uint64_t)id;
        attr.inherit = 1;
        long fd = syscall(SYS_perf_event_open, &attr, pid, -1, -1, PERF_FLAG_FD_CLOEXEC);
        if (fd < 0) {
                int err = errno;
                int paranoid = -9;
                FILE *f = fopen("/proc/sys/kernel/perf_event_paranoid", "re");
                if (f) {
                        if (fscanf(f, "%d", &paranoid) != 1)
                                paranoid = -9;
                        fclose(f);
                }
                snprintf(sc->why, sizeof sc->why, "perf_event_open(raw_syscalls:sys_enter): %s (euid %d, "
                         "perf_event_paranoid %d)", strerror(err), (int)geteuid(), paranoid);
                return -err;
        }
        sc->fd = (int)fd;
        return 0;
}

uint64_t bench_syscalls_read(const struct bench_syscalls *sc) {
        uint64_t v = 0;
        if (sc->fd < 0 || read(sc->fd, &v, sizeof v) != (ssize_t)sizeof v)
                return 0;
        return v;
}

void bench_syscalls_close(struct bench_syscalls *sc) {
        if (sc->fd >= 0)
                close(sc->fd);
        sc->fd = -1;
}

static int cmp_u64(const void *a, const void *b) {
        uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
        return x < y ? -1 : x > y;
}

struct bench_stats bench_summarize(uint64_t *ns, size_t n) {
        if (n == 0)
                return (struct bench_stats){0, 0, 0};
        qsort(ns, n, sizeof *ns, cmp_u64);
        return (struct bench_stats){
                .p10 = (double)ns[n / 10] / 1000.0,
                .p50 = (double)ns[n / 2] / 1000.0,
                .p90 = (double)ns[n * 9 / 10] / 1000.0,
        };
}

double bench_fit_exponent(const double *x, const double *y, size_t n) {
        double sx = 0, sy = 0, sxx = 0, sxy = 0;
        size_t m = 0;
        for (size_t i = 0; i < n; i++) {
                if (!(x[i] > 0) || !(y[i] > 0))
                        continue;
                double lx = log(x[i]), ly = log(y[i]);
                sx += lx;
                sy += ly;
                sxx += lx * lx;
                sxy += lx * ly;
                m++;
        }
        double den = (double)m * sxx - sx * sx;
        if (m < 2 || den == 0)
                return NAN;
        return ((double)m * sxy - sx * sy) / den;
}
