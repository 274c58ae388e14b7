#!/usr/bin/env bash
# bench/gpu/ws_timeline.sh -- the producer form's consumer timeline on the GPU machine:
# builds tprim with -DTP_WS_TRACE (src/cuda/attention_wgmma_ws.cuh: the kernels and the
# launcher) in $BUILD (else /tmp/tprim-trace), runs triangle attention (N = L = 768) under
# each stream form named (default: producer deferpv) and prints bench/gpu/ws_trace.py's
# table of each.
#
#   bench/gpu/ws_timeline.sh [FORM ...]      e.g. bench/gpu/ws_timeline.sh producer deferpv
#
# The raw lines go to $OUT/trace-FORM.txt when OUT is set (the device tool brings them back).
set -uo pipefail
cd "$(dirname "$0")/../.."
b=${BUILD:-/tmp/tprim-trace}
forms=("$@")
[ ${#forms[@]} -gt 0 ] || forms=(producer deferpv)
{ cmake -S . -B "$b" -DCMAKE_BUILD_TYPE=Release -DTPRIM_CUDA=ON -DTPRIM_CUDA_ARCHS="${ARCHS:-90}" \
    -DTPRIM_NVCC_FLAGS=-DTP_WS_TRACE -DCMAKE_C_FLAGS=-DTP_WS_TRACE && cmake --build "$b" -j"$(nproc)"; } > "$b.log" 2>&1 ||
  { tail -20 "$b.log"; echo "TRACE BUILD FAILED"; exit 1; }
for f in "${forms[@]}"; do
  echo "== TPRIM_CUDA_STREAM=$f"
  t=$(mktemp)
  TPRIM_CUDA_STREAM=$f timeout 120 "$b/tprim" bench --device cuda --suite evoformer --filter tri_start_n768 \
    --quick > "$t" 2>&1
  python3 bench/gpu/ws_trace.py < "$t"
  [ -n "${OUT:-}" ] && cp "$t" "$OUT/trace-$f.txt"
  rm -f "$t"
done
