/* The option parser of spindle train, evaluate and predict (src/cli/
 * options.c), called as the commands call it but without running one. The
 * input is the command line: its first byte picks the command, the rest is
 * the arguments separated by NUL bytes. Any arguments are accepted or refused
 * (exit status 2) without a crash, and accepted values are in their ranges. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cli/options.h"
#include "fuzz.h"

#define MAX_ARGS 64

static const struct {
  const char *name;
  unsigned groups;
} commands[] = {
    {"train", SPD_OPT_GROUP_COMMON | SPD_OPT_GROUP_TRAIN | SPD_OPT_GROUP_WEIGHTS},
    {"evaluate", SPD_OPT_GROUP_COMMON | SPD_OPT_GROUP_WEIGHTS},
    {"predict", SPD_OPT_GROUP_COMMON | SPD_OPT_GROUP_WEIGHTS | SPD_OPT_GROUP_OUTPUT},
};

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  /* The parser talks to the user on stdout (--help) and stderr. */
  if (!freopen("/dev/null", "w", stdout))
    abort();
  return 0;
}

static void check(const spd_cli_options_t *o) {
  FUZZ_CHECK(o->model && o->data);
  FUZZ_CHECK(o->epochs >= 1 && o->batch_size >= 1 && o->limit >= 0);
  FUZZ_CHECK(isnan(o->lr) || o->lr > 0);
  FUZZ_CHECK(isnan(o->momentum) || (o->momentum >= 0 && o->momentum < 1));
  FUZZ_CHECK(o->validation_split >= 0 && o->validation_split < 1);
  FUZZ_CHECK(!(o->in_flight & (o->in_flight - 1)) && o->in_flight <= 64);
  FUZZ_CHECK(!strcmp(o->numeric, "float") || !strcmp(o->numeric, "fixed"));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1)
    return 0;
  size_t cmd = data[0] % (sizeof commands / sizeof commands[0]);
  char *buf = malloc(size); /* the arguments, NUL-terminated */
  if (!buf)
    return 0;
  memcpy(buf, data + 1, size - 1);
  buf[size - 1] = '\0';
  char *argv[MAX_ARGS + 1];
  int argc = 0;
  argv[argc++] = (char *)commands[cmd].name;
  for (size_t at = 0; at < size - 1 && argc < MAX_ARGS; at += strlen(buf + at) + 1)
    argv[argc++] = buf + at;
  argv[argc] = NULL;
  spd_cli_options_t o;
  int rc = spd_cli_parse(argc, argv, commands[cmd].groups, "usage\n", &o);
  FUZZ_CHECK(rc == -1 || rc == 0 || rc == 2);
  if (rc == 0)
    check(&o);
  free(buf);
  return 0;
}
