#!/usr/bin/env bash
# bench/volumes.sh - Block Storage with the file driver: a volume made from a BENCH_IMAGE_MIB image
# against a plain `qemu-img convert` of the same file (the naive way's ceiling, measured in the
# same run on the same disk), a clone, a backup and a restore against PUTting the same bytes to the
# object store directly, and BENCH_VOLUMES volumes created at once.
#
#   bash bench/volumes.sh [MARTLET_BINARY]    # default .build/release/martlet, else .build/debug/martlet
#   BENCH_IMAGE_MIB=1024 BENCH_VOLUMES=100    # the defaults
#
# Loopback only; everything lives in a temporary folder removed at the end. Exits non-zero when a
# volume ends in error or a step times out (the figures are then missing, not blank).
set -euo pipefail
export LC_ALL=C
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
. "$REPO/bench/lib/common.sh"

IMAGE_MIB=${BENCH_IMAGE_MIB:-1024}
VOLUMES=${BENCH_VOLUMES:-100}
need_tools curl:curl jq:jq python3:python3 qemu-img:qemu-utils
if [ -n "${1:-}" ]; then BIN=$1
elif [ -x "$REPO/.build/release/martlet" ]; then BIN=$REPO/.build/release/martlet
else BIN=$REPO/.build/debug/martlet; fi
[ -x "$BIN" ] || die "no martlet binary at $BIN"

WORK=$(mktemp -d /tmp/martlet-bench-volumes.XXXXXX)
PORT=$(free_port)
PASSWORD=bench-admin-pw
MPID=""
cleanup() {
  set +e
  [ -z "$MPID" ] || { kill "$MPID"; wait "$MPID"; } 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT

log "a ${IMAGE_MIB} MiB image: a quarter random bytes, the rest zeros (as an installed system's disk is mostly empty)"
head -c $((IMAGE_MIB / 4))M /dev/urandom > "$WORK/source.raw"
truncate -s "${IMAGE_MIB}M" "$WORK/source.raw"

log "martlet: $BIN --volume-driver file"
"$BIN" serve --host 127.0.0.1 --port "$PORT" --data-dir "$WORK/data" --admin-password "$PASSWORD" --bcrypt-cost 4 \
  --s3-port 0 --console-port 0 --volume-driver file > "$WORK/martlet.log" 2>&1 &
MPID=$!
for _ in $(seq 1 600); do curl -fs "http://127.0.0.1:$PORT/identity/v3" >/dev/null 2>&1 && break; sleep 0.1; done
curl -fs "http://127.0.0.1:$PORT/identity/v3" >/dev/null || { tail -20 "$WORK/martlet.log"; die "martlet did not start"; }

RESULT=$(python3 "$REPO/bench/lib/volumes.py" "http://127.0.0.1:$PORT" "$PASSWORD" "$WORK/source.raw" "$WORK/convert.qcow2" "$VOLUMES") \
  || { tail -20 "$WORK/martlet.log"; die "the volume phases failed"; }
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
printf '%-58s %s MiB\n' "Martlet RSS after" "$((RSS / 1024))"
