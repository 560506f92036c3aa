/* The UDP transport: the transceiver's operations as SCP requests to a
 * board's Ethernet chip (docs/board-protocol.md). Requests go out in a
 * window of several at once, each with its own sequence number; one
 * without an answer is sent again after a timeout that doubles every
 * time, and the board answers a repeat from its cache, so a lost reply
 * never runs a command twice. */
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "host/scp.h"
#include "spindle/board.h"
#include "spindle/rng.h"

#define APP_ID 16u               /* the first application id (SpiNNMan: 16..255) */
#define BATCH 512u               /* requests handed to one exchange */
#define MAX_WAIT_MS 1000u        /* the wait for one answer doubles up to this */
/* A slice of the emulated machine can take the board long: its command is
 * asked again (and answered from the board's cache once done) for up to
 * ten minutes. */
#define RUN_TRIES 600u
#define IMAGE_OFFSET 0x8000u     /* kernel images in the system buffer, after the tables */

typedef struct udp {
  spd_ctx_t *ctx;
  const spd_machine_t *machine;
  spd_udp_opts_t o;
  char where[96];                /* "host:port" for diagnostics */
  int fd;
  uint16_t seq;
  spd_rng_t loss_rng;
  spd_run_counters_t run;        /* as the last run command's reply gave them */
  bool run_fresh;                /* ... and nothing has changed them since */
} udp_t;

/* One request and, once answered, its reply. */
typedef struct request {
  uint8_t x, y;
  uint16_t cmd;
  uint32_t arg[3];
  const uint8_t *data;           /* after arg3 (borrowed) */
  size_t data_len;
  uint8_t *into;                 /* a read's bytes go here (reply_len of them) */
  size_t into_len;
  /* the answer */
  uint16_t rc;
  uint8_t body[SPD_SCP_MAX_DATA + SPD_SCP_ARGS + 8];
  size_t body_len;
  /* the transport's */
  uint16_t seq;
  uint32_t tries;
  uint64_t deadline_ns;
  uint32_t wait_ms, max_tries;
  bool in_flight, done;
} request_t;

static uint64_t now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

static bool lose(udp_t *u) {
  return u->o.loss > 0 && spd_rng_uniform_double(&u->loss_rng) < u->o.loss;
}

static void send_request(udp_t *u, request_t *q) {
  uint8_t pkt[SPD_SCP_MAX_PACKET];
  spd_scp_msg_t m = {.flags = SPD_SDP_REPLY_EXPECTED, .tag = SPD_SDP_HOST_TAG,
                     .dest_port_cpu = 0, .src_port_cpu = 0xFF, .dest_y = q->y, .dest_x = q->x,
                     .cmd_rc = q->cmd, .seq = q->seq};
  spd__scp_head(&m, pkt);
  for (int i = 0; i < 3; i++)
    spd__put_le32(pkt + SPD_SCP_BODY + 4 * i, q->arg[i]);
  size_t len = SPD_SCP_BODY + SPD_SCP_ARGS;
  if (q->data_len) {
    memcpy(pkt + len, q->data, q->data_len);
    len += q->data_len;
  }
  q->tries++;
  q->in_flight = true;
  q->deadline_ns = now_ns() + (uint64_t)q->wait_ms * 1000000ull;
  if (!lose(u))
    (void)send(u->fd, pkt, len, 0);
}

/* A datagram from the board: the reply of the request in flight with its
 * sequence number (the requests' numbers run on from qs[0]'s; others are
 * late answers to repeats: ignored). */
static void take_reply(udp_t *u, request_t *qs, size_t n, const uint8_t *in, size_t len,
                       size_t *done) {
  spd_scp_msg_t m;
  if (lose(u) || spd__scp_parse(in, len, &m))
    return;
  size_t i = (uint16_t)(m.seq - qs[0].seq);
  if (i >= n || !qs[i].in_flight)
    return;
  request_t *q = &qs[i];
  q->rc = m.cmd_rc;
  q->body_len = m.body_len < sizeof q->body ? m.body_len : sizeof q->body;
  memcpy(q->body, m.body, q->body_len);
  q->in_flight = false;
  q->done = true;
  (*done)++;
}

