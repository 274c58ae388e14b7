#!/usr/bin/env python3
"""torch_peers.py -- time PyTorch's attention implementations on the shapes of tprim's GPU
bench and write the records in the `tprim bench --json` contract (docs/bench.md), so that
bench/gpu/compare.py can join them with tprim's by (suite, case, dtype).

    python3 bench/gpu/torch_peers.py --json OUT.json [--quick] [--filter TEXT]

Needs PyTorch with CUDA. Timing: random normal inputs, 3 warm-up calls, then CUDA events
around single calls: median of 20 repetitions (5 with --quick), stopping early after 2 s.
FLOPs: 2 (D + Dv) per visible (query, key) pair, as tprim counts them.
"""
import argparse
import gc
import json
import math
import statistics
import sys
import warnings

import torch
import torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel

DTYPES = {"bf16": torch.bfloat16, "f16": torch.float16}
# name, B, Hq, Hkv, S, D, causal  (q, k, v: [B, H, S, D] contiguous)
ATTN_CASES = [
    ("b4_h16_s4096_d128", 4, 16, 16, 4096, 128, False),
    ("b4_h16_s4096_d128_causal", 4, 16, 16, 4096, 128, True),
    ("b4_h16_s4096_d64", 4, 16, 16, 4096, 64, False),
    ("b2_h16_s4096_d256", 2, 16, 16, 4096, 256, False),
    ("gqa32_8_s8192_d128_causal", 1, 32, 8, 8192, 128, True),
    ("b8_h16_s4096_d32", 8, 16, 16, 4096, 32, False),
]
# name, B, N (rows), H, L (attended length), D; bf16 (-1e9 does not fit in f16), and f32
# (everything f32, as OpenFold runs by default) under tprim's name NAME_f32bias
EVO_CASES = [
    ("tri_start_n768", 1, 768, 4, 768, 32),
    ("msa_row_n512_l384", 1, 512, 8, 384, 32),
]
SDPA_BACKENDS = [
    ("torch_sdpa_flash", SDPBackend.FLASH_ATTENTION),
    ("torch_sdpa_cudnn", SDPBackend.CUDNN_ATTENTION),
    ("torch_sdpa_efficient", SDPBackend.EFFICIENT_ATTENTION),
    ("torch_sdpa_math", SDPBackend.MATH),
]
WARMUP = 3
BUDGET_MS = 2000.0           # stop repeating after this much timed work
MATH_LIMIT_BYTES = 20e9      # skip the math backend above this working-set estimate
ROTATE_LIMIT_BYTES = 256 << 20  # below this, rotate among 3 input sets (L2 must not flatter)
REF_ROWS = 512               # queries of the float64 reference slice
DEV = "cuda"


def sync():
    torch.cuda.synchronize()


def free():
    gc.collect()
    torch.cuda.empty_cache()


def first_line(text):
    text = str(text).strip()
    return text.splitlines()[0][:200] if text else ""


def time_calls(fn, reps):
    """Median ms of single calls of fn(i) (i = repetition index), timed with CUDA events."""
    times, total = [], 0.0
    for i in range(reps):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn(i)
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end))
        total += times[-1]
        if total > BUDGET_MS:
            break
    return statistics.median(times)


def measure_machine():
    props = torch.cuda.get_device_properties(0)
    n = 8192
    a = torch.randn(n, n, device=DEV, dtype=torch.bfloat16)
    b = torch.randn(n, n, device=DEV, dtype=torch.bfloat16)
    for _ in range(WARMUP):
        torch.mm(a, b)
    sync()
    ms = time_calls(lambda i: torch.mm(a, b), 10)
    tflops = 2.0 * n ** 3 / (ms * 1e-3) / 1e12
    del a, b
    src = torch.randint(0, 255, (1 << 30,), device=DEV, dtype=torch.uint8)
    dst = torch.empty_like(src)
    for _ in range(WARMUP):
        dst.copy_(src)
    sync()
    ms = time_calls(lambda i: dst.copy_(src), 10)
    gbps = 2.0 * src.numel() / (ms * 1e-3) / 1e9  # bytes read + bytes written
    del src, dst
    free()
    return {"device": torch.cuda.get_device_name(), "mma_bf16_tflops": round(tflops, 1),
            "bandwidth_gbps": round(gbps, 1), "torch": torch.__version__,
            "cuda": torch.version.cuda, "cudnn": torch.backends.cudnn.version(),
            "sms": props.multi_processor_count, "l2_bytes": getattr(props, "L2_cache_size", None)}


def ref_attention(q, k, v, bias=None, causal=False):
    """float64 attention; q [..., Sq, D] are the first Sq queries, k, v [..., Sk, D]."""
    s = (q @ k.transpose(-1, -2)) / math.sqrt(q.shape[-1])
    if bias is not None:
        s = s + bias
    if causal:  # query i sees keys j <= i (Sq == Sk in every case, so top-left == bottom-right)
        i = torch.arange(q.shape[-2], device=q.device)[:, None]
        j = torch.arange(k.shape[-2], device=q.device)[None, :]
        s = s.masked_fill(j > i, float("-inf"))
    return torch.softmax(s, -1) @ v


