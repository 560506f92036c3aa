/* run/fit: Keras-style mini-batch training on the reference executor. A
 * small problem must learn; the same seed gives bit-identical weights; the
 * shuffle is a permutation that changes per epoch; bad inputs are named. */
#include "test_support.h"

#include <math.h>
#include <string.h>

#include "golden_npy.h"
#include "spindle/fit.h"

#define XOR_N 64

/* in(2) -> Dense(16, tanh) -> Dense(2, softmax). */
static spd_model_t *xor_model(spd_ctx_t *ctx, uint64_t seed) {
  spd_model_t *m = NULL;
  assert_int_equal(spd_model_new(ctx, "xor", &m), 0);
  spd_layer_config_t cfg;
  int prev;
  spd_layer_config_defaults(&cfg, SPD_LAYER_INPUT, "input");
  cfg.input_shape = (spd_shape_t){.rank = 1, .dims = {2}};
  assert_int_equal(spd_model_add(m, &cfg, NULL, 0, &prev), 0);
  spd_layer_config_defaults(&cfg, SPD_LAYER_DENSE, "hidden");
  cfg.units = 16;
  cfg.activation = SPD_ACT_TANH;
  assert_int_equal(spd_model_add(m, &cfg, &prev, 1, &prev), 0);
  spd_layer_config_defaults(&cfg, SPD_LAYER_DENSE, "out");
  cfg.units = 2;
  cfg.activation = SPD_ACT_SOFTMAX;
  assert_int_equal(spd_model_add(m, &cfg, &prev, 1, &prev), 0);
  assert_int_equal(spd_model_build(m, seed), 0);
  return m;
}

typedef struct xor_data {
  float x[XOR_N * 2];
  int32_t labels[XOR_N];
  spd_fit_data_t data;
} xor_data_t;

static void make_xor(xor_data_t *d) {
  for (int i = 0; i < XOR_N; i++) {
    int a = i & 1, b = (i >> 1) & 1;
    d->x[2 * i] = a ? 1.0f : -1.0f;
    d->x[2 * i + 1] = b ? 1.0f : -1.0f;
    d->labels[i] = a ^ b;
  }
  d->data = (spd_fit_data_t){.n = XOR_N, .sample_shape = {.rank = 1, .dims = {2}},
                             .x = d->x, .y = {.n = XOR_N, .labels = d->labels}};
}

static void xor_config(spd_fit_config_t *cfg) {
  spd_fit_config_defaults(cfg);
  cfg->epochs = 60;
  cfg->batch_size = 8;
  cfg->seed = 7;
  spd_optimizer_config_defaults(&cfg->optimizer, SPD_OPT_ADAM);
  spd_lr_schedule_constant(&cfg->optimizer.learning_rate, 0.05);
}

static void xor_learns(void **state) {
  (void)state;
  spd_ctx_t ctx;
  spd_ctx_init(&ctx);
  xor_data_t d;
  make_xor(&d);
  spd_model_t *m = xor_model(&ctx, 1);
  spd_fit_config_t cfg;
  xor_config(&cfg);
  assert_int_equal(spd_loss_default(m, &d.data.y), SPD_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY);
  spd_history_t h;
  assert_int_equal(spd_fit_float(m, &cfg, &d.data, &h), 0);
  assert_int_equal(h.n_epochs, 60);
  assert_true(h.epochs[59].loss < 0.1);
  assert_true(h.epochs[59].loss < h.epochs[0].loss);
  assert_true(h.epochs[59].accuracy == 1.0);
  double loss, acc;
  assert_int_equal(spd_evaluate_float(m, cfg.loss, false, 5, &d.data, NULL, &loss, &acc), 0);
  assert_true(acc == 1.0 && loss < 0.1);
  float pred[XOR_N * 2];
  assert_int_equal(spd_predict_float(m, 7, &d.data, NULL, pred), 0);
  for (int i = 0; i < XOR_N; i++)
    assert_int_equal(pred[2 * i + 1] > pred[2 * i], d.labels[i]);
  spd_history_free(&h);
  spd_model_free(m);
}

static void trained_weights(uint64_t fit_seed, float *out, size_t *n) {
  spd_ctx_t ctx;
  spd_ctx_init(&ctx);
  xor_data_t d;
  make_xor(&d);
  spd_model_t *m = xor_model(&ctx, 3);
  spd_fit_config_t cfg;
  xor_config(&cfg);
  cfg.epochs = 3;
  cfg.batch_size = 5; /* a shorter last batch every epoch */
  cfg.seed = fit_seed;
  assert_int_equal(spd_fit_float(m, &cfg, &d.data, NULL), 0);
  *n = 0;
  for (int l = 0; l < m->n_layers; l++)
    for (int p = 0; p < m->layers[l].n_params; p++) {
      spd_tensor_t *t = &m->layers[l].params[p].value;
      size_t k = spd_shape_size(&t->shape);
      memcpy(out + *n, t->data, k * sizeof(float));
      *n += k;
    }
  spd_model_free(m);
}

