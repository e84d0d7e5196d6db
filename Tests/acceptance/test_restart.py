"""After a restart on the same data dir (and database), everything created
before is still there, and every token issued before is still valid."""

import pytest
import requests

from conftest import uniq


@pytest.mark.restarts_server
def test_objects_and_tokens_survive_restart(osc, identity, clouds, martlet):
    # --- before: objects of every kind, made with the CLI ---
    pname, uname, gname, rname = uniq("keep-proj"), uniq("keep-user"), uniq("keep-group"), uniq("keep-role")
    password = "pw-" + uniq("keep")
    project = osc.json("project", "create", "--domain", "Default", "--description", "kept",
                       "--tag", "kept", pname)
    user = osc.json("user", "create", "--domain", "Default", "--password", password,
                    "--email", f"{uname}@example.org", "--project", pname, uname)
    group = osc.json("group", "create", "--domain", "Default", "--description", "kept", gname)
    role = osc.json("role", "create", "--description", "kept", rname)
    osc.ok("group", "add", "user", gname, uname)
    osc.ok("role", "add", "--project", pname, "--user", uname, "member")
    osc.ok("role", "add", "--project", pname, "--group", gname, rname)
    disabled = osc.json("user", "create", "--domain", "Default", "--password", password,
                        "--disable", uniq("keep-disabled"))

    user_cfg = clouds.write(keeper=clouds.password_cloud(uname, password, pname))
    cred = osc.json("application", "credential", "create", "--role", "member", uniq("keep-cred"),
                    cloud="keeper", config=user_cfg)
    cred_cfg = clouds.write(keepcred=clouds.appcred_cloud(cred["ID"], cred["Secret"]))

    admin_token = identity.admin_token()
    user_token = osc.json("token", "issue", cloud="keeper", config=user_cfg)["id"]
    cred_token = osc.json("token", "issue", cloud="keepcred", config=cred_cfg)["id"]
    revoked_token = identity.token(uname, password, pname)
    osc.ok("token", "revoke", revoked_token)
    for tok in (admin_token, user_token, cred_token):
        assert identity.validate(tok, auth=admin_token).status_code == 200
    assert identity.validate(revoked_token, auth=admin_token).status_code == 404
    assignments_before = osc.json("role", "assignment", "list", "--names", "--project", pname)

    # --- restart: SIGTERM (graceful, exit 0), then start on the same data dir ---
    rc = martlet.restart()
    assert rc == 0, f"martlet serve exited with {rc} on SIGTERM:\n{martlet.log_tail()}"

    # --- after: every token issued before is valid (and usable) ---
    r = identity.validate(user_token, auth=admin_token)  # the old admin token authenticates
    assert r.status_code == 200, f"{r.status_code}: {r.text}"
    assert r.json()["token"]["user"]["id"] == user["id"]
    for tok in (admin_token, user_token, cred_token):
        r = identity.validate(tok)  # with a fresh admin token
        assert r.status_code == 200, f"token issued before the restart -> {r.status_code}: {r.text}"
    r = requests.head(f"{martlet.auth_url}/auth/tokens",
                      headers={"X-Auth-Token": admin_token, "X-Subject-Token": cred_token}, timeout=10)
    assert r.status_code == 200, r.status_code
    # ... and a token revoked before stays revoked.
    r = identity.validate(revoked_token)
    assert r.status_code == 404, f"revoked token valid again after restart: {r.status_code}"

    # --- every object is still there, unchanged ---
    p = osc.json("project", "show", pname)
    assert (p["id"], p["description"], p["tags"]) == (project["id"], "kept", ["kept"])
    u = osc.json("user", "show", uname)
    assert (u["id"], u["email"], u["default_project_id"]) == \
        (user["id"], f"{uname}@example.org", project["id"])
    g = osc.json("group", "show", gname)
    assert (g["id"], g["description"]) == (group["id"], "kept")
    assert osc.json("role", "show", rname)["id"] == role["id"]
    assert osc.json("user", "show", disabled["id"])["enabled"] is False
    r = osc.run("group", "contains", "user", gname, uname)
    assert "in group" in r.stdout, (r.stdout, r.stderr)
    assignments_after = osc.json("role", "assignment", "list", "--names", "--project", pname)
    key = lambda rows: sorted((r["Role"], r["User"], r["Group"], r["Project"]) for r in rows)  # noqa: E731
    assert key(assignments_after) == key(assignments_before)
    assert ("member", f"{uname}@Default", "", f"{pname}@Default") in key(assignments_after)
    assert (rname, "", f"{gname}@Default", f"{pname}@Default") in key(assignments_after)
    assert cred["Name"] in {c["Name"] for c in osc.json(
        "application", "credential", "list", cloud="keeper", config=user_cfg)}

    # --- and every credential still authenticates ---
    assert osc.json("token", "issue", cloud="keeper", config=user_cfg)["user_id"] == user["id"]
    assert osc.json("token", "issue", cloud="keepcred", config=cred_cfg)["project_id"] == project["id"]
    assert identity.password_auth(disabled["name"], password).status_code == 401
    assert identity.admin_token()
