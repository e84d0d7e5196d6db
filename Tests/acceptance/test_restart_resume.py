"""A restart opens the listener at once and brings the servers the hypervisor lost back in the
background, several at a time: the downtime does not grow with the number of servers."""

import os
import time
import uuid

import pytest
import requests

from conftest import MartletServer

SERVERS = 60
SPAWN_MS = 300


@pytest.mark.skipif(bool(os.environ.get("MARTLET_ACCEPTANCE_DATABASE")), reason="one database is enough: its own SQLite cloud")
def test_restart_answers_before_servers_are_back(martlet, tmp_path):
    server = MartletServer(martlet.binary, tmp_path / "data", tmp_path / "server.log", None,
                           admin_password="admin-" + uuid.uuid4().hex,
                           extra_args=("--fake-spawn-delay-ms", str(SPAWN_MS), "--fake-hosts", "1"))
    (tmp_path / "data").mkdir()
    server.start()
    try:
        base = server.base_url
        auth = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
            "name": "admin", "domain": {"name": "Default"}, "password": server.admin_password}}},
            "scope": {"project": {"name": "admin", "domain": {"name": "Default"}}}}}
        r = requests.post(f"{base}/identity/v3/auth/tokens", json=auth, timeout=30)
        token, project = r.headers["X-Subject-Token"], r.json()["token"]["project"]["id"]
        h = {"X-Auth-Token": token, "OpenStack-API-Version": "compute 2.37"}
        r = requests.put(f"{base}/compute/v2.1/os-quota-sets/{project}", headers=h, timeout=30,
                         json={"quota_set": {"instances": -1, "cores": -1, "ram": -1}})
        assert r.status_code == 200, r.text
        image = requests.post(f"{base}/image/v2/images", headers=h, timeout=30, json={
            "name": "tiny", "disk_format": "raw", "container_format": "bare"}).json()["id"]
        r = requests.put(f"{base}/image/v2/images/{image}/file", data=b"disk", timeout=30,
                         headers={**h, "Content-Type": "application/octet-stream"})
        assert r.status_code == 204, r.text
        r = requests.post(f"{base}/compute/v2.1/servers", headers=h, timeout=60, json={"server": {
            "name": "kept", "imageRef": image, "flavorRef": "42", "networks": "none",
            "min_count": SERVERS, "max_count": SERVERS}})
        assert r.status_code == 202, r.text
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            servers = requests.get(f"{base}/compute/v2.1/servers/detail", headers=h, timeout=30).json()["servers"]
            if len(servers) == SERVERS and all(s["status"] == "ACTIVE" for s in servers):
                break
            time.sleep(0.5)
        else:
            pytest.fail(f"servers never became ACTIVE: {[s['status'] for s in servers]}")

        # Sequentially the fake driver would need SERVERS × SPAWN_MS = 18 s before the listener opened.
        assert server.stop() == 0
        started = time.monotonic()
        server.start()
        ready = time.monotonic() - started
        assert ready < 8, f"the listener took {ready:.1f}s to open after a restart with {SERVERS} servers"
        deadline = time.monotonic() + 30
        while "servers re-spawned" not in server.log_path.read_text() and time.monotonic() < deadline:
            time.sleep(0.2)
        log = server.log_path.read_text()
        lines = [line for line in log.splitlines() if "servers re-spawned" in line]
        assert lines and f"done={SERVERS}" in lines[-1], log[-2000:]
        # Every server answers actions again.
        first = servers[0]["id"]
        r = requests.post(f"{base}/compute/v2.1/servers/{first}/action", headers=h, json={"os-stop": None}, timeout=30)
        assert r.status_code == 202, r.text
    finally:
        server.stop()
