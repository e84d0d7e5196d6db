#!/usr/bin/env bash
# bench/qemu.sh - Martlet's qemu hypervisor driver side by side with raw qemu,
# in one run, under TCG, with the test guest of scripts/build-guest-image.sh
# (prints "martlet-guest: ready" on its serial console once booted).
#
#   bash bench/qemu.sh [MARTLET_BINARY]
#
# The binary defaults to .build/release/martlet, else .build/debug/martlet (it
# must have the qemu driver).  Nothing is built.  Everything runs inside a
# network namespace made here (martlet-bench-PID, only its loopback up) and
# deleted on exit: Martlet, curl and the raw qemus all run under
# `ip netns exec`, so no packet of the run can leave it.  The script re-runs
# itself in the namespace for the measurements (one `ip netns exec`, so no
# poll pays for a namespace switch); the outer half owns the namespace and the
# clean-up: every process left in the namespace is killed by its pid, the work
# folder (data dir, overlays) and the driver's socket folder are removed.
#
# Measured (the medians of BENCH_REPS runs where cheap; samples in the JSON):
#   1. create -> qemu process: POST /compute/v2.1/servers until a qemu-system
#      process whose command line names the instance folder shows in /proc
#      (scanned every 10 ms), with the image already cached (one server booted
#      and deleted first), against `qemu-img create` overlay + `qemu-system
#      -daemonize` run by hand until its process shows.  Also until the pid
#      file names a live process (qemu has set the machine up and daemonized),
#      and the first boot's figures with a cold image cache (fresh data dir);
#   2. create -> guest ready: until "martlet-guest: ready" is in console.log;
#   3. 10 at once: one POST with min_count = max_count = 10 against 10 raw
#      qemus started together, until all 10 are ready; then Martlet's RSS with
#      the 10 guests against its RSS with none (after start-up and the image
#      upload), and the processes whose parent is Martlet (there should be
#      none: qemu daemonizes, no helper stays per guest);
#   4. snapshot: createImage -> image active, its size / time (MB/s), against
#      `qemu-img convert -U -O qcow2` of the server's disk.qcow2 alone.
# Martlet serves with --compute-driver qemu --qemu-accelerator tcg --s3-port 0
# --bcrypt-cost 4 and a martlet.toml in its fresh data dir that raises
# cpu_allocation_ratio to BENCH_GROUP (with the default 4, a 2-core host takes
# only 8 one-vCPU servers: the 9th and 10th fail with "No valid host").  The
# raw side runs the flags of Martlet's command that matter for a boot (same
# machine, memory, vCPUs, disk size and rng device), without QMP, VNC and VGA.
# Results (JSON, summary.txt, martlet's log, the two qemu command lines) go to
# a new /tmp/martlet-bench-qemu.* folder printed at the end.
#
# Environment (all optional):
#   BENCH_REPS=3               warm single boots (each side) and snapshots
#   BENCH_GROUP=10             servers booted at once (phase 3)
#   BENCH_FLAVOR=42            flavorRef (m1.nano: 192 MB, 1 vCPU, 1 GB disk)
#   BENCH_QEMU_ACCEL=tcg       martlet --qemu-accelerator; the raw side uses the same
#   BENCH_BOOT_TIMEOUT=180     seconds for one guest to be ready
#   BENCH_GROUP_TIMEOUT=420    seconds for the group to be ready
#   BENCH_READY_POLL=0.05      seconds between two looks at the serial logs
#   BENCH_IDLE_WAIT=2          seconds of quiet before the zero-guest RSS reading
#   BENCH_BCRYPT_COST=4 BENCH_PORT BENCH_ADMIN_PASSWORD BENCH_TMPDIR=/tmp BENCH_OUT
#
# Exit status: 0 the run completed (targets met or not); 1 a setup failure or a
# boot that failed (its fault is printed); 2 completed, but something was flagged.
set -euo pipefail
export LC_ALL=C

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SELF=$REPO/bench/qemu.sh
. "$REPO/bench/lib/common.sh"

REPS=${BENCH_REPS:-3}
GROUP=${BENCH_GROUP:-10}
FLAVOR=${BENCH_FLAVOR:-42}
ACCEL=${BENCH_QEMU_ACCEL:-tcg}
BOOT_TIMEOUT=${BENCH_BOOT_TIMEOUT:-180}
GROUP_TIMEOUT=${BENCH_GROUP_TIMEOUT:-420}
READY_POLL=${BENCH_READY_POLL:-0.05}
IDLE_WAIT=${BENCH_IDLE_WAIT:-2}
READY_LINE="martlet-guest: ready"
martlet_settings
for v in REPS GROUP BOOT_TIMEOUT GROUP_TIMEOUT IDLE_WAIT COST; do
  [[ "${!v}" =~ ^[0-9]+$ ]] || die "$v must be a whole number, got '${!v}'"
done
[ "$REPS" -ge 1 ] && [ "$GROUP" -ge 2 ] || die "BENCH_REPS must be >= 1 and BENCH_GROUP >= 2"
[[ "$READY_POLL" =~ ^[0-9]*\.?[0-9]+$ ]] || die "BENCH_READY_POLL must be a number of seconds"
READY_POLL_US=$(awk -v s="$READY_POLL" 'BEGIN { printf "%d", s * 1000000 }')

