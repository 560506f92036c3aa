/* `spindle map`: partition, place and route a model on a machine without
 * running it, and print the tiles, the placement and the router use. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/options.h"
#include "cli/reach.h"
#include "spindle/compile.h"
#include "spindle/keras.h"
#include "spindle/machine.h"
#include "spindle/map_route.h"
#include "spindle/map_svg.h"
#include "spindle/partition.h"
#include "spindle/place.h"

#define MAX_FAULT_FILES 16
#define CHIP_LIST_MAX 12

typedef struct map_options {
  const char *model;
  const char *machine;
  const char *faults[MAX_FAULT_FILES];
  int n_faults;
  const char *placer;
  spd_partition_opts_t part;
  bool tiles;
  const char *svg;      /* --svg FILE: the picture of the mapping */
  bool optimizer_given; /* --optimizer or --momentum: the file's is not used */
  bool fold_bn;         /* --fold-bn: BatchNormalization folded first (inference) */
} map_options_t;

static void usage(FILE *out) {
  fprintf(out,
          "usage: spindle map MODEL [--machine NAME] [--faults FILE] [--numeric fixed|float]\n"
          "                  [--optimizer sgd|adam|rmsprop] [--momentum] [--batch-size N]\n"
          "                  [--in-flight N] [--samples N] [--inference [--fold-bn]] [--placer NAME]\n"
          "                  [--max-cores N] [--slack PERCENT] [--fuse] [--tiles] [--svg FILE]\n\n"
          "Compile a model for a SpiNNaker machine without running it: cut every Dense,\n"
          "convolution and pooling layer into tiles, place them on cores, route their\n"
          "packets and minimise the routing tables; print per layer the tile grid with each tile's memory\n"
          "and cycles, the cores and chips used and the router entries per chip.\n\n"
          "options:\n"
          "  --machine NAME     spinn3, spinn5 (default), <N>boards, spinn1m, <W>x<H>\n"
          "  --faults FILE      dead chips, cores and links (docs/machine.md); repeatable\n"
          "  --numeric MODE     fixed (default) or float\n"
          "  --optimizer NAME   sgd, adam or rmsprop: the optimizer state each weight\n"
          "                     needs (default, as spindle train: the one the model\n"
          "                     file states with its momentum, else sgd)\n"
          "  --momentum         the optimizer keeps a momentum slot (sgd, rmsprop)\n"
          "  --batch-size N     samples per weight update (default 32)\n"
          "  --in-flight N      samples in the pipeline at once, a power of two (default 4)\n"
          "  --samples N        training samples the sources hold in SDRAM (default 60000)\n"
          "  --inference        forward only: no gradients or optimizer state\n"
          "  --fold-bn          with --inference: fold each BatchNormalization after a\n"
          "                     linear Dense or convolution into it first, as evaluate\n"
          "                     and predict --fold-bn do\n"
          "  --placer NAME      locality (default) or sequential\n"
          "  --max-cores N      use at most N application cores (default: all)\n"
          "  --slack PERCENT    accept a period this much above the fastest mapping\n"
          "                     for fewer cores and packets (default 10)\n"
          "  --fuse             consecutive single-tile layers share one core\n"
          "  --tiles            list every vertex with its core, memory and cycles\n"
          "  --svg FILE         draw the machine into FILE (SVG, written atomically): chips\n"
          "                     and cores coloured by the layer they hold, links by the\n"
          "                     keys per sample they carry\n"
          "  -h, --help         show this help\n");
}

static int parse_count(const char *opt, const char *v, const char *what, uint32_t lo,
                       uint32_t hi, uint32_t *out) {
  uint64_t n;
  int rc = spd_cli_parse_whole("map", opt, v, what, lo, hi, &n);
  if (!rc)
    *out = (uint32_t)n;
  return rc;
}

