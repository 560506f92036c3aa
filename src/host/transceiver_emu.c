/* The emulated transport: the transceiver's operations on an in-process
 * emulator (spindle/emu.h). */
#include <string.h>

#include "spindle/emu.h"
#include "spindle/transceiver.h"

static int emu_write_sdram(void *s, int x, int y, uint32_t addr, const void *data, size_t len) {
  return spd_emu_write_sdram(s, x, y, addr, data, len);
}

static int emu_read_sdram(void *s, int x, int y, uint32_t addr, void *data, size_t len) {
  return spd_emu_read_sdram(s, x, y, addr, data, len);
}

static int emu_sdram_alloc(void *s, int x, int y, uint32_t bytes, uint32_t *addr) {
  return spd_emu_sdram_alloc(s, x, y, bytes, addr);
}

static int emu_load_routes(void *s, int x, int y, const spd_route_entry_t *e, uint32_t n) {
  return spd_emu_load_routes(s, x, y, e, n);
}

static int emu_load_kernel(void *s, int x, int y, int core, const char *kernel, uint32_t params) {
  return spd_emu_load_kernel(s, x, y, core, kernel, params);
}

static int emu_start(void *s) { return spd_emu_start(s); }

static int emu_wait(void *s, uint64_t timeout_ps) {
  uint64_t now = spd_emu_now_ps(s);
  uint64_t limit = timeout_ps > UINT64_MAX - now ? UINT64_MAX : now + timeout_ps;
  return spd_emu_run(s, limit);
}

static int emu_core_status(void *s, int x, int y, int core, spd_core_status_t *out) {
  return spd_emu_core_status(s, x, y, core, out);
}

static int emu_core_counters(void *s, int x, int y, int core, spd_core_counters_t *out) {
  return spd_emu_core_counters(s, x, y, core, out);
}

static int emu_chip_counters(void *s, int x, int y, spd_chip_counters_t *out) {
  return spd_emu_chip_counters(s, x, y, out);
}

static int emu_run_counters(void *s, spd_run_counters_t *out) {
  spd_emu_run_counters(s, out);
  return 0;
}

static void emu_free(void *s) { spd_emu_free(s); }

static void emu_stop(void *s) { spd_emu_stop(s); }

static const spd_transceiver_ops_t emulated_ops = {
    .name = "emulator",
    .write_sdram = emu_write_sdram,
    .read_sdram = emu_read_sdram,
    .sdram_alloc = emu_sdram_alloc,
    .load_routes = emu_load_routes,
    .load_kernel = emu_load_kernel,
    .start = emu_start,
    .wait = emu_wait,
    .core_status = emu_core_status,
    .core_counters = emu_core_counters,
    .chip_counters = emu_chip_counters,
    .run_counters = emu_run_counters,
    .free = emu_free,
    .stop = emu_stop,
};

int spd_transceiver_new_emulated(spd_ctx_t *ctx, const spd_machine_t *machine,
                                 spd_transceiver_t **out) {
  spd_transceiver_t *tx = spd_calloc(ctx, 1, sizeof *tx);
  if (!tx)
    return spd_ctx_fail(ctx, SPD_ENOMEM, "transceiver: no memory");
  spd_emu_t *emu;
  int rc = spd_emu_new(ctx, machine, &emu);
  if (rc) {
    spd_free(ctx, tx);
    return rc;
  }
  tx->ops = &emulated_ops;
  tx->state = emu;
  tx->ctx = ctx;
  tx->machine = machine;
  *out = tx;
  return 0;
}

void *spd_transceiver_emulator(spd_transceiver_t *tx) {
  return tx->ops == &emulated_ops ? tx->state : NULL;
}

int spd_transceiver_open_emulated(void *ud, spd_ctx_t *ctx, const spd_machine_t *machine,
                                  double inject_drops, uint64_t fault_seed,
                                  spd_transceiver_t **out) {
  (void)ud;
  spd_transceiver_t *tx;
  int err = spd_transceiver_new_emulated(ctx, machine, &tx);
  if (err)
    return err;
  spd_emu_set_reinjection(tx->state, true);
  err = spd_emu_inject_drops(tx->state, inject_drops, fault_seed);
  if (err) {
    spd_transceiver_free(tx);
    return err;
  }
  *out = tx;
  return 0;
}
