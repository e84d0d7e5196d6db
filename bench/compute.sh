#!/usr/bin/env bash
# bench/compute.sh - Martlet Compute (Nova v2.1 wire format) on the fake hypervisor:
# boot rates to ACTIVE and the detail listing with 10,000 servers.
#
# There is no anchor (no Nova is run): the figures are checked against the
# targets of the issue.  In one run, on 127.0.0.1 only:
#   - `martlet serve` on a fresh data dir with the fake compute driver and
#     BENCH_SERVE_ARGS (--fake-hosts 2); a project-scoped admin token; the admin
#     project's compute quotas set to unlimited (PUT
#     /compute/v2.1/os-quota-sets/{project} {"quota_set": {"instances": -1,
#     "cores": -1, "ram": -1}}) and its port quota too (Neutron's default is
#     500; every server takes a port); a network and an IPv4 subnet with room
#     for every server's port (10.10.0.0/16); a small raw image (POST
#     /image/v2/images, PUT .../file) that must turn active; flavor
#     BENCH_FLAVOR (42, m1.nano) must exist;
#   - phase 1: BENCH_P1_SERVERS (2,000) servers booted singly (POST
#     /compute/v2.1/servers) at concurrency 16 by bench/lib/server-fill.py,
#     which then probes GET /compute/v2.1/servers/detail?status=BUILD&limit=1
#     until none is in BUILD and walks GET .../servers/detail?limit=1000
#     (marker after marker, name filter) to check that all are ACTIVE;
#     servers/s from the first POST to the end of that probe, the POST latency
#     p50/p99; any server in ERROR fails the phase loudly (its fault is
#     printed) and skips the rest;
#   - phase 2: BENCH_P2_SERVERS (2,000) more in requests of 100 ("min_count":
#     100, "max_count": 100) at concurrency 4, measured the same way;
#   - phase 3: the rest up to BENCH_TOTAL_SERVERS (10,000) in requests of 100 at
#     concurrency 4 (timed too, no target); a check that every server has its
#     own port and fixed IP on the network; then BENCH_WALKS (5) full walks of
#     GET /compute/v2.1/servers/detail?limit=1000&marker=<last id>, one request
#     at a time: p50/p99/max per 1,000-server page and the time of each walk;
#   - the server's RSS: idle after the set-up, after each phase, the peak
#     (VmHWM) during each, and a timeline sampled every BENCH_RSS_INTERVAL s;
# and prints a table: metric | value | target | met? against the targets:
# >= 200 servers/s to ACTIVE (phases 1 and 2), 1,000-server detail page p99 <
# 150 ms.  Results (JSON, summary.txt, server-fill output, the RSS samples, the
# server log) go to a temporary directory printed at the end; nothing is
# written into the repository except the build folder.
#
# Environment (all optional):
#   BENCH_P1_SERVERS=2000 BENCH_P1_CONCURRENCY=16    phase 1: servers booted singly, connections
#   BENCH_P2_SERVERS=2000 BENCH_P2_CONCURRENCY=4     phase 2: servers booted in requests of ...
#   BENCH_PER_REQUEST=100                            ... this many (min_count = max_count), phases 2 and 3
#   BENCH_TOTAL_SERVERS=10000 BENCH_P3_CONCURRENCY=4 phase 3 boots the rest up to this total
#   BENCH_LIST_LIMIT=1000 BENCH_WALKS=5              page size and full walks of the detail listing
#   BENCH_FLAVOR=42                                  flavorRef (m1.nano)
#   BENCH_IMAGE_KIB=64                               size of the image uploaded (random bytes)
#   BENCH_CIDR=10.10.0.0/16                          the subnet (room for BENCH_TOTAL_SERVERS ports)
#   BENCH_SERVE_ARGS="--fake-hosts 2"                further arguments for `martlet serve`
#   BENCH_PROBE_PATH=/compute                        must answer 200 once the server is up
#   BENCH_MICROVERSION                               send X-OpenStack-Nova-API-Version (default: none, i.e. 2.1)
#   BENCH_ACTIVE_TIMEOUT=600                         seconds after a phase's last POST to wait for ACTIVE
#   BENCH_POLL_INTERVAL=0.05                         seconds between two "any server in BUILD?" probes while waiting
#   BENCH_RSS_INTERVAL=0.5                           RSS timeline sampling period, seconds
#   BENCH_IDLE_WAIT=2                                seconds between the set-up and the idle RSS reading
#   BENCH_BCRYPT_COST=4                              martlet --bcrypt-cost
#   BENCH_SKIP_BUILD=1                               do not build; use the existing binary
#   BENCH_BUILD_DIR=.build-static                    SwiftPM scratch path (relative to the repo root or absolute);
#                                                    the binary is BENCH_BUILD_DIR/release/martlet
#   BENCH_MARTLET_BIN=PATH                           use this binary (implies no build)
#   BENCH_PORT                                       loopback port (default: a free random port)
#   BENCH_ADMIN_PASSWORD                             (default bench-admin-pw)
#   BENCH_TMPDIR=/tmp                                where the data dir goes
#   BENCH_OUT=DIR                                    results directory (default: a new mktemp -d under /tmp)
#   BENCH_KEEP_DATA=1                                keep martlet's temporary data dir
#
# Exit status: 0 the run completed (whether or not the targets are met);
# 1 setup failure; 2 completed, but something was flagged (failed POSTs, a
# server in ERROR, servers that never turned ACTIVE, a walk that does not list
# every server exactly once, a measurement missing, ...).
set -euo pipefail
export LC_ALL=C

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
LIB=$REPO/bench/lib
. "$LIB/common.sh"

