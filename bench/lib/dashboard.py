"""Fills a fake-driver cloud for bench/dashboard.sh and times the dashboard's pages.

  dashboard.py fill URL PASSWORD SERVERS TOPO_NETWORKS TOPO_SERVERS
      the admin project gets SERVERS servers on one network; a second project `topology`
      (admin is its admin) gets TOPO_NETWORKS networks with TOPO_SERVERS servers spread over them
  dashboard.py pages URL PASSWORD RUNS PREFIX [CLOUD_URL]
      signs in to the dashboard at URL+PREFIX (Martlet's: PREFIX /dashboard; Horizon's: PREFIX ""
      and CLOUD_URL, the Martlet it calls), fetches each page RUNS times (after one untimed fetch)
      and prints JSON: per page the p50/p90/max milliseconds from request to last byte, and the
      bytes. Horizon's topology is its page and the JSON its script then loads, summed.
  dashboard.py paint URL PASSWORD
      in headless Chromium (when selenium and chromium are there): first contentful paint per page

Standard library only, except `paint`, which needs selenium (from the test venv).
"""
import http.cookiejar
import json
import re
import statistics
import sys
import time
import urllib.parse
import urllib.request

sys.path.insert(0, __import__("os").path.dirname(__file__))
from cloud_api import Cloud  # noqa: E402

PAGES = {"instances": ["/dashboard/project/instances/"], "overview": ["/dashboard/project/"],
         "topology": ["/dashboard/project/network_topology/"]}
HORIZON_PAGES = {"instances": ["/project/instances/"], "overview": ["/project/"],
                 "topology": ["/project/network_topology/", "/project/network_topology/json"]}


def wait_active(cloud, expected, timeout=900):
    deadline = time.time() + timeout
    while time.time() < deadline:
        building = cloud.get("/compute/v2.1/servers?status=BUILD&limit=1")["servers"]
        if not building:
            break
        time.sleep(0.5)
    servers, marker = [], None
    while True:
        page = cloud.get("/compute/v2.1/servers/detail?limit=1000" + (f"&marker={marker}" if marker else ""))["servers"]
        if not page:
            break
        servers += page
        marker = page[-1]["id"]
    active = sum(1 for s in servers if s["status"] == "ACTIVE")
    if active < expected:
        raise SystemExit(f"only {active} of {expected} servers are ACTIVE")


def boot(cloud, image, count, networks):
    """`count` servers, in requests of up to 100, round-robin over `networks`."""
    made, i = 0, 0
    while made < count:
        batch = min(100, count - made, max(1, count // len(networks)))
        net = networks[i % len(networks)]
        cloud.post("/compute/v2.1/servers", {"server": {"name": f"bench-{i}", "imageRef": image, "flavorRef": "42",
                                                        "min_count": batch, "max_count": batch, "networks": [{"uuid": net}]}})
        made += batch
        i += 1


def network(cloud, name, cidr):
    net = cloud.post("/network/v2.0/networks", {"network": {"name": name}})["network"]["id"]
    cloud.post("/network/v2.0/subnets", {"subnet": {"network_id": net, "cidr": cidr, "ip_version": 4, "name": name + "-subnet"}})
    return net


def unlimited(cloud, project):
    cloud.call("PUT", f"/compute/v2.1/os-quota-sets/{project}", {"quota_set": {"instances": -1, "cores": -1, "ram": -1}})
    cloud.call("PUT", f"/network/v2.0/quotas/{project}", {"quota": {"port": -1, "network": -1, "subnet": -1}})


def fill(url, password, servers, topo_networks, topo_servers):
    cloud = Cloud(url, password)
    image = cloud.post("/image/v2/images", {"name": "bench-image", "disk_format": "raw", "container_format": "bare", "visibility": "public"})["id"]
    request = urllib.request.Request(f"{url}/image/v2/images/{image}/file", data=b"\0" * 65536, method="PUT")
    request.add_header("X-Auth-Token", cloud.token)
    request.add_header("Content-Type", "application/octet-stream")
    urllib.request.urlopen(request).read()
    unlimited(cloud, cloud.project)
    boot(cloud, image, servers, [network(cloud, "bench-net", "10.10.0.0/16")])
    wait_active(cloud, servers)
    # The topology project: admin gets the admin role on it.
    project = cloud.post("/identity/v3/projects", {"project": {"name": "topology", "domain_id": "default"}})["project"]["id"]
    user = cloud.get("/identity/v3/users?name=admin")["users"][0]["id"]
    role = cloud.get("/identity/v3/roles?name=admin")["roles"][0]["id"]
    cloud.call("PUT", f"/identity/v3/projects/{project}/users/{user}/roles/{role}")
    topo = Cloud(url, password, project="topology")
    unlimited(cloud, project)
    nets = [network(topo, f"topo-net-{n}", f"10.{100 + n // 200}.{n % 200}.0/24") for n in range(topo_networks)]
    boot(topo, image, topo_servers, nets)
    wait_active(topo, topo_servers)


class Browser:
    """Signs in through the dashboard's login form, as a person would, and keeps the cookies."""

    def __init__(self, url, password, prefix="/dashboard", project=None, project_id=None):
        self.url = url
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))
        login_url = url + prefix + "/auth/login/"
        login = self.opener.open(login_url).read().decode()
        csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', login).group(1)
        fields = {"username": "admin", "password": password, "domain": "Default", "csrfmiddlewaretoken": csrf}
        region = re.search(r'<input[^>]*name="region"[^>]*value="([^"]*)"', login)
        if region:
            fields["region"] = region.group(1)
        request = urllib.request.Request(login_url, urllib.parse.urlencode(fields).encode(), headers={"Referer": login_url})
        page = self.opener.open(request).read().decode()
        if project and prefix:
            projects = dict((name, pid) for pid, name in re.findall(r'<option value="([^"]+)"[^>]*>([^<]+)</option>', page))
            csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
            body = urllib.parse.urlencode({"project": projects[project], "csrfmiddlewaretoken": csrf})
            self.opener.open(url + prefix + "/auth/switch/", body.encode()).read()
        elif project_id:
            self.opener.open(f"{url}{prefix}/auth/switch/{project_id}/?next=/project/").read()

    def fetch(self, path):
        t0 = time.perf_counter()
        with self.opener.open(self.url + path) as answer:
            body = answer.read()
            status = answer.status
        return (time.perf_counter() - t0) * 1000, len(body), status, body


