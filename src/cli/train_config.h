/* The fit configuration of `spindle train`: each setting from its flag,
 * else from the training configuration the model file states (Keras's
 * compile_config), else Keras's default (docs/training.md). */
#ifndef SPINDLE_CLI_TRAIN_CONFIG_H
#define SPINDLE_CLI_TRAIN_CONFIG_H

#include "cli/session.h"

/** Fill @p cfg for the session's options, model and training data
 *  (s->train after any validation split; the run's steps size the default
 *  decay). Prints the problem on stderr.
 *  @return 0, or 2 (options that do not fit together). */
int spd_cli_train_config(const spd_cli_session_t *s, spd_fit_config_t *cfg);

#endif
