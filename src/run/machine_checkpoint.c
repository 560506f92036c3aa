/* Checkpoints of a training run on the machine (docs/training.md
 * "Checkpoints on the machine"): the trained blocks' optimizer state in
 * SDRAM, written in for a resumed run and read back after each epoch, and
 * the checkpoint written from it. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "run/machine_session.h"

/* ---- Optimizer state of the trained blocks (checkpoints) ---- */


/* Elements of a vertex's kernel (@p which 0) or bias (1) block: the ones
 * it trains and keeps the optimizer slabs of (0: none). */
static uint32_t block_size(const mrun_t *r, const spd_vertex_t *vx, int which) {
  bool owner = vx->role == SPD_ROLE_CONV && vx->grid_row == 0;
  if (which == 0) {
    if (vx->role == SPD_ROLE_TILE || vx->role == SPD_ROLE_TILE_FULL)
      return vx->rows.n * vx->cols.n;
    const spd_conv_tiling_t *t = owner ? spd_machine_graph_conv_tiling(r->g, vx->layer) : NULL;
    return t ? (uint32_t)(t->k_h * t->k_w * t->in_c) * vx->cols.n : 0;
  }
  bool bias = r->bias32[vx->layer] != NULL || r->biasf[vx->layer] != NULL;
  return bias && (vx->role == SPD_ROLE_TILE_FULL || vx->role == SPD_ROLE_REDUCER || owner)
             ? vx->cols.n
             : 0;
}

/* The layer's tensor element of element @p k of a vertex's block. */
static size_t block_element(const mrun_t *r, const spd_vertex_t *vx, int which, uint32_t k) {
  if (which == 1)
    return vx->cols.lo + k;
  uint32_t i = k / vx->cols.n, j = k % vx->cols.n;
  if (vx->role == SPD_ROLE_CONV)
    return (size_t)i * spd_machine_graph_conv_tiling(r->g, vx->layer)->out_c + vx->cols.lo + j;
  return (size_t)(vx->rows.lo + i) * (uint32_t)r->model->layers[vx->layer].config.units +
         vx->cols.lo + j;
}

/* Slab @p k of layer @p layer's kernel or bias on the host, the whole
 * tensor (fixed: the net's a, b, c; float: m, v), and its element size;
 * NULL when the optimizer has no such slab. */
static void *host_slab(const mrun_t *r, int layer, int which, int k, uint32_t *size) {
  uint32_t st = spd__mrun_optimizer_state(r);
  if (r->o.numeric == SPD_NUMERIC_FIXED) {
    const fx_layer_t *fl = &r->net->layers[layer];
    const fx_param_t *p = which ? &fl->bias : &fl->kernel;
    *size = k == 1 ? 8u : 4u;
    return (st & (1u << k)) ? (k == 0 ? (void *)p->a : k == 1 ? (void *)p->b : (void *)p->c)
                            : NULL;
  }
  *size = 4u;
  return k < 2 && (st & (1u << k)) ? r->fslab[layer * 2 + which][k] : NULL;
}

uint32_t spd__mrun_state_bytes(const mrun_t *r, const spd_vertex_t *vx, int which) {
  uint32_t n = block_size(r, vx, which), bytes = 0, size;
  for (int k = 0; n && k < 3; k++)
    if (host_slab(r, vx->layer, which, k, &size))
      bytes += n * size;
  return bytes;
}

/* A block's slabs between the host's tensors and @p buf, the kernel's
 * layout (spd_ds_config_t.state_in): into @p buf when @p to_block. */
static void move_state(mrun_t *r, const spd_vertex_t *vx, int which, uint8_t *buf,
                       bool to_block) {
  uint32_t n = block_size(r, vx, which), size;
  size_t at = 0;
  for (int k = 0; n && k < 3; k++) {
    uint8_t *t = host_slab(r, vx->layer, which, k, &size);
    for (uint32_t e = 0; t && e < n; e++) {
      uint8_t *h = t + block_element(r, vx, which, e) * size, *b = buf + at + (size_t)e * size;
      memcpy(to_block ? b : h, to_block ? h : b, size);
    }
    at += t ? (size_t)n * size : 0;
  }
}

