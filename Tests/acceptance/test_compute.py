"""The Compute service (Nova v2.1 under /compute, on the fake hypervisor) driven
by the real clients: `openstack flavor|keypair|server|server group|quota ...`,
openstacksdk's cloud layer, and raw HTTP with requests (version discovery,
microversions, fault bodies)."""

from __future__ import annotations

import base64
import hashlib
import http.client
import ipaddress
import json
import random
import re
import shutil
import subprocess
import time
import uuid
from typing import Any

import openstack
import pytest
import requests
from cryptography.hazmat.primitives import serialization

import consoles
from conftest import OSCError, ServiceAPI, uniq, write_random

FAKE_HOSTS = {"fake-1", "fake-2"}

# DevStack's flavors: name -> (id, RAM MB, disk GB, vCPUs).
DEVSTACK_FLAVORS = {
    "m1.nano": ("42", 192, 1, 1),
    "m1.micro": ("84", 256, 1, 1),
    "m1.tiny": ("1", 512, 1, 1),
    "m1.small": ("2", 2048, 20, 1),
    "m1.medium": ("3", 4096, 40, 2),
    "m1.large": ("4", 8192, 80, 4),
    "m1.xlarge": ("5", 16384, 160, 8),
}

# Nova's default compute quotas, as `openstack quota show --compute` names them.
NOVA_DEFAULT_QUOTAS = {"instances": 10, "cores": 20, "ram": 51200, "key-pairs": 100,
                       "server-groups": 10, "server-group-members": 10}


# --- helpers ---------------------------------------------------------------------

def rand_cidr() -> ipaddress.IPv4Network:
    """A random private /24, so tests never look at each other's addresses."""
    base = ipaddress.IPv4Address("10.0.0.0") + random.randrange(1 << 16) * 256
    return ipaddress.ip_network(f"{base}/24")


def json_tail(out: str) -> Any:
    """The JSON document of `-f json` output that `--wait` may have prefixed
    with "\\rProgress: N" or "Complete"."""
    starts = [i for i in (out.find("{"), out.find("[")) if i >= 0]
    assert starts, f"no JSON in the output:\n{out}"
    try:
        return json.loads(out[min(starts):])
    except ValueError as e:
        raise AssertionError(f"bad JSON in the output ({e}):\n{out}")


def flavor_name(shown: Any) -> str:
    """The flavor's name from `server show -f json`: "name (id)" before
    microversion 2.47, the embedded flavor (`original_name`) from 2.47 on."""
    if isinstance(shown, dict):
        return shown.get("original_name") or shown.get("name")
    return str(shown).split(" (")[0]


def md5_fingerprint(public_key: str) -> str:
    """Nova's fingerprint of an OpenSSH public key: MD5 of the key blob, colon-separated hex."""
    blob = base64.b64decode(public_key.split()[1])
    digest = hashlib.md5(blob).hexdigest()
    return ":".join(digest[i:i + 2] for i in range(0, len(digest), 2))


class ComputeAPI(ServiceAPI):
    """Raw Compute v2.1 calls (as admin unless given a token)."""

    prefix = "compute"

    def server(self, server_id: str) -> dict:
        r = self.request("GET", f"/v2.1/servers/{server_id}")
        assert r.status_code == 200, f"GET /v2.1/servers/{server_id} -> {r.status_code}: {r.text}"
        return r.json()["server"]

    def wait_status(self, server_id: str, want: str, timeout: float = 60) -> dict:
        """Polls until the server has status `want` and no task state; fails
        with the last status seen (at once if it went to ERROR unasked)."""
        deadline = time.monotonic() + timeout
        while True:
            server = self.server(server_id)
            status, task = server.get("status"), server.get("OS-EXT-STS:task_state")
            if status == want and task is None:
                return server
            if status == "ERROR" and want != "ERROR":
                raise AssertionError(f"server {server_id} went to ERROR while waiting for {want}: "
                                     f"fault {server.get('fault')}")
            if time.monotonic() > deadline:
                raise AssertionError(f"server {server_id} not {want} after {timeout}s: "
                                     f"last seen status {status}, task_state {task}")
            time.sleep(0.2)

    def delete_and_wait(self, server_id: str, timeout: float = 60) -> None:
        r = self.request("DELETE", f"/v2.1/servers/{server_id}")
        assert r.status_code in (202, 204, 404), f"DELETE server {server_id} -> {r.status_code}: {r.text}"
        deadline = time.monotonic() + timeout
        while True:
            r = self.request("GET", f"/v2.1/servers/{server_id}")
            if r.status_code == 404:
                return
            assert time.monotonic() < deadline, \
                f"server {server_id} still there {timeout}s after DELETE: {r.status_code} {r.text}"
            time.sleep(0.2)