def rel_err(out, ref):
    out = out.to(torch.float64)
    return (torch.linalg.vector_norm(out - ref) / torch.linalg.vector_norm(ref)).item()


def bench_impl(fn, nsets, reps, track_mem=False):
    """Warm up, take one output (and the memory peak of that call), then time.
    fn(i) runs on input set i % nsets. Returns (ms, output of set 0, peak extra bytes)."""
    for i in range(WARMUP):
        fn(i % nsets)
    sync()
    peak = None
    if track_mem:
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
    out = fn(0)
    sync()
    if track_mem:
        peak = torch.cuda.max_memory_allocated() - base
    ms = time_calls(lambda i: fn(i % nsets), reps)
    return ms, out, peak


def record(suite, case, impl, dtype, params, flops, machine):
    return {"suite": suite, "case": case, "op": "attention", "impl": impl, "dtype": dtype,
            "threads": None, "params": params, "ms": None, "gflops": None, "gbps": None,
            "peak_frac": None, "speedup_vs_naive": None, "rel_err": None,
            "peak_extra_bytes": None, "note": None, "_flops": flops,
            "_peak_gflops": machine["mma_bf16_tflops"] * 1000.0}


def run_record(rec, fn, nsets, reps, check, track_mem=False):
    """Fill rec's ms, gflops, peak_frac, rel_err (check(out) -> float) or its note on failure."""
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                ms, out, peak = bench_impl(fn, nsets, reps, track_mem)
            except Exception as e:  # backend does not support the case, or out of memory
                why = []  # SDPA says why each kernel was refused in warnings
                for w in caught:
                    text = " ".join(str(w.message).split("(Triggered internally")[0].split())
                    if text and text not in why:
                        why.append(text)
                rec["note"] = (first_line(e) + (" (" + " ".join(why) + ")" if why else ""))[:400]
                return rec
        rec["ms"] = ms
        rec["gflops"] = rec["_flops"] / (ms * 1e-3) / 1e9
        rec["peak_frac"] = rec["gflops"] / rec["_peak_gflops"]
        rec["rel_err"] = check(out)
        if track_mem:
            rec["peak_extra_bytes"] = int(peak)
        del out
    finally:
        free()
    return rec