P1=${BENCH_P1_SERVERS:-2000}
P1_CONC=${BENCH_P1_CONCURRENCY:-16}
P2=${BENCH_P2_SERVERS:-2000}
P2_CONC=${BENCH_P2_CONCURRENCY:-4}
PER_REQ=${BENCH_PER_REQUEST:-100}
TOTAL=${BENCH_TOTAL_SERVERS:-10000}
P3_CONC=${BENCH_P3_CONCURRENCY:-4}
LIMIT=${BENCH_LIST_LIMIT:-1000}
WALKS=${BENCH_WALKS:-5}
FLAVOR=${BENCH_FLAVOR:-42}
IMAGE_KIB=${BENCH_IMAGE_KIB:-64}
CIDR=${BENCH_CIDR:-10.10.0.0/16}
SERVE_ARGS=${BENCH_SERVE_ARGS-"--fake-hosts 2"}   # set but empty: no extra arguments
PROBE_PATH=${BENCH_PROBE_PATH:-/compute}
MICROVERSION=${BENCH_MICROVERSION:-}
ACTIVE_TIMEOUT=${BENCH_ACTIVE_TIMEOUT:-600}
POLL_INTERVAL=${BENCH_POLL_INTERVAL:-0.05}
RSS_INTERVAL=${BENCH_RSS_INTERVAL:-0.5}
IDLE_WAIT=${BENCH_IDLE_WAIT:-2}
martlet_settings

# targets of the issue
T_BOOT_PER_S=200          # servers/s from the first POST to the last ACTIVE (phases 1 and 2)
T_PAGE_P99_MS=150         # GET /servers/detail?limit=1000 with 10,000 servers: p99 per page < 150 ms

FLAGS=()                       # problems to repeat at the end

for v in P1 P1_CONC P2 P2_CONC PER_REQ TOTAL P3_CONC LIMIT WALKS IMAGE_KIB ACTIVE_TIMEOUT IDLE_WAIT COST; do
  [[ "${!v}" =~ ^[0-9]+$ ]] || die "$v must be a whole number, got '${!v}'"
done
for v in POLL_INTERVAL RSS_INTERVAL; do
  [[ "${!v}" =~ ^[0-9]*\.?[0-9]+$ ]] || die "$v must be a number of seconds, got '${!v}'"
done
[ "$P1_CONC" -ge 1 ] && [ "$P2_CONC" -ge 1 ] && [ "$P3_CONC" -ge 1 ] && [ "$PER_REQ" -ge 1 ] && [ "$LIMIT" -ge 1 ] \
  && [ "$WALKS" -ge 1 ] && [ "$IMAGE_KIB" -ge 1 ] && [ "$ACTIVE_TIMEOUT" -ge 1 ] \
  || die "the concurrencies, BENCH_PER_REQUEST, BENCH_LIST_LIMIT, BENCH_WALKS, BENCH_IMAGE_KIB and BENCH_ACTIVE_TIMEOUT must be >= 1"
