/* Going on without a dead core (docs/recovery.md). The watch found a core
 * dead (or the run stalled on packets lost for good, which asking again
 * could not bring back) and stopped the machine; the run goes on on the
 * same machine, whose dead core stays dead:
 *  - from the last epoch whose results and optimizer slabs every trained
 *    core sealed in its SDRAM (SPD_DS_EPOCH_RESULTS, the ring the
 *    checkpoints read), as a run resumed from that epoch's checkpoint
 *    would, or from its own start when none is sealed yet; inference
 *    starts again;
 *  - with every vertex where it was except the dead core's, which move to
 *    the nearest spare core (on the same chip when it has one), so only the
 *    routing tables that change are loaded again.
 * In fixed point the result is bit for bit the clean run's: the cores
 * start from exactly the state they sealed, and the samples after it run
 * again in the same order. */
#include <stdio.h>
#include <string.h>

#include "run/machine_session.h"

/* Whether core (x, y, p) is free for a moved vertex: it works, nothing of
 * the run is on it, and it is not dead. */
static bool spare(const mrun_t *r, const spd_placement_t *pl, const spd_chip_t *chip, int p) {
  if (p < 1 || !(chip->core_mask & (1u << p)))
    return false;
  for (uint32_t v = 0; v < pl->n_vertices; v++)
    if (pl->loc[v].x == chip->x && pl->loc[v].y == chip->y && pl->loc[v].core == p)
      return false;
  spd_core_status_t st;
  return spd_tx_core_status(r->tx, chip->x, chip->y, p, &st) == 0 && st.state != SPD_CORE_DEAD;
}

/* The nearest spare core to chip (x, y): its own first, then by hops. */
static bool nearest_spare(const mrun_t *r, const spd_placement_t *pl, int x, int y,
                          spd_place_loc_t *out) {
  int best = -1;
  for (uint32_t c = 0; c < r->machine->n_chips; c++) {
    const spd_chip_t *chip = &r->machine->chips[c];
    int hops = spd_machine_hops(r->machine, x, y, chip->x, chip->y);
    if (best >= 0 && hops >= best)
      continue;
    for (int p = 1; p < SPD_CORES_PER_CHIP; p++)
      if (spare(r, pl, chip, p)) {
        *out = (spd_place_loc_t){.x = chip->x, .y = chip->y, .core = (uint8_t)p};
        best = hops;
        break;
      }
  }
  return best >= 0;
}

/* @p r's placement with the dead core's vertices on a spare core, @p to. */
static int move_off_dead(const mrun_t *r, spd_placement_t *out, spd_place_loc_t *to_out) {
  const spd_placement_t *pl = &r->place;
  const spd_place_loc_t dead = r->dead_at;
  *out = (spd_placement_t){.ctx = pl->ctx, .n_vertices = pl->n_vertices,
                           .cores_used = pl->cores_used};
  out->loc = spd_malloc(r->ctx, (size_t)pl->n_vertices * sizeof *out->loc);
  if (!out->loc)
    return spd_ctx_fail(r->ctx, SPD_ENOMEM, "placement of %u vertices", pl->n_vertices);
  memcpy(out->loc, pl->loc, (size_t)pl->n_vertices * sizeof *out->loc);
  spd_place_loc_t to;
  if (!nearest_spare(r, out, dead.x, dead.y, &to)) {
    spd_placement_free(out);
    return spd_ctx_fail(r->ctx, SPD_ENOFIT, "core (%u,%u,%u) is dead and the machine has no "
                        "spare core left to take its work", dead.x, dead.y, dead.core);
  }
  for (uint32_t v = 0; v < out->n_vertices; v++)
    if (out->loc[v].x == dead.x && out->loc[v].y == dead.y && out->loc[v].core == dead.core)
      out->loc[v] = to;
  *to_out = to;
  /* chips in use, counted afresh (the spare may be on a chip not used yet) */
  for (uint32_t v = 0; v < out->n_vertices; v++) {
    bool first = true;
    for (uint32_t u = 0; u < v && first; u++)
      first = out->loc[u].x != out->loc[v].x || out->loc[u].y != out->loc[v].y;
    out->chips_used += first;
  }
  return 0;
}

/* Whether every trained vertex sealed (local) epoch @p epoch's results:
 * its block's marker reads epoch + 1 (a later epoch's marker means the
 * ring has moved on). */
static int sealed_by_all(mrun_t *r, uint32_t epoch, bool *sealed) {
  *sealed = true;
  for (uint32_t v = 0; *sealed && v < r->g->n_vertices; v++) {
    if (!r->result_addr[v])
      continue;
    uint32_t mark = 0, stride = spd__mrun_result_stride(r, &r->g->vertices[v]);
    int err = spd_tx_read_sdram(r->tx, r->place.loc[v].x, r->place.loc[v].y,
                                r->result_addr[v] + (epoch % RESULT_RING + 1) * stride - 4u,
                                &mark, 4);
    if (err)
      return err;
    *sealed = mark == epoch + 1;
  }
  return 0;
}

