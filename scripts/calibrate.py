#!/usr/bin/python3
"""make bench-calibrate: the emulator's cycle charges against the ARM968E-S
(docs/calibration.md, "Measuring").

1. build/bench/calibrate_capture trains each model on the emulated SpiNN-5
   and records, for the first core of every kernel, the chip's SDRAM as
   that core's main found it and every callback the emulator ran on it,
   with the cycles it charged (the emulator's observer, spindle/emu.h).
2. Every kernel that ran is built for the ARM968E-S as make arm builds it
   (scripts/arm_build.py's flags and sources) with src/arm/calib_harness.c
   in place of spinnaker_tools, and run under qemu-arm with an instruction
   trace (-singlestep -d exec,nochain): the harness loads the SDRAM, runs
   main and plays the same callbacks in the same order.
3. Each executed instruction is weighed with the ARM9E-S cycle timings the
   ARM968E-S uses (WEIGHTS below, sources in docs/calibration.md), with the
   load-use and multiply-result interlocks and taken branches read from the
   trace; a callback's cycles are those of its instructions between the
   harness's markers, plus the interrupt entry and return that no
   instruction shows (IRQ_ENTRY_EXIT).
4. Rows {"kernel", "callback", "model_cycles", "measured_cycles", "calls",
   "ratio"} per kernel image and callback (the mean per call), written
   atomically to build/bench/calibrate.json; exit 1 when a row of a hot
   callback is outside [0.8, 1.25] (--no-check: report only).

  calibrate.py [--build build] [--out build/bench/calibrate.json]
               [--samples 8] [--events 3000] [--models mlp,lenet5]
"""
import argparse
import collections
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "scripts"))
import arm_build  # noqa: E402  (same flags and sources as make arm)

MODELS = {"mlp": "examples/mlp.json", "lenet5": "examples/lenet5.json",
          "pool": "bench/calibrate_pool.json"}  # a pooling of its own: overlapping windows
IMAGES = {k[0]: k for k in arm_build.KERNELS}
LO, HI = 0.8, 1.25


def cost_table():
    """The SPD_COST_* integers of src/machine/cost_table.h."""
    out = {}
    for m in re.finditer(r"#define SPD_COST_(\w+) \(?([0-9u +]+)\)?\s",
                         open(os.path.join(ROOT, "src/machine/cost_table.h")).read()):
        out[m.group(1)] = sum(int(x.strip().rstrip("u")) for x in m.group(2).split("+") if x.strip())
    return out


COST = cost_table()
# send_task charges a partition's pace less a dispatch, its own work and a
# send (kernels/kernel_common.c): the rest is waiting.
SEND_OVERHEAD = COST["TASK_DISPATCH"] + COST["SEND_TASK"] + COST["SEND"]
# Exception entry (3: the pipeline refills at the vector), the vector's
# branch to the handler (3), saving and restoring the six registers a C
# handler saves beyond a function (STMFD/LDMFD, 6 + 6) and the return
# (SUBS pc, lr, #4: 3): an interrupt's cost that no traced instruction shows.
IRQ_ENTRY_EXIT = 21
KINDS = ["x", "psum", "y", "dz", "dxpsum", "record", "credit", "dwsum", "wupd", "nack"]
PHASES = ["forward", "backward", "credit", "batch"]

REG = re.compile(r"\b(r1[0-5]|r[0-9]|sl|fp|ip|sp|lr|pc|sb)\b")
ALIAS = {"sb": "r9", "sl": "r10", "fp": "r11", "ip": "r12", "sp": "r13", "lr": "r14",
         "pc": "r15"}
COND = "(eq|ne|cs|hs|cc|lo|mi|pl|vs|vc|hi|ls|ge|lt|gt|le|al)?"
# ARM9E-S instruction timings (ARM DDI 0165B/0222B "Instruction cycle
# timings"; docs/calibration.md): issue cycles of each class.
DATA = {"and", "eor", "sub", "rsb", "add", "adc", "sbc", "rsc", "tst", "teq", "cmp", "cmn",
        "orr", "mov", "bic", "mvn", "lsl", "lsr", "asr", "ror", "rrx", "clz", "qadd", "qsub",
        "qdadd", "qdsub", "nop", "neg"}
MUL = {"mul": 2, "mla": 2, "muls": 4, "mlas": 4, "smull": 3, "umull": 3, "smlal": 3, "umlal": 3,
       "smulls": 5, "umulls": 5, "smlals": 5, "umlals": 5}
