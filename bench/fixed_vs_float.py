#!/usr/bin/python3
"""Train one model with `spindle train --backend reference` in float and in
fixed point (docs/numerics.md) from the same seed, data order and
hyperparameters, and compare.

    /usr/bin/python3 bench/fixed_vs_float.py --spindle build/spindle \
        [--out build/bench/fixed_vs_float.json] [--quick] [--model M.json] \
        [--seeds 0,1]

Defaults are issue 3's figure: examples/mlp.json on Fashion-MNIST, 5 epochs,
SGD lr 0.01 momentum 0.9, batch 32; the fixed-point mode must land within
0.5 points of the float mode. The JSON written holds, per seed, both test
accuracies, their difference in points, the fixed run's saturation count and
both runs' host training throughput. --quick trains 1 epoch on 3,000
samples for smoke tests.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile

SOURCE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def train(spindle, model, seed, numeric, extra, workdir):
    report = os.path.join(workdir, "%s_%d.json" % (numeric, seed))
    cmd = [spindle, "train", model, "--backend", "reference", "--data", "fashion-mnist",
           "--batch-size", "32", "--optimizer", "sgd", "--lr", "0.01", "--momentum", "0.9",
           "--seed", str(seed), "--numeric", numeric, "--report", report] + extra
    done = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if done.returncode != 0:
        sys.exit("fixed_vs_float: %s failed: %s" % (" ".join(cmd), done.stderr.strip()))
    with open(report) as f:
        return json.load(f)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--spindle", default=os.path.join(SOURCE_DIR, "build", "spindle"))
    ap.add_argument("--out", default=None)
    ap.add_argument("--model", default=os.path.join(SOURCE_DIR, "examples", "mlp.json"))
    ap.add_argument("--seeds", default="0")
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    extra = ["--epochs", "1", "--limit", "3000"] if args.quick else ["--epochs", "5"]
    runs = []
    with tempfile.TemporaryDirectory() as workdir:
        for seed in (int(s) for s in args.seeds.split(",")):
            fl = train(args.spindle, args.model, seed, "float", extra, workdir)
            fx = train(args.spindle, args.model, seed, "fixed", extra, workdir)
            runs.append({
                "seed": seed,
                "float_test_accuracy": fl["test_accuracy"],
                "fixed_test_accuracy": fx["test_accuracy"],
                "difference_points": 100.0 * (fx["test_accuracy"] - fl["test_accuracy"]),
                "float_test_loss": fl["test_loss"],
                "fixed_test_loss": fx["test_loss"],
                "fixed_saturations": fx.get("saturations"),
                "float_host_samples_per_second": fl["host_samples_per_second"],
                "fixed_host_samples_per_second": fx["host_samples_per_second"],
            })
    result = {"benchmark": "fixed_vs_float", "model": os.path.basename(args.model),
              "data": "fashion-mnist", "quick": args.quick, "runs": runs,
              "max_abs_difference_points": max(abs(r["difference_points"]) for r in runs)}
    text = json.dumps(result, indent=2) + "\n"
    if args.out:
        tmp = args.out + ".tmp"
        with open(tmp, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, args.out)
    sys.stdout.write(text)


if __name__ == "__main__":
    main()
