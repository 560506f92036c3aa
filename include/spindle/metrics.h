/* Training targets and the metrics Keras reports while fitting: the three
 * accuracies (with Keras's choice behind "accuracy") and the epoch means it
 * prints, weighted by batch size. */
#ifndef SPINDLE_METRICS_H
#define SPINDLE_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/** What a model is trained towards, one entry per sample. Either sparse
 *  integer class labels (width 0, @c labels set) or dense float rows of
 *  @c width values (one-hot classes, regression targets, 0/1 for binary).
 *  Borrowed: the arrays belong to the caller. */
typedef struct spd_targets {
  size_t n;               /* samples */
  size_t width;           /* 0: sparse labels */
  const int32_t *labels;  /* n class indices when sparse */
  const float *values;    /* n * width when dense */
} spd_targets_t;

/** Targets of samples [first, first+count) of @p t (no copy). */
spd_targets_t spd_targets_slice(const spd_targets_t *t, size_t first, size_t count);

#define SPD_METRICS(X)                                                        \
  X(BINARY_ACCURACY, "binary_accuracy")                                       \
  X(CATEGORICAL_ACCURACY, "categorical_accuracy")                             \
  X(SPARSE_CATEGORICAL_ACCURACY, "sparse_categorical_accuracy")

typedef enum spd_metric_kind {
#define SPD_METRIC_ENUM_(id, name) SPD_METRIC_##id,
  SPD_METRICS(SPD_METRIC_ENUM_)
#undef SPD_METRIC_ENUM_
  SPD_METRIC_COUNT
} spd_metric_kind_t;

const char *spd_metric_name(spd_metric_kind_t kind);
/** A metric's Keras name; "accuracy"/"acc" are not kinds themselves (see
 *  spd_metric_resolve_accuracy). -1 if unknown. */
int spd_metric_parse(const char *name);

/** Keras 3's choice for metrics=["accuracy"] (trainers/compile_utils.py):
 *  binary when the output has one unit or the loss is binary
 *  crossentropy, sparse categorical when the targets are integer labels,
 *  categorical otherwise. */
spd_metric_kind_t spd_metric_resolve_accuracy(size_t output_units, bool sparse_targets,
                                              bool binary_crossentropy);

/** Number of correct predictions among the @p t->n rows of @p pred
 *  (n x units, row-major). Binary: (pred > 0.5) == (target > 0.5) per
 *  element, averaged over the row's units as Keras does; categorical:
 *  argmax(pred) == argmax(target); sparse: argmax(pred) == label. argmax
 *  takes the first maximum. */
double spd_metric_correct(spd_metric_kind_t kind, const float *pred, size_t units,
                          const spd_targets_t *t);

/** A mean over samples: Keras's Mean metric with sample_weight = batch size,
 *  which gives the per-epoch loss it prints. */
typedef struct spd_mean {
  double total;
  double count;
} spd_mean_t;

static inline void spd_mean_reset(spd_mean_t *m) { m->total = m->count = 0.0; }
/** Add a batch's mean @p value over @p weight samples. */
static inline void spd_mean_add(spd_mean_t *m, double value, double weight) {
  m->total += value * weight;
  m->count += weight;
}
static inline double spd_mean_value(const spd_mean_t *m) {
  return m->count > 0 ? m->total / m->count : 0.0;
}

#endif
