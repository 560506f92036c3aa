/* `spindle board`: serve an emulated machine as the Ethernet chip of a
 * real board would, SDP/SCP over UDP (docs/board-protocol.md), until
 * SIGINT or SIGTERM. */
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/commands.h"
#include "cli/interrupt.h"
#include "cli/options.h"
#include "spindle/board.h"
#include "spindle/machine.h"

static const char usage[] =
    "usage: spindle board [--machine M] [--listen HOST[:PORT]] [--udp-loss P]\n"
    "                     [--inject-drops P] [--seed S]\n\n"
    "Serve an emulated SpiNNaker machine over UDP as a board's Ethernet chip\n"
    "does: SDP/SCP requests (CMD_VER, READ, WRITE, ALLOC, RTR, AS, SIG, IPTAG)\n"
    "act on the machine, as docs/board-protocol.md describes. Run train,\n"
    "evaluate or predict with --board HOST:PORT to use it. Prints\n"
    "'listening on HOST:PORT' once ready; stops on Ctrl-C or SIGTERM.\n\n"
    "options:\n"
    "  --machine M         spinn5 (default), spinn3, <N>boards, spinn1m, <W>x<H>\n"
    "  --listen HOST[:PORT] the IPv4 address and UDP port to answer on (default\n"
    "                      127.0.0.1:17893; port 0 takes a free one). Any other\n"
    "                      address than loopback lets other hosts drive the machine\n"
    "  --udp-loss P        drop each datagram received or sent with probability P\n"
    "                      (seeded by --seed), to exercise the clients' retries\n"
    "  --inject-drops P    each router drops one copy of a packet it routes with\n"
    "                      probability P (seeded by --seed); the monitors reinject\n"
    "  --seed S            seed of the two above (default 0)\n"
    "  -h, --help          show this help\n";

typedef struct board_options {
  const char *machine;
  char host[64];
  uint16_t port;
  double udp_loss, inject_drops;
  uint64_t seed;
} board_options_t;

static int parse_real(const char *flag, const char *v, double hi, bool hi_open, double *out) {
  char *end;
  double x = strtod(v, &end);
  if (!*v || *end || !(x >= 0) || x > hi || (hi_open && x == hi)) {
    fprintf(stderr, "spindle board: %s '%s': expected a probability in [0, 1%c\n", flag, v,
            hi_open ? ')' : ']');
    return 2;
  }
  *out = x;
  return 0;
}

static int parse(int argc, char **argv, board_options_t *o) {
  *o = (board_options_t){.machine = "spinn5", .host = "127.0.0.1", .port = 17893};
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
      fputs(usage, stdout);
      return -1;
    }
    if (i + 1 >= argc) {
      fprintf(stderr, "spindle board: option '%s' %s\n", a,
              a[0] == '-' ? "missing value (or unknown; see --help)" : "unexpected");
      return 2;
    }
    const char *v = argv[++i];
    int rc = 0;
    uint64_t seed;
    if (!strcmp(a, "--machine"))
      o->machine = v;
    else if (!strcmp(a, "--listen")) {
      rc = spd_cli_parse_endpoint("board", a, v, o->host, sizeof o->host, true, &o->port);
    } else if (!strcmp(a, "--udp-loss"))
      rc = parse_real(a, v, 1, true, &o->udp_loss);
    else if (!strcmp(a, "--inject-drops"))
      rc = parse_real(a, v, 1, false, &o->inject_drops);
    else if (!strcmp(a, "--seed")) {
      rc = spd_cli_parse_whole("board", a, v, "a seed", 0, UINT64_MAX, &seed);
      o->seed = seed;
    } else {
      fprintf(stderr, "spindle board: option '%s': unknown option (see --help)\n", a);
      return 2;
    }
    if (rc)
      return rc;
  }
  return 0;
}

static int stop_cb(void *ud) {
  (void)ud;
  return spd_cli_interrupt_signal() != 0;
}

int spd_cli_board(int argc, char **argv) {
  board_options_t o;
  int rc = parse(argc, argv, &o);
  if (rc)
    return rc < 0 ? 0 : rc;
  spd_ctx_t ctx;
  spd_ctx_init(&ctx);
  spd_machine_t *machine = NULL;
  spd_board_t *board = NULL;
  int fd = -1;
  uint16_t port = 0;
  spd_board_opts_t bo = {.loss = o.udp_loss, .loss_seed = o.seed,
                         .inject_drops = o.inject_drops, .fault_seed = o.seed};
  int err = spd_machine_new(&ctx, o.machine, &machine);
  if (!err)
    err = spd_board_new(&ctx, machine, &bo, &board);
  if (!err)
    err = spd_board_bind(&ctx, o.host, o.port, &fd, &port);
  if (err) {
    fprintf(stderr, "spindle board: %s\n", spd_ctx_message(&ctx));
    spd_board_free(board);
    spd_machine_free(machine);
    return 1;
  }
  if (!strcmp(o.host, "0.0.0.0"))
    fprintf(stderr, "spindle board: warning: listening on every interface (0.0.0.0): any "
                    "host that reaches this one can load and run code on the machine\n");
  spd_cli_interrupt_install();
  printf("listening on %s:%u (%s)\n", o.host, port, machine->name);
  fflush(stdout);
  err = spd_board_serve(board, fd, stop_cb, NULL);
  uint64_t received, duplicates, dropped;
  spd_board_stats(board, &received, &duplicates, &dropped);
  printf("%" PRIu64 " requests, %" PRIu64 " answered again, %" PRIu64 " datagrams lost on "
         "purpose\n", received, duplicates, dropped);
  close(fd);
  spd_board_free(board);
  spd_machine_free(machine);
  if (err) {
    fprintf(stderr, "spindle board: the socket failed\n");
    return 1;
  }
  return 0; /* stopped as asked */
}
