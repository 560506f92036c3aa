/* The partitioner's cost model (tile_cost.h), from the one cost table
 * (machine/cost_table.h, docs/cost-model.md): CPU cycles at 200 MHz. */
#include "map/tile_cost.h"

#include "base/tile_mem.h"
#include "machine/cost_table.h"

/* The grid search leaves the receivers' duplicate check (SPD_COST_DEDUP)
 * and their binary search out of its per-sample model; the pacing
 * (run/machine_dataspec.c) counts them. */
#define RECV_HANDLER_CYCLES SPD_COST_RECV_HANDLER
#define MAC_FIXED_CYCLES SPD_COST_MAC_FIXED
#define MAC_FLOAT_CYCLES SPD_COST_MAC_FLOAT
#define ADD_FIXED_CYCLES SPD_COST_ADD_FIXED
#define ADD_FLOAT_CYCLES SPD_COST_ADD_FLOAT
#define ACT_CHEAP_CYCLES SPD_COST_ACT_CHEAP
#define ACT_FIXED_CYCLES SPD_COST_ACT_FIXED
#define ACT_FLOAT_CYCLES SPD_COST_ACT_FLOAT
#define ACT_BWD_FIXED_CYCLES SPD_COST_ACT_BWD_FIXED
#define ACT_BWD_FLOAT_CYCLES SPD_COST_ACT_BWD_FLOAT
#define SOFTMAX_FIXED_CYCLES SPD_COST_SOFTMAX_FIXED
#define SOFTMAX_FLOAT_CYCLES SPD_COST_SOFTMAX_FLOAT
#define LOSS_LOG_CYCLES SPD_COST_LOSS_LOG
#define INPUT_CONVERT_CYCLES SPD_COST_INPUT_CONVERT
/* Fixed per-vertex DTCM: state struct, slot counters, partition table. */
#define VERTEX_OVERHEAD_BYTES 512

uint32_t spd__cost_value_bytes(spd_numeric_t n) { return n == SPD_NUMERIC_FIXED ? 2 : 4; }
uint32_t spd__cost_psum_words(spd_numeric_t n) { return n == SPD_NUMERIC_FIXED ? 2 : 1; }
static uint32_t acc_bytes(spd_numeric_t n) { return n == SPD_NUMERIC_FIXED ? 8 : 4; }
static uint32_t mac_cycles(spd_numeric_t n) {
  return n == SPD_NUMERIC_FIXED ? MAC_FIXED_CYCLES : MAC_FLOAT_CYCLES;
}
static uint32_t add_cycles(spd_numeric_t n) {
  return n == SPD_NUMERIC_FIXED ? ADD_FIXED_CYCLES : ADD_FLOAT_CYCLES;
}

uint32_t spd__cost_recv_cycles(void) {
  return SPD_COST_EVENT_DISPATCH + SPD_COST_RX_QUEUE + RECV_HANDLER_CYCLES;
}

/* A packet sent: the queued send's dispatch, its own work and the send. */
uint32_t spd__cost_send_cycles(void) {
  return SPD_COST_TASK_DISPATCH + SPD_COST_SEND_TASK + SPD_COST_SEND;
}

uint32_t spd__cost_link_cycles(void) {
  return SPD_COST_LINK_CYCLES;
}

/* DMA engine cycles per 32-bit word for one core (SPINNAKER.md #8). */
static uint64_t dma_words_cycles(uint64_t bytes) {
  uint64_t words = (bytes + 3) / 4;
  return words * SPD_COST_DMA_PS_PER_WORD / SPD_COST_CORE_CYCLE_PS;
}

/* Master copy bytes per weight: an int32 s7.24 master in fixed point; the
 * float weight is its own master. */
static uint32_t master_bytes(const spd_partition_opts_t *o) {
  return o->numeric == SPD_NUMERIC_FIXED ? 4 : 0;
}

/* Optimizer state bytes per parameter (docs/numerics.md formats table:
 * int32 first moments, int64 second moments; float32 slots in float). */
