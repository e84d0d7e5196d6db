#!/usr/bin/env python3
"""The path a guest's traffic takes through the data plane, built through the API (run by
bench/dataplane.sh inside its namespace), for the RTT and throughput figures.

  dataplane-path.py URL PASSWORD HOST create
  dataplane-path.py URL PASSWORD HOST bind PORT FLOATING_IP_ID

`create` makes an external network (172.24.99.0/24, whose only other member will be the bench's
upstream namespace), a tenant network (10.101.0.0/24) behind a router, a server-like port without
port security, and a floating IP for it, and prints them as one JSON object (the port's ID, MAC
and address, the floating IP and its ID, the external network's ID: its bridge is where the
upstream plugs in). `bind` binds the port to HOST, once the bench has made its tap (the other end
of a veth in a namespace standing in for the guest), and waits until the port and the floating IP
are ACTIVE.
"""
import json
import sys
import time

from cloud_api import Cloud

URL, PASSWORD, HOST, STEP = sys.argv[1:5]


def wait_active(cloud, path, kind):
    deadline = time.monotonic() + 60
    while cloud.get(path)[kind]["status"] != "ACTIVE":
        if time.monotonic() > deadline:
            sys.exit(f"{path} not ACTIVE after 60 s")
        time.sleep(0.05)


def create(cloud):
    external = cloud.post("/network/v2.0/networks", {"network": {"name": "bench-ext", "router:external": True}})["network"]["id"]
    cloud.post("/network/v2.0/subnets", {"subnet": {"network_id": external, "cidr": "172.24.99.0/24", "gateway_ip": "172.24.99.1",
                                                    "enable_dhcp": False, "ip_version": 4}})
    tenant = cloud.post("/network/v2.0/networks", {"network": {"name": "bench-path"}})["network"]["id"]
    subnet = cloud.post("/network/v2.0/subnets", {"subnet": {"network_id": tenant, "cidr": "10.101.0.0/24", "ip_version": 4}})["subnet"]["id"]
    router = cloud.post("/network/v2.0/routers", {"router": {"name": "bench-path", "external_gateway_info": {"network_id": external}}})["router"]["id"]
    cloud.call("PUT", f"/network/v2.0/routers/{router}/add_router_interface", {"subnet_id": subnet})
    port = cloud.post("/network/v2.0/ports", {"port": {"network_id": tenant, "device_id": "bench-path", "device_owner": "compute:nova",
                                                       "port_security_enabled": False}})["port"]
    fip = cloud.post("/network/v2.0/floatingips", {"floatingip": {"floating_network_id": external, "port_id": port["id"]}})["floatingip"]
    print(json.dumps({"port": port["id"], "mac": port["mac_address"], "ip": port["fixed_ips"][0]["ip_address"],
                      "floating_ip": fip["floating_ip_address"], "floating_ip_id": fip["id"], "external": external}))


def bind(cloud, port, fip):
    cloud.call("PUT", f"/network/v2.0/ports/{port}", {"port": {"binding:host_id": HOST}})
    wait_active(cloud, f"/network/v2.0/ports/{port}", "port")
    wait_active(cloud, f"/network/v2.0/floatingips/{fip}", "floatingip")


if STEP == "create":
    create(Cloud(URL, PASSWORD))
else:
    bind(Cloud(URL, PASSWORD), *sys.argv[5:7])
