"""Application credentials: created by a user with the CLI, then used to
authenticate (auth_type v3applicationcredential)."""

import requests

from conftest import uniq


def test_application_credential_create_and_authenticate(osc, identity, clouds, member, martlet):
    project, user, config = member["project"], member["user"], member["config"]
    name = uniq("appcred")

    created = osc.json("application", "credential", "create", "--description", "ci",
                       name, cloud="member", config=config)
    assert created["Name"] == name, created
    assert created["ID"] and created["Secret"], created
    assert created["Project ID"] == project["id"], created
    assert created["Description"] == "ci", created
    assert created["Unrestricted"] is False, created
    # By default it carries the roles the user has on the project.
    assert {r["name"] for r in created["Roles"]} >= {"member"}, created

    listed = osc.json("application", "credential", "list", cloud="member", config=config)
    assert name in {row["Name"] for row in listed}, listed
    shown = osc.json("application", "credential", "show", name, cloud="member", config=config)
    assert shown["ID"] == created["ID"] and "Secret" not in shown, shown

    # Authenticate with it through a clouds.yaml entry.
    appcfg = clouds.write(appcred=clouds.appcred_cloud(created["ID"], created["Secret"]))
    tok = osc.json("token", "issue", cloud="appcred", config=appcfg)
    assert tok["user_id"] == user["id"], tok
    assert tok["project_id"] == project["id"], tok

    # ... and list something with it.
    catalog = osc.json("catalog", "list", cloud="appcred", config=appcfg)
    assert "identity" in {s["Type"] for s in catalog}, catalog
    listed = osc.json("application", "credential", "list", cloud="appcred", config=appcfg)
    assert name in {row["Name"] for row in listed}, listed

    # The token says how it was made.
    r = identity.validate(tok["id"])
    assert r.status_code == 200, r.text
    body = r.json()["token"]
    assert body["methods"] == ["application_credential"], body["methods"]
    assert body["application_credential"]["id"] == created["ID"], body
    assert {role["name"] for role in body["roles"]} >= {"member"}, body["roles"]

    # By name + user, raw.
    auth = {"auth": {"identity": {"methods": ["application_credential"],
                                  "application_credential": {
                                      "name": name, "secret": created["Secret"],
                                      "user": {"id": user["id"]}}}}}
    r = requests.post(f"{martlet.auth_url}/auth/tokens", json=auth, timeout=30)
    assert r.status_code == 201, r.text
    assert r.json()["token"]["project"]["id"] == project["id"]

    # A wrong secret is refused.
    # (Change the start of the secret: bcrypt, as Keystone uses, ignores bytes past 72.)
    wrong = ("A" if created["Secret"][0] != "A" else "B") + created["Secret"][1:]
    bad = clouds.write(badcred=clouds.appcred_cloud(created["ID"], wrong))
    r = osc.fails("token", "issue", cloud="badcred", config=bad)
    assert "401" in r.stderr, r.stderr

    # A restricted application credential cannot make another one.
    r = osc.fails("application", "credential", "create", uniq("nested"),
                  cloud="appcred", config=appcfg)
    assert "403" in r.stderr, r.stderr

    # Deleted: it no longer authenticates, and the tokens made with it are revoked.
    osc.ok("application", "credential", "delete", name, cloud="member", config=config)
    r = osc.fails("token", "issue", cloud="appcred", config=appcfg)
    assert "401" in r.stderr or "404" in r.stderr, r.stderr  # Keystone answers 404
    r = identity.validate(tok["id"])
    assert r.status_code == 404, f"token of a deleted application credential -> {r.status_code}"
