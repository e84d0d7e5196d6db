"""The Block Storage service (Cinder v3 under /volume, on the fake volume driver) driven by the
real clients: `openstack volume|volume snapshot|volume type|quota|limits ...`, `openstack server
add|remove volume` on Compute's fake hypervisor, openstacksdk's block_storage and compute
proxies, and raw HTTP with requests (Cinder fault bodies for hostile input). The `file` driver
(raw files made with qemu-img) gets a cloud of its own."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any, Callable

import openstack
import pytest
import requests

from conftest import Identity, MartletServer, OSCError, ServiceAPI, uniq
# Compute's helpers and its network, image and SDK fixtures, shared rather than copied.
from test_compute import ComputeAPI as BaseComputeAPI, Servers, conn, image, json_tail, net  # noqa: F401

DEFAULT_TYPE = "__DEFAULT__"

# Cinder's default quotas, as `openstack quota show --volume` names them.
CINDER_DEFAULT_QUOTAS = {"volumes": 10, "snapshots": 10, "gigabytes": 1000, "backups": 10,
                         "backup-gigabytes": 1000, "groups": 10, "per-volume-gigabytes": -1}

# How long a volume, snapshot or attachment may take to settle on the fake drivers.
WAIT = 30

# Statuses a volume or snapshot only passes through.
BUSY = {"creating", "reserved", "attaching", "detaching", "extending", "deleting", "downloading",
        "uploading", "retyping", "maintenance", "backing-up", "restoring-backup"}

GiB = 1 << 30


# --- helpers ---------------------------------------------------------------------

def wait_until(what: str, probe: Callable[[], Any], done: Callable[[Any], bool],
               timeout: float = WAIT) -> Any:
    """Polls `probe` until `done` says yes; fails with the last value seen."""
    deadline = time.monotonic() + timeout
    while True:
        seen = probe()
        if done(seen):
            return seen
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached after {timeout}s; last seen: {seen}")
        time.sleep(0.3)


def cinder_fault(r: requests.Response, kind: str, code: int) -> str:
    """The message of a Cinder fault body `{kind: {"code": code, "message": ...}}`."""
    assert r.status_code == code, f"expected {code} {kind}, got {r.status_code}: {r.text}"
    try:
        body = r.json()
    except ValueError:
        raise AssertionError(f"fault {r.status_code} has no JSON body: {r.text!r}") from None
    assert set(body) == {kind}, f"fault body is not {{{kind!r}: ...}}: {body}"
    assert body[kind].get("code") == code, body
    message = body[kind].get("message")
    assert isinstance(message, str) and message, body
    return message


def quota_limits(rows: list[dict]) -> dict[str, Any]:
    """`openstack quota show -f json` rows as {resource: limit}."""
    return {row["Resource"]: row["Limit"] for row in rows}


class VolumeAPI(ServiceAPI):
    """Raw Block Storage v3 calls (as admin unless given a token). `kind` is the collection,
    `volumes` or `snapshots`."""

    prefix = "volume"

    def get(self, id_: str, kind: str = "volumes", token: str | None = None) -> requests.Response:
        return self.request("GET", f"/v3/{kind}/{id_}", token)

    def show(self, id_: str, kind: str = "volumes", token: str | None = None) -> dict:
        r = self.get(id_, kind, token)
        assert r.status_code == 200, f"GET /v3/{kind}/{id_} -> {r.status_code}: {r.text}"
        return r.json()[kind[:-1]]

    def create(self, body: Any, token: str | None = None, **kw) -> requests.Response:
        """`POST /v3/volumes` with `body` as JSON (or `data=` raw bytes in `kw`)."""
        if "data" not in kw:
            kw["json"] = body
        return self.request("POST", "/v3/volumes", token, **kw)

    def wait_status(self, id_: str, want: str, kind: str = "volumes", timeout: float = WAIT,
                    **fields) -> dict:
        """Polls until the volume (snapshot) has status `want` and the given field values; fails
        with the last status seen (at once when it went to an error status unasked)."""
        deadline = time.monotonic() + timeout
        while True:
            item = self.show(id_, kind)
            status = item.get("status")
            if status == want and all(item.get(k) == v for k, v in fields.items()):
                return item
            if status and status.startswith("error") and not want.startswith("error"):
                raise AssertionError(f"{kind[:-1]} {id_} went to {status} while waiting for {want}: {item}")
            if time.monotonic() > deadline:
                raise AssertionError(f"{kind[:-1]} {id_} not {want} {fields or ''} after {timeout}s: "
                                     f"last seen status {status}: {item}")
            time.sleep(0.2)

    def wait_gone(self, id_: str, kind: str = "volumes", timeout: float = WAIT) -> None:
        deadline = time.monotonic() + timeout
        while True:
            r = self.get(id_, kind)
            if r.status_code == 404:
                return
            assert r.status_code == 200, f"GET /v3/{kind}/{id_} -> {r.status_code}: {r.text}"
            if time.monotonic() > deadline:
                status = r.json()[kind[:-1]].get("status")
                raise AssertionError(f"{kind[:-1]} {id_} still there {timeout}s after its deletion: "
                                     f"last seen status {status}")
            time.sleep(0.2)

    def settle(self, id_: str, kind: str = "volumes", timeout: float = WAIT) -> str | None:
        """Waits out a passing status; returns the status then (None: gone)."""
        deadline = time.monotonic() + timeout
        while True:
            r = self.get(id_, kind)
            if r.status_code == 404:
                return None
            assert r.status_code == 200, f"GET /v3/{kind}/{id_} -> {r.status_code}: {r.text}"
            status = r.json()[kind[:-1]].get("status")
            if status not in BUSY or status == "deleting" or time.monotonic() > deadline:
                return status
            time.sleep(0.2)

    def limits(self, token: str | None = None) -> dict:
        """The `absolute` limits of the token's project."""
        r = self.request("GET", "/v3/limits", token)
        assert r.status_code == 200, f"GET /v3/limits -> {r.status_code}: {r.text}"
        return r.json()["limits"]["absolute"]

    def ids(self, token: str | None = None) -> list[str]:
        """The IDs of the volumes the token's project sees."""
        r = self.request("GET", "/v3/volumes", token)
        assert r.status_code == 200, f"GET /v3/volumes -> {r.status_code}: {r.text}"
        return [v["id"] for v in r.json()["volumes"]]


