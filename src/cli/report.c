#include "cli/report.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
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
  cJSON_AddBoolToObject(r, "completed", true);
  spd_cli_report_string(r, "model", o->model);
  spd_cli_report_string(r, "data", o->data);
  spd_cli_report_string(r, "backend", spd_cli_backend_name(o->backend));
  spd_cli_report_string(r, "numeric", o->numeric);
  spd_cli_report_string(r, "loss_function", spd_loss_name(s->loss));
  cJSON_AddBoolToObject(r, "from_logits", s->from_logits);
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
  spd_cli_report_number(r, "samples_in_flight", h->samples_in_flight);
  spd_cli_report_number(r, "packets_sent", (double)h->packets_sent);
  spd_cli_report_number(r, "packets_dropped", (double)h->packets_dropped);
  spd_cli_report_number(r, "packets_reinjected", (double)h->packets_reinjected);
  spd_cli_report_number(r, "packets_lost", (double)h->packets_lost);
  spd_cli_report_number(r, "packets_resent", (double)h->packets_resent);
  spd_cli_report_number(r, "cores_failed", h->cores_failed);
  spd_cli_report_number(r, "recoveries", h->recoveries);
  if (h->failure[0])
    spd_cli_report_string(r, "last_failure", h->failure);
  spd_cli_report_number(r, "simulated_seconds", h->simulated_seconds);
  spd_cli_report_number(r, "simulated_samples_per_second", h->simulated_samples_per_second);
  spd_cli_report_number(r, "energy_joules", h->energy_joules);
  spd_cli_report_number(r, "energy_per_sample_joules", h->energy_per_sample_joules);
  spd_cli_report_number(r, "roofline_samples_per_second", h->roofline_samples_per_second);
  spd_cli_report_string(r, "binding_resource", h->binding_resource);
  cJSON *kinds = cJSON_AddObjectToObject(r, "roofline_by_resource");
  if (kinds) {
    cJSON_AddNumberToObject(kinds, "core", h->roofline_core_samples_per_second);
    cJSON_AddNumberToObject(kinds, "router", h->roofline_router_samples_per_second);
    cJSON_AddNumberToObject(kinds, "link", h->roofline_link_samples_per_second);
  }
  spd_cli_report_number(r, "host_samples_per_second", h->host_samples_per_second);
  spd_cli_report_provenance(r, s);
}

