/* Phase 1 of a run on the machine, the load (docs/dense-on-machine.md):
 * through the transceiver, the routing tables that changed, then per
 * vertex its data (samples, labels, the sink's record area, the training
 * results, optimizer state and snapshot regions, the update tables) and
 * its data specification, and its kernel. The same code for every
 * transceiver (in-process emulator or a board over UDP). */
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/recovery_switch.h"
#include "machine/cost_table.h"
#include "map/tile_cost.h"
#include "nn/layer_op.h"
#include "run/machine_session.h"

int spd__mrun_alloc_write(mrun_t *r, uint32_t v, const void *data, size_t bytes, uint32_t *addr) {
  const spd_place_loc_t *at = &r->place.loc[v];
  int err = spd_tx_sdram_alloc(r->tx, at->x, at->y, (uint32_t)(bytes ? bytes : 4), addr);
  if (!err && data && bytes)
    err = spd_tx_write_sdram(r->tx, at->x, at->y, *addr, data, bytes);
  return err;
}

static uint32_t input_word(const mrun_t *r, float x, uint32_t *sat) {
  if (r->o.numeric == SPD_NUMERIC_FLOAT) {
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    return u;
  }
  return (uint32_t)(int32_t)spd_fx_from_float16(x, spd__mrun_plan(r)->layers[0].act_frac, sat);
}

/* A source's slice of every sample: bytes as they are (the table converts
 * them on the core) or one 32-bit word per value. */
static int write_samples(mrun_t *r, uint32_t v) {
  const spd_vertex_t *vx = &r->g->vertices[v];
  const spd_fit_data_t *d = r->data;
  uint32_t bpv = d->x_u8 ? 1u : 4u, stride = (vx->rows.n * bpv + 3u) & ~3u;
  uint8_t *buf = spd_calloc(r->ctx, r->n, stride);
  if (!buf)
    return spd_ctx_fail(r->ctx, SPD_ENOMEM, "samples of source %u: %" PRIu64 " bytes", v,
                        (uint64_t)r->n * stride);
  uint32_t sat = 0;
  for (uint32_t s = 0; s < r->n; s++)
    for (uint32_t i = 0; i < vx->rows.n; i++) {
      size_t k = (size_t)s * r->in_size + vx->rows.lo + i;
      if (d->x_u8) {
        buf[(size_t)s * stride + i] = d->x_u8[k];
      } else {
        uint32_t w = input_word(r, d->x[k], &sat);
        memcpy(buf + (size_t)s * stride + i * 4u, &w, 4);
      }
    }
  int err = spd__mrun_alloc_write(r, v, buf, (size_t)r->n * stride, &r->addr[v]);
  spd_free(r->ctx, buf);
  return err;
}

/* Labels in the order the samples run. */
static int write_labels(mrun_t *r, uint32_t v) {
  uint32_t total = spd__mrun_samples(r);
  int32_t *labels = spd_malloc(r->ctx, (size_t)total * 4u);
  if (!labels)
    return spd_ctx_fail(r->ctx, SPD_ENOMEM, "labels of %u samples", total);
  for (uint32_t k = 0; k < total; k++)
    labels[k] = r->data->y.labels[r->order ? r->order[k] : k];
  int err = spd__mrun_alloc_write(r, v, labels, (size_t)total * 4u, &r->addr[v]);
  spd_free(r->ctx, labels);
  return err;
}

/* Where a trained vertex leaves its master weights (and bias). */
uint32_t spd__mrun_result_bytes(const mrun_t *r, const spd_vertex_t *vx) {
  bool bias = r->bias32[vx->layer] != NULL || r->biasf[vx->layer] != NULL;
  if (vx->role == SPD_ROLE_TILE)
    return vx->rows.n * vx->cols.n * 4u;
  if (vx->role == SPD_ROLE_TILE_FULL)
    return vx->rows.n * vx->cols.n * 4u + (bias ? vx->cols.n * 4u : 0u);
  if (vx->role == SPD_ROLE_REDUCER)
    return bias ? vx->cols.n * 4u : 0u;
  if (vx->role == SPD_ROLE_CONV && vx->grid_row == 0) { /* its channel block's owner */
    const spd_conv_tiling_t *t = spd_machine_graph_conv_tiling(r->g, vx->layer);
    return (t->k_h * t->k_w * t->in_c + (bias ? 1u : 0u)) * vx->cols.n * 4u;
  }
  return 0;
}

