/* test-rights.c: a participant's buffer fds: read-only for readers, never executable, none without usage. */
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <grp.h>
#include <sys/wait.h>
#include <unistd.h>

#include <setjmp.h>
#include <cmocka.h>

#include "harness.h"

#define DAEMON(state) (&((struct h_fixture *)*(state))->daemon)
#define CPU_RW (SYSMEM_CPU_USAGE_READ | SYSMEM_CPU_USAGE_WRITE)
#define CPU_R SYSMEM_CPU_USAGE_READ
#define NO_WRITE (SYSMEM_RIGHT_READ | SYSMEM_RIGHT_MAP)

#ifndef F_SEAL_EXEC
#define F_SEAL_EXEC 0x0020 /* Linux 6.3 */
#endif
#ifndef F_SEAL_FUTURE_WRITE
#define F_SEAL_FUTURE_WRITE 0x0010
#endif
#ifndef MFD_NOEXEC_SEAL
#define MFD_NOEXEC_SEAL 0x0008u
#endif

static struct sysmem_node *tnode(struct sysmem_token *t) { return sysmem_token_node(t); }

static struct sysmem_token *dup_token(struct sysmem_token *t, uint32_t mask) {
        struct sysmem_token *out = NULL;
        int r = sysmem_token_duplicate_sync(t, 1, &mask, &out);
        if (r < 0)
                fail_msg("DuplicateSync: %s (%s)", strerror(-r), sysmem_node_error_message(tnode(t)));
        return out;
}

static void give(struct h_agent *a, struct sysmem_token *t) {
        int fd = sysmem_token_to_fd(t);
        assert_true(fd >= 0);
        h_agent_take_token(a, fd, NULL);
        close(fd);
}

static void agent_bind_set(struct h_agent *a, const struct sysmem_constraints *k) {
        struct h_rep rep;
        h_agent_cmd(a, H_BIND, 0, &rep);
        if (rep.r < 0)
                fail_msg("%s: Bind: %s", a->name, strerror(-rep.r));
        h_agent_set_constraints(a, k);
}

static void agent_wait_ok(struct h_agent *a, struct h_rep *rep) {
        h_agent_cmd(a, H_WAIT, 0, rep);
        if (rep->r < 0)
                fail_msg("%s: wait failed: %s: %s", a->name, sysmem_error_name(rep->error), rep->message);
}

/* The agent's buffer fds, received here (copies of its open files: same access mode). */
static uint32_t agent_buffers(struct h_agent *a, int *fds) {
        struct h_rep rep;
        h_agent_cmd(a, H_GIVE_BUFFERS, 0, &rep);
        if (rep.r < 0)
                fail_msg("%s: giving its buffers: %s", a->name, strerror(-rep.r));
        for (uint32_t i = 0; i < rep.value; i++)
                fds[i] = h_recv_fd(a->sock, H_TIMEOUT_MS);
        return rep.value;
}

static void close_all(int *fds, uint32_t n) {
        for (uint32_t i = 0; i < n; i++)
                close(fds[i]);
}

static bool fd_ino_equal(int a, int b) {
        struct stat sa, sb;
        assert_int_equal(fstat(a, &sa), 0);
        assert_int_equal(fstat(b, &sb), 0);
        return sa.st_ino == sb.st_ino && sa.st_dev == sb.st_dev;
}

static bool kernel_has_noexec_seal(void) {
        int fd = memfd_create("probe", MFD_CLOEXEC | MFD_NOEXEC_SEAL);
        if (fd < 0)
                return false;
        close(fd);
        return true;
}

/* Never executable: exec is sealed off where the kernel can (6.3+), and the mode has no exec bit. */
static void check_not_executable(int fd, const char *who) {
        struct stat st;
        assert_int_equal(fstat(fd, &st), 0);
        if (st.st_mode & 0111)
                fail_msg("%s: the buffer's mode 0%o has exec bits", who, st.st_mode & 07777);
        int seals = fcntl(fd, F_GET_SEALS);
        if (seals < 0)
                fail_msg("%s: F_GET_SEALS: %s", who, strerror(errno));
        if (kernel_has_noexec_seal()) {
                if (!(seals & F_SEAL_EXEC))
                        fail_msg("%s: seals 0x%x lack F_SEAL_EXEC on a kernel that has it", who, seals);
                errno = 0;
                if (fchmod(fd, (st.st_mode & 07777) | 0111) == 0)
                        fail_msg("%s: fchmod could make the buffer executable", who);
        }
}

