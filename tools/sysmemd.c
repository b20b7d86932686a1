/* sysmemd.c: the sysmem daemon: listens on the sysmem socket (or a systemd-activated one) and serves clients. */
#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <inttypes.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>

#include <sysmem/sysmem-server.h>

#include "common/socket-path.h"

/* Where the installed format cost table is (meson: SYSCONFDIR/sysmem/format-costs.txt). */
#ifndef SYSMEM_FORMAT_COSTS_PATH
#define SYSMEM_FORMAT_COSTS_PATH "/etc/sysmem/format-costs.txt"
#endif

static void usage(FILE *f) {
        fprintf(f, "Usage: sysmemd [OPTIONS]\n"
                   "Negotiates and allocates shared buffer collections for the processes that connect.\n\n"
                   "  -s, --socket PATH             listen here (default: $SYSMEM_SOCKET, else\n"
                   "                                $XDG_RUNTIME_DIR/sysmem-0, else /run/sysmem/socket)\n"
                   "      --socket-mode MODE        the socket's mode, octal (default 0666: the directory\n"
                   "                                decides who may connect); not applied to an activated socket\n"
                   "  -l, --log-level LEVEL         error, warning, info (default) or debug\n"
                   "  -v, --verbose                 same as --log-level debug\n"
                   "      --max-buffer-bytes N      largest buffer (default 268435456)\n"
                   "      --max-collection-bytes N  largest collection, all buffers (default 1073741824)\n"
                   "      --max-total-bytes N       all live collections together (default 8589934592)\n"
                   "      --max-connections N       allocator connections (default 1024)\n"
                   "      --max-collections N       live collections (default 4096)\n"
                   "      --max-collections-per-connection N   (default 256)\n"
                   "      --max-nodes-per-collection N         (default 256)\n"
                   "      --max-message-bytes N     largest inbound message (default 131072)\n"
                   "      --max-queued-replies N    replies waiting on one object for its client to read\n"
                   "                                them; past it the object fails (default 64)\n"
                   "      --max-queued-bytes N      the same, in bytes (default 262144)\n"
                   "      --max-connections-per-uid N   connections of one user (default 256)\n"
                   "      --max-collections-per-uid N   live collections one user created (default 1024)\n"
                   "      --max-nodes N             nodes of all live collections (default 65536)\n"
                   "      --max-nodes-per-uid N     nodes in one user's collections (default 16384)\n"
                   "      --max-bytes-per-uid N     buffer bytes of one user's collections (default 2147483648)\n"
                   "      --admin-group GROUP       members see every client's collections in diagnostics\n"
                   "                                (default: root only; others see their own uid's)\n"
                   "      --format-costs FILE       format preferences (default: the installed table,\n"
                   "                                " SYSMEM_FORMAT_COSTS_PATH ",\n"
                   "                                if it exists, else the built-in one it copies)\n"
                   "      --heaps LIST              heaps to allocate from: comma-separated patterns over heap\n"
                   "                                names, '-PATTERN' removes (default '*': every heap found;\n"
                   "                                e.g. 'system-ram,dma-heap:*' or '*,-drm:*'; docs/heaps.md)\n"
                   "      --test-heaps              FOR TESTS ONLY (off by default): also offer the heap\n"
                   "                                'test:contiguous', which claims physical contiguity but\n"
                   "                                hands out ordinary memfds whose pages are NOT physically\n"
                   "                                contiguous; never enable it where devices use the buffers\n"
                   "  -c, --config FILE             options from FILE first, one 'name = value' (or 'name')\n"
                   "                                per line, '#' comments; the command line overrides\n"
                   "  -h, --help\n"
                   "      --version\n\n"
                   "With systemd socket activation (LISTEN_FDS) the passed socket is served instead.\n");
}

static int parse_u64(const char *s, uint64_t *ret) {
        char *end;
        errno = 0;
        unsigned long long v = strtoull(s, &end, 0);
        if (errno || end == s || *end || v == 0 || s[0] == '-')
                return -EINVAL;
        *ret = v;
        return 0;
}

