"""Object Storage driven by the real clients: the Swift v1 API under
/object-store (python-swiftclient's `swift` CLI, `openstack container|object
...`, rclone's swift backend, raw HTTP) and the S3 listener (boto3, awscli,
rclone's s3 backend) over the same objects, with EC2 credentials from
`openstack ec2 credentials create`.

Every client runs with an environment of its own: no OS_*, ST_*, AWS_* or
RCLONE_* setting of the caller's shell, and no ~/.aws or rclone config, can
change what it does. A client that is not installed fails its scenarios
(scripts/prereqs.sh installs them all)."""

from __future__ import annotations

import filecmp
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
import requests

from conftest import ServiceAPI, uniq, write_random

MiB = 1 << 20

# boto3 in this process reads no configuration of the caller's.
for _k in list(os.environ):
    if _k.startswith("AWS_"):
        del os.environ[_k]
os.environ["AWS_CONFIG_FILE"] = os.devnull
os.environ["AWS_SHARED_CREDENTIALS_FILE"] = os.devnull
os.environ["AWS_EC2_METADATA_DISABLED"] = "true"


# --- helpers ---------------------------------------------------------------------

def boto():
    """(boto3, botocore's Config, ClientError), imported when first needed, so a
    missing boto3 fails the S3 scenarios rather than the whole session."""
    try:
        import boto3
        from botocore.config import Config
        from botocore.exceptions import ClientError
    except ImportError as e:
        pytest.fail(f"boto3 is not installed ({e}): run scripts/prereqs.sh", pytrace=False)
    return boto3, Config, ClientError


def tool(name: str, version_marker: str | None = None) -> str:
    """A client executable: beside the Python running pytest (the venv that
    scripts/prereqs.sh makes), else on PATH. Missing is a failure, not a skip.
    `version_marker` must appear in `<exe> --version` (on PATH, `swift` may
    well be the Swift toolchain rather than python-swiftclient)."""
    beside = Path(sys.executable).parent / name
    candidates = [str(beside)] if beside.exists() else []
    if shutil.which(name):
        candidates.append(shutil.which(name))
    for exe in candidates:
        if version_marker is None:
            return exe
        r = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=60,
                           stdin=subprocess.DEVNULL)
        if version_marker in r.stdout + r.stderr:
            return exe
    pytest.fail(f"{name} ({version_marker or 'client'}) is not installed: run scripts/prereqs.sh",
                pytrace=False)


def clean_env(**extra: str) -> dict[str, str]:
    """The caller's environment less every client setting, plus `extra`."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("OS_", "ST_", "AWS_", "RCLONE_"))}
    env["PYTHONWARNINGS"] = "ignore"
    env.update(extra)
    return env


class CLIError(AssertionError):
    pass


def describe(r: subprocess.CompletedProcess) -> str:
    return (f"$ {' '.join(map(str, r.args))}\nexit {r.returncode}\n"
            f"--- stdout\n{r.stdout[-4000:]}\n--- stderr\n{r.stderr[-4000:]}")


class Client:
    """A command-line client run in a subprocess with a fixed environment."""

    def __init__(self, argv: list[str], env: dict[str, str]):
        self.argv = argv
        self.env = env

    def run(self, *args: str, cwd: Path | None = None, timeout: float = 180) -> subprocess.CompletedProcess:
        return subprocess.run([*self.argv, *map(str, args)], env=self.env, cwd=cwd,
                              capture_output=True, text=True, timeout=timeout,
                              stdin=subprocess.DEVNULL)

    def ok(self, *args: str, **kw) -> str:
        r = self.run(*args, **kw)
        if r.returncode != 0:
            raise CLIError("command failed:\n" + describe(r))
        return r.stdout

    def fails(self, *args: str, **kw) -> subprocess.CompletedProcess:
        r = self.run(*args, **kw)
        if r.returncode == 0:
            raise CLIError("command succeeded but should have failed:\n" + describe(r))
        return r

    def lines(self, *args: str, **kw) -> list[str]:
        return self.ok(*args, **kw).splitlines()


def stat_fields(text: str) -> dict[str, str]:
    """`swift stat` output (right-aligned `Key: value` lines) as a dict."""
    fields = {}
    for line in text.splitlines():
        key, sep, value = line.strip().partition(": ")
        if sep:
            fields[key] = value.strip()
    return fields


def segments_etag(path: Path, segment_size: int) -> str:
    """What Swift reports as the ETag of a large object cut into `segment_size`
    pieces: the MD5 of the segments' MD5 hex digests, concatenated."""
    outer = hashlib.md5()
    with open(path, "rb") as f:
        while chunk := f.read(segment_size):
            outer.update(hashlib.md5(chunk).hexdigest().encode())
    return outer.hexdigest()


def multipart_etag(parts: list[bytes]) -> str:
    """S3's ETag of a completed multipart upload: MD5 of the parts' binary MD5s, `-N`."""
    return hashlib.md5(b"".join(hashlib.md5(p).digest() for p in parts)).hexdigest() + f"-{len(parts)}"


def make_tree(root: Path) -> dict[str, bytes]:
    """A small folder of nested files (one with a space in its name); returns
    {relative path: bytes}."""
    files = {
        "readme.txt": b"top level\n",
        "docs/guide.md": b"# guide\n" * 50,
        "docs/img/logo.bin": os.urandom(70_000),
        "data/deep/er/values.csv": b"a,b\n1,2\n",
        "data/with space.txt": b"spaced out\n",
    }
    for rel, data in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    return files


def read_tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes()
            for p in sorted(root.rglob("*")) if p.is_file()}


def s3_fails(call, *args, **kw) -> tuple[str, int]:
    """Runs a boto3 call that must fail; returns (S3 error code, HTTP status)."""
    client_error = boto()[2]
    try:
        result = call(*args, **kw)
    except client_error as e:
        return e.response["Error"]["Code"], e.response["ResponseMetadata"]["HTTPStatusCode"]
    raise AssertionError(f"{call.__name__} succeeded but should have failed: {result}")


class SwiftHTTP(ServiceAPI):
    """Raw Object Storage v1 calls (as admin unless given a token)."""

    prefix = "object-store"

    def __init__(self, martlet, identity, project_id: str):
        super().__init__(martlet, identity)
        self.account = f"AUTH_{project_id}"

    def path(self, *parts: str) -> str:
        return "/v1/" + "/".join([self.account, *parts])


