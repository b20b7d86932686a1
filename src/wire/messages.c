/* messages.c: the schemas of every sysmem message, as data; the codec in codec.c reads only these. */
#include "messages.h"

#include <stddef.h>

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define SCHEMA(sname, ctype, farray)                                                                                  \
        {                                                                                                              \
                .name = sname, .struct_size = sizeof(ctype), .field_count = ARRAY_LEN(farray), .fields = farray,       \
        }

/* ---- shared pieces ---- */

static const struct wire_field empty_fields[1] = {{0}};
static const struct wire_schema empty_schema = {
        .name = "empty", .struct_size = sizeof(struct wire_empty), .field_count = 0, .fields = empty_fields};

static const struct wire_field fd_fields[] = {
        {.tag = 1, .type = WIRE_FD, .flags = WIRE_F_REQUIRED, .name = "fd",
         .offset = offsetof(struct wire_fd_body, fd)},
};
static const struct wire_schema fd_schema = SCHEMA("fd", struct wire_fd_body, fd_fields);

static const struct wire_field error_fields[] = {
        {.tag = 1, .type = WIRE_U32, .flags = WIRE_F_REQUIRED, .name = "error",
         .offset = offsetof(struct wire_error_body, error)},
        {.tag = 2, .type = WIRE_STRING, .name = "message", .offset = offsetof(struct wire_error_body, message),
         .max = WIRE_MAX_ERROR_MESSAGE},
};
const struct wire_schema wire_error_schema = SCHEMA("error", struct wire_error_body, error_fields);

static const struct wire_field allocate_shared_fields[] = {
        {.tag = 1, .type = WIRE_U32_ARRAY, .name = "rights_attenuation_masks",
         .offset = offsetof(struct wire_allocate_shared, rights_attenuation_masks),
         .count_offset = offsetof(struct wire_allocate_shared, rights_attenuation_mask_count),
         .max = SYSMEM_MAX_DUPLICATES},
        {.tag = 2, .type = WIRE_U32, .name = "spares_wanted", .offset = offsetof(struct wire_allocate_shared,
                                                                                 spares_wanted)},
};
static const struct wire_schema allocate_shared_schema = SCHEMA("allocate_shared", struct wire_allocate_shared,
                                                                allocate_shared_fields);

static const struct wire_field allocate_shared_reply_fields[] = {
        {.tag = 1, .type = WIRE_FD, .flags = WIRE_F_REQUIRED, .name = "token",
         .offset = offsetof(struct wire_allocate_shared_reply, token)},
        {.tag = 2, .type = WIRE_FD_ARRAY, .name = "duplicates",
         .offset = offsetof(struct wire_allocate_shared_reply, duplicates),
         .count_offset = offsetof(struct wire_allocate_shared_reply, duplicate_count), .max = SYSMEM_MAX_DUPLICATES},
};
static const struct wire_schema allocate_shared_reply_schema = SCHEMA(
        "allocate_shared_reply", struct wire_allocate_shared_reply, allocate_shared_reply_fields);

static const struct wire_field spare_ends_fields[] = {
        {.tag = 1, .type = WIRE_U64_ARRAY, .flags = WIRE_F_REQUIRED, .name = "ids",
         .offset = offsetof(struct wire_spare_ends, ids), .count_offset = offsetof(struct wire_spare_ends, id_count),
         .max = WIRE_MAX_SPARES},
        {.tag = 2, .type = WIRE_FD_ARRAY, .flags = WIRE_F_REQUIRED, .name = "ends",
         .offset = offsetof(struct wire_spare_ends, ends), .count_offset = offsetof(struct wire_spare_ends, end_count),
         .max = WIRE_MAX_SPARES},
};
static const struct wire_schema spare_ends_schema = SCHEMA("spare_ends", struct wire_spare_ends, spare_ends_fields);

static const struct wire_field from_spares_fields[] = {
        {.tag = 1, .type = WIRE_U64_ARRAY, .flags = WIRE_F_REQUIRED, .name = "spare_ids",
         .offset = offsetof(struct wire_allocate_from_spares, spare_ids),
         .count_offset = offsetof(struct wire_allocate_from_spares, spare_id_count), .max = WIRE_MAX_SPARES},
        {.tag = 2, .type = WIRE_U32_ARRAY, .name = "rights_attenuation_masks",
         .offset = offsetof(struct wire_allocate_from_spares, rights_attenuation_masks),
         .count_offset = offsetof(struct wire_allocate_from_spares, rights_attenuation_mask_count),
         .max = WIRE_MAX_SPARES},
};
static const struct wire_schema from_spares_schema = SCHEMA("allocate_from_spares", struct wire_allocate_from_spares,
                                                            from_spares_fields);

static const struct wire_field debug_info_fields[] = {
        {.tag = 1, .type = WIRE_STRING, .flags = WIRE_F_REQUIRED, .name = "name",
         .offset = offsetof(struct wire_debug_client_info, name), .max = SYSMEM_MAX_CLIENT_NAME_LENGTH},
        {.tag = 2, .type = WIRE_U64, .name = "id", .offset = offsetof(struct wire_debug_client_info, id)},
};
static const struct wire_schema debug_info_schema = SCHEMA("debug_client_info", struct wire_debug_client_info,
                                                           debug_info_fields);

