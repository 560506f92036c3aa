/* Emulated cores. A core has two levels, as under spin1: the interrupt level
 * (taking a packet, timer, DMA done, user event, and callbacks of priority
 * -1/0 that run inside the interrupt) and the task level (queued callbacks of
 * priority 1..4, lowest first). Interrupts pre-empt a running task, which
 * then ends later by the interrupt's time. The preeminent callback (priority
 * -1) runs as spin1 runs it, in the FIQ: it pre-empts a priority-0 callback
 * running in the IRQ as well, which then ends later by its time. A callback runs on the host at its
 * simulated start; the cycles it charges (plus the cost model's per-event
 * costs) keep its level busy. Packets it sends leave at its current time. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "emu/emu_internal.h"

static inline uint64_t core_now(const spd_core_t *core) { return spd_core_time_ps(core); }

void spd_emu_set_observer(spd_emu_t *emu, spd_emu_observer_fn fn, void *ud) {
  emu->observer = fn;
  emu->observer_ud = ud;
}

static void observe(spd_emu_t *emu, const spd_core_t *core, spd_emu_ran_kind_t kind, int event,
                    uint32_t a, uint32_t b, uint64_t cycles) {
  if (emu->observer)
    emu->observer(emu->observer_ud,
                  &(spd_emu_ran_t){kind, core->x, core->y, core->p, core->kernel->name, event, a,
                                   b, cycles});
}

static void occupy_irq(spd_core_t *core, uint64_t now, uint64_t cycles) {
  uint64_t span = cycles * core->cycle_ps;
  core->irq_free = now + span;
  if (core->task_running && core->task_end > now)
    core->task_end += span;
  core->counters.busy_cycles += cycles;
}

/* The FIQ pre-empts whatever runs in the IRQ and the task level. */
static void occupy_fiq(spd_core_t *core, uint64_t now, uint64_t cycles) {
  uint64_t span = cycles * core->cycle_ps;
  core->fiq_free = now + span;
  if (core->irq_free > now)
    core->irq_free += span;
  if (core->task_running && core->task_end > now)
    core->task_end += span;
  core->counters.busy_cycles += cycles;
}

/* When the interrupt levels are free for an event: the FIQ's own callback
 * waits for the FIQ only, any other for both. */
static uint64_t level_free(const spd_core_t *core, bool fiq) {
  if (fiq)
    return core->fiq_free;
  return core->irq_free > core->fiq_free ? core->irq_free : core->fiq_free;
}

static bool is_fiq(const spd_core_t *core, int event) {
  return core->callbacks[event].cb && core->callbacks[event].priority < 0;
}

/* Make sure a TASK event is due when queued work exists: at once, or when
 * the interrupt level and the running task are done. A task that ends with
 * nothing queued schedules nothing, so idle cores cost no events. */
static void kick_tasks(spd_emu_t *emu, spd_core_t *core) {
  if (core->state != SPD_CORE_RUNNING || core->task_event_pending)
    return;
  if (core->in_task) {
    core->task_kicked = true; /* on_task schedules it when the callback ends */
    return;
  }
  if (!core->queued)
    return;
  uint64_t t = level_free(core, false);
  t = t > emu->now ? t : emu->now;
  if (core->task_running && core->task_end > t)
    t = core->task_end;
  core->task_event_pending = true;
  spd__emu_schedule(emu, t, SPD_EV_CORE_TASK, core->chip, core->p, 0, 0, 0, core->gen);
}

/* Deliver event @p event with (a, b) through the interrupt level: a
 * callback of priority <= 0 runs now, others are queued. */
static void interrupt(spd_emu_t *emu, spd_core_t *core, int event, uint32_t a, uint32_t b) {
  const spd_core_callback_t *cb = &core->callbacks[event];
  uint64_t cycles = emu->cost->event_dispatch_cycles;
  bool fiq = false;
  if (!cb->cb) {
    if (event != SPD_EVENT_MC_PACKET && event != SPD_EVENT_MCPL_PACKET)
      return;
    core->counters.discarded_no_callback++;
  } else if (cb->priority <= 0) {
    fiq = cb->priority < 0;
    cycles = spd__core_exec(core, cb->cb, a, b, emu->now, cycles);
    observe(emu, core, SPD_EMU_RAN_IRQ, event, a, b, cycles);
  } else if (!spd__core_enqueue(core, cb->priority, cb->cb, a, b)) {
    if (event == SPD_EVENT_MC_PACKET || event == SPD_EVENT_MCPL_PACKET)
      core->counters.packets_queue_full++;
  } else {
    observe(emu, core, SPD_EMU_RAN_QUEUED, event, a, b, cycles);
  }
  if (fiq)
    occupy_fiq(core, emu->now, cycles);
  else
    occupy_irq(core, emu->now, cycles);
  kick_tasks(emu, core);
}

