#!/usr/bin/python3
"""Write spindle's golden tensors: reference results from PyTorch, in Keras's
semantics and layouts, for tests/test_golden.c.

Run with the system interpreter (Debian's python3-torch and python3-numpy):

    /usr/bin/python3 tests/golden/make_goldens.py [--out tests/golden/data]

The output directory gets one .npy file (float32, C order) per tensor and
manifest.json, which lists every case, its layer configuration with Keras's
argument names and the file of each tensor. The data is committed, so the test
suite never needs torch; rerunning with the same seed rewrites identical files.

Conventions (Keras's, which spindle follows, not PyTorch's):
  * channels_last activations: Conv1D (batch, steps, channels), Conv2D
    (batch, rows, cols, channels);
  * kernels: Dense (in, units), Conv1D (k, cin, filters), Conv2D
    (kh, kw, cin, filters); torch's layouts are transposed inside the model
    functions, so autograd returns gradients already in Keras's layout;
  * padding "same" pads max((out-1)*stride + (k-1)*dilation + 1 - in, 0)
    elements, the extra one at the end (TensorFlow's rule; torch pads
    symmetrically, so the padding is applied explicitly with F.pad);
  * average pooling with "same" divides by the number of valid (unpadded)
    elements in the window, max pooling ignores padding (pads with -inf);
  * losses reduce with Keras's "sum_over_batch_size": the per-sample loss
    (mean over the last axis for MSE and binary CE, sum over classes for
    categorical CE) averaged over the batch; probabilities are clipped to
    [1e-7, 1 - 1e-7] (categorical ones first renormalised to sum 1), as in
    keras/src/backend/*/nn.py;
  * optimizers use Keras 3's update rules (keras/src/optimizers/*.py),
    written out below with tensor operations because torch's Adam and RMSprop
    place epsilon differently.

Every reference is computed in float64 from float32-representable inputs and
rounded once to float32, so a golden is the correctly rounded result. The
script then recomputes every case in float32 and checks it against the golden
with the tolerance test_golden.c uses: that shows an ordinary float32
implementation can meet the tolerance on this data.
"""

import argparse
import json
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "..", "bench"))
import philox_order  # noqa: E402  (bench/: shared with pytorch_mlp.py)

SEED = 20261124
RTOL = 1e-5
ATOL = 1e-6
KERAS_EPSILON = 1e-7


class Case:
    """One golden case: a name, its metadata and named tensors."""

    def __init__(self, kind, name, meta):
        self.kind = kind
        self.name = name
        self.meta = meta
        self.tensors = {}

    def put(self, key, value):
        self.tensors[key] = np.ascontiguousarray(
            np.asarray(value, dtype=np.float64).astype(np.float32))


class Generator:
    """Random float32-representable inputs from one seeded stream, so the
    data depends only on SEED and the order cases are made in."""

    def __init__(self, seed):
        self.rng = np.random.default_rng(seed)

    def uniform(self, shape, lo=-1.0, hi=1.0):
        x = self.rng.uniform(lo, hi, size=shape).astype(np.float32)
        return torch.from_numpy(x.astype(np.float64))

    def away_from_zero(self, shape, margin=0.05):
        """Values in [-1, -margin] U [margin, 1]: activations whose
        derivative jumps at 0 are tested away from the kink."""
        x = self.uniform(shape, margin, 1.0)
        sign = torch.from_numpy(self.rng.choice([-1.0, 1.0], size=shape))
        return x * sign

    def distinct(self, shape):
        """A random permutation of well-separated values: max pooling has a
        unique arg-max in every window, so its gradient is well defined."""
        n = int(np.prod(shape))
        values = (np.arange(n) - n / 2) / n * 2.0
        return torch.from_numpy(self.rng.permutation(values).reshape(shape)
                                .astype(np.float32).astype(np.float64))

    def labels(self, n, classes):
        return torch.from_numpy(self.rng.integers(0, classes, size=n))


