/* Keras's names for layer kinds, activations and initializers, generated
 * from the X-macro tables in model.h so names and enums never drift apart. */
#include <string.h>

#include "spindle/model.h"

static const char *const kind_names[] = {
#define KIND_NAME_(id, keras) keras,
    SPD_LAYER_KINDS(KIND_NAME_)
#undef KIND_NAME_
};

static const char *const activation_names[] = {
#define ACT_NAME_(id, keras) keras,
    SPD_ACTIVATIONS(ACT_NAME_)
#undef ACT_NAME_
};

static const char *const init_class_names[] = {
#define INIT_CLASS_(id, cls, fn) cls,
    SPD_INITIALIZERS(INIT_CLASS_)
#undef INIT_CLASS_
};

static const char *const init_fn_names[] = {
#define INIT_FN_(id, cls, fn) fn,
    SPD_INITIALIZERS(INIT_FN_)
#undef INIT_FN_
};

const char *spd_layer_kind_name(spd_layer_kind_t kind) {
  if ((int)kind < 0 || kind >= SPD_LAYER_KIND_COUNT)
    return "?";
  return kind_names[kind];
}

int spd_layer_kind_parse(const char *keras_class_name) {
  for (int i = 0; i < SPD_LAYER_KIND_COUNT; i++)
    if (!strcmp(keras_class_name, kind_names[i]))
      return i;
  return -1;
}

const char *spd_activation_name(spd_activation_t a) {
  if ((int)a < 0 || a >= SPD_ACT_COUNT)
    return "?";
  return activation_names[a];
}

int spd_activation_parse(const char *keras_name) {
  if (!strcmp(keras_name, "silu")) /* Keras 3's name of swish */
    return SPD_ACT_SWISH;
  for (int i = 0; i < SPD_ACT_COUNT; i++)
    if (!strcmp(keras_name, activation_names[i]))
      return i;
  return -1;
}

const char *spd_initializer_name(spd_initializer_t init) {
  if ((int)init < 0 || init >= SPD_INIT_COUNT)
    return "?";
  return init_fn_names[init];
}

int spd_initializer_parse(const char *name) {
  for (int i = 0; i < SPD_INIT_COUNT; i++)
    if (!strcmp(name, init_class_names[i]) || !strcmp(name, init_fn_names[i]))
      return i;
  return -1;
}
