#!/usr/bin/env bash
# bench/object.sh - Martlet Object Storage (Swift API v1) against the real
# OpenStack Swift and against the machine's own ceilings, in one run.
#
# On 127.0.0.1 only:
#   - the anchor: real OpenStack Swift (../shared/anchors/swift/start.sh: proxy
#     on 127.0.0.1:18080, tempauth test:tester), started unless its proxy is
#     already running, and stopped at the end (its stop.sh) only if this script
#     started it;
#   - `martlet serve` on a fresh data dir on the same filesystem as the anchor's
#     device, so both write to the same disk;
#   - ../shared/bench/ceiling.sh: dd and durable-create rates of that disk, wrk
#     against a static nginx, and objbench against nginx WebDAV (the client +
#     HTTP + disk ceiling an object store can approach);
#   - ../shared/bench/objbench.py with the same parameters against the anchor,
#     then against martlet (v1 auth at /object-store/auth/v1.0 as admin:admin):
#     PUT, GET and HEAD of 4KiB, 64KiB, 1MiB and 16MiB objects (every ETag and
#     every body checked), 10,000 empty objects put into a container and full
#     listings of it timed, then DELETE of everything; the servers' CPU time;
#     after request errors or verification failures for a size, one object of
#     that size is PUT, GET and HEADed with curl and every header kept (diag-*);
#   - the memory phase: curl PUTs one 1 GiB object of random bytes into martlet
#     (streamed from a file; objbench cannot make objects of 256 MiB or more)
#     and GETs it back to /dev/null, while martlet's VmRSS is sampled from
#     /proc/PID/status every BENCH_RSS_INTERVAL s and VmHWM (the kernel's exact
#     peak, reset through /proc/PID/clear_refs before each transfer) is read
#     after it; growth = peak - idle RSS just before; ETag, Content-Length and
#     the bytes read back are checked;
# and prints a table against the targets of the issue: 4 KiB PUT/s >= 5x and
# GET/s >= 20x the anchor's, 16 MiB PUT and GET MB/s >= 80% of nginx WebDAV's,
# a full listing of 10,000 objects under 50 ms, RSS growth under 64 MB while the
# 1 GiB object goes in and out.  Results (JSON, summary.txt, objbench and
# ceiling output, RSS samples, logs) go to a temporary directory printed at the
# end; nothing is written into the repository except the build folder.
#
# Environment (all optional):
#   BENCH_SIZES=4KiB,64KiB,1MiB,16MiB   objbench --sizes (same for both servers)
#   BENCH_DURATION=10          objbench -d: max seconds per phase
#   BENCH_CONCURRENCY=8        objbench -c (and the ceiling's CONCURRENCY)
#   BENCH_MAX_OPS=20000 BENCH_MAX_MB=2000   objbench --max-ops / --max-mb per phase
#   BENCH_LIST_OBJECTS=10000   objects in the listing container   BENCH_LIST_REPEATS=3  timed full listings
#   BENCH_VERIFY=md5           objbench --verify (md5, crc32, none; ETags are checked in all modes)
#   BENCH_MEM_SIZE=1GiB        object of the memory phase
#   BENCH_RSS_INTERVAL=0.05    RSS sampling period, seconds
#   BENCH_IDLE_WAIT=2          seconds of quiet before each "idle RSS" reading
#   BENCH_CEILING_DURATION=10  ceiling.sh DURATION (wrk and objbench seconds per phase)
#   BENCH_CEILING_REPEATS=1    ceiling.sh REPEATS (its default is 2, ~8 min)
#   BENCH_CEILING_SKIP=""      parts of ceiling.sh to skip: any of "dd wrk"
#   BENCH_SKIP_CEILING=1 / BENCH_SKIP_ANCHOR=1 / BENCH_SKIP_MEMORY=1   skip a phase
#   BENCH_BCRYPT_COST=4        martlet --bcrypt-cost
#   BENCH_SKIP_BUILD=1         do not build; use the existing binary
#   BENCH_BUILD_DIR=.build-static   SwiftPM scratch path (relative to the repo root or absolute);
#                              the binary is BENCH_BUILD_DIR/release/martlet
#   BENCH_MARTLET_BIN=PATH     use this binary (implies no build)
#   BENCH_PORT                 martlet's loopback port (default: a free random port; its S3
#                              listener takes the next one)
#   BENCH_ADMIN_PASSWORD       (default bench-admin-pw)
#   BENCH_TMPDIR               where martlet's data dir and the memory phase's source file go
#                              (default ${XDG_CACHE_HOME:-$HOME/.cache}/martlet-anchors); must be on the anchor's filesystem
#   BENCH_OUT=DIR              results directory (default: a new mktemp -d under /tmp)
#   BENCH_KEEP_DATA=1          keep martlet's temporary data dir
#   SHARED_DIR                 the shared folder (default ../shared from the repo root)
#   The anchor's own variables (ANCHOR_ROOT, SWIFT_PROXY_PORT, ...) and ceiling.sh's
#   CEILING_ROOT / CEILING_PORT are passed through.
#
# Exit status: 0 the run completed (whether or not the targets are met);
# 1 setup failure; 2 completed, but something was flagged (objbench request
# errors or verification failures, a listing count that does not match, a
# measurement missing, ...).
set -euo pipefail
export LC_ALL=C

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
LIB=$REPO/bench/lib
. "$LIB/common.sh"
SHARED_DIR=${SHARED_DIR:-$REPO/../shared}
SW_START=$SHARED_DIR/anchors/swift/start.sh
SW_STOP=$SHARED_DIR/anchors/swift/stop.sh
CEILING=$SHARED_DIR/bench/ceiling.sh
OBJBENCH=$SHARED_DIR/bench/objbench.py

