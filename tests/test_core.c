/* The on-core API's own rules, without a machine: spin1 priorities and
 * queues, the DTCM arena and its diagnostic. */
#include "test_support.h"

#include <string.h>

#include "core/core_impl.h"
#include "spindle/machine.h"

static uint8_t dtcm[SPD_DTCM_BYTES];
static const spd_kernel_t kernel = {"k", NULL};

static void fresh(spd_core_t *core) {
  memset(core, 0, sizeof *core);
  core->dtcm = dtcm;
  core->x = 2;
  core->y = 3;
  core->p = 4;
  core->cycle_ps = 5000;
  spd__core_reset(core);
  core->kernel = &kernel;
  core->dtcm_limit = SPD_DTCM_BYTES - 2048;
}

static void cb_a(spd_core_t *core, uint32_t a, uint32_t b) { (void)core, (void)a, (void)b; }
static void cb_b(spd_core_t *core, uint32_t a, uint32_t b) { (void)core, (void)a, (void)b; }

static void callback_priorities_follow_spin1(void **state) {
  (void)state;
  static spd_core_t core;
  fresh(&core);
  assert_int_equal(spd_core_callback_on(&core, SPD_EVENT_MC_PACKET, cb_a, 5), SPD_EINVAL);
  assert_int_equal(spd_core_callback_on(&core, SPD_EVENT_MC_PACKET, cb_a, -2), SPD_EINVAL);
  assert_int_equal(spd_core_callback_on(&core, (spd_core_event_t)3, cb_a, 1), SPD_EINVAL);
  assert_non_null(strstr(spd_core_error(&core), "core (2,3,4)"));
  /* Only one preeminent callback: a second is demoted to 0. */
  assert_int_equal(spd_core_callback_on(&core, SPD_EVENT_MC_PACKET, cb_a, -1), 0);
  assert_int_equal(spd_core_callback_on(&core, SPD_EVENT_DMA_DONE, cb_b, -1), 0);
  assert_int_equal(core.callbacks[SPD_EVENT_MC_PACKET].priority, -1);
  assert_int_equal(core.callbacks[SPD_EVENT_DMA_DONE].priority, 0);
  /* Freeing the preeminent slot lets another take it. */
  spd_core_callback_off(&core, SPD_EVENT_MC_PACKET);
  assert_null(core.callbacks[SPD_EVENT_MC_PACKET].cb);
  assert_int_equal(spd_core_callback_on(&core, SPD_EVENT_USER, cb_b, -1), 0);
  assert_int_equal(core.callbacks[SPD_EVENT_USER].priority, -1);
}

static void queues_hold_15_and_run_lowest_priority_first(void **state) {
  (void)state;
  static spd_core_t core;
  fresh(&core);
  for (uint32_t i = 0; i < 15; i++)
    assert_true(spd__core_enqueue(&core, 3, cb_a, i, 0));
  assert_false(spd__core_enqueue(&core, 3, cb_a, 99, 0));
  assert_int_equal(core.counters.task_queue_full, 1);
  assert_true(spd__core_enqueue(&core, 1, cb_b, 100, 0));
  assert_true(spd__core_enqueue(&core, 4, cb_b, 200, 0));
  spd_core_task_t t;
  assert_true(spd__core_dequeue(&core, &t));
  assert_int_equal(t.arg0, 100);
  for (uint32_t i = 0; i < 15; i++) {
    assert_true(spd__core_dequeue(&core, &t));
    assert_int_equal(t.arg0, i);
  }
  assert_true(spd__core_dequeue(&core, &t));
  assert_int_equal(t.arg0, 200);
  assert_false(spd__core_dequeue(&core, &t));
}

static void dtcm_arena_is_bounded_and_says_who_asked(void **state) {
  (void)state;
  static spd_core_t core;
  fresh(&core);
  memset(dtcm, 0xAB, sizeof dtcm);
  uint8_t *a = spd_core_dtcm_alloc(&core, 3);
  uint8_t *b = spd_core_dtcm_alloc(&core, 8);
  assert_non_null(a);
  assert_int_equal(b - a, 8);
  assert_int_equal(a[0], 0);
  assert_int_equal(spd_core_dtcm_free(&core), SPD_DTCM_BYTES - 2048 - 16);
  assert_null(spd_core_dtcm_alloc(&core, SPD_DTCM_BYTES));
  assert_string_equal(spd_core_error(&core),
                      "core (2,3,4) kernel k asked for 65536 bytes of DTCM, 63472 free");
  assert_null(spd_core_dtcm_alloc(&core, 0));
  assert_non_null(spd_core_dtcm_alloc(&core, 63472));
  assert_int_equal(spd_core_dtcm_free(&core), 0);
}

/* Who the core is, and its clock: charged cycles move time forward at the
 * core's cycle length. */
static void identity_and_time(void **state) {
  (void)state;
  static spd_core_t core;
  fresh(&core);
  assert_int_equal(spd_core_chip_x(&core), 2);
  assert_int_equal(spd_core_chip_y(&core), 3);
  assert_int_equal(spd_core_id(&core), 4);
  int marker;
  spd_core_set_state(&core, &marker);
  assert_ptr_equal(spd_core_get_state(&core), &marker);
  core.exec_start = 3000000000; /* 3 ms */
  uint64_t start = spd_core_time_cycles(&core);
  assert_int_equal(start, 3000000000 / 5000);
  spd_core_charge(&core, 200000); /* 1 ms at 5 ns a cycle */
  assert_int_equal(spd_core_time_cycles(&core), start + 200000);
  assert_int_equal(spd_core_time_ps(&core), 4000000000);
  assert_int_equal(spd_core_time_us(&core), 4000);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(callback_priorities_follow_spin1),
      cmocka_unit_test(queues_hold_15_and_run_lowest_priority_first),
      cmocka_unit_test(dtcm_arena_is_bounded_and_says_who_asked),
      cmocka_unit_test(identity_and_time),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
