#!/usr/bin/env python3
"""A bounded fuzz run against a throwaway `martlet serve` on loopback: random calls to every route a
policy guards (`martlet admin routes`), with real and hostile path parameters, random query strings,
random and half-right JSON bodies, random tokens, and broken HTTP framing on raw sockets.

A 5xx, a dropped connection or a dead server is a finding. Run it before a release:

    python3 bench/fuzz.py --seconds 300 [--seed N] [--binary .build/release/martlet]

Prints the figures (requests, statuses, findings) and exits 1 when anything was found.
"""

import argparse
import collections
import json
import os
import random
import shutil
import socket
import string
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parent.parent

HOSTILE = ["", "x", "-1", "0", "99999999999999999999", "1e999", "null", "%00", "%ZZ", "..%2F..%2Fetc", "%E2%98%83",
           "a" * 4000, "' OR 1=1 --", "<script>", "${jndi:x}", "\\u0000", "%F0%9F%92%A9", "00000000-0000-0000-0000-000000000000"]
QUERY_KEYS = ["limit", "marker", "sort_key", "sort_dir", "name", "all_tenants", "fields", "status", "page_reverse",
              "project_id", "tenant_id", "changes-since", "detail", "format", "prefix", "delimiter", "visibility",
              "member_status", "tag", "tags-any", "not-tags", "shared", "router:external", "ip_version", "enabled"]
