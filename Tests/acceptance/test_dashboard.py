"""The web dashboard in a real, headless Chromium (Debian's chromium and
chromium-driver, driven by Selenium; nothing downloads a browser).

A member of two projects signs in, launches an instance and watches its status
change without a reload, builds a network, subnet and router and sees them in
the topology, creates and attaches a volume, uploads and downloads an object,
switches project, is refused an admin page, and sees a hostile name as text.
Screenshots of the main pages go to <repo>/artifacts/dashboard (or
$MARTLET_ARTIFACTS/dashboard).

The browser may reach only loopback: every other address goes to a proxy on
127.0.0.1 port 9, where nothing listens, and its background services are off.
The scenarios run once, on SQLite: the dashboard keeps nothing in the database
and the API scenarios cover both stores.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import time
import uuid
from pathlib import Path

import pytest
import requests

from conftest import REPO, uniq

pytestmark = pytest.mark.skipif(bool(os.environ.get("MARTLET_ACCEPTANCE_DATABASE")),
                                reason="the dashboard keeps no state of its own: its scenarios run on SQLite only")

selenium = pytest.importorskip("selenium")
from selenium import webdriver  # noqa: E402
from selenium.common.exceptions import NoAlertPresentException  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support import expected_conditions  # noqa: E402
from selenium.webdriver.support.ui import Select, WebDriverWait  # noqa: E402

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
ARTIFACTS = Path(os.environ.get("MARTLET_ARTIFACTS") or REPO / "artifacts") / "dashboard"
WAIT = 30


def api(martlet, token: str, method: str, path: str, **kw) -> requests.Response:
    headers = kw.pop("headers", {})
    headers["X-Auth-Token"] = token
    return requests.request(method, martlet.base_url + path, headers=headers, timeout=30, **kw)


@pytest.fixture(scope="module")
def world(martlet, identity):
    """A flavor and a public image from the admin; a user who is a member of two projects."""
    admin = identity.admin_token()
    flavor = api(martlet, admin, "POST", "/compute/v2.1/flavors",
                 json={"flavor": {"name": uniq("dash-flavor"), "vcpus": 1, "ram": 64, "disk": 1}})
    assert flavor.status_code == 200, flavor.text
    image = api(martlet, admin, "POST", "/image/v2/images",
                json={"name": uniq("dash-image"), "disk_format": "raw", "container_format": "bare", "visibility": "public"})
    assert image.status_code == 201, image.text
    upload = api(martlet, admin, "PUT", f"/image/v2/images/{image.json()['id']}/file",
                 data=b"\0" * 4096, headers={"Content-Type": "application/octet-stream"})
    assert upload.status_code == 204, upload.text
    first, user, password = identity.project_member("member")
    second = identity.create_project()
    identity.grant(second["id"], user["id"], "member")
    yield {"flavor": flavor.json()["flavor"], "image": image.json(), "user": user, "password": password,
           "first": first, "second": second}
    api(martlet, admin, "DELETE", f"/image/v2/images/{image.json()['id']}")


@pytest.fixture(scope="module")
def browser():
    if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()):
        pytest.fail("chromium and chromium-driver are not installed (scripts/prereqs.sh installs them)")
    os.environ["SE_OFFLINE"] = "true"  # Selenium must not look for a browser on the internet
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1280,900",
                 "--proxy-server=http://127.0.0.1:9", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--disable-default-apps", "--no-first-run", "--disable-domain-reliability",
                 "--disable-client-side-phishing-detection", "--disable-features=OptimizationHints,MediaRouter,Translate"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(WAIT)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    yield driver
    driver.quit()


def screenshot(driver, name: str) -> None:
    """Saves the page for a person to look at, once its script has run without an error (a refused
    inline script or style, a failed fetch and a JavaScript exception all show as SEVERE)."""
    driver.save_screenshot(str(ARTIFACTS / f"{name}.png"))
    errors = [entry["message"] for entry in driver.get_log("browser") if entry["level"] == "SEVERE"
              and not ("/admin/" in entry["message"] and " 403 " in entry["message"])]
    assert not errors, f"the browser reported errors on {name}: {errors}"


def sign_in(driver, martlet, username: str, password: str) -> None:
    driver.get_log("browser")  # what came before (a refused password's 401) is not this page's error
    driver.delete_all_cookies()
    driver.get(martlet.base_url + "/dashboard/")
    driver.find_element(By.ID, "id_username").send_keys(username)
    driver.find_element(By.ID, "id_password").send_keys(password)
    # Waiting for the next page first: the sign-in page's own h1 goes stale under a slow machine's check.
    submit(driver, driver.find_element(By.CSS_SELECTOR, "form button[type=submit]"))
    WebDriverWait(driver, WAIT).until(lambda d: d.find_elements(By.TAG_NAME, "h1") and d.find_element(By.TAG_NAME, "h1").text == "Overview")


def cookie_session(driver) -> requests.Session:
    """A `requests` session holding the browser's cookies, for checks a browser cannot make (status codes, bytes)."""
    session = requests.Session()
    for cookie in driver.get_cookies():
        session.cookies.set(cookie["name"], cookie["value"])
    return session


