/* test-wire.c: the wire codec and transport: round trips of every message, every malformed input, real sockets. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/macros.h"
#include "common/util.h"
#include "wire/messages.h"
#include "wire/wire.h"

#include "protocol-doc.h"

#define MAX_MSG (70u * 1024u)

static const struct wire_limits limits = {
        .max_message_bytes = 65536,
        .max_fds = 8,
        .max_array_elements = 1024,
};

/* ---- fd helpers ---- */

static int new_memfd(void) {
        int fd = memfd_create("test-wire", MFD_CLOEXEC);
        assert_true(fd >= 0);
        return fd;
}

static bool fd_is_closed(int fd) { return fcntl(fd, F_GETFD) == -1 && errno == EBADF; }

static void assert_same_file(int a, int b) {
        struct stat sa, sb;
        assert_int_equal(fstat(a, &sa), 0);
        assert_int_equal(fstat(b, &sb), 0);
        assert_true(sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino);
}

/* Every test runs between these two: a test that leaks an fd fails. */
static int count_fds_setup(void **state) {
        *state = (void *)(intptr_t)util_count_open_fds();
        return 0;
}

static int check_fds_teardown(void **state) {
        int before = (int)(intptr_t)*state;
        if (util_count_open_fds() != before) {
                fprintf(stderr, "fd leak: %d open before the test, %d after\n", before, util_count_open_fds());
                return -1;
        }
        return 0;
}

static const struct wire_schema *request_schema(uint16_t opcode) {
        const struct wire_message_def *def = wire_message_lookup(opcode);
        assert_non_null(def);
        return def->request;
}

static const struct wire_schema *reply_schema(uint16_t opcode) {
        const struct wire_message_def *def = wire_message_lookup(opcode);
        assert_non_null(def);
        assert_non_null(def->reply);
        return def->reply;
}

/* ---- round trips: a representative body for every schema a message uses ---- */

/* The fds a sample created; the test closes them at the end. */
struct sample_fds {
        int fds[16];
        unsigned n;
};

static int sample_fd(struct sample_fds *s) {
        assert_true(s->n < ARRAY_LEN(s->fds));
        return s->fds[s->n++] = new_memfd();
}

static void fill_empty(struct sample_fds *s, void *body) {}

static void check_empty(const void *a, const void *b) {}

static void fill_fd(struct sample_fds *s, void *body) {
        struct wire_fd_body *b = body;
        b->fd = sample_fd(s);
}

static void check_fd(const void *a, const void *b) {
        const struct wire_fd_body *x = a, *y = b;
        assert_same_file(x->fd, y->fd);
}

static void fill_debug_info(struct sample_fds *s, void *body) {
        struct wire_debug_client_info *b = body;
        b->name = "sysmemctl[4242]";
        b->id = 0x1122334455667788u;
}

static void check_debug_info(const void *a, const void *b) {
        const struct wire_debug_client_info *x = a, *y = b;
        assert_string_equal(x->name, y->name);
        assert_true(x->id == y->id);
}

static void fill_set_name(struct sample_fds *s, void *body) {
        struct wire_set_name *b = body;
        b->priority = 7;
        b->name = "camera-preview";
}

static void check_set_name(const void *a, const void *b) {
        const struct wire_set_name *x = a, *y = b;
        assert_int_equal(x->priority, y->priority);
        assert_string_equal(x->name, y->name);
}

static void fill_validate_reply(struct sample_fds *s, void *body) {
        struct wire_validate_reply *b = body;
        b->is_known = true;
}

static void check_validate_reply(const void *a, const void *b) {
        const struct wire_validate_reply *x = a, *y = b;
        assert_int_equal(x->is_known, y->is_known);
}

static void fill_collection_id(struct sample_fds *s, void *body) {
        struct wire_collection_id_reply *b = body;
        b->buffer_collection_id = 0xfedcba9876543210u;
}

static void check_collection_id(const void *a, const void *b) {
        const struct wire_collection_id_reply *x = a, *y = b;
        assert_true(x->buffer_collection_id == y->buffer_collection_id);
}

static void fill_duplicate(struct sample_fds *s, void *body) {
        struct wire_duplicate *b = body;
        b->rights_attenuation_mask = SYSMEM_RIGHT_READ | SYSMEM_RIGHT_MAP;
}

static void check_duplicate(const void *a, const void *b) {
        const struct wire_duplicate *x = a, *y = b;
        assert_int_equal(x->rights_attenuation_mask, y->rights_attenuation_mask);
}

static void fill_create_child(struct sample_fds *s, void *body) {
        fill_duplicate(s, body);
        ((struct wire_duplicate *)body)->has_rights_attenuation_mask = true;
}

static void check_create_child(const void *a, const void *b) {
        check_duplicate(a, b);
        assert_true(((const struct wire_duplicate *)b)->has_rights_attenuation_mask);
}

static void fill_duplicate_sync(struct sample_fds *s, void *body) {
        static const uint32_t masks[] = {SYSMEM_RIGHTS_SAME, SYSMEM_RIGHT_READ, 0x80000001u};
        struct wire_duplicate_sync *b = body;
        b->rights_attenuation_masks = masks;
        b->rights_attenuation_mask_count = ARRAY_LEN(masks);
}

static void check_duplicate_sync(const void *a, const void *b) {
        const struct wire_duplicate_sync *x = a, *y = b;
        assert_int_equal(x->rights_attenuation_mask_count, y->rights_attenuation_mask_count);
        assert_memory_equal(x->rights_attenuation_masks, y->rights_attenuation_masks,
                            x->rights_attenuation_mask_count * sizeof(uint32_t));
}

static void fill_duplicate_sync_reply(struct sample_fds *s, void *body) {
        static int tokens[3];
        struct wire_duplicate_sync_reply *b = body;
        for (unsigned i = 0; i < ARRAY_LEN(tokens); i++)
                tokens[i] = sample_fd(s);
        b->tokens = tokens;
        b->token_count = ARRAY_LEN(tokens);
}

static void check_duplicate_sync_reply(const void *a, const void *b) {
        const struct wire_duplicate_sync_reply *x = a, *y = b;
        assert_int_equal(x->token_count, y->token_count);
        for (uint32_t i = 0; i < x->token_count; i++)
                assert_same_file(x->tokens[i], y->tokens[i]);
}

static struct sysmem_heap sample_heaps[2];
static struct sysmem_constraints sample_constraints;
static const uint32_t sample_color_spaces[] = {SYSMEM_COLOR_SPACE_REC709, SYSMEM_COLOR_SPACE_REC601_PAL};
static const struct sysmem_pixel_format_and_modifier sample_pairs[] = {
        {0x3231564e /* NV12 */, 0},
        {0x34325241 /* ARGB8888 */, 0x0100000000000004ull /* I915 Y_TILED_CCS: all 64 bits matter */},
        {SYSMEM_PIXEL_FORMAT_DO_NOT_CARE, SYSMEM_FORMAT_MODIFIER_DO_NOT_CARE},
};
static const struct sysmem_size sample_sizes[] = {{1920, 1080}, {3840, 2160}};
static struct sysmem_image_format_constraints sample_ifcs[2];

static void fill_set_constraints(struct sample_fds *s, void *body) {
        struct wire_set_constraints *b = body;
        memset(sample_heaps, 0, sizeof(sample_heaps));
        strcpy(sample_heaps[0].heap_type, SYSMEM_HEAP_SYSTEM_RAM);
        strcpy(sample_heaps[1].heap_type, "dma-heap:system");
        sample_heaps[1].id = 5;
        sample_constraints = (struct sysmem_constraints){
                .usage = {.none = 0,
                          .cpu = SYSMEM_CPU_USAGE_READ | SYSMEM_CPU_USAGE_WRITE_OFTEN,
                          .vulkan = SYSMEM_VULKAN_IMAGE_USAGE_SAMPLED,
                          .display = SYSMEM_DISPLAY_USAGE_LAYER,
                          .video = SYSMEM_VIDEO_USAGE_HW_DECODER},
                .min_buffer_count_for_camping = 2,
                .min_buffer_count_for_dedicated_slack = 1,
                .min_buffer_count_for_shared_slack = 3,
                .min_buffer_count = 4,
                .max_buffer_count = 16,
                .buffer_memory_constraints =
                        {
                                .min_size_bytes = 4096,
                                .max_size_bytes = 1ull << 40, /* needs all 64 bits */
                                .physically_contiguous_required = true,
                                .secure_required = true,
                                .cpu_domain_supported = SYSMEM_TRUE,
                                .ram_domain_supported = SYSMEM_FALSE,
                                .inaccessible_domain_supported = SYSMEM_UNSET,
                                .permitted_heap_count = 2,
                                .permitted_heaps = sample_heaps,
                        },
                .image_format_constraint_count = 2,
                .image_format_constraints = sample_ifcs,
        };
        sample_ifcs[0] = (struct sysmem_image_format_constraints){
                .pixel_format = 0x3231564e,
                .has_pixel_format_modifier = true, /* an explicit LINEAR: 0, yet present */
                .pixel_format_modifier = 0,
                .color_space_count = 2,
                .color_spaces = sample_color_spaces,
                .min_size = {2, 2},
                .max_size = {0xffffffffu, 4096},
                .min_bytes_per_row = 64,
                .max_bytes_per_row = 65536,
                .max_width_times_height = 1ull << 33,
                .size_alignment = {2, 2},
                .display_rect_alignment = {1, 2},
                .required_min_size = {640, 480},
                .required_max_size = {1920, 1080},
                .required_max_size_count = 2,
                .required_max_size_list = sample_sizes,
                .bytes_per_row_divisor = 64,
                .start_offset_divisor = 4,
                .require_bytes_per_row_at_pixel_boundary = true,
                .is_alpha_present = SYSMEM_FALSE,
                .pad_for_block_size = {4, 1},
                .pad_beyond_image_size_bytes = 1ull << 32,
        };
        sample_ifcs[1] = (struct sysmem_image_format_constraints){
                .pixel_format_and_modifier_count = ARRAY_LEN(sample_pairs),
                .pixel_format_and_modifiers = sample_pairs,
                .color_space_count = 1,
                .color_spaces = sample_color_spaces,
        };
        b->constraints = &sample_constraints;
}

static void check_set_constraints(const void *a, const void *b) {
        const struct sysmem_constraints *x = ((const struct wire_set_constraints *)a)->constraints;
        const struct sysmem_constraints *y = ((const struct wire_set_constraints *)b)->constraints;
        assert_non_null(y);
        assert_memory_equal(&x->usage, &y->usage, sizeof(x->usage));
        assert_int_equal(x->min_buffer_count_for_camping, y->min_buffer_count_for_camping);
        assert_int_equal(x->min_buffer_count_for_dedicated_slack, y->min_buffer_count_for_dedicated_slack);
        assert_int_equal(x->min_buffer_count_for_shared_slack, y->min_buffer_count_for_shared_slack);
        assert_int_equal(x->min_buffer_count, y->min_buffer_count);
        assert_int_equal(x->max_buffer_count, y->max_buffer_count);
        const struct sysmem_buffer_memory_constraints *mx = &x->buffer_memory_constraints;
        const struct sysmem_buffer_memory_constraints *my = &y->buffer_memory_constraints;
        assert_true(mx->min_size_bytes == my->min_size_bytes);
        assert_true(mx->max_size_bytes == my->max_size_bytes);
        assert_int_equal(mx->physically_contiguous_required, my->physically_contiguous_required);
        assert_int_equal(mx->secure_required, my->secure_required);
        assert_int_equal(mx->cpu_domain_supported, my->cpu_domain_supported);
        assert_int_equal(mx->ram_domain_supported, my->ram_domain_supported);
        assert_int_equal(mx->inaccessible_domain_supported, my->inaccessible_domain_supported);
        assert_int_equal(mx->permitted_heap_count, my->permitted_heap_count);
        for (uint32_t i = 0; i < mx->permitted_heap_count; i++) {
                assert_string_equal(mx->permitted_heaps[i].heap_type, my->permitted_heaps[i].heap_type);
                assert_true(mx->permitted_heaps[i].id == my->permitted_heaps[i].id);
        }
        assert_int_equal(x->image_format_constraint_count, y->image_format_constraint_count);
        for (uint32_t i = 0; i < x->image_format_constraint_count; i++) {
                const struct sysmem_image_format_constraints *fx = &x->image_format_constraints[i];
                const struct sysmem_image_format_constraints *fy = &y->image_format_constraints[i];
                assert_int_equal(fx->pixel_format, fy->pixel_format);
                assert_int_equal(fx->has_pixel_format_modifier, fy->has_pixel_format_modifier);
                assert_true(fx->pixel_format_modifier == fy->pixel_format_modifier);
                assert_int_equal(fx->pixel_format_and_modifier_count, fy->pixel_format_and_modifier_count);
                for (uint32_t j = 0; j < fx->pixel_format_and_modifier_count; j++) {
                        assert_int_equal(fx->pixel_format_and_modifiers[j].pixel_format,
                                         fy->pixel_format_and_modifiers[j].pixel_format);
                        assert_true(fx->pixel_format_and_modifiers[j].pixel_format_modifier ==
                                    fy->pixel_format_and_modifiers[j].pixel_format_modifier);
                }
                assert_int_equal(fx->color_space_count, fy->color_space_count);
                if (fx->color_space_count)
                        assert_memory_equal(fx->color_spaces, fy->color_spaces, fx->color_space_count * 4);
                assert_memory_equal(&fx->min_size, &fy->min_size, sizeof(fx->min_size));
                assert_memory_equal(&fx->max_size, &fy->max_size, sizeof(fx->max_size));
                assert_int_equal(fx->min_bytes_per_row, fy->min_bytes_per_row);
                assert_int_equal(fx->max_bytes_per_row, fy->max_bytes_per_row);
                assert_true(fx->max_width_times_height == fy->max_width_times_height);
                assert_memory_equal(&fx->size_alignment, &fy->size_alignment, sizeof(fx->size_alignment));
                assert_memory_equal(&fx->display_rect_alignment, &fy->display_rect_alignment,
                                    sizeof(fx->display_rect_alignment));
                assert_memory_equal(&fx->required_min_size, &fy->required_min_size, sizeof(fx->required_min_size));
                assert_memory_equal(&fx->required_max_size, &fy->required_max_size, sizeof(fx->required_max_size));
                assert_int_equal(fx->required_max_size_count, fy->required_max_size_count);
                if (fx->required_max_size_count)
                        assert_memory_equal(fx->required_max_size_list, fy->required_max_size_list,
                                            fx->required_max_size_count * sizeof(struct sysmem_size));
                assert_int_equal(fx->bytes_per_row_divisor, fy->bytes_per_row_divisor);
                assert_int_equal(fx->start_offset_divisor, fy->start_offset_divisor);
                assert_int_equal(fx->require_bytes_per_row_at_pixel_boundary,
                                 fy->require_bytes_per_row_at_pixel_boundary);
                assert_int_equal(fx->is_alpha_present, fy->is_alpha_present);
                assert_memory_equal(&fx->pad_for_block_size, &fy->pad_for_block_size, sizeof(fx->pad_for_block_size));
                assert_true(fx->pad_beyond_image_size_bytes == fy->pad_beyond_image_size_bytes);
        }
}

static void fill_deadline(struct sample_fds *s, void *body) {
        ((struct wire_deadline *)body)->deadline = 0x0123456789abcdefull;
}

static void check_deadline(const void *a, const void *b) {
        assert_true(((const struct wire_deadline *)a)->deadline == ((const struct wire_deadline *)b)->deadline);
}

static void fill_is_alternate(struct sample_fds *s, void *body) {
        ((struct wire_is_alternate_reply *)body)->is_alternate = true;
}

static void check_is_alternate(const void *a, const void *b) {
        assert_int_equal(((const struct wire_is_alternate_reply *)a)->is_alternate,
                         ((const struct wire_is_alternate_reply *)b)->is_alternate);
}

static void fill_set_weak_ok(struct sample_fds *s, void *body) {
        ((struct wire_set_weak_ok *)body)->for_child_nodes_also = true;
}

static void check_set_weak_ok(const void *a, const void *b) {
        assert_int_equal(((const struct wire_set_weak_ok *)a)->for_child_nodes_also,
                         ((const struct wire_set_weak_ok *)b)->for_child_nodes_also);
}

static void fill_lifetime(struct sample_fds *s, void *body) {
        struct wire_attach_lifetime_tracking *b = body;
        (void)s;
        b->buffers_remaining = 0; /* a present 0 is a value: "when no buffer is left" */
        b->has_buffers_remaining = true;
}

static void check_lifetime(const void *a, const void *b) {
        const struct wire_attach_lifetime_tracking *x = a, *y = b;
        assert_int_equal(x->buffers_remaining, y->buffers_remaining);
        assert_true(y->has_buffers_remaining);
}

