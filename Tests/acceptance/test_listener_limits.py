"""The listener does not wait for ever on a client: half-sent requests are cut off after the read
timeout, and a bounded number of connections is held at once (the rest wait to be accepted)."""

import os
import socket
import time
import uuid

import pytest
import requests

from conftest import MartletServer


@pytest.mark.skipif(bool(os.environ.get("MARTLET_ACCEPTANCE_DATABASE")), reason="one database is enough: its own SQLite cloud")
def test_half_sent_requests_are_cut_off(martlet, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "martlet.toml").write_text("request_read_timeout = 4\nmax_connections = 40\n")
    server = MartletServer(martlet.binary, data, tmp_path / "server.log", None, admin_password="admin-" + uuid.uuid4().hex)
    server.start()
    sockets = []
    try:
        # 40 clients that send half a request line and stop: they fill the listener.
        for _ in range(40):
            s = socket.create_connection(("127.0.0.1", server.port), timeout=10)
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Half")
            sockets.append(s)
        time.sleep(0.5)
        # While they hold it, a new connection is not served...
        try:
            r = requests.get(f"{server.base_url}/healthz", timeout=1)
            busy = False
        except requests.RequestException:
            busy = True
        assert busy, "the listener served more connections than max_connections"
        # ...and once the read timeout cuts them off, every stalled socket is closed by the server.
        started = time.monotonic()
        for s in sockets:
            s.settimeout(10)
            assert s.recv(1024) == b"", "a half-sent request got an answer instead of being cut off"
        waited = time.monotonic() - started
        assert waited < 9, f"half-sent requests were held {waited:.1f}s with a 4s read timeout"
        r = requests.get(f"{server.base_url}/healthz", timeout=10)
        assert r.status_code == 200 and r.json()["status"] == "ok"
    finally:
        for s in sockets:
            s.close()
        server.stop()
