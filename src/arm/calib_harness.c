/* make bench-calibrate's ARM half (docs/calibration.md, scripts/calibrate.py):
 * a kernel's ARM968E-S image (the kernel, base/ and the spin1 shim exactly
 * as make arm builds them) with this file in place of spinnaker_tools, run
 * under qemu-arm as a Linux user program. It loads the chip's SDRAM as the
 * emulator's core found it (bench/calibrate_capture.c), runs the kernel's
 * main, then plays the emulator's sequence of callbacks for that core:
 * each packet through a receive interrupt handler shaped as spin1's, each
 * timer tick through spin1's timer handler (which queues the callback),
 * each queued callback through spin1's dispatcher. Every played callback
 * lies between calib_begin(k) and calib_end(k), so the instruction trace
 * of the run splits into one segment per callback; one line per segment
 * on stdout names what it was.
 *
 * What stands in for the chip: SDRAM is memory mapped at 0x60000000 as on
 * the chip (an anonymous mapping here), the comms controller's registers
 * are a page at 0x10000000 (the shim reads its TX-full bit there), DTCM is
 * an array. The handlers below do spin1's work in spin1's way (read the
 * controller's registers, queue or call) so that their instructions are
 * counted too; they are this harness's, not spinnaker_tools' code. */
#include <stdint.h>
#include <string.h>

#include "arm/spin1_api.h"
#include "kernels/kernel_common.h"
#include "spindle/core.h"

spd_core_t *spd__arm_core(void);
spd_core_cb spd__arm_deferred(uint32_t slot);
void c_main(void);
void _start(void);

/* ------------------------------------------------ Linux system calls */

static int sys(int nr, int a, int b, int c) {
  register int r0 __asm__("r0") = a;
  register int r1 __asm__("r1") = b;
  register int r2 __asm__("r2") = c;
  register int r7 __asm__("r7") = nr;
  __asm__ volatile("svc 0" : "+r"(r0) : "r"(r1), "r"(r2), "r"(r7) : "memory");
  return r0;
}

static void *map_fixed(uint32_t addr, uint32_t bytes) {
  register int r0 __asm__("r0") = (int)addr;
  register int r1 __asm__("r1") = (int)bytes;
  register int r2 __asm__("r2") = 3;    /* PROT_READ | PROT_WRITE */
  register int r3 __asm__("r3") = 0x32; /* MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED */
  register int r4 __asm__("r4") = -1;
  register int r5 __asm__("r5") = 0;
  register int r7 __asm__("r7") = 192; /* mmap2 */
  __asm__ volatile("svc 0"
                   : "+r"(r0)
                   : "r"(r1), "r"(r2), "r"(r3), "r"(r4), "r"(r5), "r"(r7)
                   : "memory");
  return (void *)r0;
}

static void out(const char *s) { sys(4, 1, (int)s, (int)strlen(s)); }

static void out_u(uint32_t v) {
  char b[12];
  int i = 11;
  b[i] = 0;
  do {
    b[--i] = (char)('0' + v % 10u);
    v /= 10u;
  } while (v);
  out(b + i);
}

static void die(const char *why) {
  out("calib_harness: ");
  out(why);
  out("\n");
  sys(1, 3, 0, 0);
  for (;;)
    ;
}

static uint32_t read_file(const char *path, void *dst, uint32_t max) {
  int fd = sys(5, (int)path, 0, 0);
  if (fd < 0)
    die("cannot open a capture file");
  uint32_t got = 0;
  for (;;) {
    int n = sys(3, fd, (int)((uint8_t *)dst + got), (int)(max - got));
    if (n < 0)
      die("cannot read a capture file");
    if (n == 0 || (got += (uint32_t)n) == max)
      break;
  }
  sys(6, fd, 0, 0);
  return got;
}

/* ------------------------------------------- the chip's stand-ins */

#define SDRAM_BASE 0x60000000u
#define SDRAM_MAP (64u << 20)
#define CC_BASE 0x10000000u
#define CC_RXKEY 1u /* word offsets in the comms controller's page */
#define CC_RXDATA 2u
#define CC_TXDATA 3u
#define CC_TXKEY 4u
#define CC_RSR 5u
#define DTCM_ARENA 63488u /* 64 KB less the spin1 stacks (docs/cost-model.md) */
#define QUEUE_SLOTS 16u   /* per priority, one stays empty (SPINNAKER.md #26) */
#define MAX_EVENTS 8192u
/* The capture's kinds of callback (spd_emu_ran_kind_t, spindle/emu.h). */
#define RAN_MAIN 0u
#define RAN_IRQ 1u
#define RAN_QUEUED 2u
#define RAN_TASK 3u

static volatile uint32_t *cc;
static uint8_t dtcm[DTCM_ARENA] __attribute__((aligned(8)));
static uint32_t meta[6];
static uint32_t events[MAX_EVENTS][6];
static uint32_t heap_top, ticks;
static callback_t cb[8];
static int prio[8];
static int exited;

typedef struct task {
  callback_t cb;
  uint a0, a1;
} task_t;
static task_t queue[5][QUEUE_SLOTS];
static uint32_t q_head[5], q_tail[5];

