#!/usr/bin/env bash
# bench/gpu/run.sh -- everything the GPU machine does, in one call: build tprim with
# CUDA, run the CUDA test suite (the forward case table against the float64 oracle),
# time PyTorch's attention backends on the benchmark shapes (torch_peers.py, which also
# measures the GPU's bf16 matrix rate and copy bandwidth), run `tprim bench --device
# cuda` on the same shapes, and print the side-by-side table last.
#
#   bench/gpu/run.sh [--quick] [--tests-only] [--no-tests] [--filter TEXT]
#
# Logs and JSON go to $OUT (the device tool brings that folder back), else /tmp/tprim-gpu.
set -uo pipefail
cd "$(dirname "$0")/../.."
out=${OUT:-/tmp/tprim-gpu}
mkdir -p "$out"
quick="" tests=1 bench=1 filter=""
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) quick=--quick ;;
    --tests-only) bench=0 ;;
    --no-tests) tests=0 ;;
    --filter) filter="$2"; shift ;;
    *) echo "usage: $0 [--quick] [--tests-only] [--no-tests] [--filter TEXT]"; exit 2 ;;
  esac
  shift
done
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm,memory.total --format=csv \
  > "$out/gpu.txt" 2>&1 || true
cat "$out/gpu.txt"
t0=$(date +%s)
if ! { cmake -S . -B build-gpu -DCMAKE_BUILD_TYPE=Release -DTPRIM_CUDA=ON &&
       cmake --build build-gpu -j"$(nproc)"; } > "$out/build.log" 2>&1; then
  tail -40 "$out/build.log"; echo "BUILD FAILED"; exit 1
fi
echo "build: $(( $(date +%s) - t0 )) s"
# the machine code the kernels got: tensor-core instructions per kernel (HGMMA = wgmma)
if command -v cuobjdump > /dev/null; then
  for fb in build-gpu/cuda/*.fatbin; do cuobjdump -sass "$fb" 2> /dev/null; done > "$out/sass.txt"
  awk '/Function :/ {f=$3} /HGMMA/ {g[f]++} /HMMA/ {h[f]++} END {for (f in g) printf "  %s: %d HGMMA\n", f, g[f]}' \
    "$out/sass.txt" | sort | head -8
fi
rc=0
if [ $tests = 1 ]; then
  t0=$(date +%s)
  build-gpu/tprim_test --suite cuda --suite api --suite attention_errors -v > "$out/tests.txt" 2>&1 || rc=1
  grep -E "FAIL" "$out/tests.txt" | head -20
  grep -E "^  (cuda|cuda_wgmma|cuda_simt|auto) |cuda_wgmma:|passed" "$out/tests.txt" | tail -8
  echo "tests: $(( $(date +%s) - t0 )) s"
fi
[ $bench = 1 ] || exit $rc
fargs=()
[ -n "$filter" ] && fargs=(--filter "$filter")
python3 bench/gpu/torch_peers.py --json "$out/peers.json" $quick "${fargs[@]}" > "$out/peers.txt" 2>&1 \
  || { tail -20 "$out/peers.txt"; rc=1; }
peak=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['machine']['mma_bf16_tflops'])" \
  "$out/peers.json" 2>/dev/null || echo 0)
build-gpu/tprim bench --device cuda --suite all --gpu-peak "$peak" $quick "${fargs[@]}" \
  --json "$out/tprim.json" > "$out/bench.txt" 2> "$out/bench.err" || { tail -5 "$out/bench.err"; rc=1; }
grep -A40 "^suite " "$out/bench.txt" | head -40
python3 bench/gpu/compare.py "$out/tprim.json" "$out/peers.json" | tee "$out/compare.txt"
exit $rc