def open_page(driver, martlet, path: str) -> None:
    driver.get(martlet.base_url + path)


def fill(driver, form_id: str, **values) -> None:
    for name, value in values.items():
        element = driver.find_element(By.CSS_SELECTOR, f"#{form_id} [name=\"{name}\"]")
        if element.tag_name == "select":
            select = Select(element)
            if select.is_multiple:
                select.deselect_all()
            select.select_by_visible_text(value) if not value.startswith("value:") else select.select_by_value(value[6:])
        else:
            element.clear()
            element.send_keys(value)
    submit(driver, driver.find_element(By.CSS_SELECTOR, f"#{form_id} button[type=submit]"))


def submit(driver, button, confirm: bool = False) -> None:
    """Clicks a button or link that leads to another page (saying yes when it asks first, with
    `confirm`), and waits until that page has replaced this one."""
    driver.execute_script("window.leaving = true")
    button.click()
    if confirm:
        WebDriverWait(driver, WAIT).until(expected_conditions.alert_is_present()).accept()
    WebDriverWait(driver, WAIT).until(lambda d: d.execute_script("return window.leaving") is None
                                      and d.execute_script("return document.readyState") == "complete")


def row_button(driver, table_id: str, text: str, label: str):
    """The button `label` of the row of table `table_id` that mentions `text`."""
    row = next(r for r in driver.find_elements(By.CSS_SELECTOR, f"#{table_id} tbody tr") if text in r.text)
    return next(b for b in row.find_elements(By.CSS_SELECTOR, "button") if b.text == label)


def current_project(driver) -> str:
    return Select(driver.find_element(By.ID, "project-switch")).first_selected_option.text


def flash(driver) -> str:
    """The message the last action left on the page it led to (waits for that page)."""
    try:
        found = WebDriverWait(driver, 5).until(lambda d: d.find_elements(By.CSS_SELECTOR, "p.flash"))
    except Exception:
        return ""
    return found[0].text


def test_sign_in_is_required_and_a_wrong_password_is_refused(browser, martlet, world):
    open_page(browser, martlet, "/dashboard/project/instances/")
    assert "/dashboard/auth/login/" in browser.current_url
    browser.find_element(By.ID, "id_username").send_keys(world["user"]["name"])
    browser.find_element(By.ID, "id_password").send_keys("not-the-password")
    submit(browser, browser.find_element(By.CSS_SELECTOR, "form button[type=submit]"))
    refusal = WebDriverWait(browser, WAIT).until(lambda d: d.find_elements(By.CSS_SELECTOR, "p.flash.error"))
    assert "Invalid user name, password or domain" in refusal[0].text
    sign_in(browser, martlet, world["user"]["name"], world["password"])
    charts = browser.find_elements(By.CSS_SELECTOR, "figure.quota svg")
    assert len(charts) >= 8
    assert any("Instances" in c.get_attribute("aria-label") for c in charts)
    cookie = next(c for c in browser.get_cookies() if c["name"] == "martlet_session")
    assert cookie["httpOnly"] and cookie.get("sameSite") == "Lax"
    assert world["password"] not in browser.page_source
    screenshot(browser, "overview")


def test_network_subnet_and_router_show_in_the_topology(browser, martlet, world):
    sign_in(browser, martlet, world["user"]["name"], world["password"])
    network, router = uniq("dash-net"), uniq("dash-router")
    open_page(browser, martlet, "/dashboard/project/networks/")
    fill(browser, "network", name=network, subnet_name=network + "-v4", cidr="10.77.0.0/24")
    assert f"Created network {network} with subnet 10.77.0.0/24." in flash(browser)
    assert "10.77.0.0/24" in browser.find_element(By.ID, "networks").text
    open_page(browser, martlet, "/dashboard/project/routers/")
    fill(browser, "router", name=router)
    assert f"Created router {router}." in flash(browser)
    router_row = next(r for r in browser.find_elements(By.CSS_SELECTOR, "#routers tbody tr") if router in r.text)
    form = router_row.find_element(By.CSS_SELECTOR, "form[id^=if-]")
    Select(form.find_element(By.NAME, "subnet")).select_by_visible_text(f"{network}-v4 10.77.0.0/24")
    submit(browser, form.find_element(By.CSS_SELECTOR, "button[type=submit]"))
    assert "Added the interface." in flash(browser), flash(browser)
    open_page(browser, martlet, "/dashboard/project/network_topology/")
    titles = [t.get_attribute("textContent") for t in browser.find_elements(By.CSS_SELECTOR, "#topology a > title")]
    assert f"network {network}" in titles and f"router {router}" in titles
    # The router is drawn joined to the network: a dot on the network's line under the router's box.
    assert browser.find_elements(By.CSS_SELECTOR, "#topology circle")
    screenshot(browser, "topology")


