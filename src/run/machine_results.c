/* A training run's results on the machine read back (docs/training.md):
 * the trained masters of every vertex into the model (and the fixed net),
 * and whether every vertex has sealed an epoch's block of the ring. */
#include <string.h>

#include "run/machine_session.h"

/* A trained value as the model's float: s7.24 master (fixed) or the bits. */
static float result_value(const mrun_t *r, int32_t w) {
  if (r->o.numeric == SPD_NUMERIC_FIXED)
    return (float)spd_fx_to_float(w, SPD_FX_MASTER_FRAC);
  float f;
  memcpy(&f, &w, sizeof f);
  return f;
}

/* One trained weight into the model's float parameter @p param and, in
 * fixed point, the reference net's master (the run spd_machine_fit_run
 * keeps). */
static void keep_result(mrun_t *r, spd_layer_t *l, int param, size_t e, int32_t w) {
  l->params[param].value.data[e] = result_value(r, w);
  if (r->net) {
    fx_layer_t *fl = &r->net->layers[l - r->model->layers];
    (param == 0 ? fl->kernel.master : fl->bias.master)[e] = w;
  }
}

void spd__mrun_keep_block(mrun_t *r, spd_model_t *m, const spd_vertex_t *vx, int which,
                          const int32_t *w) {
  spd_layer_t *l = &m->layers[vx->layer];
  uint32_t out = (uint32_t)l->config.units, k = 0;
  const spd_conv_tiling_t *ct = spd_machine_graph_conv_tiling(r->g, vx->layer);
  if (which == 1) {
    for (uint32_t j = 0; j < vx->cols.n; j++)
      keep_result(r, l, 1, vx->cols.lo + j, w[k++]);
  } else if (vx->role == SPD_ROLE_CONV) { /* a channel block of k_h k_w C_in x out_c */
    for (size_t e = 0; e < (size_t)ct->k_h * ct->k_w * ct->in_c; e++)
      for (uint32_t j = 0; j < vx->cols.n; j++)
        keep_result(r, l, 0, e * ct->out_c + vx->cols.lo + j, w[k++]);
  } else {
    for (uint32_t i = 0; i < vx->rows.n; i++)
      for (uint32_t j = 0; j < vx->cols.n; j++)
        keep_result(r, l, 0, (size_t)(vx->rows.lo + i) * out + vx->cols.lo + j, w[k++]);
  }
}

/* The trained master weights back into the model's float parameters, as
 * the reference exports them (spd__fx_net_export). */
int spd__mrun_read_results(mrun_t *r, spd_model_t *m, uint32_t epoch) {
  int err = 0;
  for (uint32_t v = 0; !err && v < r->g->n_vertices; v++) {
    const spd_vertex_t *vx = &r->g->vertices[v];
    uint32_t bytes = spd__mrun_result_bytes(r, vx);
    if (!bytes)
      continue;
    int32_t *w = spd_malloc(r->ctx, bytes);
    if (!w)
      return spd_ctx_fail(r->ctx, SPD_ENOMEM, "results of vertex %u", v);
    err = spd_tx_read_sdram(r->tx, r->place.loc[v].x, r->place.loc[v].y,
                            r->result_addr[v] + epoch % RESULT_RING * spd__mrun_result_stride(r, vx), w,
                            bytes);
    uint32_t kernel = vx->role == SPD_ROLE_REDUCER ? 0u
                      : vx->role == SPD_ROLE_CONV
                          ? spd_machine_graph_conv_tiling(r->g, vx->layer)->k_h *
                                spd_machine_graph_conv_tiling(r->g, vx->layer)->k_w *
                                spd_machine_graph_conv_tiling(r->g, vx->layer)->in_c * vx->cols.n
                          : vx->rows.n * vx->cols.n;
    if (!err && vx->role != SPD_ROLE_REDUCER)
      spd__mrun_keep_block(r, m, vx, 0, w);
    if (!err && vx->role != SPD_ROLE_TILE && m->layers[vx->layer].n_params > 1)
      spd__mrun_keep_block(r, m, vx, 1, w + kernel);
    spd_free(r->ctx, w);
  }
  return err;
}

int spd__mrun_epoch_sealed(mrun_t *r, uint32_t epoch, bool *sealed, uint32_t *overwritten) {
  *sealed = true;
  *overwritten = 0;
  for (uint32_t v = 0; *sealed && v < r->g->n_vertices; v++) {
    uint32_t stride = spd__mrun_result_stride(r, &r->g->vertices[v]), mark = 0;
    int err = stride ? spd_tx_read_sdram(r->tx, r->place.loc[v].x, r->place.loc[v].y,
                                         r->result_addr[v] + (epoch % RESULT_RING + 1) * stride -
                                             4u, &mark, 4)
                     : 0;
    if (err)
      return err;
    if (stride && mark > epoch + 1)
      *overwritten = mark;
    *sealed = !*overwritten && (!stride || mark == epoch + 1);
  }
  return 0;
}

/* The machine runs on, in slices, until the epoch's results are whole:
 * the last records of an epoch arrive before its last update is done. */
int spd__mrun_wait_sealed(mrun_t *r, uint32_t epoch) {
  bool sealed = false, over = false;
  for (uint64_t waited = 0; waited <= spd__mrun_timeout_ps(r); waited += SLICE_PS) {
    uint32_t later = 0;
    int err = spd__mrun_epoch_sealed(r, epoch, &sealed, &later);
    if (!err && later)
      return spd_ctx_fail(r->ctx, SPD_ESTATE, "the results of epoch %u were overwritten by "
                          "epoch %u's before the host read them", epoch + 1, later);
    if (err || sealed || over)
      break;
    err = spd_tx_wait(r->tx, SLICE_PS);
    if (err && err != SPD_ETIMEOUT)
      return err;
    spd_ctx_clear(r->ctx);
    over = err == 0; /* every core has exited: one last look */
  }
  return sealed ? 0 : spd_ctx_fail(r->ctx, SPD_ETIMEOUT, "the results of epoch %u never "
                                   "arrived for validation", epoch + 1);
}