/* Every epoch's results and slabs go round a ring of four blocks: the host
 * reads each epoch's once its records are in, within a slice of simulated
 * time, long before the machine could finish three more epochs (a seal
 * from a later epoch is reported, not read as this one's), so SDRAM holds
 * four epochs' whatever the run's length. */

uint32_t spd__mrun_result_blocks(const mrun_t *r) {
  return r->epochs < RESULT_RING ? r->epochs : RESULT_RING;
}

/* Bytes from one epoch's results of a vertex to the next's: the results
 * and, with epoch results, their marker word. */
uint32_t spd__mrun_result_stride(const mrun_t *r, const spd_vertex_t *vx) {
  uint32_t bytes = spd__mrun_result_bytes(r, vx);
  return bytes && spd__mrun_epoch_results(r) ? bytes + 4u : bytes;
}

/* The results' region: the final ones or, zeroed so that no marker is set
 * yet, every epoch's. */
static int alloc_results(mrun_t *r, uint32_t v) {
  const spd_vertex_t *vx = &r->g->vertices[v];
  if (!spd__mrun_epoch_results(r))
    return spd__mrun_alloc_write(r, v, NULL, spd__mrun_result_bytes(r, vx), &r->result_addr[v]);
  size_t bytes = (size_t)spd__mrun_result_stride(r, vx) * spd__mrun_result_blocks(r);
  void *zero = spd_calloc(r->ctx, bytes, 1);
  if (!zero)
    return spd_ctx_fail(r->ctx, SPD_ENOMEM, "results of vertex %u: %zu bytes", v, bytes);
  int err = spd__mrun_alloc_write(r, v, zero, bytes, &r->result_addr[v]);
  spd_free(r->ctx, zero);
  return err;
}

static int write_vertex_data(mrun_t *r, uint32_t v) {
  const spd_vertex_t *vx = &r->g->vertices[v];
  int err = 0;
  if (r->cfg && spd__mrun_result_bytes(r, vx))
    err = alloc_results(r, v);
  if (!err && r->state_in)
    err = spd__mrun_alloc_state(r, v);
  uint32_t snap = r->cfg ? spd__mrun_snap_bytes(r, vx) : 0;
  if (!err && snap) { /* two snapshots, their seals zero */
    void *zero = spd_calloc(r->ctx, 2, snap + 4u);
    err = zero ? spd__mrun_alloc_write(r, v, zero, 2u * (snap + 4u), &r->snap_addr[v])
               : spd_ctx_fail(r->ctx, SPD_ENOMEM, "snapshots of vertex %u", v);
    spd_free(r->ctx, zero);
  }
  if (err)
    return err;
  if (vx->role == SPD_ROLE_SOURCE) {
    if (r->order)
      err = spd__mrun_alloc_write(r, v, r->order, (size_t)spd__mrun_samples(r) * 4u, &r->order_addr[v]);
    return err ? err : write_samples(r, v);
  }
  if (vx->role == SPD_ROLE_LOSS && r->data->y.labels)
    return write_labels(r, v);
  if (vx->role == SPD_ROLE_SINK) {
    /* every record on the host; on the machine, the sink's ring of them
     * and the host's read count after it (docs/dataspec.md, "Records") */
    uint32_t total = spd__mrun_samples(r);
    size_t bytes = (size_t)total * SPD_DS_RECORD_WORDS(r->out_size) * 4u + 4u;
    r->sink = v;
    r->ring = spd__sink_ring(total, r->out_size);
    r->records = spd_malloc(r->ctx, bytes);
    if (!r->records)
      return spd_ctx_fail(r->ctx, SPD_ENOMEM, "records: %zu bytes", bytes);
    memset(r->records, 0xFF, bytes); /* SPD__RECORD_EMPTY: nothing recorded yet */
    size_t ring = (size_t)spd__sink_bytes(total, r->out_size);
    r->records[ring / 4u - 1u] = 0; /* the host's count: none read (a ring of all fits) */
    err = spd__mrun_alloc_write(r, v, r->records, ring, &r->addr[v]);
    r->records[ring / 4u - 1u] = SPD__RECORD_EMPTY;
    return err;
  }
  return 0;
}

