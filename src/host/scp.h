/* SDP/SCP over UDP as SpiNNaker's monitor (SC&MP) and host tools (SpiNNMan)
 * lay them out: the byte layouts shared by the UDP transceiver and the
 * emulated board (docs/board-protocol.md gives the sources). Not a public
 * header. */
#ifndef SPINDLE_HOST_SCP_H
#define SPINDLE_HOST_SCP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SPD_SCP_UDP_PORT 17893u   /* SC&MP's SDP port */
#define SPD_SCP_MAX_DATA 256u     /* data bytes after arg3 */
#define SPD_SCP_PAD 2u            /* two padding bytes before the SDP header */
#define SPD_SDP_HEADER 8u         /* flags, tag, dest/src port|cpu, dest y x, src y x */
#define SPD_SCP_HEADER 4u         /* cmd_rc, seq */
#define SPD_SCP_ARGS 12u          /* arg1..arg3 */
/* The offset of the SCP body (arg1 on requests, the reply's payload). */
#define SPD_SCP_BODY (SPD_SCP_PAD + SPD_SDP_HEADER + SPD_SCP_HEADER)
#define SPD_SCP_MAX_PACKET (SPD_SCP_BODY + SPD_SCP_ARGS + SPD_SCP_MAX_DATA)

#define SPD_SDP_REPLY_EXPECTED 0x87u
#define SPD_SDP_NO_REPLY 0x07u
#define SPD_SDP_HOST_TAG 0xFFu

/* Commands (spinnaker_tools sark.h, SpiNNMan scp_command.py). */
enum {
  SPD_CMD_VER = 0,
  SPD_CMD_READ = 2,
  SPD_CMD_WRITE = 3,
  SPD_CMD_SIG = 22,
  SPD_CMD_AS = 24,
  SPD_CMD_IPTAG = 26,
  SPD_CMD_ALLOC = 28,
  SPD_CMD_RTR = 29,
  /* spindle's own, for the emulated board only (docs/board-protocol.md) */
  SPD_CMD_SPD_RUN = 96,
  SPD_CMD_SPD_PROV = 97,
};

/* Return codes (sark.h RC_*, SpiNNMan scp_result.py). */
enum {
  SPD_RC_OK = 0x80,
  SPD_RC_LEN = 0x81,
  SPD_RC_SUM = 0x82,
  SPD_RC_CMD = 0x83,
  SPD_RC_ARG = 0x84,
  SPD_RC_PORT = 0x85,
  SPD_RC_TIMEOUT = 0x86,
  SPD_RC_ROUTE = 0x87,
  SPD_RC_CPU = 0x88,
  SPD_RC_BUF = 0x8A,
};

/* CMD_ALLOC operations (SpiNNMan alloc_free.py). */
enum { SPD_ALLOC_SDRAM = 0, SPD_FREE_SDRAM = 1, SPD_ALLOC_RTR = 3 };
/* CMD_RTR operation "load" (scamp-cmd.c cmd_rtr). */
#define SPD_RTR_LOAD 2u
/* CMD_IPTAG operations (SpiNNMan iptag_command.py). */
enum { SPD_IPTAG_NEW = 0, SPD_IPTAG_SET = 1, SPD_IPTAG_GET = 2, SPD_IPTAG_CLR = 3 };
#define SPD_IPTAG_COUNT 8u
/* Signals (SpiNNMan signal.py) and their transmission types. */
enum { SPD_SIG_STOP = 2, SPD_SIG_SYNC0 = 4, SPD_SIG_EXIT = 8 };
enum { SPD_SIG_MULTICAST = 0, SPD_SIG_NEAREST_NEIGHBOUR = 2 };
/* CMD_AS: arg2 = app_id << 24 | flags << 18 | core mask; flag 1 = wait for SYNC0. */
#define SPD_AS_WAIT (1u << 18)

/* SARK's vcpu_t: 128 bytes per core from SV_VCPU (SpiNNMan cpu_info.py,
 * constants.py). */
