/* constants.c: the protocol's enum values, bits and limits as data, next to the C names that define them. */
#include "constants.h"

#include <string.h>

#include <sysmem/sysmem-types.h>

#include "messages.h"
#include "wire.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
/* The C name and its value come from the same token, so a table entry cannot name one value and hold another. */
#define C(ident, meaning) {#ident, (uint64_t)(ident), meaning}

#define TYPES "include/sysmem/sysmem-types.h"
#define WIRE_H "src/wire/wire.h"
#define MESSAGES_H "src/wire/messages.h"

static const struct wire_constant header_flags[] = {
        C(WIRE_FLAG_REPLY, "the answer to the request with the same `txid`, on the same socket"),
        C(WIRE_FLAG_ERROR, "only with `REPLY`: the body is the `error` table instead of the reply's table"),
        C(WIRE_FLAG_EVENT, "unsolicited, from the server: `Epitaph` and `SpareEnds`; never with `REPLY`"),
};

static const struct wire_constant field_flags[] = {
        C(WIRE_FIELD_CRITICAL, "the receiver must understand this field (§2.3); senders of this version never set it"),
};

static const struct wire_constant wire_types[] = {
        C(WIRE_U32, "4 bytes"),
        C(WIRE_U64, "8 bytes"),
        C(WIRE_BOOL, "1 byte, 0 or 1"),
        C(WIRE_STRING, "0..max bytes, no NUL"),
        C(WIRE_FD, "4 bytes: an index into the packet's fds"),
        C(WIRE_TABLE, "a nested table"),
        C(WIRE_TABLE_ARRAY, "fields with tag 0 and type `TABLE`, one per element"),
        C(WIRE_U32_ARRAY, "4 bytes per element"),
        C(WIRE_U64_ARRAY, "8 bytes per element"),
        C(WIRE_FD_ARRAY, "4 bytes per element: fd indices"),
        C(WIRE_RECORD, "the record's members packed, no headers"),
        C(WIRE_RECORD_ARRAY, "records back to back"),
};

static const struct wire_constant errors[] = {
        C(SYSMEM_ERROR_INVALID, "not a valid error; never sent (a receiver reads it as `UNSPECIFIED`)"),
        C(SYSMEM_ERROR_UNSPECIFIED, "failure with no better code, for example a participant that closed without `Release`"),
        C(SYSMEM_ERROR_PROTOCOL_DEVIATION, "the client broke the protocol (malformed message, wrong order, unknown opcode)"),
        C(SYSMEM_ERROR_NOT_FOUND, "the object named does not exist, for example an fd that is not a live token"),
        C(SYSMEM_ERROR_HANDLE_ACCESS_DENIED, "an fd was not usable as required"),
        C(SYSMEM_ERROR_NO_MEMORY, "out of memory or over one of the server's limits (§6)"),
        C(SYSMEM_ERROR_CONSTRAINTS_INTERSECTION_EMPTY, "the participants' constraints cannot all be met"),
        C(SYSMEM_ERROR_PENDING, "not done yet (`CheckAllBuffersAllocated` before allocation)"),
        C(SYSMEM_ERROR_TOO_MANY_GROUP_CHILD_COMBINATIONS, "token groups: too many combinations to try"),
};

static const struct wire_constant tristates[] = {
        C(SYSMEM_UNSET, "on the wire: the bool field is absent (the default applies)"),
        C(SYSMEM_FALSE, "on the wire: the bool field is present with value 0"),
        C(SYSMEM_TRUE, "on the wire: the bool field is present with value 1"),
};

static const struct wire_constant coherency_domains[] = {
        C(SYSMEM_COHERENCY_DOMAIN_CPU, "CPU caches are coherent with the buffer; no cache maintenance needed"),
        C(SYSMEM_COHERENCY_DOMAIN_RAM, "the buffer is coherent in RAM: flush/invalidate CPU caches around CPU access"),
        C(SYSMEM_COHERENCY_DOMAIN_INACCESSIBLE, "the CPU cannot access the buffer (secure memory)"),
};

static const struct wire_constant heap_flags[] = {
        C(SYSMEM_HEAP_FLAG_CPU_DOMAIN, "serves the CPU coherency domain"),
        C(SYSMEM_HEAP_FLAG_RAM_DOMAIN, "serves the RAM coherency domain"),
        C(SYSMEM_HEAP_FLAG_INACCESSIBLE_DOMAIN, "serves the INACCESSIBLE coherency domain"),
        C(SYSMEM_HEAP_FLAG_CONTIGUOUS, "physically contiguous: serves `physically_contiguous_required`"),
        C(SYSMEM_HEAP_FLAG_SECURE, "protected memory: serves `secure_required`"),
        C(SYSMEM_HEAP_FLAG_ZEROED, "every buffer starts all zero"),
        C(SYSMEM_HEAP_FLAG_CPU_MAPPABLE, "buffer fds can be mmap()ed"),
        C(SYSMEM_HEAP_FLAG_DMA_BUF, "buffer fds are dma-bufs (devices import them)"),
        C(SYSMEM_HEAP_FLAG_READ_ONLY_FDS, "participants that do not write get read-only fds"),
};

