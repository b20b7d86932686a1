/* sysmemctl.c: sysmem from the shell: `negotiate` runs the daemon's core offline; `list` and `heaps` ask a running daemon. */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include <sysmem/sysmem.h>

#include "common/util.h"
#include "constraints-json.h"
#include "core/core.h"
#include "core/defaults.h"
#include "core/format-costs.h"
#include "core/image-format.h"
#include "core/names.h"
#include "sysmemctl-heaps.h"
#include "sysmemctl-list.h"
#include "wire/constants.h"

/* Exit statuses, documented in docs/sysmemctl.md. */
enum {
        EXIT_NEGOTIATED = 0,
        EXIT_NEGOTIATION_FAILED = 1,
        EXIT_BAD_INPUT = 2,
};

static const char *domain_name(enum sysmem_coherency_domain d) {
        switch (d) {
        case SYSMEM_COHERENCY_DOMAIN_CPU:
                return "cpu";
        case SYSMEM_COHERENCY_DOMAIN_RAM:
                return "ram";
        case SYSMEM_COHERENCY_DOMAIN_INACCESSIBLE:
                return "inaccessible";
        }
        return "?";
}

static const char *error_name(enum sysmem_error e) {
        static const char *const names[] = {"INVALID",
                                            "UNSPECIFIED",
                                            "PROTOCOL_DEVIATION",
                                            "NOT_FOUND",
                                            "HANDLE_ACCESS_DENIED",
                                            "NO_MEMORY",
                                            "CONSTRAINTS_INTERSECTION_EMPTY",
                                            "PENDING",
                                            "TOO_MANY_GROUP_CHILD_COMBINATIONS"};
        return (unsigned)e < sizeof names / sizeof names[0] ? names[e] : "UNKNOWN";
}

static void format_name(uint32_t fourcc, char *buf, size_t size) { core_pixel_format_format(fourcc, buf, size); }

static void modifier_name(uint64_t m, char *buf, size_t size) { core_modifier_format(m, buf, size); }

/* The image the buffers were sized for: max(min_size, each required_max_size), aligned. */
static struct sysmem_size sized_image(const struct sysmem_image_format_settings *f) {
        struct sysmem_size s = f->min_size;
        for (uint32_t i = 0; i < f->required_max_size_count; i++) {
                if (f->required_max_size_list[i].width > s.width)
                        s.width = f->required_max_size_list[i].width;
                if (f->required_max_size_list[i].height > s.height)
                        s.height = f->required_max_size_list[i].height;
        }
        uint64_t w, h;
        if (util_round_up_u64(s.width, f->size_alignment.width ? f->size_alignment.width : 1, &w) && w <= UINT32_MAX)
                s.width = (uint32_t)w;
        if (util_round_up_u64(s.height, f->size_alignment.height ? f->size_alignment.height : 1, &h) && h <= UINT32_MAX)
                s.height = (uint32_t)h;
        return s;
}

/* The library's own answer, so that the CLI and every client agree on what a size allows. */
static bool layout_at(const struct sysmem_image_format_settings *f, struct sysmem_size size, uint32_t *ret_bpr,
                      struct sysmem_plane_layout *ret) {
        if (sysmem_image_layout(f, size.width, size.height, ret) < 0)
                return false;
        *ret_bpr = ret->bytes_per_row[0];
        return true;
}

static json_object *size_json(struct sysmem_size s) {
        json_object *o = json_object_new_object();
        json_object_object_add(o, "width", json_object_new_uint64(s.width));
        json_object_object_add(o, "height", json_object_new_uint64(s.height));
        return o;
}

