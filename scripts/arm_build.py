#!/usr/bin/python3
"""Build every kernel for the ARM968E-S and check it (docs/calibration.md).

Each kernel (src/kernels/, the roles of src/emu/kernel_registry.c) is built
once per numeric, freestanding, with only that numeric's code
(-DSPD_KC_NUMERIC), against the spin1 shim of src/arm/, into
OUT/<kernel>_<numeric>.elf. A kernel is tried as ARM -O2, ARM -Os, Thumb -O2
and Thumb -Os, in that order (ARM is the faster on the ARM968E-S: Thumb-1
has no conditional execution or DSP multiplies, and the ITCM fetches 32 bits
a cycle either way), and the first that fits ITCM is kept.

The check reads arm-none-eabi-size and arm-none-eabi-nm of every image and
fails (exit 1, one line per problem) when code + read-only data is over the
ITCM budget, when a fixed-point image references soft float or libm, or when
any image references soft double. OUT/sizes.json (written atomically) holds
every image's sizes, its mode and what it references.

  arm_build.py [--out DIR] [--jobs N] [--itcm BYTES] [--variants LIST]
                                                       build and check
  arm_build.py --check ELF... [--numeric fixed|float]  check given images

It also writes OUT/kernel_itcm_table.h, the ITCM bytes of every role and
numeric for the mapper (src/map/kernel_itcm.c), and says when the copy the
host builds with, src/map/kernel_itcm_table.h, differs from it;
--update-table rewrites that copy.
"""
import argparse
import concurrent.futures
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CC = "arm-none-eabi-gcc"
SIZE = "arm-none-eabi-size"
NM = "arm-none-eabi-nm"
ITCM_BYTES = 32 * 1024

# The kernels of src/emu/kernel_registry.c: image name, its spd_kernel_t and
# its role's source. Dropout and the training block are linked into the
# roles that use them (tile, conv, reducer); they are not kernels.
KERNELS = [
    ("source", "spd_kernel_dense_source", "source.c"),
    ("sink", "spd_kernel_dense_sink", "sink.c"),
    ("loss", "spd_kernel_dense_loss", "loss.c"),
    ("tile", "spd_kernel_dense_tile", "tile.c"),
    ("tile_full", "spd_kernel_dense_tile_full", "tile.c"),
    ("reducer", "spd_kernel_dense_reducer", "reducer.c"),
    ("conv", "spd_kernel_conv_tile", "conv.c"),
    ("pool", "spd_kernel_pool_tile", "conv.c"),
]
NUMERICS = {"fixed": "SPD_DS_FIXED", "float": "SPD_DS_FLOAT"}
COMMON = [
    "src/kernels/kernel_common.c", "src/kernels/resend.c", "src/kernels/dropout.c", "src/kernels/train_block.c",
    "src/base/error.c", "src/base/fixed.c", "src/base/fixed_math.c", "src/base/fx_conv.c",
    "src/base/fx_dense.c", "src/base/fx_update.c", "src/base/rng.c", "src/base/tile_mem.c",
    "src/arm/spin1_stub.c",
]
VARIANTS = [("arm", "-O2"), ("arm", "-Os"), ("thumb", "-O2"), ("thumb", "-Os")]
CFLAGS = ["-mcpu=arm968e-s", "-mfloat-abi=soft", "-std=c17", "-ffreestanding",
          "-ffunction-sections", "-fdata-sections", "-fno-common", "-Wall", "-Wextra",
          "-Werror", "-g", "-I" + os.path.join(ROOT, "include"), "-I" + os.path.join(ROOT, "src")]

# Soft-float helpers: the EABI names (__aeabi_fadd, __aeabi_i2f, __aeabi_cfcmple
# ...) and libgcc's own (__addsf3, __floatsisf, __fixdfsi, __extendsfdf2 ...).
SOFT_FLOAT = re.compile(r"^__aeabi_(c?f[a-z0-9]+|[a-z0-9]+2f)$|^__[a-z]+sf[23]$|"
                        r"^__float(un)?[sdt]isf$|^__fix(uns)?sf[sdt]i$|^__truncdfsf2$")
SOFT_DOUBLE = re.compile(r"^__aeabi_(c?d[a-z0-9]+|[a-z0-9]+2d)$|^__[a-z]+df[23]$|"
                         r"^__float(un)?[sdt]idf$|^__fix(uns)?df[sdt]i$|^__extendsfdf2$")


def fail(msg):
    print("arm_build: " + msg, file=sys.stderr)
    sys.exit(1)


class ToolError(Exception):
    pass


def run(cmd):
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode:
        raise ToolError("%s failed:\n%s%s" % (" ".join(cmd[:1] + cmd[-3:]), p.stdout, p.stderr))
    return p.stdout


def libm_symbols():
    """The functions libm.a defines (a fixed-point image may call none)."""
    path = run([CC, "-mcpu=arm968e-s", "-print-file-name=libm.a"]).strip()
    if not os.path.isabs(path):
        return set()
    syms = set()
    for line in subprocess.run([NM, "-g", "--defined-only", path], capture_output=True,
                               text=True).stdout.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[1] in "TW":
            syms.add(parts[2])
    return syms