/* Resumed: a vertex's slabs to start from; and room for the ones it
 * leaves with every epoch's results (checkpoints and recovery read them). */
int spd__mrun_alloc_state(mrun_t *r, uint32_t v) {
  const spd_vertex_t *vx = &r->g->vertices[v];
  int err = 0;
  for (int w = 0; !err && w < 2; w++) {
    uint32_t bytes = spd__mrun_state_bytes(r, vx, w);
    if (!bytes)
      continue;
    if (r->resume) {
      uint8_t *buf = spd_malloc(r->ctx, bytes);
      if (!buf)
        return spd_ctx_fail(r->ctx, SPD_ENOMEM, "optimizer state of vertex %u", v);
      move_state(r, vx, w, buf, true);
      err = spd__mrun_alloc_write(r, v, buf, bytes, &r->state_in[v][w]);
      spd_free(r->ctx, buf);
    }
    if (!err)
      err = spd__mrun_alloc_write(r, v, NULL, (size_t)bytes * spd__mrun_result_blocks(r), &r->state_out[v][w]);
  }
  return err;
}

/* The slabs every vertex left with the results of (local) epoch @p epoch
 * into the host's tensors. */
static int read_state(mrun_t *r, uint32_t epoch) {
  int err = 0;
  for (uint32_t v = 0; !err && v < r->g->n_vertices; v++)
    for (int w = 0; !err && w < 2; w++) {
      const spd_vertex_t *vx = &r->g->vertices[v];
      uint32_t bytes = spd__mrun_state_bytes(r, vx, w);
      if (!bytes || !r->state_out[v][w])
        continue;
      uint8_t *buf = spd_malloc(r->ctx, bytes);
      if (!buf)
        return spd_ctx_fail(r->ctx, SPD_ENOMEM, "optimizer state of vertex %u", v);
      err = spd_tx_read_sdram(r->tx, r->place.loc[v].x, r->place.loc[v].y,
                              r->state_out[v][w] + epoch % RESULT_RING * bytes, buf, bytes);
      if (!err)
        move_state(r, vx, w, buf, false);
      spd_free(r->ctx, buf);
    }
  return err;
}

/* ---- Checkpoints (docs/training.md "Checkpoints on the machine") ---- */

/* Float: the optimizer's step, its m and v slabs of every trained tensor
 * (tensor t: the t-th parameter in model order) and the Dropout layers'
 * sample counters, as spd_fit's payload names them. */
static void float_put_state(mrun_t *r, int64_t step, uint64_t samples, spd__blob_t *b) {
  spd__blob_put(b, "optimizer.iterations", &step, sizeof step, 1);
  int t = 0;
  for (int l = 0; l < r->model->n_layers; l++)
    for (int w = 0; w < r->model->layers[l].n_params && w < 2; w++, t++)
      for (int k = 0; k < 2; k++) {
        char name[64];
        snprintf(name, sizeof name, "optimizer.tensor%d.slot%d", t, k);
        if (r->fslab[l * 2 + w][k])
          spd__blob_put(b, name, r->fslab[l * 2 + w][k], sizeof(float),
                        spd_shape_size(&r->model->layers[l].params[w].value.shape));
      }
  for (int l = 0; l < r->model->n_layers; l++) {
    uint64_t seen = spd__op_of(&r->model->layers[l])->machine == SPD_OPM_MASK ? samples : 0;
    spd__blob_put(b, "layer.samples_seen", &seen, sizeof seen, 1);
  }
}

int spd__mrun_float_get_state(mrun_t *r, spd__blob_reader_t *in) {
  int64_t step = 0;
  int err = spd__blob_get(in, "optimizer.iterations", &step, sizeof step, 1);
  int t = 0;
  for (int l = 0; !err && l < r->model->n_layers; l++)
    for (int w = 0; !err && w < r->model->layers[l].n_params && w < 2; w++, t++)
      for (int k = 0; !err && k < 2; k++) {
        char name[64];
        snprintf(name, sizeof name, "optimizer.tensor%d.slot%d", t, k);
        if (r->fslab[l * 2 + w][k])
          err = spd__blob_get(in, name, r->fslab[l * 2 + w][k], sizeof(float),
                              spd_shape_size(&r->model->layers[l].params[w].value.shape));
      }
  for (int l = 0; !err && l < r->model->n_layers; l++) {
    uint64_t seen;
    err = spd__blob_get(in, "layer.samples_seen", &seen, sizeof seen, 1);
  }
  return err ? err : spd__mrun_state_read_whole(r->ctx, in);
}

