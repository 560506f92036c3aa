/* The emulated board's request parser and commands (src/host/board.c):
 * any datagrams, one after another on one fresh board, are answered or
 * ignored without a crash, and every answer is a well-formed SCP reply
 * echoing the request's sequence number. The input is a series of
 * datagrams, each a 16-bit little-endian length and that many bytes. A
 * run command (spindle's CMD_SPD_RUN) is capped at 1 ms of simulated time
 * so an input cannot ask the machine for hours. */
#include <string.h>

#include "fuzz.h"
#include "host/scp.h"
#include "spindle/board.h"
#include "spindle/machine.h"

static spd_ctx_t machine_ctx;
static spd_machine_t *machine;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  fuzz_ctx_init(&machine_ctx);
  if (spd_machine_new(&machine_ctx, "spinn3", &machine))
    abort();
  return 0;
}

static void cap_run(uint8_t *p, size_t len) {
  if (len >= SPD_SCP_BODY + 8 && (p[10] | p[11] << 8) == SPD_CMD_SPD_RUN) {
    uint32_t ps = spd__le32(p + SPD_SCP_BODY) % 1000000000u;
    spd__put_le32(p + SPD_SCP_BODY, ps);
    spd__put_le32(p + SPD_SCP_BODY + 4, 0);
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (!machine)
    LLVMFuzzerInitialize(NULL, NULL);
  spd_ctx_t ctx;
  fuzz_ctx_init(&ctx);
  spd_board_t *b;
  if (spd_board_new(&ctx, machine, NULL, &b))
    return 0;
  uint8_t packet[SPD_SCP_MAX_PACKET + 64], reply[SPD_BOARD_MAX_REPLY];
  for (size_t at = 0; at + 2 <= size;) {
    size_t len = (size_t)(data[at] | data[at + 1] << 8) % sizeof packet;
    at += 2;
    if (len > size - at)
      len = size - at;
    memcpy(packet, data + at, len);
    at += len;
    cap_run(packet, len);
    size_t out;
    spd_board_handle(b, packet, len, reply, &out);
    FUZZ_CHECK(out <= SPD_BOARD_MAX_REPLY);
    if (out) {
      FUZZ_CHECK(out >= SPD_SCP_BODY && len >= SPD_SCP_BODY);
      FUZZ_CHECK(memcmp(reply + 12, packet + 12, 2) == 0); /* the sequence number */
      FUZZ_CHECK(reply[2] == SPD_SDP_NO_REPLY);
    }
  }
  spd_board_free(b);
  return 0;
}
