/* The emulated board: SCP requests as the Ethernet chip's monitor (SC&MP)
 * answers them, acted out on an in-process emulated machine through the
 * emulated transceiver (docs/board-protocol.md). Every request is checked
 * (length, chip, core, address inside what was allocated) and a bad one
 * gets its return code; nothing a client sends can crash the board. */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "host/scp.h"
#include "spindle/board.h"
#include "spindle/emu.h"
#include "spindle/rng.h"

#define MAX_CORES 18u

typedef struct chip_state {
  uint32_t alloc_top;     /* the end of the last region ALLOC handed out */
  uint32_t user0[MAX_CORES];
  uint8_t *sys;           /* SPD_SYS_BUFFER_BYTES, on first write */
} chip_state_t;

typedef struct iptag {
  uint8_t ip[4];
  uint16_t port;
  uint8_t flags;          /* bit 0: set */
} iptag_t;

typedef struct cached {
  uint16_t seq;
  uint8_t valid;
  uint64_t hash;          /* of the request's bytes */
  uint8_t reply[SPD_BOARD_MAX_REPLY];
  size_t len;
} cached_t;

struct spd_board {
  spd_ctx_t *ctx;
  const spd_machine_t *machine;
  spd_board_opts_t o;
  spd_transceiver_t *tx;
  chip_state_t *chips;    /* machine->width x machine->height */
  iptag_t tags[SPD_IPTAG_COUNT];
  uint8_t app_id;
  spd_rng_t loss_rng;
  cached_t cache[SPD_BOARD_ANSWERS];
  uint64_t received, duplicates, dropped;
};

/* The reply being built: headers swapped from the request, a return code,
 * then the body. */
typedef struct reply {
  uint8_t *out;
  size_t len;
} reply_t;

static uint64_t fnv1a(const uint8_t *p, size_t n) {
  uint64_t h = 1469598103934665603ull;
  for (size_t i = 0; i < n; i++)
    h = (h ^ p[i]) * 1099511628211ull;
  return h;
}

static void free_chips(spd_board_t *b) {
  for (int i = 0; b->chips && i < b->machine->width * b->machine->height; i++)
    spd_free(b->ctx, b->chips[i].sys);
  spd_free(b->ctx, b->chips);
  b->chips = NULL;
}

/* Power-on state: a fresh machine, nothing allocated or loaded, no tags,
 * and no answers remembered (SC&MP's stop frees the application's SDRAM
 * and router entries; the emulator's time and counters restart too, so a
 * session sees what an in-process one sees). */
static int reset(spd_board_t *b) {
  spd_transceiver_free(b->tx);
  b->tx = NULL;
  free_chips(b);
  memset(b->cache, 0, sizeof b->cache);
  memset(b->tags, 0, sizeof b->tags);
  size_t n = (size_t)b->machine->width * (size_t)b->machine->height;
  b->chips = spd_calloc(b->ctx, n ? n : 1, sizeof *b->chips);
  if (!b->chips)
    return spd_ctx_fail(b->ctx, SPD_ENOMEM, "board: chip state of %zu chips", n);
  for (size_t i = 0; i < n; i++)
    b->chips[i].alloc_top = SPD_SDRAM_BASE;
  return spd_transceiver_open_emulated(NULL, b->ctx, b->machine, b->o.inject_drops,
                                       b->o.fault_seed, &b->tx);
}

int spd_board_new(spd_ctx_t *ctx, const spd_machine_t *machine, const spd_board_opts_t *o,
                  spd_board_t **out) {
  spd_board_t *b = spd_calloc(ctx, 1, sizeof *b);
  if (!b)
    return spd_ctx_fail(ctx, SPD_ENOMEM, "board: no memory");
  b->ctx = ctx;
  b->machine = machine;
  if (o)
    b->o = *o;
  spd_rng_init(&b->loss_rng, b->o.loss_seed, 0x55445020u);
  int err = reset(b);
  if (err) {
    spd_board_free(b);
    return err;
  }
  *out = b;
  return 0;
}