/* Sources start injecting once the slowest core has read its blob with
 * charged SDRAM reads (sdram_word_cycles 20 per word, docs/cost-model.md)
 * and allocated its state (a resumed core also reads its optimizer slabs):
 * twice that, plus 20 us. */
static uint32_t start_delay_us(mrun_t *r, spd__ds_inputs_t *in) {
  uint64_t worst = 0;
  for (uint32_t v = 0; v < r->g->n_vertices; v++) {
    uint8_t *blob = NULL;
    uint32_t size = 0;
    if (spd__ds_build(r->ctx, in, v, &blob, &size) == 0) {
      uint64_t bytes = size;
      for (int w = 0; r->resume && w < 2; w++)
        bytes += spd__mrun_state_bytes(r, &r->g->vertices[v], w);
      worst = bytes > worst ? bytes : worst;
    }
    spd_free(r->ctx, blob);
  }
  return (uint32_t)(worst / 4u * SPD_COST_SDRAM_WORD_CYCLES * 2u / 200u + 20u);
}

/* The core's provenance region (docs/provenance.md), zeroed: no record
 * until its kernel writes one. */
static int alloc_provenance(mrun_t *r, uint32_t v) {
  spd_ds_prov_t zero = {0};
  return spd__mrun_alloc_write(r, v, &zero, sizeof zero, &r->prov_addr[v]);
}

static int load_vertices(mrun_t *r, spd__ds_inputs_t *in) {
  int err = 0;
  for (uint32_t v = 0; !err && v < r->g->n_vertices; v++)
    err = write_vertex_data(r, v);
  in->start_us = start_delay_us(r, in);
  in->prov_addr = r->prov_addr;
  for (uint32_t v = 0; !err && v < r->g->n_vertices; v++) {
    uint8_t *blob = NULL;
    uint32_t size = 0, addr = 0;
    err = alloc_provenance(r, v);
    if (!err)
      err = spd__ds_build(r->ctx, in, v, &blob, &size);
    if (!err)
      err = spd__mrun_alloc_write(r, v, blob, size, &addr);
    spd_free(r->ctx, blob);
    const spd_place_loc_t *at = &r->place.loc[v];
    if (!err)
      err = spd_tx_load_kernel(r->tx, at->x, at->y, at->core,
                               spd__ds_kernel_name(r->g->vertices[v].role), addr);
  }
  return err;
}

/* Optimizer slabs per weight (spd_ds_config_t.state, fx_update.h). */
uint32_t spd__mrun_optimizer_state(const mrun_t *r) {
  if (!r->cfg)
    return 0;
  const spd_optimizer_config_t *o = &r->cfg->optimizer;
  return spd_tile_mem_state(r->o.numeric == SPD_NUMERIC_FIXED, o->kind == SPD_OPT_ADAM,
                            o->kind == SPD_OPT_RMSPROP, o->momentum != 0.0f, o->centered);
}

/* Every chip holding a layer's tiles or reducers gets that layer's table
 * once; its vertices read their step's entry at each batch boundary. */
