/* explain.c: the sentences a failed aggregation hands back: participant labels and bounded message building. */
#include "core-internal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "names.h"

/* Long debug names are cut so that a message naming two participants still has room for the values. */
#define LABEL_NAME_MAX 64
_Static_assert(LABEL_NAME_MAX + sizeof("'...'") <= CORE_LABEL_SIZE, "a label must fit a cut name");
_Static_assert(sizeof(" (from )") + LABEL_NAME_MAX + sizeof("'...'") - 1 <= CORE_LABEL_SIZE,
               "core_from() must fit a cut name");

struct core_label core_label(const struct core_participant *participants, size_t index) {
        struct core_label label;
        const char *name = index != CORE_NOBODY ? participants[index].debug_name : NULL;

        if (index == CORE_NOBODY) {
                snprintf(label.text, sizeof(label.text), "(no participant)");
                return label;
        }
        if (!name) {
                snprintf(label.text, sizeof(label.text), "participant #%zu", index);
                return label;
        }

        /* The name is the client's: control bytes must not reach logs or other clients' terminals. */
        size_t len = strnlen(name, LABEL_NAME_MAX + 1);
        bool cut = len > LABEL_NAME_MAX;
        size_t n = 0;
        label.text[n++] = '\'';
        for (size_t i = 0; i < MIN(len, (size_t)LABEL_NAME_MAX); i++) {
                unsigned char ch = (unsigned char)name[i];
                label.text[n++] = ch < 0x20 || ch == 0x7f ? '?' : (char)ch;
        }
        if (cut) {
                memcpy(label.text + n, "...", 3);
                n += 3;
        }
        label.text[n++] = '\'';
        label.text[n] = 0;
        return label;
}

void core_text_init(struct core_text *t, char *buf, size_t size) {
        t->buf = buf;
        t->size = size;
        t->len = 0;
        if (size > 0)
                buf[0] = 0;
}

void core_text_vappendf(struct core_text *t, const char *fmt, va_list ap) {
        if (t->size == 0 || t->len + 1 >= t->size)
                return; /* full; already ends in "..." */

        int n = vsnprintf(t->buf + t->len, t->size - t->len, fmt, ap);
        if (n < 0)
                return;
        if ((size_t)n < t->size - t->len) {
                t->len += (size_t)n;
                return;
        }
        t->len = t->size - 1;
        if (t->size > 3)
                memcpy(t->buf + t->size - 4, "...", 3);
}

void core_text_appendf(struct core_text *t, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        core_text_vappendf(t, fmt, ap);
        va_end(ap);
}

void core_fail_begin(struct core_failure *failure, struct core_text *t) {
        failure->error = SYSMEM_ERROR_CONSTRAINTS_INTERSECTION_EMPTY;
        core_text_init(t, failure->message, sizeof(failure->message));
}

int core_fail(struct core_failure *failure, const char *fmt, ...) {
        failure->error = SYSMEM_ERROR_CONSTRAINTS_INTERSECTION_EMPTY;

        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(failure->message, sizeof(failure->message), fmt, ap);
        va_end(ap);
        if (n < 0)
                failure->message[0] = 0;
        else if ((size_t)n >= sizeof(failure->message))
                memcpy(failure->message + sizeof(failure->message) - 4, "...", 3);
        return -EINVAL;
}

int core_fail_participant(struct core_failure *failure, const struct core_participant *participants, size_t index,
                          const char *fmt, ...) {
        struct core_text t;
        core_fail_begin(failure, &t);
        core_text_appendf(&t, "%s: ", core_label(participants, index).text);
        if (t.len + 1 >= t.size)
                return -EINVAL;

        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(t.buf + t.len, t.size - t.len, fmt, ap);
        va_end(ap);
        if (n > 0 && (size_t)n >= t.size - t.len)
                memcpy(t.buf + t.size - 4, "...", 3);
        return -EINVAL;
}

struct core_label core_from(const struct core_participant *participants, size_t index) {
        struct core_label label;
        if (index == CORE_NOBODY) {
                label.text[0] = 0;
                return label;
        }
        /* A label is at most 70 bytes with its NUL (LABEL_NAME_MAX + "'...'"), so " (from " + label + ")" fits. */
        struct core_label who = core_label(participants, index);
        size_t n = strlen(who.text);
        memcpy(label.text, " (from ", 7);
        memcpy(label.text + 7, who.text, n);
        memcpy(label.text + 7 + n, ")", 2);
        return label;
}

void core_append_key(struct core_text *t, uint32_t pixel_format, uint64_t modifier) {
        char f[32], m[CORE_MODIFIER_NAME_SIZE];
        core_text_appendf(t, "(%s, %s)", core_pixel_format_format(pixel_format, f, sizeof(f)),
                          core_modifier_format(modifier, m, sizeof(m)));
}

void core_append_color_spaces(struct core_text *t, uint32_t mask) {
        if (mask & CORE_CS_DNC) {
                core_text_appendf(t, "{DO_NOT_CARE}");
                return;
        }
        const char *sep = "";
        core_text_appendf(t, "{");
        for (uint32_t cs = 0; cs < 32; cs++)
                if (mask & (1u << cs)) {
                        const char *name = core_color_space_name(cs);
                        if (name)
                                core_text_appendf(t, "%s%s", sep, name);
                        else
                                core_text_appendf(t, "%s%" PRIu32, sep, cs);
                        sep = ", ";
                }
        core_text_appendf(t, "}");
}

void core_append_ifc_keys(struct core_text *t, const struct core_ifc *list, uint32_t count, bool pairs) {
        const char *sep = "";
        core_text_appendf(t, "{");
        for (uint32_t i = 0; i < count; i++) {
                bool seen = false;
                for (uint32_t j = 0; j < i && !seen; j++)
                        seen = list[j].pixel_format == list[i].pixel_format &&
                               (!pairs || list[j].pixel_format_modifier == list[i].pixel_format_modifier);
                if (seen)
                        continue;
                core_text_appendf(t, "%s", sep);
                if (pairs)
                        core_append_key(t, list[i].pixel_format, list[i].pixel_format_modifier);
                else {
                        char f[32];
                        core_text_appendf(t, "%s", core_pixel_format_format(list[i].pixel_format, f, sizeof(f)));
                }
                sep = ", ";
        }
        core_text_appendf(t, "}");
}