static void fill_vmo_info(struct sample_fds *s, void *body) {
        struct wire_vmo_info_reply *b = body;
        b->buffer_collection_id = 99;
        b->buffer_index = 0;
        b->has_buffer_index = true;
        b->close_weak_asap = sample_fd(s);
}

static void check_vmo_info(const void *a, const void *b) {
        const struct wire_vmo_info_reply *x = a, *y = b;
        assert_true(x->buffer_collection_id == y->buffer_collection_id);
        assert_true(x->buffer_index == y->buffer_index && y->has_buffer_index);
        assert_same_file(x->close_weak_asap, y->close_weak_asap);
}

static const struct sysmem_heap_info sample_heap_infos[] = {
        {.heap = {.heap_type = "system-ram"}, .flags = 0x67, .backend = "memfd"},
        {.heap = {.heap_type = "drm:vgem", .id = 1}, .flags = SYSMEM_HEAP_FLAG_DMA_BUF, .max_buffer_bytes = 1u << 26,
         .backend = "drm", .device = "/dev/dri/card1"},
};

static void fill_server_info_request(struct sample_fds *s, void *body) {
        (void)s;
        ((struct wire_server_info_request *)body)->protocol_version = SYSMEM_PROTOCOL_VERSION;
}

static void check_server_info_request(const void *a, const void *b) {
        assert_int_equal(((const struct wire_server_info_request *)a)->protocol_version,
                         ((const struct wire_server_info_request *)b)->protocol_version);
}

static void fill_server_info_reply(struct sample_fds *s, void *body) {
        (void)s;
        struct wire_server_info_reply *b = body;
        b->protocol_version = 3;
        b->min_protocol_version = 1;
        b->features = SYSMEM_FEATURE_HEAPS | SYSMEM_FEATURE_PER_UID_LIMITS | (1ull << 40);
        b->version = (char *)"0.1.0";
}

static void check_server_info_reply(const void *a, const void *b) {
        const struct wire_server_info_reply *x = a, *y = b;
        assert_int_equal(x->protocol_version, y->protocol_version);
        assert_int_equal(x->min_protocol_version, y->min_protocol_version);
        assert_true(x->features == y->features);
        assert_string_equal(x->version, y->version);
}

static void fill_heaps_reply(struct sample_fds *s, void *body) {
        struct wire_heaps_reply *b = body;
        b->heaps = sample_heap_infos;
        b->heap_count = 2;
}

static void check_heaps_reply(const void *a, const void *b) {
        const struct wire_heaps_reply *x = a, *y = b;
        assert_int_equal(y->heap_count, x->heap_count);
        for (uint32_t i = 0; i < x->heap_count; i++) {
                assert_string_equal(y->heaps[i].heap.heap_type, x->heaps[i].heap.heap_type);
                assert_true(y->heaps[i].heap.id == x->heaps[i].heap.id);
                assert_int_equal(y->heaps[i].flags, x->heaps[i].flags);
                assert_true(y->heaps[i].max_buffer_bytes == x->heaps[i].max_buffer_bytes);
                assert_string_equal(y->heaps[i].backend, x->heaps[i].backend);
                assert_string_equal(y->heaps[i].device, x->heaps[i].device);
        }
}

static void fill_diag_request(struct sample_fds *s, void *body) {
        ((struct wire_diag_request *)body)->start_after_id = 41;
}

static void check_diag_request(const void *a, const void *b) {
        assert_true(((const struct wire_diag_request *)a)->start_after_id ==
                    ((const struct wire_diag_request *)b)->start_after_id);
}

static struct wire_diag_node sample_diag_nodes[2];
static struct wire_diag_collection sample_diag_collections[1];

static void fill_diag_reply(struct sample_fds *s, void *body) {
        struct wire_diag_reply *b = body;
        sample_diag_nodes[0] = (struct wire_diag_node){.index = 0, .parent = 0, .kind = 1,
                                                       .flags = WIRE_DIAG_ALLOCATED | WIRE_DIAG_CONSTRAINTS_SET,
                                                       .debug_name = "camera", .debug_id = 1234, .bytes = 1u << 20};
        sample_diag_nodes[1] = (struct wire_diag_node){.index = 1, .parent = 1, .kind = 0,
                                                       .flags = WIRE_DIAG_WEAK | WIRE_DIAG_DISPENSABLE,
                                                       .debug_name = "display"};
        sample_diag_collections[0] = (struct wire_diag_collection){
                .id = 42, .name = "frames", .state = 1, .buffer_count = 4, .size_bytes = 65535,
                .raw_vmo_size = 65536, .heap = SYSMEM_HEAP_SYSTEM_RAM, .pixel_format = 0x3231564e,
                .pixel_format_modifier = 0, .has_pixel_format_modifier = true, .age_usec = 5000000,
                .nodes = sample_diag_nodes, .node_count = 2, .weak_count = 1, .strong_count = 1};
        b->collections = sample_diag_collections;
        b->collection_count = 1;
        b->more = true;
        b->total_bytes = 1u << 18;
        b->collection_total = 3;
}

static void check_diag_reply(const void *a, const void *b) {
        const struct wire_diag_reply *x = a, *y = b;
        assert_int_equal(x->collection_count, y->collection_count);
        assert_int_equal(x->more, y->more);
        assert_true(x->total_bytes == y->total_bytes);
        assert_int_equal(x->collection_total, y->collection_total);
        const struct wire_diag_collection *cx = &x->collections[0], *cy = &y->collections[0];
        assert_true(cx->id == cy->id && cx->size_bytes == cy->size_bytes && cx->raw_vmo_size == cy->raw_vmo_size);
        assert_string_equal(cx->name, cy->name);
        assert_string_equal(cx->heap, cy->heap);
        assert_int_equal(cx->state, cy->state);
        assert_int_equal(cx->buffer_count, cy->buffer_count);
        assert_int_equal(cx->pixel_format, cy->pixel_format);
        assert_true(cy->has_pixel_format_modifier && cx->pixel_format_modifier == cy->pixel_format_modifier);
        assert_true(cx->age_usec == cy->age_usec);
        assert_int_equal(cx->weak_count, cy->weak_count);
        assert_int_equal(cx->strong_count, cy->strong_count);
        assert_int_equal(cx->node_count, cy->node_count);
        for (uint32_t i = 0; i < cx->node_count; i++) {
                assert_int_equal(cx->nodes[i].index, cy->nodes[i].index);
                assert_int_equal(cx->nodes[i].parent, cy->nodes[i].parent);
                assert_int_equal(cx->nodes[i].kind, cy->nodes[i].kind);
                assert_int_equal(cx->nodes[i].flags, cy->nodes[i].flags);
                assert_string_equal(cx->nodes[i].debug_name, cy->nodes[i].debug_name);
                assert_true(cx->nodes[i].debug_id == cy->nodes[i].debug_id);
                assert_true(cx->nodes[i].bytes == cy->nodes[i].bytes);
        }
}

static void fill_allocate_shared(struct sample_fds *s, void *body) {
        static const uint32_t masks[] = {SYSMEM_RIGHTS_SAME, SYSMEM_RIGHT_READ | SYSMEM_RIGHT_MAP};
        struct wire_allocate_shared *b = body;
        b->rights_attenuation_masks = masks;
        b->rights_attenuation_mask_count = ARRAY_LEN(masks);
        b->spares_wanted = 3;
}

static void check_allocate_shared(const void *a, const void *b) {
        const struct wire_allocate_shared *x = a, *y = b;
        assert_int_equal(x->spares_wanted, y->spares_wanted);
        assert_int_equal(x->rights_attenuation_mask_count, y->rights_attenuation_mask_count);
        assert_memory_equal(x->rights_attenuation_masks, y->rights_attenuation_masks,
                            x->rights_attenuation_mask_count * sizeof(uint32_t));
}

static void fill_allocate_shared_reply(struct sample_fds *s, void *body) {
        static int dups[2];
        struct wire_allocate_shared_reply *b = body;
        b->token = sample_fd(s);
        dups[0] = sample_fd(s);
        dups[1] = sample_fd(s);
        b->duplicates = dups;
        b->duplicate_count = 2;
}

static void check_allocate_shared_reply(const void *a, const void *b) {
        const struct wire_allocate_shared_reply *x = a, *y = b;
        assert_same_file(x->token, y->token);
        assert_int_equal(x->duplicate_count, y->duplicate_count);
        for (uint32_t i = 0; i < x->duplicate_count; i++)
                assert_same_file(x->duplicates[i], y->duplicates[i]);
}

static void fill_spare_ends(struct sample_fds *s, void *body) {
        static const uint64_t ids[] = {7, 0x100000000ull};
        static int ends[2];
        struct wire_spare_ends *b = body;
        ends[0] = sample_fd(s);
        ends[1] = sample_fd(s);
        b->ids = ids;
        b->id_count = 2;
        b->ends = ends;
        b->end_count = 2;
}

static void check_spare_ends(const void *a, const void *b) {
        const struct wire_spare_ends *x = a, *y = b;
        assert_int_equal(x->id_count, y->id_count);
        assert_memory_equal(x->ids, y->ids, x->id_count * sizeof(uint64_t));
        assert_int_equal(x->end_count, y->end_count);
        for (uint32_t i = 0; i < x->end_count; i++)
                assert_same_file(x->ends[i], y->ends[i]);
}

static void fill_from_spares(struct sample_fds *s, void *body) {
        static const uint64_t ids[] = {9, 10, 11};
        static const uint32_t masks[] = {SYSMEM_RIGHTS_SAME, SYSMEM_RIGHT_READ};
        struct wire_allocate_from_spares *b = body;
        b->spare_ids = ids;
        b->spare_id_count = 3;
        b->rights_attenuation_masks = masks;
        b->rights_attenuation_mask_count = 2;
}

static void check_from_spares(const void *a, const void *b) {
        const struct wire_allocate_from_spares *x = a, *y = b;
        assert_int_equal(x->spare_id_count, y->spare_id_count);
        assert_memory_equal(x->spare_ids, y->spare_ids, x->spare_id_count * sizeof(uint64_t));
        assert_int_equal(x->rights_attenuation_mask_count, y->rights_attenuation_mask_count);
        assert_memory_equal(x->rights_attenuation_masks, y->rights_attenuation_masks,
                            x->rights_attenuation_mask_count * sizeof(uint32_t));
}

static struct wire_buffer sample_buffers[3];

static void fill_collection_info(struct sample_fds *s, void *body) {
        struct wire_collection_info *b = body;
        struct sysmem_buffer_memory_settings *m = &b->settings.buffer_settings;
        m->size_bytes = 1000;
        m->raw_vmo_size = 4096;
        m->is_physically_contiguous = true;
        m->is_secure = true;
        m->coherency_domain = SYSMEM_COHERENCY_DOMAIN_INACCESSIBLE;
        strcpy(m->heap.heap_type, SYSMEM_HEAP_SYSTEM_RAM);
        m->heap.id = 3;
        sample_buffers[0] = (struct wire_buffer){.vmo = sample_fd(s), .vmo_usable_start = 0};
        sample_buffers[1] = (struct wire_buffer){.vmo = sample_fd(s), .vmo_usable_start = 8192};
        /* A participant without usage gets no memory: the element is empty and must decode to -1. */
        sample_buffers[2] = (struct wire_buffer){.vmo = -1, .vmo_usable_start = 0};
        b->buffers = sample_buffers;
        b->buffer_count = ARRAY_LEN(sample_buffers);
        b->buffer_collection_id = 77;
        b->close_weak_asap = sample_fd(s);
        b->settings.has_image_format_constraints = true;
        struct sysmem_image_format_settings *f = &b->settings.image_format_constraints;
        *f = (struct sysmem_image_format_settings){
                .pixel_format = 0x3231564e,
                .pixel_format_modifier = 0, /* LINEAR, required, so sent although 0 */
                .color_space = SYSMEM_COLOR_SPACE_REC709,
                .min_size = {1920, 1080},
                .max_size = {0xffffffffu, 0xffffffffu},
                .min_bytes_per_row = 1920,
                .max_bytes_per_row = 0xffffffffu,
                .max_width_times_height = UINT64_MAX,
                .size_alignment = {2, 2},
                .display_rect_alignment = {1, 1},
                .required_min_size = {0xffffffffu, 0xffffffffu},
                .required_max_size_count = 3,
                .required_max_size_list = {{1920, 1080}, {1280, 1440}, {16, 4000}},
                .bytes_per_row_divisor = 2,
                .start_offset_divisor = 2,
                .is_alpha_present = SYSMEM_UNSET,
                .pad_for_block_size = {1, 1},
        };
}

static void check_collection_info(const void *a, const void *b) {
        const struct wire_collection_info *x = a, *y = b;
        const struct sysmem_buffer_memory_settings *mx = &x->settings.buffer_settings;
        const struct sysmem_buffer_memory_settings *my = &y->settings.buffer_settings;
        assert_true(mx->size_bytes == my->size_bytes);
        assert_true(mx->raw_vmo_size == my->raw_vmo_size);
        assert_int_equal(mx->is_physically_contiguous, my->is_physically_contiguous);
        assert_int_equal(mx->is_secure, my->is_secure);
        assert_int_equal(mx->coherency_domain, my->coherency_domain);
        assert_string_equal(mx->heap.heap_type, my->heap.heap_type);
        assert_true(mx->heap.id == my->heap.id);
        assert_int_equal(x->settings.has_image_format_constraints, y->settings.has_image_format_constraints);
        /* Every member, the inline list's unused tail included, round-trips exactly. */
        assert_memory_equal(&x->settings.image_format_constraints, &y->settings.image_format_constraints,
                            sizeof(x->settings.image_format_constraints));
        assert_int_equal(x->buffer_count, y->buffer_count);
        for (uint32_t i = 0; i < x->buffer_count; i++) {
                if (x->buffers[i].vmo < 0)
                        assert_int_equal(y->buffers[i].vmo, -1);
                else
                        assert_same_file(x->buffers[i].vmo, y->buffers[i].vmo);
                assert_true(x->buffers[i].vmo_usable_start == y->buffers[i].vmo_usable_start);
        }
        assert_true(x->buffer_collection_id == y->buffer_collection_id);
        assert_same_file(x->close_weak_asap, y->close_weak_asap);
}

static void fill_error(struct sample_fds *s, void *body) {
        struct wire_error_body *b = body;
        b->error = SYSMEM_ERROR_CONSTRAINTS_INTERSECTION_EMPTY;
        b->message = "participant \"camera\": min_size_bytes 8192 > max_size_bytes 4096";
}

static void check_error(const void *a, const void *b) {
        const struct wire_error_body *x = a, *y = b;
        assert_int_equal(x->error, y->error);
        assert_string_equal(x->message, y->message);
}

struct sample {
        const char *schema;
        void (*fill)(struct sample_fds *s, void *body);
        void (*check)(const void *original, const void *decoded);
};

static const struct sample samples[] = {
        {"empty", fill_empty, check_empty},
        {"fd", fill_fd, check_fd},
        {"debug_client_info", fill_debug_info, check_debug_info},
        {"set_name", fill_set_name, check_set_name},
        {"validate_reply", fill_validate_reply, check_validate_reply},
        {"collection_id_reply", fill_collection_id, check_collection_id},
        {"duplicate", fill_duplicate, check_duplicate},
        {"duplicate_sync", fill_duplicate_sync, check_duplicate_sync},
        {"duplicate_sync_reply", fill_duplicate_sync_reply, check_duplicate_sync_reply},
        {"set_constraints", fill_set_constraints, check_set_constraints},
        {"collection_info", fill_collection_info, check_collection_info},
        {"error", fill_error, check_error},
        {"deadline", fill_deadline, check_deadline},
        {"is_alternate_reply", fill_is_alternate, check_is_alternate},
        {"set_weak_ok", fill_set_weak_ok, check_set_weak_ok},
        {"attach_lifetime_tracking", fill_lifetime, check_lifetime},
        {"vmo_info_reply", fill_vmo_info, check_vmo_info},
        {"heaps_reply", fill_heaps_reply, check_heaps_reply},
        {"server_info_request", fill_server_info_request, check_server_info_request},
        {"server_info_reply", fill_server_info_reply, check_server_info_reply},
        {"diagnostics_request", fill_diag_request, check_diag_request},
        {"diagnostics_reply", fill_diag_reply, check_diag_reply},
        {"create_child", fill_create_child, check_create_child},
        {"allocate_shared", fill_allocate_shared, check_allocate_shared},
        {"allocate_shared_reply", fill_allocate_shared_reply, check_allocate_shared_reply},
        {"spare_ends", fill_spare_ends, check_spare_ends},
        {"allocate_from_spares", fill_from_spares, check_from_spares},
};