MUL16 = {"smulbb": 1, "smulbt": 1, "smultb": 1, "smultt": 1, "smulwb": 1, "smulwt": 1,
         "smlabb": 1, "smlabt": 1, "smlatb": 1, "smlatt": 1, "smlawb": 1, "smlawt": 1,
         "smlalbb": 2, "smlalbt": 2, "smlaltb": 2, "smlaltt": 2}


def fail(msg):
    print("calibrate: " + msg, file=sys.stderr)
    sys.exit(1)


def regs(text):
    return [ALIAS.get(r, r) for r in REG.findall(text)]


def reglist(text):
    """Registers of an LDM/STM list such as {r4, r5-r7, lr}."""
    m = re.search(r"\{([^}]*)\}", text)
    out = []
    for part in (m.group(1).split(",") if m else []):
        part = part.strip()
        if "-" in part:
            a, b = [int(ALIAS.get(x.strip(), x.strip())[1:]) for x in part.split("-")]
            out += ["r%d" % i for i in range(a, b + 1)]
        elif part:
            out.append(ALIAS.get(part, part))
    return out


BASES = sorted(DATA | {"mul", "mla", "smull", "umull", "smlal", "umlal"} | set(MUL16) | {
    "ldrsb", "ldrsh", "ldrb", "ldrh", "ldrd", "ldr", "strb", "strh", "strd", "str", "ldm",
    "stm", "push", "pop", "blx", "bx", "bl", "b", "svc", "mrs", "msr", "uxtb", "uxth", "sxtb",
    "sxth"}, key=len, reverse=True)
SHIFTED = re.compile(r",\s*(lsl|lsr|asr|ror)\b")
REG_SHIFT = re.compile(r",\s*(lsl|lsr|asr|ror)\s+(r\d+|sl|fp|ip|sb|lr)\b")


def split(mnem):
    """(base mnemonic, sets flags) of a UAL mnemonic such as subseq, ldrbne, bls."""
    for b in BASES:
        if not mnem.startswith(b):
            continue
        rest = mnem[len(b):]
        if b in ("b", "bl", "bx", "blx"):
            if re.fullmatch(COND, rest):
                return b, False
            continue
        m = re.fullmatch(r"(s?)(ia|ib|da|db|fd|ed|fa|ea)?" + COND, rest)
        if m:
            return b, m.group(1) == "s"
    return mnem, False


class Insn:
    """One instruction's static timing: issue cycles, what it writes and
    reads, the cycles a taken branch adds and the interlock a following
    use of its result costs."""
    __slots__ = ("cycles", "dest", "uses", "branch", "taken_extra", "interlock", "accum")

    def __init__(self, mnem, ops):
        base, flags = split(mnem)
        rl = regs(ops)
        self.cycles, self.dest, self.uses = 1, [], rl
        self.branch, self.taken_extra, self.interlock, self.accum = False, 0, 0, None
        if base in ("b", "bl"):  # 3 taken, 1 not
            self.branch, self.taken_extra, self.uses = True, 2, []
        elif base in ("bx", "blx"):
            self.branch, self.cycles = True, 3
        elif base in ("ldm", "pop"):  # n registers: n (2 for one), +4 loading pc
            lst = reglist(ops)
            self.cycles = max(2, len(lst))
            self.dest = [r for r in lst if r != "r15"]
            self.uses = [] if base == "pop" else rl[:1]
            self.interlock = 1
            if "r15" in lst:
                self.branch, self.cycles = True, len(lst) + 4
        elif base in ("stm", "push"):
            self.cycles = max(2, len(reglist(ops)))
        elif base.startswith("ldr"):  # 1, +1 scaled offset; use next: +1 word, +2 byte/half
            self.dest = rl[:2] if base == "ldrd" else rl[:1]
            self.uses = rl[len(self.dest):]
            self.cycles = (2 if base == "ldrd" else 1) + (1 if SHIFTED.search(ops) else 0)
            self.interlock = 1 if base in ("ldr", "ldrd") else 2
            if "r15" in self.dest:
                self.branch, self.cycles, self.interlock = True, 5, 0
        elif base.startswith("str"):
            self.cycles = 2 if base == "strd" or SHIFTED.search(ops) else 1
        elif base in MUL:
            key = base + ("s" if flags else "")
            self.cycles = MUL.get(key, MUL[base])
            long_ = base in ("smull", "umull", "smlal", "umlal")
            self.dest = rl[:2] if long_ else rl[:1]
            self.uses = rl[2:] if long_ else rl[1:]
            self.interlock = 0 if flags else 1
            self.accum = "long" if long_ else "word"
        elif base in MUL16:
            self.cycles = MUL16[base]
            long_ = base.startswith("smlal")
            self.dest = rl[:2] if long_ else rl[:1]
            self.uses = rl[2:] if long_ else rl[1:]
            self.interlock = 1
            self.accum = "long" if long_ else "word"
        elif base == "msr":
            self.cycles = 3
        elif base == "mrs":
            self.dest = rl[:1]
        else:
            self.dest = rl[:1] if base not in ("tst", "teq", "cmp", "cmn") else []
            self.uses = rl[1:] if self.dest else rl
            if REG_SHIFT.search(ops):
                self.cycles = 2
            if "r15" in self.dest:
                self.branch = True
                self.cycles = 3 if base in ("add", "sub", "rsb", "adc", "sbc") else 4


