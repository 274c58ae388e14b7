/* tool.h -- shared pieces of the tprim command. */
#ifndef TPRIM_TOOLS_TOOL_H
#define TPRIM_TOOLS_TOOL_H

#include "json.h"
#include "probe.h"
#include "tprim.h"

#include <stdio.h>

typedef struct machine_info {
    tprim_hw_info hw;
    probe_peak peak;   /* fp32 FMA peak with `threads` threads */
    probe_bw bw;       /* copy bandwidth with `threads` threads */
    int threads;
    char date[32];     /* UTC, ISO 8601 */
    const char *kernel[TPRIM_OP_COUNT_]; /* variant auto-dispatch picks for a plain f32 call */
} machine_info;

/* Detect and measure (a second or two). */
void machine_measure(machine_info *m, int threads);
void machine_print(FILE *f, const machine_info *m);
void machine_json(json_w *w, const char *key, const machine_info *m);

int cmd_info(int argc, char **argv);
int cmd_bench(int argc, char **argv);

#endif
