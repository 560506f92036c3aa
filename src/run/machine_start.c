/* Phase 2 of a run on the machine, the start: the transceiver the caller
 * injected is opened (before the load, which goes through it) and, once
 * everything is loaded, every core starts together (SC&MP's SYNC0 on a
 * board). */
#include "run/machine_session.h"

/* The machine through the transceiver the caller injected, or an
 * in-process emulated board (spd_transceiver_open_emulated), with the
 * faults asked for. */
int spd__mrun_open(mrun_t *r) {
  spd_transceiver_open_fn open = r->o.open_transceiver ? r->o.open_transceiver
                                                       : spd_transceiver_open_emulated;
  int err = open(r->o.open_ud, r->ctx, r->machine, r->o.inject_drops, r->o.fault_seed, &r->tx);
  const spd_core_kill_t *k = &r->o.kill;
  if (err || !k->on)
    return err;
  spd_emu_t *emu = spd_transceiver_emulator(r->tx);
  if (!emu)
    return spd_ctx_fail(r->ctx, SPD_EUNSUPPORTED, "--kill-core: only the in-process emulator "
                        "kills cores on demand");
  for (uint32_t v = 0; v < r->g->n_vertices; v++)
    if (r->place.loc[v].x == k->x && r->place.loc[v].y == k->y && r->place.loc[v].core == k->p)
      return spd_emu_kill_core(emu, k->x, k->y, k->p, k->after);
  const spd_place_loc_t *last = &r->place.loc[r->g->n_vertices - 1];
  return spd_ctx_fail(r->ctx, SPD_EINVAL, "--kill-core: core (%d,%d,%d) runs nothing of this "
                      "model, which uses %u cores on %u chips (the first (%u,%u,%u), the last "
                      "(%u,%u,%u); spindle map shows where each layer runs)", k->x, k->y, k->p,
                      r->place.cores_used, r->place.chips_used, r->place.loc[0].x,
                      r->place.loc[0].y, r->place.loc[0].core, last->x, last->y, last->core);
}
int spd__mrun_start(mrun_t *r) {
  return spd_tx_start(r->tx);
}
