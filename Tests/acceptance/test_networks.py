"""The Networking service (Neutron v2.0 under /network) driven by the real
clients: `openstack network|subnet|port|router|floating ip|security group|
quota ...`, openstacksdk's network proxy, and raw HTTP with requests (fault
bodies, If-Match, fields, pagination, a concurrent burst of port creations)."""

from __future__ import annotations

import ipaddress
import random
import uuid
from concurrent.futures import ThreadPoolExecutor

import openstack
import pytest
import requests

from conftest import ServiceAPI, uniq


# --- helpers ---------------------------------------------------------------------

def rand_cidr(prefix: int = 24) -> ipaddress.IPv4Network:
    """A random private IPv4 subnet, so concurrent or repeated tests never
    look at each other's addresses."""
    base = ipaddress.IPv4Address("10.0.0.0") + random.randrange(1 << 16) * 256
    return ipaddress.ip_network(f"{base}/{prefix}", strict=False)


def host(net: ipaddress.IPv4Network, n: int) -> str:
    """The n-th address of `net` (0 = network address, -1 = broadcast)."""
    return str(net[n])


class NetworkAPI(ServiceAPI):
    """Raw Networking v2.0 calls."""

    prefix = "network"

    def create(self, collection: str, member: str, token: str | None = None, **body) -> dict:
        r = self.request("POST", f"/v2.0/{collection}", token, json={member: body})
        assert r.status_code == 201, f"POST /v2.0/{collection} {body} -> {r.status_code}: {r.text}"
        return r.json()[member]

    def delete(self, collection: str, id_: str, token: str | None = None) -> requests.Response:
        return self.request("DELETE", f"/v2.0/{collection}/{id_}", token)


@pytest.fixture
def net_api(martlet, identity) -> NetworkAPI:
    return NetworkAPI(martlet, identity)


def neutron_error(r: requests.Response) -> dict:
    """The `NeutronError` of a fault response, checked for Neutron's shape."""
    try:
        body = r.json()
    except ValueError:
        raise AssertionError(f"fault {r.status_code} has no JSON body: {r.text!r}")
    assert set(body) == {"NeutronError"}, f"fault body is not {{'NeutronError': ...}}: {body}"
    err = body["NeutronError"]
    assert set(err) == {"type", "message", "detail"}, f"NeutronError keys: {err}"
    assert isinstance(err["type"], str) and err["type"], err
    assert isinstance(err["message"], str) and err["message"], err
    return err


def make_network(osc, cleanup, *args: str, **kw) -> dict:
    name = uniq("net")
    net = osc.json("network", "create", name, *args, **kw)
    cleanup.add("network", "delete", net["id"], **kw)
    return net


def make_subnet(osc, cleanup, network_id: str, cidr, *args: str, **kw) -> dict:
    sub = osc.json("subnet", "create", uniq("subnet"), "--network", network_id,
                   "--subnet-range", str(cidr), *args, **kw)
    cleanup.add("subnet", "delete", sub["id"], **kw)
    return sub


def make_external(osc, cleanup) -> tuple[dict, dict, ipaddress.IPv4Network]:
    """An external network (admin) with a subnet without DHCP."""
    ext = make_network(osc, cleanup, "--external")
    assert ext["router:external"] is True, ext
    cidr = rand_cidr()
    sub = make_subnet(osc, cleanup, ext["id"], cidr, "--no-dhcp")
    assert sub["enable_dhcp"] is False, sub
    return ext, sub, cidr


def port_ips(port: dict) -> list[str]:
    return [ip["ip_address"] for ip in port["fixed_ips"]]


# --- 1. networks, subnets, ports -------------------------------------------------

def test_network_create_show_list_set_delete(osc, cleanup):
    name = uniq("net")
    created = osc.json("network", "create", name, "--description", "first")
    cleanup.add("network", "delete", created["id"])
    assert created["name"] == name
    assert created["status"] == "ACTIVE"
    assert created["admin_state_up"] is True
    assert created["description"] == "first"
    assert created["subnets"] == []
    assert created["router:external"] is False and created["shared"] is False
    assert isinstance(created["mtu"], int) and 68 <= created["mtu"] <= 1500, created["mtu"]

    shown = osc.json("network", "show", name)
    assert shown["id"] == created["id"]

    listed = osc.json("network", "list")
    assert [n["Name"] for n in listed if n["ID"] == created["id"]] == [name]
    assert [n["ID"] for n in osc.json("network", "list", "--name", name)] == [created["id"]]

    new_name = uniq("net-renamed")
    osc.ok("network", "set", created["id"], "--name", new_name, "--description", "second",
           "--disable", "--mtu", "1400")
    shown = osc.json("network", "show", created["id"])
    assert shown["name"] == new_name
    assert shown["description"] == "second"
    assert shown["admin_state_up"] is False
    assert shown["mtu"] == 1400
    assert shown["revision_number"] > created["revision_number"], (created, shown)
    assert osc.json("network", "list", "--name", name) == []

    osc.ok("network", "delete", created["id"])
    r = osc.fails("network", "show", created["id"])
    assert "No Network found" in r.stderr or "could not be found" in r.stderr, r.stderr
    assert created["id"] not in {n["ID"] for n in osc.json("network", "list")}