SIZES=${BENCH_SIZES:-4KiB,64KiB,1MiB,16MiB}
DURATION=${BENCH_DURATION:-10}
CONC=${BENCH_CONCURRENCY:-8}
MAX_OPS=${BENCH_MAX_OPS:-20000}
MAX_MB=${BENCH_MAX_MB:-2000}
LIST_OBJECTS=${BENCH_LIST_OBJECTS:-10000}
LIST_REPEATS=${BENCH_LIST_REPEATS:-3}
VERIFY=${BENCH_VERIFY:-md5}
MEM_SIZE=${BENCH_MEM_SIZE:-1GiB}
RSS_INTERVAL=${BENCH_RSS_INTERVAL:-0.05}
IDLE_WAIT=${BENCH_IDLE_WAIT:-2}
C_DURATION=${BENCH_CEILING_DURATION:-10}
C_REPEATS=${BENCH_CEILING_REPEATS:-1}
C_SKIP=${BENCH_CEILING_SKIP:-}
COST=${BENCH_BCRYPT_COST:-4}
M_PW=${BENCH_ADMIN_PASSWORD:-bench-admin-pw}
ANCHORS=${XDG_CACHE_HOME:-$HOME/.cache}/martlet-anchors
ANCHOR_ROOT=${ANCHOR_ROOT:-$ANCHORS/swift}
ANCHOR_DATA=$ANCHOR_ROOT/node/d1
SW_PORT=${SWIFT_PROXY_PORT:-18080}
CEILING_ROOT=${CEILING_ROOT:-$ANCHORS/ceiling}
TMPBASE=${BENCH_TMPDIR:-$ANCHORS}
BUILD_DIR=${BENCH_BUILD_DIR:-.build-static}
case "$BUILD_DIR" in /*) ;; *) BUILD_DIR=$REPO/$BUILD_DIR ;; esac

# targets of the issue
T_PUT4K_X=5               # martlet 4 KiB PUT/s >= 5x the anchor's
T_GET4K_X=20              # martlet 4 KiB GET/s >= 20x the anchor's
T_CEIL_FRACTION=0.80      # 16 MiB PUT and GET MB/s >= 80% of nginx WebDAV's
T_LIST_MS=50              # full listing of 10,000 objects < 50 ms
T_RSS_GROWTH_MB=64        # RSS growth while the 1 GiB object goes in and out < 64 MB (10^6 bytes)

FLAGS=()                       # problems to repeat at the end

for v in DURATION CONC MAX_OPS MAX_MB LIST_OBJECTS LIST_REPEATS IDLE_WAIT C_DURATION C_REPEATS COST; do
  [[ "${!v}" =~ ^[0-9]+$ ]] || die "$v must be a whole number, got '${!v}'"
done
[[ "$RSS_INTERVAL" =~ ^[0-9]*\.?[0-9]+$ ]] || die "BENCH_RSS_INTERVAL must be a number of seconds"
[ "$DURATION" -ge 1 ] && [ "$CONC" -ge 1 ] && [ "$C_REPEATS" -ge 1 ] && [ "$LIST_REPEATS" -ge 1 ] \
  || die "BENCH_DURATION, BENCH_CONCURRENCY, BENCH_CEILING_REPEATS and BENCH_LIST_REPEATS must be >= 1"
case "$VERIFY" in md5|crc32|none) ;; *) die "BENCH_VERIFY must be md5, crc32 or none" ;; esac
for p in $C_SKIP; do case "$p" in dd|wrk) ;; *) die "BENCH_CEILING_SKIP: unknown part '$p' (dd, wrk)" ;; esac; done
[ -f "$OBJBENCH" ] || die "no objbench at $OBJBENCH (set SHARED_DIR)"
mkdir -p "$TMPBASE" 2>/dev/null || die "BENCH_TMPDIR $TMPBASE cannot be created"
TMPBASE=$(cd "$TMPBASE" && pwd)
case "$TMPBASE/" in "$REPO"/*) die "BENCH_TMPDIR must be outside the repository" ;; esac

# ---- results: key/type/value lines, turned into nested JSON at the end -----
OUT=${BENCH_OUT:-$(mktemp -d /tmp/martlet-bench-object.XXXXXX)}
mkdir -p "$OUT"
case "$(cd "$OUT" && pwd)/" in "$REPO"/*) die "BENCH_OUT must be outside the repository" ;; esac
TSV=$OUT/results.tsv; : > "$TSV"
declare -A R=()

# ---- small helpers ---------------------------------------------------------
ratio() { [ -n "$1" ] && [ -n "$2" ] && awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b }'; return 0; }
pct() { [ -n "$1" ] && awk -v x="$1" 'BEGIN { printf "%.0f%%", x * 100 }'; return 0; }
# sizes as objbench parses and labels them (4k, 4KiB and 4kb are all "4KiB")
size_bytes() {
  awk -v s="$1" 'BEGIN { n = s + 0; u = tolower(s); sub(/^[0-9.]+/, "", u)
    m = (u ~ /^g/) ? 1073741824 : (u ~ /^m/) ? 1048576 : (u ~ /^k/) ? 1024 : 1; printf "%d", n * m }'
}
size_label() {
  awk -v n="$(size_bytes "$1")" 'BEGIN { if (n >= 1073741824 && n % 1073741824 == 0) printf "%dGiB", n / 1073741824
    else if (n >= 1048576 && n % 1048576 == 0) printf "%dMiB", n / 1048576
    else if (n >= 1024 && n % 1024 == 0) printf "%dKiB", n / 1024; else printf "%dB", n }'
}
sizes() { local s; for s in ${SIZES//,/ }; do size_label "$s"; echo; done; }
MEM_LABEL=$(size_label "$MEM_SIZE")
[ "$(size_bytes "$MEM_SIZE")" -ge 1 ] || die "BENCH_MEM_SIZE: bad size '$MEM_SIZE'"
for s in $(sizes); do [ "$(size_bytes "$s")" -ge 1 ] || die "BENCH_SIZES: bad size '$s'"; done
CLK_TCK=$(getconf CLK_TCK)
proc_ticks() { local s=0 p f; for p in "$@"; do   # utime + stime of the processes
    f=$(cat "/proc/$p/stat" 2>/dev/null) || continue; f=${f##*) }
    set -- $f; s=$((s + ${12} + ${13})); done; echo "$s"; }
# the anchor's processes: each server's parent, its workers, and memcached
anchor_pids() {
  local n p
  for n in proxy object container account memcached; do
    p=$(cat "$ANCHOR_ROOT/run/$n.pid" 2>/dev/null) || continue
    [ -d "/proc/$p" ] || continue
    echo "$p"; pgrep -P "$p" || true
  done
}

# RSS of martlet: VmRSS from /proc/PID/status every RSS_INTERVAL s (read by bash: no fork per
# sample), and the kernel's own peak (VmHWM), reset through clear_refs
rss_sampler() {
  local k val
  trap 'exit 0' TERM
  while :; do
    while read -r k val _; do
      [ "$k" = VmRSS: ] && { printf '%s %s\n' "$EPOCHREALTIME" "$val"; break; }
    done < "/proc/$MPID/status" || exit 0
    nap "$RSS_INTERVAL"
  done 2>/dev/null
}
hwm_reset() { { echo 5 > "/proc/$MPID/clear_refs"; } 2>/dev/null; }
hwm_kib() { awk '/^VmHWM:/ { print $2 }' "/proc/$MPID/status" 2>/dev/null; }

# ---- cleanup ---------------------------------------------------------------
MPID=""; MDATA=""; WORK=""; SAMPLER=""; ANCHOR_STARTED=0
cleanup() {
  set +e
  sampler_stop
  [ -n "$MPID" ] && martlet_stop
  if [ "$ANCHOR_STARTED" = 1 ]; then
    log "stopping the Swift anchor (this script started it)"
    "$SW_STOP" >> "$OUT/anchor.log" 2>&1
  fi
  [ -z "$WORK" ] || rm -rf "$WORK"
  if [ -n "$MDATA" ]; then
    if [ "${BENCH_KEEP_DATA:-0}" = 1 ]; then log "martlet data dir kept: $MDATA"; else rm -rf "$MDATA"; fi
  fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---- tools -----------------------------------------------------------------
need_tools curl:curl jq:jq ps:procps python3:python3 md5sum:coreutils

record_host
OB_ARGS=(--sizes "$SIZES" -c "$CONC" -d "$DURATION" --max-ops "$MAX_OPS" --max-mb "$MAX_MB"
         --list-objects "$LIST_OBJECTS" --list-repeats "$LIST_REPEATS" --verify "$VERIFY")
put_s params.objbench "${OB_ARGS[*]}"
put_s params.mem_size "$MEM_SIZE"
put params.rss_interval_s "$RSS_INTERVAL"
put_s params.ceiling "DURATION=$C_DURATION CONCURRENCY=$CONC REPEATS=$C_REPEATS${C_SKIP:+ skip: $C_SKIP}"
put_s params.python "$(python3 -c 'import sys; print(sys.version.split()[0])')"
put_s results_dir "$OUT"

# ---- the binary ----------------------------------------------------------------
martlet_binary

avail_kib=$(df -Pk "$TMPBASE" | awk 'NR == 2 { print $4 }')
[ "$avail_kib" -gt $(( 8 * 1048576 )) ] \
  || die "not enough room in $TMPBASE: objbench keeps up to ~2 GB per size and phase, ceiling.sh writes 2 GiB: need 8 GiB, have $(( avail_kib / 1024 )) MiB"

# ---- the anchor ------------------------------------------------------------------
ANCHOR_AUTH=http://127.0.0.1:$SW_PORT/auth/v1.0
if [ "${BENCH_SKIP_ANCHOR:-0}" != 1 ]; then
  [ -x "$SW_START" ] || die "no Swift anchor at $SW_START (set SHARED_DIR)"
  # up = its proxy's PID file names a live proxy-server (a port that merely answers may be anyone's)
  pp=$(cat "$ANCHOR_ROOT/run/proxy.pid" 2>/dev/null || true)
  if [ -n "$pp" ] && tr '\0' ' ' < "/proc/$pp/cmdline" 2>/dev/null | grep -q -- "$ANCHOR_ROOT/etc/proxy-server.conf"; then
    log "Swift anchor already running (proxy pid $pp): using it, and leaving it running"
  else
    if (exec 3<>"/dev/tcp/127.0.0.1/$SW_PORT") 2>/dev/null; then
      die "port $SW_PORT, the anchor's proxy port, is taken by another process ($(ss -Hltnp "sport = :$SW_PORT" 2>/dev/null | grep -o 'users:.*' | head -n 1)): stop it, or set SWIFT_PROXY_PORT"
    fi
    ANCHOR_STARTED=1
    log "starting the Swift anchor on 127.0.0.1:$SW_PORT (install on first use ~1-2 min)"
  fi
  "$SW_START" > "$OUT/anchor.log" 2>&1 || { tail -n 30 "$OUT/anchor.log" >&2; die "the Swift anchor failed to start (log $OUT/anchor.log)"; }
  put_s anchor.version "$(sed -n 's/.*OpenStack Swift \([^ ]*\) is up.*/\1/p' "$OUT/anchor.log" | head -n 1)"
  put_s anchor.started_here "$([ "$ANCHOR_STARTED" = 1 ] && echo yes || echo no)"
  put_s anchor.workers "$(sed -n 's/.*workers: //p' "$OUT/anchor.log" | head -n 1)"
