"""spindle's layers against test data nobody in this project wrote: the ONNX
backend test cases in shared/peer-tests/onnx (PyTorch exports, opset 6; see
its README), read by spindle's native ONNX reader (src/io/onnx_*.c) through
`spindle predict MODEL.onnx --input X.npy`, the input and output in ONNX's
own NCHW layout:

- `--backend reference` in float on the unchanged file: within the ONNX
  runner's rtol 1e-3, atol 1e-7;
- the emulated machine (default backend) in float, the same tolerance: the
  machine maps window layers only in front of Flatten -> Dense and runs an
  activation only as a Dense layer's own, so the test appends to the ONNX
  graph (with onnx.helper) a Flatten and a MatMul by the identity (exact in
  float and in fixed point) that takes over a final activation;
- the machine in fixed point: bit-identical to `--backend reference
  --numeric fixed` on the same file, and within a bound derived from the
  fixed-point formats spindle's calibration gives (docs/numerics.md).

Cases the reader refuses are listed with the words its one-line error must
contain; the test fails when the folder holds a case in neither list.

The data is found at $SPINDLE_PEER_TESTS when set, else in the
repository's copy tests/data/peer-tests (its README); never skipped."""
import math
import os

import numpy as np
import onnx
import pytest
from onnx import helper, numpy_helper

from spindle_cli import SOURCE, run

PEER = os.environ.get("SPINDLE_PEER_TESTS",
                      os.path.join(SOURCE, "tests", "data", "peer-tests"))
ONNX = os.path.join(PEER, "onnx")

# What the reader refuses, and what its error names.
REFUSED = {
    "test_PReLU_1d": "PRelu (node",
    "test_PReLU_2d": "PRelu (node",
    "test_LogSoftmax": "LogSoftmax (node",
    "test_log_softmax_lastdim": "LogSoftmax (node",
    "test_SELU": "Selu (node",
    "test_Softplus": "Softplus (node",
    "test_ZeroPad2d": "folds zero padding only into the Conv",
    "test_operator_add_broadcast": "graph has 2 inputs",
    "test_operator_addmm": "graph has 3 inputs",
    "test_operator_mm": "graph has 2 inputs",
    "test_operator_basic": "Mul (node '3'), Neg (node '6')",
    "test_operator_view": "has rank 1",
}

# Read, but the machine does not run them (the reference does).
REFERENCE_ONLY = {
    "test_BatchNorm1d_3d_input_eval": "the partitioner does not map BatchNormalization",
    "test_BatchNorm2d_eval": "the partitioner does not map BatchNormalization",
    "test_BatchNorm2d_momentum_eval": "the partitioner does not map BatchNormalization",
    "test_Conv2d_groups": "the machine's kernels have no grouped convolution",
    "test_Conv2d_depthwise": "the machine's kernels have no grouped convolution",
    "test_Conv2d_depthwise_padded": "the machine's kernels have no grouped convolution",
    "test_Conv2d_depthwise_strided": "the machine's kernels have no grouped convolution",
    "test_Conv2d_dilated": "the machine's kernels take strides or dilation, not both",
    "test_AvgPool1d": "a Reshape (Unsqueeze) in front of the pooling",
    "test_AvgPool1d_stride": "a Reshape (Unsqueeze) in front of the pooling",
    "test_ELU": "the machine's Dense runs ELU with alpha 1 only (2.0 here)",
    "test_LeakyReLU": "the machine's leaky_relu slope is fixed at 0.2 (0.01 here)",
    "test_LeakyReLU_with_negval": "the machine's leaky_relu slope is fixed at 0.2 (0.5 here)",
}

MACHINE = [
    "test_AvgPool2d", "test_AvgPool2d_stride",
    "test_Conv1d", "test_Conv1d_pad1", "test_Conv1d_pad2", "test_Conv1d_stride",
    "test_Conv2d", "test_Conv2d_no_bias", "test_Conv2d_padding", "test_Conv2d_strided",
    "test_Linear", "test_Linear_no_bias",
    "test_MaxPool1d", "test_MaxPool1d_stride", "test_MaxPool2d",
    "test_ReLU", "test_Sigmoid", "test_Softmax", "test_Tanh", "test_softmax_lastdim",
    "test_operator_conv", "test_operator_flatten", "test_operator_maxpool",
]
READ = sorted(MACHINE + list(REFERENCE_ONLY))

