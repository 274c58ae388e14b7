/* main.c -- run the test suites: all of them, or those named with --suite.
 * The last line is "N passed, N failed"; the exit status is nonzero on any failure. */
#include "util.h"

#include <stdio.h>
#include <string.h>

void suite_api(void);
void suite_attention(void);
void suite_attention_errors(void);
void suite_attention_backward(void);
void suite_evoformer(void);
void suite_linear(void);
void suite_linear_errors(void);
void suite_gemm(void);
void suite_cuda(void);

static const struct { const char *name; void (*fn)(void); } suites[] = {
    {"api", suite_api},
    {"attention", suite_attention},
    {"attention_errors", suite_attention_errors},
    {"attention_backward", suite_attention_backward},
    {"evoformer", suite_evoformer},
    {"linear", suite_linear},
    {"linear_errors", suite_linear_errors},
    {"gemm", suite_gemm},
    {"cuda", suite_cuda},
};

int main(int argc, char **argv)
{
    const char *only[16];
    int nonly = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--suite") == 0 && i + 1 < argc && nonly < 16) only[nonly++] = argv[++i];
        else if (strcmp(argv[i], "-v") == 0) g_verbose++;
        else {
            fprintf(stderr, "usage: %s [--suite NAME]... [-v]\n", argv[0]);
            return 2;
        }
    }
    for (size_t s = 0; s < sizeof suites / sizeof suites[0]; s++) {
        int run = nonly == 0;
        for (int i = 0; i < nonly; i++) run |= strcmp(only[i], suites[s].name) == 0;
        if (!run) continue;
        long p0 = g_passed, f0 = g_failed;
        printf("suite %s\n", suites[s].name);
        fflush(stdout);
        suites[s].fn();
        printf("suite %s: %ld passed, %ld failed\n", suites[s].name, g_passed - p0, g_failed - f0);
        fflush(stdout);
    }
    printf("%ld passed, %ld failed\n", g_passed, g_failed);
    return g_failed ? 1 : 0;
}
