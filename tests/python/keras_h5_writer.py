"""Writes Keras weight files with h5py exactly as tf.keras 2 lays them out,
plus a batch of inputs and the NumPy forward pass of the same weights, for
tests/test_keras_predict.c:

    keras_h5_writer.py OUT_DIR

OUT_DIR/mlp_weights.h5    save_weights() layout for examples/mlp.json
OUT_DIR/lenet5_model.h5   save() layout (model_config + model_weights) for lenet5
OUT_DIR/<name>_x.f32      4 inputs (4, 28, 28, 1), raw little-endian float32
OUT_DIR/<name>_y.f32      the NumPy predictions (4, 10), raw float32
"""
import json
import os
import sys

import h5py
import numpy as np

SOURCE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")


def save_attributes(group, name, data):
    """Keras's save_attributes_to_hdf5_group (split over 64,512 bytes)."""
    array = np.asarray(data)
    chunks = 1
    split = np.array_split(array, chunks)
    while any(x.nbytes > 64512 for x in split):
        chunks += 1
        split = np.array_split(array, chunks)
    if chunks > 1:
        for i, chunk in enumerate(split):
            group.attrs["%s%d" % (name, i)] = chunk
    else:
        group.attrs[name] = data


def save_weights(group, layers):
    """Keras's save_weights_to_hdf5_group; layers = [(name, [(weight, array)])]."""
    save_attributes(group, "layer_names", [name.encode("utf8") for name, _ in layers])
    group.attrs["backend"] = b"tensorflow"
    group.attrs["keras_version"] = b"2.11.0"
    for name, weights in sorted(layers):
        g = group.create_group(name)
        names = [("%s/%s:0" % (name, w)).encode("utf8") for w, _ in weights]
        save_attributes(g, "weight_names", names)
        for (w, value), full in zip(weights, names):
            g.create_dataset(full.decode(), data=value)


def glorot(rng, shape, fan_in, fan_out):
    limit = np.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-limit, limit, shape).astype(np.float32)


def relu(x):
    return np.maximum(x, 0)


def softmax(x):
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def conv2d(x, w, b, padding):
    """x (B, H, W, C), w (kh, kw, C, F), stride 1; SAME pads as TensorFlow."""
    kh, kw = w.shape[:2]
    if padding == "same":
        ph, pw = kh - 1, kw - 1
        x = np.pad(x, ((0, 0), (ph // 2, ph - ph // 2), (pw // 2, pw - pw // 2), (0, 0)))
    oh, ow = x.shape[1] - kh + 1, x.shape[2] - kw + 1
    out = np.zeros((x.shape[0], oh, ow, w.shape[3]), np.float64)
    for i in range(kh):
        for j in range(kw):
            out += np.tensordot(x[:, i:i + oh, j:j + ow, :], w[i, j], axes=([3], [0]))
    return (out + b).astype(np.float32)


def maxpool2(x):
    b, h, w, c = x.shape
    return x[:, :h // 2 * 2, :w // 2 * 2].reshape(b, h // 2, 2, w // 2, 2, c).max(axis=(2, 4))


def dense(x, w, b):
    return (x.astype(np.float64) @ w + b).astype(np.float32)


def mlp(rng, out):
    sizes = [(784, 256), (256, 128), (128, 10)]
    names = ["dense", "dense_1", "dense_2"]
    params = [(glorot(rng, s, *s), rng.uniform(-0.1, 0.1, s[1]).astype(np.float32)) for s in sizes]
    layers = [("flatten", [])] + [(n, [("kernel", w), ("bias", b)]) for n, (w, b) in zip(names, params)]
    with h5py.File(os.path.join(out, "mlp_weights.h5"), "w") as f:
        save_weights(f, layers)
    x = rng.uniform(0, 1, (4, 28, 28, 1)).astype(np.float32)
    h = x.reshape(4, -1)
    for i, (w, b) in enumerate(params):
        h = dense(h, w, b)
        h = softmax(h) if i == 2 else relu(h)
    return x, h


def lenet5(rng, out):
    convs = [("conv2d", (5, 5, 1, 6)), ("conv2d_1", (5, 5, 6, 16))]
    denses = [("dense", (400, 120)), ("dense_1", (120, 84)), ("dense_2", (84, 10))]
    params = {}
    for name, s in convs:
        params[name] = (glorot(rng, s, 25 * s[2], 25 * s[3]), rng.uniform(-0.1, 0.1, s[3]).astype(np.float32))
    for name, s in denses:
        params[name] = (glorot(rng, s, *s), rng.uniform(-0.1, 0.1, s[1]).astype(np.float32))
    order = ["conv2d", "max_pooling2d", "conv2d_1", "max_pooling2d_1", "flatten", "dense", "dense_1", "dense_2"]
    layers = [(n, [("kernel", params[n][0]), ("bias", params[n][1])] if n in params else []) for n in order]
    config = json.load(open(os.path.join(SOURCE, "examples", "lenet5.json")))
    with h5py.File(os.path.join(out, "lenet5_model.h5"), "w") as f:
        f.attrs["keras_version"] = "2.11.0"
        f.attrs["backend"] = "tensorflow"
        f.attrs["model_config"] = json.dumps(
            {"class_name": config["class_name"], "config": config["config"]}).encode("utf8")
        save_weights(f.create_group("model_weights"), layers)
    x = rng.uniform(0, 1, (4, 28, 28, 1)).astype(np.float32)
    h = maxpool2(relu(conv2d(x, *params["conv2d"], "same")))
    h = maxpool2(relu(conv2d(h, *params["conv2d_1"], "valid")))
    h = h.reshape(4, -1)
    h = relu(dense(h, *params["dense"]))
    h = relu(dense(h, *params["dense_1"]))
    return x, softmax(dense(h, *params["dense_2"]))


def main():
    out = sys.argv[1]
    rng = np.random.default_rng(20261124)
    for name, make in (("mlp", mlp), ("lenet5", lenet5)):
        x, y = make(rng, out)
        x.astype("<f4").tofile(os.path.join(out, name + "_x.f32"))
        y.astype("<f4").tofile(os.path.join(out, name + "_y.f32"))


if __name__ == "__main__":
    main()
