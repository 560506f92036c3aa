"""Converts the small ONNX graphs of the peer test data
(shared/peer-tests/onnx, PyTorch exports at opset 6) into what spindle reads:
a tf.keras 2 Sequential model JSON (channels_last), a weights file in
tf.keras 2's save_weights() layout, and the graph input as a float32 IDX
dataset. Only a chain with one graph input is converted; anything else
raises Unsupported with the reason.

Layouts: an ONNX tensor (N, C, *spatial) is (N, *spatial, C) for Keras; a
(N, F) tensor stays as it is (written as (N, 1, F) samples, which a leading
Flatten turns back into F values). Padding: pads equal to TensorFlow's
'same' or all zero ('valid') map to that padding; other zero padding of the
graph's first Conv is applied to the input data (exact: zero padding is
what the convolution would read), anywhere else it is Unsupported.
"""
import json
import os
import struct

import h5py
import numpy as np
import onnx
from onnx import numpy_helper

from keras_h5_writer import save_weights


class Unsupported(Exception):
    """The graph uses something spindle's Keras layers cannot express."""


def load_case(folder):
    """(model, [inputs], [outputs]) of an ONNX backend test folder."""
    model = onnx.load(os.path.join(folder, "model.onnx"))
    data = os.path.join(folder, "test_data_set_0")

    def tensors(prefix):
        names = sorted((f for f in os.listdir(data) if f.startswith(prefix)),
                       key=lambda f: int(f[len(prefix):-3]))
        return [numpy_helper.to_array(onnx.load_tensor(os.path.join(data, f))) for f in names]

    return model, tensors("input_"), tensors("output_")


def to_keras(a):
    """ONNX layout (N, C, *spatial) -> Keras (N, *spatial, C); rank 2 unchanged."""
    return np.moveaxis(a, 1, -1) if a.ndim >= 3 else a


def from_keras(a):
    return np.moveaxis(a, -1, 1) if a.ndim >= 3 else a


def write_idx_f32(path, array):
    """An IDX file of big-endian float32 (type 0x0D)."""
    header = struct.pack(">HBB", 0, 0x0D, array.ndim)
    header += b"".join(struct.pack(">I", d) for d in array.shape)
    with open(path, "wb") as f:
        f.write(header + array.astype(">f4").tobytes())


def write_dataset(folder, x):
    """@x (N, ...) as the test split, and the same samples as the training
    split (spindle requires both), with zero labels."""
    os.makedirs(folder, exist_ok=True)
    for prefix in ("train", "t10k"):
        write_idx_f32(os.path.join(folder, f"{prefix}-images-idx3-ubyte"), x)
        header = struct.pack(">HBBI", 0, 0x08, 1, x.shape[0])
        with open(os.path.join(folder, f"{prefix}-labels-idx1-ubyte"), "wb") as f:
            f.write(header + bytes(x.shape[0]))


