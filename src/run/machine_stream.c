/* Phase 3 of a run on the machine, the stream: the started machine runs
 * in slices of simulated time while the host reads the sink's records as
 * they come (and so the samples' results go out as the samples go in);
 * it stops when a signal asks, when it lost a packet and makes no more
 * progress, or when a core is found dead. The same code for every
 * transceiver. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "run/machine_session.h"

/* Slices without a new record, after a packet was lost for good, before
 * the run is given up: the receivers ask again every two resend ticks. */
#define STUCK_SLICES 200u
/* Slices without a new record before the host looks for a dead core (as
 * SpiNNaker's tools read every core's state when a run stalls). */
#define SWEEP_SLICES 5u
/* Simulated time the stopped machine gets to drain: packets still on the
 * links or in a monitor's reinjection queue of the stopped run. */
#define DRAIN_PS 10000000000ull
/* Records read through the transceiver at a time while the run goes on: a
 * slice completes a few, and on a board every 256 bytes is a datagram. */
#define RECORD_CHUNK 32u

/* A generous limit of simulated time: per sample 20 ms or ten times the
 * graph's period or its slowest vertex's paced sends (5 ns a cycle at 200
 * MHz; float convolutions take about 25 ms, LeNet-5's training about 100),
 * 200 ms per optimizer step and a second. A step's update in a `split`
 * tile reads and writes the block's whole training state in SDRAM at
 * charged cost (about 110 ms for the MLP's tiles on a SpiNN-3), so at
 * batch size 1 the samples' share alone ran out before the run ended. */
uint64_t spd__mrun_timeout_ps(const mrun_t *r) {
  uint64_t period = r->g->period_cycles > r->paced_cycles ? r->g->period_cycles : r->paced_cycles;
  uint64_t per = period * 5000ull * 10u;
  per = per > 20000000000ull ? per : 20000000000ull;
  return ((uint64_t)spd__mrun_samples(r) + r->o.slots) * per + (uint64_t)r->steps * 200000000000ull +
         1000000000000ull;
}

/* The state of the core vertex @p v runs on, read through the transceiver. */
static int vertex_status(mrun_t *r, uint32_t v, spd_core_status_t *st) {
  const spd_place_loc_t *at = &r->place.loc[v];
  return spd_tx_core_status(r->tx, at->x, at->y, at->core, st);
}

int spd__mrun_sink_read(mrun_t *r, uint32_t first, uint32_t count, uint32_t *out) {
  uint32_t w = SPD_DS_RECORD_WORDS(r->out_size);
  const spd_place_loc_t *at = &r->place.loc[r->sink];
  int err = 0;
  while (!err && count) {
    uint32_t slot = first % r->ring, k = r->ring - slot < count ? r->ring - slot : count;
    err = spd_tx_read_sdram(r->tx, at->x, at->y, r->addr[r->sink] + slot * w * 4u, out,
                            (size_t)k * w * 4u);
    first += k;
    count -= k;
    out += (size_t)k * w;
  }
  return err;
}

/* The records the sink completed since the last look, read from its SDRAM
 * ring through the transceiver (@p all: every remaining one, the run is
 * over) and handed to the progress; then the sink is told how many the
 * host has, so it may write over them. */
int spd__mrun_read_records(mrun_t *r, bool all) {
  uint32_t total = spd__mrun_samples(r), w = SPD_DS_RECORD_WORDS(r->out_size);
  uint32_t before = r->progress.done;
  int err = 0;
  while (!err && r->progress.done < total) {
    uint32_t done = r->progress.done, k = total - done;
    if (k > r->ring)
      k = r->ring;
    if (!all && k > RECORD_CHUNK)
      k = RECORD_CHUNK;
    uint32_t *rec = r->records + (size_t)done * w;
    err = spd__mrun_sink_read(r, done, k, rec);
    uint32_t complete = spd__records_complete(rec, done, k, r->out_size);
    if (!err && all && complete < k)
      err = spd_ctx_fail(r->ctx, SPD_EKERNEL, "the sink's record of sample %u of the run is "
                         "missing at its end", done + complete);
    if (!err)
      err = spd__mprogress_take(r->ctx, &r->progress, r->records, done + complete);
    if (complete < k)
      break;
  }
  if (!err && r->progress.done != before && r->ring < total) {
    const spd_place_loc_t *at = &r->place.loc[r->sink];
    err = spd_tx_write_sdram(r->tx, at->x, at->y,
                             r->addr[r->sink] + r->ring * w * 4u, &r->progress.done, 4);
  }
  return err;
}

/* The stopped machine drains for up to 80 ms of simulated time: what is
 * still on the links or in a monitor's queue must not reach the run that
 * goes on after it. */
static void drain(mrun_t *r) {
  for (int i = 0; i < 8 && spd_tx_wait(r->tx, DRAIN_PS) == SPD_ETIMEOUT; i++) {
  }
  spd_ctx_clear(r->ctx);
}

/* A packet copy was lost (dropped while its router's dump registers were
 * full, or by a core) and asking for it again did not bring the run on:
 * it stops now rather than at its time limit, naming the first chip that
 * lost one and the counters that show why. */
