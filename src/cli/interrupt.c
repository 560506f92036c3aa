#include "cli/interrupt.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>

static volatile sig_atomic_t stop_signal;

static void on_signal(int sig) { stop_signal = sig; }

/* SA_RESTART: a read or write the signal lands in goes on instead of
 * failing with EINTR, so the stop happens at the next batch boundary and
 * not as an I/O error. */
void spd_cli_interrupt_install(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sa.sa_flags = SA_RESTART;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
}

int spd_cli_interrupt_signal(void) { return stop_signal; }

bool spd_cli_interrupt_requested(void *ud) {
  (void)ud;
  return stop_signal != 0;
}

int spd_cli_interrupted(const char *command, const char *detail) {
  int sig = stop_signal ? stop_signal : SIGINT;
  fprintf(stderr, "spindle %s: interrupted by %s%s%s\n", command,
          sig == SIGTERM ? "SIGTERM" : "SIGINT", detail ? ": " : "", detail ? detail : "");
  return 128 + sig;
}
