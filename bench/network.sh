#!/usr/bin/env bash
# bench/network.sh - Martlet Networking (Neutron v2.0 wire format) with 10,000 ports.
#
# There is no anchor for this one (no Neutron is run): the figures are checked
# against the targets of the issue.  In one run, on 127.0.0.1 only:
#   - `martlet serve` on a fresh data dir; a project-scoped admin token; a network
#     and an IPv4 subnet big enough for all the ports (10.0.0.0/16); the admin
#     project's port quota set to unlimited (PUT /network/v2.0/quotas/{project}
#     {"quota": {"port": -1}});
#   - BENCH_PORTS (10,000) ports created with bench/lib/port-fill.py at
#     concurrency 16 (POST /network/v2.0/ports, one device_id per
#     BENCH_PORTS_PER_DEVICE ports): ports/s over the wall clock, per-request
#     p50/p99, the server's and the client's CPU; then the full listing is
#     fetched once and checked: BENCH_PORTS ports on the network, every one with
#     a fixed IP, all fixed IPs distinct (and ids, MACs);
#   - wrk -t2 -c16 -d10s --latency on GET /network/v2.0/ports?device_id=<one
#     device in the middle>: the latency distribution, p99 against 5 ms;
#   - BENCH_LIST_REQUESTS (20) sequential full listings GET /network/v2.0/ports
#     (no limit: all the ports in one answer) with curl -w '%{time_total}':
#     median and max against 300 ms, and the response size;
#   - the server's RSS: idle after start, after the creates, at the end;
# and prints a table: metric | value | target | met?.  Results (JSON,
# summary.txt, port-fill output, wrk output, the listing, the server log) go to a
# temporary directory printed at the end; nothing is written into the repository
# except the build folder.
#
# Environment (all optional):
#   BENCH_PORTS=10000            ports to create             BENCH_CREATE_CONCURRENCY=16  connections creating them
#   BENCH_PORTS_PER_DEVICE=1     ports sharing one device_id (the lookup load then returns this many)
#   BENCH_CIDR=10.0.0.0/16       the subnet (must have room for BENCH_PORTS addresses)
#   BENCH_SECONDS=10             wrk duration of the device_id lookup   BENCH_WARMUP=2  untimed wrk warm-up (0: none)
#   BENCH_THREADS=2 BENCH_CONNECTIONS=16   wrk -t/-c for the lookup
#   BENCH_WRK_TIMEOUT=10s        wrk --timeout
#   BENCH_LIST_REQUESTS=20       sequential full listings timed with curl
#   BENCH_IDLE_WAIT=2            seconds between "up" and the idle RSS reading
#   BENCH_BCRYPT_COST=4          martlet --bcrypt-cost
#   BENCH_SKIP_BUILD=1           do not build; use the existing binary
#   BENCH_BUILD_DIR=.build-static   SwiftPM scratch path (relative to the repo root or absolute);
#                                the binary is BENCH_BUILD_DIR/release/martlet
#   BENCH_MARTLET_BIN=PATH       use this binary (implies no build), e.g. .build/debug/martlet
#   BENCH_PORT                   loopback port (default: a free random port)
#   BENCH_ADMIN_PASSWORD         (default bench-admin-pw)
#   BENCH_TMPDIR=/tmp            where the data dir goes
#   BENCH_OUT=DIR                results directory (default: a new mktemp -d under /tmp)
#   BENCH_KEEP_DATA=1            keep martlet's temporary data dir
#
# Exit status: 0 the run completed (whether or not the targets are met);
# 1 setup failure; 2 completed, but something was flagged (a failed create, a
# port count or duplicate IP that does not check out, non-2xx answers under wrk
# or curl, a measurement missing, ...).
set -euo pipefail
export LC_ALL=C

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
LIB=$REPO/bench/lib
. "$LIB/common.sh"

