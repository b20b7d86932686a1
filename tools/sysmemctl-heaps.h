/* sysmemctl-heaps.h: `sysmemctl heaps`, the heaps a running sysmemd allocates from. */
#ifndef SYSMEMCTL_HEAPS_H
#define SYSMEMCTL_HEAPS_H

/* argv[0] is "heaps". Exit status: 0 listed, 1 the daemon answered with an error, 2 usage, 3 unreachable. */
int sysmemctl_heaps(int argc, char **argv);

#endif
