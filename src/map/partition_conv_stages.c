/* The convolution partitioner's view of the model (docs/conv-on-machine.md,
 * docs/dag-on-machine.md): its window layers (Conv1D/Conv2D, pooling,
 * global pooling, Add) read into stages, with the layers folded into them
 * (ZeroPadding2D into the convolution reading it, a standalone activation
 * into the layer before it, poolings fused into the convolution before
 * them), and every graph the machine cannot run refused naming the layer.
 * partition_conv.c searches the stages' cuts. */
#include <stdio.h>
#include <string.h>

#include "map/partition_conv.h"
#include "nn/layer_op.h"
#include "nn/shape.h"

static spd_op_machine_t role_of(spd_layer_kind_t k) { return spd__layer_op(k)->machine; }
static bool is_conv(spd_layer_kind_t k) { return role_of(k) == SPD_OPM_CONV; }
static bool is_pool(spd_layer_kind_t k) { return role_of(k) == SPD_OPM_POOL; }

bool spd__pc_model_has_windows(const spd_model_t *m) {
  for (int i = 1; i < m->n_layers; i++)
    if (is_conv(m->layers[i].config.kind) || is_pool(m->layers[i].config.kind))
      return true;
  return false;
}

/* A pooling over the whole map (no window of its own): its output is
 * rank 1, the channels, and the Dense tail reads it without a Flatten. */
static bool is_global_pool(const spd_layer_t *l) {
  return is_pool(l->config.kind) && l->output_shape.rank == 1;
}

static wstage_t stage_of_layer(const spd_layer_t *l, int index) {
  const spd_layer_config_t *c = &l->config;
  const spd_shape_t *in = &l->input_shape, *out = &l->output_shape;
  bool one_d = in->rank == 2, pool = is_pool(c->kind);
  const int32_t *k = pool ? c->pool_size : c->kernel_size;
  wstage_t s = {.layer = index, .name = c->name, .kind = c->kind, .pool = pool,
                .max = spd__op_has(l, SPD_OP_MAXPOOL),
                .bias = !pool && c->use_bias, .act = pool ? SPD_ACT_LINEAR : c->activation,
                .fused = -1, .fused_into = -1};
  /* A 1-D layer is cut along its steps: h = steps, w = 1. */
  s.in_h = (uint32_t)in->dims[0];
  s.in_w = one_d ? 1 : (uint32_t)in->dims[1];
  s.in_c = (uint32_t)in->dims[in->rank - 1];
  s.out_h = (uint32_t)out->dims[0];
  s.out_w = one_d ? 1 : (uint32_t)out->dims[1];
  s.out_c = (uint32_t)out->dims[out->rank - 1];
  s.k_h = (uint32_t)k[0];
  s.k_w = one_d ? 1 : (uint32_t)k[1];
  s.s_h = (uint32_t)c->strides[0];
  s.s_w = one_d ? 1 : (uint32_t)c->strides[1];
  s.d_h = pool ? 1 : (uint32_t)c->dilation_rate[0];
  s.d_w = pool || one_d ? 1 : (uint32_t)c->dilation_rate[1];
  s.pad_t = (uint32_t)spd__layer_pad_before(c, 0, (int32_t)s.in_h, (int32_t)s.k_h,
                                            (int32_t)s.s_h, (int32_t)s.d_h);
  s.pad_l = one_d ? 0 : (uint32_t)spd__layer_pad_before(c, 1, (int32_t)s.in_w, (int32_t)s.k_w,
                                                        (int32_t)s.s_w, (int32_t)s.d_w);
  if (role_of(c->kind) == SPD_OPM_ADD) { /* rows x channels of the sum: a 1x1 window */
    s.pool = true;
    s.act = SPD_ACT_LINEAR;
    s.k_h = s.k_w = s.s_h = s.s_w = s.d_h = s.d_w = 1;
    s.pad_t = s.pad_l = 0;
  }
  if (is_global_pool(l)) {
    /* GlobalAveragePooling2D / GlobalMaxPooling2D: one valid window as
     * large as the map, one output row and column. The average of all
     * h*w taps times the constant 1/(h*w), and the first maximum, are the
     * fixed-point reference's global pooling bit for bit (base/fx_conv.c). */
    s.out_h = s.out_w = 1;
    s.out_c = s.in_c;
    s.k_h = s.s_h = s.in_h;
    s.k_w = s.s_w = s.in_w;
    s.d_h = s.d_w = 1;
    s.pad_t = s.pad_l = 0;
  }
  return s;
}