static int write_update_tables(mrun_t *r) {
  int err = 0;
  for (int si = 0; !err && si < r->g->n_dense + r->g->n_conv; si++) {
    bool dense = si < r->g->n_dense;
    const spd_conv_tiling_t *ct = dense ? NULL : &r->g->conv[si - r->g->n_dense];
    if (ct && (!ct->n_vertices ||
               !(spd__layer_op(ct->kind)->traits & SPD_OP_WEIGHTS)))
      continue; /* poolings have nothing to update */
    int layer = dense ? r->g->dense[si].layer : ct->layer;
    uint32_t first = dense ? r->g->dense[si].first_vertex : ct->first_vertex;
    uint32_t count = dense ? r->g->dense[si].n_vertices : ct->n_vertices;
    void *table = NULL;
    size_t bytes = 0;
    /* A resumed run's cores count steps from 0: the whole training's table
     * from the checkpoint's step on. */
    uint32_t epochs = r->first_epoch + r->epochs, steps = epochs * spd__mrun_epoch_steps(r);
    if (r->o.numeric == SPD_NUMERIC_FLOAT)
      err = spd__mupdate_float_table(r->ctx, &r->cfg->optimizer, steps, r->base.step, &table,
                                     &bytes);
    else
      err = spd__mupdate_fixed_table(r->ctx, r->cfg, spd__mrun_plan(r), r->model, r->net, layer, r->n,
                                     epochs, steps, r->base.step, &table, &bytes);
    if (err)
      break;
    size_t skip = bytes / steps * (steps - r->steps);
    memmove(table, (uint8_t *)table + skip, bytes - skip);
    bytes -= skip;
    for (uint32_t v = first; !err && v < first + count; v++) {
      for (uint32_t u = first; u < v; u++)
        if (r->place.loc[u].x == r->place.loc[v].x && r->place.loc[u].y == r->place.loc[v].y) {
          r->update_addr[v] = r->update_addr[u];
          break;
        }
      if (!r->update_addr[v])
        err = spd__mrun_alloc_write(r, v, table, bytes, &r->update_addr[v]);
    }
    spd_free(r->ctx, table);
  }
  return err;
}

static void make_table(const mrun_t *r, uint32_t *table) {
  uint32_t sat = 0;
  for (uint32_t b = 0; b < 256; b++)
    table[b] = input_word(r, (float)b * r->data->x_scale, &sat);
}

/* The longest time a vertex spends sending one sample's packets at the
 * loaded paces (its partitions go one after the other). */
static uint64_t paced_cycles(const mrun_t *r, const uint32_t *pace) {
  uint64_t *per = spd_calloc(r->ctx, r->g->n_vertices, sizeof *per), worst = 0;
  for (uint32_t p = 0; per && p < r->g->n_partitions; p++) {
    const spd_partition_t *part = &r->g->partitions[p];
    if (!part->per_batch)
      per[part->source] += (uint64_t)part->values.n * part->words * pace[p];
  }
  for (uint32_t v = 0; per && v < r->g->n_vertices; v++)
    worst = per[v] > worst ? per[v] : worst;
  spd_free(r->ctx, per);
  return worst;
}

/* The receivers' timer for the end-to-end resend (kernels/resend.c): a
 * phase of a slot that made no progress for two ticks asks again. A tick
 * is four times the longest a vertex takes to send one sample's packets at
 * the loaded paces (or its period), and at least 10 ms: a sender's batch
 * update (milliseconds for a large block) can hold a partition half sent,
 * and a receiver that asked then would only add traffic the pacing did
 * not plan for. */
static uint32_t resend_tick_us(const mrun_t *r) {
  uint64_t cycles = r->g->period_cycles > r->paced_cycles ? r->g->period_cycles
                                                         : r->paced_cycles;
  uint64_t us = cycles * 4u / 200u;
  return us < 10000u ? 10000u : us > 1000000u ? 1000000u : (uint32_t)us;
}

/* Recovery snapshots (docs/recovery.md): every trained core copies its
 * masters and slabs to SDRAM after every K-th batch's update, K the least
 * that keeps the copy within 15 % of any core's work over K batches (CPU
 * SDRAM access at SPD_COST_SDRAM_WORD_CYCLES a word; a `split` block
 * reads each word from SDRAM first). The copy is one burst a batch on a
 * pipeline its latency paces, not its cores' load: at K = 1 the MLP
 * trains 0.8 % slower (fixed; float 0.2 %), LeNet-5 0.5 %. */