P3=$(( TOTAL - P1 - P2 )); [ "$P3" -ge 0 ] || P3=0
TOTAL=$(( P1 + P2 + P3 ))          # what exists after phase 3 (more than asked when P1 + P2 exceed it)
[ "$TOTAL" -ge 1 ] || die "nothing to boot: BENCH_P1_SERVERS, BENCH_P2_SERVERS and BENCH_TOTAL_SERVERS are all 0"
read -r -a SERVE_ARGV <<< "$SERVE_ARGS"

# ---- results: key/type/value lines, turned into nested JSON at the end -----
bench_dirs compute

# ---- small helpers ---------------------------------------------------------
# jput FILE PREFIX KEY...: puts each .KEY of FILE's JSON as PREFIX.KEY (a number; empty when absent);
# jput_s likewise as a string (other JSON values compact)
jput() {
  local file=$1 p=$2 k; shift 2
  for k in "$@"; do put "$p.$k" "$(jq -r ".$k // empty" "$file" 2>/dev/null || true)"; done
}
jput_s() {
  local file=$1 p=$2 k; shift 2
  for k in "$@"; do
    put_s "$p.$k" "$(jq -r --arg k "$k" '.[$k] // empty | if type == "string" then . else tojson end' "$file" 2>/dev/null || true)"
  done
}
fd() { local x; x=$(fmt "$@"); printf '%s' "${x:--}"; }     # fmt, "-" when there is no figure
trio() { printf '%s / %s / %s' "$(fd "$1" "${4:-1}")" "$(fd "$2" "${4:-1}")" "$(fd "$3" "${4:-1}")"; }

# ---- cleanup ---------------------------------------------------------------
MPID=""; MDATA=""; SAMPLER=""
on_exit martlet_cleanup

# ---- tools -----------------------------------------------------------------
need_tools curl:curl jq:jq ps:procps python3:python3

record_host
put params.p1_servers "$P1"
put params.p1_concurrency "$P1_CONC"
put params.p2_servers "$P2"
put params.p2_concurrency "$P2_CONC"
put params.per_request "$PER_REQ"
put params.p3_servers "$P3"
put params.p3_concurrency "$P3_CONC"
put params.total_servers "$TOTAL"
put params.list_limit "$LIMIT"
put params.walks "$WALKS"
put_s params.flavor "$FLAVOR"
put params.image_kib "$IMAGE_KIB"
put_s params.cidr "$CIDR"
put_s params.serve_args "$SERVE_ARGS"
put_s params.microversion "${MICROVERSION:-none (2.1)}"
put params.poll_interval_s "$POLL_INTERVAL"
put params.active_timeout_s "$ACTIVE_TIMEOUT"
put params.rss_interval_s "$RSS_INTERVAL"
put_s params.python "$(python3 -c 'import sys; print(sys.version.split()[0])')"
put_s results_dir "$OUT"

# ---- the binary ----------------------------------------------------------------
martlet_binary
MDATA=$(mktemp -d "$TMPBASE/martlet-bench-data.XXXXXX")

# ---- martlet -----------------------------------------------------------------
martlet_port
NOVA=$BASE/compute/v2.1
# api's requests name the microversion, when one is set
[ -z "$MICROVERSION" ] || API_HEADERS=(-H "X-OpenStack-Nova-API-Version: $MICROVERSION" -H "OpenStack-API-Version: compute $MICROVERSION")