static const struct wire_field set_name_fields[] = {
        {.tag = 1, .type = WIRE_U32, .flags = WIRE_F_REQUIRED, .name = "priority",
         .offset = offsetof(struct wire_set_name, priority)},
        {.tag = 2, .type = WIRE_STRING, .flags = WIRE_F_REQUIRED, .name = "name",
         .offset = offsetof(struct wire_set_name, name), .max = SYSMEM_MAX_NAME_LENGTH},
};
static const struct wire_schema set_name_schema = SCHEMA("set_name", struct wire_set_name, set_name_fields);

static const struct wire_field validate_reply_fields[] = {
        {.tag = 1, .type = WIRE_BOOL, .flags = WIRE_F_REQUIRED, .name = "is_known",
         .offset = offsetof(struct wire_validate_reply, is_known)},
};
static const struct wire_schema validate_reply_schema = SCHEMA("validate_reply", struct wire_validate_reply,
                                                               validate_reply_fields);

static const struct wire_field collection_id_fields[] = {
        {.tag = 1, .type = WIRE_U64, .flags = WIRE_F_REQUIRED, .name = "buffer_collection_id",
         .offset = offsetof(struct wire_collection_id_reply, buffer_collection_id)},
};
static const struct wire_schema collection_id_schema = SCHEMA("collection_id_reply", struct wire_collection_id_reply,
                                                              collection_id_fields);

static const struct wire_field duplicate_fields[] = {
        {.tag = 1, .type = WIRE_U32, .flags = WIRE_F_REQUIRED, .name = "rights_attenuation_mask",
         .offset = offsetof(struct wire_duplicate, rights_attenuation_mask)},
};
static const struct wire_schema duplicate_schema = SCHEMA("duplicate", struct wire_duplicate, duplicate_fields);

static const struct wire_field duplicate_sync_fields[] = {
        {.tag = 1, .type = WIRE_U32_ARRAY, .flags = WIRE_F_REQUIRED, .name = "rights_attenuation_masks",
         .offset = offsetof(struct wire_duplicate_sync, rights_attenuation_masks),
         .count_offset = offsetof(struct wire_duplicate_sync, rights_attenuation_mask_count),
         .max = SYSMEM_MAX_DUPLICATES},
};
static const struct wire_schema duplicate_sync_schema = SCHEMA("duplicate_sync", struct wire_duplicate_sync,
                                                               duplicate_sync_fields);

static const struct wire_field duplicate_sync_reply_fields[] = {
        {.tag = 1, .type = WIRE_FD_ARRAY, .flags = WIRE_F_REQUIRED, .name = "tokens",
         .offset = offsetof(struct wire_duplicate_sync_reply, tokens),
         .count_offset = offsetof(struct wire_duplicate_sync_reply, token_count), .max = SYSMEM_MAX_DUPLICATES},
};
static const struct wire_schema duplicate_sync_reply_schema = SCHEMA(
        "duplicate_sync_reply", struct wire_duplicate_sync_reply, duplicate_sync_reply_fields);

static const struct wire_field deadline_fields[] = {
        {.tag = 1, .type = WIRE_U64, .flags = WIRE_F_REQUIRED, .name = "deadline",
         .offset = offsetof(struct wire_deadline, deadline)},
};
static const struct wire_schema deadline_schema = SCHEMA("deadline", struct wire_deadline, deadline_fields);

static const struct wire_field is_alternate_fields[] = {
        {.tag = 1, .type = WIRE_BOOL, .flags = WIRE_F_REQUIRED, .name = "is_alternate",
         .offset = offsetof(struct wire_is_alternate_reply, is_alternate)},
};
static const struct wire_schema is_alternate_schema = SCHEMA("is_alternate_reply", struct wire_is_alternate_reply,
                                                             is_alternate_fields);

static const struct wire_field set_weak_ok_fields[] = {
        {.tag = 1, .type = WIRE_BOOL, .name = "for_child_nodes_also",
         .offset = offsetof(struct wire_set_weak_ok, for_child_nodes_also)},
};
static const struct wire_schema set_weak_ok_schema = SCHEMA("set_weak_ok", struct wire_set_weak_ok,
                                                            set_weak_ok_fields);

/* Tag 1 (server_end, an fd the client made) is gone: the daemon makes the pair and replies with one end. */
static const struct wire_field lifetime_fields[] = {
        {.tag = 2, .type = WIRE_U32, .flags = WIRE_F_REQUIRED | WIRE_F_PRESENCE, .name = "buffers_remaining",
         .offset = offsetof(struct wire_attach_lifetime_tracking, buffers_remaining),
         .count_offset = offsetof(struct wire_attach_lifetime_tracking, has_buffers_remaining)},
};
static const struct wire_schema lifetime_schema = SCHEMA("attach_lifetime_tracking",
                                                         struct wire_attach_lifetime_tracking, lifetime_fields);

