#!/usr/bin/env bash
# An all-in-one cloud that runs real servers: `martlet serve --compute-driver qemu`, with the test
# guest image (scripts/build-guest-image.sh) in the Image service as the public image
# `martlet-guest` once the cloud is up. Extra arguments go to `martlet serve`.
#
#   bash scripts/qemu-cloud.sh --admin-password secret
#
# The port is MARTLET_PORT (default 5000). Needs root (servers' taps) and qemu (scripts/prereqs.sh installs it). Guests' networks come with
# the Linux data plane; until then a server's tap is not attached to anything.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
DATA_DIR="${MARTLET_DATA_DIR:-./martlet-data}"
bash scripts/prereqs.sh >/dev/null
image="$(bash scripts/build-guest-image.sh | tail -n 1)"
swift build -c release --product martlet
martlet="$(swift build -c release --show-bin-path)/martlet"

"$martlet" serve --data-dir "$DATA_DIR" --compute-driver qemu "$@" &
server=$!
trap 'kill "$server" 2>/dev/null; wait "$server"' INT TERM
for _ in $(seq 1 100); do
    curl -fsS "http://127.0.0.1:${MARTLET_PORT:-5000}/healthz" >/dev/null 2>&1 && break
    sleep 0.2
done
export OS_CLIENT_CONFIG_FILE="$DATA_DIR/clouds.yaml" OS_CLOUD=martlet
venv="${MARTLET_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/martlet/venv}"
openstack="$venv/bin/openstack"
[[ -x "$openstack" ]] || openstack=openstack
if [[ -f "$OS_CLIENT_CONFIG_FILE" ]] && [[ -z "$("$openstack" image list --name martlet-guest -f value -c ID)" ]]; then
    "$openstack" image create --public --disk-format qcow2 --container-format bare --file "$image" martlet-guest >/dev/null
    echo "uploaded the guest image as martlet-guest"
fi
wait "$server"
