/* errors.c: names of sysmem errors and their errno equivalents. */
#include "errors.h"

#include <errno.h>

const char *error_name(enum sysmem_error error) {
        switch (error) {
        case SYSMEM_ERROR_INVALID:
                return "INVALID";
        case SYSMEM_ERROR_UNSPECIFIED:
                return "UNSPECIFIED";
        case SYSMEM_ERROR_PROTOCOL_DEVIATION:
                return "PROTOCOL_DEVIATION";
        case SYSMEM_ERROR_NOT_FOUND:
                return "NOT_FOUND";
        case SYSMEM_ERROR_HANDLE_ACCESS_DENIED:
                return "HANDLE_ACCESS_DENIED";
        case SYSMEM_ERROR_NO_MEMORY:
                return "NO_MEMORY";
        case SYSMEM_ERROR_CONSTRAINTS_INTERSECTION_EMPTY:
                return "CONSTRAINTS_INTERSECTION_EMPTY";
        case SYSMEM_ERROR_PENDING:
                return "PENDING";
        case SYSMEM_ERROR_TOO_MANY_GROUP_CHILD_COMBINATIONS:
                return "TOO_MANY_GROUP_CHILD_COMBINATIONS";
        }
        return "UNKNOWN";
}

int error_to_errno(enum sysmem_error error) {
        switch (error) {
        case SYSMEM_ERROR_PROTOCOL_DEVIATION:
                return EPROTO;
        case SYSMEM_ERROR_NOT_FOUND:
                return ENOENT;
        case SYSMEM_ERROR_HANDLE_ACCESS_DENIED:
                return EACCES;
        case SYSMEM_ERROR_NO_MEMORY:
                return ENOMEM;
        case SYSMEM_ERROR_CONSTRAINTS_INTERSECTION_EMPTY:
                return ENOTSUP;
        case SYSMEM_ERROR_PENDING:
                return EAGAIN;
        case SYSMEM_ERROR_TOO_MANY_GROUP_CHILD_COMBINATIONS:
                return E2BIG;
        case SYSMEM_ERROR_INVALID:
        case SYSMEM_ERROR_UNSPECIFIED:
        default:
                return EIO;
        }
}