static const struct wire_field vmo_info_fields[] = {
        {.tag = 1, .type = WIRE_U64, .flags = WIRE_F_REQUIRED, .name = "buffer_collection_id",
         .offset = offsetof(struct wire_vmo_info_reply, buffer_collection_id)},
        {.tag = 2, .type = WIRE_U64, .flags = WIRE_F_REQUIRED | WIRE_F_PRESENCE, .name = "buffer_index",
         .offset = offsetof(struct wire_vmo_info_reply, buffer_index),
         .count_offset = offsetof(struct wire_vmo_info_reply, has_buffer_index)},
        {.tag = 3, .type = WIRE_FD, .name = "close_weak_asap", .offset = offsetof(struct wire_vmo_info_reply,
                                                                                   close_weak_asap)},
};
static const struct wire_schema vmo_info_schema = SCHEMA("vmo_info_reply", struct wire_vmo_info_reply,
                                                         vmo_info_fields);

#define HI(f) offsetof(struct sysmem_heap_info, f)
static const struct wire_field heap_info_fields[] = {
        {.tag = 1, .type = WIRE_STRING, .flags = WIRE_F_REQUIRED | WIRE_F_INLINE, .name = "heap_type",
         .offset = HI(heap.heap_type), .max = SYSMEM_MAX_HEAP_TYPE_LENGTH},
        {.tag = 2, .type = WIRE_U64, .name = "id", .offset = HI(heap.id)},
        {.tag = 3, .type = WIRE_U32, .name = "flags", .offset = HI(flags)},
        {.tag = 4, .type = WIRE_U64, .name = "max_buffer_bytes", .offset = HI(max_buffer_bytes)},
        {.tag = 5, .type = WIRE_STRING, .flags = WIRE_F_INLINE, .name = "backend", .offset = HI(backend),
         .max = sizeof(((struct sysmem_heap_info *)0)->backend) - 1},
        {.tag = 6, .type = WIRE_STRING, .flags = WIRE_F_INLINE, .name = "device", .offset = HI(device),
         .max = SYSMEM_MAX_HEAP_DEVICE_LENGTH},
};
#undef HI
static const struct wire_schema heap_info_schema = SCHEMA("heap_info", struct sysmem_heap_info, heap_info_fields);

static const struct wire_field server_info_request_fields[] = {
        {.tag = 1, .type = WIRE_U32, .name = "protocol_version",
         .offset = offsetof(struct wire_server_info_request, protocol_version)},
};
static const struct wire_schema server_info_request_schema = SCHEMA("server_info_request",
                                                                    struct wire_server_info_request,
                                                                    server_info_request_fields);
static const struct wire_field server_info_reply_fields[] = {
        {.tag = 1, .type = WIRE_U32, .flags = WIRE_F_REQUIRED, .name = "protocol_version",
         .offset = offsetof(struct wire_server_info_reply, protocol_version)},
        {.tag = 2, .type = WIRE_U32, .name = "min_protocol_version",
         .offset = offsetof(struct wire_server_info_reply, min_protocol_version)},
        {.tag = 3, .type = WIRE_U64, .name = "features", .offset = offsetof(struct wire_server_info_reply, features)},
        {.tag = 4, .type = WIRE_STRING, .name = "version", .offset = offsetof(struct wire_server_info_reply, version),
         .max = 31},
};
static const struct wire_schema server_info_reply_schema = SCHEMA("server_info_reply", struct wire_server_info_reply,
                                                                  server_info_reply_fields);

static const struct wire_field heaps_reply_fields[] = {
        {.tag = 1, .type = WIRE_TABLE_ARRAY, .name = "heaps", .offset = offsetof(struct wire_heaps_reply, heaps),
         .count_offset = offsetof(struct wire_heaps_reply, heap_count), .max = SYSMEM_MAX_HEAPS,
         .table = &heap_info_schema},
};
static const struct wire_schema heaps_reply_schema = SCHEMA("heaps_reply", struct wire_heaps_reply,
                                                            heaps_reply_fields);

static const struct wire_field diag_request_fields[] = {
        {.tag = 1, .type = WIRE_U64, .name = "start_after_id", .offset = offsetof(struct wire_diag_request,
                                                                                  start_after_id)},
};
static const struct wire_schema diag_request_schema = SCHEMA("diagnostics_request", struct wire_diag_request,
                                                             diag_request_fields);

#define DN(f) offsetof(struct wire_diag_node, f)
static const struct wire_field diag_node_fields[] = {
        {.tag = 1, .type = WIRE_U32, .name = "index", .offset = DN(index)},
        {.tag = 2, .type = WIRE_U32, .name = "parent", .offset = DN(parent)},
        {.tag = 3, .type = WIRE_U32, .name = "kind", .offset = DN(kind)},
        {.tag = 4, .type = WIRE_U32, .name = "flags", .offset = DN(flags)},
        {.tag = 5, .type = WIRE_STRING, .name = "debug_name", .offset = DN(debug_name),
         .max = SYSMEM_MAX_CLIENT_NAME_LENGTH},
        {.tag = 6, .type = WIRE_U64, .name = "debug_id", .offset = DN(debug_id)},
        {.tag = 7, .type = WIRE_U64, .name = "bytes", .offset = DN(bytes)},
        {.tag = 8, .type = WIRE_U32, .name = "pid", .offset = DN(pid)},
        {.tag = 9, .type = WIRE_U32, .flags = WIRE_F_PRESENCE, .name = "uid", .offset = DN(uid),
         .count_offset = DN(has_sender)},
        {.tag = 10, .type = WIRE_STRING, .name = "comm", .offset = DN(comm), .max = 15},
};
#undef DN
static const struct wire_schema diag_node_schema = SCHEMA("diagnostics_node", struct wire_diag_node,
                                                          diag_node_fields);

