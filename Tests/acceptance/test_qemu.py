"""Real servers: `martlet serve --compute-driver qemu` runs the test guest image under qemu, and the
openstack CLI drives it through its whole life cycle. Guests, taps and Martlet live in a network
namespace of the test stage's own (scripts/test.sh): nothing a guest sends leaves it.

Runs only with MARTLET_QEMU_ACCEPTANCE=1 and MARTLET_GUEST_IMAGE (the image
scripts/build-guest-image.sh made); one guest is shared by the life-cycle checks, in order."""

import base64
import contextlib
import hashlib
import json
import os
import re
import signal
import socket
import subprocess
import time
import uuid
from pathlib import Path

import openstack
import openstack.config
import pytest
import requests

import consoles

from conftest import Clouds, MartletServer, OpenStackCLI

pytestmark = pytest.mark.skipif(os.environ.get("MARTLET_QEMU_ACCEPTANCE") != "1",
                                reason="real guests run in their own stage (MARTLET_QEMU_ACCEPTANCE=1)")

BOOT_TIMEOUT = 240


class QemuCloud:
    def __init__(self, server: MartletServer, osc: OpenStackCLI, clouds: Path, image: str, network: str):
        self.server, self.osc, self.clouds, self.image, self.network = server, osc, clouds, image, network

    @property
    def instances(self) -> Path:
        return self.server.data_dir / "qemu" / "instances"

    def qemu_pids(self, server_id: str) -> list[int]:
        """The qemu processes running this server (found by its folder on their command line)."""
        pids = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                cmdline = (entry / "cmdline").read_bytes().decode(errors="replace")
            except OSError:
                continue
            if cmdline.startswith("qemu-system") or "/qemu-system" in cmdline.split("\0")[0]:
                if f"/instances/{server_id}/" in cmdline:
                    pids.append(int(entry.name))
        return pids

    def show(self, server_id: str) -> dict:
        return self.osc.json("server", "show", server_id)

    def wait_status(self, server_id: str, status: str, timeout: float = BOOT_TIMEOUT) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            s = self.show(server_id)
            if s["status"] == status:
                return s
            assert s["status"] != "ERROR" or status == "ERROR", f"server went to ERROR: {s.get('fault')}"
            assert time.monotonic() < deadline, f"server is {s['status']}, not {status}, after {timeout}s"
            time.sleep(1)

    def console(self, server_id: str) -> str:
        return self.osc.ok("console", "log", "show", server_id)

    def wait_console(self, server_id: str, text: str, count: int = 1, timeout: float = BOOT_TIMEOUT) -> str:
        deadline = time.monotonic() + timeout
        while True:
            log = self.console(server_id)
            if log.count(text) >= count:
                return log
            assert time.monotonic() < deadline, f"{text!r} ×{count} never appeared on the console:\n{log[-3000:]}"
            time.sleep(2)

    def qmp(self, server_id: str, command: str) -> dict:
        """Talks to the server's qemu directly, on the QMP socket its command line names; the reply."""
        (pid,) = self.qemu_pids(server_id)
        args = Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")
        path = args[args.index("-qmp") + 1].removeprefix("unix:").split(",")[0]
        with socket.socket(socket.AF_UNIX) as s:
            s.settimeout(10)
            s.connect(path)
            f = s.makefile("rw")
            f.readline()
            for c in ("qmp_capabilities", command):
                f.write(json.dumps({"execute": c}) + "\n")
                f.flush()
                while "return" not in (reply := json.loads(f.readline())) and "error" not in reply:
                    pass  # an event
            return reply

    def create(self, name: str, *extra: str, network: str | None = None) -> str:
        s = self.osc.json("server", "create", "--image", self.image, "--flavor", "m1.nano",
                          "--nic", f"net-id={network or self.network}", *extra, name)
        return s["id"]

    def assert_gone(self, server_id: str, port_ids: list[str]) -> None:
        deadline = time.monotonic() + 60
        while self.qemu_pids(server_id) or (self.instances / server_id).exists():
            assert time.monotonic() < deadline, f"left behind: {self.qemu_pids(server_id)} {list((self.instances / server_id).glob('*'))}"
            time.sleep(0.5)
        for port in port_ids:
            assert not Path(f"/sys/class/net/tap{port[:11]}").exists(), f"tap of port {port} left behind"


@pytest.fixture(scope="module")
def cloud(tmp_path_factory):
    image_path = os.environ.get("MARTLET_GUEST_IMAGE")
    assert image_path and Path(image_path).is_file(), "MARTLET_GUEST_IMAGE must name the built guest image"
    binary = Path(os.environ.get("MARTLET_BIN") or Path(__file__).resolve().parents[2] / ".build" / "debug" / "martlet")
    root = tmp_path_factory.mktemp("qemu-cloud")
    (root / "data").mkdir()
    # Ten one-vCPU guests at once on a two-core machine (the kill -9 test): Nova's old default.
    (root / "data" / "martlet.toml").write_text("cpu_allocation_ratio = 16.0\n")
    server = MartletServer(binary, root / "data", root / "server.log", os.environ.get("MARTLET_ACCEPTANCE_DATABASE") or None,
                           admin_password="admin-" + uuid.uuid4().hex,
                           extra_args=("--compute-driver", "qemu", "--network-backend", "linux", "--volume-driver", "file"))
    server.start()
    try:
        import shutil, sys
        exe = str(Path(sys.executable).parent / "openstack")
        clouds = Clouds(server, root).path
        osc = OpenStackCLI(exe if Path(exe).exists() else shutil.which("openstack"), clouds)
        image = osc.json("image", "create", "--disk-format", "qcow2", "--container-format", "bare", "--public",
                         "--file", image_path, "martlet-guest")["id"]
        network = osc.json("network", "create", "guests")["id"]
        osc.ok("subnet", "create", "--network", network, "--subnet-range", "10.77.0.0/24", "guests-v4")
        yield QemuCloud(server, osc, clouds, image, network)
        # The network's dnsmasq and namespace go with it (guests were deleted by their tests).
        osc.ok("network", "delete", network)
        deadline = time.monotonic() + 30
        while Path(f"/run/netns/qdhcp-{network}").exists():
            assert time.monotonic() < deadline, "the guests' network left its DHCP namespace behind"
            time.sleep(0.2)
    finally:
        rc = server.stop()
        print(f"\nserver log: {server.log_path}")
        assert rc in (0, None), server.log_tail()


@pytest.fixture(scope="module")
def guest(cloud, tmp_path_factory):
    """One guest with a config drive and user data, shared by the life-cycle checks."""
    user_data = tmp_path_factory.mktemp("userdata") / "user-data.sh"
    user_data.write_text("#!/bin/sh\necho user-data-marker-$(hostname)\n")
    server_id = cloud.create("lifecycle", "--config-drive", "True", "--user-data", str(user_data))
    cloud.wait_status(server_id, "ACTIVE")
    yield server_id
    cloud.osc.run("server", "delete", "--wait", server_id)


