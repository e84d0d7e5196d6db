#!/usr/bin/env python3
"""The linux data plane's costs through the API (run by bench/dataplane.sh inside its namespace).

  dataplane.py URL PASSWORD HOST TABLE PORTS RULE_CHANGES

Creates a network, a /20 subnet and a security group whose rules admit its own members (a
`remote_group_id` rule, so every port joins the group's address set), then PORTS ports bound to
HOST one after the other, each timed from its POST to the first GET that reads it ACTIVE (the
tap, its filters, its DHCP entry are then in place). Then RULE_CHANGES times one rule added to the
group, which by then has PORTS members: from the POST to the kernel's taking it (`nft monitor`). Prints one JSON object.
"""
import json
import statistics
import subprocess
import sys
import time

from cloud_api import Cloud

URL, PASSWORD, HOST, TABLE = sys.argv[1:5]
PORTS, RULE_CHANGES = int(sys.argv[5]), int(sys.argv[6])


def ms(seconds):
    return round(seconds * 1000, 2)


def summary(samples):
    ordered = sorted(samples)
    return {"n": len(ordered), "p50_ms": ms(statistics.median(ordered)), "p90_ms": ms(ordered[int(len(ordered) * 0.9) - 1]),
            "max_ms": ms(ordered[-1])}


def main():
    cloud = Cloud(URL, PASSWORD)
    cloud.call("PUT", f"/network/v2.0/quotas/{cloud.project}", {"quota": {"port": -1, "security_group_rule": -1}})
    network = cloud.post("/network/v2.0/networks", {"network": {"name": "bench-dp"}})["network"]["id"]
    cloud.post("/network/v2.0/subnets", {"subnet": {"network_id": network, "cidr": "10.100.0.0/20", "ip_version": 4}})
    group = cloud.post("/network/v2.0/security-groups", {"security_group": {"name": "bench-dp"}})["security_group"]["id"]
    cloud.post("/network/v2.0/security-group-rules", {"security_group_rule": {
        "security_group_id": group, "direction": "ingress", "ethertype": "IPv4", "remote_group_id": group}})

    wired, answered = [], []
    for i in range(PORTS):
        started = time.monotonic()
        port = cloud.post("/network/v2.0/ports", {"port": {
            "network_id": network, "device_id": f"bench-dp-{i}", "device_owner": "compute:nova", "binding:host_id": HOST,
            "security_groups": [group]}})["port"]["id"]
        answered.append(time.monotonic() - started)
        while cloud.get(f"/network/v2.0/ports/{port}?fields=status")["port"]["status"] != "ACTIVE":
            time.sleep(0.001)
            if time.monotonic() - started > 60:
                sys.exit(f"port {i} not ACTIVE after 60 s")
        wired.append(time.monotonic() - started)

    # `nft monitor` reports each rule as the kernel takes it (polling `nft list` would cost more
    # than the change: it reads every device of the host).
    monitor = subprocess.Popen(["nft", "monitor", "rules"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    time.sleep(3)  # it reads every device of the host before it listens
    changes = []
    for i in range(RULE_CHANGES):
        started = time.monotonic()
        rule_id = cloud.post("/network/v2.0/security-group-rules", {"security_group_rule": {
            "security_group_id": group, "direction": "ingress", "ethertype": "IPv4", "protocol": "tcp",
            "port_range_min": 8000 + i, "port_range_max": 8000 + i}})["security_group_rule"]["id"]
        while rule_id not in monitor.stdout.readline():
            if time.monotonic() - started > 60:
                sys.exit(f"rule {i} not in nftables after 60 s")
        changes.append(time.monotonic() - started)
    monitor.kill()

    tenth = max(1, PORTS // 10)
    print(json.dumps({
        "network": network,
        "port_to_active": summary(wired),
        "port_to_active_first_tenth_p50_ms": ms(statistics.median(wired[:tenth])),
        "port_to_active_last_tenth_p50_ms": ms(statistics.median(wired[-tenth:])),
        "port_post_first_tenth_p50_ms": ms(statistics.median(answered[:tenth])),
        "port_post_last_tenth_p50_ms": ms(statistics.median(answered[-tenth:])),
        "rule_change_with_members": PORTS,
        "rule_change": summary(changes),
    }))


main()
