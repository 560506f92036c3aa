/* make bench-calibrate, its host half (docs/calibration.md): train a model
 * on the emulated machine and record, for the first core of every kernel,
 * what the emulator ran on it and what it charged: the chip's SDRAM as the
 * kernel's main found it (its data specification, weights, samples, update
 * tables), then every callback in order with its arguments and cycles.
 * scripts/calibrate.py plays the same sequence into the kernel's ARM968E-S
 * image under qemu-arm and weighs its instructions.
 *
 *   calibrate_capture OUT_DIR MODEL.json fixed|float SAMPLES [MAX_EVENTS]
 *
 * writes OUT_DIR/<kernel>_<numeric>/{meta,sdram,events}:
 *   meta    little-endian u32: params_addr, sdram_bytes, x, y, p, events
 *   sdram   the chip's SDRAM from 0x60000000, sdram_bytes of it
 *   events  per callback: u32 kind (spd_emu_ran_kind_t), i32 event,
 *           u32 a0, u32 a1, u64 cycles charged */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "emu/emu_internal.h"
#include "spindle/keras.h"
#include "spindle/machine_run.h"

enum { MAX_WATCHED = 16 };

typedef struct watched {
  char name[48];
  int x, y, p;
  FILE *events;
  uint32_t n, params, sdram_bytes;
} watched_t;

typedef struct capture {
  const char *dir, *numeric;
  spd_emu_t *emu;
  watched_t w[MAX_WATCHED];
  int n;
  uint32_t max_events;
  int failed;
} capture_t;

static FILE *open_in(capture_t *c, const char *kernel, const char *file, const char *mode) {
  char path[1024];
  snprintf(path, sizeof path, "%s/%s_%s", c->dir, kernel, c->numeric);
  if (mkdir(path, 0777) && errno != EEXIST)
    return NULL;
  snprintf(path, sizeof path, "%s/%s_%s/%s", c->dir, kernel, c->numeric, file);
  return fopen(path, mode);
}

/* The chip's SDRAM, as far as the host and the kernels have allocated it. */
static int dump_sdram(capture_t *c, watched_t *w) {
  for (uint32_t i = 0; i < c->emu->n_chips; i++) {
    const spd_emu_chip_t *chip = &c->emu->chips[i];
    if (chip->chip->x != w->x || chip->chip->y != w->y)
      continue;
    w->sdram_bytes = chip->sdram.used;
    uint8_t *buf = malloc(w->sdram_bytes ? w->sdram_bytes : 1);
    FILE *f = open_in(c, w->name, "sdram", "wb");
    int bad = !buf || !f;
    if (!bad)
      spd_sdram_read(&chip->sdram, 0, buf, w->sdram_bytes);
    bad |= !bad && fwrite(buf, 1, w->sdram_bytes, f) != w->sdram_bytes;
    if (f)
      bad |= fclose(f) != 0;
    free(buf);
    return bad ? -1 : 0;
  }
  return -1;
}

static watched_t *find(capture_t *c, const spd_emu_ran_t *ran) {
  for (int i = 0; i < c->n; i++)
    if (c->w[i].x == ran->x && c->w[i].y == ran->y && c->w[i].p == ran->p)
      return &c->w[i];
  return NULL;
}

static void observe(void *ud, const spd_emu_ran_t *ran) {
  capture_t *c = ud;
  watched_t *w = find(c, ran);
  if (ran->kind == SPD_EMU_RAN_MAIN) {
    if (w)
      return; /* reloaded: keep the first run */
    for (int i = 0; i < c->n; i++)
      if (!strcmp(c->w[i].name, ran->kernel))
        return; /* one core per kernel */
    if (c->n == MAX_WATCHED)
      return;
    w = &c->w[c->n++];
    *w = (watched_t){.x = ran->x, .y = ran->y, .p = ran->p, .params = ran->a0};
    snprintf(w->name, sizeof w->name, "%s", ran->kernel);
    w->events = open_in(c, w->name, "events", "wb");
    if (!w->events || dump_sdram(c, w))
      c->failed = 1;
  }
  if (!w || !w->events || w->n >= c->max_events)
    return;
  uint32_t rec[6] = {(uint32_t)ran->kind, (uint32_t)ran->event, ran->a0, ran->a1,
                     (uint32_t)ran->cycles, (uint32_t)(ran->cycles >> 32)};
  if (fwrite(rec, sizeof rec, 1, w->events) != 1)
    c->failed = 1;
  w->n++;
}

