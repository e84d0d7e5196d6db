"""The Image service (Glance v2 under /image) driven by the real clients: the
`openstack image ...` commands, openstacksdk, and raw HTTP (requests, and a
plain socket for the cut-off upload)."""

from __future__ import annotations

import filecmp
import hashlib
import os
import socket
import struct
import time
from pathlib import Path

import openstack
import pytest
import requests

from conftest import ServiceAPI, uniq, write_random

MiB = 1 << 20

# What the 200 MB scenario uploaded, for the restart scenario to check again.
BIG: dict = {}


# --- helpers ---------------------------------------------------------------------

class ImageAPI(ServiceAPI):
    """Raw Image v2 calls."""

    prefix = "image"

    def show(self, image_id: str, token: str | None = None) -> dict:
        r = self.request("GET", f"/v2/images/{image_id}", token)
        assert r.status_code == 200, f"GET /v2/images/{image_id} -> {r.status_code}: {r.text}"
        return r.json()

    def create(self, token: str | None = None, **body) -> dict:
        body = {"name": uniq("raw-img"), "disk_format": "raw", "container_format": "bare", **body}
        r = self.request("POST", "/v2/images", token, json=body)
        assert r.status_code == 201, f"POST /v2/images {body} -> {r.status_code}: {r.text}"
        return r.json()

    def upload(self, image_id: str, data: bytes, token: str | None = None) -> requests.Response:
        return self.request("PUT", f"/v2/images/{image_id}/file", token, data=data,
                            headers={"Content-Type": "application/octet-stream"})

    def names(self, token: str | None = None, **params) -> list[str]:
        """The names `GET /v2/images` lists (one page), in order."""
        r = self.request("GET", "/v2/images", token, params=params)
        assert r.status_code == 200, f"GET /v2/images {params} -> {r.status_code}: {r.text}"
        return [i["name"] for i in r.json()["images"]]


@pytest.fixture
def images(martlet, identity) -> ImageAPI:
    return ImageAPI(martlet, identity)


def hash_value(shown: dict) -> tuple[str | None, str | None]:
    """(os_hash_algo, os_hash_value) from `image show -f json` (the CLI files
    them under `properties`, the API has them at the top level)."""
    props = shown.get("properties") or {}
    return (shown.get("os_hash_algo") or props.get("os_hash_algo"),
            shown.get("os_hash_value") or props.get("os_hash_value"))


def image_files(martlet) -> list[str]:
    """The names in <data-dir>/images (the file store), staging dir excluded."""
    root = martlet.data_dir / "images"
    return sorted(p.name for p in root.iterdir() if p.name != "staging")


def writes_in_progress(martlet) -> list[str]:
    """Temporary files of the store: `.tmp-*` names in <data-dir>/images, and files
    under it the server holds open (an unnamed O_TMPFILE shows as "#inode (deleted)")."""
    root = str(martlet.data_dir / "images")
    found = [n for n in image_files(martlet) if n.startswith(".tmp-")]
    fd_dir = Path(f"/proc/{martlet.proc.pid}/fd")
    for fd in fd_dir.iterdir() if fd_dir.is_dir() else []:
        try:
            target = os.readlink(fd)
        except OSError:
            continue  # closed meanwhile
        if target.startswith(root + "/"):
            found.append(target)
    return found


def wait_status(images: ImageAPI, image_id: str, want: str, timeout: float = 10) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        image = images.show(image_id)
        if image["status"] == want or time.monotonic() > deadline:
            return image
        time.sleep(0.1)


# --- scenarios -------------------------------------------------------------------

