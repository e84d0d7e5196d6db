"""Create / list / show / set / delete of projects, users, groups and roles
with the real `openstack` CLI, each change checked by reading it back."""

import pytest

from conftest import uniq


def names(rows):
    return {row["Name"] for row in rows}


@pytest.mark.one_database
def test_project_crud(osc, identity):
    name = uniq("proj")
    created = osc.json("project", "create", "--domain", "Default", "--description", "first",
                       "--tag", "alpha", "--tag", "beta", name)
    assert created["name"] == name
    assert created["description"] == "first"
    assert created["enabled"] is True
    assert created["domain_id"] == identity.default_domain_id()
    assert sorted(created["tags"]) == ["alpha", "beta"]
    pid = created["id"]

    assert name in names(osc.json("project", "list"))
    assert name in names(osc.json("project", "list", "--domain", "Default"))
    assert name in names(osc.json("project", "list", "--tags", "alpha"))
    assert name not in names(osc.json("project", "list", "--tags", "gamma"))

    shown = osc.json("project", "show", name)
    assert shown["id"] == pid and shown["description"] == "first" and shown["enabled"] is True

    # A child project.
    child = osc.json("project", "create", "--domain", "Default", "--parent", name, uniq("child"))
    assert child["parent_id"] == pid, child
    osc.ok("project", "delete", child["id"])

    # Rename, new description, disable.
    new_name = uniq("proj-renamed")
    assert osc.ok("project", "set", "--name", new_name, "--description", "second",
                  "--disable", name) == ""
    shown = osc.json("project", "show", pid)
    assert shown["name"] == new_name
    assert shown["description"] == "second"
    assert shown["enabled"] is False
    listed = names(osc.json("project", "list"))
    assert new_name in listed and name not in listed
    osc.fails("project", "show", name)

    osc.ok("project", "set", "--enable", pid)
    assert osc.json("project", "show", pid)["enabled"] is True

    # Delete: gone from show and list.
    osc.ok("project", "delete", new_name)
    osc.fails("project", "show", pid)
    assert new_name not in names(osc.json("project", "list"))
    assert identity.get(f"/projects/{pid}").status_code == 404


def test_user_crud(osc, identity):
    project = identity.create_project()
    name = uniq("user")
    created = osc.json("user", "create", "--domain", "Default", "--password", "secret-1",
                       "--email", f"{name}@example.org", "--description", "first",
                       "--project", project["name"], name)
    assert created["name"] == name
    assert created["enabled"] is True
    assert created["email"] == f"{name}@example.org"
    assert created["description"] == "first"
    assert created["default_project_id"] == project["id"]
    assert created["domain_id"] == identity.default_domain_id()
    assert "password" not in created, "the password must never be returned"
    uid = created["id"]

    assert name in names(osc.json("user", "list"))
    assert name in names(osc.json("user", "list", "--domain", "Default"))
    shown = osc.json("user", "show", name)
    assert shown["id"] == uid and shown["email"] == f"{name}@example.org"

    # The password works (unscoped: the user has no role anywhere yet).
    assert identity.password_auth(name, "secret-1").status_code == 201

    new_name = uniq("user-renamed")
    assert osc.ok("user", "set", "--name", new_name, "--email", "new@example.org",
                  "--description", "second", "--disable", uid) == ""
    shown = osc.json("user", "show", uid)
    assert shown["name"] == new_name
    assert shown["email"] == "new@example.org"
    assert shown["description"] == "second"
    assert shown["enabled"] is False
    listed = names(osc.json("user", "list"))
    assert new_name in listed and name not in listed

    osc.ok("user", "set", "--enable", new_name)
    assert osc.json("user", "show", uid)["enabled"] is True

    osc.ok("user", "delete", new_name)
    osc.fails("user", "show", uid)
    assert new_name not in names(osc.json("user", "list"))
    assert identity.password_auth(new_name, "secret-1").status_code == 401


def test_duplicate_user_name_conflicts(osc):
    name = uniq("dup")
    osc.json("user", "create", "--domain", "Default", name)
    r = osc.fails("user", "create", "--domain", "Default", name)
    assert "409" in r.stderr, r.stderr
    osc.ok("user", "delete", name)