class Tracked:
    """Volumes, snapshots and backups a test made, deleted at teardown as admin (backups and
    snapshots first, each waited for until gone), so that none is left in a project's quota for the next test."""

    def __init__(self, api: VolumeAPI):
        self.api = api
        self.ids: dict[str, list[str]] = {"backups": [], "snapshots": [], "volumes": []}

    def backup(self, id_: str) -> str:
        self.ids["backups"].append(id_)
        return id_

    def volume(self, id_: str) -> str:
        self.ids["volumes"].append(id_)
        return id_

    def snapshot(self, id_: str) -> str:
        self.ids["snapshots"].append(id_)
        return id_

    def delete_all(self) -> None:
        errors = []
        for kind in ("backups", "snapshots", "volumes"):
            for id_ in reversed(self.ids[kind]):
                try:
                    status = self.api.settle(id_, kind)
                    if status is None:
                        continue
                    if status != "deleting":
                        r = self.api.request("DELETE", f"/v3/{kind}/{id_}")
                        assert r.status_code in (202, 204, 404), \
                            f"DELETE /v3/{kind}/{id_} ({status}) -> {r.status_code}: {r.text}"
                    self.api.wait_gone(id_, kind)
                except Exception as e:  # noqa: BLE001 - report all of them
                    errors.append(str(e))
        assert not errors, "could not delete volumes or snapshots at teardown:\n" + "\n".join(errors)


class ComputeAPI(BaseComputeAPI):
    """Compute's raw calls, and the volumes a server lists."""

    def attached(self, server_id: str) -> list[str]:
        """The IDs of the volumes the server lists as attached."""
        return [v["id"] for v in self.server(server_id)["os-extended-volumes:volumes_attached"]]


def boot(osc, servers: Servers, net: dict, image: dict) -> dict:
    """`openstack server create --wait` of an m1.nano on the module's network and image; returns
    its `-f json` output."""
    name = uniq("vm")
    server = json_tail(osc.ok("server", "create", "--flavor", "m1.nano", "--image", image["id"],
                              "--network", net["network"]["id"], "--wait", name, "-f", "json"))
    servers.track(server["id"])
    assert (server["name"], server["status"]) == (name, "ACTIVE"), server
    return server


def make_volume(osc, volume_api: VolumeAPI, volumes: Tracked, *args: str, **kw) -> dict:
    """`openstack volume create --size 1` (unless `args` say otherwise), waited for until
    available; returns the volume as the API shows it then."""
    if not any(a in args for a in ("--size", "--snapshot", "--source")):
        args = ("--size", "1", *args)
    created = osc.json("volume", "create", *args, uniq("vol"), **kw)
    volumes.volume(created["id"])
    return volume_api.wait_status(created["id"], "available")


# --- fixtures ----------------------------------------------------------------------

@pytest.fixture
def volume_api(martlet, identity) -> VolumeAPI:
    return VolumeAPI(martlet, identity)


@pytest.fixture
def compute(martlet, identity) -> ComputeAPI:
    return ComputeAPI(martlet, identity)


@pytest.fixture
def volumes(volume_api, cleanup):
    # (Depends on `cleanup` so that volumes go before the types, projects and users they use.)
    t = Tracked(volume_api)
    yield t
    t.delete_all()


@pytest.fixture
def servers(compute, volumes):
    # (Depends on `volumes` so that servers go, detaching their volumes, before the volumes.)
    s = Servers(compute)
    yield s
    s.delete_all()


# --- 1. volumes ----------------------------------------------------------------------

def test_volume_create_show_list_set_extend_delete(osc, volume_api, volumes):
    name = uniq("vol")
    created = osc.json("volume", "create", "--size", "1", name)
    vid = volumes.volume(created["id"])
    assert (created["name"], created["size"]) == (name, 1), created
    assert created["status"] in ("creating", "available"), created
    volume_api.wait_status(vid, "available")

    shown = osc.json("volume", "show", name)
    assert shown["id"] == vid, shown
    assert (shown["name"], shown["size"], shown["status"]) == (name, 1, "available"), shown
    assert shown["bootable"] is False, shown
    assert shown["attachments"] == [], shown
    assert shown["type"] == DEFAULT_TYPE, shown
    assert shown["properties"] == {}, shown
    assert shown["availability_zone"] == "nova", shown
    assert shown["encrypted"] is False and shown["multiattach"] is False, shown

    rows = [v for v in osc.json("volume", "list") if v["ID"] == vid]
    assert [(r["Name"], r["Status"], r["Size"]) for r in rows] == [(name, "available", 1)], rows

    # Rename and a property: both read back, the old name is gone.
    new_name = uniq("vol-renamed")
    assert osc.ok("volume", "set", "--name", new_name, "--property", "k=v", vid) == ""
    shown = osc.json("volume", "show", new_name)
    assert (shown["id"], shown["name"]) == (vid, new_name), shown
    assert shown["properties"] == {"k": "v"}, shown
    osc.fails("volume", "show", name)

    # Extend.
    osc.ok("volume", "set", "--size", "2", vid)
    volume_api.wait_status(vid, "available", size=2)
    shown = osc.json("volume", "show", vid)
    assert (shown["size"], shown["status"]) == (2, "available"), shown

    osc.ok("volume", "delete", new_name)
    volume_api.wait_gone(vid)
    assert vid not in {v["ID"] for v in osc.json("volume", "list")}
    osc.fails("volume", "show", vid)