/* A reader's fd: no shared writable mapping, no size change, no seals, no write(2). */
static void check_read_only(int fd, uint64_t size, const char *who) {
        int fl = fcntl(fd, F_GETFL);
        if ((fl & O_ACCMODE) != O_RDONLY)
                fail_msg("%s: the fd is open 0%o, not read-only", who, fl & O_ACCMODE);
        errno = 0;
        void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (p != MAP_FAILED)
                fail_msg("%s: a read-only fd maps PROT_WRITE | MAP_SHARED", who);
        if (errno != EACCES)
                fail_msg("%s: mapping it writable failed with %s, expected EACCES", who, strerror(errno));
        p = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);
        if (p == MAP_FAILED)
                fail_msg("%s: a read-only fd does not even map PROT_READ: %s", who, strerror(errno));
        errno = 0;
        if (mprotect(p, size, PROT_READ | PROT_WRITE) == 0)
                fail_msg("%s: a read-only shared mapping can be made writable with mprotect", who);
        assert_int_equal(errno, EACCES);
        munmap(p, size);
        if (ftruncate(fd, (off_t)size * 2) == 0 || ftruncate(fd, 0) == 0 || ftruncate(fd, (off_t)size / 2) == 0)
                fail_msg("%s: a read-only fd changed the buffer's size", who);
        struct stat st;
        assert_int_equal(fstat(fd, &st), 0);
        assert_int_equal(st.st_size, size);
        if (fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE) == 0 || fcntl(fd, F_ADD_SEALS, F_SEAL_FUTURE_WRITE) == 0)
                fail_msg("%s: a read-only fd added a seal", who);
        errno = 0;
        if (write(fd, "x", 1) >= 0 || pwrite(fd, "x", 1, 0) >= 0)
                fail_msg("%s: write(2) on a read-only fd succeeded", who);
        if (fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, 4096) == 0)
                fail_msg("%s: a read-only fd punched a hole in the buffer", who);
}

/* A writer's fd: read-write, but the size and the seals stay as sysmem set them. */
static void check_writable(int fd, uint64_t size, const char *who) {
        int fl = fcntl(fd, F_GETFL);
        if ((fl & O_ACCMODE) != O_RDWR)
                fail_msg("%s: a writer's fd is open 0%o, not read-write", who, fl & O_ACCMODE);
        void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (p == MAP_FAILED)
                fail_msg("%s: a writer's fd does not map writable: %s", who, strerror(errno));
        munmap(p, size);
        errno = 0;
        if (ftruncate(fd, (off_t)size * 2) == 0 || ftruncate(fd, 0) == 0)
                fail_msg("%s: a writer changed the buffer's size", who);
        if (fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE) == 0)
                fail_msg("%s: a writer added F_SEAL_WRITE (it would stop every other writer)", who);
}

/* ---- 8a. usage decides: writers get read-write fds, everyone else read-only ---- */

struct reader {
        const char *name;
        struct sysmem_constraints c;
        bool writes;
};