TRANS_ID = re.compile(r"^tx[0-9a-f]{21}-[0-9a-f]{10}$")
LISTING_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}$")


# --- fixtures ----------------------------------------------------------------------

@pytest.fixture(scope="session")
def admin_project_id(identity) -> str:
    r = identity.get("/projects", params={"name": "admin"})
    assert r.status_code == 200, r.text
    return r.json()["projects"][0]["id"]


@pytest.fixture
def swift_http(martlet, identity, admin_project_id) -> SwiftHTTP:
    return SwiftHTTP(martlet, identity, admin_project_id)


def swift_cli_for(martlet, username: str, password: str, project: str) -> Client:
    """python-swiftclient's `swift` logged in with Identity v3 through OS_* variables."""
    exe = tool("swift", "python-swiftclient")
    return Client([exe], clean_env(
        OS_AUTH_URL=martlet.auth_url, OS_USERNAME=username, OS_PASSWORD=password,
        OS_PROJECT_NAME=project, OS_USER_DOMAIN_NAME="Default",
        OS_PROJECT_DOMAIN_NAME="Default", OS_IDENTITY_API_VERSION="3",
        OS_INTERFACE="public", ST_AUTH_VERSION="3"))


@pytest.fixture(scope="session")
def swift(martlet) -> Client:
    return swift_cli_for(martlet, "admin", martlet.admin_password, "admin")


@pytest.fixture(scope="session")
def ec2_keys(osc) -> dict:
    """EC2 credentials of the admin on the admin project: {access, secret, project_id}."""
    cred = osc.json("ec2", "credentials", "create")
    assert cred["access"] and cred["secret"], cred
    return cred


def s3_client(martlet, keys: dict, **config: Any):
    """A boto3 S3 client on the S3 listener (path-style addressing)."""
    boto3, Config, _ = boto()
    config.setdefault("s3", {"addressing_style": "path"})
    config.setdefault("retries", {"max_attempts": 1})
    return boto3.session.Session().client(
        "s3", endpoint_url=martlet.s3_url, region_name="us-east-1",
        aws_access_key_id=keys["access"], aws_secret_access_key=keys["secret"],
        config=Config(**config))


@pytest.fixture(scope="session")
def s3(martlet, ec2_keys):
    return s3_client(martlet, ec2_keys)


@pytest.fixture(scope="session")
def aws(martlet, ec2_keys) -> Client:
    """awscli, with the admin's EC2 keys and nothing from ~/.aws."""
    exe = tool("aws", "aws-cli")
    return Client([exe, "--endpoint-url", martlet.s3_url], clean_env(
        AWS_ACCESS_KEY_ID=ec2_keys["access"], AWS_SECRET_ACCESS_KEY=ec2_keys["secret"],
        AWS_DEFAULT_REGION="us-east-1", AWS_CONFIG_FILE=os.devnull,
        AWS_SHARED_CREDENTIALS_FILE=os.devnull, AWS_EC2_METADATA_DISABLED="true",
        AWS_PAGER=""))


@pytest.fixture(scope="session")
def rclone(martlet, ec2_keys, tmp_path_factory) -> Client:
    """rclone with a config of its own: remote `swift` (Identity v3 as the admin)
    and remote `s3` (the S3 listener with the admin's EC2 keys)."""
    exe = tool("rclone")
    config = tmp_path_factory.mktemp("rclone") / "rclone.conf"
    config.write_text(f"""\
[swift]
type = swift
env_auth = false
auth = {martlet.auth_url}
auth_version = 3
user = admin
key = {martlet.admin_password}
domain = Default
tenant = admin
tenant_domain = Default
endpoint_type = public

[s3]
type = s3
provider = Other
env_auth = false
access_key_id = {ec2_keys['access']}
secret_access_key = {ec2_keys['secret']}
endpoint = {martlet.s3_url}
region = us-east-1
force_path_style = true
""")
    config.chmod(0o600)
    return Client([exe, "--retries", "1", "--low-level-retries", "1", "--contimeout", "10s"],
                  clean_env(RCLONE_CONFIG=str(config)))


# --- the swift CLI -----------------------------------------------------------------

def test_swift_cli_upload_list_stat_post_download_delete(swift, swift_http, tmp_path):
    src, out = tmp_path / "src", tmp_path / "out"
    src.mkdir()
    files = make_tree(src)
    container = uniq("swcli")

    swift.ok("upload", container, "readme.txt", "docs", "data", cwd=src)
    assert container in swift.lines("list")
    assert swift.lines("list", container) == sorted(files)
    assert swift.lines("list", "--prefix", "docs/", container) == ["docs/guide.md", "docs/img/logo.bin"]
    assert swift.lines("list", "--delimiter", "/", container) == ["data/", "docs/", "readme.txt"]

    stat = stat_fields(swift.ok("stat", container))
    assert stat["Container"] == container
    assert stat["Objects"] == str(len(files))
    assert stat["Bytes"] == str(sum(map(len, files.values())))
    account = stat_fields(swift.ok("stat"))
    assert account["Account"] == swift_http.account
    assert int(account["Containers"]) >= 1

    obj = stat_fields(swift.ok("stat", container, "docs/img/logo.bin"))
    logo = files["docs/img/logo.bin"]
    assert obj["Content Length"] == str(len(logo))
    assert obj["ETag"] == hashlib.md5(logo).hexdigest()

    # Object metadata: a POST replaces all of it (Swift's semantics).
    swift.ok("post", "-m", "Color:blue", "-m", "Shape:round", container, "readme.txt")
    obj = stat_fields(swift.ok("stat", container, "readme.txt"))
    assert (obj.get("Meta Color"), obj.get("Meta Shape")) == ("blue", "round"), obj
    swift.ok("post", "-m", "Size:small", container, "readme.txt")
    obj = stat_fields(swift.ok("stat", container, "readme.txt"))
    assert obj.get("Meta Size") == "small" and "Meta Color" not in obj, obj

    # Container metadata and a public read ACL.
    swift.ok("post", "-m", "Team:storage", "-r", ".r:*,.rlistings", container)
    stat = stat_fields(swift.ok("stat", container))
    assert stat.get("Meta Team") == "storage", stat
    assert stat.get("Read ACL") == ".r:*,.rlistings", stat
    anon = requests.get(f"{swift_http.url}{swift_http.path(container, 'readme.txt')}", timeout=30)
    assert (anon.status_code, anon.content) == (200, files["readme.txt"])
    anon = requests.get(f"{swift_http.url}{swift_http.path(container)}", timeout=30)
    assert anon.status_code == 200 and anon.text.splitlines() == sorted(files), anon.text

    # Download: one object to stdout, then the whole container into a folder.
    assert swift.ok("download", container, "readme.txt", "-o", "-") == files["readme.txt"].decode()
    swift.ok("download", container, "-D", str(out))
    assert read_tree(out) == files

    # Delete one object, then the container with everything in it.
    swift.ok("delete", container, "data/with space.txt")
    assert "data/with space.txt" not in swift.lines("list", container)
    swift.ok("delete", container)
    assert container not in swift.lines("list")
    r = swift.fails("stat", container)
    assert "not found" in (r.stdout + r.stderr).lower(), describe(r)


