/*
 * struct-sizes.c: prints the layout of every struct the Python package mirrors with ctypes (size,
 * alignment, each field's offset and size) and the values of the constants it copies, one per line:
 *   struct NAME SIZE ALIGN
 *   field NAME.FIELD OFFSET SIZE
 *   const NAME VALUE
 * python/tests/test_structs.py compares them with sysmem/_lib.py and sysmem/constants.py.
 */
#include <stdalign.h>
#include <stddef.h>
#include <stdio.h>

#include <sysmem/sysmem.h>

#define S(name) printf("struct sysmem_%s %zu %zu\n", #name, sizeof(struct sysmem_##name), alignof(struct sysmem_##name))
#define F(name, field)                                                                                  \
        printf("field sysmem_%s.%s %zu %zu\n", #name, #field, offsetof(struct sysmem_##name, field), \
               sizeof(((struct sysmem_##name *)0)->field))
#define C(name) printf("const %s %llu\n", #name, (unsigned long long)(SYSMEM_##name))

int main(void) {
        S(usage);
        F(usage, none); F(usage, cpu); F(usage, vulkan); F(usage, display); F(usage, video);

        S(heap);
        F(heap, heap_type); F(heap, id);

        S(heap_info);
        F(heap_info, heap); F(heap_info, flags); F(heap_info, max_buffer_bytes); F(heap_info, backend);
        F(heap_info, device);

        S(buffer_memory_constraints);
        F(buffer_memory_constraints, min_size_bytes); F(buffer_memory_constraints, max_size_bytes);
        F(buffer_memory_constraints, physically_contiguous_required); F(buffer_memory_constraints, secure_required);
        F(buffer_memory_constraints, cpu_domain_supported); F(buffer_memory_constraints, ram_domain_supported);
        F(buffer_memory_constraints, inaccessible_domain_supported);
        F(buffer_memory_constraints, permitted_heap_count); F(buffer_memory_constraints, permitted_heaps);

        S(size);
        F(size, width); F(size, height);

        S(pixel_format_and_modifier);
        F(pixel_format_and_modifier, pixel_format); F(pixel_format_and_modifier, pixel_format_modifier);

        S(image_format_constraints);
        F(image_format_constraints, pixel_format); F(image_format_constraints, has_pixel_format_modifier);
        F(image_format_constraints, pixel_format_modifier); F(image_format_constraints, pixel_format_and_modifier_count);
        F(image_format_constraints, pixel_format_and_modifiers); F(image_format_constraints, color_space_count);
        F(image_format_constraints, color_spaces); F(image_format_constraints, min_size);
        F(image_format_constraints, max_size); F(image_format_constraints, min_bytes_per_row);
        F(image_format_constraints, max_bytes_per_row); F(image_format_constraints, max_width_times_height);
        F(image_format_constraints, size_alignment); F(image_format_constraints, display_rect_alignment);
        F(image_format_constraints, required_min_size); F(image_format_constraints, required_max_size);
        F(image_format_constraints, required_max_size_count); F(image_format_constraints, required_max_size_list);
        F(image_format_constraints, bytes_per_row_divisor); F(image_format_constraints, start_offset_divisor);
        F(image_format_constraints, require_bytes_per_row_at_pixel_boundary);
        F(image_format_constraints, is_alpha_present); F(image_format_constraints, pad_for_block_size);
        F(image_format_constraints, pad_beyond_image_size_bytes);

        S(image_format_settings);
        F(image_format_settings, pixel_format); F(image_format_settings, pixel_format_modifier);
        F(image_format_settings, color_space); F(image_format_settings, min_size); F(image_format_settings, max_size);
        F(image_format_settings, min_bytes_per_row); F(image_format_settings, max_bytes_per_row);
        F(image_format_settings, max_width_times_height); F(image_format_settings, size_alignment);
        F(image_format_settings, display_rect_alignment); F(image_format_settings, required_min_size);
        F(image_format_settings, required_max_size); F(image_format_settings, required_max_size_count);
        F(image_format_settings, required_max_size_list); F(image_format_settings, bytes_per_row_divisor);
        F(image_format_settings, start_offset_divisor); F(image_format_settings, require_bytes_per_row_at_pixel_boundary);
        F(image_format_settings, is_alpha_present); F(image_format_settings, pad_for_block_size);
        F(image_format_settings, pad_beyond_image_size_bytes);

        S(plane_layout);
        F(plane_layout, plane_count); F(plane_layout, offset); F(plane_layout, bytes_per_row);
        F(plane_layout, size_bytes); F(plane_layout, total_size_bytes);

        S(format_info);
        F(format_info, pixel_format); F(format_info, pixel_format_modifier); F(format_info, name);
        F(format_info, plane_count); F(format_info, bits_per_pixel); F(format_info, bytes_per_pixel);
        F(format_info, width_divisor); F(format_info, height_divisor); F(format_info, sample_alignment);
        F(format_info, bits_per_sample); F(format_info, is_rgb); F(format_info, is_yuv);
        F(format_info, has_alpha_or_x); F(format_info, is_non_tiled_single_plane);

        S(constraints);
        F(constraints, usage); F(constraints, min_buffer_count_for_camping);
        F(constraints, min_buffer_count_for_dedicated_slack); F(constraints, min_buffer_count_for_shared_slack);
        F(constraints, min_buffer_count); F(constraints, max_buffer_count); F(constraints, buffer_memory_constraints);
        F(constraints, image_format_constraint_count); F(constraints, image_format_constraints);

        S(buffer_memory_settings);
        F(buffer_memory_settings, size_bytes); F(buffer_memory_settings, raw_vmo_size);
        F(buffer_memory_settings, is_physically_contiguous); F(buffer_memory_settings, is_secure);
        F(buffer_memory_settings, coherency_domain); F(buffer_memory_settings, heap);

        S(single_buffer_settings);
        F(single_buffer_settings, buffer_settings); F(single_buffer_settings, has_image_format_constraints);
        F(single_buffer_settings, image_format_constraints);

        S(buffer);
        F(buffer, fd); F(buffer, vmo_usable_start);

        S(collection_info);
        F(collection_info, settings); F(collection_info, buffer_collection_id); F(collection_info, buffer_count);
        F(collection_info, buffers); F(collection_info, close_weak_asap_fd);

        /* enum sizes: the mirror uses a C int for each */
        printf("enum sysmem_error %zu\n", sizeof(enum sysmem_error));
        printf("enum sysmem_tristate %zu\n", sizeof(enum sysmem_tristate));
        printf("enum sysmem_coherency_domain %zu\n", sizeof(enum sysmem_coherency_domain));

        C(MAX_BUFFERS); C(MAX_HEAP_TYPE_LENGTH); C(MAX_PERMITTED_HEAPS); C(MAX_NAME_LENGTH);
        C(MAX_CLIENT_NAME_LENGTH); C(MAX_DUPLICATES); C(MAX_IMAGE_FORMAT_CONSTRAINTS); C(MAX_HEAPS);
        C(MAX_HEAP_DEVICE_LENGTH); C(MAX_FORMAT_PAIRS); C(MAX_COLOR_SPACES); C(MAX_REQUIRED_MAX_SIZES); C(MAX_PLANES);
        C(RIGHTS_SAME); C(RIGHT_READ); C(RIGHT_WRITE); C(RIGHT_MAP);
        C(NONE_USAGE); C(NONE_USAGE_PERMIT_ALLOCATION);
        C(CPU_USAGE_READ); C(CPU_USAGE_READ_OFTEN); C(CPU_USAGE_WRITE); C(CPU_USAGE_WRITE_OFTEN);
        C(VULKAN_IMAGE_USAGE_TRANSFER_SRC); C(VULKAN_IMAGE_USAGE_TRANSFER_DST); C(VULKAN_IMAGE_USAGE_SAMPLED);
        C(VULKAN_IMAGE_USAGE_STORAGE); C(VULKAN_IMAGE_USAGE_COLOR_ATTACHMENT); C(VULKAN_IMAGE_USAGE_STENCIL_ATTACHMENT);
        C(VULKAN_IMAGE_USAGE_TRANSIENT_ATTACHMENT); C(VULKAN_IMAGE_USAGE_INPUT_ATTACHMENT);
        C(VULKAN_BUFFER_USAGE_TRANSFER_SRC); C(VULKAN_BUFFER_USAGE_TRANSFER_DST);
        C(VULKAN_BUFFER_USAGE_UNIFORM_TEXEL_BUFFER); C(VULKAN_BUFFER_USAGE_STORAGE_TEXEL_BUFFER);
        C(VULKAN_BUFFER_USAGE_UNIFORM_BUFFER); C(VULKAN_BUFFER_USAGE_STORAGE_BUFFER); C(VULKAN_BUFFER_USAGE_INDEX_BUFFER);
        C(VULKAN_BUFFER_USAGE_VERTEX_BUFFER); C(VULKAN_BUFFER_USAGE_INDIRECT_BUFFER);
        C(DISPLAY_USAGE_LAYER); C(DISPLAY_USAGE_CURSOR);
        C(VIDEO_USAGE_HW_DECODER); C(VIDEO_USAGE_HW_ENCODER); C(VIDEO_USAGE_CAPTURE); C(VIDEO_USAGE_DECRYPTOR_OUTPUT);
        C(VIDEO_USAGE_HW_DECODER_INTERNAL);
        C(HEAP_FLAG_CPU_DOMAIN); C(HEAP_FLAG_RAM_DOMAIN); C(HEAP_FLAG_INACCESSIBLE_DOMAIN); C(HEAP_FLAG_CONTIGUOUS);
        C(HEAP_FLAG_SECURE); C(HEAP_FLAG_ZEROED); C(HEAP_FLAG_CPU_MAPPABLE); C(HEAP_FLAG_DMA_BUF);
        C(HEAP_FLAG_READ_ONLY_FDS);
        C(CPU_ACCESS_READ); C(CPU_ACCESS_WRITE);
        C(UNSET); C(FALSE); C(TRUE);
        C(COHERENCY_DOMAIN_CPU); C(COHERENCY_DOMAIN_RAM); C(COHERENCY_DOMAIN_INACCESSIBLE);
        C(PIXEL_FORMAT_DO_NOT_CARE); C(FORMAT_MODIFIER_LINEAR); C(FORMAT_MODIFIER_DO_NOT_CARE);
        C(FORMAT_MODIFIER_INVALID);
        C(COLOR_SPACE_INVALID); C(COLOR_SPACE_SRGB); C(COLOR_SPACE_REC601_NTSC); C(COLOR_SPACE_REC601_NTSC_FULL_RANGE);
        C(COLOR_SPACE_REC601_PAL); C(COLOR_SPACE_REC601_PAL_FULL_RANGE); C(COLOR_SPACE_REC709); C(COLOR_SPACE_REC2020);
        C(COLOR_SPACE_REC2100); C(COLOR_SPACE_PASSTHROUGH); C(COLOR_SPACE_DO_NOT_CARE);
        C(ERROR_INVALID); C(ERROR_UNSPECIFIED); C(ERROR_PROTOCOL_DEVIATION); C(ERROR_NOT_FOUND);
        C(ERROR_HANDLE_ACCESS_DENIED); C(ERROR_NO_MEMORY); C(ERROR_CONSTRAINTS_INTERSECTION_EMPTY); C(ERROR_PENDING);
        C(ERROR_TOO_MANY_GROUP_CHILD_COMBINATIONS);
        return 0;
}
