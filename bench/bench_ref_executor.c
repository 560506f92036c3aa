/* Host speed of the float32 reference executor: training steps (forward,
 * loss, backward) and inference of the MLP and LeNet-5 on synthetic
 * 28x28x1 batches of 32. Prints samples per second as JSON on stdout. */
#include "bench_support.h"

#include <stdio.h>

#include "spindle/reference.h"

enum { BATCH = 32 };

typedef struct layer_spec {
  spd_layer_kind_t kind;
  int units, kernel;
  spd_padding_t padding;
  spd_activation_t activation;
} layer_spec_t;

static const layer_spec_t mlp[] = {
    {SPD_LAYER_FLATTEN, 0, 0, SPD_PAD_VALID, SPD_ACT_LINEAR},
    {SPD_LAYER_DENSE, 256, 0, SPD_PAD_VALID, SPD_ACT_RELU},
    {SPD_LAYER_DENSE, 128, 0, SPD_PAD_VALID, SPD_ACT_RELU},
    {SPD_LAYER_DENSE, 10, 0, SPD_PAD_VALID, SPD_ACT_SOFTMAX},
};

static const layer_spec_t lenet5[] = {
    {SPD_LAYER_CONV2D, 6, 5, SPD_PAD_SAME, SPD_ACT_RELU},
    {SPD_LAYER_MAXPOOL2D, 0, 0, SPD_PAD_VALID, SPD_ACT_LINEAR},
    {SPD_LAYER_CONV2D, 16, 5, SPD_PAD_VALID, SPD_ACT_RELU},
    {SPD_LAYER_MAXPOOL2D, 0, 0, SPD_PAD_VALID, SPD_ACT_LINEAR},
    {SPD_LAYER_FLATTEN, 0, 0, SPD_PAD_VALID, SPD_ACT_LINEAR},
    {SPD_LAYER_DENSE, 120, 0, SPD_PAD_VALID, SPD_ACT_RELU},
    {SPD_LAYER_DENSE, 84, 0, SPD_PAD_VALID, SPD_ACT_RELU},
    {SPD_LAYER_DENSE, 10, 0, SPD_PAD_VALID, SPD_ACT_SOFTMAX},
};

static int build(const layer_spec_t *spec, int n, spd_model_t **out) {
  spd_model_t *m;
  int rc = spd_model_new(NULL, "bench", &m);
  if (rc)
    return rc;
  spd_layer_config_t c;
  spd_layer_config_defaults(&c, SPD_LAYER_INPUT, "");
  c.input_shape = (spd_shape_t){3, {28, 28, 1}};
  int last = 0;
  rc = spd_model_add(m, &c, NULL, 0, &last);
  for (int i = 0; rc == 0 && i < n; i++) {
    spd_layer_config_defaults(&c, spec[i].kind, "");
    c.units = c.filters = spec[i].units;
    if (spec[i].kernel)
      c.kernel_size[0] = c.kernel_size[1] = spec[i].kernel;
    c.padding = spec[i].padding;
    c.activation = spec[i].activation;
    rc = spd_model_add(m, &c, &last, 1, &last);
  }
  if (rc == 0)
    rc = spd_model_build(m, 1);
  if (rc)
    spd_model_free(m);
  else
    *out = m;
  return rc;
}

/* Samples per second of @p steps training steps (or inference passes). */
static double measure(spd_ref_t *ref, const float *x, const float *y, int steps, bool train) {
  double start = spd_bench_wall_seconds(), loss;
  for (int s = 0; s < steps; s++) {
    spd_ref_forward(ref, x, BATCH, train);
    if (train)
      spd_ref_backward(ref, SPD_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY, false, y, &loss);
  }
  return steps * BATCH / (spd_bench_wall_seconds() - start);
}

static int run(const char *name, const layer_spec_t *spec, int n, int steps, const float *x,
               const float *y, bool last) {
  spd_model_t *m;
  spd_ref_t *ref;
  if (build(spec, n, &m))
    return 1;
  if (spd_ref_new(m, BATCH, NULL, &ref)) {
    spd_model_free(m);
    return 1;
  }
  measure(ref, x, y, 2, true); /* warm caches and pages */
  double train = measure(ref, x, y, steps, true);
  double infer = measure(ref, x, y, steps, false);
  printf("  \"%s\": {\"train_samples_per_second\": %.1f, "
         "\"predict_samples_per_second\": %.1f}%s\n",
         name, train, infer, last ? "" : ",");
  spd_ref_free(ref);
  spd_model_free(m);
  return 0;
}

int main(void) {
  static float x[BATCH * 784], y[BATCH];
  for (int i = 0; i < BATCH * 784; i++)
    x[i] = (float)((i * 37) % 256) / 255.0f;
  for (int i = 0; i < BATCH; i++)
    y[i] = (float)(i % 10);
  printf("{\n  \"benchmark\": \"reference executor, float32, batch %d, one thread\",\n", BATCH);
  int rc = run("mlp", mlp, 4, 100, x, y, false);
  rc |= run("lenet5", lenet5, 8, 30, x, y, true);
  printf("}\n");
  return rc;
}
