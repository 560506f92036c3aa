#!/usr/bin/env python3
"""The reliability soak (issue 10): train every model of the matrix on the
emulated SpiNN-5 with the defaults, for every seed and numeric, and record
what each run dropped, reinjected and lost, and whether it completed.

    bench/soak.py --spindle build/spindle --out build/bench/soak.json
    bench/soak.py ... --seeds 0-19 --models mlp,lenet5 --numerics float,fixed -j 2

The JSON has one row per run and a summary (runs, runs with drops, runs
lost, total packets); the exit status is 1 when any run dropped a packet,
so `make soak` fails on a regression. Each run is `spindle train MODEL
--data fashion-mnist --epochs 1 --limit 320 --seed S --numeric N`, with
the test split cut to --test-limit samples (the drops are the training's;
the full test split would only add host time)."""
import argparse
import concurrent.futures
import json
import os
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def seeds(text):
    out = []
    for part in text.split(","):
        lo, _, hi = part.partition("-")
        out.extend(range(int(lo), int(hi or lo) + 1))
    return out


def one(spindle, model, numeric, seed, limit, test_limit):
    with tempfile.TemporaryDirectory() as tmp:
        report = os.path.join(tmp, "report.json")
        cmd = [spindle, "train", os.path.join(ROOT, "examples", model + ".json"), "--data",
               "fashion-mnist", "--epochs", "1", "--limit", str(limit), "--seed", str(seed),
               "--numeric", numeric, "--test-limit", str(test_limit), "--report", report]
        t0 = time.time()
        r = subprocess.run(cmd, capture_output=True, text=True)
        row = {"model": model, "numeric": numeric, "seed": seed, "returncode": r.returncode,
               "host_seconds": round(time.time() - t0, 2)}
        if os.path.exists(report):
            rep = json.load(open(report))
            for key in ("completed", "packets_sent", "packets_dropped", "packets_reinjected",
                        "packets_lost", "simulated_samples_per_second", "test_accuracy"):
                row[key] = rep.get(key)
        if r.returncode:
            row["error"] = r.stderr.strip().splitlines()[-1] if r.stderr.strip() else ""
        return row


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--spindle", default=os.path.join(ROOT, "build", "spindle"))
    ap.add_argument("--out", default=os.path.join(ROOT, "build", "bench", "soak.json"))
    ap.add_argument("--seeds", default="0-19", help="e.g. 0-19 or 2,3,11")
    ap.add_argument("--models", default="mlp,lenet5")
    ap.add_argument("--numerics", default="float,fixed")
    ap.add_argument("--limit", type=int, default=320)
    ap.add_argument("--test-limit", type=int, default=32)
    ap.add_argument("-j", "--jobs", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--quick", action="store_true", help="seeds 2,3 of the MLP only")
    a = ap.parse_args()
    if a.quick:
        a.seeds, a.models = "2,3", "mlp"
    jobs = [(m, n, s) for m in a.models.split(",") for n in a.numerics.split(",")
            for s in seeds(a.seeds)]
    rows = []
    with concurrent.futures.ThreadPoolExecutor(max_workers=a.jobs) as pool:
        futures = [pool.submit(one, a.spindle, m, n, s, a.limit, a.test_limit)
                   for m, n, s in jobs]
        for f in concurrent.futures.as_completed(futures):
            row = f.result()
            rows.append(row)
            print(f"soak: {row['model']} {row['numeric']} seed {row['seed']}: "
                  f"dropped {row.get('packets_dropped')} lost {row.get('packets_lost')} "
                  f"rc {row['returncode']}", file=sys.stderr)
    rows.sort(key=lambda r: (r["model"], r["numeric"], r["seed"]))
    dropped = [r for r in rows if r.get("packets_dropped") != 0]
    failed = [r for r in rows if r["returncode"] != 0 or not r.get("completed")]
    summary = {"runs": len(rows), "runs_with_drops": len(dropped), "runs_failed": len(failed),
               "packets_sent": sum(r.get("packets_sent") or 0 for r in rows),
               "packets_dropped": sum(r.get("packets_dropped") or 0 for r in rows),
               "limit": a.limit, "seeds": a.seeds, "models": a.models, "numerics": a.numerics}
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    tmp = a.out + ".tmp"
    with open(tmp, "w") as f:
        json.dump({"summary": summary, "runs": rows}, f, indent=1)
        f.write("\n")
    os.replace(tmp, a.out)
    print(json.dumps(summary), file=sys.stderr)
    return 1 if dropped or failed else 0


if __name__ == "__main__":
    sys.exit(main())
