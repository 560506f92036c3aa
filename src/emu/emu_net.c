/* Routers and links. A router takes one packet per router cycle from its
 * inputs (SPINNAKER.md #14), looks its key up (spindle/route.h) and hands a
 * copy to every output named by the route. An output that is busy (a link
 * still sending, a link whose far router has no input slot, a core whose
 * comms controller still holds a packet) blocks the router, as the hardware
 * pipeline does; outputs still blocked wait1 router cycles after the packet
 * reached the output stage lose their copy, counted per router and link
 * (#16, #17: wait2 = 0, no emergency routing). */
#include "emu/emu_internal.h"

static inline uint64_t link_time(const spd_emu_t *emu, bool with_payload) {
  return with_payload ? emu->cost->link_ps_72bit : emu->cost->link_ps_40bit;
}

static void router_wake(spd_emu_t *emu, uint32_t ci, uint64_t time) {
  spd_emu_router_t *r = &emu->chips[ci].router;
  if (r->wake_at <= time)
    return;
  r->wake_at = time;
  spd__emu_schedule(emu, time, SPD_EV_ROUTER_SERVE, ci, 0, 0, 0, 0, 0);
}

static void fifo_push(spd_emu_router_t *r, const spd_emu_packet_t *p) {
  r->fifo[(r->head + r->count) % SPD_ROUTER_FIFO_MAX] = *p;
  r->count++;
}

/* A slot freed: wake the neighbours blocked on their link towards us and
 * the local cores whose injection waited. They race for the slot in the
 * order woken, so the order rotates (round-robin arbitration between
 * inputs, 6 links then 18 cores). Only needed when the inputs were full. */
static void inputs_freed(spd_emu_t *emu, uint32_t ci) {
  spd_emu_chip_t *c = &emu->chips[ci];
  spd_emu_router_t *r = &c->router;
  enum { INPUTS = SPD_LINKS + SPD_CORES_PER_CHIP };
  uint8_t first = r->rr;
  r->rr = (uint8_t)((r->rr + 1) % INPUTS);
  for (int k = 0; k < INPUTS; k++) {
    int in = (first + k) % INPUTS;
    if (in < SPD_LINKS) {
      int32_t n = c->neighbour[in];
      if (n < 0)
        continue;
      spd_emu_router_t *nr = &emu->chips[n].router;
      if (nr->busy && (nr->pending & (1u << spd_link_opposite((spd_link_t)in))))
        router_wake(emu, (uint32_t)n, emu->now);
      continue;
    }
    uint8_t p = (uint8_t)(in - SPD_LINKS);
    spd_core_t *core = c->cores[p];
    if (!(r->tx_waiters & (1u << p)) || !core)
      continue;
    r->tx_waiters &= ~(1u << p);
    core->tx_event_pending = true;
    core->tx_blocked = false;
    spd__emu_schedule(emu, emu->now, SPD_EV_CORE_TX, ci, p, 0, 0, 0, core->gen);
  }
}

void spd__router_arrive(spd_emu_t *emu, uint32_t ci, const spd_emu_packet_t *p) {
  spd_emu_router_t *r = &emu->chips[ci].router;
  fifo_push(r, p);
  if (r->busy || r->wake_at != SPD_EMU_NEVER)
    return;
  if (r->free_at <= emu->now)
    spd__router_serve(emu, ci, emu->now);
  else
    router_wake(emu, ci, r->free_at);
}

bool spd__router_inject(spd_emu_t *emu, uint32_t ci, uint8_t core, const spd_emu_packet_t *p) {
  spd_emu_chip_t *c = &emu->chips[ci];
  if (c->router.fill >= emu->cost->router_input_slots) {
    c->router.tx_waiters |= 1u << core;
    return false;
  }
  c->router.fill++;
  c->counters.injected++;
  spd__router_arrive(emu, ci, p);
  return true;
}

void spd__router_core_freed(spd_emu_t *emu, uint32_t ci, uint8_t core) {
  spd_emu_router_t *r = &emu->chips[ci].router;
  if (r->busy && (r->pending & spd_route_core(core)))
    router_wake(emu, ci, emu->now);
}

/* Decide the outputs of the packet now at the output stage. */
static void start_packet(spd_emu_t *emu, uint32_t ci, const spd_emu_packet_t *p) {
  spd_emu_chip_t *c = &emu->chips[ci];
  spd_emu_router_t *r = &c->router;
  uint32_t route = 0;
  c->counters.routed++;
  c->counters.bits_routed += p->with_payload ? emu->cost->packet_bits_72 : emu->cost->packet_bits_40;
  if (!spd_router_table_lookup(&r->table, p->key, &route)) {
    if (p->in == SPD_IN_LOCAL) {
      /* SPINNAKER.md §2: locally sent packets cannot be default-routed. */
      c->counters.dropped_unmatched++;
      emu->in_flight--;
      return;
    }
    route = spd_route_link(spd_link_opposite((spd_link_t)p->in));
    c->counters.default_routed++;
  }
  uint32_t copies = bit_count(route);
  emu->in_flight += copies;
  emu->in_flight--;
  if (emu->drop_threshold) {
    uint32_t dropped = spd__monitor_inject_drop(emu, ci, route);
    if (dropped) {
      route &= ~dropped;
      c->counters.dropped_injected++;
      emu->in_flight--;
      spd__monitor_dump(emu, ci, p, dropped);
    }
  }
  for (uint32_t cores = spd_route_cores(route); cores; cores &= cores - 1) {
    unsigned k = lowest_bit(cores);
    spd_core_t *core = k < SPD_CORES_PER_CHIP ? c->cores[k] : NULL;
    if (!core || core->state != SPD_CORE_RUNNING) {
      c->counters.dropped_core_stopped++;
      emu->in_flight--;
      route &= ~spd_route_core(k);
    }
  }
  if (!route)
    return;
  r->busy = true;
  r->cur = *p;
  r->pending = route;
  r->deadline = emu->now + (uint64_t)emu->cost->router_wait1_cycles * emu->cost->router_cycle_ps;
}

