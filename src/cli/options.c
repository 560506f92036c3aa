#include "cli/options.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum opt_id {
  OPT_DATA, OPT_LIMIT, OPT_BATCH, OPT_SEED, OPT_BACKEND, OPT_MACHINE, OPT_NUMERIC,
  OPT_IN_FLIGHT,
  OPT_REPORT, OPT_LOSS, OPT_EPOCHS, OPT_OPTIMIZER, OPT_LR, OPT_MOMENTUM,
  OPT_NESTEROV, OPT_NO_SHUFFLE, OPT_VALIDATION_SPLIT, OPT_SAVE, OPT_WEIGHTS,
  OPT_OUTPUT, OPT_LR_SCHEDULE, OPT_DECAY_STEPS, OPT_DECAY_RATE, OPT_ALPHA,
  OPT_CHECKPOINT, OPT_RESUME,
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
    {"--batch-size", OPT_BATCH, SPD_OPT_GROUP_COMMON, true},
    {"--seed", OPT_SEED, SPD_OPT_GROUP_COMMON, true},
    {"--backend", OPT_BACKEND, SPD_OPT_GROUP_COMMON, true},
    {"--machine", OPT_MACHINE, SPD_OPT_GROUP_COMMON, true},
    {"--numeric", OPT_NUMERIC, SPD_OPT_GROUP_COMMON, true},
    {"--in-flight", OPT_IN_FLIGHT, SPD_OPT_GROUP_COMMON, true},
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

static bool parse_long(const char *s, long min, long max, long *out) {
  char *end;
  errno = 0;
  long v = strtol(s, &end, 10);
  if (errno || end == s || *end || v < min || v > max)
    return false;
  *out = v;
  return true;
}

static bool parse_double(const char *s, double *out) {
  char *end;
  errno = 0;
  double v = strtod(s, &end);
  if (errno || end == s || *end || !isfinite(v))
    return false;
  *out = v;
  return true;
}

static bool parse_u64(const char *s, uint64_t *out) {
  char *end;
  errno = 0;
  if (*s == '-')
    return false;
  unsigned long long v = strtoull(s, &end, 10);
  if (errno || end == s || *end)
    return false;
  *out = v;
  return true;
}

static int set_integer(const char *cmd, const opt_spec_t *spec, const char *v,
                       spd_cli_options_t *o) {
  long n;
  switch (spec->id) {
  case OPT_EPOCHS:
    if (!parse_long(v, 1, 1000000, &n))
      return bad(cmd, spec->name, v, "expected a whole number of epochs >= 1");
    o->epochs = (int)n;
    return 0;
  case OPT_BATCH:
    if (!parse_long(v, 1, 1L << 24, &o->batch_size))
      return bad(cmd, spec->name, v, "expected a batch size >= 1");
    return 0;
  case OPT_LIMIT:
    if (!parse_long(v, 1, (long)UINT32_MAX, &o->limit))
      return bad(cmd, spec->name, v, "expected a number of samples >= 1");
    return 0;
  case OPT_IN_FLIGHT:
    /* A slot is the low bits of a key (docs/dense-on-machine.md "Packets and
     * keys"), so the count is a power of two; 64 already costs most tiles
     * their DTCM. */
    if (!parse_long(v, 1, 64, &n) || (n & (n - 1)))
      return bad(cmd, spec->name, v, "expected a power of two from 1 to 64 samples in flight");
    o->in_flight = (uint32_t)n;
    return 0;
  case OPT_DECAY_STEPS:
    if (!parse_long(v, 1, 1L << 40, &o->decay_steps))
      return bad(cmd, spec->name, v, "expected a whole number of steps >= 1");
    return 0;
  default:
    if (!parse_u64(v, &o->seed))
      return bad(cmd, spec->name, v, "expected a seed, a whole number >= 0");
    return 0;
  }
}

static int set_real(const char *cmd, const opt_spec_t *spec, const char *v,
                    spd_cli_options_t *o) {
  double x;
  if (!parse_double(v, &x))
    return bad(cmd, spec->name, v, "expected a number");
  if (spec->id == OPT_LR) {
    if (!(x > 0))
      return bad(cmd, spec->name, v, "the learning rate must be > 0");
    o->lr = x;
  } else if (spec->id == OPT_MOMENTUM) {
    if (x < 0 || x >= 1)
      return bad(cmd, spec->name, v, "momentum must be in [0, 1)");
    o->momentum = x;
  } else if (spec->id == OPT_DECAY_RATE) {
    if (!(x > 0))
      return bad(cmd, spec->name, v, "the decay rate must be > 0");
    o->decay_rate = x;
  } else if (spec->id == OPT_ALPHA) {
    if (x < 0 || x > 1)
      return bad(cmd, spec->name, v, "alpha (the final fraction of the rate) must be in [0, 1]");
    o->alpha = x;
  } else {
    if (x < 0 || x >= 1)
      return bad(cmd, spec->name, v, "the validation split must be in [0, 1)");
    o->validation_split = x;
  }
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
  case OPT_MACHINE: o->machine = v; return 0;
  case OPT_EPOCHS: case OPT_BATCH: case OPT_LIMIT: case OPT_SEED: case OPT_DECAY_STEPS:
  case OPT_IN_FLIGHT:
    return set_integer(cmd, spec, v, o);
  case OPT_LR: case OPT_MOMENTUM: case OPT_VALIDATION_SPLIT: case OPT_DECAY_RATE: case OPT_ALPHA:
    return set_real(cmd, spec, v, o);
  default:
    return set_choice(cmd, spec, v, o);
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
  if (!o->model) {
    fprintf(stderr, "spindle %s: missing MODEL file (see --help)\n", argv[0]);
    return 2;
  }
  if ((groups & SPD_OPT_GROUP_COMMON) && !o->data) {
    fprintf(stderr, "spindle %s: missing --data (fashion-mnist or a folder)\n", argv[0]);
    return 2;
  }
  return 0;
}
