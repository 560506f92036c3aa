"""What the CLI tests share: where the built binary and the example models
are (ctest sets SPINDLE_BIN and SPINDLE_SOURCE_DIR), running the binary, and
small IDX datasets written on the fly."""
import os
import pty
import struct
import subprocess

import numpy as np

SPINDLE = os.environ.get("SPINDLE_BIN", "build/spindle")
SOURCE = os.environ.get("SPINDLE_SOURCE_DIR",
                        os.path.join(os.path.dirname(__file__), "..", ".."))
MLP = os.path.join(SOURCE, "examples", "mlp.json")
LENET = os.path.join(SOURCE, "examples", "lenet5.json")


def run(*args, timeout=600):
    """Run `spindle ARGS...`; the CompletedProcess with text stdout/stderr."""
    return subprocess.run([SPINDLE, *args], capture_output=True, text=True,
                          timeout=timeout)


def write_idx(path, array):
    """Write @array as an IDX file of unsigned bytes (MNIST's format)."""
    header = struct.pack(">HBB", 0, 0x08, array.ndim)
    header += b"".join(struct.pack(">I", d) for d in array.shape)
    with open(path, "wb") as f:
        f.write(header + array.astype(np.uint8).tobytes())


def write_quadrant_dataset(folder, seed, n_train, n_test):
    """28x28 images whose class (0..3) is the brightest image quadrant,
    learnable in a few epochs, as MNIST-named IDX files in @folder. The
    training images are drawn first, then the test images, from one
    generator seeded with @seed. Returns str(folder)."""
    rng = np.random.default_rng(seed)
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        labels = rng.integers(0, 4, size=n)
        images = rng.integers(0, 60, size=(n, 28, 28))
        for i, c in enumerate(labels):
            r, q = divmod(int(c), 2)
            images[i, 14 * r:14 * r + 14, 14 * q:14 * q + 14] += 180
        write_idx(folder / f"{prefix}-images-idx3-ubyte", images)
        write_idx(folder / f"{prefix}-labels-idx1-ubyte", labels)
    return str(folder)


def run_on_terminal(*args):
    """Run `spindle ARGS...` with stdout on a pseudo-terminal; its text."""
    master, slave = pty.openpty()
    proc = subprocess.Popen([SPINDLE, *args], stdout=slave, stderr=subprocess.PIPE)
    os.close(slave)
    chunks = []
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(master)
    assert proc.wait(timeout=300) == 0, proc.stderr.read()
    return b"".join(chunks).decode()