static const struct wire_constant features[] = {
        C(SYSMEM_FEATURE_SPARE_TOKENS, "`AllocateSharedCollectionFromSpares` and `SpareEnds`"),
        C(SYSMEM_FEATURE_HEAPS, "`GetHeaps`"),
        C(SYSMEM_FEATURE_DEVICE_LAYOUTS, "pairs only a device lays out, through a `drm:` heap"),
        C(SYSMEM_FEATURE_SERVER_LIFETIME_FD, "`AttachLifetimeTracking` replies with the fd"),
        C(SYSMEM_FEATURE_PER_UID_LIMITS, "budgets per user; diagnostics show one's own uid"),
        C(SYSMEM_FEATURE_SENDER_CREDENTIALS, "diagnostics name each node's sender (pid, uid, comm)"),
};

static const struct wire_constant versions[] = {
        C(SYSMEM_PROTOCOL_VERSION, "the protocol version this document describes (`GetServerInfo`)"),
};

static const struct wire_constant rights[] = {
        C(SYSMEM_RIGHT_READ, "read the buffers (and receive their fds)"),
        C(SYSMEM_RIGHT_WRITE, "write the buffers"),
        C(SYSMEM_RIGHT_MAP, "map the buffers"),
        C(SYSMEM_RIGHTS_SAME, "all bits: the same rights as the parent (0 means the same where a mask may be 0)"),
};

static const struct wire_constant usage_none[] = {
        C(SYSMEM_NONE_USAGE, "takes part without using the buffers"),
        C(SYSMEM_NONE_USAGE_PERMIT_ALLOCATION, "with `NONE_USAGE`: allocate even if nobody else uses the buffers"),
};

static const struct wire_constant usage_cpu[] = {
        C(SYSMEM_CPU_USAGE_READ, ""),
        C(SYSMEM_CPU_USAGE_READ_OFTEN, ""),
        C(SYSMEM_CPU_USAGE_WRITE, "needs write access"),
        C(SYSMEM_CPU_USAGE_WRITE_OFTEN, "needs write access"),
};

static const struct wire_constant usage_vulkan[] = {
        C(SYSMEM_VULKAN_IMAGE_USAGE_TRANSFER_SRC, ""),
        C(SYSMEM_VULKAN_IMAGE_USAGE_TRANSFER_DST, "needs write access"),
        C(SYSMEM_VULKAN_IMAGE_USAGE_SAMPLED, ""),
        C(SYSMEM_VULKAN_IMAGE_USAGE_STORAGE, "needs write access"),
        C(SYSMEM_VULKAN_IMAGE_USAGE_COLOR_ATTACHMENT, ""),
        C(SYSMEM_VULKAN_IMAGE_USAGE_STENCIL_ATTACHMENT, ""),
        C(SYSMEM_VULKAN_IMAGE_USAGE_TRANSIENT_ATTACHMENT, ""),
        C(SYSMEM_VULKAN_IMAGE_USAGE_INPUT_ATTACHMENT, ""),
        C(SYSMEM_VULKAN_BUFFER_USAGE_TRANSFER_SRC, ""),
        C(SYSMEM_VULKAN_BUFFER_USAGE_TRANSFER_DST, "needs write access"),
        C(SYSMEM_VULKAN_BUFFER_USAGE_UNIFORM_TEXEL_BUFFER, ""),
        C(SYSMEM_VULKAN_BUFFER_USAGE_STORAGE_TEXEL_BUFFER, ""),
        C(SYSMEM_VULKAN_BUFFER_USAGE_UNIFORM_BUFFER, ""),
        C(SYSMEM_VULKAN_BUFFER_USAGE_STORAGE_BUFFER, "needs write access"),
        C(SYSMEM_VULKAN_BUFFER_USAGE_INDEX_BUFFER, ""),
        C(SYSMEM_VULKAN_BUFFER_USAGE_VERTEX_BUFFER, ""),
        C(SYSMEM_VULKAN_BUFFER_USAGE_INDIRECT_BUFFER, ""),
};

