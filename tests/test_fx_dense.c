/* base/fx_dense and base/fx_update: the bit-identity properties the
 * SpiNNaker kernels rely on. A Dense layer split into any grid of tiles,
 * reduced in any order, gives the unsplit result bit for bit; dW summed over
 * a batch in any order is the same; a tile updating any subset of weights in
 * any order lands on the reference's master weights. */
#include "test_support.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/fx_dense.h"
#include "base/fx_update.h"
#include "spindle/rng.h"

static void fill16(spd_rng_t *rng, int16_t *v, size_t n, int bits) {
  for (size_t i = 0; i < n; i++)
    v[i] = (int16_t)((int32_t)(spd_rng_u32(rng) >> (32 - bits)) - (1 << (bits - 1)));
}

/* Cut [0, n) into random consecutive pieces; returns how many (<= 16). */
static int random_cuts(spd_rng_t *rng, int n, int starts[17]) {
  int pieces = 1 + (int)spd_rng_below(rng, 16);
  starts[0] = 0;
  for (int p = 1; p < pieces; p++)
    starts[p] = (int)spd_rng_below(rng, (uint32_t)n);
  starts[pieces] = n;
  for (int i = 1; i < pieces; i++) /* insertion sort */
    for (int j = i; j > 0 && starts[j] < starts[j - 1]; j--) {
      int t = starts[j];
      starts[j] = starts[j - 1];
      starts[j - 1] = t;
    }
  return pieces;
}

typedef struct layer_case {
  int n_in, n_out;
  int16_t *x, *w, *dz;
  int32_t *bias;
} layer_case_t;

static layer_case_t make_case(spd_rng_t *rng, int n_in, int n_out, int bits) {
  layer_case_t c = {n_in, n_out, malloc(sizeof(int16_t) * (size_t)n_in),
                    malloc(sizeof(int16_t) * (size_t)n_in * (size_t)n_out),
                    malloc(sizeof(int16_t) * (size_t)n_out), malloc(sizeof(int32_t) * (size_t)n_out)};
  fill16(rng, c.x, (size_t)n_in, bits);
  fill16(rng, c.w, (size_t)n_in * (size_t)n_out, bits);
  fill16(rng, c.dz, (size_t)n_out, bits);
  for (int i = 0; i < n_out; i++)
    c.bias[i] = (int32_t)spd_rng_u32(rng) >> 6;
  return c;
}

static void free_case(layer_case_t *c) {
  free(c->x);
  free(c->w);
  free(c->dz);
  free(c->bias);
}

/* Forward through a random grid of tiles: each tile writes its partial sums,
 * then the reducer adds the tiles' blocks in a random order. */
static void tiled_forward(spd_rng_t *rng, const layer_case_t *c, int64_t *acc) {
  int rs[17], cs[17];
  int nr = random_cuts(rng, c->n_in, rs), nc = random_cuts(rng, c->n_out, cs);
  int64_t *partial = calloc((size_t)c->n_out, sizeof *partial);
  memset(acc, 0, sizeof(int64_t) * (size_t)c->n_out);
  uint32_t order[256];
  for (int t = 0; t < nr * nc; t++)
    order[t] = (uint32_t)t;
  spd_rng_shuffle_u32(rng, order, (uint32_t)(nr * nc)); /* tiles arrive in any order */
  for (int t = 0; t < nr * nc; t++) {
    int tile = (int)order[t];
    int r = tile / nc, k = tile % nc;
    int rows = rs[r + 1] - rs[r], cols = cs[k + 1] - cs[k];
    memset(partial, 0, sizeof(int64_t) * (size_t)c->n_out);
    spd_fx_dense_forward_block(partial, c->x + rs[r], c->w + (size_t)rs[r] * c->n_out + cs[k],
                               rows, cols, c->n_out);
    for (int j = 0; j < cols; j++)
      acc[cs[k] + j] += partial[j];
  }
  free(partial);
}

