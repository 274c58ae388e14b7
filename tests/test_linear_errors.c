/* test_linear_errors.c -- one test per invalid input of tprim_linear: the status, a
 * message that names the argument, and an output left untouched. */
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct fixture {
    gtensor x, w, b, y;
} fixture;

static void fx_make(fixture *f)
{
    rng R = {77};
    int64_t sx[3] = {2, 5, 8}, sw[2] = {6, 8}, sb[1] = {6}, sy[3] = {2, 5, 6};
    gt_make(&f->x, TPRIM_F32, 3, sx, NULL, 0);
    gt_make(&f->w, TPRIM_F32, 2, sw, NULL, 0);
    gt_make(&f->b, TPRIM_F32, 1, sb, NULL, 0);
    gt_make(&f->y, TPRIM_F32, 3, sy, NULL, 0);
    gt_fill_random(&f->x, &R, 1);
    gt_fill_random(&f->w, &R, 1);
    gt_fill_random(&f->b, &R, 1);
}

static void fx_free(fixture *f)
{
    gt_free(&f->x);
    gt_free(&f->w);
    gt_free(&f->b);
    gt_free(&f->y);
}

/* Call with the given (possibly altered) views; expect `want` and a message containing
 * `needle`; y's buffer must be untouched. */
static void expect(tprim_ctx *ctx, fixture *f, const tprim_tensor *x, const tprim_tensor *w,
                   const tprim_tensor *b, tprim_tensor *y, tprim_status want, const char *needle,
                   const char *what)
{
    unsigned char *sy = gt_snapshot(&f->y);
    tprim_status st = tprim_linear(ctx, x, w, b, y);
    const char *msg = tprim_ctx_last_error(ctx);
    CHECK(st == want, "%s: status %s, expected %s (message: %s)", what, tprim_status_str(st),
          tprim_status_str(want), msg);
    CHECK(needle == NULL || strstr(msg, needle) != NULL, "%s: message '%s' does not name '%s'",
          what, msg, needle ? needle : "");
    CHECK(gt_same_as(&f->y, sy), "%s: output written on error", what);
    free(sy);
}