void spd_board_free(spd_board_t *b) {
  if (!b)
    return;
  spd_transceiver_free(b->tx);
  free_chips(b);
  spd_free(b->ctx, b);
}

void spd_board_stats(const spd_board_t *b, uint64_t *received, uint64_t *duplicates,
                     uint64_t *dropped) {
  *received = b->received;
  *duplicates = b->duplicates;
  *dropped = b->dropped;
}

bool spd__board_lose(spd_board_t *b) {
  if (b->o.loss <= 0 || spd_rng_uniform_double(&b->loss_rng) >= b->o.loss)
    return false;
  b->dropped++;
  return true;
}

/* ------------------------------------------------------------ replies */

static void put_u32(reply_t *r, uint32_t v) {
  spd__put_le32(r->out + r->len, v);
  r->len += 4;
}

static void put_bytes(reply_t *r, const void *p, size_t n) {
  if (n > SPD_BOARD_MAX_REPLY - r->len)
    n = SPD_BOARD_MAX_REPLY - r->len;
  memcpy(r->out + r->len, p, n);
  r->len += n;
}

/* A diagnostic, cut to what the datagram holds, always NUL-terminated. */
static void put_text(reply_t *r, const char *text) {
  size_t room = SPD_BOARD_MAX_REPLY - r->len, n = strlen(text);
  if (room == 0)
    return;
  n = n < room - 1 ? n : room - 1;
  memcpy(r->out + r->len, text, n);
  r->out[r->len + n] = '\0';
  r->len += n + 1;
}

/* An error: the return code, then (spindle's addition, ignored by other
 * clients) the SPD_E* code as arg1 and the diagnostic, NUL-terminated. */
static uint16_t fail(spd_board_t *b, reply_t *r, uint16_t rc, int spd_code, const char *fmt,
                     ...) __attribute__((format(printf, 5, 6)));
static uint16_t fail(spd_board_t *b, reply_t *r, uint16_t rc, int spd_code, const char *fmt,
                     ...) {
  (void)b;
  char text[200];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(text, sizeof text, fmt, ap);
  va_end(ap);
  r->len = SPD_SCP_BODY;
  put_u32(r, (uint32_t)-spd_code);
  put_text(r, text);
  return rc;
}

/* The transceiver's failure as a reply: its code and diagnostic. */
static uint16_t fail_tx(spd_board_t *b, reply_t *r, uint16_t rc, int err) {
  return fail(b, r, rc, err, "%s", spd_ctx_message(b->ctx));
}

/* ----------------------------------------------------------- commands */

typedef struct req {
  const spd_scp_msg_t *m;
  uint32_t arg[3];
  size_t nargs;             /* whole arguments present */
  const uint8_t *data;      /* after arg3 */
  size_t data_len;
  chip_state_t *chip;
  int x, y, cpu;
} req_t;

static uint16_t cmd_ver(spd_board_t *b, req_t *q, reply_t *r) {
  put_u32(r, (uint32_t)q->cpu | (uint32_t)q->y << 16 | (uint32_t)q->x << 24);
  put_u32(r, 1u << 16 | SPD_SCP_MAX_DATA); /* version 0.01, buffer size */
  put_u32(r, 0);                           /* build date */
  char text[96];
  snprintf(text, sizeof text, "spindle/%s", b->machine->name);
  put_text(r, text);
  return SPD_RC_OK;
}

/* [addr, addr + len) in the board's own SDRAM buffer or a core's IOBUF:
 * its bytes, or NULL. */