def test_volume_from_image_is_bootable(osc, volume_api, volumes, image):
    created = osc.json("volume", "create", "--image", image["name"], "--size", "1", uniq("vol-img"))
    vid = volumes.volume(created["id"])
    volume_api.wait_status(vid, "available")

    shown = osc.json("volume", "show", vid)
    assert (shown["status"], shown["size"]) == ("available", 1), shown
    assert shown["bootable"] is True, shown
    meta = shown.get("volume_image_metadata") or {}
    assert meta.get("image_id") == image["id"], shown
    assert meta.get("image_name") == image["name"], meta
    assert meta.get("disk_format") == "raw", meta


# --- 2. snapshots --------------------------------------------------------------------

def test_snapshot_volume_from_it_and_delete_order(osc, volume_api, volumes):
    source = make_volume(osc, volume_api, volumes)
    vid = source["id"]

    sname = uniq("snap")
    snap = osc.json("volume", "snapshot", "create", "--volume", source["name"], sname)
    sid = volumes.snapshot(snap["id"])
    assert (snap["name"], snap["volume_id"]) == (sname, vid), snap
    volume_api.wait_status(sid, "available", kind="snapshots")
    shown = osc.json("volume", "snapshot", "show", sname)
    assert (shown["id"], shown["volume_id"], shown["size"], shown["status"]) == \
        (sid, vid, 1, "available"), shown
    assert sid in {s["ID"] for s in osc.json("volume", "snapshot", "list")}

    copy = osc.json("volume", "create", "--snapshot", sname, uniq("vol-from-snap"))
    cid = volumes.volume(copy["id"])
    volume_api.wait_status(cid, "available")
    shown = osc.json("volume", "show", cid)
    assert (shown["snapshot_id"], shown["size"]) == (sid, 1), shown

    # A volume with a snapshot is not deleted, and says why.
    r = osc.fails("volume", "delete", vid)
    assert "400" in r.stderr and "snapshot" in r.stderr.lower(), r.stderr
    message = cinder_fault(volume_api.request("DELETE", f"/v3/volumes/{vid}"), "badRequest", 400)
    assert "snapshot" in message.lower(), message
    assert volume_api.show(vid)["status"] == "available"

    # Snapshot first, then the volume; the volume made from the snapshot outlives both.
    osc.ok("volume", "snapshot", "delete", sname)
    volume_api.wait_gone(sid, "snapshots")
    osc.fails("volume", "snapshot", "show", sid)
    osc.ok("volume", "delete", vid)
    volume_api.wait_gone(vid)
    assert volume_api.show(cid)["status"] == "available"


# --- 3. volume types -------------------------------------------------------------------

def test_volume_type_create_use_and_delete_refused_while_in_use(osc, volume_api, volumes, cleanup,
                                                                member):
    # Specs the scheduler reads must match the backend (a capability, or a `capabilities:` scope);
    # other scopes (a vendor's, `qos:`) are the type's own.
    specs = {"vendor:k": "v", "vendor_name": "Martlet"}
    tname = uniq("type")
    created = osc.json("volume", "type", "create", "--property", "vendor:k=v", "--property", "vendor_name=Martlet", tname)
    cleanup.add("volume", "type", "delete", created["id"])
    assert created["name"] == tname, created
    assert created["properties"] == specs, created
    assert created["is_public"] is True, created
    assert osc.json("volume", "type", "show", tname)["properties"] == specs

    listed = {t["Name"] for t in osc.json("volume", "type", "list")}
    assert {DEFAULT_TYPE, tname} <= listed, listed

    # Types are the admin's to manage.
    r = osc.fails("volume", "type", "create", uniq("type-member"), cloud="member",
                  config=member["config"])
    assert "403" in r.stderr or "Forbidden" in r.stderr, r.stderr

    vol = make_volume(osc, volume_api, volumes, "--type", tname)
    assert osc.json("volume", "show", vol["id"])["type"] == tname

    # A type asking for what the backend does not offer: no backend takes the volume (Cinder's
    # "no valid backend"), and the project gets a user message (3.3) saying so.
    unmet = uniq("type-unmet")
    osc.ok("volume", "type", "create", "--property", "storage_protocol=carrier-pigeon", unmet)
    cleanup.add("volume", "type", "delete", unmet)
    failed = volumes.volume(osc.json("volume", "create", "--size", "1", "--type", unmet, uniq("vol-unmet"))["id"])
    volume_api.wait_status(failed, "error")
    messages = volume_api.request("GET", "/v3/messages", headers={"OpenStack-API-Version": "volume 3.3"}).json()["messages"]
    assert [m["event_id"] for m in messages if m.get("resource_uuid") == failed] == ["VOLUME_VOLUME_001_002"], messages

    r = osc.fails("volume", "type", "delete", tname)
    assert "400" in r.stderr, r.stderr
    assert "in use" in r.stderr.lower() or "volumes present" in r.stderr.lower(), r.stderr
    assert tname in {t["Name"] for t in osc.json("volume", "type", "list")}

    osc.ok("volume", "delete", vol["id"])
    volume_api.wait_gone(vol["id"])
    osc.ok("volume", "type", "delete", tname)
    osc.fails("volume", "type", "show", tname)
    assert tname not in {t["Name"] for t in osc.json("volume", "type", "list")}


# --- 4. quotas and limits -------------------------------------------------------------------

