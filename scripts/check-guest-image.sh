#!/usr/bin/env bash
# Proves the guest image from scripts/build-guest-image.sh works the way the
# scenario tests need, in a real QEMU (TCG: nested KVM is not dependable):
#   - builds it (and checks a second build is a cache hit)
#   - boots a qcow2 overlay (the base image is never written) with a config
#     drive (label config-2: hostname, a fresh ecdsa-sha2-nistp384 and an
#     ssh-ed25519 key, "#!" user data) and a scratch disk
#   - waits for "martlet-guest: ready" on the serial console, checks the
#     hostname and user data lines
#   - SSHes in as root with each key and runs the commands tempest runs
#   - powers off through ACPI (QMP system_powerdown), expects QEMU to exit
#   - boots the same overlay again: /tmp survived, user data did not re-run;
#     reboots from inside; then as a new instance with a vfat config drive
#   - the overlay is 1 GiB, so the root partition grows at first boot
# Network: QEMU user networking with restrict=on (the guest reaches nothing
# outside QEMU); SSH comes in through a hostfwd on 127.0.0.1 only.
#
#   bash scripts/check-guest-image.sh
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
READY_TIMEOUT=120
POWEROFF_TIMEOUT=30

log() { printf '[check-guest] %s\n' "$*" >&2; }
PASSED=0
FAILED=0
ok() { PASSED=$((PASSED + 1)); printf '[check-guest] ok   %s\n' "$*" >&2; }
bad() { FAILED=$((FAILED + 1)); printf '[check-guest] FAIL %s\n' "$*" >&2; }
check() {   # check NAME COMMAND...: record a pass or a failure
    local name=$1; shift
    if "$@"; then ok "$name"; else bad "$name"; fi
}
die() { printf '[check-guest] ERROR: %s\n' "$*" >&2; exit 1; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN {printf "%.1f", b - a}'; }

# --- host tools ------------------------------------------------------------------
declare -A TOOLS=([qemu-system-x86_64]=qemu-system-x86 [qemu-img]=qemu-utils [xorriso]=xorriso
                  [mkfs.vfat]=dosfstools [mcopy]=mtools
                  [socat]=socat [ssh]=openssh-client [ssh-keygen]=openssh-client)
need=()
for t in "${!TOOLS[@]}"; do command -v "$t" >/dev/null 2>&1 || need+=("${TOOLS[$t]}"); done
if ((${#need[@]})); then
    mapfile -t need < <(printf '%s\n' "${need[@]}" | sort -u)
    log "installing: ${need[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y --no-install-recommends "${need[@]}" >/dev/null 2>&1 || {
        apt-get update -qq >/dev/null
        apt-get install -y --no-install-recommends "${need[@]}" >/dev/null
    }
fi

T="$(mktemp -d "${TMPDIR:-/tmp}/martlet-guest-check.XXXXXX")"
QEMU_PID=
cleanup() {
    if [[ -n $QEMU_PID ]] && kill -0 "$QEMU_PID" 2>/dev/null; then
        kill "$QEMU_PID" 2>/dev/null || true
        sleep 0.5
        kill -9 "$QEMU_PID" 2>/dev/null || true
    fi
    rm -rf "$T"
}
trap cleanup EXIT
trap 'log "stopped by a failing command at line $LINENO"' ERR
trap 'exit 130' INT TERM

# --- build ------------------------------------------------------------------------
t0=$(now)
IMG="$(bash "$HERE/build-guest-image.sh" | tail -n 1)"
BUILD_S=$(since "$t0")
[[ -f $IMG ]] || die "build printed '$IMG', not an image"
t0=$(now)
IMG2="$(bash "$HERE/build-guest-image.sh" 2>/dev/null | tail -n 1)"
CACHED_S=$(since "$t0")
check "second build is a cache hit (${CACHED_S}s, same path)" \
    awk -v s="$CACHED_S" -v a="$IMG" -v b="$IMG2" 'BEGIN {exit !(s < 10 && a == b)}'
log "image: $IMG ($(du -h "$IMG" | cut -f1), virtual $(qemu-img info --output=json "$IMG" | sed -n 's/.*"virtual-size": *\([0-9]*\).*/\1/p' | head -1) bytes)"

# --- instance data ----------------------------------------------------------------
ssh-keygen -q -t ecdsa -b 384 -N '' -C probe-p384 -f "$T/key384"
ssh-keygen -q -t ed25519 -N '' -C probe-ed25519 -f "$T/key25519"
K384="$(cat "$T/key384.pub")"
K25519="$(cat "$T/key25519.pub")"
UUID=6d1b2c3a-0f4e-4b8a-9c7d-5e6f7a8b9c0d
mkdir -p "$T/cfg/openstack/latest"
cat >"$T/cfg/openstack/latest/meta_data.json" <<EOF
{"uuid": "$UUID", "name": "probe-guest", "hostname": "probe-guest",
 "availability_zone": "nova", "launch_index": 0,
 "public_keys": {"probe": "$K384\n", "probe2": "$K25519"},
 "keys": [{"name": "probe", "type": "ssh", "data": "$K384\n"},
          {"name": "probe2", "type": "ssh", "data": "$K25519"}]}
EOF
printf '#!/bin/sh\necho user-data-ran-marker\n' >"$T/cfg/openstack/latest/user_data"
xorriso -as mkisofs -quiet -V config-2 -J -R -o "$T/cfg.iso" "$T/cfg" 2>/dev/null

# bigger than the image, as a flavor's root disk is: the guest grows into it
qemu-img create -q -f qcow2 -F qcow2 -b "$IMG" "$T/overlay.qcow2" 1G

# A second instance (new uuid) on the same disk, with a vfat config drive
# the way Nova makes one (mkfs.vfat -n config-2).
UUID2=0a9b8c7d-6e5f-4a3b-8c2d-1e0f9a8b7c6d
mkdir -p "$T/cfg2/openstack/latest"
cat >"$T/cfg2/openstack/latest/meta_data.json" <<EOF
{"uuid": "$UUID2", "name": "Probe VFAT", "hostname": "probe-vfat.example.test",
 "public_keys": {"probe2": "$K25519"}}
EOF
printf '#!/bin/sh\necho user-data-vfat-marker\n' >"$T/cfg2/openstack/latest/user_data"
mkfs.vfat -n config-2 -C "$T/cfg2.img" 1024 >/dev/null 2>&1
MTOOLS_SKIP_CHECK=1 mcopy -s -i "$T/cfg2.img" "$T/cfg2/openstack" ::/
qemu-img create -q -f qcow2 "$T/scratch.qcow2" 64M
BASE_SUM="$(sha256sum "$IMG" | cut -d' ' -f1)"

PORT="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' 2>/dev/null ||
        echo $((20000 + RANDOM % 20000)))"

boot() {   # boot N [CONFIG-DRIVE]: start QEMU on the overlay, serial to $T/serialN.log
    local n=$1 cfg=${2:-$T/cfg.iso}
    rm -f "$T/qmp.sock"
    qemu-system-x86_64 -accel tcg -m 128 -smp 1 -nodefaults -no-user-config -display none \
        -drive "file=$T/overlay.qcow2,if=virtio,format=qcow2" \
        -drive "file=$cfg,if=virtio,format=raw,readonly=on" \
        -drive "file=$T/scratch.qcow2,if=none,id=scratch,format=qcow2" \
        -device virtio-blk-pci,drive=scratch,serial=scratch-disk,addr=0x10 \
        -netdev "user,id=n0,restrict=on,hostfwd=tcp:127.0.0.1:$PORT-:22" \
        -device virtio-net-pci,netdev=n0,romfile=,addr=0x11 \
        -serial "file:$T/serial$n.log" \
        -qmp "unix:$T/qmp.sock,server=on,wait=off" \
        </dev/null >"$T/qemu$n.log" 2>&1 &
    QEMU_PID=$!
    BOOT_T0=$(now)
}
wait_ready() {   # wait_ready N: until the guest says ready; prints seconds
    local n=$1 deadline=$((SECONDS + READY_TIMEOUT))
    until grep -q '^martlet-guest: ready' "$T/serial$n.log" 2>/dev/null; do
        kill -0 "$QEMU_PID" 2>/dev/null || { cat "$T/qemu$n.log" "$T/serial$n.log" >&2; die "QEMU exited during boot $n"; }
        ((SECONDS < deadline)) || { cat "$T/serial$n.log" >&2; die "no 'martlet-guest: ready' within ${READY_TIMEOUT}s (boot $n)"; }
        sleep 0.2
    done
    since "$BOOT_T0"
}
SSH_OPTS=(-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o BatchMode=yes
          -o IdentitiesOnly=yes -o ConnectTimeout=10 -o LogLevel=ERROR -p "$PORT")
gssh() {   # gssh KEY COMMAND: run COMMAND in the guest as root
    local key=$1; shift
    ssh "${SSH_OPTS[@]}" -i "$key" root@127.0.0.1 "$@"
}
powerdown() {   # ACPI power button through QMP; sets PD_S to the seconds until QEMU exits
    local t0 deadline=$((SECONDS + POWEROFF_TIMEOUT))
    t0=$(now)
    PD_S=
    printf '%s\n' '{"execute":"qmp_capabilities"}' '{"execute":"system_powerdown"}' |
        socat -t 2 - "UNIX-CONNECT:$T/qmp.sock" >"$T/qmp.out"
    while kill -0 "$QEMU_PID" 2>/dev/null; do
        ((SECONDS < deadline)) || return 1
        sleep 0.2
    done
    wait "$QEMU_PID" 2>/dev/null || true
    QEMU_PID=
    PD_S=$(since "$t0")
}
stop_qemu() {   # the hard way, for a guest that would not power off
    kill "$QEMU_PID" 2>/dev/null || true
    wait "$QEMU_PID" 2>/dev/null || true
    QEMU_PID=
}
auth_methods() {   # what the server offers before any key: should be publickey only
    ssh -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o BatchMode=yes -o ConnectTimeout=10 \
        -o PreferredAuthentications=none -v -p "$PORT" root@127.0.0.1 true 2>&1 </dev/null |
        tr -d '\r' | sed -n 's/.*Authentications that can continue: //p' | head -1 || true
}
has() { grep -qE -- "$2" <<<"$1"; }   # has TEXT REGEX

# --- first boot ---------------------------------------------------------------------
boot 1
BOOT1_S=$(wait_ready 1)
log "boot 1: ready after ${BOOT1_S}s"
S1="$(tr -d '\r' <"$T/serial1.log")"
check "console: hostname line" has "$S1" '^martlet-guest: hostname probe-guest$'
check "console: user data ran, its output on the console" has "$S1" '^user-data-ran-marker$'
check "console: exactly one ready line" test "$(grep -c '^martlet-guest: ready' <<<"$S1")" = 1
check "console: root partition grown to the 1 GiB disk" has "$S1" '^martlet-guest: root filesystem grown to 991 MiB$'

OUT="$(gssh "$T/key384" 'hostname; lsblk -lb --nodeps; blkid -L config-2; curl --version; ip addr;
                         mkfs -t ext4 -h 2>&1 | head -1; touch /tmp/persist; sync' 2>&1)" ||
    { printf '%s\n' "$OUT" >&2; die "ssh with the ecdsa-sha2-nistp384 key failed"; }
ok "ssh as root with an ecdsa-sha2-nistp384 key"
printf '%s\n' "$OUT" >"$T/ssh1.out"
check "hostname is probe-guest" has "$OUT" '^probe-guest$'
check "lsblk -lb --nodeps lists vda/vdb/vdc as disks with byte sizes" \
    has "$(grep -E '^vd[abc] ' <<<"$OUT" | awk '$4 ~ /^[0-9]+$/ && $6 == "disk"' | wc -l)" '^3$'
check "blkid -L config-2 is the config drive" has "$OUT" '^/dev/vdb$'
check "curl is Debian's curl" has "$OUT" '^curl 7\.88\.1 .*libcurl'
check "ip addr shows the DHCP address" has "$OUT" 'inet 10\.0\.2\.15/24'

check "ssh as root with an ssh-ed25519 key" gssh "$T/key25519" true
AUTH="$(auth_methods)"
check "keys only: the server offers publickey and nothing else (${AUTH:-nothing})" test "$AUTH" = publickey

# What else the scenario tests lean on, in the guest's own /bin/sh.
OUT2="$(gssh "$T/key25519" '
    set -eu -o pipefail
    echo "mkfsver:$(mkfs.ext4 -V 2>&1 | head -1)"
    echo "sudo:$(sudo id -u)"
    echo "pipefail:$(sh -c "set -o pipefail; false | true" && echo no || echo yes)"
    echo "serial:$(cat /sys/block/vdc/serial)"
    echo "pidfile:$(kill -0 "$(cat /var/run/udhcpc.eth0.pid)" && echo alive)"
    echo "keys:$(stat -c %a /root/.ssh/authorized_keys)"
    echo "ping:$(ping -c 1 -w 5 127.0.0.1 >/dev/null && echo ok)"
    nc -l -k -p 7777 -e /bin/cat >/dev/null 2>&1 &
    ncpid=$!
    sleep 1
    echo "nc:$(echo hello-nc | nc -w 1 127.0.0.1 7777)"
    echo "nc2:$(echo again | nc -w 1 127.0.0.1 7777)"
    kill $ncpid
    echo "ncz:$(nc -z -w 2 127.0.0.1 22 && echo open)"
    echo "curl-refused:$(curl -s -o /dev/null -w "%{http_code}" http://127.0.0.1:9/ || true)"
    nc -l -p 8080 -c "timeout 1 cat >/tmp/req; printf \"HTTP/1.0 201 Created\r\n\r\nposted\"" >/dev/null 2>&1 &
    sleep 1
    echo "curlpost:$(curl -s -X POST -d a=b -o /tmp/resp -w "%{http_code}" http://127.0.0.1:8080/x) $(cat /tmp/resp)"
    echo "curlreq:$(head -1 /tmp/req | tr -d "\r") $(tail -c 3 /tmp/req)"
    echo "rootsize:$(df -m / | awk "NR == 2 {print \$2}")"
    sudo mkfs -t ext4 -q /dev/vdc
    mkdir -p /mnt/scratch && sudo mount /dev/vdc /mnt/scratch
    date >/mnt/scratch/stamp && sync
    echo "ext4:$(findmnt -n -o FSTYPE /mnt/scratch) $(test -s /mnt/scratch/stamp && echo written)"
    sudo umount /mnt/scratch
    sudo mkfs -t vfat /dev/vdc >/dev/null
    mount -t vfat /dev/vdc /mnt/scratch && echo "vfat:$(findmnt -n -o FSTYPE /mnt/scratch)" && umount /mnt/scratch
    mount -o ro "$(blkid -L config-2)" /mnt/scratch && echo "cfg:$(findmnt -n -o FSTYPE /mnt/scratch)" && umount /mnt/scratch
    echo "root:$(findmnt -n -o FSTYPE /) $(findmnt -n -o FSTYPE -T /tmp)"

    # the udhcpc script with what a Neutron DHCP server sends (QEMU restrict=on
    # offers no router and no DNS)
    env interface=eth0 ip=10.0.2.15 mask=24 broadcast=10.0.2.255 router=10.0.2.2 \
        dns="10.0.2.3 10.0.2.4" domain=example.test mtu=1450 /etc/udhcpc/default.script bound
    echo "dhcp-route:$(ip route show default)"
    echo "dhcp-mtu:$(cat /sys/class/net/eth0/mtu)"
    echo "dhcp-dns:$(grep -c ^nameserver /etc/resolv.conf) $(grep ^search /etc/resolv.conf)"
    env interface=eth0 ip=10.0.2.15 mask=24 router=10.0.2.2 \
        staticroutes="169.254.169.254/32 10.0.2.2 0.0.0.0/0 10.0.2.2" /etc/udhcpc/default.script renew
    echo "dhcp-121:$(ip route show 169.254.169.254)"

    # the metadata service client against a local stand-in on 169.254.169.254
    ip addr add 169.254.169.254/32 dev lo
    md=/tmp/md-os/openstack/latest
    mkdir -p $md /tmp/md-ec2/latest/meta-data/public-keys/0
    echo "{\"uuid\": \"u-1\", \"hostname\": \"md-host\"}" >$md/meta_data.json
    printf "#!/bin/sh\necho hi\n" >$md/user_data
    echo i-42 >/tmp/md-ec2/latest/meta-data/instance-id
    echo ec2-host >/tmp/md-ec2/latest/meta-data/hostname
    echo "ssh-ed25519 AAAAkey ec2" >/tmp/md-ec2/latest/meta-data/public-keys/0/openssh-key
    busybox httpd -f -p 169.254.169.254:80 -h /tmp/md-os &
    hpid=$!
    martlet-guest-metadata /tmp/out-os
    echo "md-os:$(jq -r .hostname /tmp/out-os/meta_data.json) $(head -c 2 /tmp/out-os/user_data)"
    kill $hpid
    wait $hpid || true
    busybox httpd -f -p 169.254.169.254:80 -h /tmp/md-ec2 &
    hpid=$!
    martlet-guest-metadata /tmp/out-ec2
    echo "md-ec2:$(jq -r "[.uuid, .hostname, .public_keys[\"0\"]] | join(\",\")" /tmp/out-ec2/meta_data.json) $(test -e /tmp/out-ec2/user_data || echo no-user-data)"
    kill $hpid
    ip addr del 169.254.169.254/32 dev lo
    echo "md-none:$(martlet-guest-metadata /tmp/out-none http://127.0.0.1:9 || echo absent)"
' 2>&1)" || { printf '%s\n' "$OUT2" >&2; bad "guest command batch exited non-zero"; }
printf '%s\n' "$OUT2" >"$T/ssh2.out"
check "mkfs.ext4 is e2fsprogs 1.47" has "$OUT2" '^mkfsver:mke2fs 1\.47'
check "sudo runs commands as root" has "$OUT2" '^sudo:0$'
check "/bin/sh honours set -o pipefail" has "$OUT2" '^pipefail:yes$'
check "/sys/block/<dev>/serial" has "$OUT2" '^serial:scratch-disk$'
check "udhcpc runs with /var/run/udhcpc.eth0.pid" has "$OUT2" '^pidfile:alive$'
check "authorized_keys is mode 600" has "$OUT2" '^keys:600$'
check "ping" has "$OUT2" '^ping:ok$'
check "nc -l -k -e serves, nc -w connects" has "$OUT2" '^nc:hello-nc$'
check "nc keeps listening (-k)" has "$OUT2" '^nc2:again$'
check "nc -z" has "$OUT2" '^ncz:open$'
check "curl: refused connection is http_code 000" has "$OUT2" '^curl-refused:000$'
check "curl -s -X POST -d -o -w %{http_code}" has "$OUT2" '^curlpost:201 posted$'
check "curl sent the POST body" has "$OUT2" '^curlreq:POST /x HTTP/1\.1 a=b$'
check "root filesystem grown online (df)" has "$OUT2" '^rootsize:9[0-9][0-9]$'
check "mkfs -t ext4, mount, write" has "$OUT2" '^ext4:ext4 written$'
check "mkfs -t vfat, mount" has "$OUT2" '^vfat:vfat$'
check "config drive mounts (iso9660)" has "$OUT2" '^cfg:iso9660$'
check "root and /tmp are on ext4" has "$OUT2" '^root:ext4 ext4$'
check "DHCP router option -> default route" has "$OUT2" '^dhcp-route:default via 10\.0\.2\.2 dev eth0 '
check "DHCP MTU option" has "$OUT2" '^dhcp-mtu:1450$'
check "DHCP DNS and domain -> /etc/resolv.conf" has "$OUT2" '^dhcp-dns:2 search example\.test$'
check "DHCP classless static routes (option 121)" has "$OUT2" '^dhcp-121:169\.254\.169\.254 via 10\.0\.2\.2 dev eth0'
check "metadata service: OpenStack meta_data.json and user_data" has "$OUT2" '^md-os:md-host #!$'
check "metadata service: EC2 tree only" has "$OUT2" '^md-ec2:i-42,ec2-host,ssh-ed25519 AAAAkey ec2 no-user-data$'
check "metadata service: absent is reported" has "$OUT2" '^md-none:absent$'

if powerdown; then PD1=$PD_S; ok "QMP system_powerdown: QEMU exited after ${PD1}s"
else bad "guest did not power off within ${POWEROFF_TIMEOUT}s"; stop_qemu; fi
check "the base image was not modified" test "$(sha256sum "$IMG" | cut -d' ' -f1)" = "$BASE_SUM"

# --- second boot: same disk ---------------------------------------------------------
boot 2
BOOT2_S=$(wait_ready 2)
log "boot 2: ready after ${BOOT2_S}s"
S2="$(tr -d '\r' <"$T/serial2.log")"
check "second boot: user data did not run again" bash -c "! grep -q '^user-data-ran-marker' '$T/serial2.log'"
check "second boot: hostname line again" has "$S2" '^martlet-guest: hostname probe-guest$'
check "/tmp/persist survived the power-off" has "$(gssh "$T/key384" 'test -f /tmp/persist && echo persisted' 2>&1)" '^persisted$'
gssh "$T/key384" 'reboot' >/dev/null 2>&1 || true
deadline=$((SECONDS + READY_TIMEOUT))
until [[ "$(grep -c '^martlet-guest: ready' "$T/serial2.log")" -ge 2 ]]; do
    ((SECONDS < deadline)) || break
    sleep 0.2
done
check "reboot from inside the guest comes back" test "$(grep -c '^martlet-guest: ready' "$T/serial2.log")" -ge 2
if powerdown; then ok "power-off after a reboot: QEMU exited after ${PD_S}s"
else bad "no power-off after a reboot"; stop_qemu; fi

# --- third boot: a new instance, vfat config drive ------------------------------
boot 3 "$T/cfg2.img"
BOOT3_S=$(wait_ready 3)
log "boot 3: ready after ${BOOT3_S}s"
S3="$(tr -d '\r' <"$T/serial3.log")"
hostkeys() { sed -n '/BEGIN SSH HOST KEY KEYS/,/END SSH HOST KEY KEYS/p' <<<"$1" | grep -v -- ----- | sort -u; }
check "new instance: vfat config drive read" has "$S3" '^martlet-guest: instance data from config drive /dev/vdb$'
check "new instance: hostname from hostname, domain dropped" has "$S3" '^martlet-guest: hostname probe-vfat$'
check "new instance: its user data ran" has "$S3" '^user-data-vfat-marker$'
check "new instance: new SSH host keys" test "$(hostkeys "$S1")" != "$(hostkeys "$S3")"
OUT3="$(gssh "$T/key25519" 'grep probe-vfat /etc/hosts' 2>&1)" || true
check "new instance: /etc/hosts has the FQDN" has "$OUT3" '127\.0\.1\.1.*probe-vfat\.example\.test probe-vfat'
if powerdown; then ok "power-off of the new instance: QEMU exited after ${PD_S}s"
else bad "the new instance did not power off"; stop_qemu; fi

log "timings: build ${BUILD_S}s (this run), cached build ${CACHED_S}s, boot-to-ready ${BOOT1_S}s / ${BOOT2_S}s / ${BOOT3_S}s (TCG, from QEMU start), power-off ${PD1:-?}s"
if ((FAILED)); then
    for f in ssh1.out ssh2.out serial1.log serial2.log serial3.log; do
        [[ -f $T/$f ]] && { printf -- '----- %s\n' "$f"; tr -d '\r' <"$T/$f"; } >&2
    done
fi
printf '%d passed, %d failed\n' "$PASSED" "$FAILED"
[[ $FAILED == 0 ]] || exit 1