static void on_loaded(void *ud, spd_transceiver_t *tx) {
  capture_t *c = ud;
  c->emu = spd_transceiver_emulator(tx);
  if (c->emu)
    spd_emu_set_observer(c->emu, observe, c);
}

static int finish(capture_t *c) {
  int bad = c->failed;
  for (int i = 0; i < c->n; i++) {
    watched_t *w = &c->w[i];
    if (w->events)
      bad |= fclose(w->events) != 0;
    FILE *f = open_in(c, w->name, "meta", "wb");
    uint32_t meta[6] = {w->params, w->sdram_bytes, (uint32_t)w->x, (uint32_t)w->y,
                        (uint32_t)w->p, w->n};
    bad |= !f || fwrite(meta, sizeof meta, 1, f) != 1;
    if (f)
      bad |= fclose(f) != 0;
    printf("%s_%s: core (%d,%d,%d), %u callbacks, %u bytes of SDRAM\n", w->name, c->numeric,
           w->x, w->y, w->p, w->n, w->sdram_bytes);
  }
  return bad;
}

int main(int argc, char **argv) {
  if (argc < 5 || (strcmp(argv[3], "fixed") && strcmp(argv[3], "float")) || atoi(argv[4]) < 1) {
    fprintf(stderr, "usage: calibrate_capture OUT_DIR MODEL.json fixed|float SAMPLES "
                    "[MAX_EVENTS]\n");
    return 2;
  }
  capture_t c = {.dir = argv[1], .numeric = argv[3],
                 .max_events = argc > 5 ? (uint32_t)atoi(argv[5]) : 4000u};
  if (mkdir(c.dir, 0777) && errno != EEXIST) {
    fprintf(stderr, "calibrate_capture: cannot make %s: %s\n", c.dir, strerror(errno));
    return 1;
  }
  spd_ctx_t ctx;
  spd_ctx_init(&ctx);
  spd_model_t *m = NULL;
  spd_machine_t *mc = NULL;
  if (spd_keras_json_load(&ctx, argv[2], 7, &m) || spd_machine_new(&ctx, "spinn5", &mc)) {
    fprintf(stderr, "calibrate_capture: %s\n", spd_ctx_message(&ctx));
    return 1;
  }
  size_t n = (size_t)atoi(argv[4]), in = 1;
  spd_shape_t shape = m->layers[0].output_shape;
  for (int d = 0; d < shape.rank; d++)
    in *= (size_t)shape.dims[d];
  uint8_t *x = malloc(n * in);
  int32_t *labels = malloc(n * sizeof *labels);
  if (!x || !labels)
    return 1;
  uint32_t state = 12345;
  for (size_t i = 0; i < n * in; i++) {
    state = state * 1103515245u + 12345u;
    x[i] = (uint8_t)(state >> 24);
  }
  for (size_t i = 0; i < n; i++)
    labels[i] = (int32_t)(i * 7 % 10);
  spd_fit_data_t data = {.n = n, .sample_shape = shape, .x_u8 = x, .x_scale = 1.0f / 255.0f,
                         .y = {.n = n, .labels = labels}};
  spd_fit_config_t cfg;
  spd_fit_config_defaults(&cfg);
  cfg.batch_size = 4;
  cfg.optimizer.momentum = 0.9f;
  spd_machine_run_opts_t o = {
      .numeric = strcmp(c.numeric, "fixed") ? SPD_NUMERIC_FLOAT : SPD_NUMERIC_FIXED,
      .on_loaded = on_loaded, .on_loaded_ud = &c};
  spd_history_t h = {0};
  spd_machine_stats_t st = {0};
  int rc = spd_machine_fit(&ctx, m, mc, &o, &cfg, &data, &h, &st);
  if (rc) {
    fprintf(stderr, "calibrate_capture: %s\n", spd_ctx_message(&ctx));
    return 1;
  }
  int bad = finish(&c);
  spd_history_free(&h);
  spd_machine_free(mc);
  spd_model_free(m);
  free(x);
  free(labels);
  if (bad)
    fprintf(stderr, "calibrate_capture: could not write the capture under %s\n", c.dir);
  return bad ? 1 : 0;
}
