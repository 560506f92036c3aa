/* The monitor core's reinjector, as SpiNNFrontEndCommon's extra monitor runs
 * it (SPINNAKER.md "Dump registers / reinjection"): a router that drops a
 * packet latches it in its dump registers (header, key, payload, the
 * outputs it missed) and interrupts its monitor core; a packet dropped
 * while the registers are still full only sets the overflow bit and is
 * lost. The monitor's FIQ copies the packet into a queue, and the monitor
 * sends it again through its comms controller whenever the router's output
 * stage is empty. The router routes the re-sent packet by its key like any
 * other, so outputs that had their copy get it twice: receivers must
 * ignore duplicates (kernels/kernel_common.c).
 *
 * Fault injection drops one copy of a packet the router hands to its
 * outputs with a given probability, through the same dump registers. */
#include "emu/emu_internal.h"

#include <math.h>

void spd_emu_set_reinjection(spd_emu_t *emu, bool on) { emu->reinject = on; }

int spd_emu_inject_drops(spd_emu_t *emu, double probability, uint64_t seed) {
  if (!(probability >= 0.0 && probability <= 1.0))
    return spd_ctx_fail(emu->ctx, SPD_EINVAL,
                        "emulator: a drop probability must lie in [0, 1], not %g", probability);
  /* Compared with 32 random bits; a probability below 2^-32 draws nothing. */
  double t = floor(probability * 4294967296.0);
  emu->drop_threshold = t >= 4294967295.0 ? UINT32_MAX : (uint32_t)t;
  for (uint32_t i = 0; i < emu->n_chips; i++)
    spd_rng_init(&emu->chips[i].monitor.rng, seed, i);
  return 0;
}

uint32_t spd__monitor_inject_drop(spd_emu_t *emu, uint32_t ci, uint32_t route) {
  spd_emu_monitor_t *m = &emu->chips[ci].monitor;
  if (spd_rng_u32(&m->rng) >= emu->drop_threshold || !route)
    return 0;
  uint32_t k = spd_rng_below(&m->rng, bit_count(route));
  while (k--)
    route &= route - 1;
  return route & (0u - route);
}

static void schedule_send(spd_emu_t *emu, uint32_t ci, uint64_t at) {
  spd_emu_monitor_t *m = &emu->chips[ci].monitor;
  if (m->send_pending)
    return;
  m->send_pending = true;
  spd__emu_schedule(emu, at, SPD_EV_MONITOR_SEND, ci, 0, 0, 0, 0, 0);
}

void spd__monitor_dump(spd_emu_t *emu, uint32_t ci, const spd_emu_packet_t *p,
                       uint32_t outputs) {
  spd_emu_chip_t *c = &emu->chips[ci];
  spd_emu_monitor_t *m = &c->monitor;
  if (!emu->reinject || m->dump_full) {
    c->counters.lost += bit_count(outputs);
    return;
  }
  m->dump_full = true;
  m->dump = *p;
  emu->in_flight++; /* held by the monitor until sent again or lost */
  spd__emu_schedule(emu, emu->now + emu->cost->monitor_dump_cycles * emu->cost->core_cycle_ps,
                    SPD_EV_MONITOR_FIQ, ci, 0, 0, 0, 0, 0);
}

static void take_dump(spd_emu_t *emu, uint32_t ci) {
  spd_emu_chip_t *c = &emu->chips[ci];
  spd_emu_monitor_t *m = &c->monitor;
  uint32_t cap = emu->cost->monitor_queue_packets - 1u;
  m->dump_full = false;
  if (!m->queue && !(m->queue = spd_calloc(emu->ctx, cap + 1u, sizeof *m->queue))) {
    emu->error = SPD_ENOMEM;
    return;
  }
  if (m->count == cap) { /* FEC's queue overflow: the packet is lost */
    c->counters.lost++;
    emu->in_flight--;
    return;
  }
  m->queue[(m->head + m->count) % (cap + 1u)] = m->dump;
  m->count++;
  c->counters.dumped++;
  schedule_send(emu, ci, emu->now);
}

/* Send the queue's head when the router's output stage is empty and its
 * inputs have room, as the FEC reinjector waits for both. */
static void send_next(spd_emu_t *emu, uint32_t ci) {
  spd_emu_chip_t *c = &emu->chips[ci];
  spd_emu_monitor_t *m = &c->monitor;
  m->send_pending = false;
  if (!m->count)
    return;
  uint64_t cycle = emu->cost->core_cycle_ps;
  if (c->router.busy || c->router.fill >= emu->cost->router_input_slots) {
    schedule_send(emu, ci, emu->now + emu->cost->monitor_retry_cycles * cycle);
    return;
  }
  /* The packet keeps the link it came in on: one the router passed on by
   * default routing (no entry) goes on the same way. A monitor re-sending
   * it as its own would find no entry and lose it; see docs/emulator.md. */
  spd_emu_packet_t p = m->queue[m->head];
  m->head = (m->head + 1u) % emu->cost->monitor_queue_packets;
  m->count--;
  c->counters.reinjected++;
  c->router.fill++;
  spd__router_arrive(emu, ci, &p);
  if (m->count)
    schedule_send(emu, ci, emu->now + emu->cost->monitor_reinject_cycles * cycle);
}

void spd__monitor_event(spd_emu_t *emu, const spd_event_t *ev) {
  if (ev->type == SPD_EV_MONITOR_FIQ)
    take_dump(emu, ev->chip);
  else
    send_next(emu, ev->chip);
}

void spd__monitor_free(spd_emu_t *emu) {
  for (uint32_t i = 0; i < emu->n_chips; i++)
    spd_free(emu->ctx, emu->chips[i].monitor.queue);
}