/* One option with a value; 0, or 2 after a message. */
static int parse_value(map_options_t *o, const char *a, const char *v) {
  if (!strcmp(a, "--machine")) {
    o->machine = v;
  } else if (!strcmp(a, "--svg")) {
    o->svg = v;
  } else if (!strcmp(a, "--faults")) {
    if (o->n_faults == MAX_FAULT_FILES) {
      fprintf(stderr, "spindle map: more than %d --faults files\n", MAX_FAULT_FILES);
      return 2;
    }
    o->faults[o->n_faults++] = v;
  } else if (!strcmp(a, "--numeric")) {
    int n = spd_numeric_parse(v);
    if (n < 0) {
      fprintf(stderr, "spindle map: --numeric is fixed or float, not '%s'\n", v);
      return 2;
    }
    o->part.numeric = (spd_numeric_t)n;
  } else if (!strcmp(a, "--optimizer")) {
    int k = spd_optimizer_parse(v);
    if (k < 0) {
      fprintf(stderr, "spindle map: --optimizer is sgd, adam or rmsprop, not '%s'\n", v);
      return 2;
    }
    o->part.optimizer = (spd_optimizer_kind_t)k;
    o->optimizer_given = true;
  } else if (!strcmp(a, "--placer")) {
    if (strcmp(v, "locality") && strcmp(v, "sequential")) {
      fprintf(stderr, "spindle map: --placer is locality or sequential, not '%s'\n", v);
      return 2;
    }
    o->placer = v;
  } else if (!strcmp(a, "--batch-size")) {
    return parse_count(a, v, "a batch size", 1, 1u << 24, &o->part.batch_size);
  } else if (!strcmp(a, "--in-flight")) {
    return parse_count(a, v, "a number of samples in flight, a power of two,", 1, 64,
                       &o->part.slots);
  } else if (!strcmp(a, "--slack")) {
    return parse_count(a, v, "a percentage", 0, 1000, &o->part.slack_percent);
  } else if (!strcmp(a, "--max-cores")) {
    return parse_count(a, v, "a number of cores", 1, 1u << 30, &o->part.max_cores);
  } else if (!strcmp(a, "--samples")) {
    return parse_count(a, v, "a number of samples", 0, 1u << 30, &o->part.dataset_samples);
  } else {
    fprintf(stderr, "spindle map: unknown option '%s'\n", a);
    return 2;
  }
  return 0;
}

static bool takes_value(const char *a) {
  static const char *const with[] = {"--machine", "--svg", "--faults", "--numeric", "--optimizer",
                                     "--placer", "--batch-size", "--in-flight", "--samples",
                                     "--max-cores", "--slack"};
  for (size_t i = 0; i < sizeof with / sizeof with[0]; i++)
    if (!strcmp(a, with[i]))
      return true;
  return false;
}

/* 0, -1 after --help, or 2 after a usage message. */
static int parse_options(int argc, char **argv, map_options_t *o) {
  *o = (map_options_t){.machine = "spinn5", .placer = "locality"};
  spd_partition_opts_default(&o->part);
  o->part.optimizer = SPD_OPT_SGD; /* spindle train's default without a file recipe */
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
      usage(stdout);
      return -1;
    }
    if (!strcmp(a, "--tiles") || !strcmp(a, "--inference") || !strcmp(a, "--momentum") ||
        !strcmp(a, "--fuse") || !strcmp(a, "--fold-bn")) {
      o->tiles |= !strcmp(a, "--tiles");
      o->fold_bn |= !strcmp(a, "--fold-bn");
      o->part.fuse_small |= !strcmp(a, "--fuse");
      o->part.training &= strcmp(a, "--inference") != 0;
      o->part.momentum |= !strcmp(a, "--momentum");
      o->optimizer_given |= !strcmp(a, "--momentum");
      continue;
    }
    if (takes_value(a)) {
      if (i + 1 >= argc) {
        fprintf(stderr, "spindle map: %s needs a value\n", a);
        return 2;
      }
      int err = parse_value(o, a, argv[++i]);
      if (err)
        return err;
      continue;
    }
    if (a[0] == '-' || o->model) {
      fprintf(stderr, "spindle map: %s '%s'\n", a[0] == '-' ? "unknown option" : "unexpected argument", a);
      return 2;
    }
    o->model = a;
  }
  if (!o->model) {
    fprintf(stderr, "spindle map: which model? (spindle map MODEL.json)\n");
    return 2;
  }
  if (o->fold_bn && o->part.training) {
    fprintf(stderr, "spindle map: --fold-bn maps the inference graph (training uses the batch "
                    "statistics): give --inference too\n");
    return 2;
  }
  if (o->part.slots & (o->part.slots - 1)) {
    fprintf(stderr, "spindle map: --in-flight '%" PRIu32 "': expected a number of samples in "
                    "flight, a power of two, from 1 to 64\n", o->part.slots);
    return 2;
  }
  return 0;
}

