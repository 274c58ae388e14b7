#!/usr/bin/env bash
# bench/gpu/profile.sh -- Nsight Compute counters of one tprim GPU benchmark case on the
# GPU machine: stall reasons, issue rates and pipe utilisation of the attention kernel.
#
#   bench/gpu/profile.sh CASE [KERNEL-REGEX]    e.g. bench/gpu/profile.sh tri_start_n768
#
# Builds build-gpu when missing (BUILD=DIR: that build instead; ARCHS="90": machine code for
# those SM architectures only, a quicker build on a fresh machine); the report goes to $OUT
# (else /tmp/tprim-gpu). SASS=1 adds the executed count and the stall samples of every
# machine instruction (Nsight Compute's source page, as CSV: sass_CASE.csv) and its
# summary by bench/gpu/sass_summary.py (sass_CASE.txt: per opcode, per-tile against
# per-block work, the hottest blocks), to see where a kernel's instructions go.
set -uo pipefail
cd "$(dirname "$0")/../.."
out=${OUT:-/tmp/tprim-gpu}
mkdir -p "$out"
case_name=${1:?usage: $0 CASE [KERNEL-REGEX]}
kre=${2:-tp_attn}
bdir=${BUILD:-build-gpu}
if [ ! -x "$bdir/tprim" ]; then
  archs=()
  [ -n "${ARCHS:-}" ] && archs=(-DTPRIM_CUDA_ARCHS="$ARCHS")
  { cmake -S . -B "$bdir" -DCMAKE_BUILD_TYPE=Release -DTPRIM_CUDA=ON "${archs[@]}" &&
    cmake --build "$bdir" -j"$(nproc)"; } > "$out/build.log" 2>&1 || { tail -30 "$out/build.log"; exit 1; }
fi
ncu=$(command -v ncu || ls /usr/local/cuda*/bin/ncu 2>/dev/null | head -1)
[ -n "$ncu" ] || { echo "ncu not found"; exit 1; }
rep=() # with SASS=1 the report goes to a file, printed from there
[ -n "${SASS:-}" ] && rep=(--section SourceCounters --import-source no -f -o "$out/rep_$case_name")
"$ncu" --kernel-name "regex:$kre" --launch-skip 2 --launch-count 1 \
  --section SpeedOfLight --section WarpStateStats --section SchedulerStats \
  --section ComputeWorkloadAnalysis --section MemoryWorkloadAnalysis --section Occupancy \
  --section InstructionStats "${rep[@]}" \
  --metrics "regex:smsp__average_warps_issue_stalled_.*_per_issue_active\.ratio" \
  "$bdir/tprim" bench --device cuda --suite all --filter "$case_name" --quick \
  > "$out/ncu_$case_name.txt" 2>&1
rc=$?
if [ -n "${SASS:-}" ] && [ -f "$out/rep_$case_name.ncu-rep" ]; then
  "$ncu" --import "$out/rep_$case_name.ncu-rep" --page details >> "$out/ncu_$case_name.txt" 2>&1
  "$ncu" --import "$out/rep_$case_name.ncu-rep" --page source --print-source sass --csv \
    > "$out/sass_$case_name.csv" 2> "$out/sass_$case_name.err" || tail -3 "$out/sass_$case_name.err"
  rm -f "$out/rep_$case_name.ncu-rep"
  echo "per-instruction counters: $(wc -l < "$out/sass_$case_name.csv") lines in sass_$case_name.csv"
  python3 bench/gpu/sass_summary.py "$out/sass_$case_name.csv" > "$out/sass_$case_name.txt" 2>&1 &&
    head -40 "$out/sass_$case_name.txt"
fi
grep -vE "^\s*$|^==PROF==" "$out/ncu_$case_name.txt" | grep -E "stalled|Issue|Pipe|Throughput|Warp Cycles|Eligible|Active Warps|Occupancy|Registers|Duration|Executed Ipc|No Eligible|Hit Rate|Bandwidth|Busy|ERR|error" \
  | awk '$NF != "0" && $NF != "0.00"' | head -90
exit $rc
