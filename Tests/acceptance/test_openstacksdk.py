"""openstacksdk against Martlet, configured by the clouds.yaml the server wrote."""

import openstack
import pytest

from conftest import uniq


@pytest.fixture
def conn(clouds):
    # clouds fixture has pointed OS_CLIENT_CONFIG_FILE at the server's clouds.yaml.
    c = openstack.connect(cloud="martlet")
    yield c
    c.close()


def test_discovery(conn, martlet):
    # keystoneauth discovers the identity endpoint and its v3 API.
    # (conn.identity.get_endpoint is the Endpoint resource getter; ask
    # keystoneauth's endpoint data instead.)
    data = conn.identity.get_endpoint_data()
    assert data is not None
    assert data.url.rstrip("/") == martlet.auth_url, data.url
    assert data.api_version[0] == 3, data.api_version
    assert conn.identity.get_api_major_version()[0] == 3
    assert conn.session.get_endpoint(service_type="identity", interface="public") \
        .startswith(martlet.identity_url)
    assert conn.current_project_id == conn.identity.find_project("admin").id


def test_projects(conn):
    projects = {p.name: p for p in conn.identity.projects()}
    assert "admin" in projects, list(projects)
    assert projects["admin"].is_enabled is True

    name = uniq("sdk-proj")
    created = conn.identity.create_project(name=name, description="from sdk",
                                           domain_id=projects["admin"].domain_id)
    assert created.id and created.name == name
    assert conn.identity.get_project(created.id).description == "from sdk"
    assert name in {p.name for p in conn.identity.projects(name=name)}
    conn.identity.update_project(created, description="changed", is_enabled=False)
    got = conn.identity.get_project(created.id)
    assert got.description == "changed" and got.is_enabled is False
    conn.identity.delete_project(created)
    assert conn.identity.find_project(created.id) is None


def test_users(conn, clouds, monkeypatch):
    domain = conn.identity.find_domain("Default")
    assert domain is not None
    project = conn.identity.create_project(name=uniq("sdk-home"), domain_id=domain.id)
    name = uniq("sdk-user")
    user = conn.identity.create_user(name=name, password="sdk-secret", domain_id=domain.id,
                                     description="made by openstacksdk",
                                     default_project_id=project.id)
    assert user.id and user.name == name
    assert user.is_enabled is True
    assert user.default_project_id == project.id
    assert user.password is None or user.password == "sdk-secret"  # never echoed back

    users = {u.name: u for u in conn.identity.users()}
    assert name in users and users[name].id == user.id
    assert [u.id for u in conn.identity.users(name=name)] == [user.id]
    assert conn.identity.get_user(user.id).description == "made by openstacksdk"

    # Grant member on the project and log in as the new user with the SDK.
    member = conn.identity.find_role("member")
    conn.identity.assign_project_role_to_user(project, user, member)
    assert conn.identity.validate_user_has_project_role(project, user, member)
    assignments = list(conn.identity.role_assignments(user_id=user.id))
    assert [(a.role["id"], a.scope["project"]["id"]) for a in assignments] == \
        [(member.id, project.id)]

    # (Through a clouds.yaml entry: openstack.connect(username=...) would
    # merge in the only cloud of OS_CLIENT_CONFIG_FILE, the admin's.)
    path = clouds.write(sdkuser=clouds.password_cloud(name, "sdk-secret", project.name))
    monkeypatch.setenv("OS_CLIENT_CONFIG_FILE", str(path))
    as_user = openstack.connect(cloud="sdkuser")
    try:
        assert as_user.current_user_id == user.id
        assert as_user.current_project_id == project.id
        assert as_user.identity.get_user(user.id).name == name  # reads itself
    finally:
        as_user.close()

    conn.identity.update_user(user, description="updated", is_enabled=False)
    got = conn.identity.get_user(user.id)
    assert got.description == "updated" and got.is_enabled is False

    conn.identity.delete_user(user)
    assert conn.identity.find_user(user.id) is None
    conn.identity.delete_project(project)


def test_cloud_layer(conn):
    # The "cloud" layer many tools (Ansible) use.
    assert "admin" in {p.name for p in conn.list_projects()}
    assert "admin" in {u.name for u in conn.list_users()}
    assert {"admin", "member", "reader"} <= {r.name for r in conn.list_roles()}
    services = conn.list_services()
    assert "identity" in {s.type for s in services}, services
    endpoints = conn.list_endpoints()
    assert any(e.interface == "public" and "/identity" in e.url for e in endpoints), endpoints
    assert "RegionOne" in {r.id for r in conn.identity.regions()}
