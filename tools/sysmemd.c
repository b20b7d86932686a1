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

int main(int argc, char **argv) {
        enum {
                OPT_FORMAT_COSTS = 0x80, /* below OPT_MAX_BUFFER: not a number */
                OPT_HEAPS,
                OPT_SOCKET_MODE,
                OPT_VERSION,
                OPT_ADMIN_GROUP,
                OPT_MAX_BUFFER = 0x100,
                OPT_MAX_COLLECTION,
                OPT_MAX_TOTAL,
                OPT_MAX_CONN,
                OPT_MAX_COLLS,
                OPT_MAX_COLLS_PER_CONN,
                OPT_MAX_NODES,
                OPT_MAX_MSG,
                OPT_MAX_QUEUED,
                OPT_MAX_QUEUED_BYTES,
                OPT_MAX_CONN_PER_UID,
                OPT_MAX_COLLS_PER_UID,
                OPT_MAX_NODES_TOTAL,
                OPT_MAX_NODES_PER_UID,
                OPT_MAX_BYTES_PER_UID,
        };
        static const struct option opts[] = {
                {"socket", required_argument, NULL, 's'},
                {"log-level", required_argument, NULL, 'l'},
                {"verbose", no_argument, NULL, 'v'},
                {"help", no_argument, NULL, 'h'},
                {"max-buffer-bytes", required_argument, NULL, OPT_MAX_BUFFER},
                {"max-collection-bytes", required_argument, NULL, OPT_MAX_COLLECTION},
                {"max-total-bytes", required_argument, NULL, OPT_MAX_TOTAL},
                {"max-connections", required_argument, NULL, OPT_MAX_CONN},
                {"max-collections", required_argument, NULL, OPT_MAX_COLLS},
                {"max-collections-per-connection", required_argument, NULL, OPT_MAX_COLLS_PER_CONN},
                {"max-nodes-per-collection", required_argument, NULL, OPT_MAX_NODES},
                {"max-message-bytes", required_argument, NULL, OPT_MAX_MSG},
                {"max-queued-replies", required_argument, NULL, OPT_MAX_QUEUED},
                {"max-queued-bytes", required_argument, NULL, OPT_MAX_QUEUED_BYTES},
                {"max-connections-per-uid", required_argument, NULL, OPT_MAX_CONN_PER_UID},
                {"max-collections-per-uid", required_argument, NULL, OPT_MAX_COLLS_PER_UID},
                {"max-nodes", required_argument, NULL, OPT_MAX_NODES_TOTAL},
                {"max-nodes-per-uid", required_argument, NULL, OPT_MAX_NODES_PER_UID},
                {"max-bytes-per-uid", required_argument, NULL, OPT_MAX_BYTES_PER_UID},
                {"admin-group", required_argument, NULL, OPT_ADMIN_GROUP},
                {"format-costs", required_argument, NULL, OPT_FORMAT_COSTS},
                {"heaps", required_argument, NULL, OPT_HEAPS},
                {"config", required_argument, NULL, 'c'},
                {"socket-mode", required_argument, NULL, OPT_SOCKET_MODE},
                {"version", no_argument, NULL, OPT_VERSION},
                {0},
        };
        struct sysmem_server_limits limits = {0};
        const char *path_opt = NULL, *format_costs = NULL, *heaps = NULL;
        long socket_mode = -1;
        const char *admin_group = NULL;
        enum sysmem_log_level level = SYSMEM_LOG_INFO;
        const char *config = config_path(argc, argv);
        if (config && !(argv = config_argv(config, argc, argv, &argc)))
                return 2;
        int c;
        while ((c = getopt_long(argc, argv, "s:l:vhc:", opts, NULL)) != -1) {
                uint64_t v = 0;
                if (c >= OPT_MAX_BUFFER && parse_u64(optarg, &v) < 0) {
                        fprintf(stderr, "sysmemd: %s: not a positive number\n", optarg);
                        return 2;
                }
                if (c >= OPT_MAX_CONN && c != OPT_MAX_TOTAL && c != OPT_MAX_BYTES_PER_UID && v > UINT32_MAX) {
                        fprintf(stderr, "sysmemd: %s: too large\n", optarg);
                        return 2;
                }
                switch (c) {
                case 's':
                        path_opt = optarg;
                        break;
                case OPT_SOCKET_MODE: {
                        char *end;
                        socket_mode = strtol(optarg, &end, 8);
                        if (end == optarg || *end || socket_mode < 0 || socket_mode > 0777) {
                                fprintf(stderr, "sysmemd: --socket-mode %s: not an octal mode\n", optarg);
                                return 2;
                        }
                        break;
                }
                case OPT_VERSION:
                        printf("sysmemd %s\n", SYSMEM_VERSION);
                        return 0;
                case 'l':
                        if (!strcmp(optarg, "error"))
                                level = SYSMEM_LOG_ERROR;
                        else if (!strcmp(optarg, "warning"))
                                level = SYSMEM_LOG_WARNING;
                        else if (!strcmp(optarg, "info"))
                                level = SYSMEM_LOG_INFO;
                        else if (!strcmp(optarg, "debug"))
                                level = SYSMEM_LOG_DEBUG;
                        else {
                                fprintf(stderr, "sysmemd: unknown log level '%s'\n", optarg);
                                return 2;
                        }
                        break;
                case 'v':
                        level = SYSMEM_LOG_DEBUG;
                        break;
                case 'h':
                        usage(stdout);
                        return 0;
                case OPT_MAX_BUFFER:
                        limits.max_buffer_bytes = v;
                        break;
                case OPT_MAX_COLLECTION:
                        limits.max_collection_bytes = v;
                        break;
                case OPT_MAX_TOTAL:
                        limits.max_total_bytes = v;
                        break;
                case OPT_MAX_CONN:
                        limits.max_connections = (uint32_t)v;
                        break;
                case OPT_MAX_COLLS:
                        limits.max_collections = (uint32_t)v;
                        break;
                case OPT_MAX_COLLS_PER_CONN:
                        limits.max_collections_per_connection = (uint32_t)v;
                        break;
                case OPT_MAX_NODES:
                        limits.max_nodes_per_collection = (uint32_t)v;
                        break;
                case OPT_MAX_MSG:
                        limits.max_message_bytes = (uint32_t)v;
                        break;
                case OPT_MAX_QUEUED:
                        limits.max_queued_replies = (uint32_t)v;
                        break;
                case OPT_MAX_QUEUED_BYTES:
                        limits.max_queued_bytes = (uint32_t)v;
                        break;
                case OPT_MAX_CONN_PER_UID:
                        limits.max_connections_per_uid = (uint32_t)v;
                        break;
                case OPT_MAX_COLLS_PER_UID:
                        limits.max_collections_per_uid = (uint32_t)v;
                        break;
                case OPT_MAX_NODES_TOTAL:
                        limits.max_nodes = (uint32_t)v;
                        break;
                case OPT_MAX_NODES_PER_UID:
                        limits.max_nodes_per_uid = (uint32_t)v;
                        break;
                case OPT_MAX_BYTES_PER_UID:
                        limits.max_bytes_per_uid = v;
                        break;
                case OPT_ADMIN_GROUP:
                        admin_group = optarg;
                        break;
                case OPT_FORMAT_COSTS:
                        format_costs = optarg;
                        break;
                case OPT_HEAPS:
                        heaps = optarg;
                        break;
                case 'c':
                        break; /* read before parsing */
                default:
                        usage(stderr);
                        return 2;
                }
        }
        if (optind < argc) {
                usage(stderr);
                return 2;
        }

        struct sysmem_server *server;
        int r = sysmem_server_new(&limits, &server);
        if (r < 0) {
                fprintf(stderr, "sysmemd: cannot create the server: %s\n", strerror(-r));
                return 1;
        }
        sysmem_server_set_log_level(server, level);
        if (admin_group) {
                struct group *g = getgrnam(admin_group);
                char *end;
                unsigned long gid = strtoul(admin_group, &end, 10);
                if (!g && (*end || end == admin_group)) {
                        fprintf(stderr, "sysmemd: --admin-group %s: no such group\n", admin_group);
                        sysmem_server_free(server);
                        return 2;
                }
                sysmem_server_set_admin_group(server, g ? g->gr_gid : (gid_t)gid);
        }
        /* The installed table unless told otherwise; only its absence means the built-in one. */
        if (!format_costs && (access(SYSMEM_FORMAT_COSTS_PATH, F_OK) == 0 || errno != ENOENT))
                format_costs = SYSMEM_FORMAT_COSTS_PATH;
        if (format_costs && load_format_costs(server, format_costs) < 0) {
                sysmem_server_free(server);
                return 2;
        }
        char err[512];
        if (heaps && (r = sysmem_server_set_heaps(server, heaps, err, sizeof err)) < 0) {
                fprintf(stderr, "sysmemd: --heaps: %s\n", r == -EINVAL ? err : strerror(-r));
                sysmem_server_free(server);
                return 2;
        }

        char path[PATH_MAX] = "";
        struct stat own = {0};
        int n = sd_listen_fds(1);
        if (n < 0) {
                fprintf(stderr, "sysmemd: socket activation: %s\n", strerror(-n));
                return 1;
        }
        for (int i = 0; i < n; i++) {
                r = sysmem_server_listen_fd(server, SD_LISTEN_FDS_START + i);
                if (r < 0) {
                        fprintf(stderr, "sysmemd: cannot serve activated socket: %s\n", strerror(-r));
                        return 1;
                }
        }
        if (n == 0) {
                r = socket_path(path_opt, path, sizeof path);
                if (r >= 0)
                        r = sysmem_server_listen(server, path);
                if (r >= 0 && socket_mode >= 0 && chmod(path, (mode_t)socket_mode) < 0)
                        r = -errno;
                if (r >= 0 && stat(path, &own) < 0)
                        r = -errno;
                if (r < 0) {
                        fprintf(stderr, "sysmemd: cannot listen on %s: %s\n", path,
                                r == -EADDRINUSE ? "another server is accepting connections on it (or it is not a "
                                                   "socket)"
                                                 : strerror(-r));
                        sysmem_server_free(server);
                        return 1;
                }
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