static const struct sample *find_sample(const struct wire_schema *schema) {
        for (size_t i = 0; i < ARRAY_LEN(samples); i++)
                if (strcmp(samples[i].schema, schema->name) == 0)
                        return &samples[i];
        return NULL;
}

/* Encodes the sample, decodes it with dups of its fds, compares, and checks the re-encoding is identical. */
static void round_trip(const struct wire_schema *schema, uint16_t opcode, uint16_t flags) {
        const struct sample *sample = find_sample(schema);
        if (!sample)
                fail_msg("no round-trip sample for schema \"%s\"; add one to samples[]", schema->name);

        struct sample_fds sfds = {.n = 0};
        void *body = calloc(1, schema->struct_size);
        assert_non_null(body);
        sample->fill(&sfds, body);

        static uint8_t buf[MAX_MSG], buf2[MAX_MSG];
        int fds[WIRE_MAX_FDS], fds2[WIRE_MAX_FDS], dups[WIRE_MAX_FDS];
        size_t len, len2;
        uint32_t nfds, nfds2;
        assert_int_equal(
                wire_encode(schema, opcode, flags, 0xabcd0123u, body, buf, sizeof(buf), &len, fds, WIRE_MAX_FDS, &nfds),
                0);
        assert_int_equal(len % 8, 0);
        assert_int_equal(nfds, sfds.n); /* every fd the sample holds is sent, once */
        for (uint32_t i = 0; i < nfds; i++)
                assert_true((dups[i] = fcntl(fds[i], F_DUPFD_CLOEXEC, 3)) >= 0);

        struct wire_msg *msg = NULL;
        char err[256];
        int r = wire_decode(schema, buf, len, dups, nfds, &limits, &msg, err, sizeof(err));
        if (r < 0)
                fail_msg("decoding %s: %s", schema->name, err);
        assert_int_equal(msg->opcode, opcode);
        assert_int_equal(msg->flags, flags);
        assert_int_equal(msg->txid, 0xabcd0123u);
        assert_int_equal(msg->nfds, nfds);
        sample->check(body, msg->body);

        /* Encoding is canonical: the decoded body encodes to the same bytes. */
        assert_int_equal(wire_encode(schema, opcode, flags, 0xabcd0123u, msg->body, buf2, sizeof(buf2), &len2, fds2,
                                     WIRE_MAX_FDS, &nfds2),
                         0);
        assert_int_equal(len2, len);
        assert_memory_equal(buf2, buf, len);
        assert_int_equal(nfds2, nfds);

        wire_msg_free(msg);
        for (uint32_t i = 0; i < nfds; i++)
                assert_true(fd_is_closed(dups[i]));
        for (unsigned i = 0; i < sfds.n; i++)
                close(sfds.fds[i]);
        free(body);
}

static void test_round_trip_every_message(void **state) {
        unsigned checked = 0;
        for (size_t i = 0; i < wire_message_count; i++) {
                const struct wire_message_def *def = &wire_messages[i];
                uint16_t flags = def->opcode == WIRE_OP_EPITAPH ? WIRE_FLAG_EVENT : 0;
                round_trip(def->request, def->opcode, flags);
                checked++;
                assert_int_equal(def->two_way, def->reply != NULL);
                if (def->reply) {
                        round_trip(def->reply, def->opcode, WIRE_FLAG_REPLY);
                        round_trip(&wire_error_schema, def->opcode, WIRE_FLAG_REPLY | WIRE_FLAG_ERROR);
                        checked += 2;
                }
        }
        assert_true(checked >= wire_message_count);
}

static void test_message_table_is_consistent(void **state) {
        for (size_t i = 0; i < wire_message_count; i++) {
                const struct wire_message_def *def = &wire_messages[i];
                assert_ptr_equal(wire_message_lookup(def->opcode), def);
                assert_non_null(def->request);
                assert_true(def->objects != 0);
                for (size_t j = 0; j < i; j++)
                        assert_int_not_equal(wire_messages[j].opcode, def->opcode);
        }
        assert_null(wire_message_lookup(0));
        assert_null(wire_message_lookup(0xffff));
}

/* Tags ascend in every schema (the decoder walks schema and message in step) and never use 0. */
static void check_schema_sorted(const struct wire_schema *schema, unsigned depth) {
        assert_true(depth <= WIRE_MAX_DEPTH);
        for (uint32_t i = 0; i < schema->field_count; i++) {
                const struct wire_field *f = &schema->fields[i];
                assert_true(f->tag > 0);
                if (i > 0)
                        assert_true(f->tag > schema->fields[i - 1].tag);
                assert_true(f->offset < schema->struct_size);
                if (f->type == WIRE_TABLE || f->type == WIRE_TABLE_ARRAY) {
                        assert_non_null(f->table);
                        check_schema_sorted(f->table, depth + 1);
                }
                if (f->type == WIRE_STRING && (f->flags & WIRE_F_INLINE))
                        assert_true(f->offset + f->max + 1 <= schema->struct_size);
        }
}

static void test_schemas_are_well_formed(void **state) {
        for (size_t i = 0; i < wire_message_count; i++) {
                check_schema_sorted(wire_messages[i].request, 1);
                if (wire_messages[i].reply)
                        check_schema_sorted(wire_messages[i].reply, 1);
        }
        check_schema_sorted(&wire_error_schema, 1);
}

/* ---- a builder for hand-made (mostly malformed) messages ---- */

struct mb {
        uint8_t b[MAX_MSG];
        size_t n;
        size_t open[WIRE_MAX_DEPTH + 4];
        unsigned depth;
};

static void mb_put(struct mb *m, const void *p, size_t n) {
        assert_true(m->n + n <= sizeof(m->b));
        memcpy(m->b + m->n, p, n);
        m->n += n;
}

static void mb_le32(uint8_t *p, uint32_t v) {
        for (unsigned i = 0; i < 4; i++)
                p[i] = (uint8_t)(v >> (8 * i));
}

static void mb_header_field(struct mb *m, uint16_t tag, uint8_t type, uint8_t flags, uint32_t len) {
        uint8_t h[8] = {(uint8_t)tag, (uint8_t)(tag >> 8), type, flags};
        mb_le32(h + 4, len);
        mb_put(m, h, sizeof(h));
}

static void mb_pad(struct mb *m) {
        static const uint8_t zero[8];
        mb_put(m, zero, (8 - m->n % 8) % 8);
}

static void mb_field(struct mb *m, uint16_t tag, uint8_t type, uint8_t flags, const void *v, uint32_t len) {
        mb_header_field(m, tag, type, flags, len);
        mb_put(m, v, len);
        mb_pad(m);
}

static void mb_u32(struct mb *m, uint16_t tag, uint32_t v) {
        uint8_t x[4];
        mb_le32(x, v);
        mb_field(m, tag, WIRE_U32, 0, x, 4);
}

static void mb_u64(struct mb *m, uint16_t tag, uint64_t v) {
        uint8_t x[8];
        mb_le32(x, (uint32_t)v);
        mb_le32(x + 4, (uint32_t)(v >> 32));
        mb_field(m, tag, WIRE_U64, 0, x, 8);
}

static void mb_fd(struct mb *m, uint16_t tag, uint32_t index) {
        uint8_t x[4];
        mb_le32(x, index);
        mb_field(m, tag, WIRE_FD, 0, x, 4);
}

static void mb_str(struct mb *m, uint16_t tag, const char *s) {
        mb_field(m, tag, WIRE_STRING, 0, s, (uint32_t)strlen(s));
}

static void mb_u32_array(struct mb *m, uint16_t tag, uint8_t type, const uint32_t *v, uint32_t count) {
        mb_header_field(m, tag, type, 0, count * 4);
        for (uint32_t i = 0; i < count; i++) {
                uint8_t x[4];
                mb_le32(x, v[i]);
                mb_put(m, x, 4);
        }
        mb_pad(m);
}

/* A nested TABLE or TABLE_ARRAY (or a table-array element, with tag 0); mb_end fills in its length. */
static void mb_begin(struct mb *m, uint16_t tag, uint8_t type) {
        assert_true(m->depth < ARRAY_LEN(m->open));
        m->open[m->depth++] = m->n;
        mb_header_field(m, tag, type, 0, 0);
}

static void mb_end(struct mb *m) {
        size_t start = m->open[--m->depth];
        mb_le32(m->b + start + 4, (uint32_t)(m->n - start - 8));
        mb_pad(m);
}

/* Writes the header for what was built so far; returns the message length. */
static size_t mb_finish(struct mb *m, uint16_t opcode, uint16_t flags, uint32_t nfds) {
        assert_int_equal(m->depth, 0);
        mb_le32(m->b, (uint32_t)m->n);
        m->b[4] = (uint8_t)opcode;
        m->b[5] = (uint8_t)(opcode >> 8);
        m->b[6] = (uint8_t)flags;
        m->b[7] = (uint8_t)(flags >> 8);
        mb_le32(m->b + 8, 1);
        mb_le32(m->b + 12, nfds);
        return m->n;
}

static struct mb *mb_new(void) {
        struct mb *m = calloc(1, sizeof(*m));
        assert_non_null(m);
        m->n = WIRE_HEADER_SIZE;
        return m;
}

/* ---- test schemas for what the real ones cannot reach ---- */

/* A chain of tables as deep as a hostile sender likes. */
struct node {
        struct node *child;
        uint32_t value;
};
static const struct wire_schema node_schema;
static const struct wire_field node_fields[] = {
        {.tag = 1,
         .type = WIRE_TABLE,
         .flags = WIRE_F_TABLE_PTR,
         .name = "child",
         .offset = offsetof(struct node, child),
         .table = &node_schema},
        {.tag = 2, .type = WIRE_U32, .name = "value", .offset = offsetof(struct node, value)},
};
static const struct wire_schema node_schema = {"node", sizeof(struct node), ARRAY_LEN(node_fields), node_fields};

/* fds inside an embedded table, a table pointer and an array, none of them sent. */
struct inner {
        uint32_t x;
        int fd;
};
struct outer {
        struct inner embedded;
        int fd;
        struct inner *ptr;
        const uint32_t *values; /* field max 0: capped by limits.max_array_elements */
        uint32_t value_count;
        const uint64_t *wide;
        uint32_t wide_count;
        struct inner *required_ptr;
};
static const struct wire_field inner_fields[] = {
        {.tag = 1, .type = WIRE_U32, .name = "x", .offset = offsetof(struct inner, x)},
        {.tag = 2, .type = WIRE_FD, .name = "fd", .offset = offsetof(struct inner, fd)},
};
static const struct wire_schema inner_schema = {"inner", sizeof(struct inner), ARRAY_LEN(inner_fields), inner_fields};
static const struct wire_field outer_fields[] = {
        {.tag = 1,
         .type = WIRE_TABLE,
         .name = "embedded",
         .offset = offsetof(struct outer, embedded),
         .table = &inner_schema},
        {.tag = 2, .type = WIRE_FD, .name = "fd", .offset = offsetof(struct outer, fd)},
        {.tag = 3,
         .type = WIRE_TABLE,
         .flags = WIRE_F_TABLE_PTR,
         .name = "ptr",
         .offset = offsetof(struct outer, ptr),
         .table = &inner_schema},
        {.tag = 4,
         .type = WIRE_U32_ARRAY,
         .name = "values",
         .offset = offsetof(struct outer, values),
         .count_offset = offsetof(struct outer, value_count)},
        {.tag = 5,
         .type = WIRE_U64_ARRAY,
         .name = "wide",
         .offset = offsetof(struct outer, wide),
         .count_offset = offsetof(struct outer, wide_count),
         .max = 3},
};
static const struct wire_schema outer_schema = {"outer", sizeof(struct outer), ARRAY_LEN(outer_fields), outer_fields};
static const struct wire_field required_ptr_fields[] = {
        {.tag = 1,
         .type = WIRE_TABLE,
         .flags = WIRE_F_TABLE_PTR | WIRE_F_REQUIRED,
         .name = "required_ptr",
         .offset = offsetof(struct outer, required_ptr),
         .table = &inner_schema},
};
static const struct wire_schema required_ptr_schema = {"required_ptr", sizeof(struct outer),
                                                       ARRAY_LEN(required_ptr_fields), required_ptr_fields};
static const struct wire_field unsorted_fields[] = {
        {.tag = 2, .type = WIRE_U32, .flags = WIRE_F_REQUIRED, .name = "b", .offset = 0},
        {.tag = 1, .type = WIRE_U32, .flags = WIRE_F_REQUIRED, .name = "a", .offset = 4},
};
static const struct wire_schema unsorted_schema = {"unsorted", 8, ARRAY_LEN(unsorted_fields), unsorted_fields};

static void build_node_chain(struct mb *m, unsigned tables) {
        /* The top-level body is the first table; each child adds one. */
        for (unsigned i = 1; i < tables; i++)
                mb_begin(m, 1, WIRE_TABLE);
        mb_u32(m, 2, tables);
        for (unsigned i = 1; i < tables; i++)
                mb_end(m);
}

/* ---- malformed messages: each must be rejected, for the stated reason, closing every fd ---- */

struct bad_case {
        const char *name;
        uint16_t opcode;
        bool reply;
        const struct wire_schema *schema; /* overrides opcode/reply */
        uint32_t nfds;                    /* real fds passed with the message */
        size_t (*build)(struct mb *m);
        const char *err; /* must appear in the error text */
};

static size_t bad_truncated_header(struct mb *m) {
        mb_finish(m, WIRE_OP_SYNC, 0, 0);
        return 10;
}

static size_t bad_size_mismatch(struct mb *m) {
        size_t n = mb_finish(m, WIRE_OP_SYNC, 0, 0);
        mb_le32(m->b, (uint32_t)n + 8);
        return n;
}

static size_t bad_size_below_header(struct mb *m) {
        size_t n = mb_finish(m, WIRE_OP_SYNC, 0, 0);
        mb_le32(m->b, 8);
        return n;
}

static size_t bad_oversized(struct mb *m) {
        static char big[65536];
        memset(big, 'x', sizeof(big));
        mb_u32(m, 1, 1);
        mb_field(m, 9, WIRE_STRING, 0, big, sizeof(big)); /* unknown, would be skipped if it were allowed */
        return mb_finish(m, WIRE_OP_SET_NAME, 0, 0);
}

static size_t bad_unknown_header_flag(struct mb *m) { return mb_finish(m, WIRE_OP_SYNC, 1u << 3, 0); }

static size_t bad_error_without_reply(struct mb *m) {
        mb_u32(m, 1, SYSMEM_ERROR_UNSPECIFIED);
        return mb_finish(m, WIRE_OP_SYNC, WIRE_FLAG_ERROR, 0);
}

static size_t bad_event_and_reply(struct mb *m) {
        return mb_finish(m, WIRE_OP_SYNC, WIRE_FLAG_EVENT | WIRE_FLAG_REPLY, 0);
}

static size_t bad_nonzero_padding(struct mb *m) {
        mb_u32(m, 1, 3);
        mb_str(m, 2, "abc");
        m->b[m->n - 1] = 0x55;
        return mb_finish(m, WIRE_OP_SET_NAME, 0, 0);
}

static size_t bad_missing_padding(struct mb *m) {
        mb_u32(m, 1, 3);
        mb_str(m, 2, "abc");
        m->n -= 5;
        return mb_finish(m, WIRE_OP_SET_NAME, 0, 0);
}

static size_t bad_length_overrun(struct mb *m) {
        mb_u32(m, 1, 3);
        mb_header_field(m, 2, WIRE_STRING, 0, 100);
        mb_put(m, "abcdefgh", 8);
        return mb_finish(m, WIRE_OP_SET_NAME, 0, 0);
}

static size_t bad_trailing_bytes(struct mb *m) {
        mb_u32(m, 1, 3);
        mb_str(m, 2, "abc");
        mb_put(m, "\0\0\0\0", 4);
        return mb_finish(m, WIRE_OP_SET_NAME, 0, 0);
}

/* set_constraints { constraints { image_format_constraints [ { <what the caller writes> } ] } } */
static void mb_ifc_begin(struct mb *m) {
        mb_begin(m, 1, WIRE_TABLE);
        mb_begin(m, 8, WIRE_TABLE_ARRAY);
        mb_begin(m, 0, WIRE_TABLE);
}

static size_t mb_ifc_end(struct mb *m) {
        mb_end(m);
        mb_end(m);
        mb_end(m);
        return mb_finish(m, WIRE_OP_SET_CONSTRAINTS, 0, 0);
}

static size_t bad_record_length(struct mb *m) {
        static const uint8_t seven[7];
        mb_ifc_begin(m);
        mb_field(m, 4, WIRE_RECORD, 0, seven, sizeof(seven)); /* min_size: 8 bytes */
        return mb_ifc_end(m);
}