#define DC(f) offsetof(struct wire_diag_collection, f)
static const struct wire_field diag_collection_fields[] = {
        {.tag = 1, .type = WIRE_U64, .flags = WIRE_F_REQUIRED, .name = "id", .offset = DC(id)},
        {.tag = 2, .type = WIRE_STRING, .name = "name", .offset = DC(name), .max = SYSMEM_MAX_NAME_LENGTH},
        {.tag = 3, .type = WIRE_U32, .name = "state", .offset = DC(state)},
        {.tag = 4, .type = WIRE_U32, .name = "buffer_count", .offset = DC(buffer_count)},
        {.tag = 5, .type = WIRE_U64, .name = "size_bytes", .offset = DC(size_bytes)},
        {.tag = 6, .type = WIRE_U64, .name = "raw_vmo_size", .offset = DC(raw_vmo_size)},
        {.tag = 7, .type = WIRE_STRING, .name = "heap", .offset = DC(heap), .max = SYSMEM_MAX_HEAP_TYPE_LENGTH},
        {.tag = 8, .type = WIRE_U32, .name = "pixel_format", .offset = DC(pixel_format)},
        {.tag = 9, .type = WIRE_U64, .flags = WIRE_F_PRESENCE, .name = "pixel_format_modifier",
         .offset = DC(pixel_format_modifier), .count_offset = DC(has_pixel_format_modifier)},
        {.tag = 10, .type = WIRE_U64, .name = "age_usec", .offset = DC(age_usec)},
        {.tag = 11, .type = WIRE_TABLE_ARRAY, .name = "nodes", .offset = DC(nodes), .count_offset = DC(node_count),
         .max = 4096, .table = &diag_node_schema},
        {.tag = 12, .type = WIRE_U32, .name = "weak_count", .offset = DC(weak_count)},
        {.tag = 13, .type = WIRE_U32, .name = "strong_count", .offset = DC(strong_count)},
        {.tag = 14, .type = WIRE_U32, .name = "owner_pid", .offset = DC(owner_pid)},
        {.tag = 15, .type = WIRE_U32, .flags = WIRE_F_PRESENCE, .name = "owner_uid", .offset = DC(owner_uid),
         .count_offset = DC(has_owner)},
        {.tag = 16, .type = WIRE_STRING, .name = "owner_comm", .offset = DC(owner_comm), .max = 15},
};
#undef DC
static const struct wire_schema diag_collection_schema = SCHEMA("diagnostics_collection",
                                                                struct wire_diag_collection, diag_collection_fields);

static const struct wire_field diag_reply_fields[] = {
        {.tag = 1, .type = WIRE_TABLE_ARRAY, .name = "collections", .offset = offsetof(struct wire_diag_reply,
                                                                                       collections),
         .count_offset = offsetof(struct wire_diag_reply, collection_count), .max = 4096,
         .table = &diag_collection_schema},
        {.tag = 2, .type = WIRE_BOOL, .name = "more", .offset = offsetof(struct wire_diag_reply, more)},
        {.tag = 3, .type = WIRE_U64, .name = "total_bytes", .offset = offsetof(struct wire_diag_reply, total_bytes)},
        {.tag = 4, .type = WIRE_U32, .name = "collection_total",
         .offset = offsetof(struct wire_diag_reply, collection_total)},
};
static const struct wire_schema diag_reply_schema = SCHEMA("diagnostics_reply", struct wire_diag_reply,
                                                           diag_reply_fields);

/* Optional, as in sysmem2: absent means the same rights; a present 0 fails the group. */
static const struct wire_field create_child_fields[] = {
        {.tag = 1, .type = WIRE_U32, .flags = WIRE_F_PRESENCE, .name = "rights_attenuation_mask",
         .offset = offsetof(struct wire_duplicate, rights_attenuation_mask),
         .count_offset = offsetof(struct wire_duplicate, has_rights_attenuation_mask)},
};
static const struct wire_schema create_child_schema = SCHEMA("create_child", struct wire_duplicate,
                                                             create_child_fields);

/* ---- constraints ---- */

static const struct wire_field usage_fields[] = {
        {.tag = 1, .type = WIRE_U32, .name = "none", .offset = offsetof(struct sysmem_usage, none)},
        {.tag = 2, .type = WIRE_U32, .name = "cpu", .offset = offsetof(struct sysmem_usage, cpu)},
        {.tag = 3, .type = WIRE_U32, .name = "vulkan", .offset = offsetof(struct sysmem_usage, vulkan)},
        {.tag = 4, .type = WIRE_U32, .name = "display", .offset = offsetof(struct sysmem_usage, display)},
        {.tag = 5, .type = WIRE_U32, .name = "video", .offset = offsetof(struct sysmem_usage, video)},
};
static const struct wire_schema usage_schema = SCHEMA("usage", struct sysmem_usage, usage_fields);

