/* base/: error table, context and allocator hook, RNG, fixed point. */
#include "test_support.h"

#include <math.h>
#include <string.h>

#include "base/fx_bn.h"
#include "spindle/spindle.h"

static void error_table_round_trips(void **state) {
  (void)state;
  assert_string_equal(spd_err_name(SPD_ENOMEM), "SPD_ENOMEM");
  assert_string_equal(spd_strerror(SPD_ENOMEM), "out of memory");
  assert_string_equal(spd_err_name(SPD_EKERNEL), "SPD_EKERNEL");
  assert_true(SPD_ENOMEM < 0 && SPD_EINVAL < 0 && SPD_ENOMEM != SPD_EINVAL);
  assert_string_equal(spd_strerror(0), "success");
  assert_string_equal(spd_strerror(-1000), "unknown error");
  assert_string_equal(spd_err_name(5), "SPD_E_UNKNOWN");
}

static void context_records_diagnostic(void **state) {
  (void)state;
  spd_ctx_t ctx;
  spd_ctx_init(&ctx);
  assert_int_equal(spd_ctx_fail(&ctx, SPD_EDTCM, "core (%d,%d,%d) asked for %u bytes", 1, 2, 3, 70000u),
                   SPD_EDTCM);
  assert_string_equal(spd_ctx_message(&ctx), "core (1,2,3) asked for 70000 bytes");
  spd_ctx_clear(&ctx);
  assert_string_equal(spd_ctx_message(&ctx), "success");
}

static void test_allocator_fails_nth(void **state) {
  (void)state;
  spd_ctx_t ctx;
  spd_ctx_init(&ctx);
  spd_test_alloc_t ta;
  spd_test_alloc_install(&ctx, &ta, 2);
  void *a = spd_malloc(&ctx, 8);
  void *b = spd_malloc(&ctx, 8);
  void *c = spd_calloc(&ctx, 4, 4);
  assert_non_null(a);
  assert_null(b);
  assert_non_null(c);
  assert_int_equal(ta.live, 2);
  spd_free(&ctx, a);
  spd_free(&ctx, c);
  assert_int_equal(ta.live, 0);
  assert_int_equal(ta.failed, 1);
  assert_null(spd_calloc(&ctx, SIZE_MAX / 2, 4));
  char *copy = spd_strdup(&ctx, "tile");
  assert_string_equal(copy, "tile");
  assert_int_equal(ta.live, 1);
  spd_free(&ctx, copy);
  assert_int_equal(ta.live, 0);
}

static void philox_known_answer(void **state) {
  (void)state;
  /* Random123's known-answer test for philox4x32_10: counter and key all
   * zero -> 6627e8d5 e169c58d bc57ac4c 9b00dbd8. */
  uint32_t key[2] = {0, 0}, out[4];
  spd_philox4x32(key, 0, 0, out);
  assert_int_equal(out[0], 0x6627e8d5u);
  assert_int_equal(out[1], 0xe169c58du);
  assert_int_equal(out[2], 0xbc57ac4cu);
  assert_int_equal(out[3], 0x9b00dbd8u);
}

static void rng_streams_are_reproducible(void **state) {
  (void)state;
  spd_rng_t a, b, c;
  spd_rng_init(&a, 42, 0);
  spd_rng_init(&b, 42, 0);
  spd_rng_init(&c, 42, 1);
  int same_as_other_stream = 0;
  double sum = 0;
  for (int i = 0; i < 10000; i++) {
    uint32_t x = spd_rng_u32(&a);
    assert_int_equal(x, spd_rng_u32(&b));
    same_as_other_stream += x == spd_rng_u32(&c);
    float u = spd_rng_uniform(&a);
    assert_true(u >= 0.0f && u < 1.0f);
    sum += u;
    (void)spd_rng_uniform(&b);
  }
  assert_true(same_as_other_stream < 3);
  assert_true(fabs(sum / 10000 - 0.5) < 0.02);
  uint32_t items[50];
  for (uint32_t i = 0; i < 50; i++)
    items[i] = i;
  spd_rng_shuffle_u32(&a, items, 50);
  uint64_t seen = 0;
  for (uint32_t i = 0; i < 50; i++)
    seen |= 1ull << items[i];
  assert_true(seen == (1ull << 50) - 1);
}

