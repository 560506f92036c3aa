/* base/fixed + fixed_math: the error bounds stated in fixed_math.h, measured
 * against libm over sweeps, and the edge cases (saturation at the extremes,
 * negative values, rounding rules, the portable 64x32 multiply). */
#include "test_support.h"

#include <math.h>
#include <stdio.h>

#include "spindle/fixed.h"
#include "spindle/fixed_math.h"
#include "spindle/rng.h"

static double q30(double v) { return ldexp(v, 30); }

/* Largest |fixed - exact| in LSB of frac 30 over a sweep of z (frac 16). */
static double sweep_q30(int32_t lo, int32_t hi, int32_t step, int32_t (*fx)(int32_t),
                        double (*ref)(double)) {
  double worst = 0;
  for (int64_t z = lo; z <= hi; z += step) {
    double err = fabs((double)fx((int32_t)z) - q30(ref(ldexp((double)z, -16))));
    if (err > worst)
      worst = err;
  }
  return worst;
}

static int32_t exp_neg_fx(int32_t z) { return (int32_t)spd_fx_exp_neg(z); }
static double sigmoid_ref(double z) { return 1.0 / (1.0 + exp(-z)); }

static void exp_neg_within_4_lsb(void **state) {
  (void)state;
  double worst = sweep_q30(-23 * 65536, 0, 37, exp_neg_fx, exp);
  printf("exp_neg max error %.2f LSB (frac 30)\n", worst);
  assert_true(worst <= 4.0);
  assert_int_equal(spd_fx_exp_neg(0), 1u << 30);
  assert_int_equal(spd_fx_exp_neg(5 << 16), 1u << 30); /* x > 0 clamps */
  assert_int_equal(spd_fx_exp_neg(INT64_MIN / 2), 0);
  assert_int_equal(spd_fx_exp_neg(-(40 << 16)), 0);
}

static void sigmoid_tanh_within_4_lsb(void **state) {
  (void)state;
  double ws = sweep_q30(-30 * 65536, 30 * 65536, 29, spd_fx_sigmoid_q30, sigmoid_ref);
  double wt = sweep_q30(-30 * 65536, 30 * 65536, 29, spd_fx_tanh_q30, tanh);
  printf("sigmoid max error %.2f LSB, tanh %.2f LSB (frac 30)\n", ws, wt);
  assert_true(ws <= 4.0 && wt <= 4.0);
  /* Extremes of the int32 input range saturate to the asymptotes. */
  assert_int_equal(spd_fx_sigmoid_q30(INT32_MAX), 1 << 30);
  assert_int_equal(spd_fx_sigmoid_q30(INT32_MIN), 0);
  assert_int_equal(spd_fx_tanh_q30(INT32_MIN), -(1 << 30));
  assert_int_equal(spd_fx_sigmoid_q30(0), 1 << 29);
  /* Odd and complementary symmetry hold exactly. */
  for (int32_t z = 1; z < (8 << 16); z += 1237) {
    assert_int_equal(spd_fx_tanh_q30(-z), -spd_fx_tanh_q30(z));
    assert_int_equal(spd_fx_sigmoid_q30(-z), (1 << 30) - spd_fx_sigmoid_q30(z));
  }
}

static void log_within_4_lsb(void **state) {
  (void)state;
  spd_rng_t rng;
  spd_rng_init(&rng, 7, 0);
  double worst = 0;
  for (int i = 0; i < 200000; i++) {
    uint64_t x = spd_rng_u64(&rng) >> spd_rng_below(&rng, 64);
    if (x == 0)
      continue;
    int frac = (int)spd_rng_below(&rng, 63);
    double exact = log((double)x) - frac * log(2.0);
    double err = fabs((double)spd_fx_log(x, frac) - q30(exact));
    /* (double)x rounds 64-bit values: allow for it relative to 2^-52. */
    if (err > worst)
      worst = err;
  }
  printf("log max error %.2f LSB (frac 30)\n", worst);
  assert_true(worst <= 4.0);
  assert_int_equal(spd_fx_log(1u << 30, 30), 0);
  assert_true(spd_fx_log(0, 0) == INT64_MIN);
}

/* Every activation at several output fracs is within 1 LSB of the exact
 * value (correctly rounded except within an LSB fraction of a tie). */