static uint32_t state_bytes(const spd_partition_opts_t *o) {
  uint32_t second = o->numeric == SPD_NUMERIC_FIXED ? 8 : 4;
  switch (o->optimizer) {
  case SPD_OPT_SGD:
    return o->momentum ? 4 : 0;
  case SPD_OPT_ADAM:
    return 4 + second;
  case SPD_OPT_RMSPROP:
    return second + (o->momentum ? 4 : 0) + (o->centered ? 4 : 0);
  default:
    return 0;
  }
}

/* Cycles of one parameter's update at a batch boundary: one Philox block
 * (about 120 cycles: ten rounds of two 32x32->64 multiplies and XORs) plus
 * the rule's products, divisions and square roots (assumption). */
static uint32_t update_cycles(const spd_partition_opts_t *o) {
  bool fx = o->numeric == SPD_NUMERIC_FIXED;
  switch (o->optimizer) {
  case SPD_OPT_SGD:
    return o->momentum ? (fx ? SPD_COST_UPDATE_MOMENTUM_FIXED : SPD_COST_UPDATE_MOMENTUM_FLOAT)
                       : (fx ? SPD_COST_UPDATE_SGD_FIXED : SPD_COST_UPDATE_SGD_FLOAT);
  case SPD_OPT_ADAM:
    return fx ? SPD_COST_UPDATE_ADAM_FIXED : SPD_COST_UPDATE_ADAM_FLOAT;
  case SPD_OPT_RMSPROP:
    return fx ? SPD_COST_UPDATE_RMSPROP_FIXED : SPD_COST_UPDATE_RMSPROP_FLOAT;
  default:
    return 0;
  }
}

static uint32_t act_cycles(const spd_partition_opts_t *o, spd_activation_t a) {
  switch (a) {
  case SPD_ACT_LINEAR:
  case SPD_ACT_RELU:
  case SPD_ACT_LEAKY_RELU:
  case SPD_ACT_SOFTMAX: /* applied by the loss core */
    return ACT_CHEAP_CYCLES;
  default:
    return o->numeric == SPD_NUMERIC_FIXED ? ACT_FIXED_CYCLES : ACT_FLOAT_CYCLES;
  }
}

static uint32_t act_bwd_cycles(const spd_partition_opts_t *o) {
  return o->numeric == SPD_NUMERIC_FIXED ? ACT_BWD_FIXED_CYCLES : ACT_BWD_FLOAT_CYCLES;
}

static uint32_t sat32(uint64_t v) { return v > UINT32_MAX ? UINT32_MAX : (uint32_t)v; }

/* Per-weight bytes in DTCM and SDRAM for a tile's memory mode. */
static void weight_bytes(const spd_partition_opts_t *o, spd_tile_memory_t m, uint32_t *dtcm,
                         uint32_t *sdram) {
  uint32_t v = spd__cost_value_bytes(o->numeric);
  uint32_t rest = o->training ? master_bytes(o) + state_bytes(o) : 0;
  *dtcm = m == SPD_TILE_RESIDENT ? v + rest : m == SPD_TILE_SPLIT ? v : 0;
  *sdram = m == SPD_TILE_RESIDENT ? 0 : m == SPD_TILE_SPLIT ? rest : v + rest;
}

/* Bias of a column block, owned by its reducer: master, exact gradient sum
 * and state (always in DTCM: a few bytes per column). */
static uint64_t bias_dtcm(const spd_partition_opts_t *o, uint32_t cols) {
  if (!o->training)
    return (uint64_t)cols * 4;
  return (uint64_t)cols * (4 + acc_bytes(o->numeric) + state_bytes(o));
}

uint32_t spd__cost_state(const spd_partition_opts_t *o) {
  return o->training ? spd_tile_mem_state(o->numeric == SPD_NUMERIC_FIXED,
                                          o->optimizer == SPD_OPT_ADAM,
                                          o->optimizer == SPD_OPT_RMSPROP, o->momentum,
                                          o->centered)
                     : 0;
}

