#!/usr/bin/env python3
"""What the recovery machinery costs a clean run (issue 10: "clean runs lose
<= 5 % simulated throughput to the recovery machinery").

    bench/recovery_overhead.py --spindle build/spindle --spindle-off build/norec/spindle \\
        [--spindle-before OLD/spindle] [--configs mlp:fixed,mlp:float,lenet5:fixed] \\
        [--out build/bench/recovery_overhead.json]

--spindle-off is spindle built with -DSPINDLE_BENCH_NO_RECOVERY=ON (`make
bench-recovery` builds it in build/norec): no receiver's duplicate check,
no "nack" partitions or resend watch, no batch snapshots and, in training,
no sink credit (src/base/recovery_switch.h); the credits that pace the
sources stay, as any flow control needs them. --spindle-before, when
given, is another build with the machinery (the branch point, say) whose
overhead is reported beside this one's.

Each configuration trains `MODEL --data fashion-mnist --epochs 1 --limit
320 --seed S --numeric N --test-limit 32` on the emulated SpiNN-5 once per
binary; fixed-point configurations are also run on the reference backend.
The JSON gives per configuration each binary's simulated samples per second
(deterministic: the emulator's time, not the host's), the overhead
1 - on / off in percent, the packets dropped, and whether the test loss and
accuracy of every fixed-point run are the reference's exactly (and whether
the binaries' runs agree, float included: its sums keep a fixed order). The exit
status is 1 when a run fails, drops a packet, or a fixed-point run's
results differ from the reference."""
import argparse
import json
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
KEYS = ("completed", "simulated_samples_per_second", "packets_sent", "packets_dropped",
        "packets_lost", "samples_in_flight", "max_router_entries", "test_loss",
        "test_accuracy")


def run(spindle, model, numeric, a, backend="machine"):
    with tempfile.TemporaryDirectory() as tmp:
        report = os.path.join(tmp, "report.json")
        cmd = [spindle, "train", os.path.join(ROOT, "examples", model + ".json"), "--data",
               "fashion-mnist", "--epochs", "1", "--limit", str(a.limit), "--seed",
               str(a.seed), "--numeric", numeric, "--test-limit", str(a.test_limit),
               "--backend", backend, "--report", report]
        r = subprocess.run(cmd, capture_output=True, text=True)
        row = {"returncode": r.returncode}
        if os.path.exists(report):
            rep = json.load(open(report))
            row.update({k: rep.get(k) for k in KEYS if k in rep})
        if r.returncode:
            row["error"] = r.stderr.strip().splitlines()[-1] if r.stderr.strip() else ""
        print(f"recovery_overhead: {model} {numeric} {backend} {spindle}: "
              f"{row.get('simulated_samples_per_second')} samples/s, "
              f"dropped {row.get('packets_dropped')}, rc {r.returncode}", file=sys.stderr)
        return row


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--spindle", default=os.path.join(ROOT, "build", "spindle"))
    ap.add_argument("--spindle-off", default=os.path.join(ROOT, "build", "norec", "spindle"))
    ap.add_argument("--spindle-before", default=None)
    ap.add_argument("--configs", default="mlp:fixed,mlp:float,lenet5:fixed,lenet5:float")
    ap.add_argument("--out", default=os.path.join(ROOT, "build", "bench",
                                                  "recovery_overhead.json"))
    ap.add_argument("--limit", type=int, default=320)
    ap.add_argument("--test-limit", type=int, default=32)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    bins = {"on": a.spindle, "off": a.spindle_off}
    if a.spindle_before:
        bins["before"] = a.spindle_before
    for name, path in bins.items():
        if not os.access(path, os.X_OK):
            ap.error(f"--spindle{'' if name == 'on' else '-' + name}: {path} is not an "
                     "executable (make bench-recovery builds both)")
    configs = []
    for c in a.configs.split(","):
        model, _, numeric = c.partition(":")
        if model not in ("mlp", "lenet5") or numeric not in ("fixed", "float"):
            ap.error(f"--configs: {c}: expected MODEL:NUMERIC, MODEL mlp or lenet5, "
                     "NUMERIC fixed or float")
        configs.append((model, numeric))
    rows, bad = [], []
    for model, numeric in configs:
        row = {"model": model, "numeric": numeric, "seed": a.seed, "limit": a.limit}
        for name, path in bins.items():
            row[name] = run(path, model, numeric, a)
        rate = {k: row[k].get("simulated_samples_per_second") for k in bins}
        if rate["on"] and rate["off"]:
            row["overhead_percent"] = round(100.0 * (1.0 - rate["on"] / rate["off"]), 2)
        if rate.get("before") and rate["off"]:
            row["before_overhead_percent"] = round(
                100.0 * (1.0 - rate["before"] / rate["off"]), 2)
        if rate.get("before") and rate["on"]:
            row["on_over_before"] = round(rate["on"] / rate["before"], 4)
        runs = {(row[k].get("test_loss"), row[k].get("test_accuracy")) for k in bins}
        row["machine_runs_identical"] = len(runs) == 1
        if numeric == "fixed":
            row["reference"] = run(a.spindle, model, numeric, a, backend="reference")
            ref = (row["reference"].get("test_loss"), row["reference"].get("test_accuracy"))
            row["bit_identical_to_reference"] = all(
                (row[k].get("test_loss"), row[k].get("test_accuracy")) == ref for k in bins)
            if not row["bit_identical_to_reference"]:
                bad.append(f"{model} {numeric}: results differ from the reference")
        for k in bins:
            r = row[k]
            if r["returncode"] or not r.get("completed"):
                bad.append(f"{model} {numeric} {k}: failed ({r.get('error', '')})")
            elif r.get("packets_dropped"):
                bad.append(f"{model} {numeric} {k}: {r['packets_dropped']} packets dropped")
        rows.append(row)
    summary = {"configs": len(rows), "problems": bad,
               "max_overhead_percent": max((r["overhead_percent"] for r in rows
                                            if "overhead_percent" in r), default=None)}
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    tmp = a.out + ".tmp"
    with open(tmp, "w") as f:
        json.dump({"summary": summary, "runs": rows}, f, indent=1)
        f.write("\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, a.out)
    print(json.dumps(summary), file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