def test_a_launched_instance_goes_active_and_changes_state_without_a_reload(browser, martlet, world, identity):
    sign_in(browser, martlet, world["user"]["name"], world["password"])
    name = uniq("dash-vm")
    network = uniq("dash-vm-net")
    open_page(browser, martlet, "/dashboard/project/networks/")
    fill(browser, "network", name=network, cidr="10.78.0.0/24")
    open_page(browser, martlet, "/dashboard/project/instances/launch/")
    fill(browser, "launch", name=name, source="Image: " + world["image"]["name"],
         flavor="value:" + world["flavor"]["id"], network=network, count="1")
    assert "/dashboard/project/instances/" in browser.current_url
    assert f"Launched instance {name}." in flash(browser), flash(browser)
    row = next(r for r in browser.find_elements(By.CSS_SELECTOR, "#instances tbody tr") if name in r.text)
    badge = row.find_element(By.CSS_SELECTOR, "[data-cell=status]")
    server_id = row.get_attribute("data-id")
    # From here on the page must not reload: a mark on the window would vanish if it did.
    browser.execute_script("window.stillHere = true")
    WebDriverWait(browser, WAIT).until(lambda d: badge.text == "ACTIVE")
    token = identity.token(world["user"]["name"], world["password"], current_project(browser))
    stop = api(martlet, token, "POST", f"/compute/v2.1/servers/{server_id}/action", json={"os-stop": None})
    assert stop.status_code == 202, stop.text
    WebDriverWait(browser, WAIT).until(lambda d: badge.text == "SHUTOFF")
    assert browser.execute_script("return window.stillHere") is True
    screenshot(browser, "instances")
    # The instance's own page: its facts, actions and console log.
    open_page(browser, martlet, f"/dashboard/project/instances/{server_id}/")
    assert name in browser.find_element(By.TAG_NAME, "h1").text
    submit(browser, browser.find_element(By.XPATH, "//button[text()='Start']"))
    assert "Start: requested." in flash(browser)
    screenshot(browser, "instance")
    # It shows in the topology, joined to its network.
    open_page(browser, martlet, "/dashboard/project/network_topology/")
    titles = [t.get_attribute("textContent") for t in browser.find_elements(By.CSS_SELECTOR, "#topology a > title")]
    assert f"server {name}" in titles and f"network {network}" in titles
    # A second server: with one row to a page, the first page links to the next, which shows the other.
    other = uniq("dash-vm-two")
    created = api(martlet, token, "POST", "/compute/v2.1/servers",
                  json={"server": {"name": other, "imageRef": world["image"]["id"], "flavorRef": world["flavor"]["id"], "networks": "none"}},
                  headers={"OpenStack-API-Version": "compute 2.37"})
    assert created.status_code == 202, created.text
    session = cookie_session(browser)
    first = session.get(martlet.base_url + "/dashboard/project/instances/?limit=1", timeout=30).text
    shown = [n for n in (name, other) if n in first]
    assert len(shown) == 1
    next_page = re.search(r'<a href="([^"]+)">Next page</a>', first)
    assert next_page, "the first of two pages links to the next"
    second = session.get(martlet.base_url + next_page.group(1).replace("&amp;", "&"), timeout=30).text
    assert ({name, other} - set(shown)).pop() in second and shown[0] not in second
    assert "First page" in second


def wait_for_status(martlet, token: str, server_id: str, status: str) -> dict:
    deadline = time.monotonic() + WAIT
    while True:
        server = api(martlet, token, "GET", f"/compute/v2.1/servers/{server_id}").json()["server"]
        if server["status"] == status or time.monotonic() > deadline:
            assert server["status"] == status, f"{server_id} is {server['status']}, not {status}"
            return server
        time.sleep(0.3)


def boot(martlet, token: str, world, prefix: str) -> dict:
    """A server of the world's image and flavor, through the API, once it is ACTIVE."""
    created = api(martlet, token, "POST", "/compute/v2.1/servers", headers={"OpenStack-API-Version": "compute 2.37"},
                  json={"server": {"name": uniq(prefix), "imageRef": world["image"]["id"],
                                   "flavorRef": world["flavor"]["id"], "networks": "none"}})
    assert created.status_code == 202, created.text
    return wait_for_status(martlet, token, created.json()["server"]["id"], "ACTIVE")