def test_boots_and_reads_its_config_drive(cloud, guest):
    log = cloud.wait_console(guest, "martlet-guest: ready")
    assert "martlet-guest: hostname lifecycle" in log, log[-3000:]
    assert "user-data-marker-lifecycle" in log, log[-3000:]
    assert len(cloud.qemu_pids(guest)) == 1
    port = cloud.osc.json("port", "list", "--server", guest)[0]["ID"]
    assert Path(f"/sys/class/net/tap{port[:11]}").exists(), "the server's tap is missing"
    # The linux data plane put the tap on its network's bridge, and the port is ACTIVE.
    bridge = f"brq{cloud.network[:11]}"
    assert Path(f"/sys/class/net/tap{port[:11]}/master").resolve().name == bridge
    assert cloud.osc.json("port", "show", port)["status"] == "ACTIVE"
    # `--lines` keeps the end of the log.
    assert cloud.osc.ok("console", "log", "show", "--lines", "1", guest).strip() in log


@pytest.mark.timeout(600)  # a second guest's boot under TCG, then two changes of its neighbour's groups
def test_guests_get_their_addresses_by_dhcp_and_reach_each_other(cloud, guest, tmp_path):
    """The linux data plane: the network's dnsmasq (in its qdhcp namespace, on the DHCP port the
    service made) gives each guest its port's address, and one guest pings the other across the
    network's bridge, as long as the other's security groups admit it: the default group admits
    its members, no group admits nothing. The second guest has no config drive: it reads its
    instance data and user data from 169.254.169.254, through the metadata proxy in the DHCP
    namespace of its network (which has no router)."""
    (address,) = [ip for ips in cloud.show(guest)["addresses"].values() for ip in ips]
    cloud.wait_console(guest, f"martlet-guest: eth0 {address}/")
    dhcp = cloud.osc.json("port", "list", "--network", cloud.network, "--device-owner", "network:dhcp", "--long")
    assert len(dhcp) == 1, dhcp
    assert Path(f"/run/netns/qdhcp-{cloud.network}").exists()
    user_data = tmp_path / "ping.sh"
    # Pings in the background (the boot waits for user data) and says each change of state:
    # ping-1-ok, ping-2-blocked, ...
    user_data.write_text("#!/bin/sh\necho metadata-uuid-$(curl -s http://169.254.169.254/openstack/latest/meta_data.json | jq -r .uuid)\n"
                         "(n=0; last=none\nfor i in $(seq 600); do\n"
                         f"  if ping -c 1 -W 1 {address} >/dev/null; then now=ok; else now=blocked; fi\n"
                         "  if [ $now != $last ]; then n=$((n+1)); echo ping-$n-$now; last=$now; fi; sleep 1\ndone) &\n")
    neighbour = cloud.create("neighbour", "--user-data", str(user_data))
    try:
        cloud.wait_status(neighbour, "ACTIVE")
        log = cloud.wait_console(neighbour, "martlet-guest: ready")
        (own,) = [ip for ips in cloud.show(neighbour)["addresses"].values() for ip in ips]
        assert f"martlet-guest: eth0 {own}/" in log, log[-3000:]
        assert "martlet-guest: instance data from metadata service" in log and "martlet-guest: hostname neighbour" in log, log[-3000:]
        assert f"metadata-uuid-{neighbour}" in log, log[-3000:]
        cloud.wait_console(neighbour, "ping-1-ok")
        (port,) = cloud.osc.json("port", "list", "--server", guest, "-c", "ID")
        cloud.osc.ok("port", "set", "--no-security-group", port["ID"])
        try:
            cloud.wait_console(neighbour, "ping-2-blocked")
        finally:
            cloud.osc.ok("port", "set", "--security-group", "default", port["ID"])
        cloud.wait_console(neighbour, "ping-3-ok")
    finally:
        cloud.osc.ok("server", "delete", "--wait", neighbour)


@pytest.mark.timeout(600)  # a second guest's boot under TCG
def test_guests_on_two_networks_reach_each_other_through_a_router(cloud, guest, tmp_path):
    """Two tenant networks joined by a router: a guest on the second network pings the first
    network's guest through the router's namespace, and reads its instance data from
    169.254.169.254 through the metadata proxy in that namespace (a network with a router has
    its metadata served there, not in its DHCP namespace). Both networks have a SLAAC subnet too:
    the running guest gets its address on the new subnet, the new guest its own, both from the
    router's advertisements, and they ping each other over IPv6 through the router."""
    (address,) = [ip for ips in cloud.show(guest)["addresses"].values() for ip in ips]
    other = cloud.osc.json("network", "create", "guests-b")["id"]
    subnets = ("guests-v4", "guests-b-v4", "guests-v6", "guests-b-v6")
    router = neighbour = None
    try:
        cloud.osc.ok("subnet", "create", "--network", other, "--subnet-range", "10.78.0.0/24", "guests-b-v4")
        slaac = ["--ip-version", "6", "--ipv6-ra-mode", "slaac", "--ipv6-address-mode", "slaac"]
        cloud.osc.ok("subnet", "create", "--network", "guests", "--subnet-range", "2001:db8:77::/64", *slaac, "guests-v6")
        cloud.osc.ok("subnet", "create", "--network", other, "--subnet-range", "2001:db8:78::/64", *slaac, "guests-b-v6")
        # The running guest's port took its SLAAC address with the subnet, and its server shows it.
        (address6,) = [ip for ips in cloud.show(guest)["addresses"].values() for ip in ips if ":" in ip]
        router = cloud.osc.json("router", "create", "between")["id"]
        for subnet in subnets:
            cloud.osc.ok("router", "add", "subnet", router, subnet)
        user_data = tmp_path / "ping-across.sh"
        user_data.write_text("#!/bin/sh\necho metadata-uuid-$(curl -s http://169.254.169.254/openstack/latest/meta_data.json | jq -r .uuid)\n"
                             "(for i in $(seq 300); do\n"
                             f"  if ping -c 1 -W 1 {address} >/dev/null; then echo across-ok; break; fi; sleep 1\ndone) &\n"
                             "(for i in $(seq 300); do\n"
                             f"  if ping -c 1 -W 1 {address6} >/dev/null; then\n"
                             "    echo across6-ok $(ip -6 -o addr show dev eth0 scope global | awk '{print $4}'); break; fi; sleep 1\ndone) &\n")
        neighbour = cloud.create("across", "--user-data", str(user_data), network=other)
        cloud.wait_status(neighbour, "ACTIVE")
        log = cloud.wait_console(neighbour, "martlet-guest: ready")
        own = [ip for ips in cloud.show(neighbour)["addresses"].values() for ip in ips]
        (own4,) = [ip for ip in own if ":" not in ip]
        (own6,) = [ip for ip in own if ":" in ip]
        assert own4.startswith("10.78.0.") and f"martlet-guest: eth0 {own4}/" in log, log[-3000:]
        assert f"metadata-uuid-{neighbour}" in log, log[-3000:]
        cloud.wait_console(neighbour, "across-ok")
        # Its address from the advertisements is the one Martlet gave its port.
        log = cloud.wait_console(neighbour, "across6-ok")
        assert f"across6-ok {own6}/64" in log, log[-3000:]
    finally:
        if neighbour:
            cloud.osc.ok("server", "delete", "--wait", neighbour)
        if router:
            for subnet in subnets:
                cloud.osc.run("router", "remove", "subnet", router, subnet)
            cloud.osc.ok("router", "delete", router)
        # The guest's SLAAC address leaves with its subnet (made or not).
        cloud.osc.run("subnet", "delete", "guests-v6")
        cloud.osc.ok("network", "delete", other)
    deadline = time.monotonic() + 30
    while Path(f"/run/netns/qrouter-{router}").exists() or Path(f"/run/netns/qdhcp-{other}").exists():
        assert time.monotonic() < deadline, "the router's or the second network's namespace was left behind"
        time.sleep(0.2)
    assert [ip for ips in cloud.show(guest)["addresses"].values() for ip in ips] == [address]


