/* The golden tensors of tests/golden (PyTorch, Keras semantics; see
 * make_goldens.py) against spindle: every layer case through the reference
 * executor's per-layer forward and backward, every loss, three steps of
 * every optimizer and the fit loop's shuffle order. The manifest drives the
 * test: each case it lists must run and match, so a case spindle cannot run
 * is a failure, never a skip. Mismatches print the case, the tensor and the
 * first few (index, expected, got). */
#include "test_support.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spindle/dataset.h"
#include "spindle/fit.h"
#include "spindle/model.h"
#include "spindle/optim.h"
#include "spindle/reference.h"

/* Tolerance: |got - expected| <= RTOL * |expected| + ATOL.
 * The goldens are float64 results rounded once to float32, so a float32
 * implementation differs by its own rounding. That error is relative to the
 * magnitude of the terms a result sums, not to the result: a convolution
 * output near zero that is the sum of K products of size ~1 (inputs and
 * weights are O(1) by construction) carries an absolute error up to about
 * K * 2^-24, which no relative bound on the tiny result covers. The longest
 * sums here are Conv2D kernel gradients over a batch of 2 (K <= 72 terms):
 * worst case ~4e-6, typical case (errors of random sign grow like sqrt(K))
 * ~5e-7. An absolute floor of 1e-6 therefore admits honest float32
 * rounding, while a wrong index, padding or formula changes values by
 * far more (O(0.01..1)). make_goldens.py recomputes every case in float32 with
 * PyTorch and checks it meets this same bound (its manifest records the
 * worst case as a fraction of the tolerance). */
#define RTOL 1e-5
#define ATOL 1e-6
#define SHOW_MISMATCHES 5

typedef struct golden_tensor {
  spd_shape_t shape;   /* all dimensions, batch included */
  size_t n;
  float *data;
} golden_tensor_t;

/* ---- Loading --------------------------------------------------------------- */

static cJSON *load_manifest(void) {
  char *text = spd_test_read_file(spd_test_source_path("tests/golden/data/manifest.json"), NULL);
  cJSON *m = cJSON_Parse(text);
  free(text);
  if (!m)
    fail_msg("tests/golden/data/manifest.json: invalid JSON");
  return m;
}

/* A golden .npy file through the library's NPY reader (dataset.h): every
 * file make_goldens.py writes is float32 in C order. */
static golden_tensor_t load_npy(const char *file) {
  char rel[512];
  snprintf(rel, sizeof rel, "tests/golden/data/%s", file);
  spd_ctx_t ctx;
  spd_ctx_init(&ctx);
  spd_array_t a;
  if (spd_npy_read(&ctx, spd_test_source_path(rel), &a) != 0)
    fail_msg("golden %s: %s", rel, spd_ctx_message(&ctx));
  if (a.dtype != SPD_DTYPE_F32 || a.rank > SPD_MAX_RANK)
    fail_msg("golden %s: %s of rank %d, expected float32 of rank <= %d", rel,
             spd_dtype_name(a.dtype), a.rank, SPD_MAX_RANK);
  golden_tensor_t t = {.shape.rank = a.rank, .n = (size_t)spd_array_count(&a)};
  for (int i = 0; i < a.rank; i++)
    t.shape.dims[i] = (int32_t)a.dims[i];
  t.data = malloc((t.n ? t.n : 1) * sizeof(float));
  assert_non_null(t.data);
  memcpy(t.data, a.data, t.n * sizeof(float));
  spd_array_free(&a);
  return t;
}

/* Tensor @p key of a case; fails when the manifest does not list it. */
static golden_tensor_t case_tensor(const cJSON *c, const char *key) {
  const cJSON *entry = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItem(c, "tensors"), key);
  const cJSON *file = cJSON_GetObjectItemCaseSensitive(entry, "file");
  if (!cJSON_IsString(file))
    fail_msg("case %s: no tensor '%s' in the manifest",
             cJSON_GetStringValue(cJSON_GetObjectItem(c, "name")), key);
  return load_npy(file->valuestring);
}

static bool case_has(const cJSON *c, const char *key) {
  return cJSON_HasObjectItem(cJSON_GetObjectItem(c, "tensors"), key);
}

static double num(const cJSON *obj, const char *key, double fallback) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
  return cJSON_IsNumber(v) ? v->valuedouble : fallback;
}

static bool flag(const cJSON *obj, const char *key, bool fallback) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
  return cJSON_IsBool(v) ? cJSON_IsTrue(v) : fallback;
}

