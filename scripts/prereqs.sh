#!/usr/bin/env bash
# Installs what Martlet's test suite needs; safe to run again (it only does
# what is missing).
#
#   - Debian packages: PostgreSQL (server + client), python3-venv, wrk, curl, jq,
#     rclone, and qemu, qemu-img, genisoimage for the qemu driver, novnc for its consoles, dnsmasq,
#     nftables and radvd for the linux data plane
#   - a Python virtualenv OUTSIDE the repository, at
#       ${MARTLET_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/martlet/venv}
#     with python-openstackclient, openstacksdk, pytest (+ pytest-timeout), and the
#     object storage clients: python-swiftclient (+ python-keystoneclient), boto3, awscli,
#     and websocket-client for the console checks
#
# Prints the venv's path as the last line of output on success; quiet
# otherwise (errors are shown).  Environment:
#   MARTLET_VENV      where the virtualenv lives (default above)
#   MARTLET_PYTHON    interpreter the venv is made from (default: Debian's
#                     /usr/bin/python3 when present, else python3 on PATH)
#   MARTLET_SKIP_APT  =1 to skip the Debian packages step
set -euo pipefail

log() { printf '[prereqs] %s\n' "$*" >&2; }
die() { printf '[prereqs] ERROR: %s\n' "$*" >&2; exit 1; }

# --- Debian packages ---------------------------------------------------------
APT_PACKAGES=(
    postgresql          # server binaries: initdb, pg_ctl, postgres (scripts/with-postgres.sh)
    postgresql-client   # psql (resets the acceptance database, smoke checks)
    python3-venv        # the virtualenv for the real OpenStack clients
    python3-pip
    wrk                 # HTTP load generator (bench/)
    curl
    jq
    rclone              # Object Storage scenarios: sync to Swift and S3 remotes
    ca-certificates
    util-linux          # runuser: initdb refuses to run as root
    procps
    qemu-system-x86     # the qemu hypervisor driver runs servers as qemu processes
    qemu-utils          # qemu-img: image cache, overlays, snapshots
    genisoimage         # config drives (ISO 9660, label config-2)
    iproute2            # ip tuntap: the servers' tap devices
    novnc               # the noVNC page the console proxy serves
    dnsmasq-base        # DHCP of the linux data plane (the binary, without Debian's system service)
    nftables            # security groups and anti-spoofing of the linux data plane
    radvd               # IPv6 router advertisements of the linux data plane's routers (SLAAC, DHCPv6 flags)
    chromium            # the dashboard's browser tests drive a real, headless Chromium
    chromium-driver     # chromedriver, which Selenium drives it through (no browser is downloaded)
    iputils-ping        # the data-plane tests ping between namespaces
    busybox             # udhcpc: the data-plane tests ask dnsmasq for a lease as a guest would
    isc-dhcp-client     # dhclient -6: the data-plane tests ask dnsmasq for a DHCPv6 lease as a guest would
    iperf3              # bench/dataplane.sh: TCP throughput through a router
)

if [[ "${MARTLET_SKIP_APT:-0}" != 1 ]]; then
    missing=()
    for p in "${APT_PACKAGES[@]}"; do
        # "install ok installed" is the only state that counts as present.
        if [[ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)" != "install ok installed" ]]; then
            missing+=("$p")
        fi
    done
    if ((${#missing[@]})); then
        command -v apt-get >/dev/null || die "apt-get not found; install by hand: ${missing[*]}"
        SUDO=()
        if [[ "$(id -u)" != 0 ]]; then
            command -v sudo >/dev/null || die "not root and no sudo; install by hand: ${missing[*]}"
            SUDO=(sudo -n)
        fi
        log "installing Debian packages: ${missing[*]}"
        export DEBIAN_FRONTEND=noninteractive
        aptlog="$(mktemp)"
        if ! "${SUDO[@]}" apt-get update -q </dev/null >"$aptlog" 2>&1; then
            cat "$aptlog" >&2; rm -f "$aptlog"; die "apt-get update failed"
        fi
        # (Debian's postgresql package may create a "main" cluster on port
        # 5432; the tests never use it: scripts/with-postgres.sh starts a
        # private cluster on a free port.)
        if ! "${SUDO[@]}" apt-get install -y -q --no-install-recommends \
                -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
                "${missing[@]}" </dev/null >"$aptlog" 2>&1; then
            cat "$aptlog" >&2; rm -f "$aptlog"; die "apt-get install failed"
        fi
        rm -f "$aptlog"
    fi
fi

ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 \
    || die "PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin"

# --- Python virtualenv with the real OpenStack clients ------------------------
VENV="${MARTLET_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/martlet/venv}"
PY_PACKAGES=(python-openstackclient openstacksdk requests PyYAML pytest pytest-timeout
             python-swiftclient python-keystoneclient boto3 awscli
             websocket-client selenium)

if [[ -n "${MARTLET_PYTHON:-}" ]]; then
    PYTHON="$MARTLET_PYTHON"
elif [[ -x /usr/bin/python3 ]]; then
    PYTHON=/usr/bin/python3
else
    PYTHON="$(command -v python3)" || die "python3 not found"
fi

# The stamp records what the venv was built from; a change rebuilds it.
want_stamp="$("$PYTHON" -c 'import sys; print(sys.version.split()[0])') ${PYTHON} ${PY_PACKAGES[*]}"
stamp="$VENV/.martlet-stamp"

venv_ok() {
    [[ -f "$stamp" && "$(cat "$stamp")" == "$want_stamp" ]] || return 1
    [[ -x "$VENV/bin/python" && -x "$VENV/bin/openstack" && -x "$VENV/bin/pytest" ]] || return 1
    [[ -x "$VENV/bin/swift" && -x "$VENV/bin/aws" ]] || return 1
    "$VENV/bin/python" -c 'import openstack, openstackclient, pytest, requests, yaml, swiftclient, keystoneclient, boto3' 2>/dev/null
}

if ! venv_ok; then
    log "creating virtualenv at $VENV (python-openstackclient, openstacksdk, pytest, swiftclient, boto3, awscli)"
    rm -rf "$VENV"
    mkdir -p "$(dirname "$VENV")"
    "$PYTHON" -m venv "$VENV" || die "could not create the virtualenv with $PYTHON"
    export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1
    piplog="$(mktemp)"
    if ! { "$VENV/bin/python" -m pip install -q --upgrade pip setuptools wheel &&
           "$VENV/bin/python" -m pip install -q "${PY_PACKAGES[@]}"; } >"$piplog" 2>&1; then
        cat "$piplog" >&2; rm -f "$piplog"; die "pip install into $VENV failed"
    fi
    rm -f "$piplog"
    printf '%s' "$want_stamp" >"$stamp"
    venv_ok || die "virtualenv at $VENV is incomplete after installing"
fi

echo "$VENV"