fi
[ -d "$ANCHOR_DATA" ] || mkdir -p "$ANCHOR_DATA"
put_s disk.dir "$ANCHOR_DATA"
put_s disk.fs "$(df -PT "$ANCHOR_DATA" | awk 'NR == 2 { print $2 " on " $1 }')"

# ---- martlet -----------------------------------------------------------------
MDATA=$(mktemp -d "$TMPBASE/martlet-bench-data.XXXXXX")
WORK=$(mktemp -d "$TMPBASE/martlet-bench-object-work.XXXXXX")
[ "$(stat -c %d "$MDATA")" = "$(stat -c %d "$ANCHOR_DATA")" ] \
  || die "martlet's data dir $MDATA is not on the anchor's filesystem ($ANCHOR_DATA): set BENCH_TMPDIR"
if [ -n "${BENCH_PORT:-}" ]; then
  MPORT=$BENCH_PORT
else   # the S3 listener takes MPORT+1: both must be free
  MPORT=""
  for _ in $(seq 1 20); do
    p=$(free_port) || break
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$((p + 1))") 2>/dev/null; then MPORT=$p; break; fi
  done
  [ -n "$MPORT" ] || die "no free pair of ports"
fi
MARTLET_AUTH=http://127.0.0.1:$MPORT/object-store/auth/v1.0
put martlet.port "$MPORT"
put martlet.bcrypt_cost "$COST"
log "martlet: starting on a fresh data dir $MDATA, port $MPORT"
start_martlet /object-store/info
nap "$IDLE_WAIT"
put martlet.rss_idle_start_kib "$(rss_kib "$MPID")"