def disassemble(elf):
    """address -> Insn, and function name -> (start, end), from objdump/nm."""
    text = subprocess.run(["arm-none-eabi-objdump", "-d", elf], capture_output=True,
                          text=True, check=True).stdout
    insns = {}
    for line in text.splitlines():
        m = re.match(r"\s+([0-9a-f]+):\s+([0-9a-f]{8})\s+(\S+)\s*([^;@]*)", line)
        if m:
            insns[int(m.group(1), 16)] = Insn(m.group(3), m.group(4).strip())
    syms = {}
    for line in subprocess.run(["arm-none-eabi-nm", "-S", elf], capture_output=True,
                               text=True, check=True).stdout.splitlines():
        p = line.split()
        if len(p) == 4 and p[2] in "tTwW":
            a = int(p[0], 16)
            syms[p[3]] = (a, a + int(p[1], 16))
    return insns, syms


def weigh(trace, insns, begin, end, owner=None, skip=()):
    """Cycles per segment k (calib_begin(k) .. calib_end(k)) of a trace;
    with @owner (pc -> function name), also cycles per segment and function."""
    seg, prof = {}, collections.defaultdict(collections.Counter)
    k, inside, prev, total = 0, False, None, 0
    with open(trace) as f:
        for line in f:
            if not line.startswith("Trace"):
                continue
            b = line.find("[")
            pc = int(line[b + 10:b + 18], 16)
            if pc == begin:
                inside, prev, total = True, None, 0
                k += 1
                continue
            if not inside:
                continue
            if pc == end:
                if prev is not None:
                    total += prev.cycles
                seg[k - 1] = total
                if owner is not None:
                    prof[k - 1][owner(prev_pc)] += prev.cycles
                inside, prev = False, None
                continue
            ins = insns.get(pc)
            if ins is None or any(a <= pc < b for a, b in skip):
                continue
            if prev is not None:
                c = prev.cycles
                if prev.branch and pc != prev_pc + 4:
                    c += prev.taken_extra
                if prev.interlock and prev.dest:
                    used = set(ins.uses)
                    if ins.accum and prev.accum == ins.accum and ins.dest == prev.dest:
                        used -= set(prev.dest)  # the accumulator chains without a stall
                    if used & set(prev.dest):
                        c += prev.interlock
                total += c
                if owner is not None:
                    prof[k - 1][owner(prev_pc)] += c
            prev, prev_pc = ins, pc
    return (seg, prof) if owner is not None else seg


def build_image(out, kernel, numeric, arm_cflags):
    name, sym, role = IMAGES[kernel]
    elf = os.path.join(out, "%s_%s.elf" % (name, numeric))
    srcs = [os.path.join(ROOT, s) for s in arm_build.COMMON if "spin1_stub" not in s]
    srcs += [os.path.join(ROOT, "src/kernels", role), os.path.join(ROOT, "src/arm/core_spin1.c"),
             os.path.join(ROOT, "src/arm/calib_harness.c")]
    flags = arm_build.CFLAGS + arm_cflags + ["-DSPD_KC_NUMERIC=" + arm_build.NUMERICS[numeric],
                                             "-DSPD_ARM_CALIBRATE", "-DSPD_ARM_KERNEL=" + sym]
    libs = (["-lm"] if numeric == "float" else []) + ["-lc", "-lgcc"]
    p = subprocess.run([arm_build.CC] + flags + ["-nostartfiles", "-nostdlib",
                                                 "-Wl,--gc-sections", "-Wl,-e,_start", "-o", elf]
                       + srcs + libs, capture_output=True, text=True)
    if p.returncode:
        fail("building %s: %s" % (os.path.basename(elf), p.stderr.strip()))
    return elf