static void test_usage_decides_write_access(void **state) {
        struct h_daemon *d = DAEMON(state);
        static const struct reader readers[] = {
                {"cpu-writer", {.usage.cpu = CPU_RW, .min_buffer_count_for_camping = 1}, true},
                {"cpu-reader",
                 {.usage.cpu = CPU_R | SYSMEM_CPU_USAGE_READ_OFTEN, .min_buffer_count_for_camping = 1},
                 false},
                {"display-layer",
                 {.usage.display = SYSMEM_DISPLAY_USAGE_LAYER, .min_buffer_count_for_camping = 1},
                 false},
                {"vulkan-sampler", {.usage.vulkan = SYSMEM_VULKAN_IMAGE_USAGE_SAMPLED}, false},
                {"video-decoder", {.usage.video = SYSMEM_VIDEO_USAGE_HW_DECODER}, true},
                {"vulkan-transfer-dst", {.usage.vulkan = SYSMEM_VULKAN_IMAGE_USAGE_TRANSFER_DST}, true},
        };
        enum { N = sizeof readers / sizeof readers[0] };
        struct h_agent ag[N];
        struct h_rep rep;
        for (int i = 0; i < N; i++)
                h_agent_spawn(&ag[i], d, readers[i].name);
        struct sysmem_allocator *a = h_connect(d, "initiator");
        struct sysmem_token *root;
        assert_int_equal(sysmem_allocator_allocate_shared(a, &root), 0);
        for (int i = 0; i < N; i++) {
                give(&ag[i], dup_token(root, SYSMEM_RIGHTS_SAME));
                agent_bind_set(&ag[i], &readers[i].c);
        }
        struct sysmem_collection *init = NULL;
        assert_int_equal(sysmem_token_bind(root, &init), 0);
        struct sysmem_constraints k = h_cpu_constraints(CPU_RW, 1, 8192);
        assert_int_equal(sysmem_collection_set_constraints(init, &k), 0);
        struct sysmem_collection_info *info = NULL;
        assert_int_equal(h_wait_allocated(init, H_TIMEOUT_MS, &info), 0);
        uint32_t count = info->buffer_count;
        uint64_t raw = info->settings.buffer_settings.raw_vmo_size;
        assert_int_equal(count, 4);
        for (uint32_t b = 0; b < count; b++) {
                check_writable(info->buffers[b].fd, raw, "initiator");
                check_not_executable(info->buffers[b].fd, "initiator");
        }

        /* Each reader maps its buffers before the writer writes: the bytes show up in those mappings. */
        uint8_t *maps[N][SYSMEM_MAX_BUFFERS] = {{0}};
        int fds[N][SYSMEM_MAX_BUFFERS];
        uint32_t got[N];
        for (int i = 0; i < N; i++) {
                agent_wait_ok(&ag[i], &rep);
                got[i] = agent_buffers(&ag[i], fds[i]);
                if (got[i] != count)
                        fail_msg("%s: %u buffer fds, expected %u", readers[i].name, got[i], count);
                for (uint32_t b = 0; b < count; b++) {
                        char who[96];
                        snprintf(who, sizeof who, "%s buffer %u", readers[i].name, b);
                        if (fd_ino_equal(fds[i][b], info->buffers[b].fd) == false)
                                fail_msg("%s is not the initiator's buffer", who);
                        if (readers[i].writes)
                                check_writable(fds[i][b], raw, who);
                        else
                                check_read_only(fds[i][b], raw, who);
                        check_not_executable(fds[i][b], who);
                        maps[i][b] = mmap(NULL, raw, PROT_READ, MAP_SHARED, fds[i][b], 0);
                        assert_true(maps[i][b] != MAP_FAILED);
                }
        }
        h_agent_cmd(&ag[0], H_WRITE, 77, &rep);
        if (rep.r < 0)
                fail_msg("the writer cannot write: %s", rep.message);
        for (int i = 0; i < N; i++)
                for (uint32_t b = 0; b < count; b++) {
                        for (uint64_t o = 0; o < raw; o += 509)
                                if (maps[i][b][o] != h_pattern_byte(77, b, o))
                                        fail_msg("%s does not see the writer's byte %llu of buffer %u", readers[i].name,
                                                 (unsigned long long)o, b);
                        munmap(maps[i][b], raw);
                }
        /* A private writable mapping of a read-only fd is allowed, and stays private. */
        uint8_t *priv = mmap(NULL, raw, PROT_READ | PROT_WRITE, MAP_PRIVATE, fds[1][0], 0);
        assert_true(priv != MAP_FAILED);
        priv[0] ^= 0xff;
        uint8_t mine;
        assert_int_equal(pread(info->buffers[0].fd, &mine, 1, 0), 1);
        assert_int_equal(mine, h_pattern_byte(77, 0, 0));
        munmap(priv, raw);

        for (int i = 0; i < N; i++) {
                close_all(fds[i], got[i]);
                h_agent_cmd(&ag[i], H_RELEASE_COLLECTION, 0, &rep);
                assert_int_equal(rep.r, 0);
                h_agent_stop(&ag[i]);
        }
        sysmem_collection_info_free(info);
        assert_int_equal(sysmem_collection_release(init), 0);
        sysmem_allocator_free(a);
        h_daemon_expect_fds(d, d->baseline_fds);
}

/* ---- 8b. rights attenuation masks remove WRITE, whatever the usage, along the whole path ---- */

enum { M_DUP_SYNC, M_DUP, M_INHERITED, M_ATTACH, M_CREATE_CHILD, M_CHILDREN_SYNC, M_COUNT };