/* Float: host room for every trained tensor's m and v (zero). */
int spd__mrun_float_slabs(mrun_t *r) {
  uint32_t st = spd__mrun_optimizer_state(r);
  r->fslab = spd_calloc(r->ctx, (size_t)r->model->n_layers * 2, sizeof *r->fslab);
  if (!r->fslab)
    return spd_ctx_fail(r->ctx, SPD_ENOMEM, "optimizer state");
  for (int l = 0; l < r->model->n_layers; l++) {
    const spd_layer_t *layer = &r->model->layers[l];
    if (!spd__op_has(layer, SPD_OP_WEIGHTS))
      continue;
    for (int w = 0; w < layer->n_params && w < 2; w++)
      for (int k = 0; k < 2; k++) {
        size_t n = spd_shape_size(&layer->params[w].value.shape);
        if ((st & (1u << k)) && !(r->fslab[l * 2 + w][k] = spd_calloc(r->ctx, n, sizeof(float))))
          return spd_ctx_fail(r->ctx, SPD_ENOMEM, "optimizer state of %zu weights", n);
      }
  }
  return 0;
}

/* The state payload after optimizer step @p step, @p samples trained,
 * from the net (fixed) or the host's slabs (float), into @p state. */
static int put_state(mrun_t *r, int64_t step, uint64_t samples, spd__blob_t *state) {
  if (r->net) {
    for (int l = 0; l < r->model->n_layers; l++)
      if (spd__op_of(&r->model->layers[l])->machine == SPD_OPM_MASK)
        r->net->layers[l].samples_seen = samples;
    spd__blob_put(state, "fixed.step", &step, sizeof step, 1);
    spd__fx_net_put_state(r->net, state);
  } else {
    float_put_state(r, step, samples, state);
  }
  return state->err;
}

/* The run's state after its (local) epoch @p epoch, whose results are
 * sealed: the weights into the model (and the fixed net), the optimizer
 * slabs into the host's tensors, and the state payload a checkpoint or a
 * recovery goes on from into @p state (initialised here). */
int spd__mrun_epoch_state(mrun_t *r, uint32_t epoch, spd__blob_t *state) {
  uint32_t global = epoch + r->first_epoch;
  int64_t step = r->base.step + (int64_t)(global + 1) * spd__mrun_epoch_steps(r);
  uint64_t samples = r->base.samples + (uint64_t)(global + 1) * r->n;
  int err = spd__mrun_read_results(r, r->target, epoch);
  if (!err)
    err = read_state(r, epoch);
  spd__blob_init(state, r->ctx);
  if (err)
    return err;
  return put_state(r, step, samples, state);
}

uint32_t spd__mrun_snap_bytes(const mrun_t *r, const spd_vertex_t *vx) {
  uint32_t bytes = 0;
  for (int w = 0; w < 2; w++) {
    uint32_t n = block_size(r, vx, w);
    bytes += n ? n * 4u + spd__mrun_state_bytes(r, vx, w) : 0u;
  }
  return bytes;
}

/* The state after @p steps local steps from vertex @p v's snapshot: its
 * blocks' masters into the model and net, their slabs into the host's
 * tensors. */
