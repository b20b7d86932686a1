/* gen-corpus.c: writes the wire fuzzer's seed corpus: a valid encoding of every message, and malformed variants. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wire/messages.h"
#include "wire/wire.h"

#define MAX_MSG 4096u

static const char *out_dir;
static unsigned files_written;

static void put_le32(uint8_t *p, uint32_t v) {
        for (unsigned i = 0; i < 4; i++)
                p[i] = (uint8_t)(v >> (8 * i));
}

static void write_file(const char *name, const uint8_t *buf, size_t len) {
        char path[4096];
        snprintf(path, sizeof(path), "%s/%s", out_dir, name);
        FILE *f = fopen(path, "we");
        if (!f || fwrite(buf, 1, len, f) != len || fclose(f) != 0) {
                fprintf(stderr, "%s: %s\n", path, strerror(errno));
                exit(1);
        }
        files_written++;
}

/* A body for every schema; fd numbers are placeholders, only their indices reach the bytes. */
static const void *sample_body(const struct wire_schema *s) {
        static struct wire_empty empty;
        static struct wire_fd_body fd = {.fd = 100};
        static struct wire_debug_client_info debug = {.name = "gen-corpus", .id = 42};
        static struct wire_set_name set_name = {.priority = 10, .name = "preview"};
        static struct wire_validate_reply validate = {.is_known = true};
        static struct wire_collection_id_reply id = {.buffer_collection_id = 0x0102030405060708u};
        static struct wire_duplicate duplicate = {.rights_attenuation_mask = SYSMEM_RIGHTS_SAME};
        static const uint32_t masks[] = {SYSMEM_RIGHTS_SAME, SYSMEM_RIGHT_READ | SYSMEM_RIGHT_MAP};
        static struct wire_duplicate_sync duplicate_sync = {.rights_attenuation_masks = masks,
                                                            .rights_attenuation_mask_count = 2};
        static const int tokens[] = {100, 101, 102};
        static struct wire_duplicate_sync_reply duplicate_sync_reply = {.tokens = tokens, .token_count = 3};
        static struct sysmem_heap heaps[2] = {{.heap_type = SYSMEM_HEAP_SYSTEM_RAM},
                                              {.heap_type = "dma-heap:cma", .id = 1}};
        static const uint32_t color_spaces[] = {SYSMEM_COLOR_SPACE_REC709, SYSMEM_COLOR_SPACE_SRGB};
        static const struct sysmem_pixel_format_and_modifier pairs[] = {{0x3231564e, 0},
                                                                        {0x34325241, 0x0100000000000002ull}};
        static const struct sysmem_size sizes[] = {{1920, 1080}, {640, 2000}};
        static const struct sysmem_image_format_constraints ifcs[] = {
                {.pixel_format = 0x3231564e,
                 .has_pixel_format_modifier = true,
                 .color_space_count = 1,
                 .color_spaces = color_spaces,
                 .min_size = {64, 64},
                 .bytes_per_row_divisor = 64,
                 .required_max_size_count = 2,
                 .required_max_size_list = sizes,
                 .is_alpha_present = SYSMEM_FALSE},
                {.pixel_format_and_modifier_count = 2,
                 .pixel_format_and_modifiers = pairs,
                 .color_space_count = 2,
                 .color_spaces = color_spaces},
        };
        static struct sysmem_constraints constraints = {
                .image_format_constraint_count = 2,
                .image_format_constraints = ifcs,
                .usage = {.cpu = SYSMEM_CPU_USAGE_READ | SYSMEM_CPU_USAGE_WRITE,
                          .vulkan = SYSMEM_VULKAN_IMAGE_USAGE_SAMPLED},
                .min_buffer_count_for_camping = 2,
                .max_buffer_count = 8,
                .buffer_memory_constraints = {.min_size_bytes = 65536,
                                              .physically_contiguous_required = true,
                                              .cpu_domain_supported = SYSMEM_TRUE,
                                              .ram_domain_supported = SYSMEM_FALSE,
                                              .permitted_heap_count = 2,
                                              .permitted_heaps = heaps},
        };
        static struct wire_set_constraints set_constraints = {.constraints = &constraints};
        static const struct wire_buffer buffers[] = {{.vmo = 100}, {.vmo = 101, .vmo_usable_start = 4096}, {.vmo = -1}};
        static struct wire_collection_info info = {
                .settings = {.buffer_settings = {.size_bytes = 65536,
                                                 .raw_vmo_size = 65536,
                                                 .coherency_domain = SYSMEM_COHERENCY_DOMAIN_RAM,
                                                 .heap = {.heap_type = SYSMEM_HEAP_SYSTEM_RAM}},
                             .has_image_format_constraints = true,
                             .image_format_constraints = {.pixel_format = 0x3231564e,
                                                          .color_space = SYSMEM_COLOR_SPACE_REC709,
                                                          .min_size = {128, 128},
                                                          .bytes_per_row_divisor = 2,
                                                          .required_max_size_count = 1,
                                                          .required_max_size_list = {{256, 256}}}},
                .buffers = buffers,
                .buffer_count = 3,
                .buffer_collection_id = 7,
                .close_weak_asap = -1,
        };
        static struct wire_deadline deadline = {.deadline = 123456789};
        static struct wire_is_alternate_reply is_alternate = {.is_alternate = true};
        static struct wire_set_weak_ok weak_ok = {.for_child_nodes_also = true};
        static struct wire_attach_lifetime_tracking lifetime = {.has_buffers_remaining = true};
        static struct wire_vmo_info_reply vmo_info = {.buffer_collection_id = 9, .buffer_index = 3,
                                                      .has_buffer_index = true, .close_weak_asap = -1};
        static struct wire_diag_request diag_request = {.start_after_id = 2};
        static const struct wire_diag_node diag_nodes[] = {{.kind = 1, .flags = 12, .debug_name = "camera",
                                                            .bytes = 4096},
                                                           {.index = 1, .parent = 1, .debug_name = "display"}};
        static const struct wire_diag_collection diag_collections[] = {
                {.id = 3, .name = "frames", .state = 1, .buffer_count = 2, .size_bytes = 4096, .heap = "system-ram",
                 .nodes = diag_nodes, .node_count = 2, .strong_count = 2}};
        static struct wire_diag_reply diag_reply = {.collections = diag_collections, .collection_count = 1,
                                                    .collection_total = 1};
        static struct wire_duplicate create_child = {.rights_attenuation_mask = SYSMEM_RIGHT_READ,
                                                     .has_rights_attenuation_mask = true};
        static const uint32_t dup_masks[] = {SYSMEM_RIGHTS_SAME};
        static struct wire_allocate_shared allocate_shared = {.rights_attenuation_masks = dup_masks,
                                                              .rights_attenuation_mask_count = 1};
        static const int dup_fds[] = {101};
        static struct wire_allocate_shared_reply allocate_shared_reply = {.token = 100, .duplicates = dup_fds,
                                                                          .duplicate_count = 1};
        static const uint64_t spare_ids[] = {1, 2};
        static const int spare_fds[] = {100, 101};
        static struct wire_spare_ends spare_ends = {.ids = spare_ids, .id_count = 2, .ends = spare_fds,
                                                    .end_count = 2};
        static struct wire_allocate_from_spares from_spares = {.spare_ids = spare_ids, .spare_id_count = 2,
                                                               .rights_attenuation_masks = dup_masks,
                                                               .rights_attenuation_mask_count = 1};
        static struct wire_error_body error = {.error = SYSMEM_ERROR_CONSTRAINTS_INTERSECTION_EMPTY,
                                               .message = "no common heap"};
        static const struct sysmem_heap_info heap_infos[] = {
                {.heap = {.heap_type = "system-ram"}, .flags = SYSMEM_HEAP_FLAG_CPU_DOMAIN, .backend = "memfd"},
                {.heap = {.heap_type = "drm:vgem"}, .flags = SYSMEM_HEAP_FLAG_DMA_BUF, .max_buffer_bytes = 1u << 26,
                 .backend = "drm", .device = "/dev/dri/card0"},
        };
        static struct wire_heaps_reply heaps_reply = {.heaps = heap_infos, .heap_count = 2};
        static struct wire_server_info_request server_info_request = {.protocol_version = 1};
        static struct wire_server_info_reply server_info_reply = {.protocol_version = 1, .min_protocol_version = 1,
                                                                  .features = 0x3f, .version = "0.1.0"};
        static const struct {
                const char *name;
                const void *body;
        } bodies[] = {
                {"heaps_reply", &heaps_reply},
                {"server_info_request", &server_info_request},
                {"server_info_reply", &server_info_reply},
                {"empty", &empty},
                {"fd", &fd},
                {"debug_client_info", &debug},
                {"set_name", &set_name},
                {"validate_reply", &validate},
                {"collection_id_reply", &id},
                {"duplicate", &duplicate},
                {"duplicate_sync", &duplicate_sync},
                {"duplicate_sync_reply", &duplicate_sync_reply},
                {"set_constraints", &set_constraints},
                {"collection_info", &info},
                {"error", &error},
                {"deadline", &deadline},
                {"is_alternate_reply", &is_alternate},
                {"set_weak_ok", &weak_ok},
                {"attach_lifetime_tracking", &lifetime},
                {"vmo_info_reply", &vmo_info},
                {"diagnostics_request", &diag_request},
                {"diagnostics_reply", &diag_reply},
                {"create_child", &create_child},
                {"allocate_shared", &allocate_shared},
                {"allocate_shared_reply", &allocate_shared_reply},
                {"spare_ends", &spare_ends},
                {"allocate_from_spares", &from_spares},
        };
        for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++)
                if (strcmp(bodies[i].name, s->name) == 0)
                        return bodies[i].body;
        fprintf(stderr, "no sample body for schema %s\n", s->name);
        exit(1);
}