def test_an_instance_is_renamed_resized_rebuilt_and_rescued_from_its_page(browser, martlet, world, identity):
    """The instance page's forms and buttons, each change checked through the compute API."""
    admin = identity.admin_token()
    bigger = api(martlet, admin, "POST", "/compute/v2.1/flavors",
                 json={"flavor": {"name": uniq("dash-flavor-big"), "vcpus": 2, "ram": 128, "disk": 1}}).json()["flavor"]
    sign_in(browser, martlet, world["user"]["name"], world["password"])
    token = identity.token(world["user"]["name"], world["password"], current_project(browser))
    server_id = boot(martlet, token, world, "dash-life")["id"]
    page = f"/dashboard/project/instances/{server_id}/"

    renamed = uniq("dash-renamed")
    open_page(browser, martlet, page)
    fill(browser, "rename", name=renamed)
    assert f"Renamed the instance to {renamed}." in flash(browser), flash(browser)
    assert renamed in browser.find_element(By.TAG_NAME, "h1").text

    fill(browser, "resize", flavor="value:" + bigger["id"])
    assert "Resizing the instance" in flash(browser), flash(browser)
    wait_for_status(martlet, token, server_id, "VERIFY_RESIZE")
    open_page(browser, martlet, page)
    submit(browser, browser.find_element(By.XPATH, "//button[text()='Confirm Resize']"))
    assert "Confirm Resize: requested." in flash(browser), flash(browser)
    server = wait_for_status(martlet, token, server_id, "ACTIVE")
    assert server["flavor"]["id"] == bigger["id"]

    fill(browser, "rebuild", image="value:" + world["image"]["id"])
    assert "Rebuilding the instance." in flash(browser), flash(browser)
    wait_for_status(martlet, token, server_id, "ACTIVE")
    actions = [a["action"] for a in api(martlet, token, "GET", f"/compute/v2.1/servers/{server_id}/os-instance-actions").json()["instanceActions"]]
    assert {"rebuild", "resize", "confirmResize"} <= set(actions), actions

    open_page(browser, martlet, page)
    submit(browser, browser.find_element(By.XPATH, "//button[text()='Rescue']"))
    wait_for_status(martlet, token, server_id, "RESCUE")
    open_page(browser, martlet, page)
    screenshot(browser, "instance-rescued")
    submit(browser, browser.find_element(By.XPATH, "//button[text()='Unrescue']"))
    wait_for_status(martlet, token, server_id, "ACTIVE")
    # A resize that the service refuses (to the flavor it has) says why on the page.
    open_page(browser, martlet, page)
    fill(browser, "resize", flavor="value:" + bigger["id"])
    assert "flavor" in flash(browser).lower(), flash(browser)
    api(martlet, token, "DELETE", f"/compute/v2.1/servers/{server_id}")
    api(martlet, admin, "DELETE", f"/compute/v2.1/flavors/{bigger['id']}")


def test_an_image_is_edited_by_its_owner(browser, martlet, world, identity):
    sign_in(browser, martlet, world["user"]["name"], world["password"])
    token = identity.token(world["user"]["name"], world["password"], current_project(browser))
    image = api(martlet, token, "POST", "/image/v2/images",
                json={"name": uniq("dash-own-image"), "disk_format": "raw", "container_format": "bare"}).json()
    open_page(browser, martlet, "/dashboard/project/images/")
    submit(browser, browser.find_element(By.LINK_TEXT, image["name"]))
    renamed = uniq("dash-edited-image")
    browser.find_element(By.CSS_SELECTOR, "#edit [name=protected]").click()
    fill(browser, "edit", name=renamed, min_disk="3", min_ram="256", visibility="Shared")
    assert "Saved the image." in flash(browser), flash(browser)
    shown = api(martlet, token, "GET", f"/image/v2/images/{image['id']}").json()
    assert (shown["name"], shown["min_disk"], shown["min_ram"], shown["visibility"], shown["protected"]) == (renamed, 3, 256, "shared", True)
    # A value that is no number changes nothing.
    open_page(browser, martlet, f"/dashboard/project/images/{image['id']}/")
    fill(browser, "edit", min_disk="lots")
    assert "whole numbers" in flash(browser), flash(browser)
    assert api(martlet, token, "GET", f"/image/v2/images/{image['id']}").json()["min_disk"] == 3
    # The public image is not the member's: it is not offered for editing.
    open_page(browser, martlet, "/dashboard/project/images/")
    assert not browser.find_elements(By.LINK_TEXT, world["image"]["name"])
    # Shared with the user's other project, it is that project's to accept.
    fill(browser, f"share-{image['id']}", project=world["second"]["id"])
    assert "Shared the image." in flash(browser), flash(browser)
    members = api(martlet, token, "GET", f"/image/v2/images/{image['id']}/members").json()["members"]
    assert [(m["member_id"], m["status"]) for m in members] == [(world["second"]["id"], "pending")]
    api(martlet, token, "PATCH", f"/image/v2/images/{image['id']}", json=[{"op": "replace", "path": "/protected", "value": False}],
        headers={"Content-Type": "application/openstack-images-v2.1-json-patch"})
    assert api(martlet, token, "DELETE", f"/image/v2/images/{image['id']}").status_code == 204


