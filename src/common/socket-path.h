/*
 * socket-path.h: where the sysmem socket is, the one place the lookup order is written (docs/protocol.md,
 * "Connecting"). Candidates, in order:
 *   1. $SYSMEM_SOCKET, when set and not empty: then it is the only one;
 *   2. $XDG_RUNTIME_DIR/sysmem-0, when XDG_RUNTIME_DIR is set: a daemon of this user's session;
 *   3. /run/sysmem/socket: the system daemon.
 * A client tries them in order and takes the first that accepts a connection; a daemon listens on the first.
 */
#ifndef SYSMEM_SOCKET_PATH_H
#define SYSMEM_SOCKET_PATH_H

#include <stddef.h>

#define SOCKET_PATH_SYSTEM_DIR "/run/sysmem"
#define SOCKET_PATH_SYSTEM SOCKET_PATH_SYSTEM_DIR "/socket"
#define SOCKET_PATH_USER_NAME "sysmem-0"
#define SOCKET_PATH_MAX 108 /* sizeof(((struct sockaddr_un *)0)->sun_path) */
#define SOCKET_PATH_CANDIDATES 3

/* Fills out with the candidates in order; returns how many (1 to 3), or -ENAMETOOLONG for one that does not fit. */
int socket_path_candidates(char out[][SOCKET_PATH_MAX], size_t capacity);
/*
 * Connects a SOCK_SEQPACKET socket (CLOEXEC) to path, or, with path NULL, to the first candidate that
 * accepts; returns the fd or -errno (the last candidate's error, or -ENOENT when none exists). used (may be
 * NULL) gets the path connected to, or the last one tried.
 */
int socket_path_connect(const char *path, char used[SOCKET_PATH_MAX]);

#endif