def test_image_create_file_200mb_and_save(osc, martlet, tmp_path):
    src, out = tmp_path / "disk.raw", tmp_path / "saved.raw"
    size = 200 * MiB
    md5, sha512 = write_random(src, size)
    name = uniq("img-big")

    created = osc.json("image", "create", "--file", str(src), "--disk-format", "raw",
                       "--container-format", "bare", name)
    assert created["name"] == name
    assert created["status"] == "active", created
    shown = osc.json("image", "show", name)
    assert shown["id"] == created["id"]
    assert (shown["status"], shown["size"]) == ("active", size)
    assert (shown["disk_format"], shown["container_format"]) == ("raw", "bare")
    assert shown["checksum"] == md5
    assert hash_value(shown) == ("sha512", sha512)

    # The store holds exactly the bytes, under the image's ID.
    stored = martlet.data_dir / "images" / created["id"]
    assert stored.stat().st_size == size

    osc.ok("image", "save", "--file", str(out), name)
    assert out.stat().st_size == size
    assert filecmp.cmp(src, out, shallow=False), "image save returned different bytes"

    with open(src, "rb") as f:
        f.seek(size - MiB)
        tail = f.read()
    BIG.update(id=created["id"], name=name, size=size, md5=md5, sha512=sha512, tail=tail)
    out.unlink()
    src.unlink()


def test_image_list_filters_and_sorting(osc, images, tmp_path):
    prefix = uniq("lst")
    tag, group = uniq("tag"), uniq("grp")
    a, b, c = f"{prefix}-a", f"{prefix}-b", f"{prefix}-c"
    (tmp_path / "a").write_bytes(os.urandom(1000))
    (tmp_path / "b").write_bytes(os.urandom(3000))
    # Created in the order c, a, b, so name order differs from creation order. c stays
    # `queued` (made through the API: `image create` without --file uploads its stdin).
    ic = images.create(name=c, disk_format="iso", tags=[tag], group=group, flavor="c")
    time.sleep(1.1)  # distinct created_at (second resolution) for the default sort
    ia = osc.json("image", "create", "--file", str(tmp_path / "a"), "--disk-format", "raw",
                  "--container-format", "bare", "--tag", tag, "--tag", "first",
                  "--property", f"group={group}", "--property", "flavor=a", a)
    time.sleep(1.1)
    ib = osc.json("image", "create", "--file", str(tmp_path / "b"), "--disk-format", "qcow2",
                  "--container-format", "bare", "--tag", tag,
                  "--property", f"group={group}", "--property", "flavor=b", "--private", b)
    ids = {a: ia["id"], b: ib["id"], c: ic["id"]}
    names = lambda rows: [r["Name"] for r in rows]  # noqa: E731

    # --- the CLI: --tag (server-side), --property (CLI-side), --sort, --limit/--marker, --long ---
    assert names(osc.json("image", "list", "--tag", tag, "--sort", "name:asc")) == [a, b, c]
    assert names(osc.json("image", "list", "--tag", tag, "--sort", "name:desc")) == [c, b, a]
    assert names(osc.json("image", "list", "--tag", tag, "--tag", "first")) == [a]
    assert names(osc.json("image", "list", "--property", "flavor=b", "--property",
                          f"group={group}")) == [b]
    assert names(osc.json("image", "list", "--property", f"group={group}",
                          "--sort", "name:asc")) == [a, b, c]
    assert names(osc.json("image", "list", "--name", b)) == [b]
    assert names(osc.json("image", "list", "--tag", tag, "--status", "queued")) == [c]
    assert names(osc.json("image", "list", "--tag", tag, "--private")) == [b]
    # The server's default order is newest first (b, a, c); the CLI then sorts the page
    # it got by name (its --sort defaults to name:asc).
    assert images.names(tag=tag, limit=2) == [b, a]
    assert images.names(tag=tag) == [b, a, c]
    assert names(osc.json("image", "list", "--tag", tag, "--limit", "2")) == [a, b]
    assert names(osc.json("image", "list", "--tag", tag, "--limit", "2",
                          "--marker", ids[a])) == [c]
    long = {r["Name"]: r for r in osc.json("image", "list", "--long", "--tag", tag)}
    assert set(long) == {a, b, c}
    assert (long[a]["Disk Format"], long[a]["Size"], long[a]["Status"]) == ("raw", 1000, "active")
    assert (long[b]["Disk Format"], long[b]["Size"], long[b]["Visibility"]) == ("qcow2", 3000, "private")
    assert (long[c]["Disk Format"], long[c]["Size"], long[c]["Status"]) == ("iso", None, "queued")
    assert sorted(long[a]["Tags"]) == sorted([tag, "first"])
    assert long[a]["Checksum"] == hashlib.md5((tmp_path / "a").read_bytes()).hexdigest()
    assert long[a]["Project"] == long[b]["Project"] == ia["owner"]

    # --- the API itself: sorting, filters and pages are the server's ---
    assert images.names(tag=tag, sort="name:asc") == [a, b, c]
    assert images.names(tag=tag, sort_key="name", sort_dir="desc") == [c, b, a]
    by_size = images.names(tag=tag, sort="size:desc,name:asc")
    assert by_size in ([b, a, c], [c, b, a]), by_size  # c has no size: first or last
    assert images.names(tag=tag, disk_format="qcow2") == [b]
    assert images.names(tag=tag, disk_format="in:raw,iso", sort="name:asc") == [a, c]
    assert images.names(tag=tag, name=f"in:{a},{c}", sort="name:desc") == [c, a]
    assert images.names(tag=tag, size_min="2000") == [b]
    assert images.names(tag=tag, size_max="2000") == [a]
    assert images.names(tag=tag, status="active", sort="name:asc") == [a, b]
    assert images.names(tag=tag, visibility="private") == [b]
    assert images.names(tag=tag, created_at=f"gt:{ic['created_at']}", sort="name:asc") == [a, b]
    assert images.names(tag=tag, created_at=f"lte:{ic['created_at']}") == [c]
    assert images.names(tag=[tag, "first"]) == [a]

    r = images.request("GET", "/v2/images", params={"tag": tag, "sort": "name:asc", "limit": 2})
    assert r.status_code == 200, r.text
    page = r.json()
    assert [i["name"] for i in page["images"]] == [a, b]
    assert page["first"].startswith("/v2/images"), page
    assert page["schema"] == "/v2/schemas/images"
    assert "next" in page, page
    assert f"marker={ids[b]}" in page["next"], page["next"]
    # `next` is relative to the endpoint (/image): /v2/images?...
    r = requests.get(f"{images.url}{page['next']}", headers={"X-Auth-Token": images.admin_token()},
                     timeout=30)
    assert r.status_code == 200, r.text
    last = r.json()
    assert [i["name"] for i in last["images"]] == [c]
    assert "next" not in last, last


