/* The sink's ring of records (docs/dataspec.md, "Records"): a head of
 * 1,000 outputs keeps 260 records in a ring of 1 MiB, so a run of more
 * samples than that goes round it. The outputs of every sample still reach
 * the host bit-identical to the reference's fixed mode; and when the host
 * looks at the records only once in a long while, the sink waits for it
 * instead of writing over records it has not read: the results do not
 * change, only the simulated time the run takes. */
#include <stdlib.h>
#include <string.h>

#include "map/tile_cost.h"
#include "spindle/keras.h"
#include "spindle/machine_run.h"
#include "support/test_machine_data.h"
#include "support/test_models.h"
#include "support/test_support.h"

#define OUTPUTS 1000u
#define SAMPLES 300u

static const char *const HEAD =
    "{\"class_name\":\"Sequential\",\"config\":{\"name\":\"head\",\"layers\":["
    "{\"class_name\":\"InputLayer\",\"config\":{\"batch_shape\":[null,16],\"name\":\"in\"}},"
    "{\"class_name\":\"Dense\",\"config\":{\"name\":\"hidden\",\"units\":8,"
    "\"activation\":\"relu\"}},"
    "{\"class_name\":\"Dense\",\"config\":{\"name\":\"out\",\"units\":1000,"
    "\"activation\":\"softmax\"}}]}}";

static spd_model_t *head(spd_ctx_t *ctx) {
  spd_model_t *m = NULL;
  if (spd_keras_json_parse(ctx, HEAD, strlen(HEAD), 5, &m))
    fail_msg("head: %s", spd_ctx_message(ctx));
  return m;
}

static void the_ring_is_smaller_than_the_run(void **state) {
  (void)state;
  uint32_t ring = spd__sink_ring(SAMPLES, OUTPUTS);
  assert_true(ring < SAMPLES);
  assert_true(spd__sink_bytes(SAMPLES, OUTPUTS) <= SPD__SINK_RING_BYTES + 4u);
  /* a small head's run fits whole, and a ring is never empty */
  assert_int_equal(spd__sink_ring(SAMPLES, 10), SAMPLES);
  assert_int_equal(spd__sink_ring(1u << 30, 1u << 20), 64);
}

/* The head, spinn5 and SAMPLES samples of 1,000 classes. */
typedef struct bench {
  spd_ctx_t ctx;
  spd_model_t *m;
  spd_machine_t *mc;
  spd_test_samples_t s;
} bench_t;

static void bench_open(bench_t *b) {
  spd_ctx_init(&b->ctx);
  b->m = head(&b->ctx);
  b->mc = spd_test_machine(&b->ctx, "spinn5", NULL);
  spd_test_samples_make(&b->s, SAMPLES, b->m->layers[0].output_shape, (int)OUTPUTS, false);
}

static void bench_close(bench_t *b) {
  spd_test_samples_free(&b->s);
  spd_machine_free(b->mc);
  spd_model_free(b->m);
}

typedef struct forward {
  float *out;
  spd_machine_stats_t st;
} forward_t;

static forward_t forward(uint64_t slice_ps) {
  bench_t b;
  bench_open(&b);
  forward_t f = {.out = calloc((size_t)SAMPLES * OUTPUTS, sizeof(float))};
  assert_non_null(f.out);
  spd_machine_run_opts_t o = {.numeric = SPD_NUMERIC_FIXED, .slice_ps = slice_ps};
  if (spd_machine_predict(&b.ctx, b.m, b.mc, &o, &b.s.d, f.out, &f.st))
    fail_msg("%s", spd_ctx_message(&b.ctx));
  assert_true(f.st.completed);
  assert_int_equal(f.st.packets_dropped, 0);
  float *want = calloc((size_t)SAMPLES * OUTPUTS, sizeof(float));
  assert_non_null(want);
  spd_test_reference_fixed(&b.ctx, b.m, &b.s, want);
  assert_memory_equal(f.out, want, (size_t)SAMPLES * OUTPUTS * sizeof(float));
  free(want);
  bench_close(&b);
  return f;
}

static void every_output_comes_round_the_ring(void **state) {
  (void)state;
  forward_t f = forward(0);
  free(f.out);
}

/* The host looks at the records only once in as long as the whole run
 * took when it looked every 10 ms: the ring is full long before its first
 * look, and the sink waits for the host's read count (the run takes
 * longer, with the same results). */
static void a_slow_host_makes_the_sink_wait_not_lose_records(void **state) {
  (void)state;
  forward_t often = forward(0);
  uint64_t run_ps = (uint64_t)(often.st.simulated_seconds * 1e12);
  forward_t seldom = forward(run_ps);
  assert_memory_equal(often.out, seldom.out, (size_t)SAMPLES * OUTPUTS * sizeof(float));
  assert_true(seldom.st.simulated_seconds > often.st.simulated_seconds * 1.05);
  free(often.out);
  free(seldom.out);
}

typedef struct trained {
  spd_history_t h;
  float *w;
  size_t n_w;
} trained_t;

static trained_t train(uint64_t slice_ps) {
  bench_t b;
  bench_open(&b);
  spd_fit_config_t cfg;
  spd_fit_config_defaults(&cfg);
  cfg.batch_size = 30;
  spd_machine_run_opts_t o = {.numeric = SPD_NUMERIC_FIXED, .slice_ps = slice_ps};
  trained_t t = {0};
  spd_machine_stats_t st;
  if (spd_machine_fit(&b.ctx, b.m, b.mc, &o, &cfg, &b.s.d, &t.h, &st))
    fail_msg("%s", spd_ctx_message(&b.ctx));
  const spd_tensor_t *k = &b.m->layers[b.m->n_layers - 1].params[0].value;
  t.n_w = spd_shape_size(&k->shape);
  t.w = malloc(t.n_w * sizeof(float));
  assert_non_null(t.w);
  memcpy(t.w, k->data, t.n_w * sizeof(float));
  bench_close(&b);
  return t;
}

static void training_round_the_ring_is_the_same_however_often_the_host_looks(void **state) {
  (void)state;
  trained_t a = train(0), b = train(30000000000000ull);
  assert_int_equal(a.h.n_epochs, 1);
  assert_int_equal(b.h.n_epochs, 1);
  assert_true(a.h.epochs[0].loss == b.h.epochs[0].loss);
  assert_true(a.h.epochs[0].accuracy == b.h.epochs[0].accuracy);
  assert_int_equal(a.n_w, b.n_w);
  assert_memory_equal(a.w, b.w, a.n_w * sizeof(float));
  free(a.w);
  free(b.w);
  spd_history_free(&a.h);
  spd_history_free(&b.h);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(the_ring_is_smaller_than_the_run),
      cmocka_unit_test(every_output_comes_round_the_ring),
      cmocka_unit_test(a_slow_host_makes_the_sink_wait_not_lose_records),
      cmocka_unit_test(training_round_the_ring_is_the_same_however_often_the_host_looks),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