static double cycles_us(uint64_t cycles) { return (double)cycles / 200.0; }

/* The largest DTCM, SDRAM and cycles of vertices of @p role in a layer. */
static void role_max(const spd_machine_graph_t *g, const spd_layer_tiling_t *t,
                     spd_vertex_role_t role, spd_vertex_t *out, uint32_t *count) {
  *out = (spd_vertex_t){0};
  *count = 0;
  for (uint32_t v = t->first_vertex; v < t->first_vertex + t->n_vertices; v++) {
    const spd_vertex_t *x = &g->vertices[v];
    if (x->role != role)
      continue;
    if (!*count || x->rows.n * x->cols.n > out->rows.n * out->cols.n) {
      out->rows = x->rows;
      out->cols = x->cols;
    }
    (*count)++;
    out->dtcm_bytes = x->dtcm_bytes > out->dtcm_bytes ? x->dtcm_bytes : out->dtcm_bytes;
    out->sdram_bytes = x->sdram_bytes > out->sdram_bytes ? x->sdram_bytes : out->sdram_bytes;
    if (x->cycles_per_sample > out->cycles_per_sample)
      out->cycles_per_sample = x->cycles_per_sample;
    if (x->period_cycles > out->period_cycles)
      out->period_cycles = x->period_cycles;
  }
}

static void print_role(const char *label, const spd_vertex_t *v, uint32_t n, bool block) {
  printf("    %-9s x%-4" PRIu32, label, n);
  if (block)
    printf(" block %4" PRIu32 " x %-4" PRIu32, v->rows.n, v->cols.n);
  else
    printf(" cols  %-11" PRIu32, v->cols.n);
  printf(" DTCM %6" PRIu32 " B  SDRAM %9" PRIu64 " B  %9" PRIu64 " cycles/sample (period %" PRIu64
         ")\n", v->dtcm_bytes, v->sdram_bytes, v->cycles_per_sample, v->period_cycles);
}

/* Convolution and pooling layers: the grid of output rows x channels, the
 * largest tile with its input rows (halo included). */