static size_t bad_record_array_length(struct mb *m) {
        static const uint8_t bytes[20];
        mb_ifc_begin(m);
        mb_field(m, 15, WIRE_RECORD_ARRAY, 0, bytes, sizeof(bytes)); /* pairs are 12 bytes each */
        return mb_ifc_end(m);
}

static size_t bad_record_array_too_long(struct mb *m) {
        static const uint8_t bytes[65 * 8];
        mb_ifc_begin(m);
        mb_field(m, 18, WIRE_RECORD_ARRAY, 0, bytes, sizeof(bytes)); /* required_max_size_list, max 64 */
        return mb_ifc_end(m);
}

static size_t bad_record_wrong_type(struct mb *m) {
        mb_ifc_begin(m);
        mb_begin(m, 4, WIRE_TABLE); /* min_size must be a record, not a table */
        mb_u32(m, 1, 2);
        mb_end(m);
        return mb_ifc_end(m);
}

static size_t bad_tags_descending(struct mb *m) {
        mb_begin(m, 1, WIRE_TABLE); /* constraints: every field optional, so only the order is wrong */
        mb_u32(m, 3, 1);
        mb_u32(m, 2, 1);
        mb_end(m);
        return mb_finish(m, WIRE_OP_SET_CONSTRAINTS, 0, 0);
}

static size_t bad_tag_duplicate(struct mb *m) {
        mb_u32(m, 1, 3);
        mb_u32(m, 1, 4);
        mb_str(m, 2, "abc");
        return mb_finish(m, WIRE_OP_SET_NAME, 0, 0);
}

static size_t bad_wrong_type(struct mb *m) {
        mb_u64(m, 1, 3);
        mb_str(m, 2, "abc");
        return mb_finish(m, WIRE_OP_SET_NAME, 0, 0);
}

static size_t bad_u32_length(struct mb *m) {
        mb_field(m, 1, WIRE_U32, 0, "\1\0\0\0\0\0\0\0", 8);
        mb_str(m, 2, "abc");
        return mb_finish(m, WIRE_OP_SET_NAME, 0, 0);
}

static size_t bad_u64_length(struct mb *m) {
        mb_field(m, 1, WIRE_U64, 0, "\1\0\0\0", 4);
        return mb_finish(m, WIRE_OP_GET_BUFFER_COLLECTION_ID, WIRE_FLAG_REPLY, 0);
}

static size_t bad_bool_value(struct mb *m) {
        mb_field(m, 1, WIRE_BOOL, 0, "\2", 1);
        return mb_finish(m, WIRE_OP_VALIDATE_BUFFER_COLLECTION_TOKEN, WIRE_FLAG_REPLY, 0);
}

static size_t bad_bool_length(struct mb *m) {
        mb_field(m, 1, WIRE_BOOL, 0, "\1\0", 2);
        return mb_finish(m, WIRE_OP_VALIDATE_BUFFER_COLLECTION_TOKEN, WIRE_FLAG_REPLY, 0);
}

static size_t bad_string_nul(struct mb *m) {
        mb_u32(m, 1, 3);
        mb_field(m, 2, WIRE_STRING, 0, "ab\0c", 4);
        return mb_finish(m, WIRE_OP_SET_NAME, 0, 0);
}

static size_t bad_string_too_long(struct mb *m) {
        char s[SYSMEM_MAX_NAME_LENGTH + 2];
        memset(s, 'n', sizeof(s) - 1);
        s[sizeof(s) - 1] = 0;
        mb_u32(m, 1, 3);
        mb_str(m, 2, s);
        return mb_finish(m, WIRE_OP_SET_NAME, 0, 0);
}

/* set_constraints with permitted_heaps {"system-ram"}, {<heap_type>}, whatever the test writes. */
static void build_heaps(struct mb *m, const char *second_heap_type, bool second_has_type) {
        mb_begin(m, 1, WIRE_TABLE);       /* constraints */
        mb_begin(m, 7, WIRE_TABLE);       /* buffer_memory_constraints */
        mb_begin(m, 8, WIRE_TABLE_ARRAY); /* permitted_heaps */
        mb_begin(m, 0, WIRE_TABLE);
        mb_str(m, 1, "system-ram");
        mb_end(m);
        mb_begin(m, 0, WIRE_TABLE);
        if (second_has_type)
                mb_str(m, 1, second_heap_type);
        mb_u64(m, 2, 9);
        mb_end(m);
        mb_end(m);
        mb_end(m);
        mb_end(m);
}

static size_t bad_inline_string_too_long(struct mb *m) {
        char s[201];
        memset(s, 'h', 200);
        s[200] = 0;
        build_heaps(m, s, true);
        return mb_finish(m, WIRE_OP_SET_CONSTRAINTS, 0, 0);
}

static size_t bad_nested_required_in_element(struct mb *m) {
        build_heaps(m, NULL, false);
        return mb_finish(m, WIRE_OP_SET_CONSTRAINTS, 0, 0);
}

static size_t bad_array_over_max(struct mb *m) {
        uint32_t masks[SYSMEM_MAX_DUPLICATES + 1] = {0};
        mb_u32_array(m, 1, WIRE_U32_ARRAY, masks, ARRAY_LEN(masks));
        return mb_finish(m, WIRE_OP_DUPLICATE_SYNC, 0, 0);
}

static size_t bad_array_not_multiple(struct mb *m) {
        mb_field(m, 1, WIRE_U32_ARRAY, 0, "\1\0\0\0\2\0", 6);
        return mb_finish(m, WIRE_OP_DUPLICATE_SYNC, 0, 0);
}

static size_t bad_table_array_over_max(struct mb *m) {
        mb_begin(m, 1, WIRE_TABLE);
        mb_begin(m, 7, WIRE_TABLE);
        mb_begin(m, 8, WIRE_TABLE_ARRAY);
        for (unsigned i = 0; i < SYSMEM_MAX_PERMITTED_HEAPS + 1; i++) {
                mb_begin(m, 0, WIRE_TABLE);
                mb_str(m, 1, "system-ram");
                mb_end(m);
        }
        mb_end(m);
        mb_end(m);
        mb_end(m);
        return mb_finish(m, WIRE_OP_SET_CONSTRAINTS, 0, 0);
}

static size_t bad_element_tag(struct mb *m) {
        mb_begin(m, 1, WIRE_TABLE);
        mb_begin(m, 7, WIRE_TABLE);
        mb_begin(m, 8, WIRE_TABLE_ARRAY);
        mb_begin(m, 0, WIRE_TABLE);
        mb_str(m, 1, "system-ram");
        mb_end(m);
        mb_begin(m, 1, WIRE_TABLE);
        mb_str(m, 1, "system-ram");
        mb_end(m);
        mb_end(m);
        mb_end(m);
        mb_end(m);
        return mb_finish(m, WIRE_OP_SET_CONSTRAINTS, 0, 0);
}

static size_t bad_element_type(struct mb *m) {
        mb_begin(m, 1, WIRE_TABLE);
        mb_begin(m, 7, WIRE_TABLE);
        mb_begin(m, 8, WIRE_TABLE_ARRAY);
        mb_u32(m, 0, 1);
        mb_end(m);
        mb_end(m);
        mb_end(m);
        return mb_finish(m, WIRE_OP_SET_CONSTRAINTS, 0, 0);
}

static size_t bad_element_flags(struct mb *m) {
        mb_begin(m, 1, WIRE_TABLE);
        mb_begin(m, 7, WIRE_TABLE);
        mb_begin(m, 8, WIRE_TABLE_ARRAY);
        mb_begin(m, 0, WIRE_TABLE);
        mb_str(m, 1, "system-ram");
        mb_end(m);
        m->b[m->open[m->depth - 1] + WIRE_FIELD_HEADER_SIZE + 3] = 0x04; /* the first element's flags byte */
        mb_end(m);
        mb_end(m);
        mb_end(m);
        return mb_finish(m, WIRE_OP_SET_CONSTRAINTS, 0, 0);
}

static size_t bad_element_truncated(struct mb *m) {
        mb_begin(m, 1, WIRE_TABLE);
        mb_begin(m, 7, WIRE_TABLE);
        mb_begin(m, 8, WIRE_TABLE_ARRAY);
        mb_put(m, "\0\0\6\0", 4);
        mb_end(m);
        mb_end(m);
        mb_end(m);
        return mb_finish(m, WIRE_OP_SET_CONSTRAINTS, 0, 0);
}

static size_t bad_nested_length_overrun(struct mb *m) {
        mb_begin(m, 1, WIRE_TABLE);
        mb_begin(m, 1, WIRE_TABLE); /* usage */
        mb_header_field(m, 2, WIRE_U32, 0, 64);
        mb_put(m, "\1\0\0\0\0\0\0\0", 8);
        mb_end(m);
        mb_end(m);
        return mb_finish(m, WIRE_OP_SET_CONSTRAINTS, 0, 0);
}

static size_t bad_fd_out_of_range(struct mb *m) {
        mb_fd(m, 1, 1);
        return mb_finish(m, WIRE_OP_BIND_SHARED_COLLECTION, 0, 1);
}

static size_t bad_fd_length(struct mb *m) {
        mb_field(m, 1, WIRE_FD, 0, "\0\0\0\0\0\0\0\0", 8);
        return mb_finish(m, WIRE_OP_BIND_SHARED_COLLECTION, 0, 1);
}

static size_t bad_fd_array_out_of_range(struct mb *m) {
        uint32_t idx[] = {0, 5};
        mb_u32_array(m, 1, WIRE_FD_ARRAY, idx, 2);
        return mb_finish(m, WIRE_OP_DUPLICATE_SYNC, WIRE_FLAG_REPLY, 2);
}

static size_t bad_fd_twice(struct mb *m) {
        uint32_t idx[] = {0, 1, 0};
        mb_u32_array(m, 1, WIRE_FD_ARRAY, idx, 3);
        return mb_finish(m, WIRE_OP_DUPLICATE_SYNC, WIRE_FLAG_REPLY, 2);
}

static size_t bad_fd_twice_across_fields(struct mb *m) {
        mb_begin(m, 1, WIRE_TABLE); /* settings */
        mb_begin(m, 1, WIRE_TABLE); /* buffer_settings */
        mb_u64(m, 1, 4096);
        mb_begin(m, 5, WIRE_TABLE);
        mb_str(m, 1, "system-ram");
        mb_end(m);
        mb_u64(m, 6, 4096);
        mb_end(m);
        mb_end(m);
        mb_begin(m, 2, WIRE_TABLE_ARRAY);
        mb_begin(m, 0, WIRE_TABLE);
        mb_fd(m, 1, 0);
        mb_end(m);
        mb_begin(m, 0, WIRE_TABLE);
        mb_fd(m, 1, 0);
        mb_end(m);
        mb_end(m);
        mb_u64(m, 3, 1);
        return mb_finish(m, WIRE_OP_WAIT_FOR_ALL_BUFFERS_ALLOCATED, WIRE_FLAG_REPLY, 2);
}

static size_t bad_fd_unreferenced(struct mb *m) {
        mb_fd(m, 1, 0);
        return mb_finish(m, WIRE_OP_BIND_SHARED_COLLECTION, 0, 2);
}

static size_t bad_fd_with_fdless_message(struct mb *m) { return mb_finish(m, WIRE_OP_SYNC, 0, 1); }

static size_t bad_nfds_mismatch(struct mb *m) {
        mb_fd(m, 1, 0);
        return mb_finish(m, WIRE_OP_BIND_SHARED_COLLECTION, 0, 2);
}

static size_t bad_too_many_fds(struct mb *m) {
        uint32_t idx[9] = {0, 1, 2, 3, 4, 5, 6, 7, 8};
        mb_u32_array(m, 1, WIRE_FD_ARRAY, idx, 9);
        return mb_finish(m, WIRE_OP_DUPLICATE_SYNC, WIRE_FLAG_REPLY, 9);
}

static size_t bad_unknown_critical(struct mb *m) {
        mb_u32(m, 1, 3);
        mb_str(m, 2, "abc");
        mb_field(m, 9, WIRE_U32, 0x01, "\1\0\0\0", 4);
        return mb_finish(m, WIRE_OP_SET_NAME, 0, 0);
}

static size_t bad_field_flag_bits(struct mb *m) {
        mb_u32(m, 1, 3);
        mb_field(m, 2, WIRE_STRING, 0x02, "abc", 3);
        return mb_finish(m, WIRE_OP_SET_NAME, 0, 0);
}

static size_t bad_unknown_fd_field(struct mb *m) {
        mb_fd(m, 1, 0);
        mb_fd(m, 2, 1);
        return mb_finish(m, WIRE_OP_BIND_SHARED_COLLECTION, 0, 2);
}

static size_t bad_unknown_fd_array_field(struct mb *m) {
        uint32_t idx[] = {1};
        mb_fd(m, 1, 0);
        mb_u32_array(m, 7, WIRE_FD_ARRAY, idx, 1);
        return mb_finish(m, WIRE_OP_BIND_SHARED_COLLECTION, 0, 2);
}

static size_t bad_unknown_field_padding(struct mb *m) {
        mb_u32(m, 1, 3);
        mb_str(m, 2, "abc");
        mb_field(m, 3, 200, 0, "xyz", 3);
        m->b[m->n - 2] = 1;
        return mb_finish(m, WIRE_OP_SET_NAME, 0, 0);
}

static size_t bad_missing_required_last(struct mb *m) {
        mb_u32(m, 1, 3);
        return mb_finish(m, WIRE_OP_SET_NAME, 0, 0);
}

static size_t bad_missing_required_first(struct mb *m) {
        mb_str(m, 2, "abc");
        return mb_finish(m, WIRE_OP_SET_NAME, 0, 0);
}

static size_t bad_missing_required_empty(struct mb *m) { return mb_finish(m, WIRE_OP_SET_NAME, 0, 0); }

static size_t bad_missing_required_nested(struct mb *m) {
        mb_begin(m, 1, WIRE_TABLE); /* settings */
        mb_begin(m, 1, WIRE_TABLE); /* buffer_settings */
        mb_u64(m, 1, 4096);
        mb_u64(m, 6, 4096); /* heap (tag 5) is missing */
        mb_end(m);
        mb_end(m);
        mb_begin(m, 2, WIRE_TABLE_ARRAY);
        mb_end(m);
        mb_u64(m, 3, 1);
        return mb_finish(m, WIRE_OP_WAIT_FOR_ALL_BUFFERS_ALLOCATED, WIRE_FLAG_REPLY, 0);
}

static size_t bad_missing_required_embedded_table(struct mb *m) {
        mb_begin(m, 2, WIRE_TABLE_ARRAY);
        mb_end(m);
        mb_u64(m, 3, 1);
        return mb_finish(m, WIRE_OP_WAIT_FOR_ALL_BUFFERS_ALLOCATED, WIRE_FLAG_REPLY, 0);
}

static size_t bad_too_deep(struct mb *m) {
        build_node_chain(m, WIRE_MAX_DEPTH + 1);
        return mb_finish(m, 1, 0, 0);
}