def test_swift_cli_large_objects_slo_and_dlo_60mb(swift, swift_http, tmp_path):
    size, segment = 60 * MiB, 10 * MiB
    src = tmp_path / "big.bin"
    md5, _ = write_random(src, size)
    expected_etag = f'"{segments_etag(src, segment)}"'

    for flag, container in (("--use-slo", uniq("slo")), ("--use-dlo", uniq("dlo"))):
        swift.ok("upload", "-S", str(segment), flag, container, "big.bin", cwd=tmp_path)
        assert swift.lines("list", container) == ["big.bin"]
        segments = swift.lines("list", f"{container}_segments")
        assert len(segments) == size // segment, segments

        stat = stat_fields(swift.ok("stat", container, "big.bin"))
        assert stat["Content Length"] == str(size), stat
        assert stat["ETag"] == expected_etag, stat
        if flag == "--use-slo":
            assert stat.get("X-Static-Large-Object") == "True", stat
        else:
            assert stat.get("Manifest", "").startswith(f"{container}_segments/big.bin/"), stat

        out = tmp_path / f"out{flag}.bin"
        swift.ok("download", container, "big.bin", "-o", str(out))
        assert out.stat().st_size == size
        assert filecmp.cmp(src, out, shallow=False), f"{flag}: downloaded bytes differ"
        assert hashlib.md5(out.read_bytes()).hexdigest() == md5
        out.unlink()

        # A range across the first segment boundary, straight from the API.
        r = swift_http.request("GET", swift_http.path(container, "big.bin"),
                               headers={"Range": f"bytes={segment - 10}-{segment + 9}"})
        assert r.status_code == 206, f"{r.status_code}: {r.text[:200]}"
        with open(src, "rb") as f:
            f.seek(segment - 10)
            assert r.content == f.read(20)
        assert r.headers["Content-Range"] == f"bytes {segment - 10}-{segment + 9}/{size}"

        # Deleting the large object takes its segments with it.
        swift.ok("delete", container, "big.bin")
        assert swift.lines("list", container) == []
        assert swift.lines("list", f"{container}_segments") == []


def test_swift_content_type_guessed_from_the_name(swift, tmp_path):
    """Neither `swift upload` nor `openstack object create` sends a Content-Type:
    Swift then guesses it from the object's name (application/octet-stream only
    when it cannot tell)."""
    (tmp_path / "notes.txt").write_text("plain\n")
    (tmp_path / "page.html").write_text("<p>hi</p>\n")
    (tmp_path / "blob.unknownext").write_bytes(b"\0\1")
    container = uniq("ctype")
    swift.ok("upload", container, "notes.txt", "page.html", "blob.unknownext", cwd=tmp_path)
    types = {name: stat_fields(swift.ok("stat", container, name))["Content Type"]
             for name in ("notes.txt", "page.html", "blob.unknownext")}
    assert types == {"notes.txt": "text/plain", "page.html": "text/html",
                     "blob.unknownext": "application/octet-stream"}, types
    # An explicit type wins.
    swift.ok("upload", "--header", "Content-Type:application/x-custom", "--object-name",
             "custom.txt", container, "notes.txt", cwd=tmp_path)
    assert stat_fields(swift.ok("stat", container, "custom.txt"))["Content Type"] == \
        "application/x-custom"


# --- openstack container / object -----------------------------------------------------

@pytest.mark.one_database
def test_openstack_container_and_object_commands(osc, swift_http, tmp_path):
    container = uniq("osc")
    created = osc.json("container", "create", container)
    assert [(c["container"], c["account"]) for c in created] == [(container, swift_http.account)]
    assert container in [c["Name"] for c in osc.json("container", "list")]
    osc.ok("container", "set", "--property", "owner=team-a", "--property", "tier=gold", container)
    osc.ok("container", "unset", "--property", "tier", container)

    data = os.urandom(123_456)
    (tmp_path / "payload.bin").write_bytes(data)
    (tmp_path / "note.txt").write_text("note\n")
    made = osc.json("object", "create", "--name", "dir/payload.bin", container,
                    str(tmp_path / "payload.bin"))
    assert [(o["object"], o["container"], o["etag"]) for o in made] == \
        [("dir/payload.bin", container, hashlib.md5(data).hexdigest())]
    osc.json("object", "create", "--name", "note.txt", container, str(tmp_path / "note.txt"))

    shown = osc.json("container", "show", container)
    assert (shown["container"], shown["object_count"], shown["bytes_used"]) == \
        (container, "2", str(len(data) + 5))
    assert shown["properties"] == {"owner": "team-a"}

    long = {o["Name"]: o for o in osc.json("object", "list", "--long", container)}
    assert list(long) == ["dir/payload.bin", "note.txt"]
    assert (long["dir/payload.bin"]["Bytes"], long["dir/payload.bin"]["Hash"]) == \
        (len(data), hashlib.md5(data).hexdigest())
    assert [o["Name"] for o in osc.json("object", "list", "--prefix", "dir/", container)] == \
        ["dir/payload.bin"]

    shown = osc.json("object", "show", container, "dir/payload.bin")
    assert (shown["object"], shown["content-length"], shown["etag"]) == \
        ("dir/payload.bin", str(len(data)), hashlib.md5(data).hexdigest())
    out = tmp_path / "saved.bin"
    osc.ok("object", "save", "--file", str(out), container, "dir/payload.bin")
    assert out.read_bytes() == data

    osc.ok("object", "set", "--property", "color=blue", "--property", "size=L",
           container, "dir/payload.bin")
    assert osc.json("object", "show", container, "dir/payload.bin")["properties"] == \
        {"color": "blue", "size": "L"}
    # (An object POST replaces all of its metadata: what `unset` leaves is not kept.)
    osc.ok("object", "unset", "--property", "color", container, "dir/payload.bin")
    assert "color" not in osc.json("object", "show", container, "dir/payload.bin").get("properties", {})

    # A container with objects is not deleted (409) unless --recursive.
    r = osc.fails("container", "delete", container)
    assert "409" in r.stderr or "Conflict" in r.stderr, r.stderr
    osc.ok("object", "delete", container, "note.txt")
    r = osc.fails("object", "show", container, "note.txt")
    assert "404" in r.stderr or "Not Found" in r.stderr, r.stderr
    osc.ok("container", "delete", "--recursive", container)
    r = osc.fails("container", "show", container)
    assert "404" in r.stderr or "Not Found" in r.stderr, r.stderr