static void same_seed_same_weights(void **state) {
  (void)state;
  float a[128], b[128], c[128];
  size_t na, nb, nc;
  trained_weights(11, a, &na);
  trained_weights(11, b, &nb);
  trained_weights(12, c, &nc);
  assert_int_equal(na, 16 * 2 + 16 + 16 * 2 + 2);
  assert_int_equal(na, nb);
  assert_memory_equal(a, b, na * sizeof(float));
  assert_true(memcmp(a, c, na * sizeof(float)) != 0);
}

static void shuffle_is_a_permutation_per_epoch(void **state) {
  (void)state;
  enum { N = 1000 };
  static uint32_t e0[N], e1[N], again[N];
  spd_fit_epoch_order(5, 0, e0, N);
  spd_fit_epoch_order(5, 1, e1, N);
  spd_fit_epoch_order(5, 0, again, N);
  assert_memory_equal(e0, again, sizeof e0);
  assert_true(memcmp(e0, e1, sizeof e0) != 0);
  static uint8_t seen[N];
  memset(seen, 0, sizeof seen);
  for (int i = 0; i < N; i++) {
    assert_true(e1[i] < N);
    assert_int_equal(seen[e1[i]]++, 0);
  }
  int fixed = 0;
  for (int i = 0; i < N; i++)
    fixed += e0[i] == (uint32_t)i;
  assert_true(fixed < 10); /* a shuffle, not the identity */
}


/* The orders bench/philox_order.py (NumPy, from docs/training.md) made and
 * tests/golden committed: the C shuffle is the documented algorithm. */
static void shuffle_matches_documented_orders(void **state) {
  (void)state;
  static const struct { const char *name; uint64_t seed; int epoch; uint32_t n; } cases[] = {
      {"order_seed1_epoch0_n1000", 1, 0, 1000},
      {"order_seed1_epoch4_n1000", 1, 4, 1000},
      {"order_seeddeadbeefcafe1234_epoch2_n777", 0xdeadbeefcafe1234ull, 2, 777},
      {"order_seed7_epoch0_n5", 7, 0, 5},
  };
  static float want[1000];
  static uint32_t got[1000];
  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
    char key[96];
    snprintf(key, sizeof key, "%s.order", cases[c].name);
    assert_int_equal(golden_load(key, want, 1000), cases[c].n);
    spd_fit_epoch_order(cases[c].seed, cases[c].epoch, got, cases[c].n);
    for (uint32_t i = 0; i < cases[c].n; i++)
      if (got[i] != (uint32_t)want[i])
        fail_msg("%s: order[%u] = %u, golden %u", cases[c].name, i, got[i],
                 (uint32_t)want[i]);
  }
}


/* Bytes scaled on the fly train exactly like the same values as floats. */
static void byte_samples_equal_float_samples(void **state) {
  (void)state;
  xor_data_t d;
  make_xor(&d);
  uint8_t bytes[XOR_N * 2];
  for (int i = 0; i < XOR_N * 2; i++) {
    bytes[i] = d.x[i] > 0 ? 255 : 0;
    d.x[i] = d.x[i] > 0 ? 1.0f : 0.0f;
  }
  spd_fit_data_t as_bytes = d.data;
  as_bytes.x = NULL;
  as_bytes.x_u8 = bytes;
  as_bytes.x_scale = 1.0f / 255.0f;
  spd_ctx_t ctx;
  spd_ctx_init(&ctx);
  spd_model_t *a = xor_model(&ctx, 2), *b = xor_model(&ctx, 2);
  spd_fit_config_t cfg;
  xor_config(&cfg);
  cfg.epochs = 2;
  assert_int_equal(spd_fit_float(a, &cfg, &d.data, NULL), 0);
  assert_int_equal(spd_fit_float(b, &cfg, &as_bytes, NULL), 0);
  for (int l = 0; l < a->n_layers; l++)
    for (int p = 0; p < a->layers[l].n_params; p++)
      assert_memory_equal(a->layers[l].params[p].value.data, b->layers[l].params[p].value.data,
                          spd_shape_size(&a->layers[l].params[p].value.shape) * sizeof(float));
  as_bytes.x = d.x;
  assert_int_equal(spd_fit_float(a, &cfg, &as_bytes, NULL), SPD_EINVAL);
  spd_model_free(a);
  spd_model_free(b);
}

typedef struct counts {
  int epochs_begun, batches, epochs_ended, stop_at;
} counts_t;

static void on_begin(void *ud, int epoch, int epochs, size_t steps) {
  counts_t *c = ud;
  assert_int_equal(epoch, c->epochs_begun);
  assert_int_equal(epochs, 2);
  assert_int_equal(steps, 13); /* ceil(64 / 5) */
  c->epochs_begun++;
}

static int on_batch(void *ud, size_t step, size_t steps, double loss, double acc) {
  counts_t *c = ud;
  assert_true(step >= 1 && step <= steps && loss > 0 && acc >= 0 && acc <= 1);
  return ++c->batches == c->stop_at;
}

