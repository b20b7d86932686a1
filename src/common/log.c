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

void log_msg(enum log_level level, const char *fmt, ...) {
        static const char *const names[] = {"error", "warning", "info", "debug"};
        if (level > current_level)
                return;
        char line[2048];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(line, sizeof line, fmt, ap);
        va_end(ap);
        /* <N> is the sd-daemon priority prefix journald understands on stderr. */
        static const int prio[] = {3, 4, 6, 7};
        fprintf(stderr, "<%d>%s[%s]: %s\n", prio[level], current_prefix, names[level], line);
}