# --- boto3 -----------------------------------------------------------------------------

def test_s3_boto3_buckets_objects_metadata_and_copy(s3):
    bucket = uniq("bkt")
    s3.create_bucket(Bucket=bucket)
    s3.head_bucket(Bucket=bucket)
    assert bucket in [b["Name"] for b in s3.list_buckets()["Buckets"]]

    body = os.urandom(200_000)
    put = s3.put_object(Bucket=bucket, Key="docs/report.bin", Body=body, ContentType="application/x-report",
                        Metadata={"color": "blue", "owner": "team-a"})
    assert put["ETag"] == f'"{hashlib.md5(body).hexdigest()}"'

    got = s3.get_object(Bucket=bucket, Key="docs/report.bin")
    assert got["Body"].read() == body
    assert got["ContentType"] == "application/x-report"
    assert got["Metadata"] == {"color": "blue", "owner": "team-a"}
    assert got["ETag"] == put["ETag"]
    head = s3.head_object(Bucket=bucket, Key="docs/report.bin")
    assert (head["ContentLength"], head["ETag"], head["Metadata"]) == \
        (len(body), put["ETag"], {"color": "blue", "owner": "team-a"})
    part = s3.get_object(Bucket=bucket, Key="docs/report.bin", Range="bytes=100-199")
    assert part["ResponseMetadata"]["HTTPStatusCode"] == 206
    assert part["Body"].read() == body[100:200]
    assert part["ContentRange"] == f"bytes 100-199/{len(body)}"

    # Copy keeps the metadata; REPLACE sets new metadata.
    s3.copy_object(Bucket=bucket, Key="copy.bin", CopySource={"Bucket": bucket, "Key": "docs/report.bin"})
    copied = s3.get_object(Bucket=bucket, Key="copy.bin")
    assert (copied["Body"].read(), copied["Metadata"], copied["ContentType"]) == \
        (body, {"color": "blue", "owner": "team-a"}, "application/x-report")
    s3.copy_object(Bucket=bucket, Key="copy.bin", CopySource=f"{bucket}/docs/report.bin",
                   MetadataDirective="REPLACE", Metadata={"shape": "round"}, ContentType="text/plain")
    head = s3.head_object(Bucket=bucket, Key="copy.bin")
    assert (head["Metadata"], head["ContentType"], head["ContentLength"]) == \
        ({"shape": "round"}, "text/plain", len(body))

    # Conditional GETs.
    code, status = s3_fails(s3.get_object, Bucket=bucket, Key="copy.bin", IfNoneMatch=put["ETag"])
    assert status == 304, (code, status)
    code, status = s3_fails(s3.get_object, Bucket=bucket, Key="copy.bin", IfMatch='"0000"')
    assert (code, status) == ("PreconditionFailed", 412)

    s3.delete_object(Bucket=bucket, Key="copy.bin")
    assert s3_fails(s3.get_object, Bucket=bucket, Key="copy.bin") == ("NoSuchKey", 404)


def test_s3_boto3_listing_prefix_delimiter_and_pages(s3):
    bucket = uniq("lst")
    s3.create_bucket(Bucket=bucket)
    keys = ["a/1.txt", "a/2.txt", "a/b/3.txt", "c.txt", "d/4.txt", "dir with space/ü.txt", "e.txt"]
    for key in keys:
        s3.put_object(Bucket=bucket, Key=key, Body=key.encode())

    every = s3.list_objects_v2(Bucket=bucket)
    assert [o["Key"] for o in every["Contents"]] == sorted(keys)
    assert every["KeyCount"] == len(keys) and every["IsTruncated"] is False
    sizes = {o["Key"]: o["Size"] for o in every["Contents"]}
    assert sizes["dir with space/ü.txt"] == len("dir with space/ü.txt".encode())

    under_a = s3.list_objects_v2(Bucket=bucket, Prefix="a/", Delimiter="/")
    assert [o["Key"] for o in under_a["Contents"]] == ["a/1.txt", "a/2.txt"]
    assert [p["Prefix"] for p in under_a["CommonPrefixes"]] == ["a/b/"]
    top = s3.list_objects_v2(Bucket=bucket, Delimiter="/")
    assert [o["Key"] for o in top["Contents"]] == ["c.txt", "e.txt"]
    assert [p["Prefix"] for p in top["CommonPrefixes"]] == ["a/", "d/", "dir with space/"]

    # Pages of two, by continuation token.
    seen, pages, token = [], 0, None
    while True:
        kw = {"ContinuationToken": token} if token else {}
        page = s3.list_objects_v2(Bucket=bucket, MaxKeys=2, **kw)
        pages += 1
        seen += [o["Key"] for o in page.get("Contents", [])]
        assert page["KeyCount"] == len(page.get("Contents", [])) <= 2
        if not page["IsTruncated"]:
            break
        token = page["NextContinuationToken"]
        assert pages < 10, "the listing never ends"
    assert (seen, pages) == (sorted(keys), 4)
    # Common prefixes count towards MaxKeys too; the paginator walks the same way.
    paginator = s3.get_paginator("list_objects_v2")
    got_keys, got_prefixes = [], []
    for page in paginator.paginate(Bucket=bucket, Delimiter="/", PaginationConfig={"PageSize": 2}):
        got_keys += [o["Key"] for o in page.get("Contents", [])]
        got_prefixes += [p["Prefix"] for p in page.get("CommonPrefixes", [])]
    assert (got_keys, got_prefixes) == (["c.txt", "e.txt"], ["a/", "d/", "dir with space/"])
    after = s3.list_objects_v2(Bucket=bucket, StartAfter="c.txt")
    assert [o["Key"] for o in after["Contents"]] == sorted(keys)[4:]
    # ListObjects (v1) with a marker.
    v1 = s3.list_objects(Bucket=bucket, Marker="a/b/3.txt", MaxKeys=2)
    assert [o["Key"] for o in v1["Contents"]] == ["c.txt", "d/4.txt"] and v1["IsTruncated"] is True

    deleted = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": k} for k in keys]})
    assert sorted(d["Key"] for d in deleted["Deleted"]) == sorted(keys)
    assert deleted.get("Errors", []) == []
    empty = s3.list_objects_v2(Bucket=bucket)
    assert empty["KeyCount"] == 0 and "Contents" not in empty
    s3.delete_bucket(Bucket=bucket)
    assert s3_fails(s3.head_bucket, Bucket=bucket) == ("404", 404)


