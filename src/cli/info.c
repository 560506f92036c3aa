/* `spindle info`: describe a SpiNNaker machine, with its faults. */
#include <cjson/cJSON.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/reach.h"
#include "spindle/machine.h"

#define MAX_FAULT_ARGS 64
#define ETH_LIST_MAX 8

typedef struct info_options {
  const char *machine;
  const char *fault_files[MAX_FAULT_ARGS];
  const char *fault_lines[MAX_FAULT_ARGS];
  int n_files, n_lines;
  int json;
} info_options_t;

/* What the faults removed, counted against the fault-free machine. */
typedef struct dead_counts {
  uint32_t chips, app_cores, links;
} dead_counts_t;

static void usage(FILE *out) {
  fprintf(out,
          "usage: spindle info [--machine NAME] [--faults FILE] [--fault LINE] [--json]\n\n"
          "Describe a SpiNNaker machine: boards, chips, cores, links, SDRAM and\n"
          "Ethernet chips, after removing dead parts.\n\n"
          "options:\n"
          "  --machine NAME  spinn3, spinn5 (default), <N>boards (N = 1 or a multiple\n"
          "                  of 3), spinn1m, or <W>x<H> (a full chip torus)\n"
          "  --faults FILE   dead chips, cores and links, text or JSON (docs/machine.md);\n"
          "                  may be repeated\n"
          "  --fault LINE    one fault in the text form, e.g. --fault 'core 1 2 5';\n"
          "                  may be repeated\n"
          "  --json          print JSON instead of text\n"
          "  -h, --help      show this help\n");
}

/* Returns 0, or 2 after printing a usage error; sets *help for --help. */
static int parse_options(int argc, char **argv, info_options_t *o, int *help) {
  *o = (info_options_t){.machine = "spinn5"};
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
      *help = 1;
      return 0;
    }
    if (!strcmp(a, "--json")) {
      o->json = 1;
      continue;
    }
    int takes_value = !strcmp(a, "--machine") || !strcmp(a, "--faults") || !strcmp(a, "--fault");
    if (!takes_value) {
      fprintf(stderr, "spindle info: unknown option '%s'\n", a);
      return 2;
    }
    if (i + 1 >= argc) {
      fprintf(stderr, "spindle info: %s needs a value\n", a);
      return 2;
    }
    const char *v = argv[++i];
    if (!strcmp(a, "--machine"))
      o->machine = v;
    else if ((!strcmp(a, "--faults") ? o->n_files : o->n_lines) >= MAX_FAULT_ARGS) {
      fprintf(stderr, "spindle info: more than %d %s options\n", MAX_FAULT_ARGS, a);
      return 2;
    } else if (!strcmp(a, "--faults"))
      o->fault_files[o->n_files++] = v;
    else
      o->fault_lines[o->n_lines++] = v;
  }
  return 0;
}

static int apply_faults(spd_machine_t *m, const info_options_t *o) {
  int err = 0;
  for (int i = 0; !err && i < o->n_files; i++)
    err = spd_machine_apply_fault_file(m, o->fault_files[i]);
  for (int i = 0; !err && i < o->n_lines; i++)
    err = spd_machine_apply_faults(m, o->fault_lines[i]);
  return err;
}

static uint32_t ethernet_chips(const spd_machine_t *m) {
  uint32_t n = 0;
  for (uint32_t i = 0; i < m->n_chips; i++)
    n += m->chips[i].ethernet;
  return n;
}

static void print_text(const spd_machine_t *m, const dead_counts_t *dead) {
  uint32_t app = spd_machine_app_cores(m);
  printf("machine         %s\n", m->name);
  printf("boards          %" PRIu32 "\n", m->n_boards);
  printf("size            %u x %u chips, %s\n", m->width, m->height,
         m->wrap_x ? "with wrap-around (torus)" : "no wrap-around");
  printf("chips           %" PRIu32 "\n", m->n_chips);
  printf("cores           %" PRIu32 " (%" PRIu32 " monitors, %" PRIu32 " application)\n",
         app + m->n_chips, m->n_chips, app);
  printf("application     %" PRIu32 " cores\n", app);
  printf("links           %" PRIu32 " (working, each direction counted)\n",
         spd_machine_links(m));
  printf("SDRAM           %" PRIu64 " MiB (%u MiB per chip)\n",
         spd_machine_sdram(m) >> 20, SPD_SDRAM_BYTES >> 20);
  printf("Ethernet chips  %" PRIu32 ":", ethernet_chips(m));
  uint32_t shown = 0;
  for (uint32_t i = 0; i < m->n_chips && shown < ETH_LIST_MAX; i++)
    if (m->chips[i].ethernet) {
      printf(" (%u,%u)", m->chips[i].x, m->chips[i].y);
      shown++;
    }
  printf("%s\n", ethernet_chips(m) > shown ? " ..." : "");
  if (!dead->chips && !dead->app_cores && !dead->links)
    printf("dead            none\n");
  else
    printf("dead            %" PRIu32 " chips, %" PRIu32 " application cores, %" PRIu32
           " links\n", dead->chips, dead->app_cores, dead->links);
}

