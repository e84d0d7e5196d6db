#!/usr/bin/env bash
# bench/dataplane.sh - the linux data plane's costs: a port's way to ACTIVE as ports accumulate,
# a security-group rule change on a group with many members, what a network costs in processes
# and memory, and the path a guest's traffic takes: ping RTT and TCP throughput (iperf3) from an
# upstream namespace to a guest namespace's floating IP through a Martlet router, side by side
# with two namespaces joined by a bare veth pair (the ceiling).
#
#   bash bench/dataplane.sh [MARTLET_BINARY]     # default .build/release/martlet, else .build/debug/martlet
#   BENCH_PORTS=1000 BENCH_RULE_CHANGES=10       # the defaults
#
# Runs as root, everything in a network namespace made for the run and deleted after it (its
# bridges, taps, nftables tables and the DHCP namespace go with it): no packet leaves it.
# In it: `martlet serve --network-backend linux` on a fresh data dir, then bench/lib/dataplane.py
# (see there for what is timed), then bench/lib/dataplane-path.py builds the router's path. The
# port figures have no anchor (Neutron's agents are not run here): they are read against the
# issue's targets (under 50 ms a port, flat as ports grow); the path's anchor is the bare veth.
set -euo pipefail
export LC_ALL=C
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
. "$REPO/bench/lib/common.sh"

PORTS=${BENCH_PORTS:-1000}
RULE_CHANGES=${BENCH_RULE_CHANGES:-10}
[ "$(id -u)" = 0 ] || die "needs root: it makes a network namespace"
need_tools curl:curl jq:jq ip:iproute2 nft:nftables dnsmasq:dnsmasq-base python3:python3 iperf3:iperf3 ping:iputils-ping
if [ -n "${1:-}" ]; then BIN=$1
elif [ -x "$REPO/.build/release/martlet" ]; then BIN=$REPO/.build/release/martlet
else BIN=$REPO/.build/debug/martlet; fi
[ -x "$BIN" ] || die "no martlet binary at $BIN"

