#!/usr/bin/python3
"""Train examples/mlp.json on the emulated SpiNN-5 and in PyTorch on the same
samples, and measure the two figures issue 4 asks for.

    /usr/bin/python3 bench/machine_mlp.py --spindle build/spindle \
        [--out build/bench/machine_mlp.json] [--quick] [--numerics fixed,float]

Both sides train the same architecture from the same initial weights
(spindle's own, `spindle convert`, as bench/pytorch_mlp.py does), on the
first --limit Fashion-MNIST training samples in spindle's shuffle order,
with SGD and Keras's momentum rule, batch 32, for --epochs epochs. spindle
runs `spindle train --backend machine --numeric N --machine M`; PyTorch is
bench/pytorch_mlp.py's loop, imported, in the same script.

Figures, per numeric mode:
(a) host_ratio: spindle's host training throughput (training samples over
    the report's train_seconds, the test evaluation excluded) divided by
    PyTorch's (its training loop only) -- how much slower emulating the
    board is than training the model directly on the same host;
(b) roofline_efficiency: the board's simulated samples/s (the report's
    simulated_samples_per_second, training run) divided by the roofline of
    the cores used: cores_used x 200 MHz (SPINNAKER.md #2) over the MAC
    cycles of one training sample -- forward, dW and dX (no dX for the
    first layer) MACs of every Dense layer at the cost model's cycles per
    MAC (src/emu/cost_model.c, src/map/tile_cost.c: 3 fixed, 80 float).
    The roofline counts only MACs, so the ratio says what fraction of the
    used cores' cycles go to the model's arithmetic; packet handling,
    activations, updates and idle waiting make up the rest.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import keras_torch  # noqa: E402
import pytorch_mlp  # noqa: E402

SOURCE_DIR = pytorch_mlp.SOURCE_DIR
CLOCK_HZ = 200e6                               # SPINNAKER.md #2
MAC_CYCLES = {"fixed": 3, "float": 80}         # src/emu/cost_model.c MAC_*_CYCLES


def sgd_flags(args):
    return ["--optimizer", "sgd", "--lr", repr(args.lr), "--momentum", repr(args.momentum)]


def run_machine(args, numeric, weights_path, workdir, recipe_flags):
    """`spindle train --backend machine` on the first --limit samples from
    weights_path with the optimizer flags given; its report and wall time."""
    report_path = os.path.join(workdir, "machine_%s.json" % numeric)
    cmd = [args.spindle, "train", args.model, "--backend", "machine",
           "--machine", args.machine, "--numeric", numeric, "--data", args.data,
           "--epochs", str(args.epochs), "--batch-size", str(args.batch_size),
           "--seed", str(args.seed), "--weights", weights_path, "--limit", str(args.limit),
           "--in-flight", str(args.in_flight), "--report", report_path] + recipe_flags
    print("+ " + " ".join(cmd), file=sys.stderr, flush=True)
    start = time.perf_counter()
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=sys.stderr, text=True)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit("spindle train --backend machine failed (exit %d)" % proc.returncode)
    with open(report_path) as f:
        return json.load(f), wall


def machine_figures(args, numeric, report, wall, macs, torch_rate):
    """Figures (a) and (b) of a machine run whose training sample takes
    `macs` multiply-accumulates."""
    seconds, source = pytorch_mlp.spindle_train_seconds(report, wall)
    host_rate = args.epochs * args.limit / seconds
    cycles = macs * MAC_CYCLES[numeric]
    cores = int(report["cores_used"])
    roofline = cores * CLOCK_HZ / cycles
    simulated = float(report["simulated_samples_per_second"])
    return {"test_accuracy": float(report["test_accuracy"]),
            "test_loss": float(report["test_loss"]),
            "train_loss": report.get("train_loss"),
            "train_seconds": seconds, "timing": source, "wall_seconds": wall,
            "host_samples_per_s": host_rate,
            "host_ratio_spindle_over_pytorch": host_rate / torch_rate,
            "machine": report["machine"], "samples_in_flight": report["samples_in_flight"],
            "chips_used": report["chips_used"],
            "cores_used": cores, "packets_sent": report["packets_sent"],
            "packets_dropped": report["packets_dropped"],
            "simulated_seconds": report["simulated_seconds"],
            "simulated_samples_per_s": simulated,
            "macs_per_sample": macs, "mac_cycles_per_sample": cycles,
            "roofline_samples_per_s": roofline,
            "roofline_efficiency": simulated / roofline,
            "energy_joules": report["energy_joules"]}


def machine_parser(doc, model, limit, quick_limit):
    """The options both machine benchmarks take; the model-specific
    recipe options are added by the caller."""
    p = argparse.ArgumentParser(description=doc.split("\n")[0])
    p.add_argument("--spindle", default=os.path.join(SOURCE_DIR, "build", "spindle"),
                   help="the spindle CLI (default: %(default)s)")
    p.add_argument("--model", default=os.path.join(SOURCE_DIR, "examples", model))
    p.add_argument("--data", default=pytorch_mlp.FASHION_MNIST,
                   help="folder with the four IDX files")
    p.add_argument("--machine", default="spinn5")
    p.add_argument("--in-flight", type=int, default=2,
                   help="samples in the machine's pipeline at once (default %(default)s, "
                        "spindle train's)")
    p.add_argument("--numerics", default="fixed",
                   help="comma-separated numeric modes to run on the machine "
                        "(fixed, float; default %(default)s)")
    p.add_argument("--out", default=None, help="result JSON (default: stdout only)")
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--seed", type=int, default=0,
                   help="shuffle seed (default 0, spindle train's default)")
    p.add_argument("--limit", type=int, default=limit, help="train on the first N samples")
    p.add_argument("--threads", type=int, default=1,
                   help="PyTorch intra-op threads (default 1, like the emulator)")
    p.add_argument("--quick", action="store_true",
                   help="1 epoch on %d samples" % quick_limit)
    return p


def check_machine_args(p, args, quick_limit, min_limit=1):
    if args.quick:
        args.epochs, args.limit = 1, quick_limit
    args.numerics = [n for n in args.numerics.split(",") if n]
    if args.epochs < 1 or args.batch_size < 1 or args.limit < min_limit:
        p.error("--epochs and --batch-size must be >= 1, --limit >= %d" % min_limit)
    if not args.numerics or any(n not in MAC_CYCLES for n in args.numerics):
        p.error("--numerics takes fixed and/or float")
    if args.data == "fashion-mnist":
        args.data = pytorch_mlp.FASHION_MNIST
    return args


def parse_args():
    p = machine_parser(__doc__, "mlp.json", 4000, 320)
    p.add_argument("--lr", type=float, default=0.01)
    p.add_argument("--momentum", type=float, default=0.9)
    return check_machine_args(p, p.parse_args(), 320)


def write_json(path, result):
    text = json.dumps(result, indent=2)
    if path:
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        with open(path + ".tmp", "w") as f:
            f.write(text + "\n")
        os.replace(path + ".tmp", path)
    print(text)


def main():
    args = parse_args()
    raw = pytorch_mlp.load_dataset(args.data)
    args.limit = min(args.limit, len(raw["train_x"]))
    data = {"x_train": pytorch_mlp.scale(raw["train_x"][:args.limit]),
            "y_train": raw["train_y"][:args.limit],
            "x_test": pytorch_mlp.scale(raw["test_x"]), "y_test": raw["test_y"]}
    n_in, dense = pytorch_mlp.dense_layers(args.model)
    if data["x_train"].shape[1] != n_in:
        sys.exit("%s takes %d inputs, the data has %d" % (args.model, n_in,
                                                          data["x_train"].shape[1]))
    workdir = tempfile.TemporaryDirectory(prefix="spindle-machine-bench-")
    w0 = os.path.join(workdir.name, "initial.h5")
    weights = pytorch_mlp.spindle_initial_weights(args, dense, w0)
    result = {"benchmark": "machine_mlp", "model": os.path.relpath(args.model, SOURCE_DIR),
              "machine": args.machine, "epochs": args.epochs, "batch_size": args.batch_size,
              "optimizer": "sgd", "lr": args.lr, "momentum": args.momentum,
              "seed": args.seed, "train_samples": args.limit,
              "test_samples": len(data["y_test"]), "clock_hz": CLOCK_HZ,
              "mac_cycles": MAC_CYCLES}
    result["pytorch"] = pytorch_mlp.train_pytorch(args, data, weights)
    torch_rate = result["pytorch"]["samples_per_s"]
    for numeric in args.numerics:
        report, wall = run_machine(args, numeric, w0, workdir.name, sgd_flags(args))
        result[numeric] = machine_figures(args, numeric, report, wall,
                                          keras_torch.training_macs(
                                              keras_torch.layers_of(args.model)),
                                          torch_rate)
    workdir.cleanup()
    write_json(args.out, result)


if __name__ == "__main__":
    main()
