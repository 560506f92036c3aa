#include "cli/options.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum opt_id {
  OPT_DATA, OPT_LIMIT, OPT_BATCH, OPT_SEED, OPT_BACKEND, OPT_MACHINE, OPT_NUMERIC,
  OPT_IN_FLIGHT,
  OPT_REPORT, OPT_LOSS, OPT_EPOCHS, OPT_OPTIMIZER, OPT_LR, OPT_MOMENTUM,
  OPT_NESTEROV, OPT_NO_SHUFFLE, OPT_VALIDATION_SPLIT, OPT_SAVE, OPT_WEIGHTS,
  OPT_OUTPUT, OPT_LR_SCHEDULE, OPT_DECAY_STEPS, OPT_DECAY_RATE, OPT_ALPHA, OPT_TEST_LIMIT,
  OPT_INJECT_DROPS, OPT_KILL_CORE, OPT_CHECKPOINT, OPT_RESUME, OPT_BOARD, OPT_UDP_LOSS,
  OPT_INPUT, OPT_FOLD_BN,
} opt_id_t;

typedef struct opt_spec {
  const char *name;
  opt_id_t id;
  unsigned group;
  bool takes_value;
} opt_spec_t;

static const opt_spec_t specs[] = {
    {"--data", OPT_DATA, SPD_OPT_GROUP_COMMON, true},
    {"--limit", OPT_LIMIT, SPD_OPT_GROUP_COMMON, true},
    {"--test-limit", OPT_TEST_LIMIT, SPD_OPT_GROUP_COMMON, true},
    {"--batch-size", OPT_BATCH, SPD_OPT_GROUP_COMMON, true},
    {"--seed", OPT_SEED, SPD_OPT_GROUP_COMMON, true},
    {"--backend", OPT_BACKEND, SPD_OPT_GROUP_COMMON, true},
    {"--machine", OPT_MACHINE, SPD_OPT_GROUP_COMMON, true},
    {"--numeric", OPT_NUMERIC, SPD_OPT_GROUP_COMMON, true},
    {"--in-flight", OPT_IN_FLIGHT, SPD_OPT_GROUP_COMMON, true},
    {"--inject-drops", OPT_INJECT_DROPS, SPD_OPT_GROUP_COMMON, true},
    {"--kill-core", OPT_KILL_CORE, SPD_OPT_GROUP_COMMON, true},
    {"--board", OPT_BOARD, SPD_OPT_GROUP_COMMON, true},
    {"--udp-loss", OPT_UDP_LOSS, SPD_OPT_GROUP_COMMON, true},
    {"--report", OPT_REPORT, SPD_OPT_GROUP_COMMON, true},
    {"--loss", OPT_LOSS, SPD_OPT_GROUP_COMMON, true},
    {"--epochs", OPT_EPOCHS, SPD_OPT_GROUP_TRAIN, true},
    {"--optimizer", OPT_OPTIMIZER, SPD_OPT_GROUP_TRAIN, true},
    {"--lr", OPT_LR, SPD_OPT_GROUP_TRAIN, true},
    {"--learning-rate", OPT_LR, SPD_OPT_GROUP_TRAIN, true},
    {"--momentum", OPT_MOMENTUM, SPD_OPT_GROUP_TRAIN, true},
    {"--nesterov", OPT_NESTEROV, SPD_OPT_GROUP_TRAIN, false},
    {"--no-shuffle", OPT_NO_SHUFFLE, SPD_OPT_GROUP_TRAIN, false},
    {"--validation-split", OPT_VALIDATION_SPLIT, SPD_OPT_GROUP_TRAIN, true},
    {"--save", OPT_SAVE, SPD_OPT_GROUP_TRAIN, true},
    {"--weights", OPT_WEIGHTS, SPD_OPT_GROUP_WEIGHTS, true},
    {"--output", OPT_OUTPUT, SPD_OPT_GROUP_OUTPUT, true},
    {"--input", OPT_INPUT, SPD_OPT_GROUP_OUTPUT, true},
    {"--fold-bn", OPT_FOLD_BN, SPD_OPT_GROUP_INFER, false},
    {"--lr-schedule", OPT_LR_SCHEDULE, SPD_OPT_GROUP_TRAIN, true},
    {"--decay-steps", OPT_DECAY_STEPS, SPD_OPT_GROUP_TRAIN, true},
    {"--decay-rate", OPT_DECAY_RATE, SPD_OPT_GROUP_TRAIN, true},
    {"--alpha", OPT_ALPHA, SPD_OPT_GROUP_TRAIN, true},
    {"--checkpoint", OPT_CHECKPOINT, SPD_OPT_GROUP_TRAIN, true},
    {"--resume", OPT_RESUME, SPD_OPT_GROUP_TRAIN, true},
};