static uint8_t *sys_bytes(spd_board_t *b, req_t *q, uint32_t addr, uint32_t len, bool write) {
  if (addr >= SPD_SYS_SDRAM && addr - SPD_SYS_SDRAM <= SPD_SYS_BUFFER_BYTES &&
      len <= SPD_SYS_BUFFER_BYTES - (addr - SPD_SYS_SDRAM)) {
    if (!q->chip->sys && write)
      q->chip->sys = spd_calloc(b->ctx, 1, SPD_SYS_BUFFER_BYTES);
    return q->chip->sys ? q->chip->sys + (addr - SPD_SYS_SDRAM) : NULL;
  }
  return NULL;
}

static bool in_allocation(const req_t *q, uint32_t addr, uint32_t len) {
  return addr >= SPD_SDRAM_BASE && addr <= q->chip->alloc_top &&
         len <= q->chip->alloc_top - addr;
}

/* A core's IOBUF: the last diagnostic of the core, as text. */
static uint16_t read_iobuf(spd_board_t *b, req_t *q, uint32_t addr, uint32_t len, reply_t *r) {
  uint32_t off = addr - SPD_SYS_IOBUF, core = off / SPD_SYS_IOBUF_BYTES;
  if (off % SPD_SYS_IOBUF_BYTES + len > SPD_SYS_IOBUF_BYTES)
    return fail(b, r, SPD_RC_ARG, SPD_EINVAL, "IOBUF read crosses core %u's buffer", core);
  spd_core_status_t st;
  int err = spd_tx_core_status(b->tx, q->x, q->y, (int)core, &st);
  if (err)
    return fail_tx(b, r, SPD_RC_CPU, err);
  uint8_t buf[SPD_SYS_IOBUF_BYTES] = {0};
  memcpy(buf, st.message, strnlen(st.message, sizeof st.message));
  put_bytes(r, buf + off % SPD_SYS_IOBUF_BYTES, len);
  return SPD_RC_OK;
}

/* A core's vcpu_t as SARK keeps it: state, exit, IOBUF, user0/1. */
static uint16_t read_vcpu(spd_board_t *b, req_t *q, uint32_t addr, uint32_t len, reply_t *r) {
  uint32_t off = addr - SPD_VCPU_BASE, core = off / SPD_VCPU_BYTES;
  if (off % SPD_VCPU_BYTES + len > SPD_VCPU_BYTES)
    return fail(b, r, SPD_RC_ARG, SPD_EINVAL, "VCPU read crosses core %u's block", core);
  spd_core_status_t st;
  int err = spd_tx_core_status(b->tx, q->x, q->y, (int)core, &st);
  if (err)
    return fail_tx(b, r, SPD_RC_CPU, err);
  static const uint8_t states[] = {[SPD_CORE_IDLE] = SPD_CPU_IDLE,
                                   [SPD_CORE_LOADED] = SPD_CPU_SYNC0,
                                   [SPD_CORE_RUNNING] = SPD_CPU_RUNNING,
                                   [SPD_CORE_EXITED] = SPD_CPU_FINISHED,
                                   [SPD_CORE_ERROR] = SPD_CPU_RUN_TIME_EXCEPTION};
  uint8_t v[SPD_VCPU_BYTES] = {0};
  v[SPD_VCPU_PHYS_CPU] = (uint8_t)core;
  v[SPD_VCPU_STATE] = st.state <= SPD_CORE_ERROR ? states[st.state] : SPD_CPU_IDLE;
  v[SPD_VCPU_APP_ID] = st.state == SPD_CORE_IDLE ? 0 : b->app_id;
  if (st.message[0])
    spd__put_le32(v + SPD_VCPU_IOBUF, SPD_SYS_IOBUF + core * SPD_SYS_IOBUF_BYTES);
  spd__put_le32(v + SPD_VCPU_USER0, q->chip->user0[core]);
  spd__put_le32(v + SPD_VCPU_USER1, (uint32_t)st.exit_code);
  put_bytes(r, v + off % SPD_VCPU_BYTES, len);
  return SPD_RC_OK;
}