@pytest.mark.one_database
def test_subnet_options_and_fixed_ip_ports(osc, cleanup):
    net = make_network(osc, cleanup)
    cidr = rand_cidr()
    pool_start, pool_end = host(cidr, 10), host(cidr, 50)
    route_dst = "192.168.77.0/24"
    subnet = make_subnet(osc, cleanup, net["id"], cidr,
                         "--gateway", "none",
                         "--allocation-pool", f"start={pool_start},end={pool_end}",
                         "--dns-nameserver", "192.0.2.53", "--dns-nameserver", "192.0.2.54",
                         "--host-route", f"destination={route_dst},gateway={host(cidr, 1)}")
    assert subnet["cidr"] == str(cidr)
    assert subnet["ip_version"] == 4
    assert subnet["network_id"] == net["id"]
    assert subnet["gateway_ip"] is None
    assert subnet["allocation_pools"] == [{"start": pool_start, "end": pool_end}]
    assert subnet["dns_nameservers"] == ["192.0.2.53", "192.0.2.54"]
    assert subnet["host_routes"] == [{"destination": route_dst, "nexthop": host(cidr, 1)}]
    assert subnet["enable_dhcp"] is True
    assert osc.json("network", "show", net["id"])["subnets"] == [subnet["id"]]
    shown = osc.json("subnet", "show", subnet["id"])
    for key in ("cidr", "gateway_ip", "allocation_pools", "dns_nameservers", "host_routes"):
        assert shown[key] == subnet[key], (key, shown[key], subnet[key])

    # A port at a chosen address of the pool.
    wanted = host(cidr, 20)
    p1 = osc.json("port", "create", uniq("port"), "--network", net["id"],
                  "--fixed-ip", f"subnet={subnet['id']},ip-address={wanted}")
    cleanup.add("port", "delete", p1["id"])
    assert p1["fixed_ips"] == [{"subnet_id": subnet["id"], "ip_address": wanted}], p1["fixed_ips"]
    assert p1["network_id"] == net["id"]
    assert p1["status"] == "DOWN"  # not bound to any host

    # One taken automatically comes from the pool, never outside it.
    p2 = osc.json("port", "create", uniq("port"), "--network", net["id"])
    cleanup.add("port", "delete", p2["id"])
    [auto] = port_ips(p2)
    assert ipaddress.ip_address(pool_start) <= ipaddress.ip_address(auto) <= ipaddress.ip_address(pool_end), auto
    assert auto != wanted

    # port list --fixed-ip: by address, by subnet (name), by substring.
    by_ip = osc.json("port", "list", "--fixed-ip", f"ip-address={wanted}", "--network", net["id"])
    assert [p["ID"] for p in by_ip] == [p1["id"]], by_ip
    assert by_ip[0]["Fixed IP Addresses"] == [{"subnet_id": subnet["id"], "ip_address": wanted}]
    by_subnet = osc.json("port", "list", "--fixed-ip", f"subnet={subnet['name']}")
    assert sorted(p["ID"] for p in by_subnet) == sorted([p1["id"], p2["id"]]), by_subnet
    both = osc.json("port", "list", "--fixed-ip", f"subnet={subnet['id']},ip-address={auto}")
    assert [p["ID"] for p in both] == [p2["id"]], both
    none = osc.json("port", "list", "--fixed-ip", f"ip-address={host(cidr, 30)}", "--network", net["id"])
    assert none == [], none
    substr = osc.json("port", "list", "--network", net["id"], "--fixed-ip",
                      f"ip-substring={wanted.rsplit('.', 1)[0]}.20")
    assert p1["id"] in {p["ID"] for p in substr}, substr

    # The address is held: a second port cannot take it ...
    r = osc.fails("port", "create", uniq("port"), "--network", net["id"],
                  "--fixed-ip", f"subnet={subnet['id']},ip-address={wanted}")
    assert "409" in r.stderr and "already allocated" in r.stderr, r.stderr
    # ... and an address outside the subnet is refused.
    r = osc.fails("port", "create", uniq("port"), "--network", net["id"],
                  "--fixed-ip", f"subnet={subnet['id']},ip-address=172.31.255.9")
    assert "400" in r.stderr, r.stderr

    # Deleting the port frees the address: a new port can take it.
    osc.ok("port", "delete", p1["id"])
    assert osc.json("port", "list", "--fixed-ip", f"ip-address={wanted}", "--network", net["id"]) == []
    p3 = osc.json("port", "create", uniq("port"), "--network", net["id"],
                  "--fixed-ip", f"subnet={subnet['id']},ip-address={wanted}")
    cleanup.add("port", "delete", p3["id"])
    assert port_ips(p3) == [wanted]

    # A network with ports cannot go; after them it can, and takes its subnet along.
    r = osc.fails("network", "delete", net["id"])
    assert "409" in r.stderr or "in use" in r.stderr.lower(), r.stderr
    osc.ok("port", "delete", p2["id"], p3["id"])
    osc.ok("network", "delete", net["id"])
    osc.fails("subnet", "show", subnet["id"])


# --- 2. routers -------------------------------------------------------------------

