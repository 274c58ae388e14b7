/* attention.h -- the normalised attention problem that the front-end builds and every
 * attention kernel reads. After normalisation a kernel sees only flat batch indices,
 * heads, rows and columns with element strides; broadcasting is stride 0. */
#ifndef TPRIM_OPS_ATTENTION_H
#define TPRIM_OPS_ATTENTION_H

#include "check.h"

/* "Unbounded" window edge: large enough never to clip, small enough that i + edge
 * cannot overflow int64 for any row index a tensor can have. */
#define TP_UNBOUNDED ((int64_t)1 << 60)

/* One operand viewed as [batch (up to 3 dims), head, row, col]. */
typedef struct tp_operand {
    const char *data;   /* byte address of element (0, 0, 0, 0) */
    tprim_dtype dtype;
    int64_t sb[3];      /* strides of the batch dims (elements); 0 where broadcast */
    int64_t sh;         /* head stride */
    int64_t si;         /* row stride (query index, or key index for k/v) */
    int64_t sj;         /* column stride (feature for q/k/v/out, key for biases) */
} tp_operand;

typedef struct tp_attn_problem {
    int64_t bdim[3];   /* batch dims, padded with 1 at the front: [b0, b1, b2] */
    int64_t nbatch;    /* b0 * b1 * b2 */
    int64_t Hq, Hkv, G; /* G = Hq / Hkv query heads per key/value head */
    int64_t Sq, Sk, D, Dv;
    tprim_dtype dtype; /* of q, k, v, out */
    tp_operand q;      /* [b, Hq, Sq, D] */
    tp_operand k;      /* [b, Hkv, Sk, D] */
    tp_operand v;      /* [b, Hkv, Sk, Dv] */
    tp_operand out;    /* [b, Hq, Sq, Dv] (written) */
    int32_t nbias;
    tp_operand bias[2]; /* [b, Hq, Sq, Sk], broadcast strides 0 */
    int32_t has_alibi;
    tp_operand alibi;  /* f32 [b, Hq] (si = sj = 0) */
    int32_t has_klen;
    tp_operand klen;   /* i32 / i64 [b] */
    int32_t has_kmask;
    tp_operand kmask;  /* bool [b, key] (sj = key stride; sh = si = 0) */
    int32_t has_lse;
    tp_operand lse;    /* f32 [b, Hq, Sq] (written; sj = 0) */
    float scale;       /* resolved: never 0 */
    float softcap;     /* 0 = off */
    int64_t wl, wr;    /* window edges (>= 0 or TP_UNBOUNDED); causal folded into wr */
    int32_t memory;    /* tprim_memory_mode of the calling context */
    int32_t device;    /* tprim_device_type of every tensor of the call */
    int32_t device_id; /* the GPU for TPRIM_DEVICE_CUDA */
    /* backward only (tprim_attention_backward) */
    tp_operand dout;   /* [b, Hq, Sq, Dv] dtype */
    tp_operand lse_in; /* f32 [b, Hq, Sq] from the forward call */
    tp_operand dq, dk, dv; /* shapes of q, k, v (written) */
    int32_t has_dbias[2];
    tp_operand dbias[2]; /* f32, broadcast strides of bias[x] (0 = summed over) */
} tp_attn_problem;

/* Check q, k, v, out and params and fill p (front-end shared by forward and backward).
 * `out_name` names the out argument in messages. */
tprim_status tp_attn_build(tprim_ctx *ctx, const tprim_tensor *q, const tprim_tensor *k,
                           const tprim_tensor *v, const tprim_tensor *out,
                           const tprim_attn_params *pa, int with_lse, tp_attn_problem *p);
/* Helpers of the front-ends (attention.c) */
tprim_status tp_check_same_shape(tprim_ctx *ctx, const char *name, const tprim_tensor *t,
                                 const char *ref_name, const tprim_tensor *ref);
/* Broadcast t (rank <= r) against tgt[r], right-aligned; strides into str[r] (0 where
 * broadcast). roles: name the last three dims Hq/Sq/Sk in messages. */
tprim_status tp_broadcast(tprim_ctx *ctx, const char *name, const tprim_tensor *t, int r,
                          const int64_t *tgt, int64_t *str, int roles);
