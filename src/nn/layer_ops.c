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

/* Is layer @p j read by layer @p i only? */
static bool sole_reader(const spd_model_t *m, int j, int i) {
  if (m->output == j)
    return false;
  for (int k = j + 1; k < m->n_layers; k++)
    for (int e = 0; e < m->layers[k].n_inbound; e++)
      if (m->layers[k].inbound[e] == j && k != i)
        return false;
  return true;
}

int spd__layer_fold_target(const spd_model_t *m, int i) {
  if (i <= 0 || i >= m->n_layers)
    return -1;
  const spd_layer_t *l = &m->layers[i];
  if (spd__op_of(l)->machine != SPD_OPM_FOLD_ACT || l->n_inbound != 1)
    return -1;
  int j = l->inbound[0];
  const spd_layer_t *p = &m->layers[j];
  if (!spd__op_has(p, SPD_OP_WEIGHTS) || p->config.activation != SPD_ACT_LINEAR ||
      !sole_reader(m, j, i))
    return -1;
  return j;
}

int spd__layer_add_folded_act(const spd_model_t *m, int add) {
  if (add <= 0 || add >= m->n_layers || spd__op_of(&m->layers[add])->machine != SPD_OPM_ADD)
    return -1;
  int reader = -1;
  for (int k = add + 1; k < m->n_layers; k++)
    for (int e = 0; e < m->layers[k].n_inbound; e++)
      if (m->layers[k].inbound[e] == add) {
        if (reader >= 0)
          return -1;
        reader = k;
        break;
      }
  return reader >= 0 && spd__op_of(&m->layers[reader])->machine == SPD_OPM_FOLD_ACT ? reader
                                                                                    : -1;
}

int spd__layer_folded_into(const spd_model_t *m, int j) {
  for (int i = j + 1; i < m->n_layers; i++)
    if (spd__layer_fold_target(m, i) == j)
      return i;
  return -1;
}
