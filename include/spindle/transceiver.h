/* The transceiver: the only door between the host and a SpiNNaker machine.
 * Everything above host/ (the mapper, sessions, the CLI) talks to the machine
 * through this interface and never knows whether it is the in-process
 * emulator or, later, a real board over UDP (SCP/SDP): both implement the
 * same operations table. See docs/transceiver.md.
 *
 * Addresses are the machine's SDRAM addresses (from 0x60000000 on every
 * chip); times are simulated picoseconds on the emulator and wall-clock
 * picoseconds on hardware. */
#ifndef SPINDLE_TRANSCEIVER_H
#define SPINDLE_TRANSCEIVER_H

#include <stddef.h>
#include <stdint.h>

#include "spindle/context.h"
#include "spindle/machine.h"
#include "spindle/provenance.h"
#include "spindle/route.h"

/** What a transport implements. Every operation returns 0 or a negative
 *  SPD_E* code with a diagnostic in the transceiver's context. */
typedef struct spd_transceiver_ops {
  const char *name; /* "emulator", later "udp" */
  int (*write_sdram)(void *state, int x, int y, uint32_t addr, const void *data, size_t len);
  int (*read_sdram)(void *state, int x, int y, uint32_t addr, void *data, size_t len);
  int (*sdram_alloc)(void *state, int x, int y, uint32_t bytes, uint32_t *addr);
  int (*load_routes)(void *state, int x, int y, const spd_route_entry_t *entries, uint32_t n);
  int (*load_kernel)(void *state, int x, int y, int core, const char *kernel,
                     uint32_t params_addr);
  int (*start)(void *state);
  int (*wait)(void *state, uint64_t timeout_ps);
  int (*core_status)(void *state, int x, int y, int core, spd_core_status_t *out);
  int (*core_counters)(void *state, int x, int y, int core, spd_core_counters_t *out);
  int (*chip_counters)(void *state, int x, int y, spd_chip_counters_t *out);
  int (*run_counters)(void *state, spd_run_counters_t *out);
  void (*free)(void *state);
  void (*stop)(void *state);
} spd_transceiver_ops_t;

/** A transceiver: an operations table and its transport's private state.
 *  Owned by its creator; free with spd_transceiver_free. */
typedef struct spd_transceiver {
  const spd_transceiver_ops_t *ops;
  void *state;
  spd_ctx_t *ctx;
  const spd_machine_t *machine; /* borrowed */
} spd_transceiver_t;

/** A transceiver onto an in-process emulator of @p machine (borrowed; it must
 *  outlive the transceiver). *out is owned by the caller
 *  (spd_transceiver_free). @return 0 or SPD_ENOMEM. */
int spd_transceiver_new_emulated(spd_ctx_t *ctx, const spd_machine_t *machine,
                                 spd_transceiver_t **out);
void spd_transceiver_free(spd_transceiver_t *tx);

/** How a run opens the transceiver to its machine (injected by the caller:
 *  spd_machine_run_opts_t.open_transceiver): a transceiver onto
 *  @p machine (borrowed), with the routers dropping copies with
 *  probability @p inject_drops seeded by @p fault_seed, into *out (the
 *  caller's, spd_transceiver_free). */
typedef int (*spd_transceiver_open_fn)(void *ud, spd_ctx_t *ctx, const spd_machine_t *machine,
                                       double inject_drops, uint64_t fault_seed,
                                       spd_transceiver_t **out);
/** The default spd_transceiver_open_fn: an in-process emulated board whose
 *  monitors reinject dropped packets (as under SpiNNFrontEndCommon's extra
 *  monitors), with the faults asked for. @p ud is unused. */
int spd_transceiver_open_emulated(void *ud, spd_ctx_t *ctx, const spd_machine_t *machine,
                                  double inject_drops, uint64_t fault_seed,
                                  spd_transceiver_t **out);

/** Write / read @p len bytes of chip (x, y)'s SDRAM at @p addr. */
int spd_tx_write_sdram(spd_transceiver_t *tx, int x, int y, uint32_t addr, const void *data,
                       size_t len);
int spd_tx_read_sdram(spd_transceiver_t *tx, int x, int y, uint32_t addr, void *data,
                      size_t len);
/** Reserve @p bytes of chip (x, y)'s SDRAM (as SC&MP's ALLOC); the region's
 *  address goes to @p addr. SPD_ESDRAM names the chip, the bytes and what
 *  is free. */
int spd_tx_sdram_alloc(spd_transceiver_t *tx, int x, int y, uint32_t bytes, uint32_t *addr);
/** Replace chip (x, y)'s multicast table; more than 1023 entries is SPD_EROUTER. */
int spd_tx_load_routes(spd_transceiver_t *tx, int x, int y, const spd_route_entry_t *entries,
                       uint32_t n);
/** Load kernel @p kernel (by name) onto application core @p core of chip
 *  (x, y); it starts with @p params_addr as its parameter address. */
int spd_tx_load_kernel(spd_transceiver_t *tx, int x, int y, int core, const char *kernel,
                       uint32_t params_addr);
/** Start every loaded core. */
int spd_tx_start(spd_transceiver_t *tx);
/** Wait until every started core has exited (0), one failed (SPD_EKERNEL,
 *  diagnostic from the core), or @p timeout_ps passed (SPD_ETIMEOUT). */
int spd_tx_wait(spd_transceiver_t *tx, uint64_t timeout_ps);
/** Stop every loaded or running core (after a timeout, say): they end
 *  exited with code SPD_ETIMEOUT and can be loaded again. */
void spd_tx_stop(spd_transceiver_t *tx);
/** State and exit code of a core (SPD_CORE_IDLE when nothing was loaded). */
int spd_tx_core_status(spd_transceiver_t *tx, int x, int y, int core, spd_core_status_t *out);
/** Provenance: a core's, a chip's (router, links) and the whole run's counters. */
int spd_tx_core_counters(spd_transceiver_t *tx, int x, int y, int core,
                         spd_core_counters_t *out);
int spd_tx_chip_counters(spd_transceiver_t *tx, int x, int y, spd_chip_counters_t *out);
int spd_tx_run_counters(spd_transceiver_t *tx, spd_run_counters_t *out);

/** The emulator behind an emulated transceiver (to register extra kernels in
 *  tests and tools), or NULL for another transport. Declared as void * so
 *  this header does not depend on the emulator. */
void *spd_transceiver_emulator(spd_transceiver_t *tx);

#endif