NPORTS=${BENCH_PORTS:-10000}
CREATE_CONC=${BENCH_CREATE_CONCURRENCY:-16}
PER_DEVICE=${BENCH_PORTS_PER_DEVICE:-1}
CIDR=${BENCH_CIDR:-10.0.0.0/16}
SECONDS_=${BENCH_SECONDS:-10}
WARMUP=${BENCH_WARMUP:-2}
THREADS=${BENCH_THREADS:-2}
CONNS=${BENCH_CONNECTIONS:-16}
WRK_TIMEOUT=${BENCH_WRK_TIMEOUT:-10s}
LIST_REQS=${BENCH_LIST_REQUESTS:-20}
IDLE_WAIT=${BENCH_IDLE_WAIT:-2}
martlet_settings
PREFIX=bench-dev

# targets of the issue
T_LOOKUP_P99_MS=5         # GET /ports?device_id=X p99 < 5 ms with 10,000 ports
T_LIST_MS=300             # full listing of 10,000 ports < 300 ms (median and max)

FLAGS=()                       # problems to repeat at the end

for v in NPORTS CREATE_CONC PER_DEVICE SECONDS_ WARMUP THREADS CONNS LIST_REQS IDLE_WAIT COST; do
  [[ "${!v}" =~ ^[0-9]+$ ]] || die "$v must be a whole number, got '${!v}'"
done
[ "$NPORTS" -ge 1 ] && [ "$CREATE_CONC" -ge 1 ] && [ "$PER_DEVICE" -ge 1 ] && [ "$LIST_REQS" -ge 1 ] \
  && [ "$SECONDS_" -ge 1 ] && [ "$CONNS" -ge "$THREADS" ] && [ "$THREADS" -ge 1 ] \
  || die "BENCH_PORTS, BENCH_CREATE_CONCURRENCY, BENCH_PORTS_PER_DEVICE, BENCH_LIST_REQUESTS, BENCH_SECONDS must be >= 1, BENCH_CONNECTIONS >= BENCH_THREADS >= 1"

# ---- results: key/type/value lines, turned into nested JSON at the end -----
bench_dirs network

# ---- small helpers ---------------------------------------------------------
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) exit; if (NR % 2) printf "%.2f", v[(NR + 1) / 2]; else printf "%.2f", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# ---- cleanup ---------------------------------------------------------------
MPID=""; MDATA=""
on_exit martlet_cleanup

# ---- tools -----------------------------------------------------------------
need_tools wrk:wrk curl:curl jq:jq ps:procps python3:python3

record_host
put params.ports "$NPORTS"
put params.create_concurrency "$CREATE_CONC"
put params.ports_per_device "$PER_DEVICE"
put_s params.cidr "$CIDR"
put params.list_requests "$LIST_REQS"
put_s params.wrk "-t$THREADS -c$CONNS -d${SECONDS_}s --latency --timeout $WRK_TIMEOUT (warm-up ${WARMUP}s)"
put_s params.wrk_version "$(wrk -v 2>&1 | head -n 1 | awk '{ print $2 }')"
put_s params.curl_version "$(curl --version | head -n 1 | awk '{ print $2 }')"
put_s results_dir "$OUT"

# ---- the binary ----------------------------------------------------------------
martlet_binary
MDATA=$(mktemp -d "$TMPBASE/martlet-bench-data.XXXXXX")

# ---- martlet -----------------------------------------------------------------
martlet_port
NET=$BASE/network

martlet_start() { start_martlet /network; }

# ---- 1. set-up: network, subnet, unlimited port quota -------------------------
setup() {
  bench_network quota
  log "network $NETID, subnet $CIDR (pools ${R[setup.subnet_pools]}), port quota of project $PROJECT: ${R[setup.port_quota]}"
}