static const char *str(const cJSON *obj, const char *key) {
  return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(obj, key));
}

/* ---- Comparing --------------------------------------------------------------- */

/* Compare @p n floats; print the first mismatches. @return the number of
 * mismatching elements. */
static size_t compare(const char *name, const char *what, const float *want, const float *got,
                      size_t n) {
  size_t bad = 0;
  for (size_t i = 0; i < n; i++) {
    double e = want[i], g = got[i];
    if (fabs(g - e) <= RTOL * fabs(e) + ATOL)
      continue;
    if (bad++ < SHOW_MISMATCHES)
      print_message("  %s %s[%zu]: expected %.9g got %.9g\n", name, what, i, e, g);
  }
  if (bad)
    print_message("  %s %s: %zu of %zu elements differ\n", name, what, bad, n);
  return bad;
}

/* Compare against golden @p key of case @p c (shape by element count). */
static size_t compare_golden(const cJSON *c, const char *key, const float *got, size_t n) {
  const char *name = str(c, "name");
  golden_tensor_t want = case_tensor(c, key);
  size_t bad;
  if (want.n != n) {
    print_message("  %s %s: %zu elements, golden has %zu\n", name, key, n, want.n);
    bad = 1;
  } else {
    bad = compare(name, key, want.data, got, n);
  }
  free(want.data);
  return bad;
}

/* ---- Layers ------------------------------------------------------------------ */

static void int_pair(const cJSON *cfg, const char *key, int32_t out[2]) {
  const cJSON *a = cJSON_GetObjectItemCaseSensitive(cfg, key);
  if (!a)
    return;
  int n = cJSON_GetArraySize(a);
  for (int i = 0; i < n && i < 2; i++)
    out[i] = cJSON_GetArrayItem(a, i)->valueint;
}

static void shape_from_json(const cJSON *a, spd_shape_t *s) {
  s->rank = cJSON_GetArraySize(a);
  assert_true(s->rank <= SPD_MAX_RANK);
  for (int i = 0; i < s->rank; i++)
    s->dims[i] = cJSON_GetArrayItem(a, i)->valueint;
}

/* spindle's layer configuration from the case's Keras-named arguments. */
static void layer_config(const cJSON *c, spd_layer_config_t *cfg) {
  const char *cls = str(c, "class_name");
  int kind = spd_layer_kind_parse(cls);
  if (kind < 0)
    fail_msg("case %s: spindle does not know layer class %s", str(c, "name"), cls);
  spd_layer_config_defaults(cfg, (spd_layer_kind_t)kind, str(c, "name"));
  const cJSON *k = cJSON_GetObjectItem(c, "config");
  const char *act = str(k, "activation");
  if (act) {
    int a = spd_activation_parse(act);
    if (a < 0)
      fail_msg("case %s: unknown activation %s", str(c, "name"), act);
    cfg->activation = (spd_activation_t)a;
  }
  const char *padding = str(k, "padding");
  if (padding)
    cfg->padding = strcmp(padding, "same") == 0 ? SPD_PAD_SAME : SPD_PAD_VALID;
  cfg->units = (int32_t)num(k, "units", cfg->units);
  cfg->filters = (int32_t)num(k, "filters", cfg->filters);
  cfg->use_bias = flag(k, "use_bias", cfg->use_bias);
  cfg->negative_slope = (float)num(k, "negative_slope", cfg->negative_slope);
  cfg->elu_alpha = (float)num(k, "alpha", cfg->elu_alpha);
  cfg->rate = (float)num(k, "rate", cfg->rate);
  cfg->momentum = (float)num(k, "momentum", cfg->momentum);
  cfg->epsilon = (float)num(k, "epsilon", cfg->epsilon);
  cfg->center = flag(k, "center", cfg->center);
  cfg->scale = flag(k, "scale", cfg->scale);
  int_pair(k, "kernel_size", cfg->kernel_size);
  int_pair(k, "strides", cfg->strides);
  int_pair(k, "dilation_rate", cfg->dilation_rate);
  int_pair(k, "pool_size", cfg->pool_size);
  const cJSON *target = cJSON_GetObjectItem(k, "target_shape");
  if (target)
    shape_from_json(target, &cfg->target_shape);
}

/* Input -> (one identity Reshape per input when there are several, so each
 * input has its own producer) -> the layer under test. @return its index. */
