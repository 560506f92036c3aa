"""A Keras Sequential architecture (spindle's JSON) as a PyTorch function, and
Keras's training rules in PyTorch, for the benchmarks that compare spindle
with PyTorch on the same model, initial weights and data order.

Layers: InputLayer, Conv2D (strides, valid/same padding, dilation, with or
without bias), MaxPooling2D and AveragePooling2D (valid padding), Flatten
and Dense, channels_last as Keras stores them: the network runs in NCHW
inside PyTorch and turns back to NHWC before the Flatten, so the Dense
kernel after it reads Keras's (row, column, channel) order. Activations:
linear, relu, sigmoid, tanh and a softmax output (the loss takes the
logits, as spindle's reference and tf.keras compute it).

Training (`train`): mini-batches in spindle's Philox order, the mean sparse
categorical cross-entropy of each batch, one step per batch with Keras's
rules: SGD with momentum (v = m*v - lr*g; w += v) or Adam
(keras/src/optimizers/adam.py: alpha = lr*sqrt(1-b2^t)/(1-b1^t),
w -= alpha*m/(sqrt(v)+eps)), the learning rate constant or Keras's
CosineDecay of the step counted from 0.
"""

import json
import math
import subprocess
import sys
import time

import numpy as np

import philox_order

ACTIVATIONS = ("linear", "relu", "sigmoid", "tanh", "softmax")


def _pair(v):
    return (int(v), int(v)) if isinstance(v, (int, float)) else (int(v[0]), int(v[1]))