static int stop_lost(mrun_t *r, const spd_run_counters_t *rc) {
  char where[160] = "a core";
  for (uint32_t c = 0; c < r->machine->n_chips; c++) {
    const spd_chip_t *chip = &r->machine->chips[c];
    spd_chip_counters_t cc;
    if (spd_tx_chip_counters(r->tx, chip->x, chip->y, &cc) || !cc.lost)
      continue;
    int n = snprintf(where, sizeof where, "chip (%d,%d): %" PRIu64 " copies", chip->x, chip->y,
                     cc.lost);
    for (int l = 0; l < SPD_PROV_LINKS && n > 0 && (size_t)n < sizeof where; l++)
      if (cc.link_dropped[l])
        n += snprintf(where + n, sizeof where - (size_t)n, ", link %s dropped %" PRIu64,
                      spd_link_name((spd_link_t)l), cc.link_dropped[l]);
    break;
  }
  spd_tx_stop(r->tx);
  drain(r);
  r->stalled = true;
  return spd_ctx_fail(r->ctx, SPD_EDROPPED,
                      "the run cannot finish: %" PRIu64 " packet copies were lost (%s; %" PRIu64
                      " of %" PRIu64 " dropped, %" PRIu64 " reinjected, %" PRIu64
                      " sent again: wait1 %" PRIu64
                      ", injected %" PRIu64 ", unmatched %" PRIu64 ", queue full %" PRIu64
                      ", stopped core %" PRIu64 ")",
                      rc->packets_lost, where, rc->packets_dropped, rc->packets_sent,
                      rc->packets_reinjected, rc->packets_resent, rc->dropped_wait1,
                      rc->dropped_injected,
                      rc->dropped_unmatched, rc->dropped_task_queue_full,
                      rc->dropped_core_stopped);
}

/* The run made no progress for a while: is one of its cores dead (its
 * watchdog fired, or a fault)? If so, stop the machine, let the network
 * drain, and say which core and what ran there; the session recovers. */
static int find_dead(mrun_t *r) {
  for (uint32_t v = 0; v < r->g->n_vertices; v++) {
    spd_core_status_t st;
    int err = vertex_status(r, v, &st);
    if (err || st.state != SPD_CORE_DEAD) {
      if (err)
        return err;
      continue;
    }
    const spd_place_loc_t *at = &r->place.loc[v];
    r->dead = true;
    r->dead_at = *at;
    spd_tx_stop(r->tx);
    drain(r);
    char who[96];
    spd_vertex_describe(r->g, v, who, sizeof who);
    return spd_ctx_fail(r->ctx, SPD_EKERNEL, "%s on core (%u,%u,%u) is dead after %u of %u "
                        "samples were recorded%s%s", who, at->x, at->y, at->core,
                        r->progress.done, spd__mrun_samples(r), st.message[0] ? ": " : "",
                        st.message);
  }
  return 0;
}

/* The caller's should_stop_cb, polled after every slice so a signal stops
 * the machine within a slice's wall time even inside a long batch. */
static bool stop_requested(const mrun_t *r) {
  const spd_fit_callbacks_t *cb = r->progress.cb;
  return cb && cb->should_stop_cb && cb->should_stop_cb(cb->ud);
}

/* Stopped by should_stop_cb: where, and the checkpoint that goes on. */
static int stop_interrupted(mrun_t *r) {
  char saved[4200] = "";
  uint32_t done = r->progress.done, whole = r->n ? (done + r->skip) / r->n : 0;
  if (r->cfg && r->cfg->checkpoint_dir && whole)
    snprintf(saved, sizeof saved, "; the checkpoint in '%s' goes on from epoch %u",
             r->cfg->checkpoint_dir, r->first_epoch + whole + 1);
  return spd_ctx_fail(r->ctx, SPD_EINTERRUPTED, "stopped after %u of %u samples%s", done,
                      spd__mrun_samples(r), saved);
}

/* Let the started machine run in slices of simulated time, looking at
 * the sink's records and the lost packets after each, until every core
 * has exited or the run's time limit has passed. */
int spd__mrun_stream(mrun_t *r) {
  int err = 0;
  uint32_t stuck = 0, done = 0, idle = 0, seen = 0;
  for (uint64_t left = spd__mrun_timeout_ps(r); !err;) {
    uint64_t every = r->o.slice_ps ? r->o.slice_ps : SLICE_PS;
    uint64_t slice = left < every ? left : every;
    err = spd_tx_wait(r->tx, slice);
    left -= slice;
    /* A lost packet is asked for again (kernels/resend.c); a run that has
     * lost one and then records no sample for STUCK_SLICES stops. New
     * losses do not start the count again: the requests and resends of a
     * stalled run under heavy loss lose copies of their own, and a core
     * that failed loses every copy still sent to it. */
    spd_run_counters_t rc;
    if (spd_tx_run_counters(r->tx, &rc) == 0 && rc.packets_lost) {
      stuck = r->progress.done != done ? 0 : stuck + 1;
      done = r->progress.done;
      if (stuck >= STUCK_SLICES) {
        spd_ctx_clear(r->ctx);
        return stop_lost(r, &rc);
      }
    }
    if (err != SPD_ETIMEOUT || left == 0)
      break;
    spd_ctx_clear(r->ctx); /* the slice's timeout is no failure */
    if (!(err = spd__mrun_read_records(r, false)) && stop_requested(r))
      err = stop_interrupted(r);
    idle = r->progress.done != seen ? 0 : idle + 1;
    seen = r->progress.done;
    if (!err && idle && idle % SWEEP_SLICES == 0 && (err = find_dead(r)))
      return err;
    if (err)
      spd_tx_stop(r->tx);
  }
  return err;
}
