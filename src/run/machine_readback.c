/* Phase 4 of a run on the machine, the read back (the same code for
 * every transceiver): after the stream, the cores' states (a run that
 * never ended names the core still waiting), the run's counters, the
 * sink's last records and their decoding; in training the trained masters
 * of every vertex into the model (and the fixed net), and whether every
 * vertex has sealed an epoch's block of the ring. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "run/machine_session.h"

/* Every loaded core must have exited cleanly (@p failed_only: no core may
 * have failed); a failure names the core and its diagnostic. */
static int check_cores(mrun_t *r, bool failed_only) {
  for (uint32_t v = 0; v < r->g->n_vertices; v++) {
    const spd_place_loc_t *at = &r->place.loc[v];
    spd_core_status_t st;
    int err = spd_tx_core_status(r->tx, at->x, at->y, at->core, &st);
    if (err)
      return err;
    bool bad = failed_only ? st.state == SPD_CORE_ERROR
                           : st.state != SPD_CORE_EXITED || st.exit_code != 0;
    if (bad) {
      char who[96];
      spd_vertex_describe(r->g, v, who, sizeof who);
      return spd_ctx_fail(r->ctx, SPD_EKERNEL, "%s on core (%u,%u,%u) ended %s with code %d: %s",
                          who, at->x, at->y, at->core, spd_core_state_name(st.state),
                          st.exit_code, st.message);
    }
  }
  return 0;
}

/* A run that never ended: name the first core still waiting and what it
 * received, then stop every core. */
static void explain_timeout(mrun_t *r) {
  spd_run_counters_t rc = {0};
  spd_tx_run_counters(r->tx, &rc);
  for (uint32_t v = 0; v < r->g->n_vertices; v++) {
    const spd_place_loc_t *at = &r->place.loc[v];
    spd_core_status_t st;
    spd_core_counters_t cc;
    if (spd_tx_core_status(r->tx, at->x, at->y, at->core, &st) ||
        spd_tx_core_counters(r->tx, at->x, at->y, at->core, &cc) ||
        st.state == SPD_CORE_EXITED)
      continue;
    char who[96];
    spd_vertex_describe(r->g, v, who, sizeof who);
    spd_ctx_fail(r->ctx, SPD_ETIMEOUT,
                 "the run did not finish: %s on core (%u,%u,%u) is still %s after receiving %"
                 PRIu64 " and sending %" PRIu64 " packets (%" PRIu64 " of %" PRIu64
                 " packets dropped in the run, %" PRIu64 " reinjected, %" PRIu64
                 " copies lost, %" PRIu64 " sent again: wait1 %" PRIu64 ", injected %" PRIu64
                 ", stopped core %" PRIu64 ", queue full %" PRIu64 ", unmatched %" PRIu64 ")",
                 who, at->x, at->y, at->core, spd_core_state_name(st.state),
                 cc.packets_received, cc.packets_sent, rc.packets_dropped, rc.packets_sent,
                 rc.packets_reinjected, rc.packets_lost, rc.packets_resent, rc.dropped_wait1,
                 rc.dropped_injected, rc.dropped_core_stopped, rc.dropped_task_queue_full,
                 rc.dropped_unmatched);
    break;
  }
  spd_tx_stop(r->tx);
}

void spd_provenance_add(spd_provenance_summary_t *s, const spd_core_provenance_t *c) {
  s->cores++;
  s->cores_written += c->written;
  s->cores_final += c->final;
  s->cores_dead += c->state == SPD_CORE_DEAD;
  s->packets_in += c->packets_in;
  s->packets_out += c->packets_out;
  s->callbacks += c->callbacks;
  s->duplicates += c->duplicates;
  s->requests += c->requests;
  s->missing += c->missing;
  s->resent += c->resent;
  s->timer_ticks += c->timer_ticks;
  s->timer_overruns += c->timer_overruns;
  s->samples_done += c->samples_done;
  if (c->written && (s->max_rx_x < 0 || c->max_rx_queue > s->max_rx_queue)) {
    s->max_rx_queue = c->max_rx_queue;
    s->max_rx_x = c->x;
    s->max_rx_y = c->y;
    s->max_rx_p = c->p;
  }
}

/* A region as its kernel left it: nothing (no record), or its counters. */
static void decode_provenance(const spd_ds_prov_t *w, spd_core_provenance_t *c) {
  c->written = w->magic == SPD_DS_PROV_MAGIC;
  if (!c->written)
    return;
  c->final = w->final != 0;
  c->writes = w->writes;
  c->max_rx_queue = w->max_rx_queue;
  c->packets_in = w->packets_in;
  c->packets_out = w->packets_out;
  c->callbacks = w->callbacks;
  c->duplicates = w->duplicates;
  c->requests = w->requests;
  c->missing = w->missing;
  c->resent = w->resent;
  c->timer_ticks = w->timer_ticks;
  c->timer_overruns = w->timer_overruns;
  c->samples_done = w->samples_done;
}