def attributes(node):
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def tf_same_before(size, k, s, d):
    """TensorFlow's SAME padding before the first element, and its output size."""
    out = -(-size // s)
    total = max((out - 1) * s + d * (k - 1) + 1 - size, 0)
    return total // 2, out


def padding_of(spatial, kernel, strides, dilations, pads):
    """'valid' or 'same' when ONNX's explicit pads give exactly that, else None."""
    n = len(spatial)
    begin, end = pads[:n], pads[n:]
    if not any(pads):
        return "valid"
    for size, k, s, d, b, e in zip(spatial, kernel, strides, dilations, begin, end):
        before, out = tf_same_before(size, k, s, d)
        if b != before or (size + b + e - d * (k - 1) - 1) // s + 1 != out:
            return None
    return "same"


def layer(class_name, name, **config):
    base = {"name": name, "trainable": True, "dtype": "float32"}
    return {"class_name": class_name, "config": {**base, **config}}


def initialisers():
    return {"kernel_initializer": {"class_name": "GlorotUniform", "config": {"seed": None}},
            "bias_initializer": {"class_name": "Zeros", "config": {}},
            "kernel_regularizer": None, "bias_regularizer": None,
            "activity_regularizer": None, "kernel_constraint": None, "bias_constraint": None}


class Conversion:
    """The result: Keras layers and weights, the input as spindle reads it,
    and how spindle's output maps back to the ONNX output."""

    def __init__(self, x):
        self.layers = []      # Keras layer dicts, without the InputLayer
        self.weights = []     # (layer name, [(weight name, array)])
        self.counts = {}
        self.x = to_keras(x)  # the samples as spindle reads them
        self.input_shape = list(self.x.shape[1:])
        self.shape = list(x.shape)   # the current ONNX shape
        self.flattened_from = None   # ONNX shape before a final Flatten
        self.kinds = []              # what the model computes, for the tests
        # For the fixed-point tolerance: the kernel layer's taps per output,
        # largest |weight| and an upper bound of its largest |output|.
        self.taps, self.weight_max, self.bound_max = 0, 0.0, 0.0
        self.read_out = False  # readout() appended a Dense layer

    def name(self, base):
        n = self.counts.get(base, 0)
        self.counts[base] = n + 1
        return base if n == 0 else f"{base}_{n}"

    def add(self, class_name, base, weights=(), **config):
        name = self.name(base)
        self.layers.append(layer(class_name, name, **config))
        self.weights.append((name, list(weights)))
        self.kinds.append(class_name)
        return name

    def model_json(self):
        shape = [None, *self.input_shape]
        first = {"class_name": "InputLayer",
                 "config": {"batch_input_shape": shape, "dtype": "float32", "sparse": False,
                            "ragged": False, "name": self.layers[0]["config"]["name"] + "_input"}}
        self.layers[0]["config"]["batch_input_shape"] = shape
        return {"class_name": "Sequential",
                "config": {"name": "sequential", "layers": [first, *self.layers]},
                "keras_version": "2.11.0", "backend": "tensorflow"}

    def write(self, folder):
        """model.json, weights.h5 and the dataset folder data/ in @folder."""
        os.makedirs(folder, exist_ok=True)
        model = os.path.join(folder, "model.json")
        with open(model, "w") as f:
            json.dump(self.model_json(), f)
        weights = os.path.join(folder, "weights.h5")
        with h5py.File(weights, "w") as f:
            save_weights(f, self.weights)
        data = os.path.join(folder, "data")
        write_dataset(data, self.x)
        return model, weights, data

    def expected_layout(self, y):
        """The ONNX output @y in the layout spindle's output has."""
        if self.flattened_from is not None:
            return to_keras(y.reshape(self.flattened_from)).reshape(y.shape[0], -1)
        return to_keras(y)

    # -- nodes --

    def conv(self, node, w, b, first):
        a = attributes(node)
        if a.get("group", 1) != 1:
            raise Unsupported(f"Conv group={a['group']}: spindle's Conv1D/Conv2D take groups=1 only")
        n = w.ndim - 2
        if n not in (1, 2):
            raise Unsupported(f"{n}-D Conv")
        kernel = list(w.shape[2:])
        strides = list(a.get("strides", [1] * n))
        dil = list(a.get("dilations", [1] * n))
        pads = list(a.get("pads", [0] * 2 * n))
        padding = padding_of(self.shape[2:], kernel, strides, dil, pads)
        if padding is None:
            if not first:
                raise Unsupported(f"Conv pads {pads} are neither 'same' nor 'valid'")
            # Zero padding in front of the first layer is the input's own.
            widths = [(0, 0)] + [(pads[i], pads[n + i]) for i in range(n)] + [(0, 0)]
            self.x = np.pad(self.x, widths)
            self.input_shape = list(self.x.shape[1:])
            self.shape = self.shape[:2] + [s + pads[i] + pads[n + i]
                                           for i, s in enumerate(self.shape[2:])]
            self.kinds.append("input pre-padded")
            padding = "valid"
        out = [(s - d * (k - 1) - 1) // st + 1 if padding == "valid" else -(-s // st)
               for s, k, st, d in zip(self.shape[2:], kernel, strides, dil)]
        # ONNX (cout, cin, *k) -> Keras (*k, cin, cout)
        weights = [("kernel", np.ascontiguousarray(np.moveaxis(w, (0, 1), (-1, -2))))]
        if b is not None:
            weights.append(("bias", b))
        cls = f"Conv{n}D"
        subsample = padding == "valid" and max(strides) > 1 and max(dil) > 1
        self.add(cls, cls.lower(), weights, filters=int(w.shape[0]),
                 kernel_size=kernel, strides=[1] * n if subsample else strides,
                 padding=padding, data_format="channels_last", dilation_rate=dil, groups=1,
                 activation="linear", use_bias=b is not None, **initialisers())
        self.taps = int(np.prod(w.shape[1:]))
        self.weight_max = float(np.abs(w).max())
        self.bound_max = float(np.abs(self.x).max() * np.abs(w).reshape(w.shape[0], -1).sum(1).max()
                               + (np.abs(b).max() if b is not None else 0.0))
        if subsample:
            # Keras refuses strides together with dilation; a valid
            # convolution's stride is the stride-1 one subsampled, which a
            # 1-wide max pooling with that stride does exactly.
            self.add(f"MaxPooling{n}D", f"max_pooling{n}d", pool_size=[1] * n,
                     padding="valid", strides=strides, data_format="channels_last")
            self.kinds.append("stride as a 1-wide pooling")
        self.shape = [self.shape[0], int(w.shape[0]), *out]

    def pool(self, op, kernel, strides, pads):
        n = len(kernel)
        padding = padding_of(self.shape[2:], kernel, strides, [1] * n, pads)
        if padding is None:
            raise Unsupported(f"{op} pads {pads} are neither 'same' nor 'valid'")
        out = [(s - k) // st + 1 if padding == "valid" else -(-s // st)
               for s, k, st in zip(self.shape[2:], kernel, strides)]
        cls = ("MaxPooling" if op == "MaxPool" else "AveragePooling") + f"{n}D"
        base = ("max_pooling" if op == "MaxPool" else "average_pooling") + f"{n}d"
        self.add(cls, base, pool_size=list(kernel), padding=padding, strides=list(strides),
                 data_format="channels_last")
        self.shape = self.shape[:2] + out

    def dense_bounds(self, kernel, b):
        self.taps = int(kernel.shape[0])
        self.weight_max = float(np.abs(kernel).max())
        self.bound_max = float(np.abs(self.x).max() * np.abs(kernel).sum(0).max()
                               + (np.abs(b).max() if b is not None else 0.0))

    def readout(self):
        """Make the model one the machine maps: its window layers must end
        in a Flatten and Dense layers, and it runs an activation only as a
        Dense layer's own. Appends a Dense layer with the identity kernel
        (no bias; exact in float, and 1.0 is exact in fixed point) that takes
        over a final Activation layer."""
        last = self.layers[-1]
        if last["class_name"] == "Dense":
            return
        self.read_out = True
        act = "linear"
        if last["class_name"] == "Activation":
            act = last["config"]["activation"]
            self.layers.pop()
            self.weights.pop()
            self.kinds.append("activation in the read-out")
        if len(self.layers) == 0 or self.layers[-1]["class_name"] != "Flatten":
            self.add("Flatten", "flatten", data_format="channels_last")
        n = int(np.prod(self.shape[1:]))
        self.add("Dense", "dense", [("kernel", np.eye(n, dtype=np.float32))], units=n,
                 activation=act, use_bias=False, **initialisers())
        self.kinds[-1] = "identity Dense read-out"

    def activation(self, kind, **extra):
        if extra:
            cls = {"leaky_relu": "LeakyReLU", "elu": "ELU"}[kind]
            self.add(cls, cls.lower().replace("leakyrelu", "leaky_re_lu"), **extra)
        else:
            self.add("Activation", "activation", activation=kind)


ACTIVATIONS = {"Relu": "relu", "Sigmoid": "sigmoid", "Tanh": "tanh"}


def convert(model, inputs):
    """A Conversion of @model fed with @inputs, or Unsupported."""
    g = model.graph
    inits = {t.name: numpy_helper.to_array(t) for t in g.initializer}
    graph_inputs = [i.name for i in g.input if i.name not in inits]
    if len(graph_inputs) != 1 or len(inputs) != 1:
        raise Unsupported(f"{len(graph_inputs)} graph inputs: a Sequential model has one")
    if len(g.output) != 1:
        raise Unsupported("several graph outputs")
    x = inputs[0]
    if x.ndim < 2:
        raise Unsupported(f"input of shape {x.shape}: no feature axis beyond the batch")
    c = Conversion(x)
    if x.ndim == 2:
        # (N, F) samples are read as (1, F) images; Flatten gives back F.
        c.x = x.reshape(x.shape[0], 1, x.shape[1])
        c.input_shape = [1, x.shape[1]]
        c.add("Flatten", "flatten", data_format="channels_last")
    nodes = list(g.node)
    current = graph_inputs[0]
    i = 0
    while i < len(nodes):
        node = nodes[i]
        if list(node.input)[:1] != [current] and node.op_type != "Transpose":
            raise Unsupported(f"{node.op_type} does not read the previous node: not a chain")
        a = attributes(node)
        op = node.op_type
        if op == "Unsqueeze" and i + 2 < len(nodes) and nodes[i + 2].op_type == "Squeeze" \
                and nodes[i + 1].op_type in ("AveragePool", "MaxPool") \
                and a.get("axes") == [len(c.shape)] \
                and attributes(nodes[i + 2]).get("axes") == [len(c.shape)]:
            # PyTorch's AvgPool1d export: a 2-D pooling over (L, 1) is the 1-D one.
            p = attributes(nodes[i + 1])
            k, s, pads = p["kernel_shape"], p.get("strides", [1, 1]), p.get("pads", [0] * 4)
            if k[1] != 1 or s[1] != 1 or pads[1] or pads[3]:
                raise Unsupported("Unsqueeze + 2-D pooling over the added axis")
            c.pool(nodes[i + 1].op_type, [k[0]], [s[0]], [pads[0], pads[2]])
            current = nodes[i + 2].output[0]
            i += 3
            continue
        if op == "Conv":
            w = inits.get(node.input[1])
            b = inits.get(node.input[2]) if len(node.input) > 2 else None
            if w is None or (len(node.input) > 2 and b is None):
                raise Unsupported("Conv weights that are not initialisers")
            c.conv(node, w, b, first=not c.layers)
        elif op in ("MaxPool", "AveragePool"):
            n = len(a["kernel_shape"])
            if a.get("auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET"):
                raise Unsupported("auto_pad")
            c.pool(op, a["kernel_shape"], a.get("strides", [1] * n), a.get("pads", [0] * 2 * n))
        elif op == "Gemm":
            w = inits.get(node.input[1])
            b = inits.get(node.input[2]) if len(node.input) > 2 else None
            if w is None or (len(node.input) > 2 and b is None) or len(c.shape) != 2:
                raise Unsupported("Gemm of graph inputs, not a Linear layer")
            if a.get("alpha", 1.0) != 1.0 or a.get("beta", 1.0) != 1.0 or a.get("transA", 0):
                raise Unsupported("Gemm with alpha, beta or transA")
            kernel = w.T if a.get("transB", 0) else w
            weights = [("kernel", np.ascontiguousarray(kernel))]
            if b is not None:
                weights.append(("bias", np.broadcast_to(b, kernel.shape[1:]).copy()))
            c.add("Dense", "dense", weights, units=int(kernel.shape[1]), activation="linear",
                  use_bias=b is not None, **initialisers())
            c.dense_bounds(kernel, b)
            c.shape = [c.shape[0], int(kernel.shape[1])]
        elif op == "Transpose" and i + 1 < len(nodes) and nodes[i + 1].op_type == "MatMul" \
                and node.input[0] in inits and nodes[i + 1].input[1] == node.output[0] \
                and nodes[i + 1].input[0] == current and len(c.shape) == 2:
            # PyTorch's Linear without bias: x @ W^T.
            kernel = inits[node.input[0]].transpose(a["perm"])
            c.add("Dense", "dense", [("kernel", np.ascontiguousarray(kernel))],
                  units=int(kernel.shape[1]), activation="linear", use_bias=False,
                  **initialisers())
            c.dense_bounds(kernel, None)
            c.shape = [c.shape[0], int(kernel.shape[1])]
            current = nodes[i + 1].output[0]
            i += 2
            continue
        elif op in ACTIVATIONS:
            c.activation(ACTIVATIONS[op])
        elif op == "LeakyRelu":
            c.activation("leaky_relu", alpha=a.get("alpha", 0.01))
        elif op == "Elu":
            c.activation("elu", alpha=a.get("alpha", 1.0))
        elif op == "Softmax":
            if len(c.shape) != 2 or a.get("axis", 1) not in (1, -1):
                raise Unsupported("Softmax over an axis other than a (N, F) tensor's last")
            c.activation("softmax")
        elif op == "Flatten":
            if a.get("axis", 1) != 1 or i != len(nodes) - 1:
                raise Unsupported("Flatten other than axis 1 as the graph's last node")
            if len(c.shape) > 2:
                c.flattened_from = list(c.shape)
            c.add("Flatten", "flatten", data_format="channels_last")
            c.shape = [c.shape[0], int(np.prod(c.shape[1:]))]
        elif op == "BatchNormalization":
            if not a.get("is_test", 0) and len(node.output) > 1:
                raise Unsupported("BatchNormalization in training mode")
            gamma, beta, mean, var = (inits.get(n) for n in node.input[1:5])
            if any(t is None for t in (gamma, beta, mean, var)):
                raise Unsupported("BatchNormalization parameters that are not initialisers")
            c.add("BatchNormalization", "batch_normalization",
                  [("gamma", gamma), ("beta", beta), ("moving_mean", mean),
                   ("moving_variance", var)],
                  axis=-1, momentum=float(a.get("momentum", 0.9)),
                  epsilon=float(a.get("epsilon", 1e-5)), center=True, scale=True)
        else:
            raise Unsupported(f"ONNX operator {op}")
        current = node.output[0]
        i += 1
    if current != g.output[0].name:
        raise Unsupported("the graph's output is not its last node's")
    if not c.layers:
        raise Unsupported("no layer")
    return c
