/* attn_case.h -- one attention test case: shapes, layout, dtype and options, built
 * into guarded tensors, run through tprim_attention and compared with the oracle. */
#ifndef TPRIM_TEST_ATTN_CASE_H
#define TPRIM_TEST_ATTN_CASE_H

#include "util.h"

enum { LAYOUT_BHSD = 0, LAYOUT_BSHD = 1, LAYOUT_PADDED = 2, LAYOUT_MIXED = 3 };
enum {
    BIAS_NONE = 0,
    BIAS_FULL,      /* [batch..., Hq, Sq, Sk] f32 */
    BIAS_MASK,      /* [batch..., 1, 1, Sk] f32, OpenFold 1e9 * (mask - 1) */
    BIAS_PAIR,      /* [1..., Hq, Sq, Sk] f32 shared by every batch entry */
    BIAS_2D,        /* [Sq, Sk] f32, leading dims missing */
    BIAS_QTYPE_T,   /* full, dtype of q, keys-outermost memory order (no unit key stride) */
    BIAS_NEG_INF,   /* full f32 with -inf entries and one fully -inf row */
    BIAS_ROWCONST,  /* [batch..., Hq, Sq, 1] f32 (key stride 0) */
    BIAS_KEYROW,    /* [batch..., 1, 1, Sk] f32, random values with -inf entries (a general mask bias) */
    BIAS_PAIR_INF,  /* as BIAS_PAIR, with -inf entries in head 0 only (some work items see them) */
    BIAS_PAIR_RAMP, /* as BIAS_PAIR, plus a rise along the keys: head h adds 4, 12 or 30 (h mod 3)
                     * a block of 128 keys, so that later key tiles' logits pass the earlier
                     * ones' by up to ~43 log2 units (the online softmax's rescaling) */
    BIAS_PAIR_NEG,  /* as BIAS_PAIR, minus 40: on every element of heads h with h mod 3 = 0, on the
                     * first half of the keys where h mod 3 = 1 (rows whose every logit of a key
                     * tile, or of all tiles, is negative: the row maxima below 0) */
    BIAS_COUNT_
};

typedef struct attn_case {
    int nbd;           /* batch dims 0..3 */
    int64_t bd[3];
    int64_t Hq, Hkv, Sq, Sk, D, Dv;
    tprim_dtype dt;
    int layout;
    int causal, use_window;
    int64_t wl, wr;
    float softcap, scale;
    int alibi;         /* 0 none, 1 [Hq], 2 [batch..., Hq] */
    int bias[2];       /* BIAS_* */
    int bias_qtype;    /* 1: the biases in the dtype of q (BIAS_QTYPE_T always is) */
    int klen;          /* 0 none, 1 [batch...] i32, 2 flat i64, 3 with zeros */
    int kmask;         /* 0 none, 1 random [batch..., Sk], 2 trailing padding (one entry all
                        * hidden), 3 shared [1..., Sk] */
    int lse;
} attn_case;

/* Describe a case in one line (for failure messages). */
void attn_case_str(const attn_case *c, char *buf, size_t n);

/* Run case c on ctx (whatever kernel it picks or has pinned); check every output
 * element against the oracle, NaN poison, guards, untouched inputs. Returns the
 * relative error (or a negative number when the call failed). `label` prefixes
 * failure messages. If out_copy is not NULL it receives the output bytes (for
 * determinism checks; caller frees). */
double attn_case_run(tprim_ctx *ctx, const attn_case *c, uint64_t seed, const char *label,
                     unsigned char **out_copy, size_t *out_bytes);

/* When set, attn_case_run mirrors every tensor in CUDA memory (device 0) and runs the
 * call there (tests/test_cuda.c). */
extern int g_attn_cuda;
/* 1: attn_case_run returns -1 without a failure when the pinned kernel refuses a case */
extern int g_attn_refusal_ok;

/* The table of forward cases (test_attention.c); returns how many were written. */
int attn_build_cases(attn_case *cs, int cap);

/* The case builders' append: case c into cs[n] while n < cap (their locals cs, n and
 * cap), dropped past the room; the builders return n and their callers check it. */
#define ATTN_CASE_ADD(c)                                                                   \
    do {                                                                                   \
        if (n < cap) cs[n++] = (c);                                                        \
    } while (0)

/* Tolerance of the relative error for a dtype. */
double attn_tol(tprim_dtype dt);

/* Run the forward (ctx's choice) then the backward of case c (with every bias gradient)
 * and compare dq, dk, dv, dbias with the float64 oracle. expect_unsupported: the pinned
 * backward kernel must refuse with TPRIM_ERR_UNSUPPORTED and write nothing. Returns the
 * worst relative error (negative when the call failed). copy: the gradient bytes. */
double attn_case_run_backward(tprim_ctx *ctx, const attn_case *c, uint64_t seed, const char *label,
                              int expect_unsupported, unsigned char **copy, size_t *copy_bytes);
#endif