/* Every loaded core's region, read through the transceiver (SCP CMD_READ
 * on a board) once the machine has stopped, as SpiNNFrontEndCommon reads
 * each placement's provenance region: a core that finished wrote it as it
 * exited, one the host stopped (or that died) at its last timer tick. */
int spd__mrun_read_provenance(mrun_t *r, spd_machine_stats_t *stats) {
  uint32_t n = r->g->n_vertices;
  spd_core_provenance_t *cores = spd_calloc(r->ctx, n ? n : 1, sizeof *cores);
  if (!cores)
    return spd_ctx_fail(r->ctx, SPD_ENOMEM, "provenance of %u cores", n);
  int err = 0;
  for (uint32_t v = 0; !err && v < n; v++) {
    const spd_place_loc_t *at = &r->place.loc[v];
    spd_core_provenance_t *c = &cores[v];
    *c = (spd_core_provenance_t){.x = at->x, .y = at->y, .p = at->core, .vertex = v};
    spd_vertex_describe(r->g, v, c->what, sizeof c->what);
    spd_core_status_t st;
    spd_ds_prov_t w;
    err = spd_tx_core_status(r->tx, at->x, at->y, at->core, &st);
    if (!err && r->prov_addr[v])
      err = spd_tx_read_sdram(r->tx, at->x, at->y, r->prov_addr[v], &w, sizeof w);
    if (err)
      break;
    c->state = st.state;
    if (r->prov_addr[v])
      decode_provenance(&w, c);
    spd_provenance_add(&stats->provenance, c);
  }
  if (!err && r->o.on_provenance)
    r->o.on_provenance(r->o.on_provenance_ud, r->tx, r->attempt, cores, n);
  spd_free(r->ctx, cores);
  return err;
}

/* The provenance is read whether the run finished or not; a failure to
 * read it does not hide the run's own. */
static int read_provenance_too(mrun_t *r, int err, spd_machine_stats_t *stats) {
  if (!err)
    return spd__mrun_read_provenance(r, stats);
  char why[512];
  snprintf(why, sizeof why, "%s", spd_ctx_message(r->ctx));
  if (spd__mrun_read_provenance(r, stats))
    spd_ctx_fail(r->ctx, err, "%s", why);
  return err;
}

int spd__mrun_read_back(mrun_t *r, int err, spd_machine_stats_t *stats) {
  if (err == SPD_ETIMEOUT && check_cores(r, true) == 0)
    explain_timeout(r);
  else if (err == SPD_ETIMEOUT)
    spd_tx_stop(r->tx);
  spd_run_counters_t rc;
  if (spd_tx_run_counters(r->tx, &rc) == 0) {
    stats->packets_sent = rc.packets_sent;
    stats->packets_dropped = rc.packets_dropped;
    stats->packets_reinjected = rc.packets_reinjected;
    stats->packets_lost = rc.packets_lost;
    stats->packets_resent = rc.packets_resent;
    stats->simulated_seconds = (double)rc.sim_time_ps * 1e-12;
    stats->energy_joules = rc.energy_joules;
    if (r->why && !err)
      err = spd__pace_report(r->o.pace_report, r->g, &r->place, r->tx, r->pace, r->why, spd__mrun_samples(r),
                             rc.sim_time_ps);
  }
  err = read_provenance_too(r, err, stats);
  if (err)
    return err;
  if ((err = check_cores(r, false)))
    return err;
  if ((err = spd__mrun_read_records(r, true)))
    return err;
  stats->completed = true;
  return 0;
}

static float bits_float(uint32_t u) {
  float f;
  memcpy(&f, &u, sizeof f);
  return f;
}

void spd__mrun_decode(const mrun_t *r, spd_machine_results_t *res) {
  const spd_numeric_plan_t *plan = spd__mrun_plan(r);
  int frac = plan->layers[r->model->n_layers - 1].act_frac;
  uint32_t w = SPD_DS_RECORD_WORDS(r->out_size);
  for (uint32_t s = 0; s < r->n; s++) {
    const uint32_t *rec = r->records + (size_t)s * w;
    for (uint32_t c = 0; res->outputs && c < r->out_size; c++)
      res->outputs[(size_t)s * r->out_size + c] =
          r->o.numeric == SPD_NUMERIC_FIXED ? (float)spd_fx_to_float((int16_t)rec[c], frac)
                                            : bits_float(rec[c]);
    if (res->loss)
      res->loss[s] = spd__record_loss(rec, r->out_size, r->o.numeric == SPD_NUMERIC_FIXED);
    if (res->predicted)
      res->predicted[s] = (int32_t)rec[r->out_size + 2];
  }
}

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