static const struct wire_constant usage_display[] = {
        C(SYSMEM_DISPLAY_USAGE_LAYER, ""),
        C(SYSMEM_DISPLAY_USAGE_CURSOR, ""),
};

static const struct wire_constant usage_video[] = {
        C(SYSMEM_VIDEO_USAGE_HW_DECODER, "needs write access"),
        C(SYSMEM_VIDEO_USAGE_HW_ENCODER, "needs write access"),
        C(SYSMEM_VIDEO_USAGE_CAPTURE, ""),
        C(SYSMEM_VIDEO_USAGE_DECRYPTOR_OUTPUT, "needs write access"),
        C(SYSMEM_VIDEO_USAGE_HW_DECODER_INTERNAL, "needs write access"),
};

static const struct wire_constant color_spaces[] = {
        C(SYSMEM_COLOR_SPACE_INVALID, "not a colour space; rejected"),
        C(SYSMEM_COLOR_SPACE_SRGB, "RGB formats"),
        C(SYSMEM_COLOR_SPACE_REC601_NTSC, "8/10-bit YUV"),
        C(SYSMEM_COLOR_SPACE_REC601_NTSC_FULL_RANGE, "8/10-bit YUV"),
        C(SYSMEM_COLOR_SPACE_REC601_PAL, "8/10-bit YUV"),
        C(SYSMEM_COLOR_SPACE_REC601_PAL_FULL_RANGE, "8/10-bit YUV"),
        C(SYSMEM_COLOR_SPACE_REC709, "8/10-bit YUV"),
        C(SYSMEM_COLOR_SPACE_REC2020, "10/12-bit YUV"),
        C(SYSMEM_COLOR_SPACE_REC2100, "10/12-bit YUV"),
        C(SYSMEM_COLOR_SPACE_PASSTHROUGH, "any format"),
        C(SYSMEM_COLOR_SPACE_DO_NOT_CARE, "only alone in `color_spaces`: another participant decides"),
};

static const struct wire_constant pixel_format_special[] = {
        C(SYSMEM_PIXEL_FORMAT_DO_NOT_CARE, "in `pixel_format`: another participant decides"),
};

static const struct wire_constant modifier_special[] = {
        C(SYSMEM_FORMAT_MODIFIER_LINEAR, "`DRM_FORMAT_MOD_LINEAR`"),
        C(SYSMEM_FORMAT_MODIFIER_DO_NOT_CARE, "another participant decides"),
        C(SYSMEM_FORMAT_MODIFIER_INVALID, "`DRM_FORMAT_MOD_INVALID`: rejected"),
};

static const struct wire_constant diag_kinds[] = {
        C(WIRE_DIAG_KIND_TOKEN, "a token"),
        C(WIRE_DIAG_KIND_COLLECTION, "a collection (a bound token, or a non-shared collection)"),
        C(WIRE_DIAG_KIND_GROUP, "a token group"),
};

static const struct wire_constant diag_states[] = {
        C(WIRE_DIAG_STATE_NEGOTIATING, "not allocated yet"),
        C(WIRE_DIAG_STATE_ALLOCATED, "buffers allocated (`heap`, `pixel_format`, `pixel_format_modifier` are set)"),
        C(WIRE_DIAG_STATE_FAILED, "the collection failed"),
};

static const struct wire_constant diag_flags[] = {
        C(WIRE_DIAG_RELEASED, "`Release` received"),
        C(WIRE_DIAG_ORPHANED, "released and closed: only its constraints remain"),
        C(WIRE_DIAG_CONSTRAINTS_SET, "`SetConstraints` received"),
        C(WIRE_DIAG_ALLOCATED, "logically allocated: has buffers"),
        C(WIRE_DIAG_WEAK, "weak (`SetWeak`)"),
        C(WIRE_DIAG_WEAK_OK, "`SetWeakOk` received"),
        C(WIRE_DIAG_DISPENSABLE, "`SetDispensable` received"),
        C(WIRE_DIAG_ATTACHED, "root of an `AttachToken` subtree"),
        C(WIRE_DIAG_READY, "ready: takes part in the allocation"),
        C(WIRE_DIAG_CHILDREN_PRESENT, "groups: `AllChildrenPresent` received"),
        C(WIRE_DIAG_FAILED, "failed"),
};