def attention_suite(machine, reps, want, emit):
    for name, B, Hq, Hkv, S, D, causal in ATTN_CASES:
        for dname, dt in DTYPES.items():
            if not want("attention", name, dname):
                continue
            in_bytes = (B * Hq + 2 * B * Hkv) * S * D * 2
            nsets = 3 if in_bytes < ROTATE_LIMIT_BYTES else 1
            sets = [(torch.randn(B, Hq, S, D, device=DEV, dtype=dt),
                     torch.randn(B, Hkv, S, D, device=DEV, dtype=dt),
                     torch.randn(B, Hkv, S, D, device=DEV, dtype=dt)) for _ in range(nsets)]
            # Reference on a slice: batch 0, heads 0-1 (and their kv heads), first 512 queries.
            q, k, v = sets[0]
            kvh = [h // (Hq // Hkv) for h in (0, 1)]
            ref = ref_attention(q[0, :2, :REF_ROWS].double(), k[0, kvh].double(),
                                v[0, kvh].double(), causal=causal)
            pairs = S * (S + 1) / 2 if causal else S * S
            flops = 2.0 * (D + D) * pairs * B * Hq
            params = {"B": B, "Hq": Hq, "Hkv": Hkv, "Sq": S, "Sk": S, "D": D, "Dv": D,
                      "causal": causal, "bias": None}
            gqa = Hq != Hkv
            for impl, backend in SDPA_BACKENDS:
                rec = record("attention", name, impl, dname, dict(params), flops, machine)
                if backend == SDPBackend.MATH and 3 * 4 * B * Hq * S * S > MATH_LIMIT_BYTES:
                    rec["note"] = "skipped: memory"  # fp32 scores, probabilities, temporaries
                    emit(rec)
                    continue

                def fn(i, backend=backend):
                    with sdpa_kernel(backend):
                        return F.scaled_dot_product_attention(*sets[i], is_causal=causal,
                                                              enable_gqa=gqa)

                run_record(rec, fn, nsets, reps, lambda o: rel_err(o[0, :2, :REF_ROWS], ref))
                emit(rec)
            del sets, q, k, v, ref
            free()


def evoformer_suite(machine, reps, want, emit):
    for base, B, N, H, L, D in EVO_CASES:
        for dname, dt, name in (("bf16", torch.bfloat16, base), ("f32", torch.float32, base + "_f32bias")):
            if want("evoformer", name, dname):
                evoformer_case(machine, reps, emit, name, dname, dt, B, N, H, L, D)


def evoformer_case(machine, reps, emit, name, dname, dt, B, N, H, L, D):
    gen = torch.Generator(device=DEV).manual_seed(1234)
    qkv_bytes = 3 * B * N * H * L * D * (4 if dt == torch.float32 else 2)
    nsets = 3 if qkv_bytes < ROTATE_LIMIT_BYTES else 1
    sets = [tuple(torch.randn(B, N, H, L, D, device=DEV, dtype=dt) for _ in range(3))
            for _ in range(nsets)]
    # OpenFold: mask bias 1e9 * (mask - 1), about 5% of the keys of each row masked.
    mask = (torch.rand(B, N, 1, 1, L, device=DEV, generator=gen) >= 0.05).float()
    mask_bias = (1e9 * (mask - 1.0)).to(dt)
    pair_bias = torch.randn(B, 1, H, L, L, device=DEV, dtype=dt)
    del mask
    # Reference: rows 0-1 of batch 0, all heads and queries, biases as stored.
    q, k, v = (t[0, :2].double() for t in sets[0])
    ref = ref_attention(q, k, v, bias=mask_bias[0, :2].double() + pair_bias[0].double())
    del q, k, v
    flops = 2.0 * (D + D) * L * L * B * N * H
    params = {"B": B * N, "Hq": H, "Hkv": H, "Sq": L, "Sk": L, "D": D, "Dv": D,
              "causal": False, "N": N, "bias": "mask+pair"}
    flat = [tuple(t.view(B * N, H, L, D) for t in s) for s in sets]

    # SDPA: the two biases summed into one materialised [B*N, H, L, L] mask (not timed).
    full = (mask_bias + pair_bias).expand(B, N, H, L, L).reshape(B * N, H, L, L).contiguous()
    for impl, backend in [("torch_sdpa_efficient", SDPBackend.EFFICIENT_ATTENTION),
                          ("torch_sdpa_auto", None)]:
        rec = record("evoformer", name, impl, dname, dict(params), flops, machine)

        def fn(i, backend=backend):
            if backend is None:
                return F.scaled_dot_product_attention(*flat[i], attn_mask=full)
            with sdpa_kernel(backend):
                return F.scaled_dot_product_attention(*flat[i], attn_mask=full)

        run_record(rec, fn, nsets, reps, lambda o: rel_err(o.reshape(B, N, H, L, D)[0, :2], ref))
        if rec["ms"] is not None:
            rec["peak_extra_bytes"] = full.numel() * full.element_size()
            rec["note"] = f"attn_mask materialised as [B*N,H,L,L] {dname} (built outside the timing)"
        emit(rec)
    del full
    free()

    # OpenFold's _attention written with plain ops on the logical 5-d tensors.
    scale = 1.0 / math.sqrt(D)

    def plain(i):
        q, k, v = sets[i]
        a = (q * scale) @ k.transpose(-1, -2)
        a += mask_bias
        a += pair_bias
        a = torch.softmax(a, -1, dtype=torch.float32).to(dt)
        return a @ v

    rec = record("evoformer", name, "torch_plain", dname, dict(params), flops, machine)
    run_record(rec, plain, nsets, reps, lambda o: rel_err(o[0, :2], ref), track_mem=True)
    if rec["ms"] is not None:
        rec["note"] = ("softmax in float32, cast back to the input dtype (OpenFold's softmax_no_cast "
                       "keeps the input dtype); peak_extra_bytes includes the output")
    emit(rec)
    del sets, flat, mask_bias, pair_bias, ref
    free()


def fmt(x, spec, none="-"):
    return none if x is None else format(x, spec)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--json", required=True, help="output file")
    ap.add_argument("--quick", action="store_true", help="5 repetitions instead of 20")
    ap.add_argument("--filter", default=None, help="only cases whose name contains TEXT")
    args = ap.parse_args()
    if not torch.cuda.is_available():
        sys.exit("torch_peers.py: no CUDA device")
    torch.manual_seed(0)
    reps = 5 if args.quick else 20

    print("measuring the machine (bf16 matmul 8192^3, 1 GiB copy) ...", flush=True)
    machine = measure_machine()
    print(", ".join(f"{k}={v}" for k, v in machine.items()), flush=True)
    print(f"\n{'suite':<10} {'case':<26} {'impl':<21} {'dtype':<5} {'ms':>9} {'TFLOP/s':>8} "
          f"{'peak':>6} {'rel_err':>9}  note", flush=True)

    records = []

    def write():
        clean = [{k: v for k, v in r.items() if not k.startswith("_")} for r in records]
        with open(args.json, "w") as f:
            json.dump({"machine": machine, "records": clean}, f, indent=1, allow_nan=False)

    def emit(rec):
        records.append(rec)
        tf = None if rec["gflops"] is None else rec["gflops"] / 1000.0
        print(f"{rec['suite']:<10} {rec['case']:<26} {rec['impl']:<21} {rec['dtype']:<5} "
              f"{fmt(rec['ms'], '9.3f'):>9} {fmt(tf, '8.1f'):>8} {fmt(rec['peak_frac'], '6.1%'):>6} "
              f"{fmt(rec['rel_err'], '9.2e'):>9}  {rec['note'] or ''}", flush=True)
        write()  # keep the file current: a crash later still leaves the results so far

    def want(suite, case, dtype):
        return args.filter is None or args.filter in case

    attention_suite(machine, reps, want, emit)
    evoformer_suite(machine, reps, want, emit)
    write()
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
