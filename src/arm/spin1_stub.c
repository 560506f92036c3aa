/* Link-only stand-ins for spinnaker_tools (src/arm/spin1_api.h): weak, so
 * the kernels' images link without the library and the real spin1/sark
 * replace them on a board. They do nothing useful: these images are for
 * sizes and symbol checks (docs/calibration.md), not for running. Kept
 * apart from the size of a kernel (scripts/arm_build.py reports them). */
#include "arm/spin1_api.h"

#define WEAK __attribute__((weak))

WEAK void spin1_callback_on(uint event_id, callback_t cback, int priority) {
  (void)event_id, (void)cback, (void)priority;
}
WEAK void spin1_callback_off(uint event_id) { (void)event_id; }
WEAK uint spin1_schedule_callback(callback_t cback, uint arg0, uint arg1, uint priority) {
  (void)cback, (void)arg0, (void)arg1, (void)priority;
  return SUCCESS;
}
WEAK uint spin1_trigger_user_event(uint arg0, uint arg1) {
  (void)arg0, (void)arg1;
  return SUCCESS;
}
WEAK uint spin1_dma_transfer(uint tag, void *system_address, void *tcm_address, uint direction,
                             uint length) {
  (void)tag, (void)system_address, (void)tcm_address, (void)direction, (void)length;
  return 1;
}
WEAK uint spin1_send_mc_packet(uint key, uint data, uint load) {
  (void)key, (void)data, (void)load;
  return SUCCESS;
}
WEAK void spin1_set_timer_tick(uint time) { (void)time; }
WEAK uint spin1_start(uint sync) {
  (void)sync;
  return 0;
}
WEAK void spin1_exit(uint error) { (void)error; }
WEAK uint spin1_get_simulation_time(void) { return 0; }
WEAK void *spin1_malloc(uint bytes) {
  (void)bytes;
  return 0;
}
WEAK uint spin1_get_core_id(void) { return 1; }
WEAK uint spin1_get_chip_id(void) { return 0; }
WEAK void *sark_xalloc(heap_t *heap, uint size, uint tag, uint flag) {
  (void)heap, (void)size, (void)tag, (void)flag;
  return 0;
}
WEAK heap_t *spd_spin1_sdram_heap(void) { return 0; }
WEAK uint spd_spin1_user0(void) { return 0; }
WEAK uint spd_spin1_dtcm_heap_max(void) { return 0; }

/* The entry a spin1 image's start-up code calls; the real one comes with
 * sark's crt (spin1_api's c_main is the application's). */
void c_main(void);
WEAK void _start(void) {
  c_main();
  for (;;)
    ;
}
