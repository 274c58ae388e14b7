/* test_attention_errors.c -- one test per invalid input of tprim_attention: the status,
 * a message that names the argument, and an output left untouched. */
#include "util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct fixture {
    gtensor q, k, v, o, lse, bias, kl, alibi;
} fixture;

static void fx_make(fixture *f)
{
    rng R = {42};
    int64_t sq[4] = {2, 4, 8, 16}, sk[4] = {2, 2, 12, 16}, so[4] = {2, 4, 8, 16};
    int64_t sl[3] = {2, 4, 8}, sb[4] = {2, 4, 8, 12}, skl[1] = {2}, sa[1] = {4};
    gt_make(&f->q, TPRIM_F32, 4, sq, NULL, 0);
    gt_make(&f->k, TPRIM_F32, 4, sk, NULL, 0);
    gt_make(&f->v, TPRIM_F32, 4, sk, NULL, 0);
    gt_make(&f->o, TPRIM_F32, 4, so, NULL, 0);
    gt_make(&f->lse, TPRIM_F32, 3, sl, NULL, 0);
    gt_make(&f->bias, TPRIM_F32, 4, sb, NULL, 0);
    gt_make(&f->kl, TPRIM_I32, 1, skl, NULL, 0);
    gt_make(&f->alibi, TPRIM_F32, 1, sa, NULL, 0);
    gt_fill_random(&f->q, &R, 1);
    gt_fill_random(&f->k, &R, 1);
    gt_fill_random(&f->v, &R, 1);
    gt_fill_random(&f->bias, &R, 1);
    gt_fill_random(&f->alibi, &R, 1);
    gt_set(&f->kl, 0, 5);
    gt_set(&f->kl, 1, 12);
}

static void fx_free(fixture *f)
{
    gt_free(&f->q);
    gt_free(&f->k);
    gt_free(&f->v);
    gt_free(&f->o);
    gt_free(&f->lse);
    gt_free(&f->bias);
    gt_free(&f->kl);
    gt_free(&f->alibi);
}

/* Call with the given (possibly altered) views; expect `want` and a message containing
 * `needle`; out and lse must be untouched. */
static void expect(tprim_ctx *ctx, fixture *f, const tprim_tensor *q, const tprim_tensor *k,
                   const tprim_tensor *v, tprim_tensor *o, const tprim_attn_params *pa,
                   tprim_status want, const char *needle, const char *what)
{
    unsigned char *so = gt_snapshot(&f->o), *sl = gt_snapshot(&f->lse);
    tprim_status st = tprim_attention(ctx, q, k, v, o, pa);
    const char *msg = tprim_ctx_last_error(ctx);
    CHECK(st == want, "%s: status %s, expected %s (message: %s)", what, tprim_status_str(st),
          tprim_status_str(want), msg);
    CHECK(needle == NULL || strstr(msg, needle) != NULL, "%s: message '%s' does not name '%s'",
          what, msg, needle ? needle : "");
    CHECK(gt_same_as(&f->o, so) && gt_same_as(&f->lse, sl), "%s: output written on error", what);
    free(so);
    free(sl);
}

