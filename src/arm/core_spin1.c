/* The on-core API (spindle/core.h) on spin1 (SPINNAKER.md §6): the thin
 * shim an ARM image of a kernel links (docs/calibration.md). One image runs
 * one kernel on one core, so the handle is a single static struct and each
 * spin1 callback (which gets two words and no handle) goes through a
 * trampoline that adds it. What spin1 does itself (priorities, queues, the
 * TX queue, DMA, the timer) is left to spin1; the shim keeps what the
 * kernels count on exactly: the DTCM arena's 8-byte rounding and free
 * bytes (the partitioner plans DTCM with the same arithmetic), the state
 * pointer and the error codes.
 *
 * Built by scripts/arm_build.py with -DSPD_ARM_KERNEL=<the spd_kernel_t>,
 * freestanding for the ARM968E-S; it links against src/arm/spin1_stub.c
 * (weak stand-ins) here and against spinnaker_tools on a board. */
#include <string.h>

#include "arm/spin1_api.h"
#include "kernels/kernels.h"
#include "spindle/core.h"
#include "spindle/error.h"

#ifndef SPD_ARM_KERNEL
#error "build with -DSPD_ARM_KERNEL=<the kernel's spd_kernel_t> (scripts/arm_build.py)"
#endif
extern const spd_kernel_t SPD_ARM_KERNEL;

/* spinnaker_tools sark.h: the comms controller's transmit control register
 * and its "TX full" bit. */
#define CC_TCR ((volatile uint32_t *)0x10000000u)
#define TX_FULL_MASK 0x40000000u
/* spin1's queued callbacks: four priorities of 16 slots (SPINNAKER.md #26). */
#define DEFER_SLOTS 64u
#define DTCM_STACKS 0u /* sark_heap_max already excludes the stacks */

struct spd_core {
  const spd_kernel_t *kernel;
  void *user;
  spd_core_cb cb[SPD_EVENT_COUNT];
  uint8_t *dtcm;
  uint32_t dtcm_used, dtcm_limit;
  uint32_t timer_us;
  int exit_code;
  /* spd_core_schedule_callback's (cb, arg0, arg1), while spin1 holds the
   * slot's index */
  struct {
    spd_core_cb cb;
    uint32_t a0, a1;
  } defer[DEFER_SLOTS];
  uint32_t defer_next;
  const char *error;
};

static spd_core_t the_core;

static void on_mc(uint a, uint b) { the_core.cb[SPD_EVENT_MC_PACKET](&the_core, a, b); }
static void on_dma(uint a, uint b) { the_core.cb[SPD_EVENT_DMA_DONE](&the_core, a, b); }
static void on_timer(uint a, uint b) { the_core.cb[SPD_EVENT_TIMER_TICK](&the_core, a, b); }
static void on_user(uint a, uint b) { the_core.cb[SPD_EVENT_USER](&the_core, a, b); }
static void on_mcpl(uint a, uint b) { the_core.cb[SPD_EVENT_MCPL_PACKET](&the_core, a, b); }

static callback_t trampoline(spd_core_event_t event) {
  switch (event) {
  case SPD_EVENT_MC_PACKET: return on_mc;
  case SPD_EVENT_DMA_DONE: return on_dma;
  case SPD_EVENT_TIMER_TICK: return on_timer;
  case SPD_EVENT_USER: return on_user;
  case SPD_EVENT_MCPL_PACKET: return on_mcpl;
  default: return 0;
  }
}

int spd_core_callback_on(spd_core_t *core, spd_core_event_t event, spd_core_cb cb,
                         int priority) {
  callback_t t = (unsigned)event < SPD_EVENT_COUNT ? trampoline(event) : 0;
  if (!t || !cb || priority < SPD_PRIORITY_PREEMINENT || priority > SPD_PRIORITY_MAX_QUEUED) {
    core->error = "callback_on: invalid event or priority";
    return SPD_EINVAL;
  }
  core->cb[event] = cb;
  spin1_callback_on((uint)event, t, priority);
  return 0;
}

void spd_core_callback_off(spd_core_t *core, spd_core_event_t event) {
  if ((unsigned)event >= SPD_EVENT_COUNT || !trampoline(event))
    return;
  spin1_callback_off((uint)event);
  core->cb[event] = 0;
}

