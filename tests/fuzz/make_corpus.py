#!/usr/bin/python3
"""Writes the seed corpus of the fuzz harnesses into tests/fuzz/corpus/:
the repository's example models and test data, and small files of every
layout each reader accepts, written by spindle itself (`spindle convert`),
h5py and numpy. Run once after a reader learns a new layout:

    /usr/bin/python3 tests/fuzz/make_corpus.py build/spindle

The corpus is committed; this script only documents where it came from."""
import ast
import gzip
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile

import h5py
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.path.dirname(os.path.dirname(HERE))
CORPUS = os.path.join(HERE, "corpus")


def tiny_model():
    """FUZZ_TINY_MODEL of fuzz.h, the model the weights harnesses load into."""
    with open(os.path.join(HERE, "fuzz.h")) as f:
        text = f.read()
    body = text[text.index("#define FUZZ_TINY_MODEL"):].split("\n\n")[0]
    literal = "".join(ast.literal_eval(s) for s in re.findall(r'"(?:[^"\\]|\\.)*"', body))
    return json.loads(literal)


COMPILE_CONFIGS = {
    "sgd_nesterov": {"optimizer": {"module": "keras.optimizers", "class_name": "SGD",
                                   "config": {"name": "SGD", "learning_rate": 0.05,
                                              "momentum": 0.9, "nesterov": True},
                                   "registered_name": None},
                     "loss": "categorical_crossentropy", "metrics": ["accuracy"]},
    "adam_cosine": {"optimizer": {"module": "keras.optimizers", "class_name": "Adam",
                                  "config": {"name": "adam", "learning_rate": {
                                      "module": "keras.optimizers.schedules",
                                      "class_name": "CosineDecay",
                                      "config": {"initial_learning_rate": 0.002,
                                                 "decay_steps": 5, "alpha": 0.1},
                                      "registered_name": None},
                                      "beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-07,
                                      "amsgrad": False}, "registered_name": None},
                    "loss": "sparse_categorical_crossentropy", "metrics": ["accuracy"]},
    "rmsprop_exponential": {"optimizer": {"class_name": "RMSprop", "config": {
        "learning_rate": {"class_name": "ExponentialDecay",
                          "config": {"initial_learning_rate": 0.01, "decay_steps": 10,
                                     "decay_rate": 0.9, "staircase": True}},
        "rho": 0.9, "momentum": 0.0, "epsilon": 1e-07}},
        "loss": {"class_name": "MeanSquaredError", "config": {"reduction": "auto"}}},
    "legacy_training_config": {"loss": "sparse_categorical_crossentropy",
                               "metrics": [["accuracy"]], "weighted_metrics": None,
                               "loss_weights": None, "optimizer_config": {
                                   "class_name": "Custom>RMSprop", "config": {
                                       "name": "RMSprop", "learning_rate": {
                                           "class_name": "InverseTimeDecay", "config": {
                                               "initial_learning_rate": 0.01,
                                               "decay_steps": 4, "decay_rate": 0.5,
                                               "staircase": False}},
                                       "rho": 0.9, "momentum": 0.5, "epsilon": 1e-07,
                                       "centered": False}}},
    "piecewise": {"optimizer": {"class_name": "SGD", "config": {"learning_rate": {
        "class_name": "PiecewiseConstantDecay",
        "config": {"boundaries": [10, 20], "values": [0.1, 0.01, 0.001]}}}},
        "loss": "mse"},
}


def put(target, name, data):
    os.makedirs(os.path.join(CORPUS, target), exist_ok=True)
    mode = "wb" if isinstance(data, bytes) else "w"
    with open(os.path.join(CORPUS, target, name), mode) as f:
        f.write(data)


def keras_seeds(spindle, tmp):
    tiny = tiny_model()
    for target in ("keras_json", "keras_compile", "keras_h5", "keras_archive"):
        os.makedirs(os.path.join(CORPUS, target), exist_ok=True)
    for name in ("mlp.json", "lenet5.json"):
        shutil.copy(os.path.join(SOURCE, "examples", name), os.path.join(CORPUS, "keras_json"))
    shutil.copy(os.path.join(SOURCE, "tests", "data", "mlp_keras3.json"),
                os.path.join(CORPUS, "keras_json"))
    put("keras_json", "tiny.json", json.dumps(tiny))
    with_cc = dict(tiny, compile_config=COMPILE_CONFIGS["adam_cosine"])
    model = os.path.join(tmp, "tiny.json")
    with open(model, "w") as f:
        json.dump(with_cc, f)
    put("keras_json", "tiny_compile.json", json.dumps(with_cc))
    for name, cc in COMPILE_CONFIGS.items():
        put("keras_compile", name + ".json", json.dumps(cc))
    outs = {"tiny.keras": [], "tiny.h5": [], "tiny_weights.h5": ["--weights-only"],
            "tiny.weights.h5": []}
    for out, flags in outs.items():
        subprocess.run([spindle, "convert", model, os.path.join(tmp, out)] + flags, check=True)
    for out in ("tiny.h5", "tiny_weights.h5", "tiny.weights.h5"):
        shutil.copy(os.path.join(tmp, out), os.path.join(CORPUS, "keras_h5"))
    shutil.copy(os.path.join(tmp, "tiny.keras"), os.path.join(CORPUS, "keras_archive"))
    with h5py.File(os.path.join(tmp, "tiny.h5")) as f:
        put("keras_compile", "tiny_training_config.json", f.attrs["training_config"])
    import zipfile
    with zipfile.ZipFile(os.path.join(tmp, "tiny.keras")) as z:
        put("keras_json", "tiny_keras3.json", z.read("config.json"))


