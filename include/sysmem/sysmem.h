/* sysmem.h: libsysmem, the client library of sysmemd (buffer collections negotiated between processes). */
#ifndef SYSMEM_H
#define SYSMEM_H

#include <sysmem/sysmem-types.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Conventions
 *  - Every call returns 0 (or a non-negative value where documented) on success and a negative errno
 *    value on failure; outputs (ret_*) are written only on success.
 *  - When sysmemd answers a request with a sysmem error, the call returns the errno that
 *    sysmem_error_to_errno() gives for it, and sysmem_node_error() / sysmem_node_error_message()
 *    tell the exact error and the daemon's explanation.
 *  - Objects are not thread-safe; use one object from one thread at a time.
 *  - Every fd the library creates is O_CLOEXEC.
 */

struct sysmem_allocator;
struct sysmem_node;       /* what tokens and collections have in common */
struct sysmem_token;      /* a capability to join a collection; can travel as an fd */
struct sysmem_collection; /* a participant's view of a collection */
struct sysmem_group;      /* a choice among alternative child tokens: exactly one child is used */

const char *sysmem_error_name(enum sysmem_error error);
int sysmem_error_to_errno(enum sysmem_error error);

/* ---- allocator ---- */

/*
 * path NULL: $SYSMEM_SOCKET alone when it is set; else the first of $XDG_RUNTIME_DIR/sysmem-0 (a session
 * daemon) and /run/sysmem/socket (the system daemon) that accepts a connection (docs/protocol.md, §1.1).
 */
int sysmem_allocator_connect(const char *path, struct sysmem_allocator **ret_allocator);
/* Takes ownership of fd, a connected SOCK_SEQPACKET socket whose peer is a sysmem server. */
int sysmem_allocator_from_fd(int fd, struct sysmem_allocator **ret_allocator);
void sysmem_allocator_free(struct sysmem_allocator *allocator);
int sysmem_allocator_get_fd(const struct sysmem_allocator *allocator);

int sysmem_allocator_set_debug_client_info(struct sysmem_allocator *allocator, const char *name, uint64_t id);
int sysmem_allocator_allocate_shared(struct sysmem_allocator *allocator, struct sysmem_token **ret_token);
/*
 * The same, and also count duplicates of the root token (as sysmem_token_duplicate_sync() would make)
 * in the same round trip: the usual start of a negotiation. It also asks the daemon to keep count + 1
 * token sockets made ahead for this allocator (count <= 7), so the next such call sends one message
 * and returns without waiting for the daemon at all; the allocator then holds those count + 1 fds
 * until it is freed.
 */
int sysmem_allocator_allocate_shared_with_duplicates(struct sysmem_allocator *allocator, uint32_t count,
                                                     const uint32_t *rights_attenuation_masks,
                                                     struct sysmem_token **ret_token,
                                                     struct sysmem_token **ret_duplicates);
int sysmem_allocator_allocate_non_shared(struct sysmem_allocator *allocator,
                                         struct sysmem_collection **ret_collection);
/* Consumes token (even on failure). */
int sysmem_allocator_bind_shared(struct sysmem_allocator *allocator, struct sysmem_token *token,
                                 struct sysmem_collection **ret_collection);
/* Asks whether token_fd is a live token of this daemon; never hangs on a fake token. Does not take fd. */
int sysmem_allocator_validate_token(struct sysmem_allocator *allocator, int token_fd, bool *ret_is_known);
/* Which collection and buffer a buffer fd is (-ENOENT for anything else). Does not take fd. */
int sysmem_allocator_get_vmo_info(struct sysmem_allocator *allocator, int buffer_fd, uint64_t *ret_collection_id,
                                  uint64_t *ret_buffer_index);

/*
 * The heaps the daemon allocates from, in its preference order: copies up to capacity descriptions into
 * ret and sets *ret_count to how many there are (it may be larger than capacity; SYSMEM_MAX_HEAPS is enough).
 */