def test_volume_quota_exceeded_and_limits(osc, clouds, identity, volume_api, volumes, cleanup):
    pname, uname, password = uniq("vquota-proj"), uniq("vquota-user"), "pw-" + uuid.uuid4().hex
    project = osc.json("project", "create", "--domain", "Default", pname)
    cleanup.add("project", "delete", project["id"])
    user = osc.json("user", "create", "--domain", "Default", "--password", password, uname)
    cleanup.add("user", "delete", user["id"])
    osc.ok("role", "add", "--project", project["id"], "--user", user["id"], "member")
    as_user = {"cloud": "vquota",
               "config": clouds.write(vquota=clouds.password_cloud(uname, password, pname))}

    limits = quota_limits(osc.json("quota", "show", "--volume", project["id"]))
    for resource, limit in CINDER_DEFAULT_QUOTAS.items():
        assert limits.get(resource) == limit, (resource, limits)
    osc.ok("quota", "set", "--volumes", "1", project["id"])
    cleanup.add("quota", "delete", "--volume", project["id"])
    assert quota_limits(osc.json("quota", "show", "--volume", project["id"]))["volumes"] == 1
    # Other projects keep the default.
    assert quota_limits(osc.json("quota", "show", "--volume", "admin"))["volumes"] == 10

    first = make_volume(osc, volume_api, volumes, **as_user)

    r = osc.run("volume", "create", "--size", "1", uniq("vol-over"), "-f", "json", **as_user)
    if r.returncode == 0:  # (made after all: delete it with the rest)
        volumes.volume(json.loads(r.stdout)["id"])
        raise OSCError(f"a second volume was accepted with --volumes 1:\n{r.stdout}")
    assert "413" in r.stderr and "exceeded" in r.stderr.lower(), r.stderr

    token = identity.token(uname, password, pname)
    r = volume_api.create({"volume": {"size": 1, "name": uniq("vol-over-raw")}}, token)
    if r.status_code == 202:
        volumes.volume(r.json()["volume"]["id"])
    message = cinder_fault(r, "overLimit", 413)
    assert "volumes" in message and "exceeded" in message.lower(), message

    # Nothing was left behind by the refusals.
    mine = osc.json("volume", "list", **as_user)
    assert [v["ID"] for v in mine] == [first["id"]], mine
    usage = {q["Resource"]: q for q in osc.json("quota", "show", "--volume", "--usage", project["id"])}
    assert (usage["volumes"]["Limit"], usage["volumes"]["In Use"]) == (1, 1), usage["volumes"]
    assert usage["gigabytes"]["In Use"] == 1, usage["gigabytes"]

    # The same numbers as limits: the CLI prints openstacksdk's names, the API Cinder's.
    shown = {row["Name"]: row["Value"] for row in osc.json("limits", "show", "--absolute", **as_user)}
    assert (shown.get("max_total_volumes"), shown.get("total_volumes_used")) == (1, 1), shown
    absolute = volume_api.limits(token)
    assert (absolute["maxTotalVolumes"], absolute["totalVolumesUsed"]) == (1, 1), absolute
    assert (absolute["maxTotalVolumeGigabytes"], absolute["totalGigabytesUsed"]) == (1000, 1), absolute


# --- 5. isolation ----------------------------------------------------------------------------

def test_other_project_cannot_see_or_delete_a_volume(osc, clouds, identity, volume_api, volumes, member):
    owner = {"cloud": "member", "config": member["config"]}
    vid = make_volume(osc, volume_api, volumes, **owner)["id"]

    project, user, password = identity.project_member("member")
    other = {"cloud": "other",
             "config": clouds.write(other=clouds.password_cloud(user["name"], password, project["name"]))}
    assert vid not in {v["ID"] for v in osc.json("volume", "list", **other)}
    r = osc.fails("volume", "show", vid, **other)
    assert "No Volume found" in r.stderr or "404" in r.stderr, r.stderr
    r = osc.fails("volume", "delete", vid, **other)
    assert "No Volume found" in r.stderr or "404" in r.stderr, r.stderr

    token = identity.token(user["name"], password, project["name"])
    cinder_fault(volume_api.get(vid, token=token), "itemNotFound", 404)
    cinder_fault(volume_api.request("DELETE", f"/v3/volumes/{vid}", token), "itemNotFound", 404)
    cinder_fault(volume_api.request("PUT", f"/v3/volumes/{vid}", token,
                                    json={"volume": {"name": "taken"}}), "itemNotFound", 404)

    shown = osc.json("volume", "show", vid, **owner)
    assert shown["status"] == "available" and shown["name"] != "taken", shown


def test_reader_reads_but_cannot_create_or_delete_volumes(osc, clouds, identity, volume_api, volumes,
                                                          member):
    owner = {"cloud": "member", "config": member["config"]}
    vid = make_volume(osc, volume_api, volumes, **owner)["id"]

    # A reader on the owner's project.
    password = "pw-" + uuid.uuid4().hex
    user = identity.create_user(password=password)
    identity.grant(member["project"]["id"], user["id"], "reader")
    reader = {"cloud": "reader", "config": clouds.write(
        reader=clouds.password_cloud(user["name"], password, member["project"]["name"]))}

    assert vid in {v["ID"] for v in osc.json("volume", "list", **reader)}
    assert osc.json("volume", "show", vid, **reader)["status"] == "available"

    r = osc.run("volume", "create", "--size", "1", uniq("vol-reader"), "-f", "json", **reader)
    if r.returncode == 0:
        volumes.volume(json.loads(r.stdout)["id"])
        raise OSCError(f"a reader created a volume:\n{r.stdout}")
    assert "403" in r.stderr or "Forbidden" in r.stderr, r.stderr

    token = identity.token(user["name"], password, member["project"]["name"])
    r = volume_api.create({"volume": {"size": 1, "name": uniq("vol-reader-raw")}}, token)
    if r.status_code == 202:
        volumes.volume(r.json()["volume"]["id"])
    cinder_fault(r, "forbidden", 403)
    cinder_fault(volume_api.request("DELETE", f"/v3/volumes/{vid}", token), "forbidden", 403)
    assert volume_api.ids(token) == [vid]
    assert volume_api.show(vid)["status"] == "available"