/* The tile kernel's view of shape @p s (its DTCM is base/tile_mem.h's). */
static spd_tile_mem_t tile_mem(const spd_partition_opts_t *o, const spd__tile_shape_t *s,
                               bool full) {
  bool fx = o->numeric == SPD_NUMERIC_FIXED;
  return (spd_tile_mem_t){.rows = s->rows, .cols = s->cols, .slots = o->slots, .fixed = fx,
                          .full = full, .last = full && s->last_layer, .bias = full && s->bias,
                          .streamed = s->memory == SPD_TILE_STREAMED, .train = o->training,
                          .split = s->memory == SPD_TILE_SPLIT,
                          .state = spd__cost_state(o),
                          .dxstage = o->training && s->dx_to_map
                                         ? s->rows * spd__cost_psum_words(o->numeric)
                                         : 0};
}

/* The tile's part: MACs forward, dX and the deferred dW, memory of the
 * weights and the sample buffers. */
static void tile_part(const spd_partition_opts_t *o, const spd__tile_shape_t *s, bool full,
                      spd__vertex_cost_t *c) {
  uint64_t w = (uint64_t)s->rows * s->cols, v = spd__cost_value_bytes(o->numeric);
  uint32_t wd, ws;
  weight_bytes(o, s->memory, &wd, &ws);
  bool dx = o->training && !s->first_layer;
  spd_tile_mem_t tm = tile_mem(o, s, full);
  uint64_t passes = 1, dma = 0;
  c->busy += (uint64_t)s->rows * spd__cost_recv_cycles() + w * mac_cycles(o->numeric);
  if (o->training) {
    /* dX MACs, the batch-end dW MACs (x and dZ recorded per sample), the
     * update amortised over the batch, two record DMAs per sample. */
    c->busy += (dx ? w * mac_cycles(o->numeric) : 0) + w * mac_cycles(o->numeric) +
               w * update_cycles(o) / o->batch_size + 2 * SPD_COST_DMA_SETUP;
    c->sdram += (uint64_t)o->batch_size * (s->rows + s->cols) * v;
    dma += dma_words_cycles((uint64_t)(s->rows + s->cols) * v);
    /* Split and streamed tiles read and write master and state once per batch. */
    dma += dma_words_cycles(2 * w * (master_bytes(o) + state_bytes(o))) / o->batch_size;
    passes += dx;
  }
  if (s->memory == SPD_TILE_STREAMED)
    dma += passes * dma_words_cycles(w * v) + (o->training ? dma_words_cycles(w * v) / o->batch_size : 0);
  c->dtcm = sat32(spd_tile_mem_dtcm(&tm) + VERTEX_OVERHEAD_BYTES);
  /* SDRAM: streamed weights with their master and state; a split tile's
   * master (in its blob) and its kernel's gradient and state. */
  c->sdram += s->memory == SPD_TILE_STREAMED ? w * ws
              : s->memory == SPD_TILE_SPLIT ? w * master_bytes(o) * o->training + spd_tile_mem_sdram(&tm)
                                            : 0;
  c->dma += dma;
  if (dx) {
    c->busy += (uint64_t)s->rows * spd__cost_psum_words(o->numeric) * spd__cost_send_cycles();
    c->sends += (uint64_t)s->rows * spd__cost_psum_words(o->numeric);
  }
}

/* Float partial sums a reducer's kernel holds until each slot has all of
 * them (spd_kc_held): @p psums forward from the block's row tiles, and the
 * dX sums backward from the next layer's tiles (whose number is not known
 * here: counted as held when there are more dX sums than columns). */
static uint64_t held_dtcm(const spd_partition_opts_t *o, const spd__tile_shape_t *s,
                          uint64_t psums) {
  if (o->numeric != SPD_NUMERIC_FLOAT)
    return 0;
  uint64_t dx = o->training && !s->last_layer && s->dx_values > 2u * s->cols ? s->dx_values : 0;
  uint64_t fwd = spd_kc_held(SPD_DS_KIND_PSUM, s->row_blocks) ? psums : 0;
  return (fwd + dx) * o->slots * 4u;
}