def test_s3_boto3_presigned_urls_and_signature_v2(martlet, ec2_keys, s3):
    bucket = uniq("pre")
    s3.create_bucket(Bucket=bucket)
    body = os.urandom(10_000)
    key = "shared/file name.bin"
    s3.put_object(Bucket=bucket, Key=key, Body=body)

    for version in (None, "s3", "s3v4"):
        client = s3 if version is None else s3_client(martlet, ec2_keys, signature_version=version)
        url = client.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": key},
                                            ExpiresIn=300)
        r = requests.get(url, timeout=30)
        assert (r.status_code, r.content) == (200, body), f"{version}: {url} -> {r.status_code} {r.text}"
        # A changed signature is refused.
        bad = re.sub(r"((?:Signature|X-Amz-Signature)=)[^&]{4}", r"\g<1>AAAA", url)
        assert bad != url
        r = requests.get(bad, timeout=30)
        assert r.status_code == 403, f"{version}: tampered URL -> {r.status_code} {r.text}"
        assert "<Code>SignatureDoesNotMatch</Code>" in r.text, r.text

    # An expired URL is refused.
    v4 = s3_client(martlet, ec2_keys, signature_version="s3v4")
    url = v4.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=1)
    time.sleep(2.1)
    r = requests.get(url, timeout=30)
    assert r.status_code == 403 and "<Code>AccessDenied</Code>" in r.text, f"{r.status_code} {r.text}"
    # A presigned PUT.
    url = v4.generate_presigned_url("put_object", Params={"Bucket": bucket, "Key": "uploaded.txt"},
                                    ExpiresIn=300)
    r = requests.put(url, data=b"put through a presigned URL", timeout=30)
    assert r.status_code == 200, f"{r.status_code} {r.text}"
    assert s3.get_object(Bucket=bucket, Key="uploaded.txt")["Body"].read() == b"put through a presigned URL"

    # Signature V2 in the Authorization header, for bucket and object requests.
    v2 = s3_client(martlet, ec2_keys, signature_version="s3")
    v2_bucket = uniq("v2")
    v2.create_bucket(Bucket=v2_bucket)
    v2.head_bucket(Bucket=v2_bucket)
    assert v2.list_objects_v2(Bucket=v2_bucket)["KeyCount"] == 0
    v2.delete_bucket(Bucket=v2_bucket)
    v2.put_object(Bucket=bucket, Key="v2.txt", Body=b"signed with v2", Metadata={"via": "v2"})
    got = v2.get_object(Bucket=bucket, Key="v2.txt")
    assert (got["Body"].read(), got["Metadata"]) == (b"signed with v2", {"via": "v2"})
    v2.copy_object(Bucket=bucket, Key="v2-copy.txt", CopySource=f"{bucket}/v2.txt")
    v2.delete_object(Bucket=bucket, Key="v2.txt")
    assert s3.get_object(Bucket=bucket, Key="v2-copy.txt")["Body"].read() == b"signed with v2"
    assert s3_fails(s3.head_object, Bucket=bucket, Key="v2.txt") == ("404", 404)


def test_s3_boto3_multipart_upload_and_abort(s3):
    bucket = uniq("mpu")
    s3.create_bucket(Bucket=bucket)
    parts = [os.urandom(5 * MiB), os.urandom(MiB + 3)]

    upload = s3.create_multipart_upload(Bucket=bucket, Key="big/object.bin", ContentType="application/x-big",
                                        Metadata={"kind": "multipart"})
    uid = upload["UploadId"]
    assert uid in [u["UploadId"] for u in s3.list_multipart_uploads(Bucket=bucket).get("Uploads", [])]
    etags = []
    for number, data in enumerate(parts, start=1):
        etags.append(s3.upload_part(Bucket=bucket, Key="big/object.bin", UploadId=uid,
                                    PartNumber=number, Body=data)["ETag"])
    assert etags == [f'"{hashlib.md5(p).hexdigest()}"' for p in parts]
    listed = s3.list_parts(Bucket=bucket, Key="big/object.bin", UploadId=uid)
    assert [(p["PartNumber"], p["ETag"], p["Size"]) for p in listed["Parts"]] == \
        [(1, etags[0], len(parts[0])), (2, etags[1], len(parts[1]))]
    # Not visible as an object until completed.
    assert s3_fails(s3.head_object, Bucket=bucket, Key="big/object.bin") == ("404", 404)

    done = s3.complete_multipart_upload(
        Bucket=bucket, Key="big/object.bin", UploadId=uid,
        MultipartUpload={"Parts": [{"PartNumber": n, "ETag": e} for n, e in enumerate(etags, start=1)]})
    assert done["ETag"] == f'"{multipart_etag(parts)}"'
    head = s3.head_object(Bucket=bucket, Key="big/object.bin")
    assert (head["ContentLength"], head["ETag"], head["ContentType"], head["Metadata"]) == \
        (sum(map(len, parts)), done["ETag"], "application/x-big", {"kind": "multipart"})
    assert s3.get_object(Bucket=bucket, Key="big/object.bin")["Body"].read() == b"".join(parts)
    tail = s3.get_object(Bucket=bucket, Key="big/object.bin", Range=f"bytes={5 * MiB - 2}-{5 * MiB + 1}")
    assert tail["Body"].read() == parts[0][-2:] + parts[1][:2]
    assert uid not in [u["UploadId"] for u in s3.list_multipart_uploads(Bucket=bucket).get("Uploads", [])]

    # A part under 5 MiB that is not the last one: EntityTooSmall.
    small = s3.create_multipart_upload(Bucket=bucket, Key="small.bin")["UploadId"]
    small_etags = [s3.upload_part(Bucket=bucket, Key="small.bin", UploadId=small, PartNumber=n,
                                  Body=b"x" * 1000)["ETag"] for n in (1, 2)]
    code, status = s3_fails(s3.complete_multipart_upload, Bucket=bucket, Key="small.bin", UploadId=small,
                            MultipartUpload={"Parts": [{"PartNumber": n, "ETag": e}
                                                       for n, e in enumerate(small_etags, start=1)]})
    assert (code, status) == ("EntityTooSmall", 400)

    # Abort: the upload and its parts are gone.
    s3.abort_multipart_upload(Bucket=bucket, Key="small.bin", UploadId=small)
    assert s3_fails(s3.list_parts, Bucket=bucket, Key="small.bin", UploadId=small) == ("NoSuchUpload", 404)
    assert small not in [u["UploadId"] for u in s3.list_multipart_uploads(Bucket=bucket).get("Uploads", [])]
    assert s3_fails(s3.head_object, Bucket=bucket, Key="small.bin") == ("404", 404)


