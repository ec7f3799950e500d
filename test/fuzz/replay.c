/* A main for libFuzzer drivers without libFuzzer: runs a driver once over
 * every file of its seed corpus, so `make test` (and `make asan`, under the
 * sanitizers) checks the seeds with the normal compiler, no clang needed.
 *
 *   fuzz_<name> [DIR|FILE]...
 *
 * Calls LLVMFuzzerInitialize when the driver has one, then
 * LLVMFuzzerTestOneInput on each file given, and on each regular file of
 * each directory given, in name order. Without arguments it replays
 * test/fuzz/corpus/<name>/ (relative to the current directory, the
 * repository's root under make), <name> taken from the program's name. Each
 * input is an exact-size heap copy, so ASan sees a read past its end, and
 * its path is printed before it runs, so the last line names the input of
 * a crash. A driver that crashes or aborts kills the process; an input that
 * cannot be read, or no input at all, exits 1: a missing corpus never
 * passes.
 */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));

/* Run the driver on the file at @path; 0, or -1 when it cannot be read. */
static int run_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    uint8_t *buf = NULL;
    long len;
    if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (len = ftell(f)) < 0 ||
        fseek(f, 0, SEEK_SET) != 0) {
        fprintf(stderr, "replay: cannot read %s: %s\n", path, strerror(errno));
        if (f != NULL) {
            fclose(f);
        }
        return -1;
    }
    buf = malloc(len > 0 ? (size_t)len : 1);
    if (buf == NULL || fread(buf, 1, (size_t)len, f) != (size_t)len) {
        fprintf(stderr, "replay: cannot read %s\n", path);
        free(buf);
        fclose(f);
        return -1;
    }
    fclose(f);
    printf("  %s (%ld bytes)\n", path, len);
    fflush(stdout);
    LLVMFuzzerTestOneInput(buf, (size_t)len);
    free(buf);
    return 0;
}

/* Run every regular file of directory @dir, or the file @dir; add how many
 * ran to *@n. Return 0 or -1. */
static int run_path(const char *dir, unsigned *n)
{
    struct dirent **names;
    struct stat st;
    int count;
    int rv = 0;
    if (stat(dir, &st) != 0) {
        fprintf(stderr, "replay: %s: %s\n", dir, strerror(errno));
        return -1;
    }
    if (!S_ISDIR(st.st_mode)) {
        if (run_file(dir) != 0) {
            return -1;
        }
        (*n)++;
        return 0;
    }
    count = scandir(dir, &names, NULL, alphasort);
    if (count < 0) {
        fprintf(stderr, "replay: %s: %s\n", dir, strerror(errno));
        return -1;
    }
    for (int i = 0; i < count; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]->d_name);
        if (names[i]->d_name[0] != '.' && stat(path, &st) == 0 &&
            S_ISREG(st.st_mode)) {
            if (run_file(path) == 0) {
                (*n)++;
            } else {
                rv = -1;
            }
        }
        free(names[i]);
    }
    free(names);
    return rv;
}

int main(int argc, char **argv)
{
    char dflt[4096];
    char *dflt_argv[] = {argv[0], dflt, NULL};
    unsigned n = 0;
    int rv = 0;

    if (argc < 2) {
        const char *base = strrchr(argv[0], '/');
        base = base != NULL ? base + 1 : argv[0];
        if (strncmp(base, "fuzz_", 5) == 0) {
            base += 5;
        }
        snprintf(dflt, sizeof dflt, "test/fuzz/corpus/%s", base);
        argc = 2;
        argv = dflt_argv;
    }
    if (LLVMFuzzerInitialize != NULL) {
        LLVMFuzzerInitialize(&argc, &argv);
    }
    for (int i = 1; i < argc; i++) {
        if (run_path(argv[i], &n) != 0) {
            rv = 1;
        }
    }
    if (n == 0) {
        fprintf(stderr, "replay: no inputs\n");
        return 1;
    }
    printf("replayed %u inputs\n", n);
    return rv;
}