static bool irq_busy(spd_emu_t *emu, spd_core_t *core, const spd_event_t *ev, bool fiq) {
  uint64_t t = level_free(core, fiq);
  if (t <= emu->now)
    return false;
  spd__emu_schedule(emu, t, ev->type, ev->chip, ev->unit, ev->a, ev->b, ev->flags,
                    ev->gen);
  return true;
}

void spd__core_deliver(spd_emu_t *emu, spd_core_t *core, const spd_emu_packet_t *p) {
  core->rx_full = true;
  core->rx_key = p->key;
  core->rx_payload = p->payload;
  core->rx_with_payload = p->with_payload;
  if (core->rx_event_pending)
    return;
  core->rx_event_pending = true;
  uint64_t t = level_free(core, is_fiq(core, p->with_payload ? SPD_EVENT_MCPL_PACKET
                                                              : SPD_EVENT_MC_PACKET));
  t = t > emu->now ? t : emu->now;
  spd__emu_schedule(emu, t, SPD_EV_CORE_RX, core->chip, core->p, 0, 0, 0, core->gen);
}

static void on_rx(spd_emu_t *emu, const spd_event_t *ev, spd_core_t *core) {
  core->rx_event_pending = false;
  if (core->state != SPD_CORE_RUNNING || !core->rx_full)
    return;
  if (irq_busy(emu, core, ev,
               is_fiq(core, core->rx_with_payload ? SPD_EVENT_MCPL_PACKET : SPD_EVENT_MC_PACKET))) {
    core->rx_event_pending = true;
    return;
  }
  core->rx_full = false;
  core->counters.packets_received++;
  emu->in_flight--;
  spd__router_core_freed(emu, core->chip, core->p);
  interrupt(emu, core, core->rx_with_payload ? SPD_EVENT_MCPL_PACKET : SPD_EVENT_MC_PACKET,
            core->rx_key, core->rx_payload);
}

/* Run the next queued callback, or wait for the interrupt level and the
 * running task. A callback that queues more work (a sender rescheduling
 * itself) would schedule a TASK event at `now` from inside the callback;
 * nothing else it schedules is at `now` (its time is past `now` by at least
 * the task dispatch, and if it stops the core the event would do nothing),
 * so the event is scheduled when the callback ends instead, same place in
 * the order. When nothing else is pending at `now` it would be the very
 * next event taken: it is handled here at once (the loop), which changes
 * nothing but the event count and saves a trip through the queue. */
static void on_task(spd_emu_t *emu, spd_core_t *core) {
  for (;;) {
    core->task_event_pending = false;
    if (core->state != SPD_CORE_RUNNING)
      return;
    uint64_t wait = core->task_running && core->task_end > emu->now ? core->task_end : 0;
    uint64_t irq = level_free(core, false);
    if (!wait && irq > emu->now)
      wait = irq;
    if (wait) {
      core->task_event_pending = true;
      spd__emu_schedule(emu, wait, SPD_EV_CORE_TASK, core->chip, core->p, 0, 0, 0, core->gen);
      return;
    }
    core->task_running = false;
    spd_core_task_t task;
    if (!spd__core_dequeue(core, &task))
      return;
    core->in_task = true;
    core->task_kicked = false;
    uint64_t cycles = spd__core_exec(core, task.cb, task.arg0, task.arg1, emu->now,
                                     emu->cost->task_dispatch_cycles);
    core->in_task = false;
    observe(emu, core, SPD_EMU_RAN_TASK, -1, task.arg0, task.arg1, cycles);
    core->counters.busy_cycles += cycles;
    if (core->state != SPD_CORE_RUNNING)
      return;
    core->task_running = true;
    core->task_end = emu->now + cycles * core->cycle_ps;
    if (!core->task_kicked) {
      kick_tasks(emu, core);
      return;
    }
    if (!spd_event_queue_nothing_now(&emu->queue)) {
      core->task_event_pending = true;
      spd__emu_schedule(emu, emu->now, SPD_EV_CORE_TASK, core->chip, core->p, 0, 0, 0,
                        core->gen);
      return;
    }
  }
}