/* A ZeroPadding2D before a convolution: the convolution reads the
 * unpadded map and pads it virtually by the padding's rows and columns
 * more before (after: the taps beyond the map are skipped anyway). Its
 * output size and window positions are unchanged, and a skipped tap is a
 * zero's: nothing in the forward sum or the weight gradient, and the dX
 * the padding would drop is never formed. The reference rounds the
 * convolution's dX sums into the padding's gradient format and passes it
 * on; that format is its producer's (a data mover's), so the producer's
 * one rounding of the same sums is the same bits. */
static void pad_stage(wstage_t *st, const spd_layer_t *zp) {
  const int32_t *p = zp->config.pads; /* top, left, bottom, right */
  st->in_h -= (uint32_t)(p[0] + p[2]);
  st->in_w -= (uint32_t)(p[1] + p[3]);
  st->pad_t += (uint32_t)p[0];
  st->pad_l += (uint32_t)p[1];
}

/* Input, window layers (Activation after a linear convolution folded in,
 * Dropout passed through), then Flatten: the Dense tail starts there. */
/* The stage whose output model layer @p i holds: a stage layer's own,
 * else (a Dropout, a folded activation, a padding, Flatten) its input's;
 * -1 the model input, -2 none. */
static int source_stage(const int *stage_of, int i) {
  return i <= 0 ? -1 : stage_of[i];
}

static int graph_fail(csearch_t *S, const spd_layer_t *l, const char *why) {
  return spd_ctx_fail(S->ctx, SPD_EUNSUPPORTED, "layer '%s' (%s): %s (--backend reference runs "
                      "it; docs/dag-on-machine.md)", l->config.name,
                      spd_layer_kind_name(l->config.kind), why);
}

/* How many layers read model layer @p i. */
static int n_readers(const spd_model_t *m, int i) {
  int n = 0;
  for (int j = i + 1; j < m->n_layers; j++)
    for (int k = 0; k < m->layers[j].n_inbound; k++)
      if (m->layers[j].inbound[k] == i) {
        n++;
        break;
      }
  return n;
}

