/* fuzz-wire.c: fuzzes the wire decoder on every schema, with and without fds; re-encoding must be a fixed point. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "wire/messages.h"
#include "wire/wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The server's defaults, with room for the fd arrays a client receives. */
static const struct wire_limits limits = {
        .max_message_bytes = 65536,
        .max_fds = 8,
        .max_array_elements = 1024,
};

#define FUZZ_MAX_FDS 3u

#define CHECK(cond)                                                                                                    \
        do {                                                                                                           \
                if (!(cond)) {                                                                                         \
                        fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);                       \
                        abort();                                                                                       \
                }                                                                                                      \
        } while (0)

static const struct wire_schema *schemas[64];
static size_t schema_count;

static void add_schema(const struct wire_schema *s) {
        for (size_t i = 0; i < schema_count; i++)
                if (schemas[i] == s)
                        return;
        CHECK(schema_count < sizeof(schemas) / sizeof(schemas[0]));
        schemas[schema_count++] = s;
}

static void collect_schemas(void) {
        if (schema_count > 0)
                return;
        for (size_t i = 0; i < wire_message_count; i++) {
                add_schema(wire_messages[i].request);
                if (wire_messages[i].reply)
                        add_schema(wire_messages[i].reply);
        }
        add_schema(&wire_error_schema);
}

static void encode(const struct wire_schema *schema, const struct wire_msg *msg, uint8_t *buf, size_t cap,
                   size_t *ret_len, int *fds, uint32_t *ret_nfds) {
        int r = wire_encode(schema, msg->opcode, msg->flags, msg->txid, msg->body, buf, cap, ret_len, fds, WIRE_MAX_FDS,
                            ret_nfds);
        if (r < 0) {
                fprintf(stderr, "%s: a decoded message does not encode: %s\n", schema->name, strerror(-r));
                abort();
        }
}

/* Whatever decodes re-encodes, no larger and with the same fds; that encoding decodes and re-encodes to itself. */
static void check_fixed_point(const struct wire_schema *schema, const struct wire_msg *msg, size_t size) {
        static uint8_t buf1[65536], buf2[65536];
        int fds1[WIRE_MAX_FDS], fds2[WIRE_MAX_FDS], dups[WIRE_MAX_FDS];
        size_t len1, len2;
        uint32_t n1, n2;

        encode(schema, msg, buf1, sizeof(buf1), &len1, fds1, &n1);
        CHECK(len1 <= size);
        CHECK(n1 == msg->nfds);
        for (uint32_t i = 0; i < n1; i++)
                CHECK((dups[i] = fcntl(fds1[i], F_DUPFD_CLOEXEC, 3)) >= 0);

        struct wire_msg *msg2;
        char err[512];
        int r = wire_decode(schema, buf1, len1, dups, n1, &limits, &msg2, err, sizeof(err));
        if (r < 0) {
                fprintf(stderr, "%s: a re-encoded message does not decode: %s\n", schema->name, err);
                abort();
        }
        encode(schema, msg2, buf2, sizeof(buf2), &len2, fds2, &n2);
        CHECK(len2 == len1);
        CHECK(memcmp(buf1, buf2, len1) == 0);
        CHECK(n2 == n1);
        wire_msg_free(msg2);
}

static void run(const struct wire_schema *schema, const uint8_t *data, size_t size, uint32_t nfds) {
        int fds[FUZZ_MAX_FDS];
        for (uint32_t i = 0; i < nfds; i++)
                CHECK((fds[i] = open("/dev/null", O_RDONLY | O_CLOEXEC)) >= 0);

        struct wire_msg *msg = NULL;
        char err[512] = "";
        int r = wire_decode(schema, data, size, fds, nfds, &limits, &msg, err, sizeof(err));
        if (r < 0) {
                CHECK(r == -EBADMSG || r == -ENOMEM);
                CHECK(r == -ENOMEM || err[0] != 0); /* every rejection says why */
                return;                             /* wire_decode closed the fds */
        }
        CHECK(msg && msg->body);
        check_fixed_point(schema, msg, size);
        wire_msg_free(msg);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        collect_schemas();

        /*
         * With fds: as many /dev/null fds as the header announces, so that valid messages with fds
         * (the corpus) reach the fd paths; announcements above FUZZ_MAX_FDS pass a mismatched count.
         */
        uint32_t nfds = 0;
        if (size >= WIRE_HEADER_SIZE)
                nfds = (uint32_t)data[12] | (uint32_t)data[13] << 8 | (uint32_t)data[14] << 16 |
                       (uint32_t)data[15] << 24;
        if (nfds > FUZZ_MAX_FDS)
                nfds %= FUZZ_MAX_FDS + 1;

        for (size_t i = 0; i < schema_count; i++) {
                run(schemas[i], data, size, 0);
                if (nfds > 0)
                        run(schemas[i], data, size, nfds);
        }
        return 0;
}