# --- 6. attachments on the fake hypervisor ------------------------------------------------------

def test_server_add_and_remove_volume(osc, volume_api, volumes, compute, servers, net, image):
    vid = make_volume(osc, volume_api, volumes)["id"]
    sid = boot(osc, servers, net, image)["id"]

    attachment = osc.json("server", "add", "volume", sid, vid)
    assert (attachment["Server ID"], attachment["Volume ID"]) == (sid, vid), attachment
    assert attachment["Device"] == "/dev/vdb", attachment

    volume_api.wait_status(vid, "in-use")
    shown = osc.json("volume", "show", vid)
    assert shown["status"] == "in-use", shown
    assert [(a["server_id"], a["device"]) for a in shown["attachments"]] == [(sid, "/dev/vdb")], shown
    server = osc.json("server", "show", sid)
    assert [v["id"] for v in server["volumes_attached"]] == [vid], server["volumes_attached"]

    # An attached volume is not deleted.
    r = osc.fails("volume", "delete", vid)
    assert "400" in r.stderr, r.stderr
    cinder_fault(volume_api.request("DELETE", f"/v3/volumes/{vid}"), "badRequest", 400)
    assert volume_api.show(vid)["status"] == "in-use"

    osc.ok("server", "remove", "volume", sid, vid)
    detached = volume_api.wait_status(vid, "available")
    assert detached["attachments"] == [], detached
    wait_until(f"server {sid} without volumes", lambda: compute.attached(sid), lambda ids: ids == [])
    assert osc.json("server", "show", sid)["volumes_attached"] == []
    assert osc.json("server", "show", sid)["status"] == "ACTIVE"


def test_server_delete_leaves_its_volume_available(osc, volume_api, volumes, servers, net, image):
    vid = make_volume(osc, volume_api, volumes)["id"]
    sid = boot(osc, servers, net, image)["id"]
    osc.json("server", "add", "volume", sid, vid)
    volume_api.wait_status(vid, "in-use")

    osc.ok("server", "delete", "--wait", sid)
    osc.fails("server", "show", sid)
    left = volume_api.wait_status(vid, "available")
    assert left["attachments"] == [], left
    shown = osc.json("volume", "show", vid)
    assert (shown["status"], shown["attachments"]) == ("available", []), shown


def test_volume_attachment_commands_reserve_connect_and_release(osc, volume_api, volumes, compute, servers, net, image):
    """`openstack volume attachment` (the attachments API of 3.27): a volume reserved for a server,
    connected with a host's connector, listed, shown and deleted; an attachment Compute made is
    Compute's to undo (409)."""
    at = ("--os-volume-api-version", "3.27")
    vid = make_volume(osc, volume_api, volumes)["id"]
    sid = boot(osc, servers, net, image)["id"]
    made = osc.json(*at, "volume", "attachment", "create", vid, "--server", sid)
    aid = made["ID"]
    assert (made["Volume ID"], made["Instance ID"], made["Status"]) == (vid, sid, "reserved"), made
    assert volume_api.show(vid)["status"] == "reserved"
    # Without the flag the client settles on the highest version both sides know, which serves attachments too.
    assert [a["ID"] for a in osc.json("volume", "attachment", "list")] == [aid]

    connected = osc.json(*at, "volume", "attachment", "set", aid, "--host", "node-1", "--mountpoint", "/dev/vdc")
    assert (connected["Status"], connected["Attach Mode"]) == ("attaching", "rw"), connected
    assert connected["Properties"]["attachment_id"] == aid, connected
    assert volume_api.show(vid)["status"] == "attaching"
    listed = osc.json(*at, "volume", "attachment", "list", "--volume-id", vid)
    assert [(a["ID"], a["Status"]) for a in listed] == [(aid, "attaching")], listed
    assert osc.json(*at, "volume", "attachment", "list", "--server-id", sid, "--status", "reserved") == []
    assert osc.json(*at, "volume", "attachment", "show", aid)["Instance ID"] == sid

    osc.ok(*at, "volume", "attachment", "delete", aid)
    assert volume_api.show(vid)["status"] == "available"
    assert osc.json(*at, "volume", "attachment", "list", "--volume-id", vid) == []

    # Attached by Compute: listed, but not released behind Compute's back.
    osc.json("server", "add", "volume", sid, vid)
    volume_api.wait_status(vid, "in-use")
    held = osc.json(*at, "volume", "attachment", "list", "--volume-id", vid)
    assert [a["Status"] for a in held] == ["attached"], held
    r = osc.fails(*at, "volume", "attachment", "delete", held[0]["ID"])
    assert "409" in r.stderr or "Compute" in r.stderr, r.stderr
    assert compute.attached(sid) == [vid] and volume_api.show(vid)["status"] == "in-use"
    osc.ok("server", "remove", "volume", sid, vid)
    volume_api.wait_status(vid, "available")


