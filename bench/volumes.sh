#!/usr/bin/env bash
# bench/volumes.sh - Block Storage with the file driver: a volume made from a BENCH_IMAGE_MIB image
# against a plain `qemu-img convert` of the same file (the naive way's ceiling, measured in the
# same run on the same disk), a clone, a backup and a restore against PUTting the same bytes to the
# object store directly, BENCH_VOLUMES volumes created at once, and a volume attached to a running
# guest until the guest sees the disk (and detached until it lets it go) against the same hot plug
# done by hand over QMP on a raw qemu.
#
#   bash bench/volumes.sh [MARTLET_BINARY]    # default .build/release/martlet, else .build/debug/martlet
#   BENCH_IMAGE_MIB=1024 BENCH_VOLUMES=100 BENCH_ATTACH_REPS=5 BENCH_QEMU_ACCEL=tcg   # the defaults
#
# Needs root: everything runs in a network namespace made here with only its loopback up (Martlet,
# its guest, the raw qemu, the clients), deleted at the end with the temporary folder. Exits
# non-zero when a volume ends in error or a step times out (the figures are then missing, not blank).
set -euo pipefail
export LC_ALL=C
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
. "$REPO/bench/lib/common.sh"

IMAGE_MIB=${BENCH_IMAGE_MIB:-1024}
VOLUMES=${BENCH_VOLUMES:-100}
ATTACH_REPS=${BENCH_ATTACH_REPS:-5}
export BENCH_QEMU_ACCEL=${BENCH_QEMU_ACCEL:-tcg}
[ "$(id -u)" = 0 ] || die "needs root: it makes a network namespace (ip netns add)"
need_tools curl:curl jq:jq python3:python3 qemu-img:qemu-utils qemu-system-x86_64:qemu-system-x86 genisoimage:genisoimage ip:iproute2
if [ -n "${1:-}" ]; then BIN=$1
elif [ -x "$REPO/.build/release/martlet" ]; then BIN=$REPO/.build/release/martlet
else BIN=$REPO/.build/debug/martlet; fi
[ -x "$BIN" ] || die "no martlet binary at $BIN"

WORK=$(mktemp -d /tmp/martlet-bench-volumes.XXXXXX)
NS=martlet-bench-volumes-$$
PORT=8774
PASSWORD=bench-admin-pw
MPID=""
cleanup() {
  set +e
  [ -z "$MPID" ] || { kill "$MPID"; wait "$MPID"; } 2>/dev/null
  # whatever still runs in the namespace (a guest's qemu after a failure) was started by this run
  for p in $(ip netns pids "$NS" 2>/dev/null); do kill -9 "$p"; done
  ip netns delete "$NS" 2>/dev/null
  # the qemu driver's sockets folder: /run/martlet/<first 6 bytes of sha256(data dir)>
  rm -rf "/run/martlet/$(printf '%s' "$WORK/data" | sha256sum | cut -c1-12)"
  rm -rf "$WORK"
}
on_exit cleanup
ip netns add "$NS" && ip -n "$NS" link set lo up
in_ns() { ip netns exec "$NS" "$@"; }

log "guest image: bash scripts/build-guest-image.sh (cached after the first build)"
GUEST=$(bash "$REPO/scripts/build-guest-image.sh" 2> "$WORK/guest-image.log" | tail -n 1) \
  || { tail -n 20 "$WORK/guest-image.log" >&2; die "scripts/build-guest-image.sh failed"; }

log "a ${IMAGE_MIB} MiB image: a quarter random bytes, the rest zeros (as an installed system's disk is mostly empty)"
head -c $((IMAGE_MIB / 4))M /dev/urandom > "$WORK/source.raw"
truncate -s "${IMAGE_MIB}M" "$WORK/source.raw"

log "martlet: $BIN --volume-driver file --compute-driver qemu --qemu-accelerator $BENCH_QEMU_ACCEL, in namespace $NS"
ip netns exec "$NS" "$BIN" serve --host 127.0.0.1 --port "$PORT" --data-dir "$WORK/data" --admin-password "$PASSWORD" --bcrypt-cost 4 \
  --s3-port 0 --console-port 0 --volume-driver file --compute-driver qemu --qemu-accelerator "$BENCH_QEMU_ACCEL" > "$WORK/martlet.log" 2>&1 &
MPID=$!
for _ in $(seq 1 600); do in_ns curl -fs "http://127.0.0.1:$PORT/identity/v3" >/dev/null 2>&1 && break; sleep 0.1; done
in_ns curl -fs "http://127.0.0.1:$PORT/identity/v3" >/dev/null || { tail -20 "$WORK/martlet.log"; die "martlet did not start"; }

RESULT=$(in_ns python3 "$REPO/bench/lib/volumes.py" "http://127.0.0.1:$PORT" "$PASSWORD" "$WORK/source.raw" "$WORK/convert.raw" "$VOLUMES") \
  || { tail -20 "$WORK/martlet.log"; die "the volume phases failed"; }