static void test_masks_remove_write(void **state) {
        struct h_daemon *d = DAEMON(state);
        static const char *const names[M_COUNT] = {"mask-by-duplicate-sync",    "mask-by-duplicate",
                                                   "same-under-a-masked-token", "mask-by-attach-token",
                                                   "mask-by-create-child",      "mask-by-create-children-sync"};
        struct h_agent ag[M_COUNT], writer;
        struct h_rep rep;
        for (int i = 0; i < M_COUNT; i++)
                h_agent_spawn(&ag[i], d, names[i]);
        h_agent_spawn(&writer, d, "writer");
        struct sysmem_allocator *a = h_connect(d, "initiator");
        struct sysmem_token *root;
        assert_int_equal(sysmem_allocator_allocate_shared(a, &root), 0);
        give(&writer, dup_token(root, SYSMEM_RIGHTS_SAME));
        give(&ag[M_DUP_SYNC], dup_token(root, NO_WRITE));
        /* Duplicate (one-way, then Sync) in the writer's process with a mask: the new token lacks WRITE. */
        struct h_req req = {.cmd = H_DUP, .mask = NO_WRITE};
        h_agent_call(&writer, &req, &rep);
        assert_int_equal(rep.r, 0);
        int fd = h_recv_fd(writer.sock, H_TIMEOUT_MS);
        h_agent_take_token(&ag[M_DUP], fd, NULL);
        close(fd);
        /* SAME rights below a masked token: still no WRITE (the masks AND along the path). */
        struct sysmem_token *masked = dup_token(root, NO_WRITE);
        give(&ag[M_INHERITED], dup_token(masked, SYSMEM_RIGHTS_SAME));
        assert_int_equal(sysmem_token_release(masked), 0);
        struct sysmem_token *owner1 = dup_token(root, SYSMEM_RIGHTS_SAME),
                            *owner2 = dup_token(root, SYSMEM_RIGHTS_SAME);
        struct sysmem_group *g1, *g2;
        assert_int_equal(sysmem_token_create_group(owner1, &g1), 0);
        assert_int_equal(sysmem_token_create_group(owner2, &g2), 0);
        struct sysmem_token *c1, *c2;
        uint32_t m = NO_WRITE;
        assert_int_equal(sysmem_group_create_child(g1, NO_WRITE, &c1), 0);
        assert_int_equal(sysmem_node_sync(sysmem_group_node(g1)), 0);
        assert_int_equal(sysmem_group_create_children_sync(g2, 1, &m, &c2), 0);
        assert_int_equal(sysmem_group_all_children_present(g1), 0);
        assert_int_equal(sysmem_group_all_children_present(g2), 0);
        assert_int_equal(sysmem_group_release(g1), 0);
        assert_int_equal(sysmem_group_release(g2), 0);
        assert_int_equal(sysmem_token_release(owner1), 0);
        assert_int_equal(sysmem_token_release(owner2), 0);
        give(&ag[M_CREATE_CHILD], c1);
        give(&ag[M_CHILDREN_SYNC], c2);

        struct sysmem_collection *init = NULL;
        assert_int_equal(sysmem_token_bind(root, &init), 0);
        struct sysmem_token *att;
        assert_int_equal(sysmem_collection_attach_token(init, NO_WRITE, &att), 0);
        give(&ag[M_ATTACH], att);

        struct sysmem_constraints rw = h_cpu_constraints(CPU_RW, 1, 4096);
        struct sysmem_constraints rw0 = h_cpu_constraints(CPU_RW, 0, 4096);
        agent_bind_set(&writer, &rw);
        for (int i = 0; i < M_COUNT; i++)
                if (i != M_ATTACH)
                        agent_bind_set(&ag[i], &rw);
        rw.min_buffer_count = 8;
        assert_int_equal(sysmem_collection_set_constraints(init, &rw), 0);
        struct sysmem_collection_info *info = NULL;
        assert_int_equal(h_wait_allocated(init, H_TIMEOUT_MS, &info), 0);
        agent_bind_set(&ag[M_ATTACH], &rw0);
        uint64_t raw = info->settings.buffer_settings.raw_vmo_size;
        agent_wait_ok(&writer, &rep);
        int wfds[SYSMEM_MAX_BUFFERS];
        uint32_t wn = agent_buffers(&writer, wfds);
        assert_int_equal(wn, info->buffer_count);
        for (uint32_t b = 0; b < wn; b++)
                check_writable(wfds[b], raw, "writer");
        close_all(wfds, wn);
        for (int i = 0; i < M_COUNT; i++) {
                agent_wait_ok(&ag[i], &rep);
                int fds[SYSMEM_MAX_BUFFERS];
                uint32_t n = agent_buffers(&ag[i], fds);
                if (n != info->buffer_count)
                        fail_msg("%s: %u fds for %u buffers", names[i], n, info->buffer_count);
                for (uint32_t b = 0; b < n; b++) {
                        char who[96];
                        snprintf(who, sizeof who, "%s (usage writes) buffer %u", names[i], b);
                        check_read_only(fds[b], raw, who);
                        check_not_executable(fds[b], who);
                }
                close_all(fds, n);
                /* Its own writes fail where it counts: in the agent's process. */
                h_agent_cmd(&ag[i], H_WRITE, 5, &rep);
                if (rep.r != -EACCES)
                        fail_msg("%s: writing its buffers gave %d, expected -EACCES", names[i], rep.r);
        }
        for (int i = 0; i < M_COUNT; i++) {
                h_agent_cmd(&ag[i], H_RELEASE_COLLECTION, 0, &rep);
                assert_int_equal(rep.r, 0);
                h_agent_stop(&ag[i]);
        }
        h_agent_cmd(&writer, H_RELEASE_COLLECTION, 0, &rep);
        h_agent_stop(&writer);
        sysmem_collection_info_free(info);
        assert_int_equal(sysmem_collection_release(init), 0);
        sysmem_allocator_free(a);
        h_daemon_expect_fds(d, d->baseline_fds);
}