def test_image_set_and_unset_properties_and_tags(osc):
    name = uniq("img-set")
    created = osc.json("image", "create", "--disk-format", "qcow2", "--container-format", "bare",
                       "--property", "keep=1", name)
    osc.ok("image", "set", "--property", "os_distro_custom=debian", "--property", "tier=gold",
           "--tag", "blue", "--tag", "green", "--min-disk", "5", "--min-ram", "256", name)
    shown = osc.json("image", "show", name)
    assert shown["id"] == created["id"]
    props = shown["properties"]
    assert (props.get("os_distro_custom"), props.get("tier"), props.get("keep")) == \
        ("debian", "gold", "1"), props
    assert sorted(shown["tags"]) == ["blue", "green"]
    assert (shown["min_disk"], shown["min_ram"]) == (5, 256)

    # Replace a value, rename.
    new_name = name + "-renamed"
    osc.ok("image", "set", "--property", "tier=silver", "--name", new_name, created["id"])
    shown = osc.json("image", "show", created["id"])
    assert shown["name"] == new_name
    assert shown["properties"]["tier"] == "silver"

    osc.ok("image", "unset", "--property", "tier", "--tag", "blue", new_name)
    shown = osc.json("image", "show", new_name)
    assert "tier" not in shown["properties"], shown["properties"]
    assert (shown["properties"].get("os_distro_custom"), shown["properties"].get("keep")) == \
        ("debian", "1")
    assert shown["tags"] == ["green"]

    # Unsetting a property the image does not have is an error.
    r = osc.fails("image", "unset", "--property", "no-such-key", new_name)
    assert "no-such-key" in r.stderr, r.stderr