@pytest.mark.one_database
def test_router_gateway_interfaces_and_delete_refused(osc, cleanup):
    ext, ext_sub, ext_cidr = make_external(osc, cleanup)
    net = make_network(osc, cleanup)
    cidr_a, cidr_b = rand_cidr(), rand_cidr()
    while cidr_b.overlaps(cidr_a):
        cidr_b = rand_cidr()
    sub_a = make_subnet(osc, cleanup, net["id"], cidr_a)
    sub_b = make_subnet(osc, cleanup, net["id"], cidr_b)
    assert sub_a["gateway_ip"] == host(cidr_a, 1)

    name = uniq("router")
    router = osc.json("router", "create", name)
    cleanup.add("router", "delete", router["id"])
    # (cleanup runs newest first: interfaces and gateway go before the router)
    assert router["name"] == name and router["status"] == "ACTIVE"
    assert router["external_gateway_info"] is None

    osc.ok("router", "set", "--external-gateway", ext["name"], name)
    gw = osc.json("router", "show", name)["external_gateway_info"]
    assert gw is not None and gw["network_id"] == ext["id"], gw
    assert gw["enable_snat"] is True
    [gw_ip] = gw["external_fixed_ips"]
    assert gw_ip["subnet_id"] == ext_sub["id"]
    assert ipaddress.ip_address(gw_ip["ip_address"]) in ext_cidr
    assert gw_ip["ip_address"] != ext_sub["gateway_ip"]
    gw_ports = osc.json("port", "list", "--router", name, "--device-owner", "network:router_gateway")
    assert [p["Fixed IP Addresses"][0]["ip_address"] for p in gw_ports] == [gw_ip["ip_address"]], gw_ports

    # add subnet: a port at the subnet's gateway address.
    osc.ok("router", "add", "subnet", name, sub_a["id"])
    cleanup.add("router", "remove", "subnet", router["id"], sub_a["id"])
    iface = osc.json("port", "list", "--router", name, "--device-owner", "network:router_interface")
    assert len(iface) == 1, iface
    assert iface[0]["Fixed IP Addresses"] == [{"subnet_id": sub_a["id"], "ip_address": host(cidr_a, 1)}]

    # A second interface on the same subnet is refused.
    r = osc.fails("router", "add", "subnet", name, sub_a["id"])
    assert "400" in r.stderr, r.stderr

    # delete refused while an interface exists.
    r = osc.fails("router", "delete", name)
    assert "409" in r.stderr and "still has ports" in r.stderr, r.stderr
    assert osc.json("router", "show", name)["id"] == router["id"]
    # ... and the interface port cannot be deleted behind the router's back.
    r = osc.fails("port", "delete", iface[0]["ID"])
    assert "409" in r.stderr, r.stderr

    osc.ok("router", "remove", "subnet", name, sub_a["id"])
    assert osc.json("port", "list", "--router", name, "--device-owner", "network:router_interface") == []
    osc.fails("port", "show", iface[0]["ID"])

    # add port: the router takes over a port of ours on the other subnet.
    port_ip = host(cidr_b, 9)
    port = osc.json("port", "create", uniq("rport"), "--network", net["id"],
                    "--fixed-ip", f"subnet={sub_b['id']},ip-address={port_ip}")
    cleanup.add("port", "delete", port["id"])
    osc.ok("router", "add", "port", name, port["id"])
    cleanup.add("router", "remove", "port", router["id"], port["id"])
    attached = osc.json("port", "show", port["id"])
    assert attached["device_id"] == router["id"], attached
    assert attached["device_owner"] == "network:router_interface", attached
    assert port_ips(attached) == [port_ip]

    r = osc.fails("router", "delete", router["id"])
    assert "409" in r.stderr and "still has ports" in r.stderr, r.stderr

    osc.ok("router", "remove", "port", name, port["id"])
    osc.fails("port", "show", port["id"])  # Neutron deletes the interface port

    osc.ok("router", "unset", "--external-gateway", name)
    assert osc.json("router", "show", name)["external_gateway_info"] is None
    assert osc.json("port", "list", "--router", name) == []
    osc.ok("router", "delete", name)
    osc.fails("router", "show", router["id"])


# --- 3. floating IPs --------------------------------------------------------------

