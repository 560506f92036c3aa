#!/usr/bin/python3
"""The wall time of a run over UDP against the same run in process (issue
14, part 6): `spindle train examples/mlp.json --machine spinn3 --numeric
fixed --data fashion-mnist --epochs 1 --limit 256`, once with the
in-process emulator and once through `spindle board` on loopback
(`--board 127.0.0.1:PORT`), alternately --repeats times.

    /usr/bin/python3 bench/board_udp.py --spindle build/spindle \
        [--out build/bench/board_udp.json] [--quick] [--repeats N]

Figures: the median wall seconds of each, their ratio (udp / in-process;
the issue asks for at most 3), the CPU seconds of each (the UDP run's are
the client's and the board's together) and their ratio, the requests the board answered and how
many were repeats, and whether the two runs' results agree (test_loss,
test_accuracy, packets_sent). Both processes share the host's cores, so
the ratio moves with the machine's load; the medians and the alternation
keep one busy moment from deciding it; on a crowded host the UDP run's two
processes get more of the cores than the one in-process, so the CPU ratio
is the steadier figure. --quick evaluates on 1000 test
samples instead of 10,000."""

import argparse
import json
import os
import resource
import statistics
import subprocess
import tempfile
import time

SOURCE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def train(args, report, extra):
    cmd = [args.spindle, "train", os.path.join(SOURCE_DIR, "examples", "mlp.json"),
           "--machine", "spinn3", "--numeric", "fixed", "--data", args.data, "--epochs", "1",
           "--limit", "256", "--report", report] + extra
    if args.quick:
        cmd += ["--test-limit", "1000"]
    t0 = time.monotonic()
    c0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    c1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    seconds = time.monotonic() - t0
    cpu = (c1.ru_utime - c0.ru_utime) + (c1.ru_stime - c0.ru_stime)
    with open(report) as f:
        return seconds, cpu, json.load(f)


def process_cpu(pid):
    """User + system seconds of a running process (/proc/PID/stat)."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def over_udp(args, report):
    board = subprocess.Popen([args.spindle, "board", "--machine", "spinn3", "--listen",
                              "127.0.0.1:0"], stdout=subprocess.PIPE, text=True)
    try:
        port = int(board.stdout.readline().split(":")[1].split()[0])
        seconds, cpu, rep = train(args, report, ["--board", "127.0.0.1:%d" % port])
        cpu += process_cpu(board.pid)
    finally:
        board.terminate()
        out = board.communicate(timeout=60)[0]
    requests = int(out.split(" requests, ")[0].split()[-1])
    repeats = int(out.split(" requests, ")[1].split()[0])
    return seconds, cpu, rep, requests, repeats


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--spindle", default="build/spindle")
    p.add_argument("--out", default="build/bench/board_udp.json")
    p.add_argument("--data", default="fashion-mnist")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--quick", action="store_true")
    args = p.parse_args()
    local, udp, local_cpu, udp_cpu, same, requests, repeats = [], [], [], [], True, 0, 0
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.repeats):
            s, c, ref = train(args, os.path.join(tmp, "local%d.json" % i), [])
            local.append(s)
            local_cpu.append(c)
            s, c, rep, requests, repeats = over_udp(args, os.path.join(tmp, "udp%d.json" % i))
            udp.append(s)
            udp_cpu.append(c)
            same = same and all(rep[k] == ref[k] for k in
                                ("test_loss", "test_accuracy", "packets_sent"))
    result = {"benchmark": "board_udp", "run": "mlp spinn3 fixed, 256 samples, 1 epoch",
              "test_samples": 1000 if args.quick else 10000, "repeats": args.repeats,
              "in_process_seconds": local, "udp_seconds": udp,
              "in_process_median": statistics.median(local),
              "udp_median": statistics.median(udp),
              "ratio_udp_over_in_process": statistics.median(udp) / statistics.median(local),
              "in_process_cpu_seconds": local_cpu, "udp_cpu_seconds": udp_cpu,
              "cpu_ratio_udp_over_in_process":
                  statistics.median(udp_cpu) / statistics.median(local_cpu),
              "board_requests": requests, "board_repeats": repeats,
              "results_identical": same,
              "load_average": os.getloadavg()[0]}
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    tmp_out = args.out + ".tmp"
    with open(tmp_out, "w") as f:
        json.dump(result, f, indent=1)
    os.replace(tmp_out, args.out)
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