@pytest.mark.one_database
def test_image_sharing_with_another_project(osc, clouds, tmp_path, images, member):
    data = tmp_path / "shared.raw"
    data.write_bytes(os.urandom(4096))
    name = uniq("img-shared")
    image = osc.json("image", "create", "--file", str(data), "--disk-format", "raw",
                     "--container-format", "bare", "--shared", name)
    assert image["visibility"] == "shared"

    # The other project and its member, made with the admin CLI.
    pname, uname, password = uniq("share-proj"), uniq("share-user"), "pw-" + uniq("s")
    project = osc.json("project", "create", "--domain", "Default", pname)
    osc.json("user", "create", "--domain", "Default", "--password", password, uname)
    osc.ok("role", "add", "--project", pname, "--user", uname, "member")
    config = clouds.write(sharee=clouds.password_cloud(uname, password, pname))

    def sharee_list() -> list[str]:
        return [r["Name"] for r in osc.json("image", "list", cloud="sharee", config=config)]

    assert name not in sharee_list()

    membership = osc.json("image", "add", "project", image["id"], pname)
    assert membership["member_id"] == project["id"]
    assert membership["status"] == "pending"
    members = osc.json("image", "member", "list", image["id"])
    assert [(m["Member ID"], m["Status"]) for m in members] == [(project["id"], "pending")]

    # Pending: not listed for the member yet (but the member may look at it).
    assert name not in sharee_list()
    shared_token = osc.json("token", "issue", cloud="sharee", config=config)["id"]
    assert images.names(shared_token, member_status="pending") == [name]
    # Another project that is no member neither sees nor lists it.
    member_cfg = {"cloud": "member", "config": member["config"]}
    assert name not in [r["Name"] for r in osc.json("image", "list", **member_cfg)]
    r = osc.fails("image", "show", image["id"], **member_cfg)
    assert "No Image found" in r.stderr or "404" in r.stderr, r.stderr

    osc.ok("image", "set", "--accept", image["id"], cloud="sharee", config=config)
    members = osc.json("image", "member", "list", image["id"])
    assert [(m["Member ID"], m["Status"]) for m in members] == [(project["id"], "accepted")]
    assert name in sharee_list()
    shown = osc.json("image", "show", name, cloud="sharee", config=config)
    assert (shown["id"], shown["visibility"]) == (image["id"], "shared")
    out = tmp_path / "as-sharee.raw"
    osc.ok("image", "save", "--file", str(out), image["id"], cloud="sharee", config=config)
    assert out.read_bytes() == data.read_bytes()
    # The member may not change the image itself.
    r = osc.fails("image", "set", "--property", "x=y", image["id"], cloud="sharee", config=config)
    assert "403" in r.stderr or "Forbidden" in r.stderr, r.stderr

    # Rejecting hides it again; removing the member takes it away.
    osc.ok("image", "set", "--reject", image["id"], cloud="sharee", config=config)
    assert name not in sharee_list()
    osc.ok("image", "remove", "project", image["id"], pname)
    assert osc.json("image", "member", "list", image["id"]) == []
    r = images.request("GET", f"/v2/images/{image['id']}", shared_token)
    assert r.status_code == 404, f"{r.status_code}: {r.text}"


def test_image_deactivate_and_reactivate(osc, member, tmp_path, images):
    as_owner = {"cloud": "member", "config": member["config"]}
    data = tmp_path / "d.raw"
    data.write_bytes(os.urandom(64 * 1024))
    name = uniq("img-deact")
    image = osc.json("image", "create", "--file", str(data), "--disk-format", "raw",
                     "--container-format", "bare", name, **as_owner)
    assert image["owner"] == member["project"]["id"]
    out = tmp_path / "out.raw"

    osc.ok("image", "set", "--deactivate", name, **as_owner)
    assert osc.json("image", "show", name, **as_owner)["status"] == "deactivated"
    # (openstacksdk does not raise on the 403 here: it hashes the fault body and
    # reports a checksum mismatch, against Glance too. The raw request shows the 403.)
    r = osc.fails("image", "save", "--file", str(out), name, **as_owner)
    assert "403" in r.stderr or "Forbidden" in r.stderr or "checksum mismatch" in r.stderr, r.stderr
    assert not out.exists() or out.read_bytes() != data.read_bytes()
    owner_token = osc.json("token", "issue", **as_owner)["id"]
    r = images.request("GET", f"/v2/images/{image['id']}/file", owner_token)
    assert r.status_code == 403, f"{r.status_code}: {r.text}"
    assert "deactivated" in r.text, r.text
    # An admin still may download a deactivated image.
    osc.ok("image", "save", "--file", str(out), image["id"])
    assert out.read_bytes() == data.read_bytes()
    out.unlink()

    osc.ok("image", "set", "--activate", name, **as_owner)
    assert osc.json("image", "show", name, **as_owner)["status"] == "active"
    osc.ok("image", "save", "--file", str(out), name, **as_owner)
    assert out.read_bytes() == data.read_bytes()


