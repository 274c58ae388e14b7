/* util.h -- the test harness: checks that count, a deterministic PRNG, tensors in
 * guarded buffers with chosen memory orders, poison and comparison helpers. */
#ifndef TPRIM_TEST_UTIL_H
#define TPRIM_TEST_UTIL_H

#include "tprim.h"

#include <stddef.h>
#include <stdint.h>

extern long g_passed, g_failed;
extern int g_verbose;

/* Count one check; print its message when it fails (or always when verbose). */
int check_(int ok, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
#define CHECK(cond, ...) check_(!!(cond), __FILE__, __LINE__, __VA_ARGS__)

/* ---- PRNG (splitmix64) ---- */
typedef struct rng { uint64_t s; } rng;
uint64_t rng_u64(rng *r);
double rng_uniform(rng *r); /* [-1, 1) */

/* ---- guarded tensors ----
 * A tensor whose data lives inside a buffer with GUARD bytes of a known pattern on
 * both sides. `order` lists the logical dims from outermost to innermost in memory
 * (NULL = row-major); `pad` extra elements are added to the stride of every dim
 * but the innermost, so the view is not contiguous when pad > 0. */
#define GUARD 64
typedef struct gtensor {
    tprim_tensor t;
    unsigned char *raw; /* allocation */
    size_t span;        /* bytes between the guards */
} gtensor;

void gt_make(gtensor *g, tprim_dtype dt, int rank, const int64_t *shape, const int *order, int pad);
void gt_free(gtensor *g);
int gt_guards_ok(const gtensor *g);
/* fill the whole span (including gaps) with a poison pattern: NaN for floats */
void gt_poison(gtensor *g);
/* every logical element random in [-amp, amp) */
void gt_fill_random(gtensor *g, rng *r, double amp);
/* read / write logical element (flat row-major index over the shape) as double */
double gt_get(const gtensor *g, int64_t flat);
void gt_set(gtensor *g, int64_t flat, double x);
int64_t gt_numel(const gtensor *g);
/* byte offset of logical element `flat` from the start of the raw allocation */
size_t gt_offset(const gtensor *g, int64_t flat);
/* copy of the raw span, to check that a failed call wrote nothing */
unsigned char *gt_snapshot(const gtensor *g);
int gt_same_as(const gtensor *g, const unsigned char *snap);

/* element conversions written independently of the library */
double t_bf16_to_double(uint16_t h);
double t_f16_to_double(uint16_t h);
uint16_t t_double_to_bf16(double x); /* via f32, round to nearest even */
uint16_t t_double_to_f16(double x);

#endif
