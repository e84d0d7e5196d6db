#!/usr/bin/env bash
# bench/identity.sh - Martlet Identity vs the real OpenStack Keystone, in one run.
#
# Builds a release `martlet`, then, one server after the other (never both at
# once: this is a 2-core machine), measures
#   - start-up: process start -> first HTTP 200 from GET .../v3 (best and median
#     of BENCH_STARTS starts of martlet on an already bootstrapped data dir);
#   - idle RSS a couple of seconds after start, and RSS after the loads;
#   - wrk -t2 -c16 --latency for: token validate (GET /v3/auth/tokens),
#     GET /v3/projects, token issue by password, token issue by application
#     credential (all with a project-scoped admin token / project scope);
# against Martlet (`martlet serve`, Identity under /identity) and against the
# Keystone anchor (../shared/anchors/keystone/start.sh, bench mode: uWSGI 2x1,
# memcached, bcrypt at the same cost), and prints a table with the ratios and
# the targets of issue 2 (start-up < 300 ms, idle RSS < 40 MB, validate >= 20x
# Keystone).  Results (JSON + raw wrk output + server logs) go to a temporary
# directory printed at the end; nothing is written into the repository except
# the build folder.
#
# Environment (all optional):
#   BENCH_SECONDS=15          wrk duration per load          BENCH_WARMUP=3  untimed wrk warm-up per load (0: none)
#   BENCH_THREADS=2           wrk threads                    BENCH_CONNECTIONS=16  wrk connections
#   BENCH_WRK_TIMEOUT=10s     wrk --timeout (requests slower than this are dropped from the latency figures)
#   BENCH_LOADS="validate projects issue_password issue_appcred"   which loads to run
#   BENCH_BCRYPT_COST=4       martlet --bcrypt-cost and KEYSTONE_BCRYPT_ROUNDS (the anchor's 4 rounds)
#   BENCH_STARTS=5            timed martlet starts           BENCH_KEYSTONE_STARTS=3  timed keystone starts
#   BENCH_IDLE_WAIT=2         seconds between "up" and the idle RSS reading
#   BENCH_SKIP_BUILD=1        do not build; use the existing binary
#   BENCH_BUILD_DIR=.build-static  SwiftPM scratch path (relative to the repo root or absolute);
#                             the binary is BENCH_BUILD_DIR/release/martlet
#   BENCH_MARTLET_BIN=PATH    use this binary (implies no build)
#   BENCH_SKIP_MARTLET=1 / BENCH_SKIP_KEYSTONE=1   measure only one side
#   BENCH_PORT / BENCH_KEYSTONE_PORT   loopback ports (default: free random ports)
#   BENCH_ADMIN_PASSWORD      martlet admin password (default bench-admin-pw)
#   BENCH_KEYSTONE_ADMIN_PASSWORD  (default anchor-admin-pw)
#   BENCH_KEYSTONE_STATE      anchor state dir (default ${XDG_CACHE_HOME:-$HOME/.cache}/martlet-anchors/keystone-bench-state,
#                             separate from the anchor's default so a tempest anchor is never disturbed)
#   BENCH_OUT=DIR             results directory (default: a new mktemp -d under /tmp)
#   BENCH_KEEP_DATA=1         keep martlet's temporary data dir
#   SHARED_DIR                the shared folder (default ../shared from the repo root)
#
# Exit status: 0 the run completed (whether or not the targets are met);
# 1 setup failure; 2 completed, but some load had non-2xx responses, failed its
# preflight request, or a measurement is missing.
set -euo pipefail
export LC_ALL=C

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
LIB=$REPO/bench/lib
. "$LIB/common.sh"
SHARED_DIR=${SHARED_DIR:-$REPO/../shared}
KS_START=$SHARED_DIR/anchors/keystone/start.sh

