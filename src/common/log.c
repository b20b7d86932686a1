/* log.c: leveled logging to stderr; one line per call, prefixed with the level. */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static enum log_level current_level = LOG_LVL_INFO;
static const char *current_prefix = "sysmemd";

void log_set_level(enum log_level level) { current_level = level; }
enum log_level log_get_level(void) { return current_level; }
void log_set_prefix(const char *prefix) { current_prefix = prefix; }

/*
 * One line, whatever the message holds: clients name things (debug names, collection names) that end up
 * in messages, and a newline in one must not start a forged line ("\n<3>sysmemd[error]: ..."). Control
 * characters and the backslash are written as \xNN, so the line reads back unambiguously.
 */
static void escape_line(const char *in, char *out, size_t size) {
        static const char hex[] = "0123456789abcdef";
        size_t n = 0;
        for (const unsigned char *p = (const unsigned char *)in; *p && n + 5 < size; p++) {
                if (*p < 0x20 || *p == 0x7f || *p == '\\') {
                        out[n++] = '\\';
                        out[n++] = 'x';
                        out[n++] = hex[*p >> 4];
                        out[n++] = hex[*p & 15];
                } else {
                        out[n++] = (char)*p;
                }
        }
        out[n] = 0;
}

void log_msg(enum log_level level, const char *fmt, ...) {
        static const char *const names[] = {"error", "warning", "info", "debug"};
        if (level > current_level)
                return;
        char line[2048], escaped[4 * sizeof line];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(line, sizeof line, fmt, ap);
        va_end(ap);
        escape_line(line, escaped, sizeof escaped);
        /* <N> is the sd-daemon priority prefix journald understands on stderr. */
        static const int prio[] = {3, 4, 6, 7};
        fprintf(stderr, "<%d>%s[%s]: %s\n", prio[level], current_prefix, names[level], escaped);
}