def test_an_admin_edits_a_project_and_a_user_whose_new_password_signs_in(browser, martlet, identity):
    admin = identity.admin_token()
    project, user, password = identity.project_member("member")
    sign_in(browser, martlet, "admin", martlet.admin_password)
    open_page(browser, martlet, "/dashboard/identity/projects/")
    submit(browser, browser.find_element(By.LINK_TEXT, project["name"]))
    fill(browser, "edit", description="edited from the dashboard")
    assert f"Saved project {project['name']}." in flash(browser), flash(browser)
    shown = api(martlet, admin, "GET", f"/identity/v3/projects/{project['id']}").json()["project"]
    assert (shown["description"], shown["enabled"]) == ("edited from the dashboard", True)

    new_password = "pw-" + uuid.uuid4().hex
    open_page(browser, martlet, f"/dashboard/identity/users/{user['id']}/")
    fill(browser, "edit", email="someone@example.test", password=new_password)
    assert f"Saved user {user['name']}." in flash(browser), flash(browser)
    assert api(martlet, admin, "GET", f"/identity/v3/users/{user['id']}").json()["user"]["email"] == "someone@example.test"
    assert identity.password_auth(user["name"], new_password, project["name"]).status_code == 201
    assert identity.password_auth(user["name"], password, project["name"]).status_code == 401
    # Unticking Enabled disables the user: the password no longer signs in.
    open_page(browser, martlet, f"/dashboard/identity/users/{user['id']}/")
    browser.find_element(By.CSS_SELECTOR, "#edit [name=enabled]").click()
    fill(browser, "edit")
    assert api(martlet, admin, "GET", f"/identity/v3/users/{user['id']}").json()["user"]["enabled"] is False
    assert identity.password_auth(user["name"], new_password, project["name"]).status_code == 401
    screenshot(browser, "admin-edit-user")


def test_a_volume_is_created_and_attached(browser, martlet, world, identity):
    sign_in(browser, martlet, world["user"]["name"], world["password"])
    server = boot(martlet, identity.token(world["user"]["name"], world["password"], current_project(browser)), world, "dash-vol-vm")
    name = uniq("dash-vol")
    open_page(browser, martlet, "/dashboard/project/volumes/")
    fill(browser, "volume", name=name, size="1")
    assert f"Creating volume {name}." in flash(browser)

    def row():
        return next(r for r in browser.find_elements(By.CSS_SELECTOR, "#volumes tbody tr") if name in r.text)

    deadline = time.time() + WAIT
    while "available" not in row().text and time.time() < deadline:
        time.sleep(0.5)
        browser.refresh()
    assert "available" in row().text
    form = row().find_element(By.CSS_SELECTOR, "form[id^=attach-]")
    Select(form.find_element(By.NAME, "server")).select_by_visible_text(server["name"])
    submit(browser, form.find_element(By.CSS_SELECTOR, "button[type=submit]"))
    assert "Attaching the volume." in flash(browser), flash(browser)
    deadline = time.time() + WAIT
    while "in-use" not in row().text and time.time() < deadline:
        time.sleep(0.5)
        browser.refresh()
    assert "in-use" in row().text and server["name"] in row().text
    screenshot(browser, "volumes")


def test_an_object_is_uploaded_and_downloaded(browser, martlet, world, tmp_path):
    sign_in(browser, martlet, world["user"]["name"], world["password"])
    container = uniq("dash-box")
    open_page(browser, martlet, "/dashboard/project/containers/")
    fill(browser, "container", container=container)
    assert f"Created container {container}." in flash(browser)
    submit(browser, browser.find_element(By.LINK_TEXT, container))
    payload = os.urandom(300_000)
    source = tmp_path / "report.bin"
    source.write_bytes(payload)
    browser.find_element(By.ID, "object-file").send_keys(str(source))
    browser.find_element(By.ID, "object-name").send_keys("docs/report.bin")
    browser.find_element(By.CSS_SELECTOR, "#object-upload button[type=submit]").click()
    WebDriverWait(browser, WAIT).until(lambda d: d.find_elements(By.LINK_TEXT, "📁 docs/"))
    submit(browser, browser.find_element(By.LINK_TEXT, "📁 docs/"))
    link = browser.find_element(By.LINK_TEXT, "report.bin")
    screenshot(browser, "objects")
    download = cookie_session(browser).get(link.get_attribute("href"), timeout=30)
    assert download.status_code == 200
    assert hashlib.sha256(download.content).hexdigest() == hashlib.sha256(payload).hexdigest()
    assert "attachment" in download.headers["Content-Disposition"]