/* Send @p n requests, at most the window in flight, until every one is
 * answered or one ran out of tries (SPD_EIO). */
static int exchange(udp_t *u, request_t *qs, size_t n, uint32_t max_tries) {
  size_t next = 0, done = 0, flying = 0, oldest = 0;
  for (size_t i = 0; i < n; i++)
    qs[i] = (request_t){.x = qs[i].x, .y = qs[i].y, .cmd = qs[i].cmd,
                        .arg = {qs[i].arg[0], qs[i].arg[1], qs[i].arg[2]},
                        .data = qs[i].data, .data_len = qs[i].data_len, .into = qs[i].into,
                        .into_len = qs[i].into_len, .seq = u->seq++,
                        .wait_ms = u->o.timeout_ms, .max_tries = max_tries};
  while (done < n) {
    /* The board remembers its last SPD_BOARD_ANSWERS answers: no request
     * goes out that many after one still unanswered, whose repeat must
     * find its answer there rather than run again. */
    while (oldest < next && qs[oldest].done)
      oldest++;
    for (; flying < u->o.window && next < n && next - oldest < SPD_BOARD_ANSWERS;
         next++, flying++)
      send_request(u, &qs[next]);
    uint64_t now = now_ns(), first = UINT64_MAX;
    for (size_t i = 0; i < next; i++) {
      request_t *q = &qs[i];
      if (!q->in_flight)
        continue;
      if (q->deadline_ns <= now) {
        if (q->tries >= q->max_tries)
          return spd_ctx_fail(u->ctx, SPD_EIO, "board %s: no answer to command %u for chip "
                              "(%u,%u) after %u tries", u->where, q->cmd, q->x, q->y, q->tries);
        q->wait_ms = q->wait_ms * 2 < MAX_WAIT_MS ? q->wait_ms * 2 : MAX_WAIT_MS;
        send_request(u, q);
      }
      first = q->deadline_ns < first ? q->deadline_ns : first;
    }
    now = now_ns();
    int ms = first == UINT64_MAX ? 0 : first <= now ? 0 : (int)((first - now) / 1000000u) + 1;
    struct pollfd p = {.fd = u->fd, .events = POLLIN};
    int ready = poll(&p, 1, ms);
    if (ready < 0 && errno != EINTR)
      return spd_ctx_fail(u->ctx, SPD_EIO, "board %s: %s", u->where, strerror(errno));
    while (ready > 0) {
      uint8_t in[SPD_SCP_MAX_PACKET + 64];
      ssize_t got = recv(u->fd, in, sizeof in, MSG_DONTWAIT);
      if (got < 0 && errno == ECONNREFUSED) /* ICMP: nothing listens there */
        return spd_ctx_fail(u->ctx, SPD_EIO, "board %s: nothing answers on that port (is "
                            "`spindle board` running there?)", u->where);
      if (got < 0)
        break;
      size_t before = done;
      take_reply(u, qs, next, in, (size_t)got, &done);
      flying -= done - before;
    }
  }
  return 0;
}

/* A reply other than RC_OK as the board's diagnostic: spindle's boards put
 * the SPD_E* code and the text after the return code. */
static int check(udp_t *u, const request_t *q) {
  if (q->rc == SPD_RC_OK)
    return 0;
  if (q->body_len > 4 && memchr(q->body + 4, 0, q->body_len - 4)) {
    int code = -(int)spd__le32(q->body);
    if (code >= 0 || code < -1000)
      code = SPD_EIO;
    return spd_ctx_fail(u->ctx, code, "%s", (const char *)q->body + 4);
  }
  return spd_ctx_fail(u->ctx, SPD_EIO, "board %s: command %u for chip (%u,%u) failed with "
                      "return code 0x%02x", u->where, q->cmd, q->x, q->y, q->rc);
}

static int one(udp_t *u, request_t *q, uint32_t max_tries) {
  int err = exchange(u, q, 1, max_tries);
  return err ? err : check(u, q);
}

static request_t req(int x, int y, uint16_t cmd, uint32_t a1, uint32_t a2, uint32_t a3) {
  return (request_t){.x = (uint8_t)x, .y = (uint8_t)y, .cmd = cmd, .arg = {a1, a2, a3}};
}