/* --socket, else the first candidate of the lookup order every client uses (common/socket-path.h). */
static int socket_path(const char *opt, char *buf, size_t size) {
        if (opt)
                return snprintf(buf, size, "%s", opt) < (int)size ? 0 : -ENAMETOOLONG;
        char candidates[SOCKET_PATH_CANDIDATES][SOCKET_PATH_MAX];
        int n = socket_path_candidates(candidates, 1);
        if (n < 0)
                return n;
        if (!strcmp(candidates[0], SOCKET_PATH_SYSTEM))
                (void)mkdir(SOCKET_PATH_SYSTEM_DIR, 0755);
        return snprintf(buf, size, "%s", candidates[0]) < (int)size ? 0 : -ENAMETOOLONG;
}

/*
 * --config FILE: its lines become "--name=value" arguments placed before the command line's, so that
 * the command line wins. Returns a new argv (argv[0], the file's options, the rest), or NULL.
 */
static char **config_argv(const char *path, int argc, char **argv, int *ret_argc) {
        FILE *f = fopen(path, "re");
        if (!f) {
                fprintf(stderr, "sysmemd: %s: %s\n", path, strerror(errno));
                return NULL;
        }
        size_t cap = (size_t)argc + 64, n = 0;
        char **out = calloc(cap + 1, sizeof *out);
        char line[4096];
        unsigned lineno = 0;
        bool ok = out != NULL;
        if (ok)
                out[n++] = argv[0];
        while (ok && fgets(line, sizeof line, f)) {
                lineno++;
                char *p = line + strspn(line, " \t");
                p[strcspn(p, "#\r\n")] = '\0';
                char *end = p + strlen(p);
                while (end > p && (end[-1] == ' ' || end[-1] == '\t'))
                        *--end = '\0';
                if (!*p)
                        continue;
                char *eq = strchr(p, '=');
                char *value = NULL;
                if (eq) {
                        char *k = eq;
                        while (k > p && (k[-1] == ' ' || k[-1] == '\t'))
                                k--;
                        *k = '\0';
                        value = eq + 1 + strspn(eq + 1, " \t");
                }
                if (!*p || strspn(p, "abcdefghijklmnopqrstuvwxyz-") != strlen(p) || !strcmp(p, "config") ||
                    n + (size_t)argc >= cap) {
                        fprintf(stderr, "sysmemd: %s:%u: '%s' is not an option name\n", path, lineno, p);
                        ok = false;
                        break;
                }
                size_t len = strlen(p) + (value ? strlen(value) : 0) + 4;
                if (!(out[n] = malloc(len))) {
                        ok = false;
                        break;
                }
                snprintf(out[n++], len, value ? "--%s=%s" : "--%s", p, value ? value : "");
        }
        fclose(f);
        if (!ok) {
                /* The strings are leaked with the process, which exits at once. */
                free(out);
                return NULL;
        }
        for (int i = 1; i < argc; i++) {
                if (!strcmp(argv[i], "-c") || !strcmp(argv[i], "--config")) {
                        i++;
                        continue;
                }
                if (!strncmp(argv[i], "--config=", 9))
                        continue;
                out[n++] = argv[i];
        }
        out[n] = NULL;
        *ret_argc = (int)n;
        return out;
}

/* The path given with -c/--config, if any (looked for before options are parsed). */
static const char *config_path(int argc, char **argv) {
        for (int i = 1; i < argc; i++) {
                if (!strcmp(argv[i], "--"))
                        break;
                if ((!strcmp(argv[i], "-c") || !strcmp(argv[i], "--config")) && i + 1 < argc)
                        return argv[i + 1];
                if (!strncmp(argv[i], "--config=", 9))
                        return argv[i] + 9;
        }
        return NULL;
}

/* Reads FILE whole (it is small: a table of formats) and hands it to the server's parser. */
static int load_format_costs(struct sysmem_server *server, const char *path) {
        FILE *f = fopen(path, "re");
        if (!f) {
                fprintf(stderr, "sysmemd: %s: %s\n", path, strerror(errno));
                return -errno;
        }
        size_t cap = 1u << 20;
        char *text = malloc(cap);
        if (!text) {
                fclose(f);
                return -ENOMEM;
        }
        size_t len = fread(text, 1, cap, f);
        bool too_big = len == cap, failed = ferror(f);
        fclose(f);
        if (too_big || failed) {
                fprintf(stderr, "sysmemd: %s: %s\n", path, too_big ? "larger than 1 MiB" : "read error");
                free(text);
                return -EINVAL;
        }
        char err[512];
        int r = sysmem_server_set_format_costs(server, text, len, err, sizeof err);
        free(text);
        if (r < 0)
                fprintf(stderr, "sysmemd: %s: %s\n", path, r == -EINVAL || r == -E2BIG ? err : strerror(-r));
        return r;
}