@pytest.mark.one_database
def test_floating_ip_associate_disassociate_delete(osc, cleanup, member):
    # The admin makes the external network; a project member uses it.
    ext, ext_sub, ext_cidr = make_external(osc, cleanup)
    as_member = {"cloud": "member", "config": member["config"]}
    net = make_network(osc, cleanup, **as_member)
    cidr = rand_cidr()
    sub = make_subnet(osc, cleanup, net["id"], cidr, **as_member)
    router = osc.json("router", "create", uniq("fip-router"), **as_member)
    cleanup.add("router", "delete", router["id"], **as_member)
    osc.ok("router", "set", "--external-gateway", ext["id"], router["id"], **as_member)
    osc.ok("router", "add", "subnet", router["id"], sub["id"], **as_member)
    cleanup.add("router", "remove", "subnet", router["id"], sub["id"], **as_member)
    port = osc.json("port", "create", uniq("fip-port"), "--network", net["id"], **as_member)
    cleanup.add("port", "delete", port["id"], **as_member)
    [fixed] = port_ips(port)

    fip = osc.json("floating", "ip", "create", ext["name"], **as_member)
    cleanup.add("floating", "ip", "delete", fip["id"], **as_member)
    address = fip["floating_ip_address"]
    assert ipaddress.ip_address(address) in ext_cidr, fip
    assert address != ext_sub["gateway_ip"]
    assert fip["floating_network_id"] == ext["id"]
    assert fip["project_id"] == member["project"]["id"]
    assert fip["port_id"] is None and fip["fixed_ip_address"] is None and fip["router_id"] is None
    assert fip["status"] == "DOWN"

    osc.ok("floating", "ip", "set", "--port", port["id"], fip["id"], **as_member)
    shown = osc.json("floating", "ip", "show", fip["id"], **as_member)
    assert shown["port_id"] == port["id"], shown
    assert shown["fixed_ip_address"] == fixed, shown
    assert shown["router_id"] == router["id"], shown
    assert shown["status"] == "ACTIVE", shown
    assert shown["floating_ip_address"] == address
    listed = osc.json("floating", "ip", "list", "--port", port["id"], **as_member)
    assert [(f["ID"], f["Fixed IP Address"]) for f in listed] == [(fip["id"], fixed)], listed

    # While the floating IP uses it, the router keeps its interface and gateway.
    r = osc.fails("router", "remove", "subnet", router["id"], sub["id"], **as_member)
    assert "409" in r.stderr, r.stderr
    r = osc.fails("router", "unset", "--external-gateway", router["id"], **as_member)
    assert "409" in r.stderr, r.stderr

    osc.ok("floating", "ip", "unset", "--port", fip["id"], **as_member)
    shown = osc.json("floating", "ip", "show", fip["id"], **as_member)
    assert shown["port_id"] is None, shown
    assert shown["fixed_ip_address"] is None, shown
    assert shown["router_id"] is None, shown
    assert shown["status"] == "DOWN", shown
    assert shown["floating_ip_address"] == address  # the address stays with the floating IP

    # Without a router between the port's subnet and the external network: 404.
    other = make_network(osc, cleanup, **as_member)
    make_subnet(osc, cleanup, other["id"], rand_cidr(), **as_member)
    lonely = osc.json("port", "create", uniq("lonely"), "--network", other["id"], **as_member)
    cleanup.add("port", "delete", lonely["id"], **as_member)
    r = osc.fails("floating", "ip", "set", "--port", lonely["id"], fip["id"], **as_member)
    assert "404" in r.stderr and "not reachable" in r.stderr, r.stderr

    osc.ok("floating", "ip", "delete", fip["id"], **as_member)
    osc.fails("floating", "ip", "show", fip["id"], **as_member)
    # Its address is free again (admins may ask for a specific one).
    again = osc.json("floating", "ip", "create", "--floating-ip-address", address, ext["id"])
    cleanup.add("floating", "ip", "delete", again["id"])
    assert again["floating_ip_address"] == address


# --- 4. security groups -----------------------------------------------------------

def rules_of(group: dict) -> list[dict]:
    return group.get("rules") or group.get("security_group_rules") or []


def test_security_groups_and_rules(osc, cleanup, net_api):
    name = uniq("sg")
    sg = osc.json("security", "group", "create", name, "--description", "web")
    cleanup.add("security", "group", "delete", sg["id"])
    assert sg["name"] == name and sg["description"] == "web"
    # A new group allows all egress, nothing else.
    assert sorted((r["direction"], r.get("ethertype") or r.get("ether_type")) for r in rules_of(sg)) == \
        [("egress", "IPv4"), ("egress", "IPv6")], rules_of(sg)
    peer = osc.json("security", "group", "create", uniq("sg-peer"))
    cleanup.add("security", "group", "delete", peer["id"])

    ssh = osc.json("security", "group", "rule", "create", "--protocol", "tcp", "--dst-port", "22",
                   "--ingress", sg["id"])
    assert ssh["security_group_id"] == sg["id"]
    assert (ssh["protocol"], ssh["port_range_min"], ssh["port_range_max"], ssh["direction"]) == \
        ("tcp", 22, 22, "ingress"), ssh
    icmp = osc.json("security", "group", "rule", "create", "--protocol", "icmp", sg["id"])
    assert icmp["protocol"] == "icmp" and icmp["port_range_min"] is None, icmp
    from_peer = osc.json("security", "group", "rule", "create", "--protocol", "tcp",
                         "--dst-port", "8000:8080", "--remote-group", peer["name"], sg["id"])
    assert from_peer["remote_group_id"] == peer["id"], from_peer
    assert from_peer["remote_ip_prefix"] is None, from_peer
    assert (from_peer["port_range_min"], from_peer["port_range_max"]) == (8000, 8080)

    shown = osc.json("security", "group", "show", sg["id"])
    ids = {r["id"] for r in rules_of(shown)}
    assert {ssh["id"], icmp["id"], from_peer["id"]} <= ids, rules_of(shown)
    assert len(ids) == 5, rules_of(shown)
    listed = osc.json("security", "group", "rule", "list", sg["id"])
    assert {r["ID"] for r in listed} == ids, listed

    # The same rule twice is refused.
    r = osc.fails("security", "group", "rule", "create", "--protocol", "tcp", "--dst-port", "22",
                  "--ingress", sg["id"])
    assert "409" in r.stderr and "already exists" in r.stderr, r.stderr
    assert ssh["id"] in r.stderr, r.stderr  # Neutron names the existing rule
    # Bad port ranges are refused (by the API: the CLI checks this one itself).
    r = net_api.request("POST", "/v2.0/security-group-rules", json={"security_group_rule": {
        "security_group_id": sg["id"], "direction": "ingress", "protocol": "tcp",
        "port_range_min": 90, "port_range_max": 80}})
    assert r.status_code == 400, f"{r.status_code}: {r.text}"
    assert neutron_error(r)["type"] == "SecurityGroupInvalidPortRange"

    osc.ok("security", "group", "rule", "delete", ssh["id"])
    osc.fails("security", "group", "rule", "show", ssh["id"])
    assert ssh["id"] not in {r["id"] for r in rules_of(osc.json("security", "group", "show", sg["id"]))}
    # ... and once gone, it can be made again.
    again = osc.json("security", "group", "rule", "create", "--protocol", "tcp", "--dst-port", "22",
                     "--ingress", sg["id"])
    assert again["id"] != ssh["id"]

    # A group in use by a port cannot be deleted.
    net = make_network(osc, cleanup)
    make_subnet(osc, cleanup, net["id"], rand_cidr())
    port = osc.json("port", "create", uniq("sg-port"), "--network", net["id"], "--security-group", sg["id"])
    cleanup.add("port", "delete", port["id"])
    assert port["security_group_ids"] == [sg["id"]], port
    r = osc.fails("security", "group", "delete", sg["id"])
    assert "409" in r.stderr and "in use" in r.stderr.lower(), r.stderr
    osc.ok("port", "delete", port["id"])

    # Deleting the peer group takes the rules that name it along.
    osc.ok("security", "group", "delete", peer["id"])
    osc.fails("security", "group", "show", peer["id"])
    osc.fails("security", "group", "rule", "show", from_peer["id"])
    osc.ok("security", "group", "delete", sg["id"])
    osc.fails("security", "group", "show", sg["id"])
    osc.fails("security", "group", "rule", "show", icmp["id"])