static const struct bad_case bad_cases[] = {
        {"record of the wrong length", WIRE_OP_SET_CONSTRAINTS, false, NULL, 0, bad_record_length,
         "set_constraints.constraints.image_format_constraints[0].min_size: record of length 7, expected 8"},
        {"record array not a multiple of its record", WIRE_OP_SET_CONSTRAINTS, false, NULL, 0, bad_record_array_length,
         "image_format_constraints[0].pixel_format_and_modifiers: length 20 is not a multiple of the 12-byte record"},
        {"record array over max", WIRE_OP_SET_CONSTRAINTS, false, NULL, 0, bad_record_array_too_long,
         "image_format_constraints[0].required_max_size_list: array of 65 elements exceeds max 64"},
        {"table where a record belongs", WIRE_OP_SET_CONSTRAINTS, false, NULL, 0, bad_record_wrong_type,
         "image_format_constraints[0].min_size: type table (6), expected record (11)"},
        {"truncated header", WIRE_OP_SYNC, false, NULL, 0, bad_truncated_header, "shorter than the 16-byte header"},
        {"size field larger than packet", WIRE_OP_SYNC, false, NULL, 0, bad_size_mismatch,
         "header size 24 does not match the 16 bytes received"},
        {"size field smaller than header", WIRE_OP_SYNC, false, NULL, 0, bad_size_below_header,
         "header size 8 does not match"},
        {"message over max_message_bytes", WIRE_OP_SET_NAME, false, NULL, 0, bad_oversized,
         "exceeds the limit of 65536"},
        {"unknown header flag bit", WIRE_OP_SYNC, false, NULL, 0, bad_unknown_header_flag,
         "unknown header flag bits 0x8"},
        {"ERROR flag without REPLY", 0, false, &wire_error_schema, 0, bad_error_without_reply, "ERROR without REPLY"},
        {"EVENT and REPLY together", WIRE_OP_SYNC, true, NULL, 0, bad_event_and_reply, "EVENT and REPLY"},
        {"nonzero padding", WIRE_OP_SET_NAME, false, NULL, 0, bad_nonzero_padding,
         "set_name.name: nonzero padding byte"},
        {"padding missing at the end", WIRE_OP_SET_NAME, false, NULL, 0, bad_missing_padding,
         "set_name.name: value of 3 bytes lacks its padding"},
        {"field length past the end", WIRE_OP_SET_NAME, false, NULL, 0, bad_length_overrun,
         "set_name.name: length 100 exceeds the 8 bytes left"},
        {"trailing bytes after the last field", WIRE_OP_SET_NAME, false, NULL, 0, bad_trailing_bytes,
         "set_name: 4 bytes left are too short for a field header"},
        {"tags descending", WIRE_OP_SET_CONSTRAINTS, false, NULL, 0, bad_tags_descending,
         "set_constraints.constraints: field tag 2: tags must be strictly ascending, but it follows tag 3"},
        {"tag duplicated", WIRE_OP_SET_NAME, false, NULL, 0, bad_tag_duplicate,
         "field tag 1: tags must be strictly ascending"},
        {"wrong type for a known tag", WIRE_OP_SET_NAME, false, NULL, 0, bad_wrong_type,
         "set_name.priority: type u64 (2), expected u32 (1)"},
        {"u32 of length 8", WIRE_OP_SET_NAME, false, NULL, 0, bad_u32_length,
         "set_name.priority: u32 of length 8, expected 4"},
        {"u64 of length 4", WIRE_OP_GET_BUFFER_COLLECTION_ID, true, NULL, 0, bad_u64_length,
         "buffer_collection_id: u64 of length 4, expected 8"},
        {"bool value 2", WIRE_OP_VALIDATE_BUFFER_COLLECTION_TOKEN, true, NULL, 0, bad_bool_value,
         "validate_reply.is_known: bool value 2 is neither 0 nor 1"},
        {"bool of length 2", WIRE_OP_VALIDATE_BUFFER_COLLECTION_TOKEN, true, NULL, 0, bad_bool_length,
         "bool of length 2, expected 1"},
        {"string with NUL", WIRE_OP_SET_NAME, false, NULL, 0, bad_string_nul,
         "set_name.name: string holds a NUL byte at offset 2"},
        {"string over max", WIRE_OP_SET_NAME, false, NULL, 0, bad_string_too_long,
         "set_name.name: string of 65 bytes exceeds max 64"},
        {"inline string over max, deep inside", WIRE_OP_SET_CONSTRAINTS, false, NULL, 0, bad_inline_string_too_long,
         "set_constraints.constraints.buffer_memory_constraints.permitted_heaps[1].heap_type: "
         "string of 200 bytes exceeds max 128"},
        {"u32 array over max", WIRE_OP_DUPLICATE_SYNC, false, NULL, 0, bad_array_over_max,
         "duplicate_sync.rights_attenuation_masks: array of 65 elements exceeds max 64"},
        {"array length not a multiple", WIRE_OP_DUPLICATE_SYNC, false, NULL, 0, bad_array_not_multiple,
         "length 6 is not a multiple of the 4-byte element"},
        {"table array over max", WIRE_OP_SET_CONSTRAINTS, false, NULL, 0, bad_table_array_over_max,
         "permitted_heaps: array of 65 elements exceeds max 64"},
        {"table-array element with tag 1", WIRE_OP_SET_CONSTRAINTS, false, NULL, 0, bad_element_tag,
         "permitted_heaps[1]: element has tag 1, expected 0"},
        {"table-array element not a table", WIRE_OP_SET_CONSTRAINTS, false, NULL, 0, bad_element_type,
         "permitted_heaps[0]: element has type u32 (1), expected table"},
        {"table-array element with unknown flag bits", WIRE_OP_SET_CONSTRAINTS, false, NULL, 0, bad_element_flags,
         "permitted_heaps[0]: unknown field flag bits 0x4"},
        {"table-array element header truncated", WIRE_OP_SET_CONSTRAINTS, false, NULL, 0, bad_element_truncated,
         "permitted_heaps[0]: 4 bytes left are too short for an element header"},
        {"nested field length past its table", WIRE_OP_SET_CONSTRAINTS, false, NULL, 0, bad_nested_length_overrun,
         "set_constraints.constraints.usage.cpu: length 64 exceeds the 8 bytes left"},
        {"fd index out of range", WIRE_OP_BIND_SHARED_COLLECTION, false, NULL, 1, bad_fd_out_of_range,
         "fd.fd: fd index 1 out of range (1 fds received)"},
        {"fd of length 8", WIRE_OP_BIND_SHARED_COLLECTION, false, NULL, 1, bad_fd_length, "fd of length 8"},
        {"fd array index out of range", WIRE_OP_DUPLICATE_SYNC, true, NULL, 2, bad_fd_array_out_of_range,
         "duplicate_sync_reply.tokens[1]: fd index 5 out of range (2 fds received)"},
        {"fd referenced twice in one array", WIRE_OP_DUPLICATE_SYNC, true, NULL, 2, bad_fd_twice,
         "tokens[2]: fd index 0 is referenced twice"},
        {"fd referenced twice by two fields", WIRE_OP_WAIT_FOR_ALL_BUFFERS_ALLOCATED, true, NULL, 2,
         bad_fd_twice_across_fields, "collection_info.buffers[1].vmo: fd index 0 is referenced twice"},
        {"fd sent but unreferenced", WIRE_OP_BIND_SHARED_COLLECTION, false, NULL, 2, bad_fd_unreferenced,
         "fd 1 came with the message but no field references it"},
        {"fd sent with a message without fd fields", WIRE_OP_SYNC, false, NULL, 1, bad_fd_with_fdless_message,
         "fd 0 came with the message but no field references it"},
        {"header nfds differs from fds received", WIRE_OP_BIND_SHARED_COLLECTION, false, NULL, 1, bad_nfds_mismatch,
         "header announces 2 fds but 1 came with it"},
        {"more fds than max_fds", WIRE_OP_DUPLICATE_SYNC, true, NULL, 9, bad_too_many_fds,
         "9 fds exceed the limit of 8"},
        {"unknown critical field", WIRE_OP_SET_NAME, false, NULL, 0, bad_unknown_critical,
         "set_name: field tag 9: unknown field marked critical"},
        {"unknown field flag bit", WIRE_OP_SET_NAME, false, NULL, 0, bad_field_flag_bits,
         "set_name.name: unknown field flag bits 0x2"},
        {"unknown fd field", WIRE_OP_BIND_SHARED_COLLECTION, false, NULL, 2, bad_unknown_fd_field,
         "fd: field tag 2: unknown field of type fd"},
        {"unknown fd array field", WIRE_OP_BIND_SHARED_COLLECTION, false, NULL, 2, bad_unknown_fd_array_field,
         "fd: field tag 7: unknown field of type fd_array"},
        {"unknown field with bad padding", WIRE_OP_SET_NAME, false, NULL, 0, bad_unknown_field_padding,
         "set_name: field tag 3: nonzero padding byte"},
        {"required field missing at the end", WIRE_OP_SET_NAME, false, NULL, 0, bad_missing_required_last,
         "set_name.name: required field missing"},
        {"required field missing before another", WIRE_OP_SET_NAME, false, NULL, 0, bad_missing_required_first,
         "set_name.priority: required field missing"},
        {"required fields missing, empty body", WIRE_OP_SET_NAME, false, NULL, 0, bad_missing_required_empty,
         "set_name.priority: required field missing"},
        {"required field missing in a nested table", WIRE_OP_WAIT_FOR_ALL_BUFFERS_ALLOCATED, true, NULL, 0,
         bad_missing_required_nested, "collection_info.settings.buffer_settings.heap: required field missing"},
        {"required embedded table missing", WIRE_OP_WAIT_FOR_ALL_BUFFERS_ALLOCATED, true, NULL, 0,
         bad_missing_required_embedded_table, "collection_info.settings: required field missing"},
        {"required field missing in an array element", WIRE_OP_SET_CONSTRAINTS, false, NULL, 0,
         bad_nested_required_in_element,
         "set_constraints.constraints.buffer_memory_constraints.permitted_heaps[1].heap_type: required field missing"},
        {"tables nested too deep", 0, false, &node_schema, 0, bad_too_deep,
         "node.child.child.child.child.child.child.child.child: tables nested deeper than 8"},
};

static void test_malformed_is_rejected(void **state) {
        for (size_t i = 0; i < ARRAY_LEN(bad_cases); i++) {
                const struct bad_case *c = &bad_cases[i];
                const struct wire_schema *schema = c->schema  ? c->schema
                                                   : c->reply ? reply_schema(c->opcode)
                                                              : request_schema(c->opcode);
                struct mb *m = mb_new();
                size_t len = c->build(m);
                int fds[16];
                assert_true(c->nfds <= ARRAY_LEN(fds));
                for (uint32_t j = 0; j < c->nfds; j++)
                        fds[j] = new_memfd();

                struct wire_msg *msg = (struct wire_msg *)(uintptr_t)0x1; /* must stay untouched */
                char err[512] = "";
                int r = wire_decode(schema, m->b, len, fds, c->nfds, &limits, &msg, err, sizeof(err));
                if (r != -EBADMSG)
                        fail_msg("case \"%s\": expected -EBADMSG, got %d (%s)", c->name, r, err);
                if (!strstr(err, c->err))
                        fail_msg("case \"%s\": error \"%s\" lacks \"%s\"", c->name, err, c->err);
                assert_ptr_equal(msg, (struct wire_msg *)(uintptr_t)0x1);
                for (uint32_t j = 0; j < c->nfds; j++)
                        if (!fd_is_closed(fds[j]))
                                fail_msg("case \"%s\": fd %u left open", c->name, j);
                free(m);
        }
}

/* ---- accepted edge cases ---- */

static struct wire_msg *decode_ok(const struct wire_schema *schema, const uint8_t *buf, size_t len, int *fds,
                                  uint32_t nfds, const struct wire_limits *l) {
        struct wire_msg *msg = NULL;
        char err[512];
        int r = wire_decode(schema, buf, len, fds, nfds, l ? l : &limits, &msg, err, sizeof(err));
        if (r < 0)
                fail_msg("decode failed: %d %s", r, err);
        return msg;
}

static void test_unknown_optional_fields_are_skipped(void **state) {
        struct mb *m = mb_new();
        mb_field(m, 0, WIRE_U64, 0, "\1\2\3\4\5\6\7\0", 8); /* tag 0, before every known tag */
        mb_u32(m, 1, 3);
        mb_str(m, 2, "abc");
        mb_u32(m, 3, 99);                    /* a newer peer's u32 */
        mb_field(m, 4, 200, 0, "future", 6); /* a type this version does not know */
        mb_begin(m, 5, WIRE_TABLE);          /* a nested table, skipped whole */
        mb_field(m, 1, 77, 0x01, "x", 1);    /* "critical" inside, but nobody looks */
        mb_end(m);
        size_t len = mb_finish(m, WIRE_OP_SET_NAME, 0, 0);
        struct wire_msg *msg = decode_ok(request_schema(WIRE_OP_SET_NAME), m->b, len, NULL, 0, NULL);
        const struct wire_set_name *b = msg->body;
        assert_int_equal(b->priority, 3);
        assert_string_equal(b->name, "abc");
        wire_msg_free(msg);

        /* Inside a nested table and an array element too: constraints tag 8 (image formats, later). */
        m->n = WIRE_HEADER_SIZE;
        mb_begin(m, 1, WIRE_TABLE);
        mb_begin(m, 7, WIRE_TABLE);
        mb_begin(m, 8, WIRE_TABLE_ARRAY);
        mb_begin(m, 0, WIRE_TABLE);
        mb_str(m, 1, "system-ram");
        mb_u32(m, 3, 5);
        mb_end(m);
        mb_end(m);
        mb_end(m);
        mb_begin(m, 8, WIRE_TABLE_ARRAY);
        mb_end(m);
        mb_end(m);
        len = mb_finish(m, WIRE_OP_SET_CONSTRAINTS, 0, 0);
        msg = decode_ok(request_schema(WIRE_OP_SET_CONSTRAINTS), m->b, len, NULL, 0, NULL);
        const struct wire_set_constraints *sc = msg->body;
        assert_non_null(sc->constraints);
        assert_int_equal(sc->constraints->buffer_memory_constraints.permitted_heap_count, 1);
        assert_string_equal(sc->constraints->buffer_memory_constraints.permitted_heaps[0].heap_type, "system-ram");
        wire_msg_free(msg);
        free(m);
}

static void test_absent_fields_read_as_defaults(void **state) {
        /* Nothing present: embedded fds -1, pointer NULL, arrays empty. */
        struct mb *m = mb_new();
        size_t len = mb_finish(m, 1, 0, 0);
        struct wire_msg *msg = decode_ok(&outer_schema, m->b, len, NULL, 0, NULL);
        const struct outer *o = msg->body;
        assert_int_equal(o->embedded.fd, -1);
        assert_int_equal(o->embedded.x, 0);
        assert_int_equal(o->fd, -1);
        assert_null(o->ptr);
        assert_null(o->values);
        assert_int_equal(o->value_count, 0);
        wire_msg_free(msg);

        /* An empty pointer table is present (not NULL), and its absent fd is -1 too. */
        m->n = WIRE_HEADER_SIZE;
        mb_begin(m, 3, WIRE_TABLE);
        mb_end(m);
        len = mb_finish(m, 1, 0, 0);
        msg = decode_ok(&outer_schema, m->b, len, NULL, 0, NULL);
        o = msg->body;
        assert_non_null(o->ptr);
        assert_int_equal(o->ptr->fd, -1);
        assert_int_equal(o->embedded.fd, -1);
        wire_msg_free(msg);

        /* Absent SetConstraints.constraints is NULL: "no constraints", distinct from empty ones. */
        m->n = WIRE_HEADER_SIZE;
        len = mb_finish(m, WIRE_OP_SET_CONSTRAINTS, 0, 0);
        msg = decode_ok(request_schema(WIRE_OP_SET_CONSTRAINTS), m->b, len, NULL, 0, NULL);
        assert_null(((const struct wire_set_constraints *)msg->body)->constraints);
        wire_msg_free(msg);

        /* Tristates that are absent are SYSMEM_UNSET. */
        m->n = WIRE_HEADER_SIZE;
        mb_begin(m, 1, WIRE_TABLE);
        mb_begin(m, 7, WIRE_TABLE);
        mb_field(m, 5, WIRE_BOOL, 0, "\0", 1);
        mb_end(m);
        mb_end(m);
        len = mb_finish(m, WIRE_OP_SET_CONSTRAINTS, 0, 0);
        msg = decode_ok(request_schema(WIRE_OP_SET_CONSTRAINTS), m->b, len, NULL, 0, NULL);
        const struct sysmem_constraints *c = ((const struct wire_set_constraints *)msg->body)->constraints;
        assert_int_equal(c->buffer_memory_constraints.cpu_domain_supported, SYSMEM_FALSE);
        assert_int_equal(c->buffer_memory_constraints.ram_domain_supported, SYSMEM_UNSET);
        assert_int_equal(c->buffer_memory_constraints.inaccessible_domain_supported, SYSMEM_UNSET);
        wire_msg_free(msg);
        free(m);
}