/* The limit options, one row each: the option and the field it sets are written once. */
struct limit_option {
        const char *name;
        size_t offset; /* in struct sysmem_server_limits */
        bool wide;     /* a uint64_t field; else uint32_t */
};
#define LIMIT32(n, f) {n, offsetof(struct sysmem_server_limits, f), false}
#define LIMIT64(n, f) {n, offsetof(struct sysmem_server_limits, f), true}
static const struct limit_option limit_options[] = {
        LIMIT64("max-buffer-bytes", max_buffer_bytes),
        LIMIT64("max-collection-bytes", max_collection_bytes),
        LIMIT64("max-total-bytes", max_total_bytes),
        LIMIT32("max-connections", max_connections),
        LIMIT32("max-collections", max_collections),
        LIMIT32("max-collections-per-connection", max_collections_per_connection),
        LIMIT32("max-nodes-per-collection", max_nodes_per_collection),
        LIMIT32("max-message-bytes", max_message_bytes),
        LIMIT32("max-queued-replies", max_queued_replies),
        LIMIT32("max-queued-bytes", max_queued_bytes),
        LIMIT32("max-connections-per-uid", max_connections_per_uid),
        LIMIT32("max-collections-per-uid", max_collections_per_uid),
        LIMIT32("max-nodes", max_nodes),
        LIMIT32("max-nodes-per-uid", max_nodes_per_uid),
        LIMIT64("max-bytes-per-uid", max_bytes_per_uid),
};
#define LIMIT_COUNT (sizeof limit_options / sizeof limit_options[0])

enum {
        OPT_FORMAT_COSTS = 0x80,
        OPT_HEAPS,
        OPT_SOCKET_MODE,
        OPT_VERSION,
        OPT_ADMIN_GROUP,
        OPT_TEST_HEAPS,
        OPT_LIMIT = 0x100, /* OPT_LIMIT + i: limit_options[i] */
};

static const struct option base_options[] = {
        {"socket", required_argument, NULL, 's'},
        {"log-level", required_argument, NULL, 'l'},
        {"verbose", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},
        {"admin-group", required_argument, NULL, OPT_ADMIN_GROUP},
        {"format-costs", required_argument, NULL, OPT_FORMAT_COSTS},
        {"heaps", required_argument, NULL, OPT_HEAPS},
        {"test-heaps", no_argument, NULL, OPT_TEST_HEAPS},
        {"config", required_argument, NULL, 'c'},
        {"socket-mode", required_argument, NULL, OPT_SOCKET_MODE},
        {"version", no_argument, NULL, OPT_VERSION},
};
#define BASE_COUNT (sizeof base_options / sizeof base_options[0])

/* What the command line asks for. */
struct settings {
        struct sysmem_server_limits limits;
        const char *path, *format_costs, *heaps, *admin_group;
        long socket_mode; /* -1: the library's */
        bool test_heaps;  /* --test-heaps: test:contiguous is added to the heap selection */
        enum sysmem_log_level level;
};

static int set_limit(struct sysmem_server_limits *limits, const struct limit_option *o, const char *arg) {
        uint64_t v = 0;
        if (parse_u64(arg, &v) < 0) {
                fprintf(stderr, "sysmemd: --%s %s: not a positive number\n", o->name, arg);
                return -EINVAL;
        }
        if (!o->wide && v > UINT32_MAX) {
                fprintf(stderr, "sysmemd: --%s %s: too large\n", o->name, arg);
                return -EINVAL;
        }
        uint8_t *field = (uint8_t *)limits + o->offset;
        if (o->wide)
                memcpy(field, &v, sizeof v);
        else
                memcpy(field, &(uint32_t){(uint32_t)v}, sizeof(uint32_t));
        return 0;
}