def test_security_group_rule_duplicate_is_normalized(net_api):
    """Neutron treats remote_ip_prefix 0.0.0.0/0 as "any" (the same as none)
    and a protocol's number as its name when it looks for duplicate rules."""
    sg = net_api.create("security-groups", "security_group", name=uniq("sg-dup"))
    try:
        net_api.create("security-group-rules", "security_group_rule", security_group_id=sg["id"],
                       direction="ingress", ethertype="IPv4", protocol="tcp",
                       port_range_min=443, port_range_max=443)
        wrong = []
        for variant in ({"protocol": "tcp", "remote_ip_prefix": "0.0.0.0/0"},
                        {"protocol": "6"},
                        {"protocol": "tcp", "ethertype": "ipv4"}):
            body = {"security_group_id": sg["id"], "direction": "ingress", "ethertype": "IPv4",
                    "port_range_min": 443, "port_range_max": 443, **variant}
            r = net_api.request("POST", "/v2.0/security-group-rules", json={"security_group_rule": body})
            if r.status_code != 409:
                wrong.append(f"duplicate rule {variant} -> {r.status_code}: {r.text}")
                if r.status_code == 201:  # take it away again, so the next variant is checked alone
                    net_api.delete("security-group-rules", r.json()["security_group_rule"]["id"])
            else:
                assert neutron_error(r)["type"] == "SecurityGroupRuleExists", r.text
        assert not wrong, "Neutron answers 409 SecurityGroupRuleExists to each of:\n" + "\n".join(wrong)
    finally:
        net_api.delete("security-groups", sg["id"])


def test_default_security_group_kept_from_member(osc, member):
    as_member = {"cloud": "member", "config": member["config"]}
    project_id = member["project"]["id"]
    groups = osc.json("security", "group", "list", **as_member)
    defaults = [g for g in groups if g["Name"] == "default"]
    assert len(defaults) == 1, groups
    assert defaults[0]["Project"] == project_id, defaults
    default = osc.json("security", "group", "show", defaults[0]["ID"], **as_member)
    # Neutron's default rules: egress anywhere, ingress from the group itself.
    rules = sorted((r["direction"], r.get("ethertype") or r.get("ether_type"), r["remote_group_id"])
                   for r in rules_of(default))
    assert rules == [("egress", "IPv4", None), ("egress", "IPv6", None),
                     ("ingress", "IPv4", default["id"]), ("ingress", "IPv6", default["id"])], rules

    r = osc.fails("security", "group", "delete", default["id"], **as_member)
    assert "409" in r.stderr and "default security group" in r.stderr, r.stderr
    assert osc.json("security", "group", "show", default["id"], **as_member)["name"] == "default"
    # A second group named default is refused too.
    r = osc.fails("security", "group", "create", "default", **as_member)
    assert "409" in r.stderr, r.stderr
    # The member cannot see another project's groups.
    admin_groups = osc.json("security", "group", "list", "--project", "admin")
    admin_default = [g["ID"] for g in admin_groups if g["Name"] == "default"]
    assert admin_default, admin_groups
    r = osc.fails("security", "group", "show", admin_default[0], **as_member)
    assert "No SecurityGroup found" in r.stderr or "404" in r.stderr, r.stderr


# --- 5. quotas --------------------------------------------------------------------

def quota_rows(rows: list[dict]) -> dict[str, dict]:
    return {row["Resource"]: row for row in rows}