def test_image_of_a_volume_backed_server_boots_another_on_its_snapshot(osc, volume_api, volumes, compute,
                                                                       servers, net, image, cleanup):
    """`openstack server image create` of a server booted from a volume makes Nova's image: no
    data, a `block_device_mapping` naming a snapshot of the volume; `server create --image` on it
    boots from a new volume made from that snapshot."""
    vid = make_volume(osc, volume_api, volumes, "--image", image["id"])["id"]
    first = json_tail(osc.ok("server", "create", "--flavor", "m1.nano", "--volume", vid,
                             "--network", net["network"]["id"], "--wait", uniq("vm-bfv"), "-f", "json"))
    servers.track(first["id"])
    assert (first["status"], first["image"]) in {("ACTIVE", ""), ("ACTIVE", "N/A (booted from volume)")}, first

    name = uniq("img-of-bfv")
    osc.ok("server", "image", "create", "--name", name, "--wait", first["id"])
    cleanup.add("image", "delete", name)
    shown = osc.json("image", "show", name)
    assert (shown["status"], shown["size"]) == ("active", 0), shown
    props = shown["properties"]
    assert (props["bdm_v2"], props["root_device_name"]) == ("True", "/dev/vda"), props
    [entry] = json.loads(props["block_device_mapping"])
    assert (entry["source_type"], entry["destination_type"], entry["boot_index"]) == ("snapshot", "volume", 0), entry
    snapshot = volumes.snapshot(entry["snapshot_id"])
    assert volume_api.wait_status(snapshot, "available", kind="snapshots")["volume_id"] == vid

    second = json_tail(osc.ok("server", "create", "--flavor", "m1.nano", "--image", name,
                              "--network", net["network"]["id"], "--wait", uniq("vm-from-img"), "-f", "json"))
    servers.track(second["id"])
    assert second["status"] == "ACTIVE", second
    [made] = compute.attached(second["id"])
    volumes.volume(made)
    volume = volume_api.show(made)
    assert (volume["snapshot_id"], volume["status"], volume["bootable"]) == (snapshot, "in-use", "true"), volume
    assert [a["server_id"] for a in volume["attachments"]] == [second["id"]], volume


# --- 7. openstacksdk ----------------------------------------------------------------------------

def test_sdk_volume_create_attach_detach_delete(conn, volumes, servers, net, image):
    def wait(vol, status):
        try:
            return conn.block_storage.wait_for_status(vol, status, failures=["error"], interval=0.5,
                                                      wait=WAIT)
        except openstack.exceptions.ResourceTimeout:
            last = conn.block_storage.get_volume(vol.id)
            raise AssertionError(f"volume {vol.id} not {status} after {WAIT}s: last seen status "
                                 f"{last.status}, attachments {last.attachments}") from None

    name = uniq("sdk-vol")
    vol = conn.block_storage.create_volume(size=1, name=name)
    volumes.volume(vol.id)
    vol = wait(vol, "available")
    assert (vol.name, vol.size, vol.volume_type) == (name, 1, DEFAULT_TYPE), vol
    assert vol.is_bootable is False, vol
    assert vol.id in {v.id for v in conn.block_storage.volumes()}

    flavor = conn.compute.find_flavor("m1.nano", ignore_missing=False)
    server = conn.compute.create_server(name=uniq("sdk-vm"), flavor_id=flavor.id, image_id=image["id"],
                                        networks=[{"uuid": net["network"]["id"]}])
    servers.track(server.id)
    server = conn.compute.wait_for_server(server, status="ACTIVE", interval=1, wait=120)

    attachment = conn.compute.create_volume_attachment(server, vol)
    assert (attachment.volume_id, attachment.device) == (vol.id, "/dev/vdb"), attachment
    vol = wait(vol, "in-use")
    assert [a["server_id"] for a in vol.attachments] == [server.id], vol.attachments
    assert [a.volume_id for a in conn.compute.volume_attachments(server)] == [vol.id]

    conn.compute.delete_volume_attachment(server, vol)
    vol = wait(vol, "available")
    assert vol.attachments == [], vol.attachments

    conn.block_storage.delete_volume(vol)
    try:
        conn.block_storage.wait_for_delete(vol, interval=0.5, wait=WAIT)
    except openstack.exceptions.ResourceTimeout:
        last = conn.block_storage.find_volume(vol.id)
        raise AssertionError(f"volume {vol.id} still there {WAIT}s after its deletion: last seen "
                             f"status {last and last.status}") from None
    assert conn.block_storage.find_volume(vol.id) is None


def test_sdk_cloud_layer_waits_for_each_step(conn, volumes, servers, net, image):
    """openstacksdk's cloud layer, as Ansible's and Terraform-like tools call it:
    `create_volume(wait=True)`, `attach_volume(wait=True)` (it waits for `in-use`),
    `detach_volume(wait=True)` and `delete_volume(wait=True)` each return once the step is done."""
    name = uniq("sdk-cloud-vol")
    vol = conn.create_volume(size=1, name=name, wait=True, timeout=WAIT)
    volumes.volume(vol.id)
    assert (vol.status, vol.name, vol.size) == ("available", name, 1), vol
    flavor = conn.compute.find_flavor("m1.nano", ignore_missing=False)
    server = conn.compute.create_server(name=uniq("sdk-cloud-vm"), flavor_id=flavor.id, image_id=image["id"],
                                        networks=[{"uuid": net["network"]["id"]}])
    servers.track(server.id)
    server = conn.compute.wait_for_server(server, status="ACTIVE", interval=1, wait=120)

    attachment = conn.attach_volume(server, vol, wait=True, timeout=WAIT)
    assert (attachment.volume_id, attachment.device) == (vol.id, "/dev/vdb"), attachment
    shown = conn.get_volume(vol.id)
    assert shown.status == "in-use" and [a["server_id"] for a in shown.attachments] == [server.id], shown
    assert [v.id for v in conn.get_volumes(server)] == [vol.id]

    conn.detach_volume(server, shown, wait=True, timeout=WAIT)
    assert conn.get_volume(vol.id).status == "available"
    assert conn.delete_volume(vol.id, wait=True, timeout=WAIT) is True
    assert conn.get_volume(vol.id) is None