static void print_json(const struct core_result *res, bool ok, const struct core_failure *fail, bool has_layout,
                       struct sysmem_size lsize, uint32_t bpr, const struct sysmem_plane_layout *layout) {
        json_object *root = json_object_new_object();
        json_object_object_add(root, "negotiated", json_object_new_boolean(ok));
        if (!ok) {
                json_object_object_add(root, "error", json_object_new_string(error_name(fail->error)));
                json_object_object_add(root, "message", json_object_new_string(fail->message));
        } else {
                const struct sysmem_buffer_memory_settings *b = &res->settings.buffer_settings;
                json_object_object_add(root, "buffer_count", json_object_new_uint64(res->buffer_count));
                json_object *bs = json_object_new_object();
                json_object_object_add(bs, "size_bytes", json_object_new_uint64(b->size_bytes));
                json_object_object_add(bs, "raw_vmo_size", json_object_new_uint64(b->raw_vmo_size));
                json_object_object_add(bs, "is_physically_contiguous",
                                       json_object_new_boolean(b->is_physically_contiguous));
                json_object_object_add(bs, "is_secure", json_object_new_boolean(b->is_secure));
                json_object_object_add(bs, "coherency_domain",
                                       json_object_new_string(domain_name(b->coherency_domain)));
                json_object *heap = json_object_new_object();
                json_object_object_add(heap, "heap_type", json_object_new_string(b->heap.heap_type));
                json_object_object_add(heap, "id", json_object_new_uint64(b->heap.id));
                json_object_object_add(bs, "heap", heap);
                json_object_object_add(root, "buffer_settings", bs);
                if (res->settings.has_image_format_constraints) {
                        const struct sysmem_image_format_settings *f = &res->settings.image_format_constraints;
                        char name[CORE_MODIFIER_NAME_SIZE];
                        json_object *ifc = json_object_new_object();
                        format_name(f->pixel_format, name, sizeof name);
                        json_object_object_add(ifc, "pixel_format", json_object_new_string(name));
                        modifier_name(f->pixel_format_modifier, name, sizeof name);
                        json_object_object_add(ifc, "pixel_format_modifier", json_object_new_string(name));
                        const char *cs = core_color_space_name(f->color_space);
                        json_object_object_add(ifc, "color_space",
                                               cs ? json_object_new_string(cs)
                                                  : json_object_new_uint64(f->color_space));
                        json_object_object_add(ifc, "min_size", size_json(f->min_size));
                        json_object_object_add(ifc, "max_size", size_json(f->max_size));
                        json_object_object_add(ifc, "min_bytes_per_row", json_object_new_uint64(f->min_bytes_per_row));
                        json_object_object_add(ifc, "max_bytes_per_row", json_object_new_uint64(f->max_bytes_per_row));
                        json_object_object_add(ifc, "max_width_times_height",
                                               json_object_new_uint64(f->max_width_times_height));
                        json_object_object_add(ifc, "size_alignment", size_json(f->size_alignment));
                        json_object_object_add(ifc, "display_rect_alignment", size_json(f->display_rect_alignment));
                        json_object_object_add(ifc, "required_min_size", size_json(f->required_min_size));
                        json_object_object_add(ifc, "required_max_size", size_json(f->required_max_size));
                        json_object *list = json_object_new_array();
                        for (uint32_t i = 0; i < f->required_max_size_count; i++)
                                json_object_array_add(list, size_json(f->required_max_size_list[i]));
                        json_object_object_add(ifc, "required_max_size_list", list);
                        json_object_object_add(ifc, "bytes_per_row_divisor",
                                               json_object_new_uint64(f->bytes_per_row_divisor));
                        json_object_object_add(ifc, "start_offset_divisor",
                                               json_object_new_uint64(f->start_offset_divisor));
                        json_object_object_add(ifc, "require_bytes_per_row_at_pixel_boundary",
                                               json_object_new_boolean(f->require_bytes_per_row_at_pixel_boundary));
                        if (f->is_alpha_present != SYSMEM_UNSET)
                                json_object_object_add(ifc, "is_alpha_present",
                                                       json_object_new_boolean(f->is_alpha_present == SYSMEM_TRUE));
                        json_object_object_add(ifc, "pad_for_block_size", size_json(f->pad_for_block_size));
                        json_object_object_add(ifc, "pad_beyond_image_size_bytes",
                                               json_object_new_uint64(f->pad_beyond_image_size_bytes));
                        json_object_object_add(root, "image_format_constraints", ifc);
                }
                if (has_layout) {
                        json_object *l = json_object_new_object();
                        json_object_object_add(l, "size", size_json(lsize));
                        json_object_object_add(l, "bytes_per_row", json_object_new_uint64(bpr));
                        json_object *planes = json_object_new_array();
                        for (uint32_t i = 0; i < layout->plane_count; i++) {
                                json_object *p = json_object_new_object();
                                json_object_object_add(p, "offset", json_object_new_uint64(layout->offset[i]));
                                json_object_object_add(p, "bytes_per_row",
                                                       json_object_new_uint64(layout->bytes_per_row[i]));
                                json_object_object_add(p, "size_bytes", json_object_new_uint64(layout->size_bytes[i]));
                                json_object_array_add(planes, p);
                        }
                        json_object_object_add(l, "planes", planes);
                        json_object_object_add(l, "total_size_bytes", json_object_new_uint64(layout->total_size_bytes));
                        json_object_object_add(root, "layout", l);
                }
        }
        printf("%s\n", json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
        json_object_put(root);
}

static void print_text(const struct core_result *res, bool ok, const struct core_failure *fail, bool has_layout,
                       struct sysmem_size lsize, uint32_t bpr, const struct sysmem_plane_layout *layout) {
        if (!ok) {
                printf("negotiation failed: %s\n  %s\n", error_name(fail->error), fail->message);
                return;
        }
        const struct sysmem_buffer_memory_settings *b = &res->settings.buffer_settings;
        printf("negotiated: %u buffers of %" PRIu64 " bytes (%" PRIu64 " bytes each as allocated)\n", res->buffer_count,
               b->size_bytes, b->raw_vmo_size);
        printf("  heap %s (id %" PRIu64 "), coherency domain %s, physically contiguous %s, secure %s\n",
               b->heap.heap_type, b->heap.id, domain_name(b->coherency_domain),
               b->is_physically_contiguous ? "yes" : "no", b->is_secure ? "yes" : "no");
        if (!res->settings.has_image_format_constraints)
                return;
        const struct sysmem_image_format_settings *f = &res->settings.image_format_constraints;
        char fmt[64], mod[CORE_MODIFIER_NAME_SIZE];
        format_name(f->pixel_format, fmt, sizeof fmt);
        modifier_name(f->pixel_format_modifier, mod, sizeof mod);
        const char *cs = core_color_space_name(f->color_space);
        printf("image format: %s, modifier %s, colour space %s\n", fmt, mod, cs ? cs : "?");
        printf("  min_size %ux%u, max_size %ux%u, size_alignment %ux%u, display_rect_alignment %ux%u\n",
               f->min_size.width, f->min_size.height, f->max_size.width, f->max_size.height, f->size_alignment.width,
               f->size_alignment.height, f->display_rect_alignment.width, f->display_rect_alignment.height);
        printf("  bytes_per_row %u..%u, divisor %u%s, start_offset_divisor %u, max_width_times_height %" PRIu64 "\n",
               f->min_bytes_per_row, f->max_bytes_per_row, f->bytes_per_row_divisor,
               f->require_bytes_per_row_at_pixel_boundary ? " (at pixel boundary)" : "", f->start_offset_divisor,
               f->max_width_times_height);
        for (uint32_t i = 0; i < f->required_max_size_count; i++)
                printf("  must hold %ux%u\n", f->required_max_size_list[i].width, f->required_max_size_list[i].height);
        if (!has_layout) {
                printf("  (no layout at %ux%u)\n", lsize.width, lsize.height);
                return;
        }
        printf("layout at %ux%u, bytes_per_row %u:\n", lsize.width, lsize.height, bpr);
        for (uint32_t i = 0; i < layout->plane_count; i++)
                printf("  plane %u: offset %" PRIu64 ", bytes_per_row %u, size %" PRIu64 "\n", i, layout->offset[i],
                       layout->bytes_per_row[i], layout->size_bytes[i]);
        printf("  total %" PRIu64 " bytes\n", layout->total_size_bytes);
}

static char *read_file(const char *path, size_t *ret_len, char *err, size_t err_size) {
        FILE *f = strcmp(path, "-") ? fopen(path, "re") : stdin;
        if (!f) {
                snprintf(err, err_size, "%s: %s", path, strerror(errno));
                return NULL;
        }
        size_t cap = 4096, len = 0;
        char *buf = malloc(cap);
        while (buf) {
                size_t n = fread(buf + len, 1, cap - len - 1, f);
                len += n;
                if (n == 0)
                        break;
                if (len + 1 == cap) {
                        if (cap >= (16u << 20)) {
                                snprintf(err, err_size, "%s: larger than 16 MiB", path);
                                free(buf);
                                buf = NULL;
                                break;
                        }
                        char *nb = realloc(buf, cap * 2);
                        if (!nb) {
                                free(buf);
                                buf = NULL;
                                break;
                        }
                        buf = nb;
                        cap *= 2;
                }
        }
        if (buf)
                buf[len] = 0;
        else if (!err[0])
                snprintf(err, err_size, "%s: out of memory", path);
        if (f != stdin)
                fclose(f);
        *ret_len = len;
        return buf;
}

static int cmd_negotiate(int argc, char **argv) {
        static const struct option opts[] = {{"json", no_argument, NULL, 'j'},
                                             {"size", required_argument, NULL, 's'},
                                             {"max-buffer-bytes", required_argument, NULL, 'b'},
                                             {"max-collection-bytes", required_argument, NULL, 'c'},
                                             {"format-costs", required_argument, NULL, 'f'},
                                             {"help", no_argument, NULL, 'h'},
                                             {0}};
        bool json = false, has_size = false;
        const char *costs_path = NULL;
        struct sysmem_size want = {0};
        struct core_limits limits = {
                .max_buffers = SYSMEM_MAX_BUFFERS,
                .max_buffer_bytes = CORE_DEFAULT_MAX_BUFFER_BYTES,
                .max_collection_bytes = CORE_DEFAULT_MAX_COLLECTION_BYTES,
                .page_size = util_page_size(),
        };
        int c;
        optind = 1;
        while ((c = getopt_long(argc, argv, "js:h", opts, NULL)) != -1) {
                switch (c) {
                case 'j':
                        json = true;
                        break;
                case 's':
                        if (sscanf(optarg, "%ux%u", &want.width, &want.height) != 2 || !want.width || !want.height) {
                                fprintf(stderr, "sysmemctl: --size wants WIDTHxHEIGHT, got '%s'\n", optarg);
                                return EXIT_BAD_INPUT;
                        }
                        has_size = true;
                        break;
                case 'b':
                case 'c': {
                        char *end;
                        unsigned long long v = strtoull(optarg, &end, 0);
                        if (*end || !v) {
                                fprintf(stderr, "sysmemctl: '%s' is not a positive number\n", optarg);
                                return EXIT_BAD_INPUT;
                        }
                        if (c == 'b')
                                limits.max_buffer_bytes = v;
                        else
                                limits.max_collection_bytes = v;
                        break;
                }
                case 'f':
                        costs_path = optarg;
                        break;
                case 'h':
                        printf("Usage: sysmemctl negotiate [--json] [--size WxH] [--max-buffer-bytes N]\n"
                               "                            [--max-collection-bytes N] [--format-costs FILE] FILE...\n"
                               "Each FILE (or - for stdin) holds one participant's constraints as JSON, in tree\n"
                               "order (the initiator first). See docs/sysmemctl.md.\n"
                               "Exit status: 0 negotiated, 1 the constraints cannot be satisfied, 2 bad input.\n");
                        return 0;
                default:
                        return EXIT_BAD_INPUT;
                }
        }
        int nfiles = argc - optind;
        if (nfiles < 1) {
                fprintf(stderr, "sysmemctl negotiate: at least one constraint file is needed\n");
                return EXIT_BAD_INPUT;
        }
        if (nfiles > 256) {
                fprintf(stderr, "sysmemctl negotiate: at most 256 participants\n");
                return EXIT_BAD_INPUT;
        }
        struct json_participant *parts = calloc((size_t)nfiles, sizeof *parts);
        struct core_participant *cps = calloc((size_t)nfiles, sizeof *cps);
        struct core_format_cost *costs = NULL;
        struct core_config config = {
                .heaps = core_default_heaps,
                .heap_count = core_default_heap_count,
                .limits = limits,
                .format_costs = core_default_format_costs,
                .format_cost_count = core_default_format_cost_count,
        };
        int status = EXIT_BAD_INPUT;
        if (!parts || !cps)
                goto out;
        if (costs_path) {
                /* The same table file sysmemd --format-costs reads, so offline results match the daemon's. */
                char err[512] = "";
                size_t len, count = 0, lines = 1;
                char *text = read_file(costs_path, &len, err, sizeof err);
                if (!text) {
                        fprintf(stderr, "sysmemctl: %s\n", err);
                        goto out;
                }
                for (size_t i = 0; i < len; i++)
                        lines += text[i] == '\n';
                costs = calloc(lines, sizeof *costs);
                int r = costs ? core_format_costs_parse(text, len, costs, lines, &count, err, sizeof err) : -ENOMEM;
                free(text);
                if (r < 0) {
                        fprintf(stderr, "sysmemctl: %s: %s\n", costs_path, r == -ENOMEM ? "out of memory" : err);
                        goto out;
                }
                config.format_costs = costs;
                config.format_cost_count = count;
        }
        for (int i = 0; i < nfiles; i++) {
                const char *path = argv[optind + i];
                char err[1024] = "";
                size_t len;
                char *text = read_file(path, &len, err, sizeof err);
                if (!text) {
                        fprintf(stderr, "sysmemctl: %s\n", err);
                        goto out;
                }
                const char *base = strrchr(path, '/');
                int r = json_participant_parse(path, text, len, base ? base + 1 : path, &parts[i], err, sizeof err);
                free(text);
                if (r < 0) {
                        fprintf(stderr, "sysmemctl: %s\n", err);
                        goto out;
                }
                cps[i].constraints = parts[i].has_constraints ? &parts[i].constraints : NULL;
                cps[i].debug_name = parts[i].debug_name;
        }
        struct core_result res;
        struct core_failure fail = {0};
        bool ok = core_aggregate(cps, (size_t)nfiles, &config, &res, &fail) >= 0;
        bool has_layout = false;
        struct sysmem_size lsize = {0};
        uint32_t bpr = 0;
        struct sysmem_plane_layout layout = {0};
        if (ok && res.settings.has_image_format_constraints) {
                const struct sysmem_image_format_settings *f = &res.settings.image_format_constraints;
                lsize = has_size ? want : sized_image(f);
                has_layout = layout_at(f, lsize, &bpr, &layout);
        }
        if (json)
                print_json(&res, ok, &fail, has_layout, lsize, bpr, &layout);
        else
                print_text(&res, ok, &fail, has_layout, lsize, bpr, &layout);
        status = ok ? EXIT_NEGOTIATED : EXIT_NEGOTIATION_FAILED;
out:
        free(parts);
        free(cps);
        free(costs);
        return status;
}

/* " spare-tokens": a feature bit by its name in the protocol's constants table, lower case; " bitN" if unknown. */
static void print_feature(unsigned bit) {
        const struct wire_constant_group *g = NULL;
        for (size_t i = 0; i < wire_constant_group_count && !g; i++)
                if (!strcmp(wire_constant_groups[i].name, "features"))
                        g = &wire_constant_groups[i];
        for (uint32_t i = 0; g && i < g->count; i++) {
                if (g->values[i].value != (1ull << bit))
                        continue;
                putchar(' ');
                for (const char *c = wire_constant_short_name(g, &g->values[i]); *c; c++)
                        putchar(*c == '_' ? '-' : tolower((unsigned char)*c));
                return;
        }
        printf(" bit%u", bit);
}

/*
 * sysmemctl version [--socket PATH]: this tool's and libsysmem's versions, then the daemon's protocol and
 * features (GetServerInfo). Exit 0, or 3 when no daemon answers (the first lines are printed anyway).
 */
static int cmd_version(int argc, char **argv) {
        static const struct option opts[] = {{"socket", required_argument, NULL, 's'}, {"help", no_argument, NULL, 'h'},
                                             {0}};
        const char *socket_opt = NULL;
        int c;
        while ((c = getopt_long(argc, argv, "s:h", opts, NULL)) != -1) {
                if (c == 's') {
                        socket_opt = optarg;
                } else {
                        printf("Usage: sysmemctl version [--socket PATH]\n"
                               "Prints sysmemctl's and libsysmem's versions and protocol, then the protocol\n"
                               "version and features of the running sysmemd (GetServerInfo).\n");
                        return c == 'h' ? 0 : EXIT_BAD_INPUT;
                }
        }
        printf("sysmemctl %s\nlibsysmem %s, protocol %u\n", SYSMEM_VERSION, sysmem_library_version(),
               sysmem_protocol_version());
        struct sysmem_allocator *a = NULL;
        struct sysmem_server_info info;
        int r = sysmem_allocator_connect(socket_opt, &a);
        if (r >= 0)
                r = sysmem_allocator_get_server_info(a, &info);
        sysmem_allocator_free(a);
        if (r < 0) {
                printf("sysmemd: %s\n", r == -ENOTSUP ? "older than the handshake (no GetServerInfo)" : strerror(-r));
                return 3;
        }
        printf("sysmemd %s, protocol %u (serves clients of protocol %u and later)%s\nfeatures:",
               info.version[0] ? info.version : "?", info.protocol_version, info.min_protocol_version,
               info.min_protocol_version > sysmem_protocol_version() ? "; this libsysmem is too old for it" : "");
        for (unsigned i = 0; i < 64; i++)
                if (info.features & (1ull << i))
                        print_feature(i);
        printf("\n");
        return 0;
}

static void usage(FILE *f) {
        fprintf(f, "Usage: sysmemctl COMMAND [ARGS]\n\n"
                   "Commands:\n"
                   "  negotiate FILE...   run a negotiation offline (no daemon) and print the result\n"
                   "  list                the live collections of a running sysmemd, their trees and memory\n"
                   "  heaps               the heaps a running sysmemd allocates from, and their properties\n"
                   "  help                this text (also -h, --help)\n"
                   "  version             sysmemctl's and libsysmem's versions, and the running daemon's\n"
                   "                      protocol version and features (--version: sysmemctl's alone)\n\n"
                   "COMMAND --help describes each command. See sysmemctl(1).\n");
}

int main(int argc, char **argv) {
        if (argc < 2) {
                usage(stderr);
                return EXIT_BAD_INPUT;
        }
        if (!strcmp(argv[1], "negotiate"))
                return cmd_negotiate(argc - 1, argv + 1);
        if (!strcmp(argv[1], "list"))
                return sysmemctl_list(argc - 1, argv + 1);
        if (!strcmp(argv[1], "heaps"))
                return sysmemctl_heaps(argc - 1, argv + 1);
        if (!strcmp(argv[1], "help") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
                usage(stdout);
                return 0;
        }
        if (!strcmp(argv[1], "--version")) {
                printf("sysmemctl %s\n", SYSMEM_VERSION);
                return 0;
        }
        if (!strcmp(argv[1], "version"))
                return cmd_version(argc - 1, argv + 1);
        fprintf(stderr, "sysmemctl: unknown command '%s'\n", argv[1]);
        usage(stderr);
        return EXIT_BAD_INPUT;
}