def test_network_quota_set_exceeded_and_usage(osc, cleanup, member):
    project_id = member["project"]["id"]
    as_member = {"cloud": "member", "config": member["config"]}

    before = quota_rows(osc.json("quota", "show", "--network", project_id))
    assert before["networks"]["Limit"] == 100, before["networks"]   # Neutron's default
    assert before["ports"]["Limit"] == 500 and before["routers"]["Limit"] == 10
    assert before["security_groups"]["Limit"] == 10

    limit = 3
    osc.ok("quota", "set", "--networks", str(limit), project_id)
    cleanup.add("quota", "delete", "--network", project_id)
    assert quota_rows(osc.json("quota", "show", "--network", project_id))["networks"]["Limit"] == limit
    # Other projects keep the default.
    assert quota_rows(osc.json("quota", "show", "--network", "admin"))["networks"]["Limit"] != limit

    made = []
    for _ in range(limit):
        made.append(make_network(osc, cleanup, **as_member)["id"])
    r = osc.fails("network", "create", uniq("net-over"), **as_member)
    assert "Quota exceeded" in r.stderr, r.stderr
    assert "network" in r.stderr and "409" in r.stderr, r.stderr
    mine = osc.json("network", "list", "--project", project_id)
    assert sorted(n["ID"] for n in mine) == sorted(made), mine

    usage = quota_rows(osc.json("quota", "show", "--usage", project_id))
    assert usage["networks"]["Limit"] == limit, usage["networks"]
    assert usage["networks"]["In Use"] == limit, usage["networks"]
    assert usage["subnets"]["In Use"] == 0 and usage["ports"]["In Use"] == 0, usage
    # (the member listed nothing yet that would make its default security group)

    # Freeing one makes room for one.
    osc.ok("network", "delete", made.pop(), **as_member)
    made.append(make_network(osc, cleanup, **as_member)["id"])
    osc.fails("network", "create", uniq("net-over"), **as_member)

    # Back to the defaults.
    osc.ok("quota", "delete", "--network", project_id)
    assert quota_rows(osc.json("quota", "show", "--network", project_id))["networks"]["Limit"] == 100
    extra = make_network(osc, cleanup, **as_member)
    assert extra["project_id"] == project_id


# --- 6. tags ----------------------------------------------------------------------

def test_network_tags(osc, cleanup):
    a, b = uniq("tag-a"), uniq("tag-b")
    n1 = make_network(osc, cleanup)
    n2 = make_network(osc, cleanup)
    osc.ok("network", "set", "--tag", a, "--tag", b, n1["id"])
    osc.ok("network", "set", "--tag", a, n2["id"])
    assert sorted(osc.json("network", "show", n1["id"])["tags"]) == sorted([a, b])

    def ids(*args: str) -> list[str]:
        return sorted(n["ID"] for n in osc.json("network", "list", *args))

    assert ids("--tags", a) == sorted([n1["id"], n2["id"]])
    assert ids("--tags", f"{a},{b}") == [n1["id"]]
    assert ids("--tags", b) == [n1["id"]]
    assert ids("--any-tags", f"{b},{uniq('nope')}") == [n1["id"]]
    assert n1["id"] not in ids("--not-tags", b) and n2["id"] in ids("--not-tags", b)

    osc.ok("network", "unset", "--tag", a, n1["id"])
    assert osc.json("network", "show", n1["id"])["tags"] == [b]
    assert ids("--tags", a) == [n2["id"]]
    assert ids("--tags", b) == [n1["id"]]

    osc.ok("network", "set", "--no-tag", n1["id"])
    assert osc.json("network", "show", n1["id"])["tags"] == []
    assert ids("--tags", b) == []


# --- 7. openstacksdk, and a concurrent burst ----------------------------------------

@pytest.fixture
def conn(clouds):
    c = openstack.connect(cloud="martlet")
    yield c
    c.close()


def test_sdk_network_subnet_port(conn):
    net = conn.network.create_network(name=uniq("sdk-net"))
    try:
        assert net.id and net.status == "ACTIVE"
        cidr = rand_cidr()
        subnet = conn.network.create_subnet(network_id=net.id, ip_version=4, cidr=str(cidr),
                                            name=uniq("sdk-subnet"))
        assert subnet.cidr == str(cidr) and subnet.gateway_ip == host(cidr, 1)
        assert subnet.allocation_pools == [{"start": host(cidr, 2), "end": host(cidr, -2)}]
        assert conn.network.get_network(net.id).subnet_ids == [subnet.id]

        device = str(uuid.uuid4())
        port = conn.network.create_port(network_id=net.id, device_id=device, name=uniq("sdk-port"))
        other = conn.network.create_port(network_id=net.id, name=uniq("sdk-other"))
        assert port.device_id == device
        [fixed] = port.fixed_ips
        assert fixed["subnet_id"] == subnet.id
        assert ipaddress.ip_address(fixed["ip_address"]) in cidr
        assert [p.id for p in conn.network.ports(device_id=device)] == [port.id]
        assert sorted(p.id for p in conn.network.ports(network_id=net.id)) == sorted([port.id, other.id])
        assert conn.network.find_network(net.name).id == net.id

        conn.network.update_port(port, name="renamed")
        assert conn.network.get_port(port.id).name == "renamed"

        conn.network.delete_port(port)
        conn.network.delete_port(other)
        assert list(conn.network.ports(device_id=device)) == []
        assert conn.network.find_port(port.id) is None
        conn.network.delete_subnet(subnet)
        assert conn.network.find_subnet(subnet.id) is None
    finally:
        conn.network.delete_network(net, ignore_missing=True)
    assert conn.network.find_network(net.id) is None

    # The cloud layer (Ansible's) sees networks too.
    name = uniq("cloud-net")
    made = conn.create_network(name)
    try:
        assert [n.id for n in conn.search_networks(name)] == [made.id]
    finally:
        conn.delete_network(made.id)
    assert conn.get_network(made.id) is None