static bool try_link(spd_emu_t *emu, uint32_t ci, int l) {
  spd_emu_chip_t *c = &emu->chips[ci];
  spd_emu_router_t *r = &c->router;
  int32_t n = c->neighbour[l];
  if (n < 0 || r->link_free[l] > emu->now ||
      emu->chips[n].router.fill >= emu->cost->router_input_slots)
    return false;
  uint64_t t = link_time(emu, r->cur.with_payload);
  r->link_free[l] = emu->now + t;
  emu->chips[n].router.fill++;
  c->counters.link_packets[l]++;
  spd__emu_schedule(emu, emu->now + t, SPD_EV_ROUTER_ARRIVE, (uint32_t)n,
                    (uint8_t)spd_link_opposite((spd_link_t)l), r->cur.key, r->cur.payload,
                    r->cur.with_payload, 0);
  return true;
}

static void try_outputs(spd_emu_t *emu, uint32_t ci) {
  spd_emu_chip_t *c = &emu->chips[ci];
  spd_emu_router_t *r = &c->router;
  for (uint32_t links = spd_route_links(r->pending); links; links &= links - 1) {
    int l = (int)lowest_bit(links);
    if (try_link(emu, ci, l))
      r->pending &= ~(1u << l);
  }
  for (uint32_t cores = spd_route_cores(r->pending); cores; cores &= cores - 1) {
    unsigned k = lowest_bit(cores);
    spd_core_t *core = c->cores[k];
    if (core->state != SPD_CORE_RUNNING) {
      c->counters.dropped_core_stopped++;
      emu->in_flight--;
      r->pending &= ~spd_route_core(k);
    } else if (!core->rx_full) {
      spd__core_deliver(emu, core, &r->cur);
      c->counters.delivered++;
      r->pending &= ~spd_route_core(k);
    }
  }
}

static void drop_blocked(spd_emu_t *emu, uint32_t ci) {
  spd_emu_chip_t *c = &emu->chips[ci];
  uint32_t pending = c->router.pending;
  for (uint32_t links = spd_route_links(pending); links; links &= links - 1)
    c->counters.link_dropped[lowest_bit(links)]++;
  uint32_t n = bit_count(pending);
  c->counters.dropped_wait1 += n;
  emu->in_flight -= n;
  c->router.pending = 0;
  spd__monitor_dump(emu, ci, &c->router.cur, pending);
}

/* The next moment a blocked router should look again: a pending link frees,
 * or the wait1 deadline. Far-router slots and cores wake it explicitly. */
static uint64_t next_retry(const spd_emu_t *emu, const spd_emu_router_t *r) {
  uint64_t next = r->deadline;
  for (int l = 0; l < SPD_LINKS; l++)
    if ((r->pending & (1u << l)) && r->link_free[l] > emu->now && r->link_free[l] < next)
      next = r->link_free[l];
  return next;
}

void spd__router_serve(spd_emu_t *emu, uint32_t ci, uint64_t time) {
  spd_emu_router_t *r = &emu->chips[ci].router;
  if (time != emu->now || (r->wake_at != time && r->wake_at != SPD_EMU_NEVER))
    return; /* superseded by an earlier wake-up */
  r->wake_at = SPD_EMU_NEVER;
  for (;;) {
    if (!r->busy) {
      if (!r->count)
        return;
      if (r->free_at > emu->now) {
        router_wake(emu, ci, r->free_at);
        return;
      }
      spd_emu_packet_t p = r->fifo[r->head];
      r->head = (uint8_t)((r->head + 1) % SPD_ROUTER_FIFO_MAX);
      r->count--;
      bool was_full = r->fill >= emu->cost->router_input_slots;
      r->fill--;
      if (was_full)
        inputs_freed(emu, ci);
      r->free_at = emu->now + emu->cost->router_cycle_ps;
      start_packet(emu, ci, &p);
      if (!r->busy)
        continue;
    }
    try_outputs(emu, ci);
    if (r->pending && emu->now >= r->deadline)
      drop_blocked(emu, ci);
    if (!r->pending) {
      r->busy = false;
      continue;
    }
    router_wake(emu, ci, next_retry(emu, r));
    return;
  }
}
