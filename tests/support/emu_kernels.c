#include "emu_kernels.h"

#include <string.h>

typedef struct kstate {
  spd_test_kparams_t p;
  spd_test_kresult_t r;
  uint32_t *buf; /* test_dma */
} kstate_t;

static kstate_t *load_state(spd_core_t *core, uint32_t params_addr) {
  kstate_t *s = spd_core_dtcm_alloc(core, sizeof *s);
  if (!s || spd_core_sdram_read(core, params_addr, &s->p, sizeof s->p))
    return NULL;
  spd_core_set_state(core, s);
  return s;
}

static void finish(spd_core_t *core, kstate_t *s) {
  s->r.time_us = (uint32_t)spd_core_time_us(core);
  spd_core_sdram_write(core, s->p.result_addr, &s->r, sizeof s->r);
  spd_core_exit(core, 0);
}

static void sender_tick(spd_core_t *core, uint32_t tick, uint32_t unused) {
  (void)tick;
  (void)unused;
  kstate_t *s = spd_core_get_state(core);
  for (uint32_t i = 0; i < s->p.per_tick && s->r.count < s->p.n_packets; i++) {
    uint32_t key = s->p.key + s->r.count % (s->p.key_span ? s->p.key_span : 1);
    if (spd_core_send_mc(core, key, s->r.count, s->p.with_payload != 0)) {
      s->r.refused++;
      break; /* TX queue full: try again next tick */
    }
    s->r.count++;
  }
  if (s->r.count == s->p.n_packets)
    finish(core, s);
}

static int sender_main(spd_core_t *core, uint32_t params_addr) {
  kstate_t *s = load_state(core, params_addr);
  if (!s)
    return SPD_EINVAL;
  spd_core_callback_on(core, SPD_EVENT_TIMER_TICK, sender_tick, 1);
  spd_core_charge(core, s->p.start_delay_cycles);
  spd_core_set_timer_us(core, s->p.period_us);
  return 0;
}

static void receiver_packet(spd_core_t *core, uint32_t key, uint32_t payload) {
  kstate_t *s = spd_core_get_state(core);
  s->r.count++;
  s->r.checksum += key ^ payload;
  spd_core_count_sample(core); /* each packet a "sample" (spd_emu_kill_core) */
  spd_core_charge(core, s->p.per_packet_cycles);
  if (s->r.count == s->p.expected)
    finish(core, s);
}

static void receiver_tick(spd_core_t *core, uint32_t tick, uint32_t unused) {
  (void)tick;
  (void)unused;
  kstate_t *s = spd_core_get_state(core);
  if (spd_core_time_us(core) >= s->p.deadline_us)
    finish(core, s);
}

static int receiver_main(spd_core_t *core, uint32_t params_addr) {
  kstate_t *s = load_state(core, params_addr);
  if (!s)
    return SPD_EINVAL;
  spd_core_callback_on(core, SPD_EVENT_MC_PACKET, receiver_packet, s->p.priority);
  spd_core_callback_on(core, SPD_EVENT_MCPL_PACKET, receiver_packet, s->p.priority);
  spd_core_callback_on(core, SPD_EVENT_TIMER_TICK, receiver_tick, 2);
  spd_core_set_timer_us(core, s->p.period_us ? s->p.period_us : 10);
  return 0;
}

/* test_dma: DMA n_packets words from SDRAM at `key` into DTCM, add 1 to
 * each, DMA them back, exit. */
static void dma_done(spd_core_t *core, uint32_t tid, uint32_t tag) {
  (void)tid;
  kstate_t *s = spd_core_get_state(core);
  if (tag == 1) {
    for (uint32_t i = 0; i < s->p.n_packets; i++)
      s->buf[i] += 1;
    spd_core_charge(core, 2 * s->p.n_packets);
    uint32_t t;
    if (spd_core_dma(core, 2, s->p.key, s->buf, SPD_DMA_WRITE, 4 * s->p.n_packets, &t))
      spd_core_exit(core, 1);
  } else {
    s->r.count = s->p.n_packets;
    finish(core, s);
  }
}

static int dma_main(spd_core_t *core, uint32_t params_addr) {
  kstate_t *s = load_state(core, params_addr);
  if (!s)
    return SPD_EINVAL;
  s->buf = spd_core_dtcm_alloc(core, 4 * s->p.n_packets);
  if (!s->buf)
    return SPD_EDTCM;
  spd_core_callback_on(core, SPD_EVENT_DMA_DONE, dma_done, 0);
  uint32_t tid;
  return spd_core_dma(core, 1, s->p.key, s->buf, SPD_DMA_READ, 4 * s->p.n_packets, &tid);
}

const spd_kernel_t spd_test_sender_kernel = {"test_sender", sender_main};
const spd_kernel_t spd_test_receiver_kernel = {"test_receiver", receiver_main};
const spd_kernel_t spd_test_dma_kernel = {"test_dma", dma_main};

int spd_test_register_kernels(spd_emu_t *emu) {
  int rc = spd_emu_register_kernel(emu, &spd_test_sender_kernel);
  if (!rc)
    rc = spd_emu_register_kernel(emu, &spd_test_receiver_kernel);
  if (!rc)
    rc = spd_emu_register_kernel(emu, &spd_test_dma_kernel);
  return rc;
}

int spd_test_place(spd_emu_t *emu, int x, int y, int p, const char *kernel,
                   spd_test_kparams_t params, uint32_t *result_addr) {
  uint32_t addr;
  int rc = spd_emu_sdram_alloc(emu, x, y, sizeof params + sizeof(spd_test_kresult_t), &addr);
  if (rc)
    return rc;
  params.result_addr = addr + sizeof params;
  rc = spd_emu_write_sdram(emu, x, y, addr, &params, sizeof params);
  if (!rc)
    rc = spd_emu_load_kernel(emu, x, y, p, kernel, addr);
  if (!rc && result_addr)
    *result_addr = params.result_addr;
  return rc;
}

spd_test_kresult_t spd_test_result(spd_emu_t *emu, int x, int y, uint32_t result_addr) {
  spd_test_kresult_t r;
  memset(&r, 0, sizeof r);
  spd_emu_read_sdram(emu, x, y, result_addr, &r, sizeof r);
  return r;
}