class Servers:
    """Servers a test made, deleted (as admin, waiting until gone) at teardown."""

    def __init__(self, compute: ComputeAPI):
        self.compute = compute
        self.ids: list[str] = []

    def track(self, server_id: str) -> str:
        self.ids.append(server_id)
        return server_id

    def delete_all(self) -> None:
        errors = []
        for server_id in reversed(self.ids):
            try:
                self.compute.delete_and_wait(server_id)
            except Exception as e:  # noqa: BLE001 - report all of them
                errors.append(str(e))
        assert not errors, "could not delete servers at teardown:\n" + "\n".join(errors)


def boot(osc, servers: Servers, net: dict, image: dict, *extra: str, wait: bool = True,
         name: str | None = None, **kw) -> dict:
    """`openstack server create` of an m1.nano on the module's network and image
    (or as given in `extra`); returns its `-f json` output."""
    name = name or uniq("vm")
    args = ["server", "create", "--flavor", "m1.nano", "--image", image["id"],
            "--network", net["network"]["id"], *extra]
    if wait:
        args.append("--wait")
    server = json_tail(osc.ok(*args, name, "-f", "json", **kw))
    servers.track(server["id"])
    assert server["name"] == name, server
    return server


# --- fixtures ----------------------------------------------------------------------

@pytest.fixture
def compute(martlet, identity) -> ComputeAPI:
    return ComputeAPI(martlet, identity)


@pytest.fixture
def servers(compute, cleanup):
    # (Depends on `cleanup` so that servers go before the networks they use.)
    s = Servers(compute)
    yield s
    s.delete_all()


@pytest.fixture(scope="module")
def net(osc):
    """An admin network with one /24 subnet (there is no default network)."""
    network = osc.json("network", "create", uniq("compute-net"))
    cidr = rand_cidr()
    try:
        subnet = osc.json("subnet", "create", uniq("compute-subnet"), "--network", network["id"],
                          "--subnet-range", str(cidr))
    except Exception:
        osc.run("network", "delete", network["id"])
        raise
    yield {"network": network, "subnet": subnet, "cidr": cidr}
    osc.run("subnet", "delete", subnet["id"])
    osc.run("network", "delete", network["id"])


@pytest.fixture(scope="module")
def image(osc, tmp_path_factory):
    """A small public raw image (public so that other projects may boot it)."""
    path = tmp_path_factory.mktemp("compute-image") / "disk.raw"
    write_random(path, 1 << 20)
    img = osc.json("image", "create", "--disk-format", "raw", "--container-format", "bare",
                   "--file", str(path), "--public", uniq("compute-img"))
    assert img["status"] == "active", img
    yield img
    osc.run("image", "delete", img["id"])


@pytest.fixture
def conn(clouds):
    c = openstack.connect(cloud="martlet")
    yield c
    c.close()


# --- 1. flavors ----------------------------------------------------------------------