/* SpiNNMan's transfer type: words when aligned, else half-words or bytes. */
static uint32_t transfer_type(uint32_t addr, size_t len) {
  return (addr | len) % 4 == 0 ? 2u : (addr | len) % 2 == 0 ? 1u : 0u;
}

/* Reads (@p read) or writes of @p len bytes in 256-byte packets. */
static int transfer(udp_t *u, int x, int y, uint32_t addr, uint8_t *buf, size_t len, bool read) {
  request_t *qs = spd_calloc(u->ctx, BATCH, sizeof *qs);
  if (!qs)
    return spd_ctx_fail(u->ctx, SPD_ENOMEM, "board transfer: no memory");
  int err = 0;
  for (size_t at = 0; !err && at < len;) {
    size_t n = 0;
    for (; n < BATCH && at < len; n++) {
      size_t k = len - at < SPD_SCP_MAX_DATA ? len - at : SPD_SCP_MAX_DATA;
      uint32_t a = addr + (uint32_t)at;
      qs[n] = req(x, y, read ? SPD_CMD_READ : SPD_CMD_WRITE, a, (uint32_t)k,
                  transfer_type(a, k));
      if (read) {
        qs[n].into = buf + at;
        qs[n].into_len = k;
      } else {
        qs[n].data = buf + at;
        qs[n].data_len = k;
      }
      at += k;
    }
    err = exchange(u, qs, n, u->o.retries);
    for (size_t i = 0; !err && i < n; i++) {
      err = check(u, &qs[i]);
      if (!err && read && qs[i].body_len != qs[i].into_len)
        err = spd_ctx_fail(u->ctx, SPD_EIO, "board %s: read of %zu bytes at 0x%08x answered "
                           "with %zu", u->where, qs[i].into_len, qs[i].arg[0], qs[i].body_len);
      if (!err && read)
        memcpy(qs[i].into, qs[i].body, qs[i].into_len);
    }
  }
  spd_free(u->ctx, qs);
  return err;
}

static int udp_write_sdram(void *s, int x, int y, uint32_t addr, const void *data, size_t len) {
  ((udp_t *)s)->run_fresh = false;
  return transfer(s, x, y, addr, (uint8_t *)(uintptr_t)data, len, false);
}

static int udp_read_sdram(void *s, int x, int y, uint32_t addr, void *data, size_t len) {
  return transfer(s, x, y, addr, data, len, true);
}

static int udp_sdram_alloc(void *s, int x, int y, uint32_t bytes, uint32_t *addr) {
  udp_t *u = s;
  u->run_fresh = false;
  request_t q = req(x, y, SPD_CMD_ALLOC, APP_ID << 8 | SPD_ALLOC_SDRAM, bytes, 0);
  int err = one(u, &q, u->o.retries);
  if (err)
    return err;
  uint32_t a = q.body_len >= 4 ? spd__le32(q.body) : 0;
  if (!a) {
    const char *why = q.body_len > 8 && memchr(q.body + 8, 0, q.body_len - 8)
                          ? (const char *)q.body + 8 : "no room";
    return spd_ctx_fail(u->ctx, SPD_ESDRAM, "%s", why);
  }
  *addr = a;
  return 0;
}

static int udp_load_routes(void *s, int x, int y, const spd_route_entry_t *e, uint32_t n) {
  udp_t *u = s;
  u->run_fresh = false;
  if (n > 1023)
    return spd_ctx_fail(u->ctx, SPD_EROUTER, "chip (%d,%d): %u routing entries, the router "
                        "holds 1023", x, y, n);
  uint32_t base = 1;
  if (n) {
    request_t q = req(x, y, SPD_CMD_ALLOC, APP_ID << 8 | SPD_ALLOC_RTR, n, 0);
    int err = one(u, &q, u->o.retries);
    if (err)
      return err;
    base = q.body_len >= 4 ? spd__le32(q.body) : 0;
    if (!base)
      return spd_ctx_fail(u->ctx, SPD_EROUTER, "chip (%d,%d): the board has no room for %u "
                          "routing entries", x, y, n);
    uint8_t *table = spd_calloc(u->ctx, n, 16);
    if (!table)
      return spd_ctx_fail(u->ctx, SPD_ENOMEM, "%u routing entries", n);
    for (uint32_t i = 0; i < n; i++) { /* SpiNNMan "<H2xIII": index, route, key, mask */
      table[16 * i] = (uint8_t)i;
      table[16 * i + 1] = (uint8_t)(i >> 8);
      spd__put_le32(table + 16 * i + 4, e[i].route);
      spd__put_le32(table + 16 * i + 8, e[i].key);
      spd__put_le32(table + 16 * i + 12, e[i].mask);
    }
    err = transfer(u, x, y, SPD_SYS_SDRAM, table, (size_t)n * 16u, false);
    spd_free(u->ctx, table);
    if (err)
      return err;
  }
  request_t q = req(x, y, SPD_CMD_RTR, n << 16 | APP_ID << 8 | SPD_RTR_LOAD, SPD_SYS_SDRAM, base);
  return one(u, &q, u->o.retries);
}

