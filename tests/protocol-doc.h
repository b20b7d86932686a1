/* protocol-doc.h: what docs/protocol.md and docs/protocol.json quote from the C source, generated (test-wire). */
#ifndef SYSMEM_TESTS_PROTOCOL_DOC_H
#define SYSMEM_TESTS_PROTOCOL_DOC_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "wire/wire.h"

/* The most bytes (header included) and fds a message with this body can have; UINT64_MAX: unbounded. */
uint64_t protocol_doc_max_bytes(const struct wire_schema *schema);
uint64_t protocol_doc_max_fds(const struct wire_schema *schema);

/* docs/protocol.md §11, between its GENERATED markers: every enum, bit, format, modifier and limit. */
void protocol_doc_print_constants(FILE *f);
/* docs/protocol.json: messages, tables, fields, constants, formats and limits, for clients in other languages. */
void protocol_doc_print_json(FILE *f);

/*
 * Reads the C headers each constant group names (below source_root) and checks that every constant they
 * define for the group is in the group's table with the same value, and that the server's node kinds and
 * collection states equal the diagnostics values. 0, or -1 with the first problem in err.
 */
int protocol_doc_check_headers(const char *source_root, char *err, size_t err_size);

#endif