static void fixed_point_rounds_and_saturates(void **state) {
  (void)state;
  uint32_t sat = 0;
  assert_int_equal(spd_fx_shift_round(5, 1), 3);   /* 2.5 -> 3 (ties up) */
  assert_int_equal(spd_fx_shift_round(-5, 1), -2); /* -2.5 -> -2 (ties up) */
  assert_int_equal(spd_fx_shift_round(-6, 1), -3);
  assert_int_equal(spd_fx_shift_round(3, -2), 12);
  assert_int_equal(spd_fx_shift_round(-3, -2), -12);
  assert_int_equal(spd_fx_sat16(40000, &sat), INT16_MAX);
  assert_int_equal(spd_fx_sat16(-40000, &sat), INT16_MIN);
  assert_int_equal(spd_fx_add32(INT32_MAX, 1, &sat), INT32_MAX);
  assert_int_equal(sat, 3);
  /* 1.5 * 2.25 = 3.375 in s16.15 */
  int32_t a = spd_fx_from_float32(1.5f, 15, &sat), b = spd_fx_from_float32(2.25f, 15, &sat);
  assert_int_equal(spd_fx_mul32(a, 15, b, 15, 15, &sat), (int32_t)(3.375 * 32768));
  assert_true(fabsf(spd_fx_to_float(spd_fx_from_float16(0.1f, 12, &sat), 12) - 0.1f) < 1.0f / 8192);
  assert_int_equal(sat, 3);
  /* Stochastic rounding of 0.25 LSB rounds up a quarter of the time. */
  spd_rng_t rng;
  spd_rng_init(&rng, 7, 0);
  int ups = 0;
  for (int i = 0; i < 40000; i++)
    ups += spd_fx_shift_stochastic(1, 2, spd_rng_u32(&rng)) == 1;
  assert_true(ups > 9400 && ups < 10600);
  assert_int_equal(spd_fx_shift_stochastic(4, 2, 0xFFFFFFFFu), 1);
}

/* A NULL context means the shared default: system allocator, WARN logging,
 * and a diagnostic buffer like any other context. */
static void null_context_is_the_default(void **state) {
  (void)state;
  spd_ctx_t *d = spd_ctx_default();
  assert_non_null(d);
  assert_ptr_equal(spd_ctx_default(), d);
  assert_int_equal(d->log_level, SPD_LOG_WARN);
  void *p = spd_malloc(NULL, 64);
  assert_non_null(p);
  spd_free(NULL, p);
  assert_int_equal(spd_ctx_fail(NULL, SPD_EIO, "shared %d", 7), SPD_EIO);
  assert_string_equal(spd_ctx_message(NULL), "shared 7");
  assert_int_equal(d->last_error, SPD_EIO);
  spd_ctx_clear(NULL);
  assert_int_equal(d->last_error, 0);
}

/* BatchNormalization's per-channel arithmetic from exact sums (base/fx_bn.c,
 * what the reference and a machine vertex share): x = 1, 2, 3, 4 (frac 4)
 * has mean 2.5 and variance 1.25; the dX of a channel sums to about 0 (the
 * direction the batch mean removes). */