def test_flavor_list_devstack_flavors_and_admin_crud(osc, member):
    listed = {f["Name"]: f for f in osc.json("flavor", "list")}
    for name, (fid, ram, disk, vcpus) in DEVSTACK_FLAVORS.items():
        assert name in listed, f"{name} missing from flavor list: {sorted(listed)}"
        row = listed[name]
        assert (row["ID"], row["RAM"], row["Disk"], row["VCPUs"]) == (fid, ram, disk, vcpus), row
        assert row["Is Public"] is True, row

    name = uniq("flavor")
    created = osc.json("flavor", "create", "--ram", "128", "--disk", "2", "--vcpus", "2", name)
    try:
        assert created["name"] == name
        assert created["id"], created
        assert (created["ram"], created["disk"], created["vcpus"]) == (128, 2, 2), created
        assert created["os-flavor-access:is_public"] is True, created
        assert name in {f["Name"] for f in osc.json("flavor", "list")}

        osc.ok("flavor", "set", "--property", "hw:cpu_policy=dedicated",
               "--property", "hw:mem_page_size=large", name)
        shown = osc.json("flavor", "show", name)
        assert shown["id"] == created["id"]
        assert (shown["ram"], shown["disk"], shown["vcpus"]) == (128, 2, 2), shown
        assert shown["properties"] == {"hw:cpu_policy": "dedicated", "hw:mem_page_size": "large"}, shown
        assert osc.json("flavor", "show", created["id"])["name"] == name

        # Flavors are the admin's to manage.
        r = osc.fails("flavor", "create", "--ram", "64", "--disk", "1", "--vcpus", "1",
                      uniq("flavor-member"), cloud="member", config=member["config"])
        assert "403" in r.stderr or "Forbidden" in r.stderr or "not allowed" in r.stderr, r.stderr
    finally:
        osc.run("flavor", "delete", created["id"])
    osc.fails("flavor", "show", created["id"])
    assert name not in {f["Name"] for f in osc.json("flavor", "list")}


# --- 2. key pairs ----------------------------------------------------------------------

def test_keypair_generated_list_show_delete(osc, cleanup):
    name = uniq("key")
    out = osc.ok("keypair", "create", name)
    cleanup.add("keypair", "delete", name)
    m = re.search(r"-----BEGIN OPENSSH PRIVATE KEY-----.*?-----END OPENSSH PRIVATE KEY-----\n?",
                  out, re.S)
    assert m, f"keypair create printed no private key:\n{out}"

    shown = osc.json("keypair", "show", name)
    assert shown["name"] == name, shown
    assert shown.get("type", "ssh") == "ssh", shown

    # The stored public key is the one of the printed private key, and its
    # fingerprint is the MD5 of the key blob.
    pub_out = osc.ok("keypair", "show", "--public-key", name)
    pm = re.search(r"ssh-ed25519 [A-Za-z0-9+/=]+", pub_out)
    assert pm, f"keypair show --public-key printed no ssh-ed25519 key:\n{pub_out}"
    private = serialization.load_ssh_private_key(m.group(0).encode(), password=None)
    expected_pub = private.public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH).decode()
    assert pm.group(0) == expected_pub
    assert shown["fingerprint"] == md5_fingerprint(pm.group(0)), shown

    listed = {k["Name"]: k for k in osc.json("keypair", "list")}
    assert name in listed, listed
    assert listed[name]["Fingerprint"] == shown["fingerprint"], listed[name]

    osc.ok("keypair", "delete", name)
    osc.fails("keypair", "show", name)
    assert name not in {k["Name"] for k in osc.json("keypair", "list")}