static int build_layer_model(const cJSON *c, spd_ctx_t *ctx, spd_model_t **out, int *sources) {
  spd_model_t *m = NULL;
  assert_int_equal(spd_model_new(ctx, str(c, "name"), &m), 0);
  const cJSON *shapes = cJSON_GetObjectItem(c, "input_shapes");
  int n_inputs = cJSON_GetArraySize(shapes);
  spd_layer_config_t cfg;
  spd_layer_config_defaults(&cfg, SPD_LAYER_INPUT, "input");
  shape_from_json(cJSON_GetArrayItem(shapes, 0), &cfg.input_shape);
  int input = -1;
  assert_int_equal(spd_model_add(m, &cfg, NULL, 0, &input), 0);
  for (int i = 0; i < n_inputs; i++) {
    sources[i] = input;
    if (n_inputs == 1)
      break;
    char name[SPD_NAME_MAX];
    snprintf(name, sizeof name, "source_%d", i);
    spd_layer_config_defaults(&cfg, SPD_LAYER_RESHAPE, name);
    shape_from_json(cJSON_GetArrayItem(shapes, i), &cfg.target_shape);
    assert_int_equal(spd_model_add(m, &cfg, &input, 1, &sources[i]), 0);
  }
  layer_config(c, &cfg);
  int index = -1;
  if (spd_model_add(m, &cfg, sources, n_inputs, &index) != 0 || spd_model_build(m, 1) != 0)
    fail_msg("case %s: %s", str(c, "name"), spd_ctx_message(ctx));
  *out = m;
  return index;
}

/* Overwrite the layer's initialised parameters with the golden ones, checking
 * that spindle has exactly the parameters (names, order, shapes) Keras has. */
static size_t set_params(const cJSON *c, spd_layer_t *layer) {
  const cJSON *names = cJSON_GetObjectItem(c, "params");
  size_t bad = 0;
  if (layer->n_params != cJSON_GetArraySize(names)) {
    print_message("  %s: spindle has %d parameters, Keras %d\n", str(c, "name"),
                  layer->n_params, cJSON_GetArraySize(names));
    return 1;
  }
  for (int p = 0; p < layer->n_params; p++) {
    const char *want = cJSON_GetArrayItem(names, p)->valuestring;
    spd_tensor_t *v = &layer->params[p].value;
    golden_tensor_t g = case_tensor(c, want);
    if (strcmp(layer->params[p].name, want) != 0 || !spd_shape_equal(&g.shape, &v->shape)) {
      print_message("  %s: parameter %d is %s, Keras's is %s (or shapes differ)\n",
                    str(c, "name"), p, layer->params[p].name, want);
      bad++;
    } else {
      memcpy(v->data, g.data, g.n * sizeof(float));
    }
    free(g.data);
  }
  return bad;
}

static void input_key(const cJSON *c, const char *stem, int i, char *key, size_t size) {
  if (cJSON_GetArraySize(cJSON_GetObjectItem(c, "input_shapes")) == 1)
    snprintf(key, size, "%s", stem);
  else
    snprintf(key, size, "%s%d", stem, i);
}

/* Copy golden @p key into a buffer of @p n floats (the executor's).
 * @return 0, or 1 after a message when the sizes differ. */
static size_t fill(const cJSON *c, const char *key, float *dst, size_t n) {
  golden_tensor_t g = case_tensor(c, key);
  size_t bad = g.n != n;
  if (bad)
    print_message("  %s %s: golden has %zu elements, the executor %zu\n", str(c, "name"), key,
                  g.n, n);
  else
    memcpy(dst, g.data, n * sizeof(float));
  free(g.data);
  return bad;
}

static size_t check_moving_stats(const cJSON *c, const spd_layer_t *layer) {
  size_t bad = 0;
  for (int p = 0; p < layer->n_params; p++) {
    char key[SPD_NAME_MAX + 8];
    snprintf(key, sizeof key, "new_%s", layer->params[p].name);
    if (case_has(c, key))
      bad += compare_golden(c, key, layer->params[p].value.data,
                            spd_shape_size(&layer->params[p].value.shape));
  }
  return bad;
}

