/* The `spindle` subcommands. Each returns the process exit status:
 * 0 success, 1 a failure the user should read about, 2 bad usage. */
#ifndef SPINDLE_CLI_COMMANDS_H
#define SPINDLE_CLI_COMMANDS_H

typedef struct spd_cli_command {
  const char *name;
  const char *summary;
  int (*run)(int argc, char **argv); /* argv[0] is the subcommand name */
} spd_cli_command_t;

int spd_cli_info(int argc, char **argv);
int spd_cli_summary(int argc, char **argv);
int spd_cli_convert(int argc, char **argv);
int spd_cli_map(int argc, char **argv);

int spd_cli_train(int argc, char **argv);
int spd_cli_evaluate(int argc, char **argv);
int spd_cli_predict(int argc, char **argv);
int spd_cli_board(int argc, char **argv);

#endif
