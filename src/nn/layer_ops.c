/* The layer op table: every kind's descriptor (src/nn/layers/) by kind. */
#include <string.h>

#include "nn/layer_op.h"

static const spd_layer_op_t *const table[SPD_LAYER_KIND_COUNT] = {
#define SPD_OP_ENTRY_(id, keras) [SPD_LAYER_##id] = &spd__op_##id,
    SPD_LAYER_KINDS(SPD_OP_ENTRY_)
#undef SPD_OP_ENTRY_
};

const spd_layer_op_t *spd__layer_op(spd_layer_kind_t kind) {
  if ((int)kind < 0 || kind >= SPD_LAYER_KIND_COUNT)
    return NULL;
  return table[kind];
}

int spd__layer_op_find(const char *cls) {
  for (int k = 0; k < SPD_LAYER_KIND_COUNT; k++) {
    if (!strcmp(cls, table[k]->keras))
      return k;
    for (const char *const *a = table[k]->also; a && *a; a++)
      if (!strcmp(cls, *a))
        return k;
  }
  return -1;
}