# Large cases run on the machine on part of their data: (samples, input
# rows and columns). A valid stride-1 convolution of a crop is the crop of
# its output, so the expected output is cropped alike.
MACHINE_CROP = {"test_operator_conv": (2, 8), "test_operator_maxpool": (4, None)}

ACTIVATIONS = {"Relu": "relu", "Sigmoid": "sigmoid", "Tanh": "tanh", "Softmax": "softmax"}


def onnx_dir():
    if not os.path.isdir(ONNX):
        pytest.fail(f"peer test data not found: {ONNX} is not a folder (the "
                    "repository's copy is tests/data/peer-tests; SPINDLE_PEER_TESTS names "
                    "another folder holding onnx/)")
    return ONNX


def load_case(name):
    """(model path, input, expected output) of case @name."""
    folder = os.path.join(onnx_dir(), name)
    data = os.path.join(folder, "test_data_set_0")

    def tensor(f):
        return numpy_helper.to_array(onnx.load_tensor(os.path.join(data, f)))

    return os.path.join(folder, "model.onnx"), tensor("input_0.pb"), tensor("output_0.pb")


def predict(model, x, folder, *options):
    folder.mkdir(parents=True, exist_ok=True)
    np.save(folder / "x.npy", x)
    out = folder / "y.npy"
    r = run("predict", str(model), "--input", str(folder / "x.npy"), "--output", str(out),
            *options, timeout=300)
    assert r.returncode == 0, r.stderr
    assert "Traceback" not in r.stderr
    return np.load(out)


def assert_close(got, want, rtol=1e-3, atol=1e-7):
    assert got.shape == want.shape, f"shape {got.shape}, ONNX {want.shape}"
    err = np.abs(got - want)
    worst = np.unravel_index(np.argmax(err - rtol * np.abs(want)), want.shape)
    assert np.all(err <= atol + rtol * np.abs(want)), (
        f"at {worst}: got {got[worst]!r}, ONNX {want[worst]!r} (tolerance {atol} + {rtol}*|want|)")


class MachineCase:
    """Case @name as the machine maps it: cropped (MACHINE_CROP) and, unless
    it ends in a Gemm, with a Flatten and an identity MatMul appended that
    take over a final activation."""

    def __init__(self, name, folder):
        path, x, y = load_case(name)
        m = onnx.load(path)
        g = m.graph
        inits = {t.name: numpy_helper.to_array(t) for t in g.initializer}
        crop = MACHINE_CROP.get(name)
        if crop:
            n, size = crop
            x, y = x[:n], y[:n]
            if size:
                k = [inits[nd.input[1]] for nd in g.node if nd.op_type == "Conv"][0].shape[2:]
                x = x[:, :, :size, :size]
                y = y[:, :, :size - k[0] + 1, :size - k[1] + 1]
            shape = g.input[[i.name for i in g.input].index(
                [i.name for i in g.input if i.name not in inits][0])].type.tensor_type.shape
            for d, v in zip(shape.dim, x.shape):
                d.dim_value = v
        self.x, self.act, self.read_out = x, "linear", False
        kernel = [nd for nd in g.node if nd.op_type in ("Conv", "Gemm", "MatMul")]
        self.taps, self.weight_max, self.bound_max = 0, 0.0, 0.0
        if kernel:
            nd = kernel[0]
            made = {o: n for n in g.node for o in n.output}
            w = inits[nd.input[1]] if nd.input[1] in inits else \
                inits[made[nd.input[1]].input[0]].T  # a weight stored transposed
            b = inits[nd.input[2]] if len(nd.input) > 2 and nd.input[2] in inits else None
            trans = any(a.name == "transB" and a.i for a in nd.attribute)
            if nd.op_type == "Conv":
                rows = np.abs(w).reshape(w.shape[0], -1).sum(1)
                self.taps = int(np.prod(w.shape[1:]))
            else:
                rows = np.abs(w).sum(1 if trans else 0)
                self.taps = int(w.shape[1] if trans else w.shape[0])
            self.weight_max = float(np.abs(w).max())
            self.bound_max = float(np.abs(x).max() * rows.max() +
                                   (np.abs(b).max() if b is not None else 0.0))
        last = g.node[-1]
        if last.op_type not in ("Gemm", "MatMul"):
            self.read_out = True
            src = g.output[0].name
            if last.op_type in ACTIVATIONS:
                self.act = ACTIVATIONS[last.op_type]
                src = last.input[0]
                g.node.remove(last)
            f = int(np.prod(y.shape[1:]))
            eye = numpy_helper.from_array(np.eye(f, dtype=np.float32), "readout_eye")
            g.initializer.append(eye)
            nodes = [helper.make_node("Flatten", [src], ["readout_flat"], axis=1),
                     helper.make_node("MatMul", ["readout_flat", "readout_eye"],
                                      ["readout_lin" if self.act != "linear" else "readout"])]
            if self.act != "linear":
                op = [k for k, v in ACTIVATIONS.items() if v == self.act][0]
                extra = {"axis": 1} if op == "Softmax" else {}
                nodes.append(helper.make_node(op, ["readout_lin"], ["readout"], **extra))
            g.node.extend(nodes)
            del g.output[:]
            g.output.append(helper.make_tensor_value_info("readout", onnx.TensorProto.FLOAT,
                                                          [x.shape[0], f]))
            y = y.reshape(y.shape[0], -1)
        self.y = y
        folder.mkdir(parents=True, exist_ok=True)
        self.model = folder / "model.onnx"
        onnx.save(m, str(self.model))


