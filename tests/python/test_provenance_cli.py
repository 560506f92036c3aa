"""Provenance as on real boards (issue 14, part 4; docs/provenance.md):
every kernel writes its counters into an SDRAM region, the host reads them
back at the end of the run and the report carries them (totals, each
attempt, every core, the core with the deepest receive queue) and the
summary prints them. A run whose core dies mid-way still reads every live
core's counters (written at its last timer tick) before it goes on."""
import json

from spindle_cli import MLP, run
from test_machine_recovery import core_of

COUNTS = ("packets_in", "packets_out", "callbacks", "duplicates", "requests", "missing",
          "resent", "timer_ticks", "timer_overruns", "samples_done")


def evaluate(tmp_path, name, *extra):
    report = tmp_path / f"{name}.json"
    r = run("evaluate", MLP, "--data", "fashion-mnist", "--limit", "64", "--numeric", "fixed",
            "--report", str(report), *extra)
    assert r.returncode == 0, r.stderr
    return json.loads(report.read_text()), r.stdout


def test_report_and_summary_carry_every_core(tmp_path):
    rep, out = evaluate(tmp_path, "clean")
    prov = rep["provenance"]
    cores = prov["cores"]
    assert len(cores) == rep["cores_used"]
    assert all(c["written"] and c["final"] and c["state"] == "exited" for c in cores)
    totals = prov["totals"]
    for key in COUNTS:
        assert totals[key] == sum(c[key] for c in cores), key
    assert totals["packets_out"] == rep["packets_sent"]
    # Every sample passed every core that handles samples.
    sink = [c for c in cores if c["what"].endswith("(sink)")]
    assert len(sink) == 1 and sink[0]["samples_done"] == 64
    deepest = max(cores, key=lambda c: c["max_rx_queue"])
    top = prov["max_rx_queue_core"]
    assert top["depth"] == deepest["max_rx_queue"] == totals["max_rx_queue"] >= 1
    assert [c for c in cores if (c["x"], c["y"], c["p"]) == (top["x"], top["y"], top["p"])]
    assert len(prov["attempts"]) == 1 and prov["attempts"][0] == totals
    assert f"provenance: {rep['cores_used']} cores ({rep['cores_used']} finished)" in out
    assert f"max_rx_queue: {top['depth']} on core ({top['x']},{top['y']},{top['p']})" in out


def test_a_core_killed_mid_way_still_reads_the_live_cores(tmp_path):
    core, _ = core_of(MLP, "tile", 64, "--inference", "--slack", "400")
    rep, _ = evaluate(tmp_path, "dead", "--kill-core", f"{core}@20")
    assert rep["recoveries"] == 1
    first, second = rep["provenance"]["attempts"]
    # The stopped attempt: every core had written its region; the dead one
    # is counted dead, the live ones had not finished but report what they
    # did up to their last tick.
    assert first["cores_dead"] == 1
    assert first["cores_written"] == first["cores"]
    assert first["cores_final"] < first["cores"]
    assert 0 < first["packets_in"] and 0 < first["samples_done"]
    # The attempt that went on ran every core to its end.
    assert second["cores_final"] == second["cores"] == rep["cores_used"]
    assert rep["provenance"]["totals"]["cores_dead"] == 1