static const struct wire_constant limits[] = {
        C(WIRE_HEADER_SIZE, "bytes of the message header"),
        C(WIRE_FIELD_HEADER_SIZE, "bytes of a field header; fields start at multiples of 8"),
        C(WIRE_MAX_DEPTH, "nesting depth of tables (the body is depth 1)"),
        C(WIRE_MAX_FDS, "fds in one packet (the kernel's `SCM_MAX_FD`)"),
        C(WIRE_MIN_RECEIVE_BYTES, "the largest message the server sends: a client must receive packets this large"),
        C(WIRE_MAX_ERROR_MESSAGE, "bytes of `error.message`"),
        C(WIRE_MAX_SPARES, "spare token sockets one allocator connection holds"),
        C(SYSMEM_MAX_BUFFERS, "buffers in a collection"),
        C(SYSMEM_MAX_HEAP_TYPE_LENGTH, "bytes of a heap name (`heap_type`)"),
        C(SYSMEM_MAX_PERMITTED_HEAPS, "entries in `permitted_heaps`"),
        C(SYSMEM_MAX_NAME_LENGTH, "bytes of a collection name (`SetName`)"),
        C(SYSMEM_MAX_CLIENT_NAME_LENGTH, "bytes of a debug client name"),
        C(SYSMEM_MAX_DUPLICATES, "tokens per `DuplicateSync`, `CreateChildrenSync`, `AllocateSharedCollection`"),
        C(SYSMEM_MAX_IMAGE_FORMAT_CONSTRAINTS, "entries in `image_format_constraints`"),
        C(SYSMEM_MAX_HEAPS, "heaps in a `GetHeaps` reply"),
        C(SYSMEM_MAX_HEAP_DEVICE_LENGTH, "bytes of `heap_info.device`"),
        C(SYSMEM_MAX_FORMAT_PAIRS, "entries in `pixel_format_and_modifiers`"),
        C(SYSMEM_MAX_COLOR_SPACES, "entries in `color_spaces`"),
        C(SYSMEM_MAX_REQUIRED_MAX_SIZES, "entries in `required_max_size_list`"),
        C(SYSMEM_MAX_PLANES, "planes of an image layout (docs/layouts.md)"),
};

#define GROUP(gname, gtitle, gused, gstrip, gkind, gbits, garray, ...)                                             \
        {                                                                                                              \
                .name = gname, .title = gtitle, .used_in = gused, .strip = gstrip, .kind = gkind, .bits = gbits,     \
                .count = ARRAY_LEN(garray), .values = garray, .scan = {__VA_ARGS__},                                   \
        }
#define DEFINES(file, prefix) {.header = file, .define_prefix = prefix}
#define ENUM(file, name) {.header = file, .c_enum = name}