/* The reducer's part of a column block: sums, bias, activation forward; dX
 * sums, derivative and dZ backward; the bias update. @p psums: partial-sum
 * packets received forward per sample. */
static void reduce_part(const spd_partition_opts_t *o, const spd__tile_shape_t *s,
                        uint64_t psums, spd__vertex_cost_t *c) {
  uint64_t v = spd__cost_value_bytes(o->numeric), a = acc_bytes(o->numeric);
  uint32_t words = spd__cost_psum_words(o->numeric);
  uint64_t held = held_dtcm(o, s, psums);
  uint64_t dtcm = (uint64_t)o->slots * s->cols * (a + v) + bias_dtcm(o, s->cols) + held;
  c->held = sat32((uint64_t)c->held + held);
  c->busy += psums * (spd__cost_recv_cycles() + add_cycles(o->numeric)) +
             (uint64_t)s->cols * (act_cycles(o, s->activation) + spd__cost_send_cycles());
  c->sends += s->cols;
  if (o->training) {
    dtcm += (uint64_t)o->slots * s->cols * a;
    if (s->last_layer) {
      c->busy += (uint64_t)s->cols * spd__cost_recv_cycles();
    } else {
      uint64_t in = (uint64_t)s->dx_values * words;
      c->busy += in * (spd__cost_recv_cycles() + add_cycles(o->numeric)) +
                 (uint64_t)s->cols * (act_bwd_cycles(o) + spd__cost_send_cycles());
      c->sends += s->cols;
    }
    c->busy += (uint64_t)s->cols * (add_cycles(o->numeric) + update_cycles(o) / o->batch_size);
  }
  c->dtcm = sat32((uint64_t)c->dtcm + dtcm);
}

void spd__cost_tile(const spd_partition_opts_t *o, const spd__tile_shape_t *s, bool full,
                    spd__vertex_cost_t *c) {
  *c = (spd__vertex_cost_t){0};
  tile_part(o, s, full, c);
  if (full) {
    /* the tile's memory holds its reduction's, but for held dX sums */
    uint32_t dtcm = sat32((uint64_t)c->dtcm + held_dtcm(o, s, 0));
    reduce_part(o, s, 0, c);
    c->dtcm = dtcm;
    c->held = sat32(held_dtcm(o, s, 0));
  } else {
    uint32_t words = spd__cost_psum_words(o->numeric);
    c->busy += (uint64_t)s->cols * words * spd__cost_send_cycles();
    c->sends += (uint64_t)s->cols * words;
    if (o->training)
      c->busy += (uint64_t)s->cols * spd__cost_recv_cycles();
  }
}

void spd__cost_reducer(const spd_partition_opts_t *o, const spd__tile_shape_t *s,
                       spd__vertex_cost_t *c) {
  *c = (spd__vertex_cost_t){.dtcm = VERTEX_OVERHEAD_BYTES};
  uint64_t psums = (uint64_t)s->row_blocks * s->cols * spd__cost_psum_words(o->numeric);
  reduce_part(o, s, psums, c);
}

void spd__cost_source(const spd_partition_opts_t *o, uint32_t n, spd__vertex_cost_t *c) {
  uint64_t v = spd__cost_value_bytes(o->numeric);
  uint64_t raw = ((uint64_t)n * o->input_bytes + 3) & ~(uint64_t)3;
  *c = (spd__vertex_cost_t){0};
  c->dtcm = sat32((uint64_t)o->slots * n * v + 2 * raw + 256 * v + VERTEX_OVERHEAD_BYTES);
  /* The samples' slice and the epoch's sample order (uint32 per sample). */
  c->sdram = (uint64_t)o->dataset_samples * ((uint64_t)n * o->input_bytes + 4);
  c->busy = (uint64_t)n * (INPUT_CONVERT_CYCLES + spd__cost_send_cycles()) +
            SPD_COST_DMA_SETUP + spd__cost_recv_cycles();
  c->dma = dma_words_cycles(raw);
  c->sends = n;
}

