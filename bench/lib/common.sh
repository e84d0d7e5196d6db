# bench/lib/common.sh - helpers the benchmark scripts share (sourced, not run).

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
