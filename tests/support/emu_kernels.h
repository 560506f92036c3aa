/* Test kernels for the emulator: a paced sender and a counting receiver,
 * with their parameters in SDRAM, and helpers to place them. */
#ifndef SPINDLE_TEST_EMU_KERNELS_H
#define SPINDLE_TEST_EMU_KERNELS_H

#include <stdint.h>

#include "spindle/emu.h"

typedef struct spd_test_kparams {
  uint32_t n_packets;     /* sender: packets to send */
  uint32_t key;           /* sender: first key (keys key + i % key_span) */
  uint32_t key_span;
  uint32_t with_payload;
  uint32_t period_us;     /* sender: timer period; receiver: deadline check period */
  uint32_t per_tick;      /* sender: packets tried per tick */
  uint32_t expected;      /* receiver: exit once this many arrived */
  uint32_t deadline_us;   /* receiver: exit at this time regardless */
  uint32_t per_packet_cycles; /* receiver: work charged per packet */
  int32_t priority;       /* receiver: callback priority */
  uint32_t start_delay_cycles; /* sender: main's work, shifting its timer phase */
  uint32_t result_addr;   /* SDRAM address of a spd_test_kresult_t */
} spd_test_kparams_t;

typedef struct spd_test_kresult {
  uint32_t count;         /* sent or received */
  uint32_t refused;       /* sends refused (TX queue full) */
  uint32_t checksum;      /* receiver: sum of key ^ payload */
  uint32_t time_us;       /* when the kernel exited */
} spd_test_kresult_t;

extern const spd_kernel_t spd_test_sender_kernel;   /* "test_sender" */
extern const spd_kernel_t spd_test_receiver_kernel; /* "test_receiver" */
extern const spd_kernel_t spd_test_dma_kernel;      /* "test_dma": adds 1 to each word */

/** Register the test kernels with @p emu. @return 0 or an SPD_E* code. */
int spd_test_register_kernels(spd_emu_t *emu);

/** Write @p params (result_addr filled in here) to chip (x,y)'s SDRAM and
 *  load @p kernel on core p. The result address is returned in
 *  @p result_addr when not NULL. @return 0 or an SPD_E* code. */
int spd_test_place(spd_emu_t *emu, int x, int y, int p, const char *kernel,
                   spd_test_kparams_t params, uint32_t *result_addr);

/** Read the result of a kernel placed on chip (x,y). */
spd_test_kresult_t spd_test_result(spd_emu_t *emu, int x, int y, uint32_t result_addr);

#endif