static int collect(csearch_t *S, const spd_model_t *m) {
  int n = 0;
  int *stage_of = spd_malloc(S->ctx, sizeof *stage_of * (size_t)m->n_layers);
  if (!stage_of)
    return SPD_ENOMEM;
  for (int i = 0; i < m->n_layers; i++)
    stage_of[i] = i == 0 ? -1 : -2;
  int err = 0;
  for (int i = 1; i < m->n_layers && !err; i++) {
    const spd_layer_t *l = &m->layers[i];
    spd_layer_kind_t k = l->config.kind;
    int in0 = l->n_inbound > 0 ? l->inbound[0] : -1;
    int src0 = in0 >= 0 ? source_stage(stage_of, in0) : -2;
    if (l->n_inbound < 1 || src0 == -2) {
      err = spd_ctx_fail(S->ctx, SPD_EUNSUPPORTED, "layer '%s': the convolution partitioner "
                         "maps window layers fed by window layers or the input; this one is "
                         "fed by '%s'", l->config.name,
                         in0 >= 0 ? m->layers[in0].config.name : "nothing");
      break;
    }
    for (int a = 0; is_conv(k) && a < 2; a++)
      if (l->config.strides[a] > 1 && l->config.dilation_rate[a] > 1)
        err = spd_ctx_fail(S->ctx, SPD_EUNSUPPORTED, "layer '%s' (%s): the machine's kernels "
                           "take strides > 1 or dilation_rate > 1, not both", l->config.name,
                           spd_layer_kind_name(k));
    if (!err && ((is_conv(k) && l->config.groups > 1) ||
                 !spd__act_has_fixed_form(l->config.activation)))
      err = spd_ctx_fail(S->ctx, SPD_EUNSUPPORTED, "layer '%s' (%s): the machine's kernels "
                         "have no %s yet (--backend reference runs it)", l->config.name,
                         spd_layer_kind_name(k), l->config.groups > 1 ? "grouped convolution"
                                                                      : spd__act_display_name(l->config.activation));
    if (!err && !spd__act_alpha_fits(&l->config))
      err = spd_ctx_fail(S->ctx, SPD_EUNSUPPORTED, "layer '%s' (%s): the machine's kernels "
                         "take a %s slope or alpha from 0 to below 2 (--backend reference "
                         "runs it)", l->config.name, spd_layer_kind_name(k),
                         spd_activation_name(l->config.activation));
    if (err)
      break;
    /* Only the first stage reads the model input (its sources credit it). */
    if ((is_conv(k) || is_pool(k) || role_of(k) == SPD_OPM_ADD) && n > 0)
      for (int q = 0; q < l->n_inbound && !err; q++)
        if (source_stage(stage_of, l->inbound[q]) == -1)
          err = graph_fail(S, l, "only the first window layer may read the model input");
    if (err)
      break;
    if (role_of(k) == SPD_OPM_ADD) {
      if (l->input_shape.rank != 3) {
        err = graph_fail(S, l, "the machine adds (rows, columns, channels) maps only");
        break;
      }
      wstage_t st = stage_of_layer(l, i);
      st.add = true;
      st.n_src = l->n_inbound;
      for (int q = 0; q < l->n_inbound && !err; q++) {
        st.src[q] = source_stage(stage_of, l->inbound[q]);
        if (st.src[q] < 0)
          err = graph_fail(S, l, "the machine adds the outputs of window layers");
        for (int r = 0; r < q && !err; r++)
          if (st.src[r] == st.src[q])
            err = graph_fail(S, l, "the machine adds distinct tensors (this Add reads one "
                                   "twice)");
      }
      if (!err) {
        stage_of[i] = n;
        S->st[n++] = st;
      }
      continue;
    }
    if (l->n_inbound != 1) {
      err = graph_fail(S, l, "the machine joins inputs with Add only");
      break;
    }
    if (is_pool(k) && is_global_pool(l)) {
      if (l->input_shape.rank != 3) {
        err = spd_ctx_fail(S->ctx, SPD_EUNSUPPORTED, "layer '%s' (%s): the machine pools "
                           "(rows, columns, channels) maps; this input has rank %d",
                           l->config.name, spd_layer_kind_name(k), l->input_shape.rank);
        break;
      }
      /* Its channels are the Dense tail's input: the tail starts after it. */
      S->st[n] = stage_of_layer(l, i);
      S->st[n].n_src = 1;
      S->st[n].src[0] = src0;
      stage_of[i] = n++;
      if (i + 1 >= m->n_layers)
        break;
      S->tail = i + 1;
      S->n = n;
      spd_free(S->ctx, stage_of);
      return 0;
    }
    if (role_of(k) == SPD_OPM_PAD) {
      int rd = -1;
      for (int j = i + 1; j < m->n_layers && rd < 0; j++)
        for (int q = 0; q < m->layers[j].n_inbound; q++)
          rd = m->layers[j].inbound[q] == i ? j : rd;
      const spd_layer_t *r = rd >= 0 ? &m->layers[rd] : NULL;
      if (!r || !is_conv(r->config.kind) || r->n_inbound != 1 || n_readers(m, i) != 1 ||
          r->input_shape.rank != 3) {
        err = spd_ctx_fail(S->ctx, SPD_EUNSUPPORTED, "layer '%s' (%s): the machine applies a "
                           "zero padding as extra padding of the Conv2D that reads it, and "
                           "'%s' (%s) reads this one (--backend reference runs it)",
                           l->config.name, spd_layer_kind_name(k),
                           r ? r->config.name : "(none)",
                           r ? spd_layer_kind_name(r->config.kind) : "the loss");
        break;
      }
      stage_of[i] = src0;
      continue;
    }
    if (is_conv(k) || is_pool(k)) {
      S->st[n] = stage_of_layer(l, i);
      S->st[n].n_src = 1;
      S->st[n].src[0] = src0;
      if (role_of(m->layers[in0].config.kind) == SPD_OPM_PAD)
        pad_stage(&S->st[n], &m->layers[in0]);
      stage_of[i] = n++;
      continue;
    }
    if (role_of(k) == SPD_OPM_MASK) {
      /* the producer's tiles mask what they send, to every reader */
      if (l->config.rate > 0 && n_readers(m, in0) > 1) {
        err = graph_fail(S, l, "the machine masks a Dropout's values in the tiles that send "
                               "them, and other layers read the same values unmasked");
        break;
      }
      stage_of[i] = src0;
      continue;
    }
    if (role_of(k) == SPD_OPM_FOLD_ACT && src0 >= 0) {
      wstage_t *st = &S->st[src0];
      int t = spd__layer_fold_target(m, i);
      /* into a linear convolution (nn/layer_op.h), or into an Add it is the
       * only reader of (the Add's tiles round twice, as the reference) */
      bool conv_fold = t >= 0 && st->layer == t && !st->pool && st->act == SPD_ACT_LINEAR;
      bool add_fold = st->add && st->layer == in0 && st->act == SPD_ACT_LINEAR &&
                      spd__layer_add_folded_act(m, in0) == i;
      if (conv_fold || add_fold) {
        st->act = l->config.activation;
        stage_of[i] = src0;
        continue;
      }
    }
    if (k == SPD_LAYER_FLATTEN && n > 0 && src0 != n - 1) {
      err = graph_fail(S, l, "the Dense layers read the last window layer only");
      break;
    }
    if (k == SPD_LAYER_FLATTEN && n > 0) {
      S->tail = i;
      S->n = n;
      spd_free(S->ctx, stage_of);
      return 0;
    }
    err = spd_ctx_fail(S->ctx, SPD_EUNSUPPORTED,
                       "layer '%s' (%s): the convolution partitioner maps Conv1D/Conv2D, "
                       "MaxPooling/AveragePooling 1D/2D, ZeroPadding2D, Add, an Activation "
                       "after a linear convolution or an Add, and Dropout, then Flatten or a "
                       "global pooling and Dense layers",
                       l->config.name, spd_layer_kind_name(k));
  }
  spd_free(S->ctx, stage_of);
  if (err)
    return err;
  return spd_ctx_fail(S->ctx, SPD_EUNSUPPORTED, "model '%s': the convolutions must end in a "
                      "Flatten or a global pooling and Dense layers", m->name);
}