static void test_limits_are_inclusive(void **state) {
        struct mb *m = mb_new();

        /* Exactly WIRE_MAX_DEPTH tables. */
        build_node_chain(m, WIRE_MAX_DEPTH);
        size_t len = mb_finish(m, 1, 0, 0);
        struct wire_msg *msg = decode_ok(&node_schema, m->b, len, NULL, 0, NULL);
        const struct node *n = msg->body;
        unsigned depth = 1;
        for (; n->child; n = n->child)
                depth++;
        assert_int_equal(depth, WIRE_MAX_DEPTH);
        assert_int_equal(n->value, WIRE_MAX_DEPTH);
        wire_msg_free(msg);

        /* A string of exactly max bytes, an inline one too. */
        char s[SYSMEM_MAX_HEAP_TYPE_LENGTH + 1];
        memset(s, 'h', SYSMEM_MAX_HEAP_TYPE_LENGTH);
        s[SYSMEM_MAX_HEAP_TYPE_LENGTH] = 0;
        m->n = WIRE_HEADER_SIZE;
        build_heaps(m, s, true);
        len = mb_finish(m, WIRE_OP_SET_CONSTRAINTS, 0, 0);
        msg = decode_ok(request_schema(WIRE_OP_SET_CONSTRAINTS), m->b, len, NULL, 0, NULL);
        const struct sysmem_constraints *c = ((const struct wire_set_constraints *)msg->body)->constraints;
        assert_string_equal(c->buffer_memory_constraints.permitted_heaps[1].heap_type, s);
        wire_msg_free(msg);

        /* A table array of exactly max elements, each as large as it may be: many arena chunks. */
        m->n = WIRE_HEADER_SIZE;
        mb_begin(m, 1, WIRE_TABLE);
        mb_begin(m, 7, WIRE_TABLE);
        mb_begin(m, 8, WIRE_TABLE_ARRAY);
        for (unsigned i = 0; i < SYSMEM_MAX_PERMITTED_HEAPS; i++) {
                s[0] = (char)('A' + i % 26);
                mb_begin(m, 0, WIRE_TABLE);
                mb_str(m, 1, s);
                mb_u64(m, 2, i);
                mb_end(m);
        }
        mb_end(m);
        mb_end(m);
        mb_end(m);
        len = mb_finish(m, WIRE_OP_SET_CONSTRAINTS, 0, 0);
        msg = decode_ok(request_schema(WIRE_OP_SET_CONSTRAINTS), m->b, len, NULL, 0, NULL);
        c = ((const struct wire_set_constraints *)msg->body)->constraints;
        assert_int_equal(c->buffer_memory_constraints.permitted_heap_count, SYSMEM_MAX_PERMITTED_HEAPS);
        for (unsigned i = 0; i < SYSMEM_MAX_PERMITTED_HEAPS; i++) {
                s[0] = (char)('A' + i % 26);
                assert_string_equal(c->buffer_memory_constraints.permitted_heaps[i].heap_type, s);
                assert_true(c->buffer_memory_constraints.permitted_heaps[i].id == i);
        }
        wire_msg_free(msg);

        /* An array of exactly max elements. */
        uint32_t masks[SYSMEM_MAX_DUPLICATES];
        for (unsigned i = 0; i < ARRAY_LEN(masks); i++)
                masks[i] = i * 3;
        m->n = WIRE_HEADER_SIZE;
        mb_u32_array(m, 1, WIRE_U32_ARRAY, masks, ARRAY_LEN(masks));
        len = mb_finish(m, WIRE_OP_DUPLICATE_SYNC, 0, 0);
        msg = decode_ok(request_schema(WIRE_OP_DUPLICATE_SYNC), m->b, len, NULL, 0, NULL);
        const struct wire_duplicate_sync *ds = msg->body;
        assert_int_equal(ds->rights_attenuation_mask_count, ARRAY_LEN(masks));
        assert_memory_equal(ds->rights_attenuation_masks, masks, sizeof(masks));
        wire_msg_free(msg);

        /* A message of exactly max_message_bytes with exactly max_fds fds. */
        int fds[8];
        uint32_t idx[8];
        for (unsigned i = 0; i < 8; i++) {
                fds[i] = new_memfd();
                idx[i] = 7 - i;
        }
        m->n = WIRE_HEADER_SIZE;
        mb_u32_array(m, 1, WIRE_FD_ARRAY, idx, 8);
        static char filler[65536];
        size_t fill = limits.max_message_bytes - m->n - 8;
        memset(filler, 'f', fill);
        mb_field(m, 2, WIRE_STRING, 0, filler, (uint32_t)fill);
        len = mb_finish(m, WIRE_OP_DUPLICATE_SYNC, WIRE_FLAG_REPLY, 8);
        assert_int_equal(len, limits.max_message_bytes);
        msg = decode_ok(reply_schema(WIRE_OP_DUPLICATE_SYNC), m->b, len, fds, 8, NULL);
        const struct wire_duplicate_sync_reply *dr = msg->body;
        assert_int_equal(dr->token_count, 8);
        for (unsigned i = 0; i < 8; i++)
                assert_int_equal(dr->tokens[i], fds[7 - i]);
        wire_msg_free(msg);
        for (unsigned i = 0; i < 8; i++)
                assert_true(fd_is_closed(fds[i]));

        /* A field with max 0 is capped by limits.max_array_elements, inclusively. */
        struct wire_limits small = limits;
        small.max_array_elements = 4;
        m->n = WIRE_HEADER_SIZE;
        mb_u32_array(m, 4, WIRE_U32_ARRAY, masks, 4);
        len = mb_finish(m, 1, 0, 0);
        msg = decode_ok(&outer_schema, m->b, len, NULL, 0, &small);
        assert_int_equal(((const struct outer *)msg->body)->value_count, 4);
        wire_msg_free(msg);
        m->n = WIRE_HEADER_SIZE;
        mb_u32_array(m, 4, WIRE_U32_ARRAY, masks, 5);
        len = mb_finish(m, 1, 0, 0);
        char err[256];
        assert_int_equal(wire_decode(&outer_schema, m->b, len, NULL, 0, &small, &msg, err, sizeof(err)), -EBADMSG);
        assert_string_equal(err, "outer.values: array of 5 elements exceeds max 4");
        free(m);
}

/* What no message uses yet: fds in embedded and pointer tables, u64 arrays, arrays capped by the limits. */
static void test_round_trip_every_type(void **state) {
        static const uint32_t values[] = {1, 0, 0xffffffffu};
        static const uint64_t wide[] = {0x8000000000000001u, 0, 42};
        struct inner in = {.x = 2, .fd = new_memfd()};
        struct outer o = {
                .embedded = {.x = 1, .fd = new_memfd()},
                .fd = new_memfd(),
                .ptr = &in,
                .values = values,
                .value_count = ARRAY_LEN(values),
                .wide = wide,
                .wide_count = ARRAY_LEN(wide),
        };
        uint8_t buf[512];
        size_t len;
        int fds[4], dups[4];
        uint32_t nfds;
        assert_int_equal(wire_encode(&outer_schema, 1, 0, 1, &o, buf, sizeof(buf), &len, fds, 4, &nfds), 0);
        assert_int_equal(nfds, 3);
        assert_int_equal(fds[0], o.embedded.fd); /* fds are numbered in the order of the schema's fields */
        assert_int_equal(fds[1], o.fd);
        assert_int_equal(fds[2], in.fd);
        for (uint32_t i = 0; i < nfds; i++)
                dups[i] = fcntl(fds[i], F_DUPFD_CLOEXEC, 3);
        struct wire_msg *msg = decode_ok(&outer_schema, buf, len, dups, nfds, NULL);
        const struct outer *d = msg->body;
        assert_int_equal(d->embedded.x, 1);
        assert_same_file(d->embedded.fd, o.embedded.fd);
        assert_same_file(d->fd, o.fd);
        assert_non_null(d->ptr);
        assert_int_equal(d->ptr->x, 2);
        assert_same_file(d->ptr->fd, in.fd);
        assert_int_equal(d->value_count, ARRAY_LEN(values));
        assert_memory_equal(d->values, values, sizeof(values));
        assert_int_equal(d->wide_count, ARRAY_LEN(wide));
        assert_memory_equal(d->wide, wide, sizeof(wide));
        wire_msg_free(msg);
        for (uint32_t i = 0; i < nfds; i++)
                assert_true(fd_is_closed(dups[i]));

        uint64_t too_wide[4] = {1, 2, 3, 4};
        o.wide = too_wide;
        o.wide_count = 4;
        assert_int_equal(wire_encode(&outer_schema, 1, 0, 1, &o, buf, sizeof(buf), &len, fds, 4, &nfds), -EINVAL);
        close(in.fd);
        close(o.embedded.fd);
        close(o.fd);
}

static void test_decode_rejects_bad_arguments(void **state) {
        uint8_t buf[WIRE_HEADER_SIZE] = {16};
        struct wire_msg *msg = NULL;
        int fd = new_memfd();
        /* Ownership of the fds passes even when the call itself is wrong. */
        assert_int_equal(wire_decode(request_schema(WIRE_OP_SYNC), buf, sizeof(buf), &fd, 1, NULL, &msg, NULL, 0),
                         -EINVAL);
        assert_true(fd_is_closed(fd));
        assert_null(msg);
        /* err may be NULL, and a tiny err is truncated, not overrun. */
        assert_int_equal(
                wire_decode(request_schema(WIRE_OP_SET_NAME), buf, sizeof(buf), NULL, 0, &limits, &msg, NULL, 0),
                -EBADMSG);
        char err[8] = "xxxxxxx";
        assert_int_equal(
                wire_decode(request_schema(WIRE_OP_SET_NAME), buf, sizeof(buf), NULL, 0, &limits, &msg, err, 5),
                -EBADMSG);
        assert_string_equal(err, "set_");
        assert_int_equal(err[6], 'x');
}

static void test_peek_header(void **state) {
        struct mb *m = mb_new();
        mb_fd(m, 1, 0);
        size_t len = mb_finish(m, WIRE_OP_BIND_SHARED_COLLECTION, WIRE_FLAG_REPLY, 1);
        uint16_t opcode = 0, flags = 0;
        uint32_t txid = 0, nfds = 0;
        assert_int_equal(wire_peek_header(m->b, len, &opcode, &flags, &txid, &nfds), 0);
        assert_int_equal(opcode, WIRE_OP_BIND_SHARED_COLLECTION);
        assert_int_equal(flags, WIRE_FLAG_REPLY);
        assert_int_equal(txid, 1);
        assert_int_equal(nfds, 1);
        assert_int_equal(wire_peek_header(m->b, len, NULL, NULL, NULL, NULL), 0);

        /* Failures leave the outputs alone. */
        opcode = 0x5555;
        assert_int_equal(wire_peek_header(m->b, len - 1, &opcode, &flags, &txid, &nfds), -EBADMSG);
        assert_int_equal(wire_peek_header(m->b, 15, &opcode, &flags, &txid, &nfds), -EBADMSG);
        m->b[6] = 0x10;
        assert_int_equal(wire_peek_header(m->b, len, &opcode, &flags, &txid, &nfds), -EBADMSG);
        m->b[6] = 0;
        mb_le32(m->b + 12, WIRE_MAX_FDS + 1);
        assert_int_equal(wire_peek_header(m->b, len, &opcode, &flags, &txid, &nfds), -EBADMSG);
        assert_int_equal(opcode, 0x5555);
        free(m);
}

static void test_take_fd(void **state) {
        int a = new_memfd(), b = new_memfd();
        struct mb *m = mb_new();
        uint32_t idx[] = {0, 1};
        mb_u32_array(m, 1, WIRE_FD_ARRAY, idx, 2);
        size_t len = mb_finish(m, WIRE_OP_DUPLICATE_SYNC, WIRE_FLAG_REPLY, 2);
        int fds[] = {a, b};
        struct wire_msg *msg = decode_ok(reply_schema(WIRE_OP_DUPLICATE_SYNC), m->b, len, fds, 2, NULL);
        assert_int_equal(wire_msg_take_fd(msg, b), b);
        assert_int_equal(wire_msg_take_fd(msg, b), -1); /* already taken */
        assert_int_equal(wire_msg_take_fd(msg, -1), -1);
        assert_int_equal(wire_msg_take_fd(NULL, a), -1);
        wire_msg_free(msg);
        assert_true(fd_is_closed(a));
        assert_false(fd_is_closed(b));
        close(b);
        wire_msg_free(NULL);
        free(m);
}

/* ---- encoder ---- */