def test_concurrent_ports_on_small_subnet_then_exhaustion(net_api):
    net = net_api.create("networks", "network", name=uniq("burst-net"))
    ports: list[str] = []
    try:
        cidr = rand_cidr(26)
        subnet = net_api.create("subnets", "subnet", network_id=net["id"], ip_version=4, cidr=str(cidr),
                                name=uniq("burst-subnet"))
        network_addr, broadcast, gateway = host(cidr, 0), host(cidr, -1), host(cidr, 1)
        assert subnet["gateway_ip"] == gateway
        assert subnet["allocation_pools"] == [{"start": host(cidr, 2), "end": host(cidr, -2)}], subnet
        pool = {str(ip) for ip in cidr.hosts()} - {gateway}
        assert len(pool) == 61

        token = net_api.admin_token()

        def create(i: int) -> requests.Response:
            return net_api.request("POST", "/v2.0/ports", token,
                                   json={"port": {"network_id": net["id"], "name": f"burst-{i}"}})

        with ThreadPoolExecutor(max_workers=25) as pool_exec:
            results = list(pool_exec.map(create, range(50)))
        for r in results:
            if r.status_code == 201:
                ports.append(r.json()["port"]["id"])
        failed = [(r.status_code, r.text) for r in results if r.status_code != 201]
        assert not failed, f"{len(failed)} of 50 concurrent port creations failed: {failed[:5]}"

        ips = [ip["ip_address"] for r in results for ip in r.json()["port"]["fixed_ips"]]
        assert len(ips) == 50, ips
        assert len(set(ips)) == 50, f"duplicate fixed IPs: {sorted(ip for ip in ips if ips.count(ip) > 1)}"
        assert set(ips) <= pool, f"outside the pool: {sorted(set(ips) - pool)}"
        assert not {network_addr, broadcast, gateway} & set(ips)
        assert all(r.json()["port"]["fixed_ips"][0]["subnet_id"] == subnet["id"] for r in results)
        # The server agrees with what it answered.
        listed = net_api.request("GET", "/v2.0/ports", params={"network_id": net["id"]}).json()["ports"]
        assert sorted(ip["ip_address"] for p in listed for ip in p["fixed_ips"]) == sorted(ips)

        # Take the rest of the pool, then one more is refused.
        for i in range(len(pool) - 50):
            r = create(100 + i)
            assert r.status_code == 201, f"port {51 + i} of {len(pool)} -> {r.status_code}: {r.text}"
            ports.append(r.json()["port"]["id"])
            ips.append(r.json()["port"]["fixed_ips"][0]["ip_address"])
        assert set(ips) == pool
        r = create(999)
        if r.status_code == 201:
            ports.append(r.json()["port"]["id"])
        assert r.status_code == 409, f"port on a full subnet -> {r.status_code}: {r.text}"
        err = neutron_error(r)
        assert err["type"] == "IpAddressGenerationFailure", err
        assert net["id"] in err["message"], err

        # A freed address can be taken again.
        net_api.delete("ports", ports.pop())
        r = create(1000)
        assert r.status_code == 201, r.text
        ports.append(r.json()["port"]["id"])
    finally:
        with ThreadPoolExecutor(max_workers=10) as ex:
            deleted = list(ex.map(lambda p: net_api.delete("ports", p), ports))
        net_api.delete("networks", net["id"])
    assert [d.status_code for d in deleted] == [204] * len(ports), \
        [(d.status_code, d.text) for d in deleted if d.status_code != 204]


# --- 8. raw HTTP ------------------------------------------------------------------

def test_fault_bodies_and_bad_ids(net_api):
    net = net_api.create("networks", "network", name=uniq("raw-net"))
    try:
        r = net_api.request("POST", "/v2.0/subnets", json={"subnet": {
            "network_id": net["id"], "ip_version": 4, "cidr": "10.0.0.300/24"}})
        assert r.status_code == 400, f"{r.status_code}: {r.text}"
        err = neutron_error(r)
        assert err["type"] == "HTTPBadRequest", err
        assert "cidr" in err["message"] and "10.0.0.300/24" in err["message"], err
        assert r.headers.get("Content-Type", "").startswith("application/json")

        r = net_api.request("POST", "/v2.0/networks", json={"network": {"name": "x", "bogus": 1}})
        assert r.status_code == 400, r.text
        assert "bogus" in neutron_error(r)["message"]

        r = net_api.request("GET", "/v2.0/networks/not-a-uuid")
        assert r.status_code == 404, f"{r.status_code}: {r.text}"
        assert neutron_error(r)["type"] == "NetworkNotFound"
        r = net_api.request("GET", f"/v2.0/ports/{uuid.uuid4()}")
        assert r.status_code == 404 and neutron_error(r)["type"] == "PortNotFound", r.text

        r = net_api.request("GET", "/v2.0/networks", headers={"X-Auth-Token": "not-a-token"})
        assert r.status_code == 401, r.text
    finally:
        net_api.delete("networks", net["id"])