void suite_attention_errors(void)
{
    tprim_ctx *ctx = NULL;
    if (!CHECK(tprim_ctx_create(&ctx) == TPRIM_OK, "ctx")) return;
    fixture f;
    fx_make(&f);
    tprim_attn_params pa0;
    memset(&pa0, 0, sizeof pa0);
    tprim_tensor q = f.q.t, k = f.k.t, v = f.v.t, o = f.o.t, t;
    tprim_attn_params pa;

    /* the fixture itself is valid */
    {
        tprim_tensor o2 = f.o.t;
        tprim_attn_params p = pa0;
        p.lse = &f.lse.t;
        p.bias[0] = &f.bias.t;
        p.key_lens = &f.kl.t;
        p.alibi_slopes = &f.alibi.t;
        CHECK(tprim_attention(ctx, &q, &k, &v, &o2, &p) == TPRIM_OK, "valid fixture: %s",
              tprim_ctx_last_error(ctx));
        CHECK(tprim_ctx_last_error(ctx)[0] == 0, "message cleared after success");
        gt_poison(&f.o);
        gt_poison(&f.lse);
    }

    /* null pointers */
    CHECK(tprim_attention(NULL, &q, &k, &v, &o, NULL) == TPRIM_ERR_NULL_POINTER, "NULL ctx");
    expect(ctx, &f, NULL, &k, &v, &o, NULL, TPRIM_ERR_NULL_POINTER, "q is NULL", "q NULL");
    expect(ctx, &f, &q, NULL, &v, &o, NULL, TPRIM_ERR_NULL_POINTER, "k is NULL", "k NULL");
    expect(ctx, &f, &q, &k, NULL, &o, NULL, TPRIM_ERR_NULL_POINTER, "v is NULL", "v NULL");
    expect(ctx, &f, &q, &k, &v, NULL, NULL, TPRIM_ERR_NULL_POINTER, "out is NULL", "out NULL");
    t = q; t.data = NULL;
    expect(ctx, &f, &t, &k, &v, &o, NULL, TPRIM_ERR_NULL_POINTER, "q->data", "q data NULL");
    t = v; t.data = NULL;
    expect(ctx, &f, &q, &k, &t, &o, NULL, TPRIM_ERR_NULL_POINTER, "v->data", "v data NULL");

    /* ranks */
    t = q; t.rank = 2;
    expect(ctx, &f, &t, &k, &v, &o, NULL, TPRIM_ERR_SHAPE, "rank", "q rank 2");
    t = q; t.rank = 7;
    expect(ctx, &f, &t, &k, &v, &o, NULL, TPRIM_ERR_SHAPE, "rank", "q rank 7");
    t = k; t.rank = 3; t.shape[0] = 2; t.shape[1] = 12; t.shape[2] = 16;
    expect(ctx, &f, &q, &t, &v, &o, NULL, TPRIM_ERR_SHAPE, "k has rank 3", "k rank mismatch");

    /* mismatched dims */
    t = k; t.shape[3] = 8;
    expect(ctx, &f, &q, &t, &v, &o, NULL, TPRIM_ERR_SHAPE, "D (feature size)", "k D mismatch");
    t = v; t.shape[2] = 11;
    expect(ctx, &f, &q, &k, &t, &o, NULL, TPRIM_ERR_SHAPE, "Sk", "v Sk mismatch");
    t = o; t.shape[2] = 7;
    expect(ctx, &f, &q, &k, &v, &t, NULL, TPRIM_ERR_SHAPE, "Sq", "out Sq mismatch");
    t = o; t.shape[3] = 15;
    expect(ctx, &f, &q, &k, &v, &t, NULL, TPRIM_ERR_SHAPE, "Dv", "out Dv mismatch");
    t = o; t.shape[1] = 2;
    expect(ctx, &f, &q, &k, &v, &t, NULL, TPRIM_ERR_SHAPE, "heads", "out heads mismatch");
    t = k; t.shape[0] = 1;
    expect(ctx, &f, &q, &t, &v, &o, NULL, TPRIM_ERR_SHAPE, "batch dim 0", "k batch mismatch");
    t = v; t.shape[1] = 4;
    expect(ctx, &f, &q, &k, &t, &o, NULL, TPRIM_ERR_SHAPE, "heads", "v heads mismatch");
    {   /* Hq not a multiple of Hkv: q 4 heads, k and v 3 heads */
        tprim_tensor k3 = k, v3 = v;
        k3.shape[1] = 3;
        v3.shape[1] = 3;
        expect(ctx, &f, &q, &k3, &v3, &o, NULL, TPRIM_ERR_SHAPE,
               "k has 3 heads, q has 4: q heads must be a multiple of k heads", "Hq % Hkv");
    }
    {   /* D = 0 */
        tprim_tensor q0 = q, k0 = k;
        q0.shape[3] = 0;
        k0.shape[3] = 0;
        expect(ctx, &f, &q0, &k0, &v, &o, NULL, TPRIM_ERR_SHAPE, "D = 0", "D = 0");
    }
    t = q; t.shape[2] = -3;
    expect(ctx, &f, &t, &k, &v, &o, NULL, TPRIM_ERR_INVALID_ARGUMENT, "q dim 2 is -3", "negative size");

    /* dtypes */
    {
        tprim_tensor kb = k;
        kb.dtype = TPRIM_BF16;
        expect(ctx, &f, &q, &kb, &v, &o, NULL, TPRIM_ERR_DTYPE, "k is bf16 but q is f32", "k bf16 vs q f32");
        tprim_tensor ob = o;
        ob.dtype = TPRIM_F16;
        expect(ctx, &f, &q, &k, &v, &ob, NULL, TPRIM_ERR_DTYPE, "out is f16", "out f16 vs f32");
        tprim_tensor qi = q, ki = k, vi = v, oi = o;
        qi.dtype = ki.dtype = vi.dtype = oi.dtype = TPRIM_I32;
        expect(ctx, &f, &qi, &ki, &vi, &oi, NULL, TPRIM_ERR_DTYPE, "q is i32", "i32 inputs");
        tprim_tensor qd = q;
        qd.dtype = (tprim_dtype)99;
        expect(ctx, &f, &qd, &k, &v, &o, NULL, TPRIM_ERR_DTYPE, "not a dtype", "unknown dtype");
    }

    /* overflow of sizes and extents */
    {
        tprim_tensor big = q;
        big.shape[0] = (int64_t)1 << 40;
        big.shape[1] = (int64_t)1 << 40;
        expect(ctx, &f, &big, &k, &v, &o, NULL, TPRIM_ERR_OVERFLOW, "overflows", "element count overflow");
        tprim_tensor wide = k;
        wide.strides[0] = INT64_MAX / 2;
        expect(ctx, &f, &q, &wide, &v, &o, NULL, TPRIM_ERR_OVERFLOW, "byte extent", "stride overflow");
        tprim_tensor bytes = v;
        bytes.strides[2] = INT64_MAX / 16; /* extent fits in elements, not in bytes */
        expect(ctx, &f, &q, &k, &bytes, &o, NULL, TPRIM_ERR_OVERFLOW, "byte extent", "byte overflow");
    }

    /* device */
    t = q; t.device = TPRIM_DEVICE_CUDA;
#ifdef TPRIM_HAVE_CUDA
    expect(ctx, &f, &t, &k, &v, &o, NULL, TPRIM_ERR_INVALID_ARGUMENT, "one device", "mixed devices");
    if (tprim_cuda_device_count() == 0) { /* host memory marked CUDA must not reach a GPU */
        tprim_tensor ck = k, cv = v, co = o;
        ck.device = cv.device = co.device = TPRIM_DEVICE_CUDA;
        expect(ctx, &f, &t, &ck, &cv, &co, NULL, TPRIM_ERR_UNSUPPORTED, "no usable CUDA GPU",
               "cuda tensors, no GPU");
    }
    t.device_id = -1;
    expect(ctx, &f, &t, &k, &v, &o, NULL, TPRIM_ERR_INVALID_ARGUMENT, "device_id", "device_id < 0");
#else
    expect(ctx, &f, &t, &k, &v, &o, NULL, TPRIM_ERR_UNSUPPORTED, "CUDA", "cuda tensor");
#endif
    t = q; t.device = (tprim_device_type)7;
    expect(ctx, &f, &t, &k, &v, &o, NULL, TPRIM_ERR_INVALID_ARGUMENT, "device", "bad device");

    /* scalar parameters */
    pa = pa0; pa.use_window = 1; pa.window_left = -1; pa.window_right = 3;
    expect(ctx, &f, &q, &k, &v, &o, &pa, TPRIM_ERR_INVALID_ARGUMENT, "window_left is -1", "window_left < 0");
    pa = pa0; pa.use_window = 1; pa.window_left = 2; pa.window_right = -5;
    expect(ctx, &f, &q, &k, &v, &o, &pa, TPRIM_ERR_INVALID_ARGUMENT, "window_right is -5", "window_right < 0");
    pa = pa0; pa.scale = NAN;
    expect(ctx, &f, &q, &k, &v, &o, &pa, TPRIM_ERR_INVALID_ARGUMENT, "scale", "scale NaN");
    pa = pa0; pa.scale = INFINITY;
    expect(ctx, &f, &q, &k, &v, &o, &pa, TPRIM_ERR_INVALID_ARGUMENT, "scale", "scale inf");
    pa = pa0; pa.softcap = -1.0f;
    expect(ctx, &f, &q, &k, &v, &o, &pa, TPRIM_ERR_INVALID_ARGUMENT, "softcap", "softcap < 0");
    pa = pa0; pa.softcap = NAN;
    expect(ctx, &f, &q, &k, &v, &o, &pa, TPRIM_ERR_INVALID_ARGUMENT, "softcap", "softcap NaN");

    /* biases */
    {
        tprim_tensor b = f.bias.t;
        b.shape[2] = 5; /* Sq is 8 */
        pa = pa0; pa.bias[0] = &b;
        expect(ctx, &f, &q, &k, &v, &o, &pa, TPRIM_ERR_SHAPE, "bias[0] dim 2 is 5", "bias not broadcastable");
        b = f.bias.t;
        b.shape[3] = 3; /* Sk is 12 */
        pa = pa0; pa.bias[1] = &b;
        expect(ctx, &f, &q, &k, &v, &o, &pa, TPRIM_ERR_SHAPE, "bias[1] dim 3 is 3", "bias[1] not broadcastable");
        b = f.bias.t;
        b.rank = 5;
        b.shape[4] = 12;
        pa = pa0; pa.bias[0] = &b;
        expect(ctx, &f, &q, &k, &v, &o, &pa, TPRIM_ERR_SHAPE, "bias[0] has rank 5", "bias rank too big");
        b = f.bias.t;
        b.dtype = TPRIM_BF16;
        pa = pa0; pa.bias[0] = &b;
        expect(ctx, &f, &q, &k, &v, &o, &pa, TPRIM_ERR_DTYPE, "bias[0] is bf16", "bias dtype");
        b = f.bias.t;
        b.data = NULL;
        pa = pa0; pa.bias[0] = &b;
        expect(ctx, &f, &q, &k, &v, &o, &pa, TPRIM_ERR_NULL_POINTER, "bias[0]->data", "bias data NULL");
    }

    /* key lengths */
    {
        tprim_tensor kl = f.kl.t;
        gt_set(&f.kl, 1, 13); /* Sk is 12 */
        pa = pa0; pa.key_lens = &kl;
        expect(ctx, &f, &q, &k, &v, &o, &pa, TPRIM_ERR_INVALID_ARGUMENT, "key_lens[1] is 13", "key_lens > Sk");
        gt_set(&f.kl, 1, -1);
        expect(ctx, &f, &q, &k, &v, &o, &pa, TPRIM_ERR_INVALID_ARGUMENT, "key_lens[1] is -1", "key_lens < 0");
        gt_set(&f.kl, 1, 12);
        kl.shape[0] = 3;
        expect(ctx, &f, &q, &k, &v, &o, &pa, TPRIM_ERR_SHAPE, "key_lens dim 0 is 3", "key_lens shape");
        kl = f.kl.t;
        kl.dtype = TPRIM_F32;
        expect(ctx, &f, &q, &k, &v, &o, &pa, TPRIM_ERR_DTYPE, "key_lens is f32", "key_lens dtype");
    }

    /* lse and alibi */
    {
        tprim_tensor l = f.lse.t;
        l.shape[2] = 9;
        pa = pa0; pa.lse = &l;
        expect(ctx, &f, &q, &k, &v, &o, &pa, TPRIM_ERR_SHAPE, "lse dim 2 is 9", "lse shape");
        l = f.lse.t;
        l.dtype = TPRIM_BF16;
        expect(ctx, &f, &q, &k, &v, &o, &pa, TPRIM_ERR_DTYPE, "lse is bf16", "lse dtype");
        l = f.lse.t;
        l.rank = 2;
        expect(ctx, &f, &q, &k, &v, &o, &pa, TPRIM_ERR_SHAPE, "lse has rank 2", "lse rank");
        tprim_tensor a = f.alibi.t;
        a.shape[0] = 3;
        pa = pa0; pa.alibi_slopes = &a;
        expect(ctx, &f, &q, &k, &v, &o, &pa, TPRIM_ERR_SHAPE, "alibi_slopes dim 0 is 3", "alibi shape");
        a = f.alibi.t;
        a.dtype = TPRIM_F16;
        expect(ctx, &f, &q, &k, &v, &o, &pa, TPRIM_ERR_DTYPE, "alibi_slopes is f16", "alibi dtype");
    }

    /* key mask */
    {
        int64_t sh[2] = {2, 12};
        unsigned char mb[24] = {1};
        tprim_tensor m;
        tprim_tensor_init(&m, mb, TPRIM_BOOL, 2, sh, NULL);
        tprim_tensor m2 = m;
        m2.dtype = TPRIM_I32;
        pa = pa0; pa.key_mask = &m2;
        expect(ctx, &f, &q, &k, &v, &o, &pa, TPRIM_ERR_DTYPE, "key_mask is i32", "key_mask dtype");
        m2 = m;
        m2.shape[1] = 5;
        pa.key_mask = &m2;
        expect(ctx, &f, &q, &k, &v, &o, &pa, TPRIM_ERR_SHAPE, "key_mask dim 1 is 5", "key_mask shape");
    }

    /* a pinned kernel that cannot run here */
    {
        int nk = tprim_kernel_count(TPRIM_OP_ATTENTION);
        for (int i = 0; i < nk; i++) {
            tprim_kernel_desc kd;
            tprim_kernel_get(TPRIM_OP_ATTENTION, i, &kd);
            if (kd.runnable) continue;
            CHECK(tprim_ctx_set_kernel(ctx, TPRIM_OP_ATTENTION, kd.name) == TPRIM_ERR_UNSUPPORTED,
                  "pinning unrunnable kernel %s is refused", kd.name);
        }
        CHECK(tprim_ctx_set_kernel(ctx, TPRIM_OP_ATTENTION, "nope") == TPRIM_ERR_INVALID_ARGUMENT &&
                  strstr(tprim_ctx_last_error(ctx), "nope") != NULL,
              "pinning an unknown kernel name is refused with its name");
        CHECK(tprim_ctx_set_kernel(ctx, (tprim_op)99, "ref") == TPRIM_ERR_INVALID_ARGUMENT,
              "pinning on an unknown op is refused");
    }
    CHECK(gt_guards_ok(&f.o) && gt_guards_ok(&f.lse), "guards intact after error tests");
    fx_free(&f);
    tprim_ctx_free(ctx);
}
