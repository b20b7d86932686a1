/* sysmemctl-list.h: `sysmemctl list`, the live collections of a running sysmemd. */
#ifndef SYSMEMCTL_LIST_H
#define SYSMEMCTL_LIST_H

/* argv[0] is "list". Exit status: 0 listed, 1 the daemon answered with an error, 2 usage, 3 unreachable. */
int sysmemctl_list(int argc, char **argv);

#endif
