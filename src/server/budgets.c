/*
 * budgets.c: who a client is (SO_PEERCRED at accept) and what each uid holds: connections, collections,
 * nodes and buffer bytes, each with a per-uid limit beside the server-wide one, so that one user (one
 * client program, however many connections it opens) cannot take what the others need. A collection
 * and everything in it count against the uid whose connection created it. Calls nothing else of the server.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/util.h"
#include "server-internal.h"

static void read_comm(pid_t pid, char *buf, size_t size) {
        char path[64];
        snprintf(path, sizeof path, "/proc/%d/comm", (int)pid);
        buf[0] = 0;
        int cfd = open(path, O_RDONLY | O_CLOEXEC);
        if (cfd < 0)
                return;
        ssize_t n = read(cfd, buf, size - 1);
        close(cfd);
        if (n > 0 && buf[n - 1] == '\n')
                n--;
        buf[n > 0 ? n : 0] = 0;
}

bool client_cred_changes(const struct client_cred *c, const struct wire_cred *sender) {
        return sender->present && !(c->known && c->pid == sender->pid && c->uid == sender->uid);
}

void client_cred_note(struct client_cred *c, const struct wire_cred *sender, const char *comm) {
        if (!client_cred_changes(c, sender))
                return;
        c->known = true;
        c->pid = sender->pid;
        c->uid = sender->uid;
        c->gid = sender->gid;
        /*
         * The command name now, while the sender surely exists (a log after it was killed still names it): the
         * caller's copy when it knows one (the process's allocator connection read it), else from /proc.
         */
        if (comm)
                util_strlcpy(c->comm, comm, sizeof c->comm);
        else
                read_comm(c->pid, c->comm, sizeof c->comm);
        c->comm_read = true;
}

const char *client_cred_comm(struct client_cred *c) {
        if (c->known && !c->comm_read) {
                /* For people reading logs and listings; the client can change it, so it decides nothing. */
                read_comm(c->pid, c->comm, sizeof c->comm);
                c->comm_read = true;
        }
        return c->comm;
}

void client_cred_of_socket(int fd, struct client_cred *ret) {
        struct ucred uc;
        socklen_t len = sizeof uc;
        memset(ret, 0, sizeof *ret);
        ret->uid = (uid_t)-1;
        ret->gid = (gid_t)-1;
        if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &uc, &len) < 0 || len != sizeof uc)
                return;
        ret->pid = uc.pid;
        ret->uid = uc.uid;
        ret->gid = uc.gid;
        ret->known = true;
        /* Once per connection, while the process is surely there: collections copy it from their creator. */
        read_comm(uc.pid, ret->comm, sizeof ret->comm);
        ret->comm_read = true;
}

const char *client_cred_format(struct client_cred *c, char *buf, size_t size) {
        if (!c->known) {
                snprintf(buf, size, "an unknown peer");
        } else {
                const char *comm = client_cred_comm(c);
                snprintf(buf, size, "pid %d (%s) uid %u", (int)c->pid, comm[0] ? comm : "?", (unsigned)c->uid);
        }
        return buf;
}

static struct uid_budget *budget_find(struct server *s, uid_t uid) {
        for (size_t i = 0; i < s->budget_count; i++)
                if (s->budgets[i].uid == uid)
                        return &s->budgets[i];
        return NULL;
}

/* The uid's entry, made when needed; NULL when the table cannot grow (out of memory). */
static struct uid_budget *budget_get(struct server *s, uid_t uid) {
        struct uid_budget *b = budget_find(s, uid);
        if (b)
                return b;
        if (s->budget_count == s->budget_capacity) {
                size_t cap = s->budget_capacity ? 2 * s->budget_capacity : 8;
                struct uid_budget *grown = realloc(s->budgets, cap * sizeof *grown);
                if (!grown)
                        return NULL;
                s->budgets = grown;
                s->budget_capacity = cap;
        }
        b = &s->budgets[s->budget_count++];
        *b = (struct uid_budget){.uid = uid};
        return b;
}

static uint64_t *budget_field(struct uid_budget *b, enum budget_kind kind) {
        switch (kind) {
        case BUDGET_CONNECTIONS:
                return &b->used[BUDGET_CONNECTIONS];
        case BUDGET_COLLECTIONS:
                return &b->used[BUDGET_COLLECTIONS];
        case BUDGET_NODES:
                return &b->used[BUDGET_NODES];
        case BUDGET_BYTES:
        default:
                return &b->used[BUDGET_BYTES];
        }
}

static uint64_t budget_limit(const struct server *s, enum budget_kind kind) {
        switch (kind) {
        case BUDGET_CONNECTIONS:
                return s->limits.max_connections_per_uid;
        case BUDGET_COLLECTIONS:
                return s->limits.max_collections_per_uid;
        case BUDGET_NODES:
                return s->limits.max_nodes_per_uid;
        case BUDGET_BYTES:
        default:
                return s->limits.max_bytes_per_uid;
        }
}

static const char *const budget_names[] = {"connections", "live collections", "nodes", "bytes of buffers"};

int budget_check(struct server *s, uid_t uid, enum budget_kind kind, uint64_t more, char *msg, size_t size) {
        struct uid_budget *b = budget_find(s, uid);
        uint64_t used = b ? *budget_field(b, kind) : 0, limit = budget_limit(s, kind);
        if (more <= limit && used <= limit - more)
                return 0;
        snprintf(msg, size, "uid %u holds %llu %s; %llu more would pass its limit of %llu (a limit per user)",
                 (unsigned)uid, (unsigned long long)used, budget_names[kind], (unsigned long long)more,
                 (unsigned long long)limit);
        return -ENOSPC;
}

void budget_charge(struct server *s, uid_t uid, enum budget_kind kind, int64_t delta) {
        struct uid_budget *b = delta > 0 ? budget_get(s, uid) : budget_find(s, uid);
        if (!b)
                return; /* out of memory: the charge is lost, so the limit errs towards serving */
        uint64_t *f = budget_field(b, kind);
        *f = delta < 0 && (uint64_t)-delta > *f ? 0 : *f + (uint64_t)delta;
        /* An entry with nothing left goes: the table holds only uids that hold something. */
        for (int k = 0; k < BUDGET_KINDS; k++)
                if (b->used[k])
                        return;
        *b = s->budgets[--s->budget_count];
}

int server_check_node_total(struct server *s, uint32_t more, char *msg, size_t size) {
        if (more <= s->limits.max_nodes && s->node_total <= s->limits.max_nodes - more)
                return 0;
        snprintf(msg, size, "the server holds %u nodes; %u more would pass its limit of %u", s->node_total, more,
                 s->limits.max_nodes);
        return -ENOSPC;
}

bool client_is_admin(int fd, const struct client_cred *c, gid_t admin_gid) {
        if (!c->known)
                return false;
        if (c->uid == 0)
                return true;
        if (admin_gid == (gid_t)-1)
                return false;
        if (c->gid == admin_gid)
                return true;
        /* Supplementary groups as they were at connect time (SO_PEERGROUPS, Linux 4.13). */
        gid_t groups[256];
        socklen_t len = sizeof groups;
        if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len) < 0)
                return false;
        for (size_t i = 0; i < len / sizeof groups[0]; i++)
                if (groups[i] == admin_gid)
                        return true;
        return false;
}