# ---- 2. create the ports --------------------------------------------------------
bench_create() {
  local j c0 c1 t0 t1
  load_busy create
  log "creating $NPORTS ports ($CREATE_CONC keep-alive connections, $PER_DEVICE per device_id)"
  c0=$(cpu_ticks); t0=$EPOCHREALTIME
  j=$(python3 "$LIB/port-fill.py" create --url "$NET" --token "$TOK" --network "$NETID" --count "$NPORTS" \
        --concurrency "$CREATE_CONC" --per-device "$PER_DEVICE" --prefix "$PREFIX" 2>"$OUT/create.err") || true
  c1=$(cpu_ticks); t1=$EPOCHREALTIME
  printf '%s\n' "$j" > "$OUT/create.json"
  local k
  for k in created errors seconds per_s first_tenth_per_s last_tenth_per_s p50_ms p90_ms p99_ms max_ms reconnects client_cpu_s client_cpu_cores; do
    put "create.$k" "$(jq -r ".$k // empty" <<< "$j" 2>/dev/null || true)"
  done
  put_s create.errors_by_status "$(jq -c '.errors_by_status // {}' <<< "$j" 2>/dev/null || true)"
  put create.server_cpu_cores "$(cores "$c0" "$c1" "$t0" "$t1")"
  [ -n "${R[create.created]}" ] || flag "port-fill.py create failed: $(head -c 300 <<< "$j") $(head -c 300 "$OUT/create.err")"
  [ "${R[create.created]:-0}" = "$NPORTS" ] \
    || flag "created ${R[create.created]:-0} of $NPORTS ports (errors by status ${R[create.errors_by_status]}: $(jq -c '.first_errors // .error' <<< "$j" 2>/dev/null | head -c 400))"
  put rss.after_create_kib "$(rss_kib "$MPID")"
  log "created ${R[create.created]:-0} ports in ${R[create.seconds]:-?} s (${R[create.per_s]:-?}/s, p50 ${R[create.p50_ms]:-?} ms, p99 ${R[create.p99_ms]:-?} ms; server ${R[create.server_cpu_cores]} cores, client ${R[create.client_cpu_cores]:-?})"
}

# the full listing once, kept and checked: the count, one fixed IP each, all distinct
verify() {
  local code j
  code=$(curl -s -o "$OUT/ports-all.json" -w '%{http_code}' -H "X-Auth-Token: $TOK" "$NET/v2.0/ports" || echo 000)
  put verify.status "$code"
  [ "$code" = 200 ] || { flag "GET /network/v2.0/ports answered $code ($(head -c 300 "$OUT/ports-all.json"))"; return 0; }
  j=$(python3 "$LIB/port-fill.py" check --file "$OUT/ports-all.json" --network "$NETID" --count "$NPORTS" --prefix "$PREFIX") || true
  printf '%s\n' "$j" > "$OUT/verify.json"
  local k
  for k in ports on_network bench_ports fixed_ips distinct_ips ports_without_ip distinct_ids distinct_macs devices; do
    put "verify.$k" "$(jq -r ".$k // empty" <<< "$j" 2>/dev/null || true)"
  done
  put_s verify.has_next_link "$(jq -r '.has_next_link' <<< "$j" 2>/dev/null || true)"
  put_s verify.ok "$(jq -r 'if .ok then "yes" else "no" end' <<< "$j" 2>/dev/null || echo no)"
  log "listing: ${R[verify.ports]:-?} ports, ${R[verify.bench_ports]:-?} of ours on the network, ${R[verify.fixed_ips]:-?} fixed IPs of which ${R[verify.distinct_ips]:-?} distinct, ${R[verify.distinct_macs]:-?} distinct MACs"
  [ "${R[verify.ok]}" = yes ] || flag "port check failed: $(head -c 400 <<< "$j")"
  [ "${R[verify.bench_ports]:-}" = "${R[verify.distinct_macs]:-}" ] || flag "MAC addresses not distinct: ${R[verify.distinct_macs]:-?} for ${R[verify.bench_ports]:-?} ports"
  [ "${R[verify.has_next_link]:-}" != true ] || flag "the unlimited listing has a next link: the server paginates without being asked"
}

