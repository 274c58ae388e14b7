#!/usr/bin/env python3
"""compare.py -- put tprim's GPU forward attention records next to its peers'.

    python3 bench/gpu/compare.py TPRIM.json PEERS.json [--markdown]

TPRIM.json: `tprim bench --device cuda --json`; PEERS.json: bench/gpu/torch_peers.py. Both
follow the record contract of docs/bench.md. One row per (suite, case, dtype) with a
"tprim" record of op "attention": tprim's ms and TFLOP/s, then for each peer its TFLOP/s
and the ratio peer ms / tprim ms (> 1: tprim is faster); "-" where a value is missing.
"""
import argparse
import json
import math
import sys

# machine fields worth a place in the last line, in this order (others are left out)
MACHINE_KEYS = ["tprim_version", "torch", "cuda", "mma_bf16_tflops", "peak_tflops",
                "peak_gflops", "bandwidth_gbps", "sms", "l2_bytes"]


def load(path):
    try:
        with open(path) as f:
            doc = json.load(f)
    except (OSError, ValueError) as e:
        sys.exit(f"compare.py: cannot read {path}: {e}")
    return doc.get("machine") or {}, doc.get("records") or []


def num(x):
    """A usable number, or None (JSON null, NaN, strings ...)."""
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        return None
    return None if math.isnan(x) or math.isinf(x) else float(x)


def key(r):
    return (r.get("suite"), r.get("case"), r.get("dtype"))


def short(impl):
    return impl[len("torch_"):] if impl.startswith("torch_") else impl


def machine_line(m):
    if not m:
        return "-"
    name = next((m[k] for k in ("device", "device_name", "gpu", "gpu_name", "cpu") if m.get(k)), "?")
    parts = [f"{k}={m[k]}" for k in MACHINE_KEYS if m.get(k) is not None]
    return name + (" (" + ", ".join(parts) + ")" if parts else "")


def build(tprim_recs, peer_recs):
    """Header and rows (lists of strings) of the table."""
    rows_keys, tprim = [], {}
    for r in tprim_recs:
        if r.get("impl") == "tprim" and r.get("op") == "attention" and key(r) not in tprim:
            tprim[key(r)] = r
            rows_keys.append(key(r))
    peers, impls = {}, []
    for r in peer_recs:
        impl = r.get("impl")
        if r.get("op", "attention") != "attention" or impl in (None, "tprim", "naive"):
            continue
        if impl not in impls:
            impls.append(impl)
        peers.setdefault((key(r), impl), r)
    # only the peers that have at least one case in common with tprim get columns
    impls = [i for i in impls if any((k, i) in peers for k in rows_keys)]

    header = ["suite", "case", "dtype", "tprim ms", "tprim TF/s"]
    for i in impls:
        header += [f"{short(i)} TF/s", f"vs {short(i)}"]
    rows = []
    for k in rows_keys:
        t = tprim[k]
        t_ms, t_gf = num(t.get("ms")), num(t.get("gflops"))
        row = [str(x) for x in k]
        row += [f"{t_ms:.3f}" if t_ms is not None else "-",
                f"{t_gf / 1000:.1f}" if t_gf is not None else "-"]
        for i in impls:
            p = peers.get((k, i), {})
            p_ms, p_gf = num(p.get("ms")), num(p.get("gflops"))
            row.append(f"{p_gf / 1000:.1f}" if p_gf is not None else "-")
            row.append(f"{p_ms / t_ms:.2f}x" if p_ms is not None and t_ms else "-")
        rows.append(row)
    unmatched = sorted({k for (k, _) in peers} - set(rows_keys), key=str)
    return header, rows, unmatched


def print_text(header, rows):
    widths = [max(len(h), *(len(r[c]) for r in rows)) if rows else len(h)
              for c, h in enumerate(header)]
    left = 3  # suite, case, dtype left-aligned; numbers right-aligned

    def line(cells):
        return "  ".join(c.ljust(w) if j < left else c.rjust(w)
                         for j, (c, w) in enumerate(zip(cells, widths)))
    print(line(header))
    print("  ".join("-" * w for w in widths))
    for r in rows:
        print(line(r))


def print_markdown(header, rows):
    print("| " + " | ".join(header) + " |")
    print("|" + "|".join(":---" if j < 3 else "---:" for j in range(len(header))) + "|")
    for r in rows:
        print("| " + " | ".join(r) + " |")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("tprim_json")
    ap.add_argument("peers_json")
    ap.add_argument("--markdown", action="store_true", help="print a Markdown table")
    args = ap.parse_args()
    t_machine, t_recs = load(args.tprim_json)
    p_machine, p_recs = load(args.peers_json)
    header, rows, unmatched = build(t_recs, p_recs)
    if args.markdown:
        print_markdown(header, rows)
    else:
        print_text(header, rows)
    notes = []
    if not rows:
        notes.append("(no tprim forward attention records)")
    if unmatched:
        notes.append("peer cases without a tprim record: "
                     + ", ".join("/".join(str(x) for x in k) for k in unmatched))
    notes.append(f"machines: tprim: {machine_line(t_machine)}; peers: {machine_line(p_machine)}")
    if args.markdown:
        print()  # a blank line ends the table; blank lines keep the notes apart
    print(("\n\n" if args.markdown else "\n").join(notes))

if __name__ == "__main__":
    main()
