/* The Dense partitioner maps chains: every layer fed by the layer before
 * it and read by at most one layer. The convolution partitioner maps a
 * graph of window layers joined by Add (docs/dag-on-machine.md) and checks
 * it itself (partition_conv.c, collect). This check names the first layer
 * in model order that the machine cannot map as a join or a fan-out, and
 * why, before any layer's own check would blame something else. */
#include <stdio.h>
#include <string.h>

#include "map/partition_chain.h"
#include "nn/layer_op.h"

/* "'a', 'b'" (at most four names) into @p buf. */
static void name_list(const spd_model_t *m, const int *idx, int n, char *buf, size_t size) {
  size_t at = 0;
  buf[0] = '\0';
  for (int k = 0; k < n && k < 4 && at < size; k++)
    at += (size_t)snprintf(buf + at, size - at, "%s'%s'", k ? ", " : "",
                           m->layers[idx[k]].config.name);
  if (n > 4 && at < size)
    snprintf(buf + at, size - at, ", ...");
}

int spd__partition_chain_check(spd_ctx_t *ctx, const spd_model_t *m) {
  static const char why[] = "the machine maps chains of Dense layers, and graphs of "
                            "convolutions and poolings joined by Add; --backend reference runs it";
  bool windows = false;
  for (int i = 1; i < m->n_layers; i++) {
    spd_op_machine_t r = spd__op_of(&m->layers[i])->machine;
    windows |= r == SPD_OPM_CONV || r == SPD_OPM_POOL;
  }
  for (int i = 0; i < m->n_layers; i++) {
    const spd_layer_t *l = &m->layers[i];
    char names[200];
    bool add = spd__op_of(l)->machine == SPD_OPM_ADD;
    if (l->n_inbound > 1 && windows && !add) {
      name_list(m, l->inbound, l->n_inbound, names, sizeof names);
      return spd_ctx_fail(ctx, SPD_EUNSUPPORTED, "layer '%s' (%s) joins %d inputs (%s): the "
                          "machine joins window layers with Add only (Concatenate is not "
                          "mapped yet, docs/dag-on-machine.md); --backend reference runs it",
                          l->config.name, spd_layer_kind_name(l->config.kind), l->n_inbound,
                          names);
    }
    if (windows)
      continue; /* the convolution partitioner checks the graph */
    if (l->n_inbound > 1) {
      name_list(m, l->inbound, l->n_inbound, names, sizeof names);
      return spd_ctx_fail(ctx, SPD_EUNSUPPORTED, "layer '%s' (%s) joins %d inputs (%s): %s",
                          l->config.name, spd_layer_kind_name(l->config.kind), l->n_inbound,
                          names, why);
    }
    int readers[SPD_MAX_INBOUND * 4], n = 0;
    for (int j = i + 1; j < m->n_layers; j++)
      for (int k = 0; k < m->layers[j].n_inbound; k++)
        if (m->layers[j].inbound[k] == i && n < (int)(sizeof readers / sizeof *readers)) {
          readers[n++] = j;
          break;
        }
    if (n > 1) {
      name_list(m, readers, n, names, sizeof names);
      return spd_ctx_fail(ctx, SPD_EUNSUPPORTED, "layer '%s' (%s): its output is read by %d "
                          "layers (%s): %s", l->config.name, spd_layer_kind_name(l->config.kind),
                          n, names, why);
    }
  }
  return 0;
}