# ---- 3. GET /ports?device_id=X under wrk ------------------------------------------
bench_lookup() {
  local dev url code n c0 c1 t0 t1 p=lookup
  dev=$(printf '%s-%05d' "$PREFIX" $(( (NPORTS / 2) / PER_DEVICE )))
  url="$NET/v2.0/ports?device_id=$dev"
  put_s lookup.device_id "$dev"
  code=$(curl -s -o "$OUT/lookup.preflight.json" -w '%{http_code}' -H "X-Auth-Token: $TOK" "$url" || echo 000)
  put lookup.preflight_status "$code"
  [ "$code" = 200 ] || { flag "device_id lookup: preflight answered $code ($(head -c 300 "$OUT/lookup.preflight.json")); load skipped"; return 0; }
  n=$(jq '.ports | length' "$OUT/lookup.preflight.json")
  put lookup.ports_returned "$n"
  put lookup.response_bytes "$(stat -c %s "$OUT/lookup.preflight.json")"
  local first=$(( (NPORTS / 2) / PER_DEVICE * PER_DEVICE ))   # the group's first port; the last group may be short
  local want=$(( NPORTS - first < PER_DEVICE ? NPORTS - first : PER_DEVICE ))
  [ "$n" = "$want" ] || flag "device_id lookup returned $n ports, expected $want"
  load_busy lookup
  if [ "$WARMUP" -gt 0 ]; then
    wrk -t"$THREADS" -c"$CONNS" -d"${WARMUP}s" --timeout "$WRK_TIMEOUT" -H "X-Auth-Token: $TOK" "$url" > "$OUT/lookup.warmup.txt" 2>&1 || true
  fi
  log "device_id lookup: wrk -t$THREADS -c$CONNS -d${SECONDS_}s GET /network/v2.0/ports?device_id=$dev"
  c0=$(cpu_ticks); t0=$EPOCHREALTIME
  wrk -t"$THREADS" -c"$CONNS" -d"${SECONDS_}s" --latency --timeout "$WRK_TIMEOUT" -H "X-Auth-Token: $TOK" "$url" \
      > "$OUT/lookup.wrk.txt" 2>&1 \
    || { flag "device_id lookup: wrk failed: $(tail -n 3 "$OUT/lookup.wrk.txt" | tr '\n' ' ')"; return 0; }
  c1=$(cpu_ticks); t1=$EPOCHREALTIME
  parse_wrk "$OUT/lookup.wrk.txt" "$p"
  put lookup.server_cpu_cores "$(cores "$c0" "$c1" "$t0" "$t1")"
  log "device_id lookup: ${R[$p.rps]:-?} req/s, p50 ${R[$p.p50_ms]:-?} ms, p99 ${R[$p.p99_ms]:-?} ms, server ${R[$p.server_cpu_cores]} cores, non-2xx ${R[$p.non2xx]}"
  [ "${R[$p.non2xx]}" = 0 ] || flag "device_id lookup: ${R[$p.non2xx]} non-2xx responses of ${R[$p.requests]:-?}"
  [ "${R[$p.err_timeout]}" = 0 ] || flag "device_id lookup: ${R[$p.err_timeout]} requests timed out (> $WRK_TIMEOUT), not in the latency figures"
  [ "${R[$p.err_connect]}" = 0 ] || flag "device_id lookup: ${R[$p.err_connect]} connect errors"
}