void spd__cost_loss(const spd_partition_opts_t *o, uint32_t n_out, spd__vertex_cost_t *c) {
  uint64_t v = spd__cost_value_bytes(o->numeric), a = acc_bytes(o->numeric);
  bool fx = o->numeric == SPD_NUMERIC_FIXED;
  *c = (spd__vertex_cost_t){0};
  /* + the probabilities of a cross-entropy from logits (kernels/loss.c) */
  c->dtcm = sat32((uint64_t)o->slots * n_out * (v + a) + n_out * 4u + VERTEX_OVERHEAD_BYTES);
  c->sdram = (uint64_t)o->dataset_samples * 8; /* int32 labels and the sample order */
  c->busy = (uint64_t)n_out * (spd__cost_recv_cycles() + (fx ? SOFTMAX_FIXED_CYCLES : SOFTMAX_FLOAT_CYCLES)) +
            LOSS_LOG_CYCLES + SPD_COST_DMA_SETUP;
  c->sends = n_out + SPD_DS_RECORD_EXTRA;
  if (o->training)
    c->sends += n_out;
  c->busy += c->sends * spd__cost_send_cycles();
  c->dma = dma_words_cycles(4);
}

uint32_t spd__sink_ring(uint32_t samples, uint32_t n_out) {
  uint64_t fit = SPD__SINK_RING_BYTES / ((uint64_t)SPD_DS_RECORD_WORDS(n_out) * 4u);
  if (fit < 64)
    fit = 64;
  return samples < fit ? samples : (uint32_t)fit;
}

uint64_t spd__sink_bytes(uint32_t samples, uint32_t n_out) {
  return (uint64_t)spd__sink_ring(samples, n_out) * SPD_DS_RECORD_WORDS(n_out) * 4u + 4u;
}

void spd__cost_sink(const spd_partition_opts_t *o, uint32_t n_out, spd__vertex_cost_t *c) {
  uint64_t rec = (uint64_t)SPD_DS_RECORD_WORDS(n_out) * 4;
  *c = (spd__vertex_cost_t){0};
  c->dtcm = sat32((uint64_t)o->slots * rec * 2 + VERTEX_OVERHEAD_BYTES);
  c->sdram = spd__sink_bytes(o->dataset_samples, n_out);
  c->busy = (uint64_t)(n_out + SPD_DS_RECORD_EXTRA) * spd__cost_recv_cycles() +
            SPD_COST_DMA_SETUP;
  c->dma = dma_words_cycles(rec);
}

uint32_t spd__cost_mac_cycles(spd_numeric_t n) { return mac_cycles(n); }
uint32_t spd__cost_conv_mac_cycles(spd_numeric_t n) {
  return n == SPD_NUMERIC_FIXED ? SPD_COST_CONV_MAC_FIXED : SPD_COST_CONV_MAC_FLOAT;
}
uint32_t spd__cost_add_cycles(spd_numeric_t n) { return add_cycles(n); }
uint32_t spd__cost_act_cycles(const spd_partition_opts_t *o, spd_activation_t a) {
  return act_cycles(o, a);
}
uint32_t spd__cost_act_bwd_cycles(const spd_partition_opts_t *o) { return act_bwd_cycles(o); }
uint32_t spd__cost_update_cycles(const spd_partition_opts_t *o) { return update_cycles(o); }
void spd__cost_weight_bytes(const spd_partition_opts_t *o, spd_tile_memory_t m, uint32_t *dtcm,
                            uint32_t *sdram) {
  weight_bytes(o, m, dtcm, sdram);
}
uint64_t spd__cost_dma_cycles(uint64_t bytes) { return dma_words_cycles(bytes); }
uint32_t spd__cost_vertex_overhead(void) { return VERTEX_OVERHEAD_BYTES; }
