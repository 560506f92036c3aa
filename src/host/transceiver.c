/* The transceiver's entry points: thin forwards to the transport's table, so
 * callers never know which transport they use. */
#include "spindle/transceiver.h"

int spd_tx_write_sdram(spd_transceiver_t *tx, int x, int y, uint32_t addr, const void *data,
                       size_t len) {
  return tx->ops->write_sdram(tx->state, x, y, addr, data, len);
}

int spd_tx_read_sdram(spd_transceiver_t *tx, int x, int y, uint32_t addr, void *data,
                      size_t len) {
  return tx->ops->read_sdram(tx->state, x, y, addr, data, len);
}

int spd_tx_sdram_alloc(spd_transceiver_t *tx, int x, int y, uint32_t bytes, uint32_t *addr) {
  return tx->ops->sdram_alloc(tx->state, x, y, bytes, addr);
}

int spd_tx_load_routes(spd_transceiver_t *tx, int x, int y, const spd_route_entry_t *entries,
                       uint32_t n) {
  return tx->ops->load_routes(tx->state, x, y, entries, n);
}

int spd_tx_load_kernel(spd_transceiver_t *tx, int x, int y, int core, const char *kernel,
                       uint32_t params_addr) {
  return tx->ops->load_kernel(tx->state, x, y, core, kernel, params_addr);
}

int spd_tx_start(spd_transceiver_t *tx) { return tx->ops->start(tx->state); }

int spd_tx_wait(spd_transceiver_t *tx, uint64_t timeout_ps) {
  return tx->ops->wait(tx->state, timeout_ps);
}

void spd_tx_stop(spd_transceiver_t *tx) { tx->ops->stop(tx->state); }

int spd_tx_core_status(spd_transceiver_t *tx, int x, int y, int core, spd_core_status_t *out) {
  return tx->ops->core_status(tx->state, x, y, core, out);
}

int spd_tx_core_counters(spd_transceiver_t *tx, int x, int y, int core,
                         spd_core_counters_t *out) {
  return tx->ops->core_counters(tx->state, x, y, core, out);
}

int spd_tx_chip_counters(spd_transceiver_t *tx, int x, int y, spd_chip_counters_t *out) {
  return tx->ops->chip_counters(tx->state, x, y, out);
}

int spd_tx_run_counters(spd_transceiver_t *tx, spd_run_counters_t *out) {
  return tx->ops->run_counters(tx->state, out);
}

void spd_transceiver_free(spd_transceiver_t *tx) {
  if (!tx)
    return;
  tx->ops->free(tx->state);
  spd_free(tx->ctx, tx);
}
