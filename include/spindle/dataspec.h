/* The data specification: the parameter blob the host writes into a core's
 * SDRAM before loading its kernel (docs/dataspec.md). The kernel gets the
 * blob's address as its params_addr and reads it with charged SDRAM reads.
 * One layout for every role of docs/dense-on-machine.md: a header, the
 * table of incoming partitions (how to decode a key), the table of
 * outgoing partitions (how to form a key and how fast to send), the role's
 * configuration and a data region (weights, bias, an input table). Offsets
 * are bytes from the blob's start, every region 4-byte aligned. */
#ifndef SPINDLE_DATASPEC_H
#define SPINDLE_DATASPEC_H

#include <stdint.h>

#define SPD_DS_MAGIC 0x53504453u /* "SPDS" */
#define SPD_DS_VERSION 9u

/* What a blob is for and how it computes, as codes of the blob format
 * itself: kernels read these and include no mapping or model header. The
 * host maps its vertex roles and numeric modes onto them
 * (run/machine_dataspec.c). */
typedef enum spd_ds_role {
  SPD_DS_ROLE_SOURCE = 1,
  SPD_DS_ROLE_TILE = 2,
  SPD_DS_ROLE_TILE_FULL = 3,
  SPD_DS_ROLE_REDUCER = 4,
  SPD_DS_ROLE_LOSS = 5,
  SPD_DS_ROLE_SINK = 6,
  SPD_DS_ROLE_CONV = 7, /* output rows x channels of a convolution (+ fused pooling) */
  SPD_DS_ROLE_POOL = 8, /* output rows x channels of a pooling layer */
} spd_ds_role_t;

/** Feature-map addressing of a partition (docs/conv-on-machine.md): when
 *  width > 0 the partition's values are positions fm_first, fm_first + 1,
 *  ... of a block (rows x width x chans, channel fastest) of a layer's
 *  (H, W, C) output, and position q is the core's own value
 *  lo + (q / (width * chans)) * row_stride + (q / chans % width) * col_stride
 *  + q % chans (modulo 2^32: lo may wrap). width = 0: value lo + i. */
typedef struct spd_ds_fm {
  uint32_t first, width, chans;
  uint32_t row_stride, col_stride;
} spd_ds_fm_t;

typedef enum spd_ds_numeric {
  SPD_DS_FLOAT = 0,
  SPD_DS_FIXED = 1,
} spd_ds_numeric_t;

typedef struct spd_ds_header {
  uint32_t magic, version;
  uint32_t role;          /* spd_ds_role_t */
  uint32_t numeric;       /* spd_ds_numeric_t */
  uint32_t n_samples;     /* samples of this run */
  uint32_t slots;         /* samples in flight, a power of two */
  uint32_t n_in, n_out;   /* entries of the two partition tables */
  uint32_t in_offset, out_offset, config_offset, data_offset;
  uint32_t data_bytes;
  uint32_t total_bytes;   /* the whole blob */
} spd_ds_header_t;

/** An incoming partition: packet key k belongs to it when
 *  (k & mask) == base; slot = (k - base) >> value_bits, and the packet is
 *  word (j % words) of the receiver's value lo + j / words, where
 *  j = (k - base) & (2^value_bits - 1). */
typedef struct spd_ds_in {
  uint32_t base, mask, value_bits;
  uint32_t lo, n, words;
  uint32_t kind;          /* SPD_DS_KIND_* */
  spd_ds_fm_t fm;         /* feature-map partitions: position -> own value */
} spd_ds_in_t;

/** An outgoing partition: the sender's values lo .. lo + n - 1, each in
 *  @c words packets, key base + (slot << value_bits) + j, at most one send
 *  per @c pace CPU cycles. */
typedef struct spd_ds_out {
  uint32_t base, value_bits;
  uint32_t lo, n, words;
  uint32_t pace;
  uint32_t kind;          /* SPD_DS_KIND_* */
  uint32_t phase;         /* CPU cycles before a sample's first packet, so
                             the senders feeding one receiver interleave */
  spd_ds_fm_t fm;         /* feature-map partitions: position -> own value */
} spd_ds_out_t;

