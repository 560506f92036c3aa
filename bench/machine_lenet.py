#!/usr/bin/python3
"""Train LeNet-5 (examples/lenet5.json) on the emulated SpiNN-5 and in PyTorch
on the same samples, from the same initial weights in the same order, and
measure what issue 5 asks for.

    /usr/bin/python3 bench/machine_lenet.py --spindle build/spindle \
        [--out build/bench/machine_lenet.json] [--quick] [--numerics fixed,float]
    /usr/bin/python3 bench/machine_lenet.py --spindle-report R.json --epochs 5 --limit 0

Both sides start from spindle's own initial weights (`spindle convert`, the
weights `spindle train` starts from at seed 0), visit the first --limit
Fashion-MNIST training samples (0: all) in spindle's Philox shuffle order
(philox_order.py), batch 32, and follow the recipe examples/lenet5.json
states: Adam (Keras's rule) at 0.002 with Keras's CosineDecay to 0 over
the run's steps. PyTorch is keras_torch.py's loop, one thread.

Figures, per numeric mode (machine_mlp.py's definitions): the host ratio
(spindle's host training samples/s over PyTorch's), the board's simulated
samples/s, and the roofline efficiency (simulated samples/s over the cores
used × 200 MHz divided by the MAC cycles of one training sample: forward,
dW and dX MACs of both convolutions and the three Dense layers, no dX for
the first convolution; 3 cycles a MAC in fixed point, 80 in float).

With --spindle-report the spindle side is a finished `spindle train
... --report R.json` run (the issue's 5-epoch one, which takes about an
hour of host time): PyTorch trains with the same --epochs and --limit and
the JSON gives both test accuracies and their difference in points.
"""

import json
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import keras_torch  # noqa: E402
import machine_mlp  # noqa: E402
import pytorch_mlp  # noqa: E402

SOURCE_DIR = pytorch_mlp.SOURCE_DIR


def parse_args():
    p = machine_mlp.machine_parser(__doc__, "lenet5.json", 2000, 128)
    p.add_argument("--lr", type=float, default=0.002, help="Adam's initial rate")
    p.add_argument("--spindle-report", default=None,
                   help="compare with this finished spindle train report instead "
                        "of running spindle (--limit 0: all samples)")
    return machine_mlp.check_machine_args(p, p.parse_args(), 128, min_limit=0)


def compare_with_report(args, result):
    """The spindle side from a finished run's report."""
    try:
        with open(args.spindle_report) as f:
            report = json.load(f)
        spindle = {"test_accuracy": float(report["test_accuracy"]),
                   "test_loss": float(report["test_loss"]),
                   "train_loss": report.get("train_loss"),
                   "backend": report.get("backend"), "numeric": report.get("numeric"),
                   "packets_dropped": report.get("packets_dropped"),
                   "report": os.path.abspath(args.spindle_report)}
    except (OSError, ValueError, KeyError, TypeError) as e:
        sys.exit("%s: not a spindle train report with test figures (%s)"
                 % (args.spindle_report, e))
    result["spindle"] = spindle
    diff = 100.0 * (spindle["test_accuracy"] - result["pytorch"]["test_accuracy"])
    result["accuracy_difference_points"] = round(diff, 3)
    result["within_0_5_points"] = abs(diff) <= 0.5


def main():
    args = parse_args()
    raw = pytorch_mlp.load_dataset(args.data)
    args.limit = min(args.limit or len(raw["train_x"]), len(raw["train_x"]))
    data = {"x_train": pytorch_mlp.scale(raw["train_x"][:args.limit]),
            "y_train": raw["train_y"][:args.limit],
            "x_test": pytorch_mlp.scale(raw["test_x"]), "y_test": raw["test_y"]}
    specs = keras_torch.layers_of(args.model)
    h, w, c = specs[0]["in"]
    if data["x_train"].shape[1] != h * w * c:
        sys.exit("%s takes %d inputs, the data has %d" % (args.model, h * w * c,
                                                          data["x_train"].shape[1]))
    steps = args.epochs * -(-args.limit // args.batch_size)
    recipe = {"optimizer": "adam", "lr": args.lr, "schedule": "cosine",
              "decay_steps": steps, "alpha": 0.0}
    recipe_flags = ["--optimizer", "adam", "--lr", repr(args.lr), "--lr-schedule", "cosine",
                    "--decay-steps", str(steps), "--alpha", "0"]
    workdir = tempfile.TemporaryDirectory(prefix="spindle-lenet-bench-")
    w0 = os.path.join(workdir.name, "initial.h5")
    weights = keras_torch.spindle_initial_weights(args.spindle, args.model, specs, w0)
    macs = keras_torch.training_macs(specs)
    result = {"benchmark": "machine_lenet", "model": os.path.relpath(args.model, SOURCE_DIR),
              "machine": args.machine, "epochs": args.epochs, "batch_size": args.batch_size,
              "recipe": recipe, "seed": args.seed, "train_samples": args.limit,
              "test_samples": len(data["y_test"]), "macs_per_training_sample": macs,
              "clock_hz": machine_mlp.CLOCK_HZ, "mac_cycles": machine_mlp.MAC_CYCLES}
    model = keras_torch.TorchModel(specs, weights)
    result["forward_check_max_difference"] = keras_torch.check_forward(
        args.spindle, args.model, w0, model, args.data, data["x_test"], workdir.name)
    result["pytorch"] = keras_torch.train(model, recipe, data, args.epochs, args.batch_size,
                                          args.seed, args.threads)
    if args.spindle_report:
        compare_with_report(args, result)
    else:
        for numeric in args.numerics:
            report, wall = machine_mlp.run_machine(args, numeric, w0, workdir.name,
                                                   recipe_flags)
            result[numeric] = machine_mlp.machine_figures(
                args, numeric, report, wall, macs, result["pytorch"]["samples_per_s"])
            diff = 100.0 * (result[numeric]["test_accuracy"]
                            - result["pytorch"]["test_accuracy"])
            result[numeric]["accuracy_difference_points"] = round(diff, 3)
    workdir.cleanup()
    machine_mlp.write_json(args.out, result)


if __name__ == "__main__":
    main()