/*
 * Which protocol the daemon speaks and what it has (GetServerInfo); -ENOTSUP from a daemon older than
 * the call (it fails the connection's request as an unknown opcode: reconnect).
 */
int sysmem_allocator_get_server_info(struct sysmem_allocator *allocator, struct sysmem_server_info *ret);
/* The protocol version and release of this library (SYSMEM_PROTOCOL_VERSION and the package version). */
uint32_t sysmem_protocol_version(void);
const char *sysmem_library_version(void);
int sysmem_allocator_get_heaps(struct sysmem_allocator *allocator, struct sysmem_heap_info *ret, size_t capacity,
                               size_t *ret_count);

/* ---- nodes (tokens and collections) ---- */

struct sysmem_node *sysmem_token_node(struct sysmem_token *token);
struct sysmem_node *sysmem_collection_node(struct sysmem_collection *collection);
struct sysmem_node *sysmem_group_node(struct sysmem_group *group);

int sysmem_node_sync(struct sysmem_node *node);
int sysmem_node_set_name(struct sysmem_node *node, uint32_t priority, const char *name);
int sysmem_node_set_debug_client_info(struct sysmem_node *node, const char *name, uint64_t id);
int sysmem_node_get_buffer_collection_id(struct sysmem_node *node, uint64_t *ret_id);
/*
 * The error that failed this node, and why; while it has not failed, the error the daemon last answered a
 * request on it with (a refused request does not fail the node), or SYSMEM_ERROR_INVALID.
 */
enum sysmem_error sysmem_node_error(const struct sysmem_node *node);
const char *sysmem_node_error_message(const struct sysmem_node *node);
/*
 * Weak nodes do not keep the buffers alive. Only before the node is ready (a token any time, a
 * collection before SetConstraints, a group before AllChildrenPresent); children made later are weak.
 */
int sysmem_node_set_weak(struct sysmem_node *node);
/* Promises to honour close_weak_asap; a weak collection must say so before waiting for buffers. */
int sysmem_node_set_weak_ok(struct sysmem_node *node, bool for_child_nodes_also);
/* A proof of this node for sysmem_node_is_alternate_for(); the fd is the caller's. */
int sysmem_node_get_node_ref(struct sysmem_node *node, int *ret_fd);
/* Whether node and the node behind node_ref are alternatives (their nearest common ancestor is a group). */
int sysmem_node_is_alternate_for(struct sysmem_node *node, int node_ref_fd, bool *ret_is_alternate);
/* Moves the daemon's "allocation still waiting for ..." log to deadline_ns (CLOCK_MONOTONIC). */
int sysmem_node_set_debug_timeout_log_deadline(struct sysmem_node *node, uint64_t deadline_ns);
/* Makes the daemon log this collection's constraints and results. */
int sysmem_node_set_verbose_logging(struct sysmem_node *node);
/* The socket, for poll(): readable when sysmem_node_dispatch() has work. */
int sysmem_node_get_fd(const struct sysmem_node *node);
/* Reads whatever the daemon sent, without blocking, and runs the callbacks it completes. */
int sysmem_node_dispatch(struct sysmem_node *node);

/* ---- tokens ---- */

int sysmem_token_duplicate(struct sysmem_token *token, uint32_t rights_attenuation_mask,
                           struct sysmem_token **ret_token);
int sysmem_token_duplicate_sync(struct sysmem_token *token, uint32_t count, const uint32_t *rights_attenuation_masks,
                                struct sysmem_token **ret_tokens);
/*
 * A dispensable token's failure fails only its own subtree once buffers are allocated (before
 * allocation it still fails the collection); its constraints count in the first allocation.
 */
int sysmem_token_set_dispensable(struct sysmem_token *token);
/* Creates a group under the token: one of its children will be chosen. */
int sysmem_token_create_group(struct sysmem_token *token, struct sysmem_group **ret_group);
/*
 * Exchanges the token for a collection on the same socket; consumes token (even on failure). If the
 * collection has already failed, this still succeeds and the collection's next call returns the error
 * (sysmem_node_error_message() says why).
 */