@contextlib.contextmanager
def edge(cloud: QemuCloud, name: str, prefix: str):
    """An external network `<prefix>.0/24` that leads nowhere: its only other member is a namespace
    made here at the gateway address `<prefix>.1`, standing in for the upstream. A router joins it
    to the guests' subnet, and the default group admits ICMP. Yields (external network, router,
    upstream namespace); removes it all after, and waits for the router's namespace to go."""
    external = cloud.osc.json("network", "create", "--external", name)["id"]
    cloud.osc.ok("subnet", "create", "--network", external, "--subnet-range", f"{prefix}.0/24", "--gateway", f"{prefix}.1",
                 "--no-dhcp", f"{name}-v4")
    router = cloud.osc.json("router", "create", f"{name}-edge")["id"]
    cloud.osc.ok("router", "set", "--external-gateway", external, router)
    cloud.osc.ok("router", "add", "subnet", router, "guests-v4")
    rule = cloud.osc.json("security", "group", "rule", "create", "--protocol", "icmp", "--remote-ip", "0.0.0.0/0", "default")["id"]
    tag = uuid.uuid4().hex[:8]
    upstream, veth = f"mt-up-{tag}", f"mt-{tag}"
    try:
        subprocess.run(["ip", "netns", "add", upstream], check=True)
        subprocess.run(["ip", "link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", upstream], check=True)
        subprocess.run(["ip", "link", "set", veth, "master", f"brq{external[:11]}", "up"], check=True)
        for command in (["link", "set", "eth0", "up"], ["addr", "add", f"{prefix}.1/24", "dev", "eth0"]):
            subprocess.run(["ip", "-n", upstream] + command, check=True)
        yield external, router, upstream
    finally:
        subprocess.run(["ip", "netns", "delete", upstream], capture_output=True)
        subprocess.run(["ip", "link", "delete", veth], capture_output=True)
        cloud.osc.run("security", "group", "rule", "delete", rule)
        cloud.osc.run("router", "remove", "subnet", router, "guests-v4")
        cloud.osc.run("router", "delete", router)
        cloud.osc.run("network", "delete", external)
    wait_for(lambda: not Path(f"/run/netns/qrouter-{router}").exists(), "the deleted router left its namespace", timeout=30)


def test_a_router_and_a_floating_ip_reach_the_guest(cloud, guest):
    """A router between the guests' subnet and an external network that leads nowhere: the
    router's namespace reaches the guest, and the upstream reaches it at its floating IP, once
    the guest's group admits ICMP."""
    (address,) = [ip for ips in cloud.show(guest)["addresses"].values() for ip in ips]
    with edge(cloud, "public", "172.24.4") as (external, router, upstream):
        namespace = f"qrouter-{router}"
        wait_for(lambda: ok(["ip", "netns", "exec", namespace, "ping", "-c", "1", "-W", "1", address]),
                 f"the router's namespace does not reach the guest: {run(['ip', '-n', namespace, 'addr'])}")
        port = cloud.osc.json("port", "list", "--server", guest, "-c", "ID")[0]["ID"]
        fip = cloud.osc.json("floating", "ip", "create", "--port", port, external)
        try:
            wait_for(lambda: ok(["ip", "netns", "exec", upstream, "ping", "-c", "1", "-W", "1", fip["floating_ip_address"]]),
                     f"the floating IP does not reach the guest: {run(['ip', '-n', namespace, 'addr'])}")
            # ACTIVE once the router's NAT is in place; unset, it is DOWN and unreachable.
            wait_for(lambda: cloud.osc.json("floating", "ip", "show", fip["id"])["status"] == "ACTIVE", "the working floating IP is not ACTIVE")
            cloud.osc.ok("floating", "ip", "unset", "--port", fip["id"])
            assert cloud.osc.json("floating", "ip", "show", fip["id"])["status"] == "DOWN"
            wait_for(lambda: not ok(["ip", "netns", "exec", upstream, "ping", "-c", "1", "-W", "1", fip["floating_ip_address"]]),
                     "a disassociated floating IP still reaches the guest")
        finally:
            cloud.osc.ok("floating", "ip", "delete", fip["id"])