# v1_auth NAME URL USER KEY: a token and the storage URL, as objbench will get them
v1_auth() {
  local code surl
  code=$(curl -s -D "$OUT/$1-auth.headers" -o /dev/null -w '%{http_code}' -H "X-Auth-User: $3" -H "X-Auth-Key: $4" "$2" || echo 000)
  surl=$(awk 'tolower($1) == "x-storage-url:" { print $2 }' "$OUT/$1-auth.headers" | tr -d '\r')
  TOKEN=$(awk 'tolower($1) == "x-auth-token:" { print $2 }' "$OUT/$1-auth.headers" | tr -d '\r')
  [ "$code" = 200 ] && [ -n "$surl" ] && [ -n "$TOKEN" ] || die "$1: v1 auth at $2 as $3 answered $code (headers in $OUT/$1-auth.headers)"
  put_s "$1.storage_url" "$surl"
}
declare -A TOK=()
[ "${BENCH_SKIP_ANCHOR:-0}" = 1 ] || { v1_auth anchor "$ANCHOR_AUTH" test:tester testing; TOK[anchor]=$TOKEN; }
v1_auth martlet "$MARTLET_AUTH" admin:admin "$M_PW"; TOK[martlet]=$TOKEN

# ---- objbench ------------------------------------------------------------------------
# ob_progress FILE: objbench's stderr, time-stamped into FILE and shown indented
ob_progress() {
  local l
  while IFS= read -r l; do
    printf '%s %s\n' "$EPOCHREALTIME" "$l" >> "$1"
    printf '    %s\n' "$l" >&2
  done
}

# run_objbench NAME ARGS...: the table in $OUT/objbench-NAME.txt, the JSON summary in .json; sets OB_RC
run_objbench() {
  local name=$1; shift
  : > "$OUT/objbench-$name.err"
  set +e
  python3 "$OBJBENCH" "$@" --label "$name" --json "$OUT/objbench-$name.json" 2>&1 >"$OUT/objbench-$name.txt" \
    | ob_progress "$OUT/objbench-$name.err"
  OB_RC=${PIPESTATUS[0]}
  set -e
}