static void print_windows(const spd_machine_graph_t *g) {
  for (int i = 0; i < g->n_conv; i++) {
    const spd_conv_tiling_t *t = &g->conv[i];
    printf("layer '%s' %s %" PRIu32 "x%" PRIu32 "x%" PRIu32 " -> %" PRIu32 "x%" PRIu32 "x%" PRIu32
           " (k %" PRIu32 "x%" PRIu32 ", stride %" PRIu32 "x%" PRIu32 ", dilation %" PRIu32
           "x%" PRIu32 ", pad %" PRIu32 ",%" PRIu32 "): ",
           t->name, spd_layer_kind_name(t->kind), t->in_h, t->in_w, t->in_c, t->out_h, t->out_w,
           t->out_c, t->k_h, t->k_w, t->stride_h, t->stride_w, t->dil_h, t->dil_w, t->pad_top,
           t->pad_left);
    if (!t->n_vertices) {
      const spd_conv_tiling_t *host = spd_machine_graph_conv_tiling(g, t->fused_into);
      printf("fused into the tiles of layer '%s'\n", host ? host->name : "?");
      continue;
    }
    if (t->grid_wcols > 1)
      printf("grid %u rows x %u columns x %u channels, ", t->grid_rows, t->grid_wcols,
             t->grid_cols);
    else
      printf("grid %u rows x %u channels, ", t->grid_rows, t->grid_cols);
    printf("weights %s, %" PRIu32 " cores, period %" PRIu64 " cycles (%.1f us)\n",
           spd_tile_memory_name(t->memory), t->n_vertices, t->period_cycles,
           cycles_us(t->period_cycles));
    spd_vertex_t big = {0};
    for (uint32_t v = t->first_vertex; v < t->first_vertex + t->n_vertices; v++) {
      const spd_vertex_t *x = &g->vertices[v];
      if (x->in_rows.n * x->cols.n > big.in_rows.n * big.cols.n)
        big = *x;
      big.dtcm_bytes = x->dtcm_bytes > big.dtcm_bytes ? x->dtcm_bytes : big.dtcm_bytes;
      if (x->cycles_per_sample > big.cycles_per_sample)
        big.cycles_per_sample = x->cycles_per_sample;
    }
    printf("    %-9s x%-4" PRIu32 " rows %3" PRIu32 " (reads %3" PRIu32 " input rows) x %-4" PRIu32
           " channels", spd_vertex_role_name(big.role), t->n_vertices, big.conv_rows.n,
           big.in_rows.n, big.cols.n);
    if (t->grid_wcols > 1)
      printf(" x %" PRIu32 " columns (reads %" PRIu32 ")", big.conv_cols.n, big.in_cols.n);
    printf("  DTCM %6" PRIu32 " B  %9" PRIu64 " cycles/sample\n", big.dtcm_bytes,
           big.cycles_per_sample);
  }
}

static void print_layers(const spd_model_t *m, const spd_machine_graph_t *g) {
  print_windows(g);
  for (int d = 0; d < g->n_dense; d++) {
    const spd_layer_tiling_t *t = &g->dense[d];
    const spd_layer_t *l = &m->layers[t->layer];
    printf("layer '%s' Dense %" PRIu32 "x%" PRIu32 " %s: grid %u x %u, weights %s, %" PRIu32
           " cores, period %" PRIu64 " cycles (%.1f us)\n",
           t->name, t->in, t->out, spd_activation_name(l->config.activation), t->grid_rows,
           t->grid_cols, spd_tile_memory_name(t->memory), t->n_vertices, t->period_cycles,
           cycles_us(t->period_cycles));
    if (!t->n_vertices) {
      const spd_layer_tiling_t *host = spd_machine_graph_tiling(g, g->vertices[t->first_vertex].layer);
      printf("    shares the core of layer '%s'\n", host ? host->name : "?");
      continue;
    }
    static const spd_vertex_role_t roles[] = {SPD_ROLE_TILE, SPD_ROLE_TILE_FULL, SPD_ROLE_REDUCER};
    for (size_t r = 0; r < 3; r++) {
      spd_vertex_t v;
      uint32_t n;
      role_max(g, t, roles[r], &v, &n);
      if (n)
        print_role(spd_vertex_role_name(roles[r]), &v, n, roles[r] != SPD_ROLE_REDUCER);
    }
  }
  for (uint32_t v = 0; v < g->n_vertices; v++) {
    const spd_vertex_t *x = &g->vertices[v];
    if (x->role == SPD_ROLE_SOURCE || x->role == SPD_ROLE_LOSS || x->role == SPD_ROLE_SINK)
      printf("%-6s values %-6" PRIu32 " DTCM %6" PRIu32 " B  SDRAM %9" PRIu64 " B  %9" PRIu64
             " cycles/sample (period %" PRIu64 ")\n",
             spd_vertex_role_name(x->role), x->role == SPD_ROLE_SOURCE ? x->rows.n : x->cols.n,
             x->dtcm_bytes, x->sdram_bytes, x->cycles_per_sample, x->period_cycles);
  }
  uint64_t sent = 0, delivered = 0;
  for (uint32_t i = 0; i < g->n_partitions; i++) {
    uint64_t n = (uint64_t)g->partitions[i].values.n * g->partitions[i].words;
    if (g->partitions[i].per_batch)
      n = (n + g->opts.batch_size - 1) / g->opts.batch_size;
    sent += n;
    delivered += n * g->partitions[i].n_targets;
  }
  printf("pipeline: %" PRIu32 " vertices, %" PRIu32 " partitions, %" PRIu64
         " packets sent (%" PRIu64 " delivered) per sample; slowest vertex %" PRIu64
         " cycles per sample (%.1f us): about %.0f samples/s simulated\n",
         g->n_vertices, g->n_partitions, sent, delivered, g->period_cycles,
         cycles_us(g->period_cycles), g->period_cycles ? 200e6 / (double)g->period_cycles : 0.0);
}

