/* The emulator's lifecycle, host-side access (SDRAM, tables, kernels), the
 * event loop and the run counters. */
#include <stdio.h>
#include <string.h>

#include "emu/emu_internal.h"

static void chip_init(spd_emu_t *emu, uint32_t i) {
  const spd_machine_t *m = emu->machine;
  spd_emu_chip_t *c = &emu->chips[i];
  c->chip = &m->chips[i];
  spd_router_table_init(&c->router.table);
  c->router.wake_at = SPD_EMU_NEVER;
  spd_sdram_init(&c->sdram, c->chip->sdram_bytes);
  for (int l = 0; l < SPD_LINKS; l++) {
    int nx, ny;
    c->neighbour[l] = -1;
    if ((c->chip->link_mask & (1u << l)) &&
        spd_machine_neighbour(m, c->chip->x, c->chip->y, (spd_link_t)l, &nx, &ny))
      c->neighbour[l] = spd_machine_chip_index(m, nx, ny);
  }
}

int spd_emu_new(spd_ctx_t *ctx, const spd_machine_t *machine, spd_emu_t **out) {
  spd_emu_t *emu = spd_calloc(ctx, 1, sizeof *emu);
  if (!emu)
    return spd_ctx_fail(ctx, SPD_ENOMEM, "emulator: no memory");
  emu->ctx = ctx;
  emu->machine = machine;
  emu->cost = &spd__cost_model;
  emu->n_chips = machine->n_chips;
  emu->chips = spd_calloc(ctx, machine->n_chips ? machine->n_chips : 1, sizeof *emu->chips);
  if (!emu->chips || spd_event_queue_init(&emu->queue, ctx, 4096)) {
    spd_free(ctx, emu->chips);
    spd_free(ctx, emu);
    return spd_ctx_fail(ctx, SPD_ENOMEM, "emulator: no memory for %u chips", machine->n_chips);
  }
  for (uint32_t i = 0; i < emu->n_chips; i++)
    chip_init(emu, i);
  *out = emu;
  return 0;
}

void spd_emu_free(spd_emu_t *emu) {
  if (!emu)
    return;
  spd_ctx_t *ctx = emu->ctx;
  for (uint32_t i = 0; i < emu->n_chips; i++) {
    spd_emu_chip_t *c = &emu->chips[i];
    spd_router_table_deinit(&c->router.table, ctx);
    spd_sdram_deinit(&c->sdram, ctx);
    for (int p = 0; p < SPD_CORES_PER_CHIP; p++)
      if (c->cores[p]) {
        spd_free(ctx, c->cores[p]->dtcm);
        spd_free(ctx, c->cores[p]);
      }
  }
  spd__monitor_free(emu);
  spd_event_queue_deinit(&emu->queue);
  spd_free(ctx, emu->kernels);
  spd_free(ctx, emu->chips);
  spd_free(ctx, emu);
}

int spd_emu_register_kernel(spd_emu_t *emu, const spd_kernel_t *kernel) {
  if (!kernel || !kernel->name || !kernel->main)
    return spd_ctx_fail(emu->ctx, SPD_EINVAL, "emulator: a kernel needs a name and a main");
  if (spd_emu_find_kernel(emu, kernel->name))
    return spd_ctx_fail(emu->ctx, SPD_EINVAL, "emulator: kernel '%s' is already registered",
                        kernel->name);
  if (emu->n_kernels == emu->cap_kernels) {
    uint32_t cap = emu->cap_kernels ? emu->cap_kernels * 2 : 8;
    const spd_kernel_t **k = spd_realloc(emu->ctx, emu->kernels, cap * sizeof *k);
    if (!k)
      return spd_ctx_fail(emu->ctx, SPD_ENOMEM, "emulator: no memory to register a kernel");
    emu->kernels = k;
    emu->cap_kernels = cap;
  }
  emu->kernels[emu->n_kernels++] = kernel;
  return 0;
}

const spd_kernel_t *spd_emu_find_kernel(const spd_emu_t *emu, const char *name) {
  for (uint32_t i = 0; i < emu->n_kernels; i++)
    if (!strcmp(emu->kernels[i]->name, name))
      return emu->kernels[i];
  for (const spd_kernel_t *const *k = spd__builtin_kernels; *k; k++)
    if (!strcmp((*k)->name, name))
      return *k;
  return NULL;
}

static spd_emu_chip_t *chip_at(spd_emu_t *emu, int x, int y) {
  int32_t i = spd_machine_chip_index(emu->machine, x, y);
  if (i < 0) {
    spd_ctx_fail(emu->ctx, SPD_EINVAL, "emulator: there is no working chip at (%d,%d) in %s", x,
                 y, emu->machine->name);
    return NULL;
  }
  return &emu->chips[i];
}

static int sdram_range(spd_emu_t *emu, spd_emu_chip_t *c, uint32_t addr, size_t len) {
  if (addr >= SPD_SDRAM_BASE && spd_sdram_in_range(&c->sdram, addr - SPD_SDRAM_BASE, len))
    return 0;
  return spd_ctx_fail(emu->ctx, SPD_EINVAL,
                      "emulator: %zu bytes at 0x%08x lie outside the SDRAM of chip (%d,%d) "
                      "(0x%08x + %u bytes)",
                      len, addr, c->chip->x, c->chip->y, SPD_SDRAM_BASE, c->sdram.size);
}