# ob_put PREFIX FILE: an objbench JSON summary into the results: PREFIX.<size>.<op>.<field>,
# PREFIX.list.*, PREFIX.delete.*
ob_put() {
  local k val
  [ -s "$2" ] || { flag "$1: objbench wrote no summary ($2; its last words: $(tail -n 1 "${2%.json}.err" 2>/dev/null | cut -d' ' -f2-))"; return 0; }
  while read -r k val; do put "$1.$k" "$val"; done < <(jq -r '
    def row($p): {ops, errors, verify_failures, ops_per_s, mb_per_s, seconds, p50_ms: .lat_ms.p50, p90_ms: .lat_ms.p90,
                  p99_ms: .lat_ms.p99, max_ms: .lat_ms.max, busy_cores: .cpu_total_cores, client_cores: .cpu_client_cores}
                 | to_entries[] | select(.value != null) | "\($p).\(.key) \(.value)";
    (.results[] | row(.size_label + "." + .op)),
    (.listing // empty | (.fill | row("list.fill")),
       "list.objects \(.objects)", "list.pages \(.pages)", "list.count_ok \(if .count_ok then 1 else 0 end)",
       (select(.runs_s | length > 0) | "list.min_ms \(.min_s * 1e6 | round / 1000)", "list.median_ms \(.median_s * 1e6 | round / 1000)",
                                       "list.max_ms \(.runs_s | max * 1e6 | round / 1000)")),
    (.delete | map(select(. != null)) | select(length > 0)
       | "delete.ops \(map(.ops) | add)", "delete.errors \(map(.errors) | add)",
         "delete.ops_per_s \((map(.ops) | add) / ([map(.seconds) | add, 1e-9] | max) * 100 | round / 100)"),
    "exit_code \(.exit_code)"' "$2")
  put_s "$1.runs_s" "$(jq -r '.listing.runs_s // [] | map(tostring) | join(" ")' "$2")"
}

# diagnose SRV SIZE-LABEL: one object of that size PUT, GET and HEADed with curl, every header
# kept: what an objbench verification failure looks like on the wire
diagnose() {
  local srv=$1 label=$2 d=$OUT/diag-$1-$2 url c md5 got
  url=${R[$srv.storage_url]}; c=$url/bench-diag-$$
  mkdir -p "$d"
  head -c "$(size_bytes "$label")" /dev/urandom > "$d/body"
  md5=$(md5sum < "$d/body" | cut -d' ' -f1)
  curl -s -o /dev/null -X PUT -H "X-Auth-Token: ${TOK[$srv]}" "$c" || true
  curl -s -D "$d/put.headers" -o "$d/put.body" -T "$d/body" -H "X-Auth-Token: ${TOK[$srv]}" \
       -H 'Content-Type: application/octet-stream' "$c/o" || true
  curl -s -D "$d/get.headers" -o "$d/get.body" -H "X-Auth-Token: ${TOK[$srv]}" "$c/o" || true
  curl -s -I -D "$d/head.headers" -o /dev/null -H "X-Auth-Token: ${TOK[$srv]}" "$c/o" || true
  curl -s -o /dev/null -X DELETE -H "X-Auth-Token: ${TOK[$srv]}" "$c/o" || true
  curl -s -o /dev/null -X DELETE -H "X-Auth-Token: ${TOK[$srv]}" "$c" || true
  got=$(md5sum < "$d/get.body" | cut -d' ' -f1)
  {
    echo "object: $(stat -c %s "$d/body") random bytes, md5 $md5; PUT $c/o"
    for x in put get head; do echo "--- $x response headers"; tr -d '\r' < "$d/$x.headers"; done
    echo "--- GET body: $(stat -c %s "$d/get.body") bytes, md5 $got ($([ "$got" = "$md5" ] && echo matches || echo DIFFERS))"
  } > "$d/report.txt"
  rm -f "$d/body" "$d/get.body"
  log "$srv $label: curl check in $d/report.txt: body md5 $([ "$got" = "$md5" ] && echo matches || echo DIFFERS); PUT ETag $(awk 'tolower($1) == "etag:" { print $2 }' "$d/put.headers" | tr -d '\r') for md5 $md5"
}

# bench_server SRV PIDS-FUNCTION ARGS...: objbench with the common workload, the server's CPU time
bench_server() {
  local srv=$1 pids=$2; shift 2
  local c0 c1 t0 s op n P
  load_busy "$srv"
  log "objbench against $srv (${OB_ARGS[*]})"
  mapfile -t P < <($pids)
  c0=$(proc_ticks "${P[@]}"); t0=$EPOCHREALTIME
  run_objbench "$srv" "$@" "${OB_ARGS[@]}"
  c1=$(proc_ticks "${P[@]}")
  put "$srv.objbench_wall_s" "$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')"
  put "$srv.server_cpu_s" "$(awk -v t=$((c1 - c0)) -v hz="$CLK_TCK" 'BEGIN { printf "%.1f", t / hz }')"
  ob_put "$srv" "$OUT/objbench-$srv.json"
  [ "$OB_RC" = 0 ] || flag "$srv: objbench exited $OB_RC (1 request errors, 2 verification failed, 3 setup failed): $(jq -c '[.aborted // empty] + [.results[], .listing.fill // empty | select(.errors > 0 or .verify_failures > 0) | "\(.size_label) \(.op): \(.errors) errors, \(.verify_failures) verify failures \(.error_samples // [])"]' "$OUT/objbench-$srv.json" 2>/dev/null | head -c 800)"
  [ "$(v "$srv.list.count_ok")" != 0 ] || flag "$srv: the listing counts do not match $LIST_OBJECTS ($(jq -c '.listing.counts' "$OUT/objbench-$srv.json"))"
  for s in $(sizes); do
    [ -n "$(v "$srv.$s.PUT.ops")" ] || { flag "$srv: no results for $s"; continue; }
    for op in PUT GET HEAD; do
      n=$(( ${R[$srv.$s.$op.verify_failures]:-0} + ${R[$srv.$s.$op.errors]:-0} ))
      if [ "$n" -gt 0 ]; then diagnose "$srv" "$s"; break; fi
    done
  done
  mapfile -t P < <($pids)
  put "$srv.rss_after_kib" "$(rss_kib "${P[@]}")"
}
martlet_pids() { echo "$MPID"; }
# martlet_alive PHASE: false (and flagged) when the server is gone, e.g. stopped by another process
martlet_alive() {
  kill -0 "$MPID" 2>/dev/null && return 0
  flag "martlet (pid $MPID) is gone before the $1 phase, which is skipped; its log ends: $(tail -n 1 "$OUT/martlet.log")"
  return 1
}

# ---- the ceiling -------------------------------------------------------------------------
bench_ceiling() {
  local r f k val env=(DISK_DIR="$ANCHOR_DATA" CEILING_ROOT="$CEILING_ROOT" DURATION="$C_DURATION" CONCURRENCY="$CONC" REPEATS="$C_REPEATS")
  for p in $C_SKIP; do env+=("SKIP_${p^^}=1"); done
  load_busy ceiling
  log "ceiling.sh (${env[*]}): disk, nginx + wrk, nginx WebDAV + objbench"
  touch "$OUT/.ceiling-start"
  env "${env[@]}" "$CEILING" > "$OUT/ceiling.txt" 2>&1 || { tail -n 20 "$OUT/ceiling.txt" >&2; flag "ceiling.sh failed (output $OUT/ceiling.txt)"; }
  # the disk and HTTP figures: the best of the repeats
  while read -r k val; do put "ceiling.$k" "$val"; done < <(awk '
    function rate(v, u) { return u == "GB/s" ? v * 1000 : u == "MB/s" ? v : u == "kB/s" ? v / 1000 : "" }
    function keep(k, x) { if (x != "" && (!(k in m) || x + 0 > m[k])) m[k] = x + 0 }
    function before(w,  i) { for (i = 2; i <= NF; i++) if ($i == w) return $(i - 1); return "" }
    /^seq write 2 GiB, bs=1M, conv=fdatasync/ { keep("dd.write_fdatasync_mbps", rate($(NF - 1), $NF)) }
    /^seq read  2 GiB, bs=1M, iflag=direct/   { keep("dd.read_direct_mbps", rate($(NF - 1), $NF)) }
    /^seq read  2 GiB, bs=1M, cold/           { keep("dd.read_cold_mbps", rate($(NF - 1), $NF)) }
    /^4 KiB writes, oflag=dsync/              { keep("dd.write_4k_dsync_mbps", rate($(NF - 1), $NF)) }
    /^durable create 4KiB .*, 1 thread/       { keep("durable_4k_1t_files_s", before("files/s")) }
    /^durable create 4KiB .*, 8 thread/       { keep("durable_4k_8t_files_s", before("files/s")) }
    /^wrk GET run /                           { keep("wrk." $5 ".req_s", before("req/s")) }
    END { for (k in m) print k, m[k] }' "$OUT/ceiling.txt")
  # nginx WebDAV through objbench: each run, and the best of them per size and op
  for r in $(seq 1 "$C_REPEATS"); do
    f=$CEILING_ROOT/log/objbench-plain-run$r.json
    if [ -f "$f" ] && [ "$f" -nt "$OUT/.ceiling-start" ]; then
      cp "$f" "$OUT/ceiling-webdav-run$r.json"
      ob_put "ceiling.run$r" "$OUT/ceiling-webdav-run$r.json"
      [ "$(v "ceiling.run$r.exit_code")" = 0 ] || flag "ceiling: objbench against nginx WebDAV (run $r) exited $(v "ceiling.run$r.exit_code")"
    else
      flag "ceiling: no objbench result for run $r ($f)"
    fi
  done
  local s op fld best x
  for s in $(sizes); do for op in PUT GET HEAD; do for fld in ops_per_s mb_per_s p50_ms p99_ms; do
    best=""
    for r in $(seq 1 "$C_REPEATS"); do
      x=$(v "ceiling.run$r.$s.$op.$fld"); [ -n "$x" ] || continue
      if [ -z "$best" ] || awk -v a="$x" -v b="$best" -v f="$fld" 'BEGIN { exit !(f ~ /_ms$/ ? a < b : a > b) }'; then best=$x; fi
    done
    [ -z "$best" ] || put "ceiling.$s.$op.$fld" "$best"
  done; done; done
}

# ---- the memory phase -----------------------------------------------------------------
# curl, not objbench: objbench builds its bodies in memory (random.randbytes), which stops below 256 MiB.
# mem_watch_start NAME / mem_watch_stop NAME: idle VmRSS before, then samples and VmHWM over the transfer
mem_watch_start() {
  nap "$IDLE_WAIT"
  put "mem.$1.idle_before_kib" "$(awk '/^VmRSS:/ { print $2 }' "/proc/$MPID/status")"
  HWM_OK=0; hwm_reset && HWM_OK=1
  rss_sampler > "$OUT/rss-memory-$1.txt" &
  SAMPLER=$!
}
mem_watch_stop() {
  local p=mem.$1 peak hwm=""
  [ "$HWM_OK" = 0 ] || hwm=$(hwm_kib)
  sampler_stop
  put "$p.samples" "$(wc -l < "$OUT/rss-memory-$1.txt")"
  peak=$(awk '$2 > m { m = $2 } END { print m + 0 }' "$OUT/rss-memory-$1.txt")
  put "$p.peak_sampled_kib" "$peak"
  if [ -n "$hwm" ]; then put "$p.peak_hwm_kib" "$hwm"; [ "$hwm" -le "$peak" ] || peak=$hwm; fi
  put "$p.peak_kib" "$peak"
  put "$p.growth_kib" "$(( peak - ${R[$p.idle_before_kib]} ))"
  log "memory $1: idle ${R[$p.idle_before_kib]} KiB, peak $peak KiB (sampled ${R[$p.peak_sampled_kib]} in ${R[$p.samples]} samples, VmHWM ${hwm:-n/a}), growth ${R[$p.growth_kib]} KiB"
}
# mem_curl NAME ARGS...: one timed curl against the object; headers in $OUT/memory-NAME.headers; sets the status
mem_curl() {
  local name=$1 line code t; shift
  line=$(curl -s -D "$OUT/memory-$name.headers" -H "X-Auth-Token: ${TOK[martlet]}" \
         -w '%{http_code} %{time_total}' "$@" 2>"$OUT/memory-$name.err" || echo "000 0")
  read -r code t <<< "$line"
  put "mem.$name.status" "$code"
  put "mem.$name.seconds" "$t"
  put "mem.$name.mbps" "$(awk -v b="$MEM_BYTES" -v t="$t" 'BEGIN { if (t > 0) printf "%.1f", b / t / 1e6 }')"
}
header() { awk -v h="$(tr 'A-Z' 'a-z' <<< "$2"):" 'tolower($1) == h { print $2 }' "$1" | tr -d '\r'; }

bench_memory() {
  local src=$WORK/source.bin c obj md5 got code g
  MEM_BYTES=$(size_bytes "$MEM_SIZE")
  c=${R[martlet.storage_url]}/bench-memory-$$; obj=$c/object
  load_busy memory
  log "memory: writing $MEM_LABEL of random bytes"
  if ! { command -v openssl >/dev/null 2>&1 && openssl rand -out "$src" "$MEM_BYTES" 2>/dev/null; }; then
    head -c "$MEM_BYTES" /dev/urandom > "$src"
  fi
  [ "$(stat -c %s "$src")" = "$MEM_BYTES" ] || die "could not write the $MEM_LABEL source file"
  md5=$(md5sum < "$src" | cut -d' ' -f1)
  put_s mem.source_md5 "$md5"
  code=$(curl -s -o /dev/null -w '%{http_code}' -X PUT -H "X-Auth-Token: ${TOK[martlet]}" "$c" || echo 000)
  [[ "$code" == 2* ]] || { flag "memory: container PUT answered $code; phase skipped"; return 0; }

  log "memory: PUT of the $MEM_LABEL object (curl -T, streamed from the file), RSS sampled every ${RSS_INTERVAL}s"
  mem_watch_start put
  mem_curl put -o "$OUT/memory-put.body" -T "$src" -H 'Content-Type: application/octet-stream' "$obj"
  mem_watch_stop put
  put_s mem.put.etag "$(header "$OUT/memory-put.headers" ETag)"
  [ "${R[mem.put.status]}" = 201 ] || flag "memory: PUT answered ${R[mem.put.status]} ($(head -c 300 "$OUT/memory-put.body"; head -c 200 "$OUT/memory-put.err"))"
  [ "${R[mem.put.etag]}" = "$md5" ] || flag "memory: PUT ETag '${R[mem.put.etag]}', the body's md5 is $md5 (headers in $OUT/memory-put.headers)"

  log "memory: GET of it to /dev/null"
  mem_watch_start get
  mem_curl get -o /dev/null "$obj"
  mem_watch_stop get
  put_s mem.get.etag "$(header "$OUT/memory-get.headers" ETag)"
  put_s mem.get.content_length "$(header "$OUT/memory-get.headers" Content-Length)"
  [ "${R[mem.get.status]}" = 200 ] || flag "memory: GET answered ${R[mem.get.status]} ($(head -c 200 "$OUT/memory-get.err"))"
  [ "${R[mem.get.content_length]}" = "$MEM_BYTES" ] && [ "${R[mem.get.etag]}" = "$md5" ] \
    || flag "memory: GET Content-Length '${R[mem.get.content_length]}', ETag '${R[mem.get.etag]}' for $MEM_BYTES bytes with md5 $md5 (headers in $OUT/memory-get.headers)"

  # the bytes themselves, once more, outside the measured window
  got=$(curl -s -H "X-Auth-Token: ${TOK[martlet]}" "$obj" | md5sum | cut -d' ' -f1)
  put_s mem.verified "$([ "$got" = "$md5" ] && echo yes || echo no)"
  [ "$got" = "$md5" ] || flag "memory: the object read back has md5 $got, the source $md5"
  curl -s -o /dev/null -X DELETE -H "X-Auth-Token: ${TOK[martlet]}" "$obj" || true
  curl -s -o /dev/null -X DELETE -H "X-Auth-Token: ${TOK[martlet]}" "$c" || true
  rm -f "$src"
  nap "$IDLE_WAIT"
  put mem.after_kib "$(awk '/^VmRSS:/ { print $2 }' "/proc/$MPID/status")"

  # the verdict needs both transfers done, 2xx
  if [ "${R[mem.put.status]}" = 201 ] && [ "${R[mem.get.status]}" = 200 ]; then
    g=${R[mem.put.growth_kib]}; [ "${R[mem.get.growth_kib]}" -le "$g" ] || g=${R[mem.get.growth_kib]}
    put mem.growth_kib "$g"
  fi
}

# ---- the run -------------------------------------------------------------------------
[ "${BENCH_SKIP_CEILING:-0}" = 1 ] || bench_ceiling
if [ "${BENCH_SKIP_ANCHOR:-0}" != 1 ]; then
  mapfile -t P < <(anchor_pids)
  put anchor.rss_idle_kib "$(rss_kib "${P[@]}")"
  bench_server anchor anchor_pids --auth-url "$ANCHOR_AUTH" --user test:tester --key testing
fi
! martlet_alive objbench || bench_server martlet martlet_pids --auth-url "$MARTLET_AUTH" --user admin:admin --key "$M_PW"
[ "${BENCH_SKIP_MEMORY:-0}" = 1 ] || ! martlet_alive memory || bench_memory
! kill -0 "$MPID" 2>/dev/null || put martlet.rss_end_kib "$(rss_kib "$MPID")"
martlet_stop
put log.lines "$(wc -l < "$OUT/martlet.log")"
put log.error_lines "$(grep -ciE 'error|critical|fatal|panic' "$OUT/martlet.log" || true)"
grep -qiE 'critical|fatal|panic' "$OUT/martlet.log" && flag "martlet's log has critical/fatal lines (see $OUT/martlet.log)"

# ---- report -----------------------------------------------------------------------------
ROWS=()
row() {   # a value cell made only of separators (" / ", "; ") stands for nothing measured
  local b=${2:-} c=${3:-} d=${4:-}
  [[ $b =~ [0-9a-z] ]] || b=-; [[ $c =~ [0-9a-z] ]] || c=-; [[ $d =~ [0-9a-z] ]] || d=-
  ROWS+=("$1|$b|$c|$d|${5:-}|${6:-}|${7:-}")
}
pair() { [ -n "$1$2" ] && echo "$(fmt "$1" "$3")/$(fmt "$2" "$3")"; return 0; }

for s in $(sizes); do
  big=$(( $(size_bytes "$s") >= 1048576 ))
  for op in PUT GET HEAD; do
    if [ "$big" = 1 ] && [ "$op" != HEAD ]; then fld=mb_per_s; unit="MB/s"; d=1; else fld=ops_per_s; unit="ops/s"; d=0; fi
    a=$(v "anchor.$s.$op.$fld"); m=$(v "martlet.$s.$op.$fld"); c=$(v "ceiling.$s.$op.$fld")
    x=$(ratio "$m" "$a"); tgt=""; met=""
    [ -z "$x" ] || put "ratios.${s}_${op}_${fld}" "$x"
    case "$s.$op" in
      4KiB.PUT) tgt=">= ${T_PUT4K_X}x anchor"; met=$(verdict "x >= $T_PUT4K_X" "$x") ;;
      4KiB.GET) tgt=">= ${T_GET4K_X}x anchor"; met=$(verdict "x >= $T_GET4K_X" "$x") ;;
      16MiB.PUT|16MiB.GET)
        f=$(ratio "$m" "$c"); [ -z "$f" ] || put "ratios.16MiB_${op}_vs_ceiling" "$f"
        tgt=">= 80% ceiling: $(pct "$f")"; met=$(verdict "x >= $T_CEIL_FRACTION" "$f") ;;
    esac
    row "$s $op ($unit)" "$(fmt "$a" "$d")" "$(fmt "$m" "$d")" "$(fmt "$c" "$d")" "${x:+${x}x}" "$tgt" "$met"
    [ "$op" = HEAD ] || row "  $op latency p50/p99 (ms)" \
      "$(pair "$(v "anchor.$s.$op.p50_ms")" "$(v "anchor.$s.$op.p99_ms")" 1)" \
      "$(pair "$(v "martlet.$s.$op.p50_ms")" "$(v "martlet.$s.$op.p99_ms")" 1)" \
      "$(pair "$(v "ceiling.$s.$op.p50_ms")" "$(v "ceiling.$s.$op.p99_ms")" 1)"
  done