def test_a_hostile_name_is_shown_as_text(browser, martlet, world):
    sign_in(browser, martlet, world["user"]["name"], world["password"])
    hostile = "<script>alert(1)</script>"
    open_page(browser, martlet, "/dashboard/project/networks/")
    fill(browser, "network", name=hostile)
    assert hostile in browser.find_element(By.ID, "networks").text
    with pytest.raises(NoAlertPresentException):
        browser.switch_to.alert.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in cookie_session(browser).get(martlet.base_url + "/dashboard/project/networks/").text
    open_page(browser, martlet, "/dashboard/project/network_topology/")
    with pytest.raises(NoAlertPresentException):
        browser.switch_to.alert.text


def test_a_member_is_refused_admin_pages_and_sees_only_the_current_project(browser, martlet, world, identity):
    sign_in(browser, martlet, world["user"]["name"], world["password"])
    assert not browser.find_elements(By.LINK_TEXT, "Hypervisors")
    open_page(browser, martlet, "/dashboard/admin/hypervisors/")
    assert browser.find_element(By.TAG_NAME, "h1").text == "Not allowed"
    assert cookie_session(browser).get(martlet.base_url + "/dashboard/admin/hypervisors/").status_code == 403
    for page in ("identity/users", "identity/role_assignments", "admin/quotas", "admin/aggregates", "admin/services"):
        assert cookie_session(browser).get(f"{martlet.base_url}/dashboard/{page}/").status_code == 403, page
    screenshot(browser, "forbidden")
    # The other project has an instance of its own, made with the API.
    elsewhere = next(p["name"] for p in (world["first"], world["second"]) if p["name"] != current_project(browser))
    token = identity.token(world["user"]["name"], world["password"], elsewhere)
    other = uniq("dash-other-vm")
    created = api(martlet, token, "POST", "/compute/v2.1/servers",
                  json={"server": {"name": other, "imageRef": world["image"]["id"], "flavorRef": world["flavor"]["id"], "networks": "none"}},
                  headers={"OpenStack-API-Version": "compute 2.37"})
    assert created.status_code == 202, created.text
    mine = boot(martlet, identity.token(world["user"]["name"], world["password"], current_project(browser)), world, "dash-mine-vm")
    open_page(browser, martlet, "/dashboard/project/instances/")
    assert other not in browser.page_source and mine["name"] in browser.page_source
    Select(browser.find_element(By.ID, "project-switch")).select_by_visible_text(elsewhere)
    WebDriverWait(browser, WAIT).until(lambda d: "Now working in project" in flash(d))
    open_page(browser, martlet, "/dashboard/project/instances/")
    assert other in browser.page_source
    assert mine["name"] not in browser.page_source


