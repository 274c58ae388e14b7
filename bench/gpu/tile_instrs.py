#!/usr/bin/env python3
"""bench/gpu/tile_instrs.py -- the machine instructions of one full key tile of a kernel's
tile loop, counted statically from its SASS (no GPU needed), so that two versions of a
kernel can be compared before a device call:

    nvcc -arch=sm_90a -O3 -std=c++17 -cubin -I src/cuda -I include \\
        src/cuda/attention_wgmma_d32.cu -o /tmp/d32.cubin
    cuobjdump -sass -fun tp_attn_wgmma_bf16_d32_b2hw3 /tmp/d32.cubin > /tmp/w3.sass
    python3 bench/gpu/tile_instrs.py /tmp/w3.sass [--ops]

(cuobjdump comes with the CUDA toolkit, or with PyPI's nvidia-cuda-cuobjdump.) The tile
loop is the innermost loop (a backward branch) holding more than 20 MUFU.EX2; a full tile
is that loop without the ranges a forward conditional branch skips when they hold the
cold work: the masked keys' selects (20 or more ISETP.GE), an item's first tile (its
MEMBAR) or the next item's decode (3 or more UIMAD.WIDE.U32). It is a count of issued
instructions on the common path, not a time: --ops lists them by opcode.
"""
import collections
import re
import sys


def read_sass(path):
    ins = []
    for line in open(path):
        m = re.match(r"\s*/\*([0-9a-f]{4,})\*/\s+(.*?);", line)
        if m:
            ins.append((int(m.group(1), 16), m.group(2)))
    return ins


def opcode(text):
    return re.sub(r"^@!?U?P\w+\s+", "", text).split()[0]


def tile_loop(ins):
    at = {a: i for i, (a, _) in enumerate(ins)}
    best = None
    for i, (a, t) in enumerate(ins):
        m = re.search(r"BRA\s.*?(0x[0-9a-f]+)", t)
        if not m:
            continue
        tgt = int(m.group(1), 16)
        if tgt <= a and tgt in at and sum("MUFU.EX2" in x for _, x in ins[at[tgt]:i + 1]) > 20:
            if best is None or a - tgt < best[1] - best[0]:
                best = (tgt, a)
    return best


def cold_ranges(body, hi):
    cold = []
    for a, t in body:
        m = re.match(r"@!?U?P\w+\s+BRA\s.*?(0x[0-9a-f]+)", t)
        if not m:
            continue
        tgt = int(m.group(1), 16)
        if not a < tgt <= hi:
            continue
        skipped = [x for b, x in body if a < b < tgt]
        if (sum("ISETP.GE" in x for x in skipped) >= 20 or any("MEMBAR" in x for x in skipped)
                or sum("UIMAD.WIDE.U32" in x for x in skipped) >= 3):
            cold.append((a + 16, tgt))
    return cold


def main():
    if len(sys.argv) < 2:
        sys.exit("usage: tile_instrs.py SASS [--ops]")
    ins = read_sass(sys.argv[1])
    loop = tile_loop(ins)
    if loop is None:
        sys.exit("no loop with more than 20 MUFU.EX2 in " + sys.argv[1])
    lo, hi = loop
    body = [(a, t) for a, t in ins if lo <= a <= hi]
    cold = cold_ranges(body, hi)
    hot = [t for a, t in body if not any(s <= a < e for s, e in cold)]
    print(f"tile loop {lo:#x}-{hi:#x}: {len(body)} instructions, {len(hot)} on a full tile")
    if "--ops" in sys.argv[2:]:
        for op, n in collections.Counter(opcode(t) for t in hot).most_common():
            print(f"  {op:30s}{n}")


if __name__ == "__main__":
    main()