/* Partition kinds (spd_partition_t.name). */
#define SPD_DS_KIND_X 0u
#define SPD_DS_KIND_PSUM 1u
#define SPD_DS_KIND_Y 2u
#define SPD_DS_KIND_DZ 3u
#define SPD_DS_KIND_DXPSUM 4u
#define SPD_DS_KIND_RECORD 5u
#define SPD_DS_KIND_CREDIT 6u
#define SPD_DS_KIND_DWSUM 7u  /* conv: a tile's exact dW and bias gradient to its
                                 channel block's owner, once per batch */
#define SPD_DS_KIND_WUPD 8u   /* conv: the owner's updated int16 weights and
                                 int32 bias masters to the block's tiles */
#define SPD_DS_KIND_NACK 9u   /* a receiver to every vertex that sends to it:
                                 the payload is the first key of a slot's
                                 round of one of its partitions that is still
                                 incomplete; its sender sends it again */

/* Role flags. */
#define SPD_DS_FULL (1u << 0)     /* tile holding every row: reduces itself */
#define SPD_DS_LAST (1u << 1)     /* producer of the output layer: sends z */
#define SPD_DS_BIAS (1u << 2)     /* a bias follows the weights (or is the data) */
#define SPD_DS_STREAMED (1u << 3) /* tile weights stay in SDRAM (the data region) */
#define SPD_DS_SOFTMAX (1u << 4)  /* loss: the output activation is softmax */
#define SPD_DS_LABELS (1u << 5)   /* loss: labels at sdram_addr, one int32 each */
#define SPD_DS_TRAIN (1u << 6)    /* training: backward pass and batch updates */
#define SPD_DS_EPOCH_RESULTS (1u << 7) /* training: results after every epoch
                                          (result_addr), for validation */
#define SPD_DS_OWNER (1u << 8)    /* conv tile (0, j): sums its channel block's
                                     dW, updates and sends the weights */
#define SPD_DS_SPLIT (1u << 9)    /* training tile: master, optimizer state and
                                     gradient in SDRAM, a row at a time */
#define SPD_DS_DROPOUT (1u << 10) /* training: a Dropout (rate > 0) reads the
                                     values this core sends (spd_ds_dropout_t) */
#define SPD_DS_FROM_LOGITS (1u << 11) /* loss: a linear output gives logits; the
                                         cross-entropy and its gradient take
                                         their softmax, the record the logits */

/* A record's loss words (docs/dense-on-machine.md, "Packets and
 * keys"): fixed point, the int64 loss at SPD_FX_LOSS_FRAC; float, the
 * loss the host computes in double from the record (the cores have no
 * double): none, or the cross-entropy -log p[label] of the softmax outputs
 * p, p[label] / sum(p) clamped to [1e-7, 1 - 1e-7], or from logits z
 * (SPD_DS_FROM_LOGITS), log(sum(exp(z))) - z[label]. */
#define SPD_DS_LOSS_NONE 0u
#define SPD_DS_LOSS_XENT 1u
#define SPD_DS_LOSS_XENT_LOGITS 2u

/** Geometry of a window layer on one sample (base/fx_conv.h's
 *  spd_fx_window_t); 1-D layers have in_h = out_h = 1. */
typedef struct spd_ds_window {
  int32_t in_h, in_w, in_c, out_h, out_w, out_c;
  int32_t k_h, k_w, stride_h, stride_w, dil_h, dil_w, pad_top, pad_left;
} spd_ds_window_t;

#define SPD_DS_POOL_NONE 0u
#define SPD_DS_POOL_MAX 1u
#define SPD_DS_POOL_AVG 2u
#define SPD_DS_POOL_ADD 3u /* an Add's tile: its inputs' blocks summed (docs/dag-on-machine.md) */

/** Training: the mask of a Dropout layer that reads what a core sends,
 *  as the reference draws it (src/nn/fx_pass.c forward_dropout): element e
 *  of training sample n (the run's sequence number; it runs on across
 *  epochs) is kept when (word >> 8) >= threshold, word = word e % 4 of
 *  Philox4x32-10 (key seed, counter n * blocks + e / 4, stream). Kept
 *  values are scaled by 1 / (1 - rate): fixed the constant mant * 2^-shift
 *  (one rounding to nearest), float the float32 bits scale_f. */
typedef struct spd_ds_dropout {
  uint32_t seed_lo, seed_hi;
  uint32_t stream;             /* the Dropout's model layer index */
  uint32_t blocks;             /* ceil(its values per sample / 4) */
  uint32_t threshold;          /* ceil(rate * 2^24) */
  uint32_t scale_mant;         /* spd_fx_const_t of 1 / (1 - rate) */
  int32_t scale_shift;
  uint32_t scale_f;
  uint32_t seq_base;           /* n of the run's sequence number 0: the
                                  samples trained before it (a resumed run) */
} spd_ds_dropout_t;