# ---- 4. full listings, sequential, timed by curl -------------------------------------
bench_list() {
  local i line code t size bad=0 c0 c1 t0 t1
  load_busy list
  log "full listing: $LIST_REQS sequential GET /network/v2.0/ports (no limit)"
  : > "$OUT/list-times.txt"
  c0=$(cpu_ticks); t0=$EPOCHREALTIME
  for i in $(seq 1 "$LIST_REQS"); do
    line=$(curl -s -o /dev/null -w '%{http_code} %{time_total} %{size_download} %{time_starttransfer}' \
           -H "X-Auth-Token: $TOK" "$NET/v2.0/ports" || echo "000 0 0 0")
    echo "$line" >> "$OUT/list-times.txt"
    read -r code t size _ <<< "$line"
    [ "$code" = 200 ] || bad=$((bad + 1))
  done
  c1=$(cpu_ticks); t1=$EPOCHREALTIME
  put list.non200 "$bad"
  put list.server_cpu_cores "$(cores "$c0" "$c1" "$t0" "$t1")"
  [ "$bad" = 0 ] || flag "full listing: $bad of $LIST_REQS answers were not 200 ($(grep -v '^200 ' "$OUT/list-times.txt" | head -n 3 | tr '\n' ';'))"
  # the times of the 200s, in ms
  awk '$1 == 200 { printf "%.3f\n", $2 * 1000 }' "$OUT/list-times.txt" > "$OUT/list-ms.txt"
  [ -s "$OUT/list-ms.txt" ] || return 0
  put list.median_ms "$(median < "$OUT/list-ms.txt")"
  put list.min_ms "$(sort -g "$OUT/list-ms.txt" | head -n 1)"
  put list.max_ms "$(sort -g "$OUT/list-ms.txt" | tail -n 1)"
  put list.ttfb_median_ms "$(awk '$1 == 200 { printf "%.3f\n", $4 * 1000 }' "$OUT/list-times.txt" | median)"
  put list.bytes "$(awk '$1 == 200 { print $3; exit }' "$OUT/list-times.txt")"
  [ "$(awk '$1 == 200 { print $3 }' "$OUT/list-times.txt" | sort -u | wc -l)" = 1 ] || flag "full listing: the response size changed between requests"
  log "full listing: median ${R[list.median_ms]} ms, max ${R[list.max_ms]} ms (first byte: median ${R[list.ttfb_median_ms]} ms), ${R[list.bytes]} bytes, server ${R[list.server_cpu_cores]} cores"
}

# ---- the run -------------------------------------------------------------------------
log "martlet: starting on a fresh data dir $MDATA, port $MPORT"
martlet_start
get_token
setup
nap "$IDLE_WAIT"
put rss.idle_start_kib "$(rss_kib "$MPID")"
bench_create
verify
bench_lookup
put rss.after_lookup_kib "$(rss_kib "$MPID")"
bench_list
put rss.end_kib "$(rss_kib "$MPID")"
put_s rss.end_hwm_kib "$(awk '/^VmHWM:/ { print $2 }' "/proc/$MPID/status" 2>/dev/null || true)"
martlet_stop
martlet_log_check

# ---- 5. report -------------------------------------------------------------------------
row "create $NPORTS ports, $CREATE_CONC connections (s, wall clock)" "$(fmt "$(v create.seconds)" 2)"
row "  create rate (ports/s)" "$(fmt "$(v create.per_s)" 0)"
row "  rate over the first / last tenth (ports/s)" "$(fmt "$(v create.first_tenth_per_s)" 0) / $(fmt "$(v create.last_tenth_per_s)" 0)"
row "  per request p50 / p99 / max (ms)" "$(fmt "$(v create.p50_ms)" 1) / $(fmt "$(v create.p99_ms)" 1) / $(fmt "$(v create.max_ms)" 1)"
row "  errors (by status)" "$(v create.errors)" "0" "$( [ "$(v create.errors)" = 0 ] && [ "$(v create.created)" = "$NPORTS" ] && echo MET || echo "NOT MET")"
row "  CPU: server / load client (cores, of $(v host.nproc)) [1]" "$(v create.server_cpu_cores) / $(v create.client_cpu_cores)"
row "ports on the network, all with a distinct fixed IP [2]" "$(v verify.bench_ports) / $(v verify.distinct_ips)" "$NPORTS / $NPORTS" \
    "$( [ "$(v verify.ok)" = yes ] && echo MET || { [ -n "$(v verify.ok)" ] && echo "NOT MET" || echo n/a; })"