static void forward_tiles_equal_unsplit(void **state) {
  (void)state;
  spd_rng_t rng;
  spd_rng_init(&rng, 1, 0);
  const int shapes[][2] = {{784, 1024}, {37, 5}, {1, 1}, {150, 16}, {256, 128}};
  for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
    layer_case_t c = make_case(&rng, shapes[s][0], shapes[s][1], 16);
    int64_t *whole = calloc((size_t)c.n_out, sizeof *whole);
    int64_t *tiled = calloc((size_t)c.n_out, sizeof *tiled);
    int32_t *z1 = calloc((size_t)c.n_out, sizeof *z1), *z2 = calloc((size_t)c.n_out, sizeof *z2);
    spd_fx_dense_forward_block(whole, c.x, c.w, c.n_in, c.n_out, c.n_out);
    for (int trial = 0; trial < 4; trial++) {
      tiled_forward(&rng, &c, tiled);
      assert_memory_equal(whole, tiled, sizeof(int64_t) * (size_t)c.n_out);
      uint32_t sat1 = 0, sat2 = 0;
      spd_fx_dense_reduce(z1, whole, c.bias, c.n_out, 25, 24, &sat1);
      spd_fx_dense_reduce(z2, tiled, c.bias, c.n_out, 25, 24, &sat2);
      assert_memory_equal(z1, z2, sizeof(int32_t) * (size_t)c.n_out);
      assert_int_equal(sat1, sat2);
    }
    free(whole);
    free(tiled);
    free(z1);
    free(z2);
    free_case(&c);
  }
}

static void backward_input_tiles_equal_unsplit(void **state) {
  (void)state;
  spd_rng_t rng;
  spd_rng_init(&rng, 2, 0);
  layer_case_t c = make_case(&rng, 784, 300, 16);
  int64_t *whole = calloc(784, sizeof *whole), *tiled = calloc(784, sizeof *tiled);
  int64_t *partial = calloc(784, sizeof *partial);
  spd_fx_dense_backward_input_block(whole, c.dz, c.w, c.n_in, c.n_out, c.n_out);
  int rs[17], cs[17];
  int nr = random_cuts(&rng, c.n_in, rs), nc = random_cuts(&rng, c.n_out, cs);
  for (int k = nc - 1; k >= 0; k--) /* column tiles reduced last to first */
    for (int r = 0; r < nr; r++) {
      int rows = rs[r + 1] - rs[r];
      memset(partial, 0, sizeof(int64_t) * 784);
      spd_fx_dense_backward_input_block(partial, c.dz + cs[k], c.w + (size_t)rs[r] * c.n_out + cs[k],
                                        rows, cs[k + 1] - cs[k], c.n_out);
      for (int i = 0; i < rows; i++)
        tiled[rs[r] + i] += partial[i];
    }
  assert_memory_equal(whole, tiled, sizeof(int64_t) * 784);
  int16_t a[784], b[784];
  spd_fx_round16(a, whole, 784, 28, 11, NULL);
  spd_fx_round16(b, tiled, 784, 28, 11, NULL);
  assert_memory_equal(a, b, sizeof a);
  free(whole);
  free(tiled);
  free(partial);
  free_case(&c);
}