static void test_encode_omits_absent_fields(void **state) {
        uint8_t buf[512];
        size_t len;
        uint32_t nfds;
        int fds[4];

        /* Empty constraints are still constraints: a present, empty table. NULL: nothing at all. */
        struct sysmem_constraints empty = {0};
        struct wire_set_constraints sc = {.constraints = &empty};
        assert_int_equal(wire_encode(request_schema(WIRE_OP_SET_CONSTRAINTS), WIRE_OP_SET_CONSTRAINTS, 0, 1, &sc, buf,
                                     sizeof(buf), &len, fds, 4, &nfds),
                         0);
        static const uint8_t empty_table[] = {1, 0, WIRE_TABLE, 0, 0, 0, 0, 0};
        assert_int_equal(len, WIRE_HEADER_SIZE + 8);
        assert_memory_equal(buf + WIRE_HEADER_SIZE, empty_table, 8);
        sc.constraints = NULL;
        assert_int_equal(wire_encode(request_schema(WIRE_OP_SET_CONSTRAINTS), WIRE_OP_SET_CONSTRAINTS, 0, 1, &sc, buf,
                                     sizeof(buf), &len, fds, 4, &nfds),
                         0);
        assert_int_equal(len, WIRE_HEADER_SIZE);

        /* Only the one set field of a nested table travels; empty embedded tables vanish. */
        empty.buffer_memory_constraints.ram_domain_supported = SYSMEM_FALSE;
        sc.constraints = &empty;
        assert_int_equal(wire_encode(request_schema(WIRE_OP_SET_CONSTRAINTS), WIRE_OP_SET_CONSTRAINTS, 0, 1, &sc, buf,
                                     sizeof(buf), &len, fds, 4, &nfds),
                         0);
        static const uint8_t nested[] = {
                1, 0, WIRE_TABLE, 0, 24, 0, 0, 0, /* constraints */
                7, 0, WIRE_TABLE, 0, 16, 0, 0, 0, /* buffer_memory_constraints */
                6, 0, WIRE_BOOL,  0, 1,  0, 0, 0, /* ram_domain_supported */
                0, 0, 0,          0, 0,  0, 0, 0, /* false, padding */
        };
        assert_int_equal(len, WIRE_HEADER_SIZE + sizeof(nested));
        assert_memory_equal(buf + WIRE_HEADER_SIZE, nested, sizeof(nested));

        /* Required fields travel even with default values: a false bool, a zero u32, an empty string. */
        struct wire_validate_reply vr = {.is_known = false};
        assert_int_equal(wire_encode(reply_schema(WIRE_OP_VALIDATE_BUFFER_COLLECTION_TOKEN), 4, WIRE_FLAG_REPLY, 1, &vr,
                                     buf, sizeof(buf), &len, fds, 4, &nfds),
                         0);
        static const uint8_t false_bool[] = {1, 0, WIRE_BOOL, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
        assert_int_equal(len, WIRE_HEADER_SIZE + sizeof(false_bool));
        assert_memory_equal(buf + WIRE_HEADER_SIZE, false_bool, sizeof(false_bool));
        struct wire_set_name sn = {.priority = 0, .name = ""};
        assert_int_equal(wire_encode(request_schema(WIRE_OP_SET_NAME), WIRE_OP_SET_NAME, 0, 1, &sn, buf, sizeof(buf),
                                     &len, fds, 4, &nfds),
                         0);
        assert_int_equal(len, WIRE_HEADER_SIZE + 16 + 8);
        struct wire_msg *msg = decode_ok(request_schema(WIRE_OP_SET_NAME), buf, len, NULL, 0, NULL);
        assert_int_equal(((const struct wire_set_name *)msg->body)->priority, 0);
        assert_string_equal(((const struct wire_set_name *)msg->body)->name, "");
        wire_msg_free(msg);
        assert_int_equal(nfds, 0);
}

static void test_encode_header_bytes(void **state) {
        uint8_t buf[64];
        size_t len;
        uint32_t nfds = 99;
        int fds[2] = {-7, -7};
        struct wire_fd_body b = {.fd = 0}; /* fd 0 is a valid fd, not "absent" */
        assert_int_equal(wire_encode(request_schema(WIRE_OP_BIND_SHARED_COLLECTION), 0x0203, WIRE_FLAG_REPLY,
                                     0x0a0b0c0d, &b, buf, sizeof(buf), &len, fds, 2, &nfds),
                         0);
        static const uint8_t expect[] = {
                32, 0, 0,       0, 0x03, 0x02, 1, 0, 0x0d, 0x0c, 0x0b, 0x0a, 1, 0, 0, 0, /* header */
                1,  0, WIRE_FD, 0, 4,    0,    0, 0, 0,    0,    0,    0,    0, 0, 0, 0, /* fd: index 0 */
        };
        assert_int_equal(len, sizeof(expect));
        assert_memory_equal(buf, expect, sizeof(expect));
        assert_int_equal(nfds, 1);
        assert_int_equal(fds[0], 0);
        assert_int_equal(fds[1], -7);
}

static void test_encode_errors(void **state) {
        uint8_t buf[1024];
        size_t len = 12345;
        uint32_t nfds = 54321;
        int fds[4] = {-5, -5, -5, -5};
        const struct wire_schema *set_name = request_schema(WIRE_OP_SET_NAME);

#define ENCODE(schema, body, cap, fds_cap)                                                                             \
        wire_encode((schema), 1, 0, 1, (body), buf, (cap), &len, fds, (fds_cap), &nfds)

        struct wire_set_name sn = {.priority = 1, .name = NULL};
        assert_int_equal(ENCODE(set_name, &sn, sizeof(buf), 4), -EINVAL); /* required string NULL */
        char long_name[SYSMEM_MAX_NAME_LENGTH + 2];
        memset(long_name, 'n', sizeof(long_name) - 1);
        long_name[sizeof(long_name) - 1] = 0;
        sn.name = long_name;
        assert_int_equal(ENCODE(set_name, &sn, sizeof(buf), 4), -EINVAL); /* over max */
        long_name[SYSMEM_MAX_NAME_LENGTH] = 0;
        assert_int_equal(ENCODE(set_name, &sn, sizeof(buf), 4), 0); /* exactly max */

        struct wire_fd_body fb = {.fd = -1};
        assert_int_equal(ENCODE(request_schema(WIRE_OP_BIND_SHARED_COLLECTION), &fb, sizeof(buf), 4), -EINVAL);
        fb.fd = -2;
        assert_int_equal(ENCODE(request_schema(WIRE_OP_BIND_SHARED_COLLECTION), &fb, sizeof(buf), 4), -EINVAL);
        /* Only -1 means "no fd", in optional fields too; anything else negative is a caller's bug. */
        struct wire_buffer bad_buffer = {.vmo = -2};
        struct wire_collection_info bad_info = {.buffers = &bad_buffer, .buffer_count = 1};
        strcpy(bad_info.settings.buffer_settings.heap.heap_type, SYSMEM_HEAP_SYSTEM_RAM);
        assert_int_equal(ENCODE(&wire_collection_info_schema, &bad_info, sizeof(buf), 4), -EINVAL);
        bad_buffer.vmo = -1;
        assert_int_equal(ENCODE(&wire_collection_info_schema, &bad_info, sizeof(buf), 4), 0);
        fb.fd = 5;
        assert_int_equal(ENCODE(request_schema(WIRE_OP_BIND_SHARED_COLLECTION), &fb, sizeof(buf), 0), -EMSGSIZE);

        struct outer o = {.required_ptr = NULL};
        assert_int_equal(ENCODE(&required_ptr_schema, &o, sizeof(buf), 4), -EINVAL);
        assert_int_equal(ENCODE(&unsorted_schema, &o, sizeof(buf), 4), -EINVAL);

        uint32_t masks[SYSMEM_MAX_DUPLICATES + 1] = {0};
        struct wire_duplicate_sync ds = {.rights_attenuation_masks = masks, .rights_attenuation_mask_count = 65};
        assert_int_equal(ENCODE(request_schema(WIRE_OP_DUPLICATE_SYNC), &ds, sizeof(buf), 4), -EINVAL);
        ds.rights_attenuation_masks = NULL;
        ds.rights_attenuation_mask_count = 1;
        assert_int_equal(ENCODE(request_schema(WIRE_OP_DUPLICATE_SYNC), &ds, sizeof(buf), 4), -EINVAL);

        int tokens[] = {3, -1};
        struct wire_duplicate_sync_reply dr = {.tokens = tokens, .token_count = 2};
        assert_int_equal(ENCODE(reply_schema(WIRE_OP_DUPLICATE_SYNC), &dr, sizeof(buf), 4), -EINVAL); /* no holes */
        tokens[1] = 4;
        assert_int_equal(ENCODE(reply_schema(WIRE_OP_DUPLICATE_SYNC), &dr, sizeof(buf), 1), -EMSGSIZE);

        struct sysmem_constraints c = {0};
        c.buffer_memory_constraints.cpu_domain_supported = 7;
        struct wire_set_constraints sc = {.constraints = &c};
        assert_int_equal(ENCODE(request_schema(WIRE_OP_SET_CONSTRAINTS), &sc, sizeof(buf), 4), -EINVAL);

        /* A heap_type without its NUL within char[129] is over max, not read past. */
        struct sysmem_heap heap;
        memset(heap.heap_type, 'h', sizeof(heap.heap_type));
        heap.id = 0;
        c = (struct sysmem_constraints){
                .buffer_memory_constraints = {.permitted_heaps = &heap, .permitted_heap_count = 1},
        };
        assert_int_equal(ENCODE(request_schema(WIRE_OP_SET_CONSTRAINTS), &sc, sizeof(buf), 4), -EINVAL);

        /* Too deep for the protocol, whatever the C structs allow. */
        struct node chain[WIRE_MAX_DEPTH + 1];
        for (unsigned i = 0; i < ARRAY_LEN(chain); i++)
                chain[i] = (struct node){.child = i + 1 < ARRAY_LEN(chain) ? &chain[i + 1] : NULL, .value = i};
        assert_int_equal(ENCODE(&node_schema, &chain[0], sizeof(buf), 4), -EINVAL);
        assert_int_equal(ENCODE(&node_schema, &chain[1], sizeof(buf), 4), 0);

        /* Header flags the decoder would refuse. */
        len = 12345;
        assert_int_equal(wire_encode(set_name, 1, 1u << 5, 1, &sn, buf, sizeof(buf), &len, fds, 4, &nfds), -EINVAL);
        assert_int_equal(wire_encode(set_name, 1, WIRE_FLAG_ERROR, 1, &sn, buf, sizeof(buf), &len, fds, 4, &nfds),
                         -EINVAL);
        assert_int_equal(len, 12345);

        /* Every buffer too small by any amount is -EMSGSIZE, and leaves the outputs alone. */
        struct wire_collection_info info;
        struct sample_fds sfds = {.n = 0};
        memset(&info, 0, sizeof(info));
        fill_collection_info(&sfds, &info);
        size_t full;
        uint32_t full_nfds;
        assert_int_equal(wire_encode(&wire_collection_info_schema, 49, WIRE_FLAG_REPLY, 1, &info, buf, sizeof(buf),
                                     &full, fds, 4, &full_nfds),
                         0);
        assert_int_equal(full_nfds, 3);
        for (size_t cap = 0; cap < full; cap++) {
                len = 12345;
                nfds = 54321;
                fds[0] = fds[1] = -5;
                assert_int_equal(ENCODE(&wire_collection_info_schema, &info, cap, 4), -EMSGSIZE);
                assert_int_equal(len, 12345);
                assert_int_equal(nfds, 54321);
                assert_int_equal(fds[0], -5);
        }
        fds[0] = fds[1] = -5;
        assert_int_equal(ENCODE(&wire_collection_info_schema, &info, sizeof(buf), 1), -EMSGSIZE);
        assert_int_equal(fds[0], -5);
        for (unsigned i = 0; i < sfds.n; i++)
                close(sfds.fds[i]);
#undef ENCODE
}

/* ---- transport over a real SOCK_SEQPACKET pair ---- */

static void seqpacket_pair(int sv[2]) {
        assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
}

static void test_transport_passes_fds(void **state) {
        int sv[2];
        seqpacket_pair(sv);
        int token = new_memfd();
        struct wire_fd_body body = {.fd = token};
        uint8_t buf[256];
        size_t len;
        int fds[WIRE_MAX_FDS];
        uint32_t nfds;
        assert_int_equal(wire_encode(request_schema(WIRE_OP_BIND_SHARED_COLLECTION), WIRE_OP_BIND_SHARED_COLLECTION, 0,
                                     9, &body, buf, sizeof(buf), &len, fds, WIRE_MAX_FDS, &nfds),
                         0);
        assert_int_equal(wire_send(sv[0], buf, len, fds, nfds), 0);

        uint8_t in[256];
        int rfds[8] = {-1};
        uint32_t rnfds = 0;
        assert_int_equal(wire_recv(sv[1], in, sizeof(in), rfds, 8, &rnfds), (ssize_t)len);
        assert_int_equal(rnfds, 1);
        assert_memory_equal(in, buf, len);
        assert_int_not_equal(rfds[0], token);
        assert_same_file(rfds[0], token);
        assert_true(fcntl(rfds[0], F_GETFD) & FD_CLOEXEC);

        struct wire_msg *msg = decode_ok(request_schema(WIRE_OP_BIND_SHARED_COLLECTION), in, len, rfds, rnfds, NULL);
        assert_int_equal(msg->txid, 9);
        assert_same_file(((const struct wire_fd_body *)msg->body)->fd, token);
        wire_msg_free(msg);
        assert_true(fd_is_closed(rfds[0]));

        /* Many fds in one packet, and a message without any. */
        int many[WIRE_MAX_FDS];
        for (unsigned i = 0; i < WIRE_MAX_FDS; i++)
                many[i] = token;
        assert_int_equal(wire_send(sv[0], buf, len, many, WIRE_MAX_FDS), 0);
        int rmany[WIRE_MAX_FDS];
        assert_int_equal(wire_recv(sv[1], in, sizeof(in), rmany, WIRE_MAX_FDS, &rnfds), (ssize_t)len);
        assert_int_equal(rnfds, WIRE_MAX_FDS);
        for (unsigned i = 0; i < WIRE_MAX_FDS; i++)
                close(rmany[i]);
        assert_int_equal(wire_send(sv[0], buf, len, NULL, 0), 0);
        assert_int_equal(wire_recv(sv[1], in, sizeof(in), rfds, 8, &rnfds), (ssize_t)len);
        assert_int_equal(rnfds, 0);
        assert_int_equal(wire_send(sv[0], buf, len, many, WIRE_MAX_FDS + 1), -EINVAL);

        close(token);
        close(sv[0]);
        close(sv[1]);
}

static void test_transport_oversized_packet(void **state) {
        int sv[2];
        seqpacket_pair(sv);
        uint8_t big[512], small[100];
        memset(big, 0xab, sizeof(big));
        int fds[2] = {new_memfd(), new_memfd()};
        assert_int_equal(wire_send(sv[0], big, sizeof(big), fds, 2), 0);
        assert_int_equal(wire_send(sv[0], small, 24, NULL, 0), 0);
        close(fds[0]);
        close(fds[1]);

        int open_before = util_count_open_fds();
        int rfds[8];
        uint32_t rnfds = 77;
        assert_int_equal(wire_recv(sv[1], small, sizeof(small), rfds, 8, &rnfds), -EMSGSIZE);
        assert_int_equal(rnfds, 77);
        assert_int_equal(util_count_open_fds(), open_before); /* both received fds were closed */
        /* The oversized packet is gone; the next one arrives whole. */
        assert_int_equal(wire_recv(sv[1], small, sizeof(small), rfds, 8, &rnfds), 24);
        assert_int_equal(rnfds, 0);
        close(sv[0]);
        close(sv[1]);
}

static void test_transport_rejects_bad_control_data(void **state) {
        int sv[2];
        seqpacket_pair(sv);
        uint8_t buf[64] = {0};
        int fds[3] = {new_memfd(), new_memfd(), new_memfd()};
        int rfds[8];
        uint32_t rnfds = 77;

        /* More fds than the caller has room for. */
        assert_int_equal(wire_send(sv[0], buf, 16, fds, 3), 0);
        int open_before = util_count_open_fds();
        assert_int_equal(wire_recv(sv[1], buf, sizeof(buf), rfds, 2, &rnfds), -EBADMSG);
        assert_int_equal(util_count_open_fds(), open_before);
        assert_int_equal(rnfds, 77);

        /* An empty packet that carries fds is no end of stream. */
        assert_int_equal(wire_send(sv[0], buf, 0, fds, 1), 0);
        assert_int_equal(wire_recv(sv[1], buf, sizeof(buf), rfds, 8, &rnfds), -EBADMSG);
        assert_int_equal(util_count_open_fds(), open_before);

        /*
         * Credentials the kernel adds (SO_PASSCRED) are not foreign control data: they come with the fds, and
         * wire_recv_cred says who sent the packet (the daemon attributes nodes by it).
         */
        int one = 1;
        assert_int_equal(setsockopt(sv[1], SOL_SOCKET, SO_PASSCRED, &one, sizeof(one)), 0);
        assert_int_equal(wire_send(sv[0], buf, 16, fds, 2), 0);
        struct wire_cred cred;
        assert_int_equal(wire_recv_cred(sv[1], buf, sizeof(buf), rfds, 8, &rnfds, &cred), 16);
        assert_int_equal(rnfds, 2);
        assert_true(cred.present);
        assert_int_equal(cred.pid, getpid());
        assert_int_equal(cred.uid, getuid());
        close(rfds[0]);
        close(rfds[1]);
        assert_int_equal(wire_send(sv[0], buf, 16, NULL, 0), 0); /* plain wire_recv takes them too */
        assert_int_equal(wire_recv(sv[1], buf, sizeof(buf), rfds, 8, &rnfds), 16);
        assert_int_equal(rnfds, 0);
        assert_int_equal(util_count_open_fds(), open_before);

        for (unsigned i = 0; i < 3; i++)
                close(fds[i]);
        close(sv[0]);
        close(sv[1]);
}

/*
 * wire_recv_many: several packets in one call, each with its own fds and sender; an oversized one is an
 * error of its own slot; the end of stream is the last slot (the kernel's repeats of it are not returned).
 */
static void test_transport_recv_many(void **state) {
        int sv[2];
        seqpacket_pair(sv);
        int open_before = util_count_open_fds();
        int one = 1;
        assert_int_equal(setsockopt(sv[1], SOL_SOCKET, SO_PASSCRED, &one, sizeof(one)), 0);
        static uint8_t bufs[WIRE_RX_MAX][64];
        static struct wire_rx rx[WIRE_RX_MAX];
        for (unsigned i = 0; i < WIRE_RX_MAX; i++)
                rx[i] = (struct wire_rx){.buf = bufs[i], .cap = sizeof bufs[i]};
        assert_int_equal(wire_recv_many(sv[1], rx, WIRE_RX_MAX, MSG_DONTWAIT), -EAGAIN);

        uint8_t out[128] = {1, 2, 3};
        int fd = dup(0);
        assert_true(fd >= 0);
        assert_int_equal(wire_send(sv[0], out, 16, &fd, 1), 0);
        assert_int_equal(wire_send(sv[0], out, 100, &fd, 1), 0); /* larger than its slot */
        assert_int_equal(wire_send(sv[0], out, 24, NULL, 0), 0);
        close(fd);
        close(sv[0]);
        assert_int_equal(wire_recv_many(sv[1], rx, WIRE_RX_MAX, MSG_DONTWAIT), 4);
        assert_int_equal(rx[0].len, 16);
        assert_int_equal(rx[0].nfds, 1);
        assert_true(rx[0].cred.present);
        assert_int_equal(rx[0].cred.pid, getpid());
        close(rx[0].fds[0]);
        assert_int_equal(rx[1].len, -EMSGSIZE);
        assert_int_equal(rx[1].nfds, 0); /* closed with the packet */
        assert_int_equal(rx[2].len, 24);
        assert_int_equal(rx[2].nfds, 0);
        assert_int_equal(rx[3].len, 0);
        assert_int_equal(util_count_open_fds(), open_before - 1); /* sv[0] is closed */
        close(sv[1]);
}

static void test_transport_eof_eagain_epipe(void **state) {
        int sv[2];
        seqpacket_pair(sv);
        uint8_t buf[64] = {0};
        int rfds[8];
        uint32_t rnfds;

        /* Nonblocking because the socket says so, not because wire_recv forces it. */
        assert_int_equal(fcntl(sv[1], F_SETFL, O_NONBLOCK), 0);
        assert_int_equal(wire_recv(sv[1], buf, sizeof(buf), rfds, 8, &rnfds), -EAGAIN);

        close(sv[0]);
        assert_int_equal(wire_recv(sv[1], buf, sizeof(buf), rfds, 8, &rnfds), 0);
        assert_int_equal(rnfds, 0);
        close(sv[1]);

        /*
         * Writing to a closed peer is -EPIPE. (This kernel raises no SIGPIPE for SEQPACKET sockets
         * anyway; wire_send's MSG_NOSIGNAL is for those that would, and this test cannot see it.)
         */
        seqpacket_pair(sv);
        close(sv[1]);
        assert_int_equal(wire_send(sv[0], buf, 16, NULL, 0), -EPIPE);
        close(sv[0]);
}

/* ---- docs/protocol.md stays true: its message tables are generated from the schemas ---- */

static void print_objects(FILE *f, uint8_t objects) {
        static const char *const names[] = {"allocator", "token", "collection", "group"};
        const char *sep = "";
        for (unsigned i = 0; i < ARRAY_LEN(names); i++)
                if (objects & (1u << i)) {
                        fprintf(f, "%s%s", sep, names[i]);
                        sep = ", ";
                }
}

static const char *doc_type_name(uint8_t type) {
        switch (type) {
        case WIRE_U32:
                return "u32";
        case WIRE_U64:
                return "u64";
        case WIRE_BOOL:
                return "bool";
        case WIRE_STRING:
                return "string";
        case WIRE_FD:
                return "fd";
        case WIRE_TABLE:
                return "table";
        case WIRE_TABLE_ARRAY:
                return "table_array";
        case WIRE_U32_ARRAY:
                return "u32_array";
        case WIRE_U64_ARRAY:
                return "u64_array";
        case WIRE_FD_ARRAY:
                return "fd_array";
        case WIRE_RECORD:
                return "record";
        case WIRE_RECORD_ARRAY:
                return "record_array";
        default:
                return "?";
        }
}

static void collect_schema(const struct wire_schema *s, const struct wire_schema **list, size_t *n, size_t cap) {
        for (size_t i = 0; i < *n; i++)
                if (list[i] == s)
                        return;
        assert_true(*n < cap);
        list[(*n)++] = s;
        for (uint32_t i = 0; i < s->field_count; i++)
                if (s->fields[i].table)
                        collect_schema(s->fields[i].table, list, n, cap);
}

static void print_protocol_tables(FILE *f) {
        fprintf(f, "| opcode | message | accepted by | kind | request | reply |\n");
        fprintf(f, "| --- | --- | --- | --- | --- | --- |\n");
        for (size_t i = 0; i < wire_message_count; i++) {
                const struct wire_message_def *d = &wire_messages[i];
                fprintf(f, "| %u (0x%04x) | %s | ", d->opcode, d->opcode, d->name);
                print_objects(f, d->objects);
                const char *kind = wire_message_is_event(d) ? "event (server to client)"
                                   : d->two_way             ? "two-way"
                                                            : "one-way";
                fprintf(f, " | %s | `%s` | ", kind, d->request->name);
                if (d->reply)
                        fprintf(f, "`%s` |\n", d->reply->name);
                else
                        fprintf(f, "none |\n");
        }

        const struct wire_schema *list[64];
        size_t n = 0;
        for (size_t i = 0; i < wire_message_count; i++) {
                collect_schema(wire_messages[i].request, list, &n, ARRAY_LEN(list));
                if (wire_messages[i].reply)
                        collect_schema(wire_messages[i].reply, list, &n, ARRAY_LEN(list));
        }
        collect_schema(&wire_error_schema, list, &n, ARRAY_LEN(list));

        for (size_t i = 0; i < n; i++) {
                const struct wire_schema *s = list[i];
                fprintf(f, "\n#### Table `%s`\n\n", s->name);
                if (s->field_count == 0) {
                        fprintf(f, "No fields: the body is empty.\n");
                        continue;
                }
                fprintf(f, "| tag | field | type | required | max | absent means |\n");
                fprintf(f, "| --- | --- | --- | --- | --- | --- |\n");
                for (uint32_t j = 0; j < s->field_count; j++) {
                        const struct wire_field *fl = &s->fields[j];
                        fprintf(f, "| %u | %s | %s", fl->tag, fl->name, doc_type_name(fl->type));
                        if (fl->table)
                                fprintf(f, " of `%s`", fl->table->name);
                        fprintf(f, " | %s | ", fl->flags & WIRE_F_REQUIRED ? "yes" : "no");
                        if (fl->max)
                                fprintf(f, "%u%s", fl->max, fl->type == WIRE_STRING ? " bytes" : " elements");
                        else if (fl->type >= WIRE_TABLE_ARRAY && fl->type != WIRE_RECORD)
                                fprintf(f, "max_array_elements");
                        else
                                fprintf(f, "-");
                        fprintf(f, " | ");
                        if (fl->flags & WIRE_F_REQUIRED)
                                fprintf(f, "message invalid");
                        else if (fl->flags & WIRE_F_PRESENCE)
                                fprintf(f, "not present (a present 0 is a value)");
                        else if (fl->type == WIRE_RECORD)
                                fprintf(f, "every member 0");
                        else if (fl->flags & WIRE_F_TRISTATE)
                                fprintf(f, "unset");
                        else if (fl->type == WIRE_FD)
                                fprintf(f, "no fd");
                        else if (fl->type == WIRE_TABLE && (fl->flags & WIRE_F_TABLE_PTR))
                                fprintf(f, "no table");
                        else if (fl->type == WIRE_TABLE)
                                fprintf(f, "every field absent");
                        else if (fl->type == WIRE_BOOL)
                                fprintf(f, "false");
                        else if (fl->type == WIRE_STRING)
                                fprintf(f, "empty");
                        else if (fl->type >= WIRE_TABLE_ARRAY && fl->type != WIRE_RECORD)
                                fprintf(f, "no elements");
                        else
                                fprintf(f, "0");
                        fprintf(f, " |\n");
                }
        }
}

/* Worked examples: the bytes come from the encoder, the notes beside each 8-byte row are fixed. */
static void print_hex_example(FILE *f, const char *title, const struct wire_schema *schema, uint16_t opcode,
                              uint16_t flags, uint32_t txid, const void *body, const char *const *notes,
                              size_t note_count) {
        uint8_t buf[256];
        size_t len;
        int fds[4];
        uint32_t nfds;
        assert_int_equal(wire_encode(schema, opcode, flags, txid, body, buf, sizeof(buf), &len, fds, 4, &nfds), 0);
        assert_int_equal(len / 8, note_count);
        fprintf(f, "%s (%zu bytes%s):\n\n```\n", title, len, nfds ? ", 1 fd in SCM_RIGHTS" : "");
        for (size_t off = 0; off < len; off += 8) {
                fprintf(f, "%04zx  ", off);
                for (size_t i = off; i < off + 8; i++)
                        fprintf(f, "%02x ", buf[i]);
                fprintf(f, " %s\n", notes[off / 8]);
        }
        fprintf(f, "```\n");
}

static void print_protocol_examples(FILE *f) {
        struct wire_set_name set_name = {.priority = 10, .name = "preview"};
        static const char *const set_name_notes[] = {
                "header: size 48, opcode 18 (SetName), flags 0",
                "header: txid 0 (one-way), nfds 0",
                "field: tag 1 (priority), type 1 (u32), flags 0, length 4",
                "value 10, 4 bytes of padding",
                "field: tag 2 (name), type 4 (string), flags 0, length 7",
                "\"preview\", 1 byte of padding",
        };
        print_hex_example(f, "SetName(priority 10, name \"preview\") on a token or collection socket",
                          request_schema(WIRE_OP_SET_NAME), WIRE_OP_SET_NAME, 0, 0, &set_name, set_name_notes,
                          ARRAY_LEN(set_name_notes));

        struct wire_duplicate duplicate = {.rights_attenuation_mask = SYSMEM_RIGHT_READ | SYSMEM_RIGHT_MAP};
        static const char *const duplicate_notes[] = {
                "header: size 32, opcode 32 (Duplicate), flags 0",
                "header: txid 1, nfds 0",
                "field: tag 1 (rights_attenuation_mask), type 1 (u32), flags 0, length 4",
                "value 0x24 (READ | MAP), padding",
        };
        fprintf(f, "\n");
        print_hex_example(f, "Duplicate(rights_attenuation_mask READ | MAP) on a token socket",
                          request_schema(WIRE_OP_DUPLICATE), WIRE_OP_DUPLICATE, 0, 1, &duplicate, duplicate_notes,
                          ARRAY_LEN(duplicate_notes));

        struct wire_fd_body token = {.fd = 0};
        static const char *const reply_notes[] = {
                "header: size 32, opcode 32 (Duplicate), flags 1 (REPLY)",
                "header: txid 1 (the request's), nfds 1",
                "field: tag 1 (fd), type 5 (fd), flags 0, length 4",
                "fd index 0: the first fd of the packet, the new token",
        };
        fprintf(f, "\n");
        print_hex_example(f, "Its reply", reply_schema(WIRE_OP_DUPLICATE), WIRE_OP_DUPLICATE, WIRE_FLAG_REPLY, 1,
                          &token, reply_notes, ARRAY_LEN(reply_notes));

        struct wire_error_body error = {.error = SYSMEM_ERROR_NO_MEMORY, .message = "too many nodes"};
        static const char *const error_notes[] = {
                "header: size 56, opcode 32 (Duplicate), flags 3 (REPLY | ERROR)",
                "header: txid 1, nfds 0",
                "field: tag 1 (error), type 1 (u32), flags 0, length 4",
                "value 5 (NO_MEMORY), padding",
                "field: tag 2 (message), type 4 (string), flags 0, length 14",
                "\"too many\"",
                "\" nodes\", 2 bytes of padding",
        };
        fprintf(f, "\n");
        print_hex_example(f, "Or, had it failed, an error reply", &wire_error_schema, WIRE_OP_DUPLICATE,
                          WIRE_FLAG_REPLY | WIRE_FLAG_ERROR, 1, &error, error_notes, ARRAY_LEN(error_notes));

        struct wire_error_body epitaph = {.error = SYSMEM_ERROR_PROTOCOL_DEVIATION, .message = "unknown opcode 99"};
        static const char *const epitaph_notes[] = {
                "header: size 64, opcode 0xfff0 (Epitaph), flags 4 (EVENT)",
                "header: txid 0 (an event), nfds 0",
                "field: tag 1 (error), type 1 (u32), flags 0, length 4",
                "value 2 (PROTOCOL_DEVIATION), padding",
                "field: tag 2 (message), type 4 (string), flags 0, length 17",
                "\"unknown \"",
                "\"opcode 9\"",
                "\"9\", 7 bytes of padding",
        };
        fprintf(f, "\n");
        print_hex_example(f, "An epitaph: the last message on a socket whose object failed", &wire_error_schema,
                          WIRE_OP_EPITAPH, WIRE_FLAG_EVENT, 0, &epitaph, epitaph_notes, ARRAY_LEN(epitaph_notes));
}

static char *read_file(const char *path) {
        FILE *doc = fopen(path, "re");
        if (!doc)
                return NULL;
        char *text = NULL;
        size_t text_size = 0;
        FILE *out = open_memstream(&text, &text_size);
        assert_non_null(out);
        char chunk[4096];
        size_t got;
        while ((got = fread(chunk, 1, sizeof(chunk), doc)) > 0)
                fwrite(chunk, 1, got, out);
        fclose(doc);
        assert_int_equal(fclose(out), 0);
        return text;
}

static char *print_to_string(void (*print)(FILE *f)) {
        char *s = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&s, &size);
        assert_non_null(f);
        print(f);
        assert_int_equal(fclose(f), 0);
        return s;
}

