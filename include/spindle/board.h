/* A SpiNNaker board over Ethernet: the UDP transceiver that speaks SDP/SCP
 * to a board's Ethernet chip (UDP port 17893), and the emulated board that
 * answers it (`spindle board`). The byte layouts follow spinnaker_tools'
 * SC&MP and SpiNNMan; docs/board-protocol.md says what is implemented and
 * where each layout comes from. */
#ifndef SPINDLE_BOARD_H
#define SPINDLE_BOARD_H

#include <stddef.h>
#include <stdint.h>

#include "spindle/context.h"
#include "spindle/machine.h"
#include "spindle/transceiver.h"

#define SPD_BOARD_PORT 17893u

/** How the UDP transceiver reaches its board. */
typedef struct spd_udp_opts {
  const char *host;          /* IPv4 address or name (NULL: 127.0.0.1) */
  uint16_t port;             /* 0: 17893 */
  double loss;               /* drop each datagram sent or received with this
                                probability (testing the retries; 0: none) */
  uint64_t loss_seed;
  uint32_t timeout_ms;       /* first wait for a reply (0: 20); doubles on
                                every retry, up to a second */
  uint32_t retries;          /* sends of one request before giving up (0: 8) */
  uint32_t window;           /* requests in flight at once (0: 64) */
} spd_udp_opts_t;

/** A transceiver onto the board at o->host:o->port, whose machine must be
 *  @p machine (borrowed): CMD_VER names it, and the board's application is
 *  stopped (its SDRAM and tables freed) before the transceiver is
 *  returned and when it is freed. @return 0; SPD_EIO (no socket, no
 *  answer, another machine); SPD_ENOMEM. */
int spd_transceiver_new_udp(spd_ctx_t *ctx, const spd_machine_t *machine,
                            const spd_udp_opts_t *o, spd_transceiver_t **out);

/** spd_transceiver_open_fn over UDP: @p ud is a spd_udp_opts_t (borrowed).
 *  Fault injection is the board's: inject_drops must be 0. */
int spd_transceiver_open_udp(void *ud, spd_ctx_t *ctx, const spd_machine_t *machine,
                             double inject_drops, uint64_t fault_seed,
                             spd_transceiver_t **out);

/** The emulated board: an in-process emulated machine answering SCP. */
typedef struct spd_board spd_board_t;

typedef struct spd_board_opts {
  double loss;               /* drop each datagram received or sent with this
                                probability (0: none) */
  uint64_t loss_seed;
  double inject_drops;       /* the machine's routers drop copies (as
                                spd_machine_run_opts_t.inject_drops) */
  uint64_t fault_seed;
} spd_board_opts_t;

/** A board serving @p machine (borrowed). @return 0 or SPD_ENOMEM. */
int spd_board_new(spd_ctx_t *ctx, const spd_machine_t *machine, const spd_board_opts_t *o,
                  spd_board_t **out);
void spd_board_free(spd_board_t *b);

/** Answer one datagram @p in of @p len bytes: the reply goes to @p out
 *  (room for SPD_BOARD_MAX_REPLY bytes), its length to *out_len (0: no
 *  reply: too short to answer, or no reply expected). Any bytes are
 *  accepted; a bad request gets its SCP return code. A request repeating
 *  the sequence number and bytes of one just answered gets that answer
 *  again without being executed twice. */
/* The answers a board keeps for repeated requests (by sequence number): a
 *  client keeps its requests in flight within that many of each other. */
#define SPD_BOARD_ANSWERS 64u
#define SPD_BOARD_MAX_REPLY 282u /* 2 + 8 + 4 + 12 + 256: an SDP packet's most */
void spd_board_handle(spd_board_t *b, const uint8_t *in, size_t len, uint8_t *out,
                      size_t *out_len);

/** Bind a UDP socket to @p host (an IPv4 address; NULL: 127.0.0.1) and
 *  @p port (0: any free one); the port bound goes to *bound. @return 0
 *  or SPD_EIO. */
int spd_board_bind(spd_ctx_t *ctx, const char *host, uint16_t port, int *fd, uint16_t *bound);
/** Answer datagrams on @p fd until @p stop returns true (asked between
 *  datagrams and at least every 100 ms). @return 0 or SPD_EIO. */
int spd_board_serve(spd_board_t *b, int fd, int (*stop)(void *ud), void *ud);
/** Datagrams received, answered from the duplicate cache, dropped by loss. */
void spd_board_stats(const spd_board_t *b, uint64_t *received, uint64_t *duplicates,
                     uint64_t *dropped);

#endif
