/* sysmemctl-list.c: `sysmemctl list`: a running sysmemd's live collections, their node trees and memory per client. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include <sysmem/sysmem.h>

#include "common/socket-path.h"
#include "core/names.h"
#include "sysmemctl-list.h"
#include "wire/messages.h"

/* Exit statuses, documented in docs/sysmemctl.md. */
enum {
        EXIT_LISTED = 0,
        EXIT_DAEMON_ERROR = 1,
        EXIT_USAGE = 2,
        EXIT_UNREACHABLE = 3,
};

/* A daemon that accepts but never answers must not hang a shell script. */
#define REPLY_TIMEOUT_MS 10000
/* The daemon keeps a page within 128 KiB (docs/protocol.md); room to spare for a newer one. */
#define RX_CAP (1u << 20)
/* However the daemon pages, a listing this long is a broken daemon, not a busy one. */
#define MAX_COLLECTIONS (1u << 20)

struct listing {
        struct wire_msg **pages; /* decoded replies; every pointer below points into them */
        size_t page_count;
        const struct wire_diag_collection **collections; /* in id order, across pages */
        size_t collection_count;
        uint64_t total_bytes;      /* from the last page: the freshest */
        uint32_t collection_total; /* likewise */
};

static void listing_free(struct listing *l) {
        for (size_t i = 0; i < l->page_count; i++)
                wire_msg_free(l->pages[i]);
        free(l->pages);
        free(l->collections);
}