def test_sdk_project_default_type_time_filters_and_reimage(conn, osc, volume_api, volumes, cleanup, member, image):
    """openstacksdk at the microversions it negotiates (volumes up to 3.71): a project's own
    default type (3.62), time filters (3.60), the newer fields, and a re-image (3.68)."""
    vtype = conn.block_storage.create_type(name=uniq("type-default"))
    cleanup.add("volume", "type", "delete", vtype.id)
    project = member["project"]["id"]
    made = conn.block_storage.set_default_type(project, vtype)
    try:
        assert made.volume_type_id == vtype.id, made
        assert conn.block_storage.show_default_type(project).volume_type_id == vtype.id
        assert (project, vtype.id) in {(d.project_id, d.volume_type_id) for d in conn.block_storage.default_types()}
        # The member's volume made without a type takes the project's; the admin's does not.
        theirs = make_volume(osc, volume_api, volumes, cloud="member", config=member["config"])
        assert theirs["volume_type"] == vtype.name, theirs
        assert make_volume(osc, volume_api, volumes)["volume_type"] == DEFAULT_TYPE
        r = osc.fails("volume", "type", "delete", vtype.id)
        assert "default volume type" in r.stderr, r.stderr
    finally:
        conn.block_storage.unset_default_type(project)
    with pytest.raises(openstack.exceptions.NotFoundException):
        conn.block_storage.show_default_type(project)

    first = conn.block_storage.get_volume(make_volume(osc, volume_api, volumes)["id"])
    assert (first.volume_type_id, first.consumes_quota) == (conn.block_storage.find_type(DEFAULT_TYPE).id, True), first
    later = {v.id for v in conn.block_storage.volumes(created_at=f"gte:{first.created_at}")}
    assert first.id in later, later
    assert first.id not in {v.id for v in conn.block_storage.volumes(created_at=f"lt:{first.created_at}")}

    # 3.68: the volume takes an image's bytes and attributes, and keeps its ID and size.
    r = volume_api.request("POST", f"/v3/volumes/{first.id}/action", json={"os-reimage": {"image_id": image["id"]}},
                           headers={"OpenStack-API-Version": "volume 3.68"})
    assert r.status_code == 202, r.text
    reimaged = volume_api.wait_status(first.id, "available")
    assert reimaged["volume_image_metadata"]["image_id"] == image["id"], reimaged
    assert (reimaged["bootable"], reimaged["size"]) == ("true", 1), reimaged
    r = volume_api.request("POST", f"/v3/volumes/{first.id}/action", json={"os-reimage": {"image_id": image["id"]}},
                           headers={"OpenStack-API-Version": "volume 3.67"})
    assert r.status_code == 404, r.text


# --- 8. hostile input ---------------------------------------------------------------------------

def test_volume_create_hostile_input(identity, volume_api, volumes, member):
    """Each bad `POST /v3/volumes` gets Cinder's fault body, and none leaves a volume (or any quota
    usage) behind. Made as a member of a fresh project, whose volume list must stay empty."""
    token = identity.token(member["user"]["name"], member["password"], member["project"]["name"])

    def post(body: Any = None, **kw) -> requests.Response:
        r = volume_api.create(body, token, **kw)
        if r.status_code == 202:  # (made after all: delete it at teardown)
            volumes.volume(r.json()["volume"]["id"])
        return r

    # (what, the volume's fields, the fault, its code, a word its message has)
    cases = [
        ("size 0", {"size": 0}, "badRequest", 400, "size"),
        ("size -1", {"size": -1}, "badRequest", 400, "size"),
        ("size 'abc'", {"size": "abc"}, "badRequest", 400, "size"),
        ("size 1.5", {"size": 1.5}, "badRequest", 400, "size"),
        ("a name of 300 characters", {"size": 1, "name": "n" * 300}, "badRequest", 400, "name"),
        ("an unknown volume type", {"size": 1, "volume_type": uniq("no-such-type")},
         "itemNotFound", 404, "type"),
        ("an unknown snapshot", {"size": 1, "snapshot_id": str(uuid.uuid4())}, "itemNotFound", 404,
         "snapshot"),
        ("an unknown image", {"size": 1, "imageRef": str(uuid.uuid4())}, "badRequest", 400, "image"),
    ]
    for what, fields, kind, code, word in cases:
        r = post({"volume": {"name": uniq("hostile"), **fields}})
        try:
            message = cinder_fault(r, kind, code)
        except AssertionError as e:
            raise AssertionError(f"{what}: {e}") from None
        assert word in message.lower(), f"{what}: the message does not mention {word!r}: {message}"

    json_header = {"Content-Type": "application/json"}
    cinder_fault(post(data=b"", headers=json_header), "badRequest", 400)            # no body
    cinder_fault(post({}), "badRequest", 400)                                       # no "volume"
    cinder_fault(post(data=b'{"volume": {"size": 1', headers=json_header), "badRequest", 400)

    assert volume_api.ids(token) == [], "a refused request left a volume behind"
    absolute = volume_api.limits(token)
    assert (absolute["totalVolumesUsed"], absolute["totalGigabytesUsed"]) == (0, 0), absolute


# --- 9. the file driver -------------------------------------------------------------------------

def files_of(root: Path, id_: str) -> list[Path]:
    """The files under `root` whose path names `id_` (a volume's raw file, or its folder's)."""
    return sorted(p for p in root.rglob("*") if p.is_file() and id_ in str(p.relative_to(root)))