def test_image_protected_delete(osc, images):
    name = uniq("img-prot")
    image = osc.json("image", "create", "--disk-format", "raw", "--container-format", "bare",
                     "--protected", name)
    assert image["protected"] is True
    r = osc.fails("image", "delete", name)
    assert "403" in r.stderr or "Forbidden" in r.stderr, r.stderr
    assert osc.json("image", "show", image["id"])["protected"] is True

    osc.ok("image", "set", "--unprotected", name)
    assert osc.json("image", "show", name)["protected"] is False
    osc.ok("image", "delete", name)
    r = images.request("GET", f"/v2/images/{image['id']}")
    assert r.status_code == 404, f"{r.status_code}: {r.text}"
    r = osc.fails("image", "show", image["id"])
    assert "No Image found" in r.stderr, r.stderr


@pytest.mark.parametrize("cut", ["reset", "eof"])
def test_image_killed_upload_leaves_no_data(cut, images, martlet):
    """A client that goes away mid-upload: RST (`reset`), or a FIN before the
    promised Content-Length (`eof`)."""
    token = images.admin_token()
    image = images.create(name=uniq(f"img-cut-{cut}"))
    image_id = image["id"]
    assert image["status"] == "queued"
    before = [n for n in image_files(martlet) if not n.startswith(".tmp-")]

    sock = socket.create_connection(("127.0.0.1", martlet.port), timeout=30)
    try:
        head = (f"PUT /image/v2/images/{image_id}/file HTTP/1.1\r\n"
                f"Host: 127.0.0.1:{martlet.port}\r\n"
                f"X-Auth-Token: {token}\r\n"
                "Content-Type: application/octet-stream\r\n"
                "Content-Length: 50000000\r\n\r\n")
        sock.sendall(head.encode())
        chunk = os.urandom(MiB)
        for _ in range(5):
            sock.sendall(chunk)
        # While the body is still coming: `saving`, and a temporary file only.
        saving = wait_status(images, image_id, "saving", timeout=5)
        assert saving["status"] == "saving", saving
        assert image_id not in image_files(martlet)
        # The body goes to the store as it comes: a temporary file is open in images/.
        deadline = time.monotonic() + 5
        while not writes_in_progress(martlet):
            assert time.monotonic() < deadline, \
                f"nothing being written in {martlet.data_dir / 'images'} during the upload"
            time.sleep(0.05)
        if cut == "reset":
            # SO_LINGER 0: close() sends an RST at once.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        else:
            sock.shutdown(socket.SHUT_WR)
            sock.settimeout(10)
            try:
                sock.recv(65536)  # whatever the server answers (or its close)
            except OSError:
                pass
    finally:
        sock.close()

    after = wait_status(images, image_id, "queued")
    assert after["status"] == "queued", after
    assert after.get("size") in (None, 0), after
    assert after.get("checksum") is None, after
    deadline = time.monotonic() + 5
    while True:
        files = image_files(martlet)
        leftovers = [n for n in files if n == image_id] + writes_in_progress(martlet)
        if not leftovers or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    # (nor does the server still hold a temporary file of it open)
    assert leftovers == [], f"partial data left in {martlet.data_dir / 'images'}: {leftovers}"
    assert sorted(files) == sorted(before)
    r = images.request("GET", f"/v2/images/{image_id}/file")
    assert r.status_code == 204, f"download of a queued image -> {r.status_code}"

    # A normal upload afterwards works.
    data = os.urandom(2 * MiB + 123)
    r = images.upload(image_id, data)
    assert r.status_code == 204, f"PUT file -> {r.status_code}: {r.text}"
    done = images.show(image_id)
    assert (done["status"], done["size"]) == ("active", len(data))
    assert done["checksum"] == hashlib.md5(data).hexdigest()
    assert done["os_hash_value"] == hashlib.sha512(data).hexdigest()
    assert (martlet.data_dir / "images" / image_id).stat().st_size == len(data)
    assert not [n for n in image_files(martlet) if n.startswith(".tmp-")]
    r = images.request("GET", f"/v2/images/{image_id}/file")
    assert r.status_code == 200 and r.content == data, r.status_code
    assert r.headers.get("Content-MD5") == done["checksum"], dict(r.headers)