/* Backward from the golden upstream gradient: input and parameter gradients. */
static size_t check_backward(const cJSON *c, spd_ref_t *ref, const spd_model_t *m, int index,
                             const int *sources, int n_inputs, int batch) {
  const spd_layer_t *layer = &m->layers[index];
  size_t out_n = (size_t)batch * spd_shape_size(&layer->output_shape);
  spd_ref_zero_grads(ref);
  if (fill(c, "dy", spd_ref_output_grad(ref, index), out_n))
    return 1;
  assert_int_equal(spd_ref_layer_backward(ref, index), 0);
  size_t bad = 0;
  for (int i = 0; i < n_inputs; i++) {
    char key[16];
    input_key(c, "dx", i, key, sizeof key);
    size_t in_n = (size_t)batch * spd_shape_size(&m->layers[sources[i]].output_shape);
    bad += compare_golden(c, key, spd_ref_output_grad(ref, sources[i]), in_n);
  }
  for (int p = 0; p < layer->n_params; p++) {
    if (!layer->params[p].trainable)
      continue;
    char key[SPD_NAME_MAX + 8];
    snprintf(key, sizeof key, "grad_%s", layer->params[p].name);
    spd_tensor_t g = spd_ref_grad(ref, index, p);
    if (!g.data)
      fail_msg("case %s: no gradient for %s", str(c, "name"), layer->params[p].name);
    bad += compare_golden(c, key, g.data, spd_shape_size(&g.shape));
  }
  return bad;
}

static size_t run_layer_case(const cJSON *c) {
  spd_ctx_t ctx;
  spd_ctx_init(&ctx);
  spd_model_t *m = NULL;
  int sources[SPD_MAX_INBOUND];
  int index = build_layer_model(c, &ctx, &m, sources);
  int n_inputs = cJSON_GetArraySize(cJSON_GetObjectItem(c, "input_shapes"));
  int batch = (int)num(c, "batch", 0);
  bool training = flag(c, "training", false);
  size_t bad = set_params(c, &m->layers[index]);
  spd_ref_options_t opts;
  spd_ref_options_default(&opts);
  opts.input_gradient = true;
  spd_ref_t *ref = NULL;
  if (spd_ref_new(m, batch, &opts, &ref) != 0)
    fail_msg("case %s: %s", str(c, "name"), spd_ctx_message(&ctx));
  assert_int_equal(spd_ref_set_batch(ref, batch), 0);
  for (int i = 0; i < n_inputs; i++) {
    char key[16];
    input_key(c, "x", i, key, sizeof key);
    bad += fill(c, key, spd_ref_output(ref, sources[i]),
                (size_t)batch * spd_shape_size(&m->layers[sources[i]].output_shape));
  }
  if (!bad) {
    if (spd_ref_layer_forward(ref, index, training) != 0)
      fail_msg("case %s: forward: %s", str(c, "name"), spd_ctx_message(&ctx));
    size_t out_n = (size_t)batch * spd_shape_size(&m->layers[index].output_shape);
    bad += compare_golden(c, "y", spd_ref_output(ref, index), out_n);
    bad += check_moving_stats(c, &m->layers[index]);
    bad += check_backward(c, ref, m, index, sources, n_inputs, batch);
  }
  spd_ref_free(ref);
  spd_model_free(m);
  return bad;
}

/* ---- Losses, optimizers, training order ----------------------------------------- */

static size_t run_loss_case(const cJSON *c) {
  int kind = spd_loss_parse(str(c, "loss"));
  if (kind < 0)
    fail_msg("case %s: spindle does not know loss %s", str(c, "name"), str(c, "loss"));
  golden_tensor_t pred = case_tensor(c, "y_pred"), labels = case_tensor(c, "y_true");
  spd_loss_params_t p = {.kind = (spd_loss_kind_t)kind,
                         .from_logits = flag(c, "from_logits", false),
                         .rows = (size_t)pred.shape.dims[0],
                         .cols = (size_t)pred.shape.dims[pred.shape.rank - 1]};
  float value = (float)spd_loss_forward(pred.data, labels.data, &p);
  float *grad = malloc(pred.n * sizeof(float));
  assert_non_null(grad);
  spd_loss_backward(grad, pred.data, labels.data, &p);
  size_t bad = compare_golden(c, "loss", &value, 1) + compare_golden(c, "grad", grad, pred.n);
  free(grad);
  free(pred.data);
  free(labels.data);
  return bad;
}

