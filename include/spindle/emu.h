/* The SpiNNaker1 emulator: a deterministic discrete-event simulation of a
 * spd_machine_t's routers, links, cores, DMA and SDRAM, in picoseconds of
 * simulated time (docs/emulator.md; every constant in docs/cost-model.md).
 * The host normally drives it through the transceiver (spindle/transceiver.h);
 * this API is for the transceiver itself, tests and benchmarks. */
#ifndef SPINDLE_EMU_H
#define SPINDLE_EMU_H

#include <stdbool.h>
#include <stdint.h>

#include "spindle/context.h"
#include "spindle/core.h"
#include "spindle/machine.h"
#include "spindle/provenance.h"
#include "spindle/route.h"

/* SPINNAKER.md §1: the SDRAM window seen by the cores (buffered). */
#define SPD_SDRAM_BASE 0x60000000u

typedef struct spd_emu spd_emu_t;

/** Emulate @p machine (borrowed: it must outlive the emulator). SDRAM and
 *  core memory are allocated on first use, so big machines cost little
 *  until used. *out is owned by the caller (spd_emu_free).
 *  @return 0, SPD_ENOMEM. */
int spd_emu_new(spd_ctx_t *ctx, const spd_machine_t *machine, spd_emu_t **out);
void spd_emu_free(spd_emu_t *emu);

/** Make @p kernel loadable by its name (in addition to the built-in
 *  registry, src/emu/kernel_registry.c). The kernel is borrowed.
 *  @return 0, SPD_EINVAL (name already taken), SPD_ENOMEM. */
int spd_emu_register_kernel(spd_emu_t *emu, const spd_kernel_t *kernel);
/** The kernel registered (or built in) under @p name, or NULL. */
const spd_kernel_t *spd_emu_find_kernel(const spd_emu_t *emu, const char *name);

/** SDRAM of chip (x, y), addresses from SPD_SDRAM_BASE.
 *  @return 0, SPD_EINVAL (no such chip, range outside SDRAM), SPD_ENOMEM. */
int spd_emu_write_sdram(spd_emu_t *emu, int x, int y, uint32_t addr, const void *data,
                        size_t len);
int spd_emu_read_sdram(spd_emu_t *emu, int x, int y, uint32_t addr, void *data, size_t len);
/** Allocate @p bytes of chip (x, y)'s SDRAM for the host.
 *  @return 0, SPD_EINVAL, SPD_ESDRAM (diagnostic: who, how much, how much free). */
int spd_emu_sdram_alloc(spd_emu_t *emu, int x, int y, uint32_t bytes, uint32_t *addr);

/** Replace chip (x, y)'s routing table. @return 0, SPD_EINVAL (no such chip),
 *  SPD_EROUTER (more than 1023 entries; diagnostic names chip and count). */
int spd_emu_load_routes(spd_emu_t *emu, int x, int y, const spd_route_entry_t *entries,
                        uint32_t n);

/** Load kernel @p name onto core @p core of chip (x, y) with its parameters
 *  at @p params_addr. The core must be an application core that works and is
 *  not running. @return 0, SPD_EINVAL, SPD_ENOTFOUND (no such kernel),
 *  SPD_ESTATE (core running), SPD_ENOMEM. */
int spd_emu_load_kernel(spd_emu_t *emu, int x, int y, int core, const char *name,
                        uint32_t params_addr);

/** Start every loaded core: each runs its main() at the current time. */
/**
 * Whether each chip's monitor core reinjects dropped packets (off when
 * created): the router latches one dropped packet at a time in its dump
 * registers, the monitor queues it and sends it again; a packet dropped
 * while the registers are full is lost (docs/emulator.md, "Reinjection").
 */
void spd_emu_set_reinjection(spd_emu_t *emu, bool on);

/**
 * Fault injection: a router drops one copy of each packet it hands to its
 * outputs with probability @p probability (0 turns it off), drawn from a
 * Philox stream per chip seeded by @p seed, so a run's drops repeat.
 * @return 0, or SPD_EINVAL for a probability outside [0, 1].
 */
