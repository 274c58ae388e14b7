#!/usr/bin/env bash
# bench/gpu/ab.sh -- two versions of tprim timed against each other in one call on the GPU
# machine: each is built with CUDA, then `tprim bench --device cuda` runs the chosen cases
# on A, B, A, B, .. (ROUNDS times each, interleaved, so that clock and thermal drift fall on
# both), and a table of the medians of every case comes last.
#
#   bench/gpu/ab.sh DIR_A DIR_B [FILTER] [SUITE]   e.g. bench/gpu/ab.sh . ab/base msa_row evoformer
#
# DIR_A and DIR_B are source trees: the repository itself, or an earlier revision unpacked
# before the call with `mkdir -p ab/base && git archive REV | tar -x -C ab/base` (ab/ is
# ignored by git: name it in the device tool's carry list so that it travels). ROUNDS
# (default 3) sets the repetitions; with TESTS=1 the CUDA tests of A run first (TESTS=AB:
# those of A and B side by side; the oracle is single-threaded) and a failure stops the
# comparison. Logs go to $OUT (else /tmp/tprim-ab); the builds to $BUILDS (else
# /tmp/tprim-ab-builds, outside $OUT so that they do not travel back).
set -uo pipefail
cd "$(dirname "$0")/../.."
out=${OUT:-/tmp/tprim-ab}
builds=${BUILDS:-/tmp/tprim-ab-builds}
mkdir -p "$out" "$builds"
a=${1:?usage: $0 DIR_A DIR_B [FILTER] [SUITE]}
b=${2:?usage: $0 DIR_A DIR_B [FILTER] [SUITE]}
filter=${3:-}
suite=${4:-all}
rounds=${ROUNDS:-3}
build() { # dir tag
  { cmake -S "$1" -B "$builds/build-$2" -DCMAKE_BUILD_TYPE=Release -DTPRIM_CUDA=ON &&
    cmake --build "$builds/build-$2" -j"$(nproc)"; } > "$out/build-$2.log" 2>&1 ||
    { tail -30 "$out/build-$2.log"; echo "BUILD FAILED: $1"; return 1; }
}
t0=$(date +%s)
build "$a" A & pa=$!
build "$b" B & pb=$!
wait $pa || exit 1
wait $pb || exit 1
echo "builds: $(( $(date +%s) - t0 )) s"
tests() { # tag
  "$builds/build-$1/tprim_test" --suite cuda > "$out/tests-$1.txt" 2>&1 ||
    { grep FAIL "$out/tests-$1.txt" | head; echo "TESTS OF $1 FAILED"; return 1; }
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
  for v in A B; do
    timeout 300 "$builds/build-$v/tprim" bench --device cuda --suite "$suite" "${fargs[@]}" \
      --json "$out/$v-$r.json" > "$out/$v-$r.txt" 2>&1 || { tail -5 "$out/$v-$r.txt"; echo "BENCH FAILED: $v"; exit 1; }
  done
done
python3 - "$out" "$rounds" <<'EOF'
import json, statistics, sys
out, rounds = sys.argv[1], int(sys.argv[2])
def cases(v):  # (suite, case, dtype) -> ([ms of each round], kernel), tprim's records only
    res = {}
    for r in range(1, rounds + 1):
        for c in json.load(open(f"{out}/{v}-{r}.json")).get("records", []):
            if c.get("impl") != "tprim" or not c.get("ms"):
                continue
            e = res.setdefault((c.get("suite", ""), c.get("case", ""), c.get("dtype", "")), [[], ""])
            e[0].append(c["ms"])
            e[1] = c.get("kernel") or ""
    return res
A, B = cases("A"), cases("B")
print(f"{'case':46s} {'A: median ms (min-max)':>26s} {'B: median ms (min-max)':>26s}  B/A   kernels")
for k in sorted(set(A) & set(B)):
    (a, ka), (b, kb) = A[k], B[k]
    ma, mb = statistics.median(a), statistics.median(b)
    kn = ka if ka == kb else f"{ka} / {kb}"
    print(f"{'/'.join(k):46s} {ma:9.3f} ({min(a):.3f}-{max(a):.3f}) {mb:9.3f} ({min(b):.3f}-{max(b):.3f})  {mb / ma:.3f}  {kn}")
EOF