static const struct wire_field heap_fields[] = {
        {.tag = 1, .type = WIRE_STRING, .flags = WIRE_F_REQUIRED | WIRE_F_INLINE, .name = "heap_type",
         .offset = offsetof(struct sysmem_heap, heap_type), .max = SYSMEM_MAX_HEAP_TYPE_LENGTH},
        {.tag = 2, .type = WIRE_U64, .name = "id", .offset = offsetof(struct sysmem_heap, id)},
};
static const struct wire_schema heap_schema = SCHEMA("heap", struct sysmem_heap, heap_fields);

#define BMC(f) offsetof(struct sysmem_buffer_memory_constraints, f)
static const struct wire_field memory_fields[] = {
        {.tag = 1, .type = WIRE_U64, .name = "min_size_bytes", .offset = BMC(min_size_bytes)},
        {.tag = 2, .type = WIRE_U64, .name = "max_size_bytes", .offset = BMC(max_size_bytes)},
        {.tag = 3, .type = WIRE_BOOL, .name = "physically_contiguous_required",
         .offset = BMC(physically_contiguous_required)},
        {.tag = 4, .type = WIRE_BOOL, .name = "secure_required", .offset = BMC(secure_required)},
        {.tag = 5, .type = WIRE_BOOL, .flags = WIRE_F_TRISTATE, .name = "cpu_domain_supported",
         .offset = BMC(cpu_domain_supported)},
        {.tag = 6, .type = WIRE_BOOL, .flags = WIRE_F_TRISTATE, .name = "ram_domain_supported",
         .offset = BMC(ram_domain_supported)},
        {.tag = 7, .type = WIRE_BOOL, .flags = WIRE_F_TRISTATE, .name = "inaccessible_domain_supported",
         .offset = BMC(inaccessible_domain_supported)},
        {.tag = 8, .type = WIRE_TABLE_ARRAY, .name = "permitted_heaps", .offset = BMC(permitted_heaps),
         .count_offset = BMC(permitted_heap_count), .max = SYSMEM_MAX_PERMITTED_HEAPS, .table = &heap_schema},
};
#undef BMC
static const struct wire_schema memory_schema = SCHEMA("buffer_memory_constraints",
                                                       struct sysmem_buffer_memory_constraints, memory_fields);

/* ---- image formats ---- */

static const struct wire_field size_fields[] = {
        {.tag = 1, .type = WIRE_U32, .name = "width", .offset = offsetof(struct sysmem_size, width)},
        {.tag = 2, .type = WIRE_U32, .name = "height", .offset = offsetof(struct sysmem_size, height)},
};
static const struct wire_schema size_schema = SCHEMA("size", struct sysmem_size, size_fields);

static const struct wire_field pair_fields[] = {
        {.tag = 1, .type = WIRE_U32, .name = "pixel_format",
         .offset = offsetof(struct sysmem_pixel_format_and_modifier, pixel_format)},
        {.tag = 2, .type = WIRE_U64, .name = "pixel_format_modifier",
         .offset = offsetof(struct sysmem_pixel_format_and_modifier, pixel_format_modifier)},
};
static const struct wire_schema pair_schema = SCHEMA("pixel_format_and_modifier",
                                                     struct sysmem_pixel_format_and_modifier, pair_fields);

/* Tags are sysmem2's ImageFormatConstraints table ordinals. */
#define IFC(f) offsetof(struct sysmem_image_format_constraints, f)
#define SIZE_FIELD(t, n) {.tag = t, .type = WIRE_RECORD, .name = #n, .offset = IFC(n), .table = &size_schema}
static const struct wire_field ifc_fields[] = {
        {.tag = 1, .type = WIRE_U32, .name = "pixel_format", .offset = IFC(pixel_format)},
        {.tag = 2, .type = WIRE_U64, .flags = WIRE_F_PRESENCE, .name = "pixel_format_modifier",
         .offset = IFC(pixel_format_modifier), .count_offset = IFC(has_pixel_format_modifier)},
        {.tag = 3, .type = WIRE_U32_ARRAY, .name = "color_spaces", .offset = IFC(color_spaces),
         .count_offset = IFC(color_space_count), .max = SYSMEM_MAX_COLOR_SPACES},
        SIZE_FIELD(4, min_size),
        SIZE_FIELD(5, max_size),
        {.tag = 6, .type = WIRE_U32, .name = "min_bytes_per_row", .offset = IFC(min_bytes_per_row)},
        {.tag = 7, .type = WIRE_U32, .name = "max_bytes_per_row", .offset = IFC(max_bytes_per_row)},
        {.tag = 8, .type = WIRE_U64, .name = "max_width_times_height", .offset = IFC(max_width_times_height)},
        SIZE_FIELD(9, size_alignment),
        SIZE_FIELD(10, display_rect_alignment),
        SIZE_FIELD(11, required_min_size),
        SIZE_FIELD(12, required_max_size),
        {.tag = 13, .type = WIRE_U32, .name = "bytes_per_row_divisor", .offset = IFC(bytes_per_row_divisor)},
        {.tag = 14, .type = WIRE_U32, .name = "start_offset_divisor", .offset = IFC(start_offset_divisor)},
        {.tag = 15, .type = WIRE_RECORD_ARRAY, .name = "pixel_format_and_modifiers",
         .offset = IFC(pixel_format_and_modifiers), .count_offset = IFC(pixel_format_and_modifier_count),
         .max = SYSMEM_MAX_FORMAT_PAIRS, .table = &pair_schema},
        {.tag = 16, .type = WIRE_BOOL, .name = "require_bytes_per_row_at_pixel_boundary",
         .offset = IFC(require_bytes_per_row_at_pixel_boundary)},
        {.tag = 17, .type = WIRE_BOOL, .flags = WIRE_F_TRISTATE, .name = "is_alpha_present",
         .offset = IFC(is_alpha_present)},
        {.tag = 18, .type = WIRE_RECORD_ARRAY, .name = "required_max_size_list", .offset = IFC(required_max_size_list),
         .count_offset = IFC(required_max_size_count), .max = SYSMEM_MAX_REQUIRED_MAX_SIZES, .table = &size_schema},
        SIZE_FIELD(19, pad_for_block_size),
        {.tag = 20, .type = WIRE_U64, .name = "pad_beyond_image_size_bytes", .offset = IFC(pad_beyond_image_size_bytes)},
};
#undef SIZE_FIELD
#undef IFC
static const struct wire_schema ifc_schema = SCHEMA("image_format_constraints", struct sysmem_image_format_constraints,
                                                    ifc_fields);