static int parse_level(const char *arg, enum sysmem_log_level *ret) {
        static const char *const names[] = {"error", "warning", "info", "debug"};
        for (int i = 0; i < 4; i++)
                if (!strcmp(arg, names[i])) {
                        *ret = (enum sysmem_log_level)i;
                        return 0;
                }
        fprintf(stderr, "sysmemd: unknown log level '%s'\n", arg);
        return -EINVAL;
}

static int parse_mode(const char *arg, long *ret) {
        char *end;
        long mode = strtol(arg, &end, 8);
        if (end == arg || *end || mode < 0 || mode > 0777) {
                fprintf(stderr, "sysmemd: --socket-mode %s: not an octal mode\n", arg);
                return -EINVAL;
        }
        *ret = mode;
        return 0;
}

/* One option; 0 to go on, 1 to exit with 0 (--help, --version), -1 to exit with 2. */
static int apply_option(struct settings *st, int c, const char *arg) {
        if (c >= OPT_LIMIT && c < OPT_LIMIT + (int)LIMIT_COUNT)
                return set_limit(&st->limits, &limit_options[c - OPT_LIMIT], arg) < 0 ? -1 : 0;
        switch (c) {
        case 's':
                st->path = arg;
                return 0;
        case 'l':
                return parse_level(arg, &st->level) < 0 ? -1 : 0;
        case 'v':
                st->level = SYSMEM_LOG_DEBUG;
                return 0;
        case 'h':
                usage(stdout);
                return 1;
        case OPT_VERSION:
                printf("sysmemd %s\n", SYSMEM_VERSION);
                return 1;
        case OPT_SOCKET_MODE:
                return parse_mode(arg, &st->socket_mode) < 0 ? -1 : 0;
        case OPT_ADMIN_GROUP:
                st->admin_group = arg;
                return 0;
        case OPT_FORMAT_COSTS:
                st->format_costs = arg;
                return 0;
        case OPT_HEAPS:
                st->heaps = arg;
                return 0;
        case OPT_TEST_HEAPS:
                st->test_heaps = true;
                return 0;
        case 'c':
                return 0; /* read before parsing */
        default:
                usage(stderr);
                return -1;
        }
}

static int parse_args(int argc, char **argv, struct settings *st) {
        struct option opts[BASE_COUNT + LIMIT_COUNT + 1];
        memcpy(opts, base_options, sizeof base_options);
        for (size_t i = 0; i < LIMIT_COUNT; i++)
                opts[BASE_COUNT + i] = (struct option){limit_options[i].name, required_argument, NULL, OPT_LIMIT + (int)i};
        opts[BASE_COUNT + LIMIT_COUNT] = (struct option){0};
        int c;
        while ((c = getopt_long(argc, argv, "s:l:vhc:", opts, NULL)) != -1) {
                int r = apply_option(st, c, optarg);
                if (r != 0)
                        return r;
        }
        if (optind < argc) {
                usage(stderr);
                return -1;
        }
        return 0;
}

/* The server as the settings ask: log level, admin group, format costs, heaps. NULL (said why) on failure. */
static struct sysmem_server *make_server(const struct settings *st, int *ret_status) {
        struct sysmem_server *server;
        int r = sysmem_server_new(&st->limits, &server);
        *ret_status = 1;
        if (r < 0) {
                fprintf(stderr, "sysmemd: cannot create the server: %s\n", strerror(-r));
                return NULL;
        }
        *ret_status = 2;
        sysmem_server_set_log_level(server, st->level);
        if (st->admin_group) {
                struct group *g = getgrnam(st->admin_group);
                char *end;
                unsigned long gid = strtoul(st->admin_group, &end, 10);
                if (!g && (*end || end == st->admin_group)) {
                        fprintf(stderr, "sysmemd: --admin-group %s: no such group\n", st->admin_group);
                        goto fail;
                }
                sysmem_server_set_admin_group(server, g ? g->gr_gid : (gid_t)gid);
        }
        /* The installed table unless told otherwise; only its absence means the built-in one. */
        const char *costs = st->format_costs;
        if (!costs && (access(SYSMEM_FORMAT_COSTS_PATH, F_OK) == 0 || errno != ENOENT))
                costs = SYSMEM_FORMAT_COSTS_PATH;
        if (costs && load_format_costs(server, costs) < 0)
                goto fail;
        char err[512];
        /* A test heap's entry adds only that heap to the rest of the selection (docs/heaps.md). */
        char selection[8192];
        const char *heaps = st->heaps;
        if (st->test_heaps) {
                bool rest = heaps && *heaps;
                if (snprintf(selection, sizeof selection, "%s%stest:contiguous", rest ? heaps : "", rest ? "," : "") >=
                    (int)sizeof selection) {
                        fprintf(stderr, "sysmemd: --heaps: too long\n");
                        goto fail;
                }
                heaps = selection;
        }
        if (heaps && (r = sysmem_server_set_heaps(server, heaps, err, sizeof err)) < 0) {
                fprintf(stderr, "sysmemd: --heaps: %s\n", r == -EINVAL ? err : strerror(-r));
                goto fail;
        }
        return server;
fail:
        sysmem_server_free(server);
        return NULL;
}