/* SDRAM words the CPU read or wrote directly (the shim's
 * spd_core_sdram_read/write): their wait states are the hardware's, not
 * an instruction's, and are added per word (scripts/calibrate.py). */
static uint32_t sdram_words;
__attribute__((noinline)) void calib_sdram_bytes(uint32_t bytes) {
  sdram_words += (bytes + 3u) / 4u;
}

/* The trace's markers: everything between a call of calib_begin and the
 * next of calib_end is one callback's work. */
__attribute__((noinline)) void calib_begin(uint32_t k) { __asm__ volatile("" ::"r"(k) : "memory"); }
__attribute__((noinline)) void calib_end(uint32_t k) { __asm__ volatile("" ::"r"(k) : "memory"); }

/* ------------------------------------------------ spin1, in its shape */

void spin1_callback_on(uint event_id, callback_t cback, int priority) {
  cb[event_id & 7u] = cback;
  prio[event_id & 7u] = priority;
}
void spin1_callback_off(uint event_id) { cb[event_id & 7u] = 0; }

/* spin1_schedule_callback: interrupts off, the priority's ring, on. */
uint spin1_schedule_callback(callback_t cback, uint arg0, uint arg1, uint priority) {
  uint32_t p = priority < 5u ? priority : 4u;
  uint32_t next = (q_tail[p] + 1u) % QUEUE_SLOTS;
  if (next == q_head[p])
    return FAILURE;
  queue[p][q_tail[p]] = (task_t){cback, arg0, arg1};
  q_tail[p] = next;
  return SUCCESS;
}

uint spin1_trigger_user_event(uint arg0, uint arg1) {
  (void)arg0, (void)arg1;
  return SUCCESS;
}

/* The DMA engine's registers take the transfer; the kernels of this
 * repository use none in their callbacks (they read SDRAM directly). */
static uint dma_id;
uint spin1_dma_transfer(uint tag, void *system_address, void *tcm_address, uint direction,
                        uint length) {
  (void)tag;
  if (direction == DMA_READ)
    memcpy(tcm_address, system_address, length);
  else
    memcpy(system_address, tcm_address, length);
  return ++dma_id;
}

/* spin1_send_mc_packet: TX not full, so payload then key into the comms
 * controller (a full controller would queue in spin1's TX queue). */
uint spin1_send_mc_packet(uint key, uint data, uint load) {
  if (load)
    cc[CC_TXDATA] = data;
  cc[CC_TXKEY] = key;
  return SUCCESS;
}

void spin1_set_timer_tick(uint time) { (void)time; }
uint spin1_get_simulation_time(void) { return ticks; }
static uint exit_code;
void spin1_exit(uint error) {
  exit_code = error;
  exited = 1;
}
void *spin1_malloc(uint bytes) { return bytes <= sizeof dtcm ? dtcm : 0; }
uint spin1_get_core_id(void) { return meta[4]; }
uint spin1_get_chip_id(void) { return meta[2] << 8 | meta[3]; }
void *sark_xalloc(heap_t *heap, uint size, uint tag, uint flag) {
  (void)heap, (void)tag, (void)flag;
  uint32_t at = (heap_top + 15u) & ~15u;
  if (at + size > SDRAM_BASE + SDRAM_MAP)
    return 0;
  heap_top = at + size;
  memset((void *)at, 0, size);
  return (void *)at;
}
heap_t *spd_spin1_sdram_heap(void) { return 0; }
uint spd_spin1_user0(void) { return meta[0]; }
uint spd_spin1_dtcm_heap_max(void) { return DTCM_ARENA; }

/* The receive interrupt: the controller's status, key and payload, then
 * the callback (priority -1 and 0 run inside the handler) or the queue. */
__attribute__((noinline)) static void rx_isr(uint32_t event) {
  uint32_t status = cc[CC_RSR];
  uint32_t key = cc[CC_RXKEY];
  uint32_t data = status ? cc[CC_RXDATA] : 0u;
  if (!cb[event])
    return;
  if (prio[event] <= 0)
    cb[event](key, data);
  else
    spin1_schedule_callback(cb[event], key, data, (uint)prio[event]);
}

/* The timer interrupt: count the tick, queue the callback. */
__attribute__((noinline)) static void timer_isr(void) {
  ticks++;
  if (!cb[TIMER_TICK])
    return;
  if (prio[TIMER_TICK] <= 0)
    cb[TIMER_TICK](ticks, 0);
  else
    spin1_schedule_callback(cb[TIMER_TICK], ticks, 0, (uint)prio[TIMER_TICK]);
}

/* A user event (spin1's software interrupt): its callback in the IRQ
 * (priority 0) or queued. */
__attribute__((noinline)) static void user_isr(uint32_t a0, uint32_t a1) {
  if (!cb[USER_EVENT])
    return;
  if (prio[USER_EVENT] <= 0)
    cb[USER_EVENT](a0, a1);
  else
    spin1_schedule_callback(cb[USER_EVENT], a0, a1, (uint)prio[USER_EVENT]);
}

