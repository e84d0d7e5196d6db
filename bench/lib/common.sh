# bench/lib/common.sh - helpers the benchmark scripts share (sourced, not run).

# R holds the results by name, each also appended to $TSV (n: number, s: string);
# FLAGS collects the problems that make a run exit 2.
log() { printf '[bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
flag() { FLAGS+=("$*"); log "FLAG: $*"; }
put()   { R[$1]=$2; printf '%s\tn\t%s\n' "$1" "$2" >> "$TSV"; }   # number
put_s() { R[$1]=$2; printf '%s\ts\t%s\n' "$1" "$2" >> "$TSV"; }   # string
v() { printf '%s' "${R[$1]:-}"; }
fmt() { [ -n "$1" ] && awk -v x="$1" -v d="${2:-1}" 'BEGIN { printf "%.*f", d, x }'; return 0; }
mib() { [ -n "$1" ] && awk -v x="$1" 'BEGIN { printf "%.1f", x / 1024 }'; return 0; }
verdict() {  # verdict "cond-awk-expr" value
  [ -n "$2" ] || { echo "n/a"; return; }
  awk -v x="$2" "BEGIN { exit !($1) }" && echo "MET" || echo "NOT MET"
}
parse_wrk() {
  local f=$1 p=$2 k v
  while read -r k v; do
    [ -n "$v" ] && put "$p.$k" "$v"
  done < <(awk '
    function ms(s,  n, u) { n = s + 0; u = s; sub(/^[0-9.]+/, "", u)
      if (u == "us") return n / 1000; if (u == "ms") return n; if (u == "s") return n * 1000
      if (u == "m") return n * 60000; if (u == "h") return n * 3600000; return n }
    /^ +50%/ { print "p50_ms", ms($2) } /^ +75%/ { print "p75_ms", ms($2) }
    /^ +90%/ { print "p90_ms", ms($2) } /^ +99%/ { print "p99_ms", ms($2) }
    /^ +Latency +[0-9]/ { print "mean_ms", ms($2); print "max_ms", ms($4) }
    / requests in / { print "requests", $1 }
    /^Requests\/sec:/ { print "rps", $2 }
    /Socket errors:/ { gsub(",", ""); print "err_connect", $4; print "err_read", $6; print "err_write", $8; print "err_timeout", $10 }
    /Non-2xx or 3xx responses:/ { print "non2xx", $5 }' "$f")
  [ -n "${R[$p.non2xx]:-}" ] || put "$p.non2xx" 0
  for k in err_connect err_read err_write err_timeout; do [ -n "${R[$p.$k]:-}" ] || put "$p.$k" 0; done
}
load_busy() {  # warn when something else is eating the CPU before a measurement
  local la; la=$(cut -d' ' -f1 /proc/loadavg)
  put "host.loadavg_before_$1" "$la"
  local others; others=$(pgrep -fa 'swift-build|swift-frontend|swift-test|uwsgi|tempest|pytest|bin/openstack ' | head -3 || true)
  if [ -n "$others" ]; then log "WARNING: other heavy processes are running (figures will be noisy): $(echo "$others" | cut -c1-80 | tr '\n' ';')"; fi
  awk -v l="$la" 'BEGIN { exit !(l > 0.7) }' && log "WARNING: 1-min load average is $la before the $1 phase"
  return 0
}

exec {SLEEP_FD}<> <(:)          # a pipe nobody writes: read -t on it sleeps without forking
nap() { read -r -t "$1" -u "$SLEEP_FD" _ || true; }

# rss_kib PID...: summed resident set of the processes, in KiB
rss_kib() { local s=0 r; for p in "$@"; do r=$(ps -o rss= -p "$p" 2>/dev/null | tr -d ' '); s=$((s + ${r:-0})); done; echo "$s"; }

# free_port [AVOID]: a loopback port nobody listens on, below the ephemeral range
free_port() {
  local p
  for _ in $(seq 1 100); do
    p=$((20000 + RANDOM % 12000))
    [ "$p" != "${1:-}" ] || continue
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return 0; fi
  done
  return 1
}

# probe PORT PATH: true when GET PATH answers 200.  Pure bash (/dev/tcp), no
# fork, so the start-up poll has ~5 ms resolution (one curl process costs
# ~20 ms on this machine).  A request that connects waits (up to 30 s) for its
# answer, so a server that accepts before it can serve is timed correctly.
probe() {
  local status=""
  { exec 3<>"/dev/tcp/127.0.0.1/$1"; } 2>/dev/null || return 1
  printf 'GET %s HTTP/1.1\r\nHost: 127.0.0.1:%s\r\nConnection: close\r\n\r\n' "$2" "$1" >&3 2>/dev/null || { exec 3<&-; return 1; }
  IFS=' ' read -r -t 30 _ status _ <&3 || true
  exec 3<&-
  [ "$status" = 200 ]
}

# wait_200 PORT PATH TIMEOUT_S [PID]: poll every 5 ms; fails if PID dies or on timeout
wait_200() {
  local port=$1 path=$2 limit=$3 pid=${4:-} t0=$EPOCHREALTIME
  while :; do
    probe "$port" "$path" && return 0
    if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then probe "$port" "$path"; return; fi
    (( ${EPOCHREALTIME/./} - ${t0/./} > limit * 1000000 )) && return 1   # no fork in this loop
    nap 0.005
  done
}

# martlet_binary: sets BIN to the martlet under test — BENCH_MARTLET_BIN, else the static
# release build in $BUILD_DIR (built first unless BENCH_SKIP_BUILD=1) — and records what it is.
martlet_binary() {
  if [ -n "${BENCH_MARTLET_BIN:-}" ]; then
    BIN=$BENCH_MARTLET_BIN
  else
    BIN=$BUILD_DIR/release/martlet
    if [ "${BENCH_SKIP_BUILD:-0}" != 1 ]; then
      log "building: swift build -c release --static-swift-stdlib --product martlet --scratch-path $BUILD_DIR"
      local t0=$EPOCHREALTIME
      (cd "$REPO" && swift build -c release --static-swift-stdlib --product martlet --scratch-path "$BUILD_DIR") > "$OUT/build.log" 2>&1 \
        || { tail -n 30 "$OUT/build.log" >&2; die "release build failed (log $OUT/build.log)"; }
      put martlet.build_s "$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.0f", b - a }')"
    fi
  fi
  [ -x "$BIN" ] || die "no martlet binary at $BIN (build it, or set BENCH_BUILD_DIR / BENCH_MARTLET_BIN)"
  BIN=$(readlink -f "$BIN")
  put_s martlet.binary "$BIN"
  put martlet.binary_bytes "$(stat -c %s "$BIN")"
  put_s martlet.binary_mtime "$(date -u -r "$BIN" +%Y-%m-%dT%H:%M:%SZ)"
  put_s martlet.version "$("$BIN" version 2>/dev/null | head -n 1 || true)"
  put_s martlet.git "$(git -C "$REPO" describe --always --dirty 2>/dev/null || echo 'no commit')"
}

# need_tools CMD:PACKAGE...: installs (apt) the Debian packages of the commands that are missing
need_tools() {
  local t need=()
  for t in "$@"; do command -v "${t%%:*}" >/dev/null 2>&1 || need+=("${t#*:}"); done
  [ ${#need[@]} -gt 0 ] || return 0
  log "installing ${need[*]} (apt)"
  local SUDO=; [ "$(id -u)" = 0 ] || SUDO=sudo
  { $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null 2>&1 \
    || { $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null; }; } \
    || die "could not install ${need[*]}"
}

# MARTLET_* settings from the caller's environment would change what is measured: serve without them
MARTLET_ENV_UNSET=()
for e in $(compgen -e | grep '^MARTLET_' || true); do MARTLET_ENV_UNSET+=(-u "$e"); done

# start_martlet PROBE_PATH [SERVE-ARG...]: serves $BIN on $MPORT with $MDATA, $M_PW and $COST (log in
# $OUT/martlet.log) plus any further arguments for `martlet serve` (bench/compute.sh: --fake-hosts 2),
# sets MPID, and waits until Identity answers and PROBE_PATH (the service measured) does too
start_martlet() {
  env "${MARTLET_ENV_UNSET[@]}" "$BIN" serve --host 127.0.0.1 --port "$MPORT" --data-dir "$MDATA" \
    --admin-password "$M_PW" --bcrypt-cost "$COST" "${@:2}" >> "$OUT/martlet.log" 2>&1 &
  MPID=$!
  wait_200 "$MPORT" /identity/v3 120 "$MPID" \
    || { tail -n 30 "$OUT/martlet.log" >&2; die "martlet did not answer 200 on /identity/v3 (log $OUT/martlet.log)"; }
  probe "$MPORT" "$1" || die "martlet answers, but not on $1: is that service in this binary?"
}

# ms_since EPOCHREALTIME: milliseconds since then
ms_since() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", (b - a) * 1000 }'; }

# martlet_stop: SIGTERM to $MPID and wait (kill after 15 s); sets STOP_MS to the SIGTERM -> exit time
martlet_stop() {
  STOP_MS=""
  [ -n "${MPID:-}" ] || return 0
  local t0=$EPOCHREALTIME i
  kill -TERM "$MPID" 2>/dev/null || true
  # an exited child stays a zombie (and answers kill -0) until it is waited for
  for i in $(seq 1 1500); do
    kill -0 "$MPID" 2>/dev/null || break
    [[ "$(awk '{print $3}' "/proc/$MPID/stat" 2>/dev/null)" == Z ]] && break
    nap 0.01
  done
  if kill -0 "$MPID" 2>/dev/null; then
    kill -KILL "$MPID" 2>/dev/null || true
    flag "martlet did not exit within 15 s of SIGTERM (killed)"
  fi
  wait "$MPID" 2>/dev/null || true
  MPID=""
  STOP_MS=$(ms_since "$t0")
}

# write_results NAME WHAT: the results table ($TSV) as $OUT/NAME-<time>.json, and where to find it;
# exits 2 when something was flagged
write_results() {
  [ ${#FLAGS[@]} -eq 0 ] || put_s flags "$(printf '%s; ' "${FLAGS[@]}")"
  local json=$OUT/$1-$(date -u +%Y%m%dT%H%M%SZ).json
  jq -Rn '[inputs | split("\t") | {k: (.[0] | split(".")), t: .[1], v: (.[2:] | join("\t"))}]
          | reduce .[] as $x ({}; setpath($x.k; if $x.t == "n" then ($x.v | tonumber? // $x.v) else $x.v end))' \
     < "$TSV" > "$json"
  echo
  echo "results: $json  ($2 in $OUT)"
  [ ${#FLAGS[@]} -eq 0 ] || exit 2
}

# record_host: the date and the machine the figures were measured on
record_host() {
  put_s date "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
  put host.nproc "$(nproc)"
  put_s host.kernel "$(uname -r)"
  put_s host.cpu "$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)"
  put host.mem_mib "$(awk '/^MemTotal/ { printf "%d", $2 / 1024 }' /proc/meminfo)"
}

# sampler_stop: stops the background RSS sampler $SAMPLER, if one runs
sampler_stop() {
  [ -n "${SAMPLER:-}" ] || return 0
  kill -TERM "$SAMPLER" 2>/dev/null || true
  wait "$SAMPLER" 2>/dev/null || true
  SAMPLER=""
}

# ---- shared by compute.sh, network.sh and image.sh ------------------------------------------

# martlet_settings: COST, M_PW, TMPBASE and BUILD_DIR (made absolute: relative to the repository)
# from BENCH_BCRYPT_COST, BENCH_ADMIN_PASSWORD, BENCH_TMPDIR and BENCH_BUILD_DIR
martlet_settings() {
  COST=${BENCH_BCRYPT_COST:-4}
  M_PW=${BENCH_ADMIN_PASSWORD:-bench-admin-pw}
  TMPBASE=${BENCH_TMPDIR:-/tmp}
  BUILD_DIR=${BENCH_BUILD_DIR:-.build-static}
  case "$BUILD_DIR" in /*) ;; *) BUILD_DIR=$REPO/$BUILD_DIR ;; esac
}

# bench_dirs NAME: checks TMPBASE (made absolute) and sets up the results: OUT (BENCH_OUT, else a new
# /tmp/martlet-bench-NAME.XXXXXX), both outside the repository; an empty $TSV in it; R
bench_dirs() {
  [ -d "$TMPBASE" ] || die "BENCH_TMPDIR $TMPBASE is not a directory"
  TMPBASE=$(cd "$TMPBASE" && pwd)
  case "$TMPBASE/" in "$REPO"/*) die "BENCH_TMPDIR must be outside the repository" ;; esac
  OUT=${BENCH_OUT:-$(mktemp -d "/tmp/martlet-bench-$1.XXXXXX")}
  mkdir -p "$OUT"
  case "$(cd "$OUT" && pwd)/" in "$REPO"/*) die "BENCH_OUT must be outside the repository" ;; esac
  TSV=$OUT/results.tsv; : > "$TSV"
  declare -gA R=()
}

# on_exit FUNCTION: FUNCTION runs when the script exits, also on SIGINT (130) and SIGTERM (143)
on_exit() {
  # shellcheck disable=SC2064   # FUNCTION is named now, on purpose
  trap "$1" EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
}

# martlet_cleanup: stops the RSS sampler and martlet, removes $MDATA unless BENCH_KEEP_DATA=1
martlet_cleanup() {
  set +e
  sampler_stop
  [ -n "${MPID:-}" ] && martlet_stop
  if [ -n "${MDATA:-}" ]; then
    if [ "${BENCH_KEEP_DATA:-0}" = 1 ]; then log "martlet data dir kept: $MDATA"; else rm -rf "$MDATA"; fi
  fi
}

# martlet_port: MPORT (BENCH_PORT, else a free port) and BASE, recorded with the bcrypt cost
martlet_port() {
  MPORT=${BENCH_PORT:-$(free_port)} || die "no free port"
  BASE=http://127.0.0.1:$MPORT
  put martlet.port "$MPORT"
  put martlet.bcrypt_cost "$COST"
}

# the server's CPU (/proc/PID/stat) and memory (/proc/PID/statm, VmHWM)
CLK_TCK=$(getconf CLK_TCK)
PAGE_KIB=$(( $(getconf PAGESIZE) / 1024 ))
cpu_ticks() { sed 's/.*) //' "/proc/$MPID/stat" 2>/dev/null | awk '{ print $12 + $13 }'; }   # utime + stime
# cores TICKS0 TICKS1 T0 T1: the cores used between the two readings (EPOCHREALTIME)
cores() { awk -v a="$1" -v b="$2" -v t0="$3" -v t1="$4" -v hz="$CLK_TCK" 'BEGIN { if (t1 > t0) printf "%.2f", (b - a) / hz / (t1 - t0) }'; }
hwm_reset() { { echo 5 > "/proc/$MPID/clear_refs"; } 2>/dev/null; }
hwm_kib() { awk '/^VmHWM:/ { print $2 }' "/proc/$MPID/status" 2>/dev/null; }
# rss_sampler PID: the RSS timeline, "epoch-seconds KiB" lines every $RSS_INTERVAL s (no fork per sample)
rss_sampler() {
  local pid=$1 res
  trap 'exit 0' TERM
  while read -r _ res _ < "/proc/$pid/statm"; do
    printf '%s %s\n' "$EPOCHREALTIME" "$((res * PAGE_KIB))"
    nap "$RSS_INTERVAL"
  done 2>/dev/null
}

# get_token [--no-project]: an admin token scoped to the admin project as TOK (the answer in
# $OUT/token.json) and its project id as PROJECT, which must be there (not read with --no-project)
get_token() {
  local body code
  body=$(jq -cn --arg pw "$M_PW" '{auth: {identity: {methods: ["password"], password: {user: {name: "admin",
         domain: {name: "Default"}, password: $pw}}}, scope: {project: {name: "admin", domain: {name: "Default"}}}}}')
  code=$(curl -s -D "$OUT/token.headers" -o "$OUT/token.json" -w '%{http_code}' -X POST \
         -H 'Content-Type: application/json' --data-binary "$body" "$BASE/identity/v3/auth/tokens" || echo 000)
  TOK=$(awk 'tolower($1) == "x-subject-token:" { print $2 }' "$OUT/token.headers" | tr -d '\r')
  [ "$code" = 201 ] && [ -n "$TOK" ] || die "token issue answered $code ($(head -c 300 "$OUT/token.json" | tr '\n' ' '))"
  [ "${1:-}" != --no-project ] || return 0
  PROJECT=$(jq -r '.token.project.id // empty' "$OUT/token.json")
  [ -n "$PROJECT" ] || die "the token has no project scope ($(head -c 300 "$OUT/token.json"))"
}

# api METHOD URL NAME [BODY]: one JSON request with $TOK and the API_HEADERS (curl arguments);
# the answer in $OUT/NAME.json; echoes the status
API_HEADERS=()
api() {
  local method=$1 url=$2 name=$3 body=${4:-}
  local args=(-s -o "$OUT/$name.json" -w '%{http_code}' -X "$method" -H "X-Auth-Token: $TOK")
  [ -z "$body" ] || args+=(-H 'Content-Type: application/json' --data-binary "$body")
  args+=("${API_HEADERS[@]}")
  curl "${args[@]}" "$url" || echo 000
}
body_of() { head -c 300 "$OUT/$1.json" 2>/dev/null | tr '\n' ' '; }   # an answer of api, for a message

# bench_network QUOTA_NAME: the network bench-net (NETID) with an IPv4 subnet on $CIDR, and the port
# quota of $PROJECT set to unlimited (the answer in $OUT/QUOTA_NAME.json); setup.subnet_pools and
# setup.port_quota, flagged unless it reads -1
bench_network() {
  local code
  code=$(api POST "$BASE/network/v2.0/networks" network '{"network": {"name": "bench-net"}}')
  NETID=$(jq -r '.network.id // empty' "$OUT/network.json" 2>/dev/null || true)
  [ "$code" = 201 ] && [ -n "$NETID" ] || die "network create answered $code ($(body_of network))"
  code=$(api POST "$BASE/network/v2.0/subnets" subnet "$(jq -cn --arg n "$NETID" --arg c "$CIDR" \
         '{subnet: {name: "bench-subnet", network_id: $n, cidr: $c, ip_version: 4}}')")
  [ "$code" = 201 ] || die "subnet create answered $code ($(body_of subnet))"
  put_s setup.subnet_pools "$(jq -r '[.subnet.allocation_pools[] | .start + "-" + .end] | join(",")' "$OUT/subnet.json")"
  code=$(api PUT "$BASE/network/v2.0/quotas/$PROJECT" "$1" '{"quota": {"port": -1}}')
  [ "$code" = 200 ] || die "port quota update answered $code ($(body_of "$1"))"
  put setup.port_quota "$(jq -r '.quota.port' "$OUT/$1.json")"
  [ "${R[setup.port_quota]}" = -1 ] || flag "the port quota reads ${R[setup.port_quota]} after setting it to -1"
}

# martlet_log_check: martlet's log lines and those matching error/critical/fatal/panic as log.*;
# flags critical/fatal/panic lines
martlet_log_check() {
  put log.lines "$(wc -l < "$OUT/martlet.log")"
  put log.error_lines "$(grep -ciE 'error|critical|fatal|panic' "$OUT/martlet.log" || true)"
  if grep -qiE 'critical|fatal|panic' "$OUT/martlet.log"; then flag "martlet's log has critical/fatal lines (see $OUT/martlet.log)"; fi
}

# the report: row METRIC VALUE [TARGET] [MET?] adds a line to ROWS
ROWS=()
row() { ROWS+=("$1|${2:--}|${3:-}|${4:-}"); }

# summary_head TITLE: a blank line, then the date, the machine and the martlet measured
summary_head() {
  echo
  echo "$1 benchmark $(v date) - $(v host.nproc) cores ($(v host.cpu)), $(( $(v host.mem_mib) / 1024 )) GiB RAM"
  echo "martlet: $(v martlet.version) ($(v martlet.git)), $(v martlet.binary) (built $(v martlet.binary_mtime))"
}

# print_rows W1 W2 W3: ROWS as a table metric | value | target | met?, columns W1, W2 (right-aligned), W3 wide
print_rows() {
  local d1 d2 d3 r a b c d
  printf '%-*s | %*s | %-*s | %s\n' "$1" metric "$2" value "$3" target "met?"
  printf -v d1 '%*s' $(( $1 + 1 )) ''; printf -v d2 '%*s' $(( $2 + 2 )) ''; printf -v d3 '%*s' $(( $3 + 2 )) ''
  printf '%s+%s+%s+--------\n' "${d1// /-}" "${d2// /-}" "${d3// /-}"
  for r in "${ROWS[@]}"; do
    IFS='|' read -r a b c d <<< "$r"
    printf '%-*s | %*s | %-*s | %s\n' "$1" "$a" "$2" "$b" "$3" "$c" "$d"
  done
}

# print_flags: the FLAGS, if any, after a blank line
print_flags() {
  if [ ${#FLAGS[@]} -gt 0 ]; then
    echo
    echo "FLAGS:"
    printf '  - %s\n' "${FLAGS[@]}"
  fi
}
