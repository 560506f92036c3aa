/* The mapping as a picture (spindle/map_svg.h). */
#include "spindle/map_svg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/file.h"

#define CHIP 64      /* a chip's square, pixels */
#define GAP 26       /* between chips, where the links run */
#define CORE 10      /* a core's square */
#define MARGIN 24
#define TITLE 40
#define LEGEND_W 260

static const char *const palette[] = {"#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2",
                                      "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac",
                                      "#1f77b4", "#17becf"};
#define N_COLOURS (sizeof palette / sizeof *palette)

typedef struct svg {
  const spd_model_t *m;
  const spd_machine_t *mc;
  const spd_machine_graph_t *g;
  const spd_placement_t *p;
  int *core_layer;     /* chip index * 18 + core: layer + 1, 0 idle */
  double *link_load;   /* chip index * 6 + link: keys per sample sent out */
  double max_load;
} svg_t;

static int px(int x) { return MARGIN + x * (CHIP + GAP); }
static int py(const svg_t *s, int y) { return TITLE + MARGIN + (s->mc->height - 1 - y) * (CHIP + GAP); }

static void escape(FILE *f, const char *t) {
  for (; *t; t++) {
    if (*t == '<')
      fputs("&lt;", f);
    else if (*t == '>')
      fputs("&gt;", f);
    else if (*t == '&')
      fputs("&amp;", f);
    else
      fputc(*t, f);
  }
}

/* Light yellow to dark red with the load. */
static void load_colour(double t, char *out, size_t n) {
  t = t < 0 ? 0 : t > 1 ? 1 : t;
  unsigned r = (unsigned)(253 - 120 * t) & 0xffu, g = (unsigned)(212 - 212 * t) & 0xffu,
           b = (unsigned)(158 - 140 * t) & 0xffu;
  snprintf(out, n, "#%02x%02x%02x", r, g, b);
}

static void draw_links(FILE *f, const svg_t *s) {
  for (uint32_t c = 0; c < s->mc->n_chips; c++) {
    const spd_chip_t *chip = &s->mc->chips[c];
    for (int l = 0; l < SPD_LINKS; l++) {
      double load = s->link_load[c * SPD_LINKS + (uint32_t)l];
      int tx = chip->x + spd_link_dx((spd_link_t)l), ty = chip->y + spd_link_dy((spd_link_t)l);
      /* wrap-around links leave the picture: drawn as a stub */
      bool inside = tx >= 0 && ty >= 0 && tx < s->mc->width && ty < s->mc->height;
      if (load <= 0)
        continue;
      double t = s->max_load > 0 ? load / s->max_load : 0;
      char colour[16];
      load_colour(t, colour, sizeof colour);
      int x0 = px(chip->x) + CHIP / 2, y0 = py(s, chip->y) + CHIP / 2;
      int x1 = inside ? px(tx) + CHIP / 2 : x0 + spd_link_dx((spd_link_t)l) * (CHIP / 2 + GAP / 2);
      int y1 = inside ? py(s, ty) + CHIP / 2 : y0 - spd_link_dy((spd_link_t)l) * (CHIP / 2 + GAP / 2);
      /* the two directions of a link side by side */
      int ox = (y1 - y0) ? 3 : 0, oy = (x1 - x0) ? 3 : 0;
      fprintf(f, "<line x1='%d' y1='%d' x2='%d' y2='%d' stroke='%s' stroke-width='%.1f' "
                 "stroke-linecap='round'><title>(%u,%u) link %d: %.0f keys per sample"
                 "</title></line>\n", x0 + ox, y0 + oy, x1 + ox, y1 + oy, colour, 1.5 + 5.5 * t,
              chip->x, chip->y, l, load);
    }
  }
}