int sysmem_token_bind(struct sysmem_token *token, struct sysmem_collection **ret_collection);
/* Clean exit: this participant sets no constraints and does not block allocation. Frees token. */
int sysmem_token_release(struct sysmem_token *token);
/* Closes without Release: the daemon treats that as this participant failing. Accepts NULL. */
void sysmem_token_close(struct sysmem_token *token);
/* Hands the token's socket to the caller (to pass to another process) and frees the object. */
int sysmem_token_to_fd(struct sysmem_token *token);
/* Takes ownership of fd. */
int sysmem_token_from_fd(int fd, struct sysmem_token **ret_token);

/* ---- collections ---- */

/* constraints NULL: this participant takes part without constraints and receives no buffer fds. */
int sysmem_collection_set_constraints(struct sysmem_collection *collection,
                                      const struct sysmem_constraints *constraints);
/* Blocks until the collection is allocated or fails. The info is owned by the caller. */
int sysmem_collection_wait_allocated(struct sysmem_collection *collection,
                                     struct sysmem_collection_info **ret_info);
/* 0 when allocated, -EAGAIN while pending, else the failure. */
int sysmem_collection_check_allocated(struct sysmem_collection *collection);

typedef void (*sysmem_allocated_fn)(struct sysmem_collection *collection, int result,
                                    struct sysmem_collection_info *info /* owned by callee */, void *userdata);
/* Sends the wait and returns at once; callback runs from sysmem_node_dispatch() (exactly once). */
int sysmem_collection_wait_allocated_async(struct sysmem_collection *collection, sysmem_allocated_fn callback,
                                           void *userdata);

/*
 * A token for a late joiner: its subtree never delays or enlarges the allocation; once it is ready
 * it gets the existing buffers if its constraints fit them, and otherwise only it fails.
 */
int sysmem_collection_attach_token(struct sysmem_collection *collection, uint32_t rights_attenuation_mask,
                                   struct sysmem_token **ret_token);
/*
 * An fd (the caller's) that hangs up once at most buffers_remaining of this collection's buffers are
 * still held by participants (see docs/differences.md for what "held" can mean on Linux).
 */
int sysmem_collection_attach_lifetime_tracking(struct sysmem_collection *collection, uint32_t buffers_remaining,
                                               int *ret_fd);

/* Clean exit; constraints already set stay in force. Frees collection. */
int sysmem_collection_release(struct sysmem_collection *collection);
/* Closes without Release (a failure of this participant). Accepts NULL. */
void sysmem_collection_close(struct sysmem_collection *collection);

/* ---- groups ---- */

/* Children in priority order: the first one whose subtree fits is chosen. */
int sysmem_group_create_child(struct sysmem_group *group, uint32_t rights_attenuation_mask,
                              struct sysmem_token **ret_token);
int sysmem_group_create_children_sync(struct sysmem_group *group, uint32_t count,
                                      const uint32_t *rights_attenuation_masks, struct sysmem_token **ret_tokens);
/* No more children: the group is ready. */
int sysmem_group_all_children_present(struct sysmem_group *group);
/* Clean exit (only after AllChildrenPresent). Frees group. */
int sysmem_group_release(struct sysmem_group *group);
/* Closes without Release (a failure). Accepts NULL. */
void sysmem_group_close(struct sysmem_group *group);

/* Closes every fd in info and frees it. Accepts NULL. */
void sysmem_collection_info_free(struct sysmem_collection_info *info);

/* ---- image layout ---- */

/*
 * Where every plane of a width x height image lies in a buffer negotiated with these image settings
 * (info->settings.image_format_constraints), using the smallest bytes_per_row the settings allow for
 * that width. -EINVAL when the size is outside what the settings allow (below min_size, above
 * max_size, not a multiple of size_alignment, more than max_width_times_height pixels); -EOPNOTSUPP
 * for a (format, modifier) pair only a device lays out (its heap's device chose the layout: ask the
 * device, for example gbm_bo_import() and gbm_bo_get_offset()/_stride_for_plane(); docs/constraints.md);
 * -EOVERFLOW when the layout does not fit in 64 bits.
 */