void spd_core_set_state(spd_core_t *core, void *state) { core->user = state; }
void *spd_core_get_state(const spd_core_t *core) { return core->user; }
int spd_core_chip_x(const spd_core_t *core) { return (void)core, (int)(spin1_get_chip_id() >> 8); }
int spd_core_chip_y(const spd_core_t *core) {
  return (void)core, (int)(spin1_get_chip_id() & 0xffu);
}
int spd_core_id(const spd_core_t *core) { return (void)core, (int)spin1_get_core_id(); }

int spd_core_send_mc(spd_core_t *core, uint32_t key, uint32_t payload, bool with_payload) {
  (void)core;
  return spin1_send_mc_packet(key, payload, with_payload ? WITH_PAYLOAD : NO_PAYLOAD) == SUCCESS
             ? 0
             : SPD_EQUEUE;
}

/* spin1 keeps its own software TX queue behind the comms controller and
 * says only whether a send was taken: one free slot while the controller
 * takes packets, none when it is full (kernels send one packet per task). */
uint32_t spd_core_tx_free(const spd_core_t *core) {
  (void)core;
  return (*CC_TCR & TX_FULL_MASK) ? 0u : 1u;
}

static void run_deferred(uint slot, uint unused) {
  (void)unused;
  spd_core_t *core = &the_core;
  spd_core_cb cb = core->defer[slot].cb;
  core->defer[slot].cb = 0;
  cb(core, core->defer[slot].a0, core->defer[slot].a1);
}

int spd_core_schedule_callback(spd_core_t *core, spd_core_cb cb, uint32_t arg0, uint32_t arg1,
                               int priority) {
  if (!cb || priority < 1 || priority > SPD_PRIORITY_MAX_QUEUED) {
    core->error = "schedule_callback: invalid priority";
    return SPD_EINVAL;
  }
  for (uint32_t k = 0; k < DEFER_SLOTS; k++) {
    uint32_t slot = (core->defer_next + k) % DEFER_SLOTS;
    if (core->defer[slot].cb)
      continue;
    core->defer[slot].cb = cb;
    core->defer[slot].a0 = arg0;
    core->defer[slot].a1 = arg1;
    if (spin1_schedule_callback(run_deferred, slot, 0, (uint)priority) != SUCCESS) {
      core->defer[slot].cb = 0;
      return SPD_EQUEUE;
    }
    core->defer_next = slot + 1;
    return 0;
  }
  return SPD_EQUEUE;
}

int spd_core_dma(spd_core_t *core, uint32_t tag, uint32_t sdram_addr, void *dtcm,
                 spd_dma_dir_t dir, uint32_t bytes, uint32_t *tid) {
  uint8_t *p = dtcm;
  if ((dir != SPD_DMA_READ && dir != SPD_DMA_WRITE) || bytes == 0 || bytes % 4 ||
      bytes > 128u * 1024u - 4u || !p || p < core->dtcm ||
      (uint32_t)(p - core->dtcm) + bytes > core->dtcm_used) {
    core->error = "DMA: bad size, direction or DTCM range";
    return SPD_EINVAL;
  }
  uint id = spin1_dma_transfer(tag, (void *)(uintptr_t)sdram_addr, dtcm,
                               dir == SPD_DMA_READ ? DMA_READ : DMA_WRITE, bytes);
  if (id == FAILURE)
    return SPD_EQUEUE;
  *tid = id;
  return 0;
}

/* The arena the kernels plan with (src/core/core.c): 8-byte rounding,
 * zeroed, never freed. */
void *spd_core_dtcm_alloc(spd_core_t *core, uint32_t bytes) {
  uint32_t free_bytes = core->dtcm_limit - core->dtcm_used;
  uint32_t rounded = (bytes + 7u) & ~7u;
  if (bytes == 0 || rounded < bytes || rounded > free_bytes) {
    core->error = "DTCM exhausted";
    return 0;
  }
  uint8_t *p = core->dtcm + core->dtcm_used;
  core->dtcm_used += rounded;
  memset(p, 0, rounded);
  return p;
}