#define SPD_VCPU_BASE 0xE5007000u
#define SPD_VCPU_BYTES 128u
#define SPD_VCPU_RT_CODE 44u
#define SPD_VCPU_PHYS_CPU 45u
#define SPD_VCPU_STATE 46u
#define SPD_VCPU_APP_ID 47u
#define SPD_VCPU_APP_NAME 72u
#define SPD_VCPU_IOBUF 88u
#define SPD_VCPU_USER0 112u
#define SPD_VCPU_USER1 116u
/* cpu_state_t values (SpiNNMan cpu_state.py). */
enum {
  SPD_CPU_RUN_TIME_EXCEPTION = 2,
  SPD_CPU_RUNNING = 7,
  SPD_CPU_SYNC0 = 8,
  SPD_CPU_FINISHED = 11,
  SPD_CPU_IDLE = 15,
};

/* The board's own SDRAM at the top of each chip's (SC&MP's sv->sdram_sys;
 * SpiNNMan loads router tables through 0x67800000): the application's
 * allocations never reach it. */
#define SPD_SYS_SDRAM 0x67800000u
#define SPD_SYS_BUFFER_BYTES 0x10000u   /* tables and kernel images */
#define SPD_SYS_IOBUF (SPD_SYS_SDRAM + SPD_SYS_BUFFER_BYTES)
#define SPD_SYS_IOBUF_BYTES 256u        /* per core */

/* A kernel image as the emulated board loads it (CMD_AS arg1): magic,
 * then the registered kernel's name, NUL-terminated. */
#define SPD_IMAGE_MAGIC 0x4E4B5053u /* "SPKN" little-endian */
#define SPD_IMAGE_NAME_MAX 60u

/* One message: the SDP header fields, the SCP command or return code and
 * sequence number, and the body after them (arg1.. on requests). */
typedef struct spd_scp_msg {
  uint8_t flags, tag, dest_port_cpu, src_port_cpu;
  uint8_t dest_y, dest_x, src_y, src_x;
  uint16_t cmd_rc, seq;
  const uint8_t *body;
  size_t body_len;
} spd_scp_msg_t;

static inline uint32_t spd__le32(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static inline void spd__put_le32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)v;
  p[1] = (uint8_t)(v >> 8);
  p[2] = (uint8_t)(v >> 16);
  p[3] = (uint8_t)(v >> 24);
}
static inline void spd__put_le64(uint8_t *p, uint64_t v) {
  spd__put_le32(p, (uint32_t)v);
  spd__put_le32(p + 4, (uint32_t)(v >> 32));
}
static inline uint64_t spd__le64(const uint8_t *p) {
  return (uint64_t)spd__le32(p) | (uint64_t)spd__le32(p + 4) << 32;
}

/** Parse a datagram; @return 0, or -1 when it is too short to carry a
 *  sequence number (nothing can be answered). */
int spd__scp_parse(const uint8_t *in, size_t len, spd_scp_msg_t *m);
/** Write the headers of @p m into @p out (SPD_SCP_BODY bytes); the caller
 *  writes the body after them. */
void spd__scp_head(const spd_scp_msg_t *m, uint8_t *out);

/* Provenance payloads of CMD_SPD_PROV: the counters as little-endian
 * 64-bit words in the order of spindle/provenance.h. */
enum { SPD_PROV_CORE = 0, SPD_PROV_CHIP = 1, SPD_PROV_RUN = 2 };
#define SPD_PROV_MAX_WORDS 32u
#include "spindle/provenance.h"
size_t spd__prov_core_put(const spd_core_counters_t *c, uint8_t *out);
size_t spd__prov_chip_put(const spd_chip_counters_t *c, uint8_t *out);
size_t spd__prov_run_put(const spd_run_counters_t *c, uint8_t *out);
int spd__prov_core_get(spd_core_counters_t *c, const uint8_t *in, size_t len);
int spd__prov_chip_get(spd_chip_counters_t *c, const uint8_t *in, size_t len);
int spd__prov_run_get(spd_run_counters_t *c, const uint8_t *in, size_t len);

/* board.c, for board_net.c: true when the board's loss drops the next
 * datagram. */
struct spd_board;
bool spd__board_lose(struct spd_board *b);

#endif