/* The chip list needs a count per chip; without memory for it the summary
 * line is still printed, just without the list. */
static void print_placement(const spd_machine_t *m, const spd_placement_t *p, const char *placer) {
  printf("placement (%s): %" PRIu32 " cores on %" PRIu32 " chips:", placer, p->cores_used,
         p->chips_used);
  uint8_t *per_chip = spd_calloc(m->ctx, m->n_chips ? m->n_chips : 1, 1);
  if (!per_chip) {
    printf(" (no memory for the chip list)\n");
    return;
  }
  for (uint32_t v = 0; v < p->n_vertices; v++)
    per_chip[spd_machine_chip_index(m, p->loc[v].x, p->loc[v].y)]++;
  uint32_t shown = 0;
  for (uint32_t c = 0; c < m->n_chips; c++)
    if (per_chip[c] && shown++ < CHIP_LIST_MAX)
      printf(" (%u,%u):%u", m->chips[c].x, m->chips[c].y, per_chip[c]);
  printf("%s\n", shown > CHIP_LIST_MAX ? " ..." : "");
  spd_free(m->ctx, per_chip);
}

static void print_routing(const spd_map_routing_t *r) {
  uint32_t worst = 0, used = 0;
  for (uint32_t c = 0; c < r->tables.n_chips; c++) {
    used += r->tables.chips[c].n > 0;
    if (r->tables.chips[c].n > r->tables.chips[worst].n)
      worst = c;
  }
  printf("routing: %" PRIu32 " nets; router entries per chip at most %" PRIu32
         " after minimisation (%" PRIu32 " before) of %d; %" PRIu32 " chips route packets",
         r->n_nets, r->entries_after, r->entries_before, SPD_ROUTER_APP_ENTRIES, used);
  if (r->tables.n_chips)
    printf("; fullest chip (%u,%u)", r->tables.chips[worst].x, r->tables.chips[worst].y);
  printf("\n");
}

static void print_tiles(const spd_machine_graph_t *g, const spd_placement_t *p) {
  for (uint32_t v = 0; v < g->n_vertices; v++) {
    char what[160];
    spd_vertex_describe(g, v, what, sizeof what);
    const spd_vertex_t *x = &g->vertices[v];
    printf("  (%u,%u,%2u) %-44s rows %5" PRIu32 "+%-5" PRIu32 " cols %5" PRIu32 "+%-5" PRIu32
           " DTCM %6" PRIu32 " SDRAM %9" PRIu64 " cycles %9" PRIu64 "\n",
           p->loc[v].x, p->loc[v].y, p->loc[v].core, what, x->rows.lo, x->rows.n, x->cols.lo,
           x->cols.n, x->dtcm_bytes, x->sdram_bytes, x->cycles_per_sample);
  }
}

