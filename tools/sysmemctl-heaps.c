/* sysmemctl-heaps.c: `sysmemctl heaps`: the heaps a running sysmemd allocates from, and what each is. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

#include <sysmem/sysmem.h>

#include "heaps/heap.h"
#include "sysmemctl-heaps.h"

enum { EXIT_LISTED = 0, EXIT_DAEMON_ERROR = 1, EXIT_USAGE = 2, EXIT_UNREACHABLE = 3 };

/* A daemon that accepts but never answers must not hang a shell script. */
#define REPLY_TIMEOUT_S 10

static void on_alarm(int sig) {
        (void)sig;
        static const char msg[] = "sysmemctl: sysmemd did not answer within 10 s\n";
        (void)!write(STDERR_FILENO, msg, sizeof msg - 1);
        _exit(EXIT_UNREACHABLE);
}

static json_object *heap_json(const struct sysmem_heap_info *h) {
        json_object *o = json_object_new_object();
        json_object_object_add(o, "name", json_object_new_string(h->heap.heap_type));
        json_object_object_add(o, "id", json_object_new_uint64(h->heap.id));
        json_object_object_add(o, "backend", json_object_new_string(h->backend));
        json_object_object_add(o, "device", h->device[0] ? json_object_new_string(h->device) : NULL);
        json_object *domains = json_object_new_array();
        if (h->flags & SYSMEM_HEAP_FLAG_CPU_DOMAIN)
                json_object_array_add(domains, json_object_new_string("cpu"));
        if (h->flags & SYSMEM_HEAP_FLAG_RAM_DOMAIN)
                json_object_array_add(domains, json_object_new_string("ram"));
        if (h->flags & SYSMEM_HEAP_FLAG_INACCESSIBLE_DOMAIN)
                json_object_array_add(domains, json_object_new_string("inaccessible"));
        json_object_object_add(o, "coherency_domains", domains);
        static const struct {
                uint32_t flag;
                const char *key;
        } bools[] = {
                {SYSMEM_HEAP_FLAG_CONTIGUOUS, "physically_contiguous"},
                {SYSMEM_HEAP_FLAG_SECURE, "secure"},
                {SYSMEM_HEAP_FLAG_ZEROED, "zeroed"},
                {SYSMEM_HEAP_FLAG_CPU_MAPPABLE, "cpu_mappable"},
                {SYSMEM_HEAP_FLAG_DMA_BUF, "dma_buf"},
                {SYSMEM_HEAP_FLAG_READ_ONLY_FDS, "read_only_fds"},
        };
        for (size_t i = 0; i < sizeof bools / sizeof bools[0]; i++)
                json_object_object_add(o, bools[i].key, json_object_new_boolean(h->flags & bools[i].flag));
        json_object_object_add(o, "max_buffer_bytes",
                               h->max_buffer_bytes ? json_object_new_uint64(h->max_buffer_bytes) : NULL);
        return o;
}

static void print_text(const struct sysmem_heap_info *heaps, size_t count) {
        printf("%-24s %3s  %-9s %-22s %s\n", "HEAP", "ID", "BACKEND", "DEVICE", "PROPERTIES");
        for (size_t i = 0; i < count; i++) {
                const struct sysmem_heap_info *h = &heaps[i];
                char flags[160];
                heaps_describe_flags(h->flags, flags, sizeof flags);
                printf("%-24s %3" PRIu64 "  %-9s %-22s %s", h->heap.heap_type, h->heap.id, h->backend,
                       h->device[0] ? h->device : "-", flags);
                if (h->max_buffer_bytes)
                        printf(", max %" PRIu64 " bytes per buffer", h->max_buffer_bytes);
                printf("\n");
        }
}

int sysmemctl_heaps(int argc, char **argv) {
        static const struct option opts[] = {{"json", no_argument, NULL, 'j'},
                                             {"socket", required_argument, NULL, 's'},
                                             {"help", no_argument, NULL, 'h'},
                                             {0}};
        bool json = false;
        const char *socket_opt = NULL;
        int c;
        optind = 1;
        while ((c = getopt_long(argc, argv, "js:h", opts, NULL)) != -1) {
                switch (c) {
                case 'j':
                        json = true;
                        break;
                case 's':
                        socket_opt = optarg;
                        break;
                case 'h':
                        printf("Usage: sysmemctl heaps [--json] [--socket PATH]\n"
                               "Lists the heaps a running sysmemd allocates from, in its preference order: name\n"
                               "(what participants put in permitted_heaps), id, backend, device, coherency\n"
                               "domains, contiguity, and the heap's own limit. See docs/heaps.md.\n"
                               "Exit status: 0 listed, 1 the daemon answered with an error, 2 usage,\n"
                               "3 the daemon cannot be reached.\n");
                        return EXIT_LISTED;
                default:
                        return EXIT_USAGE;
                }
        }
        if (optind < argc) {
                fprintf(stderr, "sysmemctl heaps: unexpected argument '%s'\n", argv[optind]);
                return EXIT_USAGE;
        }
        signal(SIGALRM, on_alarm);
        alarm(REPLY_TIMEOUT_S);
        struct sysmem_allocator *a;
        int r = sysmem_allocator_connect(socket_opt, &a);
        if (r < 0) {
                fprintf(stderr, "sysmemctl: cannot reach sysmemd: %s\n", strerror(-r));
                return EXIT_UNREACHABLE;
        }
        struct sysmem_heap_info heaps[SYSMEM_MAX_HEAPS];
        size_t count = 0;
        r = sysmem_allocator_get_heaps(a, heaps, SYSMEM_MAX_HEAPS, &count);
        sysmem_allocator_free(a);
        alarm(0);
        if (r < 0) {
                fprintf(stderr, "sysmemctl: GetHeaps failed: %s\n", strerror(-r));
                return EXIT_DAEMON_ERROR;
        }
        if (count > SYSMEM_MAX_HEAPS)
                count = SYSMEM_MAX_HEAPS;
        if (!json) {
                print_text(heaps, count);
                return EXIT_LISTED;
        }
        json_object *root = json_object_new_object(), *list = json_object_new_array();
        for (size_t i = 0; i < count; i++)
                json_object_array_add(list, heap_json(&heaps[i]));
        json_object_object_add(root, "heaps", list);
        printf("%s\n", json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
        json_object_put(root);
        return EXIT_LISTED;
}
