#!/usr/bin/env bash
# openstacksdk's own functional tests (openstack/tests/functional in the openstacksdk package)
# against a throwaway `martlet serve` with the fake drivers on loopback: a bounded job, not part
# of CI. Prints pass/fail/skip per directory and keeps the pytest output for the failures.
#
#   bash bench/sdk-functional.sh [dir ...]     default: identity/v3 image/v2 network/v2 object_store/v1 cloud
#
# Environment: MARTLET_BIN (default .build/debug/martlet), SDK_TIMEOUT (seconds per directory, 900),
# SDK_RESULTS (folder for the logs, default a new temporary folder). OS_TEST_TIMEOUT is 300 s per test,
# as openstacksdk's own functional job sets it (its default, 5 s, is for unit tests).
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
REPO="$(pwd)"
BIN="${MARTLET_BIN:-$REPO/.build/debug/martlet}"
[[ -x "$BIN" ]] || { echo "no martlet binary at $BIN (build it, or set MARTLET_BIN)" >&2; exit 2; }
VENV="$(bash "$REPO/scripts/prereqs.sh" | tail -n1)" || exit 1
# The functional tests' own test-time dependencies.
"$VENV/bin/pip" install -q oslotest fixtures testtools testscenarios requests-mock >/dev/null || exit 1
SDK="$("$VENV/bin/python" -c 'import openstack, os; print(os.path.dirname(openstack.__file__))')"

RESULTS="${SDK_RESULTS:-$(mktemp -d /tmp/martlet-sdk-XXXXXX)}"
mkdir -p "$RESULTS"
DATA="$(mktemp -d /tmp/martlet-sdk-data-XXXXXX)"
PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
PASSWORD="sdk-$RANDOM$RANDOM"
"$BIN" serve --host 127.0.0.1 --port "$PORT" --s3-port 0 --console-port 0 --data-dir "$DATA" --admin-password "$PASSWORD" \
    --bcrypt-cost 4 --fake-hosts 2 >"$RESULTS/server.log" 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null; wait $SERVER 2>/dev/null; rm -rf "$DATA"' EXIT
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.2; done

# DevStack's users and projects (demo, alt_demo), its `public` external network and the demo
# project's `private` network behind a router (API objects only: the fake data plane moves no
# packet), a public image named as DevStack's, and the clouds.yaml entries the tests read.
"$VENV/bin/python" - "$PORT" "$PASSWORD" "$RESULTS/clouds.yaml" <<'EOF'
import sys, requests, yaml
port, password, path = sys.argv[1:]
base = f"http://127.0.0.1:{port}"
auth = f"{base}/identity/v3"
def token(user, pw, project):
    r = requests.post(f"{auth}/auth/tokens", json={"auth": {"identity": {"methods": ["password"], "password": {"user": {
        "name": user, "domain": {"name": "Default"}, "password": pw}}}, "scope": {"project": {"name": project, "domain": {"name": "Default"}}}}})
    r.raise_for_status()
    return r.headers["X-Subject-Token"]
h = {"X-Auth-Token": token("admin", password, "admin")}
member = requests.get(f"{auth}/roles?name=member", headers=h).json()["roles"][0]["id"]
for name in ("demo", "alt_demo"):
    p = requests.post(f"{auth}/projects", headers=h, json={"project": {"name": name}}).json()["project"]["id"]
    u = requests.post(f"{auth}/users", headers=h, json={"user": {"name": name, "password": password, "default_project_id": p}}).json()["user"]["id"]
    requests.put(f"{auth}/projects/{p}/users/{u}/roles/{member}", headers=h).raise_for_status()
admin_role = requests.get(f"{auth}/roles?name=admin", headers=h).json()["roles"][0]["id"]
admin_user = requests.get(f"{auth}/users?name=admin", headers=h).json()["users"][0]["id"]
requests.put(f"{auth}/system/users/{admin_user}/roles/{admin_role}", headers=h)
net = f"{base}/network/v2.0"
public = requests.post(f"{net}/networks", headers=h, json={"network": {"name": "public", "router:external": True}}).json()["network"]["id"]
requests.post(f"{net}/subnets", headers=h, json={"subnet": {"network_id": public, "cidr": "172.24.4.0/24", "ip_version": 4, "name": "public-subnet"}})
demo = {"X-Auth-Token": token("demo", password, "demo")}
private = requests.post(f"{net}/networks", headers=demo, json={"network": {"name": "private"}}).json()["network"]["id"]
subnet = requests.post(f"{net}/subnets", headers=demo, json={"subnet": {"network_id": private, "cidr": "10.0.0.0/26", "ip_version": 4, "name": "private-subnet"}}).json()["subnet"]["id"]
router = requests.post(f"{net}/routers", headers=demo, json={"router": {"name": "router1", "external_gateway_info": {"network_id": public}}}).json()["router"]["id"]
requests.put(f"{net}/routers/{router}/add_router_interface", headers=demo, json={"subnet_id": subnet}).raise_for_status()
image = requests.post(f"{base}/image/v2/images", headers=h, json={
    "name": "cirros-0.6.3-x86_64-disk", "disk_format": "qcow2", "container_format": "bare", "visibility": "public"}).json()["id"]
requests.put(f"{base}/image/v2/images/{image}/file", headers={**h, "Content-Type": "application/octet-stream"}, data=b"\0" * 1024)
def cloud(user, project, **extra):
    a = {"auth_url": auth, "username": user, "password": password, "user_domain_name": "Default"}
    if project:
        a.update(project_name=project, project_domain_name="Default")
    a.update(extra)
    return {"auth": a, "region_name": "RegionOne", "identity_api_version": 3, "interface": "public"}
clouds = {"devstack": cloud("demo", "demo"), "devstack-alt": cloud("alt_demo", "alt_demo"),
          "devstack-admin": cloud("admin", "admin"), "devstack-system-admin": cloud("admin", None, system_scope="all")}
open(path, "w").write(yaml.safe_dump({"clouds": clouds}))
EOF

# The tests run from openstacksdk's source tree and upload its CONTRIBUTING.rst: give them one.
cd "$RESULTS" && printf 'Upload me.\n' > CONTRIBUTING.rst
DIRS=("$@")
((${#DIRS[@]})) || DIRS=(identity/v3 image/v2 network/v2 object_store/v1 cloud)
printf '%-18s %7s %7s %7s %7s\n' directory passed failed skipped seconds
for dir in "${DIRS[@]}"; do
    log="$RESULTS/${dir//\//-}.log"
    start=$SECONDS
    OS_CLIENT_CONFIG_FILE="$RESULTS/clouds.yaml" OPENSTACKSDK_FUNC_TEST_TIMEOUT=60 OS_TEST_TIMEOUT=300 \
        timeout "${SDK_TIMEOUT:-900}" "$VENV/bin/python" -m pytest -q -p no:cacheprovider -o addopts= \
        --timeout 120 -rfEs "$SDK/tests/functional/$dir" >"$log" 2>&1
    line="$(grep -E '^(=+ )?[0-9]+ (passed|failed|skipped)|no tests ran' "$log" | tail -n1)"
    count() { grep -oE "[0-9]+ $1" <<<"$line" | grep -oE '^[0-9]+' || echo 0; }
    printf '%-18s %7s %7s %7s %7s\n' "$dir" "$(count passed)" "$(( $(count failed) + $(count error) ))" "$(count skipped)" $((SECONDS - start))
done
echo "logs: $RESULTS"