def test_s3_boto3_errors(martlet, ec2_keys, s3):
    bucket, missing = uniq("err"), uniq("nobkt")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="present", Body=b"here")

    assert s3_fails(s3.get_object, Bucket=bucket, Key="absent") == ("NoSuchKey", 404)
    assert s3_fails(s3.head_object, Bucket=bucket, Key="absent") == ("404", 404)
    assert s3_fails(s3.get_object, Bucket=missing, Key="x") == ("NoSuchBucket", 404)
    assert s3_fails(s3.list_objects_v2, Bucket=missing) == ("NoSuchBucket", 404)
    assert s3_fails(s3.put_object, Bucket=missing, Key="x", Body=b"") == ("NoSuchBucket", 404)
    assert s3_fails(s3.delete_bucket, Bucket=missing) == ("NoSuchBucket", 404)
    assert s3_fails(s3.create_bucket, Bucket="Bad_Name") == ("InvalidBucketName", 400)

    wrong_secret = s3_client(martlet, {**ec2_keys, "secret": "not-the-secret"})
    assert s3_fails(wrong_secret.list_objects_v2, Bucket=bucket) == ("SignatureDoesNotMatch", 403)
    assert s3_fails(wrong_secret.get_object, Bucket=bucket, Key="present") == ("SignatureDoesNotMatch", 403)
    unknown = s3_client(martlet, {"access": "0" * 32, "secret": "x"})
    assert s3_fails(unknown.list_buckets) == ("InvalidAccessKeyId", 403)
    # No signature at all.
    r = requests.get(f"{martlet.s3_url}/{bucket}/present", timeout=30)
    assert r.status_code == 403 and "<Code>AccessDenied</Code>" in r.text, f"{r.status_code} {r.text}"
    assert r.headers.get("x-amz-request-id"), dict(r.headers)

    assert s3_fails(s3.delete_bucket, Bucket=bucket) == ("BucketNotEmpty", 409)
    s3.delete_object(Bucket=bucket, Key="present")
    s3.delete_bucket(Bucket=bucket)
    assert bucket not in [b["Name"] for b in s3.list_buckets()["Buckets"]]


# --- awscli ------------------------------------------------------------------------------

def test_awscli_cp_sync_multipart_and_presign(aws, s3, tmp_path):
    bucket = uniq("aws")
    aws.ok("s3", "mb", f"s3://{bucket}")
    assert bucket in aws.ok("s3", "ls")

    # cp up and down.
    (tmp_path / "hello.txt").write_text("hello from awscli\n")
    aws.ok("s3", "cp", "--only-show-errors", tmp_path / "hello.txt", f"s3://{bucket}/greetings/hello.txt")
    assert "hello.txt" in aws.ok("s3", "ls", f"s3://{bucket}/greetings/")
    aws.ok("s3", "cp", "--only-show-errors", f"s3://{bucket}/greetings/hello.txt", tmp_path / "back.txt")
    assert (tmp_path / "back.txt").read_text() == "hello from awscli\n"
    head = json.loads(aws.ok("s3api", "head-object", "--bucket", bucket, "--key", "greetings/hello.txt"))
    assert head["ContentType"] == "text/plain", head  # guessed by awscli from the name

    # sync a folder up, then into an empty folder, then a change and --delete.
    src, back = tmp_path / "tree", tmp_path / "tree-back"
    src.mkdir()
    files = make_tree(src)
    aws.ok("s3", "sync", "--only-show-errors", src, f"s3://{bucket}/tree/")
    listed = s3.list_objects_v2(Bucket=bucket, Prefix="tree/")
    assert sorted(o["Key"] for o in listed["Contents"]) == sorted(f"tree/{k}" for k in files)
    aws.ok("s3", "sync", "--only-show-errors", f"s3://{bucket}/tree/", back)
    assert read_tree(back) == files
    (src / "readme.txt").write_text("changed, and longer than before\n")
    (src / "docs" / "guide.md").unlink()
    aws.ok("s3", "sync", "--only-show-errors", "--delete", src, f"s3://{bucket}/tree/")
    aws.ok("s3", "sync", "--only-show-errors", "--delete", f"s3://{bucket}/tree/", back)
    assert read_tree(back) == read_tree(src)
    assert "docs/guide.md" not in read_tree(back)

    # A 30 MB file goes up in parts (awscli's default: 8 MiB parts above 8 MiB).
    big, big_back = tmp_path / "big.bin", tmp_path / "big-back.bin"
    write_random(big, 30 * MiB)
    aws.ok("s3", "cp", "--only-show-errors", big, f"s3://{bucket}/big.bin")
    head = json.loads(aws.ok("s3api", "head-object", "--bucket", bucket, "--key", "big.bin"))
    assert head["ContentLength"] == 30 * MiB
    assert head["ETag"].strip('"').endswith("-4"), head
    aws.ok("s3", "cp", "--only-show-errors", f"s3://{bucket}/big.bin", big_back)
    assert filecmp.cmp(big, big_back, shallow=False), "the 30 MB object came back different"
    big.unlink()
    big_back.unlink()

    # presign, then a plain GET.
    url = aws.ok("s3", "presign", f"s3://{bucket}/greetings/hello.txt", "--expires-in", "300").strip()
    r = requests.get(url, timeout=30)
    assert (r.status_code, r.text) == (200, "hello from awscli\n"), f"{url} -> {r.status_code} {r.text}"

    # rm and rb.
    aws.ok("s3", "rm", "--only-show-errors", "--recursive", f"s3://{bucket}/")
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 0
    aws.ok("s3", "rb", f"s3://{bucket}")
    assert bucket not in aws.ok("s3", "ls")