/* The same order of places as libsysmem and sysmemd (docs/protocol.md, "Connecting"). */
static int64_t now_ms(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void close_fds(int *fds, uint32_t nfds) {
        for (uint32_t i = 0; i < nfds; i++)
                close(fds[i]);
}

/*
 * One request and its reply. Returns an exit status; on EXIT_LISTED *ret_msg holds the decoded
 * diagnostics_reply. Errors are printed here, where the details are known.
 */
static int fetch_page(int fd, const char *path, uint32_t txid, uint64_t start_after_id, uint8_t *buf,
                      struct wire_msg **ret_msg) {
        const struct wire_message_def *def = wire_message_lookup(WIRE_OP_GET_DIAGNOSTICS);
        struct wire_diag_request req = {.start_after_id = start_after_id};
        size_t len;
        uint32_t nfds;
        int r = wire_encode(def->request, def->opcode, 0, txid, &req, buf, RX_CAP, &len, NULL, 0, &nfds);
        if (r < 0) {
                fprintf(stderr, "sysmemctl: cannot encode the request: %s\n", strerror(-r));
                return EXIT_DAEMON_ERROR;
        }
        r = wire_send(fd, buf, len, NULL, 0);
        if (r < 0) {
                fprintf(stderr, "sysmemctl: sysmemd at %s: sending failed: %s\n", path, strerror(-r));
                return EXIT_UNREACHABLE;
        }
        const struct wire_limits limits = {
                .max_message_bytes = RX_CAP,
                .max_fds = WIRE_MAX_FDS,
                .max_array_elements = 4096,
        };
        int64_t deadline = now_ms() + REPLY_TIMEOUT_MS;
        for (;;) {
                int64_t left = deadline - now_ms();
                struct pollfd p = {.fd = fd, .events = POLLIN};
                int pr = left > 0 ? poll(&p, 1, (int)left) : 0;
                if (pr < 0 && errno == EINTR)
                        continue;
                if (pr <= 0) {
                        fprintf(stderr, "sysmemctl: sysmemd at %s did not answer within %d s\n", path,
                                REPLY_TIMEOUT_MS / 1000);
                        return EXIT_UNREACHABLE;
                }
                int fds[WIRE_MAX_FDS];
                ssize_t n = wire_recv(fd, buf, RX_CAP, fds, WIRE_MAX_FDS, &nfds);
                if (n == -EAGAIN || n == -EINTR)
                        continue;
                if (n == 0 || n == -ECONNRESET) {
                        fprintf(stderr, "sysmemctl: sysmemd at %s closed the connection without answering\n", path);
                        return EXIT_UNREACHABLE;
                }
                if (n < 0) {
                        fprintf(stderr, "sysmemctl: sysmemd at %s: receiving failed: %s\n", path, strerror((int)-n));
                        return EXIT_DAEMON_ERROR;
                }
                uint16_t opcode, flags;
                uint32_t rtxid, hnfds;
                if (wire_peek_header(buf, (size_t)n, &opcode, &flags, &rtxid, &hnfds) < 0) {
                        close_fds(fds, nfds);
                        fprintf(stderr, "sysmemctl: sysmemd at %s sent a malformed message\n", path);
                        return EXIT_DAEMON_ERROR;
                }
                bool epitaph = (flags & WIRE_FLAG_EVENT) && opcode == WIRE_OP_EPITAPH;
                bool ours = (flags & WIRE_FLAG_REPLY) && rtxid == txid && opcode == def->opcode;
                if (!epitaph && !ours) {
                        close_fds(fds, nfds); /* nothing else is expected on this connection: skip it */
                        continue;
                }
                bool error = epitaph || (flags & WIRE_FLAG_ERROR);
                struct wire_msg *m = NULL;
                char err[256] = "";
                r = wire_decode(error ? &wire_error_schema : def->reply, buf, (size_t)n, fds, nfds, &limits, &m, err,
                                sizeof err);
                if (r < 0) {
                        fprintf(stderr, "sysmemctl: sysmemd at %s sent an invalid %s: %s\n", path,
                                error ? "error" : "reply", err[0] ? err : strerror(-r));
                        return EXIT_DAEMON_ERROR;
                }
                if (error) {
                        const struct wire_error_body *e = m->body;
                        fprintf(stderr, "sysmemctl: sysmemd at %s %s: %s%s%s\n", path,
                                epitaph ? "closed the connection" : "refused the request",
                                sysmem_error_name((enum sysmem_error)e->error), e->message ? ": " : "",
                                e->message ? e->message : "");
                        wire_msg_free(m);
                        return EXIT_DAEMON_ERROR;
                }
                *ret_msg = m;
                return EXIT_LISTED;
        }
}

/* Every page, from the first id on, until the daemon says there is no more. */
static int fetch_all(int fd, const char *path, struct listing *l) {
        uint8_t *buf = malloc(RX_CAP);
        if (!buf) {
                fprintf(stderr, "sysmemctl: out of memory\n");
                return EXIT_DAEMON_ERROR;
        }
        uint64_t after = 0;
        int status = EXIT_LISTED;
        for (uint32_t txid = 1;; txid++) {
                struct wire_msg *m = NULL;
                status = fetch_page(fd, path, txid, after, buf, &m);
                if (status != EXIT_LISTED)
                        break;
                const struct wire_diag_reply *rep = m->body;
                struct wire_msg **pages = realloc(l->pages, (l->page_count + 1) * sizeof *pages);
                const struct wire_diag_collection **cols =
                        realloc(l->collections, (l->collection_count + rep->collection_count) * sizeof *cols);
                if (pages)
                        l->pages = pages;
                if (cols)
                        l->collections = cols;
                if (!pages || !cols) {
                        wire_msg_free(m);
                        fprintf(stderr, "sysmemctl: out of memory\n");
                        status = EXIT_DAEMON_ERROR;
                        break;
                }
                l->pages[l->page_count++] = m;
                for (uint32_t i = 0; i < rep->collection_count; i++) {
                        /* Ids only grow: anything else would make the paging loop forever. */
                        if (rep->collections[i].id <= after) {
                                fprintf(stderr, "sysmemctl: sysmemd at %s listed collection %" PRIu64 " out of order\n",
                                        path, rep->collections[i].id);
                                status = EXIT_DAEMON_ERROR;
                                goto out;
                        }
                        after = rep->collections[i].id;
                        l->collections[l->collection_count++] = &rep->collections[i];
                }
                l->total_bytes = rep->total_bytes;
                l->collection_total = rep->collection_total;
                if (!rep->more)
                        break;
                if (rep->collection_count == 0 || l->collection_count > MAX_COLLECTIONS) {
                        fprintf(stderr, "sysmemctl: sysmemd at %s keeps announcing more collections\n", path);
                        status = EXIT_DAEMON_ERROR;
                        break;
                }
        }
out:
        free(buf);
        return status;
}

/* ---- the node tree ---- */

/*
 * The nodes of c in depth-first pre-order, children in creation order, with their depth. Every
 * node appears once: one whose parent is missing (or that sits in a cycle) starts a tree of its own.
 */
static int tree_order(const struct wire_diag_collection *c, uint32_t *order, uint32_t *depth) {
        uint32_t n = c->node_count;
        if (n == 0)
                return 0;
        uint32_t *by_index = calloc(n, sizeof *by_index); /* positions sorted by node index */
        int64_t *parent = calloc(n, sizeof *parent);
        int64_t *first_child = calloc(n, sizeof *first_child), *next_sibling = calloc(n, sizeof *next_sibling);
        uint32_t *stack = calloc(n, sizeof *stack), *node_depth = calloc(n, sizeof *node_depth);
        bool *seen = calloc(n, sizeof *seen);
        int r = -ENOMEM;
        if (!by_index || !parent || !first_child || !next_sibling || !stack || !node_depth || !seen)
                goto out;
        for (uint32_t i = 0; i < n; i++)
                by_index[i] = i;
        /* Insertion sort: nodes arrive in creation order, which is index order, so this is linear. */
        for (uint32_t i = 1; i < n; i++) {
                uint32_t v = by_index[i], j = i;
                while (j > 0 && c->nodes[by_index[j - 1]].index > c->nodes[v].index) {
                        by_index[j] = by_index[j - 1];
                        j--;
                }
                by_index[j] = v;
        }
        for (uint32_t i = 0; i < n; i++) {
                parent[i] = -1;
                first_child[i] = next_sibling[i] = -1;
                if (c->nodes[i].parent == 0)
                        continue;
                uint32_t want = c->nodes[i].parent - 1, lo = 0, hi = n;
                while (lo < hi) {
                        uint32_t mid = lo + (hi - lo) / 2;
                        if (c->nodes[by_index[mid]].index < want)
                                lo = mid + 1;
                        else
                                hi = mid;
                }
                if (lo < n && c->nodes[by_index[lo]].index == want && by_index[lo] != i)
                        parent[i] = by_index[lo];
        }
        /* Prepending from the last node leaves each child list in creation order. */
        for (uint32_t i = n; i-- > 0;) {
                if (parent[i] >= 0) {
                        next_sibling[i] = first_child[parent[i]];
                        first_child[parent[i]] = i;
                }
        }
        uint32_t k = 0;
        for (int pass = 0; pass < 2; pass++) {
                for (uint32_t start = 0; start < n; start++) {
                        /* First the real roots; then whatever no root reached. */
                        if (seen[start] || (pass == 0 && parent[start] >= 0))
                                continue;
                        uint32_t sp = 0;
                        stack[sp++] = start;
                        node_depth[start] = 0;
                        while (sp > 0) {
                                uint32_t p = stack[--sp];
                                if (seen[p])
                                        continue;
                                seen[p] = true;
                                order[k] = p;
                                depth[k++] = node_depth[p];
                                /* Pushed last to first so that the first child comes out first. */
                                uint32_t mark = sp;
                                for (int64_t ch = first_child[p]; ch >= 0; ch = next_sibling[ch]) {
                                        if (seen[ch] || sp >= n)
                                                continue;
                                        node_depth[ch] = node_depth[p] + 1;
                                        stack[sp++] = (uint32_t)ch;
                                }
                                for (uint32_t a = mark, b = sp; a + 1 < b; a++, b--) {
                                        uint32_t t = stack[a];
                                        stack[a] = stack[b - 1];
                                        stack[b - 1] = t;
                                }
                        }
                }
        }
        r = (int)k;
out:
        free(by_index);
        free(parent);
        free(first_child);
        free(next_sibling);
        free(stack);
        free(node_depth);
        free(seen);
        return r;
}

/* ---- names ---- */

static const char *state_name(uint32_t state) {
        switch (state) {
        case 0:
                return "negotiating";
        case 1:
                return "allocated";
        case 2:
                return "failed";
        }
        return "unknown";
}

static const char *kind_name(uint32_t kind) {
        switch (kind) {
        case 0:
                return "token";
        case 1:
                return "collection";
        case 2:
                return "group";
        }
        return "unknown";
}

static const struct {
        uint32_t bit;
        const char *name;
} flag_names[] = {
        {WIRE_DIAG_RELEASED, "released"},
        {WIRE_DIAG_ORPHANED, "orphaned"},
        {WIRE_DIAG_CONSTRAINTS_SET, "constraints-set"},
        {WIRE_DIAG_ALLOCATED, "allocated"},
        {WIRE_DIAG_WEAK, "weak"},
        {WIRE_DIAG_WEAK_OK, "weak-ok"},
        {WIRE_DIAG_DISPENSABLE, "dispensable"},
        {WIRE_DIAG_ATTACHED, "attached"},
        {WIRE_DIAG_READY, "ready"},
        {WIRE_DIAG_CHILDREN_PRESENT, "children-present"},
        {WIRE_DIAG_FAILED, "failed"},
};
#define FLAG_NAME_COUNT (sizeof flag_names / sizeof flag_names[0])

static uint32_t known_flags(void) {
        uint32_t all = 0;
        for (size_t i = 0; i < FLAG_NAME_COUNT; i++)
                all |= flag_names[i].bit;
        return all;
}

/* "1.5 s", "3 min 4 s": an age a person reads at a glance. */
static void format_age(uint64_t usec, char *buf, size_t size) {
        uint64_t s = usec / 1000000u;
        if (usec < 1000000u)
                snprintf(buf, size, "%" PRIu64 " ms", usec / 1000u);
        else if (s < 60)
                snprintf(buf, size, "%" PRIu64 ".%" PRIu64 " s", s, usec / 100000u % 10u);
        else if (s < 3600)
                snprintf(buf, size, "%" PRIu64 " min %" PRIu64 " s", s / 60, s % 60);
        else if (s < 86400)
                snprintf(buf, size, "%" PRIu64 " h %" PRIu64 " min", s / 3600, s / 60 % 60);
        else
                snprintf(buf, size, "%" PRIu64 " d %" PRIu64 " h", s / 86400, s / 3600 % 24);
}

/* "2.6 MiB": beside exact byte counts, for the totals. */
static void format_size(uint64_t bytes, char *buf, size_t size) {
        static const char *const units[] = {"KiB", "MiB", "GiB", "TiB"};
        if (bytes < 1024) {
                snprintf(buf, size, "%" PRIu64 " B", bytes);
                return;
        }
        double v = (double)bytes / 1024.0;
        size_t u = 0;
        while (v >= 1024.0 && u + 1 < sizeof units / sizeof units[0]) {
                v /= 1024.0;
                u++;
        }
        snprintf(buf, size, "%.1f %s", v, units[u]);
}

/*
 * Names come from clients: a control character in one must not forge lines in an administrator's
 * terminal, so those are written as \xNN (and the quote and backslash escaped).
 */
#define NAME_TEXT_SIZE (4u * SYSMEM_MAX_CLIENT_NAME_LENGTH + 3u)
static const char *name_text(const char *s, char *buf, size_t size) {
        if (!s || !*s) {
                snprintf(buf, size, "(unnamed)");
                return buf;
        }
        size_t k = 0;
        buf[k++] = '"';
        for (const unsigned char *p = (const unsigned char *)s; *p && k + 6 < size; p++) {
                if (*p < 0x20 || *p == 0x7f)
                        k += (size_t)snprintf(buf + k, size - k, "\\x%02x", *p);
                else if (*p == '"' || *p == '\\')
                        k += (size_t)snprintf(buf + k, size - k, "\\%c", *p);
                else
                        buf[k++] = (char)*p;
        }
        buf[k++] = '"';
        buf[k] = 0;
        return buf;
}

/* ---- memory per client ---- */

struct client {
        const char *name; /* never NULL: "" for nodes without a debug name */
        uint64_t id;
        uint64_t bytes;
        uint32_t nodes;
        uint32_t collections;
};

struct client_entry {
        const char *name;
        uint64_t id;
        uint64_t collection;
        uint64_t bytes;
};

static int entry_cmp(const void *a, const void *b) {
        const struct client_entry *x = a, *y = b;
        int c = strcmp(x->name, y->name);
        if (c)
                return c;
        if (x->id != y->id)
                return x->id < y->id ? -1 : 1;
        if (x->collection != y->collection)
                return x->collection < y->collection ? -1 : 1;
        return 0;
}

/* The most memory first; ties by name then id, so the output is stable. */
static int client_cmp(const void *a, const void *b) {
        const struct client *x = a, *y = b;
        if (x->bytes != y->bytes)
                return x->bytes > y->bytes ? -1 : 1;
        int c = strcmp(x->name, y->name);
        if (c)
                return c;
        return x->id < y->id ? -1 : x->id > y->id;
}

/* Groups every node of every collection by (debug name, debug id). */
static int clients_of(const struct listing *l, struct client **ret, size_t *ret_count) {
        size_t total = 0;
        for (size_t i = 0; i < l->collection_count; i++)
                total += l->collections[i]->node_count;
        struct client_entry *e = calloc(total ? total : 1, sizeof *e);
        struct client *cl = calloc(total ? total : 1, sizeof *cl);
        if (!e || !cl) {
                free(e);
                free(cl);
                return -ENOMEM;
        }
        size_t k = 0;
        for (size_t i = 0; i < l->collection_count; i++) {
                const struct wire_diag_collection *c = l->collections[i];
                for (uint32_t j = 0; j < c->node_count; j++)
                        e[k++] = (struct client_entry){.name = c->nodes[j].debug_name ? c->nodes[j].debug_name : "",
                                                       .id = c->nodes[j].debug_id,
                                                       .collection = c->id,
                                                       .bytes = c->nodes[j].bytes};
        }
        qsort(e, k, sizeof *e, entry_cmp);
        size_t n = 0;
        for (size_t i = 0; i < k; i++) {
                bool same_client = n > 0 && !strcmp(cl[n - 1].name, e[i].name) && cl[n - 1].id == e[i].id;
                if (!same_client)
                        cl[n++] = (struct client){.name = e[i].name, .id = e[i].id};
                struct client *c = &cl[n - 1];
                c->nodes++;
                c->bytes += e[i].bytes;
                if (!same_client || e[i].collection != e[i - 1].collection)
                        c->collections++;
        }
        free(e);
        qsort(cl, n, sizeof *cl, client_cmp);
        *ret = cl;
        *ret_count = n;
        return 0;
}

/* ---- output ---- */

static void print_flags(uint32_t flags) {
        bool first = true;
        putchar('[');
        for (size_t i = 0; i < FLAG_NAME_COUNT; i++) {
                if (!(flags & flag_names[i].bit))
                        continue;
                printf("%s%s", first ? "" : " ", flag_names[i].name);
                first = false;
        }
        if (flags & ~known_flags())
                printf("%s0x%x", first ? "" : " ", flags & ~known_flags());
        putchar(']');
}

static int print_text(const struct listing *l) {
        for (size_t i = 0; i < l->collection_count; i++) {
                const struct wire_diag_collection *c = l->collections[i];
                char age[48];
                format_age(c->age_usec, age, sizeof age);
                char name[NAME_TEXT_SIZE];
                printf("collection %" PRIu64 " %s: %s, age %s\n", c->id, name_text(c->name, name, sizeof name),
                       state_name(c->state), age);
                if (c->buffer_count > 0) {
                        printf("  buffers: %u x %" PRIu64 " bytes (%" PRIu64 " allocated each), heap %s\n",
                               c->buffer_count, c->size_bytes, c->raw_vmo_size, c->heap ? c->heap : "?");
                } else {
                        printf("  buffers: none yet\n");
                }
                if (c->has_pixel_format_modifier) {
                        char fmt[64], mod[CORE_MODIFIER_NAME_SIZE];
                        core_pixel_format_format(c->pixel_format, fmt, sizeof fmt);
                        core_modifier_format(c->pixel_format_modifier, mod, sizeof mod);
                        printf("  image format: %s, modifier %s\n", fmt, mod);
                }
                if (c->has_owner) {
                        char comm[NAME_TEXT_SIZE];
                        printf("  created by: pid %u %s, uid %u\n", c->owner_pid, name_text(c->owner_comm, comm, sizeof comm),
                               c->owner_uid);
                }
                printf("  nodes: %u (%u strong, %u weak)\n", c->node_count, c->strong_count, c->weak_count);
                uint32_t *order = calloc(c->node_count ? c->node_count : 1, sizeof *order);
                uint32_t *depth = calloc(c->node_count ? c->node_count : 1, sizeof *depth);
                int n = order && depth ? tree_order(c, order, depth) : -ENOMEM;
                if (n < 0) {
                        free(order);
                        free(depth);
                        fprintf(stderr, "sysmemctl: out of memory\n");
                        return EXIT_DAEMON_ERROR;
                }
                for (int k = 0; k < n; k++) {
                        const struct wire_diag_node *d = &c->nodes[order[k]];
                        /* Deep trees stay readable: the depth is also in the JSON. */
                        printf("    %*s%s %s id %" PRIu64 " ", (int)(2 * (depth[k] < 32 ? depth[k] : 32)), "",
                               kind_name(d->kind), name_text(d->debug_name, name, sizeof name), d->debug_id);
                        print_flags(d->flags);
                        if (d->bytes)
                                printf(" %" PRIu64 " bytes", d->bytes);
                        if (d->has_sender) {
                                char comm[NAME_TEXT_SIZE];
                                printf(" pid %u %s uid %u", d->pid, name_text(d->comm, comm, sizeof comm), d->uid);
                        }
                        putchar('\n');
                }
                free(order);
                free(depth);
                putchar('\n');
        }
        if (l->collection_count == 0)
                printf("no live collections\n\n");
        struct client *cl;
        size_t ncl;
        if (clients_of(l, &cl, &ncl) < 0) {
                fprintf(stderr, "sysmemctl: out of memory\n");
                return EXIT_DAEMON_ERROR;
        }
        if (ncl > 0) {
                char name[NAME_TEXT_SIZE];
                int w = (int)strlen("CLIENT");
                for (size_t i = 0; i < ncl; i++) {
                        int len = (int)strlen(name_text(cl[i].name, name, sizeof name));
                        if (len > w)
                                w = len < 48 ? len : 48;
                }
                printf("memory per client:\n");
                printf("  %-*s %20s %6s %11s %14s\n", w, "CLIENT", "ID", "NODES", "COLLECTIONS", "BYTES");
                for (size_t i = 0; i < ncl; i++) {
                        printf("  %-*s %20" PRIu64 " %6u %11u %14" PRIu64 "\n", w,
                               name_text(cl[i].name, name, sizeof name), cl[i].id, cl[i].nodes, cl[i].collections,
                               cl[i].bytes);
                }
                printf("  (a buffer counts once for every participant that receives it, so the sum can exceed the "
                       "total)\n");
        }
        free(cl);
        char human[32];
        format_size(l->total_bytes, human, sizeof human);
        printf("total: sysmemd holds %" PRIu64 " bytes (%s) of buffers in %u live collections\n", l->total_bytes, human,
               l->collection_total);
        return EXIT_LISTED;
}

static json_object *json_string_or_null(const char *s) { return s ? json_object_new_string(s) : NULL; }

static int print_json(const struct listing *l) {
        json_object *root = json_object_new_object();
        json_object *cols = json_object_new_array();
        int status = EXIT_LISTED;
        for (size_t i = 0; i < l->collection_count && status == EXIT_LISTED; i++) {
                const struct wire_diag_collection *c = l->collections[i];
                json_object *o = json_object_new_object();
                json_object_object_add(o, "id", json_object_new_uint64(c->id));
                json_object_object_add(o, "name", json_string_or_null(c->name));
                json_object_object_add(o, "state", json_object_new_string(state_name(c->state)));
                json_object_object_add(o, "age_usec", json_object_new_uint64(c->age_usec));
                json_object_object_add(o, "buffer_count", json_object_new_uint64(c->buffer_count));
                json_object_object_add(o, "size_bytes", json_object_new_uint64(c->size_bytes));
                json_object_object_add(o, "raw_vmo_size", json_object_new_uint64(c->raw_vmo_size));
                json_object_object_add(o, "heap", json_string_or_null(c->heap));
                if (c->has_pixel_format_modifier) {
                        char fmt[64], mod[CORE_MODIFIER_NAME_SIZE];
                        core_pixel_format_format(c->pixel_format, fmt, sizeof fmt);
                        core_modifier_format(c->pixel_format_modifier, mod, sizeof mod);
                        json_object_object_add(o, "pixel_format", json_object_new_string(fmt));
                        json_object_object_add(o, "pixel_format_modifier", json_object_new_string(mod));
                } else {
                        json_object_object_add(o, "pixel_format", NULL);
                        json_object_object_add(o, "pixel_format_modifier", NULL);
                }
                if (c->has_owner) {
                        json_object *owner = json_object_new_object();
                        json_object_object_add(owner, "pid", json_object_new_uint64(c->owner_pid));
                        json_object_object_add(owner, "uid", json_object_new_uint64(c->owner_uid));
                        json_object_object_add(owner, "comm", json_string_or_null(c->owner_comm));
                        json_object_object_add(o, "created_by", owner);
                } else {
                        json_object_object_add(o, "created_by", NULL);
                }
                json_object_object_add(o, "strong_count", json_object_new_uint64(c->strong_count));
                json_object_object_add(o, "weak_count", json_object_new_uint64(c->weak_count));
                uint32_t *order = calloc(c->node_count ? c->node_count : 1, sizeof *order);
                uint32_t *depth = calloc(c->node_count ? c->node_count : 1, sizeof *depth);
                int n = order && depth ? tree_order(c, order, depth) : -ENOMEM;
                json_object *nodes = json_object_new_array();
                for (int k = 0; k < n; k++) {
                        const struct wire_diag_node *d = &c->nodes[order[k]];
                        json_object *jn = json_object_new_object();
                        json_object_object_add(jn, "index", json_object_new_uint64(d->index));
                        json_object_object_add(jn, "parent", d->parent ? json_object_new_uint64(d->parent - 1) : NULL);
                        json_object_object_add(jn, "depth", json_object_new_uint64(depth[k]));
                        json_object_object_add(jn, "kind", json_object_new_string(kind_name(d->kind)));
                        json_object_object_add(jn, "debug_name",
                                               json_object_new_string(d->debug_name ? d->debug_name : ""));
                        json_object_object_add(jn, "debug_id", json_object_new_uint64(d->debug_id));
                        json_object *flags = json_object_new_array();
                        for (size_t f = 0; f < FLAG_NAME_COUNT; f++)
                                if (d->flags & flag_names[f].bit)
                                        json_object_array_add(flags, json_object_new_string(flag_names[f].name));
                        json_object_object_add(jn, "flags", flags);
                        json_object_object_add(jn, "flag_bits", json_object_new_uint64(d->flags));
                        json_object_object_add(jn, "bytes", json_object_new_uint64(d->bytes));
                        if (d->has_sender) {
                                json_object *who = json_object_new_object();
                                json_object_object_add(who, "pid", json_object_new_uint64(d->pid));
                                json_object_object_add(who, "uid", json_object_new_uint64(d->uid));
                                json_object_object_add(who, "comm", json_string_or_null(d->comm));
                                json_object_object_add(jn, "sender", who);
                        } else {
                                json_object_object_add(jn, "sender", NULL);
                        }
                        json_object_array_add(nodes, jn);
                }
                free(order);
                free(depth);
                if (n < 0)
                        status = EXIT_DAEMON_ERROR;
                json_object_object_add(o, "nodes", nodes);
                json_object_array_add(cols, o);
        }
        json_object_object_add(root, "collections", cols);
        struct client *cl = NULL;
        size_t ncl = 0;
        if (status == EXIT_LISTED && clients_of(l, &cl, &ncl) < 0)
                status = EXIT_DAEMON_ERROR;
        json_object *clients = json_object_new_array();
        for (size_t i = 0; i < ncl; i++) {
                json_object *o = json_object_new_object();
                json_object_object_add(o, "debug_name", json_object_new_string(cl[i].name));
                json_object_object_add(o, "debug_id", json_object_new_uint64(cl[i].id));
                json_object_object_add(o, "nodes", json_object_new_uint64(cl[i].nodes));
                json_object_object_add(o, "collections", json_object_new_uint64(cl[i].collections));
                json_object_object_add(o, "bytes", json_object_new_uint64(cl[i].bytes));
                json_object_array_add(clients, o);
        }
        free(cl);
        json_object_object_add(root, "clients", clients);
        json_object_object_add(root, "total_bytes", json_object_new_uint64(l->total_bytes));
        json_object_object_add(root, "collection_count", json_object_new_uint64(l->collection_count));
        if (status == EXIT_LISTED)
                printf("%s\n",
                       json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
        else
                fprintf(stderr, "sysmemctl: out of memory\n");
        json_object_put(root);
        return status;
}

int sysmemctl_list(int argc, char **argv) {
        static const struct option opts[] = {{"json", no_argument, NULL, 'j'},
                                             {"socket", required_argument, NULL, 's'},
                                             {"help", no_argument, NULL, 'h'},
                                             {0}};
        bool json = false;
        const char *socket_opt = NULL;
        int c;
        optind = 1;
        while ((c = getopt_long(argc, argv, "js:h", opts, NULL)) != -1) {
                switch (c) {
                case 'j':
                        json = true;
                        break;
                case 's':
                        socket_opt = optarg;
                        break;
                case 'h':
                        printf("Usage: sysmemctl list [--json] [--socket PATH]\n"
                               "Lists the live collections of a running sysmemd: state, buffers, image format,\n"
                               "the node tree with each participant's flags and memory, and memory per client.\n"
                               "The socket: --socket, else $SYSMEM_SOCKET, else $XDG_RUNTIME_DIR/sysmem-0, else\n"
                               "/run/sysmem/socket. See docs/sysmemctl.md.\n"
                               "Exit status: 0 listed, 1 the daemon answered with an error, 2 usage,\n"
                               "3 the daemon cannot be reached.\n");
                        return EXIT_LISTED;
                default:
                        return EXIT_USAGE;
                }
        }
        if (optind < argc) {
                fprintf(stderr, "sysmemctl list: unexpected argument '%s'\n", argv[optind]);
                return EXIT_USAGE;
        }
        char path[SOCKET_PATH_MAX] = "";
        int fd = socket_path_connect(socket_opt, path); /* the lookup order of common/socket-path.h */
        if (fd == -ENAMETOOLONG) {
                fprintf(stderr, "sysmemctl list: the socket path is longer than %d bytes\n", SOCKET_PATH_MAX - 1);
                return EXIT_USAGE;
        }
        if (fd < 0 && !socket_opt) {
                /* Every place of the lookup order was tried: name them all. */
                char tried[SOCKET_PATH_CANDIDATES][SOCKET_PATH_MAX];
                int n = socket_path_candidates(tried, SOCKET_PATH_CANDIDATES);
                fprintf(stderr, "sysmemctl: cannot reach sysmemd at ");
                for (int i = 0; i < n; i++)
                        fprintf(stderr, "%s%s", i == 0 ? "" : i + 1 == n ? " or " : ", ", tried[i]);
                fprintf(stderr, ": %s\n", strerror(-fd));
                return EXIT_UNREACHABLE;
        }
        if (fd < 0) {
                fprintf(stderr, "sysmemctl: cannot reach sysmemd at %s: %s\n", path, strerror(-fd));
                return EXIT_UNREACHABLE;
        }
        struct listing l = {0};
        int status = fetch_all(fd, path, &l);
        close(fd);
        if (status == EXIT_LISTED)
                status = json ? print_json(&l) : print_text(&l);
        listing_free(&l);
        return status;
}