const char *spd_cli_backend_name(spd_cli_backend_t b) {
  return b == SPD_CLI_BACKEND_MACHINE ? "machine" : "reference";
}

static int bad(const char *cmd, const char *opt, const char *value, const char *why) {
  fprintf(stderr, "spindle %s: %s '%s': %s\n", cmd, opt, value, why);
  return 2;
}

/* The range of every numeric option, stated once: the check and the
 * message (which names the range with its maximum) come from this table. */
typedef struct num_range {
  opt_id_t id;
  const char *what;   /* "a whole number of epochs", "a learning rate" */
  bool whole;         /* an integer, written in decimal */
  uint64_t min, max;  /* whole: inclusive bounds */
  double lo, hi;      /* real: bounds, each open or closed */
  bool lo_open, hi_open;
} num_range_t;

/* --limit and --test-limit are sample indices of a dataset (uint32_t);
 * --in-flight is the low bits of a key (docs/dense-on-machine.md "Packets
 * and keys"), a power of two, and 64 already costs most tiles their DTCM;
 * a learning or decay rate above 1000 is a typo, not a setting. */
static const num_range_t ranges[] = {
    {OPT_EPOCHS, "a whole number of epochs", .whole = true, .min = 1, .max = 1000000},
    {OPT_BATCH, "a batch size", .whole = true, .min = 1, .max = 1u << 24},
    {OPT_LIMIT, "a number of samples", .whole = true, .min = 1, .max = UINT32_MAX},
    {OPT_TEST_LIMIT, "a number of test samples", .whole = true, .min = 1, .max = UINT32_MAX},
    {OPT_IN_FLIGHT, "a number of samples in flight, a power of two,", .whole = true, .min = 1,
     .max = 64},
    {OPT_DECAY_STEPS, "a whole number of steps", .whole = true, .min = 1,
     .max = UINT64_C(1) << 40},
    {OPT_SEED, "a seed", .whole = true, .min = 0, .max = UINT64_MAX},
    {OPT_LR, "a learning rate", .lo = 0, .hi = 1000, .lo_open = true},
    {OPT_MOMENTUM, "a momentum", .lo = 0, .hi = 1, .hi_open = true},
    {OPT_DECAY_RATE, "a decay rate", .lo = 0, .hi = 1000, .lo_open = true},
    {OPT_ALPHA, "alpha (the final fraction of the rate)", .lo = 0, .hi = 1},
    {OPT_VALIDATION_SPLIT, "a validation fraction", .lo = 0, .hi = 1, .hi_open = true},
    {OPT_INJECT_DROPS, "a drop probability", .lo = 0, .hi = 1},
    {OPT_UDP_LOSS, "a loss probability", .lo = 0, .hi = 1, .hi_open = true},
};

static const num_range_t *range_of(opt_id_t id) {
  for (size_t i = 0; i < sizeof ranges / sizeof ranges[0]; i++)
    if (ranges[i].id == id)
      return &ranges[i];
  return NULL;
}

/* "expected a batch size from 1 to 16777216", "expected a momentum in [0, 1)". */
static int bad_number(const char *cmd, const opt_spec_t *spec, const char *v,
                      const num_range_t *r) {
  char why[160];
  if (r->whole)
    snprintf(why, sizeof why, "expected %s from %" PRIu64 " to %" PRIu64, r->what, r->min,
             r->max);
  else
    snprintf(why, sizeof why, "expected %s in %c%g, %g%c", r->what, r->lo_open ? '(' : '[',
             r->lo, r->hi, r->hi_open ? ')' : ']');
  return bad(cmd, spec->name, v, why);
}

/* A decimal whole number without sign tricks: digits only (a leading '-'
 * fails rather than wrapping), and false when it does not fit 64 bits. */
static bool parse_whole(const char *s, uint64_t *out) {
  if (*s < '0' || *s > '9')
    return false;
  char *end;
  errno = 0;
  unsigned long long v = strtoull(s, &end, 10);
  if (errno || *end)
    return false;
  *out = v;
  return true;
}