static void schedule_tick(spd_emu_t *emu, spd_core_t *core, uint64_t from) {
  uint64_t t = from + (uint64_t)core->timer_period_us * 1000000u;
  spd__emu_schedule(emu, t, SPD_EV_CORE_TIMER, core->chip, core->p, core->timer_epoch, 0, 0,
                    core->gen);
}

static void on_start(spd_emu_t *emu, spd_core_t *core) {
  if (core->state != SPD_CORE_LOADED)
    return;
  core->exec_start = emu->now;
  core->exec_cycles = 0;
  int rc = core->kernel->main(core, core->params_addr);
  uint64_t cycles = core->exec_cycles;
  core->counters.busy_cycles += cycles;
  observe(emu, core, SPD_EMU_RAN_MAIN, -1, core->params_addr, 0, cycles);
  if (core->state != SPD_CORE_LOADED)
    return; /* exited inside main */
  if (rc) {
    if (!core->error[0])
      snprintf(core->error, sizeof core->error, "core (%d,%d,%d) kernel %s: main returned %s",
               core->x, core->y, core->p, core->kernel->name, spd_err_name(rc));
    spd__core_stop(emu, core, SPD_CORE_ERROR, rc);
    return;
  }
  core->state = SPD_CORE_RUNNING;
  /* spin1_start enables interrupts only once main is done. */
  uint64_t end = emu->now + cycles * core->cycle_ps;
  core->irq_free = end;
  core->fiq_free = end;
  core->task_running = true;
  core->task_end = end;
  core->task_event_pending = true;
  spd__emu_schedule(emu, end, SPD_EV_CORE_TASK, core->chip, core->p, 0, 0, 0, core->gen);
  if (core->timer_period_us)
    schedule_tick(emu, core, end);
}

static void on_tx(spd_emu_t *emu, spd_core_t *core) {
  core->tx_event_pending = false;
  if (!core->tx_count)
    return;
  spd_core_tx_t *head = &core->tx[core->tx_head];
  uint64_t t = head->time;
  if (t <= emu->now) {
    spd_emu_packet_t p = {head->key, head->payload, SPD_IN_LOCAL, head->with_payload};
    if (!spd__router_inject(emu, core->chip, core->p, &p)) {
      core->tx_blocked = true; /* the router wakes us when a slot frees */
      return;
    }
    core->tx_head = (uint8_t)((core->tx_head + 1) % SPD_CORE_TX_SLOTS);
    core->tx_count--;
    if (!core->tx_count)
      return;
    t = core->tx[core->tx_head].time;
    uint64_t next = emu->now + emu->cost->router_cycle_ps;
    if (t < next)
      t = next;
  }
  core->tx_event_pending = true;
  spd__emu_schedule(emu, t, SPD_EV_CORE_TX, core->chip, core->p, 0, 0, 0, core->gen);
}

static void on_dma(spd_emu_t *emu, spd_core_t *core) {
  if (!core->dma_count)
    return;
  spd_core_dma_req_t req = core->dma[core->dma_head];
  core->dma_head = (uint8_t)((core->dma_head + 1) % SPD_CORE_DMA_SLOTS);
  core->dma_count--;
  spd_sdram_t *sdram = &emu->chips[core->chip].sdram;
  uint32_t offset = req.addr - SPD_SDRAM_BASE;
  if (req.dir == SPD_DMA_READ)
    spd_sdram_read(sdram, offset, req.dtcm, req.bytes);
  else if (spd_sdram_write(sdram, emu->ctx, offset, req.dtcm, req.bytes) && !emu->error)
    emu->error = SPD_ENOMEM;
  core->counters.dma_transfers++;
  core->counters.dma_bytes += req.bytes;
  if (core->state == SPD_CORE_RUNNING)
    interrupt(emu, core, SPD_EVENT_DMA_DONE, req.tid, req.tag);
}

/* Fault injection (spd_emu_kill_core): the core dies as the callback that
 * finished its kill_after-th sample ends, mid-run, as a core whose
 * watchdog fires stops with whatever it held. */
static void maybe_kill(spd_emu_t *emu, spd_core_t *core) {
  if (core != emu->kill_core || core->counters.samples_done < emu->kill_after)
    return;
  emu->kill_core = NULL;
  spd__core_stop(emu, core, SPD_CORE_DEAD, 0);
  snprintf(core->error, sizeof core->error, "core (%d,%d,%d) died (injected fault) after %" PRIu64
           " samples", core->x, core->y, core->p, core->counters.samples_done);
}

