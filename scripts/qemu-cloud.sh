#!/usr/bin/env bash
# The real all-in-one cloud (root): `martlet serve --compute-driver qemu --network-backend linux --volume-driver file`,
# set up the first time as DevStack sets up its own:
#   - the test guest image (scripts/build-guest-image.sh) as the public image `martlet-guest`;
#   - an external network `public` (172.24.4.0/24) whose bridge has the host's address 172.24.4.1,
#     so the host reaches floating IPs; a network `private` (10.0.0.0/24) and a router `router1`
#     between them; the admin project's default security group open to SSH and ICMP; a key pair
#     `martlet-key` whose private key is in the data folder;
# then it prints the commands that boot a server, give it a floating IP and log into it.
#
#   bash scripts/qemu-cloud.sh --admin-password secret     # extra arguments go to `martlet serve`
#
# Guests' traffic stops at the host: nothing is routed from `public` to the host's other
# interfaces (an nftables rule drops it, whatever the host's ip_forward says) unless
# MARTLET_ROUTE_GUESTS_OUT=1 is set. The port is MARTLET_PORT (default 5000); MARTLET_BIN runs a
# given binary instead of building one.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
DATA_DIR="${MARTLET_DATA_DIR:-./martlet-data}"
PORT="${MARTLET_PORT:-5000}"
[[ "$(id -u)" == 0 ]] || { echo "qemu-cloud.sh: run as root (guests' taps, bridges, namespaces)" >&2; exit 1; }
bash scripts/prereqs.sh >/dev/null
image="$(bash scripts/build-guest-image.sh | tail -n 1)"
if [[ -n "${MARTLET_BIN:-}" ]]; then
    martlet="$MARTLET_BIN"
else
    swift build -c release --product martlet
    martlet="$(swift build -c release --show-bin-path)/martlet"
fi

"$martlet" serve --data-dir "$DATA_DIR" --port "$PORT" --compute-driver qemu --network-backend linux --volume-driver file "$@" &
server=$!
trap 'kill "$server" 2>/dev/null; wait "$server"' INT TERM
for _ in $(seq 1 150); do
    curl -fsS "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1 && break
    sleep 0.2
done
export OS_CLIENT_CONFIG_FILE="$DATA_DIR/clouds.yaml" OS_CLOUD=martlet
venv="${MARTLET_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/martlet/venv}"
os="$venv/bin/openstack"
[[ -x "$os" ]] || os=openstack
id_of() { "$os" "$@" -f value -c id 2>/dev/null || true; }

if [[ -z "$("$os" image list --name martlet-guest -f value -c ID)" ]]; then
    "$os" image create --public --disk-format qcow2 --container-format bare --file "$image" martlet-guest >/dev/null
    echo "uploaded the guest image as martlet-guest"
fi
public="$(id_of network show public)"
if [[ -z "$public" ]]; then
    public="$(id_of network create --external public)"
    "$os" subnet create --network public --subnet-range 172.24.4.0/24 --gateway 172.24.4.1 --no-dhcp public-subnet >/dev/null
    "$os" network create private >/dev/null
    "$os" subnet create --network private --subnet-range 10.0.0.0/24 private-subnet >/dev/null
    "$os" router create router1 >/dev/null
    "$os" router set --external-gateway public router1
    "$os" router add subnet router1 private-subnet
    "$os" security group rule create --protocol icmp default >/dev/null
    "$os" security group rule create --protocol tcp --dst-port 22 default >/dev/null
    "$os" keypair create --private-key "$DATA_DIR/martlet-key.pem" martlet-key >/dev/null
    chmod 600 "$DATA_DIR/martlet-key.pem"
    echo "made networks public and private, router1, key pair martlet-key; opened SSH and ICMP in the default group"
fi

# The host's side of `public`: its gateway address on the network's bridge, once the data plane has made it.
bridge="brq${public:0:11}"
for _ in $(seq 1 100); do [[ -e "/sys/class/net/$bridge" ]] && break; sleep 0.1; done
ip addr replace 172.24.4.1/24 dev "$bridge"
if [[ "${MARTLET_ROUTE_GUESTS_OUT:-0}" != 1 ]]; then
    # Routed by the host from `public` to anywhere else: dropped (what the bridge itself carries passes).
    nft -f - <<EOF
table inet martlet_all_in_one
delete table inet martlet_all_in_one
table inet martlet_all_in_one {
    chain forward {
        type filter hook forward priority -10; policy accept;
        iifname "$bridge" oifname != "$bridge" drop
    }
}
EOF
fi

cat <<EOF

The cloud is up on http://127.0.0.1:$PORT. In another shell:
    export OS_CLIENT_CONFIG_FILE=$DATA_DIR/clouds.yaml OS_CLOUD=martlet
    openstack server create --image martlet-guest --flavor m1.nano --network private --key-name martlet-key --wait demo
    openstack server add floating ip demo \$(openstack floating ip create public -f value -c floating_ip_address)
    ssh -i $DATA_DIR/martlet-key.pem root@<that floating IP>

EOF
wait "$server"