def test_image_openstacksdk_round_trip(martlet):
    conn = openstack.connect(cloud="martlet")
    try:
        data = os.urandom(300 * 1024 + 7)
        name, tag = uniq("img-sdk"), uniq("sdk-tag")
        image = conn.image.create_image(name=name, data=data, disk_format="raw",
                                        container_format="bare", tags=[tag], wait=True)
        assert image.id and image.name == name
        got = conn.image.get_image(image.id)
        assert (got.status, got.size) == ("active", len(data))
        assert got.checksum == hashlib.md5(data).hexdigest()
        assert (got.hash_algo, got.hash_value) == ("sha512", hashlib.sha512(data).hexdigest())
        assert tag in got.tags

        resp = conn.image.download_image(image)
        assert resp.content == data

        assert [i.id for i in conn.image.images(tag=tag)] == [image.id]
        assert image.id in {i.id for i in conn.image.images()}
        assert conn.image.find_image(name).id == image.id

        # The cloud layer, as Ansible uses it.
        cloud_name = uniq("img-sdk-cloud")
        cloud_image = conn.create_image(cloud_name, data=data[:1000], disk_format="qcow2",
                                        container_format="bare", wait=True)
        assert conn.get_image(cloud_name).id == cloud_image.id
        assert conn.get_image(cloud_name).status == "active"
        assert cloud_name in {i.name for i in conn.list_images()}
        assert conn.delete_image(cloud_name, wait=True)
        assert conn.get_image(cloud_name) is None

        conn.image.delete_image(image)
        assert conn.image.find_image(image.id) is None
        assert not (martlet.data_dir / "images" / image.id).exists()
    finally:
        conn.close()


@pytest.mark.restarts_server
def test_images_survive_restart(osc, martlet, images, tmp_path):
    data = tmp_path / "keep.raw"
    data.write_bytes(os.urandom(512 * 1024))
    name, queued_name = uniq("img-keep"), uniq("img-keep-queued")
    kept = osc.json("image", "create", "--file", str(data), "--disk-format", "raw",
                    "--container-format", "bare", "--property", "kept=yes", "--tag", "kept",
                    name)
    queued = images.create(name=queued_name)
    before = images.show(kept["id"])

    rc = martlet.restart()
    assert rc == 0, f"martlet serve exited with {rc} on SIGTERM:\n{martlet.log_tail()}"
    images._admin = None  # a fresh token, though the old one stays valid

    after = images.show(kept["id"])
    for field in ("name", "status", "size", "checksum", "os_hash_value", "kept", "tags",
                  "created_at", "owner", "visibility"):
        assert after.get(field) == before.get(field), (field, before, after)
    assert images.show(queued["id"])["status"] == "queued"
    out = tmp_path / "keep-out.raw"
    osc.ok("image", "save", "--file", str(out), name)
    assert out.read_bytes() == data.read_bytes()

    if BIG:  # the 200 MB image of test_image_create_file_200mb_and_save
        big = images.show(BIG["id"])
        assert (big["status"], big["size"], big["checksum"], big["os_hash_value"]) == \
            ("active", BIG["size"], BIG["md5"], BIG["sha512"])
        assert (martlet.data_dir / "images" / BIG["id"]).stat().st_size == BIG["size"]
        # Its last MiB, through a Range request.
        r = images.request("GET", f"/v2/images/{BIG['id']}/file",
                           headers={"Range": f"bytes={BIG['size'] - MiB}-"})
        assert r.status_code == 206, r.status_code
        assert r.headers.get("Content-Range") == \
            f"bytes {BIG['size'] - MiB}-{BIG['size'] - 1}/{BIG['size']}"
        assert r.content == BIG["tail"]
