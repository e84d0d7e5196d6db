#!/usr/bin/env bash
# The real drivers' stage of the test suite (scripts/test.sh runs it after the build):
#
#   1. scripts/build-guest-image.sh   the test guest image (cached)
#   2. swift test --filter 'QemuDriverTests|LinuxNetworkTests'   the qemu driver against real qemu,
#                                     qemu-img and taps; the linux data plane against real bridges
#   3. pytest Tests/acceptance/test_qemu.py  `martlet serve --compute-driver qemu --network-backend
#                                            linux` and real guests driven by the openstack CLI
#
# Steps 2 and 3 run inside a network namespace made here and deleted on exit: the taps, the
# guests and Martlet itself see only that namespace's loopback, so no packet of a guest can
# leave it. Usage: scripts/test-qemu.sh VENV
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
VENV="${1:?usage: scripts/test-qemu.sh VENV}"
# The venv's `swift` is python-swiftclient's: the toolchain's must come first here.
PATH="${PATH//"$VENV/bin:"/}"

image="$(bash scripts/build-guest-image.sh | tail -n 1)"
[[ -f "$image" ]] || { echo "guest image build printed no image path" >&2; exit 1; }

netns="martlet-test-$$"
cleanup() {
    # Any qemu a failed test left behind runs with a folder of this run on its command line.
    pkill -9 -f "qemu-system.*(martlet-qemu-|qemu-cloud)" 2>/dev/null || true
    ip netns delete "$netns" 2>/dev/null || true
}
trap cleanup EXIT
# The data plane's namespaces are named ones (ip netns), visible outside the run's namespace:
# every one the run makes must be gone when it ends.
data_plane_namespaces() { ip netns list 2>/dev/null | awk '{ print $1 }' | grep -E '^(qdhcp|qrouter)-' | sort || true; }
namespaces_before="$(data_plane_namespaces)"
# And so must its daemons (dnsmasq, radvd), which run with a folder of the data plane's on their command line.
data_plane_daemons() { pgrep -f '^(dnsmasq|radvd) .*martlet' | sort || true; }
daemons_before="$(data_plane_daemons)"
ip netns add "$netns"
ip -n "$netns" link set lo up
in_netns() { ip netns exec "$netns" "$@"; }

MARTLET_BIN="${MARTLET_BIN:-$(swift build ${SWIFT_BUILD_FLAGS:-} --show-bin-path)/martlet}"
status=0
echo "--- swift test --filter 'QemuDriverTests|LinuxNetworkTests'"
in_netns env MARTLET_QEMU_TESTS=1 MARTLET_NETWORK_TESTS=1 swift test ${SWIFT_BUILD_FLAGS:-} --skip-build \
    --filter 'QemuDriverTests|LinuxNetworkTests' || status=1
echo "--- pytest Tests/acceptance/test_qemu.py (guest image $image)"
in_netns env MARTLET_QEMU_ACCEPTANCE=1 MARTLET_GUEST_IMAGE="$image" MARTLET_BIN="$MARTLET_BIN" \
    PATH="$VENV/bin:$PATH" "$VENV/bin/python" -m pytest Tests/acceptance/test_qemu.py -v -ra -p no:cacheprovider \
    ${PYTEST_FLAGS:-} || status=1
leaked="$(comm -13 <(echo "$namespaces_before") <(data_plane_namespaces))"
if [[ -n "$leaked" ]]; then
    echo "--- FAILED: the run left these namespaces behind:"; echo "$leaked"
    for n in $leaked; do ip netns delete "$n" 2>/dev/null || true; done
    status=1
fi
leaked="$(comm -13 <(echo "$daemons_before") <(data_plane_daemons))"
if [[ -n "$leaked" ]]; then
    echo "--- FAILED: the run left these daemons running:"; ps -o pid,args -p "$(echo $leaked | tr ' ' ,)" || true
    kill $leaked 2>/dev/null || true
    status=1
fi
exit "$status"