static void on_end(void *ud, const spd_epoch_logs_t *logs) {
  counts_t *c = ud;
  assert_int_equal(logs->epoch, c->epochs_ended++);
  assert_true(logs->has_validation && logs->val_accuracy >= 0);
}

static void callbacks_and_validation(void **state) {
  (void)state;
  spd_ctx_t ctx;
  spd_ctx_init(&ctx);
  xor_data_t d;
  make_xor(&d);
  spd_model_t *m = xor_model(&ctx, 1);
  spd_fit_config_t cfg;
  xor_config(&cfg);
  cfg.epochs = 2;
  cfg.batch_size = 5;
  cfg.validation = &d.data;
  counts_t c = {0};
  cfg.callbacks = (spd_fit_callbacks_t){.ud = &c, .on_epoch_begin_cb = on_begin,
                                        .on_batch_cb = on_batch, .on_epoch_end_cb = on_end};
  assert_int_equal(spd_fit_float(m, &cfg, &d.data, NULL), 0);
  assert_int_equal(c.batches, 26);
  assert_int_equal(c.epochs_ended, 2);
  counts_t stop = {.stop_at = 3};
  cfg.callbacks.ud = &stop;
  assert_int_equal(spd_fit_float(m, &cfg, &d.data, NULL), SPD_ESTATE);
  assert_int_equal(stop.batches, 3);
  spd_model_free(m);
}

static void bad_inputs_are_named(void **state) {
  (void)state;
  spd_ctx_t ctx;
  spd_ctx_init(&ctx);
  xor_data_t d;
  make_xor(&d);
  spd_model_t *m = xor_model(&ctx, 1);
  spd_fit_config_t cfg;
  xor_config(&cfg);
  spd_fit_data_t wrong = d.data;
  wrong.sample_shape = (spd_shape_t){.rank = 1, .dims = {3}};
  wrong.n = XOR_N * 2 / 3;
  wrong.y.n = wrong.n;
  assert_int_equal(spd_fit_float(m, &cfg, &wrong, NULL), SPD_ESHAPE);
  assert_non_null(strstr(spd_ctx_message(&ctx), "(None, 2)"));
  assert_non_null(strstr(spd_ctx_message(&ctx), "(None, 3)"));
  cfg.epochs = 0;
  assert_int_equal(spd_fit_float(m, &cfg, &d.data, NULL), SPD_EINVAL);
  assert_non_null(strstr(spd_ctx_message(&ctx), "epochs"));
  xor_config(&cfg);
  d.labels[5] = 2;
  assert_int_equal(spd_fit_float(m, &cfg, &d.data, NULL), SPD_ESHAPE);
  assert_non_null(strstr(spd_ctx_message(&ctx), "label 2 of sample 5"));
  d.labels[5] = 1;
  cfg.loss = SPD_LOSS_CATEGORICAL_CROSSENTROPY;
  assert_int_equal(spd_fit_float(m, &cfg, &d.data, NULL), SPD_EINVAL);
  assert_non_null(strstr(spd_ctx_message(&ctx), "integer labels"));
  spd_model_free(m);
}

static void allocation_failures_leave_model_unchanged(void **state) {
  (void)state;
  xor_data_t d;
  make_xor(&d);
  spd_fit_config_t cfg;
  xor_config(&cfg);
  cfg.epochs = 1;
  for (uint64_t n = 1;; n++) {
    spd_ctx_t ctx;
    spd_ctx_init(&ctx);
    spd_model_t *m = xor_model(&ctx, 1);
    float before[2 * 16];
    memcpy(before, m->layers[1].params[0].value.data, sizeof before);
    spd_test_alloc_t ta;
    spd_test_alloc_install(&ctx, &ta, n);
    spd_history_t h;
    int rc = spd_fit_float(m, &cfg, &d.data, &h);
    if (rc == 0) {
      assert_int_equal(ta.failed, 0);
      assert_int_equal(ta.live, 1); /* only the history is left */
      spd_history_free(&h);
      assert_int_equal(ta.live, 0);
      spd_ctx_init(&ctx);
      spd_model_free(m);
      break;
    }
    spd_ctx_init(&ctx); /* the model was made with the system allocator */
    assert_int_equal(rc, SPD_ENOMEM);
    assert_int_equal(ta.live, 0);
    assert_memory_equal(before, m->layers[1].params[0].value.data, sizeof before);
    spd_model_free(m);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(xor_learns),
      cmocka_unit_test(same_seed_same_weights),
      cmocka_unit_test(shuffle_is_a_permutation_per_epoch),
      cmocka_unit_test(shuffle_matches_documented_orders),
      cmocka_unit_test(byte_samples_equal_float_samples),
      cmocka_unit_test(callbacks_and_validation),
      cmocka_unit_test(bad_inputs_are_named),
      cmocka_unit_test(allocation_failures_leave_model_unchanged),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