/** The role's configuration. act_kind is an spd_fx_act_t code
 *  (fixed_math.h) in both numeric modes, mapped from the model's activation
 *  by the host, so kernels need no model header. Fixed point: act_out_frac
 *  and act_alpha (frac 30); float: act_alpha the float bits of the slope. */
typedef struct spd_ds_config {
  uint32_t rows, cols;      /* tile: its block; reducer: cols; loss: outputs;
                               source: values per sample; sink: record words */
  uint32_t flags;
  int32_t act_kind, act_out_frac, act_alpha;
  int32_t acc_frac, bias_frac; /* fixed: formats the reducer rounds between */
  uint32_t bytes_per_value;    /* source: 1 (byte + table of 256 words) or 4 */
  uint32_t sdram_addr;         /* source: samples; loss: labels; sink: records */
  uint32_t start_us;           /* source: first injection this long after
                                  start, when every core has left main */
  /* training (SPD_DS_TRAIN) */
  uint32_t epoch_samples, batch; /* samples per epoch, per batch */
  int32_t grad_frac;           /* dZ of this layer (loss: of the output) */
  int32_t dy_from_frac;        /* frac of the dX sums the layer above sends */
  int32_t weight_frac;         /* the int16 MAC copy's frac */
  uint32_t row_lo, col_lo, ld; /* the block's place in W (element indices) */
  uint32_t state;              /* optimizer slabs: bit 0 a (int32), 1 b
                                  (int64), 2 c (int32) per weight */
  uint32_t update_addr;        /* spd_fx_update_t [step][2] (kernel, bias) */
  uint32_t result_addr;        /* where the final master weights and bias
                                  go; with SPD_DS_EPOCH_RESULTS those after
                                  epoch e go to result_addr + e * (bytes +
                                  4), followed by the word e + 1 */
  uint32_t order_addr;         /* source: sample index of every sequence number */
  /* conv and pool tiles (docs/conv-on-machine.md) */
  spd_ds_window_t conv;        /* the convolution's geometry (conv tiles) */
  spd_ds_window_t pool;        /* the pooling's geometry (pool tiles, fused pooling) */
  uint32_t pool_kind;          /* SPD_DS_POOL_*: the pooling a tile computes */
  uint32_t conv_lo, conv_n;    /* conv tile: its convolution output rows */
  uint32_t in_lo, in_n;        /* input rows it reads (halo included) */
  uint32_t out_lo, out_n;      /* rows of the tensor it sends (pooled when fused) */
  uint32_t ch_lo;              /* its first output channel (cols = how many) */
  int32_t pool_grad_frac;      /* training: dZ frac of the pooling it computes */
  uint32_t dtcm_plan;          /* conv and pool tiles: the DTCM bytes the
                                  partitioner planned for the partition
                                  tables and the tile's buffers (the state
                                  struct aside); 0: unchecked */
  spd_ds_dropout_t drop;       /* training with SPD_DS_DROPOUT */
  /* training checkpoints (docs/dataspec.md, "Optimizer state"): per block
   * [0] kernel, [1] bias, its optimizer slabs one after the other (fixed:
   * a int32, b int64, c int32 per weight as .state says; float: m, v), each
   * row-major as the block's master */
  uint32_t state_in[2];        /* the slabs to start from (0: zeros) */
  uint32_t state_out[2];       /* where the slabs go with the results (0:
                                  nowhere), with SPD_DS_EPOCH_RESULTS every
                                  epoch's at state_out + e * their bytes */
  uint32_t result_ring;        /* with SPD_DS_EPOCH_RESULTS: epoch e's
                                  results and slabs go to block e % ring
                                  (0: block e), the host reading each epoch's
                                  before the next but one overwrites them */
  uint32_t seq_offset;         /* training: samples of the first epoch
                                  trained before the run (a batch boundary;
                                  a run resumed mid-epoch): the batch and
                                  epoch arithmetic counts from there */
  uint32_t snap_addr;          /* training: every snap_every-th step's
                                  masters and slabs (per block, kernel then
                                  bias: masters then slabs as state_out has
                                  them) and a seal word (steps done) go to
                                  block (steps done / snap_every) % 2 of a
                                  ring of two here (docs/recovery.md) */
  uint32_t snap_every;         /* steps between snapshots (0: none) */
  uint32_t resend_tick_us;     /* the timer that looks for incomplete slots
                                  (kernel_common.c: a slot's phase without
                                  progress for two ticks asks for what is
                                  missing); 0: never */
  uint32_t prov_addr;          /* the core's provenance region (an
                                  spd_ds_prov_t the kernel writes, the host
                                  reads back; 0: none), docs/provenance.md */
  /* sink: its records (docs/dataspec.md, "Records") */
  uint32_t record_ring;        /* records the SDRAM ring at sdram_addr holds:
                                  record n goes to slot n % record_ring */
  uint32_t record_read_addr;   /* a word the host writes: records it has
                                  read; the sink writes record n only once
                                  n - that < record_ring */
  /* graphs (docs/dag-on-machine.md): an Add tile (pool_kind
   * SPD_DS_POOL_ADD) sums add_inputs blocks of its values, input k's
   * shifted left by add_up[k] to frac acc_frac, rounds once into add_frac,
   * then applies act_* (a folded activation, or linear at add_frac); its
   * dZ goes back at add_grad_frac. dx_shift[k]: the left shift of the dX
   * sums sent to input k's producers (a conv tile: k = 0), so that a
   * producer read by several layers sums them at one frac. */
  uint32_t add_inputs;
  int32_t add_up[8];
  int32_t add_frac, add_grad_frac;
  int32_t dx_shift[8];
  /* conv and pool tiles cut by columns (docs/conv-on-machine.md): the
   * columns of its input (halo included), of its convolution and of the
   * tensor it sends, as in_lo/conv_lo/out_lo are its rows */
  uint32_t in_col_lo, in_col_n, conv_col_lo, conv_col_n, out_col_lo, out_col_n;
} spd_ds_config_t;