done
row "fill: PUT $LIST_OBJECTS empty objects (ops/s)" "$(fmt "$(v anchor.list.fill.ops_per_s)" 0)" "$(fmt "$(v martlet.list.fill.ops_per_s)" 0)" "" \
    "$(r=$(ratio "$(v martlet.list.fill.ops_per_s)" "$(v anchor.list.fill.ops_per_s)"); echo "${r:+${r}x}")"
row "full listing of $LIST_OBJECTS objects, median of $LIST_REPEATS (ms) [1]" \
    "$(fmt "$(v anchor.list.median_ms)" 1)" "$(fmt "$(v martlet.list.median_ms)" 1)" "" \
    "$(r=$(ratio "$(v anchor.list.median_ms)" "$(v martlet.list.median_ms)"); echo "${r:+${r}x faster}")" \
    "< $T_LIST_MS ms" "$(verdict "x < $T_LIST_MS" "$(v martlet.list.median_ms)")"
row "  min/max (ms); pages per listing" "$(pair "$(v anchor.list.min_ms)" "$(v anchor.list.max_ms)" 1); $(v anchor.list.pages)" \
    "$(pair "$(v martlet.list.min_ms)" "$(v martlet.list.max_ms)" 1); $(v martlet.list.pages)" "" "" \
    "max < $T_LIST_MS ms" "$(verdict "x < $T_LIST_MS" "$(v martlet.list.max_ms)")"
