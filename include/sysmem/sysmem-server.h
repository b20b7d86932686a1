/* sysmem-server.h: the sysmem server as a library, for sysmemd and for processes that embed it. */
#ifndef SYSMEM_SERVER_H
#define SYSMEM_SERVER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <sysmem/sysmem-types.h>

#ifdef __cplusplus
extern "C" {
#endif

struct sysmem_server;

/* Every resource a client can make the server hold has a cap; 0 in a field keeps the default. */
struct sysmem_server_limits {
        uint32_t max_connections;                /* allocator connections (default 1024) */
        uint32_t max_collections_per_connection; /* live collections created by one allocator connection (256) */
        uint32_t max_collections;                /* live collections in the server (4096) */
        uint32_t max_nodes_per_collection;       /* tokens + collections in one tree (256) */
        uint32_t max_message_bytes;              /* one inbound message (131072) */
        uint32_t max_fds_per_message;            /* fds with one inbound message (8) */
        uint32_t max_pending_waits;              /* outstanding waits on one node (16) */
        uint32_t max_buffers;                    /* buffers per collection (64, never more) */
        uint64_t max_buffer_bytes;               /* one buffer (256 MiB) */
        uint64_t max_collection_bytes;           /* one collection (1 GiB) */
        uint64_t max_total_bytes;                /* every live collection together (8 GiB) */
        /*
         * Replies and events waiting on one object's socket for its client to read what the socket already
         * holds (64 messages, 256 KiB); past either the object fails. Requests are left unread while half is.
         */
        uint32_t max_queued_replies;
        uint32_t max_queued_bytes;
        /*
         * Per user (the uid SO_PEERCRED gives for the connection that created a collection; everything in
         * the collection counts against it), so that one user cannot take what others need.
         */
        uint32_t max_connections_per_uid; /* (256) */
        uint32_t max_collections_per_uid; /* (1024) */
        uint32_t max_nodes;               /* nodes of all live collections together (65536) */
        uint32_t max_nodes_per_uid;       /* (16384) */
        uint64_t max_bytes_per_uid;       /* buffer bytes (2 GiB) */
};

enum sysmem_log_level {
        SYSMEM_LOG_ERROR = 0,
        SYSMEM_LOG_WARNING = 1,
        SYSMEM_LOG_INFO = 2,
        SYSMEM_LOG_DEBUG = 3,
};

/*
 * -EPROTONOSUPPORT (logged) when the kernel cannot say which socket a Unix socket is connected to
 * (NETLINK_SOCK_DIAG for AF_UNIX, the unix_diag module): tokens could not be validated.
 */
int sysmem_server_new(const struct sysmem_server_limits *limits /* NULL: defaults */,
                      struct sysmem_server **ret_server);
void sysmem_server_free(struct sysmem_server *server);
void sysmem_server_set_log_level(struct sysmem_server *server, enum sysmem_log_level level);
/*
 * Members of group gid (primary or supplementary, when they connect) see every client's collections in
 * the diagnostics (sysmemctl list), as root does; everyone else sees the collections their own uid
 * created. (gid_t)-1: root only (the default). Applies to connections made after the call.
 */
void sysmem_server_set_admin_group(struct sysmem_server *server, gid_t gid);
/*
 * Replaces the built-in format cost table (which pixel format and modifier a negotiation prefers) by the
 * table in text: one `PIXEL_FORMAT MODIFIER USAGE COST` entry per line, '#' comments (see
 * docs/constraints.md and data/format-costs.txt). On a syntax error returns -EINVAL, keeps the current
 * table and writes a message naming the line and the token into error.
 */
int sysmem_server_set_format_costs(struct sysmem_server *server, const char *text, size_t length, char *error,
                                   size_t error_size);

/*
 * Chooses the heaps the server allocates from: selection is a comma-separated list of fnmatch(3)
 * patterns over heap names ("system-ram", "udmabuf", "dma-heap:system", "drm:vgem"; see docs/heaps.md),
 * "-PATTERN" removes what it matches, NULL or "" enables every heap the machine offers (the default of
 * sysmem_server_new()). The backends are probed again. Returns -EINVAL with a message in error for a
 * malformed selection, -EBUSY while collections exist.
 */
int sysmem_server_set_heaps(struct sysmem_server *server, const char *selection, char *error, size_t error_size);
/* Copies up to capacity heap descriptions into ret, in preference order; returns how many heaps there are. */
size_t sysmem_server_get_heaps(struct sysmem_server *server, struct sysmem_heap_info *ret, size_t capacity);

/*
 * Binds and listens on path, with mode 0666 whatever the umask (who may connect is decided by the
 * directory's permissions; chmod(2) the path to narrow it). A stale socket file there is replaced;
 * -EADDRINUSE when another server is accepting connections on it, or when something other than a
 * socket is there.
 */
int sysmem_server_listen(struct sysmem_server *server, const char *path);
/* Serves an already listening SOCK_SEQPACKET socket (socket activation); takes ownership. */
int sysmem_server_listen_fd(struct sysmem_server *server, int fd);
/*
 * Hands the server the server end of an allocator connection (one end of a SOCK_SEQPACKET
 * socketpair); takes ownership. This is how a driver in the same process connects.
 */
int sysmem_server_serve_connection(struct sysmem_server *server, int fd);

/* An fd that is readable when sysmem_server_dispatch() has work, for a foreign event loop. */
int sysmem_server_get_fd(struct sysmem_server *server);
/* Runs one iteration, waiting at most timeout_usec (0: do not wait; UINT64_MAX: forever). */
int sysmem_server_dispatch(struct sysmem_server *server, uint64_t timeout_usec);
/* Runs until SIGTERM or SIGINT (when install_signal_handlers) or sysmem_server_exit(). */
int sysmem_server_run(struct sysmem_server *server, bool install_signal_handlers);
void sysmem_server_exit(struct sysmem_server *server);

#ifdef __cplusplus
}
#endif
#endif