static int udp_load_kernel(void *s, int x, int y, int core, const char *kernel, uint32_t params) {
  udp_t *u = s;
  u->run_fresh = false;
  size_t n = strlen(kernel);
  if (n >= SPD_IMAGE_NAME_MAX || core < 1 || core > 17)
    return spd_ctx_fail(u->ctx, SPD_EINVAL, "kernel '%s' on core %d: names of at most %u "
                        "characters, cores 1..17", kernel, core, SPD_IMAGE_NAME_MAX - 1);
  uint8_t image[4 + SPD_IMAGE_NAME_MAX] = {0}, user0[4];
  spd__put_le32(image, SPD_IMAGE_MAGIC);
  memcpy(image + 4, kernel, n);
  spd__put_le32(user0, params);
  uint32_t at = SPD_SYS_SDRAM + IMAGE_OFFSET;
  request_t qs[2] = {req(x, y, SPD_CMD_WRITE, at, sizeof image, 2),
                     req(x, y, SPD_CMD_WRITE,
                         SPD_VCPU_BASE + (uint32_t)core * SPD_VCPU_BYTES + SPD_VCPU_USER0, 4, 2)};
  qs[0].data = image;
  qs[0].data_len = sizeof image;
  qs[1].data = user0;
  qs[1].data_len = 4;
  int err = exchange(u, qs, 2, u->o.retries);
  for (int i = 0; !err && i < 2; i++)
    err = check(u, &qs[i]);
  if (err)
    return err;
  request_t q = req(x, y, SPD_CMD_AS, at, APP_ID << 24 | SPD_AS_WAIT | 1u << core, 0);
  return one(u, &q, u->o.retries);
}

/* SpiNNMan send_signal.py: arg1 the type, arg2 signal << 16 | app mask
 * << 8 | app id, arg3 the cores (all). */
static int signal_app(udp_t *u, uint32_t type, uint32_t sig) {
  u->run_fresh = false;
  request_t q = req(0, 0, SPD_CMD_SIG, type, sig << 16 | 0xFFu << 8 | APP_ID, 0xFFFF);
  return one(u, &q, u->o.retries);
}

static int udp_start(void *s) { return signal_app(s, SPD_SIG_MULTICAST, SPD_SIG_SYNC0); }

static void udp_stop(void *s) {
  udp_t *u = s;
  if (signal_app(u, SPD_SIG_MULTICAST, SPD_SIG_EXIT))
    spd_ctx_clear(u->ctx); /* stop cannot fail; the next request will tell */
}

static int udp_wait(void *s, uint64_t timeout_ps) {
  udp_t *u = s;
  request_t q = req(0, 0, SPD_CMD_SPD_RUN, (uint32_t)timeout_ps, (uint32_t)(timeout_ps >> 32), 0);
  u->run_fresh = false;
  int err = one(u, &q, RUN_TRIES);
  if (err)
    return err;
  size_t prov = 8u * 19u; /* the run counters after the code */
  if (q.body_len < 4 + prov + 1 || q.body[q.body_len - 1] != '\0' ||
      spd__prov_run_get(&u->run, q.body + 4, prov))
    return spd_ctx_fail(u->ctx, SPD_EIO, "board %s: a run reply of %zu bytes", u->where,
                        q.body_len);
  u->run_fresh = true;
  int code = -(int)spd__le32(q.body);
  if (!code)
    return 0;
  const char *why = (const char *)q.body + 4 + prov;
  return spd_ctx_fail(u->ctx, code < 0 && code > -1000 ? code : SPD_EIO, "%s",
                      *why ? why : "the board's machine stopped");
}

