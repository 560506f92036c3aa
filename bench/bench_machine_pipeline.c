/* Simulated throughput of the MLP's training pipeline on an emulated
 * SpiNN-5 as a function of the samples in flight and the pace margin
 * (spd_machine_run_opts_t.slots, .pace_percent): simulated samples/s,
 * packets dropped and host seconds per setting, as JSON on stdout (and in
 * argv[1] when given). Synthetic bytes stand in for images: the pipeline's
 * timing does not depend on the values. A setting that drops packets is
 * reported as such (its results are not trusted), never hidden. */
#include "bench_support.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spindle/machine_run.h"

enum { SAMPLES = 256, IN = 784, CLASSES = 10 };

static const int32_t units[] = {256, 128, 10};
static const spd_activation_t acts[] = {SPD_ACT_RELU, SPD_ACT_RELU, SPD_ACT_SOFTMAX};

static int build_mlp(spd_ctx_t *ctx, spd_model_t **out) {
  spd_model_t *m;
  int rc = spd_model_new(ctx, "mlp", &m);
  if (rc)
    return rc;
  spd_layer_config_t c;
  spd_layer_config_defaults(&c, SPD_LAYER_INPUT, "input");
  c.input_shape = (spd_shape_t){1, {IN}};
  int last = 0;
  rc = spd_model_add(m, &c, NULL, 0, &last);
  for (int i = 0; rc == 0 && i < 3; i++) {
    char name[16];
    snprintf(name, sizeof name, "dense_%d", i);
    spd_layer_config_defaults(&c, SPD_LAYER_DENSE, name);
    c.units = units[i];
    c.activation = acts[i];
    rc = spd_model_add(m, &c, &last, 1, &last);
  }
  if (rc == 0)
    rc = spd_model_build(m, 7);
  if (rc)
    spd_model_free(m);
  else
    *out = m;
  return rc;
}

typedef struct setting {
  spd_numeric_t numeric;
  uint32_t slots, pace_percent;
} setting_t;

static const setting_t settings[] = {
    {SPD_NUMERIC_FIXED, 2, 125}, {SPD_NUMERIC_FIXED, 4, 125}, {SPD_NUMERIC_FIXED, 8, 125},
    {SPD_NUMERIC_FIXED, 16, 125}, {SPD_NUMERIC_FIXED, 8, 100}, {SPD_NUMERIC_FLOAT, 2, 125},
    {SPD_NUMERIC_FLOAT, 8, 125},
};

int main(int argc, char **argv) {
  uint8_t *x = malloc((size_t)SAMPLES * IN);
  int32_t *labels = malloc(SAMPLES * sizeof *labels);
  if (!x || !labels)
    return 1;
  uint32_t state = 12345;
  for (size_t i = 0; i < (size_t)SAMPLES * IN; i++) {
    state = state * 1103515245u + 12345u;
    x[i] = (uint8_t)(state >> 24);
  }
  for (int i = 0; i < SAMPLES; i++)
    labels[i] = i * 7 % CLASSES;
  spd_fit_data_t data = {.n = SAMPLES, .sample_shape = {1, {IN}}, .x_u8 = x,
                         .x_scale = 1.0f / 255.0f, .y = {.n = SAMPLES, .labels = labels}};
  char json[8192];
  size_t len = (size_t)snprintf(json, sizeof json,
                                "{\"benchmark\": \"machine_pipeline\", \"machine\": \"spinn5\", "
                                "\"model\": \"784-256-128-10\", \"samples\": %d, \"runs\": [\n",
                                SAMPLES);
  size_t n_settings = sizeof settings / sizeof settings[0];
  for (size_t i = 0; i < n_settings; i++) {
    const setting_t *s = &settings[i];
    spd_ctx_t ctx;
    spd_ctx_init(&ctx);
    spd_model_t *m;
    spd_machine_t *mc;
    if (build_mlp(&ctx, &m) || spd_machine_new(&ctx, "spinn5", &mc)) {
      fprintf(stderr, "bench_machine_pipeline: %s\n", spd_ctx_message(&ctx));
      return 1;
    }
    spd_fit_config_t cfg;
    spd_fit_config_defaults(&cfg);
    cfg.batch_size = 32;
    cfg.optimizer.momentum = 0.9f;
    spd_machine_run_opts_t o = {.numeric = s->numeric, .slots = s->slots,
                                .pace_percent = s->pace_percent};
    spd_machine_stats_t st = {0};
    spd_history_t h = {0};
    double cpu0 = spd_bench_cpu_seconds();
    int rc = spd_machine_fit(&ctx, m, mc, &o, &cfg, &data, &h, &st);
    double cpu = spd_bench_cpu_seconds() - cpu0;
    if (rc && rc != SPD_EDROPPED) {
      fprintf(stderr, "bench_machine_pipeline: %s\n", spd_ctx_message(&ctx));
      return 1;
    }
    len += (size_t)snprintf(
        json + len, sizeof json - len,
        "  {\"numeric\": \"%s\", \"slots\": %u, \"pace_percent\": %u, \"cores\": %u, "
        "\"packets_sent\": %llu, \"packets_dropped\": %llu, \"simulated_seconds\": %.6f, "
        "\"simulated_samples_per_second\": %.1f, \"host_cpu_seconds\": %.2f}%s\n",
        s->numeric == SPD_NUMERIC_FIXED ? "fixed" : "float", s->slots, s->pace_percent,
        st.cores_used, (unsigned long long)st.packets_sent,
        (unsigned long long)st.packets_dropped, st.simulated_seconds,
        st.simulated_samples_per_second, cpu, i + 1 < n_settings ? "," : "");
    fprintf(stderr, "%s", strrchr(json, '{') ? strrchr(json, '{') : "");
    spd_history_free(&h);
    spd_machine_free(mc);
    spd_model_free(m);
  }
  len += (size_t)snprintf(json + len, sizeof json - len, "]}\n");
  fputs(json, stdout);
  free(x);
  free(labels);
  return argc > 1 && spd_bench_write_json(argv[1], json) ? 1 : 0;
}