#define IFS(f) offsetof(struct sysmem_image_format_settings, f)
#define SIZE_FIELD(t, n) {.tag = t, .type = WIRE_RECORD, .name = #n, .offset = IFS(n), .table = &size_schema}
static const struct wire_field ifs_fields[] = {
        {.tag = 1, .type = WIRE_U32, .flags = WIRE_F_REQUIRED, .name = "pixel_format", .offset = IFS(pixel_format)},
        {.tag = 2, .type = WIRE_U64, .flags = WIRE_F_REQUIRED, .name = "pixel_format_modifier",
         .offset = IFS(pixel_format_modifier)},
        {.tag = 3, .type = WIRE_U32, .flags = WIRE_F_REQUIRED, .name = "color_space", .offset = IFS(color_space)},
        SIZE_FIELD(4, min_size),
        SIZE_FIELD(5, max_size),
        {.tag = 6, .type = WIRE_U32, .name = "min_bytes_per_row", .offset = IFS(min_bytes_per_row)},
        {.tag = 7, .type = WIRE_U32, .name = "max_bytes_per_row", .offset = IFS(max_bytes_per_row)},
        {.tag = 8, .type = WIRE_U64, .name = "max_width_times_height", .offset = IFS(max_width_times_height)},
        SIZE_FIELD(9, size_alignment),
        SIZE_FIELD(10, display_rect_alignment),
        SIZE_FIELD(11, required_min_size),
        SIZE_FIELD(12, required_max_size),
        {.tag = 13, .type = WIRE_U32, .name = "bytes_per_row_divisor", .offset = IFS(bytes_per_row_divisor)},
        {.tag = 14, .type = WIRE_U32, .name = "start_offset_divisor", .offset = IFS(start_offset_divisor)},
        {.tag = 16, .type = WIRE_BOOL, .name = "require_bytes_per_row_at_pixel_boundary",
         .offset = IFS(require_bytes_per_row_at_pixel_boundary)},
        {.tag = 17, .type = WIRE_BOOL, .flags = WIRE_F_TRISTATE, .name = "is_alpha_present",
         .offset = IFS(is_alpha_present)},
        {.tag = 18, .type = WIRE_RECORD_ARRAY, .flags = WIRE_F_INLINE, .name = "required_max_size_list",
         .offset = IFS(required_max_size_list), .count_offset = IFS(required_max_size_count),
         .max = SYSMEM_MAX_REQUIRED_MAX_SIZES, .table = &size_schema},
        SIZE_FIELD(19, pad_for_block_size),
        {.tag = 20, .type = WIRE_U64, .name = "pad_beyond_image_size_bytes", .offset = IFS(pad_beyond_image_size_bytes)},
};
#undef SIZE_FIELD
#undef IFS
static const struct wire_schema ifs_schema = SCHEMA("image_format_settings", struct sysmem_image_format_settings,
                                                    ifs_fields);

#define BCC(f) offsetof(struct sysmem_constraints, f)
static const struct wire_field constraints_fields[] = {
        {.tag = 1, .type = WIRE_TABLE, .name = "usage", .offset = BCC(usage), .table = &usage_schema},
        {.tag = 2, .type = WIRE_U32, .name = "min_buffer_count_for_camping",
         .offset = BCC(min_buffer_count_for_camping)},
        {.tag = 3, .type = WIRE_U32, .name = "min_buffer_count_for_dedicated_slack",
         .offset = BCC(min_buffer_count_for_dedicated_slack)},
        {.tag = 4, .type = WIRE_U32, .name = "min_buffer_count_for_shared_slack",
         .offset = BCC(min_buffer_count_for_shared_slack)},
        {.tag = 5, .type = WIRE_U32, .name = "min_buffer_count", .offset = BCC(min_buffer_count)},
        {.tag = 6, .type = WIRE_U32, .name = "max_buffer_count", .offset = BCC(max_buffer_count)},
        {.tag = 7, .type = WIRE_TABLE, .name = "buffer_memory_constraints",
         .offset = BCC(buffer_memory_constraints), .table = &memory_schema},
        {.tag = 8, .type = WIRE_TABLE_ARRAY, .name = "image_format_constraints", .offset = BCC(image_format_constraints),
         .count_offset = BCC(image_format_constraint_count), .max = SYSMEM_MAX_IMAGE_FORMAT_CONSTRAINTS,
         .table = &ifc_schema},
};
#undef BCC
const struct wire_schema wire_constraints_schema = SCHEMA("constraints", struct sysmem_constraints,
                                                          constraints_fields);