static void draw_chips(FILE *f, const svg_t *s) {
  for (uint32_t c = 0; c < s->mc->n_chips; c++) {
    const spd_chip_t *chip = &s->mc->chips[c];
    int x = px(chip->x), y = py(s, chip->y);
    fprintf(f, "<rect x='%d' y='%d' width='%d' height='%d' rx='4' fill='#f4f4f4' "
               "stroke='%s' stroke-width='%d'><title>chip (%u,%u)%s</title></rect>\n",
            x, y, CHIP, CHIP, chip->ethernet ? "#333" : "#999", chip->ethernet ? 2 : 1,
            chip->x, chip->y, chip->ethernet ? ", Ethernet" : "");
    for (int core = 0; core < 18; core++) {
      int cx = x + 6 + (core % 5) * (CORE + 1), cy = y + 8 + (core / 5) * (CORE + 2);
      int layer = s->core_layer[c * 18 + (uint32_t)core];
      bool alive = chip->core_mask & (1u << core);
      const char *fill = !alive ? "#000" : core == 0 ? "#888" : layer ? palette[(layer - 1) % N_COLOURS]
                                                                    : "#fff";
      fprintf(f, "<rect x='%d' y='%d' width='%d' height='%d' fill='%s' stroke='#bbb' "
                 "stroke-width='0.5'><title>(%u,%u,%d) ", cx, cy, CORE, CORE, fill, chip->x,
              chip->y, core);
      if (!alive)
        fputs("dead", f);
      else if (core == 0)
        fputs("monitor", f);
      else if (layer)
        escape(f, s->m->layers[layer - 1].config.name);
      else
        fputs("idle", f);
      fputs("</title></rect>\n", f);
    }
  }
}

static void draw_legend(FILE *f, const svg_t *s, int x0) {
  int y = TITLE + MARGIN;
  bool *used = calloc((size_t)s->m->n_layers + 1, sizeof *used);
  for (uint32_t i = 0; used && i < s->mc->n_chips * 18u; i++)
    if (s->core_layer[i])
      used[s->core_layer[i] - 1] = true;
  for (int l = 0; used && l < s->m->n_layers; l++) {
    if (!used[l])
      continue;
    uint32_t cores = 0;
    for (uint32_t i = 0; i < s->mc->n_chips * 18u; i++)
      cores += s->core_layer[i] == l + 1;
    fprintf(f, "<rect x='%d' y='%d' width='12' height='12' fill='%s'/>"
               "<text x='%d' y='%d' font-size='12'>", x0, y, palette[l % N_COLOURS], x0 + 18,
            y + 11);
    escape(f, s->m->layers[l].config.name);
    fprintf(f, " (%s): %u core%s</text>\n", spd_layer_kind_name(s->m->layers[l].config.kind),
            cores, cores == 1 ? "" : "s");
    y += 18;
  }
  free(used);
  char lo[16], hi[16];
  load_colour(0, lo, sizeof lo);
  load_colour(1, hi, sizeof hi);
  fprintf(f, "<text x='%d' y='%d' font-size='12'>links: keys per sample</text>\n"
             "<line x1='%d' y1='%d' x2='%d' y2='%d' stroke='%s' stroke-width='1.5'/>"
             "<text x='%d' y='%d' font-size='11'>low</text>\n"
             "<line x1='%d' y1='%d' x2='%d' y2='%d' stroke='%s' stroke-width='7'/>"
             "<text x='%d' y='%d' font-size='11'>%.0f</text>\n",
          x0, y + 20, x0, y + 34, x0 + 40, y + 34, lo, x0 + 46, y + 38, x0, y + 52, x0 + 40,
          y + 52, hi, x0 + 46, y + 56, s->max_load);
}

static bool write_svg(FILE *f, void *arg) {
  const svg_t *s = arg;
  int w = MARGIN * 2 + s->mc->width * (CHIP + GAP), h = TITLE + MARGIN * 2 +
                                                         s->mc->height * (CHIP + GAP);
  int legend_h = TITLE + MARGIN + 18 * (s->m->n_layers + 4);
  fprintf(f, "<?xml version='1.0' encoding='UTF-8'?>\n"
             "<svg xmlns='http://www.w3.org/2000/svg' width='%d' height='%d' "
             "font-family='sans-serif'>\n<rect width='100%%' height='100%%' fill='white'/>\n",
          w + LEGEND_W, h > legend_h ? h : legend_h);
  fprintf(f, "<text x='%d' y='26' font-size='16'>model '", MARGIN);
  escape(f, s->m->name);
  fprintf(f, "' on '%s': %u cores on %u chips</text>\n", s->mc->name, s->p->cores_used,
          s->p->chips_used);
  draw_links(f, s);
  draw_chips(f, s);
  draw_legend(f, s, w);
  fputs("</svg>\n", f);
  return !ferror(f);
}