static uint16_t cmd_read(spd_board_t *b, req_t *q, reply_t *r) {
  uint32_t addr = q->arg[0], len = q->arg[1];
  if (q->nargs < 3)
    return fail(b, r, SPD_RC_LEN, SPD_EINVAL, "CMD_READ needs address, length and type");
  if (len == 0 || len > SPD_SCP_MAX_DATA || q->arg[2] > 2)
    return fail(b, r, SPD_RC_ARG, SPD_EINVAL, "CMD_READ of %u bytes (1..256), type %u", len,
                q->arg[2]);
  if (addr >= SPD_VCPU_BASE && addr - SPD_VCPU_BASE < MAX_CORES * SPD_VCPU_BYTES)
    return read_vcpu(b, q, addr, len, r);
  if (addr >= SPD_SYS_IOBUF && addr - SPD_SYS_IOBUF < MAX_CORES * SPD_SYS_IOBUF_BYTES)
    return read_iobuf(b, q, addr, len, r);
  uint8_t *sys = sys_bytes(b, q, addr, len, false);
  if (sys) {
    put_bytes(r, sys, len);
    return SPD_RC_OK;
  }
  if (!in_allocation(q, addr, len))
    return fail(b, r, SPD_RC_ARG, SPD_EINVAL, "chip (%d,%d): read of %u bytes at 0x%08x is "
                "outside the SDRAM allocated (0x%08x..0x%08x)", q->x, q->y, len, addr,
                SPD_SDRAM_BASE, q->chip->alloc_top);
  int err = spd_tx_read_sdram(b->tx, q->x, q->y, addr, r->out + r->len, len);
  if (err)
    return fail_tx(b, r, SPD_RC_ARG, err);
  r->len += len;
  return SPD_RC_OK;
}

static uint16_t cmd_write(spd_board_t *b, req_t *q, reply_t *r) {
  uint32_t addr = q->arg[0], len = q->arg[1];
  if (q->nargs < 3)
    return fail(b, r, SPD_RC_LEN, SPD_EINVAL, "CMD_WRITE needs address, length and type");
  if (len == 0 || len > SPD_SCP_MAX_DATA || q->arg[2] > 2 || len != q->data_len)
    return fail(b, r, SPD_RC_LEN, SPD_EINVAL, "CMD_WRITE of %u bytes (1..256) with %zu "
                "bytes of data, type %u", len, q->data_len, q->arg[2]);
  if (addr >= SPD_VCPU_BASE && addr - SPD_VCPU_BASE < MAX_CORES * SPD_VCPU_BYTES) {
    uint32_t off = addr - SPD_VCPU_BASE;
    if (off % SPD_VCPU_BYTES != SPD_VCPU_USER0 || len != 4)
      return fail(b, r, SPD_RC_ARG, SPD_EINVAL, "the board writes only user0 of a VCPU block");
    q->chip->user0[off / SPD_VCPU_BYTES] = spd__le32(q->data);
    return SPD_RC_OK;
  }
  uint8_t *sys = sys_bytes(b, q, addr, len, true);
  if (sys) {
    memcpy(sys, q->data, len);
    return SPD_RC_OK;
  }
  if (!in_allocation(q, addr, len))
    return fail(b, r, SPD_RC_ARG, SPD_EINVAL, "chip (%d,%d): write of %u bytes at 0x%08x is "
                "outside the SDRAM allocated (0x%08x..0x%08x)", q->x, q->y, len, addr,
                SPD_SDRAM_BASE, q->chip->alloc_top);
  int err = spd_tx_write_sdram(b->tx, q->x, q->y, addr, q->data, len);
  return err ? fail_tx(b, r, SPD_RC_ARG, err) : SPD_RC_OK;
}