/* spin1's dispatcher: the first non-empty priority's oldest task. */
__attribute__((noinline)) static int dispatch(task_t *ran) {
  for (uint32_t p = 1; p < 5u; p++) {
    if (q_head[p] == q_tail[p])
      continue;
    task_t t = queue[p][q_head[p]];
    q_head[p] = (q_head[p] + 1u) % QUEUE_SLOTS;
    *ran = t;
    if (t.cb != cb[TIMER_TICK]) /* the shim's deferred slot: name its callback */
      ran->cb = (callback_t)(uintptr_t)spd__arm_deferred(t.a0);
    t.cb(t.a0, t.a1);
    return 1;
  }
  return 0;
}

/* ------------------------------------------------------- the replay */

static uint32_t packet_kind(uint32_t key) {
  const spd_kc_t *kc = spd_core_get_state(spd__arm_core());
  if (!kc || !kc->in)
    return 99u;
  for (uint32_t i = 0; i < kc->h.n_in; i++)
    if ((key & kc->in[i].mask) == kc->in[i].base)
      return kc->in[i].kind;
  return 99u;
}

static void line(uint32_t k, const char *what, uint32_t a, uint32_t b, uint32_t c);
static void begin(uint32_t k) {
  sdram_words = 0;
  calib_begin(k);
}
static void end(uint32_t k) {
  calib_end(k);
  if (sdram_words)
    line(k, "sdram", sdram_words, 0, 0);
}

static void line(uint32_t k, const char *what, uint32_t a, uint32_t b, uint32_t c) {
  out_u(k);
  out(" ");
  out(what);
  out(" ");
  out_u(a);
  out(" ");
  out_u(b);
  out(" ");
  out_u(c);
  out("\n");
}

__attribute__((noinline)) static void replay(uint32_t n) {
  for (uint32_t k = 1; k < n && !exited; k++) {
    const uint32_t *e = events[k];
    uint32_t kind = e[0], event = e[1];
    if (kind == RAN_MAIN)
      die("a second main in the capture");
    if (kind == RAN_TASK) {
      /* The sender's head job: the pace (or phase) send_task waits for,
       * which the emulator charges as the core's time (not work). */
      const spd_kc_t *kc = spd_core_get_state(spd__arm_core());
      uint32_t pace = 0, phase = 0;
      if (kc && kc->jobs && kc->jobs_count) {
        pace = kc->jobs[kc->jobs_head].pace;
        phase = kc->jobs[kc->jobs_head].phase;
      }
      task_t t;
      begin(k);
      int ran = dispatch(&t);
      end(k);
      if (!ran)
        die("the emulator ran a task the harness does not have queued");
      line(k, "task", (uint32_t)(uintptr_t)t.cb, e[2], e[3]);
      line(k, "job", pace, phase, 0);
      continue;
    }
    if (event == SPD_EVENT_MCPL_PACKET || event == SPD_EVENT_MC_PACKET) {
      cc[CC_RXKEY] = e[2];
      cc[CC_RXDATA] = e[3];
      cc[CC_RSR] = event == SPD_EVENT_MCPL_PACKET;
      begin(k);
      rx_isr(event);
      end(k);
      line(k, kind == RAN_QUEUED ? "packet_queued" : "packet", packet_kind(e[2]), e[2],
           e[3]);
    } else if (event == SPD_EVENT_TIMER_TICK) {
      begin(k);
      timer_isr();
      end(k);
      line(k, "timer", e[2], 0, 0);
    } else if (event == SPD_EVENT_USER) {
      begin(k);
      user_isr(e[2], e[3]);
      end(k);
      line(k, "user", e[2], e[3], 0);
    } else {
      line(k, "skipped", event, e[2], e[3]);
    }
  }
}

uint spin1_start(uint sync) {
  (void)sync;
  calib_end(0);
  replay(meta[5]);
  out("done\n");
  sys(1, 0, 0, 0);
  return 0;
}

void _start(void) {
  if (read_file("meta", meta, sizeof meta) != sizeof meta)
    die("meta is short");
  if (meta[1] > SDRAM_MAP / 2u || meta[5] > MAX_EVENTS)
    die("the capture is larger than the harness");
  if (map_fixed(SDRAM_BASE, SDRAM_MAP) != (void *)SDRAM_BASE ||
      map_fixed(CC_BASE, 4096u) != (void *)CC_BASE)
    die("cannot map SDRAM or the comms controller");
  cc = (volatile uint32_t *)CC_BASE;
  if (read_file("sdram", (void *)SDRAM_BASE, meta[1]) != meta[1])
    die("sdram is short");
  heap_top = SDRAM_BASE + meta[1];
  if (read_file("events", events, meta[5] * 24u) != meta[5] * 24u || events[0][0] != 0)
    die("events are short or do not start with main");
  calib_begin(0);
  c_main(); /* the kernel's main, then spin1_start: the replay */
  out("calib_harness: the kernel's main failed: ");
  out_u(-exit_code);
  out(" ");
  die(spd_core_error(spd__arm_core()));
}