void tp_fill_operand(tp_operand *o, const tprim_tensor *t, int nbd, const int64_t *str, int nrest);

/* Element offset of batch b (flat) for an operand. */
static inline int64_t tp_batch_off(const tp_attn_problem *p, const tp_operand *o, int64_t b)
{
    int64_t b2 = b % p->bdim[2];
    int64_t r = b / p->bdim[2];
    int64_t b1 = r % p->bdim[1];
    int64_t b0 = r / p->bdim[1];
    return b0 * o->sb[0] + b1 * o->sb[1] + b2 * o->sb[2];
}

/* Byte address of element (b, h, i, j) of an operand. */
static inline const char *tp_at(const tp_attn_problem *p, const tp_operand *o, int64_t b,
                                int64_t h, int64_t i, int64_t j)
{
    int64_t off = tp_batch_off(p, o, b) + h * o->sh + i * o->si + j * o->sj;
    return o->data + off * (int64_t)tprim_dtype_size(o->dtype);
}

/* The batch indices (b0, b1, b2) of flat batch b: kernels compute them once per work
 * item and address with tp_atb, which has no division. */
static inline void tp_batch_idx(const tp_attn_problem *p, int64_t b, int64_t bi[3])
{
    bi[2] = b % p->bdim[2];
    b /= p->bdim[2];
    bi[1] = b % p->bdim[1];
    bi[0] = b / p->bdim[1];
}

static inline const char *tp_atb(const tp_operand *o, const int64_t bi[3], int64_t h, int64_t i,
                                 int64_t j)
{
    int64_t off = bi[0] * o->sb[0] + bi[1] * o->sb[1] + bi[2] * o->sb[2] + h * o->sh + i * o->si +
                  j * o->sj;
    return o->data + off * (int64_t)tprim_dtype_size(o->dtype);
}

/* Key length of batch b (Sk when no key_lens were given). */
static inline int64_t tp_key_len(const tp_attn_problem *p, int64_t b)
{
    if (!p->has_klen) return p->Sk;
    const char *a = tp_at(p, &p->klen, b, 0, 0, 0);
    if (p->klen.dtype == TPRIM_I32) {
        int32_t v;
        __builtin_memcpy(&v, a, 4);
        return v;
    }
    int64_t v;
    __builtin_memcpy(&v, a, 8);
    return v;
}

/* Visible keys of query row i: [*lo, *hi) (empty when lo >= hi). kl = key length. */
static inline void tp_row_range(const tp_attn_problem *p, int64_t kl, int64_t i, int64_t *lo,
                                int64_t *hi)
{
    int64_t ia = i + (kl - p->Sq); /* bottom-right aligned position of the query */
    int64_t l = p->wl >= TP_UNBOUNDED ? 0 : ia - p->wl;
    int64_t h = p->wr >= TP_UNBOUNDED ? kl : ia + p->wr + 1;
    *lo = l < 0 ? 0 : l;
    *hi = h > kl ? kl : h;
}

/* 1 if a bias varies over queries and keys but is shared by several batch entries (the
 * OpenFold pair bias [B, 1, H, L, L] over N): kernels then schedule batch entries
 * innermost so that each bias tile comes from memory once for the group. */
static inline int tp_attn_shared_bias(const tp_attn_problem *p)
{
    for (int x = 0; x < p->nbias; x++) {
        const tp_operand *o = &p->bias[x];
        if (o->si == 0 || o->sj == 0) continue;
        for (int d = 0; d < 3; d++)
            if (o->sb[d] == 0 && p->bdim[d] > 1) return 1;
    }
    return 0;
}

/* Whether key j of batch entry bi passes the boolean key mask (1 when there is none). */
static inline int tp_key_visible(const tp_attn_problem *p, const int64_t bi[3], int64_t j)
{
    return !p->has_kmask || *tp_atb(&p->kmask, bi, 0, 0, j) != 0;
}

/* ALiBi slope of (b, h), 0 when none. */
static inline float tp_alibi_slope(const tp_attn_problem *p, int64_t b, int64_t h)
{
    if (!p->has_alibi) return 0.0f;
    float s;
    __builtin_memcpy(&s, tp_at(p, &p->alibi, b, h, 0, 0), 4);
    return s;
}

#endif /* TPRIM_OPS_ATTENTION_H */