static uint16_t cmd_alloc(spd_board_t *b, req_t *q, reply_t *r) {
  if (q->nargs < 2)
    return fail(b, r, SPD_RC_LEN, SPD_EINVAL, "CMD_ALLOC needs an operation and a size");
  uint32_t op = q->arg[0] & 0xFF, size = q->arg[1];
  if (op == SPD_ALLOC_RTR) {
    /* One table per chip, replaced whole by CMD_RTR: entries 1..n of 1024
     * (SC&MP keeps entry 0). 0 is SC&MP's "no room". */
    put_u32(r, size >= 1 && size <= 1023 ? 1u : 0u);
    return SPD_RC_OK;
  }
  if (op != SPD_ALLOC_SDRAM)
    return fail(b, r, SPD_RC_ARG, SPD_EUNSUPPORTED, "CMD_ALLOC operation %u: the board "
                "allocates SDRAM (0) and router entries (3)", op);
  uint32_t addr;
  int err = size ? spd_tx_sdram_alloc(b->tx, q->x, q->y, size, &addr)
                 : spd_ctx_fail(b->ctx, SPD_EINVAL, "ALLOC of 0 bytes");
  if (!err && (addr >= SPD_SYS_SDRAM || size > SPD_SYS_SDRAM - addr))
    err = spd_ctx_fail(b->ctx, SPD_ESDRAM, "chip (%d,%d): %u bytes of SDRAM would reach the "
                       "board's system SDRAM at 0x%08x", q->x, q->y, size, SPD_SYS_SDRAM);
  if (err) { /* SC&MP answers RC_OK with address 0; the reason follows */
    put_u32(r, 0);
    put_u32(r, (uint32_t)-err);
    put_text(r, spd_ctx_message(b->ctx));
    return SPD_RC_OK;
  }
  if (addr + size > q->chip->alloc_top)
    q->chip->alloc_top = addr + size;
  b->app_id = (uint8_t)(q->arg[0] >> 8);
  put_u32(r, addr);
  return SPD_RC_OK;
}

/* CMD_RTR load: count entries of 16 bytes ("<H2xIII": index, route, key,
 * mask) from arg2 in the system buffer become the chip's table. */
static uint16_t cmd_rtr(spd_board_t *b, req_t *q, reply_t *r) {
  if (q->nargs < 3)
    return fail(b, r, SPD_RC_LEN, SPD_EINVAL, "CMD_RTR needs three arguments");
  uint32_t op = q->arg[0] & 0xFF, count = q->arg[0] >> 16;
  if (op != SPD_RTR_LOAD)
    return fail(b, r, SPD_RC_ARG, SPD_EUNSUPPORTED, "CMD_RTR operation %u: the board loads (2)",
                op);
  if (count > 1023 || (count && q->arg[2] != 1))
    return fail(b, r, SPD_RC_ARG, SPD_EROUTER, "chip (%d,%d): %u router entries from %u (the "
                "router holds 1023, from entry 1)", q->x, q->y, count, q->arg[2]);
  const uint8_t *src = count ? sys_bytes(b, q, q->arg[1], count * 16u, false) : NULL;
  if (count && !src)
    return fail(b, r, SPD_RC_ARG, SPD_EINVAL, "CMD_RTR table at 0x%08x is not in the "
                "board's system buffer", q->arg[1]);
  spd_route_entry_t *e = spd_calloc(b->ctx, count ? count : 1, sizeof *e);
  if (!e)
    return fail(b, r, SPD_RC_BUF, SPD_ENOMEM, "no memory for %u router entries", count);
  for (uint32_t i = 0; i < count; i++)
    e[i] = (spd_route_entry_t){.route = spd__le32(src + 16 * i + 4),
                               .key = spd__le32(src + 16 * i + 8),
                               .mask = spd__le32(src + 16 * i + 12)};
  int err = spd_tx_load_routes(b->tx, q->x, q->y, e, count);
  spd_free(b->ctx, e);
  return err ? fail_tx(b, r, SPD_RC_ARG, err) : SPD_RC_OK;
}

/* CMD_AS: the image at arg1 names a registered kernel; every core of the
 * mask in arg2 loads it with its user0 as the parameter address and
 * waits for SYNC0. */
