/* errors.h: names of sysmem errors and their errno equivalents, shared by the library, server and tools. */
#ifndef SYSMEM_ERRORS_H
#define SYSMEM_ERRORS_H

#include <sysmem/sysmem-types.h>

const char *error_name(enum sysmem_error error);
int error_to_errno(enum sysmem_error error);

#endif
