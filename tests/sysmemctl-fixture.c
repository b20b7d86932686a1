/* sysmemctl-fixture.c: holds live collections with a known node tree open for test-sysmemctl-list.sh. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sysmem/sysmem.h>

/*
 * The tree of collection "frames" (debug name, id), all in this one process; the daemon cannot tell:
 *
 *   collection camera 1            root, bound in place; CPU writes, 2 camping, at least 6 buffers, NV12 640x480
 *   ├── collection display 2       dispensable; display layer, 1 camping
 *   ├── token encoder 3            released after making the group: an orphan
 *   │   └── group encoder 3        AllChildrenPresent
 *   │       ├── collection encoder-hw 4   max 4096 bytes: cannot fit, so the group picks the next child
 *   │       └── collection encoder-sw 5   CPU reads, 1 camping: chosen
 *   ├── collection monitor 6       weak; CPU reads
 *   ├── collection viewer 7        AttachToken after allocation; joins the existing buffers (1 camping)
 *   └── collection recorder 8      AttachToken; waits, because its duplicate below is never bound
 *       └── token spare 9
 *
 * Collection "scratch": non-shared, camera 1, 2 buffers of 64 KiB. Then EXTRA (argv[1], default 0)
 * collections "pending-N" from client "idle" 10 that never get constraints: they stay negotiating,
 * so the listing needs more than one page once EXTRA passes the daemon's page size.
 */

static void die(const char *what, int r) {
        fprintf(stderr, "sysmemctl-fixture: %s: %s\n", what, strerror(-r));
        exit(1);
}

