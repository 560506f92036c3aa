/* Options shared by `spindle train`, `evaluate` and `predict`: one table
 * parses them all, each command accepting its own subset, with every value
 * checked (range, format) before any file is touched. The backend options
 * (--backend, --machine, --numeric) are parsed here for every command so the
 * emulated machine slots in beside the reference executor. */
#ifndef SPINDLE_CLI_OPTIONS_H
#define SPINDLE_CLI_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "spindle/machine_run.h"
#include "spindle/optim.h"

/** Which options a command accepts (bit set). */
enum {
  SPD_OPT_GROUP_COMMON = 1u << 0,   /* --data --limit --test-limit ... --report */
  SPD_OPT_GROUP_TRAIN = 1u << 1,    /* --epochs --optimizer --lr --momentum --loss --save ... */
  SPD_OPT_GROUP_WEIGHTS = 1u << 2,  /* --weights */
  SPD_OPT_GROUP_OUTPUT = 1u << 3,   /* --output --input */
  SPD_OPT_GROUP_INFER = 1u << 4,    /* --fold-bn (evaluate, predict) */
};

typedef enum spd_cli_backend {
  SPD_CLI_BACKEND_REFERENCE = 0,
  SPD_CLI_BACKEND_MACHINE = 1,
} spd_cli_backend_t;

typedef struct spd_cli_options {
  const char *model;          /* the positional MODEL.json */
  const char *data;           /* "fashion-mnist" or a folder */
  const char *weights;        /* initial weights */
  const char *save;           /* trained weights out */
  const char *checkpoint;     /* train: checkpoint folder written every epoch */
  const char *resume;         /* train: checkpoint folder to go on from */
  const char *report;         /* report JSON out */
  const char *output;         /* predictions out (NPY) */
  const char *input;          /* predict: samples in (NPY), instead of --data */
  const char *loss;           /* NULL: chosen from the model and labels */
  int epochs;
  long batch_size;
  long limit;                 /* 0: every sample */
  long test_limit;            /* --test-limit: test samples (0: every one) */
  uint64_t seed;
  int optimizer;              /* spd_optimizer_kind_t; -1: the model file's, else sgd */
  double lr;                  /* NAN: the file's, else the optimizer's Keras default */
  double momentum;            /* NAN: the file's, else 0 */
  bool nesterov;
  bool fold_bn;               /* evaluate/predict: BatchNormalization folded first */
  int lr_schedule;            /* spd_lr_schedule_kind_t; -1: not given */
  long decay_steps;           /* 0: the whole run's steps */
  double decay_rate;          /* NAN: not given */
  double alpha;               /* NAN: not given (cosine: 0) */
  bool shuffle;
  double validation_split;    /* 0: none */
  spd_cli_backend_t backend;
  const char *machine;        /* for the machine backend */
  const char *numeric;        /* "float" or "fixed" */
  uint32_t in_flight;         /* machine: samples in flight (0: the session's) */
  double inject_drops;        /* machine: probability a router drops a copy (0: none) */
  spd_core_kill_t kill;       /* machine: --kill-core X,Y,P@N */
  char board_host[256];       /* --board HOST[:PORT]: "" for the in-process machine */
  uint16_t board_port;
  double udp_loss;            /* --udp-loss: datagrams dropped on purpose (0: none) */
} spd_cli_options_t;

/** Parse argv (argv[0] is the command) into @p o with the defaults of
 *  tf.keras fit (epochs 1, batch 32, shuffle on) and SGD, on the machine
 *  backend (the emulated spinn5) in float.
 *  @param usage   the command's help text, printed for --help
 *  @return -1 when --help was printed (exit 0), 0 on success, 2 after a
 *          message on stderr naming the bad option or value. */
int spd_cli_parse(int argc, char **argv, unsigned groups, const char *usage,
                  spd_cli_options_t *o);

/** The --help lines of the options every running command shares (--backend,
 *  --machine, --numeric, --in-flight), so train, evaluate and predict
 *  describe them alike. */
#define SPD_CLI_MACHINE_HELP \
    "  --backend B         machine (default: the model runs on the emulated\n" \
    "                      SpiNNaker, every activation a multicast packet) or\n" \
    "                      reference (the host executor, the machine's oracle)\n" \
    "  --machine M         the machine: spinn5 (default), spinn3, <N>boards,\n" \
    "                      spinn1m or <W>x<H> chips (see spindle info)\n" \
    "  --numeric N         float or fixed (default float)\n" \
    "  --in-flight K       machine: samples in the pipeline at once, a power of two\n" \
    "                      (default 2; more is faster on the board, see bench/)\n" \
    "  --inject-drops P    machine: each router drops one copy of a packet it routes\n" \
    "                      with probability P (seeded by --seed); the monitors'\n" \
    "                      reinjection must bring every one back\n" \
    "  --kill-core X,Y,P@N machine: core P of chip (X,Y) dies once it has finished\n" \
    "                      N samples; the run finds it, moves its work to a spare\n" \
    "                      core and goes on from the last batch boundary it saved\n" \
    "                      (training) or from the start (inference)\n" \
    "  --board HOST[:PORT] machine: run on the board at HOST (UDP port 17893 unless\n" \
    "                      given) through SDP/SCP, as on a real SpiNNaker board\n" \
    "                      (spindle board serves an emulated one); the default is\n" \
    "                      the in-process emulator\n" \
    "  --udp-loss P        --board: drop each datagram sent or received with\n" \
    "                      probability P (seeded by --seed) to exercise the retries\n"

/** The --help lines of --fold-bn (evaluate, predict). */
#define SPD_CLI_FOLD_BN_HELP \
    "  --fold-bn           fold each BatchNormalization that follows a Dense or\n" \
    "                      convolution (linear activation) into that layer's\n" \
    "                      kernel and bias with its moving statistics before the\n" \
    "                      run: one layer fewer, the same outputs up to float\n" \
    "                      rounding, and a model the machine maps (inference only;\n" \
    "                      training uses the batch statistics)\n"

/** Parse @p v as a decimal whole number in [@p min, @p max] for another
 *  command's option table, with the message spd_cli_parse gives
 *  ("spindle CMD: FLAG 'V': expected WHAT from MIN to MAX").
 *  @return 0, or 2 after the message (out untouched). */
int spd_cli_parse_whole(const char *cmd, const char *flag, const char *v, const char *what,
                        uint64_t min, uint64_t max, uint64_t *out);

/** Parse HOST or HOST:PORT (port 17893 when not given; 0 only with
 *  @p any_port) into @p host and @p port, with "spindle CMD: FLAG 'V': ..."
 *  on stderr when it is not one. @return 0 or 2. */
int spd_cli_parse_endpoint(const char *cmd, const char *flag, const char *v, char *host,
                           size_t host_size, bool any_port, uint16_t *port);

/** Backend name for messages and reports ("reference", "machine"). */
const char *spd_cli_backend_name(spd_cli_backend_t b);

#endif