/* ---- 8c. no usage, or no READ right: no fds at all, but the settings and the count ---- */

static void test_no_fds_without_usage_or_read(void **state) {
        struct h_daemon *d = DAEMON(state);
        enum { NULLC, NONE, PERMIT, NO_READ, READ_ONLY_MASK, K };
        static const char *const names[K] = {"no-constraints", "none-usage", "none-permit-allocation",
                                             "mask-without-read", "mask-read-only"};
        static const bool gets[K] = {false, false, true, false, true};
        struct h_agent ag[K];
        struct h_rep rep;
        for (int i = 0; i < K; i++)
                h_agent_spawn(&ag[i], d, names[i]);
        struct sysmem_allocator *a = h_connect(d, "initiator");
        struct sysmem_token *root;
        assert_int_equal(sysmem_allocator_allocate_shared(a, &root), 0);
        give(&ag[NULLC], dup_token(root, SYSMEM_RIGHTS_SAME));
        give(&ag[NONE], dup_token(root, SYSMEM_RIGHTS_SAME));
        give(&ag[PERMIT], dup_token(root, SYSMEM_RIGHTS_SAME));
        give(&ag[NO_READ], dup_token(root, SYSMEM_RIGHT_WRITE | SYSMEM_RIGHT_MAP));
        give(&ag[READ_ONLY_MASK], dup_token(root, SYSMEM_RIGHT_READ));
        agent_bind_set(&ag[NULLC], NULL);
        struct sysmem_constraints none = {.usage.none = SYSMEM_NONE_USAGE};
        agent_bind_set(&ag[NONE], &none);
        struct sysmem_constraints permit = {.usage.none = SYSMEM_NONE_USAGE | SYSMEM_NONE_USAGE_PERMIT_ALLOCATION};
        agent_bind_set(&ag[PERMIT], &permit);
        struct sysmem_constraints rw = h_cpu_constraints(CPU_RW, 1, 4096);
        agent_bind_set(&ag[NO_READ], &rw);
        agent_bind_set(&ag[READ_ONLY_MASK], &rw);
        struct sysmem_collection *init = NULL;
        assert_int_equal(sysmem_token_bind(root, &init), 0);
        assert_int_equal(sysmem_collection_set_constraints(init, &rw), 0);
        struct sysmem_collection_info *info = NULL;
        assert_int_equal(h_wait_allocated(init, H_TIMEOUT_MS, &info), 0);
        assert_int_equal(info->buffer_count, 3);
        for (int i = 0; i < K; i++) {
                agent_wait_ok(&ag[i], &rep);
                /* Everyone learns the count and the settings. */
                assert_int_equal(rep.buffer_count, 3);
                assert_int_equal(rep.size_bytes, 4096);
                for (uint32_t b = 0; b < 3; b++)
                        if (rep.fd_present[b] != gets[i])
                                fail_msg("%s: buffer %u %s an fd", names[i], b, rep.fd_present[b] ? "has" : "lacks");
                if (gets[i]) {
                        int fds[SYSMEM_MAX_BUFFERS];
                        uint32_t n = agent_buffers(&ag[i], fds);
                        assert_int_equal(n, 3);
                        for (uint32_t b = 0; b < n; b++) {
                                check_read_only(fds[b], 4096, names[i]);
                                check_not_executable(fds[b], names[i]);
                        }
                        close_all(fds, n);
                }
        }
        for (int i = 0; i < K; i++) {
                h_agent_cmd(&ag[i], H_RELEASE_COLLECTION, 0, &rep);
                assert_int_equal(rep.r, 0);
                h_agent_stop(&ag[i]);
        }
        sysmem_collection_info_free(info);
        assert_int_equal(sysmem_collection_release(init), 0);
        sysmem_allocator_free(a);
        h_daemon_expect_fds(d, d->baseline_fds);
}