def sections(elf):
    """(ITCM bytes: code and read-only data, initialised data, bss) from size -A."""
    itcm = data = bss = 0
    for line in run([SIZE, "-A", elf]).splitlines():
        parts = line.split()
        if len(parts) != 3 or not parts[1].isdigit():
            continue
        name, size = parts[0], int(parts[1])
        if name.startswith((".text", ".rodata", ".ARM.exidx", ".ARM.extab", ".init", ".fini",
                            ".glue", ".vfp11", ".v4_bx", ".iplt", ".rel")):
            itcm += size
        elif name.startswith(".data"):
            data += size
        elif name.startswith(".bss"):
            bss += size
    return itcm, data, bss


def symbols(elf):
    """Every symbol the image defines, mapped to its size (0 if unknown)."""
    out = {}
    for line in run([NM, "-S", "--size-sort", elf]).splitlines() + \
            run([NM, elf]).splitlines():
        parts = line.split()
        if len(parts) == 4:
            out[parts[3]] = int(parts[1], 16)
        elif len(parts) == 3:
            out.setdefault(parts[2], 0)
    return out


def check(elf, numeric, itcm_budget, libm):
    """The image's entry for sizes.json and its problems (one line each)."""
    itcm, data, bss = sections(elf)
    syms = symbols(elf)
    soft_float = sorted(s for s in syms if SOFT_FLOAT.match(s))
    soft_double = sorted(s for s in syms if SOFT_DOUBLE.match(s))
    math = sorted(s for s in syms if s in libm)
    name = os.path.basename(elf)
    problems = []
    if itcm > itcm_budget:
        big = sorted(((v, k) for k, v in syms.items()), reverse=True)[:3]
        problems.append("%s: code + rodata %d bytes > ITCM %d (largest: %s)" % (
            name, itcm, itcm_budget, ", ".join("%s %d" % (k, v) for v, k in big)))
    if numeric == "fixed" and (soft_float or math):
        problems.append("%s: fixed-point image references soft float/libm: %s" % (
            name, " ".join(soft_float + math)))
    if soft_double:
        problems.append("%s: references soft double: %s" % (name, " ".join(soft_double)))
    entry = {"itcm_bytes": itcm, "itcm_budget": itcm_budget, "data_bytes": data,
             "bss_bytes": bss, "numeric": numeric, "soft_float": soft_float,
             "soft_double": soft_double, "libm": math}
    return entry, problems


TABLE = os.path.join(ROOT, "src", "map", "kernel_itcm_table.h")


def table_text(images):
    """src/map/kernel_itcm_table.h: ITCM bytes per role, fixed and float."""
    lines = ["/* Generated by scripts/arm_build.py (make arm; --update-table writes this",
             " * copy): code + read-only data of each kernel's ARM968E-S image, in bytes,",
             " * per role (spd_vertex_role_t) as {fixed point, float}. Read by",
             " * src/map/kernel_itcm.c (docs/calibration.md). */",
             "#define SPD__KERNEL_ITCM_TABLE \\"]
    rows = []
    for kernel, _, _ in KERNELS:
        fx = images.get(kernel + "_fixed.elf", {}).get("itcm_bytes", 0)
        fl = images.get(kernel + "_float.elf", {}).get("itcm_bytes", 0)
        rows.append("  [SPD_ROLE_%s] = {%du, %du}," % (kernel.upper(), fx, fl))
    return "\n".join(lines + [r + " \\" for r in rows[:-1]] + rows[-1:]) + "\n"


def write_atomic(path, text):
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".tmp.")
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def compile_one(src, obj, flags):
    os.makedirs(os.path.dirname(obj), exist_ok=True)
    run([CC] + flags + ["-c", src, "-o", obj])
    return obj