static uint16_t cmd_as(spd_board_t *b, req_t *q, reply_t *r) {
  if (q->nargs < 2)
    return fail(b, r, SPD_RC_LEN, SPD_EINVAL, "CMD_AS needs an image address and a core mask");
  uint32_t mask = q->arg[1] & 0x3FFFF;
  const uint8_t *img = sys_bytes(b, q, q->arg[0], 4 + SPD_IMAGE_NAME_MAX, false);
  if (!img || spd__le32(img) != SPD_IMAGE_MAGIC || !memchr(img + 4, 0, SPD_IMAGE_NAME_MAX))
    return fail(b, r, SPD_RC_ARG, SPD_EINVAL, "CMD_AS: no kernel image at 0x%08x", q->arg[0]);
  if (!(q->arg[1] & SPD_AS_WAIT))
    return fail(b, r, SPD_RC_ARG, SPD_EUNSUPPORTED, "CMD_AS: the emulated board starts "
                "cores with SYNC0 only (set the wait flag)");
  if (!mask || (mask & 1u))
    return fail(b, r, SPD_RC_CPU, SPD_EINVAL, "CMD_AS core mask 0x%05x (cores 1..17)", mask);
  b->app_id = (uint8_t)(q->arg[1] >> 24);
  for (int core = 1; core < (int)MAX_CORES; core++) {
    if (!(mask & (1u << core)))
      continue;
    int err = spd_tx_load_kernel(b->tx, q->x, q->y, core, (const char *)img + 4,
                                 q->chip->user0[core]);
    if (err)
      return fail_tx(b, r, SPD_RC_CPU, err);
  }
  return SPD_RC_OK;
}

static uint16_t cmd_sig(spd_board_t *b, req_t *q, reply_t *r) {
  if (q->nargs < 2)
    return fail(b, r, SPD_RC_LEN, SPD_EINVAL, "CMD_SIG needs a type and a signal");
  uint32_t sig = (q->arg[1] >> 16) & 0xF;
  switch (sig) {
  case SPD_SIG_SYNC0: {
    int err = spd_tx_start(b->tx);
    return err ? fail_tx(b, r, SPD_RC_ARG, err) : SPD_RC_OK;
  }
  case SPD_SIG_EXIT:
    spd_tx_stop(b->tx);
    return SPD_RC_OK;
  case SPD_SIG_STOP: {
    int err = reset(b);
    return err ? fail_tx(b, r, SPD_RC_BUF, err) : SPD_RC_OK;
  }
  default:
    return fail(b, r, SPD_RC_ARG, SPD_EUNSUPPORTED, "signal %u: the board acts on SYNC0 (4), "
                "EXIT (8) and STOP (2)", sig);
  }
}

static uint16_t cmd_iptag(spd_board_t *b, req_t *q, reply_t *r) {
  if (q->nargs < 1)
    return fail(b, r, SPD_RC_LEN, SPD_EINVAL, "CMD_IPTAG needs an operation and a tag");
  uint32_t op = (q->arg[0] >> 16) & 0xF, tag = q->arg[0] & 0xFF;
  if (tag >= SPD_IPTAG_COUNT)
    return fail(b, r, SPD_RC_ARG, SPD_EINVAL, "IP tag %u (0..%u)", tag, SPD_IPTAG_COUNT - 1);
  iptag_t *t = &b->tags[tag];
  switch (op) {
  case SPD_IPTAG_SET:
    if (q->nargs < 3)
      return fail(b, r, SPD_RC_LEN, SPD_EINVAL, "IPTAG set needs a port and an address");
    t->port = (uint16_t)q->arg[1];
    spd__put_le32(t->ip, q->arg[2]);
    t->flags = 1;
    return SPD_RC_OK;
  case SPD_IPTAG_GET: { /* SpiNNMan iptag_get.py: ip, mac, port, timeout, flags, count, rx port, spin addr */
    uint8_t info[24] = {0};
    memcpy(info, t->ip, 4);
    info[10] = (uint8_t)t->port;
    info[11] = (uint8_t)(t->port >> 8);
    info[14] = t->flags ? 0x80 : 0; /* flags: in use */
    put_bytes(r, info, sizeof info);
    return SPD_RC_OK;
  }
  case SPD_IPTAG_CLR:
    *t = (iptag_t){0};
    return SPD_RC_OK;
  default:
    return fail(b, r, SPD_RC_ARG, SPD_EUNSUPPORTED, "IPTAG operation %u (set 1, get 2, clear 3)",
                op);
  }
}

