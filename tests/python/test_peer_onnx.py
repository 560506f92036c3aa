"""spindle's layers against test data nobody in this project wrote: the ONNX
backend test cases in shared/peer-tests/onnx (PyTorch exports; see its
README). Each case spindle's Keras layers can express is converted
(tests/python/onnx_keras.py: NCHW -> channels_last, kernels
(cout, cin, k...) -> (k..., cin, cout)) and run by `spindle predict`:

- `--backend reference` in float, the unchanged graph: within the ONNX
  runner's rtol 1e-3, atol 1e-7;
- the emulated machine (default backend) in float, the same tolerance: the
  machine maps window layers only in front of Flatten -> Dense and runs an
  activation only as a Dense layer's own, so its model ends in a Dense layer
  with the identity kernel (exact in float) carrying the activation;
- the machine in fixed point: bit-identical to `--backend reference
  --numeric fixed` on the same model, and within a bound derived from the
  fixed-point formats spindle's calibration gives (docs/numerics.md).

Cases the converter cannot express are listed with the reason below; the
test fails when the folder holds a case in neither list.

The data is found at $SPINDLE_PEER_TESTS when set, else in the
repository's copy tests/data/peer-tests (its README); never skipped."""
import math
import os

import numpy as np
import pytest

from onnx_keras import Unsupported, convert, load_case
from spindle_cli import SOURCE, run

PEER = os.environ.get("SPINDLE_PEER_TESTS",
                      os.path.join(SOURCE, "tests", "data", "peer-tests"))
ONNX = os.path.join(PEER, "onnx")

NOT_EXPRESSIBLE = {
    "test_Conv2d_groups": "group=2: spindle's Conv2D takes groups=1 only",
    "test_Conv2d_depthwise": "group=4 (depthwise): spindle has no DepthwiseConv2D",
    "test_Conv2d_depthwise_padded": "group=4 (depthwise): spindle has no DepthwiseConv2D",
    "test_Conv2d_depthwise_strided": "group=4 (depthwise): spindle has no DepthwiseConv2D",
    "test_PReLU_1d": "PRelu: spindle has no PReLU layer (a learned slope)",
    "test_PReLU_2d": "PRelu: spindle has no PReLU layer (a learned slope)",
    "test_LogSoftmax": "LogSoftmax: not among spindle's activations",
    "test_log_softmax_lastdim": "LogSoftmax: not among spindle's activations",
    "test_SELU": "Selu: not among spindle's activations",
    "test_Softplus": "Softplus: not among spindle's activations",
    "test_ZeroPad2d": "Pad: spindle has no ZeroPadding2D (a graph of only a Pad has no "
                      "layer to test once the padding is moved into the data)",
    "test_operator_add_broadcast": "two graph inputs: a Sequential model has one",
    "test_operator_addmm": "three graph inputs (Gemm of inputs, not a Linear layer)",
    "test_operator_mm": "two graph inputs (Gemm of inputs, not a Linear layer)",
    "test_operator_basic": "two graph inputs, and Mul/Neg of tensors",
    "test_operator_view": "a (1,) input: a batch of scalars; a spindle sample has at least "
                          "(rows, cols)",
}

# Expressible, but the machine backend does not run them (the reference does).
REFERENCE_ONLY = {
    "test_BatchNorm1d_3d_input_eval": "the partitioner does not map BatchNormalization",
    "test_BatchNorm2d_eval": "the partitioner does not map BatchNormalization",
    "test_BatchNorm2d_momentum_eval": "the partitioner does not map BatchNormalization",
    "test_ELU": "the machine runs an activation only as a Dense layer's own, whose "
                "config has no ELU alpha (2.0 here)",
    "test_LeakyReLU": "the machine runs an activation only as a Dense layer's own, whose "
                      "leaky_relu slope is fixed at 0.2 (0.01 here)",
    "test_LeakyReLU_with_negval": "the machine runs an activation only as a Dense layer's "
                                  "own, whose leaky_relu slope is fixed at 0.2 (0.5 here)",
}

MACHINE = [
    "test_AvgPool1d", "test_AvgPool1d_stride", "test_AvgPool2d", "test_AvgPool2d_stride",
    "test_Conv1d", "test_Conv1d_pad1", "test_Conv1d_pad2", "test_Conv1d_stride",
    "test_Conv2d", "test_Conv2d_dilated", "test_Conv2d_no_bias", "test_Conv2d_padding",
    "test_Conv2d_strided", "test_Linear", "test_Linear_no_bias",
    "test_MaxPool1d", "test_MaxPool1d_stride", "test_MaxPool2d",
    "test_ReLU", "test_Sigmoid", "test_Softmax", "test_Tanh", "test_softmax_lastdim",
    "test_operator_conv", "test_operator_flatten", "test_operator_maxpool",
]
COVERED = sorted(MACHINE + list(REFERENCE_ONLY))

# Large cases run on the machine on part of their data: (samples, input
# rows and columns). A valid stride-1 convolution of a crop is the crop of
# its output, so the expected output is cropped alike.
MACHINE_CROP = {"test_operator_conv": (2, 8), "test_operator_maxpool": (4, None)}