void spd__core_event(spd_emu_t *emu, const spd_event_t *ev, spd_core_t *core) {
  switch (ev->type) {
  case SPD_EV_CORE_START:
    on_start(emu, core);
    break;
  case SPD_EV_CORE_TASK:
    on_task(emu, core);
    break;
  case SPD_EV_CORE_RX:
    on_rx(emu, ev, core);
    break;
  case SPD_EV_CORE_TX:
    on_tx(emu, core);
    break;
  case SPD_EV_CORE_DMA:
    on_dma(emu, core);
    break;
  case SPD_EV_CORE_TIMER:
    if (core->state != SPD_CORE_RUNNING || ev->a != core->timer_epoch || !core->timer_period_us)
      break;
    core->ticks++;
    core->counters.timer_ticks++;
    schedule_tick(emu, core, ev->time);
    if (!irq_busy(emu, core, &(spd_event_t){.type = SPD_EV_CORE_IRQ, .chip = ev->chip,
                                             .unit = ev->unit, .a = core->ticks,
                                             .flags = SPD_EVENT_TIMER_TICK, .gen = ev->gen},
                  is_fiq(core, SPD_EVENT_TIMER_TICK)))
      interrupt(emu, core, SPD_EVENT_TIMER_TICK, core->ticks, 0);
    break;
  case SPD_EV_CORE_IRQ:
    if (core->state != SPD_CORE_RUNNING || irq_busy(emu, core, ev, is_fiq(core, ev->flags)))
      break;
    if (ev->flags == SPD_EVENT_USER && core->user_pending)
      core->user_pending--;
    interrupt(emu, core, ev->flags, ev->a, ev->b);
    break;
  default:
    break;
  }
  if (core == emu->kill_core)
    maybe_kill(emu, core);
}

void spd__core_stop(spd_emu_t *emu, spd_core_t *core, spd_core_state_t state, int code) {
  if (core->state != SPD_CORE_RUNNING && core->state != SPD_CORE_LOADED)
    return;
  core->state = state;
  core->exit_code = code;
  for (int i = 0; i < SPD_CORE_PRIORITIES; i++)
    core->queues[i].count = 0;
  core->queued = 0;
  if (core->rx_full) {
    core->rx_full = false;
    emu->chips[core->chip].counters.dropped_core_stopped++;
    emu->in_flight--;
  }
  /* A router waiting for this core's comms controller now drops its copy. */
  spd__router_core_freed(emu, core->chip, core->p);
  if (emu->cores_active)
    emu->cores_active--;
  if (state == SPD_CORE_ERROR && !emu->failed_core)
    emu->failed_core = core;
}

/* The platform operations behind spindle/core.h. */

static int op_send(spd_core_t *core, uint32_t key, uint32_t payload, bool with_payload) {
  spd_emu_t *emu = core->platform;
  core->exec_cycles += emu->cost->send_cycles;
  if (core->tx_count >= SPD_CORE_TX_SLOTS) {
    core->counters.tx_queue_full++;
    return SPD_EQUEUE;
  }
  uint64_t t = core_now(core);
  core->tx[(core->tx_head + core->tx_count) % SPD_CORE_TX_SLOTS] =
      (spd_core_tx_t){t, key, payload, with_payload};
  core->tx_count++;
  core->counters.packets_sent++;
  emu->in_flight++;
  if (!core->tx_event_pending && !core->tx_blocked && core->tx_count == 1) {
    core->tx_event_pending = true;
    spd__emu_schedule(emu, t, SPD_EV_CORE_TX, core->chip, core->p, 0, 0, 0, core->gen);
  }
  return 0;
}

static bool sdram_range(spd_emu_t *emu, spd_core_t *core, uint32_t addr, uint32_t bytes,
                        const char *what) {
  const spd_sdram_t *s = &emu->chips[core->chip].sdram;
  if (addr >= SPD_SDRAM_BASE && spd_sdram_in_range(s, addr - SPD_SDRAM_BASE, bytes))
    return true;
  snprintf(core->error, sizeof core->error,
           "core (%d,%d,%d) kernel %s: %s of %u bytes at 0x%08x is outside the chip's SDRAM",
           core->x, core->y, core->p, core->kernel ? core->kernel->name : "?", what, bytes, addr);
  return false;
}