@contextlib.contextmanager
def file_driver_cloud(martlet, tmp_path: Path):
    """A cloud of its own (SQLite) whose volumes are raw files; yields (server, its data
    folder, a VolumeAPI on it, the `osc` keyword that points the CLI at it, qemu-img's path)."""
    qemu_img = shutil.which("qemu-img")
    assert qemu_img, "qemu-img is not installed (scripts/prereqs.sh installs qemu-utils)"
    data = tmp_path / "data"
    data.mkdir()
    (data / "martlet.toml").write_text('volume_driver = "file"\n')
    server = MartletServer(martlet.binary, data, tmp_path / "server.log", None,
                           admin_password="admin-" + uuid.uuid4().hex)
    server.start()
    try:
        yield (server, data, VolumeAPI(server, Identity(server, server.admin_password)),
               {"config": server.clouds_yaml}, qemu_img)
    finally:
        server.stop()


@pytest.mark.skipif(bool(os.environ.get("MARTLET_ACCEPTANCE_DATABASE")),
                    reason="one database is enough: its own SQLite cloud")
def test_file_driver_keeps_volumes_as_raw_files(martlet, osc, tmp_path):
    with file_driver_cloud(martlet, tmp_path) as (server, data, api, cli, qemu_img):

        vid = osc.json("volume", "create", "--size", "1", uniq("file-vol"), **cli)["id"]
        api.wait_status(vid, "available")
        paths = files_of(data, vid)
        assert len(paths) == 1, f"expected one file for volume {vid} under {data}: {paths}"
        assert paths[0].name == f"volume-{vid}.raw" and paths[0].stat().st_size == GiB, paths
        # Sparse: qemu-img writes only the first block (for qemu's alignment probe).
        assert paths[0].stat().st_blocks * 512 <= 64 << 10, f"a blank volume's file is not sparse: {paths[0].stat()}"

        osc.ok("volume", "set", "--size", "2", vid, **cli)
        api.wait_status(vid, "available", size=2)
        assert paths[0].stat().st_size == 2 * GiB

        sid = osc.json("volume", "snapshot", "create", "--volume", vid, uniq("file-snap"), **cli)["id"]
        api.wait_status(sid, "available", kind="snapshots")
        cid = osc.json("volume", "create", "--snapshot", sid, uniq("file-copy"), **cli)["id"]
        api.wait_status(cid, "available", size=2)
        copies = files_of(data, cid)
        assert len(copies) == 1, f"expected one file for volume {cid} under {data}: {copies}"
        assert copies[0].name == f"volume-{cid}.raw" and copies[0].stat().st_size == 2 * GiB, copies

        osc.ok("volume", "snapshot", "delete", sid, **cli)
        api.wait_gone(sid, "snapshots")
        osc.ok("volume", "delete", vid, cid, **cli)
        api.wait_gone(vid)
        api.wait_gone(cid)
        for id_ in (vid, sid, cid):
            assert files_of(data, id_) == [], f"files of {id_} left behind: {files_of(data, id_)}"


@pytest.mark.skipif(bool(os.environ.get("MARTLET_ACCEPTANCE_DATABASE")),
                    reason="one database is enough: its own SQLite cloud")
def test_backup_to_the_object_store_restores_byte_for_byte(martlet, osc, tmp_path):
    """`openstack volume backup create` (full, then incremental after a change) keeps a volume
    in the project's object-store container; `volume backup restore` gives a volume that
    `qemu-img compare` finds identical; deleting the backups leaves the container empty."""
    with file_driver_cloud(martlet, tmp_path) as (server, data, api, cli, qemu_img):
        # A volume with data in it: made from an image of 24 MiB of random bytes.
        source = tmp_path / "random.raw"
        source.write_bytes(os.urandom(24 << 20))
        image = osc.json("image", "create", "--disk-format", "raw", "--container-format", "bare",
                         "--file", str(source), uniq("random"), **cli)
        vid = osc.json("volume", "create", "--image", image["id"], "--size", "1", uniq("data"), **cli)["id"]
        api.wait_status(vid, "available")
        container = uniq("backups")
        full = osc.json("volume", "backup", "create", "--container", container, "--name", uniq("full"),
                        vid, **cli)["id"]
        shown = api.wait_status(full, "available", kind="backups")
        assert (shown["container"], shown["object_count"], shown["is_incremental"]) == (container, 3, False), shown
        objects = [o["Name"] for o in osc.json("object", "list", container, **cli)]
        assert len(objects) == 3 and all(full in o for o in objects), objects

        # The same volume again, incremental: nothing changed, no object is written.
        again = osc.json("volume", "backup", "create", "--container", container, "--incremental",
                         vid, **cli)["id"]
        shown = api.wait_status(again, "available", kind="backups")
        assert (shown["is_incremental"], shown["object_count"]) == (True, 0), shown
        assert api.show(full, "backups")["has_dependent_backups"] is True

        restored = osc.json("volume", "create", "--size", "1", uniq("restored"), **cli)["id"]
        api.wait_status(restored, "available")
        osc.ok("volume", "backup", "restore", "--force", again, restored, **cli)
        api.wait_status(restored, "available")
        api.wait_status(again, "available", kind="backups")
        [a] = files_of(data / "volumes", vid)
        [b] = files_of(data / "volumes", restored)
        r = subprocess.run([qemu_img, "compare", "-U", str(a), str(b)], capture_output=True, text=True,
                           timeout=120, stdin=subprocess.DEVNULL)
        assert r.returncode == 0, f"restored volume differs: {r.stdout} {r.stderr}"

        osc.fails("volume", "backup", "delete", full, **cli)  # its incremental depends on it
        osc.ok("volume", "backup", "delete", again, **cli)
        api.wait_gone(again, "backups")
        osc.ok("volume", "backup", "delete", full, **cli)
        api.wait_gone(full, "backups")
        assert osc.json("object", "list", container, **cli) == []
        osc.ok("volume", "delete", vid, restored, **cli)
        api.wait_gone(vid)
        api.wait_gone(restored)