def _window_out(n, k, s, d, padding):
    """TensorFlow's output size and padding before (docs/conv-on-machine.md)."""
    if padding == "same":
        out = -(-n // s)
        total = max((out - 1) * s + d * (k - 1) + 1 - n, 0)
        return out, total // 2, total - total // 2
    return (n - d * (k - 1) - 1) // s + 1, 0, 0


def layers_of(model_path):
    """The layer specs of a Sequential model: dicts with kind, name and the
    shapes the layer reads and writes (h, w, c), in order."""
    with open(model_path) as f:
        model = json.load(f)
    specs, shape = [], None
    for layer in model["config"]["layers"]:
        cls, cfg = layer["class_name"], layer["config"]
        given = cfg.get("batch_input_shape") or cfg.get("batch_shape")
        if given and shape is None:
            dims = [int(d) for d in given[1:]]
            shape = tuple(dims + [1] * (3 - len(dims))) if len(dims) < 3 else tuple(dims)
        if cls == "InputLayer":
            continue
        if shape is None:
            sys.exit("%s: no input shape" % model_path)
        act = cfg.get("activation", "linear")
        if act not in ACTIVATIONS:
            sys.exit("%s: layer %s: activation %s is not handled here"
                     % (model_path, cfg["name"], act))
        spec = {"kind": cls, "name": cfg["name"], "in": shape, "activation": act}
        h, w, c = shape
        if cls == "Conv2D":
            (kh, kw), (sh, sw) = _pair(cfg["kernel_size"]), _pair(cfg["strides"])
            dh, dw = _pair(cfg.get("dilation_rate", 1))
            oh, pt, pb = _window_out(h, kh, sh, dh, cfg["padding"])
            ow, pl, pr = _window_out(w, kw, sw, dw, cfg["padding"])
            spec.update(kernel=(kh, kw), strides=(sh, sw), dilation=(dh, dw),
                        pad=(pl, pr, pt, pb), bias=cfg.get("use_bias", True),
                        filters=int(cfg["filters"]))
            shape = (oh, ow, int(cfg["filters"]))
        elif cls in ("MaxPooling2D", "AveragePooling2D"):
            if cfg.get("padding", "valid") != "valid":
                sys.exit("%s: layer %s: only valid pooling is handled here"
                         % (model_path, cfg["name"]))
            k = _pair(cfg["pool_size"])
            s = _pair(cfg.get("strides") or cfg["pool_size"])
            spec.update(kernel=k, strides=s)
            shape = ((h - k[0]) // s[0] + 1, (w - k[1]) // s[1] + 1, c)
        elif cls == "Flatten":
            shape = (1, 1, h * w * c)
        elif cls == "Dense":
            if (h, w) != (1, 1):
                sys.exit("%s: Dense layer %s on a feature map" % (model_path, cfg["name"]))
            spec.update(units=int(cfg["units"]), bias=cfg.get("use_bias", True))
            shape = (1, 1, int(cfg["units"]))
        else:
            sys.exit("%s: layer %s (%s) is not handled by this benchmark"
                     % (model_path, cfg["name"], cls))
        spec["out"] = shape
        specs.append(spec)
    if not specs or specs[-1]["kind"] != "Dense" or specs[-1]["activation"] != "softmax":
        sys.exit("%s: expected a softmax Dense output layer" % model_path)
    return specs


def training_macs(specs):
    """Multiply-accumulates of one training sample: forward, dW (as many as
    the forward) and dX (as many again) of every Conv2D and Dense layer, no
    dX for the first weighted layer (nothing upstream needs it)."""
    total, first = 0, True
    for s in specs:
        if s["kind"] == "Conv2D":
            oh, ow, oc = s["out"]
            macs = oh * ow * oc * s["kernel"][0] * s["kernel"][1] * s["in"][2]
        elif s["kind"] == "Dense":
            macs = s["in"][2] * s["units"]
        else:
            continue
        total += macs * (2 if first else 3)
        first = False
    return total


def spindle_initial_weights(spindle, model_path, specs, path):
    """spindle's own initial weights (those `spindle train` starts from at
    seed 0), written by `spindle convert` in tf.keras 2's layout and read
    back: {layer name: (kernel, bias or None)} in Keras's shapes."""
    import h5py
    cmd = [spindle, "convert", model_path, path, "--weights-only"]
    print("+ " + " ".join(cmd), file=sys.stderr, flush=True)
    if subprocess.run(cmd, stdout=subprocess.DEVNULL).returncode != 0:
        sys.exit("spindle convert failed")
    weights = {}
    with h5py.File(path, "r") as f:
        for s in specs:
            if s["kind"] not in ("Conv2D", "Dense"):
                continue
            g = f[s["name"]]
            names = [n.decode() if isinstance(n, bytes) else n for n in g.attrs["weight_names"]]
            kernel = [n for n in names if n.endswith("kernel:0")][0]
            bias = [n for n in names if n.endswith("bias:0")]
            weights[s["name"]] = (np.array(g[kernel], dtype=np.float32),
                                  np.array(g[bias[0]], dtype=np.float32) if bias else None)
    return weights


class TorchModel:
    """The network as PyTorch tensors: conv kernels turned from Keras's
    (kh, kw, c_in, c_out) to PyTorch's (c_out, c_in, kh, kw)."""

    def __init__(self, specs, weights):
        import torch
        self.specs, self.params, self.index = specs, [], {}
        for s in specs:
            if s["name"] not in weights:
                continue
            kernel, bias = weights[s["name"]]
            if s["kind"] == "Conv2D":
                kernel = np.ascontiguousarray(kernel.transpose(3, 2, 0, 1))
            k = torch.tensor(kernel, requires_grad=True)
            b = torch.tensor(bias, requires_grad=True) if bias is not None else None
            self.index[s["name"]] = (k, b)
            self.params += [k] + ([b] if b is not None else [])

    def logits(self, x):
        """x: (batch, h·w·c) in Keras's flattened NHWC order."""
        import torch.nn.functional as F
        h, w, c = self.specs[0]["in"]
        t = x.reshape(-1, h, w, c).permute(0, 3, 1, 2)
        for s in self.specs:
            if s["kind"] == "Conv2D":
                k, b = self.index[s["name"]]
                pl, pr, pt, pb = s["pad"]
                t = F.conv2d(F.pad(t, (pl, pr, pt, pb)), k, b, stride=s["strides"],
                             dilation=s["dilation"])
            elif s["kind"] == "MaxPooling2D":
                t = F.max_pool2d(t, s["kernel"], s["strides"])
            elif s["kind"] == "AveragePooling2D":
                t = F.avg_pool2d(t, s["kernel"], s["strides"])
            elif s["kind"] == "Flatten":
                t = t.permute(0, 2, 3, 1).reshape(t.shape[0], -1)
            elif s["kind"] == "Dense":
                k, b = self.index[s["name"]]
                t = t @ k + b if b is not None else t @ k
            if s["activation"] in ("relu", "sigmoid", "tanh"):
                t = getattr(t, s["activation"])()
        return t


def learning_rate(recipe, step):
    """The rate of step `step` (from 0): constant or Keras's CosineDecay."""
    if recipe.get("schedule", "constant") == "constant":
        return recipe["lr"]
    t = min(step, recipe["decay_steps"])
    cosine = 0.5 * (1.0 + math.cos(math.pi * t / recipe["decay_steps"]))
    return recipe["lr"] * ((1.0 - recipe.get("alpha", 0.0)) * cosine + recipe.get("alpha", 0.0))


def train(model, recipe, data, epochs, batch_size, seed, threads=1, label="pytorch"):
    """Keras's fit on `model` (a TorchModel), then the test accuracy. recipe:
    optimizer (sgd/adam), lr, momentum, schedule (constant/cosine),
    decay_steps, alpha; Adam's beta_1 0.9, beta_2 0.999, epsilon 1e-7."""
    import torch
    import torch.nn.functional as F
    torch.set_num_threads(threads)
    params = model.params
    slots = [[torch.zeros_like(p) for p in params] for _ in range(2)]
    x_all = torch.from_numpy(data["x_train"])
    y_all = torch.from_numpy(data["y_train"].astype(np.int64))
    n, step, seconds, losses = len(x_all), 0, 0.0, []
    b1, b2, eps = 0.9, 0.999, 1e-7
    for epoch in range(epochs):
        order = torch.from_numpy(philox_order.epoch_order(seed, epoch, n))
        start, total = time.perf_counter(), 0.0
        for first in range(0, n, batch_size):
            idx = order[first:first + batch_size]
            loss = F.cross_entropy(model.logits(x_all[idx]), y_all[idx])
            grads = torch.autograd.grad(loss, params)
            lr = learning_rate(recipe, step)
            with torch.no_grad():
                if recipe["optimizer"] == "adam":
                    t = step + 1
                    alpha = lr * math.sqrt(1 - b2 ** t) / (1 - b1 ** t)
                    for p, m, v, g in zip(params, slots[0], slots[1], grads):
                        m.add_((g - m) * (1 - b1))
                        v.add_((g * g - v) * (1 - b2))
                        p.sub_(alpha * m / (v.sqrt() + eps))
                else:
                    for p, v, g in zip(params, slots[0], grads):
                        v.mul_(recipe.get("momentum", 0.0)).sub_(lr * g)
                        p.add_(v)
            total += loss.item() * len(idx)
            step += 1
        seconds += time.perf_counter() - start
        losses.append(total / n)
        print("%s epoch %d/%d: loss %.4f (%.1fs)" % (label, epoch + 1, epochs, losses[-1],
              time.perf_counter() - start), file=sys.stderr, flush=True)
    with torch.no_grad():
        pred = model.logits(torch.from_numpy(data["x_test"])).argmax(dim=1).numpy()
    return {"test_accuracy": float((pred == data["y_test"]).mean()), "epoch_losses": losses,
            "train_seconds": seconds, "samples_per_s": epochs * n / seconds,
            "threads": threads, "torch": torch.__version__}


def check_forward(spindle, model_path, weights_path, model, data_folder, x_test, workdir,
                  n=64):
    """The PyTorch translation must compute what spindle's float reference
    computes: the softmax outputs of the first n test samples within 1e-4 of
    `spindle predict --backend reference`, else no comparison means anything."""
    import torch
    out = "%s/check_forward.npy" % workdir
    cmd = [spindle, "predict", model_path, "--weights", weights_path, "--data", data_folder,
           "--output", out, "--limit", str(n), "--backend", "reference", "--numeric", "float"]
    print("+ " + " ".join(cmd), file=sys.stderr, flush=True)
    if subprocess.run(cmd, stdout=subprocess.DEVNULL).returncode != 0:
        sys.exit("spindle predict failed")
    expected = np.load(out)
    with torch.no_grad():
        got = torch.softmax(model.logits(torch.from_numpy(x_test[:n])), dim=1).numpy()
    worst = float(np.abs(got - expected).max())
    if worst > 1e-4:
        sys.exit("the PyTorch model differs from spindle's reference by %.3g on the first "
                 "%d test samples: the translation of %s is wrong" % (worst, n, model_path))
    return worst