static size_t encode(const struct wire_schema *s, uint16_t opcode, uint16_t flags, uint8_t *buf) {
        size_t len;
        int fds[WIRE_MAX_FDS];
        uint32_t nfds;
        int r = wire_encode(s, opcode, flags, 1, sample_body(s), buf, MAX_MSG, &len, fds, WIRE_MAX_FDS, &nfds);
        if (r < 0) {
                fprintf(stderr, "encoding %s: %s\n", s->name, strerror(-r));
                exit(1);
        }
        return len;
}

static void write_variant(const char *base, const char *what, const uint8_t *buf, size_t len) {
        char name[256];
        snprintf(name, sizeof(name), "bad-%s-%s", base, what);
        write_file(name, buf, len);
}

/* A handful of ways to break a valid message, each aimed at one check of the decoder. */
static void write_malformed(const char *base, const uint8_t *orig, size_t len) {
        uint8_t buf[MAX_MSG + 64];

        memcpy(buf, orig, len);
        put_le32(buf, (uint32_t)len - 8);
        write_variant(base, "truncated", buf, len - 8);

        memcpy(buf, orig, len);
        buf[6] |= 0x80;
        write_variant(base, "flag", buf, len);

        memcpy(buf, orig, len);
        put_le32(buf + 12, orig[12] + 1u);
        write_variant(base, "nfds", buf, len);

        if (len > WIRE_HEADER_SIZE) {
                memcpy(buf, orig, len);
                buf[WIRE_HEADER_SIZE + 3] = 0x01; /* a known field marked critical: valid */
                char name[256];
                snprintf(name, sizeof(name), "%s-critical-known", base);
                write_file(name, buf, len);

                memcpy(buf, orig, len);
                buf[len - 1] ^= 0x01; /* the last byte: padding (invalid) or a value (valid) */
                snprintf(name, sizeof(name), "%s-last-byte-flipped", base);
                write_file(name, buf, len);

                memcpy(buf, orig, len);
                put_le32(buf + WIRE_HEADER_SIZE + 4, 0xfffffff0u);
                write_variant(base, "length", buf, len);
        }

        /* Unknown trailing fields: skipped when optional, fatal when critical. */
        static const uint8_t unknown[] = {0xf0, 0x7f, WIRE_U32, 0x00, 4, 0, 0, 0, 1, 2, 3, 4, 0, 0, 0, 0};
        memcpy(buf, orig, len);
        memcpy(buf + len, unknown, sizeof(unknown));
        put_le32(buf, (uint32_t)(len + sizeof(unknown)));
        char name[256];
        snprintf(name, sizeof(name), "%s-unknown-optional", base);
        write_file(name, buf, len + sizeof(unknown));
        buf[len + 3] = 0x01;
        write_variant(base, "unknown-critical", buf, len + sizeof(unknown));
}