def percentile(values, q):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def pages(url, password, runs, prefix, cloud_url=None):
    horizon = prefix == ""
    topology_id = None
    if horizon:
        admin = Cloud(cloud_url, password)
        topology_id = admin.get("/identity/v3/projects?name=topology")["projects"][0]["id"]
    results = {}
    for name, paths in (HORIZON_PAGES if horizon else PAGES).items():
        elsewhere = name == "topology"
        browser = Browser(url, password, prefix, project="topology" if elsewhere and not horizon else None,
                          project_id=topology_id if elsewhere and horizon else None)
        for path in paths:
            browser.fetch(path)
        times, size = [], 0
        for _ in range(runs):
            total_ms, size = 0.0, 0
            for path in paths:
                ms, length, status, body = browser.fetch(path)
                if status != 200 or b"Not allowed" in body or b'id="id_username"' in body:
                    raise SystemExit(f"{path} answered {status}, or the sign-in page")
                total_ms += ms
                size += length
            times.append(total_ms)
        results[name] = {"p50_ms": round(statistics.median(times), 1), "p90_ms": round(percentile(times, 0.9), 1),
                         "max_ms": round(max(times), 1), "bytes": size}
    print(json.dumps(results))


def paint(url, password):
    import shutil
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1280,900",
                 "--proxy-server=http://127.0.0.1:9", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=shutil.which("chromedriver") or "/usr/bin/chromedriver"), options=options)
    results = {}
    try:
        for name, path in PAGES.items():
            session = Browser(url, password, project="topology" if name == "topology" else None)
            path = path[0]
            driver.get(url + "/dashboard/auth/login/")
            driver.delete_all_cookies()
            for cookie in session.jar:
                driver.add_cookie({"name": cookie.name, "value": cookie.value, "path": "/dashboard"})
            samples = []
            for _ in range(5):
                driver.get(url + path)
                fcp, deadline = None, time.time() + 5
                while fcp is None and time.time() < deadline:
                    fcp = driver.execute_script(
                        "const e = performance.getEntriesByName('first-contentful-paint')[0]; return e ? e.startTime : null")
                samples.append(fcp)
            samples = [s for s in samples if s is not None]
            results[name] = {"first_paint_p50_ms": round(statistics.median(samples), 1) if samples else None}
    finally:
        driver.quit()
    print(json.dumps(results))


if __name__ == "__main__":
    command = sys.argv[1]
    if command == "fill":
        fill(sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6]))
    elif command == "pages":
        pages(sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5], sys.argv[6] if len(sys.argv) > 6 else None)
    elif command == "paint":
        paint(sys.argv[2], sys.argv[3])
    else:
        raise SystemExit(__doc__)