# ---- 1. set-up: quotas, flavor, network, image ----------------------------------------
setup() {
  local code
  # compute quotas unlimited, read back
  code=$(api PUT "$NOVA/os-quota-sets/$PROJECT" quota-set '{"quota_set": {"instances": -1, "cores": -1, "ram": -1}}')
  [ "$code" = 200 ] || die "PUT /compute/v2.1/os-quota-sets/$PROJECT answered $code ($(body_of quota-set))"
  code=$(api GET "$NOVA/os-quota-sets/$PROJECT" quota-set-get)
  [ "$code" = 200 ] || die "GET /compute/v2.1/os-quota-sets/$PROJECT answered $code ($(body_of quota-set-get))"
  put_s setup.compute_quota "$(jq -c '.quota_set | {instances, cores, ram}' "$OUT/quota-set-get.json")"
  [ "$(jq -r '[.quota_set.instances, .quota_set.cores, .quota_set.ram] | map(tostring) | join(",")' "$OUT/quota-set-get.json")" = "-1,-1,-1" ] \
    || flag "compute quotas read ${R[setup.compute_quota]} after setting them to -1"

  # the flavor
  code=$(api GET "$NOVA/flavors/$FLAVOR" flavor)
  [ "$code" = 200 ] || die "flavor $FLAVOR: GET /compute/v2.1/flavors/$FLAVOR answered $code ($(body_of flavor)); set BENCH_FLAVOR"
  put_s setup.flavor "$(jq -r '.flavor | "\(.name) (id \(.id)): \(.vcpus) vCPU, \(.ram) MB RAM, \(.disk) GB disk"' "$OUT/flavor.json")"

  # network, subnet, unlimited ports
  bench_network port-quota

  # the image: created, uploaded, active
  code=$(api POST "$BASE/image/v2/images" image \
         '{"name": "bench-image", "disk_format": "raw", "container_format": "bare"}')
  IMAGE=$(jq -r '.id // empty' "$OUT/image.json" 2>/dev/null || true)
  [ "$code" = 201 ] && [ -n "$IMAGE" ] || die "image create answered $code ($(body_of image))"
  code=$(head -c $(( IMAGE_KIB * 1024 )) /dev/urandom | curl -s -o "$OUT/image-upload.json" -w '%{http_code}' -X PUT \
         -H "X-Auth-Token: $TOK" -H 'Content-Type: application/octet-stream' -H 'Expect:' --data-binary @- \
         "$BASE/image/v2/images/$IMAGE/file" || echo 000)
  [ "$code" = 204 ] || die "image upload answered $code ($(body_of image-upload))"
  code=$(api GET "$BASE/image/v2/images/$IMAGE" image-get)
  put_s setup.image_status "$(jq -r '.status // empty' "$OUT/image-get.json" 2>/dev/null || true)"
  [ "$code" = 200 ] && [ "${R[setup.image_status]}" = active ] || die "image $IMAGE is '${R[setup.image_status]}' after the upload ($code)"
  put_s setup.image_id "$IMAGE"
  put_s setup.network_id "$NETID"
  log "project $PROJECT: compute quotas ${R[setup.compute_quota]}, port quota ${R[setup.port_quota]}; flavor ${R[setup.flavor]};"
  log "network $NETID, subnet $CIDR (pools ${R[setup.subnet_pools]}); image $IMAGE ($IMAGE_KIB KiB, active)"
}

# ---- 2. boot phases ---------------------------------------------------------------------
STOPPED=""          # the phase that failed: the later ones are skipped

