/* node-names.c: how logs and messages name a node, its kind and its failure mode; depends on nothing else. */
#include <stdlib.h>
#include <string.h>

#include "server-internal.h"

const char *node_kind_name(enum node_kind kind) {
        switch (kind) {
        case NODE_TOKEN:
                return "token";
        case NODE_COLLECTION:
                return "collection";
        case NODE_GROUP:
                return "group";
        }
        return "?";
}

const char *node_display_name(const struct node *n) { return n->debug_name ? n->debug_name : "(unnamed)"; }

void node_set_debug_name(struct node *n, const char *name) {
        free(n->debug_name);
        /* Out of memory, the node is unnamed: names are for people reading logs. */
        n->debug_name = name && name[0] ? strndup(name, SYSMEM_MAX_CLIENT_NAME_LENGTH) : NULL;
}

const char *node_mode_name(enum node_mode mode) {
        switch (mode) {
        case MODE_PROPAGATE:
                return "propagate";
        case MODE_PROPAGATE_BEFORE_ALLOCATION:
                return "dispensable";
        case MODE_DO_NOT_PROPAGATE:
                return "isolated";
        }
        return "?";
}