static int op_dma(spd_core_t *core, uint32_t tag, uint32_t addr, void *dtcm, spd_dma_dir_t dir,
                  uint32_t bytes, uint32_t *tid) {
  spd_emu_t *emu = core->platform;
  spd_emu_chip_t *chip = &emu->chips[core->chip];
  if (!sdram_range(emu, core, addr, bytes, "DMA"))
    return SPD_EINVAL;
  if (core->dma_count >= SPD_CORE_DMA_SLOTS)
    return SPD_EQUEUE;
  core->exec_cycles += emu->cost->dma_setup_cycles;
  /* The core's DMA engine moves one word per dma_ps_per_word (#8) and the
   * chip's SDRAM serves all its cores at sdram_ps_per_word (#5). */
  uint64_t words = bytes / 4u, t = core_now(core);
  uint64_t start = core->dma_free > t ? core->dma_free : t;
  uint64_t end = start + words * emu->cost->dma_ps_per_word;
  uint64_t chip_start = chip->sdram_free_at > start ? chip->sdram_free_at : start;
  chip->sdram_free_at = chip_start + words * emu->cost->sdram_ps_per_word;
  if (chip->sdram_free_at > end)
    end = chip->sdram_free_at;
  core->dma_free = end;
  spd_core_dma_req_t *req = &core->dma[(core->dma_head + core->dma_count) % SPD_CORE_DMA_SLOTS];
  *req = (spd_core_dma_req_t){end, core->next_tid, tag, addr, bytes, dtcm, dir};
  core->dma_count++;
  *tid = core->next_tid++;
  if (!core->next_tid)
    core->next_tid = 1;
  spd__emu_schedule(emu, end, SPD_EV_CORE_DMA, core->chip, core->p, 0, 0, 0, core->gen);
  return 0;
}

static int op_sdram_alloc(spd_core_t *core, uint32_t bytes, uint32_t *addr) {
  spd_emu_t *emu = core->platform;
  spd_sdram_t *s = &emu->chips[core->chip].sdram;
  uint32_t offset;
  if (!spd_sdram_reserve(s, bytes, &offset)) {
    snprintf(core->error, sizeof core->error,
             "core (%d,%d,%d) kernel %s asked for %u bytes of SDRAM, %u free on chip (%d,%d)",
             core->x, core->y, core->p, core->kernel ? core->kernel->name : "?", bytes,
             spd_sdram_free_bytes(s), core->x, core->y);
    return SPD_ESDRAM;
  }
  *addr = SPD_SDRAM_BASE + offset;
  return 0;
}

static int op_sdram_access(spd_core_t *core, uint32_t addr, void *buf, uint32_t bytes,
                           bool write) {
  spd_emu_t *emu = core->platform;
  if (!sdram_range(emu, core, addr, bytes, write ? "SDRAM write" : "SDRAM read"))
    return SPD_EINVAL;
  core->exec_cycles += (uint64_t)((bytes + 3u) / 4u) * emu->cost->sdram_word_cycles;
  spd_sdram_t *s = &emu->chips[core->chip].sdram;
  if (!write) {
    spd_sdram_read(s, addr - SPD_SDRAM_BASE, buf, bytes);
    return 0;
  }
  return spd_sdram_write(s, emu->ctx, addr - SPD_SDRAM_BASE, buf, bytes);
}

static void op_set_timer(spd_core_t *core, uint32_t period_us) {
  spd_emu_t *emu = core->platform;
  core->timer_period_us = period_us;
  core->timer_epoch++;
  if (period_us && core->state == SPD_CORE_RUNNING)
    schedule_tick(emu, core, core_now(core));
}

static int op_user_event(spd_core_t *core, uint32_t arg0, uint32_t arg1) {
  spd_emu_t *emu = core->platform;
  if (core->user_pending >= SPD_CORE_USER_EVENTS)
    return SPD_EQUEUE;
  core->user_pending++;
  spd__emu_schedule(emu, core_now(core), SPD_EV_CORE_IRQ, core->chip, core->p, arg0, arg1,
                    SPD_EVENT_USER, core->gen);
  return 0;
}

static void op_exit(spd_core_t *core, int status) {
  spd__core_stop(core->platform, core, SPD_CORE_EXITED, status);
}

static int op_schedule(spd_core_t *core, spd_core_cb cb, uint32_t a, uint32_t b, int priority) {
  if (!spd__core_enqueue(core, priority, cb, a, b))
    return SPD_EQUEUE;
  kick_tasks(core->platform, core);
  return 0;
}

const spd_core_platform_t spd__emu_core_platform = {
    .schedule = op_schedule,
    .send = op_send,
    .dma = op_dma,
    .sdram_alloc = op_sdram_alloc,
    .sdram_access = op_sdram_access,
    .set_timer = op_set_timer,
    .user_event = op_user_event,
    .exit = op_exit,
};
