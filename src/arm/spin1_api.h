/* The subset of spinnaker_tools' spin1_api.h and sark.h that the ARM shim
 * (src/arm/core_spin1.c) calls, with spin1's own names and signatures, so
 * the shim compiles without spinnaker_tools. On a board the real library
 * replaces the link-only stubs of src/arm/spin1_stub.c (docs/calibration.md). */
#ifndef SPINDLE_ARM_SPIN1_API_H
#define SPINDLE_ARM_SPIN1_API_H

typedef unsigned int uint;
typedef void (*callback_t)(uint, uint);

/* spin1_api.h: events (numbered as spindle/core.h's), priorities, DMA. */
#define MC_PACKET_RECEIVED 0
#define DMA_TRANSFER_DONE 1
#define TIMER_TICK 2
#define USER_EVENT 4
#define MCPL_PACKET_RECEIVED 5
#define DMA_READ 0
#define DMA_WRITE 1
#define NO_PAYLOAD 0
#define WITH_PAYLOAD 1
#define SUCCESS 1
#define FAILURE 0
#define SYNC_NOWAIT 0

void spin1_callback_on(uint event_id, callback_t cback, int priority);
void spin1_callback_off(uint event_id);
uint spin1_schedule_callback(callback_t cback, uint arg0, uint arg1, uint priority);
uint spin1_trigger_user_event(uint arg0, uint arg1);
uint spin1_dma_transfer(uint tag, void *system_address, void *tcm_address, uint direction,
                        uint length);
uint spin1_send_mc_packet(uint key, uint data, uint load);
void spin1_set_timer_tick(uint time);
uint spin1_start(uint sync);
void spin1_exit(uint error);
uint spin1_get_simulation_time(void);
void *spin1_malloc(uint bytes);
uint spin1_get_core_id(void);
uint spin1_get_chip_id(void);

/* sark.h: the SDRAM heap and the core's user0 word (the host writes the
 * address of the kernel's data specification there before starting it). */
#define ALLOC_LOCK 1
typedef struct heap_t heap_t;
void *sark_xalloc(heap_t *heap, uint size, uint tag, uint flag);
heap_t *spd_spin1_sdram_heap(void); /* sv->sdram_heap */
uint spd_spin1_user0(void);         /* sark_virtual_processor_info[core].user0 */
uint spd_spin1_dtcm_heap_max(void); /* sark_heap_max(sark.heap, 0) */

#endif