def variant(build, kernel, numeric):
    """The mode and optimisation make arm chose for the image (sizes.json),
    so that what is measured is what would be loaded; ARM -O2 without it."""
    try:
        with open(os.path.join(build, "arm", "sizes.json")) as f:
            e = json.load(f)["images"]["%s_%s.elf" % (kernel, numeric)]
        return ["-m" + e["mode"], e["opt"]]
    except (OSError, KeyError, ValueError):
        return ["-marm", "-O2"]


def label(line, events, syms_by_addr):
    """The callback a harness line names."""
    p = line.split()
    if len(p) < 5 or not p[0].isdigit():
        return -1, None
    k, what = int(p[0]), p[1]
    if what == "packet":
        kind = int(p[2])
        return k, "packet(%s)" % (KINDS[kind] if kind < len(KINDS) else "?")
    if what == "timer":
        return k, "timer interrupt"
    if what == "user":
        return k, "receive"
    if what == "task":
        name = syms_by_addr.get(int(p[2]), "?")
        if name == "slot_task":
            ph = int(p[4])
            return k, "slot(%s)" % (PHASES[ph] if ph < len(PHASES) else "?")
        if name == "send_task":
            return k, "send"
        if name == "on_timer":
            return k, "timer"
        return k, name
    return k, None


def run_kernel(work, capdir, elf, keep, profile=False):
    events = []
    with open(os.path.join(capdir, "events"), "rb") as f:
        data = f.read()
    for i in range(0, len(data), 24):
        w = [int.from_bytes(data[i + 4 * j:i + 4 * j + 4], "little") for j in range(6)]
        events.append((w[0], w[1], w[2], w[3], w[4] | w[5] << 32))
    trace = os.path.join(work, os.path.basename(capdir) + ".trace")
    p = subprocess.run(["qemu-arm", "-singlestep", "-d", "exec,nochain", "-D", trace, elf],
                       cwd=capdir, capture_output=True, text=True)
    if p.returncode or not p.stdout.rstrip().endswith("done"):
        fail("%s under qemu-arm: %s" % (os.path.basename(elf),
                                         (p.stdout.strip().splitlines() or [""])[-1] +
                                         p.stderr.strip()))
    insns, syms = disassemble(elf)
    owner = None
    if profile:
        starts = sorted((a, n) for n, (a, _) in syms.items())
        import bisect
        keys = [a for a, _ in starts]

        def owner(pc):
            i = bisect.bisect_right(keys, pc) - 1
            return starts[i][1] if i >= 0 else "?"
    skip = [syms[n] for n in ("replay", "spin1_start", "calib_sdram_bytes", "begin", "end")
            if n in syms]
    seg = weigh(trace, insns, syms["calib_begin"][0], syms["calib_end"][0], owner, skip)
    if profile:
        seg, prof = seg
    if not keep:
        os.remove(trace)
    by_addr = {a: n for n, (a, _) in syms.items()}
    rows, profs, jobs, sdram = collections.OrderedDict(), {}, {}, {}
    for line in p.stdout.splitlines():
        f = line.split()
        if len(f) == 5 and f[1] == "job":
            jobs[int(f[0])] = (int(f[2]), int(f[3]))
        if len(f) == 5 and f[1] == "sdram":
            sdram[int(f[0])] = int(f[2])
    for line in p.stdout.splitlines():
        k, name = label(line, events, by_addr)
        if name is None or k not in seg:
            continue
        cyc = seg[k] + (IRQ_ENTRY_EXIT if name.startswith(("packet", "timer interrupt", "receive")) else 0)
        cyc += sdram.get(k, 0) * COST["SDRAM_WORD_CYCLES"]
        model = events[k][4]
        if name == "send":  # the pace it waits is the core's time, not its work
            pace, phase = jobs.get(k, (0, 0))
            model -= phase + max(0, pace - SEND_OVERHEAD)
        r = rows.setdefault(name, [0, 0, 0])
        r[0] += model
        r[1] += cyc
        r[2] += 1
        if profile:
            profs.setdefault(name, collections.Counter()).update(prof[k])
    for name, c in (profs.items() if profile else ()):
        n = rows[name][2]
        print("  %s: %s" % (name, ", ".join("%s %.0f" % (f, v / n)
                                            for f, v in c.most_common(8))))
    return rows