/* Appends one field (header, value, zero padding) at buf + *len. */
static void put_field(uint8_t *buf, size_t *len, uint16_t tag, uint8_t type, const void *value, uint32_t length) {
        buf[*len] = (uint8_t)tag;
        buf[*len + 1] = (uint8_t)(tag >> 8);
        buf[*len + 2] = type;
        buf[*len + 3] = 0;
        put_le32(buf + *len + 4, length);
        memcpy(buf + *len + 8, value, length);
        *len += 8 + length;
        while (*len % 8)
                buf[(*len)++] = 0;
}

static void put_header(uint8_t *buf, size_t len, uint16_t opcode) {
        memset(buf, 0, WIRE_HEADER_SIZE);
        put_le32(buf, (uint32_t)len);
        buf[4] = (uint8_t)opcode;
        buf[5] = (uint8_t)(opcode >> 8);
}

/* Messages at the schemas' limits, and one element past them, so the fuzzer starts at both edges. */
static void write_limits(void) {
        static uint8_t buf[16384];
        char text[SYSMEM_MAX_HEAP_TYPE_LENGTH + 1];
        uint8_t masks[4 * (SYSMEM_MAX_DUPLICATES + 1)];
        uint8_t priority[4] = {1, 0, 0, 0};
        size_t len;

        for (uint32_t extra = 0; extra < 2; extra++) {
                memset(text, 'n', sizeof(text));
                len = WIRE_HEADER_SIZE;
                put_field(buf, &len, 1, WIRE_U32, priority, 4);
                put_field(buf, &len, 2, WIRE_STRING, text, SYSMEM_MAX_NAME_LENGTH + extra);
                put_header(buf, len, WIRE_OP_SET_NAME);
                write_file(extra ? "bad-SetName-name-over-max" : "SetName-name-at-max", buf, len);

                memset(masks, 0xff, sizeof(masks));
                len = WIRE_HEADER_SIZE;
                put_field(buf, &len, 1, WIRE_U32_ARRAY, masks, 4 * (SYSMEM_MAX_DUPLICATES + extra));
                put_header(buf, len, WIRE_OP_DUPLICATE_SYNC);
                write_file(extra ? "bad-DuplicateSync-masks-over-max" : "DuplicateSync-masks-at-max", buf, len);

                /* permitted_heaps at max; with extra, its last heap_type is one byte over max. */
                static uint8_t heaps[12288], memory[12288], constraints[12288];
                size_t heaps_len = 0, memory_len = 0, constraints_len = 0;
                for (uint32_t i = 0; i < SYSMEM_MAX_PERMITTED_HEAPS; i++) {
                        uint8_t heap[256];
                        size_t heap_len = 0;
                        bool last = i + 1 == SYSMEM_MAX_PERMITTED_HEAPS;
                        put_field(heap, &heap_len, 1, WIRE_STRING, text,
                                  last ? SYSMEM_MAX_HEAP_TYPE_LENGTH + extra : 1 + i % 8);
                        put_field(heaps, &heaps_len, 0, WIRE_TABLE, heap, (uint32_t)heap_len);
                }
                put_field(memory, &memory_len, 8, WIRE_TABLE_ARRAY, heaps, (uint32_t)heaps_len);
                put_field(constraints, &constraints_len, 7, WIRE_TABLE, memory, (uint32_t)memory_len);
                len = WIRE_HEADER_SIZE;
                put_field(buf, &len, 1, WIRE_TABLE, constraints, (uint32_t)constraints_len);
                put_header(buf, len, WIRE_OP_SET_CONSTRAINTS);
                write_file(extra ? "bad-SetConstraints-heap-type-over-max" : "SetConstraints-heaps-at-max", buf, len);
        }
}

