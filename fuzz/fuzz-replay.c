/* fuzz-replay.c: runs a fuzz target over corpus files and directories, so that the corpus is an ordinary test. */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_INPUT_BYTES (1024u * 1024u)

static unsigned inputs_run;

static int run_file(const char *path) {
        FILE *f = fopen(path, "re");
        if (!f) {
                fprintf(stderr, "%s: %s\n", path, strerror(errno));
                return -errno;
        }
        uint8_t *buf = malloc(MAX_INPUT_BYTES);
        if (!buf) {
                fclose(f);
                return -ENOMEM;
        }
        size_t n = fread(buf, 1, MAX_INPUT_BYTES, f);
        bool bad = ferror(f) || !feof(f);
        fclose(f);
        if (bad) {
                fprintf(stderr, "%s: unreadable, or larger than %u bytes\n", path, MAX_INPUT_BYTES);
                free(buf);
                return -EIO;
        }

        /* A leaked fd is a bug libFuzzer does not see; here it fails the run. */
        int before = util_count_open_fds();
        LLVMFuzzerTestOneInput(buf, n);
        int after = util_count_open_fds();
        free(buf);
        inputs_run++;
        if (after != before) {
                fprintf(stderr, "%s: %d fds open before, %d after\n", path, before, after);
                return -EBADF;
        }
        return 0;
}

static int run_path(const char *path) {
        struct stat st;
        if (stat(path, &st) < 0) {
                fprintf(stderr, "%s: %s\n", path, strerror(errno));
                return -errno;
        }
        if (!S_ISDIR(st.st_mode))
                return run_file(path);

        struct dirent **entries;
        int n = scandir(path, &entries, NULL, alphasort);
        if (n < 0) {
                fprintf(stderr, "%s: %s\n", path, strerror(errno));
                return -errno;
        }
        int r = 0;
        for (int i = 0; i < n; i++) {
                if (entries[i]->d_name[0] != '.' && r == 0) {
                        char child[4096];
                        snprintf(child, sizeof(child), "%s/%s", path, entries[i]->d_name);
                        r = run_path(child);
                }
                free(entries[i]);
        }
        free(entries);
        return r;
}

int main(int argc, char **argv) {
        if (argc < 2) {
                fprintf(stderr, "usage: %s FILE-OR-DIRECTORY...\n", argv[0]);
                return 2;
        }
        for (int i = 1; i < argc; i++)
                if (run_path(argv[i]) < 0)
                        return 1;
        printf("%s: ran %u inputs\n", argv[0], inputs_run);
        if (inputs_run == 0) {
                fprintf(stderr, "no inputs: an empty corpus tests nothing\n");
                return 1;
        }
        return 0;
}
