/* Layer configuration helpers shared inside nn/. */
#ifndef SPINDLE_NN_CONFIG_H
#define SPINDLE_NN_CONFIG_H

#include "spindle/model.h"

/** The name Keras would generate for the next layer of @p kind in @p m
 *  ("dense", "dense_1", ...; inputs "input_1"). */
void spd__layer_default_name(const spd_model_t *m, spd_layer_kind_t kind,
                             char name[SPD_NAME_MAX]);

#endif