static double act_ref(spd_fx_act_t kind, double z, double alpha) {
  switch (kind) {
  case SPD_FX_ACT_RELU:
    return z > 0 ? z : 0;
  case SPD_FX_ACT_LEAKY_RELU:
    return z >= 0 ? z : alpha * z;
  case SPD_FX_ACT_ELU:
    return z >= 0 ? z : alpha * (exp(z) - 1);
  case SPD_FX_ACT_SIGMOID:
    return sigmoid_ref(z);
  case SPD_FX_ACT_TANH:
    return tanh(z);
  case SPD_FX_ACT_LINEAR:
    break;
  }
  return z;
}

static void activations_within_1_lsb(void **state) {
  (void)state;
  const spd_fx_act_t kinds[] = {SPD_FX_ACT_LINEAR, SPD_FX_ACT_RELU, SPD_FX_ACT_SIGMOID,
                                SPD_FX_ACT_TANH, SPD_FX_ACT_LEAKY_RELU, SPD_FX_ACT_ELU};
  for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
    for (int f = 8; f <= 14; f += 3) {
      spd_fx_act_params_t p = {kinds[k], f, (int32_t)(0.2 * (1 << 30))};
      if (kinds[k] == SPD_FX_ACT_ELU)
        p.alpha_q30 = 1 << 30;
      double alpha = ldexp(p.alpha_q30, -30);
      uint32_t sat = 0;
      double worst = 0;
      for (int32_t z = -124518; z <= 124518; z += 7) /* +-1.9 */ {
        double exact = ldexp(act_ref(kinds[k], ldexp(z, -16), alpha), f);
        double err = fabs(spd_fx_act_forward(&p, z, &sat) - exact);
        if (err > worst)
          worst = err;
      }
      assert_int_equal(sat, 0);
      assert_true(worst <= 1.0);
    }
  }
}

static void activation_saturates_and_counts(void **state) {
  (void)state;
  spd_fx_act_params_t p = {SPD_FX_ACT_LINEAR, 11, 0};
  uint32_t sat = 0;
  assert_int_equal(spd_fx_act_forward(&p, INT32_MAX, &sat), INT16_MAX);
  assert_int_equal(spd_fx_act_forward(&p, INT32_MIN, &sat), INT16_MIN);
  assert_int_equal(sat, 2);
  /* 16.0 is one LSB beyond s4.11's largest value. */
  assert_int_equal(spd_fx_act_forward(&p, 16 << 16, &sat), INT16_MAX);
  assert_int_equal(sat, 3);
  assert_int_equal(spd_fx_act_forward(&p, -(16 << 16), &sat), INT16_MIN);
  assert_int_equal(sat, 3); /* -16.0 is representable */
  p.kind = SPD_FX_ACT_SIGMOID;
  p.out_frac = 15; /* 1.0 is not representable in s0.15 */
  assert_int_equal(spd_fx_act_forward(&p, 20 << 16, &sat), INT16_MAX);
  assert_int_equal(sat, 4);
}

static void activation_backward_matches_derivative(void **state) {
  (void)state;
  const int f = 12;
  const int16_t dy = 1000;
  spd_fx_act_params_t p = {SPD_FX_ACT_SIGMOID, f, 0};
  uint32_t sat = 0;
  for (int32_t z = -(4 << 16); z <= (4 << 16); z += 997) {
    int16_t y = spd_fx_act_forward(&p, z, &sat);
    double yr = ldexp(y, -f);
    double exact = dy * yr * (1 - yr);
    assert_true(fabs(spd_fx_act_backward(&p, y, dy, &sat) - exact) <= 0.5 + 1e-9);
  }
  p.kind = SPD_FX_ACT_TANH;
  for (int32_t z = -(4 << 16); z <= (4 << 16); z += 997) {
    int16_t y = spd_fx_act_forward(&p, z, &sat);
    double yr = ldexp(y, -f);
    assert_true(fabs(spd_fx_act_backward(&p, y, dy, &sat) - dy * (1 - yr * yr)) <= 0.5 + 1e-9);
  }
  p.kind = SPD_FX_ACT_RELU;
  assert_int_equal(spd_fx_act_backward(&p, 5, -dy, &sat), -dy);
  assert_int_equal(spd_fx_act_backward(&p, 0, -dy, &sat), 0);
  p.kind = SPD_FX_ACT_LEAKY_RELU;
  p.alpha_q30 = 1 << 28; /* 0.25 */
  assert_int_equal(spd_fx_act_backward(&p, -3, -dy, &sat), -250);
  p.kind = SPD_FX_ACT_ELU;
  p.alpha_q30 = 1 << 30;
  int16_t y = spd_fx_act_forward(&p, -(1 << 16), &sat); /* e^-1 - 1 */
  double slope = ldexp(y, -f) + 1.0;
  assert_true(fabs(spd_fx_act_backward(&p, y, dy, &sat) - dy * slope) <= 0.5 + 1e-9);
  assert_int_equal(sat, 0);
}

