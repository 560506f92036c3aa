/* model.summary() as tf.keras 2 (2.9 to 2.12) prints it: the same columns,
 * widths, wrapping and totals, so users can diff the two. Graphs that are a
 * plain chain print like a Sequential model (65 columns, no InputLayer row);
 * graphs with branches or merges print like a functional Model (98 columns,
 * the InputLayer row and a "Connected to" column). */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "spindle/model.h"

typedef struct text {
  spd_ctx_t *ctx;
  char *buf;
  size_t len, cap;
  int failed;
} text_t;

static void text_append(text_t *t, const char *s, size_t n) {
  if (t->failed)
    return;
  if (t->len + n + 1 > t->cap) {
    size_t cap = t->cap ? t->cap : 1024;
    while (cap < t->len + n + 1)
      cap *= 2;
    char *buf = spd_realloc(t->ctx, t->buf, cap);
    if (!buf) {
      t->failed = 1;
      return;
    }
    t->buf = buf;
    t->cap = cap;
  }
  memcpy(t->buf + t->len, s, n);
  t->len += n;
  t->buf[t->len] = '\0';
}

static void text_printf(text_t *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void text_printf(text_t *t, const char *fmt, ...) {
  char line[512];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  text_append(t, line, n < (int)sizeof line ? (size_t)n : sizeof line - 1);
}

static void text_repeat(text_t *t, char c, int n) {
  for (int i = 0; i < n; i++)
    text_append(t, &c, 1);
}

typedef struct layout {
  int line_length;
  int n_cols;
  int positions[4];
} layout_t;

/* Where Keras would wrap a cell: at the cut-off, or just after the first
 * "),", "},", "]," or "'," inside it. */
static size_t cell_cut(const char *cell, size_t cutoff) {
  static const char *const breaks[] = {"),", "},", "],", "',"};
  size_t len = strlen(cell);
  size_t fit = len < cutoff ? len : cutoff;
  size_t best = fit;
  for (int b = 0; b < 4; b++) {
    for (size_t i = 0; i + 1 < fit; i++) {
      if (cell[i] == breaks[b][0] && cell[i + 1] == breaks[b][1]) {
        if (i + 2 < best)
          best = i + 2;
        break;
      }
    }
  }
  return best;
}

/* Keras's print_row: a line starts with a space, every column but the last
 * keeps two spaces before the next, and long cells wrap onto further lines. */
static void print_row(text_t *t, const layout_t *lay, const char *const *fields) {
  const char *left[4];
  for (int c = 0; c < lay->n_cols; c++)
    left[c] = fields[c];
  for (;;) {
    int any = 0;
    for (int c = 0; c < lay->n_cols; c++)
      any |= left[c][0] != '\0';
    if (!any)
      return;
    size_t line_start = t->len;
    for (int c = 0; c < lay->n_cols; c++) {
      int start = c ? lay->positions[c - 1] : 0;
      int space = c != lay->n_cols - 1 ? 2 : 0;
      int cutoff = lay->positions[c] - start - space;
      size_t cut = cell_cut(left[c], cutoff > 0 ? (size_t)cutoff : 0);
      if (c == 0)
        text_append(t, " ", 1);
      text_append(t, left[c], cut);
      text_repeat(t, ' ', space);
      left[c] += cut;
      text_repeat(t, ' ', lay->positions[c] - (int)(t->len - line_start));
    }
    text_append(t, "\n", 1);
  }
}

static bool is_chain(const spd_model_t *m) {
  for (int i = 1; i < m->n_layers; i++) {
    if (m->layers[i].n_inbound != 1)
      return false;
    int consumers = 0;
    for (int j = 1; j < m->n_layers; j++)
      for (int k = 0; k < m->layers[j].n_inbound; k++)
        consumers += m->layers[j].inbound[k] == i - 1;
    if (consumers != 1)
      return false;
  }
  return true;
}

static uint64_t layer_params(const spd_layer_t *layer) {
  uint64_t n = 0;
  for (int p = 0; p < layer->n_params; p++)
    n += spd_shape_size(&layer->params[p].value.shape);
  return n;
}

static void connections(const spd_model_t *m, const spd_layer_t *layer, char *buf, size_t size) {
  size_t used = (size_t)snprintf(buf, size, "[");
  for (int k = 0; k < layer->n_inbound && used < size; k++)
    used += (size_t)snprintf(buf + used, size - used, "%s'%s[0][0]'", k ? ", " : "",
                             m->layers[layer->inbound[k]].config.name);
  if (used < size)
    snprintf(buf + used, size - used, "]");
}

static void print_layer(text_t *t, const layout_t *lay, const spd_model_t *m, int i) {
  const spd_layer_t *layer = &m->layers[i];
  char name[SPD_NAME_MAX + 40], shape[128], count[32], links[SPD_MAX_INBOUND * 80];
  snprintf(name, sizeof name, "%s (%s)", layer->config.name,
           spd_layer_kind_name(layer->config.kind));
  /* An InputLayer's output_shape is a list in Keras: "[(None, 28, 28, 1)]". */
  bool listed = layer->config.kind == SPD_LAYER_INPUT;
  if (listed)
    shape[0] = '[';
  spd_shape_format(&layer->output_shape, shape + listed, sizeof shape - 2);
  if (listed)
    strcat(shape, "]");
  snprintf(count, sizeof count, "%llu", (unsigned long long)layer_params(layer));
  connections(m, layer, links, sizeof links);
  const char *fields[4] = {name, shape, count, links};
  print_row(t, lay, fields);
}

static void with_commas(uint64_t v, char *buf) {
  char digits[32];
  int n = snprintf(digits, sizeof digits, "%llu", (unsigned long long)v);
  int out = 0;
  for (int i = 0; i < n; i++) {
    if (i && (n - i) % 3 == 0)
      buf[out++] = ',';
    buf[out++] = digits[i];
  }
  buf[out] = '\0';
}

static void print_totals(text_t *t, const spd_model_t *m, int line_length) {
  uint64_t total, trainable, non_trainable;
  spd_model_count_params(m, &total, &trainable, &non_trainable);
  char a[40], b[40], c[40];
  with_commas(total, a);
  with_commas(trainable, b);
  with_commas(non_trainable, c);
  text_printf(t, "Total params: %s\nTrainable params: %s\nNon-trainable params: %s\n", a, b, c);
  text_repeat(t, '_', line_length);
  text_append(t, "\n", 1);
}

int spd_model_summary(const spd_model_t *m, char **text_out) {
  if (!m->built)
    return spd_ctx_fail(m->ctx, SPD_ESTATE, "model '%s': summary needs a built model", m->name);
  bool chain = is_chain(m);
  layout_t lay = chain ? (layout_t){65, 3, {29, 55, 65, 0}}
                       : (layout_t){98, 4, {32, 53, 65, 98}};
  static const char *const headers[4] = {"Layer (type)", "Output Shape", "Param #",
                                         "Connected to"};
  text_t t = {.ctx = m->ctx};
  text_printf(&t, "Model: \"%s\"\n", m->name);
  text_repeat(&t, '_', lay.line_length);
  text_append(&t, "\n", 1);
  print_row(&t, &lay, headers);
  text_repeat(&t, '=', lay.line_length);
  text_append(&t, "\n", 1);
  for (int i = chain ? 1 : 0; i < m->n_layers; i++) {
    print_layer(&t, &lay, m, i);
    text_repeat(&t, ' ', lay.line_length);
    text_append(&t, "\n", 1);
  }
  text_repeat(&t, '=', lay.line_length);
  text_append(&t, "\n", 1);
  print_totals(&t, m, lay.line_length);
  if (t.failed) {
    spd_free(m->ctx, t.buf);
    return spd_ctx_fail(m->ctx, SPD_ENOMEM, "model '%s': out of memory writing the summary", m->name);
  }
  *text_out = t.buf;
  return 0;
}