/* spindle's: run the emulated machine for arg1 | arg2 << 32 simulated
 * picoseconds. The reply's arg1 is 0, or the SPD_E* code negated; then
 * the run's counters (as CMD_SPD_PROV kind 2), then the diagnostic. The
 * host looks at the counters after every slice, so they come along. */
static uint16_t cmd_spd_run(spd_board_t *b, req_t *q, reply_t *r) {
  if (q->nargs < 2)
    return fail(b, r, SPD_RC_LEN, SPD_EINVAL, "CMD_SPD_RUN needs a time");
  int err = spd_tx_wait(b->tx, (uint64_t)q->arg[0] | (uint64_t)q->arg[1] << 32);
  char why[sizeof b->ctx->diag];
  snprintf(why, sizeof why, "%s", err ? spd_ctx_message(b->ctx) : "");
  spd_ctx_clear(b->ctx);
  put_u32(r, (uint32_t)-err);
  spd_run_counters_t c;
  int cerr = spd_tx_run_counters(b->tx, &c);
  if (cerr)
    return fail_tx(b, r, SPD_RC_ARG, cerr);
  r->len += spd__prov_run_put(&c, r->out + r->len);
  put_text(r, why);
  return SPD_RC_OK;
}

static uint16_t cmd_spd_prov(spd_board_t *b, req_t *q, reply_t *r) {
  if (q->nargs < 2)
    return fail(b, r, SPD_RC_LEN, SPD_EINVAL, "CMD_SPD_PROV needs a kind and a core");
  int err = 0;
  uint8_t *out = r->out + r->len;
  if (q->arg[0] == SPD_PROV_CORE) {
    spd_core_counters_t c;
    if (!(err = spd_tx_core_counters(b->tx, q->x, q->y, (int)(q->arg[1] & 0xFF), &c)))
      r->len += spd__prov_core_put(&c, out);
  } else if (q->arg[0] == SPD_PROV_CHIP) {
    spd_chip_counters_t c;
    if (!(err = spd_tx_chip_counters(b->tx, q->x, q->y, &c)))
      r->len += spd__prov_chip_put(&c, out);
  } else if (q->arg[0] == SPD_PROV_RUN) {
    spd_run_counters_t c;
    if (!(err = spd_tx_run_counters(b->tx, &c)))
      r->len += spd__prov_run_put(&c, out);
  } else {
    return fail(b, r, SPD_RC_ARG, SPD_EINVAL, "provenance kind %u (core 0, chip 1, run 2)",
                q->arg[0]);
  }
  return err ? fail_tx(b, r, SPD_RC_ARG, err) : SPD_RC_OK;
}

/* The chip the request is for, or a reason it has none. */
static uint16_t address_chip(spd_board_t *b, req_t *q, reply_t *r) {
  q->x = q->m->dest_x;
  q->y = q->m->dest_y;
  q->cpu = q->m->dest_port_cpu & 0x1F;
  if (q->x >= b->machine->width || q->y >= b->machine->height ||
      !spd_machine_chip(b->machine, q->x, q->y))
    return fail(b, r, SPD_RC_ROUTE, SPD_EINVAL, "no chip (%d,%d) on this %s", q->x, q->y,
                b->machine->name);
  if (q->cpu >= (int)MAX_CORES)
    return fail(b, r, SPD_RC_CPU, SPD_EINVAL, "no core %d (0..17)", q->cpu);
  if ((q->m->dest_port_cpu >> 5) != 0)
    return fail(b, r, SPD_RC_PORT, SPD_EINVAL, "SDP port %d: SCP goes to port 0",
                q->m->dest_port_cpu >> 5);
  q->chip = &b->chips[q->y * b->machine->width + q->x];
  return SPD_RC_OK;
}