# What each covered case's converted model computes: a silently changed
# conversion (a case falling back to fewer layers) fails here.
EXPECTED_KINDS = {
    "test_Conv2d_dilated": ["input pre-padded", "Conv2D", "MaxPooling2D",
                            "stride as a 1-wide pooling"],
    "test_Conv2d_padding": ["input pre-padded", "Conv2D"],
}


def onnx_dir():
    if not os.path.isdir(ONNX):
        pytest.fail(f"peer test data not found: {ONNX} is not a folder (the "
                    "repository's copy is tests/data/peer-tests; SPINDLE_PEER_TESTS names "
                    "another folder holding onnx/)")
    return ONNX


def case(name, crop=None):
    """The conversion of case @name and its expected output in spindle's
    layout; @crop = (samples, size) cuts the input as MACHINE_CROP says."""
    model, inputs, outputs = load_case(os.path.join(onnx_dir(), name))
    x, y = inputs[0], outputs[0]
    if crop:
        n, size = crop
        x, y = x[:n], y[:n]
        if size:
            x = x[:, :, :size, :size]
            c = convert(model, [x])
            y = y[(slice(None), slice(None)) + tuple(slice(0, s) for s in c.shape[2:])]
    c = convert(model, [x])
    return c, y


def predict(c, folder, *options):
    model, weights, data = c.write(str(folder))
    out = folder / "p.npy"
    r = run("predict", model, "--weights", weights, "--data", data, "--output", str(out),
            *options, timeout=120)
    assert r.returncode == 0, r.stderr
    return np.load(out)


def assert_close(got, want, rtol=1e-3, atol=1e-7):
    got = got.reshape(want.shape)
    err = np.abs(got - want)
    worst = np.unravel_index(np.argmax(err - rtol * np.abs(want)), want.shape)
    assert np.all(err <= atol + rtol * np.abs(want)), (
        f"at {worst}: got {got[worst]!r}, ONNX {want[worst]!r} (tolerance {atol} + {rtol}*|want|)")


def frac_for(max_abs, headroom, hi):
    """spd_numeric_frac_for: the calibrated fraction bits of a tensor."""
    if max_abs <= 0:
        return hi
    return min(max(math.floor(math.log2(32767 / (max_abs * headroom))), 2), hi)


def half_lsb(frac):
    return 2.0 ** -(frac + 1)


def fixed_tolerance(c, act):
    """The largest |fixed - exact| the formats allow for conversion @c
    whose output layer has activation @act (docs/numerics.md: input at frac
    frac_for(max|x|, 1, 14), weights frac_for(max|w|, 4, 14), hidden and
    linear outputs frac_for(max, 4, 11), sigmoid/tanh/softmax at 14; one
    rounding to nearest of each, exact int64 sums). Maxima are upper bounds
    (max|x| times the largest row of |w| sums), so the fracs are never
    above the calibrated ones."""
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
    if act in ("linear", "relu"):
        return err + half_lsb(frac_for(y_max, 4, 11))
    lipschitz = {"sigmoid": 0.25, "tanh": 1.0, "softmax": 2.0}[act]
    return lipschitz * err + 2.0 ** -14


def test_every_case_is_accounted_for():
    present = sorted(d for d in os.listdir(onnx_dir()) if d.startswith("test_"))
    assert present == sorted(COVERED + list(NOT_EXPRESSIBLE))
    assert len(COVERED) == 32 and len(MACHINE) == 26


@pytest.mark.parametrize("name", sorted(NOT_EXPRESSIBLE))
def test_not_expressible_is_refused(name):
    with pytest.raises(Unsupported):
        case(name)


@pytest.mark.parametrize("name", COVERED)
def test_reference_float(name, tmp_path):
    c, want = case(name)
    assert c.kinds == EXPECTED_KINDS.get(name, c.kinds)
    got = predict(c, tmp_path, "--backend", "reference")
    assert_close(got, c.expected_layout(want))


@pytest.mark.parametrize("name", MACHINE)
def test_machine_float(name, tmp_path):
    c, want = case(name, MACHINE_CROP.get(name))
    c.readout()
    assert c.layers[-1]["class_name"] == "Dense"
    got = predict(c, tmp_path, "--numeric", "float")
    assert_close(got, c.expected_layout(want))


@pytest.mark.parametrize("name", MACHINE)
def test_machine_fixed(name, tmp_path):
    c, want = case(name, MACHINE_CROP.get(name))
    c.readout()
    got = predict(c, tmp_path / "machine", "--numeric", "fixed")
    ref = predict(c, tmp_path / "reference", "--backend", "reference", "--numeric", "fixed")
    assert np.array_equal(got, ref)
    tol = fixed_tolerance(c, c.layers[-1]["config"]["activation"])
    want = c.expected_layout(want)
    assert tol < 0.01 * max(float(np.abs(want).max()), 1.0)  # a bound that means something
    assert_close(got, want, rtol=0, atol=tol)