def test_keypair_import_ed25519_public_key(osc, cleanup, tmp_path):
    ssh_keygen = shutil.which("ssh-keygen")
    if ssh_keygen is None:
        pytest.skip("ssh-keygen (Debian's openssh-client) is not installed: "
                    "the imported ed25519 key scenario needs it")
    key = tmp_path / "id_ed25519"
    subprocess.run([ssh_keygen, "-q", "-t", "ed25519", "-N", "", "-C", "martlet-test",
                    "-f", str(key)], check=True, capture_output=True, timeout=60,
                   stdin=subprocess.DEVNULL)
    pub = key.with_name("id_ed25519.pub")
    r = subprocess.run([ssh_keygen, "-l", "-E", "md5", "-f", str(pub)], check=True,
                       capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    # "256 MD5:aa:bb:... martlet-test (ED25519)"
    expected = r.stdout.split()[1].removeprefix("MD5:")

    name = uniq("key-imported")
    created = osc.json("keypair", "create", "--public-key", str(pub), name)
    cleanup.add("keypair", "delete", name)
    assert created["name"] == name, created
    assert created["fingerprint"] == expected, (created, r.stdout)

    shown = osc.json("keypair", "show", name)
    assert shown["fingerprint"] == expected, shown
    stored = osc.ok("keypair", "show", "--public-key", name)
    assert pub.read_text().split()[1] in stored, stored
    assert [k["Fingerprint"] for k in osc.json("keypair", "list") if k["Name"] == name] == [expected]

    # A second key pair of the same name is a conflict.
    r = osc.fails("keypair", "create", "--public-key", str(pub), name)
    assert "409" in r.stderr or "already exists" in r.stderr, r.stderr

    osc.ok("keypair", "delete", name)
    osc.fails("keypair", "show", name)
    assert name not in {k["Name"] for k in osc.json("keypair", "list")}


# --- 3. servers ------------------------------------------------------------------------

def test_server_create_list_show_and_port(osc, servers, net, image):
    name = uniq("vm")
    created = boot(osc, servers, net, image, name=name)
    sid = created["id"]
    assert created["status"] == "ACTIVE", created

    listed = [s for s in osc.json("server", "list") if s["ID"] == sid]
    assert len(listed) == 1, listed
    row = listed[0]
    assert (row["Name"], row["Status"]) == (name, "ACTIVE"), row
    assert row["Flavor"] == "m1.nano", row
    assert row["Image"] == image["name"], row
    assert list(row["Networks"]) == [net["network"]["name"]], row

    shown = osc.json("server", "show", sid)
    assert (shown["name"], shown["status"]) == (name, "ACTIVE"), shown
    assert flavor_name(shown["flavor"]) == "m1.nano", shown["flavor"]
    assert image["id"] in shown["image"], shown["image"]
    assert shown["OS-EXT-SRV-ATTR:host"] in FAKE_HOSTS, shown
    addresses = shown["addresses"]
    assert list(addresses) == [net["network"]["name"]], addresses
    [ip] = addresses[net["network"]["name"]]
    assert ipaddress.ip_address(ip) in net["cidr"], (ip, net["cidr"])

    ports = osc.json("port", "list", "--server", sid)
    assert len(ports) == 1, ports
    port = osc.json("port", "show", ports[0]["ID"])
    assert port["device_owner"] == "compute:nova", port
    assert port["device_id"] == sid, port
    assert port["network_id"] == net["network"]["id"], port
    assert [f["ip_address"] for f in port["fixed_ips"]] == [ip], port["fixed_ips"]


@pytest.mark.one_database
def test_server_power_actions(osc, servers, compute, net, image):
    sid = boot(osc, servers, net, image)["id"]
    server = compute.wait_status(sid, "ACTIVE")
    assert server.get("OS-EXT-STS:power_state") == 1, server

    # (command, the status it ends in, the power state then: Nova's numbers)
    steps = [
        (("server", "stop"), "SHUTOFF", 4),
        (("server", "start"), "ACTIVE", 1),
        (("server", "reboot"), "ACTIVE", 1),
        (("server", "reboot", "--hard"), "ACTIVE", 1),
        (("server", "pause"), "PAUSED", 3),
        (("server", "unpause"), "ACTIVE", 1),
        (("server", "suspend"), "SUSPENDED", None),
        (("server", "resume"), "ACTIVE", 1),
    ]
    for command, status, power in steps:
        osc.ok(*command, sid)
        server = compute.wait_status(sid, status)
        if power is not None:
            assert server.get("OS-EXT-STS:power_state") == power, (command, server)

    shown = osc.json("server", "show", sid)
    assert shown["status"] == "ACTIVE", shown


def test_console_urls_and_the_proxy(osc, martlet, servers, compute, net, image):
    """The console proxy serves the noVNC page for a URL `console url show` gives; the fake driver
    has no console behind it, so a good token's connection is closed without data, as a bad one's is."""
    sid = boot(osc, servers, net, image)["id"]
    compute.wait_status(sid, "ACTIVE")
    url = osc.json("console", "url", "show", "--novnc", sid)["url"]
    assert url.startswith(martlet.console_url + "/vnc_lite.html?path="), url
    page = requests.get(url, timeout=30)
    assert page.status_code == 200 and "noVNC" in page.text and "<script" in page.text, page.text[:300]
    outside = http.client.HTTPConnection("127.0.0.1", martlet.console_port, timeout=30)
    outside.request("GET", "/../../etc/passwd")  # as sent: requests would tidy the path away
    assert outside.getresponse().status in (400, 404)
    ws_url = consoles.websocket_url(url)
    assert consoles.closed_without_data(ws_url)
    assert consoles.closed_without_data(ws_url.replace("token=", "token=bad"))
    serial = osc.json("console", "url", "show", "--serial", sid)["url"]
    assert serial.startswith(martlet.console_url.replace("http://", "ws://") + "/?token="), serial
    osc.ok("server", "stop", sid)
    compute.wait_status(sid, "SHUTOFF")
    assert "not ready" in osc.fails("console", "url", "show", "--novnc", sid).stderr


def test_server_resize_and_confirm(osc, servers, compute, net, image):
    sid = boot(osc, servers, net, image)["id"]
    osc.ok("server", "resize", "--flavor", "m1.micro", "--wait", sid)
    compute.wait_status(sid, "VERIFY_RESIZE")
    osc.ok("server", "resize", "confirm", sid)
    compute.wait_status(sid, "ACTIVE")
    shown = osc.json("server", "show", sid)
    assert shown["status"] == "ACTIVE", shown
    assert flavor_name(shown["flavor"]) == "m1.micro", shown["flavor"]
    assert shown["OS-EXT-SRV-ATTR:host"] in FAKE_HOSTS, shown


def test_server_rebuild(osc, servers, compute, net, image):
    sid = boot(osc, servers, net, image)["id"]
    rebuilt = json_tail(osc.ok("server", "rebuild", "--image", image["id"], "--wait", sid,
                               "-f", "json"))
    assert rebuilt["id"] == sid, rebuilt
    compute.wait_status(sid, "ACTIVE")
    shown = osc.json("server", "show", sid)
    assert shown["status"] == "ACTIVE", shown
    assert image["id"] in shown["image"], shown["image"]
    [ip] = shown["addresses"][net["network"]["name"]]
    assert ipaddress.ip_address(ip) in net["cidr"], ip


def test_server_snapshot_image(osc, servers, net, image):
    sid = boot(osc, servers, net, image)["id"]
    snap = uniq("snap")
    try:
        made = json_tail(osc.ok("server", "image", "create", "--wait", "--name", snap, sid,
                                "-f", "json"))
        assert made["name"] == snap, made
        shown = osc.json("image", "show", snap)
        assert shown["status"] == "active", shown
        props = shown.get("properties") or {}
        assert props.get("image_type", shown.get("image_type")) == "snapshot", shown
    finally:
        osc.run("image", "delete", snap)


# --- 4. server groups --------------------------------------------------------------------

def test_server_group_anti_affinity(osc, servers, compute, net, image, cleanup):
    group = osc.json("server", "group", "create", "--policy", "anti-affinity", uniq("group"))
    cleanup.add("server", "group", "delete", group["id"])
    assert group.get("policy") == "anti-affinity" or group.get("policies") == ["anti-affinity"], group

    hint = ("--hint", f"group={group['id']}")
    first = boot(osc, servers, net, image, *hint)
    second = boot(osc, servers, net, image, *hint)
    hosts = []
    for s in (first, second):
        shown = osc.json("server", "show", s["id"])
        assert shown["status"] == "ACTIVE", shown
        hosts.append(shown["OS-EXT-SRV-ATTR:host"])
    assert set(hosts) == FAKE_HOSTS, f"anti-affinity servers on hosts {hosts}"
    members = osc.json("server", "group", "show", group["id"])["members"]
    assert {first["id"], second["id"]} <= set(members), members

    # Two hosts, both taken: the third one cannot be placed.
    third = boot(osc, servers, net, image, *hint, wait=False)
    compute.wait_status(third["id"], "ERROR")
    shown = osc.json("server", "show", third["id"])
    assert shown["status"] == "ERROR", shown
    assert "No valid host" in (shown.get("fault") or {}).get("message", ""), shown


# --- 5. quotas -------------------------------------------------------------------------------

def test_instance_quota_exceeded(osc, clouds, servers, cleanup, image):
    pname, uname, password = uniq("quota-proj"), uniq("quota-user"), "pw-" + uuid.uuid4().hex
    project = osc.json("project", "create", "--domain", "Default", pname)
    cleanup.add("project", "delete", project["id"])
    user = osc.json("user", "create", "--domain", "Default", "--password", password, uname)
    cleanup.add("user", "delete", user["id"])
    osc.ok("role", "add", "--project", project["id"], "--user", user["id"], "member")
    as_user = {"cloud": "quota", "config": clouds.write(quota=clouds.password_cloud(uname, password, pname))}

    limits = {q["Resource"]: q["Limit"] for q in osc.json("quota", "show", "--compute", project["id"])}
    for resource, limit in NOVA_DEFAULT_QUOTAS.items():
        assert limits.get(resource) == limit, (resource, limits)
    osc.ok("quota", "set", "--instances", "1", project["id"])
    limits = {q["Resource"]: q["Limit"] for q in osc.json("quota", "show", "--compute", project["id"])}
    assert limits["instances"] == 1, limits

    # The user's own network (the admin's is not shared).
    network = osc.json("network", "create", uniq("quota-net"), **as_user)
    cleanup.add("network", "delete", network["id"], **as_user)
    cidr = rand_cidr()
    subnet = osc.json("subnet", "create", uniq("quota-subnet"), "--network", network["id"],
                      "--subnet-range", str(cidr), **as_user)
    cleanup.add("subnet", "delete", subnet["id"], **as_user)
    user_net = {"network": network, "subnet": subnet, "cidr": cidr}

    first = boot(osc, servers, user_net, image, **as_user)
    assert first["status"] == "ACTIVE", first
    assert first.get("project_id", project["id"]) == project["id"], first

    over = uniq("vm-over")
    r = osc.run("server", "create", "--flavor", "m1.nano", "--image", image["id"],
                "--network", network["id"], over, "-f", "json", **as_user)
    if r.returncode == 0:  # (made after all: delete it with the rest)
        servers.track(json_tail(r.stdout)["id"])
        raise OSCError(f"a second server was accepted with --instances 1:\n{r.stdout}")
    assert "Quota exceeded" in r.stderr and "instances" in r.stderr, r.stderr
    mine = osc.json("server", "list", **as_user)
    assert [s["ID"] for s in mine] == [first["id"]], mine


# --- 6. deletion ----------------------------------------------------------------------------

def test_server_delete_removes_server_and_port(osc, servers, net, image):
    sid = boot(osc, servers, net, image)["id"]
    ports = osc.json("port", "list", "--server", sid)
    assert len(ports) == 1, ports
    port_id = ports[0]["ID"]

    osc.ok("server", "delete", "--wait", sid)
    assert sid not in {s["ID"] for s in osc.json("server", "list")}
    osc.fails("server", "show", sid)
    assert osc.json("port", "list", "--device-id", sid) == []
    osc.fails("port", "show", port_id)


# --- 7. openstacksdk ---------------------------------------------------------------------

def test_sdk_create_and_delete_server(conn, servers, net, image):
    name = uniq("sdk-vm")
    # (auto_ip=False: no floating IP, whatever external network may exist.)
    server = conn.create_server(name, image=image["id"], flavor="m1.nano",
                                network=net["network"]["id"], wait=True, auto_ip=False,
                                timeout=120)
    servers.track(server.id)
    assert server.name == name
    assert server.status == "ACTIVE", server.status
    got = conn.get_server(server.id)
    assert got is not None and got.status == "ACTIVE", got
    ips = [a["addr"] for a in got.addresses[net["network"]["name"]]]
    assert len(ips) == 1 and ipaddress.ip_address(ips[0]) in net["cidr"], got.addresses
    assert server.id in {s.id for s in conn.compute.servers()}

    assert conn.delete_server(server.id, wait=True, timeout=120) is True
    assert conn.get_server(server.id) is None
    assert conn.compute.find_server(server.id) is None


# --- 8. raw HTTP ------------------------------------------------------------------------

def nova_fault(r: requests.Response, kind: str, code: int) -> str:
    """The message of a Nova fault body `{kind: {"code": code, "message": ...}}`."""
    assert r.status_code == code, f"expected {code}, got {r.status_code}: {r.text}"
    try:
        body = r.json()
    except ValueError:
        raise AssertionError(f"fault {r.status_code} has no JSON body: {r.text!r}")
    assert set(body) == {kind}, f"fault body is not {{{kind!r}: ...}}: {body}"
    assert body[kind].get("code") == code, body
    message = body[kind].get("message")
    assert isinstance(message, str) and message, body
    return message


def test_compute_raw_discovery_microversions_and_faults(compute, net, image, servers):
    # Version discovery.
    r = compute.request("GET", "/")
    assert r.status_code in (200, 300), f"{r.status_code}: {r.text}"
    versions = {v["id"]: v for v in r.json()["versions"]}
    assert {"v2.0", "v2.1"} <= set(versions), versions
    v21 = versions["v2.1"]
    assert v21["min_version"] == "2.1", v21
    assert re.fullmatch(r"2\.\d+", v21["version"]), v21
    assert v21["status"] == "CURRENT", v21
    hrefs = [link["href"] for link in v21["links"] if link.get("rel") == "self"]
    assert hrefs and hrefs[0].rstrip("/").endswith("/compute/v2.1"), v21["links"]

    # Microversions: the header is echoed; latest is the maximum; 9.9 is refused.
    r = compute.request("GET", "/v2.1/flavors", headers={"OpenStack-API-Version": "compute 2.1"})
    assert r.status_code == 200, r.text
    assert r.headers.get("OpenStack-API-Version") == "compute 2.1", dict(r.headers)
    r = compute.request("GET", "/v2.1/flavors", headers={"OpenStack-API-Version": "compute latest"})
    assert r.status_code == 200, r.text
    assert r.headers.get("OpenStack-API-Version") == f"compute {v21['version']}", dict(r.headers)
    r = compute.request("GET", "/v2.1/flavors", headers={"OpenStack-API-Version": "compute 9.9"})
    assert r.status_code == 406, f"{r.status_code}: {r.text}"

    # Not found.
    nova_fault(compute.request("GET", "/v2.1/servers/not-a-uuid"), "itemNotFound", 404)
    nova_fault(compute.request("GET", f"/v2.1/servers/{uuid.uuid4()}"), "itemNotFound", 404)

    # Bad requests make no server.
    names = [uniq("raw-bad-userdata"), uniq("raw-bad-flavor")]
    base = {"imageRef": image["id"], "networks": [{"uuid": net["network"]["id"]}]}
    r = compute.request("POST", "/v2.1/servers", json={"server": {
        **base, "name": names[0], "flavorRef": "42", "user_data": "this is not base64!"}})
    if r.status_code == 202:
        servers.track(r.json()["server"]["id"])
    nova_fault(r, "badRequest", 400)
    r = compute.request("POST", "/v2.1/servers", json={"server": {
        **base, "name": names[1], "flavorRef": "no-such-flavor"}})
    if r.status_code == 202:
        servers.track(r.json()["server"]["id"])
    assert "flavor" in nova_fault(r, "badRequest", 400).lower()
    r = compute.request("GET", "/v2.1/servers")
    assert r.status_code == 200, r.text
    assert not {s["name"] for s in r.json()["servers"]} & set(names), r.json()
