#!/usr/bin/env bash
# bench/compare.sh - two Martlet binaries side by side, so a slowdown shows the day it lands.
#
#   bash bench/compare.sh BASELINE [CANDIDATE]
#
# BASELINE is a release `martlet` binary (say, the last release, or main before
# a change); CANDIDATE defaults to a release build of this tree (in
# .build-release).  For each suite in BENCH_SUITES the suite's own script runs
# once with the baseline and once with the candidate, one after the other
# (never both at once: this is a 2-core machine), on loopback only; then every
# figure both runs reported (requests/s, servers/s, ports/s, latencies, CPU per
# request, RSS) is printed side by side with the candidate/baseline ratio.
#
# Environment (all optional):
#   BENCH_SUITES="identity network compute"   which suites (bench/<suite>.sh)
#   Suite sizes are smaller than the suites' own defaults, to keep a comparison
#   to a few minutes; any BENCH_* variable set by the caller wins:
#     identity: BENCH_LOADS="validate projects" BENCH_SECONDS=10 BENCH_SKIP_KEYSTONE=1
#     network:  BENCH_PORTS=3000
#     compute:  BENCH_P1_SERVERS=500 BENCH_P2_SERVERS=500 BENCH_TOTAL_SERVERS=2000 BENCH_WALKS=2
#   BENCH_COMPARE_OUT=DIR    where the runs go (default: a new mktemp -d under /tmp)
#
# Exit status: 0 both sides ran every suite; 1 a setup failure; 2 a suite
# flagged a problem on either side (its summary says which).
set -euo pipefail
export LC_ALL=C

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
die() { echo "compare.sh: $*" >&2; exit 1; }

[ $# -ge 1 ] || die "usage: bash bench/compare.sh BASELINE [CANDIDATE]"
BASELINE=$(realpath "$1")
[ -x "$BASELINE" ] || die "$1 is not an executable"
if [ $# -ge 2 ]; then
  CANDIDATE=$(realpath "$2")
else
  echo "building the candidate: swift build -c release --scratch-path .build-release"
  (cd "$REPO" && swift build -c release --scratch-path .build-release --product martlet >/dev/null) || die "release build failed"
  CANDIDATE=$REPO/.build-release/release/martlet
fi
[ -x "$CANDIDATE" ] || die "$CANDIDATE is not an executable"
command -v jq >/dev/null || die "jq is needed (apt-get install -y jq)"

OUT=${BENCH_COMPARE_OUT:-$(mktemp -d /tmp/martlet-bench-compare.XXXXXX)}
mkdir -p "$OUT"
SUITES=${BENCH_SUITES:-identity network compute}
status=0

# The smaller sizes, unless the caller chose.
export BENCH_LOADS=${BENCH_LOADS:-validate projects} BENCH_SECONDS=${BENCH_SECONDS:-10} BENCH_SKIP_KEYSTONE=${BENCH_SKIP_KEYSTONE:-1}
export BENCH_PORTS=${BENCH_PORTS:-3000}
export BENCH_P1_SERVERS=${BENCH_P1_SERVERS:-500} BENCH_P2_SERVERS=${BENCH_P2_SERVERS:-500}
export BENCH_TOTAL_SERVERS=${BENCH_TOTAL_SERVERS:-2000} BENCH_WALKS=${BENCH_WALKS:-2}

run() {  # run SUITE SIDE BINARY
  local dir=$OUT/$1-$2
  mkdir -p "$dir"
  echo "== $1 with the $2 ($3)"
  set +e
  BENCH_MARTLET_BIN=$3 BENCH_OUT=$dir bash "$REPO/bench/$1.sh" >"$dir/stdout.txt" 2>&1
  local rc=$?
  set -e
  case $rc in
    0) ;;
    2) echo "   $1 flagged a problem with the $2: see $dir/summary.txt"; status=2 ;;
    *) echo "   $1 failed with the $2 (exit $rc): see $dir/stdout.txt"; tail -5 "$dir/stdout.txt"; exit 1 ;;
  esac
}

# Every numeric figure of a results file, one "path<TAB>value" per line.
figures() {
  jq -r 'paths(numbers) as $p | [($p | map(tostring) | join(".")), getpath($p)] | @tsv' "$1" \
    | grep -E '(rps|per_s|_per_sec|ms_per_req|p50|p99|max_ms|rss|seconds|_ms)' | grep -Ev '^(host|params)\.' || true
}

for suite in $SUITES; do
  [ -f "$REPO/bench/$suite.sh" ] || die "no suite bench/$suite.sh"
  run "$suite" baseline "$BASELINE"
  run "$suite" candidate "$CANDIDATE"
done

{
  echo
  printf '%-60s %14s %14s %8s\n' "figure" "baseline" "candidate" "ratio"
  for suite in $SUITES; do
    base=$(ls -t "$OUT/$suite-baseline"/*.json 2>/dev/null | head -1)
    cand=$(ls -t "$OUT/$suite-candidate"/*.json 2>/dev/null | head -1)
    [ -n "$base" ] && [ -n "$cand" ] || { echo "$suite: a side wrote no results"; continue; }
    join -t $'\t' <(figures "$base" | sort) <(figures "$cand" | sort) \
      | awk -F'\t' -v s="$suite" '{ r = ($2 == 0) ? "-" : sprintf("%.2f", $3 / $2); printf "%-60s %14s %14s %8s\n", s "." $1, $2, $3, r }'
  done
  echo
  echo "ratio = candidate / baseline: above 1 is better for rates (rps, per_s), worse for times, CPU and RSS."
  echo "runs: $OUT"
} | tee "$OUT/comparison.txt"
exit $status