def frac_for(max_abs, headroom, hi):
    """spd_numeric_frac_for: the calibrated fraction bits of a tensor."""
    if max_abs <= 0:
        return hi
    return min(max(math.floor(math.log2(32767 / (max_abs * headroom))), 2), hi)


def half_lsb(frac):
    return 2.0 ** -(frac + 1)


def fixed_tolerance(c):
    """The largest |fixed - exact| the formats allow for case @c
    (docs/numerics.md: input at frac frac_for(max|x|, 1, 14), weights
    frac_for(max|w|, 4, 14), hidden and linear outputs frac_for(max, 4, 11),
    sigmoid/tanh/softmax at 14; one rounding to nearest of each, exact int64
    sums). Maxima are upper bounds (max|x| times the largest row of |w|
    sums), so the fracs are never above the calibrated ones."""
    x_max = float(np.abs(c.x).max())
    ex = half_lsb(frac_for(x_max, 1, 14))
    if c.taps:
        ew = half_lsb(frac_for(c.weight_max, 4, 14))
        ea = half_lsb(frac_for(c.bound_max, 4, 11))
        err = c.taps * (x_max * ew + c.weight_max * ex + ex * ew) + 2.0 ** -25 + 2.0 ** -17 + ea
        y_max = c.bound_max
    else:
        err = 2 * ex  # max pooling: the quantised input; average: + its one rounding
        y_max = x_max
    if not c.read_out:
        return err  # the kernel layer is the output: its rounding is counted
    if c.act in ("linear", "relu"):
        return err + half_lsb(frac_for(y_max, 4, 11))
    lipschitz = {"sigmoid": 0.25, "tanh": 1.0, "softmax": 2.0}[c.act]
    return lipschitz * err + 2.0 ** -14


def test_every_case_is_accounted_for():
    present = sorted(d for d in os.listdir(onnx_dir()) if d.startswith("test_"))
    assert present == sorted(READ + list(REFUSED))
    assert len(READ) == 36 and len(MACHINE) == 23


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_refused_with_a_clear_error(name, tmp_path):
    model, x, _ = load_case(name)
    np.save(tmp_path / "x.npy", x)
    r = run("predict", model, "--input", str(tmp_path / "x.npy"), "--output",
            str(tmp_path / "y.npy"), "--backend", "reference")
    assert r.returncode == 1
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and REFUSED[name] in lines[0], r.stderr
    assert not (tmp_path / "y.npy").exists()


@pytest.mark.parametrize("name", READ)
def test_reference_float(name, tmp_path):
    model, x, want = load_case(name)
    got = predict(model, x, tmp_path, "--backend", "reference")
    assert_close(got, want)


@pytest.mark.parametrize("name", MACHINE)
def test_machine_float(name, tmp_path):
    c = MachineCase(name, tmp_path)
    got = predict(c.model, c.x, tmp_path / "machine", "--numeric", "float")
    assert_close(got, c.y)


@pytest.mark.parametrize("name", MACHINE)
def test_machine_fixed(name, tmp_path):
    c = MachineCase(name, tmp_path)
    got = predict(c.model, c.x, tmp_path / "machine", "--numeric", "fixed")
    ref = predict(c.model, c.x, tmp_path / "reference", "--backend", "reference",
                  "--numeric", "fixed")
    assert np.array_equal(got, ref)
    tol = fixed_tolerance(c)
    assert tol < 0.01 * max(float(np.abs(c.y).max()), 1.0)  # a bound that means something
    assert_close(got, c.y, rtol=0, atol=tol)