#define CHECK(call)                                                                                                    \
        do {                                                                                                           \
                int r_ = (call);                                                                                       \
                if (r_ < 0)                                                                                            \
                        die(#call, r_);                                                                                \
        } while (0)

static const uint32_t rec709 = SYSMEM_COLOR_SPACE_REC709;

static const struct sysmem_image_format_constraints nv12 = {
        .pixel_format = 0x3231564e, /* DRM_FORMAT_NV12 */
        .has_pixel_format_modifier = true,
        .pixel_format_modifier = SYSMEM_FORMAT_MODIFIER_LINEAR,
        .color_space_count = 1,
        .color_spaces = &rec709,
        .min_size = {640, 480},
};

static struct sysmem_constraints reader(uint32_t camping) {
        return (struct sysmem_constraints){.usage.cpu = SYSMEM_CPU_USAGE_READ, .min_buffer_count_for_camping = camping};
}

static struct sysmem_collection *bind(struct sysmem_token *t, const char *name, uint64_t id) {
        struct sysmem_collection *c;
        CHECK(sysmem_node_set_debug_client_info(sysmem_token_node(t), name, id));
        CHECK(sysmem_token_bind(t, &c));
        return c;
}

int main(int argc, char **argv) {
        int extra = argc > 1 ? atoi(argv[1]) : 0;
        struct sysmem_allocator *alloc, *idle;
        CHECK(sysmem_allocator_connect(NULL, &alloc));
        CHECK(sysmem_allocator_set_debug_client_info(alloc, "camera", 1));

        struct sysmem_token *root, *display_t, *encoder_t, *monitor_t, *children[2];
        struct sysmem_group *group;
        CHECK(sysmem_allocator_allocate_shared(alloc, &root));
        CHECK(sysmem_node_set_name(sysmem_token_node(root), 10, "frames"));
        CHECK(sysmem_token_duplicate(root, SYSMEM_RIGHTS_SAME, &display_t));
        CHECK(sysmem_token_set_dispensable(display_t));
        CHECK(sysmem_token_duplicate(root, SYSMEM_RIGHTS_SAME, &encoder_t));
        CHECK(sysmem_node_set_debug_client_info(sysmem_token_node(encoder_t), "encoder", 3));
        CHECK(sysmem_token_create_group(encoder_t, &group));
        const uint32_t masks[2] = {SYSMEM_RIGHTS_SAME, SYSMEM_RIGHTS_SAME};
        CHECK(sysmem_group_create_children_sync(group, 2, masks, children));
        CHECK(sysmem_group_all_children_present(group));
        CHECK(sysmem_token_release(encoder_t));
        CHECK(sysmem_token_duplicate(root, SYSMEM_RIGHTS_SAME, &monitor_t));
        CHECK(sysmem_node_set_weak(sysmem_token_node(monitor_t)));

        struct sysmem_collection *camera = bind(root, "camera", 1);
        struct sysmem_collection *display = bind(display_t, "display", 2);
        struct sysmem_collection *hw = bind(children[0], "encoder-hw", 4);
        struct sysmem_collection *sw = bind(children[1], "encoder-sw", 5);
        struct sysmem_collection *monitor = bind(monitor_t, "monitor", 6);

        struct sysmem_constraints k = {.usage.cpu = SYSMEM_CPU_USAGE_WRITE,
                                       .min_buffer_count_for_camping = 2,
                                       .min_buffer_count = 6,
                                       .image_format_constraint_count = 1,
                                       .image_format_constraints = &nv12};
        CHECK(sysmem_collection_set_constraints(camera, &k));
        k = (struct sysmem_constraints){.usage.display = SYSMEM_DISPLAY_USAGE_LAYER, .min_buffer_count_for_camping = 1};
        CHECK(sysmem_collection_set_constraints(display, &k));
        k = reader(1);
        k.buffer_memory_constraints.max_size_bytes = 4096;
        CHECK(sysmem_collection_set_constraints(hw, &k));
        k = reader(1);
        CHECK(sysmem_collection_set_constraints(sw, &k));
        k = reader(0);
        CHECK(sysmem_collection_set_constraints(monitor, &k));

        struct sysmem_collection_info *info[8];
        CHECK(sysmem_collection_wait_allocated(camera, &info[0]));
        CHECK(sysmem_collection_wait_allocated(display, &info[1]));
        CHECK(sysmem_collection_wait_allocated(sw, &info[2]));
        CHECK(sysmem_collection_wait_allocated(monitor, &info[3]));

        /* After allocation: one late joiner that fits, and one subtree held back by an unbound token. */
        struct sysmem_token *viewer_t, *recorder_t, *spare;
        CHECK(sysmem_collection_attach_token(camera, SYSMEM_RIGHTS_SAME, &viewer_t));
        struct sysmem_collection *viewer = bind(viewer_t, "viewer", 7);
        k = reader(1);
        CHECK(sysmem_collection_set_constraints(viewer, &k));
        CHECK(sysmem_collection_wait_allocated(viewer, &info[4]));
        CHECK(sysmem_collection_attach_token(camera, SYSMEM_RIGHTS_SAME, &recorder_t));
        CHECK(sysmem_node_set_debug_client_info(sysmem_token_node(recorder_t), "recorder", 8));
        CHECK(sysmem_token_duplicate(recorder_t, SYSMEM_RIGHTS_SAME, &spare));
        CHECK(sysmem_node_set_debug_client_info(sysmem_token_node(spare), "spare", 9));
        CHECK(sysmem_node_sync(sysmem_token_node(spare)));
        struct sysmem_collection *recorder = bind(recorder_t, "recorder", 8);
        k = reader(0);
        CHECK(sysmem_collection_set_constraints(recorder, &k));
        CHECK(sysmem_node_sync(sysmem_collection_node(recorder)));

        struct sysmem_collection *scratch;
        CHECK(sysmem_allocator_allocate_non_shared(alloc, &scratch));
        CHECK(sysmem_node_set_name(sysmem_collection_node(scratch), 10, "scratch"));
        k = (struct sysmem_constraints){.usage.cpu = SYSMEM_CPU_USAGE_WRITE,
                                        .min_buffer_count = 2,
                                        .buffer_memory_constraints.min_size_bytes = 65536};
        CHECK(sysmem_collection_set_constraints(scratch, &k));
        CHECK(sysmem_collection_wait_allocated(scratch, &info[5]));

        CHECK(sysmem_allocator_connect(NULL, &idle));
        CHECK(sysmem_allocator_set_debug_client_info(idle, "idle", 10));
        for (int i = 0; i < extra; i++) {
                struct sysmem_collection *p;
                char name[32];
                snprintf(name, sizeof name, "pending-%d", i);
                CHECK(sysmem_allocator_allocate_non_shared(idle, &p));
                CHECK(sysmem_node_set_name(sysmem_collection_node(p), 10, name));
                CHECK(sysmem_node_sync(sysmem_collection_node(p))); /* the name is in before READY */
                /* Never freed: the collection lives as long as this process. */
        }

        printf("READY\n");
        fflush(stdout);
        /* Everything stays open until the test says so (a line, or end of input), or kills this process. */
        char line[64];
        (void)fgets(line, sizeof line, stdin);
        return 0;
}