int sysmem_image_layout(const struct sysmem_image_format_settings *settings, uint32_t width, uint32_t height,
                        struct sysmem_plane_layout *ret_layout);

/* ---- image formats: sysmem's image-format library (docs/constraints.md, "Format information") ---- */

/*
 * Whether sysmem lays out (pixel_format, modifier) itself (sysmem2's ImageFormatIsSupported): a fourcc it
 * knows with LINEAR, Intel X/Y/Yf tiling (with or without CCS) or ARM AFBC 16x16 / 32x8. A false pair
 * may still be allocated through a heap whose device lays it out. Needs no daemon.
 */
bool sysmem_format_is_supported(uint32_t pixel_format, uint64_t modifier);
/*
 * Fills *ret_info with sysmem's constants for the pair. -EINVAL for a NULL ret_info or a pair that names
 * no one format (pixel format 0 or SYSMEM_PIXEL_FORMAT_DO_NOT_CARE, modifier SYSMEM_FORMAT_MODIFIER_DO_NOT_CARE
 * or _INVALID); -ENOENT for a fourcc sysmem does not know; -EOPNOTSUPP for a known fourcc with a modifier
 * only a device lays out. *ret_info is written only on success. Needs no daemon.
 */
int sysmem_format_get_info(uint32_t pixel_format, uint64_t modifier, struct sysmem_format_info *ret_info);
/*
 * sysmem2's ImageFormatIsPixelFormatEqual: true when both name the same fourcc and the same modifier.
 * DO_NOT_CARE is a value like any other here (it equals only DO_NOT_CARE); an unset modifier is 0, LINEAR,
 * so it equals an explicit LINEAR. false when either is NULL.
 */
bool sysmem_formats_equal(const struct sysmem_pixel_format_and_modifier *a,
                          const struct sysmem_pixel_format_and_modifier *b);
/*
 * sysmem2's ImageFormatMinimumRowBytes: the smallest bytes_per_row an image of this width may have under
 * settings (min_bytes_per_row, bytes_per_row_divisor, the tiling's row bytes). -EINVAL for NULL
 * arguments, a width of 0 or outside [min_size.width, max_size.width], or a result above
 * max_bytes_per_row; -EOPNOTSUPP for a pair only a device lays out.
 */
int sysmem_image_min_bytes_per_row(const struct sysmem_image_format_settings *settings, uint32_t width,
                                   uint32_t *ret_bytes_per_row);

/* ---- CPU access to buffers ---- */

/*
 * Brackets CPU access to a buffer fd (flags: SYSMEM_CPU_ACCESS_READ and/or _WRITE): on a dma-buf,
 * DMA_BUF_IOCTL_SYNC with START (begin) or END (end), so caches are made coherent with devices; on a
 * memfd (system-ram) nothing is needed and both return 0. Call begin before reading or writing a
 * mapping and end after, with the same flags. Returns 0, -EINVAL for bad flags, or -errno (-ENOTTY for
 * an fd that is neither).
 */
int sysmem_buffer_begin_cpu_access(int buffer_fd, uint32_t flags);
int sysmem_buffer_end_cpu_access(int buffer_fd, uint32_t flags);

/* ---- fd passing helpers for handing tokens between processes over a Unix socket ---- */

/* Sends fd (not consumed) with an optional small payload over a connected Unix socket. */
int sysmem_send_fd(int unix_socket, int fd, const void *data, size_t size);
/* Receives one fd (owned by the caller) and up to size bytes of payload; returns the payload length. */
int sysmem_recv_fd(int unix_socket, int *ret_fd, void *data, size_t size);

#ifdef __cplusplus
}
#endif
#endif