/*
 * The activated sockets, or the path (mode set, our inode remembered in own). Returns how many sockets
 * were activated (0: the path), or -1 having said why.
 */
static int listen_all(struct sysmem_server *server, const struct settings *st, char *path, size_t size,
                      struct stat *own) {
        int n = sd_listen_fds(1);
        if (n < 0) {
                fprintf(stderr, "sysmemd: socket activation: %s\n", strerror(-n));
                return -1;
        }
        for (int i = 0; i < n; i++) {
                int r = sysmem_server_listen_fd(server, SD_LISTEN_FDS_START + i);
                if (r < 0) {
                        fprintf(stderr, "sysmemd: cannot serve activated socket: %s\n", strerror(-r));
                        return -1;
                }
        }
        if (n > 0)
                return n;
        int r = socket_path(st->path, path, size);
        if (r >= 0)
                r = sysmem_server_listen(server, path);
        if (r >= 0 && st->socket_mode >= 0 && chmod(path, (mode_t)st->socket_mode) < 0)
                r = -errno;
        if (r >= 0 && stat(path, own) < 0)
                r = -errno;
        if (r < 0) {
                fprintf(stderr, "sysmemd: cannot listen on %s: %s\n", path,
                        r == -EADDRINUSE ? "another server is accepting connections on it (or it is not a socket)"
                                         : strerror(-r));
                return -1;
        }
        return 0;
}

/*
 * Every live collection holds a socket per participant and its buffers' fds: the soft limit's usual 1024
 * would stop the daemon at a few hundred collections. It uses no select(), so it takes the hard limit
 * (as systemd advises such services to); the server warns if even that is short of its limits.
 */
static void raise_fd_limit(void) {
        struct rlimit rl;
        if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
                rl.rlim_cur = rl.rlim_max;
                (void)setrlimit(RLIMIT_NOFILE, &rl);
        }
}

int main(int argc, char **argv) {
        struct settings st = {.socket_mode = -1, .level = SYSMEM_LOG_INFO};
        const char *config = config_path(argc, argv);
        if (config && !(argv = config_argv(config, argc, argv, &argc)))
                return 2;
        int r = parse_args(argc, argv, &st);
        if (r != 0)
                return r > 0 ? 0 : 2;
        int status;
        raise_fd_limit();
        struct sysmem_server *server = make_server(&st, &status);
        if (!server)
                return status;
        char path[PATH_MAX] = "";
        struct stat own = {0};
        int n = listen_all(server, &st, path, sizeof path, &own);
        if (n < 0) {
                sysmem_server_free(server);
                return 1;
        }
        fprintf(stderr, "<6>sysmemd[info]: listening on %s\n", n > 0 ? "the activated socket" : path);
        (void)sd_notifyf(0, "READY=1\nSTATUS=serving on %s", n > 0 ? "the activated socket" : path);
        r = sysmem_server_run(server, true);
        (void)sd_notify(0, "STOPPING=1");
        sysmem_server_free(server);
        /* Only our own socket: another server may have bound the path after someone removed ours. */
        struct stat now;
        if (n == 0 && path[0] && lstat(path, &now) == 0 && now.st_ino == own.st_ino && now.st_dev == own.st_dev)
                (void)unlink(path);
        if (r < 0) {
                fprintf(stderr, "sysmemd: event loop failed: %s\n", strerror(-r));
                return 1;
        }
        return 0;
}