const struct wire_constant_group wire_constant_groups[] = {
        GROUP("header_flags", "Header flags", "header `flags` (u16)", "WIRE_FLAG_", WIRE_CONST_BITS, 16, header_flags,
              ENUM(WIRE_H, "enum wire_flags")),
        GROUP("field_flags", "Field flags", "field header `field flags` (u8)", "WIRE_FIELD_", WIRE_CONST_BITS, 8,
              field_flags, DEFINES(WIRE_H, "WIRE_FIELD_C")),
        GROUP("wire_type", "Wire types", "field header `type` (u8)", "WIRE_", WIRE_CONST_ENUM, 8, wire_types,
              ENUM(WIRE_H, "enum wire_type")),
        GROUP("error", "Errors (`enum sysmem_error`)", "`error.error` (u32), in error replies and epitaphs",
              "SYSMEM_ERROR_", WIRE_CONST_ENUM, 32, errors, ENUM(TYPES, "enum sysmem_error")),
        GROUP("tristate", "Tristate booleans (`enum sysmem_tristate`)",
              "bool fields marked \"unset\" in §7.2: `cpu_domain_supported`, `ram_domain_supported`, "
              "`inaccessible_domain_supported`, `is_alpha_present`",
              "SYSMEM_", WIRE_CONST_ENUM, 8, tristates, ENUM(TYPES, "enum sysmem_tristate")),
        GROUP("coherency_domain", "Coherency domains (`enum sysmem_coherency_domain`)",
              "`buffer_memory_settings.coherency_domain` (u32)", "SYSMEM_COHERENCY_DOMAIN_", WIRE_CONST_ENUM, 32,
              coherency_domains, ENUM(TYPES, "enum sysmem_coherency_domain")),
        GROUP("heap_flags", "Heap flags (`enum sysmem_heap_flags`)", "`heap_info.flags` (u32)", "SYSMEM_HEAP_FLAG_",
              WIRE_CONST_BITS, 32, heap_flags, ENUM(TYPES, "enum sysmem_heap_flags")),
        GROUP("protocol_version", "Protocol version", "`server_info_request.protocol_version`, "
              "`server_info_reply.protocol_version` and `min_protocol_version` (u32)", "SYSMEM_", WIRE_CONST_LIMIT, 32,
              versions, DEFINES(TYPES, "SYSMEM_PROTOCOL_VERSION")),
        GROUP("features", "Server features (`enum sysmem_feature`)",
              "`server_info_reply.features` (u64); a client ignores bits it does not know", "SYSMEM_FEATURE_",
              WIRE_CONST_BITS, 64, features, ENUM(TYPES, "enum sysmem_feature")),
        GROUP("rights", "Rights attenuation masks", "`rights_attenuation_mask(s)` (u32)", "SYSMEM_", WIRE_CONST_BITS,
              32, rights, DEFINES(TYPES, "SYSMEM_RIGHT")),
        GROUP("usage_none", "Usage bits: `usage.none`", "`usage.none` (u32)", "SYSMEM_", WIRE_CONST_BITS, 32,
              usage_none, DEFINES(TYPES, "SYSMEM_NONE_USAGE")),
        GROUP("usage_cpu", "Usage bits: `usage.cpu`", "`usage.cpu` (u32)", "SYSMEM_CPU_USAGE_", WIRE_CONST_BITS, 32,
              usage_cpu, DEFINES(TYPES, "SYSMEM_CPU_USAGE_")),
        GROUP("usage_vulkan", "Usage bits: `usage.vulkan`", "`usage.vulkan` (u32)", "SYSMEM_VULKAN_", WIRE_CONST_BITS,
              32, usage_vulkan, DEFINES(TYPES, "SYSMEM_VULKAN_")),
        GROUP("usage_display", "Usage bits: `usage.display`", "`usage.display` (u32)", "SYSMEM_DISPLAY_USAGE_",
              WIRE_CONST_BITS, 32, usage_display, DEFINES(TYPES, "SYSMEM_DISPLAY_USAGE_")),
        GROUP("usage_video", "Usage bits: `usage.video`", "`usage.video` (u32)", "SYSMEM_VIDEO_USAGE_",
              WIRE_CONST_BITS, 32, usage_video, DEFINES(TYPES, "SYSMEM_VIDEO_USAGE_")),
        GROUP("color_space", "Colour spaces (fuchsia.images2.ColorSpace values)",
              "`image_format_constraints.color_spaces` (u32_array), `image_format_settings.color_space` (u32)",
              "SYSMEM_COLOR_SPACE_", WIRE_CONST_ENUM, 32, color_spaces, DEFINES(TYPES, "SYSMEM_COLOR_SPACE_")),
        GROUP("pixel_format_special", "Pixel formats: special values",
              "`pixel_format` (u32) fields; every other value is a DRM fourcc (§11.2)", "SYSMEM_PIXEL_FORMAT_",
              WIRE_CONST_ENUM, 32, pixel_format_special, DEFINES(TYPES, "SYSMEM_PIXEL_FORMAT_")),
        GROUP("modifier_special", "Format modifiers: special values",
              "`pixel_format_modifier` (u64) fields; every other value is a DRM format modifier (§11.2)",
              "SYSMEM_FORMAT_MODIFIER_", WIRE_CONST_ENUM, 64, modifier_special,
              DEFINES(TYPES, "SYSMEM_FORMAT_MODIFIER_")),
        GROUP("diag_kind", "Diagnostics: node kinds", "`diagnostics_node.kind` (u32)", "WIRE_DIAG_KIND_",
              WIRE_CONST_ENUM, 32, diag_kinds, ENUM(MESSAGES_H, "enum wire_diag_kind")),
        GROUP("diag_state", "Diagnostics: collection states", "`diagnostics_collection.state` (u32)",
              "WIRE_DIAG_STATE_", WIRE_CONST_ENUM, 32, diag_states, ENUM(MESSAGES_H, "enum wire_diag_state")),
        GROUP("diag_flags", "Diagnostics: node flags", "`diagnostics_node.flags` (u32)", "WIRE_DIAG_",
              WIRE_CONST_BITS, 32, diag_flags, ENUM(MESSAGES_H, "enum wire_diag_flags")),
        GROUP("limits", "Protocol limits", "the fields, arrays and packets they bound (§6)", "", WIRE_CONST_LIMIT, 32, limits,
              DEFINES(TYPES, "SYSMEM_MAX_"), DEFINES(WIRE_H, "WIRE_MAX_"), DEFINES(MESSAGES_H, "WIRE_MAX_")),
};
const size_t wire_constant_group_count = ARRAY_LEN(wire_constant_groups);

const char *wire_constant_short_name(const struct wire_constant_group *group, const struct wire_constant *constant) {
        size_t n = strlen(group->strip);
        if (strncmp(constant->c_name, group->strip, n) == 0)
                return constant->c_name + n;
        return constant->c_name;
}
