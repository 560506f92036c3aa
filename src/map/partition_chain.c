/* What the partitioners map is a chain: every layer fed by the layer
 * before it, and read by at most one layer. A residual network's join (Add,
 * Concatenate) or a tensor read by several layers (its shortcut) is not
 * partitioned on the machine yet (docs/dag-on-machine.md); this check names
 * the first layer in model order that makes the model a graph rather than a
 * chain, and why, before any layer's own check would blame something else. */
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
  static const char why[] = "the machine maps chains of layers; joins (Add, Concatenate) and "
                            "outputs read by several layers are not partitioned yet (issue 12: "
                            "DAG partitioning); --backend reference runs it";
  for (int i = 0; i < m->n_layers; i++) {
    const spd_layer_t *l = &m->layers[i];
    char names[200];
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
