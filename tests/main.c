/* main.c -- run the test suites: all of them (but those marked named-only), or those
 * named with --suite.
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
void suite_cuda_wgmma(void);
void suite_cuda_evo(void);

/* named: run only when named with --suite (a part of another suite) */
static const struct { const char *name; void (*fn)(void); int named; } suites[] = {
    {"api", suite_api, 0},
    {"attention", suite_attention, 0},
    {"attention_errors", suite_attention_errors, 0},
    {"attention_backward", suite_attention_backward, 0},
    {"evoformer", suite_evoformer, 0},
    {"linear", suite_linear, 0},
    {"linear_errors", suite_linear_errors, 0},
    {"gemm", suite_gemm, 0},
    {"cuda", suite_cuda, 0},
    {"cuda_wgmma", suite_cuda_wgmma, 1},
    {"cuda_evo", suite_cuda_evo, 1},
};

int main(int argc, char **argv)
{
    const char *only[16];
    int nonly = 0;
    setvbuf(stdout, NULL, _IOLBF, 0); /* each line out at once: a run cut off (a hang, a timeout) shows how far it got */
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--suite") == 0 && i + 1 < argc && nonly < 16) only[nonly++] = argv[++i];
        else if (strcmp(argv[i], "-v") == 0) g_verbose++;
        else {
            fprintf(stderr, "usage: %s [--suite NAME]... [-v]\n", argv[0]);
            return 2;
        }
    }
    for (int i = 0; i < nonly; i++) { /* a misspelt name must not pass by running nothing */
        int known = 0;
        for (size_t s = 0; s < sizeof suites / sizeof suites[0]; s++) known |= strcmp(only[i], suites[s].name) == 0;
        if (!known) {
            fprintf(stderr, "%s: no suite named %s\n", argv[0], only[i]);
            return 2;
        }
    }
    for (size_t s = 0; s < sizeof suites / sizeof suites[0]; s++) {
        int run = nonly == 0 && !suites[s].named;
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