# boot_phase NAME SERVERS PER_REQUEST CONCURRENCY: one server-fill.py boot, its figures as NAME.*
boot_phase() {
  local name=$1 n=$2 per=$3 conc=$4 c0 c1 t0 t1 f=$OUT/$1.json rc=0
  put "$name.servers" "$n"
  if [ -n "$STOPPED" ]; then log "$name skipped ($STOPPED failed)"; return 0; fi
  [ "$n" -gt 0 ] || return 0
  get_token                  # a fresh token per phase: a slow run must not outlive one
  load_busy "$name"
  local how="singly"; [ "$per" -gt 1 ] && how="in requests of $per"
  log "$name: booting $n servers $how at concurrency $conc, then waiting for ACTIVE"
  hwm_reset || true
  c0=$(cpu_ticks); t0=$EPOCHREALTIME
  python3 "$LIB/server-fill.py" boot --url "$NOVA" --token "$TOK" --image "$IMAGE" --flavor "$FLAVOR" \
      --network "$NETID" --servers "$n" --per-request "$per" --concurrency "$conc" --prefix "bench-$name" \
      --limit "$LIMIT" --timeout "$ACTIVE_TIMEOUT" --poll-interval "$POLL_INTERVAL" \
      ${MICROVERSION:+--microversion "$MICROVERSION"} > "$f" 2> "$OUT/$name.err" || rc=$?
  c1=$(cpu_ticks); t1=$EPOCHREALTIME
  put "$name.exit" "$rc"
  put "$name.server_cpu_cores" "$(cores "$c0" "$c1" "$t0" "$t1")"
  put "rss.after_${name}_kib" "$(rss_kib "$MPID")"
  put "rss.peak_${name}_kib" "$(hwm_kib)"
  if ! jq -e 'has("outcome")' "$f" > /dev/null 2>&1; then
    flag "$name: server-fill.py failed (exit $rc): $(head -c 400 "$f" | tr '\n' ' ') $(tail -c 400 "$OUT/$name.err" | tr '\n' ' ')"
    STOPPED=$name
    return 0
  fi
  jput "$f" "$name" requests accepted errors servers_expected servers_listed ids_in_answers ids_not_listed posts_s posts_per_s \
       post_p50_ms post_p90_ms post_p99_ms post_max_ms post_mean_ms active_s active_s_lower per_s launched_s launched_per_s \
       polls probes last_walk_ms max_walk_ms post_reconnects poll_reconnects client_cpu_s
  jput_s "$f" "$name" outcome statuses errors_by_status first_errors error_faults name_filter_used build_probe_used
  put "$name.client_cpu_cores" "$(awk -v c="$(v "$name.client_cpu_s")" -v a="$t0" -v b="$t1" 'BEGIN { if (c != "" && b > a) printf "%.2f", c / (b - a) }')"
  log "$name: ${R[$name.accepted]}/${R[$name.requests]} POSTs accepted in ${R[$name.posts_s]} s (p50 ${R[$name.post_p50_ms]} ms, p99 ${R[$name.post_p99_ms]} ms);" \
      "outcome ${R[$name.outcome]}: ${R[$name.statuses]} after ${R[$name.probes]} probes and ${R[$name.polls]} walks; ${R[$name.active_s]:-?} s to all ACTIVE = ${R[$name.per_s]:-?} servers/s;" \
      "server ${R[$name.server_cpu_cores]} cores, client ${R[$name.client_cpu_cores]}"
  local bad=""
  [ "${R[$name.errors]:-1}" = 0 ] || bad+="${R[$name.errors]} of ${R[$name.requests]} POSTs failed (${R[$name.errors_by_status]}: ${R[$name.first_errors]}); "
  case "${R[$name.outcome]}" in
    active) ;;
    error) bad+="servers went to ERROR (${R[$name.statuses]}; faults: ${R[$name.error_faults]}); " ;;
    other) bad+="servers left BUILD in another status than ACTIVE (${R[$name.statuses]}); " ;;
    *) bad+="not all ACTIVE ${ACTIVE_TIMEOUT} s after the last POST (${R[$name.statuses]}, ${R[$name.servers_listed]} of ${R[$name.servers_expected]} listed); " ;;
  esac
  [ "${R[$name.servers_listed]:-0}" = "$n" ] || bad+="${R[$name.servers_listed]:-0} servers listed, $n asked for; "
  [ "${R[$name.ids_not_listed]:-0}" = 0 ] || bad+="${R[$name.ids_not_listed]} ids from the POST answers never listed; "
  if [ -n "$bad" ]; then
    flag "$name FAILED: ${bad%; }"
    log "$name FAILED: the remaining phases are skipped"
    STOPPED=$name
  fi
}

# every server has its port on the network, each with its own fixed IP
verify_ports() {
  local code
  [ -z "$STOPPED" ] || return 0
  code=$(curl -s -o "$OUT/ports-all.json" -w '%{http_code}' -H "X-Auth-Token: $TOK" "$BASE/network/v2.0/ports?network_id=$NETID" || echo 000)
  put ports.status "$code"
  [ "$code" = 200 ] || { flag "GET /network/v2.0/ports?network_id=... answered $code ($(head -c 300 "$OUT/ports-all.json"))"; return 0; }
  jq --arg n "$NETID" '[.ports[] | select(.network_id == $n and ((.device_owner // "") | startswith("compute:")))]
      | {ports: length, devices: (map(.device_id) | unique | length), fixed_ips: (map(.fixed_ips[]?.ip_address) | length),
         distinct_ips: (map(.fixed_ips[]?.ip_address) | unique | length), active: (map(select(.status == "ACTIVE")) | length)}' \
     "$OUT/ports-all.json" > "$OUT/ports-check.json" 2>/dev/null || { flag "the port listing is not the JSON expected"; return 0; }
  jput "$OUT/ports-check.json" ports ports devices fixed_ips distinct_ips active
  rm -f "$OUT/ports-all.json"           # ~9 MB; the counts are kept
  log "ports: ${R[ports.ports]} compute ports on the network for ${R[ports.devices]} servers, ${R[ports.distinct_ips]} distinct fixed IPs of ${R[ports.fixed_ips]}, ${R[ports.active]} ACTIVE"
  [ "${R[ports.devices]}" = "$TOTAL" ] && [ "${R[ports.ports]}" = "$TOTAL" ] && [ "${R[ports.distinct_ips]}" = "$TOTAL" ] \
    && [ "${R[ports.fixed_ips]}" = "$TOTAL" ] \
    || flag "ports: ${R[ports.ports]} compute ports, ${R[ports.devices]} devices, ${R[ports.distinct_ips]}/${R[ports.fixed_ips]} distinct fixed IPs for $TOTAL servers"
}