/* Every stage but the last is read by a stage; the last by the Dense tail
 * only (its values go to the Flatten or are the global pooling's). */
static int check_graph(csearch_t *S, const spd_model_t *m) {
  int last = spd__pc_owner(S, S->n - 1); /* a convolution with the last pooling fused */
  for (int si = 0; si < S->n; si++) {
    int rd[SPD_PC_MAX_READERS], nr = spd__pc_readers(S, si, rd);
    if (S->st[si].fused_into >= 0 || (si == last) == (nr == 0))
      continue;
    return graph_fail(S, &m->layers[S->st[si].layer],
                      si == last ? "the last window layer is read by the Dense layers only"
                                 : "its output reaches the Dense layers only through the "
                                   "last window layer");
  }
  return 0;
}

/* A pooling right after a convolution whose windows do not overlap in rows
 * is computed by the convolution's tiles (docs/conv-on-machine.md,
 * "Fused pooling"). */
static bool global_stage(const csearch_t *S, int si) {
  return S->st[si].pool && S->st[si].out_h == 1 && S->st[si].out_w == 1 &&
         S->st[si].k_h == S->st[si].in_h && S->st[si].k_w == S->st[si].in_w && S->st[si].in_h > 1;
}

static void fuse_pools(csearch_t *S) {
  for (int si = 1; si < S->n; si++) {
    wstage_t *p = &S->st[si], *c = &S->st[si - 1];
    /* A global pooling is not fused: its one window row would make the
     * convolution's tile hold every row of the map (and its dX buffers);
     * on its own tiles it is cut by channels, the convolution by rows. */
    int rd[SPD_PC_MAX_READERS];
    if (p->pool && !p->add && !c->pool && c->fused < 0 && p->k_h <= p->s_h &&
        !global_stage(S, si) && p->n_src == 1 && p->src[0] == si - 1 &&
        spd__pc_readers(S, si - 1, rd) == 1) {
      c->fused = si;
      p->fused_into = si - 1;
    }
  }
}

int spd__pc_stages(csearch_t *S, const spd_model_t *m) {
  int err = collect(S, m);
  if (err)
    return err;
  fuse_pools(S);
  return check_graph(S, m);
}