# ---- shared by both halves --------------------------------------------------------------
# qemu_scan FRAGMENT: QPIDS = the qemu-system processes whose command line holds FRAGMENT, and
# QCMD[pid] their command lines.  Builtins only (~2 ms for 100 processes): it runs every 10 ms.
declare -A QCMD=()
qemu_scan() {
  local f a args p
  QPIDS=(); QCMD=()
  for f in /proc/[0-9]*/cmdline; do
    { IFS= read -r -d '' a < "$f"; } 2>/dev/null || continue
    [[ $a == *qemu-system* ]] || continue
    { mapfile -d '' args < "$f"; } 2>/dev/null || continue
    [[ "${args[*]}" == *"$1"* ]] || continue
    p=${f#/proc/}; p=${p%/cmdline}
    QPIDS+=("$p"); QCMD[$p]=${args[*]}
  done
}

# alive PID: the process runs (a zombie does not: in a trap bash holds SIGCHLD, so its children
# stay unreaped zombies there, and kill -0 still reaches them)
alive() {
  local line
  { read -r line < "/proc/$1/stat"; } 2>/dev/null || return 1
  line=${line##*) }
  [ "${line:0:1}" != Z ]
}

# kill_pids PID...: SIGTERM, then SIGKILL to those still running after 5 s (by pid only)
kill_pids() {
  local p i up
  [ $# -gt 0 ] || return 0
  for p in "$@"; do kill -TERM "$p" 2>/dev/null || true; done
  for i in $(seq 1 100); do
    up=0; for p in "$@"; do alive "$p" && { up=1; break; }; done
    [ "$up" = 1 ] || return 0
    nap 0.05
  done
  for p in "$@"; do kill -KILL "$p" 2>/dev/null || true; done
}

# =============================================================================================
# Outer half: tools, guest image, namespace; runs the inner half in it and cleans up after it.
# =============================================================================================
if [ "${BENCH_QEMU_INNER:-0}" != 1 ]; then
  [ "$(id -u)" = 0 ] || die "needs root: it makes a network namespace (ip netns add)"
  need_tools curl:curl jq:jq ps:procps ip:iproute2 qemu-img:qemu-utils qemu-system-x86_64:qemu-system-x86
  if [ -n "${1:-}" ]; then BIN=$1
  elif [ -x "$REPO/.build/release/martlet" ]; then BIN=$REPO/.build/release/martlet
  else BIN=$REPO/.build/debug/martlet; fi
  [ -x "$BIN" ] || die "no martlet binary at $BIN (give its path as the argument)"
  BIN=$(readlink -f "$BIN")

  bench_dirs qemu
  log "guest image: bash scripts/build-guest-image.sh (cached after the first build)"
  IMAGE=$(bash "$REPO/scripts/build-guest-image.sh" 2> "$OUT/guest-image.log" | tail -n 1) \
    || { tail -n 20 "$OUT/guest-image.log" >&2; die "scripts/build-guest-image.sh failed"; }
  [ -f "$IMAGE" ] || die "scripts/build-guest-image.sh printed no image path"
  # the data dir, the overlays and the snapshots; removed on exit.  (Not named martlet-qemu-*:
  # scripts/test-qemu.sh's clean-up kills the qemus whose command line holds that.)
  WORK=$(mktemp -d "$TMPBASE/martlet-bench-qemu-work.XXXXXX")
  NS=martlet-bench-$$
  INNER=""

  outer_cleanup() {
    set +e
    local pids=() left tag
    if [ -n "$INNER" ] && alive "$INNER"; then   # interrupted: the inner half stops martlet first
      kill -TERM "$INNER" 2>/dev/null
      for _ in $(seq 1 400); do alive "$INNER" || break; nap 0.05; done
    fi
    # whatever still runs in the namespace was started by this run; a qemu outside it cannot
    # be ours, but one naming the work folder is looked for too
    mapfile -t pids < <(ip netns pids "$NS" 2>/dev/null)
    qemu_scan "$WORK/"
    pids+=("${QPIDS[@]}")
    if [ ${#pids[@]} -gt 0 ]; then
      log "clean-up: stopping ${#pids[@]} process(es) left by the run: $(for p in "${pids[@]}"; do ps -o comm= -p "$p"; done | sort | uniq -c | tr -s ' \n' ' ')"
      kill_pids "${pids[@]}"
    fi
    ip netns delete "$NS" 2>/dev/null
    qemu_scan "$WORK/"; left=${#QPIDS[@]}
    [ "$left" = 0 ] || log "WARNING: $left qemu process(es) of the run are still there: ${QPIDS[*]}"
    # the driver's sockets folder: /run/martlet/<first 6 bytes of sha256(data dir)>
    tag=$(printf '%s' "$WORK/data" | sha256sum | cut -c1-12)
    [ -d "/run/martlet/$tag" ] && rm -rf "/run/martlet/$tag"
    rm -rf "$WORK"
  }
  on_exit outer_cleanup
  ip netns add "$NS" || die "ip netns add $NS failed"
  ip -n "$NS" link set lo up
  log "namespace $NS (loopback only); work folder $WORK; results $OUT"
  ip netns exec "$NS" env BENCH_QEMU_INNER=1 BENCH_QEMU_WORK="$WORK" BENCH_QEMU_IMAGE="$IMAGE" BENCH_QEMU_NS="$NS" \
    BENCH_OUT="$OUT" bash "$SELF" "$BIN" &
  INNER=$!
  rc=0; wait "$INNER" || rc=$?
  INNER=""
  exit "$rc"
fi

# =============================================================================================
# Inner half: runs in the namespace.
# =============================================================================================
BIN=$1
WORK=$BENCH_QEMU_WORK
IMAGE=$BENCH_QEMU_IMAGE
NS=$BENCH_QEMU_NS
MDATA=$WORK/data          # martlet's data dir
RAW=$WORK/raw             # the raw qemus' folders
mkdir -p "$RAW"
bench_dirs qemu
FLAGS=()
MPID=""

inner_cleanup() {
  set +e
  # not martlet_stop: run from a trap, it would wait its 15 s on martlet's zombie (see alive)
  [ -z "${MPID:-}" ] || kill_pids "$MPID"
  qemu_scan "$WORK/"
  kill_pids "${QPIDS[@]}"
}
on_exit inner_cleanup

# ---- figures ------------------------------------------------------------------------------
# S[name] holds a space-separated list of samples; median of them
declare -A S=()
sample() { S[$1]="${S[$1]:-}${S[$1]:+ }$2"; }
median() { tr ' ' '\n' <<< "${S[$1]:-}" | sort -g | awk 'NF { a[++n] = $1 } END { if (n) print (n % 2) ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2 }'; }
us_ms() { awk -v u="$1" 'BEGIN { printf "%.1f", u / 1000 }'; }
us_s() { awk -v u="$1" 'BEGIN { printf "%.2f", u / 1000000 }'; }
ratio() { [ -n "$1" ] && [ -n "$2" ] && awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b }'; return 0; }

# other qemus on the host (not this run's), sampled during the boots: another run's guests
# compete for the 2 cores and make the figures noisy.  Their CPU time (utime + stime, clock
# ticks) is kept per pid, first and last sample: OTHER_CPU_S = what they used between the two.
# Other heavy programs (a build, a test run) are looked for too: BUSY_SEEN samples found one.
OTHER_MAX=0; OTHER_SEEN=0; OTHER_SAMPLES=0; BUSY_SEEN=0
declare -A OTHER_T0=() OTHER_T1=() BUSY=()
others() {
  local n p line f busy
  busy=$(pgrep -f 'swift-build|swift-frontend|swift-test|pytest|tempest' -l 2>/dev/null | awk '{ print $2 }' | sort -u | tr '\n' ' ' || true)
  if [ -n "$busy" ]; then BUSY_SEEN=$((BUSY_SEEN + 1)); for p in $busy; do BUSY[$p]=1; done; fi
  qemu_scan qemu; n=0
  for p in "${QPIDS[@]}"; do
    [[ ${QCMD[$p]} != *"$WORK/"* ]] || continue
    n=$((n + 1))
    { read -r line < "/proc/$p/stat"; } 2>/dev/null || continue
    read -r -a f <<< "${line##*) }"
    OTHER_T1[$p]=$(( f[11] + f[12] )); [ -n "${OTHER_T0[$p]:-}" ] || OTHER_T0[$p]=${OTHER_T1[$p]}
  done
  OTHER_SAMPLES=$((OTHER_SAMPLES + 1)); [ "$n" = 0 ] || OTHER_SEEN=$((OTHER_SEEN + 1))
  [ "$n" -le "$OTHER_MAX" ] || OTHER_MAX=$n
}
phase_start() { others; put "host.loadavg_before_$1" "$(cut -d' ' -f1 /proc/loadavg)"; }

# ---- watching boots ---------------------------------------------------------------------------
# watch T0 FRAGMENT N TIMEOUT_S CHECK: follows the first N qemu-system processes whose command line
# holds FRAGMENT (/proc scanned every 10 ms) until each one's folder (that of its -pidfile, which
# holds console.log) has the ready line (looked for every BENCH_READY_POLL s).  Per folder, in µs
# after T0 (EPOCHREALTIME without the dot): W_EXEC (the process showed), W_DAEMON (its pid file
# names a live process: the machine is set up, qemu has daemonized), W_READY.  CHECK runs every
# 2 s and dies on a failure (a server in ERROR, a raw launch that failed).
declare -A W_EXEC=() W_DAEMON=() W_READY=()
watch() {
  local t0=$1 frag=$2 n=$3 limit=$(( $4 * 1000000 )) check=$5
  local now next_ready=0 next_check=$(( $1 + 2000000 )) p d i pf f pending args
  W_FOLDERS=(); W_EXEC=(); W_DAEMON=(); W_READY=()
  while :; do
    now=${EPOCHREALTIME/./}
    if [ ${#W_FOLDERS[@]} -lt "$n" ]; then
      qemu_scan "$frag"
      for p in "${QPIDS[@]}"; do
        read -r -a args <<< "${QCMD[$p]}"
        pf=""; for ((i = 1; i < ${#args[@]}; i++)); do [ "${args[i-1]}" != -pidfile ] || pf=${args[i]}; done
        d=${pf%/*}
        [ -n "$pf" ] && [ -z "${W_EXEC[$d]:-}" ] && [ ${#W_FOLDERS[@]} -lt "$n" ] || continue
        W_EXEC[$d]=$((now - t0)); W_FOLDERS+=("$d")
      done
    fi
    for d in "${W_FOLDERS[@]}"; do
      [ -z "${W_DAEMON[$d]:-}" ] || continue
      p=""; { read -r p < "$d/qemu.pid"; } 2>/dev/null || true
      [ -n "$p" ] && [ -e "/proc/$p" ] && W_DAEMON[$d]=$((now - t0))
    done
    if [ "$now" -ge "$next_ready" ]; then
      pending=()
      for d in "${W_FOLDERS[@]}"; do [ -n "${W_READY[$d]:-}" ] || [ ! -e "$d/console.log" ] || pending+=("$d/console.log"); done
      if [ ${#pending[@]} -gt 0 ]; then
        while IFS= read -r f; do W_READY[${f%/console.log}]=$((now - t0)); done < <(grep -lF "$READY_LINE" "${pending[@]}" 2>/dev/null || true)
      fi
      next_ready=$((now + READY_POLL_US))
    fi
    [ ${#W_READY[@]} -lt "$n" ] || return 0
    if [ "$now" -ge "$next_check" ]; then
      "$check"; others
      next_check=$((now + 2000000))
    fi
    if [ $((now - t0)) -gt "$limit" ]; then
      for d in "${W_FOLDERS[@]}"; do
        [ -n "${W_READY[$d]:-}" ] || log "not ready: $d; console ends: $(tail -c 300 "$d/console.log" 2>/dev/null | tr -d '\r' | tr '\n' '|')"
      done
      die "$n guest(s) not all ready within $4 s: ${#W_FOLDERS[@]} qemu(s) started, ${#W_READY[@]} ready"
    fi
    # 10 ms while processes are awaited; then only the serial logs are looked at
    if [ ${#W_FOLDERS[@]} -lt "$n" ] || [ ${#W_DAEMON[@]} -lt ${#W_FOLDERS[@]} ]; then nap 0.01; else nap "$READY_POLL"; fi
  done
}

# ---- martlet side ---------------------------------------------------------------------------
NOVA=""
API_HEADERS=(-H "OpenStack-API-Version: compute 2.37")
POST_PID=""; POST_NAME=""

# martlet_check: (watch's CHECK) martlet alive, the POST answered 202, no server in ERROR
martlet_check() {
  kill -0 "$MPID" 2>/dev/null || die "martlet exited (log $OUT/martlet.log): $(tail -n 5 "$OUT/martlet.log" | tr '\n' '|')"
  if [ -n "$POST_PID" ] && ! kill -0 "$POST_PID" 2>/dev/null; then post_done; fi
  local code
  code=$(api GET "$NOVA/servers/detail?status=ERROR" errors)
  [ "$code" = 200 ] || return 0
  if [ "$(jq '.servers | length' "$OUT/errors.json")" != 0 ]; then
    die "server(s) in ERROR: $(jq -c '[.servers[] | {id, name, fault}]' "$OUT/errors.json" | head -c 1500)"
  fi
}

# post_done: waits for the POST sent in the background; dies unless it answered 202
post_done() {
  local pid=$POST_PID code
  [ -n "$pid" ] || return 0
  POST_PID=""
  wait "$pid" 2>/dev/null || true
  read -r code POST_S < "$OUT/$POST_NAME.code" || true
  [ "$code" = 202 ] || die "POST /servers ($POST_NAME) answered ${code:-nothing}: $(body_of "$POST_NAME")"
}

# boot_martlet NAME COUNT TIMEOUT: POST /servers (COUNT > 1: min_count = max_count = COUNT), sent in
# the background so the watch starts with it; T0 is taken just before curl starts.  Sets the W_*
# figures (through watch), POST_S (curl's time_total) and IDS (the servers, from their folders).
boot_martlet() {
  local name=$1 count=$2 body t0 d
  body=$(jq -cn --arg n "$name" --arg i "$IMAGE_ID" --arg f "$FLAVOR" --argjson c "$count" \
         '{server: ({name: $n, imageRef: $i, flavorRef: $f, networks: "none"} + (if $c > 1 then {min_count: $c, max_count: $c} else {} end))}')
  qemu_scan "$MDATA/qemu/instances/"
  [ ${#QPIDS[@]} = 0 ] || die "a qemu of an earlier server still runs: ${QPIDS[*]}"
  POST_NAME=post-$name
  t0=${EPOCHREALTIME/./}
  curl -s -o "$OUT/$POST_NAME.json" -w '%{http_code} %{time_total}\n' -X POST -H "X-Auth-Token: $TOK" \
       -H 'Content-Type: application/json' "${API_HEADERS[@]}" --data-binary "$body" "$NOVA/servers" > "$OUT/$POST_NAME.code" &
  POST_PID=$!
  watch "$t0" "$MDATA/qemu/instances/" "$count" "$3" martlet_check
  post_done
  IDS=(); for d in "${W_FOLDERS[@]}"; do IDS+=("${d##*/}"); done
  if [ "$count" = 1 ]; then
    local id; id=$(jq -r '.server.id // empty' "$OUT/$POST_NAME.json")
    [ "$id" = "${IDS[0]}" ] || die "the qemu that started is in ${W_FOLDERS[0]}, but POST /servers made server $id"
  fi
}

# delete_servers ID...: DELETE each, then waits (120 s at most) until each answers 404 and its qemu is gone
delete_servers() {
  local id code t0=${EPOCHREALTIME/./} left
  for id in "$@"; do
    code=$(api DELETE "$NOVA/servers/$id" delete)
    [ "$code" = 204 ] || die "DELETE /servers/$id answered $code ($(body_of delete))"
  done
  while :; do
    left=0
    for id in "$@"; do
      code=$(curl -s -o /dev/null -w '%{http_code}' -H "X-Auth-Token: $TOK" "$NOVA/servers/$id" || echo 000)
      [ "$code" = 404 ] || { left=$((left + 1)); continue; }
      qemu_scan "/instances/$id/"; [ ${#QPIDS[@]} = 0 ] || left=$((left + 1))
    done
    [ "$left" -gt 0 ] || return 0
    [ $(( ${EPOCHREALTIME/./} - t0 )) -lt 120000000 ] || die "$left of $# server(s) not gone 120 s after DELETE"
    nap 0.1
  done
}

# ---- raw side ---------------------------------------------------------------------------------
RAW_JOBS=()
raw_cmd() {  # raw_cmd DIR: the qemu command of the raw side (Martlet's flags that matter for a boot)
  RAW_CMD=(qemu-system-x86_64 -name "guest=raw-${1##*/}" -machine "pc,accel=$ACCEL" -m "$RAM_MB" -smp "$VCPUS" -nodefaults
           -no-user-config -display none -serial "file:$1/console.log" -drive "file=$1/disk.qcow2,if=virtio,format=qcow2"
           -object rng-random,id=rng0,filename=/dev/urandom -device virtio-rng-pci,rng=rng0 -daemonize -pidfile "$1/qemu.pid")
}
# raw_launch DIR: overlay + qemu, in the background (RAW_JOBS), as Martlet does them: one after the other
raw_launch() {
  mkdir -p "$1"
  raw_cmd "$1"
  ( qemu-img create -q -f qcow2 -F qcow2 -b "$IMAGE" "$1/disk.qcow2" "${DISK_GB}G" && exec "${RAW_CMD[@]}" ) > "$1/launch.log" 2>&1 &
  RAW_JOBS+=("$!:$1")
}
# raw_check: (watch's CHECK) every launch that ended did so with status 0
raw_check() {
  local j pid dir rc keep=()
  for j in "${RAW_JOBS[@]}"; do
    pid=${j%%:*}; dir=${j#*:}
    if kill -0 "$pid" 2>/dev/null; then keep+=("$j"); continue; fi
    rc=0; wait "$pid" || rc=$?
    [ "$rc" = 0 ] || die "raw qemu in $dir failed (exit $rc): $(head -c 600 "$dir/launch.log")"
  done
  RAW_JOBS=("${keep[@]}")
}
# boot_raw NAME COUNT TIMEOUT: COUNT raw qemus started together; the W_* figures
boot_raw() {
  local i t0
  RAW_JOBS=()
  t0=${EPOCHREALTIME/./}
  for ((i = 1; i <= $2; i++)); do raw_launch "$RAW/$1-$i"; done
  watch "$t0" "$RAW/$1-" "$2" "$3" raw_check
  raw_check
}
# raw_stop: stops the raw qemus (by the pids in their pid files) and removes their folders
raw_stop() {
  local d p pids=()
  for d in "${W_FOLDERS[@]}"; do p=""; { read -r p < "$d/qemu.pid"; } 2>/dev/null || true; [ -z "$p" ] || pids+=("$p"); done
  kill_pids "${pids[@]}"
  qemu_scan "$RAW/"
  [ ${#QPIDS[@]} = 0 ] || die "raw qemu(s) did not stop: ${QPIDS[*]}"
  rm -rf "${W_FOLDERS[@]}"
}

# folder_figures PREFIX: the W_* of the single folder watched, as samples PREFIX.exec_ms, .daemon_ms, .ready_s
folder_figures() {
  local d=${W_FOLDERS[0]}
  sample "$1.exec_ms" "$(us_ms "${W_EXEC[$d]}")"
  sample "$1.daemon_ms" "$(us_ms "${W_DAEMON[$d]:-${W_READY[$d]}}")"
  sample "$1.ready_s" "$(us_s "${W_READY[$d]}")"
}
# group_figures PREFIX: the last process / daemonized / ready of a group, and the first ready
group_figures() {
  local d e=0 m=0 r=0 r1=""
  for d in "${W_FOLDERS[@]}"; do
    [ "${W_EXEC[$d]}" -le "$e" ] || e=${W_EXEC[$d]}
    [ "${W_DAEMON[$d]:-0}" -le "$m" ] || m=${W_DAEMON[$d]}
    [ "${W_READY[$d]}" -le "$r" ] || r=${W_READY[$d]}
    [ -n "$r1" ] && [ "${W_READY[$d]}" -ge "$r1" ] || r1=${W_READY[$d]}
  done
  put "$1.all_exec_ms" "$(us_ms "$e")"; put "$1.all_daemon_ms" "$(us_ms "$m")"
  put "$1.all_ready_s" "$(us_s "$r")"; put "$1.first_ready_s" "$(us_s "$r1")"
}

# =============================================================================================
record_host
put_s martlet.binary "$BIN"
put_s martlet.binary_mtime "$(date -u -r "$BIN" +%Y-%m-%dT%H:%M:%SZ)"
put_s martlet.version "$("$BIN" version 2>/dev/null | head -n 1 || true)"
put_s martlet.git "commit not read"
put_s qemu.version "$(qemu-system-x86_64 --version | head -n 1)"
put_s params.accelerator "$ACCEL"
put params.reps "$REPS"
put params.group "$GROUP"
put_s params.namespace "$NS"
put_s guest.image "$IMAGE"
put guest.image_bytes "$(stat -c %s "$IMAGE")"

# ---- set-up ----------------------------------------------------------------------------------
RUN_T0=$EPOCHREALTIME
others
martlet_port
NOVA=$BASE/compute/v2.1
log "martlet: $BIN on 127.0.0.1:$MPORT (in $NS), data dir $MDATA, --compute-driver qemu --qemu-accelerator $ACCEL"
# the host has nproc vCPUs x cpu_allocation_ratio (4 by default: 8 here); the group needs GROUP
mkdir -p "$MDATA"
CPU_RATIO=$(( GROUP > 4 ? GROUP : 4 ))
echo "cpu_allocation_ratio = $CPU_RATIO" > "$MDATA/martlet.toml"
put params.cpu_allocation_ratio "$CPU_RATIO"
start_martlet /compute --s3-port 0 --compute-driver qemu --qemu-accelerator "$ACCEL"
get_token
code=$(api PUT "$NOVA/os-quota-sets/$PROJECT" quota-set '{"quota_set": {"instances": -1, "cores": -1, "ram": -1}}')
[ "$code" = 200 ] || die "PUT os-quota-sets answered $code ($(body_of quota-set))"
code=$(api GET "$NOVA/flavors/$FLAVOR" flavor)
[ "$code" = 200 ] || die "flavor $FLAVOR: GET answered $code ($(body_of flavor))"
RAM_MB=$(jq -r .flavor.ram "$OUT/flavor.json"); VCPUS=$(jq -r .flavor.vcpus "$OUT/flavor.json"); DISK_GB=$(jq -r .flavor.disk "$OUT/flavor.json")
put_s setup.flavor "$(jq -r '.flavor | "\(.name) (\(.id)): \(.ram) MB, \(.vcpus) vCPU, \(.disk) GB disk"' "$OUT/flavor.json")"
code=$(api POST "$BASE/image/v2/images" image '{"name": "guest", "disk_format": "qcow2", "container_format": "bare", "visibility": "public"}')
IMAGE_ID=$(jq -r '.id // empty' "$OUT/image.json" 2>/dev/null || true)
[ "$code" = 201 ] && [ -n "$IMAGE_ID" ] || die "image create answered $code ($(body_of image))"
code=$(curl -s -o "$OUT/image-upload.json" -w '%{http_code}' -X PUT -H "X-Auth-Token: $TOK" -H 'Content-Type: application/octet-stream' \
       -H 'Expect:' --data-binary "@$IMAGE" "$BASE/image/v2/images/$IMAGE_ID/file" || echo 000)
[ "$code" = 204 ] || die "image upload answered $code ($(body_of image-upload))"
code=$(api GET "$BASE/image/v2/images/$IMAGE_ID" image-get)
[ "$code" = 200 ] && [ "$(jq -r .status "$OUT/image-get.json")" = active ] || die "image $IMAGE_ID is not active after the upload"
nap "$IDLE_WAIT"
put rss.zero_guests_kib "$(rss_kib "$MPID")"
log "set-up: quotas unlimited, flavor $(v setup.flavor), image $IMAGE_ID ($(v guest.image_bytes) bytes) active; RSS $(mib "$(v rss.zero_guests_kib)") MiB"

# ---- 1. cold first boot, then warm boots one at a time, martlet and raw taking turns ---------
phase_start cold
log "cold: first server on the fresh data dir (the image is fetched into the driver's cache)"
boot_martlet cold 1 "$BOOT_TIMEOUT"
d=${W_FOLDERS[0]}
put cold.exec_ms "$(us_ms "${W_EXEC[$d]}")"; put cold.daemon_ms "$(us_ms "${W_DAEMON[$d]:-0}")"
put cold.ready_s "$(us_s "${W_READY[$d]}")"; put cold.post_s "$POST_S"
log "cold: create -> qemu process $(v cold.exec_ms) ms, -> daemonized $(v cold.daemon_ms) ms, -> ready $(v cold.ready_s) s"
delete_servers "${IDS[@]}"

phase_start warm
for ((r = 1; r <= REPS; r++)); do
  boot_martlet "warm-$r" 1 "$BOOT_TIMEOUT"
  folder_figures m; sample m.post_s "$POST_S"
  if [ "$r" = 1 ]; then   # the exact command martlet ran, as /proc has it
    read -r p < "${W_FOLDERS[0]}/qemu.pid"
    tr '\0' ' ' < "/proc/$p/cmdline" > "$OUT/martlet-qemu-cmdline.txt"; echo >> "$OUT/martlet-qemu-cmdline.txt"
  fi
  delete_servers "${IDS[@]}"
  boot_raw "single$r" 1 "$BOOT_TIMEOUT"
  folder_figures raw
  if [ "$r" = 1 ]; then raw_cmd "$RAW/single1-1"; printf 'qemu-img create -q -f qcow2 -F qcow2 -b %s %s/disk.qcow2 %sG && %s\n' \
      "$IMAGE" "$RAW/single1-1" "$DISK_GB" "${RAW_CMD[*]}" > "$OUT/raw-qemu-cmdline.txt"; fi
  raw_stop
  log "warm $r/$REPS: martlet -> process ${S[m.exec_ms]##* } ms, -> ready ${S[m.ready_s]##* } s;" \
      "raw -> process ${S[raw.exec_ms]##* } ms, -> ready ${S[raw.ready_s]##* } s"
done
for k in exec_ms daemon_ms ready_s post_s; do put "warm.m_$k" "$(median "m.$k")"; put_s "warm.m_${k}_samples" "${S[m.$k]}"; done
for k in exec_ms daemon_ms ready_s; do put "warm.raw_$k" "$(median "raw.$k")"; put_s "warm.raw_${k}_samples" "${S[raw.$k]}"; done

# ---- 3. GROUP at once: raw first, then martlet (whose guests stay for the RSS and the snapshot) ---
phase_start group_raw
log "group: $GROUP raw qemus started at once"
boot_raw group "$GROUP" "$GROUP_TIMEOUT"
group_figures group_raw
raw_stop
log "group raw: all processes $(v group_raw.all_exec_ms) ms, all ready $(v group_raw.all_ready_s) s"

phase_start group_m
log "group: one POST /servers with min_count = max_count = $GROUP"
boot_martlet group "$GROUP" "$GROUP_TIMEOUT"
group_figures group_m
put group_m.post_s "$POST_S"
GROUP_IDS=("${IDS[@]}")
log "group martlet: all processes $(v group_m.all_exec_ms) ms, all ready $(v group_m.all_ready_s) s"
nap 1
put rss.group_guests_kib "$(rss_kib "$MPID")"
put rss.per_guest_kib "$(awk -v a="$(v rss.zero_guests_kib)" -v b="$(v rss.group_guests_kib)" -v n="$GROUP" 'BEGIN { printf "%.0f", (b - a) / n }')"
ps -o pid=,stat=,args= --ppid "$MPID" > "$OUT/martlet-children.txt" || true
put children.of_martlet "$(grep -c . "$OUT/martlet-children.txt" || true)"
qemu_scan "$MDATA/qemu/instances/"; put children.qemus "${#QPIDS[@]}"
put children.qemu_threads_total "$(for p in "${QPIDS[@]}"; do ls "/proc/$p/task" 2>/dev/null | wc -l; done | awk '{ s += $1 } END { print s + 0 }')"
[ "$(v children.of_martlet)" = 0 ] || flag "processes whose parent is martlet with $GROUP guests: $(tr '\n' ';' < "$OUT/martlet-children.txt" | head -c 300)"
[ "$(v children.qemus)" = "$GROUP" ] || flag "$(v children.qemus) qemu processes for $GROUP servers"
log "RSS: zero guests $(v rss.zero_guests_kib) KiB, $GROUP guests $(v rss.group_guests_kib) KiB ($(v rss.per_guest_kib) KiB each);" \
    "children of martlet: $(v children.of_martlet); qemu processes: $(v children.qemus)"
SNAP_ID=${GROUP_IDS[0]}
delete_servers "${GROUP_IDS[@]:1}"

# ---- 4. snapshots of the remaining server, and qemu-img convert of its disk -------------------
phase_start snapshot
DISK=$MDATA/qemu/instances/$SNAP_ID/disk.qcow2
[ -f "$DISK" ] || die "no $DISK"
for ((r = 1; r <= REPS; r++)); do
  t0=$EPOCHREALTIME
  code=$(curl -s -o "$OUT/snap.json" -w '%{http_code}' -X POST -H "X-Auth-Token: $TOK" -H 'Content-Type: application/json' \
         -H 'OpenStack-API-Version: compute 2.45' --data-binary "{\"createImage\": {\"name\": \"snap-$r\"}}" "$NOVA/servers/$SNAP_ID/action" || echo 000)
  IMG=$(jq -r '.image_id // empty' "$OUT/snap.json" 2>/dev/null || true)
  [ "$code" = 202 ] && [ -n "$IMG" ] || die "createImage answered $code ($(body_of snap))"
  while :; do
    code=$(api GET "$BASE/image/v2/images/$IMG" snap-image)
    st=$(jq -r '.status // empty' "$OUT/snap-image.json" 2>/dev/null || true)
    [ "$code" = 200 ] && [ "$st" = active ] && break
    case "$code/$st" in 200/queued | 200/saving | 200/importing | 200/uploading) ;;
      *) api GET "$NOVA/servers/$SNAP_ID" snap-server > /dev/null
         die "snapshot image $IMG: $code, status '$st'; server: $(jq -c '.server | {status, fault}' "$OUT/snap-server.json" 2>/dev/null)" ;; esac
    awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { exit !(b - a > 300) }' && die "snapshot image $IMG not active within 300 s (status $st)"
    nap 0.01
  done
  t1=$EPOCHREALTIME
  bytes=$(jq -r .size "$OUT/snap-image.json")
  sample snap.m_s "$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')"
  sample snap.m_mbs "$(awk -v a="$t0" -v b="$t1" -v n="$bytes" 'BEGIN { printf "%.1f", n / 1e6 / (b - a) }')"
  sample snap.m_bytes "$bytes"
  # the server's task must end before the next action on it
  for _ in $(seq 1 600); do
    api GET "$NOVA/servers/$SNAP_ID" snap-server > /dev/null
    [ "$(jq -r '.server["OS-EXT-STS:task_state"] // "none"' "$OUT/snap-server.json")" = none ] && break
    nap 0.1
  done
  code=$(api DELETE "$BASE/image/v2/images/$IMG" snap-delete); [ "$code" = 204 ] || flag "DELETE snapshot image $IMG answered $code"
  t0=$EPOCHREALTIME
  qemu-img convert -U -O qcow2 "$DISK" "$RAW/snap.qcow2" || die "qemu-img convert -U of $DISK failed"
  t1=$EPOCHREALTIME
  bytes=$(stat -c %s "$RAW/snap.qcow2"); rm -f "$RAW/snap.qcow2"
  sample snap.raw_s "$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')"
  sample snap.raw_mbs "$(awk -v a="$t0" -v b="$t1" -v n="$bytes" 'BEGIN { printf "%.1f", n / 1e6 / (b - a) }')"
  sample snap.raw_bytes "$bytes"
  log "snapshot $r/$REPS: martlet ${S[snap.m_bytes]##* } bytes in ${S[snap.m_s]##* } s (${S[snap.m_mbs]##* } MB/s);" \
      "qemu-img convert ${S[snap.raw_bytes]##* } bytes in ${S[snap.raw_s]##* } s (${S[snap.raw_mbs]##* } MB/s)"
done
for k in m_s m_mbs m_bytes raw_s raw_mbs raw_bytes; do put "snap.$k" "$(median "snap.$k")"; put_s "snap.${k}_samples" "${S[snap.$k]}"; done

# ---- the end: no server, no qemu of the run --------------------------------------------------
delete_servers "$SNAP_ID"
put rss.end_kib "$(rss_kib "$MPID")"
qemu_scan "$WORK/"; put check.qemus_left "${#QPIDS[@]}"
[ "$(v check.qemus_left)" = 0 ] || flag "qemu processes of the run left after deleting every server: ${QPIDS[*]}"
martlet_stop
martlet_log_check
others
put noise.other_qemus_max "$OTHER_MAX"
put noise.samples_with_other_qemus "$OTHER_SEEN"
put noise.samples "$OTHER_SAMPLES"
put noise.samples_with_busy_programs "$BUSY_SEEN"
put_s noise.busy_programs "${!BUSY[*]}"
ticks=0; for p in "${!OTHER_T1[@]}"; do ticks=$(( ticks + OTHER_T1[$p] - OTHER_T0[$p] )); done
put noise.other_qemus_cores "$(awk -v t="$ticks" -v hz="$CLK_TCK" -v a="$RUN_T0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.2f", t / hz / (b - a) }')"

# ---- report ------------------------------------------------------------------------------------
QROWS=()
qrow() { QROWS+=("$1|${2:--}|${3:--}|${4:--}|${5:-}|${6:-}"); }      # figure martlet raw ratio target met?
met_le() { verdict "x <= $1" "$2"; }
OVER=$(awk -v a="$(v warm.m_exec_ms)" -v b="$(v warm.raw_exec_ms)" 'BEGIN { printf "%.1f", a - b }')
put warm.overhead_ms "$OVER"
put warm.ready_ratio "$(ratio "$(v warm.m_ready_s)" "$(v warm.raw_ready_s)")"
put group.ready_ratio "$(ratio "$(v group_m.all_ready_s)" "$(v group_raw.all_ready_s)")"
put snap.mbs_ratio "$(ratio "$(v snap.m_mbs)" "$(v snap.raw_mbs)")"

qrow "create -> qemu process, warm cache (ms) [1]" "$(v warm.m_exec_ms)" "$(v warm.raw_exec_ms)" "$(ratio "$(v warm.m_exec_ms)" "$(v warm.raw_exec_ms)")"
qrow "  driver overhead: martlet - raw (ms)" "$OVER" "" "" "<= 100 ms" "$(met_le 100 "$OVER")"
qrow "create -> qemu daemonized (pid file), warm (ms) [1]" "$(v warm.m_daemon_ms)" "$(v warm.raw_daemon_ms)" "$(ratio "$(v warm.m_daemon_ms)" "$(v warm.raw_daemon_ms)")"
qrow "POST /servers answered (ms)" "$(awk -v s="$(v warm.m_post_s)" 'BEGIN { printf "%.1f", s * 1000 }')"
qrow "first boot, cold cache: create -> qemu process (ms)" "$(v cold.exec_ms)"
qrow "first boot, cold cache: create -> guest ready (s)" "$(v cold.ready_s)"
qrow "create -> guest ready, warm (s) [2]" "$(v warm.m_ready_s)" "$(v warm.raw_ready_s)" "$(v warm.ready_ratio)" "<= 1.10" "$(met_le 1.10 "$(v warm.ready_ratio)")"
qrow "$GROUP at once: create -> all $GROUP qemu processes (ms)" "$(v group_m.all_exec_ms)" "$(v group_raw.all_exec_ms)" "$(ratio "$(v group_m.all_exec_ms)" "$(v group_raw.all_exec_ms)")"
qrow "$GROUP at once: create -> first ready (s)" "$(v group_m.first_ready_s)" "$(v group_raw.first_ready_s)" "$(ratio "$(v group_m.first_ready_s)" "$(v group_raw.first_ready_s)")"
qrow "$GROUP at once: create -> all $GROUP ready (s) [3]" "$(v group_m.all_ready_s)" "$(v group_raw.all_ready_s)" "$(v group.ready_ratio)"
qrow "martlet RSS: zero guests / $GROUP guests (MiB)" "$(mib "$(v rss.zero_guests_kib)") / $(mib "$(v rss.group_guests_kib)")"
qrow "  RSS per guest (KiB) [4]" "$(v rss.per_guest_kib)"
qrow "processes whose parent is martlet, $GROUP guests" "$(v children.of_martlet)" "" "" "0" "$( [ "$(v children.of_martlet)" = 0 ] && echo MET || echo "NOT MET")"
qrow "qemu processes for the $GROUP servers" "$(v children.qemus)" "" "" "$GROUP"  "$( [ "$(v children.qemus)" = "$GROUP" ] && echo MET || echo "NOT MET")"
qrow "snapshot: createImage -> active / qemu-img convert (s)" "$(v snap.m_s)" "$(v snap.raw_s)" "$(ratio "$(v snap.m_s)" "$(v snap.raw_s)")"
qrow "snapshot throughput (MB/s) [5]" "$(v snap.m_mbs)" "$(v snap.raw_mbs)" "$(v snap.mbs_ratio)"
qrow "qemus of the run left after the deletes" "$(v check.qemus_left)" "" "" "0" "$( [ "$(v check.qemus_left)" = 0 ] && echo MET || echo "NOT MET")"

{
  summary_head "Qemu driver"
  echo "accelerator $ACCEL (both sides); flavor $(v setup.flavor); guest $(v guest.image) ($(v guest.image_bytes) bytes);"
  echo "medians of $REPS boots / snapshots a side; $(v qemu.version); all in namespace $NS; MB = 10^6 bytes; ratio = martlet / raw"
  echo "other qemus on the host (not this run's): in $(v noise.samples_with_other_qemus) of $(v noise.samples) samples, at most $(v noise.other_qemus_max) at once," \
       "using $(v noise.other_qemus_cores) cores on average (of $(v host.nproc)) over the run"
  if [ "$BUSY_SEEN" -gt 0 ]; then echo "other heavy programs in $BUSY_SEEN of $OTHER_SAMPLES samples: ${!BUSY[*]}"; fi
  if [ "$OTHER_SEEN" -gt 0 ] || [ "$BUSY_SEEN" -gt 0 ]; then
    echo "WARNING: other qemus or heavy programs were running during the run: the figures (the ratios above all) are disturbed; re-run on a quiet host"
  fi
  echo
  printf '%-54s | %13s | %11s | %6s | %-9s | %s\n' figure martlet raw ratio target "met?"
  printf '%s\n' "-------------------------------------------------------+---------------+-------------+--------+-----------+--------"
  for q in "${QROWS[@]}"; do
    IFS='|' read -r a b c d e f <<< "$q"
    printf '%-54s | %13s | %11s | %6s | %-9s | %s\n' "$a" "$b" "$c" "$d" "$e" "$f"
  done
  echo
  echo "[1] from just before curl sends POST /servers (raw: before qemu-img create) until /proc (scanned every 10 ms) shows a"
  echo "    qemu-system process naming the server's folder; 'daemonized' until its pid file names a live process. Samples (ms):"
  echo "    martlet ${S[m.exec_ms]}, raw ${S[raw.exec_ms]}; daemonized: martlet ${S[m.daemon_ms]}, raw ${S[raw.daemon_ms]}"
  echo "[2] until \"$READY_LINE\" is in the serial log (looked for every ${READY_POLL}s). Samples (s): martlet ${S[m.ready_s]}, raw ${S[raw.ready_s]}"
  echo "[3] martlet: one POST with min_count = max_count = $GROUP; raw: $GROUP x (qemu-img create && qemu -daemonize) started together"
  echo "[4] (RSS with $GROUP guests - RSS after start-up and the image upload) / $GROUP; RSS after every server was deleted: $(mib "$(v rss.end_kib)") MiB"
  echo "[5] martlet: the image's size / (POST createImage -> image active, polled every 10 ms; the guest is paused during the copy);"
  echo "    raw: qemu-img convert -U -O qcow2 of the running server's disk.qcow2, output size / time. Samples: martlet ${S[snap.m_mbs]} MB/s"
  echo "    (${S[snap.m_bytes]} bytes), raw ${S[snap.raw_mbs]} MB/s (${S[snap.raw_bytes]} bytes)"
  echo
  echo "martlet's qemu command (warm boot 1, /proc/PID/cmdline):"
  sed 's/^/  /' "$OUT/martlet-qemu-cmdline.txt"
  echo "raw side:"
  sed 's/^/  /' "$OUT/raw-qemu-cmdline.txt"
  echo "server log: $(v log.lines) lines, $(v log.error_lines) matching error/critical/fatal/panic"
  print_flags
} | tee "$OUT/summary.txt"
write_results qemu "summary.txt, martlet.log, the qemu command lines"