int spd_cli_parse_whole(const char *cmd, const char *flag, const char *v, const char *what,
                        uint64_t min, uint64_t max, uint64_t *out) {
  uint64_t n;
  if (parse_whole(v, &n) && n >= min && n <= max) {
    *out = n;
    return 0;
  }
  fprintf(stderr, "spindle %s: %s '%s': expected %s from %" PRIu64 " to %" PRIu64 "\n", cmd,
          flag, v, what, min, max);
  return 2;
}

static bool parse_real(const char *s, double *out) {
  char *end;
  errno = 0;
  double v = strtod(s, &end);
  if (errno || end == s || *end || !isfinite(v))
    return false;
  *out = v;
  return true;
}

static bool in_range(const num_range_t *r, double x) {
  return (r->lo_open ? x > r->lo : x >= r->lo) && (r->hi_open ? x < r->hi : x <= r->hi);
}

static void store_whole(opt_id_t id, uint64_t n, spd_cli_options_t *o) {
  switch (id) {
  case OPT_EPOCHS: o->epochs = (int)n; break;
  case OPT_BATCH: o->batch_size = (long)n; break;
  case OPT_LIMIT: o->limit = (long)n; break;
  case OPT_TEST_LIMIT: o->test_limit = (long)n; break;
  case OPT_IN_FLIGHT: o->in_flight = (uint32_t)n; break;
  case OPT_DECAY_STEPS: o->decay_steps = (long)n; break;
  default: o->seed = n; break;
  }
}

static void store_real(opt_id_t id, double x, spd_cli_options_t *o) {
  switch (id) {
  case OPT_LR: o->lr = x; break;
  case OPT_MOMENTUM: o->momentum = x; break;
  case OPT_DECAY_RATE: o->decay_rate = x; break;
  case OPT_ALPHA: o->alpha = x; break;
  case OPT_INJECT_DROPS: o->inject_drops = x; break;
  case OPT_UDP_LOSS: o->udp_loss = x; break;
  default: o->validation_split = x; break;
  }
}

static int set_number(const char *cmd, const opt_spec_t *spec, const char *v,
                      spd_cli_options_t *o) {
  const num_range_t *r = range_of(spec->id);
  if (r->whole) {
    uint64_t n;
    bool ok = parse_whole(v, &n) && n >= r->min && n <= r->max;
    if (ok && spec->id == OPT_IN_FLIGHT && (n & (n - 1)))
      ok = false;
    if (!ok)
      return bad_number(cmd, spec, v, r);
    store_whole(spec->id, n, o);
    return 0;
  }
  double x;
  if (!parse_real(v, &x) || !in_range(r, x))
    return bad_number(cmd, spec, v, r);
  store_real(spec->id, x, o);
  return 0;
}

static int set_choice(const char *cmd, const opt_spec_t *spec, const char *v,
                      spd_cli_options_t *o) {
  if (spec->id == OPT_OPTIMIZER) {
    int k = spd_optimizer_parse(v);
    if (k < 0)
      return bad(cmd, spec->name, v, "unknown optimizer (sgd, adam or rmsprop)");
    o->optimizer = k;
  } else if (spec->id == OPT_LR_SCHEDULE) {
    int k = spd_lr_schedule_parse(v);
    if (k < 0 || k == SPD_LR_PIECEWISE_CONSTANT ||
        strcmp(v, spd_lr_schedule_name((spd_lr_schedule_kind_t)k)))
      return bad(cmd, spec->name, v,
                 "unknown schedule (constant, cosine, exponential or inverse-time)");
    o->lr_schedule = k;
  } else if (spec->id == OPT_BACKEND) {
    if (!strcmp(v, "reference"))
      o->backend = SPD_CLI_BACKEND_REFERENCE;
    else if (!strcmp(v, "machine"))
      o->backend = SPD_CLI_BACKEND_MACHINE;
    else
      return bad(cmd, spec->name, v, "unknown backend (reference or machine)");
  } else {
    if (strcmp(v, "float") && strcmp(v, "fixed"))
      return bad(cmd, spec->name, v, "unknown numeric mode (float or fixed)");
    o->numeric = v;
  }
  return 0;
}

/* --kill-core X,Y,P@N: whole numbers, P an application core (1..17), N
 * the samples the core finishes before it dies (at least one). */