static const struct wire_field set_constraints_fields[] = {
        {.tag = 1, .type = WIRE_TABLE, .flags = WIRE_F_TABLE_PTR, .name = "constraints",
         .offset = offsetof(struct wire_set_constraints, constraints), .table = &wire_constraints_schema},
};
static const struct wire_schema set_constraints_schema = SCHEMA("set_constraints", struct wire_set_constraints,
                                                                set_constraints_fields);

/* ---- results ---- */

#define BMS(f) offsetof(struct sysmem_buffer_memory_settings, f)
static const struct wire_field memory_settings_fields[] = {
        {.tag = 1, .type = WIRE_U64, .flags = WIRE_F_REQUIRED, .name = "size_bytes", .offset = BMS(size_bytes)},
        {.tag = 2, .type = WIRE_BOOL, .name = "is_physically_contiguous", .offset = BMS(is_physically_contiguous)},
        {.tag = 3, .type = WIRE_BOOL, .name = "is_secure", .offset = BMS(is_secure)},
        {.tag = 4, .type = WIRE_U32, .name = "coherency_domain", .offset = BMS(coherency_domain)},
        {.tag = 5, .type = WIRE_TABLE, .flags = WIRE_F_REQUIRED, .name = "heap", .offset = BMS(heap),
         .table = &heap_schema},
        {.tag = 6, .type = WIRE_U64, .flags = WIRE_F_REQUIRED, .name = "raw_vmo_size", .offset = BMS(raw_vmo_size)},
};
#undef BMS
static const struct wire_schema memory_settings_schema = SCHEMA(
        "buffer_memory_settings", struct sysmem_buffer_memory_settings, memory_settings_fields);

static const struct wire_field single_settings_fields[] = {
        {.tag = 1, .type = WIRE_TABLE, .flags = WIRE_F_REQUIRED, .name = "buffer_settings",
         .offset = offsetof(struct sysmem_single_buffer_settings, buffer_settings), .table = &memory_settings_schema},
        {.tag = 2, .type = WIRE_TABLE, .flags = WIRE_F_PRESENCE, .name = "image_format_constraints",
         .offset = offsetof(struct sysmem_single_buffer_settings, image_format_constraints),
         .count_offset = offsetof(struct sysmem_single_buffer_settings, has_image_format_constraints),
         .table = &ifs_schema},
};
static const struct wire_schema single_settings_schema = SCHEMA(
        "single_buffer_settings", struct sysmem_single_buffer_settings, single_settings_fields);

static const struct wire_field buffer_fields[] = {
        {.tag = 1, .type = WIRE_FD, .name = "vmo", .offset = offsetof(struct wire_buffer, vmo)},
        {.tag = 2, .type = WIRE_U64, .name = "vmo_usable_start",
         .offset = offsetof(struct wire_buffer, vmo_usable_start)},
};
static const struct wire_schema buffer_schema = SCHEMA("buffer", struct wire_buffer, buffer_fields);

static const struct wire_field info_fields[] = {
        {.tag = 1, .type = WIRE_TABLE, .flags = WIRE_F_REQUIRED, .name = "settings",
         .offset = offsetof(struct wire_collection_info, settings), .table = &single_settings_schema},
        {.tag = 2, .type = WIRE_TABLE_ARRAY, .flags = WIRE_F_REQUIRED, .name = "buffers",
         .offset = offsetof(struct wire_collection_info, buffers),
         .count_offset = offsetof(struct wire_collection_info, buffer_count), .max = SYSMEM_MAX_BUFFERS,
         .table = &buffer_schema},
        {.tag = 3, .type = WIRE_U64, .flags = WIRE_F_REQUIRED, .name = "buffer_collection_id",
         .offset = offsetof(struct wire_collection_info, buffer_collection_id)},
        {.tag = 4, .type = WIRE_FD, .name = "close_weak_asap",
         .offset = offsetof(struct wire_collection_info, close_weak_asap)},
};
const struct wire_schema wire_collection_info_schema = SCHEMA("collection_info", struct wire_collection_info,
                                                              info_fields);

/* ---- the message table ---- */

