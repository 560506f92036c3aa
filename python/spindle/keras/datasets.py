"""keras.datasets.fashion_mnist and mnist: load_data() from the IDX files
Debian installs (/usr/share/datasets/<name>, docs/datasets.md; the
SPINDLE_DATASETS folder instead when set), nothing downloaded."""
import gzip
import os

import numpy as np


def _read_idx(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    if len(data) < 4 or data[0] or data[1] or data[2] != 8:
        raise ValueError(f"{path}: not an IDX file of unsigned bytes")
    rank = data[3]
    dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(rank)]
    body = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * rank)
    if body.size != int(np.prod(dims)):
        raise ValueError(f"{path}: truncated ({body.size} of {int(np.prod(dims))} values)")
    return body.reshape(dims)


def _find(folder, stem):
    for name in (stem, stem + ".gz"):
        path = os.path.join(folder, name)
        if os.path.exists(path):
            return path
    raise FileNotFoundError(f"{os.path.join(folder, stem)}(.gz) not found: install Debian's "
                            f"dataset package (make deps) or set SPINDLE_DATASETS to a folder "
                            f"holding <name>/{stem}")


def _load(name):
    folder = os.path.join(os.environ.get("SPINDLE_DATASETS", "/usr/share/datasets"), name)
    parts = [_read_idx(_find(folder, f"{p}-{k}-idx{r}-ubyte"))
             for p in ("train", "t10k") for k, r in (("images", 3), ("labels", 1))]
    return (parts[0], parts[1]), (parts[2], parts[3])


class fashion_mnist:
    @staticmethod
    def load_data():
        return _load("fashion-mnist")


class mnist:
    @staticmethod
    def load_data():
        return _load("mnist")