def test_if_match_revision_number(net_api):
    net = net_api.create("networks", "network", name=uniq("rev-net"))
    try:
        rev = net["revision_number"]
        r = net_api.request("PUT", f"/v2.0/networks/{net['id']}", json={"network": {"name": "stale"}},
                            headers={"If-Match": "revision_number=999"})
        assert r.status_code == 412, f"{r.status_code}: {r.text}"
        assert neutron_error(r)["type"] == "RevisionNumberConstraintFailed"
        got = net_api.request("GET", f"/v2.0/networks/{net['id']}").json()["network"]
        assert got["name"] == net["name"] and got["revision_number"] == rev

        r = net_api.request("PUT", f"/v2.0/networks/{net['id']}", json={"network": {"name": "fresh"}},
                            headers={"If-Match": f"revision_number={rev}"})
        assert r.status_code == 200, r.text
        assert r.json()["network"]["name"] == "fresh"
        assert r.json()["network"]["revision_number"] > rev

        r = net_api.request("DELETE", f"/v2.0/networks/{net['id']}",
                            headers={"If-Match": f"revision_number={rev}"})
        assert r.status_code == 412, r.text
    finally:
        net_api.delete("networks", net["id"])
    assert net_api.request("GET", f"/v2.0/networks/{net['id']}").status_code == 404


def test_fields_and_pagination(net_api):
    tag = uniq("page")
    made = [net_api.create("networks", "network", name=uniq("page-net"), tags=[tag]) for _ in range(5)]
    try:
        r = net_api.request("GET", "/v2.0/networks", params=[("fields", "id"), ("fields", "name")])
        assert r.status_code == 200, r.text
        nets = r.json()["networks"]
        assert nets and all(set(n) == {"id", "name"} for n in nets), nets[:3]
        r = net_api.request("GET", f"/v2.0/networks/{made[0]['id']}", params=[("fields", "id"), ("fields", "name")])
        assert r.json() == {"network": {"id": made[0]["id"], "name": made[0]["name"]}}, r.text

        def walk(params: dict) -> list[list[str]]:
            pages, url, seen = [], "/v2.0/networks", 0
            r = net_api.request("GET", url, params=params)
            while True:
                assert r.status_code == 200, r.text
                body = r.json()
                pages.append([n["id"] for n in body["networks"]])
                assert len(pages[-1]) <= 2, pages[-1]
                nexts = [link["href"] for link in body.get("networks_links", []) if link["rel"] == "next"]
                if not nexts:
                    return pages
                seen += 1
                assert seen < 1000, "pagination does not end"
                r = net_api.request("GET", nexts[0])

        everything = [n["id"] for n in net_api.request("GET", "/v2.0/networks").json()["networks"]]
        # The plain listing, page by page.
        pages = walk({"limit": 2})
        flat = [i for page in pages for i in page]
        assert len(flat) == len(set(flat)), "a network was listed twice"
        assert sorted(flat) == sorted(everything)
        assert {m["id"] for m in made} <= set(flat)
        assert all(len(p) == 2 for p in pages[:-1])

        # A filtered listing keeps its filter across pages.
        r = net_api.request("GET", "/v2.0/networks", params={"tags": tag, "limit": 2})
        links = r.json().get("networks_links", [])
        assert any(link["rel"] == "next" for link in links), r.text
        pages = walk({"tags": tag, "limit": 2})
        assert [len(p) for p in pages] == [2, 2, 1], pages
        assert sorted(i for p in pages for i in p) == sorted(m["id"] for m in made)
    finally:
        for m in made:
            net_api.delete("networks", m["id"])


# --- restart ---------------------------------------------------------------------

@pytest.mark.restarts_server
def test_networks_survive_restart_and_addresses_stay_unique(osc, cleanup, martlet):
    net = make_network(osc, cleanup)
    cidr = rand_cidr()
    sub = make_subnet(osc, cleanup, net["id"], cidr)
    router = osc.json("router", "create", uniq("router"))
    cleanup.add("router", "delete", router["id"])
    osc.ok("router", "add", "subnet", router["id"], sub["id"])
    cleanup.add("router", "remove", "subnet", router["id"], sub["id"])
    before = []
    for _ in range(3):
        port = osc.json("port", "create", "--network", net["id"], uniq("port"))
        cleanup.add("port", "delete", port["id"])
        before.append(port)

    rc = martlet.restart()
    assert rc == 0, f"martlet serve exited with {rc} on SIGTERM:\n{martlet.log_tail()}"

    for port in before:
        shown = osc.json("port", "show", port["id"])
        assert port_ips(shown) == port_ips(port) and shown["mac_address"] == port["mac_address"]
    assert osc.json("subnet", "show", sub["id"])["gateway_ip"] == host(cidr, 1)
    interfaces = osc.json("port", "list", "--router", router["id"])
    assert [p["Fixed IP Addresses"][0]["ip_address"] for p in interfaces] == [host(cidr, 1)]
    # Allocation carries on after the restart without handing out a held address.
    after = osc.json("port", "create", "--network", net["id"], uniq("port"))
    cleanup.add("port", "delete", after["id"])
    held = {ip for p in before for ip in port_ips(p)} | {host(cidr, 1)}
    assert port_ips(after)[0] not in held
    assert ipaddress.ip_address(port_ips(after)[0]) in cidr