/* The last (local) epoch sealed by every vertex, or -1: those whose
 * records are in, and the one after, newest first within the ring; never
 * the run's last (the cores that sealed it may not have finished, and a
 * run must have an epoch left to go on with). */
static int last_sealed(mrun_t *r, int64_t *epoch) {
  *epoch = -1;
  int64_t top = (int64_t)((r->progress.done + r->skip) / r->n);
  if (top > (int64_t)r->epochs - 2)
    top = (int64_t)r->epochs - 2;
  for (int64_t e = top; e >= 0 && e > top - (int64_t)RESULT_RING + 1; e--) {
    bool sealed;
    int err = sealed_by_all(r, (uint32_t)e, &sealed);
    if (err)
      return err;
    if (sealed) {
      *epoch = e;
      return 0;
    }
  }
  return 0;
}

int spd__mrun_recover(mrun_t *r, mrun_t *next, char *note, size_t note_size) {
  const spd_fit_config_t *cfg = r->cfg;
  *next = (mrun_t){.ctx = r->ctx, .model = r->model, .machine = r->machine, .o = r->o,
                   .data = r->data, .n = r->n, .in_size = r->in_size,
                   .out_size = r->out_size, .cfg = r->cfg, .target = r->target,
                   .logs = r->logs, .first_epoch = r->first_epoch, .resume = r->resume};
  next->progress = (spd__mprogress_t){.cb = r->progress.cb, .logs = r->progress.logs,
                                      .epochs = r->progress.epochs,
                                      .batch = r->progress.batch};
  int64_t epoch = -1;
  int err = r->cfg ? last_sealed(r, &epoch) : 0;
  if (!err && epoch >= 0) {
    next->restart = spd_calloc(r->ctx, 1, sizeof *next->restart);
    if (!next->restart)
      err = spd_ctx_fail(r->ctx, SPD_ENOMEM, "the recovery's state");
    if (!err)
      err = spd__mrun_epoch_state(r, (uint32_t)epoch, &next->restart->blob);
    if (!err) {
      spd__mrun_restart_t *s = next->restart;
      s->reader = (spd__blob_reader_t){.ctx = r->ctx, .file = "the recovery's state",
                                       .data = s->blob.data, .len = s->blob.len};
      next->resume = &s->reader;
      next->first_epoch = r->first_epoch + (uint32_t)epoch + 1;
    }
  } else if (!err) { /* from where this run started, again */
    next->skip = r->skip;
    next->progress.seed_loss = r->progress.seed_loss;
    next->progress.seed_hits = r->progress.seed_hits;
    next->restart = r->restart; /* an earlier recovery's state, if any */
    r->restart = NULL;
  }
  if (!err && next->resume)
    next->resume->pos = 0;
  spd_place_loc_t to = {0};
  char moved[64] = "";
  if (!err && r->dead) {
    err = move_off_dead(r, &next->kept, &to);
    snprintf(moved, sizeof moved, "its work moved to core (%u,%u,%u) and ", to.x, to.y,
             to.core);
  } else if (!err) { /* a stall: everything stays where it is */
    next->kept = (spd_placement_t){.ctx = r->place.ctx, .n_vertices = r->place.n_vertices,
                                   .chips_used = r->place.chips_used,
                                   .cores_used = r->place.cores_used};
    next->kept.loc = spd_malloc(r->ctx, (size_t)r->place.n_vertices * sizeof *next->kept.loc);
    if (next->kept.loc)
      memcpy(next->kept.loc, r->place.loc, (size_t)r->place.n_vertices * sizeof *r->place.loc);
    else
      err = spd_ctx_fail(r->ctx, SPD_ENOMEM, "placement of %u vertices", r->place.n_vertices);
    next->after_stall = true;
  }
  bool later = next->first_epoch > r->first_epoch;
  if (!err && cfg)
    snprintf(note, note_size, "; %straining went on from %s %u", moved,
             later ? "the end of epoch" : "its start, epoch",
             later ? next->first_epoch : next->first_epoch + 1);
  else if (!err)
    snprintf(note, note_size, "; %sthe run started again", moved);
  if (!err) {
    next->tx = r->tx;
    r->tx = NULL;
    next->loaded = r->routing.tables;
    next->has_loaded = true;
    r->routing.tables = (spd_map_tables_t){0};
  }
  spd__mrun_free(r);
  if (!err && cfg && next->o.numeric == SPD_NUMERIC_FLOAT)
    err = spd__mrun_float_slabs(next);
  if (!err && cfg && next->resume && next->o.numeric == SPD_NUMERIC_FLOAT)
    err = spd__mrun_float_get_state(next, next->resume);
  if (!err && cfg)
    err = spd__mrun_make_order(next);
  return err;
}