def test_an_admin_manages_identity_quotas_and_aggregates_and_sees_the_services(browser, martlet, world, identity):
    """The admin pages a person uses to run the cloud, each change checked through the APIs: a
    group with the world's user in it, a role granted on a project and revoked, a project's quotas
    in Compute, Block Storage and Networking, a host aggregate with the compute host in it, and the
    services of all three."""
    admin = identity.admin_token()
    user, project = world["user"], world["second"]
    sign_in(browser, martlet, "admin", martlet.admin_password)
    assert browser.find_elements(By.LINK_TEXT, "Role Assignments")

    group, role = uniq("dash-group"), uniq("dash-role")
    open_page(browser, martlet, "/dashboard/identity/groups/")
    fill(browser, "group", name=group)
    assert f"Created group {group}." in flash(browser)
    fill(browser, "membership", group=group, user=user["name"])
    assert "Added the user to the group." in flash(browser), flash(browser)
    (made,) = api(martlet, admin, "GET", f"/identity/v3/groups?name={group}").json()["groups"]
    members = api(martlet, admin, "GET", f"/identity/v3/groups/{made['id']}/users").json()["users"]
    assert [m["id"] for m in members] == [user["id"]]
    screenshot(browser, "admin-groups")

    open_page(browser, martlet, "/dashboard/identity/roles/")
    fill(browser, "role", name=role)
    assert f"Created role {role}." in flash(browser)
    (role_id,) = [r["id"] for r in api(martlet, admin, "GET", f"/identity/v3/roles?name={role}").json()["roles"]]
    open_page(browser, martlet, "/dashboard/identity/role_assignments/")
    fill(browser, "grant", role=role, actor=f"User: {user['name']}", project=project["name"])
    assert "Granted the role." in flash(browser), flash(browser)
    query = f"/identity/v3/role_assignments?user.id={user['id']}&scope.project.id={project['id']}&role.id={role_id}"
    assert len(api(martlet, admin, "GET", query).json()["role_assignments"]) == 1
    assert role in browser.find_element(By.ID, "assignments").text
    screenshot(browser, "admin-role-assignments")
    submit(browser, row_button(browser, "assignments", role, "Revoke"), confirm=True)
    assert "Revoked the role." in flash(browser), flash(browser)
    assert api(martlet, admin, "GET", query).json()["role_assignments"] == []
    open_page(browser, martlet, "/dashboard/identity/roles/")
    submit(browser, row_button(browser, "roles", role, "Delete"), confirm=True)
    assert "Deleted the role." in flash(browser)
    open_page(browser, martlet, "/dashboard/identity/groups/")
    submit(browser, row_button(browser, "groups", group, "Delete"), confirm=True)
    assert api(martlet, admin, "GET", f"/identity/v3/groups?name={group}").json()["groups"] == []

    open_page(browser, martlet, f"/dashboard/admin/quotas/?project={project['id']}")
    fill(browser, "quotas", **{"compute.instances": "7", "volume.volumes": "3", "network.network": "-1"})
    assert "Saved the quotas." in flash(browser), flash(browser)
    assert api(martlet, admin, "GET", f"/compute/v2.1/os-quota-sets/{project['id']}").json()["quota_set"]["instances"] == 7
    assert api(martlet, admin, "GET", f"/volume/v3/os-quota-sets/{project['id']}").json()["quota_set"]["volumes"] == 3
    assert api(martlet, admin, "GET", f"/network/v2.0/quotas/{project['id']}").json()["quota"]["network"] == -1
    # A value that is not a number changes nothing in any service.
    fill(browser, "quotas", **{"compute.instances": "9", "network.network": "many"})
    assert "is a whole number" in flash(browser)
    assert api(martlet, admin, "GET", f"/compute/v2.1/os-quota-sets/{project['id']}").json()["quota_set"]["instances"] == 7
    screenshot(browser, "admin-quotas")

    aggregate = uniq("dash-agg")
    host = sorted({s["host"] for s in api(martlet, admin, "GET", "/compute/v2.1/os-services?binary=nova-compute").json()["services"]})[0]
    open_page(browser, martlet, "/dashboard/admin/aggregates/")
    fill(browser, "aggregate", name=aggregate, availability_zone=aggregate + "-zone")
    assert f"Created host aggregate {aggregate}." in flash(browser)
    fill(browser, "aggregate-host", id=aggregate, host=host)
    assert f"Added host {host}." in flash(browser), flash(browser)
    (shown,) = [a for a in api(martlet, admin, "GET", "/compute/v2.1/os-aggregates").json()["aggregates"] if a["name"] == aggregate]
    assert shown["hosts"] == [host] and shown["availability_zone"] == aggregate + "-zone"
    screenshot(browser, "admin-aggregates")
    submit(browser, row_button(browser, "aggregates", aggregate, "Remove"), confirm=True)
    submit(browser, row_button(browser, "aggregates", aggregate, "Delete"), confirm=True)
    assert "Deleted the host aggregate." in flash(browser), flash(browser)
    assert aggregate not in [a["name"] for a in api(martlet, admin, "GET", "/compute/v2.1/os-aggregates").json()["aggregates"]]

    open_page(browser, martlet, "/dashboard/admin/services/")
    assert "nova-compute" in browser.find_element(By.ID, "compute-services").text
    assert "cinder-volume" in browser.find_element(By.ID, "volume-services").text
    screenshot(browser, "admin-services")


def test_an_admin_manages_domains_aggregate_metadata_and_compute_services(browser, martlet, identity):
    admin = identity.admin_token()
    sign_in(browser, martlet, "admin", martlet.admin_password)
    domain = uniq("dash-domain")
    open_page(browser, martlet, "/dashboard/identity/domains/")
    fill(browser, "domain", name=domain, description="made in the dashboard")
    assert f"Created domain {domain}." in flash(browser), flash(browser)
    (made,) = api(martlet, admin, "GET", f"/identity/v3/domains?name={domain}").json()["domains"]
    # Identity refuses to delete an enabled domain, and the page says why; disabled, it goes.
    submit(browser, row_button(browser, "domains", domain, "Delete"), confirm=True)
    assert "disable" in flash(browser).lower(), flash(browser)
    submit(browser, browser.find_element(By.LINK_TEXT, domain))
    browser.find_element(By.CSS_SELECTOR, "#edit [name=enabled]").click()
    fill(browser, "edit")
    assert api(martlet, admin, "GET", f"/identity/v3/domains/{made['id']}").json()["domain"]["enabled"] is False
    submit(browser, row_button(browser, "domains", domain, "Delete"), confirm=True)
    assert "Deleted the domain." in flash(browser), flash(browser)
    assert api(martlet, admin, "GET", f"/identity/v3/domains/{made['id']}").status_code == 404

    aggregate = api(martlet, admin, "POST", "/compute/v2.1/os-aggregates", json={"aggregate": {"name": uniq("dash-meta")}}).json()["aggregate"]
    open_page(browser, martlet, "/dashboard/admin/aggregates/")
    fill(browser, "aggregate-metadata", id=aggregate["name"], key="ssd", value="true")
    assert "Set ssd=true." in flash(browser), flash(browser)
    assert api(martlet, admin, "GET", f"/compute/v2.1/os-aggregates/{aggregate['id']}").json()["aggregate"]["metadata"] == {"ssd": "true"}
    fill(browser, "aggregate-metadata", id=aggregate["name"], key="ssd", value="")
    assert api(martlet, admin, "GET", f"/compute/v2.1/os-aggregates/{aggregate['id']}").json()["aggregate"]["metadata"] == {}
    api(martlet, admin, "DELETE", f"/compute/v2.1/os-aggregates/{aggregate['id']}")

    microversion = {"OpenStack-API-Version": "compute 2.53"}
    service = api(martlet, admin, "GET", "/compute/v2.1/os-services?binary=nova-compute", headers=microversion).json()["services"][0]
    try:
        open_page(browser, martlet, "/dashboard/admin/services/")
        submit(browser, row_button(browser, "compute-services", service["host"], "Disable"), confirm=True)
        assert "Disabled the compute service." in flash(browser), flash(browser)
        shown = api(martlet, admin, "GET", f"/compute/v2.1/os-services?host={service['host']}&binary=nova-compute", headers=microversion).json()["services"][0]
        assert shown["status"] == "disabled" and "dashboard" in shown["disabled_reason"]
        submit(browser, row_button(browser, "compute-services", service["host"], "Enable"))
        assert "Enabled the compute service." in flash(browser), flash(browser)
    finally:
        api(martlet, admin, "PUT", f"/compute/v2.1/os-services/{service['id']}", json={"status": "enabled"}, headers=microversion)
    shown = api(martlet, admin, "GET", f"/compute/v2.1/os-services?host={service['host']}&binary=nova-compute", headers=microversion).json()["services"][0]
    assert shown["status"] == "enabled"


