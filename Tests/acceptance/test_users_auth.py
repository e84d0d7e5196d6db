"""Password changes revoke older tokens; disabled users cannot authenticate;
a mere member cannot manage users."""

from conftest import uniq


def test_admin_password_change_revokes_old_tokens(osc, identity):
    project, user, old_pw = identity.project_member("member")
    uname, pname = user["name"], project["name"]
    old_token = identity.token(uname, old_pw, pname)
    assert identity.validate(old_token).status_code == 200

    new_pw = "pw-" + uniq("new")
    assert osc.ok("user", "set", "--password", new_pw, uname) == ""

    r = identity.validate(old_token)
    assert r.status_code == 404, f"token issued before the password change -> {r.status_code}: {r.text}"
    r = identity.password_auth(uname, old_pw, pname)
    assert r.status_code == 401, f"old password still accepted: {r.status_code} {r.text}"

    # The new password works at once, and its token validates.
    new_token = identity.token(uname, new_pw, pname)
    r = identity.validate(new_token)
    assert r.status_code == 200, r.text
    assert r.json()["token"]["user"]["id"] == user["id"]


def test_self_service_password_change_revokes_old_tokens(osc, identity, clouds):
    project, user, old_pw = identity.project_member("member")
    uname, pname = user["name"], project["name"]
    old_token = identity.token(uname, old_pw, pname)
    config = clouds.write(me=clouds.password_cloud(uname, old_pw, pname))

    new_pw = "pw-" + uniq("self")
    # A wrong original password is refused.
    r = osc.fails("user", "password", "set", "--original-password", "wrong",
                  "--password", new_pw, cloud="me", config=config)
    assert "401" in r.stderr, r.stderr
    assert identity.validate(old_token).status_code == 200

    assert osc.ok("user", "password", "set", "--original-password", old_pw,
                  "--password", new_pw, cloud="me", config=config) == ""

    r = identity.validate(old_token)
    assert r.status_code == 404, f"token issued before the password change -> {r.status_code}: {r.text}"
    assert identity.password_auth(uname, old_pw, pname).status_code == 401

    # The user logs in again with the new password, through the CLI too.
    config = clouds.write(me=clouds.password_cloud(uname, new_pw, pname))
    tok = osc.json("token", "issue", cloud="me", config=config)
    assert tok["user_id"] == user["id"] and tok["project_id"] == project["id"], tok
    assert identity.validate(tok["id"]).status_code == 200


def test_disabled_user_cannot_authenticate(osc, identity, clouds):
    project, user, pw = identity.project_member("member")
    uname, pname = user["name"], project["name"]
    config = clouds.write(victim=clouds.password_cloud(uname, pw, pname))
    old_token = osc.json("token", "issue", cloud="victim", config=config)["id"]

    osc.ok("user", "set", "--disable", uname)

    r = identity.password_auth(uname, pw, pname)
    assert r.status_code == 401, f"disabled user authenticated: {r.status_code} {r.text}"
    assert r.json()["error"]["code"] == 401, r.text
    assert identity.password_auth(uname, pw).status_code == 401  # unscoped too
    r = osc.fails("token", "issue", cloud="victim", config=config)
    assert "401" in r.stderr, r.stderr
    # Disabling revoked the tokens the user had.
    assert identity.validate(old_token).status_code == 404

    osc.ok("user", "set", "--enable", uname)
    assert identity.password_auth(uname, pw, pname).status_code == 201
    assert osc.json("token", "issue", cloud="victim", config=config)["user_id"] == user["id"]


def test_member_cannot_create_users(osc, identity, member):
    new_name = uniq("forbidden")
    # (No --domain: a lookup of the domain could be what is refused; this way
    # the 403 can only come from POST /v3/users.)
    r = osc.fails("user", "create", "--password", "x", new_name,
                  cloud="member", config=member["config"])
    assert "403" in r.stderr, r.stderr
    # Nothing was created.
    users = identity.get("/users", params={"name": new_name}).json()["users"]
    assert users == [], users

    # Likewise for projects and role grants...
    r = osc.fails("project", "create", uniq("forbidden"),
                  cloud="member", config=member["config"])
    assert "403" in r.stderr, r.stderr
    # ...while the member can still authenticate and read itself.
    tok = osc.json("token", "issue", cloud="member", config=member["config"])
    assert tok["user_id"] == member["user"]["id"]
    shown = osc.json("user", "show", member["user"]["id"], cloud="member", config=member["config"])
    assert shown["name"] == member["user"]["name"], shown