static void weight_gradient_any_order_any_tiles(void **state) {
  (void)state;
  spd_rng_t rng;
  spd_rng_init(&rng, 3, 0);
  enum { IN = 120, OUT = 84, BATCH = 32 };
  int16_t x[BATCH][IN], dz[BATCH][OUT];
  for (int s = 0; s < BATCH; s++) {
    fill16(&rng, x[s], IN, 16);
    fill16(&rng, dz[s], OUT, 16);
  }
  int64_t *in_order = calloc(IN * OUT, sizeof(int64_t)), *shuffled = calloc(IN * OUT, sizeof(int64_t));
  int64_t gb1[OUT] = {0}, gb2[OUT] = {0};
  for (int s = 0; s < BATCH; s++) {
    spd_fx_dense_grad_block(in_order, x[s], dz[s], IN, OUT, OUT);
    spd_fx_bias_grad(gb1, dz[s], OUT);
  }
  uint32_t order[BATCH];
  for (int s = 0; s < BATCH; s++)
    order[s] = (uint32_t)s;
  spd_rng_shuffle_u32(&rng, order, BATCH);
  int rs[17], cs[17];
  int nr = random_cuts(&rng, IN, rs), nc = random_cuts(&rng, OUT, cs);
  for (int r = 0; r < nr; r++)
    for (int k = 0; k < nc; k++)
      for (int i = 0; i < BATCH; i++) {
        uint32_t s = order[i];
        spd_fx_dense_grad_block(shuffled + rs[r] * OUT + cs[k], x[s] + rs[r], dz[s] + cs[k],
                                rs[r + 1] - rs[r], cs[k + 1] - cs[k], OUT);
      }
  for (int i = BATCH - 1; i >= 0; i--)
    spd_fx_bias_grad(gb2, dz[order[i]], OUT);
  assert_memory_equal(in_order, shuffled, sizeof(int64_t) * IN * OUT);
  assert_memory_equal(gb1, gb2, sizeof gb1);
  free(in_order);
  free(shuffled);
}

/* The worst case of docs/numerics.md: every product at its largest, 2^30. */
static void accumulator_worst_case_is_exact(void **state) {
  (void)state;
  enum { IN = 4096 };
  int16_t *x = malloc(sizeof(int16_t) * IN), *w = malloc(sizeof(int16_t) * IN);
  for (int i = 0; i < IN; i++)
    x[i] = w[i] = INT16_MIN;
  int64_t acc = 0;
  spd_fx_dense_forward_block(&acc, x, w, IN, 1, 1);
  assert_true(acc == (int64_t)IN << 30);
  /* Read at frac 26 that sum is 2^16 = 65536, beyond s15.16's range: the
   * pre-activation saturates and the event is counted. */
  int32_t z;
  uint32_t sat = 0;
  spd_fx_dense_reduce(&z, &acc, NULL, 1, 26, 24, &sat);
  assert_int_equal(z, INT32_MAX);
  assert_int_equal(sat, 1);
  acc = -acc;
  spd_fx_dense_reduce(&z, &acc, NULL, 1, 26, 24, &sat);
  assert_int_equal(z, INT32_MIN);
  assert_int_equal(sat, 2);
  free(x);
  free(w);
}

static void reduce_rounds_once_ties_up(void **state) {
  (void)state;
  /* acc frac 17 -> frac 16: 3/2 -> 2, -3/2 -> -1 (ties toward +inf), bias
   * at frac 24 exactly representable at frac 17. */
  const int64_t acc[3] = {3, -3, 0};
  const int32_t bias[3] = {0, 0, 1 << 7}; /* 2^-17 */
  int32_t z[3];
  spd_fx_dense_reduce(z, acc, bias, 3, 17, 24, NULL);
  assert_int_equal(z[0], 2);
  assert_int_equal(z[1], -1);
  assert_int_equal(z[2], 1);
}

static void update_params(spd_fx_hyper_t *h, spd_fx_opt_t kind) {
  *h = (spd_fx_hyper_t){.kind = kind, .lr = kind == SPD_FX_OPT_SGD ? 0.01 : 0.001,
                        .momentum = 0.9, .nesterov = true, .beta1 = 0.9, .beta2 = 0.999,
                        .rho = 0.9, .epsilon = 1e-7, .step = 0, .batch = 32};
}

/* A tile holding a scattered subset of the weights, visited in reverse,
 * reaches the same master weights and state as the reference's in-order
 * pass, over several steps. */