# ---- 3. the detail listing, walked page by page ---------------------------------------------
bench_walk() {
  local c0 c1 t0 t1 f=$OUT/walk.json rc=0
  if [ -n "$STOPPED" ]; then log "walk skipped ($STOPPED failed)"; return 0; fi
  get_token
  load_busy walk
  log "walk: $WALKS x GET /compute/v2.1/servers/detail?limit=$LIMIT&marker=... over $TOTAL servers, one request at a time"
  hwm_reset || true
  c0=$(cpu_ticks); t0=$EPOCHREALTIME
  python3 "$LIB/server-fill.py" walk --url "$NOVA" --token "$TOK" --limit "$LIMIT" --repeats "$WALKS" --expect "$TOTAL" \
      ${MICROVERSION:+--microversion "$MICROVERSION"} > "$f" 2> "$OUT/walk.err" || rc=$?
  c1=$(cpu_ticks); t1=$EPOCHREALTIME
  put walk.exit "$rc"
  put walk.server_cpu_cores "$(cores "$c0" "$c1" "$t0" "$t1")"
  put rss.peak_walk_kib "$(hwm_kib)"
  if ! jq -e 'has("page_n")' "$f" > /dev/null 2>&1; then
    flag "walk: server-fill.py failed (exit $rc): $(head -c 400 "$f" | tr '\n' ' ') $(tail -c 400 "$OUT/walk.err" | tr '\n' ' ')"
    return 0
  fi
  jput "$f" walk page_n page_p50_ms page_p90_ms page_p99_ms page_max_ms page_min_ms page_mean_ms \
       request_n request_p50_ms request_p99_ms request_max_ms ttfb_p50_ms walk_median_ms walk_max_ms walk_page_sum_median_ms \
       page_bytes_mean full_pages_without_next reconnects client_cpu_s
  jput_s "$f" walk walk_ms walk_page_sum_ms servers_per_walk distinct_ids_per_walk requests_per_walk last_page_has_next problems
  log "walk: ${R[walk.page_n]} full pages: p50 ${R[walk.page_p50_ms]} ms, p99 ${R[walk.page_p99_ms]} ms, max ${R[walk.page_max_ms]} ms;" \
      "walks ${R[walk.walk_ms]} ms; servers per walk ${R[walk.servers_per_walk]}; server ${R[walk.server_cpu_cores]} cores"
  [ "$(jq '.problems | length' "$f")" = 0 ] || flag "walk: $(jq -r '.problems | join("; ")' "$f" | head -c 400)"
  [ "${R[walk.full_pages_without_next]:-0}" = 0 ] || flag "walk: ${R[walk.full_pages_without_next]} full pages had no next link in servers_links though more servers followed"
  [ "${R[walk.page_n]:-0}" -gt 0 ] || flag "walk: no page held $LIMIT servers"
}

# ---- the run -------------------------------------------------------------------------
log "martlet: starting on a fresh data dir $MDATA, port $MPORT${SERVE_ARGS:+ (serve $SERVE_ARGS)}"
start_martlet "$PROBE_PATH" "${SERVE_ARGV[@]}"
get_token
setup
rss_sampler "$MPID" > "$OUT/rss-samples.txt" &
SAMPLER=$!
nap "$IDLE_WAIT"
put rss.idle_kib "$(rss_kib "$MPID")"
boot_phase p1 "$P1" 1 "$P1_CONC"
boot_phase p2 "$P2" "$PER_REQ" "$P2_CONC"
boot_phase p3 "$P3" "$PER_REQ" "$P3_CONC"
verify_ports
bench_walk
put rss.end_kib "$(rss_kib "$MPID")"
put_s rss.max_hwm_kib "$(awk '/^VmHWM:/ { print $2 }' "/proc/$MPID/status" 2>/dev/null || true)"
sampler_stop
put rss.samples "$(wc -l < "$OUT/rss-samples.txt")"
put rss.peak_sampled_kib "$(awk 'BEGIN { m = 0 } $2 > m { m = $2 } END { print m }' "$OUT/rss-samples.txt")"
martlet_stop
martlet_log_check

