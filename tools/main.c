/* main.c -- the tprim command: info | bench. */
#include "tool.h"

#include <stdio.h>
#include <string.h>

static void usage(FILE *f)
{
    fprintf(f,
            "usage: tprim <command> [options]\n"
            "  info  [--json] [--threads N]     this machine: features, caches, kernels, measured\n"
            "                                   fp32 peak and memory bandwidth\n"
            "  bench [--suite NAME|all] [--json FILE] [--threads N] [--quick] [--filter TEXT]\n"
            "                                   run benchmark suites (attention, evoformer; default\n"
            "                                   attention); --filter keeps cases whose name has TEXT\n"
            "                                   (TEXT$: whose name ends with TEXT)\n"
            "  version                          print the library version\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "info") == 0) return cmd_info(argc - 2, argv + 2);
    if (strcmp(argv[1], "bench") == 0) return cmd_bench(argc - 2, argv + 2);
    if (strcmp(argv[1], "version") == 0) {
        printf("tprim %s\n", tprim_version_string());
        return 0;
    }
    if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return 0;
    }
    fprintf(stderr, "tprim: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}