void suite_linear_errors(void)
{
    tprim_ctx *ctx = NULL;
    if (!CHECK(tprim_ctx_create(&ctx) == TPRIM_OK, "ctx")) return;
    fixture f;
    fx_make(&f);
    tprim_tensor x = f.x.t, w = f.w.t, b = f.b.t, y = f.y.t, t;

    /* the op is registered under its pinned value and name, with a reference kernel */
    CHECK(TPRIM_OP_LINEAR == 1 && strcmp(tprim_op_name(TPRIM_OP_LINEAR), "linear") == 0,
          "op value and name");
    {
        tprim_kernel_desc kd;
        CHECK(tprim_kernel_count(TPRIM_OP_LINEAR) >= 1 &&
                  tprim_kernel_get(TPRIM_OP_LINEAR, 0, &kd) == TPRIM_OK &&
                  strcmp(kd.name, "ref") == 0 && kd.runnable,
              "linear has a runnable ref kernel");
        CHECK(tprim_ctx_set_kernel(ctx, TPRIM_OP_LINEAR, "bogus") == TPRIM_ERR_INVALID_ARGUMENT &&
                  strstr(tprim_ctx_last_error(ctx), "linear"),
              "unknown kernel name refused, naming the op");
    }

    /* the fixture itself is valid, with and without bias */
    CHECK(tprim_linear(ctx, &x, &w, &b, &y) == TPRIM_OK, "valid fixture: %s",
          tprim_ctx_last_error(ctx));
    CHECK(tprim_linear(ctx, &x, &w, NULL, &y) == TPRIM_OK && tprim_ctx_last_error(ctx)[0] == 0,
          "valid without bias, message cleared");
    gt_poison(&f.y);

    /* null pointers */
    CHECK(tprim_linear(NULL, &x, &w, &b, &y) == TPRIM_ERR_NULL_POINTER, "NULL ctx");
    expect(ctx, &f, NULL, &w, &b, &y, TPRIM_ERR_NULL_POINTER, "x is NULL", "x NULL");
    expect(ctx, &f, &x, NULL, &b, &y, TPRIM_ERR_NULL_POINTER, "w is NULL", "w NULL");
    expect(ctx, &f, &x, &w, &b, NULL, TPRIM_ERR_NULL_POINTER, "y is NULL", "y NULL");
    t = x; t.data = NULL;
    expect(ctx, &f, &t, &w, &b, &y, TPRIM_ERR_NULL_POINTER, "x->data", "x data NULL");
    t = w; t.data = NULL;
    expect(ctx, &f, &x, &t, &b, &y, TPRIM_ERR_NULL_POINTER, "w->data", "w data NULL");
    t = b; t.data = NULL;
    expect(ctx, &f, &x, &w, &t, &y, TPRIM_ERR_NULL_POINTER, "b->data", "b data NULL");
    {
        tprim_tensor y2 = y;
        y2.data = NULL;
        expect(ctx, &f, &x, &w, &b, &y2, TPRIM_ERR_NULL_POINTER, "y->data", "y data NULL");
    }

    /* ranks */
    t = x; t.rank = 0;
    expect(ctx, &f, &t, &w, &b, &y, TPRIM_ERR_SHAPE, "x has rank 0", "x rank 0");
    t = x; t.rank = 7;
    expect(ctx, &f, &t, &w, &b, &y, TPRIM_ERR_SHAPE, "x has rank 7", "x rank 7");
    t = w; t.rank = 1;
    expect(ctx, &f, &x, &t, &b, &y, TPRIM_ERR_SHAPE, "w has rank 1", "w rank 1");
    t = w; t.rank = 3; t.shape[2] = 1; t.strides[2] = 1;
    expect(ctx, &f, &x, &t, &b, &y, TPRIM_ERR_SHAPE, "w has rank 3", "w rank 3");
    t = b; t.rank = 2; t.shape[1] = 1; t.strides[1] = 1;
    expect(ctx, &f, &x, &w, &t, &y, TPRIM_ERR_SHAPE, "b has rank 2", "b rank 2");
    {
        tprim_tensor y2 = y;
        y2.rank = 2;
        y2.shape[1] = 6;
        y2.strides[1] = 1;
        expect(ctx, &f, &x, &w, &b, &y2, TPRIM_ERR_SHAPE, "y has rank 2 but x has rank 3",
               "y rank mismatch");
    }

    /* sizes */
    t = w; t.shape[1] = 7;
    expect(ctx, &f, &x, &t, &b, &y, TPRIM_ERR_SHAPE, "x has in = 8", "w in mismatch");
    t = b; t.shape[0] = 5;
    expect(ctx, &f, &x, &w, &t, &y, TPRIM_ERR_SHAPE, "b has 5 entries but w has out = 6",
           "b size mismatch");
    {
        tprim_tensor y2 = y;
        y2.shape[1] = 4;
        expect(ctx, &f, &x, &w, &b, &y2, TPRIM_ERR_SHAPE, "y dim 1 is 4 but x's is 5",
               "y leading dim mismatch");
        y2 = y;
        y2.shape[2] = 5;
        expect(ctx, &f, &x, &w, &b, &y2, TPRIM_ERR_SHAPE, "y has 5 in its last dim",
               "y last dim mismatch");
    }
    t = x; t.shape[1] = -2;
    expect(ctx, &f, &t, &w, &b, &y, TPRIM_ERR_INVALID_ARGUMENT, "x dim 1 is -2", "negative size");

    /* dtypes */
    t = x; t.dtype = TPRIM_I32;
    expect(ctx, &f, &t, &w, &b, &y, TPRIM_ERR_DTYPE, "x is i32", "x i32");
    t = x; t.dtype = (tprim_dtype)42;
    expect(ctx, &f, &t, &w, &b, &y, TPRIM_ERR_DTYPE, "x has dtype 42", "x unknown dtype");
    t = w; t.dtype = TPRIM_BF16;
    expect(ctx, &f, &x, &t, &b, &y, TPRIM_ERR_DTYPE, "w is bf16 but x is f32", "w dtype mismatch");
    t = b; t.dtype = TPRIM_F16;
    expect(ctx, &f, &x, &w, &t, &y, TPRIM_ERR_DTYPE, "b is f16", "b f16 with f32 x");
    t = b; t.dtype = TPRIM_F64;
    expect(ctx, &f, &x, &w, &t, &y, TPRIM_ERR_DTYPE, "b is f64", "b f64");
    {
        tprim_tensor y2 = y;
        y2.dtype = TPRIM_BF16;
        expect(ctx, &f, &x, &w, &b, &y2, TPRIM_ERR_DTYPE, "y is bf16 but x is f32",
               "y dtype mismatch");
    }

    /* an output that broadcasts, devices, overflow */
    {
        tprim_tensor y2 = y;
        y2.strides[1] = 0;
        expect(ctx, &f, &x, &w, &b, &y2, TPRIM_ERR_INVALID_ARGUMENT, "y dim 1 has stride 0",
               "y broadcast");
    }
    t = w; t.device = TPRIM_DEVICE_CUDA;
    expect(ctx, &f, &x, &t, &b, &y, TPRIM_ERR_UNSUPPORTED, "w is a CUDA tensor", "w on CUDA");
    t = x; t.device = (tprim_device_type)9;
    expect(ctx, &f, &t, &w, &b, &y, TPRIM_ERR_INVALID_ARGUMENT, "x has device type 9",
           "x unknown device");
    t = x; t.strides[0] = INT64_MAX / 2;
    expect(ctx, &f, &t, &w, &b, &y, TPRIM_ERR_OVERFLOW, "x: the byte extent", "x extent overflow");
    t = x; t.shape[0] = INT64_MAX / 4; t.shape[1] = 16;
    expect(ctx, &f, &t, &w, &b, &y, TPRIM_ERR_OVERFLOW, "x: the element count", "x count overflow");

    /* a failed call leaves the statistics alone; a later good call clears the message */
    tprim_ctx_reset_stats(ctx);
    expect(ctx, &f, &x, &w, &b, NULL, TPRIM_ERR_NULL_POINTER, "y is NULL", "y NULL again");
    CHECK(tprim_ctx_last_kernel(ctx, TPRIM_OP_LINEAR) == NULL, "failed call not counted");
    CHECK(tprim_linear(ctx, &x, &w, &b, &y) == TPRIM_OK && tprim_ctx_last_error(ctx)[0] == 0 &&
              tprim_ctx_last_kernel(ctx, TPRIM_OP_LINEAR) != NULL,
          "good call after errors");
    fx_free(&f);
    tprim_ctx_free(ctx);
}
