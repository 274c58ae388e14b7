#!/usr/bin/env bash
# bench/gpu/profile.sh -- Nsight Compute counters of one tprim GPU benchmark case on the
# GPU machine: stall reasons, issue rates and pipe utilisation of the attention kernel.
#
#   bench/gpu/profile.sh CASE [KERNEL-REGEX]    e.g. bench/gpu/profile.sh tri_start_n768
#
# Builds build-gpu when missing; the report goes to $OUT (else /tmp/tprim-gpu).
set -uo pipefail
cd "$(dirname "$0")/../.."
out=${OUT:-/tmp/tprim-gpu}
mkdir -p "$out"
case_name=${1:?usage: $0 CASE [KERNEL-REGEX]}
kre=${2:-tp_attn}
if [ ! -x build-gpu/tprim ]; then
  { cmake -S . -B build-gpu -DCMAKE_BUILD_TYPE=Release -DTPRIM_CUDA=ON &&
    cmake --build build-gpu -j"$(nproc)"; } > "$out/build.log" 2>&1 || { tail -30 "$out/build.log"; exit 1; }
fi
ncu=$(command -v ncu || ls /usr/local/cuda*/bin/ncu 2>/dev/null | head -1)
[ -n "$ncu" ] || { echo "ncu not found"; exit 1; }
"$ncu" --kernel-name "regex:$kre" --launch-skip 2 --launch-count 1 \
  --section SpeedOfLight --section WarpStateStats --section SchedulerStats \
  --section ComputeWorkloadAnalysis --section MemoryWorkloadAnalysis --section Occupancy \
  --section InstructionStats \
  --metrics "regex:smsp__average_warps_issue_stalled_.*_per_issue_active\.ratio" \
  build-gpu/tprim bench --device cuda --suite all --filter "$case_name" --quick \
  > "$out/ncu_$case_name.txt" 2>&1
rc=$?
grep -vE "^\s*$|^==PROF==" "$out/ncu_$case_name.txt" | grep -E "stalled|Issue|Pipe|Throughput|Warp Cycles|Eligible|Active Warps|Occupancy|Registers|Duration|Executed Ipc|No Eligible|Hit Rate|Bandwidth|Busy|ERR|error" \
  | awk '$NF != "0" && $NF != "0.00"' | head -90
exit $rc
