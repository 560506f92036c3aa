"""Issue 11, `make bench-calibrate` (scripts/calibrate.py, docs/calibration.md):
the ARM9E-S timing model weighs instructions as the TRM's tables say
(load-use and multiply interlocks, taken branches, LDM/STM, long
multiplies), a trace splits into one segment per callback at the harness's
markers, and, with the toolchain, qemu-arm and the host build, a capture of
a small convolution network gives rows for the hot callbacks of its conv,
pool, source, sink, loss, tile and reducer kernels, each with what the
emulator charged and what the trace weighs.

Run by ctest as a script (SPINDLE_SOURCE_DIR, SPINDLE_BUILD_DIR)."""
import json
import os
import shutil
import subprocess
import sys

SOURCE = os.environ.get("SPINDLE_SOURCE_DIR",
                        os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
BUILD = os.environ.get("SPINDLE_BUILD_DIR", os.path.join(SOURCE, "build"))
sys.path.insert(0, os.path.join(SOURCE, "scripts"))

if __name__ == "__main__":
    import pytest
    sys.exit(pytest.main(["-q", "-p", "no:cacheprovider", __file__]))

import pytest  # noqa: E402

import calibrate  # noqa: E402


def cycles(program, path, tmp_path):
    """Weigh the instructions @program (a list of (mnemonic, operands) at
    0x1000, 0x1004, ...) executed in the order of @path (indices) as one
    segment between the markers."""
    insns = {0x1000 + 4 * i: calibrate.Insn(m, o) for i, (m, o) in enumerate(program)}
    begin, end = 0x100, 0x200
    trace = tmp_path / "trace"
    lines = [0x100] + [0x1000 + 4 * i for i in path] + [0x200]
    trace.write_text("".join("Trace 0: 0x7f00 [00000000/%08x/00000000/00000000] f\n" % pc
                             for pc in lines))
    return calibrate.weigh(str(trace), insns, begin, end)[0]


def test_a_load_used_by_the_next_instruction_interlocks(tmp_path):
    free = [("ldr", "r0, [r1]"), ("add", "r2, r3, r4"), ("add", "r2, r0, r4")]
    used = [("ldr", "r0, [r1]"), ("add", "r2, r0, r4"), ("add", "r2, r3, r4")]
    assert cycles(free, [0, 1, 2], tmp_path) == 3
    assert cycles(used, [0, 1, 2], tmp_path) == 4
    # a byte or halfword load: two cycles
    byte = [("ldrb", "r0, [r1]"), ("add", "r2, r0, r4")]
    assert cycles(byte, [0, 1], tmp_path) == 4
    # a scaled register offset costs a cycle more
    assert cycles([("ldr", "r0, [r1, r2, lsl #2]"), ("nop", "")], [0, 1], tmp_path) == 3


def test_branches_cost_three_when_taken(tmp_path):
    prog = [("cmp", "r0, #1"), ("bne", "1010 <x>"), ("add", "r1, r1, #1"),
            ("add", "r1, r1, #1"), ("add", "r2, r2, #1")]
    assert cycles(prog, [0, 1, 2, 3], tmp_path) == 1 + 1 + 1 + 1  # falls through
    assert cycles(prog, [0, 1, 4], tmp_path) == 1 + 3 + 1          # taken
    assert cycles([("bx", "lr"), ("nop", "")], [0, 1], tmp_path) == 3 + 1


def test_multiplies(tmp_path):
    # SMLAL: 3 cycles; a chain accumulating into the same pair does not stall
    chain = [("smlal", "r4, r5, r0, r1"), ("smlal", "r4, r5, r2, r3")]
    assert cycles(chain, [0, 1], tmp_path) == 6
    # MUL: 2, and 1 more when the next instruction reads the product
    assert cycles([("mul", "r0, r1, r2"), ("add", "r3, r0, #1")], [0, 1], tmp_path) == 4
    assert cycles([("mul", "r0, r1, r2"), ("add", "r3, r4, #1")], [0, 1], tmp_path) == 3
    assert cycles([("smulls", "r0, r1, r2, r3"), ("nop", "")], [0, 1], tmp_path) == 6
    assert cycles([("smlalbb", "r0, r1, r2, r3"), ("nop", "")], [0, 1], tmp_path) == 3


def test_load_and_store_multiple(tmp_path):
    assert cycles([("push", "{r4, r5, r6, lr}"), ("nop", "")], [0, 1], tmp_path) == 4 + 1
    assert cycles([("push", "{lr}"), ("nop", "")], [0, 1], tmp_path) == 2 + 1
    # loading the pc: n + 4
    assert cycles([("pop", "{r4, r5, pc}"), ("nop", "")], [0, 1], tmp_path) == 7 + 1
    assert cycles([("ldmia", "r0, {r1-r4}"), ("nop", "")], [0, 1], tmp_path) == 4 + 1


def test_mnemonics_split_into_base_and_condition():
    assert calibrate.split("bls") == ("b", False)
    assert calibrate.split("bleq") == ("bl", False)
    assert calibrate.split("mulls") == ("mul", False)
    assert calibrate.split("smulls") == ("smull", True)
    assert calibrate.split("ldrbeq") == ("ldrb", False)


def test_segments_split_at_the_markers(tmp_path):
    insns = {0x1000: calibrate.Insn("add", "r0, r0, #1")}
    trace = tmp_path / "trace"
    pcs = [0x100, 0x1000, 0x1000, 0x200, 0x1000, 0x100, 0x1000, 0x200]
    trace.write_text("".join("Trace 0: 0x7f00 [00000000/%08x/00000000/00000000] f\n" % pc
                             for pc in pcs))
    # outside a segment nothing counts
    assert calibrate.weigh(str(trace), insns, 0x100, 0x200) == {0: 2, 1: 1}


TOOLS = all(shutil.which(t) for t in ("arm-none-eabi-gcc", "qemu-arm"))
CAPTURE = os.path.join(BUILD, "bench", "calibrate_capture")


@pytest.mark.skipif(not TOOLS or not os.access(CAPTURE, os.X_OK),
                    reason="needs arm-none-eabi-gcc, qemu-arm (make deps) and make build")
def test_a_small_network_has_a_row_per_hot_callback(tmp_path):
    out = tmp_path / "calibrate.json"
    r = subprocess.run([sys.executable, os.path.join(SOURCE, "scripts", "calibrate.py"),
                        "--build", BUILD, "--out", str(out), "--models", "pool",
                        "--numerics", "fixed", "--events", "250", "--no-check"],
                       capture_output=True, text=True, timeout=1500)
    assert r.returncode == 0, r.stdout + r.stderr
    rows = json.loads(out.read_text())["rows"]
    kernels = {row["kernel"] for row in rows}
    for k in ("conv", "pool", "source", "sink", "loss"):
        assert k + "_fixed" in kernels, (k, sorted(kernels))
    # At the calibrated costs the model's 64 x 10 Dense trains on one core
    # (a full tile); with more room it is tiles and a reducer.
    assert "tile_full_fixed" in kernels or {"tile_fixed", "reducer_fixed"} <= kernels, \
        sorted(kernels)
    for row in rows:
        assert row["model_cycles"] > 0 and row["measured_cycles"] > 0, row
        assert row["ratio"] == round(row["measured_cycles"] / row["model_cycles"], 3), row
    callbacks = {(row["kernel"], row["callback"]) for row in rows}
    assert ("pool_fixed", "packet(x)") in callbacks or ("pool_fixed", "packet(y)") in callbacks
    assert any(cb == "send" for _, cb in callbacks)