row "DELETE everything (ops/s)" "$(fmt "$(v anchor.delete.ops_per_s)" 0)" "$(fmt "$(v martlet.delete.ops_per_s)" 0)" "" \
    "$(r=$(ratio "$(v martlet.delete.ops_per_s)" "$(v anchor.delete.ops_per_s)"); echo "${r:+${r}x}")"
row "server CPU over the whole objbench run (s) [2]" "$(v anchor.server_cpu_s)" "$(v martlet.server_cpu_s)" "" "" "(wall $(v anchor.objbench_wall_s) / $(v martlet.objbench_wall_s) s)"
row "server RSS idle / after objbench (MiB) [3]" "$(mib "$(v anchor.rss_idle_kib)") / $(mib "$(v anchor.rss_after_kib)")" \
    "$(mib "$(v martlet.rss_idle_start_kib)") / $(mib "$(v martlet.rss_after_kib)")"
if [ -n "$(v mem.put.status)" ]; then
  row "$MEM_LABEL PUT, curl -T from a file (MB/s)" "" "$(fmt "$(v mem.put.mbps)" 1)" "" "" "(status $(v mem.put.status))"
  row "$MEM_LABEL GET, curl to /dev/null (MB/s)" "" "$(fmt "$(v mem.get.mbps)" 1)" "" "" "(status $(v mem.get.status))"
  row "  RSS idle before the PUT / the GET (MiB)" "" "$(mib "$(v mem.put.idle_before_kib)") / $(mib "$(v mem.get.idle_before_kib)")"
  row "  RSS peak during the PUT / the GET (MiB) [4]" "" "$(mib "$(v mem.put.peak_kib)") / $(mib "$(v mem.get.peak_kib)")"
  row "  RSS growth while $MEM_LABEL goes in and out (MiB)" "" "$(mib "$(v mem.growth_kib)")" "" "" \
      "< $T_RSS_GROWTH_MB MB" "$(verdict "x * 1024 < $T_RSS_GROWTH_MB * 1000000" "$(v mem.growth_kib)")"
  row "  $MEM_LABEL read back: md5, ETag, Content-Length" "" "$(v mem.verified)" "" "" "" \
      "$(case "$(v mem.verified)" in yes) echo MET ;; no) echo "NOT MET" ;; *) echo n/a ;; esac)"
