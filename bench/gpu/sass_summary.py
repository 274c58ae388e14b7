#!/usr/bin/env python3
"""bench/gpu/sass_summary.py -- where a kernel's instructions and stall samples go, from the
per-instruction CSV that `SASS=1 bench/gpu/profile.sh CASE` writes (Nsight Compute's source
page: every machine instruction with its executed count and warp stall samples).

    python3 bench/gpu/sass_summary.py sass_CASE.csv [TOP]

Prints three tables:
  - opcodes: warp instructions executed and share of the stall samples, by opcode;
  - classes: instructions a warp executes, grouped by how many times each instruction runs
    per warp (the kernel's first instruction runs once a warp: that count is the unit). In a
    loop over key tiles the steady-state body runs (tiles - 1) or tiles times a warp, the
    prologue and epilogue once, so the classes split per-tile work from per-block work;
  - segments: runs of consecutive instructions with the same count (about basic blocks),
    the TOP (default 25) by stall samples, with their address range, length, count a warp
    and how many of their instructions are floating-point or tensor-core ones.
"""
import collections
import csv
import sys

FLOAT_OPS = ("FMNMX", "FADD", "FFMA", "FMUL", "MUFU", "F2FP", "HGMMA", "FSEL", "FSETP")


def opcode(src):
    words = src.split()
    if words and words[0].startswith("@"):  # predicate
        words = words[1:]
    return words[0].rstrip(";") if words else "?"


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    top = int(sys.argv[2]) if len(sys.argv) > 2 else 25
    with open(sys.argv[1], newline="") as f:
        lines = f.readlines()
    # the first line names the kernel ("Kernel Name","..."); the header follows
    start = 1 if lines and lines[0].startswith('"Kernel Name"') else 0
    if start:
        print("kernel:", lines[0].strip().split(",")[1].strip('"'))
    rows = list(csv.DictReader(lines[start:]))
    if not rows:
        sys.exit("no instructions in " + sys.argv[1])
    base = int(rows[0]["Address"], 16)
    ins = []
    for r in rows:
        ins.append((int(r["Address"], 16) - base, int(r["Instructions Executed"] or 0),
                    int(r["Warp Stall Sampling (All Samples)"] or 0), r["Source"].strip()))
    warps = ins[0][1]
    if warps <= 0:
        sys.exit("the first instruction never ran")
    total = sum(n for _, n, _, _ in ins)
    samples = sum(s for _, _, s, _ in ins) or 1
    print(f"warps {warps}, warp instructions {total} ({total / warps:.1f} a warp), stall samples {samples}")

    ops_n, ops_s = collections.Counter(), collections.Counter()
    for _, n, s, src in ins:
        ops_n[opcode(src)] += n
        ops_s[opcode(src)] += s
    print("\nopcode                             instr/warp  instr %  samples %")
    for op, n in ops_n.most_common(24):
        print(f"{op:34s} {n / warps:10.1f} {100 * n / total:7.1f} {100 * ops_s[op] / samples:9.1f}")

    cls_n, cls_s = collections.Counter(), collections.Counter()
    for _, n, s, _ in ins:
        k = round(4 * n / warps) / 4
        cls_n[k] += n
        cls_s[k] += s
    print("\nruns a warp   instr/warp  samples %")
    for k in sorted(cls_n):
        if cls_s[k] >= 0.002 * samples or cls_n[k] >= 0.002 * total:
            print(f"{k:11.2f} {cls_n[k] / warps:12.1f} {100 * cls_s[k] / samples:10.1f}")

    segs = []  # [first address, last address, count, length, samples, float ops]
    for a, n, s, src in ins:
        fl = opcode(src).split(".")[0] in FLOAT_OPS
        if segs and segs[-1][2] == n:
            seg = segs[-1]
            seg[1], seg[3], seg[4], seg[5] = a, seg[3] + 1, seg[4] + s, seg[5] + fl
        else:
            segs.append([a, a, n, 1, s, int(fl)])
    print("\nsegment           runs a warp  length  float  samples %")
    for a0, a1, n, ln, s, fl in sorted(segs, key=lambda x: -x[4])[:top]:
        print(f"{a0:6x}-{a1:6x} {n / warps:13.2f} {ln:7d} {fl:6d} {100 * s / samples:10.1f}")


if __name__ == "__main__":
    main()
