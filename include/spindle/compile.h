/* A model's training configuration: what Keras's `model.compile()` was given
 * (optimizer with its learning-rate schedule, loss, metrics), as Keras model
 * files carry it (Keras 3's "compile_config", tf.keras 2's "training_config";
 * docs/formats.md). io/ reads and writes it with the model; `spindle train`
 * trains with it unless its flags say otherwise (docs/training.md). */
#ifndef SPINDLE_COMPILE_H
#define SPINDLE_COMPILE_H

#include <stdbool.h>

#include "spindle/model.h"
#include "spindle/optim.h"
#include "spindle/reference.h"

#define SPD_COMPILE_MAX_METRICS 8

typedef struct spd_compile_config {
  bool has_optimizer;                /* the file states an optimizer */
  spd_optimizer_config_t optimizer;
  bool has_loss;                     /* the file states a loss */
  spd_loss_kind_t loss;
  bool from_logits;                  /* the loss takes raw scores */
  int n_metrics;                     /* metric names as the file gives them */
  char metrics[SPD_COMPILE_MAX_METRICS][SPD_NAME_MAX];
} spd_compile_config_t;

/** Attach a copy of @p cfg to @p m as its training configuration
 *  (m->compile, owned by the model and freed with it), replacing any; NULL
 *  removes it. @return 0, SPD_ENOMEM (the model keeps its old one). */
int spd_model_set_compile(spd_model_t *m, const spd_compile_config_t *cfg);

#endif