int spd_emu_write_sdram(spd_emu_t *emu, int x, int y, uint32_t addr, const void *data,
                        size_t len) {
  spd_emu_chip_t *c = chip_at(emu, x, y);
  if (!c)
    return SPD_EINVAL;
  int rc = sdram_range(emu, c, addr, len);
  if (!rc && spd_sdram_write(&c->sdram, emu->ctx, addr - SPD_SDRAM_BASE, data, len))
    rc = spd_ctx_fail(emu->ctx, SPD_ENOMEM, "emulator: no host memory for SDRAM of chip (%d,%d)",
                      x, y);
  return rc;
}

int spd_emu_read_sdram(spd_emu_t *emu, int x, int y, uint32_t addr, void *data, size_t len) {
  spd_emu_chip_t *c = chip_at(emu, x, y);
  if (!c)
    return SPD_EINVAL;
  int rc = sdram_range(emu, c, addr, len);
  if (!rc)
    spd_sdram_read(&c->sdram, addr - SPD_SDRAM_BASE, data, len);
  return rc;
}

int spd_emu_sdram_alloc(spd_emu_t *emu, int x, int y, uint32_t bytes, uint32_t *addr) {
  spd_emu_chip_t *c = chip_at(emu, x, y);
  if (!c)
    return SPD_EINVAL;
  uint32_t offset;
  if (!spd_sdram_reserve(&c->sdram, bytes, &offset))
    return spd_ctx_fail(emu->ctx, SPD_ESDRAM,
                        "host asked chip (%d,%d) for %u bytes of SDRAM, %u free", x, y, bytes,
                        spd_sdram_free_bytes(&c->sdram));
  *addr = SPD_SDRAM_BASE + offset;
  return 0;
}

int spd_emu_load_routes(spd_emu_t *emu, int x, int y, const spd_route_entry_t *entries,
                        uint32_t n) {
  spd_emu_chip_t *c = chip_at(emu, x, y);
  if (!c)
    return SPD_EINVAL;
  int rc = spd_router_table_load(&c->router.table, emu->ctx, x, y, entries, n);
  if (!rc)
    c->counters.router_entries = n;
  return rc;
}

static int core_slot(spd_emu_t *emu, spd_emu_chip_t *c, int p) {
  if (p <= SPD_MONITOR_CORE || p >= SPD_CORES_PER_CHIP || !(c->chip->core_mask & (1u << p)))
    return spd_ctx_fail(emu->ctx, SPD_EINVAL,
                        "emulator: core %d of chip (%d,%d) is not a working application core",
                        p, c->chip->x, c->chip->y);
  if (c->cores[p])
    return 0;
  spd_core_t *core = spd_calloc(emu->ctx, 1, sizeof *core);
  uint8_t *dtcm = spd_malloc(emu->ctx, SPD_DTCM_BYTES);
  if (!core || !dtcm) {
    spd_free(emu->ctx, core);
    spd_free(emu->ctx, dtcm);
    return spd_ctx_fail(emu->ctx, SPD_ENOMEM, "emulator: no memory for core (%d,%d,%d)",
                        c->chip->x, c->chip->y, p);
  }
  core->ops = &spd__emu_core_platform;
  core->platform = emu;
  core->dtcm = dtcm;
  core->chip = (uint32_t)(c - emu->chips);
  core->x = c->chip->x;
  core->y = c->chip->y;
  core->p = (uint8_t)p;
  core->cycle_ps = emu->cost->core_cycle_ps;
  c->cores[p] = core;
  return 0;
}

int spd_emu_load_kernel(spd_emu_t *emu, int x, int y, int p, const char *name,
                        uint32_t params_addr) {
  spd_emu_chip_t *c = chip_at(emu, x, y);
  if (!c)
    return SPD_EINVAL;
  const spd_kernel_t *kernel = spd_emu_find_kernel(emu, name);
  if (!kernel)
    return spd_ctx_fail(emu->ctx, SPD_ENOTFOUND, "emulator: no kernel named '%s'", name);
  int rc = core_slot(emu, c, p);
  if (rc)
    return rc;
  spd_core_t *core = c->cores[p];
  if (core->state == SPD_CORE_DEAD)
    return spd_ctx_fail(emu->ctx, SPD_ESTATE, "emulator: core (%d,%d,%d) is dead", x, y, p);
  if (core->state == SPD_CORE_RUNNING || core->state == SPD_CORE_LOADED)
    return spd_ctx_fail(emu->ctx, SPD_ESTATE,
                        "emulator: core (%d,%d,%d) is busy with kernel %s", x, y, p,
                        core->kernel->name);
  /* Packets a stopped core never got to send (after a timeout) are lost
   * with it; its counters join the chip's retired ones so run totals and
   * energy still include them. */
  emu->in_flight -= core->tx_count;
  c->router.tx_waiters &= ~(1u << p);
  if (core->kernel)
    spd__counters_retire(&c->retired, &core->counters);
  spd__core_reset(core);
  core->kernel = kernel;
  core->params_addr = params_addr;
  core->state = SPD_CORE_LOADED;
  core->dtcm_limit = SPD_DTCM_BYTES - emu->cost->dtcm_stack_bytes;
  return 0;
}

