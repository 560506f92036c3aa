/* The UDP transceiver against the emulated board on loopback (a thread
 * serves it): bytes round-trip through many datagrams even when a fifth of
 * them are lost on both ends, the board's refusals come back as the
 * transceiver's errors with the board's diagnostic, and a new session finds
 * the board as at power-on. */
#include "test_support.h"

#include <pthread.h>
#include <string.h>
#include <unistd.h>

#include "spindle/board.h"

typedef struct served {
  spd_ctx_t ctx;
  spd_machine_t *machine;
  spd_board_t *board;
  int fd;
  uint16_t port;
  volatile int stop;
  pthread_t thread;
} served_t;

static int stop_cb(void *ud) { return ((served_t *)ud)->stop; }

static void *serve(void *ud) {
  served_t *s = ud;
  spd_board_serve(s->board, s->fd, stop_cb, s);
  return NULL;
}

static void serve_start(served_t *s, double loss) {
  memset(s, 0, sizeof *s);
  spd_ctx_init(&s->ctx);
  assert_int_equal(spd_machine_new(&s->ctx, "spinn3", &s->machine), 0);
  spd_board_opts_t o = {.loss = loss, .loss_seed = 11};
  assert_int_equal(spd_board_new(&s->ctx, s->machine, &o, &s->board), 0);
  assert_int_equal(spd_board_bind(&s->ctx, NULL, 0, &s->fd, &s->port), 0);
  assert_int_equal(pthread_create(&s->thread, NULL, serve, s), 0);
}

static void serve_stop(served_t *s) {
  s->stop = 1;
  pthread_join(s->thread, NULL);
  close(s->fd);
  spd_board_free(s->board);
  spd_machine_free(s->machine);
}

static void bytes_round_trip_through_lossy_datagrams(void **state) {
  (void)state;
  served_t s;
  serve_start(&s, 0.2);
  spd_ctx_t ctx;
  spd_ctx_init(&ctx);
  spd_machine_t *m;
  assert_int_equal(spd_machine_new(&ctx, "spinn3", &m), 0);
  spd_udp_opts_t o = {.port = s.port, .loss = 0.2, .loss_seed = 5, .timeout_ms = 5,
                      .retries = 30};
  spd_transceiver_t *tx;
  assert_int_equal(spd_transceiver_new_udp(&ctx, m, &o, &tx), 0);
  enum { N = 10001 }; /* 40 datagrams, the last one short */
  static uint8_t data[N], back[N];
  for (uint32_t i = 0; i < N; i++)
    data[i] = (uint8_t)(i * 131u + 7u);
  uint32_t a1, a2;
  assert_int_equal(spd_tx_sdram_alloc(tx, 1, 1, N + 3, &a1), 0);
  assert_int_equal(spd_tx_sdram_alloc(tx, 1, 1, 64, &a2), 0);
  assert_true(a2 >= a1 + N + 3); /* a repeated ALLOC allocated nothing twice */
  assert_int_equal(spd_tx_write_sdram(tx, 1, 1, a1 + 3, data, N), 0);
  assert_int_equal(spd_tx_read_sdram(tx, 1, 1, a1 + 3, back, N), 0);
  assert_memory_equal(back, data, N);
  spd_core_status_t st;
  assert_int_equal(spd_tx_core_status(tx, 1, 1, 5, &st), 0);
  assert_int_equal(st.state, SPD_CORE_IDLE);
  spd_run_counters_t rc;
  assert_int_equal(spd_tx_run_counters(tx, &rc), 0);
  assert_int_equal(rc.chips, 4);
  uint64_t received, repeats, dropped;
  spd_board_stats(s.board, &received, &repeats, &dropped);
  assert_true(dropped > 0 && repeats > 0);
  spd_transceiver_free(tx);
  spd_machine_free(m);
  serve_stop(&s);
}

static void refusals_come_back_as_errors(void **state) {
  (void)state;
  served_t s;
  serve_start(&s, 0);
  spd_ctx_t ctx;
  spd_ctx_init(&ctx);
  spd_machine_t *m, *other;
  assert_int_equal(spd_machine_new(&ctx, "spinn3", &m), 0);
  assert_int_equal(spd_machine_new(&ctx, "spinn5", &other), 0);
  spd_udp_opts_t o = {.port = s.port};
  spd_transceiver_t *tx;
  assert_int_equal(spd_transceiver_new_udp(&ctx, other, &o, &tx), SPD_EIO);
  assert_non_null(strstr(spd_ctx_message(&ctx), "spinn3"));
  assert_int_equal(spd_transceiver_new_udp(&ctx, m, &o, &tx), 0);
  uint32_t a, first;
  assert_int_equal(spd_tx_sdram_alloc(tx, 0, 1, 0x7FFFFFF0u, &a), SPD_ESDRAM);
  assert_non_null(strstr(spd_ctx_message(&ctx), "(0,1)"));
  assert_int_equal(spd_tx_sdram_alloc(tx, 0, 1, 256, &first), 0);
  uint8_t buf[512] = {0};
  assert_int_equal(spd_tx_read_sdram(tx, 0, 1, first, buf, 512), SPD_EINVAL);
  assert_non_null(strstr(spd_ctx_message(&ctx), "outside the SDRAM allocated"));
  /* the emulator's own code and diagnostic, as in process */
  assert_int_equal(spd_tx_load_kernel(tx, 0, 1, 3, "no_such_kernel", first), SPD_ENOTFOUND);
  assert_non_null(strstr(spd_ctx_message(&ctx), "no_such_kernel"));
  static spd_route_entry_t many[1024];
  assert_int_equal(spd_tx_load_routes(tx, 0, 1, many, 1024), SPD_EROUTER);
  spd_route_entry_t one = spd_route_entry(0x10000, 0xFFFF0000, spd_route_core(3));
  assert_int_equal(spd_tx_load_routes(tx, 0, 1, &one, 1), 0);
  spd_chip_counters_t cc;
  assert_int_equal(spd_tx_chip_counters(tx, 0, 1, &cc), 0);
  assert_int_equal(cc.router_entries, 1);
  spd_transceiver_free(tx);
  /* a new session: the board is at power-on, the same address again */
  assert_int_equal(spd_transceiver_new_udp(&ctx, m, &o, &tx), 0);
  assert_int_equal(spd_tx_sdram_alloc(tx, 0, 1, 256, &a), 0);
  assert_int_equal(a, first);
  assert_int_equal(spd_tx_chip_counters(tx, 0, 1, &cc), 0);
  assert_int_equal(cc.router_entries, 0);
  spd_transceiver_free(tx);
  spd_machine_free(m);
  spd_machine_free(other);
  serve_stop(&s);
}

static void no_board_no_answer(void **state) {
  (void)state;
  spd_ctx_t ctx;
  spd_ctx_init(&ctx);
  spd_machine_t *m;
  assert_int_equal(spd_machine_new(&ctx, "spinn3", &m), 0);
  int fd;
  uint16_t port;
  assert_int_equal(spd_board_bind(&ctx, NULL, 0, &fd, &port), 0); /* bound, never answered */
  spd_udp_opts_t o = {.port = port, .timeout_ms = 2, .retries = 3};
  spd_transceiver_t *tx;
  assert_int_equal(spd_transceiver_new_udp(&ctx, m, &o, &tx), SPD_EIO);
  assert_non_null(strstr(spd_ctx_message(&ctx), "no answer"));
  close(fd);
  spd_machine_free(m);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(bytes_round_trip_through_lossy_datagrams),
      cmocka_unit_test(refusals_come_back_as_errors),
      cmocka_unit_test(no_board_no_answer),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