int spd_map_svg_write(spd_ctx_t *ctx, const char *path, const spd_model_t *m,
                      const spd_machine_t *mc, const spd_machine_graph_t *g,
                      const spd_placement_t *p, const spd_map_net_t *nets,
                      const spd_map_routing_t *r) {
  svg_t s = {.m = m, .mc = mc, .g = g, .p = p};
  s.core_layer = spd_calloc(ctx, (size_t)mc->n_chips * 18, sizeof *s.core_layer);
  s.link_load = spd_calloc(ctx, (size_t)mc->n_chips * SPD_LINKS, sizeof *s.link_load);
  if (!s.core_layer || !s.link_load) {
    spd_free(ctx, s.core_layer);
    spd_free(ctx, s.link_load);
    return spd_ctx_fail(ctx, SPD_ENOMEM, "the picture of %u chips", mc->n_chips);
  }
  for (uint32_t v = 0; v < p->n_vertices && v < g->n_vertices; v++) {
    int32_t c = spd_machine_chip_index(mc, p->loc[v].x, p->loc[v].y);
    if (c >= 0 && p->loc[v].core < 18)
      s.core_layer[(uint32_t)c * 18 + p->loc[v].core] = g->vertices[v].layer + 1;
  }
  for (uint32_t n = 0; n < r->n_nets; n++) {
    const spd_map_tree_t *t = &r->trees[n];
    for (uint32_t i = 1; i < t->n_nodes; i++) {
      const spd_map_node_t *node = &t->nodes[i];
      if (node->parent < 0 || node->in_link < 0)
        continue;
      const spd_map_node_t *from = &t->nodes[node->parent];
      int32_t c = spd_machine_chip_index(mc, from->x, from->y);
      if (c >= 0)
        s.link_load[(uint32_t)c * SPD_LINKS + spd_link_opposite((spd_link_t)node->in_link)] +=
            nets[n].n_keys;
    }
  }
  for (uint32_t i = 0; i < mc->n_chips * SPD_LINKS; i++)
    if (s.link_load[i] > s.max_load)
      s.max_load = s.link_load[i];
  int err = spd__write_file_with(ctx, path, write_svg, &s);
  spd_free(ctx, s.core_layer);
  spd_free(ctx, s.link_load);
  return err;
}

int spd_map_svg(spd_ctx_t *ctx, const spd_model_t *m, const spd_machine_t *mc,
                const spd_partition_opts_t *opts, const char *path) {
  spd_partition_opts_t po;
  if (opts)
    po = *opts;
  else
    spd_partition_opts_default(&po);
  spd_machine_graph_t *g = NULL;
  spd_placement_t p = {0};
  spd_map_net_t *nets = NULL;
  spd_map_core_t *sinks = NULL;
  spd_map_routing_t r;
  int err = spd_partition_model(ctx, m, mc, &po, &g);
  if (!err)
    err = spd_place(ctx, g, mc, &p);
  if (!err)
    err = spd_placement_nets(ctx, g, &p, &nets, &sinks);
  if (!err)
    err = spd_map_routing_build(ctx, mc, nets, g->n_partitions, NULL, &r);
  if (!err) {
    err = spd_map_svg_write(ctx, path, m, mc, g, &p, nets, &r);
    spd_map_routing_free(ctx, &r);
  }
  spd_free(ctx, nets);
  spd_free(ctx, sinks);
  spd_placement_free(&p);
  spd_machine_graph_free(g);
  return err;
}