uint32_t spd_core_dtcm_free(const spd_core_t *core) { return core->dtcm_limit - core->dtcm_used; }

int spd_core_sdram_alloc(spd_core_t *core, uint32_t bytes, uint32_t *addr) {
  void *p = sark_xalloc(spd_spin1_sdram_heap(), bytes, 0, ALLOC_LOCK);
  if (!p) {
    core->error = "SDRAM exhausted";
    return SPD_ESDRAM;
  }
  *addr = (uint32_t)(uintptr_t)p;
  return 0;
}

/* SDRAM is memory mapped on the chip: a direct access is a load or store
 * (what the emulator charges per word). */
#ifdef SPD_ARM_CALIBRATE
void calib_sdram_bytes(uint32_t bytes);
#else
#define calib_sdram_bytes(bytes) ((void)0)
#endif

int spd_core_sdram_read(spd_core_t *core, uint32_t addr, void *dst, uint32_t bytes) {
  (void)core;
  calib_sdram_bytes(bytes);
  memcpy(dst, (const void *)(uintptr_t)addr, bytes);
  return 0;
}

int spd_core_sdram_write(spd_core_t *core, uint32_t addr, const void *src, uint32_t bytes) {
  (void)core;
  calib_sdram_bytes(bytes);
  memcpy((void *)(uintptr_t)addr, src, bytes);
  return 0;
}

/* On the chip the work costs what it costs: the emulator's charges are
 * what the cycle calibration compares against (docs/calibration.md). */
void spd_core_charge(spd_core_t *core, uint32_t cycles) { (void)core, (void)cycles; }

/* The resend count is provenance the host reads back; a board keeps it in
 * the core's state, where its provenance region would be written from. */
static uint32_t packets_resent;

void spd_core_count_resent(spd_core_t *core, uint32_t n) {
  (void)core;
  packets_resent += n;
}

static uint32_t samples_done;

void spd_core_count_sample(spd_core_t *core) {
  (void)core;
  samples_done++;
}

void spd_core_set_timer_us(spd_core_t *core, uint32_t period_us) {
  core->timer_us = period_us;
  spin1_set_timer_tick(period_us);
}

uint64_t spd_core_time_us(const spd_core_t *core) {
  return (uint64_t)spin1_get_simulation_time() * core->timer_us;
}
uint64_t spd_core_time_ps(const spd_core_t *core) { return spd_core_time_us(core) * 1000000u; }
uint64_t spd_core_time_cycles(const spd_core_t *core) { return spd_core_time_us(core) * 200u; }

int spd_core_trigger_user_event(spd_core_t *core, uint32_t arg0, uint32_t arg1) {
  (void)core;
  return spin1_trigger_user_event(arg0, arg1) == SUCCESS ? 0 : SPD_EQUEUE;
}

void spd_core_exit(spd_core_t *core, int status) {
  core->exit_code = status;
  spin1_exit((uint)status);
}

const char *spd_core_error(const spd_core_t *core) { return core->error ? core->error : ""; }

#ifdef SPD_ARM_CALIBRATE
/* make bench-calibrate's harness (src/arm/calib_harness.c) names what it
 * plays: the core's state and the kernel callback behind a deferred slot. */
spd_core_t *spd__arm_core(void) { return &the_core; }
spd_core_cb spd__arm_deferred(uint32_t slot) { return the_core.defer[slot % DEFER_SLOTS].cb; }
#endif

/* spin1's application entry: claim the DTCM heap as the arena, run the
 * kernel's main with its data specification's address (user0), then hand
 * the core to spin1's event loop. */
void c_main(void) {
  spd_core_t *core = &the_core;
  core->kernel = &SPD_ARM_KERNEL;
  core->dtcm_limit = spd_spin1_dtcm_heap_max() - DTCM_STACKS;
  core->dtcm = spin1_malloc(core->dtcm_limit);
  if (!core->dtcm)
    core->dtcm_limit = 0;
  int err = core->kernel->main(core, spd_spin1_user0());
  if (err) {
    spin1_exit((uint)err);
    return;
  }
  spin1_start(SYNC_NOWAIT);
}