CONTENT_TYPES = ["application/json", "application/json", "application/openstack-images-v2.1-json-patch", "text/plain",
                 "application/octet-stream", "multipart/form-data; boundary=x", ""]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Fuzzer:
    def __init__(self, binary: Path, seed: int, seconds: float):
        self.binary = binary
        self.rng = random.Random(seed)
        self.seconds = seconds
        self.root = Path(tempfile.mkdtemp(prefix="martlet-fuzz-"))
        self.port, self.s3_port = free_port(), free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.password = "fuzz-" + uuid.uuid4().hex
        self.statuses: collections.Counter = collections.Counter()
        self.findings: list[str] = []
        self.ids: list[str] = []
        self.tokens: list[str | None] = []

    # --- the server -----------------------------------------------------------
    def start(self) -> None:
        data = self.root / "data"
        data.mkdir()
        self.log = open(self.root / "server.log", "w")
        self.proc = subprocess.Popen(
            [str(self.binary), "serve", "--host", "127.0.0.1", "--port", str(self.port), "--s3-port", str(self.s3_port), "--console-port", "0",
             "--data-dir", str(data), "--admin-password", self.password, "--bcrypt-cost", "4"],
            stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            env={k: v for k, v in os.environ.items() if not k.startswith(("MARTLET_", "OS_"))})
        for _ in range(300):
            try:
                if requests.get(f"{self.base}/healthz", timeout=1).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.1)
        raise SystemExit("martlet serve did not start")

    def stop(self) -> int:
        self.proc.terminate()
        try:
            return self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return -9

    def routes(self) -> list[tuple[str, str]]:
        out = subprocess.run([str(self.binary), "admin", "routes", "--data-dir", str(self.root / "routes")],
                             capture_output=True, text=True, check=True).stdout
        return [tuple(line.split()[:2]) for line in out.splitlines() if line.strip()]

    # --- a small estate, so real ids reach the handlers ---------------------------
    def token(self, user: str, password: str, project: str) -> str:
        r = requests.post(f"{self.base}/identity/v3/auth/tokens", timeout=30, json={"auth": {
            "identity": {"methods": ["password"], "password": {"user": {"name": user, "domain": {"name": "Default"}, "password": password}}},
            "scope": {"project": {"name": project, "domain": {"name": "Default"}}}}})
        return r.headers["X-Subject-Token"]

    def setup(self) -> None:
        admin = self.token("admin", self.password, "admin")
        h = {"X-Auth-Token": admin}

        def post(path, body, key=None):
            r = requests.post(f"{self.base}{path}", headers=h, json=body, timeout=30)
            doc = r.json() if r.content else {}
            value = (doc.get(key) or {}).get("id") if key else doc.get("id")
            if value:
                self.ids.append(value)
            return value

        project = post("/identity/v3/projects", {"project": {"name": "fuzz"}}, "project")
        user = post("/identity/v3/users", {"user": {"name": "fuzzer", "password": "pw", "default_project_id": project}}, "user")
        member = requests.get(f"{self.base}/identity/v3/roles?name=member", headers=h, timeout=30).json()["roles"][0]["id"]
        requests.put(f"{self.base}/identity/v3/projects/{project}/users/{user}/roles/{member}", headers=h, timeout=30)
        net = post("/network/v2.0/networks", {"network": {"name": "fz"}}, "network")
        post("/network/v2.0/subnets", {"subnet": {"network_id": net, "cidr": "10.77.0.0/24", "ip_version": 4}}, "subnet")
        post("/network/v2.0/ports", {"port": {"network_id": net}}, "port")
        post("/network/v2.0/routers", {"router": {"name": "fz"}}, "router")
        post("/network/v2.0/security-groups", {"security_group": {"name": "fz"}}, "security_group")
        image = post("/image/v2/images", {"name": "fz", "disk_format": "raw", "container_format": "bare"})
        requests.put(f"{self.base}/image/v2/images/{image}/file", headers={**h, "Content-Type": "application/octet-stream"},
                     data=b"fuzz", timeout=30)
        post("/compute/v2.1/servers", {"server": {"name": "fz", "imageRef": image, "flavorRef": "42",
                                                  "networks": [{"uuid": net}]}}, "server")
        post("/compute/v2.1/os-server-groups", {"server_group": {"name": "fz", "policies": ["affinity"]}}, "server_group")
        self.ids += [project, user, "42", "fz", "k", "admin", "default"]
        self.refresh_tokens()

    def refresh_tokens(self) -> None:
        """Fresh tokens now and then: a random call may revoke one or disable the fuzzer's user."""
        tokens = []
        for user, password, project in (("admin", self.password, "admin"), ("fuzzer", "pw", "fuzz")):
            try:
                tokens.append(self.token(user, password, project))
            except (KeyError, requests.RequestException):
                tokens.append("not-a-token")
        self.tokens = [tokens[0], tokens[0], tokens[1], None, "not-a-token"]

    # --- random input ---------------------------------------------------------------
    def value(self, depth: int = 0):
        r = self.rng.random()
        if depth > 3 or r < 0.25:
            return self.rng.choice([None, True, False, 0, -1, 2**31, 2**63, -2**63, 1.5e308, "", "x", self.rng.choice(self.ids),
                                    self.rng.choice(HOSTILE), "".join(self.rng.choice(string.printable) for _ in range(20))])
        if r < 0.5:
            return [self.value(depth + 1) for _ in range(self.rng.randint(0, 4))]
        keys = ["name", "id", "network_id", "cidr", "fixed_ips", "flavorRef", "imageRef", "networks", "port_id", "rules",
                "ip_version", "enabled", "password", "roles", "metadata", "tags", "min_count", "max_count", "op", "path",
                "value", "security_groups", "device_id", "project_id", "shared", "admin_state_up", "policies"]
        return {self.rng.choice(keys): self.value(depth + 1) for _ in range(self.rng.randint(0, 5))}

    def body(self, path: str) -> bytes:
        r = self.rng.random()
        if r < 0.15:
            return bytes(self.rng.randrange(256) for _ in range(self.rng.randint(0, 64)))
        if r < 0.3:
            return json.dumps(self.value()).encode()[: self.rng.randint(0, 200)]
        # Half right: the resource's wrapper around random fields.
        segments = [s for s in path.split("/") if s and not s.startswith(":")]
        wrapper = segments[-1].rstrip("s").replace("-", "_") if segments else "x"
        return json.dumps({wrapper: self.value(1)} if self.rng.random() < 0.8 else self.value()).encode()

    def fill(self, path: str) -> str:
        def part(p: str) -> str:
            if not p.startswith(":"):
                return p
            return self.rng.choice(self.ids) if self.rng.random() < 0.7 else self.rng.choice(HOSTILE)
        return "/".join(part(p) for p in path.split("/"))

    def query(self) -> str:
        if self.rng.random() < 0.5:
            return ""
        items = [f"{self.rng.choice(QUERY_KEYS)}={self.rng.choice(HOSTILE + self.ids)}" for _ in range(self.rng.randint(1, 4))]
        return "?" + "&".join(items)

    # --- one call -----------------------------------------------------------------
    def call(self, method: str, template: str) -> None:
        path = self.fill(template) + self.query()
        headers = {"Content-Type": self.rng.choice(CONTENT_TYPES)}
        token = self.rng.choice(self.tokens)
        if token:
            headers["X-Auth-Token"] = token
        if self.rng.random() < 0.2:
            headers["OpenStack-API-Version"] = self.rng.choice(["compute 2.96", "compute 2.1", "compute latest", "compute 9.9",
                                                                "volume 3.0", "image 2.0", "x"])
        data = self.body(template) if method in ("POST", "PUT", "PATCH") else None
        try:
            r = requests.request(method, self.base + path, headers=headers, data=data, timeout=30)
        except requests.RequestException as e:
            self.findings.append(f"{method} {path[:200]}: no answer ({e})")
            return
        self.statuses[r.status_code] += 1
        if r.status_code >= 500:
            self.findings.append(f"{method} {path[:200]} body={data[:120] if data else b''!r} -> {r.status_code} {r.text[:200]}")

    def framing(self, method: str, template: str) -> None:
        path = self.fill(template).replace(" ", "%20")
        body = self.body(template)
        head = f"{method} {path} HTTP/1.1\r\nHost: x\r\nX-Auth-Token: {self.tokens[0]}\r\nContent-Type: application/json\r\n"
        broken = self.rng.choice([
            head.encode() + f"Content-Length: {len(body) + self.rng.randint(1, 99)}\r\n\r\n".encode() + body,
            head.encode() + b"Transfer-Encoding: chunked\r\n\r\n" + self.rng.choice([b"zz", b"ffffffffffffffffff", b"-1", b"1;" + b"a" * 9000]) + b"\r\n" + body,
            head.encode() + b"Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
            head.encode() + b"Content-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
            f"{method} {path} HTTP/1.1\r\n".encode() + b"X: " + b"a" * 100_000 + b"\r\n\r\n",
        ])
        with socket.create_connection(("127.0.0.1", self.port), timeout=15) as s:
            try:
                s.sendall(broken)
                s.shutdown(socket.SHUT_WR)
                answer = s.recv(200)
            except OSError:
                answer = b""
        status = answer[9:12].decode(errors="replace") if answer.startswith(b"HTTP/1.1 ") else "closed"
        self.statuses[f"framing {status}"] += 1
        if status.startswith("5"):
            self.findings.append(f"framing on {method} {path[:120]} -> {answer[:120]!r}")

    def run(self) -> int:
        self.start()
        try:
            self.setup()
            routes = self.routes()
            deadline = time.monotonic() + self.seconds
            started = time.monotonic()
            sent = 0
            while time.monotonic() < deadline:
                method, template = self.rng.choice(routes)
                if method == "DELETE" and self.rng.random() < 0.8:
                    continue  # keep the estate around for the rest of the run
                if self.rng.random() < 0.05:
                    self.framing(method, template)
                else:
                    self.call(method, template)
                sent += 1
                if sent % 500 == 0:
                    self.refresh_tokens()
                if self.proc.poll() is not None:
                    self.findings.append(f"martlet serve died (exit {self.proc.returncode})")
                    break
            elapsed = time.monotonic() - started
            alive = requests.get(f"{self.base}/healthz", timeout=10).status_code == 200 if self.proc.poll() is None else False
            if not alive:
                self.findings.append("martlet serve does not answer /healthz after the run")
        finally:
            rc = self.stop()
        if rc not in (0, None):
            self.findings.append(f"martlet serve exited with {rc} on SIGTERM")
        print(f"fuzz: {len(routes)} routes, {sent} requests in {elapsed:.0f}s ({sent / max(elapsed, 1):.0f}/s)")
        for status, count in sorted(self.statuses.items(), key=lambda kv: str(kv[0])):
            print(f"  {status}: {count}")
        print(f"fuzz: {len(self.findings)} findings")
        for finding in self.findings[:50]:
            print("  " + finding)
        if self.findings:
            print(f"server log: {self.root / 'server.log'}")
        else:
            shutil.rmtree(self.root, ignore_errors=True)
        return 1 if self.findings else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--binary", default=os.environ.get("MARTLET_BIN", str(REPO / ".build" / "release" / "martlet")))
    parser.add_argument("--seconds", type=float, default=120)
    parser.add_argument("--seed", type=int, default=int(time.time()))
    args = parser.parse_args()
    print(f"fuzz: seed {args.seed}, {args.seconds:.0f}s, {args.binary}")
    return Fuzzer(Path(args.binary), args.seed, args.seconds).run()


if __name__ == "__main__":
    sys.exit(main())
