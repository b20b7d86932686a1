/* log.h: leveled logging to stderr, shared by the server and tools. */
#ifndef SYSMEM_LOG_H
#define SYSMEM_LOG_H

#include "macros.h"

enum log_level { LOG_LVL_ERROR = 0, LOG_LVL_WARNING = 1, LOG_LVL_INFO = 2, LOG_LVL_DEBUG = 3 };

void log_set_level(enum log_level level);
enum log_level log_get_level(void);
void log_set_prefix(const char *prefix);
void log_msg(enum log_level level, const char *fmt, ...) _printf_(2, 3);

#define log_error(...) log_msg(LOG_LVL_ERROR, __VA_ARGS__)
#define log_warning(...) log_msg(LOG_LVL_WARNING, __VA_ARGS__)
#define log_info(...) log_msg(LOG_LVL_INFO, __VA_ARGS__)
#define log_debug(...)                                                                                                 \
        do {                                                                                                           \
                if (log_get_level() >= LOG_LVL_DEBUG)                                                                  \
                        log_msg(LOG_LVL_DEBUG, __VA_ARGS__);                                                           \
        } while (0)

#endif
