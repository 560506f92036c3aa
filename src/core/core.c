/* The on-core API (spindle/core.h): callbacks and spin1 priorities, task
 * queues, the DTCM arena, cycle charging and time. What needs the machine is
 * forwarded to the platform's ops (the emulator). */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/core_impl.h"
#include "spindle/error.h"
#include "spindle/machine.h"

const char *spd_core_state_name(spd_core_state_t state) {
  static const char *const names[] = {"idle", "loaded", "running", "exited", "error", "dead"};
  return (unsigned)state < sizeof names / sizeof names[0] ? names[state] : "unknown";
}

static bool valid_event(int event) {
  return event == SPD_EVENT_MC_PACKET || event == SPD_EVENT_DMA_DONE ||
         event == SPD_EVENT_TIMER_TICK || event == SPD_EVENT_USER ||
         event == SPD_EVENT_MCPL_PACKET;
}

static void core_error(spd_core_t *core, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void core_error(spd_core_t *core, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(core->error, sizeof core->error, fmt, ap);
  va_end(ap);
}

int spd_core_callback_on(spd_core_t *core, spd_core_event_t event, spd_core_cb cb,
                         int priority) {
  if (!valid_event((int)event) || !cb || priority < SPD_PRIORITY_PREEMINENT ||
      priority > SPD_PRIORITY_MAX_QUEUED) {
    core_error(core, "core (%d,%d,%d): callback_on(event %d, priority %d) is invalid", core->x,
               core->y, core->p, (int)event, priority);
    return SPD_EINVAL;
  }
  spd_core_callback_t *slot = &core->callbacks[event];
  if (slot->cb && slot->priority < 0)
    core->have_preeminent = false;
  /* spin1: only one preeminent (FIQ) callback; a second is demoted to 0. */
  if (priority < 0) {
    if (core->have_preeminent)
      priority = 0;
    else
      core->have_preeminent = true;
  }
  slot->cb = cb;
  slot->priority = (int8_t)priority;
  return 0;
}

void spd_core_callback_off(spd_core_t *core, spd_core_event_t event) {
  if (!valid_event((int)event))
    return;
  if (core->callbacks[event].cb && core->callbacks[event].priority < 0)
    core->have_preeminent = false;
  core->callbacks[event].cb = NULL;
}

void spd_core_set_state(spd_core_t *core, void *state) { core->user = state; }
void *spd_core_get_state(const spd_core_t *core) { return core->user; }
int spd_core_chip_x(const spd_core_t *core) { return core->x; }
int spd_core_chip_y(const spd_core_t *core) { return core->y; }
int spd_core_id(const spd_core_t *core) { return core->p; }

int spd_core_send_mc(spd_core_t *core, uint32_t key, uint32_t payload, bool with_payload) {
  return core->ops->send(core, key, payload, with_payload);
}

uint32_t spd_core_tx_free(const spd_core_t *core) {
  return SPD_CORE_TX_SLOTS - core->tx_count;
}

int spd_core_schedule_callback(spd_core_t *core, spd_core_cb cb, uint32_t arg0, uint32_t arg1,
                               int priority) {
  if (!cb || priority < 1 || priority > SPD_PRIORITY_MAX_QUEUED) {
    core_error(core, "core (%d,%d,%d): schedule_callback at priority %d is invalid", core->x,
               core->y, core->p, priority);
    return SPD_EINVAL;
  }
  return core->ops->schedule(core, cb, arg0, arg1, priority);
}

int spd_core_dma(spd_core_t *core, uint32_t tag, uint32_t sdram_addr, void *dtcm,
                 spd_dma_dir_t dir, uint32_t bytes, uint32_t *tid) {
  uint8_t *p = dtcm;
  if ((dir != SPD_DMA_READ && dir != SPD_DMA_WRITE) || bytes == 0 || bytes % 4 ||
      bytes > 128u * 1024u - 4u || !p || p < core->dtcm ||
      (size_t)(p - core->dtcm) + bytes > core->dtcm_used) {
    core_error(core,
               "core (%d,%d,%d) kernel %s: DMA of %u bytes to/from %p is invalid (needs a "
               "multiple of 4 bytes, at most 128 KB - 4, inside allocated DTCM)",
               core->x, core->y, core->p, core->kernel ? core->kernel->name : "?", bytes,
               dtcm);
    return SPD_EINVAL;
  }
  return core->ops->dma(core, tag, sdram_addr, dtcm, dir, bytes, tid);
}

void *spd_core_dtcm_alloc(spd_core_t *core, uint32_t bytes) {
  uint32_t free_bytes = core->dtcm_limit - core->dtcm_used;
  uint64_t rounded = ((uint64_t)bytes + 7u) & ~(uint64_t)7u;
  if (bytes == 0 || rounded > free_bytes) {
    core_error(core, "core (%d,%d,%d) kernel %s asked for %u bytes of DTCM, %u free", core->x,
               core->y, core->p, core->kernel ? core->kernel->name : "?", bytes, free_bytes);
    return NULL;
  }
  uint8_t *p = core->dtcm + core->dtcm_used;
  core->dtcm_used += (uint32_t)rounded;
  memset(p, 0, (size_t)rounded);
  return p;
}

uint32_t spd_core_dtcm_free(const spd_core_t *core) {
  return core->dtcm_limit - core->dtcm_used;
}

int spd_core_sdram_alloc(spd_core_t *core, uint32_t bytes, uint32_t *addr) {
  return core->ops->sdram_alloc(core, bytes, addr);
}

int spd_core_sdram_read(spd_core_t *core, uint32_t addr, void *dst, uint32_t bytes) {
  return core->ops->sdram_access(core, addr, dst, bytes, false);
}

int spd_core_sdram_write(spd_core_t *core, uint32_t addr, const void *src, uint32_t bytes) {
  return core->ops->sdram_access(core, addr, (void *)src, bytes, true);
}

void spd_core_charge(spd_core_t *core, uint32_t cycles) { core->exec_cycles += cycles; }

void spd_core_count_resent(spd_core_t *core, uint32_t n) { core->counters.packets_resent += n; }

void spd_core_count_sample(spd_core_t *core) { core->counters.samples_done++; }

void spd_core_set_timer_us(spd_core_t *core, uint32_t period_us) {
  core->ops->set_timer(core, period_us);
}

uint64_t spd_core_time_ps(const spd_core_t *core) {
  return core->exec_start + core->exec_cycles * core->cycle_ps;
}

uint64_t spd_core_time_us(const spd_core_t *core) { return spd_core_time_ps(core) / 1000000u; }

uint64_t spd_core_time_cycles(const spd_core_t *core) {
  return spd_core_time_ps(core) / core->cycle_ps;
}

int spd_core_trigger_user_event(spd_core_t *core, uint32_t arg0, uint32_t arg1) {
  return core->ops->user_event(core, arg0, arg1);
}

void spd_core_exit(spd_core_t *core, int status) { core->ops->exit(core, status); }

const char *spd_core_error(const spd_core_t *core) { return core->error; }

void spd__core_reset(spd_core_t *core) {
  const spd_core_platform_t *ops = core->ops;
  void *platform = core->platform;
  uint8_t *dtcm = core->dtcm;
  uint32_t chip = core->chip;
  uint16_t x = core->x, y = core->y;
  uint8_t p = core->p, gen = core->gen;
  uint64_t cycle_ps = core->cycle_ps;
  memset(core, 0, sizeof *core);
  core->ops = ops;
  core->platform = platform;
  core->dtcm = dtcm;
  core->chip = chip;
  core->x = x;
  core->y = y;
  core->p = p;
  core->gen = (uint8_t)(gen + 1);
  core->cycle_ps = cycle_ps;
  core->next_tid = 1;
}

bool spd__core_enqueue(spd_core_t *core, int priority, spd_core_cb cb, uint32_t a, uint32_t b) {
  spd_core_task_queue_t *q = &core->queues[priority - 1];
  if (q->count >= SPD_CORE_QUEUE_SLOTS - 1) {
    core->counters.task_queue_full++;
    return false;
  }
  spd_core_task_t *t = &q->slots[(q->head + q->count) % SPD_CORE_QUEUE_SLOTS];
  t->cb = cb;
  t->arg0 = a;
  t->arg1 = b;
  q->count++;
  core->queued |= (uint8_t)(1u << (priority - 1));
  return true;
}

bool spd__core_dequeue(spd_core_t *core, spd_core_task_t *out) {
  if (!core->queued)
    return false;
  int i = __builtin_ctz(core->queued); /* the highest priority holding a task */
  spd_core_task_queue_t *q = &core->queues[i];
  *out = q->slots[q->head];
  q->head = (uint8_t)((q->head + 1) % SPD_CORE_QUEUE_SLOTS);
  if (!--q->count)
    core->queued &= (uint8_t)~(1u << i);
  return true;
}

uint64_t spd__core_exec(spd_core_t *core, spd_core_cb cb, uint32_t a, uint32_t b, uint64_t now,
                        uint64_t cycles) {
  core->exec_start = now;
  core->exec_cycles = cycles;
  cb(core, a, b);
  core->counters.callbacks++;
  return core->exec_cycles;
}