static int set_kill(const char *cmd, const opt_spec_t *spec, const char *v,
                    spd_cli_options_t *o) {
  char field[4][24];
  const char *at = v;
  uint64_t n[4];
  for (int k = 0; k < 4; k++) {
    size_t len = strcspn(at, k < 2 ? "," : k == 2 ? "@" : "");
    char want = k < 2 ? ',' : k == 2 ? '@' : '\0';
    if (len == 0 || len >= sizeof field[k] || at[len] != want)
      return bad(cmd, spec->name, v, "expected X,Y,P@N: chip X,Y, application core P, and "
                 "the samples N it finishes before it dies");
    snprintf(field[k], sizeof field[k], "%.*s", (int)len, at);
    if (!parse_whole(field[k], &n[k]))
      return bad(cmd, spec->name, v, "X, Y, P and N must be whole numbers");
    at += len + (k < 3);
  }
  if (n[0] > 255 || n[1] > 255)
    return bad(cmd, spec->name, v, "chip coordinates run from 0 to 255");
  if (n[2] < 1 || n[2] > 17)
    return bad(cmd, spec->name, v, "P is an application core, 1 to 17 (core 0 is the monitor)");
  if (n[3] < 1 || n[3] > UINT32_MAX)
    return bad(cmd, spec->name, v, "N counts samples, from 1 to 4294967295");
  o->kill = (spd_core_kill_t){.on = true, .x = (int)n[0], .y = (int)n[1], .p = (int)n[2],
                              .after = n[3]};
  return 0;
}

static int set_value(const char *cmd, const opt_spec_t *spec, const char *v,
                     spd_cli_options_t *o) {
  if (!*v)
    return bad(cmd, spec->name, v, "empty value");
  switch (spec->id) {
  case OPT_DATA: o->data = v; return 0;
  case OPT_REPORT: o->report = v; return 0;
  case OPT_LOSS: o->loss = v; return 0;
  case OPT_SAVE: o->save = v; return 0;
  case OPT_CHECKPOINT: o->checkpoint = v; return 0;
  case OPT_RESUME: o->resume = v; return 0;
  case OPT_WEIGHTS: o->weights = v; return 0;
  case OPT_OUTPUT: o->output = v; return 0;
  case OPT_INPUT: o->input = v; return 0;
  case OPT_MACHINE: o->machine = v; return 0;
  case OPT_KILL_CORE: return set_kill(cmd, spec, v, o);
  case OPT_BOARD: return spd_cli_parse_endpoint(cmd, spec->name, v, o->board_host,
                                                sizeof o->board_host, false, &o->board_port);
  default:
    return range_of(spec->id) ? set_number(cmd, spec, v, o) : set_choice(cmd, spec, v, o);
  }
}

static const opt_spec_t *find_spec(const char *arg, unsigned groups) {
  for (size_t i = 0; i < sizeof specs / sizeof specs[0]; i++)
    if ((specs[i].group & groups) && !strcmp(arg, specs[i].name))
      return &specs[i];
  return NULL;
}

static void set_defaults(spd_cli_options_t *o) {
  *o = (spd_cli_options_t){.epochs = 1, .batch_size = 32, .optimizer = -1,
                           .lr = NAN, .momentum = NAN, .lr_schedule = -1,
                           .decay_rate = NAN, .alpha = NAN, .shuffle = true,
                           .backend = SPD_CLI_BACKEND_MACHINE,
                           .machine = "spinn5", .numeric = "float"};
}

/* One argument at *i: a flag, an option with its value (separate or after
 * '='), or the positional model. */
static int parse_one(int argc, char **argv, int *i, unsigned groups, spd_cli_options_t *o) {
  const char *cmd = argv[0], *arg = argv[*i];
  if (arg[0] != '-' || !arg[1]) {
    if (o->model)
      return bad(cmd, "argument", arg, "only one MODEL file may be given");
    o->model = arg;
    return 0;
  }
  char name[64];
  const char *eq = strchr(arg, '=');
  size_t len = eq ? (size_t)(eq - arg) : strlen(arg);
  snprintf(name, sizeof name, "%.*s", (int)(len < sizeof name ? len : sizeof name - 1), arg);
  const opt_spec_t *spec = find_spec(name, groups);
  if (!spec)
    return bad(cmd, "option", arg, "unknown option (see --help)");
  if (!spec->takes_value) {
    if (eq)
      return bad(cmd, spec->name, eq + 1, "this option takes no value");
    if (spec->id == OPT_NESTEROV)
      o->nesterov = true;
    else if (spec->id == OPT_FOLD_BN)
      o->fold_bn = true;
    else
      o->shuffle = false;
    return 0;
  }
  if (eq)
    return set_value(cmd, spec, eq + 1, o);
  if (*i + 1 >= argc)
    return bad(cmd, spec->name, "", "missing value");
  return set_value(cmd, spec, argv[++*i], o);
}