def build(out, jobs, itcm_budget, variants, update_table):
    for tool in (CC, SIZE, NM):
        if not shutil.which(tool):
            fail("%s not found (make deps installs gcc-arm-none-eabi)" % tool)
    os.makedirs(out, exist_ok=True)
    objdir = os.path.join(out, "obj")
    libm = libm_symbols()
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=jobs)
    objs = {}
    lock = threading.Lock()

    def objects(numeric, mode, opt, kernel, sym, role):
        """Compile (once per numeric and variant) what image kernel links."""
        flags = CFLAGS + ["-m" + mode, opt, "-DSPD_KC_NUMERIC=" + NUMERICS[numeric]]
        tag = "%s-%s%s" % (numeric, mode, opt[1:])
        futs = []
        for src in COMMON + ["src/kernels/" + role]:
            key = (tag, src)
            with lock:
                if key not in objs:
                    obj = os.path.join(objdir, tag, os.path.basename(src)[:-2] + ".o")
                    objs[key] = pool.submit(compile_one, os.path.join(ROOT, src), obj, flags)
                futs.append(objs[key])
        shim = os.path.join(objdir, tag, "core_spin1_%s.o" % kernel)
        futs.append(pool.submit(compile_one, os.path.join(ROOT, "src/arm/core_spin1.c"), shim,
                                flags + ["-DSPD_ARM_KERNEL=" + sym]))
        return flags, [f.result() for f in futs]

    def link(numeric, mode, opt, kernel, sym, role, elf):
        flags, files = objects(numeric, mode, opt, kernel, sym, role)
        libs = (["-lm"] if numeric == "float" else []) + ["-lc", "-lgcc"]
        run([CC] + flags + ["-nostartfiles", "-nostdlib", "-Wl,--gc-sections", "-Wl,-e,_start",
                            "-o", elf] + files + libs)
        return check(elf, numeric, itcm_budget, libm)

    def one(kernel, sym, role, numeric):
        elf = os.path.join(out, "%s_%s.elf" % (kernel, numeric))
        tmp = elf + ".try"
        for mode, opt in variants:
            try:
                entry, problems = link(numeric, mode, opt, kernel, sym, role, tmp)
            except ToolError as e:
                # A fixed-point image links without libm: a call into it
                # is an undefined reference.
                for stale in (tmp, elf):
                    if os.path.exists(stale):
                        os.remove(stale)
                lines = [l for l in str(e).splitlines() if "undefined reference" in l]
                return os.path.basename(elf), {"error": str(e)}, [
                    "%s: does not build as %s %s: %s" % (
                        os.path.basename(elf), mode, opt,
                        "; ".join(sorted(set(l.split(": ", 1)[-1] for l in lines)))
                        or str(e).strip().splitlines()[-1])]
            if entry["itcm_bytes"] <= itcm_budget:
                break
        os.replace(tmp, elf)
        entry.update({"mode": mode, "opt": opt, "kernel": sym})
        return os.path.basename(elf), entry, problems

    work = [(k, s, r, n) for k, s, r in KERNELS for n in NUMERICS]
    # The images in parallel: each compiles its objects through the pool.
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, len(work))) as outer:
        results = list(outer.map(lambda w: one(*w), work))
    pool.shutdown()
    report = {"itcm_budget": itcm_budget, "cpu": "arm968e-s",
              "images": {name: entry for name, entry, _ in results}}
    write_atomic(os.path.join(out, "sizes.json"),
                 json.dumps(report, indent=2, sort_keys=True) + "\n")
    table = table_text(report["images"])
    write_atomic(os.path.join(out, "kernel_itcm_table.h"), table)
    if update_table:
        write_atomic(TABLE, table)
    elif not os.path.exists(TABLE) or open(TABLE).read() != table:
        print("arm_build: note: src/map/kernel_itcm_table.h (the sizes the mapper checks) "
              "differs from this build's; --update-table rewrites it")
    problems = [p for _, _, ps in results for p in ps]
    for name, e, _ in results:
        if "error" in e:
            continue
        print("%-20s %-5s %-3s %6d bytes ITCM (%4.1f%%)  data %5d  bss %5d" % (
            name, e["mode"], e["opt"], e["itcm_bytes"], 100.0 * e["itcm_bytes"] / itcm_budget,
            e["data_bytes"], e["bss_bytes"]))
    for p in problems:
        print("arm_build: " + p, file=sys.stderr)
    return 1 if problems else 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=os.path.join(ROOT, "build", "arm"),
                    help="directory of the images and sizes.json (default build/arm)")
    ap.add_argument("--jobs", type=int, default=2, help="parallel compilations (default 2)")
    ap.add_argument("--itcm", type=int, default=ITCM_BYTES,
                    help="ITCM budget of code + rodata in bytes (default 32768)")
    ap.add_argument("--variants", default=",".join(m + o for m, o in VARIANTS),
                    help="modes to try in order, first fit kept (default %(default)s)")
    ap.add_argument("--update-table", action="store_true",
                    help="rewrite src/map/kernel_itcm_table.h from this build's sizes")
    ap.add_argument("--check", nargs="+", metavar="ELF",
                    help="only check these images (numeric from --numeric or the name)")
    ap.add_argument("--numeric", choices=sorted(NUMERICS),
                    help="with --check: the images' numeric (default: _fixed/_float in the name)")
    a = ap.parse_args()
    if a.jobs < 1 or a.itcm < 1:
        fail("--jobs and --itcm must be positive")
    variants = []
    for v in a.variants.split(","):
        m = re.fullmatch(r"(arm|thumb)(-O[2s])", v)
        if not m:
            fail("--variants: %r is not arm-O2, arm-Os, thumb-O2 or thumb-Os" % v)
        variants.append((m.group(1), m.group(2)))
    try:
        if not a.check:
            sys.exit(build(a.out, a.jobs, a.itcm, variants, a.update_table))
        check_only(a)
    except ToolError as e:
        fail(str(e))


def check_only(a):
    libm = libm_symbols()
    bad = 0
    for elf in a.check:
        if not os.path.isfile(elf):
            fail("%s: no such file" % elf)
        numeric = a.numeric or ("fixed" if "fixed" in os.path.basename(elf) else "float")
        entry, problems = check(elf, numeric, a.itcm, libm)
        print("%s: %d bytes ITCM" % (os.path.basename(elf), entry["itcm_bytes"]))
        for p in problems:
            print("arm_build: " + p, file=sys.stderr)
        bad |= bool(problems)
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