def idx(dtype_code, dims, payload):
    return bytes([0, 0, dtype_code, len(dims)]) + b"".join(struct.pack(">I", d) for d in dims) \
        + payload


def idx_seeds():
    put("idx", "images_u8.idx", idx(0x08, [2, 3, 3], bytes(range(18))))
    put("idx", "labels_u8.idx", idx(0x08, [4], bytes([1, 0, 9, 3])))
    put("idx", "i8.idx", idx(0x09, [2, 2], bytes([0x80, 1, 2, 0x7f])))
    put("idx", "i16.idx", idx(0x0B, [3], struct.pack(">3h", -2, 0, 300)))
    put("idx", "i32.idx", idx(0x0C, [2, 1], struct.pack(">2i", -70000, 5)))
    put("idx", "f32.idx", idx(0x0D, [2, 2], struct.pack(">4f", 0.5, -1, 3.25, 1e-3)))
    put("idx", "f64.idx", idx(0x0E, [2], struct.pack(">2d", 0.1, -2)))
    put("idx", "scalar.idx", idx(0x08, [], b"\x07"))
    put("idx", "images_u8.idx.gz", gzip.compress(idx(0x08, [2, 2, 2], bytes(range(8))),
                                                 mtime=0))


def npy_bytes(array, version=None):
    import io
    buf = io.BytesIO()
    if version is None:
        np.save(buf, array)
    else:
        np.lib.format.write_array(buf, array, version=version)
    return buf.getvalue()


def npy_seeds():
    put("npy", "u1.npy", npy_bytes(np.arange(6, dtype=np.uint8).reshape(2, 3)))
    put("npy", "i1.npy", npy_bytes(np.array([-1, 2], dtype=np.int8)))
    put("npy", "u2_be.npy", npy_bytes(np.array([1, 513], dtype=">u2")))
    put("npy", "i2.npy", npy_bytes(np.array([[-3]], dtype="<i2")))
    put("npy", "i4.npy", npy_bytes(np.arange(4, dtype="<i4").reshape(2, 2, 1)))
    put("npy", "i8.npy", npy_bytes(np.array([2**40], dtype="<i8")))
    put("npy", "f4.npy", npy_bytes(np.linspace(0, 1, 6, dtype="<f4").reshape(3, 2)))
    put("npy", "f8_be.npy", npy_bytes(np.array([0.25, -8], dtype=">f8")))
    put("npy", "scalar.npy", npy_bytes(np.float32(1.5)))
    put("npy", "empty.npy", npy_bytes(np.zeros((0, 3), dtype="<f4")))
    put("npy", "v2.npy", npy_bytes(np.arange(3, dtype="<f4"), version=(2, 0)))
    put("npy", "fortran.npy", npy_bytes(np.asfortranarray(np.ones((2, 2), dtype="<f4"))))
    put("npy", "f4.npy.gz", gzip.compress(npy_bytes(np.ones(4, dtype="<f4")), mtime=0))


CLI_LINES = {
    "train": (0, ["examples/mlp.json", "--data", "fashion-mnist", "--epochs", "2",
                  "--batch-size=64", "--limit", "2000", "--optimizer", "adam", "--lr", "0.001",
                  "--lr-schedule", "cosine", "--decay-steps", "100", "--alpha", "0.1",
                  "--validation-split", "0.1", "--no-shuffle", "--seed", "7",
                  "--save", "out.h5", "--report", "r.json"]),
    "train_sgd": (0, ["m.json", "--data=d", "--optimizer", "sgd", "--momentum", "0.9",
                      "--nesterov", "--lr-schedule", "exponential", "--decay-rate", "0.5",
                      "--backend", "reference", "--numeric", "fixed", "--weights", "w.h5"]),
    "train_machine": (0, ["m.json", "--data", "d", "--machine", "spinn3", "--in-flight", "8",
                          "--loss", "mse", "--learning-rate=0.1"]),
    "evaluate": (1, ["m.keras", "--data", "fashion-mnist", "--limit", "100",
                     "--weights", "w.weights.h5", "--backend=machine"]),
    "predict": (2, ["m.json", "--data", "d", "--output", "p.npy", "--batch-size", "1"]),
    "help": (0, ["--help"]),
}