static void batchnorm_channel_arithmetic(void **state) {
  (void)state;
  uint32_t sat = 0;
  const int frac = 4, n = 4;
  int16_t x[4];
  int64_t s1 = 0, s2 = 0;
  for (int i = 0; i < n; i++) {
    x[i] = (int16_t)((i + 1) << frac);
    s1 += x[i];
    s2 += (int64_t)x[i] * x[i];
  }
  spd_fx_const_t eps = spd_fx_const_from_double(1e-3), inv_std;
  int64_t mean, var32;
  spd_fx_bn_batch_stats(s1, s2, n, frac, eps, &mean, &inv_std, &var32, &sat);
  assert_int_equal(mean, (int64_t)(2.5 * (1 << (frac + SPD_FX_BN_XHAT_FRAC))));
  assert_int_equal(var32, (int64_t)(1.25 * 4294967296.0));
  assert_int_equal(spd_fx_bn_mean32(mean, frac), (int64_t)(2.5 * 4294967296.0));
  /* epsilon is added on D's grid, N^2 2^(2 frac) = 4096 here: 4/4096 */
  const double eq = 4.0 / 4096.0;
  assert_true(fabs(spd_fx_const_value(inv_std) - 1.0 / sqrt(1.25 + eq)) < 1e-8);
  int32_t xhat[4];
  for (int i = 0; i < n; i++) {
    xhat[i] = spd_fx_bn_xhat(x[i], mean, inv_std, frac, &sat);
    double want = ((i + 1) - 2.5) / sqrt(1.25 + eq);
    assert_true(fabs(xhat[i] / 65536.0 - want) < 1e-4);
  }
  /* y = 2 x̂ + 0.5 at frac 24 + 16 */
  int64_t y = spd_fx_bn_scale(xhat[3], 2 << SPD_FX_MASTER_FRAC, 1 << (SPD_FX_MASTER_FRAC - 1));
  assert_true(fabs(ldexp((double)y, -40) - (2.0 * xhat[3] / 65536.0 + 0.5)) < 1e-9);
  /* moving average, momentum 0.99 */
  int64_t mv = spd_fx_bn_moving_update((int64_t)1 << 32, var32, spd_fx_const_from_double(0.99),
                                       spd_fx_const_from_double(0.01), &sat);
  assert_true(fabs(ldexp((double)mv, -32) - (0.99 + 0.01 * 1.25)) < 1e-8);
  /* backward: dy (frac 8), gamma 1 */
  const int g_frac = 8;
  int16_t dy[4] = {300, -50, 20, 90};
  int64_t sum_dy = 0, sum_dy_xhat = 0;
  for (int i = 0; i < n; i++) {
    sum_dy += dy[i];
    sum_dy_xhat += (int64_t)dy[i] * xhat[i];
  }
  spd_fx_bn_back_t b = spd_fx_bn_back_init(n, sum_dy, sum_dy_xhat, 1 << SPD_FX_MASTER_FRAC,
                                           inv_std, g_frac, 32);
  double sum = 0, scale = ldexp(1.0, -32);
  for (int i = 0; i < n; i++) {
    double dx = (double)spd_fx_bn_dx(&b, dy[i], xhat[i], &sat) * scale;
    double inv = 1.0 / sqrt(1.25 + eq), xh = ((i + 1) - 2.5) * inv;
    double want = inv / n * (n * dy[i] / 256.0 - sum_dy / 256.0 -
                             xh * (sum_dy_xhat / 256.0 / 65536.0));
    assert_true(fabs(dx - want) < 1e-4);
    sum += dx;
  }
  assert_true(fabs(sum) < 1e-4);
  /* inference from the moving statistics: mean 2.5, variance 1.25 */
  int64_t m2;
  spd_fx_const_t inv2;
  spd_fx_bn_moving_stats((int64_t)(2.5 * 4294967296.0), var32, frac, eps, &m2, &inv2, &sat);
  assert_int_equal(m2, mean);
  assert_true(fabs(spd_fx_const_value(inv2) - 1.0 / sqrt(1.25 + 1e-3)) < 1e-6);
  assert_int_equal(sat, 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(error_table_round_trips),
      cmocka_unit_test(context_records_diagnostic),
      cmocka_unit_test(test_allocator_fails_nth),
      cmocka_unit_test(null_context_is_the_default),
      cmocka_unit_test(philox_known_answer),
      cmocka_unit_test(rng_streams_are_reproducible),
      cmocka_unit_test(fixed_point_rounds_and_saturates),
      cmocka_unit_test(batchnorm_channel_arithmetic),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