int main(int argc, char **argv) {
        if (argc != 2) {
                fprintf(stderr, "usage: %s OUTPUT-DIRECTORY\n", argv[0]);
                return 2;
        }
        out_dir = argv[1];
        uint8_t buf[MAX_MSG];
        char name[256];

        for (size_t i = 0; i < wire_message_count; i++) {
                const struct wire_message_def *d = &wire_messages[i];
                uint16_t flags = d->opcode == WIRE_OP_EPITAPH ? WIRE_FLAG_EVENT : 0;
                size_t len = encode(d->request, d->opcode, flags, buf);
                snprintf(name, sizeof(name), "%s-request", d->name);
                write_file(name, buf, len);
                if (d->reply) {
                        len = encode(d->reply, d->opcode, WIRE_FLAG_REPLY, buf);
                        snprintf(name, sizeof(name), "%s-reply", d->name);
                        write_file(name, buf, len);
                }
        }
        size_t len = encode(&wire_error_schema, WIRE_OP_SYNC, WIRE_FLAG_REPLY | WIRE_FLAG_ERROR, buf);
        write_file("Sync-error-reply", buf, len);

        /* Malformed variants of the messages with the most structure. */
        len = encode(wire_message_lookup(WIRE_OP_SET_NAME)->request, WIRE_OP_SET_NAME, 0, buf);
        write_malformed("SetName", buf, len);
        len = encode(wire_message_lookup(WIRE_OP_SET_CONSTRAINTS)->request, WIRE_OP_SET_CONSTRAINTS, 0, buf);
        write_malformed("SetConstraints", buf, len);
        len = encode(&wire_collection_info_schema, WIRE_OP_WAIT_FOR_ALL_BUFFERS_ALLOCATED, WIRE_FLAG_REPLY, buf);
        write_malformed("WaitForAllBuffersAllocated-reply", buf, len);
        len = encode(wire_message_lookup(WIRE_OP_DUPLICATE_SYNC)->reply, WIRE_OP_DUPLICATE_SYNC, WIRE_FLAG_REPLY, buf);
        write_malformed("DuplicateSync-reply", buf, len);

        write_limits();

        printf("wrote %u files to %s\n", files_written, out_dir);
        return 0;
}