# ---- 4. report -------------------------------------------------------------------------
phase_rows() {  # phase_rows NAME TITLE [target]
  local p=$1
  if [ "$(v "$p.servers")" = 0 ]; then return 0; fi
  if [ -z "$(v "$p.outcome")" ]; then row "$2" "skipped" "" ""; return 0; fi
  row "$2" " " "" ""
  row "  first POST -> all ACTIVE (s) [1]" "$(fmt "$(v "$p.active_s")" 2)" "" ""
  if [ -n "${3:-}" ]; then
    row "  servers/s to ACTIVE" "$(fmt "$(v "$p.per_s")" 0)" ">= $T_BOOT_PER_S/s" "$(verdict "x >= $T_BOOT_PER_S" "$(v "$p.per_s")")"
  else
    row "  servers/s to ACTIVE" "$(fmt "$(v "$p.per_s")" 0)" "(no target)" ""
  fi
  row "  POST latency p50 / p99 / max (ms)" "$(trio "$(v "$p.post_p50_ms")" "$(v "$p.post_p99_ms")" "$(v "$p.post_max_ms")")"
  row "  all POSTs answered (s); ACTIVE lower bound (s) [1]" "$(fd "$(v "$p.posts_s")" 2); $(fd "$(v "$p.active_s_lower")" 2)"
  row "  by launched_at: last launch (s), servers/s [2]" "$(fd "$(v "$p.launched_s")" 2), $(fd "$(v "$p.launched_per_s")" 0)"
  row "  servers ACTIVE / failed POSTs / outcome" "$(jq -r '.ACTIVE // 0' <<< "$(v "$p.statuses")" 2>/dev/null) / $(v "$p.errors") / $(v "$p.outcome")" \
      "$(v "$p.servers") / 0" "$( [ "$(v "$p.outcome")" = active ] && [ "$(v "$p.errors")" = 0 ] && echo MET || echo "NOT MET")"
  row "  CPU: server / load client (cores, of $(v host.nproc))" "$(v "$p.server_cpu_cores") / $(v "$p.client_cpu_cores")"
}

phase_rows p1 "phase 1: $P1 servers booted singly, $P1_CONC connections" target
phase_rows p2 "phase 2: $P2 servers in $(( (P2 + PER_REQ - 1) / PER_REQ )) requests of $PER_REQ, $P2_CONC connections" target
phase_rows p3 "phase 3: $P3 more (to $TOTAL) in requests of $PER_REQ, $P3_CONC connections"
if [ -n "$(v ports.ports)" ]; then
  row "compute ports on the network / distinct fixed IPs" "$(v ports.ports) / $(v ports.distinct_ips)" "$TOTAL / $TOTAL" \
      "$( [ "$(v ports.ports)" = "$TOTAL" ] && [ "$(v ports.distinct_ips)" = "$TOTAL" ] && echo MET || echo "NOT MET")"
fi
if [ -n "$(v walk.page_n)" ]; then
  row "GET /servers/detail?limit=$LIMIT: $WALKS full walks of $TOTAL servers [3]" " " "" ""
  row "  page p50 (ms)" "$(fmt "$(v walk.page_p50_ms)" 1)"
  row "  page p99 (ms)" "$(fmt "$(v walk.page_p99_ms)" 1)" "< $T_PAGE_P99_MS ms" "$(verdict "x < $T_PAGE_P99_MS" "$(v walk.page_p99_ms)")"
  row "  page max (ms); pages timed" "$(fmt "$(v walk.page_max_ms)" 1); $(v walk.page_n)"
  row "  page time to first byte, p50 (ms); page size (MB)" "$(fmt "$(v walk.ttfb_p50_ms)" 1); $(awk -v b="$(v walk.page_bytes_mean)" 'BEGIN { if (b > 0) printf "%.2f", b / 1e6 }')"
  row "  full walk: median / max (ms) [5]" "$(fmt "$(v walk.walk_median_ms)" 0) / $(fmt "$(v walk.walk_max_ms)" 0)"
  row "  requests per walk; server CPU (cores)" "$(jq -r '.[0]' <<< "$(v walk.requests_per_walk)" 2>/dev/null); $(v walk.server_cpu_cores)"