/** Words of a record the loss core sends the sink after its outputs: the
 *  loss (low, high), the predicted class, the label. */
#define SPD_DS_RECORD_EXTRA 4u
/** A record in the sink's SDRAM: what the loss core sent, then its tag,
 *  the sample's sequence number + 1 (a slot of the ring holds record n
 *  when its tag is n + 1). */
#define SPD_DS_RECORD_WORDS(outputs) ((outputs) + SPD_DS_RECORD_EXTRA + 1u)

/** A core's provenance region in SDRAM (docs/provenance.md), as
 *  SpiNNFrontEndCommon's: the kernel writes its counters there and the
 *  host reads them back over the transceiver (SCP CMD_READ on a board).
 *  Written when the kernel starts, at every tick of its resend timer and
 *  when it exits, so a run stopped mid-way still finds every core's
 *  counters as of its last tick. */
#define SPD_DS_PROV_MAGIC 0x56525053u /* "SPRV" */
typedef struct spd_ds_prov {
  uint32_t magic;              /* SPD_DS_PROV_MAGIC once written */
  uint32_t writes;             /* times the kernel wrote the region */
  uint32_t final;              /* 1: written as the kernel exited */
  uint32_t max_rx_queue;       /* the deepest its receive ring got */
  uint64_t packets_in;         /* taken by its packet callback */
  uint64_t packets_out;        /* sent (resends and requests included) */
  uint64_t callbacks;          /* callbacks run (interrupt and queued) */
  uint32_t duplicates;         /* copies received and ignored */
  uint32_t requests;           /* rounds found incomplete and asked for again */
  uint32_t missing;            /* packets those requests were missing */
  uint32_t resent;             /* packets sent again because a receiver asked */
  uint32_t timer_ticks;
  uint32_t timer_overruns;     /* ticks that came later than half a period
                                  past their time (spin1's timer overruns) */
  uint32_t samples_done;
  uint32_t pad;
} spd_ds_prov_t;

/** Float training: one step's update constants (table [step], one per chip
 *  and layer), Keras's rules: SGD v = m v - lr g, w += v (nesterov: w +=
 *  m v - lr g; no momentum: w -= lr g); Adam m += (g - m)(1 - b1),
 *  v += (g^2 - v)(1 - b2), w -= lr m / (sqrt v + eps) with lr the step's
 *  bias-corrected rate. */
typedef struct spd_ds_fupdate {
  uint32_t adam;
  float lr, momentum;
  uint32_t nesterov;
  float one_minus_b1, one_minus_b2, epsilon;
} spd_ds_fupdate_t;

#endif