# --- rclone ------------------------------------------------------------------------------

@pytest.mark.parametrize("remote", ["swift", "s3"])
def test_rclone_sync_both_ways(rclone, remote, tmp_path):
    src, back = tmp_path / "src", tmp_path / "back"
    src.mkdir()
    files = make_tree(src)
    target = f"{remote}:{uniq('rcl')}/copy"

    rclone.ok("sync", src, target)
    assert sorted(rclone.lines("lsf", "-R", "--files-only", target)) == sorted(files)
    rclone.ok("check", src, target)  # sizes and MD5s agree
    rclone.ok("sync", target, back)
    assert read_tree(back) == files

    # A change and a deletion reach the remote, and come back.
    (src / "docs" / "guide.md").write_bytes(b"rewritten\n")
    (src / "data" / "with space.txt").unlink()
    rclone.ok("sync", src, target)
    rclone.ok("check", src, target)
    rclone.ok("sync", target, back)
    assert read_tree(back) == read_tree(src)

    rclone.ok("purge", target.rsplit("/", 1)[0])
    r = rclone.run("lsf", target)
    assert r.returncode != 0 or r.stdout.strip() == "", describe(r)


# --- both protocols over the same objects --------------------------------------------------

def test_cross_protocol_s3_and_swift_same_objects(swift, swift_http, s3, tmp_path):
    bucket = uniq("xp")
    s3.create_bucket(Bucket=bucket)
    assert bucket in swift.lines("list")

    # S3 -> Swift: bytes, metadata and the listing.
    from_s3 = os.urandom(50_000)
    s3.put_object(Bucket=bucket, Key="from-s3.bin", Body=from_s3, ContentType="application/x-s3",
                  Metadata={"color": "blue"})
    r = swift_http.request("GET", swift_http.path(bucket, "from-s3.bin"))
    assert r.status_code == 200, f"{r.status_code}: {r.text[:200]}"
    assert r.content == from_s3
    assert (r.headers.get("X-Object-Meta-Color"), r.headers.get("Content-Type")) == ("blue", "application/x-s3")
    assert r.headers["ETag"].strip('"') == hashlib.md5(from_s3).hexdigest()
    assert "from-s3.bin" in swift.lines("list", bucket)

    # Swift -> S3.
    from_swift = os.urandom(70_000)
    (tmp_path / "from-swift.bin").write_bytes(from_swift)
    swift.ok("upload", "-m", "Shape:round", bucket, "from-swift.bin", cwd=tmp_path)
    got = s3.get_object(Bucket=bucket, Key="from-swift.bin")
    assert got["Body"].read() == from_swift
    assert got["Metadata"].get("shape") == "round", got["Metadata"]
    listed = {o["Key"]: o for o in s3.list_objects_v2(Bucket=bucket)["Contents"]}
    assert set(listed) == {"from-s3.bin", "from-swift.bin"}
    assert listed["from-swift.bin"]["ETag"] == f'"{hashlib.md5(from_swift).hexdigest()}"'
    assert listed["from-swift.bin"]["Size"] == len(from_swift)

    # A container made through Swift is a bucket.
    container = uniq("xpswift")
    swift.ok("post", container)
    assert container in [b["Name"] for b in s3.list_buckets()["Buckets"]]
    s3.put_object(Bucket=container, Key="k", Body=b"v")
    assert swift.ok("download", container, "k", "-o", "-") == "v"

    # Deleting through one protocol is seen by the other.
    swift.ok("delete", bucket, "from-s3.bin")
    assert s3_fails(s3.head_object, Bucket=bucket, Key="from-s3.bin") == ("404", 404)
    s3.delete_object(Bucket=bucket, Key="from-swift.bin")
    assert "from-swift.bin" not in swift.lines("list", bucket)


def test_cross_protocol_large_objects(swift, s3, tmp_path):
    """A Swift SLO reads back whole through S3, and an S3 multipart object through
    Swift (`swift download` checks what it got against the object's headers)."""
    bucket = uniq("xplarge")
    s3.create_bucket(Bucket=bucket)
    write_random(tmp_path / "slo.bin", 3 * MiB + 5)
    swift.ok("upload", "-S", str(MiB), "--use-slo", bucket, "slo.bin", cwd=tmp_path)
    got = s3.get_object(Bucket=bucket, Key="slo.bin")
    assert got["ContentLength"] == 3 * MiB + 5
    assert got["Body"].read() == (tmp_path / "slo.bin").read_bytes()
    parts = [os.urandom(5 * MiB), os.urandom(100)]
    uid = s3.create_multipart_upload(Bucket=bucket, Key="mpu.bin")["UploadId"]
    etags = [s3.upload_part(Bucket=bucket, Key="mpu.bin", UploadId=uid, PartNumber=n, Body=p)["ETag"]
             for n, p in enumerate(parts, start=1)]
    s3.complete_multipart_upload(Bucket=bucket, Key="mpu.bin", UploadId=uid, MultipartUpload={
        "Parts": [{"PartNumber": n, "ETag": e} for n, e in enumerate(etags, start=1)]})
    out = tmp_path / "mpu-out.bin"
    swift.ok("download", bucket, "mpu.bin", "-o", out)
    assert out.read_bytes() == b"".join(parts)


def test_cross_protocol_member_account(osc, martlet, identity, member, s3, swift_http):
    """A member's EC2 credentials act on the member's project account, which the
    member's own Swift token reaches and the admin's S3 listing does not show."""
    as_member = {"cloud": "member", "config": member["config"]}
    keys = osc.json("ec2", "credentials", "create", **as_member)
    assert keys["project_id"] == member["project"]["id"]
    client = s3_client(martlet, keys)
    bucket = uniq("mbr")
    client.create_bucket(Bucket=bucket)
    client.put_object(Bucket=bucket, Key="mine.txt", Body=b"member data")

    token = identity.token(member["user"]["name"], member["password"], member["project"]["name"])
    api = SwiftHTTP(martlet, identity, member["project"]["id"])
    r = api.request("GET", api.path(bucket, "mine.txt"), token)
    assert (r.status_code, r.content) == (200, b"member data"), f"{r.status_code}: {r.text[:200]}"
    assert bucket not in [b["Name"] for b in s3.list_buckets()["Buckets"]]
    # The member's token does not reach the admin's account.
    r = swift_http.request("GET", swift_http.path(), token)
    assert r.status_code == 403, f"{r.status_code}: {r.text[:200]}"
    # The member's Swift CLI sees the bucket as a container.
    member_swift = swift_cli_for(martlet, member["user"]["name"], member["password"], member["project"]["name"])
    assert member_swift.lines("list") == [bucket]
    assert member_swift.ok("download", bucket, "mine.txt", "-o", "-") == "member data"


