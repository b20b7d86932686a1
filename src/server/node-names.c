/* node-names.c: how logs and messages name a node, its kind and its failure mode; depends on nothing else. */
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

const char *node_display_name(const struct node *n) { return n->debug_name[0] ? n->debug_name : "(unnamed)"; }

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