fi
# context from ceiling.sh (absent when its dd or wrk part was skipped)
[ -z "$(v ceiling.dd.write_fdatasync_mbps)" ] || {
  row "disk: dd write 2 GiB, fdatasync (MB/s)" "" "" "$(fmt "$(v ceiling.dd.write_fdatasync_mbps)" 0)"
  row "disk: dd read 2 GiB, O_DIRECT / cold (MB/s)" "" "" "$(fmt "$(v ceiling.dd.read_direct_mbps)" 0) / $(fmt "$(v ceiling.dd.read_cold_mbps)" 0)"
  row "disk: durable 4 KiB creates, 1 / 8 threads (files/s) [5]" "" "" "$(fmt "$(v ceiling.durable_4k_1t_files_s)" 0) / $(fmt "$(v ceiling.durable_4k_8t_files_s)" 0)"
}
[ -z "$(v ceiling.wrk.4KiB.req_s)" ] || row "HTTP: wrk GET 4KiB from nginx, c=$CONC (req/s)" "" "" "$(fmt "$(v ceiling.wrk.4KiB.req_s)" 0)"

{
  echo
  echo "Object storage benchmark $(v date) - $(v host.nproc) cores ($(v host.cpu)), $(( $(v host.mem_mib) / 1024 )) GiB RAM"
  echo "martlet: $(v martlet.version) ($(v martlet.git)), $(v martlet.binary) (built $(v martlet.binary_mtime))"
  [ "${BENCH_SKIP_ANCHOR:-0}" = 1 ] || echo "anchor: OpenStack Swift $(v anchor.version) on 127.0.0.1:$SW_PORT (workers $(v anchor.workers)), 1 replica, fsync on PUT"
  echo "disk: $(v disk.fs) ($(v disk.dir)); martlet's data dir on the same filesystem"
  echo "objbench $(v params.objbench) (python $(v params.python)); ceiling: nginx WebDAV through the same objbench, $(v params.ceiling)"
  echo "1-min load average before: ceiling $(v host.loadavg_before_ceiling), anchor $(v host.loadavg_before_anchor), martlet $(v host.loadavg_before_martlet), memory $(v host.loadavg_before_memory) (above ~0.7 something else was running)"
  echo
  printf '%-56s | %15s | %15s | %15s | %-14s | %-22s | %s\n' metric anchor martlet "ceiling" martlet/anchor target "met?"
  printf '%s\n' "---------------------------------------------------------+-----------------+-----------------+-----------------+----------------+------------------------+--------"
  for r in "${ROWS[@]}"; do
    IFS='|' read -r a b c d e f g <<< "$r"
    printf '%-56s | %15s | %15s | %15s | %-14s | %-22s | %s\n' "$a" "$b" "$c" "$d" "$e" "$f" "$g"
  done
  echo "ceiling: nginx WebDAV (PUT = temp file + rename, no fsync) through objbench, best of $C_REPEATS run(s); the 16 MiB targets"
  echo "    compare with it. MB = 10^6 bytes; objbench verifies every GET body ($VERIFY) and every ETag, in this same process,"
  echo "    so small-object rates near the ceiling column are bound by the client (client and servers share $(v host.nproc) cores)"
  echo "[1] objbench's full listing: GET ?format=json&limit=10000, then pages until an empty one (2 requests for 10,000 objects)"
  echo "[2] user+system CPU time of the server processes (anchor: proxy, object, container, account servers with their"
  echo "    workers, and memcached) from /proc/PID/stat over the whole objbench run, which is longer for the slower server"
  echo "[3] anchor: all its processes; martlet: the one process"
  echo "[4] the higher of VmHWM (the kernel's exact peak, reset through /proc/PID/clear_refs before each transfer) and"
  echo "    VmRSS from /proc/PID/status every ${RSS_INTERVAL}s ($(v mem.put.samples) / $(v mem.get.samples) samples); growth = peak - VmRSS ${IDLE_WAIT}s"
  echo "    before the transfer, the larger of the two; target in MB (10^6 bytes)"
  [ -z "$(v ceiling.dd.write_fdatasync_mbps)" ] || echo "[5] write + fsync + rename + directory fsync per file: what a durable small-object PUT costs at least"
  echo
  echo "objbench exit codes: anchor $(v anchor.exit_code), martlet $(v martlet.exit_code)$([ "${BENCH_SKIP_CEILING:-0}" = 1 ] || for r in $(seq 1 "$C_REPEATS"); do printf ', ceiling run %s %s' "$r" "$(v "ceiling.run$r.exit_code")"; done) (0 ok);"
  echo "  listing runs (s): anchor $(v anchor.runs_s); martlet $(v martlet.runs_s); martlet log: $(v log.lines) lines, $(v log.error_lines) matching error/critical/fatal/panic"
  if [ ${#FLAGS[@]} -gt 0 ]; then
    echo
    echo "FLAGS:"
    printf '  - %s\n' "${FLAGS[@]}"
  fi
} | tee "$OUT/summary.txt"

put_s targets.put_4KiB_5x_anchor "$(verdict "x >= $T_PUT4K_X" "$(v ratios.4KiB_PUT_ops_per_s)")"
put_s targets.get_4KiB_20x_anchor "$(verdict "x >= $T_GET4K_X" "$(v ratios.4KiB_GET_ops_per_s)")"
put_s targets.put_16MiB_80pct_ceiling "$(verdict "x >= $T_CEIL_FRACTION" "$(v ratios.16MiB_PUT_vs_ceiling)")"
put_s targets.get_16MiB_80pct_ceiling "$(verdict "x >= $T_CEIL_FRACTION" "$(v ratios.16MiB_GET_vs_ceiling)")"
put_s targets.list_median_under_50ms "$(verdict "x < $T_LIST_MS" "$(v martlet.list.median_ms)")"
put_s targets.list_max_under_50ms "$(verdict "x < $T_LIST_MS" "$(v martlet.list.max_ms)")"
put_s targets.rss_growth_under_64MB "$(verdict "x * 1024 < $T_RSS_GROWTH_MB * 1000000" "$(v mem.growth_kib)")"
write_results object "objbench and ceiling output, RSS samples, server logs and summary.txt"
