#!/usr/bin/env bash
# Builds Martlet's test guest: a small self-booting qcow2 (BIOS, syslinux on a
# FAT boot partition, ext4 root as the last partition) made only from Debian
# packages plus the files under guest/.  It stands in for cirros in the
# tempest-style scenario tests (config drive / metadata service, SSH keys,
# user data, DHCP, ACPI power-off).
#
#   bash scripts/build-guest-image.sh [OUT]
#
# OUT defaults to ${MARTLET_CACHE:-$HOME/.cache/martlet}/guest/martlet-guest.qcow2.
# The image is cached under a key hashed from this script, guest/ and the exact
# .deb files used, so a second run with the same inputs returns at once.
# Prints the image path as the last line of stdout; progress goes to stderr.
#
# Works as root without loop mounts or udev (CI); installs its own host tools.
set -euo pipefail

log() { printf '[guest-image] %s\n' "$*" >&2; }
die() { printf '[guest-image] ERROR: %s\n' "$*" >&2; exit 1; }

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
SELF="$HERE/$(basename "${BASH_SOURCE[0]}")"
GUEST="$(cd "$HERE/../guest" && pwd)"
CACHE="${MARTLET_CACHE:-$HOME/.cache/martlet}/guest"
DEFAULT_OUT="$CACHE/martlet-guest.qcow2"
OUT="${1:-$DEFAULT_OUT}"
KERNEL_META=linux-image-cloud-amd64
ARCH_LIBDIR=usr/lib/x86_64-linux-gnu

# Partition layout (MiB).  The virtual disk stays small (fits a 1 GB flavor);
# the guest grows its root partition to the disk it is given.
BOOT_START_MIB=1
BOOT_MIB=32
DISK_MIB=256

# Only the image path goes to stdout; every tool's chatter goes to stderr.
exec 3>&1 1>&2
export DEBIAN_FRONTEND=noninteractive
export LC_ALL=C

# --- host tools ---------------------------------------------------------------
# command -> Debian package that provides it
declare -A HOST_TOOLS=(
    [dpkg-deb]=dpkg [apt-get]=apt [sha256sum]=coreutils [flock]=util-linux
    [mkfs.ext4]=e2fsprogs [sfdisk]=fdisk [mkfs.vfat]=dosfstools
    [mcopy]=mtools [syslinux]=syslinux [qemu-img]=qemu-utils
    [cpio]=cpio [gzip]=gzip [readelf]=binutils [depmod]=kmod [ldconfig]=libc-bin
)
need=()
for tool in "${!HOST_TOOLS[@]}"; do
    command -v "$tool" >/dev/null 2>&1 || PATH="$PATH:/sbin:/usr/sbin" command -v "$tool" >/dev/null 2>&1 \
        || need+=("${HOST_TOOLS[$tool]}")