static int udp_core_status(void *s, int x, int y, int core, spd_core_status_t *out) {
  udp_t *u = s;
  if (core < 0 || core > 17)
    return spd_ctx_fail(u->ctx, SPD_EINVAL, "no core %d (0..17)", core);
  uint8_t v[SPD_VCPU_BYTES];
  int err = transfer(u, x, y, SPD_VCPU_BASE + (uint32_t)core * SPD_VCPU_BYTES, v, sizeof v, true);
  if (err)
    return err;
  spd_core_status_t st = {.exit_code = (int32_t)spd__le32(v + SPD_VCPU_USER1)};
  switch (v[SPD_VCPU_STATE]) {
  case SPD_CPU_SYNC0: st.state = SPD_CORE_LOADED; break;
  case SPD_CPU_RUNNING: st.state = SPD_CORE_RUNNING; break;
  case SPD_CPU_FINISHED: st.state = SPD_CORE_EXITED; break;
  case SPD_CPU_RUN_TIME_EXCEPTION: st.state = SPD_CORE_ERROR; break;
  default: st.state = SPD_CORE_IDLE; break;
  }
  uint32_t iobuf = spd__le32(v + SPD_VCPU_IOBUF);
  if (iobuf) {
    err = transfer(u, x, y, iobuf, (uint8_t *)st.message, sizeof st.message, true);
    if (err)
      return err;
    st.message[sizeof st.message - 1] = '\0';
  }
  *out = st;
  return 0;
}

static int provenance(udp_t *u, int x, int y, uint32_t kind, int core, request_t *q) {
  *q = req(x, y, SPD_CMD_SPD_PROV, kind, (uint32_t)core, 0);
  return one(u, q, u->o.retries);
}

static int bad_provenance(udp_t *u) {
  return spd_ctx_fail(u->ctx, SPD_EIO, "board %s: provenance of the wrong size", u->where);
}

static int udp_core_counters(void *s, int x, int y, int core, spd_core_counters_t *out) {
  request_t q;
  int err = provenance(s, x, y, SPD_PROV_CORE, core, &q);
  return err ? err : spd__prov_core_get(out, q.body, q.body_len) ? bad_provenance(s) : 0;
}

static int udp_chip_counters(void *s, int x, int y, spd_chip_counters_t *out) {
  request_t q;
  int err = provenance(s, x, y, SPD_PROV_CHIP, 0, &q);
  return err ? err : spd__prov_chip_get(out, q.body, q.body_len) ? bad_provenance(s) : 0;
}

static int udp_run_counters(void *s, spd_run_counters_t *out) {
  udp_t *u = s;
  if (u->run_fresh) {
    *out = u->run;
    return 0;
  }
  request_t q;
  int err = provenance(s, 0, 0, SPD_PROV_RUN, 0, &q);
  return err ? err : spd__prov_run_get(out, q.body, q.body_len) ? bad_provenance(s) : 0;
}

static void udp_free(void *s) {
  udp_t *u = s;
  if (u->fd >= 0) {
    if (signal_app(u, SPD_SIG_NEAREST_NEIGHBOUR, SPD_SIG_STOP))
      spd_ctx_clear(u->ctx); /* the board resets on the next session's stop anyway */
    close(u->fd);
  }
  spd_free(u->ctx, u);
}

static const spd_transceiver_ops_t udp_ops = {
    .name = "udp",
    .write_sdram = udp_write_sdram,
    .read_sdram = udp_read_sdram,
    .sdram_alloc = udp_sdram_alloc,
    .load_routes = udp_load_routes,
    .load_kernel = udp_load_kernel,
    .start = udp_start,
    .wait = udp_wait,
    .core_status = udp_core_status,
    .core_counters = udp_core_counters,
    .chip_counters = udp_chip_counters,
    .run_counters = udp_run_counters,
    .free = udp_free,
    .stop = udp_stop,
};