def cli_seeds():
    for name, (cmd, args) in CLI_LINES.items():
        put("cli_options", name, bytes([cmd]) + b"\0".join(a.encode() for a in args))


MACHINE_FAULTS = {
    "spinn5_text": (1, "chip 1 1\ncore 2 3 5\nlink 0 0 NE\n# a comment\n"),
    "spinn5_json": (1, '{"dead_chips": [[1, 2]], "dead_cores": [[0, 0, 3]], '
                       '"dead_links": [[4, 4, "E"], [2, 1, "SW"]]}'),
    "spinn3_text": (0, "core 1 0 17\nlink 1 1 W\n"),
    "3boards_text": (2, "chip 13 0\nlink 12 12 N\n"),
    "named_8x8": (7, "8x8\nchip 7 7\n"),
    "named_spinn1m": (7, "spinn1m\n"),
    "named_12boards": (7, "12boards\nlink 0 0 S\n"),
}


def machine_seeds():
    for name, (pick, text) in MACHINE_FAULTS.items():
        put("machine_faults", name, bytes([pick]) + text.encode())


def scp(cmd, seq, args=(), data=b"", x=0, y=0, cpu=0):
    """One SDP/SCP datagram as docs/board-protocol.md lays it out."""
    head = bytes([0, 0, 0x87, 0xFF, cpu, 0xFF, y, x, 0, 0]) + struct.pack("<HH", cmd, seq)
    return head + b"".join(struct.pack("<I", a) for a in args) + data


def datagrams(*packets):
    """fuzz_board's input: each datagram after its 16-bit length."""
    return b"".join(struct.pack("<H", len(p)) + p for p in packets)


def board_seeds():
    sdram, sys_buf, vcpu = 0x60000000, 0x67800000, 0xE5007000
    put("board", "ver.bin", datagrams(scp(0, 1)))
    put("board", "alloc_write_read.bin", datagrams(
        scp(28, 1, (16 << 8, 512, 0)), scp(3, 2, (sdram, 8, 2), bytes(range(8))),
        scp(2, 3, (sdram, 8, 2)), scp(2, 3, (sdram, 8, 2))))
    entry = struct.pack("<H2xIII", 0, 1 << 7, 0x10000, 0xFFFF0000)
    put("board", "routes.bin", datagrams(
        scp(28, 1, (16 << 8 | 3, 1, 0)), scp(3, 2, (sys_buf, 16, 2), entry),
        scp(29, 3, (1 << 16 | 16 << 8 | 2, sys_buf, 1)), scp(2, 4, (vcpu + 128, 128, 2))))
    image = struct.pack("<I", 0x4E4B5053) + b"sink".ljust(60, b"\0")
    put("board", "load_start_run.bin", datagrams(
        scp(3, 1, (sys_buf + 0x8000, 64, 2), image), scp(3, 2, (vcpu + 112 + 128, 4, 2),
                                                          struct.pack("<I", sdram)),
        scp(24, 3, (sys_buf + 0x8000, 16 << 24 | 1 << 18 | 1 << 1, 0)),
        scp(22, 4, (0, 4 << 16 | 0xFF << 8 | 16, 0xFFFF)), scp(96, 5, (1000000, 0, 0)),
        scp(2, 6, (vcpu + 128, 128, 2)), scp(97, 7, (2, 0, 0)), scp(97, 8, (1, 0, 0), x=1),
        scp(22, 9, (0, 8 << 16 | 0xFF << 8 | 16, 0xFFFF)),
        scp(22, 10, (2, 2 << 16 | 0xFF << 8 | 16, 0xFFFF))))
    put("board", "iptag.bin", datagrams(
        scp(26, 1, (1 << 16 | 1, 17894, 0x0100007F)), scp(26, 2, (2 << 16 | 1,)),
        scp(26, 3, (3 << 16 | 1,))))
    put("board", "bad.bin", datagrams(b"\0\0\x87", scp(77, 1), scp(0, 2, x=9, y=9),
                                      scp(2, 3, (sdram,)), scp(3, 4, (sdram, 300, 0))))


def main():
    spindle = sys.argv[1] if len(sys.argv) > 1 else os.path.join(SOURCE, "build", "spindle")
    with tempfile.TemporaryDirectory() as tmp:
        keras_seeds(os.path.abspath(spindle), tmp)
    idx_seeds()
    npy_seeds()
    cli_seeds()
    machine_seeds()
    board_seeds()


if __name__ == "__main__":
    main()
