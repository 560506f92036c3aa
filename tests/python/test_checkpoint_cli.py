"""`spindle train --checkpoint DIR` / `--resume DIR`, and Ctrl-C / SIGTERM:
two epochs straight and one epoch plus a resume give bit-identical weights
and test_loss on the reference backend in float and fixed point, and on
the machine in both (MLP and LeNet-5 in float), where fixed-point
checkpoints also go on across the two backends, from inside an epoch too; a
checkpoint of another run, or a damaged one, is refused in one line; a
signal stops training at a batch boundary with exit 130 / 143, one line
saying so, the checkpoint written (and loadable), and no temporary or
partial output files."""
import json
import os
import signal
import subprocess
import time

import h5py
import numpy as np
import pytest

from spindle_cli import LENET, MLP, SPINDLE, run, write_quadrant_dataset


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return write_quadrant_dataset(tmp_path_factory.mktemp("ckpt_data"), 4, 96, 32)


def train_args(data, epochs, numeric, *extra, model=MLP, **options):
    """The training flags of these tests; options={"batch_size": "8"} replaces one."""
    flags = {"--backend": "reference", "--data": data, "--epochs": str(epochs),
             "--batch-size": "16", "--optimizer": "adam", "--seed": "5", "--numeric": numeric}
    flags.update({"--" + k.replace("_", "-"): v for k, v in options.items()})
    return ["train", model, *[x for kv in flags.items() for x in kv], *extra]


def train(data, epochs, numeric, *extra):
    r = run(*train_args(data, epochs, numeric, *extra))
    assert r.returncode == 0, r.stderr
    return r


def weights(path):
    out = {}
    with h5py.File(path, "r") as f:
        f.visititems(lambda name, obj: out.__setitem__(name, obj[()])
                     if isinstance(obj, h5py.Dataset) else None)
    return out


def temp_files(folder):
    return [os.path.join(d, f) for d, _, files in os.walk(folder) for f in files
            if ".tmp-" in f]


@pytest.mark.parametrize("numeric", ["float", "fixed"])
def test_resume_is_bit_identical(data, tmp_path, numeric):
    train(data, 2, numeric, "--save", str(tmp_path / "straight.h5"),
          "--report", str(tmp_path / "straight.json"))
    ck = tmp_path / "ck"
    train(data, 1, numeric, "--checkpoint", str(ck))
    r = train(data, 2, numeric, "--resume", str(ck), "--checkpoint", str(ck),
              "--save", str(tmp_path / "resumed.h5"), "--report", str(tmp_path / "resumed.json"))
    assert "Resuming from" in r.stdout and "Epoch 1/2" not in r.stdout
    a, b = weights(tmp_path / "straight.h5"), weights(tmp_path / "resumed.h5")
    assert a.keys() == b.keys() and a
    for name in a:
        assert np.array_equal(a[name], b[name]), name
    sa = json.loads((tmp_path / "straight.json").read_text())
    sb = json.loads((tmp_path / "resumed.json").read_text())
    assert sa["test_loss"] == sb["test_loss"]
    assert sa["train_loss"] == sb["train_loss"]
    manifest = json.loads((ck / "manifest.json").read_text())
    assert manifest["position"]["epoch"] == 2 and manifest["run"]["numeric"] == numeric
    assert sorted(os.listdir(ck)) == sorted(["manifest.json", manifest["files"]["weights"]["path"],
                                             manifest["files"]["state"]["path"]])


@pytest.fixture(scope="module")
def one_epoch(data, tmp_path_factory):
    ck = tmp_path_factory.mktemp("one_epoch") / "ck"
    train(data, 1, "float", "--checkpoint", str(ck))
    return ck


