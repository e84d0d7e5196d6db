"""Fixtures for Martlet's acceptance scenarios.

One `martlet serve` per pytest session, on a free loopback port with a fresh
temporary data dir (and, when MARTLET_ACCEPTANCE_DATABASE is set, on that
PostgreSQL database, which is reset first).  The tests drive it with the real
clients: the `openstack` CLI (python-openstackclient) in a subprocess, and
openstacksdk in process, both configured through the clouds.yaml the server
wrote into its data dir.  Plain `requests` does the raw HTTP checks.

Environment:
  MARTLET_BIN                   the binary (default <repo>/.build/debug/martlet)
  MARTLET_ACCEPTANCE_DATABASE   postgres://... URL; unset = SQLite in the data dir
  MARTLET_ACCEPTANCE_BCRYPT_COST  bcrypt cost passed to the server (default 4: fast)
  MARTLET_ACCEPTANCE_KEEP       =1 keeps the data dir and server log
  OPENSTACK_CLI                 the `openstack` executable (default: next to
                                this Python, else on PATH)
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

REPO = Path(__file__).resolve().parents[2]
CLOUD = "martlet"

# Keep the environment of the tests (and the clients they start) free of any
# OpenStack settings from the caller's shell: only our clouds.yaml counts.
for _k in list(os.environ):
    if _k.startswith("OS_"):
        del os.environ[_k]


def uniq(prefix: str) -> str:
    """A name no other test (or earlier run) uses."""
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def write_random(path: Path, size: int) -> tuple[str, str]:
    """Writes `size` random bytes to `path` (making its folder); returns their (md5, sha512) hex."""
    md5, sha = hashlib.md5(), hashlib.sha512()
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        left = size
        while left:
            chunk = os.urandom(min(1 << 20, left))
            md5.update(chunk)
            sha.update(chunk)
            f.write(chunk)
            left -= len(chunk)
    return md5.hexdigest(), sha.hexdigest()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def reset_postgres(url: str) -> None:
    psql = shutil.which("psql")
    if psql is None:
        pytest.exit("MARTLET_ACCEPTANCE_DATABASE is set but psql is not installed", returncode=3)
    r = subprocess.run(
        [psql, "-X", "-q", "-v", "ON_ERROR_STOP=1", url,
         "-c", "DROP SCHEMA IF EXISTS public CASCADE; CREATE SCHEMA public;"],
        capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
    )
    if r.returncode != 0:
        pytest.exit(f"could not reset {url.split('@')[-1]}: {r.stderr}", returncode=3)


class MartletServer:
    """A `martlet serve` process that can be stopped and started again on the
    same port, data dir and database."""

    def __init__(self, binary: Path, data_dir: Path, log_path: Path,
                 database: str | None, admin_password: str, extra_args: tuple[str, ...] = ()):
        self.binary = binary
        self.extra_args = list(extra_args)
        self.data_dir = data_dir
        self.log_path = log_path
        self.database = database
        self.admin_password = admin_password
        self.port = free_port()
        self.s3_port = free_port()
        self.console_port = free_port()
        self.proc: subprocess.Popen | None = None
        self.starts = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def s3_url(self) -> str:
        return f"http://127.0.0.1:{self.s3_port}"

    @property
    def console_url(self) -> str:
        return f"http://127.0.0.1:{self.console_port}"

    @property
    def identity_url(self) -> str:
        return f"{self.base_url}/identity"

    @property
    def auth_url(self) -> str:
        return f"{self.base_url}/identity/v3"

    @property
    def clouds_yaml(self) -> Path:
        return self.data_dir / "clouds.yaml"

    def command(self) -> list[str]:
        cmd = [str(self.binary), "serve",
               "--host", "127.0.0.1", "--port", str(self.port), "--s3-port", str(self.s3_port),
               "--console-port", str(self.console_port),
               "--data-dir", str(self.data_dir),
               "--admin-password", self.admin_password,
               "--bcrypt-cost", os.environ.get("MARTLET_ACCEPTANCE_BCRYPT_COST", "4")]
        if self.database:
            cmd += ["--database", self.database]
        return cmd + self.extra_args

    def log_tail(self, lines: int = 60) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no server log)"
        return "\n".join(text.splitlines()[-lines:])

    def start(self, timeout: float = 60.0) -> None:
        assert self.proc is None, "server already running"
        self.starts += 1
        log = open(self.log_path, "a")
        log.write(f"\n===== start #{self.starts}: {' '.join(self.command())}\n")
        log.flush()
        # Settings come from the flags only: no MARTLET_* variable of the
        # caller's (MARTLET_DATABASE, MARTLET_PORT, ...) may change them.
        env = {k: v for k, v in os.environ.items() if not k.startswith(("MARTLET_", "OS_"))}
        self.proc = subprocess.Popen(self.command(), stdout=log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, cwd=str(self.data_dir.parent),
                                     env=env)
        log.close()
        deadline = time.monotonic() + timeout
        last_err: Any = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                rc = self.proc.returncode
                self.proc = None
                raise RuntimeError(f"martlet serve exited with {rc} during start-up:\n{self.log_tail()}")
            try:
                r = requests.get(f"{self.base_url}/healthz", timeout=2)
                if r.status_code == 200 and self.clouds_yaml.exists():
                    return
                last_err = f"/healthz answered {r.status_code}"
            except requests.RequestException as e:
                last_err = e
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"martlet serve not ready after {timeout}s ({last_err}):\n{self.log_tail()}")

    def stop(self, timeout: float = 30.0) -> int | None:
        """SIGTERM, wait; returns the exit code (killed after `timeout`: -9),
        or None when the server was not running."""
        if self.proc is None:
            return None
        proc, self.proc = self.proc, None
        if proc.poll() is not None:
            return None  # had already died (reported by _server_alive)
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            return -9
        return proc.returncode

    def restart(self) -> int | None:
        rc = self.stop()
        self.start()
        return rc


class Clouds:
    """The clouds.yaml the server wrote, and helpers to add clouds for other
    users or application credentials (written to a separate file so the
    server's own file stays untouched)."""

    def __init__(self, server: MartletServer, workdir: Path):
        self.server = server
        self.workdir = workdir
        self.path = server.clouds_yaml
        self.config = yaml.safe_load(self.path.read_text())
        assert CLOUD in self.config.get("clouds", {}), \
            f"{self.path} has no cloud named {CLOUD!r}: {self.config}"
        self.admin = self.config["clouds"][CLOUD]

    def _base(self) -> dict:
        base = {k: v for k, v in self.admin.items() if k not in ("auth", "auth_type")}
        base.setdefault("region_name", "RegionOne")
        base.setdefault("identity_api_version", 3)
        return base

    def password_cloud(self, username: str, password: str, project: str | None,
                       domain: str = "Default") -> dict:
        auth = {"auth_url": self.server.auth_url, "username": username, "password": password,
                "user_domain_name": domain}
        if project:
            auth.update(project_name=project, project_domain_name=domain)
        return {**self._base(), "auth_type": "password", "auth": auth}

    def appcred_cloud(self, cred_id: str, secret: str) -> dict:
        return {**self._base(), "auth_type": "v3applicationcredential",
                "auth": {"auth_url": self.server.auth_url,
                         "application_credential_id": cred_id,
                         "application_credential_secret": secret}}

    def write(self, **clouds: dict) -> Path:
        """A clouds.yaml holding the server's clouds plus `clouds`."""
        data = {"clouds": {**self.config["clouds"], **clouds}}
        path = self.workdir / f"clouds-{uuid.uuid4().hex[:8]}.yaml"
        path.write_text(yaml.safe_dump(data))
        path.chmod(0o600)
        return path


class OSCError(AssertionError):
    pass


class OpenStackCLI:
    """Runs the real `openstack` CLI against the server."""

    def __init__(self, exe: str, default_config: Path):
        self.exe = exe
        self.default_config = default_config

    def run(self, *args: str, cloud: str = CLOUD, config: Path | None = None,
            timeout: float = 180) -> subprocess.CompletedProcess:
        env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
        env["OS_CLIENT_CONFIG_FILE"] = str(config or self.default_config)
        env["PYTHONWARNINGS"] = "ignore"
        cmd = [self.exe, "--os-cloud", cloud, *args]
        return subprocess.run(cmd, env=env, capture_output=True, text=True,
                              timeout=timeout, stdin=subprocess.DEVNULL)

    @staticmethod
    def _describe(r: subprocess.CompletedProcess) -> str:
        return (f"$ {' '.join(r.args[1:])}\nexit {r.returncode}\n"
                f"--- stdout\n{r.stdout}\n--- stderr\n{r.stderr}")

    def ok(self, *args: str, **kw) -> str:
        """Runs a command that must succeed; returns its stdout."""
        r = self.run(*args, **kw)
        if r.returncode != 0:
            raise OSCError("openstack command failed:\n" + self._describe(r))
        return r.stdout

    def json(self, *args: str, **kw) -> Any:
        """Runs a command that must succeed with `-f json`; returns the data."""
        out = self.ok(*args, "-f", "json", **kw)
        try:
            return json.loads(out)
        except ValueError as e:
            raise OSCError(f"openstack {' '.join(args)} printed no JSON ({e}):\n{out}")

    def fails(self, *args: str, **kw) -> subprocess.CompletedProcess:
        """Runs a command that must fail; returns the result (check .stderr)."""
        r = self.run(*args, **kw)
        if r.returncode == 0:
            raise OSCError("openstack command succeeded but should have failed:\n" + self._describe(r))
        return r


class Identity:
    """Raw Identity v3 calls with `requests`."""

    def __init__(self, server: MartletServer, admin_password: str):
        self.server = server
        self.admin_password = admin_password

    @property
    def url(self) -> str:
        return self.server.auth_url

    def password_auth(self, username: str, password: str, project: str | None = None,
                      domain: str = "Default", project_id: str | None = None,
                      user_id: str | None = None) -> requests.Response:
        user: dict = {"password": password}
        if user_id:
            user["id"] = user_id
        else:
            user.update(name=username, domain={"name": domain})
        body: dict = {"auth": {"identity": {"methods": ["password"], "password": {"user": user}}}}
        if project_id:
            body["auth"]["scope"] = {"project": {"id": project_id}}
        elif project:
            body["auth"]["scope"] = {"project": {"name": project, "domain": {"name": domain}}}
        return requests.post(f"{self.url}/auth/tokens", json=body, timeout=30)

    def token(self, username: str, password: str, project: str | None = None, **kw) -> str:
        r = self.password_auth(username, password, project, **kw)
        assert r.status_code == 201, f"password auth for {username} -> {r.status_code}: {r.text}"
        tok = r.headers.get("X-Subject-Token")
        assert tok, f"no X-Subject-Token header in {dict(r.headers)}"
        return tok

    def admin_token(self) -> str:
        return self.token("admin", self.admin_password, "admin")

    def validate(self, subject: str, auth: str | None = None) -> requests.Response:
        return requests.get(f"{self.url}/auth/tokens",
                            headers={"X-Auth-Token": auth or self.admin_token(),
                                     "X-Subject-Token": subject}, timeout=30)

    def request(self, method: str, path: str, token: str | None = None, **kw) -> requests.Response:
        headers = kw.pop("headers", {})
        headers.setdefault("X-Auth-Token", token or self.admin_token())
        return requests.request(method, f"{self.url}{path}", headers=headers, timeout=30, **kw)

    def get(self, path: str, token: str | None = None, **kw) -> requests.Response:
        return self.request("GET", path, token, **kw)

    def post(self, path: str, body: dict, token: str | None = None) -> requests.Response:
        return self.request("POST", path, token, json=body)

    # --- setup helpers (the objects under test are made with the clients) ---

    def default_domain_id(self) -> str:
        r = self.get("/domains", params={"name": "Default"})
        assert r.status_code == 200, r.text
        domains = r.json()["domains"]
        assert len(domains) == 1, f"expected one domain named Default: {domains}"
        return domains[0]["id"]

    def create_project(self, name: str | None = None) -> dict:
        r = self.post("/projects", {"project": {"name": name or uniq("proj"),
                                                "domain_id": self.default_domain_id()}})
        assert r.status_code == 201, f"create project -> {r.status_code}: {r.text}"
        return r.json()["project"]

    def create_user(self, name: str | None = None, password: str | None = None,
                    **extra) -> dict:
        user = {"name": name or uniq("user"), "domain_id": self.default_domain_id(), **extra}
        if password is not None:
            user["password"] = password
        r = self.post("/users", {"user": user})
        assert r.status_code == 201, f"create user -> {r.status_code}: {r.text}"
        return r.json()["user"]

    def role_id(self, name: str) -> str:
        r = self.get("/roles", params={"name": name})
        assert r.status_code == 200, r.text
        roles = [x for x in r.json()["roles"] if x["name"] == name]
        assert roles, f"no role named {name}"
        return roles[0]["id"]

    def grant(self, project_id: str, user_id: str, role: str = "member") -> None:
        r = self.request("PUT", f"/projects/{project_id}/users/{user_id}/roles/{self.role_id(role)}")
        assert r.status_code in (200, 204), f"grant {role} -> {r.status_code}: {r.text}"

    def project_member(self, role: str = "member") -> tuple[dict, dict, str]:
        """A new project and a new user with `role` on it: (project, user, password)."""
        project = self.create_project()
        password = "pw-" + uuid.uuid4().hex
        user = self.create_user(password=password)
        self.grant(project["id"], user["id"], role)
        return project, user, password


# --- fixtures ------------------------------------------------------------------

def pytest_collection_modifyitems(config, items):
    # The restart scenario stops and starts the shared server: run it last.
    items.sort(key=lambda item: item.get_closest_marker("restarts_server") is not None)
    # The slowest scenarios, long runs of CLI calls, run once (on SQLite) so that CI stays within
    # its time bound; the store's queries run on PostgreSQL in `swift test` as well.
    if os.environ.get("MARTLET_ACCEPTANCE_DATABASE"):
        once = pytest.mark.skip(reason="one of the slowest scenarios: it runs on SQLite only")
        for item in items:
            if item.get_closest_marker("one_database"):
                item.add_marker(once)


def pytest_configure(config):
    config.addinivalue_line("markers", "restarts_server: restarts the shared martlet server")
    config.addinivalue_line("markers", "one_database: among the slowest scenarios; runs on SQLite only")


@pytest.fixture(scope="session")
def martlet(tmp_path_factory) -> MartletServer:
    binary = Path(os.environ.get("MARTLET_BIN") or REPO / ".build" / "debug" / "martlet")
    if not binary.is_file() or not os.access(binary, os.X_OK):
        pytest.exit(f"martlet binary not found at {binary} (build it, or set MARTLET_BIN)",
                    returncode=3)
    keep = os.environ.get("MARTLET_ACCEPTANCE_KEEP") == "1"
    root = Path(tempfile.mkdtemp(prefix="martlet-acceptance-"))
    data_dir = root / "data"
    data_dir.mkdir()
    database = os.environ.get("MARTLET_ACCEPTANCE_DATABASE") or None
    if database:
        reset_postgres(database)
    server = MartletServer(binary, data_dir, root / "server.log", database,
                           admin_password="admin-" + uuid.uuid4().hex)
    try:
        server.start()
    except RuntimeError as e:
        pytest.exit(str(e), returncode=3)
    if database:
        # The server really is on PostgreSQL (it made its tables there).
        r = subprocess.run(
            ["psql", "-X", "-At", database, "-c",
             "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'"],
            capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
        if r.returncode != 0 or int(r.stdout.strip() or 0) == 0:
            server.stop()
            pytest.exit(f"martlet serve --database left no tables in PostgreSQL: {r.stdout}{r.stderr}",
                        returncode=3)
    print(f"\nmartlet serve on {server.base_url}, data dir {data_dir}, "
          f"database {'PostgreSQL' if database else 'SQLite'}")
    yield server
    rc = server.stop()
    if keep:
        print(f"\nkept {root} (server log: {server.log_path})")
    else:
        shutil.rmtree(root, ignore_errors=True)
    assert rc in (0, None), f"martlet serve exited with {rc} on SIGTERM"


@pytest.fixture(scope="session")
def clouds(martlet, tmp_path_factory) -> Clouds:
    c = Clouds(martlet, tmp_path_factory.mktemp("clouds"))
    # openstacksdk (openstack.connect(cloud='martlet')) reads the same file.
    os.environ["OS_CLIENT_CONFIG_FILE"] = str(c.path)
    return c


@pytest.fixture(scope="session")
def osc(clouds) -> OpenStackCLI:
    exe = os.environ.get("OPENSTACK_CLI")
    if not exe:
        beside = Path(sys.executable).parent / "openstack"
        exe = str(beside) if beside.exists() else shutil.which("openstack")
    if not exe:
        pytest.exit("the openstack CLI is not installed (run scripts/prereqs.sh)", returncode=3)
    return OpenStackCLI(exe, clouds.path)


@pytest.fixture(scope="session")
def identity(martlet) -> Identity:
    return Identity(martlet, martlet.admin_password)


@pytest.fixture
def member(identity, clouds):
    """A user with only `member` on a new project, and a clouds.yaml with a
    cloud `member` that logs in as that user."""
    project, user, password = identity.project_member("member")
    config = clouds.write(member=clouds.password_cloud(user["name"], password, project["name"]))
    return {"project": project, "user": user, "password": password, "config": config}


class Cleanup:
    """`openstack` commands run at teardown, newest first; their failures
    (the object already gone) are ignored."""

    def __init__(self, osc):
        self.osc = osc
        self.commands: list[tuple[tuple[str, ...], dict]] = []

    def add(self, *args: str, **kw) -> None:
        self.commands.append((args, kw))

    def run(self) -> None:
        for args, kw in reversed(self.commands):
            try:
                self.osc.run(*args, **kw)
            except Exception:  # noqa: BLE001 - best effort
                pass


@pytest.fixture
def cleanup(osc):
    """A `Cleanup` run when the test ends."""
    c = Cleanup(osc)
    yield c
    c.run()


@pytest.fixture(autouse=True)
def _server_alive(request, martlet):
    yield
    if martlet.proc is not None and martlet.proc.poll() is not None:
        # Every later test would fail the same way: stop here, saying why.
        pytest.exit(f"martlet serve died during {request.node.name} "
                    f"(exit {martlet.proc.returncode}); last lines of its log:\n"
                    f"{martlet.log_tail()}", returncode=1)


class ServiceAPI:
    """Raw calls to one service (`/image`, `/network`, …) with `requests`, as admin unless given
    a token; a path may also be a whole URL (a paging link)."""

    prefix = ""

    def __init__(self, martlet, identity):
        self.martlet = martlet
        self.identity = identity
        self._admin: str | None = None

    @property
    def url(self) -> str:
        return f"{self.martlet.base_url}/{self.prefix}"

    def admin_token(self) -> str:
        if self._admin is None:
            self._admin = self.identity.admin_token()
        return self._admin

    def request(self, method: str, path: str, token: str | None = None, **kw) -> requests.Response:
        headers = kw.pop("headers", {})
        headers.setdefault("X-Auth-Token", token or self.admin_token())
        url = path if path.startswith("http") else f"{self.url}{path}"
        return requests.request(method, url, headers=headers, timeout=kw.pop("timeout", 60), **kw)