# --- Swift on the wire -----------------------------------------------------------------------

def test_swift_raw_wire_format(martlet, swift_http):
    api = swift_http
    container = uniq("wire")
    r = api.request("PUT", api.path(container))
    assert r.status_code == 201, f"{r.status_code}: {r.text}"
    assert TRANS_ID.match(r.headers.get("X-Trans-Id", "")), dict(r.headers)
    assert r.headers.get("X-Openstack-Request-Id") == r.headers["X-Trans-Id"]
    assert api.request("PUT", api.path(container)).status_code == 202

    data = b"wire format\n"
    r = api.request("PUT", api.path(container, "a/one.txt"), data=data,
                    headers={"Content-Type": "text/plain", "ETag": hashlib.md5(data).hexdigest(),
                             "X-Object-Meta-Kind": "sample"})
    assert r.status_code == 201, f"{r.status_code}: {r.text}"
    assert r.headers["ETag"] == hashlib.md5(data).hexdigest()
    r = api.request("PUT", api.path(container, "bad.txt"), data=data, headers={"ETag": "0" * 32})
    assert r.status_code == 422, f"a wrong ETag -> {r.status_code}: {r.text}"
    api.request("PUT", api.path(container, "b.bin"), data=b"\0" * 10,
                headers={"Content-Type": "application/octet-stream"})

    r = api.request("GET", api.path(container), params={"format": "json"})
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"] == "application/json; charset=utf-8"
    assert r.headers["X-Container-Object-Count"] == "2"
    assert r.headers["X-Container-Bytes-Used"] == str(len(data) + 10)
    rows = r.json()
    assert [row["name"] for row in rows] == ["a/one.txt", "b.bin"]
    for row in rows:
        assert set(row) == {"name", "hash", "bytes", "content_type", "last_modified"}, row
        assert LISTING_TIME.match(row["last_modified"]), row
    assert (rows[0]["hash"], rows[0]["bytes"], rows[0]["content_type"]) == \
        (hashlib.md5(data).hexdigest(), len(data), "text/plain")
    r = api.request("GET", api.path(container), params={"format": "json", "delimiter": "/"})
    assert r.json() == [{"subdir": "a/"}, rows[1]]
    r = api.request("GET", api.path(container))
    assert (r.status_code, r.text) == (200, "a/one.txt\nb.bin\n")
    r = api.request("GET", api.path(container), params={"format": "xml"})
    root = ET.fromstring(r.content)
    assert (root.tag, root.get("name")) == ("container", container)
    assert [o.findtext("name") for o in root.findall("object")] == ["a/one.txt", "b.bin"]
    r = api.request("GET", api.path(container), params={"limit": "1", "marker": "a/one.txt"})
    assert r.text == "b.bin\n"

    r = api.request("HEAD", api.path(container, "a/one.txt"))
    assert r.status_code == 200
    assert (r.headers["Content-Length"], r.headers["ETag"], r.headers["X-Object-Meta-Kind"]) == \
        (str(len(data)), hashlib.md5(data).hexdigest(), "sample")
    assert r.headers.get("X-Timestamp") and r.headers.get("Last-Modified")

    r = api.request("GET", api.path(container, "missing"))
    assert r.status_code == 404 and TRANS_ID.match(r.headers.get("X-Trans-Id", "")), dict(r.headers)
    r = api.request("DELETE", api.path(container))
    assert r.status_code == 409, f"deleting a non-empty container -> {r.status_code}: {r.text}"
    assert TRANS_ID.match(r.headers.get("X-Trans-Id", ""))

    # Without a token, or with a bad one: 401.
    r = requests.get(f"{api.url}{api.path()}", timeout=30)
    assert r.status_code == 401, f"{r.status_code}: {r.text}"
    assert TRANS_ID.match(r.headers.get("X-Trans-Id", "")), dict(r.headers)
    r = requests.get(f"{api.url}{api.path(container)}", headers={"X-Auth-Token": "not-a-token"}, timeout=30)
    assert r.status_code == 401, f"{r.status_code}: {r.text}"

    r = api.request("HEAD", api.path())
    assert r.status_code == 204
    assert int(r.headers["X-Account-Container-Count"]) >= 1
    info = requests.get(f"{martlet.base_url}/info", timeout=30).json()
    assert "slo" in info and "swift" in info, info

    for name in ("a/one.txt", "b.bin"):
        assert api.request("DELETE", api.path(container, name)).status_code == 204
    assert api.request("DELETE", api.path(container)).status_code == 204
    assert api.request("HEAD", api.path(container)).status_code == 404


# --- restart ------------------------------------------------------------------------------------

@pytest.mark.restarts_server
def test_objects_survive_restart(martlet, swift, s3, swift_http, tmp_path):
    bucket = uniq("keep")
    s3.create_bucket(Bucket=bucket)
    via_s3 = os.urandom(30_000)
    s3.put_object(Bucket=bucket, Key="via-s3.bin", Body=via_s3, Metadata={"kept": "yes"})
    write_random(tmp_path / "via-swift.bin", 2 * MiB + 1)
    swift.ok("upload", "-S", str(MiB), "--use-slo", bucket, "via-swift.bin", cwd=tmp_path)

    rc = martlet.restart()
    assert rc == 0, f"martlet serve exited with {rc} on SIGTERM:\n{martlet.log_tail()}"

    got = s3.get_object(Bucket=bucket, Key="via-s3.bin")  # the EC2 credentials still work
    assert (got["Body"].read(), got["Metadata"]) == (via_s3, {"kept": "yes"})
    out = tmp_path / "back.bin"
    swift.ok("download", bucket, "via-swift.bin", "-o", out)
    assert filecmp.cmp(tmp_path / "via-swift.bin", out, shallow=False)
    assert s3.get_object(Bucket=bucket, Key="via-swift.bin")["Body"].read() == out.read_bytes()
    assert sorted(swift.lines("list", bucket)) == ["via-s3.bin", "via-swift.bin"]
