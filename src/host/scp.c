/* SDP/SCP headers and the provenance payloads (src/host/scp.h). */
#include "host/scp.h"

#include <stddef.h>
#include <string.h>

int spd__scp_parse(const uint8_t *in, size_t len, spd_scp_msg_t *m) {
  if (!in || len < SPD_SCP_BODY)
    return -1;
  const uint8_t *h = in + SPD_SCP_PAD;
  *m = (spd_scp_msg_t){.flags = h[0], .tag = h[1], .dest_port_cpu = h[2],
                       .src_port_cpu = h[3], .dest_y = h[4], .dest_x = h[5],
                       .src_y = h[6], .src_x = h[7],
                       .cmd_rc = (uint16_t)(h[8] | h[9] << 8),
                       .seq = (uint16_t)(h[10] | h[11] << 8),
                       .body = in + SPD_SCP_BODY, .body_len = len - SPD_SCP_BODY};
  return 0;
}

void spd__scp_head(const spd_scp_msg_t *m, uint8_t *out) {
  uint8_t head[SPD_SCP_BODY] = {0, 0, m->flags, m->tag, m->dest_port_cpu, m->src_port_cpu,
                                m->dest_y, m->dest_x, m->src_y, m->src_x,
                                (uint8_t)m->cmd_rc, (uint8_t)(m->cmd_rc >> 8),
                                (uint8_t)m->seq, (uint8_t)(m->seq >> 8)};
  memcpy(out, head, sizeof head);
}

/* One counter: where it is in its struct and how wide (8: uint64_t,
 * 4: uint32_t, 'd': double, sent as its IEEE-754 bits). */
typedef struct field {
  size_t offset;
  int kind;
} field_t;

#define U64(type, f) {offsetof(type, f), 8}
#define U32(type, f) {offsetof(type, f), 4}

static const field_t core_fields[] = {
    U64(spd_core_counters_t, busy_cycles), U64(spd_core_counters_t, callbacks),
    U64(spd_core_counters_t, packets_sent), U64(spd_core_counters_t, packets_received),
    U64(spd_core_counters_t, tx_queue_full), U64(spd_core_counters_t, discarded_no_callback),
    U64(spd_core_counters_t, task_queue_full), U64(spd_core_counters_t, packets_queue_full),
    U64(spd_core_counters_t, dma_transfers), U64(spd_core_counters_t, dma_bytes),
    U64(spd_core_counters_t, timer_ticks), U64(spd_core_counters_t, packets_resent)};

static const field_t chip_fields[] = {
    U64(spd_chip_counters_t, routed), U64(spd_chip_counters_t, injected),
    U64(spd_chip_counters_t, delivered), U64(spd_chip_counters_t, default_routed),
    U64(spd_chip_counters_t, dropped_wait1), U64(spd_chip_counters_t, dropped_unmatched),
    U64(spd_chip_counters_t, dropped_core_stopped),
    U64(spd_chip_counters_t, link_packets[0]), U64(spd_chip_counters_t, link_packets[1]),
    U64(spd_chip_counters_t, link_packets[2]), U64(spd_chip_counters_t, link_packets[3]),
    U64(spd_chip_counters_t, link_packets[4]), U64(spd_chip_counters_t, link_packets[5]),
    U64(spd_chip_counters_t, link_dropped[0]), U64(spd_chip_counters_t, link_dropped[1]),
    U64(spd_chip_counters_t, link_dropped[2]), U64(spd_chip_counters_t, link_dropped[3]),
    U64(spd_chip_counters_t, link_dropped[4]), U64(spd_chip_counters_t, link_dropped[5]),
    U64(spd_chip_counters_t, bits_routed), U64(spd_chip_counters_t, dropped_injected),
    U64(spd_chip_counters_t, dumped), U64(spd_chip_counters_t, reinjected),
    U64(spd_chip_counters_t, lost), U32(spd_chip_counters_t, router_entries)};

static const field_t run_fields[] = {
    U64(spd_run_counters_t, sim_time_ps), U64(spd_run_counters_t, events),
    U64(spd_run_counters_t, packets_sent), U64(spd_run_counters_t, packets_delivered),
    U64(spd_run_counters_t, packets_dropped), U64(spd_run_counters_t, dropped_wait1),
    U64(spd_run_counters_t, dropped_unmatched), U64(spd_run_counters_t, dropped_no_callback),
    U64(spd_run_counters_t, dropped_task_queue_full),
    U64(spd_run_counters_t, dropped_core_stopped), U64(spd_run_counters_t, dropped_injected),
    U64(spd_run_counters_t, packets_reinjected), U64(spd_run_counters_t, packets_lost),
    U64(spd_run_counters_t, packets_resent), U64(spd_run_counters_t, busy_cycles),
    U32(spd_run_counters_t, chips), U32(spd_run_counters_t, cores_loaded),
    U32(spd_run_counters_t, max_router_entries),
    {offsetof(spd_run_counters_t, energy_joules), 'd'}};

#define N(a) (sizeof a / sizeof a[0])

static size_t put(const void *s, const field_t *f, size_t n, uint8_t *out) {
  const uint8_t *base = s;
  for (size_t i = 0; i < n; i++) {
    uint64_t v = 0;
    if (f[i].kind == 4) {
      uint32_t w;
      memcpy(&w, base + f[i].offset, sizeof w);
      v = w;
    } else {
      memcpy(&v, base + f[i].offset, sizeof v); /* uint64_t or a double's bits */
    }
    spd__put_le64(out + 8 * i, v);
  }
  return 8 * n;
}

static int get(void *s, const field_t *f, size_t n, const uint8_t *in, size_t len) {
  if (len != 8 * n)
    return -1;
  uint8_t *base = s;
  for (size_t i = 0; i < n; i++) {
    uint64_t v = spd__le64(in + 8 * i);
    if (f[i].kind == 4) {
      uint32_t w = (uint32_t)v;
      memcpy(base + f[i].offset, &w, sizeof w);
    } else {
      memcpy(base + f[i].offset, &v, sizeof v);
    }
  }
  return 0;
}

size_t spd__prov_core_put(const spd_core_counters_t *c, uint8_t *out) {
  return put(c, core_fields, N(core_fields), out);
}
size_t spd__prov_chip_put(const spd_chip_counters_t *c, uint8_t *out) {
  return put(c, chip_fields, N(chip_fields), out);
}
size_t spd__prov_run_put(const spd_run_counters_t *c, uint8_t *out) {
  return put(c, run_fields, N(run_fields), out);
}
int spd__prov_core_get(spd_core_counters_t *c, const uint8_t *in, size_t len) {
  return get(c, core_fields, N(core_fields), in, len);
}
int spd__prov_chip_get(spd_chip_counters_t *c, const uint8_t *in, size_t len) {
  return get(c, chip_fields, N(chip_fields), in, len);
}
int spd__prov_run_get(spd_run_counters_t *c, const uint8_t *in, size_t len) {
  return get(c, run_fields, N(run_fields), in, len);
}
