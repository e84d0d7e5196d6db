#!/usr/bin/env bash
# bench/dashboard.sh - the dashboard's pages at scale, side by side with OpenStack's Horizon over
# the same cloud, in one run, on 127.0.0.1 only:
#   - `martlet serve` (release build, fake drivers) on a fresh data dir; bench/lib/dashboard.py
#     fills it: BENCH_SERVERS (1,000) servers in the admin project on one network, and a second
#     project `topology` with BENCH_TOPO_NETWORKS (50) networks and BENCH_TOPO_SERVERS (500)
#     servers spread over them;
#   - Martlet's dashboard: the instance list (admin project; its first page of 100), the overview and the network
#     topology (project `topology`), each fetched once untimed and BENCH_RUNS (20) times timed
#     through a signed-in session: p50/p90/max milliseconds from request to last byte, and bytes;
#     then the first contentful paint of each in headless Chromium (5 loads, p50);
#   - the anchor, Horizon (bench/lib/horizon-anchor.sh: the pinned PyPI release under gunicorn
#     with 2 workers, sessions in a private memcached, pages of 100 rows as Martlet's), signed in as the same
#     admin against the same Martlet, the same three pages the same way. Horizon calls the APIs
#     over HTTP; Martlet's dashboard calls them in process.
# Prints a table with the targets (every page under 50 ms, first paint under 300 ms) and the
# ratios Horizon / Martlet. Results go to a temporary directory printed at the end.
#
# Environment (all optional):
#   BENCH_SERVERS=1000 BENCH_TOPO_NETWORKS=50 BENCH_TOPO_SERVERS=500 BENCH_RUNS=20
#   BENCH_SKIP_BUILD=1        use the existing .build-static/release/martlet
#   BENCH_SKIP_HORIZON=1      Martlet alone
#   BENCH_VENV                the venv with selenium for the paint phase (default ~/.cache/martlet/venv)
set -euo pipefail
export LC_ALL=C

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
LIB=$REPO/bench/lib
. "$LIB/common.sh"

SERVERS=${BENCH_SERVERS:-1000}
TOPO_NETWORKS=${BENCH_TOPO_NETWORKS:-50}
TOPO_SERVERS=${BENCH_TOPO_SERVERS:-500}
RUNS=${BENCH_RUNS:-20}
VENV=${BENCH_VENV:-$HOME/.cache/martlet/venv}
martlet_settings
FLAGS=()
bench_dirs dashboard
need_tools curl:curl jq:jq memcached:memcached
martlet_binary

HPID=""; MCPID=""
cleanup() {
  set +e
  [ -n "$HPID" ] && kill "$HPID" 2>/dev/null && wait "$HPID" 2>/dev/null
  [ -n "$MCPID" ] && kill "$MCPID" 2>/dev/null && wait "$MCPID" 2>/dev/null
  martlet_cleanup
}
on_exit cleanup

MDATA=$(mktemp -d "$TMPBASE/martlet-bench-dashboard-data.XXXXXX")
martlet_port
start_martlet /dashboard/auth/login/ --fake-hosts 2
log "filling: $SERVERS servers; $TOPO_NETWORKS networks with $TOPO_SERVERS servers in project topology"
t0=$EPOCHREALTIME
python3 "$LIB/dashboard.py" fill "$BASE" "$M_PW" "$SERVERS" "$TOPO_NETWORKS" "$TOPO_SERVERS" || die "filling the cloud failed"
put setup.fill_ms "$(ms_since "$t0")"

log "martlet dashboard: ${RUNS} fetches of each page"
python3 "$LIB/dashboard.py" pages "$BASE" "$M_PW" "$RUNS" /dashboard > "$OUT/martlet-pages.json" || die "martlet pages failed"
if [ -x "$VENV/bin/python" ] && "$VENV/bin/python" -c "import selenium" 2>/dev/null && command -v chromium >/dev/null; then
  "$VENV/bin/python" "$LIB/dashboard.py" paint "$BASE" "$M_PW" > "$OUT/martlet-paint.json" || flag "the paint phase failed"
else
  flag "no selenium or chromium: first paint not measured (scripts/prereqs.sh installs both)"
fi

if [ "${BENCH_SKIP_HORIZON:-0}" != 1 ]; then
  HPORT=$(free_port "$MPORT"); MCPORT=$(free_port "$HPORT")
  memcached -l 127.0.0.1 -p "$MCPORT" -U 0 -m 64 -u "$(id -un)" & MCPID=$!
  log "horizon: installing if needed, starting on $HPORT"
  bash "$LIB/horizon-anchor.sh" "$HPORT" "$BASE/identity/v3" "$MCPORT" > "$OUT/horizon.log" 2>&1 & HPID=$!
  wait_200 "$HPORT" /auth/login/ 600 "$HPID" || { tail -n 20 "$OUT/horizon.log" >&2; die "horizon did not answer on /auth/login/"; }
  log "horizon: ${RUNS} fetches of each page"
  python3 "$LIB/dashboard.py" pages "http://127.0.0.1:$HPORT" "$M_PW" "$RUNS" "" "$BASE" > "$OUT/horizon-pages.json" \
    || flag "horizon pages failed (log $OUT/horizon.log)"
fi

row_of() {  # row_of NAME: one line of the table
  local name=$1 m h
  m=$(jq -r --arg n "$name" '.[$n] | "\(.p50_ms) \(.p90_ms) \(.bytes)"' "$OUT/martlet-pages.json")
  h=$( [ -s "$OUT/horizon-pages.json" ] && jq -r --arg n "$name" '.[$n] | "\(.p50_ms) \(.p90_ms) \(.bytes)"' "$OUT/horizon-pages.json" || echo "- - -")
  read -r mp50 mp90 mbytes <<< "$m"; read -r hp50 hp90 hbytes <<< "$h"
  local paint; paint=$(jq -r --arg n "$name" '.[$n].first_paint_p50_ms // "-"' "$OUT/martlet-paint.json" 2>/dev/null || echo -)
  local ratio=-; [ "$hp50" != - ] && ratio=$(awk -v a="$hp50" -v b="$mp50" 'BEGIN { printf "%.1fx", a / b }')
  printf '%-10s | %8s | %8s | %9s | %10s | %8s | %9s | %7s | %s\n' "$name" "$mp50" "$mp90" "$mbytes" "$paint" "$hp50" "$hbytes" "$ratio" \
    "$(verdict 'x < 50' "$mp50") (50 ms)"
}
{
  echo "dashboard pages: $SERVERS servers (instances), topology project with $TOPO_NETWORKS networks and $TOPO_SERVERS servers; $RUNS fetches each"
  printf '%-10s | %8s | %8s | %9s | %10s | %8s | %9s | %7s | %s\n' page "p50 ms" "p90 ms" bytes "paint ms" "horizon" "h. bytes" "h/m" target
  for page in instances overview topology; do row_of "$page"; done
} | tee "$OUT/summary.txt"
for f in "${FLAGS[@]}"; do echo "FLAG: $f"; done
log "results in $OUT"
[ ${#FLAGS[@]} -eq 0 ] || exit 2
