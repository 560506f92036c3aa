/* Provenance: the counters a machine (emulated or real) reports after a run,
 * per core, per chip (router and links) and for the whole run. Shared by the
 * emulator and the transceiver so neither depends on the other. */
#ifndef SPINDLE_PROVENANCE_H
#define SPINDLE_PROVENANCE_H

#include <stdbool.h>
#include <stdint.h>

#define SPD_PROV_LINKS 6

typedef enum spd_core_state {
  SPD_CORE_IDLE = 0,   /* no kernel loaded */
  SPD_CORE_LOADED,     /* kernel loaded, not started */
  SPD_CORE_RUNNING,    /* main returned 0; events are being handled */
  SPD_CORE_EXITED,     /* spd_core_exit was called */
  SPD_CORE_ERROR,      /* main failed or the core misbehaved */
  SPD_CORE_DEAD,       /* stopped answering (a hardware fault: spin1's
                          watchdog or run-time-error state); it takes no
                          packets and no kernel again */
} spd_core_state_t;

/** "idle", "loaded", "running", "exited", "error", "dead". */
const char *spd_core_state_name(spd_core_state_t state);

typedef struct spd_core_status {
  spd_core_state_t state;
  int exit_code;
  char message[160];            /* the core's last diagnostic, "" if none */
} spd_core_status_t;

typedef struct spd_core_counters {
  uint64_t busy_cycles;         /* interrupts, callbacks and main */
  uint64_t callbacks;           /* callbacks run */
  uint64_t packets_sent;        /* accepted into the TX queue */
  uint64_t packets_received;    /* taken from the comms controller */
  uint64_t tx_queue_full;       /* sends refused (SPD_EQUEUE) */
  uint64_t discarded_no_callback; /* packets with no callback registered */
  uint64_t task_queue_full;     /* events lost to a full priority queue (spin1's count) */
  uint64_t packets_queue_full;  /* ... of which multicast packets */
  uint64_t dma_transfers;
  uint64_t dma_bytes;
  uint64_t timer_ticks;
  uint64_t packets_resent;      /* sent again because a receiver asked */
  uint64_t samples_done;        /* samples the kernel finished */
} spd_core_counters_t;

typedef struct spd_chip_counters {
  uint64_t routed;              /* packets handled by the router */
  uint64_t injected;            /* packets sent by this chip's cores */
  uint64_t delivered;           /* packet copies handed to this chip's cores */
  uint64_t default_routed;      /* arrived on a link, no entry: straight on */
  uint64_t dropped_wait1;       /* copies blocked for wait1 router cycles */
  uint64_t dropped_unmatched;   /* sent locally, no entry */
  uint64_t dropped_core_stopped; /* copies for a core not running a kernel */
  uint64_t link_packets[SPD_PROV_LINKS]; /* sent on each link (E NE N W SW S) */
  uint64_t link_dropped[SPD_PROV_LINKS]; /* dropped after wait1 on each link */
  uint64_t bits_routed;         /* for the router energy */
  uint64_t dropped_injected;    /* copies dropped by fault injection (spd_emu_faults_t) */
  uint64_t dumped;              /* dropped packets the monitor took from the dump register */
  uint64_t reinjected;          /* ... and sent again */
  uint64_t lost;                /* copies of dropped packets never sent again */
  uint32_t router_entries;      /* loaded application entries */
} spd_chip_counters_t;

typedef struct spd_run_counters {
  uint64_t sim_time_ps;         /* simulated time since the machine was created */
  uint64_t events;              /* emulator events handled (0 on hardware) */
  uint64_t packets_sent;
  uint64_t packets_delivered;
  uint64_t packets_dropped;     /* all reasons below */
  uint64_t dropped_wait1;
  uint64_t dropped_unmatched;
  uint64_t dropped_no_callback;
  uint64_t dropped_task_queue_full; /* packets lost to full callback queues */
  uint64_t dropped_core_stopped;
  uint64_t dropped_injected;    /* by fault injection, counted in packets_dropped */
  uint64_t packets_reinjected;  /* dropped packets the monitors sent again */
  uint64_t packets_lost;        /* copies never delivered: dropped and not reinjected */
  uint64_t packets_resent;      /* sent again by their senders, asked by a receiver */
  uint64_t busy_cycles;         /* over all cores */
  uint32_t chips;
  uint32_t cores_loaded;
  uint32_t max_router_entries;
  double energy_joules;         /* idle chips + busy cores + routed bits */
} spd_run_counters_t;

/** A core's provenance as its kernel wrote it into its SDRAM region
 *  (spindle/dataspec.h spd_ds_prov_t) and the host read it back over the
 *  transceiver at the end of a run (docs/provenance.md). */
typedef struct spd_core_provenance {
  int x, y, p;
  uint32_t vertex;              /* the machine graph's vertex */
  char what[96];                /* the vertex described ("tile 2 of dense_1") */
  spd_core_state_t state;       /* the core's state when read */
  bool written;                 /* the region held a record */
  bool final;                   /* ... written as the kernel exited */
  uint32_t writes;              /* times the kernel wrote it */
  uint32_t max_rx_queue;        /* the deepest its receive ring got */
  uint64_t packets_in, packets_out, callbacks;
  uint64_t duplicates;          /* copies received and ignored */
  uint64_t requests;            /* rounds found incomplete, asked for again */
  uint64_t missing;             /* packets those requests were missing */
  uint64_t resent;              /* packets sent again on request */
  uint64_t timer_ticks, timer_overruns, samples_done;
} spd_core_provenance_t;

/** Every core's provenance summed (over every attempt of a run that
 *  recovered), and the core with the deepest receive ring. */
typedef struct spd_provenance_summary {
  uint32_t cores;               /* regions read */
  uint32_t cores_written;       /* ... holding a record */
  uint32_t cores_final;         /* ... written at the kernel's exit */
  uint32_t cores_dead;
  uint64_t packets_in, packets_out, callbacks, duplicates, requests, missing, resent;
  uint64_t timer_ticks, timer_overruns, samples_done;
  uint32_t max_rx_queue;
  int max_rx_x, max_rx_y, max_rx_p; /* its core (-1: no core read) */
} spd_provenance_summary_t;

/** Add core @p c into @p s (zero it first with max_rx_x = -1). */
void spd_provenance_add(spd_provenance_summary_t *s, const spd_core_provenance_t *c);

#endif