#define A WIRE_OBJ_ALLOCATOR
#define N WIRE_OBJ_NODE
#define T WIRE_OBJ_TOKEN
#define C WIRE_OBJ_COLLECTION
#define G WIRE_OBJ_GROUP
const struct wire_message_def wire_messages[] = {
        {WIRE_OP_ALLOCATE_SHARED_COLLECTION, "AllocateSharedCollection", A, true, &allocate_shared_schema,
         &allocate_shared_reply_schema},
        {WIRE_OP_ALLOCATE_NON_SHARED_COLLECTION, "AllocateNonSharedCollection", A, true, &empty_schema, &fd_schema},
        {WIRE_OP_BIND_SHARED_COLLECTION, "BindSharedCollection", A, true, &fd_schema, &fd_schema},
        {WIRE_OP_VALIDATE_BUFFER_COLLECTION_TOKEN, "ValidateBufferCollectionToken", A, true, &fd_schema,
         &validate_reply_schema},
        {WIRE_OP_ALLOCATOR_SET_DEBUG_CLIENT_INFO, "Allocator.SetDebugClientInfo", A, false, &debug_info_schema, NULL},
        {WIRE_OP_GET_VMO_INFO, "GetVmoInfo", A, true, &fd_schema, &vmo_info_schema},
        {WIRE_OP_GET_DIAGNOSTICS, "GetDiagnostics", A, true, &diag_request_schema, &diag_reply_schema},
        {WIRE_OP_ALLOCATE_SHARED_FROM_SPARES, "AllocateSharedCollectionFromSpares", A, false, &from_spares_schema,
         NULL},
        {WIRE_OP_GET_HEAPS, "GetHeaps", A, true, &empty_schema, &heaps_reply_schema},
        {WIRE_OP_GET_SERVER_INFO, "GetServerInfo", A, true, &server_info_request_schema, &server_info_reply_schema},
        {WIRE_OP_SYNC, "Sync", N, true, &empty_schema, &empty_schema},
        {WIRE_OP_RELEASE, "Release", N, false, &empty_schema, NULL},
        {WIRE_OP_SET_NAME, "SetName", N, false, &set_name_schema, NULL},
        {WIRE_OP_SET_DEBUG_CLIENT_INFO, "SetDebugClientInfo", N, false, &debug_info_schema, NULL},
        {WIRE_OP_GET_BUFFER_COLLECTION_ID, "GetBufferCollectionId", N, true, &empty_schema, &collection_id_schema},
        {WIRE_OP_SET_DEBUG_TIMEOUT_LOG_DEADLINE, "SetDebugTimeoutLogDeadline", N, false, &deadline_schema, NULL},
        {WIRE_OP_SET_VERBOSE_LOGGING, "SetVerboseLogging", N, false, &empty_schema, NULL},
        {WIRE_OP_GET_NODE_REF, "GetNodeRef", N, true, &empty_schema, &fd_schema},
        {WIRE_OP_IS_ALTERNATE_FOR, "IsAlternateFor", N, true, &fd_schema, &is_alternate_schema},
        {WIRE_OP_SET_WEAK, "SetWeak", N, false, &empty_schema, NULL},
        {WIRE_OP_SET_WEAK_OK, "SetWeakOk", N, false, &set_weak_ok_schema, NULL},
        {WIRE_OP_DUPLICATE, "Duplicate", T, true, &duplicate_schema, &fd_schema},
        {WIRE_OP_DUPLICATE_SYNC, "DuplicateSync", T, true, &duplicate_sync_schema, &duplicate_sync_reply_schema},
        {WIRE_OP_BIND, "Bind", T, false, &empty_schema, NULL},
        {WIRE_OP_SET_DISPENSABLE, "SetDispensable", T, false, &empty_schema, NULL},
        {WIRE_OP_CREATE_BUFFER_COLLECTION_TOKEN_GROUP, "CreateBufferCollectionTokenGroup", T, true, &empty_schema,
         &fd_schema},
        {WIRE_OP_SET_CONSTRAINTS, "SetConstraints", C, false, &set_constraints_schema, NULL},
        {WIRE_OP_WAIT_FOR_ALL_BUFFERS_ALLOCATED, "WaitForAllBuffersAllocated", C, true, &empty_schema,
         &wire_collection_info_schema},
        {WIRE_OP_CHECK_ALL_BUFFERS_ALLOCATED, "CheckAllBuffersAllocated", C, true, &empty_schema, &empty_schema},
        {WIRE_OP_ATTACH_TOKEN, "AttachToken", C, true, &duplicate_schema, &fd_schema},
        {WIRE_OP_ATTACH_LIFETIME_TRACKING, "AttachLifetimeTracking", C, true, &lifetime_schema, &fd_schema},
        {WIRE_OP_CREATE_CHILD, "CreateChild", G, true, &create_child_schema, &fd_schema},
        {WIRE_OP_CREATE_CHILDREN_SYNC, "CreateChildrenSync", G, true, &duplicate_sync_schema,
         &duplicate_sync_reply_schema},
        {WIRE_OP_ALL_CHILDREN_PRESENT, "AllChildrenPresent", G, false, &empty_schema, NULL},
        {WIRE_OP_EPITAPH, "Epitaph", A | N, false, &wire_error_schema, NULL},
        {WIRE_OP_SPARE_ENDS, "SpareEnds", A, false, &spare_ends_schema, NULL},
};
#undef A
#undef N
#undef T
#undef C
#undef G
const size_t wire_message_count = ARRAY_LEN(wire_messages);

const struct wire_message_def *wire_message_lookup(uint16_t opcode) {
        for (size_t i = 0; i < wire_message_count; i++)
                if (wire_messages[i].opcode == opcode)
                        return &wire_messages[i];
        return NULL;
}