int spd_emu_kill_core(spd_emu_t *emu, int x, int y, int p, uint64_t after_samples) {
  spd_emu_chip_t *c = chip_at(emu, x, y);
  if (!c || p < 1 || p >= SPD_CORES_PER_CHIP || !(c->chip->core_mask & (1u << p)))
    return spd_ctx_fail(emu->ctx, SPD_EINVAL, "emulator: no application core (%d,%d,%d) to "
                        "kill", x, y, p);
  int rc = core_slot(emu, c, p);
  if (rc)
    return rc;
  emu->kill_core = c->cores[p];
  emu->kill_after = after_samples;
  return 0;
}

int spd_emu_start(spd_emu_t *emu) {
  emu->failed_core = NULL;
  for (uint32_t i = 0; i < emu->n_chips; i++)
    for (int p = 0; p < SPD_CORES_PER_CHIP; p++) {
      spd_core_t *core = emu->chips[i].cores[p];
      if (!core || core->state != SPD_CORE_LOADED)
        continue;
      emu->cores_active++;
      spd__emu_schedule(emu, emu->now, SPD_EV_CORE_START, i, (uint8_t)p, 0, 0, 0, core->gen);
    }
  return emu->error ? spd_ctx_fail(emu->ctx, emu->error, "emulator: out of host memory") : 0;
}

void spd_emu_stop(spd_emu_t *emu) {
  for (uint32_t i = 0; i < emu->n_chips; i++)
    for (int p = 0; p < SPD_CORES_PER_CHIP; p++) {
      spd_core_t *core = emu->chips[i].cores[p];
      if (core && (core->state == SPD_CORE_RUNNING || core->state == SPD_CORE_LOADED))
        spd__core_stop(emu, core, SPD_CORE_EXITED, SPD_ETIMEOUT);
    }
}

static void dispatch(spd_emu_t *emu, const spd_event_t *ev) {
  switch (ev->type) {
  case SPD_EV_ROUTER_ARRIVE: {
    spd_emu_packet_t p = {ev->a, ev->b, ev->unit, ev->flags != 0};
    spd__router_arrive(emu, ev->chip, &p);
    break;
  }
  case SPD_EV_ROUTER_SERVE:
    spd__router_serve(emu, ev->chip, ev->time);
    break;
  case SPD_EV_MONITOR_FIQ:
  case SPD_EV_MONITOR_SEND:
    spd__monitor_event(emu, ev);
    break;
  default: {
    spd_core_t *core = emu->chips[ev->chip].cores[ev->unit];
    if (core && core->gen == ev->gen)
      spd__core_event(emu, ev, core);
    break;
  }
  }
}

/* Take the earliest event at or before @p limit off the queue, let simulated
 * time jump to it and handle it; false when there is none. */
static bool step(spd_emu_t *emu, uint64_t limit) {
  spd_event_t ev;
  if (!spd_event_queue_pop_until(&emu->queue, limit, &ev)) {
    if (emu->queue.failed && !emu->error)
      emu->error = SPD_ENOMEM;
    return false;
  }
  emu->now = ev.time;
  emu->events++;
  dispatch(emu, &ev);
  return true;
}

static int run_failed(spd_emu_t *emu) {
  return spd_ctx_fail(emu->ctx, emu->error, "emulator: out of host memory at %.6f ms simulated",
                      (double)emu->now / 1e9);
}

int spd_emu_run(spd_emu_t *emu, uint64_t limit_ps) {
  while (emu->cores_active || emu->in_flight) {
    if (emu->error)
      return run_failed(emu);
    if (!step(emu, limit_ps)) {
      if (emu->error)
        return run_failed(emu);
      if (limit_ps > emu->now && limit_ps != UINT64_MAX)
        emu->now = limit_ps;
      return spd_ctx_fail(emu->ctx, SPD_ETIMEOUT,
                          "emulator: %u cores still running and %llu packets in flight at "
                          "%.6f ms simulated",
                          emu->cores_active, (unsigned long long)emu->in_flight,
                          (double)emu->now / 1e9);
    }
  }
  if (emu->error)
    return run_failed(emu);
  if (emu->failed_core) {
    const spd_core_t *c = emu->failed_core;
    return spd_ctx_fail(emu->ctx, SPD_EKERNEL, "%s", c->error[0] ? c->error : "a core failed");
  }
  return 0;
}

int spd_emu_advance(spd_emu_t *emu, uint64_t until_ps) {
  while (!emu->error && step(emu, until_ps)) {
  }
  if (emu->error)
    return run_failed(emu);
  if (until_ps > emu->now)
    emu->now = until_ps;
  return 0;
}

uint64_t spd_emu_now_ps(const spd_emu_t *emu) { return emu->now; }