static void update_subset_matches_reference(void **state) {
  (void)state;
  enum { N = 500, STEPS = 3 };
  const spd_fx_opt_t kinds[] = {SPD_FX_OPT_SGD, SPD_FX_OPT_ADAM, SPD_FX_OPT_RMSPROP};
  for (size_t k = 0; k < 3; k++) {
    int32_t m1[N], m2[N], a1[N] = {0}, a2[N] = {0}, c1[N] = {0}, c2[N] = {0};
    int64_t b1[N] = {0}, b2[N] = {0}, g[N];
    spd_rng_t rng;
    spd_rng_init(&rng, 4, (uint32_t)k);
    for (int e = 0; e < N; e++)
      m1[e] = m2[e] = (int32_t)spd_rng_u32(&rng) >> 8;
    spd_fx_hyper_t h;
    update_params(&h, kinds[k]);
    for (int step = 0; step < STEPS; step++) {
      h.step = step;
      for (int e = 0; e < N; e++)
        g[e] = (int64_t)(int32_t)spd_rng_u32(&rng) * 64;
      spd_fx_update_t u;
      spd_fx_update_prepare(&u, &h, 25, 99, 17, N);
      for (int e = 0; e < N; e++)
        spd_fx_update_one(&u, (spd_fx_slot_ptrs_t){&m1[e], &a1[e], &b1[e], &c1[e]}, (uint64_t)e,
                          g[e], NULL);
      for (int e = N - 1; e >= 0; e--) /* tile A: every third weight, reversed */
        if (e % 3 == 0)
          spd_fx_update_one(&u, (spd_fx_slot_ptrs_t){&m2[e], &a2[e], &b2[e], &c2[e]},
                            (uint64_t)e, g[e], NULL);
      for (int i = 0; i < N; i++) { /* tile B: the rest, scrambled (7 is prime to N) */
        int e = (i * 7) % N;
        if (e % 3 != 0)
          spd_fx_update_one(&u, (spd_fx_slot_ptrs_t){&m2[e], &a2[e], &b2[e], &c2[e]},
                            (uint64_t)e, g[e], NULL);
      }
    }
    assert_memory_equal(m1, m2, sizeof m1);
    assert_memory_equal(a1, a2, sizeof a1);
    assert_memory_equal(b1, b2, sizeof b1);
  }
}

/* The fixed SGD step equals lr/B * G in expectation and within one LSB of
 * frac 24 per step; momentum and nesterov follow Keras's rule. */
static void sgd_matches_float_rule(void **state) {
  (void)state;
  spd_fx_hyper_t h;
  update_params(&h, SPD_FX_OPT_SGD);
  h.nesterov = false;
  const int64_t g_sum = (int64_t)3 << 25; /* G = 3.0 at frac 25: g = 3/32 */
  double w = 0.25, v = 0;
  int32_t master = 1 << 22, vel = 0;
  int64_t unused_b = 0;
  int32_t unused_c = 0;
  for (int step = 0; step < 20; step++) {
    h.step = step;
    spd_fx_update_t u;
    spd_fx_update_prepare(&u, &h, 25, 5, 0, 1);
    spd_fx_update_one(&u, (spd_fx_slot_ptrs_t){&master, &vel, &unused_b, &unused_c}, 0, g_sum,
                      NULL);
    v = 0.9 * v - 0.01 * 3.0 / 32;
    w += v;
  }
  assert_true(fabs(ldexp(master, -24) - w) < 20 * ldexp(1, -24));
  assert_true(fabs(ldexp(vel, -24) - v) < 20 * ldexp(1, -24));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(forward_tiles_equal_unsplit),
      cmocka_unit_test(backward_input_tiles_equal_unsplit),
      cmocka_unit_test(weight_gradient_any_order_any_tiles),
      cmocka_unit_test(accumulator_worst_case_is_exact),
      cmocka_unit_test(reduce_rounds_once_ties_up),
      cmocka_unit_test(update_subset_matches_reference),
      cmocka_unit_test(sgd_matches_float_rule),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