SECONDS_=${BENCH_SECONDS:-15}
WARMUP=${BENCH_WARMUP:-3}
THREADS=${BENCH_THREADS:-2}
CONNS=${BENCH_CONNECTIONS:-16}
WRK_TIMEOUT=${BENCH_WRK_TIMEOUT:-10s}
LOADS=${BENCH_LOADS:-validate projects issue_password issue_appcred}
COST=${BENCH_BCRYPT_COST:-4}
STARTS=${BENCH_STARTS:-5}
KS_STARTS=${BENCH_KEYSTONE_STARTS:-3}
IDLE_WAIT=${BENCH_IDLE_WAIT:-2}
M_PW=${BENCH_ADMIN_PASSWORD:-bench-admin-pw}
K_PW=${BENCH_KEYSTONE_ADMIN_PASSWORD:-anchor-admin-pw}
K_STATE=${BENCH_KEYSTONE_STATE:-${XDG_CACHE_HOME:-$HOME/.cache}/martlet-anchors/keystone-bench-state}
K_VENV=${KEYSTONE_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/martlet-anchors/keystone-venv}
BUILD_DIR=${BENCH_BUILD_DIR:-.build-static}
case "$BUILD_DIR" in /*) ;; *) BUILD_DIR=$REPO/$BUILD_DIR ;; esac

FLAGS=()                       # problems to repeat at the end (non-2xx, failed preflight, ...)

for v in SECONDS_ WARMUP THREADS CONNS COST STARTS KS_STARTS IDLE_WAIT; do
  [[ "${!v}" =~ ^[0-9]+$ ]] || die "$v must be a whole number, got '${!v}'"
done
[ "$STARTS" -ge 1 ] && [ "$KS_STARTS" -ge 1 ] || die "BENCH_STARTS and BENCH_KEYSTONE_STARTS must be >= 1"

# ---- results: key/type/value lines, turned into nested JSON at the end -----
OUT=${BENCH_OUT:-$(mktemp -d /tmp/martlet-bench-identity.XXXXXX)}
mkdir -p "$OUT"
case "$(cd "$OUT" && pwd)/" in "$REPO"/*) die "BENCH_OUT must be outside the repository" ;; esac
TSV=$OUT/results.tsv; : > "$TSV"
declare -A R=()

# ---- small helpers ---------------------------------------------------------
ms_between() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", (b - a) * 1000 }'; }
median() { tr ' ' '\n' | grep . | sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) exit; if (NR % 2) printf "%.1f", v[(NR + 1) / 2]; else printf "%.1f", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
minimum() { tr ' ' '\n' | grep . | sort -g | head -n 1; }
# CPU accounting around each measured load, so that figures taken while something
# else ran can be recognised: the server's CPU time per request (less affected by
# other load) and the cores used by everything except the server and wrk.
CLK_TCK=$(getconf CLK_TCK)
SERVER_PIDS=()
proc_ticks() { local s=0 p f; for p in "$@"; do
    f=$(cat "/proc/$p/stat" 2>/dev/null) || continue; f=${f##*) }     # fields after "(comm) "
    set -- $f; s=$((s + ${12} + ${13})); done; echo "$s"; }            # utime + stime
busy_ticks() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8; exit }' /proc/stat; }   # user nice system irq softirq
# children's CPU seconds from the output of the `times` builtin (which must run in this
# shell, not in a $(...) subshell: it is redirected to a file)
times_children() { awk 'NR == 2 { split($1, u, /[ms]/); split($2, s, /[ms]/); print u[1] * 60 + u[2] + s[1] * 60 + s[2] }' "$1"; }





# ---- cleanup ---------------------------------------------------------------
MPID=""; MDATA=""; KS_BG=""; KS_TOUCHED=0
ks() { KEYSTONE_STATE=$K_STATE KEYSTONE_VENV=$K_VENV KEYSTONE_MODE=bench KEYSTONE_CACHE=memcached \
       KEYSTONE_BCRYPT_ROUNDS=$COST KEYSTONE_ADMIN_PASSWORD=$K_PW KEYSTONE_PROCESSES= KEYSTONE_THREADS= \
       "$KS_START" "$@"; }
STOP_MS=""
cleanup() {
  set +e
  [ -n "$MPID" ] && martlet_stop
  if [ -n "$KS_BG" ] && kill -0 "$KS_BG" 2>/dev/null; then kill -TERM -- "-$KS_BG" 2>/dev/null; fi
  [ "$KS_TOUCHED" = 1 ] && ks stop >/dev/null 2>&1
  if [ -n "$MDATA" ] && [ "${BENCH_KEEP_DATA:-0}" != 1 ]; then rm -rf "$MDATA"; fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---- tools -----------------------------------------------------------------
need_tools wrk:wrk curl:curl jq:jq ps:procps memcached:memcached

record_host
put_s params.wrk "-t$THREADS -c$CONNS -d${SECONDS_}s --latency --timeout $WRK_TIMEOUT (warm-up ${WARMUP}s)"
put_s params.wrk_version "$(wrk -v 2>&1 | head -n 1 | awk '{ print $2 }')"
put params.seconds "$SECONDS_"
put params.connections "$CONNS"
put params.bcrypt_cost "$COST"
put_s results_dir "$OUT"

# ---- the loads (same for both servers) --------------------------------------

# one_load SRV NAME URL BODY|"" HEADER...: preflight with curl, warm-up, measured wrk run
one_load() {
  local srv=$1 name=$2 url=$3 body=$4; shift 4
  local hdr=() h args=() code p="$srv.loads.$name"
  for h in "$@"; do hdr+=(-H "$h"); done
  if [ -n "$body" ]; then
    code=$(curl -s -o "$OUT/$srv-$name.preflight.json" -w '%{http_code}' -X POST -H 'Content-Type: application/json' "${hdr[@]}" --data-binary "$body" "$url" || echo 000)
    args=(-s "$LIB/post-json.lua")
  else
    code=$(curl -s -o "$OUT/$srv-$name.preflight.json" -w '%{http_code}' "${hdr[@]}" "$url" || echo 000)
  fi
  put "$p.preflight_status" "$code"
  if [[ "$code" != 2* ]]; then
    flag "$srv $name: preflight request answered $code, load skipped ($(head -c 300 "$OUT/$srv-$name.preflight.json" 2>/dev/null | tr '\n' ' '))"
    return 0
  fi
  args+=(-t"$THREADS" -c"$CONNS" --latency --timeout "$WRK_TIMEOUT" "${hdr[@]}")
  if [ "$WARMUP" -gt 0 ]; then
    WRK_BODY=$body wrk "${args[@]}" -d"${WARMUP}s" "$url" > "$OUT/$srv-$name.warmup.txt" 2>&1 || true
  fi
  log "$srv $name: wrk ${SECONDS_}s $url"
  local t0=$EPOCHREALTIME b0 s0 c0 b1 s1 c1 t1
  b0=$(busy_ticks); s0=$(proc_ticks "${SERVER_PIDS[@]}"); times > "$OUT/times.0"
  WRK_BODY=$body wrk "${args[@]}" -d"${SECONDS_}s" "$url" > "$OUT/$srv-$name.wrk.txt" 2>&1 \
    || { flag "$srv $name: wrk failed: $(tail -n 3 "$OUT/$srv-$name.wrk.txt" | tr '\n' ' ')"; return 0; }
  t1=$EPOCHREALTIME; b1=$(busy_ticks); s1=$(proc_ticks "${SERVER_PIDS[@]}"); times > "$OUT/times.1"
  c0=$(times_children "$OUT/times.0"); c1=$(times_children "$OUT/times.1")
  parse_wrk "$OUT/$srv-$name.wrk.txt" "$p"
  put "$p.server_cpu_cores" "$(awk -v s=$((s1 - s0)) -v hz="$CLK_TCK" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", s / hz / (b - a) }')"
  put "$p.wrk_cpu_cores" "$(awk -v c0="$c0" -v c1="$c1" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", (c1 - c0) / (b - a) }')"
  put "$p.other_cpu_cores" "$(awk -v t=$((b1 - b0)) -v s=$((s1 - s0)) -v hz="$CLK_TCK" -v c0="$c0" -v c1="$c1" -v a="$t0" -v b="$t1" \
      'BEGIN { o = ((t - s) / hz - (c1 - c0)) / (b - a); printf "%.2f", (o < 0 ? 0 : o) }')"
  [ -z "${R[$p.requests]:-}" ] || [ "${R[$p.requests]}" = 0 ] || \
    put "$p.server_cpu_ms_per_req" "$(awk -v s=$((s1 - s0)) -v hz="$CLK_TCK" -v n="${R[$p.requests]}" 'BEGIN { printf "%.3f", s / hz * 1000 / n }')"
  log "$srv $name: ${R[$p.rps]:-?} req/s, p50 ${R[$p.p50_ms]:-?} ms, p99 ${R[$p.p99_ms]:-?} ms, server CPU ${R[$p.server_cpu_ms_per_req]:-?} ms/req, cores server/wrk/others ${R[$p.server_cpu_cores]}/${R[$p.wrk_cpu_cores]}/${R[$p.other_cpu_cores]}, non-2xx ${R[$p.non2xx]}, socket errors c/r/w/t ${R[$p.err_connect]}/${R[$p.err_read]}/${R[$p.err_write]}/${R[$p.err_timeout]}"
  [ "${R[$p.non2xx]}" = 0 ] || flag "$srv $name: ${R[$p.non2xx]} non-2xx responses of ${R[$p.requests]:-?}"
  [ "${R[$p.err_timeout]}" = 0 ] || flag "$srv $name: ${R[$p.err_timeout]} requests timed out (> $WRK_TIMEOUT), not in the latency figures"
  [ "${R[$p.err_connect]}" = 0 ] || flag "$srv $name: ${R[$p.err_connect]} connect errors"
}

# run_loads SRV BASE PASSWORD: BASE is the identity root (…/identity for martlet)
run_loads() {
  local srv=$1 base=$2 pw=$3 tok uid acid acsecret code pwbody acbody
  pwbody=$(jq -cn --arg pw "$pw" '{auth: {identity: {methods: ["password"], password: {user: {name: "admin",
           domain: {name: "Default"}, password: $pw}}}, scope: {project: {name: "admin", domain: {name: "Default"}}}}}')
  code=$(curl -s -D "$OUT/$srv-token.headers" -o "$OUT/$srv-token.json" -w '%{http_code}' -X POST \
         -H 'Content-Type: application/json' --data-binary "$pwbody" "$base/v3/auth/tokens" || echo 000)
  tok=$(awk 'tolower($1) == "x-subject-token:" { print $2 }' "$OUT/$srv-token.headers" | tr -d '\r')
  if [ "$code" != 201 ] || [ -z "$tok" ]; then
    flag "$srv: password token issue answered $code$([ -n "$tok" ] || echo ', no X-Subject-Token'); no loads run ($(head -c 300 "$OUT/$srv-token.json" | tr '\n' ' '))"
    return 0
  fi
  uid=$(jq -r '.token.user.id // empty' "$OUT/$srv-token.json")
  put_s "$srv.token_roles" "$(jq -r '[.token.roles[]?.name] | sort | join(",")' "$OUT/$srv-token.json")"

  acid=""; acsecret=""
  if [[ " $LOADS " == *" issue_appcred "* ]]; then
    code=$(curl -s -o "$OUT/$srv-appcred.json" -w '%{http_code}' -X POST -H "X-Auth-Token: $tok" \
           -H 'Content-Type: application/json' \
           --data-binary "$(jq -cn --arg n "bench-$(date +%s)-$$" '{application_credential: {name: $n}}')" \
           "$base/v3/users/$uid/application_credentials" || echo 000)
    acid=$(jq -r '.application_credential.id // empty' "$OUT/$srv-appcred.json" 2>/dev/null || true)
    acsecret=$(jq -r '.application_credential.secret // empty' "$OUT/$srv-appcred.json" 2>/dev/null || true)
    if [ "$code" != 201 ] || [ -z "$acid" ] || [ -z "$acsecret" ]; then
      flag "$srv: application credential create answered $code ($(head -c 300 "$OUT/$srv-appcred.json" | tr '\n' ' ')); issue_appcred skipped"
      acid=""
    fi
  fi

  local l
  for l in $LOADS; do
    case "$l" in
      validate) one_load "$srv" validate "$base/v3/auth/tokens" "" "X-Auth-Token: $tok" "X-Subject-Token: $tok" ;;
      projects) one_load "$srv" projects "$base/v3/projects" "" "X-Auth-Token: $tok" ;;
      issue_password) one_load "$srv" issue_password "$base/v3/auth/tokens" "$pwbody" ;;
      issue_appcred)
        [ -n "$acid" ] || continue
        acbody=$(jq -cn --arg id "$acid" --arg s "$acsecret" \
                 '{auth: {identity: {methods: ["application_credential"], application_credential: {id: $id, secret: $s}}}}')
        one_load "$srv" issue_appcred "$base/v3/auth/tokens" "$acbody" ;;
      *) die "unknown load '$l' in BENCH_LOADS" ;;
    esac
  done
  if [ -n "$acid" ]; then   # tidy up (the keystone state is reused between runs)
    curl -s -o /dev/null -X DELETE -H "X-Auth-Token: $tok" "$base/v3/users/$uid/application_credentials/$acid" || true
  fi
}

# ---- martlet -----------------------------------------------------------------
martlet_start() {  # martlet_start LOGTAG: starts in the background, sets MPID and T_START
  T_START=$EPOCHREALTIME
  env "${MARTLET_ENV_UNSET[@]}" "$BIN" serve --host 127.0.0.1 --port "$MPORT" --data-dir "$MDATA" \
    --admin-password "$M_PW" --bcrypt-cost "$COST" >> "$OUT/martlet.log" 2>&1 &
  MPID=$!
}

bench_martlet() {
  martlet_binary

  MPORT=${BENCH_PORT:-$(free_port "${MPORT:-}")} || die "no free port"
  MDATA=$(mktemp -d /tmp/martlet-bench-data.XXXXXX)
  put martlet.port "$MPORT"
  put martlet.bcrypt_cost "$COST"
  load_busy martlet

  log "martlet: first start on an empty data dir (bootstrap), port $MPORT, bcrypt cost $COST"
  martlet_start
  wait_200 "$MPORT" /identity/v3 120 "$MPID" \
    || { tail -n 30 "$OUT/martlet.log" >&2; die "martlet did not answer 200 on /identity/v3 (log $OUT/martlet.log)"; }
  put martlet.bootstrap_start_ms "$(ms_since "$T_START")"
  martlet_stop

  local i t code starts="" stops=""
  for i in $(seq 1 "$STARTS"); do
    martlet_start
    wait_200 "$MPORT" /identity/v3 60 "$MPID" \
      || { tail -n 30 "$OUT/martlet.log" >&2; die "martlet start $i: no 200 on /identity/v3"; }
    t=$(ms_since "$T_START"); starts+="$t "
    log "martlet start $i: first 200 after $t ms"
    if [ "$i" -lt "$STARTS" ]; then martlet_stop; stops+="$STOP_MS "; fi
  done
  put_s martlet.start_ms_all "${starts% }"
  put martlet.start_ms_best "$(minimum <<< "$starts")"
  put martlet.start_ms_median "$(median <<< "$starts")"
  [ -z "$stops" ] || put martlet.stop_ms_median "$(median <<< "$stops")"
  # the check the timing used is pure bash; make sure curl agrees
  code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$MPORT/identity/v3" || true)
  [ "$code" = 200 ] || flag "martlet: curl GET /identity/v3 answered $code"

  sleep "$IDLE_WAIT"
  put martlet.idle_rss_kib "$(rss_kib "$MPID" $(pgrep -P "$MPID" || true))"
  log "martlet idle RSS: ${R[martlet.idle_rss_kib]} KiB"

  SERVER_PIDS=("$MPID")
  run_loads martlet "http://127.0.0.1:$MPORT/identity" "$M_PW"

  put martlet.rss_after_load_kib "$(rss_kib "$MPID" $(pgrep -P "$MPID" || true))"
  martlet_stop
  put martlet.stop_after_load_ms "$STOP_MS"
}

# ---- keystone ----------------------------------------------------------------
bench_keystone() {
  [ -x "$KS_START" ] || die "no keystone anchor at $KS_START (set SHARED_DIR)"
  KPORT=${BENCH_KEYSTONE_PORT:-$(free_port "${MPORT:-}")} || die "no free port"
  put keystone.port "$KPORT"
  put_s keystone.state "$K_STATE"
  KS_TOUCHED=1
  ks stop > /dev/null 2>&1 || true
  log "keystone: preparing the anchor (install on first use ~1-2 min, db_sync, bootstrap), state $K_STATE"
  ks "$KPORT" > "$OUT/keystone-prepare.log" 2>&1 || { tail -n 30 "$OUT/keystone-prepare.log" >&2; die "keystone anchor failed to start"; }
  ks stop >/dev/null 2>&1
  put_s keystone.version "$("$K_VENV/bin/python" -c 'import importlib.metadata as m; print(m.version("keystone"))' 2>/dev/null || echo '?')"
  load_busy keystone

  # start time as the anchor README measures it: start.sh (db_sync + bootstrap on the
  # existing db, then uWSGI) -> first 200 on /v3; plus uWSGI launch -> first 200,
  # from start.sh's timestamped "starting uwsgi" line
  local i t0 t tl f whole="" server=""
  for i in $(seq 1 "$KS_STARTS"); do
    f=$OUT/keystone-start-$i.log
    t0=$EPOCHREALTIME
    setsid bash -c 'exec "$@" 2>&1 | while IFS= read -r l; do printf "%s %s\n" "$EPOCHREALTIME" "$l"; done' \
      _ env KEYSTONE_STATE="$K_STATE" KEYSTONE_VENV="$K_VENV" KEYSTONE_MODE=bench KEYSTONE_CACHE=memcached \
      KEYSTONE_BCRYPT_ROUNDS="$COST" KEYSTONE_ADMIN_PASSWORD="$K_PW" KEYSTONE_PROCESSES= KEYSTONE_THREADS= \
      "$KS_START" "$KPORT" > "$f" &
    KS_BG=$!
    wait_200 "$KPORT" /v3 180 "$KS_BG" \
      || { tail -n 20 "$f" >&2; die "keystone start $i: no 200 on /v3"; }
    t=$(ms_since "$t0"); whole+="$t "
    wait "$KS_BG" || { tail -n 20 "$f" >&2; die "keystone start.sh failed (log $f)"; }
    KS_BG=""
    tl=$(awk '/starting uwsgi/ { print $1; exit }' "$f")
    if [ -n "$tl" ]; then
      server+="$(awk -v a="$t0" -v b="$tl" -v w="$t" 'BEGIN { printf "%.1f", w - (b - a) * 1000 }') "
    fi
    log "keystone start $i: start.sh -> first 200 after $t ms (uWSGI launch -> 200: $(awk '{ print $NF }' <<< "$server") ms)"
    if [ "$i" -lt "$KS_STARTS" ]; then ks stop >/dev/null 2>&1; fi
  done
  server=${server% }
  put_s keystone.start_ms_all "${whole% }"
  put keystone.start_ms_best "$(minimum <<< "$whole")"
  put keystone.start_ms_median "$(median <<< "$whole")"
  if [ -n "$server" ]; then
    put_s keystone.uwsgi_start_ms_all "$server"
    put keystone.uwsgi_start_ms_best "$(minimum <<< "$server")"
    put keystone.uwsgi_start_ms_median "$(median <<< "$server")"
  fi

  sleep "$IDLE_WAIT"
  local upid mpid workers
  upid=$(cat "$K_STATE/uwsgi.pid"); mpid=$(cat "$K_STATE/memcached.pid")
  workers=$(pgrep -P "$upid" | tr '\n' ' ' || true)
  put keystone.workers "$(wc -w <<< "$workers")"
  put keystone.idle_rss_uwsgi_master_kib "$(rss_kib "$upid")"
  # shellcheck disable=SC2086
  put keystone.idle_rss_uwsgi_workers_kib "$(rss_kib $workers)"
  put keystone.idle_rss_memcached_kib "$(rss_kib "$mpid")"
  put keystone.idle_rss_kib "$(( ${R[keystone.idle_rss_uwsgi_master_kib]} + ${R[keystone.idle_rss_uwsgi_workers_kib]} + ${R[keystone.idle_rss_memcached_kib]} ))"
  log "keystone idle RSS: ${R[keystone.idle_rss_kib]} KiB (master ${R[keystone.idle_rss_uwsgi_master_kib]}, workers ${R[keystone.idle_rss_uwsgi_workers_kib]}, memcached ${R[keystone.idle_rss_memcached_kib]})"

  # shellcheck disable=SC2206
  SERVER_PIDS=("$upid" $workers "$mpid")
  run_loads keystone "http://127.0.0.1:$KPORT" "$K_PW"

  # shellcheck disable=SC2046
  put keystone.rss_after_load_kib "$(rss_kib "$upid" $(pgrep -P "$upid" || true) "$mpid")"
  # the bcrypt cost actually stored (bootstrap keeps an existing hash: a state made
  # with another BENCH_BCRYPT_COST keeps its old cost)
  local kcost
  kcost=$("$K_VENV/bin/python" - "$K_STATE/keystone.db" <<'PY' 2>/dev/null || true
import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
r = c.execute("select p.password_hash from password p join local_user l on p.local_user_id = l.id "
              "where l.name = 'admin' order by p.created_at_int desc limit 1").fetchone()
print(int(r[0].split("$")[2]))
PY
)
  if [ -n "$kcost" ]; then
    put keystone.bcrypt_cost_admin "$kcost"
    [ "$kcost" = "$COST" ] || flag "keystone's admin password hash has bcrypt cost $kcost, not $COST (state made with another cost: ks stop; rm -rf $K_STATE)"
  fi
  ks stop >/dev/null 2>&1
  KS_TOUCHED=0
}

[ "${BENCH_SKIP_MARTLET:-0}" = 1 ] || bench_martlet
[ "${BENCH_SKIP_KEYSTONE:-0}" = 1 ] || bench_keystone

# ---- report ------------------------------------------------------------------
ratio() {  # ratio NUM DEN -> "12.3x" or ""
  [ -n "$1" ] && [ -n "$2" ] || return 0
  awk -v a="$1" -v b="$2" 'BEGIN { if (b + 0 == 0) exit; r = a / b; printf (r >= 100 ? "%.0fx" : (r >= 10 ? "%.1fx" : "%.2fx")), r }'
}
ROWS=()
row() { ROWS+=("$1|${2:--}|${3:--}|${4:--}|${5:-}"); }

M_START=$(v martlet.start_ms_median); K_START=$(v keystone.start_ms_median); K_USTART=$(v keystone.uwsgi_start_ms_median)
M_RSS=$(v martlet.idle_rss_kib); K_RSS=$(v keystone.idle_rss_kib)
row "start -> first 200, median of $STARTS/$KS_STARTS (ms) [1]" "$(fmt "$M_START")" "$(fmt "$K_START")" "$(ratio "$K_START" "$M_START")" \
    "< 300 ms: $(verdict 'x < 300' "$M_START")"
row "start -> first 200, best (ms) [1]" "$(fmt "$(v martlet.start_ms_best)")" "$(fmt "$(v keystone.start_ms_best)")" \
    "$(ratio "$(v keystone.start_ms_best)" "$(v martlet.start_ms_best)")"
row "start -> first 200, server only, median (ms) [2]" "$(fmt "$M_START")" "$(fmt "$K_USTART")" "$(ratio "$K_USTART" "$M_START")"
row "first start, empty data dir (ms)" "$(fmt "$(v martlet.bootstrap_start_ms)")" ""
row "idle RSS (MiB)" "$(mib "$M_RSS")" "$(mib "$K_RSS")" "$(ratio "$K_RSS" "$M_RSS")" \
    "< 40 MB$([ -z "$M_RSS" ] || awk -v k="$M_RSS" 'BEGIN { printf " (%.1f MB)", k * 1024 / 1e6 }'): $(verdict 'x * 1024 < 40000000' "$M_RSS")"
row "RSS after the loads (MiB)" "$(mib "$(v martlet.rss_after_load_kib)")" "$(mib "$(v keystone.rss_after_load_kib)")" \
    "$(ratio "$(v keystone.rss_after_load_kib)" "$(v martlet.rss_after_load_kib)")"
declare -A TITLE=([validate]="token validate" [projects]="GET /v3/projects" \
                  [issue_password]="token issue, password" [issue_appcred]="token issue, app credential")
for l in $LOADS; do
  mr=$(v "martlet.loads.$l.rps"); kr=$(v "keystone.loads.$l.rps")
  tgt=""
  [ "$l" = validate ] && tgt=">= 20x keystone: $(if [ -n "$mr" ] && [ -n "$kr" ]; then verdict "x >= 20" "$(awk -v a="$mr" -v b="$kr" 'BEGIN { if (b > 0) print a / b }')"; else echo n/a; fi)"
  row "${TITLE[$l]} (req/s)" "$(fmt "$mr")" "$(fmt "$kr")" "$(ratio "$mr" "$kr")" "$tgt"
  for q in p50 p99; do
    mq=$(v "martlet.loads.$l.${q}_ms"); kq=$(v "keystone.loads.$l.${q}_ms")
    row "  $q latency (ms)" "$(fmt "$mq" 2)" "$(fmt "$kq" 2)" "$(ratio "$kq" "$mq")"
  done
  mq=$(v "martlet.loads.$l.server_cpu_ms_per_req"); kq=$(v "keystone.loads.$l.server_cpu_ms_per_req")
  row "  server CPU per request (ms) [3]" "$(fmt "$mq" 2)" "$(fmt "$kq" 2)" "$(ratio "$kq" "$mq")"
done
row "bcrypt cost (admin password hash)" "$(v martlet.bcrypt_cost)" "$(v keystone.bcrypt_cost_admin)"

{
  echo
  echo "Identity benchmark $(v date) - $(v host.nproc) cores ($(v host.cpu)), wrk $(v params.wrk)"
  [ -z "$(v martlet.binary)" ] || echo "martlet: $(v martlet.version) ($(v martlet.git)), $(v martlet.binary)"
  [ -z "$(v keystone.version)" ] || echo "keystone: $(v keystone.version), anchor bench mode (uWSGI $(v keystone.workers) workers x 1 thread, memcached), state $K_STATE"
  for s in martlet keystone; do
    o=$(for l in $LOADS; do v "$s.loads.$l.other_cpu_cores"; echo; done | sort -g | tail -n 1)
    [ -z "$o" ] || echo "$s: other processes used up to $o cores during its loads$(awk -v o="$o" 'BEGIN { if (o > 0.25) print " -- figures understated, see below" }')"
  done
  echo "ratio: martlet/keystone for throughput, keystone/martlet for latency, RSS and start-up (> 1 = martlet better)"
  echo
  printf '%-50s | %10s | %10s | %8s | %s\n' metric martlet keystone ratio target
  printf '%s\n' "---------------------------------------------------+------------+------------+----------+----------------------"
  for r in "${ROWS[@]}"; do
    IFS='|' read -r a b c d e <<< "$r"
    printf '%-50s | %10s | %10s | %8s | %s\n' "$a" "$b" "$c" "$d" "$e"
  done
  echo "[1] martlet: \`martlet serve\` on a bootstrapped data dir (migrations + bootstrap check included);"
  echo "    keystone: the anchor's start.sh (db_sync + bootstrap on the existing db, then uWSGI), as its README measures it"
  echo "[2] keystone: from start.sh launching uWSGI to the first 200 (martlet: same figure as [1])"
  echo "[3] user+system CPU of the server processes (keystone: uWSGI master+workers+memcached) during the load / requests;"
  echo "    less affected by other load on the machine than req/s and latency (not immune: shared caches, the hypervisor)"
  echo
  echo "Responses (non-2xx / socket errors connect,read,write,timeout) and CPU cores used during each load by server/wrk/everything else:"
  for s in martlet keystone; do
    for l in $LOADS; do
      [ -n "$(v "$s.loads.$l.preflight_status")" ] || continue
      if [ -z "$(v "$s.loads.$l.requests")" ]; then echo "  $s $l: not measured (preflight $(v "$s.loads.$l.preflight_status"))"; continue; fi
      echo "  $s $l: $(v "$s.loads.$l.requests") requests, non-2xx $(v "$s.loads.$l.non2xx"), socket errors $(v "$s.loads.$l.err_connect"),$(v "$s.loads.$l.err_read"),$(v "$s.loads.$l.err_write"),$(v "$s.loads.$l.err_timeout"); cores $(v "$s.loads.$l.server_cpu_cores")/$(v "$s.loads.$l.wrk_cpu_cores")/$(v "$s.loads.$l.other_cpu_cores")"
      awk -v o="$(v "$s.loads.$l.other_cpu_cores")" 'BEGIN { exit !(o > 0.25) }' && echo "    ^ other processes used $(v "$s.loads.$l.other_cpu_cores") cores during this load: its req/s and latency are understated"
    done
  done
  [ -z "$(v keystone.version)" ] || echo "  (keystone's uWSGI closes every connection: wrk counts each as a read error; they are not failures)"
  if [ ${#FLAGS[@]} -gt 0 ]; then
    echo
    echo "FLAGS:"
    printf '  - %s\n' "${FLAGS[@]}"
  fi
} | tee "$OUT/summary.txt"

# targets and ratios into the JSON too
put_s targets.startup_under_300ms "$(verdict 'x < 300' "$M_START")"
put_s targets.idle_rss_under_40MB "$(verdict 'x * 1024 < 40000000' "$M_RSS")"
if [ -n "$(v martlet.loads.validate.rps)" ] && [ -n "$(v keystone.loads.validate.rps)" ]; then
  put ratios.validate_rps "$(awk -v a="$(v martlet.loads.validate.rps)" -v b="$(v keystone.loads.validate.rps)" 'BEGIN { if (b > 0) printf "%.2f", a / b }')"
  put_s targets.validate_20x_keystone "$(verdict 'x >= 20' "$(v ratios.validate_rps)")"
fi
for l in $LOADS; do
  r=$(ratio "$(v "martlet.loads.$l.rps")" "$(v "keystone.loads.$l.rps")"); [ -z "$r" ] || put "ratios.${l}_rps" "${r%x}"
  r=$(ratio "$(v "keystone.loads.$l.p99_ms")" "$(v "martlet.loads.$l.p99_ms")"); [ -z "$r" ] || put "ratios.${l}_p99" "${r%x}"
done
write_results identity "raw wrk output, logs and summary.txt"