else
  row "GET servers/detail?limit=$LIMIT, $WALKS walks" "skipped" "< $T_PAGE_P99_MS ms p99" "n/a"
fi
row "RSS: idle / after phase 1 / after phase 2 (MiB)" "$(mib "$(v rss.idle_kib)") / $(mib "$(v rss.after_p1_kib)") / $(mib "$(v rss.after_p2_kib)")"
row "  after phase 3 / end (MiB)" "$(mib "$(v rss.after_p3_kib)") / $(mib "$(v rss.end_kib)")"
row "  peak in phase 1 / 2 / 3 / the walks (MiB) [4]" "$(mib "$(v rss.peak_p1_kib)") / $(mib "$(v rss.peak_p2_kib)") / $(mib "$(v rss.peak_p3_kib)") / $(mib "$(v rss.peak_walk_kib)")"

{
  summary_head Compute
  echo "serve ${SERVE_ARGS:-(no extra arguments)}; flavor $(v setup.flavor); image ${IMAGE_KIB} KiB raw; network $CIDR; microversion $(v params.microversion); MB = 10^6 bytes"
  echo "1-min load average before: phase 1 $(v host.loadavg_before_p1), phase 2 $(v host.loadavg_before_p2), phase 3 $(v host.loadavg_before_p3), walks $(v host.loadavg_before_walk) (above ~0.7 something else was running)"
  echo
  print_rows 66 26 14
  echo "[1] bench/lib/server-fill.py POSTs over keep-alive connections, then probes GET /servers/detail?status=BUILD&limit=1 every"
  echo "    ${POLL_INTERVAL}s; when none is in BUILD, walks GET /servers/detail?limit=$LIMIT&name=<phase prefix> to check that every server"
  echo "    is ACTIVE.  The time to ACTIVE ends with that probe (an upper bound, used for the rate); the lower bound is the start of the"
  echo "    last probe that still found one in BUILD (or the last POST's answer).  Probes: $(v p1.probes), $(v p2.probes), $(v p3.probes) (phases 1-3);"
  echo "    a server that ignores the status filter is polled with full walks instead (build_probe_used false in the JSON)"
  echo "[2] the latest OS-SRV-USG:launched_at of the phase's servers minus the wall time of its first POST (the server's own clock)"
  echo "[3] one keep-alive connection, one request at a time, marker = the last id of the page before; a page's time is from the"
  echo "    send to its last byte; the p50/p99/max are over the pages holding $LIMIT servers; a walk's time includes the client's JSON"
  echo "    parsing between pages"
  echo "[4] VmHWM, reset (/proc/PID/clear_refs) at the start of each phase; the RSS timeline is in rss-samples.txt (peak $(mib "$(v rss.peak_sampled_kib)") MiB)"
  echo "[5] each walk (ms): $(jq -r 'map(. | round) | join(", ")' <<< "$(v walk.walk_ms)" 2>/dev/null); the sum of its page times alone, median: $(fmt "$(v walk.walk_page_sum_median_ms)" 0) ms"
  echo
  echo "Responses: phase 1 $(v p1.accepted)/$(v p1.requests) POSTs accepted, statuses $(v p1.statuses); phase 2 $(v p2.accepted)/$(v p2.requests), $(v p2.statuses);"
  echo "  phase 3 $(v p3.accepted)/$(v p3.requests), $(v p3.statuses); walks: servers per walk $(v walk.servers_per_walk);"
  echo "  server log: $(v log.lines) lines, $(v log.error_lines) matching error/critical/fatal/panic"
  if [ -n "$STOPPED" ]; then
    echo
    echo "STOPPED after $STOPPED: the later phases did not run."
  fi
  print_flags
} | tee "$OUT/summary.txt"

put_s targets.p1_boot_200_per_s "$(verdict "x >= $T_BOOT_PER_S" "$(v p1.per_s)")"
put_s targets.p2_boot_200_per_s "$(verdict "x >= $T_BOOT_PER_S" "$(v p2.per_s)")"
put_s targets.page_p99_under_150ms "$(verdict "x < $T_PAGE_P99_MS" "$(v walk.page_p99_ms)")"
write_results compute "server-fill output, the RSS timeline, server log and summary.txt"