static uint32_t snap_period(const mrun_t *r) {
  if (!r->cfg || !SPD_RECOVERY)
    return 0;
  uint64_t every = 1;
  for (uint32_t v = 0; v < r->g->n_vertices; v++) {
    const spd_vertex_t *vx = &r->g->vertices[v];
    uint64_t copy = (uint64_t)spd__mrun_snap_bytes(r, vx) / 4u * SPD_COST_SDRAM_WORD_CYCLES *
                    (vx->memory == SPD_TILE_SPLIT ? 2u : 1u);
    uint64_t batch = (uint64_t)r->cfg->batch_size * (vx->cycles_per_sample ? vx->cycles_per_sample : 1u);
    uint64_t k = copy ? (copy * 100u + 15u * batch - 1u) / (15u * batch) : 1u;
    every = k > every ? k : every;
  }
  return every > UINT32_MAX ? UINT32_MAX : (uint32_t)every;
}

int spd__mrun_load(mrun_t *r) {
  /* A recovery goes on on the same machine (its dead core stays dead) and
   * loads only the routing tables that changed. */
  int err = r->tx ? 0 : spd__mrun_open(r);
  if (!err)
    err = spd_map_tables_load_changed(r->tx, &r->routing.tables,
                                      r->has_loaded ? &r->loaded : NULL, &r->tables_loaded);
  if (err)
    return err;
  uint32_t table[256];
  if (r->data->x_u8)
    make_table(r, table);
  spd__ds_inputs_t in = {.g = r->g, .keys = r->routing.keys, .model = r->model,
                         .plan = spd__mrun_plan(r), .numeric = r->o.numeric,
                         .n_samples = spd__mrun_samples(r),
                         .slots = r->o.slots, .w16 = r->w16, .bias32 = r->bias32, .wf = r->wf,
                         .biasf = r->biasf, .input_table = r->data->x_u8 ? table : NULL,
                         .bytes_per_value = r->data->x_u8 ? 1u : 4u, .sdram_addr = r->addr,
                         .labels = r->data->y.labels != NULL, .from_logits = spd__mrun_from_logits(r),
                         .train = r->cfg != NULL, .epoch_samples = r->n,
                         .batch = r->cfg ? (uint32_t)r->cfg->batch_size : 0,
                         .state = spd__mrun_optimizer_state(r), .master = r->master,
                         .update_addr = r->update_addr, .result_addr = r->result_addr,
                         .epoch_results = spd__mrun_epoch_results(r), .result_ring = RESULT_RING,
                         .order_addr = r->order_addr, .seed = r->cfg ? r->cfg->seed : 0,
                         .state_in = (const uint32_t(*)[2])r->state_in,
                         .state_out = (const uint32_t(*)[2])r->state_out,
                         .seq_base = (uint32_t)(r->base.samples + (uint64_t)r->first_epoch * r->n +
                                                r->skip),
                         .seq_offset = r->skip, .snap_addr = r->snap_addr,
                         .snap_every = r->snap_every = snap_period(r)};
  uint32_t *pace = spd_calloc(r->ctx, r->g->n_partitions ? r->g->n_partitions : 1, sizeof *pace);
  if (!pace)
    return spd_ctx_fail(r->ctx, SPD_ENOMEM, "paces of %u partitions", r->g->n_partitions);
  in.pace = pace;
  if (r->o.pace_report &&
      !(r->why = spd_calloc(r->ctx, r->g->n_partitions + 1u, sizeof *r->why)))
    err = spd_ctx_fail(r->ctx, SPD_ENOMEM, "pace report of %u partitions", r->g->n_partitions);
  if (!err)
    err = spd__ds_paces(r->ctx, &in, r->machine, r->routing.trees, r->o.pace_percent, pace,
                        r->why);
  if (!err)
    r->paced_cycles = paced_cycles(r, pace);
  in.resend_tick_us = resend_tick_us(r);
  if (!err && r->cfg)
    err = write_update_tables(r);
  if (!err)
    err = load_vertices(r, &in);
  if (!err && r->o.on_loaded)
    r->o.on_loaded(r->o.on_loaded_ud, r->tx);
  if (r->why)
    r->pace = pace;
  else
    spd_free(r->ctx, pace);
  return err;
}