NS=martlet-bench-dp-$$
WORK=$(mktemp -d /tmp/martlet-bench-dp.XXXXXX)
PORT=8480
PASSWORD=bench-admin-pw
MPID=""
cleanup() {
  set +e
  [ -z "$MPID" ] || { kill "$MPID"; wait "$MPID"; } 2>/dev/null
  # dnsmasq runs in the network's DHCP namespace, not in $NS: stopped by its pid file. The DHCP
  # namespaces are named ones (ip netns), which outlive $NS: deleted by name.
  for f in "$RUNTIME"/dhcp/*/dnsmasq.pid; do [ -f "$f" ] && kill "$(cat "$f")" 2>/dev/null; done
  for d in "$RUNTIME"/dhcp/*/; do [ -d "$d" ] && ip netns delete "qdhcp-$(basename "$d")" 2>/dev/null; done
  for r in "$RUNTIME"/routers/*; do [ -e "$r" ] && ip netns delete "qrouter-$(basename "$r")" 2>/dev/null; done
  for n in "${PATH_NAMESPACES[@]}"; do ip netns delete "$n" 2>/dev/null; done
  ip netns delete "$NS" 2>/dev/null
  rm -rf "$WORK" "$RUNTIME"
}
TAG=$(printf '%s' "$WORK/data" | sha256sum | cut -c1-12)
RUNTIME=/run/martlet-network/$TAG
# The path's guest, its upstream, and the anchor's two ends.
GUEST=mtb-guest-$$ UPSTREAM=mtb-up-$$ END_A=mtb-a-$$ END_B=mtb-b-$$
PATH_NAMESPACES=("$GUEST" "$UPSTREAM" "$END_A" "$END_B")
trap cleanup EXIT
ip netns add "$NS"
ip -n "$NS" link set lo up
in_ns() { ip netns exec "$NS" "$@"; }

log "martlet: $BIN in namespace $NS"
ip netns exec "$NS" "$BIN" serve --host 127.0.0.1 --port "$PORT" --data-dir "$WORK/data" --admin-password "$PASSWORD" --bcrypt-cost 4 \
  --network-backend linux > "$WORK/martlet.log" 2>&1 &
MPID=$!
for _ in $(seq 1 600); do in_ns curl -fs "http://127.0.0.1:$PORT/identity/v3" >/dev/null 2>&1 && break; sleep 0.1; done
in_ns curl -fs "http://127.0.0.1:$PORT/identity/v3" >/dev/null || { tail -20 "$WORK/martlet.log"; die "martlet did not start"; }
HOSTNAME_NS=$(in_ns hostname)

log "creating $PORTS ports one by one, then $RULE_CHANGES rule changes"
RESULT=$(in_ns python3 "$REPO/bench/lib/dataplane.py" "http://127.0.0.1:$PORT" "$PASSWORD" "$HOSTNAME_NS" "martlet_$TAG" "$PORTS" "$RULE_CHANGES")
NETWORK=$(jq -r .network <<< "$RESULT")
DPID=$(cat "$RUNTIME/dhcp/$NETWORK/dnsmasq.pid" 2>/dev/null || echo "")
DRSS=$([ -n "$DPID" ] && ps -o rss= -p "$DPID" | tr -d ' ' || echo "")
log "dnsmasq: $(ps -o pid=,rss=,args= -p "$DPID" | cut -c1-120)"
MRSS=$(ps -o rss= -p "$MPID" | tr -d ' ')
RULES=$(in_ns nft list table inet "martlet_$TAG" | grep -c . || true)

log "the path through a router and a floating IP, and a bare veth pair"
API="http://127.0.0.1:$PORT"
PATH_JSON=$(in_ns python3 "$REPO/bench/lib/dataplane-path.py" "$API" "$PASSWORD" "$HOSTNAME_NS" create)
P_ID=$(jq -r .port <<< "$PATH_JSON")
for n in "${PATH_NAMESPACES[@]}"; do ip netns add "$n"; ip -n "$n" link set lo up; done
# The guest: a namespace whose eth0 is the other end of the port's tap.
in_ns ip link add "tap${P_ID:0:11}" type veth peer name eth0 netns "$GUEST"
ip -n "$GUEST" link set eth0 address "$(jq -r .mac <<< "$PATH_JSON")" up
ip -n "$GUEST" address add "$(jq -r .ip <<< "$PATH_JSON")/24" dev eth0
ip -n "$GUEST" route add default via 10.101.0.1 dev eth0 onlink
in_ns python3 "$REPO/bench/lib/dataplane-path.py" "$API" "$PASSWORD" "$HOSTNAME_NS" bind "$P_ID" "$(jq -r .floating_ip_id <<< "$PATH_JSON")"
# The upstream: the external subnet's gateway address, on the external network's bridge.
EXTERNAL=$(jq -r .external <<< "$PATH_JSON")
in_ns ip link add mtb-up0 type veth peer name eth0 netns "$UPSTREAM"
in_ns ip link set mtb-up0 master "brq${EXTERNAL:0:11}" up
ip -n "$UPSTREAM" link set eth0 up
ip -n "$UPSTREAM" address add 172.24.99.1/24 dev eth0
# The anchor: two namespaces, one veth pair.
ip netns exec "$END_A" ip link add eth0 type veth peer name eth0 netns "$END_B"
for end in "$END_A:10.200.0.1" "$END_B:10.200.0.2"; do
  ip -n "${end%%:*}" link set eth0 up; ip -n "${end%%:*}" address add "${end#*:}/24" dev eth0
done

# "RTT_MS GBITS" from namespace $1 to address $3 served by namespace $2.
measure_path() {
  ip netns exec "$2" iperf3 --server --one-off --daemon >/dev/null
  for _ in $(seq 1 50); do ip netns exec "$1" ping -q -c 1 -W 1 "$3" >/dev/null && break; done
  local rtt gbits
  rtt=$(ip netns exec "$1" ping -q -c 500 -i 0.002 "$3" | awk -F/ '/^rtt/ {print $5}')
  gbits=$(ip netns exec "$1" iperf3 --client "$3" --time 5 --json | jq '.end.sum_received.bits_per_second / 1e9 * 100 | round / 100')
  echo "$rtt $gbits"
}
read -r ROUTED_RTT ROUTED_GBITS <<< "$(measure_path "$UPSTREAM" "$GUEST" "$(jq -r .floating_ip <<< "$PATH_JSON")")"
read -r VETH_RTT VETH_GBITS <<< "$(measure_path "$END_A" "$END_B" 10.200.0.2)"
# A path that does not answer fails the bench instead of printing blank figures beside the anchor's.
number() { [[ ${1:-} =~ ^[0-9]+(\.[0-9]+)?$ ]]; }
number "$ROUTED_RTT" && number "$ROUTED_GBITS" \
  || die "the floating IP did not answer through its router (RTT '${ROUTED_RTT:-}' ms, TCP '${ROUTED_GBITS:-}' Gbit/s): the router's legs are not wired"
number "$VETH_RTT" && number "$VETH_GBITS" || die "the bare veth pair did not answer (RTT '${VETH_RTT:-}', TCP '${VETH_GBITS:-}')"

printf '\n%-58s %s\n' "metric" "value"
printf '%-58s %s\n' "port create+bind -> ACTIVE, p50 / p90 / max (ms)" "$(jq -r '.port_to_active | "\(.p50_ms) / \(.p90_ms) / \(.max_ms)"' <<< "$RESULT")"
printf '%-58s %s\n' "  p50 of the first tenth / of the last tenth (ms)" "$(jq -r '"\(.port_to_active_first_tenth_p50_ms) / \(.port_to_active_last_tenth_p50_ms)"' <<< "$RESULT")"
printf '%-58s %s\n' "  of which the POST's answer, first / last tenth (ms)" "$(jq -r '"\(.port_post_first_tenth_p50_ms) / \(.port_post_last_tenth_p50_ms)"' <<< "$RESULT")"
printf '%-58s %s\n' "rule change on a group of $PORTS members, p50 / max (ms)" "$(jq -r '.rule_change | "\(.p50_ms) / \(.max_ms)"' <<< "$RESULT")"
printf '%-58s %s\n' "dnsmasq processes for the run's one network" "$([ -n "$DPID" ] && echo 1 || echo 0)"
printf '%-58s %s\n' "dnsmasq RSS (MiB)" "$(mib "$DRSS")"
printf '%-58s %s\n' "martlet RSS after the run (MiB)" "$(mib "$MRSS")"
printf '%-58s %s\n' "lines in the inet nftables table" "$RULES"
printf '%-58s %s\n' "ping RTT to a floating IP via a router / bare veth (ms)" "$ROUTED_RTT / $VETH_RTT ($(awk -v a="$ROUTED_RTT" -v b="$VETH_RTT" 'BEGIN { printf "%.2fx", a / b }'))"
printf '%-58s %s\n' "TCP to a floating IP via a router / bare veth (Gbit/s)" "$ROUTED_GBITS / $VETH_GBITS ($(awk -v a="$ROUTED_GBITS" -v b="$VETH_GBITS" 'BEGIN { printf "%.2fx", a / b }'))"
echo "$RESULT" > "$WORK/../martlet-bench-dp-result.json"
log "result JSON: /tmp/martlet-bench-dp-result.json"
