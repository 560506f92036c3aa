/* Accuracies as Keras's metrics compute them per sample. */
#include "spindle/metrics.h"

#include <string.h>

static const char *const names[] = {
#define SPD_METRIC_NAME_(id, name) name,
    SPD_METRICS(SPD_METRIC_NAME_)
#undef SPD_METRIC_NAME_
};

const char *spd_metric_name(spd_metric_kind_t kind) {
  return (unsigned)kind < SPD_METRIC_COUNT ? names[kind] : "unknown";
}

int spd_metric_parse(const char *name) {
  for (int k = 0; k < SPD_METRIC_COUNT; k++)
    if (!strcmp(name, names[k]))
      return k;
  return -1;
}

spd_targets_t spd_targets_slice(const spd_targets_t *t, size_t first, size_t count) {
  spd_targets_t s = *t;
  s.n = count;
  if (t->width == 0)
    s.labels = t->labels + first;
  else
    s.values = t->values + first * t->width;
  return s;
}

spd_metric_kind_t spd_metric_resolve_accuracy(size_t output_units, bool sparse_targets,
                                              bool binary_crossentropy) {
  if (binary_crossentropy || output_units == 1)
    return SPD_METRIC_BINARY_ACCURACY;
  return sparse_targets ? SPD_METRIC_SPARSE_CATEGORICAL_ACCURACY
                        : SPD_METRIC_CATEGORICAL_ACCURACY;
}

static size_t argmax(const float *row, size_t n) {
  size_t best = 0;
  for (size_t i = 1; i < n; i++)
    if (row[i] > row[best])
      best = i;
  return best;
}

static double binary_row(const float *pred, const float *target, size_t units) {
  size_t hits = 0;
  for (size_t j = 0; j < units; j++)
    hits += (pred[j] > 0.5f) == (target[j] > 0.5f);
  return (double)hits / (double)units;
}

double spd_metric_correct(spd_metric_kind_t kind, const float *pred, size_t units,
                          const spd_targets_t *t) {
  double correct = 0.0;
  for (size_t i = 0; i < t->n; i++) {
    const float *row = pred + i * units;
    if (t->width == 0) {
      /* Sparse labels: the binary case compares one unit with 0/1 labels. */
      correct += kind == SPD_METRIC_BINARY_ACCURACY
                     ? ((row[0] > 0.5f) == (t->labels[i] != 0))
                     : (argmax(row, units) == (size_t)t->labels[i]);
    } else if (kind == SPD_METRIC_BINARY_ACCURACY) {
      correct += binary_row(row, t->values + i * t->width, units);
    } else {
      correct += argmax(row, units) == argmax(t->values + i * t->width, t->width);
    }
  }
  return correct;
}