static int connect_to(udp_t *u) {
  char port[8];
  snprintf(port, sizeof port, "%u", u->o.port);
  struct addrinfo hints = {.ai_family = AF_INET, .ai_socktype = SOCK_DGRAM}, *ai;
  int rc = getaddrinfo(u->o.host, port, &hints, &ai);
  if (rc)
    return spd_ctx_fail(u->ctx, SPD_EIO, "board %s: %s", u->where, gai_strerror(rc));
  u->fd = socket(AF_INET, SOCK_DGRAM, 0);
  int err = u->fd < 0 || connect(u->fd, ai->ai_addr, ai->ai_addrlen)
                ? spd_ctx_fail(u->ctx, SPD_EIO, "board %s: %s", u->where, strerror(errno))
                : 0;
  freeaddrinfo(ai);
  return err;
}

/* CMD_VER names the board's machine ("spindle/<machine>"), which must be
 * the one the run was mapped for. */
static int check_version(udp_t *u) {
  request_t q = req(0, 0, SPD_CMD_VER, 0, 0, 0);
  int err = one(u, &q, u->o.retries);
  if (err)
    return err;
  char text[SPD_SCP_MAX_DATA + 1] = {0};
  if (q.body_len > SPD_SCP_ARGS)
    memcpy(text, q.body + SPD_SCP_ARGS, q.body_len - SPD_SCP_ARGS);
  const char *hw = strchr(text, '/');
  if (!hw || strcmp(hw + 1, u->machine->name))
    return spd_ctx_fail(u->ctx, SPD_EIO, "board %s is '%s', not an emulated %s (spindle board "
                        "--machine %s)", u->where, text, u->machine->name, u->machine->name);
  return 0;
}

int spd_transceiver_new_udp(spd_ctx_t *ctx, const spd_machine_t *machine,
                            const spd_udp_opts_t *o, spd_transceiver_t **out) {
  udp_t *u = spd_calloc(ctx, 1, sizeof *u);
  spd_transceiver_t *tx = spd_calloc(ctx, 1, sizeof *tx);
  if (!u || !tx) {
    spd_free(ctx, u);
    spd_free(ctx, tx);
    return spd_ctx_fail(ctx, SPD_ENOMEM, "UDP transceiver: no memory");
  }
  *u = (udp_t){.ctx = ctx, .machine = machine, .fd = -1};
  if (o)
    u->o = *o;
  if (!u->o.host)
    u->o.host = "127.0.0.1";
  if (!u->o.port)
    u->o.port = SPD_BOARD_PORT;
  if (!u->o.timeout_ms)
    u->o.timeout_ms = 20;
  if (!u->o.retries)
    u->o.retries = 8;
  if (!u->o.window)
    u->o.window = 64;
  snprintf(u->where, sizeof u->where, "%s:%u", u->o.host, u->o.port);
  spd_rng_init(&u->loss_rng, u->o.loss_seed, 0x55445043u);
  u->seq = (uint16_t)(now_ns() ^ (uint64_t)getpid() << 7);
  *tx = (spd_transceiver_t){.ops = &udp_ops, .state = u, .ctx = ctx, .machine = machine};
  int err = connect_to(u);
  if (!err)
    err = check_version(u);
  if (!err) /* what a previous session left behind goes, as SpiNNMan stops old apps */
    err = signal_app(u, SPD_SIG_NEAREST_NEIGHBOUR, SPD_SIG_STOP);
  if (err) {
    if (u->fd >= 0)
      close(u->fd);
    u->fd = -1;
    spd_transceiver_free(tx);
    return err;
  }
  *out = tx;
  return 0;
}

int spd_transceiver_open_udp(void *ud, spd_ctx_t *ctx, const spd_machine_t *machine,
                             double inject_drops, uint64_t fault_seed,
                             spd_transceiver_t **out) {
  (void)fault_seed;
  if (inject_drops > 0)
    return spd_ctx_fail(ctx, SPD_EUNSUPPORTED, "--inject-drops with --board: the board's "
                        "routers drop packets (spindle board --inject-drops P)");
  return spd_transceiver_new_udp(ctx, machine, ud, out);
}
