/* Ctrl-C and SIGTERM for the long-running commands: the handler only sets
 * a flag, the library polls it through should_stop_cb (or a batch callback
 * returning non-zero) and stops at the next batch boundary, and the command
 * then says so in one line and exits 128 + the signal's number, as a shell
 * reports a process killed by it. No file is left half written: every write
 * finishes or is removed before the process exits. */
#ifndef SPINDLE_CLI_INTERRUPT_H
#define SPINDLE_CLI_INTERRUPT_H

#include <stdbool.h>

/** Catch SIGINT and SIGTERM from now on (once per process). */
void spd_cli_interrupt_install(void);

/** The signal that asked the command to stop, or 0. */
int spd_cli_interrupt_signal(void);

/** should_stop_cb of spd_fit_callbacks_t: whether a signal came. */
bool spd_cli_interrupt_requested(void *ud);

/** Print "spindle CMD: interrupted by SIGINT" and, when given, @p detail
 *  (where it stopped) on stderr. @return 130 (SIGINT) or 143 (SIGTERM). */
int spd_cli_interrupted(const char *command, const char *detail);

#endif
