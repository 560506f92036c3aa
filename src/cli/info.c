#include <stdio.h>

#include "cli/commands.h"

int spd_cli_info(int argc, char **argv) {
  (void)argc;
  (void)argv;
  fprintf(stderr, "spindle info: the machine model is being built\n");
  return 1;
}