@pytest.mark.one_database
def test_group_crud_and_membership(osc, identity):
    user = identity.create_user()
    name = uniq("group")
    created = osc.json("group", "create", "--domain", "Default", "--description", "first", name)
    assert created["name"] == name and created["description"] == "first"
    assert created["domain_id"] == identity.default_domain_id()
    gid = created["id"]

    assert name in names(osc.json("group", "list"))
    assert name in names(osc.json("group", "list", "--domain", "Default"))
    assert osc.json("group", "show", name)["id"] == gid

    # Membership.
    r = osc.run("group", "contains", "user", gid, user["id"])
    assert r.returncode == 0 and "not in group" in r.stderr, (r.stdout, r.stderr)
    assert osc.ok("group", "add", "user", gid, user["id"]).strip() == ""
    r = osc.run("group", "contains", "user", gid, user["id"])
    assert r.returncode == 0 and f"{user['id']} in group" in r.stdout, (r.stdout, r.stderr)
    assert user["name"] in names(osc.json("user", "list", "--group", gid))
    assert name in names(osc.json("group", "list", "--user", user["id"]))
    osc.ok("group", "remove", "user", gid, user["id"])
    r = osc.run("group", "contains", "user", gid, user["id"])
    assert "not in group" in r.stderr, (r.stdout, r.stderr)
    assert user["name"] not in names(osc.json("user", "list", "--group", gid))

    new_name = uniq("group-renamed")
    assert osc.ok("group", "set", "--name", new_name, "--description", "second", gid) == ""
    shown = osc.json("group", "show", gid)
    assert shown["name"] == new_name and shown["description"] == "second"
    listed = names(osc.json("group", "list"))
    assert new_name in listed and name not in listed

    osc.ok("group", "delete", new_name)
    osc.fails("group", "show", gid)
    assert new_name not in names(osc.json("group", "list"))


def test_role_crud(osc, identity):
    name = uniq("role")
    created = osc.json("role", "create", "--description", "first", name)
    assert created["name"] == name and created["description"] == "first"
    assert created.get("domain_id") in (None, ""), created
    rid = created["id"]

    listed = names(osc.json("role", "list"))
    assert {name, "admin", "member", "reader"} <= listed
    assert osc.json("role", "show", name)["id"] == rid

    new_name = uniq("role-renamed")
    assert osc.ok("role", "set", "--name", new_name, "--description", "second", rid) == ""
    shown = osc.json("role", "show", rid)
    assert shown["name"] == new_name and shown["description"] == "second"
    listed = names(osc.json("role", "list"))
    assert new_name in listed and name not in listed

    osc.ok("role", "delete", new_name)
    osc.fails("role", "show", rid)
    assert new_name not in names(osc.json("role", "list"))

    # A domain-specific role lives in its domain only.
    dname = uniq("drole")
    drole = osc.json("role", "create", "--domain", "Default", dname)
    assert drole["domain_id"] == identity.default_domain_id(), drole
    assert dname in names(osc.json("role", "list", "--domain", "Default"))
    assert dname not in names(osc.json("role", "list"))
    osc.ok("role", "delete", "--domain", "Default", dname)
    assert dname not in names(osc.json("role", "list", "--domain", "Default"))


def test_implied_roles(osc):
    rows = osc.json("implied", "role", "list")
    implies: dict = {}
    for row in rows:
        implies.setdefault(row["Prior Role Name"], set()).add(row["Implied Role Name"])

    def closure(role, seen=None):
        seen = set() if seen is None else seen
        for r in implies.get(role, ()):
            if r not in seen:
                seen.add(r)
                closure(r, seen)
        return seen

    # admin implies member implies reader (directly, or through another role
    # as Keystone's own `manager` sits between admin and member).
    assert {"member", "reader"} <= closure("admin"), rows
    assert "reader" in closure("member"), rows
    assert "admin" not in closure("member") and "member" not in closure("reader"), rows
