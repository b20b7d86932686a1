/*
 * test-socket-path.c: the one lookup order for the sysmem socket (common/socket-path.h): $SYSMEM_SOCKET
 * alone; else the session's $XDG_RUNTIME_DIR/sysmem-0, then the system's /run/sysmem/socket, the first that
 * accepts. A desktop client whose session has no daemon reaches the system one.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/socket-path.h"

static void test_candidates(void **state) {
        (void)state;
        char c[SOCKET_PATH_CANDIDATES][SOCKET_PATH_MAX];
        unsetenv("SYSMEM_SOCKET");
        unsetenv("XDG_RUNTIME_DIR");
        assert_int_equal(socket_path_candidates(c, SOCKET_PATH_CANDIDATES), 1);
        assert_string_equal(c[0], "/run/sysmem/socket");

        setenv("XDG_RUNTIME_DIR", "/run/user/1000", 1);
        assert_int_equal(socket_path_candidates(c, SOCKET_PATH_CANDIDATES), 2);
        assert_string_equal(c[0], "/run/user/1000/sysmem-0");
        assert_string_equal(c[1], "/run/sysmem/socket");
        assert_int_equal(socket_path_candidates(c, 1), 1); /* the daemon takes the first */

        setenv("SYSMEM_SOCKET", "/tmp/x/socket", 1);
        assert_int_equal(socket_path_candidates(c, SOCKET_PATH_CANDIDATES), 1);
        assert_string_equal(c[0], "/tmp/x/socket");

        setenv("SYSMEM_SOCKET", "", 1); /* empty counts as unset */
        assert_int_equal(socket_path_candidates(c, SOCKET_PATH_CANDIDATES), 2);

        char longer[200];
        memset(longer, 'a', sizeof longer - 1);
        longer[0] = '/';
        longer[sizeof longer - 1] = 0;
        setenv("SYSMEM_SOCKET", longer, 1);
        assert_int_equal(socket_path_candidates(c, SOCKET_PATH_CANDIDATES), -ENAMETOOLONG);
        unsetenv("SYSMEM_SOCKET");
        unsetenv("XDG_RUNTIME_DIR");
}

/* A session directory with no daemon (no file, or a stale socket file): the system socket is tried next. */
static void test_falls_back_to_the_system_socket(void **state) {
        (void)state;
        char dir[] = "/tmp/sysmem-socket-path-XXXXXX";
        assert_non_null(mkdtemp(dir));
        unsetenv("SYSMEM_SOCKET");
        setenv("XDG_RUNTIME_DIR", dir, 1);
        char used[SOCKET_PATH_MAX];
        int fd = socket_path_connect(NULL, used);
        if (fd >= 0)
                close(fd); /* a system daemon runs here: it was reached, which is the point */
        assert_string_equal(used, "/run/sysmem/socket");

        /* A stale socket file left by a session daemon that died: refused, so the next one is tried. */
        char stale[SOCKET_PATH_MAX];
        snprintf(stale, sizeof stale, "%s/sysmem-0", dir);
        int s = socket(AF_UNIX, SOCK_SEQPACKET, 0);
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        memcpy(sa.sun_path, stale, strlen(stale) + 1);
        assert_int_equal(bind(s, (struct sockaddr *)&sa, sizeof sa), 0);
        close(s); /* the file stays, nobody listens */
        fd = socket_path_connect(NULL, used);
        if (fd >= 0)
                close(fd);
        assert_string_equal(used, "/run/sysmem/socket");

        /* A session daemon that listens is taken first. */
        unlink(stale);
        s = socket(AF_UNIX, SOCK_SEQPACKET, 0);
        assert_int_equal(bind(s, (struct sockaddr *)&sa, sizeof sa), 0);
        assert_int_equal(listen(s, 4), 0);
        fd = socket_path_connect(NULL, used);
        assert_true(fd >= 0);
        assert_string_equal(used, stale);
        close(fd);
        close(s);

        /* An explicit path is the only one tried. */
        fd = socket_path_connect("/nonexistent/sysmem", used);
        assert_int_equal(fd, -ENOENT);
        assert_string_equal(used, "/nonexistent/sysmem");
        unlink(stale);
        rmdir(dir);
        unsetenv("XDG_RUNTIME_DIR");
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_candidates),
                cmocka_unit_test(test_falls_back_to_the_system_socket),
        };
        return cmocka_run_group_tests_name("socket-path", tests, NULL, NULL);
}