done
# mbr.bin is data, not a command
MBR_BIN=/usr/lib/syslinux/mbr/mbr.bin
[[ -f $MBR_BIN ]] || need+=(syslinux-common)
if ((${#need[@]})); then
    mapfile -t need < <(printf '%s\n' "${need[@]}" | sort -u)
    [[ $(id -u) == 0 ]] || die "missing host packages (need root to install): ${need[*]}"
    log "installing host packages: ${need[*]}"
    apt-get install -y --no-install-recommends "${need[@]}" >/dev/null 2>&1 || {
        apt-get update -qq >/dev/null
        apt-get install -y --no-install-recommends "${need[@]}" >/dev/null
    }
fi
export PATH="$PATH:/sbin:/usr/sbin"

mkdir -p "$CACHE/debs"
exec 9>"$CACHE/.lock"
flock 9     # one build at a time per cache

W="$(mktemp -d "${TMPDIR:-/tmp}/martlet-guest.XXXXXX")"
# MARTLET_GUEST_KEEP_WORK=1 keeps the work tree (staging, rootfs) for a look
if [[ ${MARTLET_GUEST_KEEP_WORK:-0} == 1 ]]; then
    trap 'log "work tree kept: $W"' EXIT
else
    trap 'rm -rf "$W"' EXIT
fi

emit() {   # copy the cached image to OUT if needed and print its path
    if [[ $OUT != "$DEFAULT_OUT" ]]; then
        mkdir -p "$(dirname "$OUT")"
        cp --reflink=auto "$DEFAULT_OUT" "$OUT.tmp.$$" && mv -f "$OUT.tmp.$$" "$OUT"
    fi
    printf '%s\n' "$OUT" >&3
}
own_inputs() {   # this script and guest/, contents and exec bits
    sha256sum "$SELF" | cut -d' ' -f1
    (cd "$GUEST" && find . -type f -print0 | sort -z | xargs -0 sha256sum
     find . -type f -perm -u+x | sort)
}

# Fast path: with the same script, guest/ and apt state (package lists,
# sources, pinning) the resolved .debs cannot differ, so skip asking apt.
APT_STATE="$( { own_inputs; printf '%s\n' "$KERNEL_META"
                find /var/lib/apt/lists -maxdepth 1 -type f -printf '%f %s %T@\n'
                find /etc/apt -type f -printf '%p %s %T@\n'; } | sort | sha256sum | cut -c1-32)"
if [[ -f $DEFAULT_OUT && -f $DEFAULT_OUT.key && "$(cat "$DEFAULT_OUT.inputs" 2>/dev/null)" == "$APT_STATE" ]]; then
    log "cached ($(cat "$DEFAULT_OUT.key"))"
    emit
    exit 0
fi

# --- which packages, which versions -------------------------------------------
mapfile -t MANIFEST < <(sed -e 's/#.*//' -e '/^[[:space:]]*$/d' "$GUEST/packages.list")
SEEDS=()
for line in "${MANIFEST[@]}"; do read -r p _ <<<"$line"; SEEDS+=("$p"); done

# One recursive apt-cache walk gives the dependency graph; from it take the
# seeds, the versioned kernel behind $KERNEL_META, and the library packages
# reachable through library packages only (Depends/PreDepends, first
# alternative).  The readelf pass below keeps only what is really linked.
resolve() {
    apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts --no-breaks \
        --no-replaces --no-enhances "${SEEDS[@]}" busybox-static libc6 "$KERNEL_META" 2>/dev/null |
    awk -v seeds="${SEEDS[*]} busybox-static libc6" -v meta="$KERNEL_META" '
        /^[^ ]/ { pkg = $1; skip = 0; next }
        /^ *\|?(Pre)?Depends:/ {
            alt = skip; skip = ($1 ~ /^\|/)
            if (alt || $2 ~ /^</) next
            dep = $2; sub(/:.*/, "", dep); deps[pkg] = deps[pkg] " " dep
        }
        END {
            n = split(deps[meta], k, " ")
            for (i = 1; i <= n; i++) if (k[i] ~ /^linux-image-[0-9]/) { print "kernel", k[i]; break }
            m = split(seeds, sd, " "); n = 0
            for (i = 1; i <= m; i++) if (!seen[sd[i]]++) q[++n] = sd[i]
            for (h = 1; h <= n; h++) {
                print "pkg", q[h]
                m = split(deps[q[h]], dl, " ")
                for (j = 1; j <= m; j++)
                    if ((dl[j] ~ /^lib/ || dl[j] == "zlib1g") && !seen[dl[j]]) { seen[dl[j]] = 1; q[++n] = dl[j] }
            }
        }'
}
[[ $(id -u) == 0 ]] || die "run as root: files in the image keep the owners the packages give them"
RESOLVED="$(resolve)" || true
if ! grep -q '^kernel ' <<<"$RESOLVED"; then   # no or stale package lists
    log "apt-get update"
    apt-get update -qq >/dev/null
    RESOLVED="$(resolve)" || die "apt-cache cannot resolve: ${SEEDS[*]} $KERNEL_META"
fi
KPKG="$(awk '$1 == "kernel" {print $2}' <<<"$RESOLVED")"
[[ -n $KPKG ]] || die "cannot resolve $KERNEL_META to a versioned kernel package"
KVER="${KPKG#linux-image-}"
mapfile -t ALL < <(awk '$1 == "pkg" {print $2}' <<<"$RESOLVED")
ALL+=("$KPKG")

# apt prints URI, file name, size and SHA256 for each .deb: an exact input list.
(cd "$W" && apt-get -o APT::Sandbox::User=root download --print-uris "${ALL[@]}") >"$W/uris" \
    || die "apt-get download --print-uris failed"
awk '{print $2, $4}' "$W/uris" | sort -u >"$W/debs.lock"

# The cache key: this script, guest/, and the exact .debs.
KEY="$( { own_inputs; cat "$W/debs.lock"; } | sha256sum | cut -c1-32)"
if [[ -f $DEFAULT_OUT && "$(cat "$DEFAULT_OUT.key" 2>/dev/null)" == "$KEY" ]]; then
    log "cached ($KEY)"
    printf '%s\n' "$APT_STATE" >"$DEFAULT_OUT.inputs"
    emit
    exit 0
fi
log "building (key $KEY, kernel $KVER, ${#ALL[@]} packages)"

# --- fetch and unpack ----------------------------------------------------------
missing=()
while read -r file _; do
    [[ -f $CACHE/debs/$file ]] || missing+=("$file")
done <"$W/debs.lock"
if ((${#missing[@]})); then
    log "downloading ${#missing[@]} packages"
    if ! (cd "$CACHE/debs" && apt-get -o APT::Sandbox::User=root download "${ALL[@]}" >/dev/null 2>&1); then
        # stale package lists name versions the mirror no longer has
        [[ -z ${MARTLET_GUEST_RETRIED:-} ]] || die "apt-get download failed: ${missing[*]}"
        log "download failed; apt-get update and start over"
        apt-get update -qq >/dev/null
        rm -rf "$W"
        MARTLET_GUEST_RETRIED=1 exec bash "$SELF" "$@" 1>&3 3>&- 9>&-
    fi
fi
while read -r file sum; do   # verify, and drop debs no longer used
    [[ "$(sha256sum "$CACHE/debs/$file" | cut -d' ' -f1)" == "${sum#SHA256:}" ]] \
        || { rm -f "$CACHE/debs/$file"; die "checksum mismatch: $file (removed; run again)"; }
done <"$W/debs.lock"
find "$CACHE/debs" -name '*.deb' -printf '%f\n' | sort | comm -23 - <(cut -d' ' -f1 "$W/debs.lock") |
    while read -r stale; do rm -f "$CACHE/debs/$stale"; done

STAGE="$W/stage"
mkdir -p "$STAGE"
while read -r file _; do
    pkg="${file%%_*}"
    mkdir -p "$STAGE/$pkg"
    dpkg-deb -x "$CACHE/debs/$file" "$STAGE/$pkg" &
done <"$W/debs.lock"
wait

# --- root filesystem -------------------------------------------------------------
R="$W/root"
mkdir -p "$R"/{usr/bin,usr/sbin,usr/lib64,$ARCH_LIBDIR,etc,dev,proc,sys,run,tmp,mnt,root,home,var/lib,var/log,var/tmp,media}
for d in bin sbin lib lib64; do ln -s "usr/$d" "$R/$d"; done
ln -s ../run "$R/var/run"
ln -s ../run/lock "$R/var/lock"
chmod 1777 "$R/tmp" "$R/var/tmp"
chmod 700 "$R/root"

# Debian paths onto a merged-/usr tree (the layout bookworm systems have).
dest_of() {
    case $1 in
        bin/*|sbin/*|lib/*|lib64/*) printf 'usr/%s' "$1" ;;
        *) printf '%s' "$1" ;;
    esac
}
take() {   # take PKG PATH: copy one path (file, symlink or directory) of a package
    local pkg=$1 path=${2#./} src dst
    src="$STAGE/$pkg/$path"
    [[ -e $src || -L $src ]] || die "$pkg has no $path"
    dst="$R/$(dest_of "$path")"
    if [[ -d $src && ! -L $src ]]; then
        mkdir -p "$dst" && cp -a "$src/." "$dst/"
    else
        mkdir -p "$(dirname "$dst")" && cp -a "$src" "$dst"
    fi
}
for line in "${MANIFEST[@]}"; do
    read -r pkg paths <<<"$line"
    if [[ $paths == '*' ]]; then
        for top in "$STAGE/$pkg"/*; do
            top=${top##*/}
            [[ $top == usr ]] || take "$pkg" "$top"
        done
        [[ -d $STAGE/$pkg/usr ]] && for sub in "$STAGE/$pkg"/usr/*; do
            sub=${sub##*/}
            [[ $sub == share ]] || take "$pkg" "usr/$sub"
        done
    else
        for p in $paths; do take "$pkg" "$p"; done
    fi
done
rm -rf "$R/etc/init.d" "$R/usr/lib/systemd" "$R/usr/include"

# busybox provides whatever the real tools above do not (asked through the
# packaged dynamic loader, so the host's libc plays no part)
LIBC_DIR="$STAGE/libc6/lib/x86_64-linux-gnu"
"$LIBC_DIR/ld-linux-x86-64.so.2" --library-path "$LIBC_DIR" "$STAGE/busybox/bin/busybox" --list-full |
while read -r applet; do
    dst="$R/$(dest_of "$applet")"
    [[ -e $dst || -L $dst ]] && continue
    mkdir -p "$(dirname "$dst")"
    ln -s /usr/bin/busybox "$dst"
done

# Shared libraries: resolve NEEDED sonames against the unpacked packages until
# nothing is missing.  Fails the build on a soname no package provides.
# Indexed by the SONAME each library file declares, so no symlink in a
# package is followed (some are absolute and would point into the host).
declare -A LIBSRC=()
while read -r so f; do
    LIBSRC[$so]=${LIBSRC[$so]:-$f}
done < <(find "$STAGE" -maxdepth 5 -path '*/lib/x86_64-linux-gnu/*' -name '*.so*' -type f -print0 |
         sort -z | xargs -0 readelf -d 2>/dev/null |
         awk '/^File: / {f = $2} /\(SONAME\)/ {s = $NF; gsub(/[][]/, "", s); print s, f}')
needed_of() {   # sonames the ELF files given need (non-ELF files are skipped)
    readelf -d "$@" 2>/dev/null | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | sort -u
}
have_lib() { [[ -e $R/$ARCH_LIBDIR/$1 ]] || [[ -n "$(find "$R/usr/libexec" -name "$1" 2>/dev/null)" ]]; }
mapfile -t todo < <(find "$R" -xtype f \( -perm -u+x -o -name '*.so*' \) ! -type l)
while ((${#todo[@]})); do
    new=()
    while read -r so; do
        have_lib "$so" && continue
        src=${LIBSRC[$so]:-}
        [[ -n $src ]] || die "no package provides $so"
        cp -L "$src" "$R/$ARCH_LIBDIR/$so"
        new+=("$R/$ARCH_LIBDIR/$so")
    done < <(needed_of "${todo[@]}")
    todo=("${new[@]}")
done
ln -s ../lib/x86_64-linux-gnu/ld-linux-x86-64.so.2 "$R/usr/lib64/ld-linux-x86-64.so.2"

# Kernel modules: the listed ones plus their dependencies, in load order.
KSTAGE="$STAGE/$KPKG"
[[ -d $KSTAGE/lib/modules/$KVER ]] || die "kernel $KVER has no modules directory"
depmod -b "$KSTAGE" "$KVER"
declare -A MODPATH=() MODDEPS=() MODDONE=()
while IFS=: read -r path deps; do
    name=${path##*/}; name=${name%.ko}; name=${name//-/_}
    MODPATH[$name]=$path
    MODDEPS[$name]=$deps
done <"$KSTAGE/lib/modules/$KVER/modules.dep"
MODORDER=()
visit_mod() {
    local name=${1//-/_} d
    [[ -n ${MODDONE[$name]:-} ]] && return
    MODDONE[$name]=1
    [[ -n ${MODPATH[$name]:-} ]] || {
        grep -q "/$1.ko\$\|/${name}.ko\$" "$KSTAGE/lib/modules/$KVER/modules.builtin" && return
        die "kernel $KVER has no module $1"
    }
    for d in ${MODDEPS[$name]}; do d=${d##*/}; visit_mod "${d%.ko}"; done
    MODORDER+=("${MODPATH[$name]}")
}
while read -r m; do visit_mod "$m"; done < <(sed -e 's/#.*//' -e '/^[[:space:]]*$/d' "$GUEST/modules.list")
KMODS="$R/usr/lib/modules/$KVER"
mkdir -p "$KMODS"
for p in "${MODORDER[@]}"; do
    mkdir -p "$KMODS/$(dirname "$p")"
    cp "$KSTAGE/lib/modules/$KVER/$p" "$KMODS/$p"
done
cp "$KSTAGE/lib/modules/$KVER"/modules.{builtin,builtin.modinfo,order} "$KMODS/"
depmod -b "$R" "$KVER"

# The guest's own files, owned by root; modes git does not keep are set here.
cp -R --remove-destination --preserve=mode,timestamps,links "$GUEST/rootfs/." "$R/"
chmod 0440 "$R/etc/sudoers"
chmod 0600 "$R/etc/shadow"
chmod 0755 "$R"/etc/init.d/* "$R"/usr/sbin/martlet-* "$R/usr/bin/nc" "$R/etc/udhcpc/default.script" \
    "$R/etc/acpi/PWRF/00000080"
mkdir -p "$R/etc/dropbear" "$R/etc/sudoers.d" "$R/var/lib/martlet-guest"
ln -sf ../proc/self/mounts "$R/etc/mtab"
printf 'BUILD_ID=%s\n' "$KEY" >>"$R/etc/os-release"
ldconfig -r "$R"

# --- initramfs: static busybox + the modules, then switch_root ------------------
I="$W/initramfs"
mkdir -p "$I"/{bin,dev,proc,sys,newroot,etc,lib/modules}
cp "$STAGE/busybox-static/bin/busybox" "$I/bin/busybox"
ln -s busybox "$I/bin/sh"
cp "$GUEST/initramfs/init" "$I/init"
chmod 0755 "$I/init"
for p in "${MODORDER[@]}"; do
    cp "$KSTAGE/lib/modules/$KVER/$p" "$I/lib/modules/${p##*/}"
    printf '%s\n' "${p##*/}" >>"$I/etc/modules"
done
(cd "$I" && find . -print0 | sort -z | cpio --null -o -H newc --owner=0:0 --quiet) | gzip -9 >"$W/initrd.img"

# --- disk ----------------------------------------------------------------------------
ROOT_UUID="$(printf '%s' "$KEY" | sed -E 's/^(.{8})(.{4})(.{4})(.{4})(.{12}).*/\1-\2-\3-\4-\5/')"
ROOT_START_MIB=$((BOOT_START_MIB + BOOT_MIB))
ROOT_MIB=$((DISK_MIB - ROOT_START_MIB))

# FAT boot partition with syslinux; hidden sectors = its offset so the boot
# sector finds ldlinux.sys once it sits inside the disk.
sed -e "s/@ROOT_UUID@/$ROOT_UUID/g" "$GUEST/syslinux.cfg" >"$W/syslinux.cfg"
mkfs.vfat -F 16 -n MARTLETBOOT -h $((BOOT_START_MIB * 2048)) -C "$W/boot.img" $((BOOT_MIB * 1024)) >/dev/null
export MTOOLS_SKIP_CHECK=1
mcopy -i "$W/boot.img" "$KSTAGE/boot/vmlinuz-$KVER" ::/vmlinuz
mcopy -i "$W/boot.img" "$W/initrd.img" ::/initrd.img
mcopy -i "$W/boot.img" "$W/syslinux.cfg" ::/syslinux.cfg
syslinux --install "$W/boot.img"

mkfs.ext4 -q -F -L martlet-root -U "$ROOT_UUID" -b 4096 -m 1 -d "$R" \
    -E lazy_itable_init=0,lazy_journal_init=0 "$W/root.img" "${ROOT_MIB}M"

truncate -s "${DISK_MIB}M" "$W/disk.raw"
sfdisk -q --no-reread --no-tell-kernel "$W/disk.raw" <<EOF
label: dos
start=$((BOOT_START_MIB * 2048)), size=$((BOOT_MIB * 2048)), type=6, bootable
start=$((ROOT_START_MIB * 2048)), type=83
EOF
dd if="$MBR_BIN" of="$W/disk.raw" bs=440 count=1 conv=notrunc status=none
dd if="$W/boot.img" of="$W/disk.raw" bs=1M seek=$BOOT_START_MIB conv=notrunc,sparse status=none
dd if="$W/root.img" of="$W/disk.raw" bs=1M seek=$ROOT_START_MIB conv=notrunc,sparse status=none

mkdir -p "$CACHE"
qemu-img convert -c -f raw -O qcow2 -o compat=1.1 "$W/disk.raw" "$DEFAULT_OUT.tmp.$$"
rm -f "$DEFAULT_OUT.key" "$DEFAULT_OUT.inputs"
mv -f "$DEFAULT_OUT.tmp.$$" "$DEFAULT_OUT"
printf '%s\n' "$KEY" >"$DEFAULT_OUT.key"
printf '%s\n' "$APT_STATE" >"$DEFAULT_OUT.inputs"
log "built $(du -h "$DEFAULT_OUT" | cut -f1) image (rootfs $(du -sh "$R" | cut -f1), initramfs $(du -h "$W/initrd.img" | cut -f1))"
emit