void spd_cli_print_hardware(const spd_cli_session_t *s) {
  if (!s->has_hardware)
    return;
  const spd_machine_stats_t *h = &s->hardware;
  printf("machine: %s (%s) - chips_used: %u - cores_used: %u - max_router_entries: %u\n"
         "packets_sent: %llu - packets_dropped: %llu - packets_reinjected: %llu - "
         "packets_lost: %llu - packets_resent: %llu - cores_failed: %u - recoveries: %u - "
         "completed: %s\n"
         "simulated_seconds: %.6f - simulated_samples_per_second: %.1f - "
         "energy_joules: %.4f\n",
         h->machine, spd_numeric_name(h->numeric), h->chips_used, h->cores_used,
         h->max_router_entries, (unsigned long long)h->packets_sent,
         (unsigned long long)h->packets_dropped, (unsigned long long)h->packets_reinjected,
         (unsigned long long)h->packets_lost, (unsigned long long)h->packets_resent,
         h->cores_failed, h->recoveries, h->completed ? "true" : "false",
         h->simulated_seconds, h->simulated_samples_per_second, h->energy_joules);
  printf("roofline_samples_per_second: %.1f - binding_resource: %s - "
         "host_samples_per_second: %.2f - energy_per_sample_joules: %.6f\n",
         h->roofline_samples_per_second, h->binding_resource[0] ? h->binding_resource : "-",
         h->host_samples_per_second, h->energy_per_sample_joules);
  if (h->failure[0])
    printf("last_failure: %s\n", h->failure);
  fflush(stdout);
  spd_cli_print_provenance(s);
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

/* A float hyperparameter as the decimal it was written as (0.9, not
 * 0.8999999761581421): the shortest one that reads back as the float. */
static double decimal(float v) {
  char tmp[32];
  for (int p = 1; p <= 9; p++) {
    snprintf(tmp, sizeof tmp, "%.*g", p, (double)v);
    if (strtof(tmp, NULL) == v)
      break;
  }
  return strtod(tmp, NULL);
}

static void report_schedule(cJSON *c, const spd_lr_schedule_t *s) {
  if (s->kind == SPD_LR_PIECEWISE_CONSTANT) {
    cJSON *b = cJSON_AddArrayToObject(c, "boundaries");
    cJSON *v = cJSON_AddArrayToObject(c, "values");
    for (int i = 0; b && v && i <= s->n_boundaries; i++) {
      if (i < s->n_boundaries)
        cJSON_AddItemToArray(b, cJSON_CreateNumber((double)s->boundaries[i]));
      cJSON_AddItemToArray(v, cJSON_CreateNumber(s->values[i]));
    }
    return;
  }
  if (s->kind == SPD_LR_CONSTANT)
    return;
  spd_cli_report_number(c, "decay_steps", s->decay_steps);
  if (s->kind == SPD_LR_COSINE_DECAY) {
    spd_cli_report_number(c, "alpha", s->alpha);
  } else {
    spd_cli_report_number(c, "decay_rate", s->decay_rate);
    cJSON_AddBoolToObject(c, "staircase", s->staircase);
  }
}

void spd_cli_report_optimizer(cJSON *r, const spd_optimizer_config_t *o, int64_t steps) {
  const spd_lr_schedule_t *lr = &o->learning_rate;
  spd_cli_report_string(r, "optimizer", spd_optimizer_name(o->kind));
  spd_cli_report_number(r, "learning_rate", spd_lr_schedule_at(lr, 0));
  spd_cli_report_string(r, "lr_schedule", spd_lr_schedule_name(lr->kind));
  spd_cli_report_number(r, "final_learning_rate",
                        spd_lr_schedule_at(lr, steps > 0 ? steps - 1 : 0));
  spd_cli_report_number(r, "momentum", decimal(o->momentum));
  cJSON *c = cJSON_AddObjectToObject(r, "optimizer_config");
  if (!c)
    return;
  report_schedule(c, lr);
  if (o->kind == SPD_OPT_SGD) {
    spd_cli_report_number(c, "momentum", decimal(o->momentum));
    cJSON_AddBoolToObject(c, "nesterov", o->nesterov);
    return;
  }
  spd_cli_report_number(c, "epsilon", decimal(o->epsilon));
  if (o->kind == SPD_OPT_ADAM) {
    spd_cli_report_number(c, "beta_1", decimal(o->beta_1));
    spd_cli_report_number(c, "beta_2", decimal(o->beta_2));
  } else {
    spd_cli_report_number(c, "rho", decimal(o->rho));
    spd_cli_report_number(c, "momentum", decimal(o->momentum));
    cJSON_AddBoolToObject(c, "centered", o->centered);
  }
}

int spd_cli_report_failed_run(spd_cli_session_t *s) {
  int rc = spd_cli_session_fail(s);
  if (rc != 1) /* interrupted: no report, as no other output */
    return rc;
  /* A run refused before anything was loaded has no hardware figures. */
  s->has_hardware = s->hardware.cores_used > 0;
  s->hardware.completed = false;
  if (s->has_hardware)
    spd_cli_print_hardware(s);
  if (!s->opt->report)
    return 1;
  cJSON *r = spd_cli_report_new(s);
  if (r) {
    cJSON_ReplaceItemInObject(r, "completed", cJSON_CreateBool(false));
    spd_cli_report_string(r, "error", spd_ctx_message(&s->ctx));
    spd_cli_report_hardware(r, s);
    spd_cli_report_number(r, "host_seconds", spd_cli_session_seconds(s));
  }
  spd_cli_report_write(s, r);
  return 1;
}
