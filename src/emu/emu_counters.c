/* Read-out of the emulator's counters and the energy estimate
 * (SPINNAKER.md #28, #30: idle chips + busy cores + routed bits). */
#include <string.h>

#include "emu/emu_internal.h"

static const spd_emu_chip_t *find_chip(const spd_emu_t *emu, int x, int y) {
  int32_t i = spd_machine_chip_index(emu->machine, x, y);
  return i < 0 ? NULL : &emu->chips[i];
}

void spd__counters_retire(spd_core_counters_t *into, const spd_core_counters_t *c) {
  into->busy_cycles += c->busy_cycles;
  into->callbacks += c->callbacks;
  into->packets_sent += c->packets_sent;
  into->packets_received += c->packets_received;
  into->tx_queue_full += c->tx_queue_full;
  into->discarded_no_callback += c->discarded_no_callback;
  into->task_queue_full += c->task_queue_full;
  into->packets_queue_full += c->packets_queue_full;
  into->dma_transfers += c->dma_transfers;
  into->dma_bytes += c->dma_bytes;
  into->timer_ticks += c->timer_ticks;
  into->packets_resent += c->packets_resent;
}

static void add_core(spd_run_counters_t *r, const spd_core_counters_t *c) {
  r->busy_cycles += c->busy_cycles;
  r->dropped_no_callback += c->discarded_no_callback;
  r->dropped_task_queue_full += c->packets_queue_full;
  r->packets_resent += c->packets_resent;
}

void spd_emu_run_counters(const spd_emu_t *emu, spd_run_counters_t *out) {
  spd_run_counters_t r;
  memset(&r, 0, sizeof r);
  uint64_t bits = 0;
  for (uint32_t i = 0; i < emu->n_chips; i++) {
    const spd_emu_chip_t *c = &emu->chips[i];
    r.packets_sent += c->counters.injected;
    r.packets_delivered += c->counters.delivered;
    r.dropped_wait1 += c->counters.dropped_wait1;
    r.dropped_unmatched += c->counters.dropped_unmatched;
    r.dropped_core_stopped += c->counters.dropped_core_stopped;
    r.dropped_injected += c->counters.dropped_injected;
    r.packets_reinjected += c->counters.reinjected;
    r.packets_lost += c->counters.lost;
    bits += c->counters.bits_routed;
    if (c->counters.router_entries > r.max_router_entries)
      r.max_router_entries = c->counters.router_entries;
    add_core(&r, &c->retired);
    for (int p = 0; p < SPD_CORES_PER_CHIP; p++)
      if (c->cores[p] && c->cores[p]->kernel) {
        r.cores_loaded++;
        add_core(&r, &c->cores[p]->counters);
      }
  }
  /* Copies dropped anywhere; those the monitors did not take back are lost
   * for good (the router's and the cores' own losses have no reinjector). */
  uint64_t unrecoverable = r.dropped_unmatched + r.dropped_core_stopped +
                           r.dropped_no_callback + r.dropped_task_queue_full;
  r.packets_dropped = r.dropped_wait1 + r.dropped_injected + unrecoverable;
  r.packets_lost += unrecoverable;
  r.sim_time_ps = emu->now;
  r.events = emu->events;
  r.chips = emu->n_chips;
  const spd_cost_model_t *cm = emu->cost;
  double seconds = (double)emu->now * 1e-12;
  double busy_seconds = (double)r.busy_cycles * (double)cm->core_cycle_ps * 1e-12;
  r.energy_joules = cm->chip_idle_watts * emu->n_chips * seconds +
                    cm->core_busy_watts * busy_seconds + cm->joules_per_bit * (double)bits;
  *out = r;
}

int spd_emu_chip_counters(const spd_emu_t *emu, int x, int y, spd_chip_counters_t *out) {
  const spd_emu_chip_t *c = find_chip(emu, x, y);
  if (!c)
    return spd_ctx_fail(emu->ctx, SPD_EINVAL, "emulator: no working chip at (%d,%d)", x, y);
  *out = c->counters;
  return 0;
}

int spd_emu_core_counters(const spd_emu_t *emu, int x, int y, int p, spd_core_counters_t *out) {
  const spd_emu_chip_t *c = find_chip(emu, x, y);
  if (!c || p < 0 || p >= SPD_CORES_PER_CHIP)
    return spd_ctx_fail(emu->ctx, SPD_EINVAL, "emulator: no core (%d,%d,%d)", x, y, p);
  const spd_core_t *core = c->cores[p];
  if (core)
    *out = core->counters;
  else
    memset(out, 0, sizeof *out);
  return 0;
}

int spd_emu_core_status(const spd_emu_t *emu, int x, int y, int p, spd_core_status_t *out) {
  const spd_emu_chip_t *c = find_chip(emu, x, y);
  if (!c || p < 0 || p >= SPD_CORES_PER_CHIP)
    return spd_ctx_fail(emu->ctx, SPD_EINVAL, "emulator: no core (%d,%d,%d)", x, y, p);
  const spd_core_t *core = c->cores[p];
  memset(out, 0, sizeof *out);
  if (core) {
    out->state = core->state;
    out->exit_code = core->exit_code;
    memcpy(out->message, core->error, sizeof out->message);
  }
  return 0;
}
