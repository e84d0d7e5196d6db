"""Tokens, the service catalog and version discovery, through the real CLI."""

from datetime import datetime, timezone

import requests


def test_token_issue_and_revoke(osc, identity):
    admin_project = osc.json("project", "show", "admin")
    admin_user = osc.json("user", "show", "admin")

    tok = osc.json("token", "issue")
    assert tok["id"], tok
    assert tok["project_id"] == admin_project["id"]
    assert tok["user_id"] == admin_user["id"]
    expires = datetime.strptime(tok["expires"], "%Y-%m-%dT%H:%M:%S%z")
    assert expires > datetime.now(timezone.utc), f"token already expired: {tok}"

    # The issued token is valid, and describes the admin user in project admin.
    r = identity.validate(tok["id"])
    assert r.status_code == 200, r.text
    assert r.headers.get("X-Subject-Token") == tok["id"]
    body = r.json()["token"]
    assert body["user"]["id"] == admin_user["id"]
    assert body["user"]["name"] == "admin"
    assert body["project"]["id"] == admin_project["id"]
    assert "password" in body["methods"]
    assert {"admin", "member", "reader"} <= {role["name"] for role in body["roles"]}
    assert body["audit_ids"], body

    # The token works as X-Auth-Token.
    r = identity.get(f"/users/{admin_user['id']}", token=tok["id"])
    assert r.status_code == 200, r.text

    # Revoke it with the CLI: it no longer validates, nor authenticates.
    assert osc.ok("token", "revoke", tok["id"]) == ""
    r = identity.validate(tok["id"])
    assert r.status_code == 404, f"revoked token validated: {r.status_code} {r.text}"
    assert "error" in r.json() and r.json()["error"]["code"] == 404, r.text
    r = identity.get(f"/users/{admin_user['id']}", token=tok["id"])
    assert r.status_code == 401, f"revoked token still authenticates: {r.status_code} {r.text}"

    # Other tokens of the same user are untouched.
    assert osc.json("token", "issue")["id"]


def test_catalog_list(osc, martlet):
    catalog = osc.json("catalog", "list")
    identity = [s for s in catalog if s["Type"] == "identity"]
    assert len(identity) == 1, f"expected one identity service in {catalog}"
    svc = identity[0]
    assert svc["Name"], svc
    # The endpoints point at this server's /identity prefix (the
    # endpoint list is rendered as a structure in JSON output).
    endpoints = str(svc["Endpoints"])
    assert f"127.0.0.1:{martlet.port}/identity" in endpoints, endpoints
    assert "RegionOne" in endpoints, endpoints
    assert "public" in endpoints, f"no public endpoint: {endpoints}"

    shown = osc.json("catalog", "show", "identity")
    assert shown["type"] == "identity", shown
    assert f"127.0.0.1:{martlet.port}/identity" in str(shown["endpoints"]), shown


def test_version_discovery(martlet):
    # /identity lists the versions; v3 is there, stable, linking to /identity/v3/.
    r = requests.get(martlet.identity_url, headers={"Accept": "application/json"}, timeout=10)
    assert r.status_code in (200, 300), f"{r.status_code}: {r.text}"
    values = r.json()["versions"]["values"]
    v3 = [v for v in values if v["id"].startswith("v3")]
    assert v3, values
    assert v3[0]["status"] == "stable", v3
    hrefs = [link["href"] for link in v3[0]["links"] if link.get("rel") == "self"]
    assert hrefs and hrefs[0].rstrip("/") == martlet.auth_url, hrefs

    # /identity/v3 describes itself.
    r = requests.get(martlet.auth_url, timeout=10)
    assert r.status_code == 200, r.text
    version = r.json()["version"]
    assert version["id"].startswith("v3"), version
    assert version["status"] == "stable", version
    assert any(m.get("base") == "application/json" for m in version["media-types"]), version
    assert r.headers.get("x-openstack-request-id", "").startswith("req-"), dict(r.headers)


def test_unauthenticated_and_bad_token_faults(identity, martlet):
    # No token: 401 with WWW-Authenticate and Keystone's error body.
    r = requests.get(f"{martlet.auth_url}/users", timeout=10)
    assert r.status_code == 401, r.text
    assert "WWW-Authenticate" in r.headers, dict(r.headers)
    err = r.json()["error"]
    assert err["code"] == 401 and err["title"] == "Unauthorized" and err["message"], err

    # A tampered token: 401, never a 500.
    good = identity.admin_token()
    bad = good[:-4] + ("AAAA" if not good.endswith("AAAA") else "BBBB")
    r = requests.get(f"{martlet.auth_url}/users", headers={"X-Auth-Token": bad}, timeout=10)
    assert r.status_code == 401, f"{r.status_code}: {r.text}"
    r = identity.validate(bad)
    assert r.status_code == 404, f"validating a tampered token -> {r.status_code}: {r.text}"

    # Wrong password: 401.
    r = identity.password_auth("admin", "not-the-password", "admin")
    assert r.status_code == 401, r.text
    assert r.json()["error"]["code"] == 401, r.text