static cJSON *ethernet_list(const spd_machine_t *m) {
  cJSON *list = cJSON_CreateArray();
  for (uint32_t i = 0; list && i < m->n_chips; i++) {
    if (!m->chips[i].ethernet)
      continue;
    int xy[2] = {m->chips[i].x, m->chips[i].y};
    cJSON_AddItemToArray(list, cJSON_CreateIntArray(xy, 2));
  }
  return list;
}

static int print_json(const spd_machine_t *m, const dead_counts_t *dead) {
  cJSON *o = cJSON_CreateObject();
  uint32_t app = spd_machine_app_cores(m);
  cJSON_AddStringToObject(o, "machine", m->name);
  cJSON_AddNumberToObject(o, "boards", m->n_boards);
  cJSON_AddNumberToObject(o, "width", m->width);
  cJSON_AddNumberToObject(o, "height", m->height);
  cJSON_AddBoolToObject(o, "wrap_around", m->wrap_x);
  cJSON_AddNumberToObject(o, "chips", m->n_chips);
  cJSON_AddNumberToObject(o, "cores", app + m->n_chips);
  cJSON_AddNumberToObject(o, "application_cores", app);
  cJSON_AddNumberToObject(o, "links", spd_machine_links(m));
  cJSON_AddNumberToObject(o, "sdram_bytes", (double)spd_machine_sdram(m));
  cJSON_AddNumberToObject(o, "sdram_bytes_per_chip", SPD_SDRAM_BYTES);
  cJSON_AddNumberToObject(o, "ethernet_chips", ethernet_chips(m));
  cJSON_AddItemToObject(o, "ethernet", ethernet_list(m));
  cJSON_AddNumberToObject(o, "dead_chips", dead->chips);
  cJSON_AddNumberToObject(o, "dead_application_cores", dead->app_cores);
  cJSON_AddNumberToObject(o, "dead_links", dead->links);
  char *text = cJSON_Print(o);
  cJSON_Delete(o);
  if (!text) {
    fprintf(stderr, "spindle info: out of memory formatting JSON\n");
    return 1;
  }
  printf("%s\n", text);
  cJSON_free(text);
  return 0;
}

/* Builds the machine with its faults, and the counts of what they removed. */
static int build(spd_ctx_t *ctx, const info_options_t *o, spd_machine_t **out,
                 dead_counts_t *dead) {
  spd_machine_t *pristine = NULL, *m = NULL;
  int err = spd_machine_new(ctx, o->machine, &pristine);
  if (!err)
    err = spd_machine_new(ctx, o->machine, &m);
  if (!err)
    err = apply_faults(m, o);
  if (!err) {
    dead->chips = pristine->n_chips - m->n_chips;
    dead->app_cores = spd_machine_app_cores(pristine) - spd_machine_app_cores(m);
    dead->links = spd_machine_links(pristine) - spd_machine_links(m);
    *out = m;
    m = NULL;
  }
  spd_machine_free(pristine);
  spd_machine_free(m);
  return err;
}

int spd_cli_info(int argc, char **argv) {
  info_options_t o;
  int help = 0;
  int status = parse_options(argc, argv, &o, &help);
  if (status || help) {
    usage(help ? stdout : stderr);
    return status;
  }
  spd_ctx_t ctx;
  spd_ctx_init(&ctx);
  spd_machine_t *m;
  dead_counts_t dead;
  if (build(&ctx, &o, &m, &dead)) {
    fprintf(stderr, "spindle info: %s\n", spd_ctx_message(&ctx));
    return 1;
  }
  if (spd_cli_check_reach("info", m, false))
    status = 1;
  else if (o.json)
    status = print_json(m, &dead);
  else
    print_text(m, &dead);
  spd_machine_free(m);
  return status;
}