static int route(spd_ctx_t *ctx, const map_options_t *o, const spd_model_t *m,
                 const spd_machine_t *mc, const spd_machine_graph_t *g,
                 const spd_placement_t *p) {
  spd_map_net_t *nets = NULL;
  spd_map_core_t *sinks = NULL;
  spd_map_routing_t r;
  int err = spd_placement_nets(ctx, g, p, &nets, &sinks);
  if (!err)
    err = spd_map_routing_build(ctx, mc, nets, g->n_partitions, NULL, &r);
  if (!err) {
    print_routing(&r);
    if (o->svg) {
      err = spd_map_svg_write(ctx, o->svg, m, mc, g, p, nets, &r);
      if (!err)
        printf("picture: %s\n", o->svg);
    }
    spd_map_routing_free(ctx, &r);
  }
  spd_free(ctx, nets);
  spd_free(ctx, sinks);
  return err;
}

/* The optimizer state is mapped as `spindle train` would train: with the
 * optimizer the model file states, unless the flags name one. */
static int load(spd_ctx_t *ctx, map_options_t *o, spd_model_t **m, spd_machine_t **mc) {
  int err = spd_keras_model_load(ctx, o->model, 0, m);
  if (err)
    return err;
  if (o->fold_bn) {
    spd_model_t *folded;
    if ((err = spd_model_fold_bn(*m, &folded, NULL)))
      return err;
    spd_model_free(*m);
    *m = folded;
  }
  const spd_compile_config_t *file = (*m)->compile;
  if (!o->optimizer_given && file && file->has_optimizer) {
    o->part.optimizer = file->optimizer.kind;
    o->part.momentum = file->optimizer.momentum != 0.0f;
    o->part.centered = file->optimizer.centered;
  }
  err = spd_machine_new(ctx, o->machine, mc);
  for (int i = 0; !err && i < o->n_faults; i++)
    err = spd_machine_apply_fault_file(*mc, o->faults[i]);
  return err;
}

int spd_cli_map(int argc, char **argv) {
  map_options_t o;
  int rc = parse_options(argc, argv, &o);
  if (rc)
    return rc < 0 ? 0 : rc;
  spd_ctx_t ctx;
  spd_ctx_init(&ctx);
  spd_model_t *m = NULL;
  spd_machine_t *mc = NULL;
  spd_machine_graph_t *g = NULL;
  spd_placement_t p = {0};
  int err = load(&ctx, &o, &m, &mc);
  if (!err && spd_cli_check_reach("map", mc, true)) {
    spd_machine_free(mc);
    spd_model_free(m);
    return 1;
  }
  if (!err)
    err = spd_partition_model(&ctx, m, mc, &o.part, &g);
  if (!err)
    err = (!strcmp(o.placer, "sequential") ? spd_place_sequential : spd_place)(&ctx, g, mc, &p);
  if (!err) {
    printf("model '%s' on machine '%s' (%" PRIu32 " chips, %" PRIu32
           " application cores); %s, %s, batch %" PRIu32 ", %" PRIu32 " samples in flight\n",
           m->name, mc->name, mc->n_chips, spd_machine_app_cores(mc),
           spd_numeric_name(o.part.numeric),
           o.part.training ? spd_optimizer_name(o.part.optimizer) : "inference",
           o.part.batch_size, o.part.slots);
    print_layers(m, g);
    print_placement(mc, &p, o.placer);
    if (o.tiles)
      print_tiles(g, &p);
    err = route(&ctx, &o, m, mc, g, &p);
  }
  if (err)
    fprintf(stderr, "spindle map: %s\n", spd_ctx_message(&ctx));
  spd_placement_free(&p);
  spd_machine_graph_free(g);
  spd_machine_free(mc);
  spd_model_free(m);
  return err ? 1 : 0;
}
