#!/usr/bin/env python3
"""ws_trace.py -- the timeline of the producer form's consumers as a table.

    TPRIM_CUDA_STREAM=producer build-trace/tprim bench --device cuda --suite evoformer \\
        --filter tri_start_n768 | python3 bench/gpu/ws_trace.py

The input holds the lines "wstrace WG TILE C0 .. C5" that a build with -DTP_WS_TRACE prints
(src/cuda/attention_wgmma_ws.cuh: block 0, the third launch, clock64 at each point of a
consumer's first 64 tiles, -1 where a point is not marked). Points: C0 the tile begins (K / V
wait), C1 the bias is in S (the turn's wait), C2 the turn (the wgmma issued), C3 the wgmma
done, C4 the softmax done, C5 P V done (the stream form: every tile; the deferred form: an
item's last tile). Printed: each phase's median cycles over the tiles after the first
item's, per consumer and together; the median tile period; then the first tiles in cycles
from the earliest mark, so that the three consumers' phases can be laid side by side.
"""
import statistics
import sys

PHASES = [("K/V + bias wait, bias into S", 0, 1), ("turn wait", 1, 2), ("wgmma (issue to done)", 2, 3),
          ("softmax", 3, 4), ("P V wait", 4, 5)]


def main():
    rows = {}
    for line in sys.stdin:
        f = line.split()
        if len(f) == 9 and f[0] == "wstrace":
            rows[(int(f[1]), int(f[2]))] = [int(x) for x in f[3:]]
    if not rows:
        sys.exit("ws_trace.py: no wstrace lines (a build with -DTP_WS_TRACE, the producer form)")
    wgs = sorted({w for w, _ in rows})
    t0 = min(c[0] for c in rows.values() if c[0] >= 0)
    skip = 6  # the first item's tiles: warm-up
    print(f"{'phase':32s}" + "".join(f"  wg{w:d} median" for w in wgs) + "   all median")
    for name, a, b in PHASES:
        cols, every = [], []
        for w in wgs:
            d = [c[b] - c[a] for (ww, n), c in sorted(rows.items()) if ww == w and n >= skip and c[a] >= 0 and c[b] >= 0]
            every += d
            cols.append(f"{statistics.median(d):12.0f}" if d else f"{'-':>12s}")
        print(f"{name:32s}" + "".join(cols) + (f"{statistics.median(every):13.0f}" if every else f"{'-':>13s}"))
    per = []
    for w in wgs:
        ns = sorted(n for ww, n in rows if ww == w)
        per += [rows[(w, n + 1)][0] - rows[(w, n)][0] for n in ns if n >= skip and (w, n + 1) in rows]
    if per:
        print(f"{'tile period (C0 to next C0)':32s}{statistics.median(per):12.0f} cycles (median of all consumers)")
    # how many consumers are in the softmax (C3 to C4) at once, over the steady-state span:
    # a share of that span for 0, 1, 2, 3 of them (a convoy shows as 2 and 3, not 1)
    iv = [(c[3], c[4]) for (w, n), c in rows.items() if n >= skip and c[3] >= 0 and c[4] >= 0]
    if iv:
        lo = min(c[0] for (w, n), c in rows.items() if n == skip and c[0] >= 0)
        hi = min(max(c[4] for (ww, n), c in rows.items() if ww == w and c[4] >= 0) for w in wgs)
        ev = sorted([(a, 1) for a, b in iv if b > lo and a < hi] + [(b, -1) for a, b in iv if b > lo and a < hi])
        share = [0] * (len(wgs) + 2)
        k, last = 0, lo
        for x, d in ev:
            x = min(max(x, lo), hi)
            share[min(k, len(share) - 1)] += x - last
            k, last = k + d, x
        share[min(k, len(share) - 1)] += max(hi - last, 0)
        tot = max(sum(share), 1)
        print("consumers in the softmax at once, share of the span: " +
              "  ".join(f"{i}: {100.0 * v / tot:.0f} %" for i, v in enumerate(share[:len(wgs) + 1])))
    print("\nfirst tiles, cycles from the earliest mark (C0 C1 C2 C3 C4 C5):")
    for n in range(0, min(13, 1 + max(n for _, n in rows))):
        cells = []
        for w in wgs:
            c = rows.get((w, n))
            cells.append(" ".join(f"{x - t0:7d}" if x >= 0 else f"{'-':>7s}" for x in c) if c else "")
        print(f"{n:3d}  " + "  |  ".join(cells))


if __name__ == "__main__":
    main()