static void test_protocol_doc_matches_schemas(void **state) {
        char *text = read_file(PROTOCOL_DOC);
        if (!text)
                fail_msg("cannot open %s: %s", PROTOCOL_DOC, strerror(errno));
        char *tables = print_to_string(print_protocol_tables);
        char *examples = print_to_string(print_protocol_examples);
        char *constants = print_to_string(protocol_doc_print_constants);
        bool tables_ok = strstr(text, tables), examples_ok = strstr(text, examples);
        bool constants_ok = strstr(text, constants);
        free(text);
        free(tables);
        free(examples);
        free(constants);
        if (!tables_ok)
                fail_msg("docs/protocol.md is out of date with src/wire/messages.c: paste the output of "
                         "`test-wire --print-protocol-tables` between its GENERATED markers");
        if (!examples_ok)
                fail_msg("docs/protocol.md's examples no longer match the encoder: paste the output of "
                         "`test-wire --print-protocol-examples` between its GENERATED markers");
        if (!constants_ok)
                fail_msg("docs/protocol.md's numbers are out of date with src/wire/constants.c (or the image-format "
                         "tables): paste the output of `test-wire --print-protocol-constants` between its GENERATED "
                         "markers");
}

/* docs/protocol.json is exactly what --print-protocol-json writes. */
static void test_protocol_json_matches_schemas(void **state) {
        char *text = read_file(PROTOCOL_JSON);
        if (!text)
                fail_msg("cannot open %s: %s", PROTOCOL_JSON, strerror(errno));
        char *json = print_to_string(protocol_doc_print_json);
        bool ok = strcmp(text, json) == 0;
        free(text);
        free(json);
        if (!ok)
                fail_msg("docs/protocol.json is out of date: regenerate it with "
                         "`test-wire --print-protocol-json > docs/protocol.json`");
}

/* Every enum member and constant the headers define for a documented group is in src/wire/constants.c. */
static void test_constants_cover_the_headers(void **state) {
        char err[512] = "";
        if (protocol_doc_check_headers(SOURCE_ROOT, err, sizeof err) < 0)
                fail_msg("%s", err);
}

/* The computed maxima agree with the encoder: a message filled to every max encodes to exactly that size. */
static void test_max_sizes_are_exact(void **state) {
        /* error: a 1024-byte message; SetName: a 64-byte name. */
        char message[WIRE_MAX_ERROR_MESSAGE + 1];
        memset(message, 'x', WIRE_MAX_ERROR_MESSAGE);
        message[WIRE_MAX_ERROR_MESSAGE] = '\0';
        struct wire_error_body error = {.error = SYSMEM_ERROR_NO_MEMORY, .message = message};
        static uint8_t buf[4096];
        size_t len;
        int fds[4];
        uint32_t nfds;
        assert_int_equal(wire_encode(&wire_error_schema, WIRE_OP_EPITAPH, WIRE_FLAG_EVENT, 0, &error, buf, sizeof buf,
                                     &len, fds, 4, &nfds), 0);
        assert_int_equal(len, protocol_doc_max_bytes(&wire_error_schema));
        assert_int_equal(protocol_doc_max_fds(&wire_error_schema), 0);

        char name[SYSMEM_MAX_NAME_LENGTH + 1];
        memset(name, 'n', SYSMEM_MAX_NAME_LENGTH);
        name[SYSMEM_MAX_NAME_LENGTH] = '\0';
        struct wire_set_name set_name = {.priority = 1, .name = name};
        assert_int_equal(wire_encode(request_schema(WIRE_OP_SET_NAME), WIRE_OP_SET_NAME, 0, 0, &set_name, buf,
                                     sizeof buf, &len, fds, 4, &nfds), 0);
        assert_int_equal(len, protocol_doc_max_bytes(request_schema(WIRE_OP_SET_NAME)));

        /* DuplicateSync's reply: 64 fds; AllocateSharedCollection's: the token and 64 duplicates. */
        assert_int_equal(protocol_doc_max_fds(reply_schema(WIRE_OP_DUPLICATE_SYNC)), SYSMEM_MAX_DUPLICATES);
        assert_int_equal(protocol_doc_max_fds(reply_schema(WIRE_OP_ALLOCATE_SHARED_COLLECTION)),
                         SYSMEM_MAX_DUPLICATES + 1);
        assert_int_equal(protocol_doc_max_fds(reply_schema(WIRE_OP_WAIT_FOR_ALL_BUFFERS_ALLOCATED)),
                         SYSMEM_MAX_BUFFERS + 1);
}

int main(int argc, char **argv) {
        /*
         * docs/protocol.md quotes the tables, examples and constants; docs/protocol.json is the JSON. The
         * test_protocol_* tests check that they still do.
         */
        if (argc == 2 && strcmp(argv[1], "--print-protocol-tables") == 0) {
                print_protocol_tables(stdout);
                return 0;
        }
        if (argc == 2 && strcmp(argv[1], "--print-protocol-examples") == 0) {
                print_protocol_examples(stdout);
                return 0;
        }
        if (argc == 2 && strcmp(argv[1], "--print-protocol-constants") == 0) {
                protocol_doc_print_constants(stdout);
                return 0;
        }
        if (argc == 2 && strcmp(argv[1], "--print-protocol-json") == 0) {
                protocol_doc_print_json(stdout);
                return 0;
        }
        /* A dead peer must show up as EPIPE from wire_send, whatever the disposition; test it at default. */
        signal(SIGPIPE, SIG_DFL);

#define T(f) cmocka_unit_test_setup_teardown(f, count_fds_setup, check_fds_teardown)
        const struct CMUnitTest tests[] = {
                T(test_message_table_is_consistent),
                T(test_schemas_are_well_formed),
                T(test_round_trip_every_message),
                T(test_malformed_is_rejected),
                T(test_unknown_optional_fields_are_skipped),
                T(test_absent_fields_read_as_defaults),
                T(test_limits_are_inclusive),
                T(test_round_trip_every_type),
                T(test_decode_rejects_bad_arguments),
                T(test_peek_header),
                T(test_take_fd),
                T(test_encode_omits_absent_fields),
                T(test_encode_header_bytes),
                T(test_encode_errors),
                T(test_transport_passes_fds),
                T(test_transport_recv_many),
                T(test_transport_oversized_packet),
                T(test_transport_rejects_bad_control_data),
                T(test_transport_eof_eagain_epipe),
                T(test_protocol_doc_matches_schemas),
                T(test_protocol_json_matches_schemas),
                T(test_constants_cover_the_headers),
                T(test_max_sizes_are_exact),
        };
#undef T
        return cmocka_run_group_tests(tests, NULL, NULL);
}