def write_atomic(path, text):
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(os.path.abspath(path)), prefix=".tmp.")
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default=os.path.join(ROOT, "build"),
                    help="the host build directory (default build)")
    ap.add_argument("--out", default=None, help="default BUILD/bench/calibrate.json")
    ap.add_argument("--models", default="mlp,lenet5,pool", help="of %s" % ", ".join(MODELS))
    ap.add_argument("--numerics", default="fixed,float")
    ap.add_argument("--samples", type=int, default=8, help="samples trained (default 8)")
    ap.add_argument("--events", type=int, default=3000,
                    help="callbacks played per core (default 3000)")
    ap.add_argument("--no-check", action="store_true", help="report only, exit 0")
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    ap.add_argument("--profile", action="store_true",
                    help="print each callback's cycles per function")
    ap.add_argument("--kernels", default="", help="only these kernels (e.g. tile,loss)")
    a = ap.parse_args()
    out = a.out or os.path.join(a.build, "bench", "calibrate.json")
    capture = os.path.join(a.build, "bench", "calibrate_capture")
    for tool in (arm_build.CC, "qemu-arm", "arm-none-eabi-objdump"):
        if not shutil.which(tool):
            fail("%s not found (make deps installs gcc-arm-none-eabi and qemu-user)" % tool)
    if not os.access(capture, os.X_OK):
        fail("%s not found: make build first" % capture)
    models = a.models.split(",")
    for m in models:
        if m not in MODELS:
            fail("--models: unknown model %r (%s)" % (m, ", ".join(MODELS)))
    if a.samples < 1 or a.events < 2:
        fail("--samples and --events must be positive")
    work = tempfile.mkdtemp(prefix="calibrate.")
    rows = []
    try:
        for model in models:
            for numeric in a.numerics.split(","):
                cap = os.path.join(work, "%s_%s" % (model, numeric))
                p = subprocess.run([capture, cap, os.path.join(ROOT, MODELS[model]), numeric,
                                    str(a.samples), str(a.events)], capture_output=True,
                                   text=True)
                if p.returncode:
                    fail("capture of %s %s: %s" % (model, numeric, p.stderr.strip()))
                for d in sorted(os.listdir(cap)):
                    kernel = d[len("spindle_"):-len("_" + numeric)]
                    if kernel not in IMAGES or (a.kernels and kernel not in a.kernels.split(",")):
                        continue
                    elf = build_image(work, kernel, numeric, variant(a.build, kernel, numeric))
                    got = run_kernel(work, os.path.join(cap, d), elf, a.keep, a.profile)
                    for name, (model_c, meas, calls) in got.items():
                        row = {"model": model, "kernel": "%s_%s" % (kernel, numeric),
                               "callback": name, "calls": calls,
                               "model_cycles": round(model_c / calls, 1),
                               "measured_cycles": round(meas / calls, 1)}
                        row["ratio"] = round(row["measured_cycles"] / row["model_cycles"], 3) \
                            if row["model_cycles"] else None
                        rows.append(row)
                        print("%-7s %-16s %-20s %5d calls  model %9.1f  measured %9.1f  %s" % (
                            model, row["kernel"], name, calls, row["model_cycles"],
                            row["measured_cycles"], row["ratio"]))
    finally:
        if not a.keep:
            shutil.rmtree(work, ignore_errors=True)
        else:
            print("calibrate: work kept in " + work)
    report = {"cpu": "arm968e-s", "timings": "ARM9E-S (ARM DDI 0165B/0222B)",
              "irq_entry_exit_cycles": IRQ_ENTRY_EXIT, "band": [LO, HI], "rows": rows}
    write_atomic(out, json.dumps(report, indent=1) + "\n")
    bad = [r for r in rows if r["ratio"] is None or not LO <= r["ratio"] <= HI]
    print("calibrate: %d rows, %d outside [%.2f, %.2f]; %s" % (len(rows), len(bad), LO, HI, out))
    return 1 if bad and not a.no_check else 0


if __name__ == "__main__":
    sys.exit(main())