int spd_emu_inject_drops(spd_emu_t *emu, double probability, uint64_t seed);

/**
 * Fault injection: application core @p p of chip (x, y) dies once its
 * kernel has finished @p after_samples samples (spd_core_count_sample; 0:
 * at its next event). A dead core stops where it is, as one whose watchdog
 * fired: it takes no more packets (they drop, and cannot be reinjected),
 * sends nothing, reports SPD_CORE_DEAD and refuses kernels from then on.
 * One such fault at a time; a later call replaces it.
 * @return 0, SPD_EINVAL (no such application core), SPD_ENOMEM.
 */
int spd_emu_kill_core(spd_emu_t *emu, int x, int y, int p, uint64_t after_samples);

/** What a core ran (spd_emu_set_observer): its kernel's main
 *  (SPD_EMU_RAN_MAIN, a0 = the data specification's address), an event
 *  through the interrupt level (SPD_EMU_RAN_IRQ: the callback ran there,
 *  SPD_EMU_RAN_QUEUED: it was queued for the task level) or a queued
 *  callback (SPD_EMU_RAN_TASK), with the cycles the emulator charged for it
 *  (dispatch included; none for a queued event, whose dispatch the
 *  interrupt level's own cycles hold). */
typedef enum spd_emu_ran_kind {
  SPD_EMU_RAN_MAIN, SPD_EMU_RAN_IRQ, SPD_EMU_RAN_QUEUED, SPD_EMU_RAN_TASK
} spd_emu_ran_kind_t;
typedef struct spd_emu_ran {
  spd_emu_ran_kind_t kind;
  int x, y, p;
  const char *kernel;
  int event;             /* spd_core_event_t (IRQ and QUEUED) */
  uint32_t a0, a1;       /* the callback's arguments */
  uint64_t cycles;       /* charged: dispatch, the kernel's charges, sends */
} spd_emu_ran_t;
typedef void (*spd_emu_observer_fn)(void *ud, const spd_emu_ran_t *ran);

/** Call @p fn (NULL: none) with everything any core runs from now on, in
 *  the order it runs: how make bench-calibrate records what the emulator
 *  charges each callback (docs/calibration.md). @p ud is borrowed. */
void spd_emu_set_observer(spd_emu_t *emu, spd_emu_observer_fn fn, void *ud);

int spd_emu_start(spd_emu_t *emu);

/** Stop every loaded or running core (as the host's "stop application"
 *  signal): each ends in the exited state with exit code SPD_ETIMEOUT, so it
 *  can be reloaded. Packets in flight still finish their journeys. */
void spd_emu_stop(spd_emu_t *emu);

/** Run until every started core has exited (or failed) and no packet is in
 *  flight, or until simulated time @p limit_ps (absolute).
 *  @return 0; SPD_ETIMEOUT at the limit (time then equals the limit);
 *  SPD_ENOMEM when the emulator ran out of host memory. */
int spd_emu_run(spd_emu_t *emu, uint64_t limit_ps);

/** Run every event up to @p until_ps and set the time to it (idle time
 *  counts for energy). @return 0 or SPD_ENOMEM. */
int spd_emu_advance(spd_emu_t *emu, uint64_t until_ps);

/** Current simulated time. */
uint64_t spd_emu_now_ps(const spd_emu_t *emu);

/** Whole-run counters, with the energy estimate. */
void spd_emu_run_counters(const spd_emu_t *emu, spd_run_counters_t *out);
/** Counters of chip (x, y) / core p. @return 0 or SPD_EINVAL. */
int spd_emu_chip_counters(const spd_emu_t *emu, int x, int y, spd_chip_counters_t *out);
int spd_emu_core_counters(const spd_emu_t *emu, int x, int y, int core,
                          spd_core_counters_t *out);
int spd_emu_core_status(const spd_emu_t *emu, int x, int y, int core, spd_core_status_t *out);

#endif