static void softmax_within_1_lsb_and_xent(void **state) {
  (void)state;
  spd_rng_t rng;
  spd_rng_init(&rng, 3, 0);
  for (int trial = 0; trial < 2000; trial++) {
    int n = 1 + (int)spd_rng_below(&rng, 20);
    int32_t z[20];
    int16_t y[20];
    double ez[20], sum = 0, zmax = -1e300;
    double spread = trial % 2 ? 30.0 : 4.0;
    for (int i = 0; i < n; i++) {
      z[i] = (int32_t)lrint(ldexp((spd_rng_uniform_double(&rng) - 0.5) * 2 * spread, 16));
      zmax = fmax(zmax, ldexp(z[i], -16));
    }
    for (int i = 0; i < n; i++)
      sum += ez[i] = exp(ldexp(z[i], -16) - zmax);
    uint32_t sat = 0;
    spd_fx_softmax(y, z, n, 14, &sat);
    for (int i = 0; i < n; i++)
      assert_true(fabs(y[i] - ldexp(ez[i] / sum, 14)) <= 1.0);
    int label = (int)spd_rng_below(&rng, (uint32_t)n);
    double xent = log(sum) - (ldexp(z[label], -16) - zmax);
    assert_true(fabs((double)spd_fx_softmax_xent(z, n, label) - q30(xent)) <= 8.0);
    assert_int_equal(sat, 0);
  }
}

static void softmax_backward_exact_until_one_rounding(void **state) {
  (void)state;
  const int16_t y[3] = {8192, 4096, 4096}; /* 0.5, 0.25, 0.25 at frac 14 */
  const int16_t dy[3] = {100, -300, 40};
  int16_t dz[3];
  uint32_t sat = 0;
  spd_fx_softmax_backward(dz, y, dy, 3, 14, &sat);
  double dot = 0.5 * 100 + 0.25 * -300 + 0.25 * 40;
  assert_int_equal(dz[0], (int)lround(0.5 * (100 - dot)));
  assert_int_equal(dz[1], (int)floor(0.25 * (-300 - dot) + 0.5));
  assert_int_equal(dz[2], (int)floor(0.25 * (40 - dot) + 0.5));
}

static void bce_from_logit(void **state) {
  (void)state;
  for (int32_t z = -(12 << 16); z <= (12 << 16); z += 4099) {
    for (int t = 0; t <= 2; t++) {
      double zr = ldexp(z, -16), tr = t / 2.0;
      double exact = fmax(zr, 0) - zr * tr + log1p(exp(-fabs(zr)));
      assert_true(fabs((double)spd_fx_sigmoid_bce(z, (int16_t)(t << 13), 14) - q30(exact)) <= 8.0);
    }
  }
}

static void argmax_first_maximum_wins(void **state) {
  (void)state;
  const int16_t a[5] = {1, 7, 3, 7, -2};
  const int32_t b[4] = {-5, -5, -9, -5};
  assert_int_equal(spd_fx_argmax16(a, 5), 1);
  assert_int_equal(spd_fx_argmax32(b, 4), 0);
}

static void mul64x32_matches_wide_reference(void **state) {
  (void)state;
  spd_rng_t rng;
  spd_rng_init(&rng, 11, 0);
  for (int i = 0; i < 200000; i++) {
    int64_t a = (int64_t)(spd_rng_u64(&rng) >> 2) >> spd_rng_below(&rng, 62);
    if (spd_rng_u32(&rng) & 1)
      a = -a;
    uint32_t c = spd_rng_u32(&rng) >> spd_rng_below(&rng, 32);
    int shift = (int)spd_rng_below(&rng, 95);
    uint32_t r = spd_rng_u32(&rng);
    __int128 p = (__int128)a * c;
    __int128 dither = 0;
    if (shift >= 32)
      dither = (__int128)r << (shift - 32);
    else if (shift > 0)
      dither = r >> (32 - shift);
    __int128 want = (p + dither) >> shift;
    uint32_t sat = 0;
    int64_t got = spd_fx_mul64x32(a, c, shift, r, &sat);
    if (want > INT64_MAX || want < INT64_MIN) {
      assert_int_equal(sat, 1);
    } else {
      assert_int_equal(sat, 0);
      assert_true(got == (int64_t)want);
    }
  }
  uint32_t sat = 0;
  assert_true(spd_fx_mul64x32(INT64_C(3) << 40, 3u << 30, -4, 0, &sat) == INT64_MAX);
  assert_int_equal(sat, 1);
  assert_true(spd_fx_mul64x32(-5, 1u << 31, 32, SPD_FX_ROUND_NEAREST, &sat) == -2);
  assert_true(spd_fx_mul64x32(5, 1u << 31, 32, SPD_FX_ROUND_NEAREST, &sat) == 3);
}