static uint16_t execute(spd_board_t *b, req_t *q, reply_t *r) {
  uint16_t rc = address_chip(b, q, r);
  if (rc != SPD_RC_OK)
    return rc;
  switch (q->m->cmd_rc) {
  case SPD_CMD_VER: return cmd_ver(b, q, r);
  case SPD_CMD_READ: return cmd_read(b, q, r);
  case SPD_CMD_WRITE: return cmd_write(b, q, r);
  case SPD_CMD_ALLOC: return cmd_alloc(b, q, r);
  case SPD_CMD_RTR: return cmd_rtr(b, q, r);
  case SPD_CMD_AS: return cmd_as(b, q, r);
  case SPD_CMD_SIG: return cmd_sig(b, q, r);
  case SPD_CMD_IPTAG: return cmd_iptag(b, q, r);
  case SPD_CMD_SPD_RUN: return cmd_spd_run(b, q, r);
  case SPD_CMD_SPD_PROV: return cmd_spd_prov(b, q, r);
  default:
    return fail(b, r, SPD_RC_CMD, SPD_EUNSUPPORTED, "command %u is not one the board knows",
                q->m->cmd_rc);
  }
}

void spd_board_handle(spd_board_t *b, const uint8_t *in, size_t len, uint8_t *out,
                      size_t *out_len) {
  *out_len = 0;
  spd_scp_msg_t m;
  if (spd__scp_parse(in, len, &m) || len > SPD_SCP_MAX_PACKET + 64)
    return;
  b->received++;
  cached_t *c = &b->cache[m.seq % SPD_BOARD_ANSWERS];
  uint64_t hash = fnv1a(in, len);
  if (c->valid && c->seq == m.seq && c->hash == hash) {
    b->duplicates++;
    memcpy(out, c->reply, c->len);
    *out_len = c->len;
    return;
  }
  req_t q = {.m = &m};
  q.nargs = m.body_len / 4 < 3 ? m.body_len / 4 : 3;
  for (size_t i = 0; i < q.nargs; i++)
    q.arg[i] = spd__le32(m.body + 4 * i);
  if (m.body_len > SPD_SCP_ARGS) {
    q.data = m.body + SPD_SCP_ARGS;
    q.data_len = m.body_len - SPD_SCP_ARGS;
  }
  reply_t r = {.out = out, .len = SPD_SCP_BODY};
  uint16_t rc = len > SPD_SCP_MAX_PACKET
                    ? fail(b, &r, SPD_RC_LEN, SPD_EINVAL, "%zu bytes: an SCP packet holds at "
                           "most %u", len, SPD_SCP_MAX_PACKET)
                    : execute(b, &q, &r);
  spd_ctx_clear(b->ctx);
  spd_scp_msg_t head = {.flags = SPD_SDP_NO_REPLY, .tag = m.tag, .dest_port_cpu = m.src_port_cpu,
                        .src_port_cpu = m.dest_port_cpu, .dest_y = m.src_y, .dest_x = m.src_x,
                        .src_y = m.dest_y, .src_x = m.dest_x, .cmd_rc = rc, .seq = m.seq};
  spd__scp_head(&head, out);
  if (!(m.flags & 0x80)) /* no reply expected */
    return;
  /* remembered even after a reset (STOP) emptied the cache, so its repeat
   * does not reset the board again */
  *c = (cached_t){.seq = m.seq, .valid = 1, .hash = hash, .len = r.len};
  memcpy(c->reply, out, r.len);
  *out_len = r.len;
}
