"""Role assignments with `openstack role add/remove` and
`openstack role assignment list --names`."""


def test_role_add_list_remove(osc, identity):
    project = identity.create_project()
    password = "pw-assign"
    user = identity.create_user(password=password)
    pname, uname = project["name"], user["name"]

    assert osc.json("role", "assignment", "list", "--user", uname) == []
    # Without a role the user cannot scope to the project.
    assert identity.password_auth(uname, password, pname).status_code == 401

    assert osc.ok("role", "add", "--project", pname, "--user", uname, "member") == ""

    rows = osc.json("role", "assignment", "list", "--names", "--user", uname)
    assert len(rows) == 1, rows
    row = rows[0]
    assert row["Role"] == "member", row
    assert row["User"] == f"{uname}@Default", row
    assert row["Project"] == f"{pname}@Default", row
    assert row["Group"] == "" and row["Domain"] == "" and row["System"] == "", row
    assert row["Inherited"] is False, row

    # Same with IDs, and filtered by project.
    rows = osc.json("role", "assignment", "list", "--user", user["id"], "--project", project["id"])
    assert [(r["Role"], r["User"], r["Project"]) for r in rows] == \
        [(identity.role_id("member"), user["id"], project["id"])], rows

    # Effective assignments expand the implied role: member implies reader.
    rows = osc.json("role", "assignment", "list", "--names", "--effective", "--user", uname)
    assert {r["Role"] for r in rows} == {"member", "reader"}, rows

    # The user now gets a project-scoped token carrying both roles.
    r = identity.password_auth(uname, password, pname)
    assert r.status_code == 201, r.text
    assert {role["name"] for role in r.json()["token"]["roles"]} == {"member", "reader"}

    # `user list --project` and `project list --user` see the assignment.
    assert uname in {u["Name"] for u in osc.json("user", "list", "--project", pname)}
    assert pname in {p["Name"] for p in osc.json("project", "list", "--user", uname)}

    assert osc.ok("role", "remove", "--project", pname, "--user", uname, "member") == ""
    assert osc.json("role", "assignment", "list", "--names", "--user", uname) == []
    assert identity.password_auth(uname, password, pname).status_code == 401


def test_group_role_assignment_is_effective_for_members(osc, identity):
    project = identity.create_project()
    password = "pw-group-assign"
    user = identity.create_user(password=password)
    group = osc.json("group", "create", "--domain", "Default", f"g-{user['name']}")
    osc.ok("group", "add", "user", group["id"], user["id"])
    osc.ok("role", "add", "--project", project["name"], "--group", group["name"], "reader")

    rows = osc.json("role", "assignment", "list", "--names", "--group", group["name"])
    assert [(r["Role"], r["Group"], r["Project"]) for r in rows] == \
        [("reader", f"{group['name']}@Default", f"{project['name']}@Default")], rows

    # The member's effective assignments come through the group.
    rows = osc.json("role", "assignment", "list", "--names", "--effective", "--user", user["name"])
    assert [(r["Role"], r["Project"]) for r in rows] == \
        [("reader", f"{project['name']}@Default")], rows
    r = identity.password_auth(user["name"], password, project["name"])
    assert r.status_code == 201, r.text
    assert [role["name"] for role in r.json()["token"]["roles"]] == ["reader"]


def test_domain_and_system_assignments(osc, identity):
    user = identity.create_user()
    osc.ok("role", "add", "--domain", "Default", "--user", user["name"], "reader")
    osc.ok("role", "add", "--system", "all", "--user", user["name"], "reader")
    rows = osc.json("role", "assignment", "list", "--names", "--user", user["name"])
    got = sorted((r["Role"], r["Domain"], r["System"]) for r in rows)
    assert got == [("reader", "", "all"), ("reader", "Default", "")], rows
    osc.ok("role", "remove", "--domain", "Default", "--user", user["name"], "reader")
    osc.ok("role", "remove", "--system", "all", "--user", user["name"], "reader")
    assert osc.json("role", "assignment", "list", "--user", user["name"]) == []