@pytest.mark.parametrize("change, says", [
    ({"numeric": "fixed"}, "its numeric is \"float\", this run's is \"fixed\""),
    ({"optimizer": "sgd"}, "its optimizer.kind is \"adam\", this run's is \"sgd\""),
    ({"batch_size": "8"}, "its batch_size is 16, this run's is 8"),
    ({"limit": "64"}, "its data.samples is 96, this run's is 64"),
    ({"model": os.path.join(os.path.dirname(MLP), "lenet5.json")}, "its model."),
])
def test_another_run_is_refused(data, one_epoch, change, says):
    options = dict(change)
    numeric = options.pop("numeric", "float")
    r = run(*train_args(data, 2, numeric, "--resume", str(one_epoch), **options))
    assert r.returncode == 1
    assert says in r.stderr, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_damaged_checkpoint_is_refused(data, one_epoch, tmp_path):
    manifest = json.loads((one_epoch / "manifest.json").read_text())
    for kind, damage, says in [("state", "truncate", "is truncated or damaged"),
                               ("weights", "flip", "is corrupted: its CRC-32")]:
        ck = tmp_path / kind
        subprocess.run(["cp", "-r", str(one_epoch), str(ck)], check=True)
        path = ck / manifest["files"][kind]["path"]
        raw = bytearray(path.read_bytes())
        if damage == "truncate":
            raw = raw[:len(raw) // 2]
        else:
            raw[len(raw) // 2] ^= 0x01
        path.write_bytes(bytes(raw))
        r = run(*train_args(data, 2, "float", "--resume", str(ck)))
        assert r.returncode == 1 and says in r.stderr, r.stderr
    r = run(*train_args(data, 2, "float", "--resume", str(tmp_path / "none")))
    assert r.returncode == 1 and "no checkpoint in" in r.stderr


# ---- The machine backend (small runs: 64 samples, 4 batches an epoch) ----

def machine(data, epochs, numeric, *extra, backend="machine", model=MLP):
    r = run(*train_args(data, epochs, numeric, *extra, model=model, backend=backend, limit="64",
                        test_limit="32"))
    assert r.returncode == 0, r.stderr
    return r


@pytest.fixture(scope="module")
def machine_straight(data, tmp_path_factory):
    """Two epochs straight on the machine, per numeric: weights and report."""
    out = {}
    for numeric in ("fixed", "float"):
        folder = tmp_path_factory.mktemp("machine_" + numeric)
        machine(data, 2, numeric, "--save", str(folder / "w.h5"),
                "--report", str(folder / "r.json"))
        out[numeric] = (weights(folder / "w.h5"), json.loads((folder / "r.json").read_text()))
    return out


def resumed(data, tmp_path, numeric, first="machine", then="machine", model=MLP):
    """One epoch on backend @first with a checkpoint, then epoch 2 on @then."""
    ck = tmp_path / "ck"
    machine(data, 1, numeric, "--checkpoint", str(ck), backend=first, model=model)
    manifest = json.loads((ck / "manifest.json").read_text())
    assert manifest["run"]["backend"] == first and manifest["position"]["epoch"] == 1
    r = machine(data, 2, numeric, "--resume", str(ck), "--checkpoint", str(ck),
                "--save", str(tmp_path / "w.h5"), "--report", str(tmp_path / "r.json"),
                backend=then, model=model)
    assert "Resuming from" in r.stdout and "Epoch 1/2" not in r.stdout and "Epoch 2/2" in r.stdout
    manifest = json.loads((ck / "manifest.json").read_text())
    assert manifest["run"]["backend"] == then and manifest["position"]["epoch"] == 2
    assert len(manifest["history"]) == 2
    assert sorted(os.listdir(ck)) == sorted(["manifest.json", manifest["files"]["weights"]["path"],
                                             manifest["files"]["state"]["path"]])
    return weights(tmp_path / "w.h5"), json.loads((tmp_path / "r.json").read_text())


def test_machine_resume_is_bit_identical_in_fixed_point(data, tmp_path, machine_straight):
    """Weights, optimizer slabs, plan, update steps, order and Dropout
    counters all go on: the resumed machine run is the straight one's bits."""
    a, sa = machine_straight["fixed"]
    b, sb = resumed(data, tmp_path, "fixed")
    assert a.keys() == b.keys() and a
    for name in a:
        assert np.array_equal(a[name], b[name]), name
    assert sa["test_loss"] == sb["test_loss"] and sa["train_loss"] == sb["train_loss"]


@pytest.mark.parametrize("first, then", [("reference", "machine"), ("machine", "reference")])
def test_fixed_point_checkpoints_go_on_across_backends(data, tmp_path, machine_straight, first,
                                                       then):
    """The machine trains bit for bit as the reference in fixed point, with
    the same state payload: either goes on from the other's checkpoint."""
    a, sa = machine_straight["fixed"]
    b, sb = resumed(data, tmp_path, "fixed", first, then)
    for name in a:
        assert np.array_equal(a[name], b[name]), name
    assert sa["test_loss"] == sb["test_loss"]


@pytest.mark.parametrize("model", [MLP, LENET], ids=["mlp", "lenet5"])
def test_machine_resume_in_float_is_bit_identical(data, tmp_path, machine_straight, model):
    """A float core adds the partial sums of its senders in the order of its
    partition table once all have arrived, not as the network delivers them
    (docs/dense-on-machine.md, "Float sums in a fixed order"), so the
    resumed run, whose packets arrive at other times, is the straight
    one's bits: weights, Adam moments, test and train loss."""
    if model == MLP:
        a, sa = machine_straight["float"]
    else:
        machine(data, 2, "float", "--save", str(tmp_path / "s.h5"),
                "--report", str(tmp_path / "s.json"), model=model)
        a, sa = weights(tmp_path / "s.h5"), json.loads((tmp_path / "s.json").read_text())
    b, sb = resumed(data, tmp_path, "float", model=model)
    assert a.keys() == b.keys() and a
    for name in a:
        assert np.array_equal(a[name], b[name]), name
    assert sa["test_loss"] == sb["test_loss"] and sa["train_loss"] == sb["train_loss"]


def test_machine_float_checkpoint_stays_on_the_machine(data, tmp_path):
    ck = tmp_path / "ck"
    machine(data, 1, "float", "--checkpoint", str(ck))
    r = run(*train_args(data, 2, "float", "--resume", str(ck), limit="64", test_limit="32"))
    assert r.returncode == 1, r.stderr
    assert 'its backend is "machine", this run\'s is "reference"' in r.stderr, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def interrupted_inside_an_epoch(data, tmp_path, numeric):
    """A reference run stopped by SIGINT at a batch boundary inside an
    epoch (tried again while the boundary it stops at is an epoch's end):
    the checkpoint folder and its position."""
    for attempt in range(5):
        ck = tmp_path / f"ck{attempt}"
        proc = subprocess.Popen([SPINDLE, *train_args(data, 1000, numeric, "--checkpoint",
                                                      str(ck))],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        wait_for(ck / "manifest.json", proc)
        time.sleep(0.05 * (attempt + 1))
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=30)
        assert proc.returncode == 130
        pos = json.loads((ck / "manifest.json").read_text())["position"]
        if pos["batch"]:
            return ck, pos
    pytest.fail("every signal stopped the reference at an epoch's end")


def test_machine_goes_on_from_inside_an_epoch(data, tmp_path):
    """A checkpoint the reference wrote inside an epoch (after a signal)
    goes on on the machine from that batch: the order, the update step and
    the epoch's running loss from there, and the result is bit for bit the
    straight run's."""
    ck, pos = interrupted_inside_an_epoch(data, tmp_path, "fixed")
    epochs = pos["epoch"] + 2
    train(data, epochs, "fixed", "--save", str(tmp_path / "straight.h5"), "--report",
          str(tmp_path / "straight.json"))
    r = run(*train_args(data, epochs, "fixed", "--resume", str(ck), "--save",
                        str(tmp_path / "resumed.h5"), "--report",
                        str(tmp_path / "resumed.json"), backend="machine", test_limit="32"))
    assert r.returncode == 0, r.stderr
    a, b = weights(tmp_path / "straight.h5"), weights(tmp_path / "resumed.h5")
    assert a.keys() == b.keys() and a
    for name in a:
        assert np.array_equal(a[name], b[name]), name
    sa = json.loads((tmp_path / "straight.json").read_text())
    sb = json.loads((tmp_path / "resumed.json").read_text())
    assert sa["test_loss"] == sb["test_loss"]
    assert sb["train_loss"] == pytest.approx(sa["train_loss"], rel=1e-9)


def wait_for(path, proc, seconds=120):
    end = time.monotonic() + seconds
    while not path.exists():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < end, f"{path} never appeared"
        time.sleep(0.05)


@pytest.mark.parametrize("sig, status, name", [(signal.SIGINT, 130, "SIGINT"),
                                               (signal.SIGTERM, 143, "SIGTERM")])
def test_signal_stops_at_a_batch_boundary(data, tmp_path, sig, status, name):
    ck, save, report = tmp_path / "ck", tmp_path / "w.h5", tmp_path / "r.json"
    proc = subprocess.Popen([SPINDLE, *train_args(data, 1000, "float", "--checkpoint", str(ck),
                                                  "--save", str(save), "--report", str(report),
                                                  batch_size="4")],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_for(ck / "manifest.json", proc)
    time.sleep(0.3)
    sent = time.monotonic()
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=30)
    assert time.monotonic() - sent < 3
    assert proc.returncode == status, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"spindle train: interrupted by {name}"), err
    assert f"the checkpoint in '{ck}' goes on from there" in lines[0]
    assert not save.exists() and not report.exists()
    assert temp_files(tmp_path) == []
    pos = json.loads((ck / "manifest.json").read_text())["position"]
    more = pos["epoch"] + 1
    r = run(*train_args(data, more, "float", "--resume", str(ck), batch_size="4"))
    assert r.returncode == 0, r.stderr
    assert f"Epoch {more}/{more}" in r.stdout


def test_signal_before_training_leaves_nothing(data, tmp_path):
    ck, save = tmp_path / "ck", tmp_path / "w.h5"
    proc = subprocess.Popen([SPINDLE, *train_args(data, 3, "fixed", "--checkpoint", str(ck),
                                                  "--save", str(save))],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode in (130, -signal.SIGINT), err
    if proc.returncode == 130:
        assert "interrupted by SIGINT" in err
    assert not save.exists() and temp_files(tmp_path) == []


def test_signal_stops_the_machine(data, tmp_path):
    """The machine polls the stop flag after every slice of simulated time:
    no checkpoint there yet, but the same prompt exit and clean folder."""
    save = tmp_path / "w.h5"
    proc = subprocess.Popen([SPINDLE, *train_args(data, 1000, "fixed", "--save", str(save),
                                                  backend="machine")],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(2)
    assert proc.poll() is None, proc.communicate()
    sent = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=30)
    assert time.monotonic() - sent < 3
    assert proc.returncode == 143, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("spindle train: interrupted by SIGTERM"), err
    assert "stopped after" in lines[0]
    assert not save.exists() and temp_files(tmp_path) == []


def test_signal_stops_the_machine_with_its_last_checkpoint(data, tmp_path):
    """A stopped machine keeps the checkpoint of its last whole epoch, says
    so, and a run goes on from it. The epochs' weights and slabs go round a
    ring of SDRAM blocks, so a run of 1000 epochs fits."""
    ck = tmp_path / "ck"
    proc = subprocess.Popen([SPINDLE, *train_args(data, 1000, "fixed", "--checkpoint", str(ck),
                                                  backend="machine", limit="64")],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_for(ck / "manifest.json", proc)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("spindle train: interrupted by SIGINT"), err
    pos = json.loads((ck / "manifest.json").read_text())["position"]
    assert pos["batch"] == 0 and pos["epoch"] >= 1
    assert f"the checkpoint in '{ck}' goes on from epoch" in lines[0], err
    assert temp_files(tmp_path) == []
    more = pos["epoch"] + 1
    r = run(*train_args(data, more, "fixed", "--resume", str(ck), backend="machine",
                        limit="64", test_limit="32"))
    assert r.returncode == 0, r.stderr
    assert f"Epoch {more}/{more}" in r.stdout and f"Epoch {pos['epoch']}/" not in r.stdout


def test_checkpoint_folder_is_checked_before_training(data, tmp_path):
    a_file = tmp_path / "file"
    a_file.write_text("x")
    for folder, says in [(tmp_path / "no" / "ck", "cannot write into the folder"),
                         (a_file, "is a file, not a folder")]:
        r = run(*train_args(data, 1, "float", "--checkpoint", str(folder)))
        assert r.returncode == 1 and says in r.stderr, r.stderr
        assert "Epoch" not in r.stdout


@pytest.fixture(scope="module")
def long_test_split(tmp_path_factory):
    """A test split the machine takes many seconds to run through."""
    return write_quadrant_dataset(tmp_path_factory.mktemp("ckpt_long"), 5, 16, 4000)


@pytest.mark.parametrize("command, sig, status, output", [
    ("evaluate", signal.SIGINT, 130, "--report"),
    ("predict", signal.SIGTERM, 143, "--output"),
])
def test_signal_stops_evaluate_and_predict(long_test_split, tmp_path, command, sig, status,
                                           output):
    out = tmp_path / ("out.npy" if command == "predict" else "r.json")
    proc = subprocess.Popen([SPINDLE, command, MLP, "--data", long_test_split, output, str(out)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(2)
    assert proc.poll() is None, proc.communicate()
    sent = time.monotonic()
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=30)
    assert time.monotonic() - sent < 3
    assert proc.returncode == status, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"spindle {command}: interrupted by SIG"), err
    assert not out.exists() and temp_files(tmp_path) == []
