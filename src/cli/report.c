#include "cli/report.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "io/file.h"

void spd_cli_report_number(cJSON *r, const char *key, double value) {
  cJSON_AddNumberToObject(r, key, value);
}

void spd_cli_report_string(cJSON *r, const char *key, const char *value) {
  cJSON_AddStringToObject(r, key, value);
}

cJSON *spd_cli_report_new(const spd_cli_session_t *s) {
  cJSON *r = cJSON_CreateObject();
  if (!r)
    return NULL;
  const spd_cli_options_t *o = s->opt;
  spd_cli_report_string(r, "command", s->command);
  spd_cli_report_string(r, "model", o->model);
  spd_cli_report_string(r, "data", o->data);
  spd_cli_report_string(r, "backend", spd_cli_backend_name(o->backend));
  spd_cli_report_string(r, "numeric", o->numeric);
  spd_cli_report_string(r, "loss_function", spd_loss_name(s->loss));
  spd_cli_report_number(r, "seed", (double)o->seed);
  spd_cli_report_number(r, "batch_size", (double)o->batch_size);
  bool train = !strcmp(s->command, "train");
  spd_cli_report_number(r, "samples", (double)(train ? s->train.n : s->test.n));
  spd_cli_report_number(r, "test_samples", (double)s->test.n);
  uint64_t total, trainable, frozen;
  spd_model_count_params(s->model, &total, &trainable, &frozen);
  spd_cli_report_number(r, "parameters", (double)total);
  return r;
}

void spd_cli_report_hardware(cJSON *r, const spd_cli_session_t *s) {
  if (!r || !s->has_hardware)
    return;
  const spd_machine_stats_t *h = &s->hardware;
  spd_cli_report_string(r, "machine", h->machine);
  spd_cli_report_number(r, "chips_used", h->chips_used);
  spd_cli_report_number(r, "cores_used", h->cores_used);
  spd_cli_report_number(r, "max_router_entries", h->max_router_entries);
  spd_cli_report_number(r, "packets_sent", (double)h->packets_sent);
  spd_cli_report_number(r, "packets_dropped", (double)h->packets_dropped);
  spd_cli_report_number(r, "simulated_seconds", h->simulated_seconds);
  spd_cli_report_number(r, "simulated_samples_per_second", h->simulated_samples_per_second);
  spd_cli_report_number(r, "energy_joules", h->energy_joules);
}

void spd_cli_print_hardware(const spd_cli_session_t *s) {
  if (!s->has_hardware)
    return;
  const spd_machine_stats_t *h = &s->hardware;
  printf("machine: %s (%s) - chips_used: %u - cores_used: %u - max_router_entries: %u\n"
         "packets_sent: %llu - packets_dropped: %llu - simulated_seconds: %.6f - "
         "simulated_samples_per_second: %.1f - energy_joules: %.4f\n",
         h->machine, spd_numeric_name(h->numeric), h->chips_used, h->cores_used,
         h->max_router_entries, (unsigned long long)h->packets_sent,
         (unsigned long long)h->packets_dropped, h->simulated_seconds,
         h->simulated_samples_per_second, h->energy_joules);
  fflush(stdout);
}

static void add_series(cJSON *r, const char *key, const spd_history_t *h, size_t offset) {
  cJSON *a = cJSON_AddArrayToObject(r, key);
  for (int e = 0; a && e < h->n_epochs; e++) {
    const double *v = (const double *)((const char *)&h->epochs[e] + offset);
    cJSON_AddItemToArray(a, cJSON_CreateNumber(*v));
  }
}

void spd_cli_report_history(cJSON *r, const spd_history_t *h) {
  spd_cli_report_number(r, "epochs", h->n_epochs);
  add_series(r, "train_loss", h, offsetof(spd_epoch_logs_t, loss));
  add_series(r, "train_accuracy", h, offsetof(spd_epoch_logs_t, accuracy));
  add_series(r, "epoch_seconds", h, offsetof(spd_epoch_logs_t, seconds));
  if (h->n_epochs > 0 && h->epochs[0].has_validation) {
    add_series(r, "val_loss", h, offsetof(spd_epoch_logs_t, val_loss));
    add_series(r, "val_accuracy", h, offsetof(spd_epoch_logs_t, val_accuracy));
  }
}

int spd_cli_report_write(spd_cli_session_t *s, cJSON *r) {
  if (!s->opt->report) {
    cJSON_Delete(r);
    return 0;
  }
  char *text = r ? cJSON_Print(r) : NULL;
  cJSON_Delete(r);
  if (!text) {
    fprintf(stderr, "spindle %s: out of memory writing the report\n", s->command);
    return 1;
  }
  size_t len = strlen(text);
  text[len] = '\n';
  int rc = spd__write_file(&s->ctx, s->opt->report, text, len + 1);
  cJSON_free(text);
  return rc ? spd_cli_session_fail(s) : 0;
}