int spd_cli_parse(int argc, char **argv, unsigned groups, const char *usage,
                  spd_cli_options_t *o) {
  set_defaults(o);
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
      fputs(usage, stdout);
      return -1;
    }
  }
  for (int i = 1; i < argc; i++) {
    int rc = parse_one(argc, argv, &i, groups, o);
    if (rc)
      return rc;
  }
  /* The host executor has no pipeline, so the flag would do nothing. */
  if (o->in_flight && o->backend == SPD_CLI_BACKEND_REFERENCE) {
    fprintf(stderr, "spindle %s: --in-flight applies to --backend machine only (the "
                    "reference backend has no pipeline)\n", argv[0]);
    return 2;
  }
  if (o->inject_drops > 0 && o->backend == SPD_CLI_BACKEND_REFERENCE) {
    fprintf(stderr, "spindle %s: --inject-drops applies to --backend machine only (the "
                    "reference backend sends no packets)\n", argv[0]);
    return 2;
  }
  if (o->board_host[0] && o->backend == SPD_CLI_BACKEND_REFERENCE) {
    fprintf(stderr, "spindle %s: --board applies to --backend machine only (the "
                    "reference backend runs on the host)\n", argv[0]);
    return 2;
  }
  if (o->inject_drops > 0 && o->board_host[0]) {
    fprintf(stderr, "spindle %s: --inject-drops with --board: the board's routers drop "
                    "packets (spindle board --inject-drops P)\n", argv[0]);
    return 2;
  }
  if (o->validation_split > 0 && o->board_host[0]) {
    fprintf(stderr, "spindle %s: --validation-split with --board: validation after each "
                    "epoch runs on a second machine beside the training one, and a board "
                    "serves one (train, then evaluate)\n", argv[0]);
    return 2;
  }
  if (o->udp_loss > 0 && !o->board_host[0]) {
    fprintf(stderr, "spindle %s: --udp-loss applies to --board only (the in-process "
                    "machine has no wire)\n", argv[0]);
    return 2;
  }
  if (o->kill.on && o->board_host[0]) {
    fprintf(stderr, "spindle %s: --kill-core with --board: only the in-process emulator "
                    "kills cores on demand\n", argv[0]);
    return 2;
  }
  if (o->kill.on && o->backend == SPD_CLI_BACKEND_REFERENCE) {
    fprintf(stderr, "spindle %s: --kill-core applies to --backend machine only (the "
                    "reference backend has no cores)\n", argv[0]);
    return 2;
  }
  /* Outside train, --limit already counts test samples. */
  if (!(groups & SPD_OPT_GROUP_TRAIN) && o->limit && o->test_limit &&
      o->limit != o->test_limit) {
    fprintf(stderr, "spindle %s: --limit %ld and --test-limit %ld both count the test "
                    "samples here; give one\n", argv[0], o->limit, o->test_limit);
    return 2;
  }
  if (!o->model) {
    fprintf(stderr, "spindle %s: missing MODEL file (see --help)\n", argv[0]);
    return 2;
  }
  if (o->input && o->data) {
    fprintf(stderr, "spindle %s: --input and --data both name the samples; give one\n",
            argv[0]);
    return 2;
  }
  if ((groups & SPD_OPT_GROUP_COMMON) && !o->data && !o->input) {
    fprintf(stderr, "spindle %s: missing --data (fashion-mnist or a folder)%s\n", argv[0],
            (groups & SPD_OPT_GROUP_OUTPUT) ? " or --input X.npy" : "");
    return 2;
  }
  return 0;
}

int spd_cli_parse_endpoint(const char *cmd, const char *flag, const char *v, char *host,
                           size_t host_size, bool any_port, uint16_t *port) {
  const char *colon = strrchr(v, ':');
  size_t n = colon ? (size_t)(colon - v) : strlen(v);
  if (n == 0 || n >= host_size)
    return bad(cmd, flag, v, "expected HOST or HOST:PORT");
  uint64_t p = 17893;
  if (colon && (!parse_whole(colon + 1, &p) || p < (any_port ? 0u : 1u) || p > 65535))
    return bad(cmd, flag, v, any_port ? "expected a port from 0 (any free one) to 65535 "
               "after ':'" : "expected a port from 1 to 65535 after ':'");
  memcpy(host, v, n);
  host[n] = '\0';
  *port = (uint16_t)p;
  return 0;
}
