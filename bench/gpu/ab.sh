#!/usr/bin/env bash
# bench/gpu/ab.sh -- versions of tprim timed against each other in one call on the GPU
# machine: each is built with CUDA, then `tprim bench --device cuda` runs the chosen cases
# on A, B, (C, ..), A, B, .. (ROUNDS times each, interleaved, so that clock and thermal
# drift fall on all), and a table of the medians of every case comes last.
#
#   bench/gpu/ab.sh DIR_A DIR_B [FILTER] [SUITE]   e.g. bench/gpu/ab.sh . ab/base msa_row evoformer
#
# DIR_A and DIR_B are source trees: the repository itself, or an earlier revision unpacked
# before the call with `mkdir -p ab/base && git archive REV | tar -x -C ab/base` (ab/ is
# ignored by git: name it in the device tool's carry list so that it travels). MORE="DIR
# DIR .." adds trees C, D, ... ROUNDS (default 3) sets the repetitions; with TESTS=1 the
# CUDA tests of A run first (TESTS=AB: those of A and B side by side; the oracle is
# single-threaded; TESTS_SUITE=cuda_wgmma runs only the Hopper kernel's cases, not those
# of the mma.sync, SIMT and automatic paths; TESTS_TIMEOUT, default 480 s, bounds each
# run, so that a hung kernel ends the call with the last lines it printed; the
# cuda_wgmma suite alone takes ~190 s on an H200, most of it the oracle) and a failure
# stops the comparison. The table and the logs go to $OUT (else /tmp/tprim-ab), builds
# and the runs' JSON to
# $BUILDS (else /tmp/tprim-ab-builds, outside $OUT: the device tool brings back only a
# few files). ARCHS="90" builds machine code for those SM architectures only (quicker
# builds when many trees are timed; the default is the project's TPRIM_CUDA_ARCHS).
# ENV_A, ENV_B, ... (NAME=VALUE words) are set for that tree's benchmark runs only, so
# that one tree can be timed against itself under a switch: e.g.
#   ENV_B="TPRIM_CUDA_STREAM=cpasync" bench/gpu/ab.sh . . tri_start evoformer
set -uo pipefail
cd "$(dirname "$0")/../.."
out=${OUT:-/tmp/tprim-ab}
builds=${BUILDS:-/tmp/tprim-ab-builds}
mkdir -p "$out" "$builds/runs"
usage="usage: $0 DIR_A DIR_B [FILTER] [SUITE]"
dirs=("${1:?$usage}" "${2:?$usage}")
filter=${3:-}
suite=${4:-all}
rounds=${ROUNDS:-3}
read -r -a more <<< "${MORE:-}"
dirs+=("${more[@]}")
tags=()
for i in "${!dirs[@]}"; do tags+=("$(printf "\\x$(printf %x $((65 + i)))")"); done
build() { # dir tag
  local archs=() src
  # a warm machine keeps $builds between calls: a build of another tree under this tag goes
  src=$(sed -n 's/^CMAKE_HOME_DIRECTORY:INTERNAL=//p' "$builds/build-$2/CMakeCache.txt" 2>/dev/null)
  [ -z "$src" ] || [ "$src" = "$(cd "$1" && pwd -P)" ] || rm -rf "$builds/build-$2"
  [ -n "${ARCHS:-}" ] && archs=(-DTPRIM_CUDA_ARCHS="$ARCHS")
  { cmake -S "$1" -B "$builds/build-$2" -DCMAKE_BUILD_TYPE=Release -DTPRIM_CUDA=ON "${archs[@]}" &&
    cmake --build "$builds/build-$2" -j"$(nproc)"; } > "$out/build-$2.log" 2>&1 ||
    { tail -30 "$out/build-$2.log"; echo "BUILD FAILED: $1"; return 1; }
}
t0=$(date +%s)
pids=()
for i in "${!dirs[@]}"; do build "${dirs[$i]}" "${tags[$i]}" & pids+=($!); done
for p in "${pids[@]}"; do wait "$p" || exit 1; done
echo "builds: $(( $(date +%s) - t0 )) s"
tests() { # tag
  timeout "${TESTS_TIMEOUT:-480}" "$builds/build-$1/tprim_test" --suite "${TESTS_SUITE:-cuda}" > "$out/tests-$1.txt" 2>&1 ||
    { grep FAIL "$out/tests-$1.txt" | head; tail -3 "$out/tests-$1.txt"; echo "TESTS OF $1 FAILED (or ran past ${TESTS_TIMEOUT:-480} s)"; return 1; }
  echo "$1: $(tail -1 "$out/tests-$1.txt")"
}
case "${TESTS:-0}" in
  1) tests A || exit 1 ;;
  AB) tests A & pa=$!; tests B & pb=$!
      wait $pa; ra=$?; wait $pb; rb=$?
      [ $ra = 0 ] && [ $rb = 0 ] || exit 1 ;;
esac
fargs=()
[ -n "$filter" ] && fargs=(--filter "$filter")
for r in $(seq 1 "$rounds"); do
  for v in "${tags[@]}"; do
    envv="ENV_$v"
    read -r -a tenv <<< "${!envv:-}"
    timeout 300 env "${tenv[@]}" "$builds/build-$v/tprim" bench --device cuda --suite "$suite" "${fargs[@]}" \
      --json "$builds/runs/$v-$r.json" > "$builds/runs/$v-$r.txt" 2>&1 ||
      { tail -5 "$builds/runs/$v-$r.txt"; echo "BENCH FAILED: $v"; exit 1; }
  done
done
python3 - "$builds/runs" "$rounds" "${tags[@]}" <<'PY' | tee "$out/ab.txt"
import json, statistics, sys
runs, rounds, tags = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
def cases(v):  # (suite, case, dtype) -> ([ms of each round], kernel), tprim's records only
    res = {}
    for r in range(1, rounds + 1):
        for c in json.load(open(f"{runs}/{v}-{r}.json")).get("records", []):
            if c.get("impl") != "tprim" or not c.get("ms"):
                continue
            e = res.setdefault((c.get("suite", ""), c.get("case", ""), c.get("dtype", "")), [[], ""])
            e[0].append(c["ms"])
            e[1] = c.get("kernel") or ""
    return res
res = {v: cases(v) for v in tags}
keys = sorted(set.intersection(*(set(r) for r in res.values())))
print(f"{'case':46s} " + " ".join(f"{v + ': median ms (min-max)':>24s}" for v in tags) + "  " +
      " ".join(f"{v}/A" for v in tags[1:]) + "  kernels")
for k in keys:
    cols, ks = [], []
    for v in tags:
        t, kn = res[v][k]
        cols.append(f"{statistics.median(t):8.3f} ({min(t):.3f}-{max(t):.3f})")
        ks.append(kn)
    ma = statistics.median(res["A"][k][0])
    rat = " ".join(f"{statistics.median(res[v][k][0]) / ma:.3f}" for v in tags[1:])
    kn = ks[0] if len(set(ks)) == 1 else " / ".join(ks)
    print(f"{'/'.join(k):46s} " + " ".join(f"{c:>24s}" for c in cols) + f"  {rat}  {kn}")
PY
