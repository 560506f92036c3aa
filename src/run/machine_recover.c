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
 * The restart point is the later of that epoch's end and the last batch
 * boundary whose snapshot every trained core sealed (spd_kc_snapshot).
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
    uint32_t later;
    int err = spd__mrun_epoch_sealed(r, (uint32_t)e, &sealed, &later);
    if (err)
      return err;
    if (sealed) {
      *epoch = e;
      return 0;
    }
  }
  return 0;
}

/* The steps done (local) after which every trained vertex's snapshot
 * ring holds its state (0: none): the least of their newest seals, when
 * every ring still has it; never the run's last step. */
static int last_snapshot(mrun_t *r, uint32_t *steps) {
  uint32_t common = UINT32_MAX, seals[2];
  *steps = 0;
  for (int pass = 0; pass < 2; pass++)
    for (uint32_t v = 0; v < r->g->n_vertices; v++) {
      uint32_t bytes = spd__mrun_snap_bytes(r, &r->g->vertices[v]);
      if (!r->snap_addr[v])
        continue;
      for (uint32_t k = 0; k < 2; k++) {
        int err = spd_tx_read_sdram(r->tx, r->place.loc[v].x, r->place.loc[v].y,
                                    r->snap_addr[v] + k * (bytes + 4u) + bytes, &seals[k], 4);
        if (err)
          return err;
      }
      if (pass == 0) {
        uint32_t newest = seals[0] > seals[1] ? seals[0] : seals[1];
        common = newest < common ? newest : common;
      } else if (seals[0] != common && seals[1] != common) {
        return 0; /* a ring has moved past it */
      }
    }
  if (common != UINT32_MAX && common < r->steps)
    *steps = common;
  return 0;
}

/* Summed loss and hits of the records of the run's samples [from, to), in
 * order, read from the sink's SDRAM; false when one is not complete. */
static int record_sums(mrun_t *r, uint32_t from, uint32_t to, double *loss, uint32_t *hits,
                       bool *complete) {
  uint32_t w = SPD_DS_RECORD_WORDS(r->out_size);
  *complete = true;
  if (to <= from)
    return 0;
  /* those the host read already, then the rest from the sink's ring */
  uint32_t have = r->progress.done < from ? from : r->progress.done < to ? r->progress.done : to;
  uint32_t rest = to - have;
  if (rest > r->ring) {
    *complete = false; /* written over in the ring before the host read them */
    return 0;
  }
  uint32_t *rec = spd_malloc(r->ctx, (size_t)(to - from) * w * 4u);
  if (!rec)
    return spd_ctx_fail(r->ctx, SPD_ENOMEM, "records of %u samples", to - from);
  memcpy(rec, r->records + (size_t)from * w, (size_t)(have - from) * w * 4u);
  int err = spd__mrun_sink_read(r, have, rest, rec + (size_t)(have - from) * w);
  *complete = !err && spd__records_complete(rec, from, to - from, r->out_size) == to - from;
  for (uint32_t k = 0; *complete && k < to - from; k++) {
    const uint32_t *one = rec + (size_t)k * w;
    *loss += spd__record_loss(one, r->out_size, r->o.numeric == SPD_NUMERIC_FIXED);
    *hits += one[r->out_size + 2] == one[r->out_size + 3];
  }
  spd_free(r->ctx, rec);
  return err;
}

/* Going on from the snapshot after @p steps local steps: where in the
 * epochs it stands (next's first epoch and skip) and the epoch's running
 * sums up to there, from the records. False in *ok when a record is not
 * in yet. */
static int snapshot_point(mrun_t *r, uint32_t steps, mrun_t *next, bool *ok) {
  uint32_t spe = spd__mrun_epoch_steps(r), b = (uint32_t)r->cfg->batch_size;
  uint64_t global = (uint64_t)r->first_epoch * spe + r->skip / b + steps;
  next->first_epoch = (uint32_t)(global / spe);
  next->skip = (uint32_t)(global % spe) * b;
  /* the run's own sample numbers: where it started, the epoch, the point */
  uint64_t start = (uint64_t)r->first_epoch * r->n + r->skip;
  uint64_t epoch_at = (uint64_t)next->first_epoch * r->n, point = epoch_at + next->skip;
  double loss = 0;
  uint32_t hits = 0;
  if (epoch_at < start) { /* the epoch began before this run: its sums so far */
    loss = r->progress.seed_loss;
    hits = r->progress.seed_hits;
    epoch_at = start;
  }
  int err = record_sums(r, (uint32_t)(epoch_at - start), (uint32_t)(point - start), &loss, &hits,
                        ok);
  next->progress.seed_loss = loss;
  next->progress.seed_hits = hits;
  return err;
}

int spd__mrun_recover(mrun_t *r, mrun_t *next, char *note, size_t note_size) {
  const spd_fit_config_t *cfg = r->cfg;
  *next = (mrun_t){.ctx = r->ctx, .model = r->model, .machine = r->machine, .o = r->o,
                   .data = r->data, .n = r->n, .in_size = r->in_size,
                   .out_size = r->out_size, .cfg = r->cfg, .target = r->target,
                   .logs = r->logs, .first_epoch = r->first_epoch, .resume = r->resume,
                   .base = r->base,
                   .attempt = r->attempt + 1};
  next->progress = (spd__mprogress_t){.cb = r->progress.cb, .logs = r->progress.logs,
                                      .epochs = r->progress.epochs,
                                      .batch = r->progress.batch};
  int64_t epoch = -1;
  uint32_t steps = 0;
  bool snap_ok = false;
  int err = r->cfg ? last_sealed(r, &epoch) : 0;
  if (!err && r->cfg)
    err = last_snapshot(r, &steps);
  /* the snapshot when it is later than the sealed epoch's end */
  uint32_t spe = r->cfg ? spd__mrun_epoch_steps(r) : 0;
  int64_t epoch_steps = epoch >= 0 ? (epoch + 1) * (int64_t)spe -
                                         (int64_t)(r->skip / r->cfg->batch_size)
                                   : 0;
  if (!err && steps && (int64_t)steps > epoch_steps)
    err = snapshot_point(r, steps, next, &snap_ok);
  if (!err && snap_ok) {
    next->restart = spd_calloc(r->ctx, 1, sizeof *next->restart);
    if (!next->restart)
      err = spd_ctx_fail(r->ctx, SPD_ENOMEM, "the recovery's state");
    if (!err)
      err = spd__mrun_snapshot_state(r, steps, &next->restart->blob);
    if (!err) {
      spd__mrun_restart_t *s = next->restart;
      s->reader = (spd__blob_reader_t){.ctx = r->ctx, .file = "the recovery's state",
                                       .data = s->blob.data, .len = s->blob.len};
      next->resume = &s->reader;
    }
  } else if (!err && epoch >= 0) {
    next->skip = 0;
    next->progress.seed_loss = 0;
    next->progress.seed_hits = 0;
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
    next->first_epoch = r->first_epoch;
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
  bool later = next->first_epoch > r->first_epoch || next->skip > r->skip;
  if (!err && cfg && next->skip)
    snprintf(note, note_size, "; %straining went on from batch %u of epoch %u", moved,
             next->skip / (uint32_t)cfg->batch_size + 1, next->first_epoch + 1);
  else if (!err && cfg)
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