def same_pads(size, k, stride, dilation=1):
    """TensorFlow's "same" padding for one spatial axis: (before, after)."""
    out = -(-size // stride)
    total = max((out - 1) * stride + (k - 1) * dilation + 1 - size, 0)
    return total // 2, total - total // 2


def spatial_pads(shape, ksize, strides, dilation, padding):
    """F.pad's argument for channels-first tensors (last axis first)."""
    pads = []
    for axis in reversed(range(len(ksize))):
        if padding == "same":
            pads += same_pads(shape[axis], ksize[axis], strides[axis],
                              dilation[axis])
        else:
            pads += [0, 0]
    return pads


def to_channels_first(x):
    return x.movedim(-1, 1)


def to_channels_last(x):
    return x.movedim(1, -1)


def activation_fn(name, negative_slope=0.2, alpha=1.0):
    """Keras's activation functions (keras/src/activations)."""
    return {
        "linear": lambda x: x,
        "relu": torch.relu,
        "sigmoid": torch.sigmoid,
        "tanh": torch.tanh,
        "softmax": lambda x: torch.softmax(x, dim=-1),
        "leaky_relu": lambda x: torch.where(x >= 0, x, negative_slope * x),
        "elu": lambda x: torch.where(x > 0, x, alpha * torch.expm1(x)),
    }[name]


def conv_nd(x, kernel, bias, cfg):
    """Keras Conv1D/Conv2D, channels_last, kernel (*k, cin, filters)."""
    nd = kernel.dim() - 2
    xc = to_channels_first(x)
    pads = spatial_pads(xc.shape[2:], cfg["kernel_size"], cfg["strides"],
                        cfg["dilation_rate"], cfg["padding"])
    xc = F.pad(xc, pads)
    w = kernel.permute(nd + 1, nd, *range(nd))
    conv = F.conv1d if nd == 1 else F.conv2d
    y = conv(xc, w, bias, stride=cfg["strides"],
             dilation=cfg["dilation_rate"])
    y = to_channels_last(y)
    return activation_fn(cfg.get("activation", "linear"))(y)


def pool_nd(x, cfg, op):
    """Keras Max/AveragePooling1D/2D with TensorFlow's padding semantics."""
    nd = x.dim() - 2
    ksize, strides = cfg["pool_size"], cfg["strides"]
    xc = to_channels_first(x)
    pads = spatial_pads(xc.shape[2:], ksize, strides, [1] * nd, cfg["padding"])
    if op == "max":
        pool = F.max_pool1d if nd == 1 else F.max_pool2d
        y = pool(F.pad(xc, pads, value=-float("inf")), ksize, strides)
    else:
        pool = F.avg_pool1d if nd == 1 else F.avg_pool2d
        sums = pool(F.pad(xc, pads), ksize, strides) * float(np.prod(ksize))
        ones = torch.ones((1, 1) + tuple(xc.shape[2:]), dtype=x.dtype)
        counts = pool(F.pad(ones, pads), ksize, strides) * float(np.prod(ksize))
        y = sums / counts
    return to_channels_last(y)


def batchnorm(x, params, cfg, training):
    """Keras BatchNormalization on the last axis. Training normalises with
    the batch mean and biased variance (the ones the moving averages take);
    inference with the moving statistics."""
    axes = tuple(range(x.dim() - 1))
    if training:
        mean = x.mean(dim=axes)
        var = ((x - mean) ** 2).mean(dim=axes)
    else:
        mean, var = params["moving_mean"], params["moving_variance"]
    y = (x - mean) / torch.sqrt(var + cfg["epsilon"])
    return y * params["gamma"] + params["beta"], mean, var


def run_layer(layer_fn, inputs, params, dy):
    """Forward and backward of one layer: output, input gradients and
    parameter gradients for the upstream gradient dy (the gradient of
    sum(y * dy))."""
    inputs = [t.clone().requires_grad_(True) for t in inputs]
    params = {k: v.clone().requires_grad_(k in dy_params(params))
              for k, v in params.items()}
    y = layer_fn(inputs, params)
    trainable = [params[k] for k in dy_params(params)]
    grads = torch.autograd.grad(y, inputs + trainable, dy)
    n = len(inputs)
    return (y.detach(), [g.detach() for g in grads[:n]],
            dict(zip(dy_params(params), [g.detach() for g in grads[n:]])))


def dy_params(params):
    return [k for k in params if not k.startswith("moving_")]


class LayerCases:
    """The layer cases: forward output and all gradients of every layer kind
    of include/spindle/model.h in the configurations that matter."""

    def __init__(self, gen):
        self.gen = gen
        self.cases = []

    def add(self, name, class_name, cfg, inputs, params, fn, training=False,
            extra=None):
        """Run fn (inputs, params) -> y and record everything."""
        y = fn([t.clone() for t in inputs], dict(params))
        dy = self.gen.uniform(tuple(y.shape))
        y, dxs, dparams = run_layer(fn, inputs, params, dy)
        meta = {"class_name": class_name, "config": cfg, "training": training,
                "batch": int(inputs[0].shape[0]),
                "input_shapes": [list(t.shape[1:]) for t in inputs],
                "params": list(params), "inputs": len(inputs)}
        case = Case("layer", name, meta)
        for i, t in enumerate(inputs):
            case.put("x" if len(inputs) == 1 else "x%d" % i, t)
        for k, v in params.items():
            case.put(k, v)
        case.put("y", y)
        case.put("dy", dy)
        for i, g in enumerate(dxs):
            case.put("dx" if len(inputs) == 1 else "dx%d" % i, g)
        for k, g in dparams.items():
            case.put("grad_" + k, g)
        for k, v in (extra or {}).items():
            case.put(k, v)
        case.fn = fn
        self.cases.append(case)

    def dense(self, name, n_in, units, use_bias=True, activation="linear"):
        g = self.gen
        params = {"kernel": g.uniform((n_in, units))}
        if use_bias:
            params["bias"] = g.uniform((units,))
        cfg = {"units": units, "use_bias": use_bias, "activation": activation}
        act = activation_fn(activation)

        def fn(xs, p):
            y = xs[0] @ p["kernel"]
            return act(y + p["bias"] if use_bias else y)
        self.add(name, "Dense", cfg, [g.away_from_zero((3, n_in))], params, fn)

    def conv(self, name, nd, in_shape, filters, k, strides=1, padding="valid",
             dilation=1, use_bias=True, activation="linear"):
        g = self.gen
        cin = in_shape[-1]
        cfg = {"filters": filters, "kernel_size": [k] * nd,
               "strides": [strides] * nd, "padding": padding,
               "dilation_rate": [dilation] * nd, "use_bias": use_bias,
               "activation": activation}
        params = {"kernel": g.uniform(tuple([k] * nd) + (cin, filters))}
        if use_bias:
            params["bias"] = g.uniform((filters,))

        def fn(xs, p):
            return conv_nd(xs[0], p["kernel"], p.get("bias"), cfg)
        self.add(name, "Conv1D" if nd == 1 else "Conv2D", cfg,
                 [g.away_from_zero((2,) + tuple(in_shape))], params, fn)

    def pool(self, name, op, nd, in_shape, pool_size, strides=None,
             padding="valid"):
        strides = pool_size if strides is None else strides
        cfg = {"pool_size": [pool_size] * nd, "strides": [strides] * nd,
               "padding": padding}
        cls = ("MaxPooling%dD" if op == "max" else "AveragePooling%dD") % nd

        def fn(xs, p):
            return pool_nd(xs[0], cfg, op)
        x = self.gen.distinct((2,) + tuple(in_shape))
        self.add(name, cls, cfg, [x], {}, fn)

    def activation(self, name, act, **kwargs):
        cfg = {"activation": act}
        cfg.update(kwargs)
        f = activation_fn(act, **kwargs)
        x = self.gen.away_from_zero((3, 7)) * 3.0
        self.add(name, "Activation", cfg, [x], {}, lambda xs, p: f(xs[0]))

    def batchnorm(self, name, shape, training):
        g = self.gen
        c = shape[-1]
        cfg = {"momentum": 0.99, "epsilon": 1e-3, "center": True,
               "scale": True}
        params = {"gamma": g.uniform((c,), 0.5, 1.5),
                  "beta": g.uniform((c,)),
                  "moving_mean": g.uniform((c,), -0.5, 0.5),
                  "moving_variance": g.uniform((c,), 0.5, 2.0)}
        x = g.uniform(tuple(shape), -2.0, 2.0) + g.uniform((c,))

        def fn(xs, p):
            return batchnorm(xs[0], p, cfg, training)[0]
        extra = {}
        if training:
            _, mean, var = batchnorm(x, params, cfg, True)
            m = cfg["momentum"]
            extra = {"new_moving_mean":
                     params["moving_mean"] * m + mean * (1 - m),
                     "new_moving_variance":
                     params["moving_variance"] * m + var * (1 - m)}
        self.add(name, "BatchNormalization", cfg, [x], params, fn,
                 training=training, extra=extra)

    def make_all(self):
        self.dense("dense_bias", 5, 4)
        self.dense("dense_no_bias", 5, 4, use_bias=False)
        self.dense("dense_relu", 6, 3, activation="relu")
        self.dense("dense_softmax", 4, 5, activation="softmax")
        self.conv("conv1d_valid", 1, (9, 3), 4, 3)
        self.conv("conv1d_same", 1, (8, 2), 3, 4, padding="same")
        self.conv("conv1d_same_stride2", 1, (9, 2), 3, 3, strides=2,
                  padding="same")
        self.conv("conv1d_dilation2", 1, (10, 2), 3, 3, dilation=2)
        self.conv("conv1d_no_bias", 1, (7, 3), 2, 2, use_bias=False)
        self.conv("conv2d_valid", 2, (6, 5, 2), 3, 3)
        self.conv("conv2d_same", 2, (5, 6, 2), 3, 3, padding="same")
        self.conv("conv2d_same_even_kernel", 2, (5, 5, 2), 2, 4,
                  padding="same")
        self.conv("conv2d_same_stride2", 2, (7, 6, 2), 3, 3, strides=2,
                  padding="same")
        self.conv("conv2d_valid_stride2", 2, (7, 7, 2), 2, 3, strides=2)
        self.conv("conv2d_dilation2", 2, (7, 7, 2), 2, 3, dilation=2)
        self.conv("conv2d_dilation2_same", 2, (6, 6, 1), 2, 3, dilation=2,
                  padding="same")
        self.conv("conv2d_no_bias", 2, (5, 5, 3), 2, 2, use_bias=False)
        self.conv("conv2d_relu", 2, (5, 5, 2), 3, 3, padding="same",
                  activation="relu")
        for op, short in (("max", "maxpool"), ("avg", "avgpool")):
            self.pool(short + "1d_valid", op, 1, (8, 3), 2)
            self.pool(short + "1d_same", op, 1, (7, 2), 2, padding="same")
            self.pool(short + "1d_same_stride1", op, 1, (6, 2), 3, strides=1,
                      padding="same")
            self.pool(short + "2d_valid", op, 2, (6, 6, 2), 2)
            self.pool(short + "2d_valid_odd", op, 2, (7, 5, 2), 2)
            self.pool(short + "2d_valid_k3_s2", op, 2, (7, 7, 2), 3,
                      strides=2)
            self.pool(short + "2d_same", op, 2, (5, 7, 2), 2, padding="same")
            self.pool(short + "2d_same_k3_s1", op, 2, (5, 5, 2), 3,
                      strides=1, padding="same")
            self.pool(short + "2d_same_k3_s2", op, 2, (6, 5, 2), 3,
                      strides=2, padding="same")
        x = self.gen.uniform((2, 3, 4, 5))
        self.add("global_avgpool2d", "GlobalAveragePooling2D", {}, [x], {},
                 lambda xs, p: xs[0].mean(dim=(1, 2)))
        x = self.gen.uniform((2, 3, 4, 2))
        self.add("flatten", "Flatten", {}, [x], {},
                 lambda xs, p: xs[0].reshape(xs[0].shape[0], -1))
        x = self.gen.uniform((2, 12))
        self.add("reshape", "Reshape", {"target_shape": [3, 2, 2]}, [x], {},
                 lambda xs, p: xs[0].reshape(-1, 3, 2, 2))
        x = self.gen.uniform((2, 4, 6))
        self.add("reshape_infer", "Reshape", {"target_shape": [-1, 3]}, [x],
                 {}, lambda xs, p: xs[0].reshape(2, -1, 3))
        for act in ("linear", "relu", "sigmoid", "tanh", "softmax",
                    "leaky_relu", "elu"):
            self.activation("activation_" + act, act)
        self.activation("activation_leaky_relu_slope0.1", "leaky_relu",
                        negative_slope=0.1)
        self.activation("activation_elu_alpha0.5", "elu", alpha=0.5)
        self.batchnorm("batchnorm_dense_training", (4, 3), True)
        self.batchnorm("batchnorm_dense_inference", (4, 3), False)
        self.batchnorm("batchnorm_conv_training", (2, 3, 3, 2), True)
        self.batchnorm("batchnorm_conv_inference", (2, 3, 3, 2), False)
        x = self.gen.uniform((2, 5))
        self.add("dropout_inference", "Dropout", {"rate": 0.5}, [x], {},
                 lambda xs, p: xs[0])
        xs = [self.gen.uniform((2, 3, 2)) for _ in range(2)]
        self.add("add2", "Add", {}, xs, {}, lambda xs, p: xs[0] + xs[1])
        xs = [self.gen.uniform((2, 4)) for _ in range(3)]
        self.add("add3", "Add", {}, xs, {},
                 lambda xs, p: xs[0] + xs[1] + xs[2])
        return self.cases


def keras_loss(name, from_logits, y_true, y_pred):
    """Keras 3's losses (keras/src/losses/losses.py over
    keras/src/backend/*/nn.py), reduced with sum_over_batch_size."""
    eps = KERAS_EPSILON
    if name == "mean_squared_error":
        per_sample = ((y_true - y_pred) ** 2).mean(dim=-1)
    elif name == "binary_crossentropy":
        p = torch.sigmoid(y_pred) if from_logits else y_pred
        p = p.clamp(eps, 1 - eps)
        per_sample = -(y_true * torch.log(p)
                       + (1 - y_true) * torch.log(1 - p)).mean(dim=-1)
    else:
        if from_logits:
            log_p = torch.log_softmax(y_pred, dim=-1)
        else:
            p = y_pred / y_pred.sum(dim=-1, keepdim=True)
            log_p = torch.log(p.clamp(eps, 1 - eps))
        if name == "sparse_categorical_crossentropy":
            target = F.one_hot(y_true.long(), y_pred.shape[-1]).to(log_p)
        else:
            target = y_true
        per_sample = -(target * log_p).sum(dim=-1)
    return per_sample.mean()


def loss_cases(gen):
    """Value and gradient (with respect to y_pred) of every loss."""
    cases = []
    batch, classes = 4, 5

    def probs(shape):
        return torch.softmax(gen.uniform(shape, -2.0, 2.0), dim=-1)

    def add(name, loss, from_logits, y_true, y_pred, note=None):
        y_pred = y_pred.to(torch.float32).to(torch.float64)
        fn = (lambda yt, yp: keras_loss(loss, from_logits, yt, yp))
        yp = y_pred.clone().requires_grad_(True)
        value = fn(y_true, yp)
        grad, = torch.autograd.grad(value, yp)
        meta = {"loss": loss, "from_logits": from_logits, "batch": batch}
        if note:
            meta["note"] = note
        case = Case("loss", name, meta)
        case.put("y_true", y_true)
        case.put("y_pred", y_pred)
        case.put("loss", value.detach().reshape(1))
        case.put("grad", grad)
        case.fn = fn
        cases.append(case)

    add("mse", "mean_squared_error", False, gen.uniform((batch, 3)),
        gen.uniform((batch, 3)))
    bin_true = torch.from_numpy(gen.rng.integers(0, 2, size=(batch, 3))
                                .astype(np.float64))
    add("binary_ce", "binary_crossentropy", False, bin_true,
        gen.uniform((batch, 3), 0.05, 0.95))
    add("binary_ce_clipped", "binary_crossentropy", False,
        torch.tensor([[1.0, 0.0, 1.0], [0.0, 1.0, 0.0]]),
        torch.tensor([[1.0, 0.0, 0.5], [1e-9, 0.999, 0.25]]),
        note="probabilities 0 and 1 are clipped to [1e-7, 1-1e-7]; the "
             "gradient is 0 where the clip is active")
    add("binary_ce_logits", "binary_crossentropy", True, bin_true,
        gen.uniform((batch, 3), -3.0, 3.0))
    labels = gen.labels(batch, classes)
    onehot = F.one_hot(labels, classes).to(torch.float64)
    add("categorical_ce", "categorical_crossentropy", False, onehot,
        probs((batch, classes)))
    soft_true = probs((batch, classes))
    add("categorical_ce_soft_targets", "categorical_crossentropy", False,
        soft_true, probs((batch, classes)))
    add("categorical_ce_unnormalised", "categorical_crossentropy", False,
        onehot, gen.uniform((batch, classes), 0.05, 1.0),
        note="Keras divides the probabilities by their sum before clipping")
    add("categorical_ce_logits", "categorical_crossentropy", True, onehot,
        gen.uniform((batch, classes), -3.0, 3.0))
    add("sparse_categorical_ce", "sparse_categorical_crossentropy", False,
        labels.to(torch.float64), probs((batch, classes)))
    add("sparse_categorical_ce_logits", "sparse_categorical_crossentropy",
        True, labels.to(torch.float64),
        gen.uniform((batch, classes), -3.0, 3.0))
    return cases


def keras_step(opt, state, w, g, t):
    """One Keras 3 update of w (in place) from gradient g at 1-based step t;
    state holds the slots, zero at the start as in Keras."""
    lr = opt["learning_rate"]
    kind = opt["optimizer"]
    if kind == "sgd":
        m = opt["momentum"]
        if m == 0:
            w -= lr * g
            return
        v = state.setdefault("momentum", torch.zeros_like(w))
        v.copy_(m * v - lr * g)
        if opt["nesterov"]:
            w += m * v - lr * g
        else:
            w += v
    elif kind == "adam":
        b1, b2, eps = opt["beta_1"], opt["beta_2"], opt["epsilon"]
        m = state.setdefault("m", torch.zeros_like(w))
        v = state.setdefault("v", torch.zeros_like(w))
        alpha = lr * np.sqrt(1 - b2 ** t) / (1 - b1 ** t)
        m += (g - m) * (1 - b1)
        v += (g * g - v) * (1 - b2)
        w -= alpha * m / (torch.sqrt(v) + eps)
    elif kind == "rmsprop":
        rho, eps, mom = opt["rho"], opt["epsilon"], opt["momentum"]
        vel = state.setdefault("velocity", torch.zeros_like(w))
        vel.copy_(rho * vel + (1 - rho) * g * g)
        if opt["centered"]:
            avg = state.setdefault("average_gradient", torch.zeros_like(w))
            avg.copy_(rho * avg + (1 - rho) * g)
            den = vel - avg * avg + eps
        else:
            den = vel + eps
        inc = lr * g / torch.sqrt(den)
        if mom > 0:
            mv = state.setdefault("momentum", torch.zeros_like(w))
            mv.copy_(mom * mv + inc)
            w -= mv
        else:
            w -= inc


OPTIMIZERS = [
    ("sgd", {"optimizer": "sgd", "learning_rate": 0.01, "momentum": 0.0,
             "nesterov": False}),
    ("sgd_momentum", {"optimizer": "sgd", "learning_rate": 0.01,
                      "momentum": 0.9, "nesterov": False}),
    ("sgd_nesterov", {"optimizer": "sgd", "learning_rate": 0.01,
                      "momentum": 0.9, "nesterov": True}),
    ("adam", {"optimizer": "adam", "learning_rate": 0.001, "beta_1": 0.9,
              "beta_2": 0.999, "epsilon": 1e-7}),
    ("adam_lr0.01", {"optimizer": "adam", "learning_rate": 0.01,
                     "beta_1": 0.8, "beta_2": 0.99, "epsilon": 1e-7}),
    ("rmsprop", {"optimizer": "rmsprop", "learning_rate": 0.001, "rho": 0.9,
                 "momentum": 0.0, "epsilon": 1e-7, "centered": False}),
    ("rmsprop_momentum_centered",
     {"optimizer": "rmsprop", "learning_rate": 0.001, "rho": 0.9,
      "momentum": 0.5, "epsilon": 1e-7, "centered": True}),
]
OPT_STEPS = 3


def optimizer_cases(gen):
    """Three steps of each optimizer on one (3, 4) tensor, with a fresh
    gradient per step; w<t> is the tensor after step t."""
    cases = []
    for name, opt in OPTIMIZERS:
        w0 = gen.uniform((3, 4))
        grads = [gen.uniform((3, 4)) for _ in range(OPT_STEPS)]
        meta = dict(opt, steps=OPT_STEPS)
        case = Case("optimizer", name, meta)
        case.put("w0", w0)
        for t, g in enumerate(grads, 1):
            case.put("g%d" % t, g)
        for t, w in enumerate(optimizer_run(opt, w0, grads), 1):
            case.put("w%d" % t, w)
        case.fn = (lambda opt: lambda w0, grads: optimizer_run(opt, w0, grads))(opt)
        cases.append(case)
    return cases


def optimizer_run(opt, w0, grads):
    w, state, out = w0.clone(), {}, []
    for t, g in enumerate(grads, 1):
        keras_step(opt, state, w, g, t)
        out.append(w.clone())
    return out


FIT_ORDERS = [(1, 0, 1000), (1, 4, 1000), (0xDEADBEEFCAFE1234, 2, 777),
              (7, 0, 5)]


def order_cases():
    """spindle's per-epoch training order (spd_fit_epoch_order) as
    bench/philox_order.py reproduces it; the seed is a decimal string
    because JSON numbers lose 64-bit integers."""
    cases = []
    for seed, epoch, n in FIT_ORDERS:
        case = Case("order", "order_seed%x_epoch%d_n%d" % (seed, epoch, n),
                    {"seed": str(seed), "epoch": epoch, "n": n})
        case.put("order", philox_order.epoch_order(seed, epoch, n))
        cases.append(case)
    return cases


def within_tolerance(expected, got):
    """The comparison test_golden.c makes (see its comment)."""
    return np.abs(got - expected) <= RTOL * np.abs(expected) + ATOL


def f32(t):
    return torch.from_numpy(np.asarray(t, dtype=np.float32))


def float32_rerun(case):
    """Recompute a case in float32 from its stored inputs."""
    T = case.tensors
    if case.kind == "layer":
        n = case.meta["inputs"]
        xs = [f32(T["x"])] if n == 1 else [f32(T["x%d" % i]) for i in range(n)]
        params = {k: f32(T[k]) for k in case.meta["params"]}
        y, dxs, dparams = run_layer(case.fn, xs, params, f32(T["dy"]))
        got = {"y": y}
        for i, g in enumerate(dxs):
            got["dx" if n == 1 else "dx%d" % i] = g
        got.update({"grad_" + k: g for k, g in dparams.items()})
        return got
    if case.kind == "loss":
        yp = f32(T["y_pred"]).requires_grad_(True)
        value = case.fn(f32(T["y_true"]), yp)
        grad, = torch.autograd.grad(value, yp)
        return {"loss": value.detach().reshape(1), "grad": grad}
    steps = case.meta["steps"]
    ws = case.fn(f32(T["w0"]), [f32(T["g%d" % t]) for t in range(1, steps + 1)])
    return {"w%d" % t: w for t, w in enumerate(ws, 1)}


def check_float32(cases):
    """Fail if a float32 computation misses any golden's tolerance."""
    worst = 0.0
    for case in cases:
        if case.kind == "order":
            continue
        for key, got in float32_rerun(case).items():
            expected = case.tensors[key]
            got = got.numpy().astype(np.float32)
            ok = within_tolerance(expected, got)
            if not ok.all():
                i = int(np.argmin(ok.ravel()))
                sys.exit("float32 self-check failed: %s %s[%d] expected %.9g "
                         "got %.9g" % (case.name, key, i, expected.ravel()[i],
                                       got.ravel()[i]))
            slack = np.abs(got - expected) / (RTOL * np.abs(expected) + ATOL)
            worst = max(worst, float(slack.max(initial=0.0)))
    return worst


def write(cases, out_dir, worst):
    os.makedirs(out_dir, exist_ok=True)
    for old in os.listdir(out_dir):
        if old.endswith(".npy") or old == "manifest.json":
            os.remove(os.path.join(out_dir, old))
    manifest = {"generator": "tests/golden/make_goldens.py", "seed": SEED,
                "torch": torch.__version__, "rtol": RTOL, "atol": ATOL,
                "float32_worst_fraction_of_tolerance": round(worst, 4),
                "layers": [], "losses": [], "optimizers": [], "fit_orders": []}
    section = {"layer": "layers", "loss": "losses", "optimizer": "optimizers",
               "order": "fit_orders"}
    for case in cases:
        files = {}
        for key, value in case.tensors.items():
            fname = "%s.%s.npy" % (case.name, key)
            np.save(os.path.join(out_dir, fname), value, allow_pickle=False)
            files[key] = {"file": fname, "shape": list(value.shape)}
        entry = {"name": case.name}
        entry.update(case.meta)
        entry["tensors"] = files
        manifest[section[case.kind]].append(entry)
    with open(os.path.join(out_dir, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1, sort_keys=False)
        f.write("\n")


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default=os.path.join(here, "data"),
                        help="output directory (default: %(default)s)")
    args = parser.parse_args()
    torch.manual_seed(SEED)
    torch.set_num_threads(1)
    gen = Generator(SEED)
    cases = (LayerCases(gen).make_all() + loss_cases(gen) + optimizer_cases(gen)
             + order_cases())
    names = [c.name for c in cases]
    assert len(names) == len(set(names)), "duplicate case names"
    worst = check_float32(cases)
    write(cases, args.out, worst)
    total = sum(os.path.getsize(os.path.join(args.out, f))
                for f in os.listdir(args.out))
    print("%d cases, %d bytes in %s; float32 reruns use at most %.1f%% of "
          "the tolerance" % (len(cases), total, args.out, worst * 100))


if __name__ == "__main__":
    main()