static void stochastic_rounding_is_unbiased(void **state) {
  (void)state;
  spd_rng_t rng;
  spd_rng_init(&rng, 5, 0);
  /* 0.3 * 1000 = 300 at frac 40 rounded to frac 0: expectation 300 * 2^-? */
  spd_fx_const_t k = spd_fx_const_from_double(0.3);
  const int64_t a = 1000;
  int64_t total = 0;
  const int trials = 100000;
  for (int i = 0; i < trials; i++)
    total += spd_fx_mul_const(a * 1000, k, 10, 0, spd_rng_u32(&rng), NULL);
  /* a*1000*0.3 / 2^10 = 292.96875 */
  assert_true(fabs((double)total / trials - 292.96875) < 0.01);
  assert_true(spd_fx_mul_const(a * 1000, k, 10, 0, SPD_FX_ROUND_NEAREST, NULL) == 293);
}

static void constants_and_isqrt(void **state) {
  (void)state;
  const double values[] = {0.01 / 32, 0.9, 0.999, 1.0, 1e-9, 3.75, 0.5};
  for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
    spd_fx_const_t k = spd_fx_const_from_double(values[i]);
    assert_true(k.mant >= 0x80000000u);
    assert_true(fabs(spd_fx_const_value(k) / values[i] - 1) < 2.4e-10);
  }
  spd_fx_const_t zero = spd_fx_const_from_double(-1.0);
  assert_int_equal(zero.mant, 0);
  /* From integers (a kernel's per-batch statistics): normalised, within
   * half an LSB of the 32-bit mantissa, exact below 2^32. */
  spd_rng_t r64;
  spd_rng_init(&r64, 10, 0);
  for (int i = 0; i < 20000; i++) {
    uint64_t v = (spd_rng_u64(&r64) >> spd_rng_below(&r64, 64)) | 1;
    int shift = (int)spd_rng_below(&r64, 80) - 20;
    spd_fx_const_t k = spd_fx_const_from_u64(v, shift);
    assert_true(k.mant >= 0x80000000u);
    double want = ldexp((double)v, -shift);
    assert_true(fabs(spd_fx_const_value(k) / want - 1) <= ldexp(1, -32) + 1e-15);
    if (v >> 32 == 0)
      assert_true(ldexp((double)k.mant, -k.shift) == want);
  }
  assert_int_equal(spd_fx_const_from_u64(0, 5).mant, 0);
  spd_fx_const_t top = spd_fx_const_from_u64(UINT64_MAX, 0); /* rounds up to 2^64 */
  assert_int_equal(top.mant, 0x80000000u);
  assert_int_equal(top.shift, -33);
  assert_int_equal(spd_fx_isqrt64(0), 0);
  assert_int_equal(spd_fx_isqrt64(UINT64_MAX), 0xFFFFFFFFu);
  spd_rng_t rng;
  spd_rng_init(&rng, 9, 0);
  for (int i = 0; i < 100000; i++) {
    uint64_t v = spd_rng_u64(&rng) >> spd_rng_below(&rng, 64);
    uint64_t r = spd_fx_isqrt64(v);
    assert_true(r * r <= v);
    assert_true((r + 1) * (r + 1) > v || r == 0xFFFFFFFFu);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(exp_neg_within_4_lsb),
      cmocka_unit_test(sigmoid_tanh_within_4_lsb),
      cmocka_unit_test(log_within_4_lsb),
      cmocka_unit_test(activations_within_1_lsb),
      cmocka_unit_test(activation_saturates_and_counts),
      cmocka_unit_test(activation_backward_matches_derivative),
      cmocka_unit_test(softmax_within_1_lsb_and_xent),
      cmocka_unit_test(softmax_backward_exact_until_one_rounding),
      cmocka_unit_test(bce_from_logit),
      cmocka_unit_test(argmax_first_maximum_wins),
      cmocka_unit_test(mul64x32_matches_wide_reference),
      cmocka_unit_test(stochastic_rounding_is_unbiased),
      cmocka_unit_test(constants_and_isqrt),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
