#!/usr/bin/python3
"""Issue 13 part 7: training throughput of MLP and LeNet-5 on the emulated
board, against the board's roofline and against PyTorch on this host.

    /usr/bin/python3 bench/throughput.py --spindle build/spindle \
        [--out build/bench/throughput.json] [--quick] [--limit N] [--models mlp,lenet5]

Per model (examples/mlp.json, examples/lenet5.json), one `spindle train` on
the emulated SpiNN-5 (--numeric fixed --epochs 1 --seed 1, batch 32, the
first --limit Fashion-MNIST training samples, full timing) and, in the same
run, PyTorch training the same model from the same initial weights on the
same samples in the same order with the same batch and recipe (Adam with
Keras's cosine decay; keras_torch.py's loop, --threads threads). The JSON
gives per model:

  simulated_samples_per_second  the board's training rate (simulated time)
  roofline_samples_per_second   the board's bound for this mapping, and
  binding_resource              the resource that sets it (the report's)
  roofline_fraction             simulated over roofline
  host_samples_per_second       the emulator's training samples per wall
                                second (the report's: its whole run)
  pytorch_samples_per_second    PyTorch's training loop on this host's CPU
  host_over_pytorch             the ratio of the two (issue 13 asks >= 0.5
                                for MLP and >= 0.2 for LeNet-5)

and the run's packets sent and dropped. Only the training is timed: the
test split is evaluated on --test-limit samples. --quick trains 64 samples.
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
import machine_mlp  # noqa: E402
import pytorch_mlp  # noqa: E402

SOURCE_DIR = pytorch_mlp.SOURCE_DIR
# Adam's initial rate per model: what examples/mlp.json states, and
# machine_lenet.py's for LeNet-5.
MODELS = {"mlp": ("mlp.json", 0.001), "lenet5": ("lenet5.json", 0.002)}


def parse_args():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--spindle", default=os.path.join(SOURCE_DIR, "build", "spindle"))
    p.add_argument("--data", default=pytorch_mlp.FASHION_MNIST)
    p.add_argument("--out", default=None, help="result JSON (default: stdout only)")
    p.add_argument("--models", default="mlp,lenet5")
    p.add_argument("--limit", type=int, default=320, help="train on the first N samples")
    p.add_argument("--test-limit", type=int, default=100)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--numeric", default="fixed", choices=("fixed", "float"))
    p.add_argument("--machine", default="spinn5")
    p.add_argument("--threads", type=int, default=1, help="PyTorch's threads")
    p.add_argument("--quick", action="store_true", help="train 64 samples (smoke test)")
    args = p.parse_args()
    if args.quick:
        args.limit = 64
    models = [m for m in args.models.split(",") if m]
    bad = [m for m in models if m not in MODELS]
    if bad or not models:
        p.error("--models takes a list of %s, not %s" % (", ".join(MODELS), args.models))
    args.models = models
    if args.limit < 1 or args.test_limit < 1 or args.batch_size < 1 or args.threads < 1:
        p.error("--limit, --test-limit, --batch-size and --threads must be positive")
    if not os.access(args.spindle, os.X_OK):
        p.error("%s: no spindle executable (make build)" % args.spindle)
    return args


def run_spindle(args, model_path, weights, lr, steps, workdir, name):
    report_path = os.path.join(workdir, name + ".json")
    cmd = [args.spindle, "train", model_path, "--data", args.data, "--machine", args.machine,
           "--numeric", args.numeric, "--epochs", "1", "--batch-size", str(args.batch_size),
           "--seed", str(args.seed), "--limit", str(args.limit),
           "--test-limit", str(args.test_limit), "--weights", weights,
           "--optimizer", "adam", "--lr", repr(lr), "--lr-schedule", "cosine",
           "--decay-steps", str(steps), "--alpha", "0", "--report", report_path]
    print("+ " + " ".join(cmd), file=sys.stderr, flush=True)
    proc = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=sys.stderr)
    if proc.returncode != 0:
        sys.exit("spindle train failed (exit %d)" % proc.returncode)
    with open(report_path) as f:
        return json.load(f)


def measure(args, name, raw, workdir):
    file_name, lr = MODELS[name]
    model_path = os.path.join(SOURCE_DIR, "examples", file_name)
    limit = min(args.limit, len(raw["train_x"]))
    data = {"x_train": pytorch_mlp.scale(raw["train_x"][:limit]),
            "y_train": raw["train_y"][:limit],
            "x_test": pytorch_mlp.scale(raw["test_x"][:args.test_limit]),
            "y_test": raw["test_y"][:args.test_limit]}
    specs = keras_torch.layers_of(model_path)
    steps = -(-limit // args.batch_size)
    w0 = os.path.join(workdir, name + "_initial.h5")
    weights = keras_torch.spindle_initial_weights(args.spindle, model_path, specs, w0)
    recipe = {"optimizer": "adam", "lr": lr, "schedule": "cosine", "decay_steps": steps,
              "alpha": 0.0}
    torch_result = keras_torch.train(keras_torch.TorchModel(specs, weights), recipe, data, 1,
                                     args.batch_size, args.seed, args.threads)
    report = run_spindle(args, model_path, w0, lr, steps, workdir, name)
    simulated = float(report["simulated_samples_per_second"])
    roofline = float(report["roofline_samples_per_second"])
    host = float(report["host_samples_per_second"])
    torch_rate = float(torch_result["samples_per_s"])
    return {"model": os.path.relpath(model_path, SOURCE_DIR), "train_samples": limit,
            "batch_size": args.batch_size, "numeric": args.numeric,
            "simulated_samples_per_second": simulated,
            "roofline_samples_per_second": roofline,
            "binding_resource": report["binding_resource"],
            "roofline_by_resource": report.get("roofline_by_resource"),
            "roofline_fraction": simulated / roofline if roofline > 0 else None,
            "host_samples_per_second": host,
            "pytorch_samples_per_second": torch_rate,
            "pytorch_threads": args.threads,
            "host_over_pytorch": host / torch_rate if torch_rate > 0 else None,
            "packets_sent": report["packets_sent"],
            "packets_dropped": report["packets_dropped"],
            "energy_per_sample_joules": report.get("energy_per_sample_joules"),
            "train_loss": report.get("train_loss"),
            "pytorch_train_loss": torch_result["epoch_losses"]}


def main():
    args = parse_args()
    raw = pytorch_mlp.load_dataset(args.data)
    started = time.time()
    result = {"benchmark": "throughput", "machine": args.machine, "seed": args.seed,
              "epochs": 1, "models": {}}
    with tempfile.TemporaryDirectory(prefix="spindle-throughput-") as workdir:
        for name in args.models:
            result["models"][name] = measure(args, name, raw, workdir)
    result["wall_seconds"] = round(time.time() - started, 1)
    machine_mlp.write_json(args.out, result)


if __name__ == "__main__":
    main()
