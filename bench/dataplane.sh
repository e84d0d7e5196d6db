#!/usr/bin/env bash
# bench/dataplane.sh - the linux data plane's costs: a port's way to ACTIVE as ports accumulate,
# a security-group rule change on a group with many members, and what a network costs in
# processes and memory.
#
#   bash bench/dataplane.sh [MARTLET_BINARY]     # default .build/release/martlet, else .build/debug/martlet
#   BENCH_PORTS=1000 BENCH_RULE_CHANGES=10       # the defaults
#
# Runs as root, everything in a network namespace made for the run and deleted after it (its
# bridges, taps, nftables tables and the DHCP namespace go with it): no packet leaves it.
# In it: `martlet serve --network-backend linux` on a fresh data dir, then bench/lib/dataplane.py
# (see there for what is timed). There is no anchor: Neutron's agents are not run here; the
# figures are read against the issue's targets (under 50 ms a port, flat as ports grow).
set -euo pipefail
export LC_ALL=C
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
. "$REPO/bench/lib/common.sh"

PORTS=${BENCH_PORTS:-1000}
RULE_CHANGES=${BENCH_RULE_CHANGES:-10}
[ "$(id -u)" = 0 ] || die "needs root: it makes a network namespace"
need_tools curl:curl jq:jq ip:iproute2 nft:nftables dnsmasq:dnsmasq-base python3:python3
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
  ip netns delete "$NS" 2>/dev/null
  rm -rf "$WORK" "$RUNTIME"
}
TAG=$(printf '%s' "$WORK/data" | sha256sum | cut -c1-12)
RUNTIME=/run/martlet-network/$TAG
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

printf '\n%-58s %s\n' "metric" "value"
printf '%-58s %s\n' "port create+bind -> ACTIVE, p50 / p90 / max (ms)" "$(jq -r '.port_to_active | "\(.p50_ms) / \(.p90_ms) / \(.max_ms)"' <<< "$RESULT")"
printf '%-58s %s\n' "  p50 of the first tenth / of the last tenth (ms)" "$(jq -r '"\(.port_to_active_first_tenth_p50_ms) / \(.port_to_active_last_tenth_p50_ms)"' <<< "$RESULT")"
printf '%-58s %s\n' "rule change on a group of $PORTS members, p50 / max (ms)" "$(jq -r '.rule_change | "\(.p50_ms) / \(.max_ms)"' <<< "$RESULT")"
printf '%-58s %s\n' "dnsmasq processes for the run's one network" "$([ -n "$DPID" ] && echo 1 || echo 0)"
printf '%-58s %s\n' "dnsmasq RSS (MiB)" "$(mib "$DRSS")"
printf '%-58s %s\n' "martlet RSS after the run (MiB)" "$(mib "$MRSS")"
printf '%-58s %s\n' "lines in the inet nftables table" "$RULES"
echo "$RESULT" > "$WORK/../martlet-bench-dp-result.json"
log "result JSON: /tmp/martlet-bench-dp-result.json"