static void optimizer_config(const cJSON *c, spd_optimizer_config_t *cfg) {
  int kind = spd_optimizer_parse(str(c, "optimizer"));
  if (kind < 0)
    fail_msg("case %s: spindle does not know optimizer %s", str(c, "name"), str(c, "optimizer"));
  spd_optimizer_config_defaults(cfg, (spd_optimizer_kind_t)kind);
  spd_lr_schedule_constant(&cfg->learning_rate, num(c, "learning_rate", 0));
  cfg->momentum = (float)num(c, "momentum", cfg->momentum);
  cfg->nesterov = flag(c, "nesterov", cfg->nesterov);
  cfg->beta_1 = (float)num(c, "beta_1", cfg->beta_1);
  cfg->beta_2 = (float)num(c, "beta_2", cfg->beta_2);
  cfg->epsilon = (float)num(c, "epsilon", cfg->epsilon);
  cfg->rho = (float)num(c, "rho", cfg->rho);
  cfg->centered = flag(c, "centered", cfg->centered);
}

static size_t run_optimizer_case(const cJSON *c) {
  spd_optimizer_config_t cfg;
  optimizer_config(c, &cfg);
  golden_tensor_t w = case_tensor(c, "w0");
  spd_optimizer_t *opt = NULL;
  assert_int_equal(spd_optimizer_new(NULL, &cfg, &w.n, 1, &opt), 0);
  size_t bad = 0;
  int steps = (int)num(c, "steps", 0);
  assert_true(steps > 0);
  for (int t = 1; t <= steps; t++) {
    char key[16];
    snprintf(key, sizeof key, "g%d", t);
    golden_tensor_t g = case_tensor(c, key);
    assert_int_equal(g.n, w.n);
    float *wp = w.data;
    const float *gp = g.data;
    spd_optimizer_step(opt, &wp, &gp);
    snprintf(key, sizeof key, "w%d", t);
    bad += compare_golden(c, key, w.data, w.n);
    free(g.data);
  }
  spd_optimizer_free(opt);
  free(w.data);
  return bad;
}

static size_t run_order_case(const cJSON *c) {
  uint64_t seed = strtoull(str(c, "seed"), NULL, 10);
  int epoch = (int)num(c, "epoch", -1);
  uint32_t n = (uint32_t)num(c, "n", 0);
  assert_true(epoch >= 0 && n > 0);
  uint32_t *order = malloc(n * sizeof *order);
  float *as_float = malloc(n * sizeof *as_float);
  assert_true(order && as_float);
  spd_fit_epoch_order(seed, epoch, order, n);
  for (uint32_t i = 0; i < n; i++)
    as_float[i] = (float)order[i]; /* exact: n < 2^24 */
  size_t bad = compare_golden(c, "order", as_float, n);
  free(order);
  free(as_float);
  return bad;
}

/* Run every case of manifest section @p section; fail if it is empty or any
 * case mismatches. */
static void run_section(const char *section, size_t (*run)(const cJSON *c)) {
  cJSON *manifest = load_manifest();
  const cJSON *cases = cJSON_GetObjectItem(manifest, section);
  int n = cJSON_GetArraySize(cases), failed = 0;
  if (n == 0)
    fail_msg("manifest section %s has no cases", section);
  const cJSON *c;
  cJSON_ArrayForEach(c, cases) {
    size_t bad = run(c);
    if (bad) {
      failed++;
      print_message("FAIL %s %s\n", section, str(c, "name"));
    }
  }
  print_message("%s: %d of %d golden cases match\n", section, n - failed, n);
  cJSON_Delete(manifest);
  assert_int_equal(failed, 0);
}

static void layers_match(void **state) {
  (void)state;
  run_section("layers", run_layer_case);
}

static void losses_match(void **state) {
  (void)state;
  run_section("losses", run_loss_case);
}

static void optimizers_match(void **state) {
  (void)state;
  run_section("optimizers", run_optimizer_case);
}

static void fit_orders_match(void **state) {
  (void)state;
  run_section("fit_orders", run_order_case);
}

/* The comparison itself must be able to fail: a value one part in 10^4 off
 * and a near-zero value 1e-5 off are mismatches, rounding-sized ones not. */
static void comparison_rejects_real_differences(void **state) {
  (void)state;
  const float want[4] = {1.0f, -2.5f, 0.0f, 3e-7f};
  const float close[4] = {1.000005f, -2.500012f, 8e-7f, -5e-7f};
  const float off[4] = {1.0001f, -2.5f, 1e-5f, 3e-7f};
  assert_int_equal(compare("self", "close", want, close, 4), 0);
  assert_int_equal(compare("self", "off", want, off, 4), 2);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(comparison_rejects_real_differences),
      cmocka_unit_test(layers_match),
      cmocka_unit_test(losses_match),
      cmocka_unit_test(optimizers_match),
      cmocka_unit_test(fit_orders_match),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