log "attach: a guest sees a hot-plugged volume, $ATTACH_REPS times, then the same by hand on a raw qemu"
ATTACH=$(in_ns python3 "$REPO/bench/lib/volume-attach.py" "http://127.0.0.1:$PORT" "$PASSWORD" "$GUEST" "$WORK/data" "$WORK" "$ATTACH_REPS") \
  || { tail -20 "$WORK/martlet.log"; die "the attach phase failed"; }
RSS=$(ps -o rss= -p "$MPID" | tr -d ' ')
R=$(jq -r '[.from_image_s, .qemu_img_convert_s, .clone_s, .concurrent_volumes, .concurrent_accepted_s, .concurrent_all_available_s] | @tsv' <<< "$RESULT")
read -r FROM CONVERT CLONE N ACCEPTED ALL <<< "$R"
printf '\n%-58s %s\n' "Block Storage, file driver ($(basename "$BIN"), $(nproc) cores)" "value"
printf '%-58s %s s\n' "volume from a ${IMAGE_MIB} MiB image, create -> available" "$FROM"
printf '%-58s %s s\n' "qemu-img convert of the same file (the naive ceiling)" "$CONVERT"
printf '%-58s %s\n' "ratio Martlet / qemu-img convert" "$(awk -v a="$FROM" -v b="$CONVERT" 'BEGIN { printf "%.2f", a / b }')"
printf '%-58s %s s\n' "clone of that volume, create -> available" "$CLONE"
B=$(jq -r '[.backup_s, .restore_s, .direct_put_s, .direct_put_mib, .volume_mib, .backup_objects] | @tsv' <<< "$RESULT")
read -r BACKUP RESTORE DIRECT DIRECT_MIB VOLUME_MIB OBJECTS <<< "$B"
printf '%-58s %s s (%s MiB/s of volume, %s objects)\n' "backup of that volume to the object store" "$BACKUP" \
  "$(awk -v m="$VOLUME_MIB" -v t="$BACKUP" 'BEGIN { printf "%.0f", m / t }')" "$OBJECTS"
printf '%-58s %s s (%s MiB/s of volume)\n' "restore of the backup into a new volume" "$RESTORE" \
  "$(awk -v m="$VOLUME_MIB" -v t="$RESTORE" 'BEGIN { printf "%.0f", m / t }')"
printf '%-58s %s s (%s MiB/s)\n' "PUT of the same $DIRECT_MIB MiB of data to the object store" "$DIRECT" \
  "$(awk -v m="$DIRECT_MIB" -v t="$DIRECT" 'BEGIN { printf "%.0f", m / t }')"
printf '%-58s %s\n' "ratio backup / direct PUT" "$(awk -v a="$BACKUP" -v b="$DIRECT" 'BEGIN { printf "%.2f", a / b }')"
printf '%-58s %s s\n' "$N blank 1 GiB volumes at once: all accepted (202)" "$ACCEPTED"
printf '%-58s %s s\n' "$N blank 1 GiB volumes at once: all available" "$ALL"
A=$(jq -r '[.m_attach_s, .raw_attach_s, .m_attach_api_s, .m_detach_s, .raw_detach_s, .m_detach_api_s, .raw_released_s, .m_available_s] | @tsv' <<< "$ATTACH")
read -r M_ATTACH RAW_ATTACH M_API M_DETACH RAW_DETACH M_DETACH_API RAW_RELEASED M_AVAILABLE <<< "$A"
printf '%-58s %s s (raw qemu, QMP by hand: %s s; ratio %s)\n' "attach -> disk seen in the guest (median of $ATTACH_REPS)" "$M_ATTACH" "$RAW_ATTACH" \
  "$(awk -v a="$M_ATTACH" -v b="$RAW_ATTACH" 'BEGIN { printf "%.2f", a / b }')"
printf '%-58s %s s\n' "  POST os-volume_attachments answered" "$M_API"
printf '%-58s %s s (raw qemu: %s s; ratio %s)\n' "detach -> disk gone from the guest" "$M_DETACH" "$RAW_DETACH" \
  "$(awk -v a="$M_DETACH" -v b="$RAW_DETACH" 'BEGIN { printf "%.2f", a / b }')"
printf '%-58s %s s (raw qemu, DEVICE_DELETED + blockdev-del: %s s)\n' "  DELETE os-volume_attachments answered (qemu let it go)" "$M_DETACH_API" "$RAW_RELEASED"
printf '%-58s %s s\n' "detach -> volume available again" "$M_AVAILABLE"
printf '%-58s %s\n' "  samples (s)" "$(jq -c '{m_attach_s_samples, raw_attach_s_samples, m_detach_s_samples, raw_detach_s_samples}' <<< "$ATTACH")"
printf '%-58s %s MiB\n' "Martlet RSS after" "$((RSS / 1024))"