def wait_for(condition, message: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, message
        time.sleep(0.5)


def ok(command: list[str]) -> bool:
    return subprocess.run(command, capture_output=True).returncode == 0


def run(command: list[str]) -> str:
    return subprocess.run(command, capture_output=True, text=True).stdout


def test_consoles(cloud, guest):
    """The noVNC page and an RFB handshake through the proxy (what tempest's test_novnc checks), a
    login prompt on the serial console, and Nova's token rules: one connection per token, and a bad
    token or another site's page gets the connection closed without data."""
    url = cloud.osc.json("console", "url", "show", "--novnc", guest)["url"]
    page = requests.get(url, timeout=30)
    assert page.status_code == 200 and "noVNC" in page.text and "<script" in page.text, page.text[:300]
    ws_url = consoles.websocket_url(url)
    ws = consoles.connect(ws_url)
    try:
        assert consoles.rfb_handshake(ws)
    finally:
        ws.close()
    assert consoles.closed_without_data(ws_url), "a spent token opened the console again"
    assert consoles.closed_without_data(ws_url.replace("token=", "token=bad")), "a bad token opened the console"

    # Another site's page is refused, and that does not spend the token.
    ws_url = consoles.websocket_url(cloud.osc.json("console", "url", "show", "--novnc", guest)["url"])
    assert consoles.closed_without_data(ws_url, origin="http://elsewhere.invalid"), "another site's page opened the console"
    ws = consoles.connect(ws_url, origin=cloud.server.console_url)
    try:
        assert consoles.rfb_handshake(ws)
    finally:
        ws.close()

    serial = cloud.osc.json("console", "url", "show", "--serial", guest)["url"]
    assert serial.startswith("ws://"), serial
    ws = consoles.connect(serial)
    try:
        ws.send_binary(b"\r")
        consoles.read_until(ws, b"login:")
    finally:
        ws.close()


def test_openstacksdk_reads_the_consoles_and_stops_and_starts_the_guest(cloud, guest):
    region = openstack.config.OpenStackConfig(config_files=[str(cloud.clouds)]).get_one("martlet")
    conn = openstack.connection.Connection(config=region)
    try:
        server = conn.compute.get_server(guest)
        assert "martlet-guest: ready" in conn.compute.get_server_console_output(server)["output"]
        console = conn.compute.create_server_remote_console(server, protocol="vnc", type="novnc")
        assert console.url.startswith(cloud.server.console_url + "/vnc_lite.html"), console.url
        conn.compute.stop_server(server)
        conn.compute.wait_for_server(server, status="SHUTOFF", wait=BOOT_TIMEOUT)
        conn.compute.start_server(server)
        conn.compute.wait_for_server(server, status="ACTIVE", wait=BOOT_TIMEOUT)
    finally:
        conn.close()


def test_stop_and_start(cloud, guest):
    cloud.osc.ok("server", "stop", guest)
    s = cloud.wait_status(guest, "SHUTOFF")
    assert s["OS-EXT-STS:power_state"] in ("Shutdown", 4), s
    assert cloud.qemu_pids(guest) == []
    assert "not ready" in cloud.osc.fails("console", "url", "show", "--novnc", guest).stderr
    cloud.osc.ok("server", "start", guest)
    cloud.wait_status(guest, "ACTIVE")
    cloud.wait_console(guest, "martlet-guest: ready", count=2)


def test_soft_and_hard_reboot(cloud, guest):
    before = cloud.console(guest).count("martlet-guest: ready")
    cloud.osc.ok("server", "reboot", "--wait", guest)
    cloud.wait_console(guest, "martlet-guest: ready", count=before + 1)
    cloud.osc.ok("server", "reboot", "--hard", "--wait", guest)
    cloud.wait_console(guest, "martlet-guest: ready", count=before + 2)


def test_pause_and_suspend(cloud, guest):
    cloud.osc.ok("server", "pause", guest)
    cloud.wait_status(guest, "PAUSED")
    cloud.osc.ok("server", "unpause", guest)
    cloud.wait_status(guest, "ACTIVE")
    cloud.osc.ok("server", "suspend", guest)
    cloud.wait_status(guest, "SUSPENDED")
    assert cloud.qemu_pids(guest) == [], "a suspended server keeps no process"
    assert (cloud.instances / guest / "memory.state").exists()
    cloud.osc.ok("server", "resume", guest)
    cloud.wait_status(guest, "ACTIVE")
    assert len(cloud.qemu_pids(guest)) == 1
    assert not (cloud.instances / guest / "memory.state").exists()


def test_rescue_and_unrescue(cloud, guest):
    before = cloud.console(guest).count("martlet-guest: ready")
    cloud.osc.ok("server", "rescue", guest)
    cloud.wait_status(guest, "RESCUE")
    cloud.wait_console(guest, "martlet-guest: ready", count=before + 1)
    (pid,) = cloud.qemu_pids(guest)
    assert b"disk.rescue.qcow2" in Path(f"/proc/{pid}/cmdline").read_bytes(), "the rescue guest does not boot the rescue disk"
    cloud.osc.ok("server", "unrescue", guest)
    cloud.wait_status(guest, "ACTIVE")
    cloud.wait_console(guest, "martlet-guest: ready", count=before + 2)
    (pid,) = cloud.qemu_pids(guest)
    assert b"disk.rescue.qcow2" not in Path(f"/proc/{pid}/cmdline").read_bytes()
    assert not (cloud.instances / guest / "disk.rescue.qcow2").exists()


def test_interface_hot_plug_and_unplug(cloud, guest):
    def nics() -> int:
        buses = cloud.qmp(guest, "query-pci")["return"]
        return sum(1 for bus in buses for d in bus["devices"] if d["class_info"].get("desc") == "Ethernet controller")

    def wait_nics(count: int) -> None:
        deadline = time.monotonic() + 60
        while nics() != count:
            assert time.monotonic() < deadline, f"the guest has {nics()} NICs, not {count}"
            time.sleep(1)

    cloud.wait_console(guest, "martlet-guest: ready")
    port = cloud.osc.json("port", "create", "--network", cloud.network, "hot-plug")["id"]
    cloud.osc.ok("server", "add", "port", guest, port)
    wait_nics(2)
    assert Path(f"/sys/class/net/tap{port[:11]}").exists()
    cloud.osc.ok("server", "remove", "port", guest, port)
    wait_nics(1)  # the guest let the device go (ACPI hot unplug)
    assert not Path(f"/sys/class/net/tap{port[:11]}").exists()
    cloud.osc.ok("port", "delete", port)


def volume_script(*waits: tuple[str, str]) -> str:
    """User data that waits (in the background) for each disk whose serial is `serial`, then runs
    its `body` with $dev set to it: the guest finds a hot-plugged volume as Nova's guests do."""
    return "#!/bin/sh\n" + "".join(
        "(for i in $(seq 600); do\n"
        "  for d in /sys/block/vd*; do [ \"$(cat $d/serial 2>/dev/null)\" = \"" + serial + "\" ] && dev=/dev/${d##*/} && break 2; done\n"
        "  sleep 1\ndone\n" + body + ") &\n" for serial, body in waits)


def poll_block(block: int, text: str, then: str) -> str:
    """Guest shell that reads block `block` of $dev from the disk itself (the guest's cache
    dropped) until it holds `text`, then runs `then`."""
    return (f"for i in $(seq 600); do echo 3 > /proc/sys/vm/drop_caches; "
            f"dd if=$dev bs=512 skip={block} count=1 2>/dev/null | tr -d '\\000' | grep -q {text} && {{ {then}; break; }}; sleep 1; done\n")


def write_block(block: int, text: str) -> str:
    return f"printf {text} | dd of=$dev bs=512 seek={block} conv=fsync 2>/dev/null\n"


def test_a_volume_moves_between_guests_with_its_data_and_a_shared_one_is_written_by_both(cloud, tmp_path):
    """Block Storage with the file driver and real guests: a blank volume is hot-plugged into a
    running guest (virtio-blk over QMP, its serial the volume ID's first 20 characters), the guest
    makes a file system and writes a file, the volume is detached (the guest lets the disk go),
    attached to a second guest, which reads the file back, and grows while attached there. Then a
    multiattach volume is attached to both guests at once: each reads what the other wrote."""
    volume = cloud.osc.json("volume", "create", "--size", "1", "data")["id"]
    kind = "multiattach-" + uuid.uuid4().hex[:8]
    cloud.osc.ok("volume", "type", "create", "--property", "multiattach=<is> True", kind)
    shared = cloud.osc.json("volume", "create", "--size", "1", "--type", kind, "shared")["id"]
    serial = volume[:20]
    marker, reply = "written-" + uuid.uuid4().hex[:8], "reply-" + uuid.uuid4().hex[:8]
    writer_data = tmp_path / "writer.sh"
    writer_data.write_text(volume_script(
        (serial, "mkfs.ext4 -q $dev && mkdir -p /mnt/v && mount $dev /mnt/v && "
                 f"echo {marker} > /mnt/v/hello.txt && umount /mnt/v && sync && echo volume-wrote-$dev\n"),
        (shared[:20], write_block(0, marker) + poll_block(8, reply, "echo shared-got-reply"))))
    reader_data = tmp_path / "reader.sh"
    reader_data.write_text(volume_script(
        (serial, "mkdir -p /mnt/v && mount $dev /mnt/v && echo volume-read-$(cat /mnt/v/hello.txt) && umount /mnt/v\n"
                 # Then waits for the disk to grow to 2 GiB (4194304 sectors).
                 "size=/sys/block/${dev##*/}/size\n"
                 "for i in $(seq 600); do [ $(cat $size) -ge 4194304 ] && echo volume-grew-$(cat $size) && break; sleep 1; done\n"),
        (shared[:20], poll_block(0, marker, write_block(8, reply).strip() + " && echo shared-replied"))))
    writer = cloud.create("vol-writer", "--user-data", str(writer_data))
    reader = cloud.create("vol-reader", "--user-data", str(reader_data))
    try:
        for server in (writer, reader):
            cloud.wait_status(server, "ACTIVE")
            cloud.wait_console(server, "martlet-guest: ready")
        cloud.osc.ok("server", "add", "volume", writer, volume)
        shown = cloud.osc.json("volume", "show", volume)
        assert shown["status"] == "in-use" and shown["attachments"][0]["server_id"] == writer, shown
        log = cloud.wait_console(writer, "volume-wrote-/dev/vd")
        assert "volume-wrote-/dev/vdb" in log, log[-2000:]
        files = list(cloud.server.data_dir.glob(f"volumes/volume-{volume}.raw"))
        assert len(files) == 1, "the file driver keeps the volume as one raw file"

        cloud.osc.ok("server", "remove", "volume", writer, volume)
        assert cloud.osc.json("volume", "show", volume)["status"] == "available"
        nodes = [n["node-name"] for n in cloud.qmp(writer, "query-named-block-nodes")["return"]]
        assert not any(volume[:11] in n for n in nodes), f"the writer's qemu still has the volume: {nodes}"

        cloud.osc.ok("server", "add", "volume", reader, volume)
        cloud.wait_console(reader, f"volume-read-{marker}")

        # Extended while attached (3.42): qemu grows the image it holds, and the guest sees the new size.
        cloud.osc.ok("--os-volume-api-version", "3.42", "volume", "set", "--size", "2", volume)
        deadline = time.monotonic() + 60
        while (shown := cloud.osc.json("volume", "show", volume))["status"] != "in-use" or shown["size"] != 2:
            assert time.monotonic() < deadline and shown["status"] in ("extending", "in-use"), shown
            time.sleep(0.5)
        cloud.wait_console(reader, "volume-grew-4194304")
        assert files[0].stat().st_size == 2 << 30
        events = [e["Action"] for e in cloud.osc.json("server", "event", "list", reader)]
        assert "extend_volume" in events, events
        cloud.osc.ok("server", "remove", "volume", reader, volume)

        # Multiattach (Compute 2.60): both qemus open the raw file letting the other write.
        for server in (writer, reader):
            cloud.osc.ok("--os-compute-api-version", "2.60", "server", "add", "volume", server, shared)
        shown = cloud.osc.json("volume", "show", shared)
        assert shown["multiattach"] and sorted(a["server_id"] for a in shown["attachments"]) == sorted((writer, reader)), shown
        cloud.wait_console(reader, "shared-replied")
        cloud.wait_console(writer, "shared-got-reply")
        for server in (writer, reader):
            cloud.osc.ok("server", "remove", "volume", server, shared)
        assert cloud.osc.json("volume", "show", shared)["status"] == "available"
    finally:
        for server in (writer, reader):
            cloud.osc.run("server", "delete", "--wait", server)
        for made in (volume, shared):
            cloud.osc.ok("volume", "delete", made)
        cloud.osc.run("volume", "type", "delete", kind)
    deadline = time.monotonic() + 30
    while list(cloud.server.data_dir.glob(f"volumes/*{volume}*")) + list(cloud.server.data_dir.glob(f"volumes/*{shared}*")):
        assert time.monotonic() < deadline, "a deleted volume's file stayed"
        time.sleep(0.5)


def test_boots_from_a_volume(cloud):
    """`openstack server create --boot-from-volume`: Compute asks Block Storage for a volume made
    from the image (the file driver converts the image in place), connects it and boots the guest
    from it, with no root disk of the host's; the volume outlives the server. Then a snapshot of
    that volume becomes a volume which a second server boots from."""
    server = cloud.osc.json("server", "create", "--image", cloud.image, "--boot-from-volume", "1", "--flavor", "m1.nano",
                            "--nic", f"net-id={cloud.network}", "from-volume")["id"]
    try:
        cloud.wait_status(server, "ACTIVE")
        cloud.wait_console(server, "martlet-guest: ready")
        shown = cloud.show(server)
        (attached,) = shown["volumes_attached"]
        volume = cloud.osc.json("volume", "show", attached["id"])
        assert volume["status"] == "in-use" and volume["bootable"] in (True, "true"), volume
        assert volume["attachments"][0]["device"] == "/dev/vda", volume
        assert not (cloud.instances / server / "disk.qcow2").exists(), "a server booting from a volume has no root disk of the host's"

        # 2.93: a rebuild with another image has Block Storage write it over the boot volume
        # (Cinder's re-image) while no guest holds it; the guest boots again from the same volume.
        alt = cloud.osc.json("image", "create", "--disk-format", "qcow2", "--container-format", "bare",
                             "--file", os.environ["MARTLET_GUEST_IMAGE"], "martlet-guest-alt")["id"]
        try:
            volume_file = cloud.server.data_dir / "volumes" / f"volume-{attached['id']}.raw"
            before = volume_file.stat().st_ino
            cloud.osc.ok("--os-compute-api-version", "2.93", "server", "rebuild", "--image", alt, "--reimage-boot-volume",
                         "--wait", server)
            cloud.wait_console(server, "martlet-guest: ready")  # the console log starts again with the new guest
            volume = cloud.osc.json("volume", "show", attached["id"])
            assert volume["status"] == "in-use" and volume["volume_image_metadata"]["image_id"] == alt, volume
            assert [v["id"] for v in cloud.show(server)["volumes_attached"]] == [attached["id"]]
            assert volume_file.stat().st_ino != before, "the boot volume's file was not written anew"
        finally:
            cloud.osc.ok("image", "delete", alt)
    finally:
        cloud.osc.ok("server", "delete", "--wait", server)
    cloud.assert_gone(server, [])
    deadline = time.monotonic() + 30
    while cloud.osc.json("volume", "show", attached["id"])["status"] != "available":
        assert time.monotonic() < deadline, "the boot volume stayed attached to a deleted server"
        time.sleep(0.5)
    snapshot = cloud.osc.json("volume", "snapshot", "create", "--volume", attached["id"], "boot-snap")["id"]
    copy = None
    try:
        deadline = time.monotonic() + 60
        while cloud.osc.json("volume", "snapshot", "show", snapshot)["status"] != "available":
            assert time.monotonic() < deadline, "the snapshot never became available"
            time.sleep(0.5)
        copy = cloud.osc.json("volume", "create", "--snapshot", snapshot, "from-snap")["id"]
        while cloud.osc.json("volume", "show", copy)["status"] != "available":
            assert time.monotonic() < deadline, "the volume from the snapshot never became available"
            time.sleep(0.5)
        second = cloud.osc.json("server", "create", "--volume", copy, "--flavor", "m1.nano", "--nic", f"net-id={cloud.network}",
                                "from-snapshot")["id"]
        try:
            cloud.wait_status(second, "ACTIVE")
            cloud.wait_console(second, "martlet-guest: ready")
        finally:
            cloud.osc.ok("server", "delete", "--wait", second)
    finally:
        cloud.osc.ok("volume", "snapshot", "delete", snapshot)
        deadline = time.monotonic() + 60
        while copy and cloud.osc.json("volume", "show", copy)["status"] != "available":
            assert time.monotonic() < deadline, "the second boot volume stayed attached"
            time.sleep(0.5)
        for volume in filter(None, [copy, attached["id"]]):
            cloud.osc.ok("volume", "delete", volume)


def test_a_flavor_larger_than_the_host_is_refused(cloud):
    cloud.osc.ok("flavor", "create", "--vcpus", "1", "--ram", "64", "--disk", "1000000", "larger-than-the-host")
    server_id = cloud.osc.json("server", "create", "--image", cloud.image, "--flavor", "larger-than-the-host",
                               "--nic", "none", "too-large")["id"]
    s = cloud.wait_status(server_id, "ERROR")
    assert "No valid host" in s["fault"]["message"], s["fault"]
    assert not (cloud.instances / server_id).exists()
    cloud.osc.ok("server", "delete", "--wait", server_id)
    cloud.osc.ok("flavor", "delete", "larger-than-the-host")


def test_snapshot_boots(cloud, guest):
    snapshot = cloud.osc.json("server", "image", "create", "--name", "lifecycle-snap", "--wait", guest)
    image = cloud.osc.json("image", "show", snapshot["id"])
    assert image["status"] == "active" and image["disk_format"] == "qcow2", image
    child = cloud.osc.json("server", "create", "--image", snapshot["id"], "--flavor", "m1.nano", "--nic", "none", "from-snap")["id"]
    try:
        cloud.wait_status(child, "ACTIVE")
        cloud.wait_console(child, "martlet-guest: ready")
    finally:
        cloud.osc.ok("server", "delete", "--wait", child)
        cloud.osc.ok("image", "delete", snapshot["id"])
    cloud.assert_gone(child, [])


def test_resize_and_confirm(cloud, guest):
    cloud.osc.ok("server", "resize", "--flavor", "m1.micro", "--wait", guest)
    cloud.wait_status(guest, "VERIFY_RESIZE")
    cloud.osc.ok("server", "resize", "confirm", guest)
    s = cloud.wait_status(guest, "ACTIVE")
    flavor = s["flavor"]
    assert "m1.micro" in (flavor.get("original_name") or flavor.get("name") if isinstance(flavor, dict) else flavor), flavor
    (pid,) = cloud.qemu_pids(guest)
    args = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    assert args[args.index(b"-m") + 1] == b"256", "qemu does not run with the new flavor's memory"


def test_rebuild(cloud, guest):
    """A rebuild makes the guest's taps again: the data plane plugs them into the network's
    bridge, and the guest gets its address again."""
    cloud.osc.ok("server", "rebuild", "--image", cloud.image, "--wait", guest)
    cloud.wait_status(guest, "ACTIVE")
    port = cloud.osc.json("port", "list", "--server", guest)[0]["ID"]
    master = Path(f"/sys/class/net/tap{port[:11]}/master")
    wait_for(lambda: master.exists() and master.resolve().name == f"brq{cloud.network[:11]}",
             "the rebuilt guest's tap is not on its network's bridge")
    (address,) = [ip for ips in cloud.show(guest)["addresses"].values() for ip in ips]
    cloud.wait_console(guest, f"martlet-guest: eth0 {address}/")
    cloud.wait_console(guest, "martlet-guest: ready")


def test_guest_power_off_and_qemu_death_are_noticed(cloud, guest):
    cloud.wait_console(guest, "martlet-guest: ready")
    cloud.qmp(guest, "system_powerdown")  # the guest's own power button, behind the API's back
    cloud.wait_status(guest, "SHUTOFF", timeout=90)
    cloud.osc.ok("server", "start", guest)
    cloud.wait_status(guest, "ACTIVE")
    (pid,) = cloud.qemu_pids(guest)
    os.kill(pid, signal.SIGKILL)
    cloud.wait_status(guest, "SHUTOFF", timeout=60)
    events = cloud.osc.json("server", "event", "list", guest)
    assert events[0]["Action"] == "stop", events
    cloud.osc.ok("server", "start", guest)
    cloud.wait_status(guest, "ACTIVE")


def test_shelve_and_unshelve(cloud, guest):
    cloud.osc.ok("server", "shelve", guest)
    cloud.wait_status(guest, "SHELVED_OFFLOADED")
    assert cloud.qemu_pids(guest) == []
    cloud.osc.ok("server", "unshelve", guest)
    cloud.wait_status(guest, "ACTIVE")
    cloud.wait_console(guest, "martlet-guest: ready")


def test_kill_9_of_martlet_converges(cloud):
    """Two guests running and a third booting when Martlet is killed: after the restart the two
    run on in the same qemu processes, the third finishes booting, and deletes leave nothing."""
    ids = [cloud.create(f"survivor-{i}") for i in range(2)]
    for server_id in ids:
        cloud.wait_status(server_id, "ACTIVE")
    running = {server_id: cloud.qemu_pids(server_id) for server_id in ids}
    ids.append(cloud.create("mid-boot"))
    cloud.server.proc.send_signal(signal.SIGKILL)
    cloud.server.proc.wait()
    cloud.server.proc = None
    # What a network delete whose data-plane event the crash lost leaves: the network's record in
    # the backend's runtime folder, its bridge, and a server port's tap on it.
    stray, port = str(uuid.uuid4()), str(uuid.uuid4())
    runtime = Path("/run/martlet-network") / hashlib.sha256(str(cloud.server.data_dir.resolve()).encode()).hexdigest()[:12]
    (runtime / "dhcp" / stray / "hosts").mkdir(parents=True)
    (runtime / "dhcp" / stray / "hosts" / port).write_text("")
    subprocess.run(["ip", "link", "add", f"brq{stray[:11]}", "type", "bridge"], check=True)
    subprocess.run(["ip", "tuntap", "add", "dev", f"tap{port[:11]}", "mode", "tap"], check=True)
    subprocess.run(["ip", "link", "set", f"tap{port[:11]}", "master", f"brq{stray[:11]}"], check=True)
    cloud.server.start()
    deadline = time.monotonic() + 30
    while any(p.exists() for p in (Path(f"/sys/class/net/brq{stray[:11]}"), Path(f"/sys/class/net/tap{port[:11]}"), runtime / "dhcp" / stray)):
        assert time.monotonic() < deadline, "the restart left a network and a port the database does not have"
        time.sleep(0.2)
    for server_id in ids:
        cloud.wait_status(server_id, "ACTIVE")
    # The metadata proxy lived in the killed process: the restart listens again in the guests'
    # DHCP namespace (a caller that is no server's port gets the proxy's own 404).
    wait_for(lambda: run(["ip", "netns", "exec", f"qdhcp-{cloud.network}", "curl", "-s", "-o", "/dev/null", "-w", "%{http_code}",
                          "-m", "2", "http://169.254.169.254/openstack"]) == "404", "the metadata proxy did not come back")
    for server_id, pids in running.items():
        assert cloud.qemu_pids(server_id) == pids, "a running guest was restarted instead of found again"
    assert len(cloud.qemu_pids(ids[2])) == 1
    ports = {server_id: [p["ID"] for p in cloud.osc.json("port", "list", "--server", server_id)] for server_id in ids}
    for server_id in ids:
        cloud.osc.ok("server", "delete", "--wait", server_id)
    for server_id in ids:
        cloud.assert_gone(server_id, ports[server_id])


def data_plane_state(cloud: QemuCloud) -> dict:
    """What the linux data plane has made on this host: namespaces, dnsmasq processes, taps, veths,
    and the ports that have filter chains in nftables."""
    chains = re.findall(r"chain (?:out|in|spoof|mark)_([0-9a-f-]{36}) ", run(["nft", "list", "ruleset"]))
    runtime = Path("/run/martlet-network") / hashlib.sha256(str(cloud.server.data_dir.resolve()).encode()).hexdigest()[:12]
    return {
        "namespaces": {n.split()[0] for n in run(["ip", "netns", "list"]).splitlines() if n.startswith(("qdhcp-", "qrouter-"))},
        # The networks that have a dnsmasq of this cloud's, each as often as it has one.
        "dnsmasq": sorted(re.findall(rf"{runtime}/dhcp/([0-9a-f-]{{36}})/leases", run(["pgrep", "-a", "-f", "^dnsmasq .*martlet"]))),
        "taps": {n for n in os.listdir("/sys/class/net") if n.startswith("tap")},
        "veths": {line.split(":")[1].strip().split("@")[0] for line in run(["ip", "-o", "link", "show", "type", "veth"]).splitlines()},
        "filtered ports": set(chains),
    }


@pytest.mark.timeout(900)  # ten guests booting at once under TCG, twice checked
def test_kill_9_while_ten_servers_boot_and_floating_ips_are_associated(cloud, tmp_path):
    """Ten servers are booting and their floating IPs being associated when Martlet is killed: after
    the restart every server is ACTIVE with its port ACTIVE, every floating IP reaches its guest
    from the external network, each guest still pings its neighbour and reads its own UUID from the
    metadata service, and the data plane holds exactly what the database describes: the router's
    namespace, no second dnsmasq, one tap and one filter per port; deleting it all leaves what was
    there before."""
    before = data_plane_state(cloud)
    # Room for ten more servers beside the shared guest (the project's quota is ten instances).
    (instances,) = [q["Limit"] for q in cloud.osc.json("quota", "show", "admin") if q["Resource"] == "instances"]
    cloud.osc.ok("quota", "set", "--instances", str(instances + 10), "admin")
    addresses = [f"10.77.0.{201 + i}" for i in range(10)]
    ports: list[str] = []
    try:
        for i, address in enumerate(addresses):
            ports.append(cloud.osc.json("port", "create", "--network", cloud.network, "--fixed-ip", f"subnet=guests-v4,ip-address={address}",
                                        f"k9-{i}")["id"])
        with edge(cloud, "k9-public", "172.24.6") as (external, router, upstream):
            servers: list[str] = []
            try:
                kill_while_booting_and_associating(cloud, ports, addresses, external, servers)
                converged_after_the_kill(cloud, ports, servers, external, upstream)
                # Exactly what the database describes.
                now = data_plane_state(cloud)
                assert now["namespaces"] == before["namespaces"] | {f"qrouter-{router}"}, now["namespaces"]
                assert now["dnsmasq"] == before["dnsmasq"] == [cloud.network], f"one dnsmasq for the guests' network, and no other: {now['dnsmasq']}"
                assert now["taps"] == before["taps"] | {f"tap{p[:11]}" for p in ports}, now["taps"] ^ before["taps"]
                assert now["filtered ports"] == before["filtered ports"] | set(ports), now["filtered ports"] ^ before["filtered ports"]
            finally:
                for server_id in servers:
                    cloud.osc.run("server", "delete", "--wait", server_id)
                for f in cloud.osc.json("floating", "ip", "list", "--network", external):
                    cloud.osc.run("floating", "ip", "delete", f["ID"])
    finally:
        for port in ports:
            cloud.osc.run("port", "delete", port)
        cloud.osc.ok("quota", "set", "--instances", str(instances), "admin")
    wait_for(lambda: data_plane_state(cloud) == before, "deleting it all left something behind, or took something away")


def kill_while_booting_and_associating(cloud: QemuCloud, ports: list[str], addresses: list[str], external: str, servers: list[str]) -> None:
    """Ten servers on these ports (adding their IDs to `servers`) and floating IPs for the first
    five, straight to the APIs so that all of it is under way, then a kill -9 and a restart."""
    headers = {"X-Auth-Token": cloud.osc.json("token", "issue")["id"]}
    api = cloud.server.base_url
    for i, port in enumerate(ports):
        # Every 3 s: a ping of the next guest and the metadata service's UUID, one line a round.
        script = ("#!/bin/sh\n(n=0; while true; do n=$((n+1)); p=fail\n"
                  f"  ping -c 1 -W 1 {addresses[(i + 1) % len(addresses)]} >/dev/null && p=ok\n"
                  "  m=$(curl -s -m 3 http://169.254.169.254/openstack/latest/meta_data.json | jq -r .uuid)\n"
                  "  echo k9-round $n peer=$p meta=$m; sleep 3; done) &\n")
        body = {"server": {"name": f"k9-{i}", "imageRef": cloud.image, "flavorRef": "42", "networks": [{"port": port}],
                           "user_data": base64.b64encode(script.encode()).decode()}}
        reply = requests.post(f"{api}/compute/v2.1/servers", json=body, headers=headers, timeout=30)
        assert reply.status_code == 202, reply.text
        servers.append(reply.json()["server"]["id"])
    for port in ports[:5]:
        reply = requests.post(f"{api}/network/v2.0/floatingips", json={"floatingip": {"floating_network_id": external, "port_id": port}},
                              headers=headers, timeout=30)
        assert reply.status_code == 201, reply.text
    cloud.server.proc.send_signal(signal.SIGKILL)
    cloud.server.proc.wait()
    cloud.server.proc = None
    cloud.server.start()


def converged_after_the_kill(cloud: QemuCloud, ports: list[str], servers: list[str], external: str, upstream: str) -> None:
    """Every server and port ACTIVE; the cut-off associations made again, then every floating IP
    reaching its guest from the upstream and ACTIVE; each guest, in a round begun after all that,
    reaching its neighbour and reading its own UUID from the metadata service."""
    for server_id in servers:
        cloud.wait_status(server_id, "ACTIVE")
    wait_for(lambda: all(cloud.osc.json("port", "show", p)["status"] == "ACTIVE" for p in ports), "a server's port is not ACTIVE", timeout=120)
    floating = {f["Port"]: f["ID"] for f in cloud.osc.json("floating", "ip", "list", "--network", external)}
    for port in set(ports) - set(floating):
        floating[port] = cloud.osc.json("floating", "ip", "create", "--port", port, external)["id"]
    assert set(floating) == set(ports), floating
    for port, fip in floating.items():
        address = cloud.osc.json("floating", "ip", "show", fip)["floating_ip_address"]
        wait_for(lambda: ok(["ip", "netns", "exec", upstream, "ping", "-c", "1", "-W", "1", address]),
                 f"floating IP {address} does not reach port {port}", timeout=120)
        wait_for(lambda: cloud.osc.json("floating", "ip", "show", fip)["status"] == "ACTIVE", "a working floating IP is not ACTIVE")
    headers = {"X-Auth-Token": cloud.osc.json("token", "issue")["id"]}

    def rounds(server_id: str) -> list[tuple[str, str, str]]:
        reply = requests.post(f"{cloud.server.base_url}/compute/v2.1/servers/{server_id}/action",
                              json={"os-getConsoleOutput": {"length": 400}}, headers=headers, timeout=30)
        return re.findall(r"k9-round (\d+) (\S+) (\S+)", reply.json()["output"])
    seen = {server_id: max((int(n) for n, _, _ in rounds(server_id)), default=0) for server_id in servers}
    for server_id in servers:
        wait_for(lambda: any(int(n) > seen[server_id] and (p, m) == ("peer=ok", f"meta={server_id}") for n, p, m in rounds(server_id)),
                 f"guest {server_id} no longer reaches its neighbour or the metadata service", timeout=120)


def test_kill_9_mid_snapshot_resize_and_delete_converges(cloud):
    """Martlet killed while a snapshot, a resize and a delete are under way: after the restart each
    one finishes, the snapshotted guest runs again rather than staying paused, and no process, tap,
    folder or snapshot copy is left behind."""
    ids = {name: cloud.create(name) for name in ("snap", "grow", "doomed")}
    for server_id in ids.values():
        cloud.wait_status(server_id, "ACTIVE")
    ports = {server_id: [p["ID"] for p in cloud.osc.json("port", "list", "--server", server_id)] for server_id in ids.values()}
    # Straight to the API, so the three land within milliseconds of the kill.
    api = f"{cloud.server.base_url}/compute/v2.1/servers"
    headers = {"X-Auth-Token": cloud.osc.json("token", "issue")["id"], "OpenStack-API-Version": "compute 2.45"}
    micro = cloud.osc.json("flavor", "show", "m1.micro")["id"]
    snap = requests.post(f"{api}/{ids['snap']}/action", json={"createImage": {"name": "mid-kill"}}, headers=headers, timeout=30)
    assert snap.status_code == 202, snap.text
    grow = requests.post(f"{api}/{ids['grow']}/action", json={"resize": {"flavorRef": micro}}, headers=headers, timeout=30)
    assert grow.status_code == 202, grow.text
    doomed = requests.delete(f"{api}/{ids['doomed']}", headers=headers, timeout=30)
    assert doomed.status_code == 204, doomed.text
    time.sleep(0.3)
    cloud.server.proc.send_signal(signal.SIGKILL)
    cloud.server.proc.wait()
    cloud.server.proc = None
    cloud.server.start()

    cloud.wait_status(ids["snap"], "ACTIVE")
    deadline = time.monotonic() + BOOT_TIMEOUT
    while (image := cloud.osc.json("image", "show", snap.json()["image_id"]))["status"] != "active":
        assert image["status"] in ("queued", "saving") and time.monotonic() < deadline, image
        time.sleep(1)
    assert cloud.show(ids["snap"])["OS-EXT-STS:task_state"] is None
    assert cloud.qmp(ids["snap"], "query-status")["return"]["status"] == "running", "the snapshot left the guest paused"
    cloud.wait_status(ids["grow"], "VERIFY_RESIZE")
    cloud.osc.ok("server", "resize", "confirm", ids["grow"])
    cloud.wait_status(ids["grow"], "ACTIVE")
    cloud.assert_gone(ids["doomed"], ports[ids["doomed"]])
    assert not list(cloud.instances.glob("*/snapshot*")), "a snapshot's copy or pause mark was left behind"
    for name in ("snap", "grow"):
        cloud.osc.ok("server", "delete", "--wait", ids[name])
        cloud.assert_gone(ids[name], ports[ids[name]])
    cloud.osc.ok("image", "delete", snap.json()["image_id"])


def test_a_network_s_bridge_and_dhcp_namespace_go_with_it(cloud):
    network = cloud.osc.json("network", "create", "short-lived")
    bridge = Path(f"/sys/class/net/brq{network['id'][:11]}")
    deadline = time.monotonic() + 30
    while not bridge.exists():
        assert time.monotonic() < deadline, "the network's bridge never appeared"
        time.sleep(0.2)
    assert Path(f"/proc/sys/net/ipv6/conf/{bridge.name}/disable_ipv6").read_text().strip() == "1"
    # One host: no VXLAN device listening on UDP 4789 for anyone.
    assert not Path(f"/sys/class/net/vxlan-{network['provider:segmentation_id']}").exists()
    cloud.osc.ok("subnet", "create", "--network", network["id"], "--subnet-range", "10.78.0.0/24", "short-lived-v4")
    namespace = Path(f"/run/netns/qdhcp-{network['id']}")
    while not namespace.exists():
        assert time.monotonic() < deadline, "the network's DHCP namespace never appeared"
        time.sleep(0.2)
    cloud.osc.ok("network", "delete", network["id"])
    while bridge.exists() or namespace.exists():
        assert time.monotonic() < deadline, "the deleted network's bridge or DHCP namespace stayed"
        time.sleep(0.2)


def test_delete_leaves_nothing(cloud, guest):
    ports = [p["ID"] for p in cloud.osc.json("port", "list", "--server", guest)]
    cloud.osc.ok("server", "delete", "--wait", guest)
    cloud.assert_gone(guest, ports)