static int read_snapshot(mrun_t *r, uint32_t v, uint32_t steps) {
  const spd_vertex_t *vx = &r->g->vertices[v];
  uint32_t bytes = spd__mrun_snap_bytes(r, vx);
  uint8_t *buf = spd_malloc(r->ctx, bytes ? bytes : 1u);
  if (!buf)
    return spd_ctx_fail(r->ctx, SPD_ENOMEM, "snapshot of vertex %u", v);
  int err = spd_tx_read_sdram(r->tx, r->place.loc[v].x, r->place.loc[v].y,
                              r->snap_addr[v] + steps / r->snap_every % 2u * (bytes + 4u), buf,
                              bytes);
  size_t at = 0;
  for (int w = 0; !err && w < 2; w++) {
    uint32_t n = block_size(r, vx, w);
    if (!n)
      continue;
    int32_t *master = spd_malloc(r->ctx, (size_t)n * 4u);
    if (!master) {
      err = spd_ctx_fail(r->ctx, SPD_ENOMEM, "snapshot of vertex %u", v);
      break;
    }
    memcpy(master, buf + at, (size_t)n * 4u);
    spd__mrun_keep_block(r, r->target, vx, w, master);
    spd_free(r->ctx, master);
    move_state(r, vx, w, buf + at + (size_t)n * 4u, false);
    at += (size_t)n * 4u + spd__mrun_state_bytes(r, vx, w);
  }
  spd_free(r->ctx, buf);
  return err;
}

int spd__mrun_snapshot_state(mrun_t *r, uint32_t steps, spd__blob_t *state) {
  uint32_t spe = spd__mrun_epoch_steps(r);
  uint64_t global = (uint64_t)r->first_epoch * spe + r->skip / r->cfg->batch_size + steps;
  int64_t step = r->base.step + (int64_t)global;
  uint64_t samples = r->base.samples + global / spe * r->n + global % spe * r->cfg->batch_size;
  int err = 0;
  for (uint32_t v = 0; !err && v < r->g->n_vertices; v++)
    if (r->snap_addr[v])
      err = read_snapshot(r, v, steps);
  spd__blob_init(state, r->ctx);
  if (err)
    return err;
  return put_state(r, step, samples, state);
}

/* After epoch @p epoch (the training's) with its logs complete: its
 * weights and optimizer slabs read from the cores' results, written as a
 * checkpoint in the reference's format with backend "machine". */
int spd__mrun_checkpoint_epoch(void *ud, uint32_t epoch) {
  mrun_t *r = ud;
  uint32_t local = epoch - r->first_epoch;
  int err = spd__mrun_wait_sealed(r, local);
  if (err)
    return err;
  spd__blob_t state;
  err = spd__mrun_epoch_state(r, local, &state);
  if (!err) {
    spd__ckpt_run_t run = {.backend = "machine", .numeric = r->o.numeric, .model = r->target,
                           .cfg = r->cfg, .train = r->data, .history = r->logs,
                           .base = r->base,
                           .pos = {.epoch = (int)epoch + 1,
                                   .step = r->base.step +
                                           (int64_t)(epoch + 1) * spd__mrun_epoch_steps(r)}};
    err = spd__checkpoint_save(&run, &state);
  }
  spd__blob_free(&state);
  return err;
}

/* --resume: the checkpoint's weights into the model, its history into
 * @p logs and where it stands into the run; the machine goes on from
 * epoch boundaries only. */
int spd__mrun_machine_resume(mrun_t *r, spd_numeric_t numeric, spd__blob_reader_t *state) {
  spd__ckpt_run_t run = {.backend = "machine", .numeric = numeric, .model = r->target,
                         .cfg = r->cfg, .train = r->data, .history = r->logs};
  int err = spd__checkpoint_resume(&run, state);
  if (err)
    return err;
  if (run.pos.epoch >= r->cfg->epochs)
    return spd_ctx_fail(r->ctx, SPD_EINVAL, "the checkpoint has all %d epochs already; ask "
                        "for more epochs than that to go on", run.pos.epoch);
  r->first_epoch = (uint32_t)run.pos.epoch;
  r->base = run.base;
  /* Inside an epoch (a checkpoint the reference wrote at a batch
   * boundary): the run starts at that batch, and the epoch's running sums
   * go on from the checkpoint's means. */
  r->skip = (uint32_t)(run.pos.batch * r->cfg->batch_size);
  r->progress.seed_loss = run.pos.loss.total;
  r->progress.seed_hits = (uint32_t)(run.pos.accuracy.total + 0.5);
  r->resume = state;
  return 0;
}