row "GET ports?device_id=X ($(v lookup.ports_returned) port(s)): p50 (ms)" "$(fmt "$(v lookup.p50_ms)" 2)"
row "  p90 (ms)" "$(fmt "$(v lookup.p90_ms)" 2)"
row "  p99 (ms)" "$(fmt "$(v lookup.p99_ms)" 2)" "< $T_LOOKUP_P99_MS ms" "$(verdict "x < $T_LOOKUP_P99_MS" "$(v lookup.p99_ms)")"
row "  req/s (-t$THREADS -c$CONNS); server CPU (cores)" "$(fmt "$(v lookup.rps)" 0); $(v lookup.server_cpu_cores)"
row "GET ports, all $(v verify.ports), $LIST_REQS sequential: median (ms)" "$(fmt "$(v list.median_ms)" 1)" "< $T_LIST_MS ms" "$(verdict "x < $T_LIST_MS" "$(v list.median_ms)")"
row "  max (ms)" "$(fmt "$(v list.max_ms)" 1)" "< $T_LIST_MS ms" "$(verdict "x < $T_LIST_MS" "$(v list.max_ms)")"
row "  min / time to first byte, median (ms)" "$(fmt "$(v list.min_ms)" 1) / $(fmt "$(v list.ttfb_median_ms)" 1)"
row "  response size (MB)" "$(awk -v b="$(v list.bytes)" 'BEGIN { if (b > 0) printf "%.2f", b / 1e6 }')" "($(v list.bytes) bytes)"
row "RSS: idle at start / after creates (MiB)" "$(mib "$(v rss.idle_start_kib)") / $(mib "$(v rss.after_create_kib)")"
row "  after the lookups / after the listings = end (MiB)" "$(mib "$(v rss.after_lookup_kib)") / $(mib "$(v rss.end_kib)")" "(peak $(mib "$(v rss.end_hwm_kib)"))"

{
  summary_head Network
  echo "$NPORTS ports on one network ($CIDR), $PER_DEVICE per device_id; wrk $(v params.wrk); MB = 10^6 bytes"
  echo "1-min load average before: create $(v host.loadavg_before_create), lookup $(v host.loadavg_before_lookup), listing $(v host.loadavg_before_list) (above ~0.7 something else was running)"
  echo
  print_rows 58 18 16
  echo "[1] user+system CPU time over the wall time of the creates (/proc/PID/stat for the server, getrusage for"
  echo "    bench/lib/port-fill.py, one thread driving $CREATE_CONC keep-alive connections); both share the $(v host.nproc) cores"
  echo "[2] from one unlimited GET /network/v2.0/ports: ports with our device_ids on the network / distinct fixed IPs"
  echo "    (every port must have one; ids and MACs distinct too: ${R[verify.distinct_macs]:-?} MACs)"
  echo
  echo "Responses: create $(v create.created)/$NPORTS created (errors by status $(v create.errors_by_status), reconnects $(v create.reconnects));"
  echo "  lookup $(v lookup.requests) requests, non-2xx $(v lookup.non2xx), socket errors $(v lookup.err_connect),$(v lookup.err_read),$(v lookup.err_write),$(v lookup.err_timeout) (connect,read,write,timeout);"
  echo "  full listing: $(v list.non200) of $LIST_REQS not 200; server log: $(v log.lines) lines, $(v log.error_lines) matching error/critical/fatal/panic"
  print_flags
} | tee "$OUT/summary.txt"

put_s targets.create_all "$( [ "$(v create.created)" = "$NPORTS" ] && echo MET || echo "NOT MET")"
put_s targets.distinct_ips "$( [ "$(v verify.ok)" = yes ] && echo MET || echo "NOT MET")"
put_s targets.lookup_p99_under_5ms "$(verdict "x < $T_LOOKUP_P99_MS" "$(v lookup.p99_ms)")"
put_s targets.list_median_under_300ms "$(verdict "x < $T_LIST_MS" "$(v list.median_ms)")"
put_s targets.list_max_under_300ms "$(verdict "x < $T_LIST_MS" "$(v list.max_ms)")"
write_results network "port-fill output, wrk output, the full listing, server log and summary.txt"