/* ---- 8d. a read-only fd cannot be turned into a writable one through /proc ---- */

/*
 * Linux reopens a file through /proc/self/fd/N with the access the opener asks for, checked
 * against the inode's mode. A reader must not get O_RDWR that way. The check runs in a child as an
 * unprivileged user: root bypasses file modes (CAP_DAC_OVERRIDE) whatever sysmem does.
 */
static int reopen_writable_as_unprivileged(int fd) {
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                if (geteuid() == 0) {
                        if (setgroups(0, NULL) < 0 || setresgid(65534, 65534, 65534) < 0 ||
                            setresuid(65534, 65534, 65534) < 0)
                                _exit(3);
                        /* A process that changed its credentials cannot see its own /proc/self/fd otherwise. */
                        prctl(PR_SET_DUMPABLE, 1);
                }
                char path[64];
                snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
                int w = open(path, O_RDWR | O_CLOEXEC);
                if (w >= 0)
                        _exit(1);
                _exit(errno == EACCES || errno == EPERM ? 0 : 2);
        }
        int status = 0;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status));
        return WEXITSTATUS(status);
}

static void test_read_only_fd_cannot_be_reopened_writable(void **state) {
        struct h_daemon *d = DAEMON(state);
        struct h_agent reader;
        struct h_rep rep;
        h_agent_spawn(&reader, d, "reader");
        struct sysmem_allocator *a = h_connect(d, "initiator");
        struct sysmem_token *root;
        assert_int_equal(sysmem_allocator_allocate_shared(a, &root), 0);
        give(&reader, dup_token(root, SYSMEM_RIGHTS_SAME));
        struct sysmem_constraints r = h_cpu_constraints(CPU_R, 1, 4096);
        agent_bind_set(&reader, &r);
        struct sysmem_collection *init = NULL;
        assert_int_equal(sysmem_token_bind(root, &init), 0);
        struct sysmem_constraints rw = h_cpu_constraints(CPU_RW, 1, 4096);
        assert_int_equal(sysmem_collection_set_constraints(init, &rw), 0);
        struct sysmem_collection_info *info = NULL;
        assert_int_equal(h_wait_allocated(init, H_TIMEOUT_MS, &info), 0);
        agent_wait_ok(&reader, &rep);
        int fds[SYSMEM_MAX_BUFFERS];
        uint32_t n = agent_buffers(&reader, fds);
        assert_int_equal(n, 2);
        for (uint32_t b = 0; b < n; b++) {
                int st = reopen_writable_as_unprivileged(fds[b]);
                if (st == 3)
                        fail_msg("the child could not drop to uid 65534");
                if (st == 1)
                        fail_msg("buffer %u: a reader reopened its read-only fd O_RDWR through /proc/self/fd "
                                 "(the memfd's mode lets anyone with the fd write)",
                                 b);
                if (st != 0)
                        fail_msg("buffer %u: reopening failed in an unexpected way (status %d)", b, st);
        }
        close_all(fds, n);
        h_agent_cmd(&reader, H_RELEASE_COLLECTION, 0, &rep);
        h_agent_stop(&reader);
        sysmem_collection_info_free(info);
        assert_int_equal(sysmem_collection_release(init), 0);
        sysmem_allocator_free(a);
        h_daemon_expect_fds(d, d->baseline_fds);
}

int main(int argc, char **argv) {
        /* An argument runs only the tests whose names match it (a cmocka pattern). */
        if (argc > 1)
                cmocka_set_test_filter(argv[1]);
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_usage_decides_write_access, h_setup, h_teardown),
                cmocka_unit_test_setup_teardown(test_masks_remove_write, h_setup, h_teardown),
                cmocka_unit_test_setup_teardown(test_no_fds_without_usage_or_read, h_setup, h_teardown),
                cmocka_unit_test_setup_teardown(test_read_only_fd_cannot_be_reopened_writable, h_setup, h_teardown),
        };
        return cmocka_run_group_tests_name("rights", tests, NULL, NULL);
}
