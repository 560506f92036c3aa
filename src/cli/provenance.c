/* The kernels' provenance in the report (docs/provenance.md): what every
 * core wrote into its SDRAM region, read back over the transceiver at the
 * end of the run, as totals, the core with the deepest receive queue, each
 * attempt's sums and every core of the last attempt. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/report.h"

void spd_cli_provenance_free(spd_cli_provenance_t *p) {
  free(p->cores);
  *p = (spd_cli_provenance_t){0};
}

void spd_cli_keep_provenance(void *ud, spd_transceiver_t *tx, uint32_t attempt,
                             const spd_core_provenance_t *cores, uint32_t n) {
  (void)tx;
  spd_cli_provenance_t *p = &((spd_cli_session_t *)ud)->prov;
  if (attempt == 0) /* a new run */
    spd_cli_provenance_free(p);
  free(p->cores);
  p->cores = n ? malloc((size_t)n * sizeof *cores) : NULL;
  p->n = p->cores ? n : 0;
  if (p->cores)
    memcpy(p->cores, cores, (size_t)n * sizeof *cores);
  if (p->attempts < SPD_CLI_PROV_ATTEMPTS) {
    spd_provenance_summary_t *s = &p->attempt[p->attempts++];
    *s = (spd_provenance_summary_t){.max_rx_x = -1, .max_rx_y = -1, .max_rx_p = -1};
    for (uint32_t i = 0; i < n; i++)
      spd_provenance_add(s, &cores[i]);
  }
}

static void add_counts(cJSON *o, const spd_provenance_summary_t *s) {
  spd_cli_report_number(o, "cores", s->cores);
  spd_cli_report_number(o, "cores_written", s->cores_written);
  spd_cli_report_number(o, "cores_final", s->cores_final);
  spd_cli_report_number(o, "cores_dead", s->cores_dead);
  spd_cli_report_number(o, "packets_in", (double)s->packets_in);
  spd_cli_report_number(o, "packets_out", (double)s->packets_out);
  spd_cli_report_number(o, "callbacks", (double)s->callbacks);
  spd_cli_report_number(o, "duplicates", (double)s->duplicates);
  spd_cli_report_number(o, "requests", (double)s->requests);
  spd_cli_report_number(o, "missing", (double)s->missing);
  spd_cli_report_number(o, "resent", (double)s->resent);
  spd_cli_report_number(o, "timer_ticks", (double)s->timer_ticks);
  spd_cli_report_number(o, "timer_overruns", (double)s->timer_overruns);
  spd_cli_report_number(o, "samples_done", (double)s->samples_done);
  spd_cli_report_number(o, "max_rx_queue", s->max_rx_queue);
}

static const spd_core_provenance_t *deepest(const spd_cli_session_t *s) {
  const spd_provenance_summary_t *t = &s->hardware.provenance;
  for (uint32_t i = 0; t->max_rx_x >= 0 && i < s->prov.n; i++) {
    const spd_core_provenance_t *c = &s->prov.cores[i];
    if (c->x == t->max_rx_x && c->y == t->max_rx_y && c->p == t->max_rx_p)
      return c;
  }
  return NULL;
}

void spd_cli_report_provenance(cJSON *r, const spd_cli_session_t *s) {
  const spd_provenance_summary_t *t = &s->hardware.provenance;
  cJSON *o = cJSON_AddObjectToObject(r, "provenance");
  if (!o)
    return;
  cJSON *tot = cJSON_AddObjectToObject(o, "totals");
  if (tot)
    add_counts(tot, t);
  if (t->max_rx_x >= 0) {
    cJSON *m = cJSON_AddObjectToObject(o, "max_rx_queue_core");
    const spd_core_provenance_t *c = deepest(s);
    if (m) {
      spd_cli_report_number(m, "x", t->max_rx_x);
      spd_cli_report_number(m, "y", t->max_rx_y);
      spd_cli_report_number(m, "p", t->max_rx_p);
      spd_cli_report_number(m, "depth", t->max_rx_queue);
      if (c)
        spd_cli_report_string(m, "vertex", c->what);
    }
  }
  cJSON *a = cJSON_AddArrayToObject(o, "attempts");
  for (uint32_t i = 0; a && i < s->prov.attempts; i++) {
    cJSON *e = cJSON_CreateObject();
    if (!e)
      break;
    add_counts(e, &s->prov.attempt[i]);
    cJSON_AddItemToArray(a, e);
  }
  cJSON *cs = cJSON_AddArrayToObject(o, "cores");
  for (uint32_t i = 0; cs && i < s->prov.n; i++) {
    const spd_core_provenance_t *c = &s->prov.cores[i];
    cJSON *e = cJSON_CreateObject();
    if (!e)
      break;
    spd_cli_report_number(e, "x", c->x);
    spd_cli_report_number(e, "y", c->y);
    spd_cli_report_number(e, "p", c->p);
    spd_cli_report_number(e, "vertex", c->vertex);
    spd_cli_report_string(e, "what", c->what);
    spd_cli_report_string(e, "state", spd_core_state_name(c->state));
    cJSON_AddBoolToObject(e, "written", c->written);
    cJSON_AddBoolToObject(e, "final", c->final);
    spd_cli_report_number(e, "writes", c->writes);
    spd_cli_report_number(e, "packets_in", (double)c->packets_in);
    spd_cli_report_number(e, "packets_out", (double)c->packets_out);
    spd_cli_report_number(e, "callbacks", (double)c->callbacks);
    spd_cli_report_number(e, "duplicates", (double)c->duplicates);
    spd_cli_report_number(e, "requests", (double)c->requests);
    spd_cli_report_number(e, "missing", (double)c->missing);
    spd_cli_report_number(e, "resent", (double)c->resent);
    spd_cli_report_number(e, "timer_ticks", (double)c->timer_ticks);
    spd_cli_report_number(e, "timer_overruns", (double)c->timer_overruns);
    spd_cli_report_number(e, "samples_done", (double)c->samples_done);
    spd_cli_report_number(e, "max_rx_queue", c->max_rx_queue);
    cJSON_AddItemToArray(cs, e);
  }
}

void spd_cli_print_provenance(const spd_cli_session_t *s) {
  const spd_provenance_summary_t *t = &s->hardware.provenance;
  if (!t->cores)
    return;
  printf("provenance: %u cores (%u finished) - packets_in: %llu - packets_out: %llu - "
         "callbacks: %llu - duplicates: %llu - requests: %llu - resent: %llu - "
         "timer_overruns: %llu\n",
         t->cores, t->cores_final, (unsigned long long)t->packets_in,
         (unsigned long long)t->packets_out, (unsigned long long)t->callbacks,
         (unsigned long long)t->duplicates, (unsigned long long)t->requests,
         (unsigned long long)t->resent, (unsigned long long)t->timer_overruns);
  if (t->max_rx_x >= 0) {
    const spd_core_provenance_t *c = deepest(s);
    printf("max_rx_queue: %u on core (%d,%d,%d)%s%s\n", t->max_rx_queue, t->max_rx_x,
           t->max_rx_y, t->max_rx_p, c ? " " : "", c ? c->what : "");
  }
  fflush(stdout);
}