def test_a_member_makes_an_application_credential_that_signs_in_until_deleted(browser, martlet, world, identity):
    sign_in(browser, martlet, world["user"]["name"], world["password"])
    name = uniq("dash-appcred")
    open_page(browser, martlet, "/dashboard/identity/application_credentials/")
    fill(browser, "application-credential", name=name, expires_at="2099-01-31T12:00", roles="member")
    message = flash(browser)
    found = re.search(r"with ID (\S+)\. Its secret, shown this once: (\S+)", message)
    assert found, message
    credential_id, secret = found.groups()

    def auth() -> int:
        body = {"auth": {"identity": {"methods": ["application_credential"],
                                      "application_credential": {"id": credential_id, "secret": secret}}}}
        return requests.post(martlet.base_url + "/identity/v3/auth/tokens", json=body, timeout=30).status_code

    assert auth() == 201
    row = browser.find_element(By.ID, "application-credentials").text
    assert name in row and "2099-01-31T12:00:00" in row
    # Shown once: the next page has no secret.
    open_page(browser, martlet, "/dashboard/identity/application_credentials/")
    assert secret not in browser.page_source
    screenshot(browser, "application-credentials")
    fill(browser, "application-credential", name=uniq("dash-appcred-bad"), expires_at="next week")
    assert "The expiration is a time" in flash(browser), flash(browser)
    submit(browser, row_button(browser, "application-credentials", name, "Delete"), confirm=True)
    assert "Deleted the application credential." in flash(browser), flash(browser)
    assert auth() == 401


def test_forms_without_the_csrf_token_change_nothing_and_sign_out_ends_the_session(browser, martlet, world, identity):
    sign_in(browser, martlet, world["user"]["name"], world["password"])
    session = cookie_session(browser)
    name = uniq("dash-forged")
    forged = session.post(martlet.base_url + "/dashboard/project/networks/create/", data={"name": name}, allow_redirects=False)
    assert forged.status_code == 403
    token = identity.token(world["user"]["name"], world["password"], current_project(browser))
    networks = api(martlet, token, "GET", "/network/v2.0/networks").json()["networks"]
    assert name not in [n["name"] for n in networks]
    submit(browser, browser.find_element(By.XPATH, "//button[text()='Sign out']"))
    assert "/dashboard/auth/login/" in browser.current_url
    after = session.get(martlet.base_url + "/dashboard/project/", allow_redirects=False)
    assert after.status_code == 303 and "/dashboard/auth/login/" in after.headers["Location"]
    screenshot(browser, "login")


def test_the_page_headers_forbid_framing_and_inline_script(martlet):
    page = requests.get(martlet.base_url + "/dashboard/auth/login/", timeout=30)
    assert page.status_code == 200
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    assert page.headers["X-Frame-Options"] == "DENY"
    # Horizon's field names, which tempest's dashboard scenario signs in with.
    for field in ("id_username", 'name="password"', 'name="csrfmiddlewaretoken"', 'name="region"', 'name="domain"'):
        assert field in page.text
    assert re.search(r"<script>", page.text) is None
    assert requests.get(martlet.base_url + "/", allow_redirects=False, timeout=30).headers["Location"].endswith("/dashboard/")
