"""Times attach -> disk visible in a running guest, and detach -> disk gone, on a running Martlet
(bench/volumes.sh starts it with the qemu and file drivers, in a namespace), beside the same hot
plug done by hand over QMP on a raw qemu booted with the same guest, flags and config drive.

The guest tells when it sees the disk: its user data watches /sys/block for the disk's serial and
prints "bench-disk-seen N" / "bench-disk-gone N" on the serial console, which both sides write to a
file read here every 10 ms. Prints one JSON object."""
import base64
import concurrent.futures
import json
import os
import socket
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from cloud_api import Cloud  # noqa: E402

url, password, image_path, data_dir, work, reps = sys.argv[1:6] + [int(sys.argv[6])]
accelerator = os.environ.get("BENCH_QEMU_ACCEL", "tcg")
cloud = Cloud(url, password)
FLAVOR = "42"  # m1.nano: 192 MB, 1 vCPU, 1 GB disk
BOOT_TIMEOUT, STEP_TIMEOUT = 300, 120


def watcher(serial):
    """User data: a loop (builtins but sleep) printing each appearance and disappearance of the disk."""
    return f"""#!/bin/sh
(n=0; present=0
while :; do
  found=0
  for d in /sys/block/vd*; do s=; read -r s < $d/serial 2>/dev/null; [ "$s" = "{serial}" ] && found=1; done
  if [ $found != $present ]; then
    present=$found
    if [ $found = 1 ]; then n=$((n + 1)); echo "bench-disk-seen $n"; else echo "bench-disk-gone $n"; fi
  fi
  sleep 0.02
done) </dev/null >/dev/console 2>&1 &
"""


class Console:
    """The guest's serial log, read from where the last look stopped."""

    def __init__(self, path):
        self.path, self.seen = path, b""

    def wait(self, line, timeout, started=None):
        """Seconds from `started` until `line` is in the log."""
        started = started or time.monotonic()
        needle = line.encode()
        while needle not in self.seen:
            if os.path.exists(self.path):
                with open(self.path, "rb") as f:
                    self.seen = f.read()
            if needle in self.seen:
                break
            if time.monotonic() - started > timeout:
                raise SystemExit(f"'{line}' not in {self.path} after {timeout} s; it ends: {self.seen[-400:]!r}")
            time.sleep(0.01)
        return time.monotonic() - started


def wait_for(what, check, timeout=STEP_TIMEOUT):
    started = time.monotonic()
    while not check():
        if time.monotonic() - started > timeout:
            raise SystemExit(f"{what}: not after {timeout} s")
        time.sleep(0.02)
    return time.monotonic() - started


def compute(method, path, body=None):
    """A Compute call at 2.37 (networks "none"); a refusal stops the run with Compute's answer."""
    request = urllib.request.Request(f"{url}/compute/v2.1{path}", method=method, data=json.dumps(body).encode() if body else None)
    for name, value in (("Content-Type", "application/json"), ("X-Auth-Token", cloud.token), ("OpenStack-API-Version", "compute 2.37")):
        request.add_header(name, value)
    try:
        with urllib.request.urlopen(request) as answer:
            data = answer.read()
            return json.loads(data) if data else None
    except urllib.error.HTTPError as error:
        raise SystemExit(f"{method} /compute/v2.1{path}: {error.code} {error.read()[:500]!r}")


def volume_status(volume_id):
    return cloud.get(f"/volume/v3/volumes/{volume_id}")["volume"]["status"]


# ---- Martlet: a guest booted with the watcher, a blank volume attached and detached REPS times ----
image = cloud.post("/image/v2/images", {"name": "bench-guest", "disk_format": "qcow2", "container_format": "bare"})
with open(image_path, "rb") as f:
    request = urllib.request.Request(f"{url}/image/v2/images/{image['id']}/file", data=f, method="PUT")
    request.add_header("X-Auth-Token", cloud.token)
    request.add_header("Content-Type", "application/octet-stream")
    urllib.request.urlopen(request).read()
volume = cloud.post("/volume/v3/volumes", {"volume": {"size": 1, "name": "attach-bench"}})["volume"]["id"]
wait_for(f"volume {volume} available", lambda: volume_status(volume) == "available")
serial = volume[:20]
server = compute("POST", "/servers", {"server": {
    "name": "attach-bench", "imageRef": image["id"], "flavorRef": FLAVOR, "networks": "none", "config_drive": True,
    "user_data": base64.b64encode(watcher(serial).encode()).decode()}})["server"]["id"]
console = Console(f"{data_dir}/qemu/instances/{server}/console.log")
console.wait("martlet-guest: ready", BOOT_TIMEOUT)
result = {"reps": reps, "m_attach_s": [], "m_attach_api_s": [], "m_detach_s": [], "m_detach_api_s": [], "m_available_s": []}


def timed(method, path, body, line):
    """Sends the call on its own thread while the console is watched: (seconds until the guest's
    line, seconds until the call answered)."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        started = time.monotonic()
        call = pool.submit(lambda: (compute(method, path, body), time.monotonic() - started)[1])
        seen = console.wait(line, STEP_TIMEOUT, started)
        return seen, call.result()


for n in range(1, reps + 1):
    seen, answered = timed("POST", f"/servers/{server}/os-volume_attachments", {"volumeAttachment": {"volumeId": volume}}, f"bench-disk-seen {n}")
    result["m_attach_s"].append(seen)
    result["m_attach_api_s"].append(answered)
    wait_for(f"volume {volume} in-use", lambda: volume_status(volume) == "in-use")
    started = time.monotonic()
    seen, answered = timed("DELETE", f"/servers/{server}/os-volume_attachments/{volume}", None, f"bench-disk-gone {n}")
    result["m_detach_s"].append(seen)
    result["m_detach_api_s"].append(answered)
    wait_for(f"volume {volume} available", lambda: volume_status(volume) == "available")
    result["m_available_s"].append(time.monotonic() - started)
compute("DELETE", f"/servers/{server}")
wait_for(f"server {server} gone", lambda: server not in {s["id"] for s in compute("GET", "/servers")["servers"]})
cloud.call("DELETE", f"/volume/v3/volumes/{volume}")


# ---- raw qemu: the same guest and disks, the hot plug by hand over QMP ------------------------------
class QMP:
    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.connect(path)
        self.sock.settimeout(STEP_TIMEOUT)
        self.file = self.sock.makefile("rwb")
        self.events = []
        self.file.readline()  # greeting
        self.run("qmp_capabilities")

    def run(self, command, **arguments):
        self.file.write(json.dumps({"execute": command, "arguments": arguments}).encode() + b"\n")
        self.file.flush()
        while True:
            answer = json.loads(self.file.readline())
            if "return" in answer:
                return answer["return"]
            if "error" in answer:
                raise SystemExit(f"raw qemu: {command} failed: {answer['error']}")
            self.events.append(answer)

    def wait_event(self, name, device):
        """Until qemu has told `name` about `device` (an unplug ends when the guest lets it go)."""
        while not any(e.get("event") == name and e.get("data", {}).get("device") == device for e in self.events):
            self.events.append(json.loads(self.file.readline()))
        self.events = []


raw = f"{work}/raw"
os.makedirs(f"{raw}/drive/openstack/latest")
instance = str(uuid.uuid4())
raw_serial = instance[:20]
with open(f"{raw}/drive/openstack/latest/meta_data.json", "w") as f:
    json.dump({"uuid": instance, "name": "raw", "hostname": "raw"}, f)
with open(f"{raw}/drive/openstack/latest/user_data", "w") as f:
    f.write(watcher(raw_serial))
subprocess.run(["genisoimage", "-o", f"{raw}/config.iso", "-ldots", "-allow-lowercase", "-allow-multidot", "-l",
                "-V", "config-2", "-r", "-J", "-quiet", f"{raw}/drive"], check=True)
subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", image_path, f"{raw}/disk.qcow2", "1G"], check=True)
subprocess.run(["qemu-img", "create", "-q", "-f", "raw", f"{raw}/volume.raw", "1G"], check=True)
subprocess.run(["qemu-system-x86_64", "-name", "guest=raw", "-machine", f"pc,accel={accelerator}", "-m", "192", "-smp", "1",
                "-nodefaults", "-no-user-config", "-display", "none", "-daemonize", "-pidfile", f"{raw}/qemu.pid",
                "-qmp", f"unix:{raw}/qmp.sock,server=on,wait=off", "-serial", f"file:{raw}/console.log",
                "-object", "rng-random,id=rng0,filename=/dev/urandom", "-device", "virtio-rng-pci,rng=rng0",
                "-drive", f"file={raw}/disk.qcow2,format=qcow2,if=none,id=disk0,discard=unmap",
                "-device", "virtio-blk-pci,drive=disk0,bootindex=1",
                "-drive", f"file={raw}/config.iso,format=raw,if=none,id=config,readonly=on", "-device", "virtio-blk-pci,drive=config"],
               check=True)
with open(f"{raw}/qemu.pid") as f:
    raw_pid = int(f.read())
try:
    console = Console(f"{raw}/console.log")
    console.wait("martlet-guest: ready", BOOT_TIMEOUT)
    qmp = QMP(f"{raw}/qmp.sock")
    result.update({"raw_attach_s": [], "raw_detach_s": [], "raw_released_s": []})
    for n in range(1, reps + 1):
        started = time.monotonic()
        qmp.run("blockdev-add", **{"node-name": "vol", "driver": "raw", "file": {"driver": "file", "filename": f"{raw}/volume.raw"}})
        qmp.run("device_add", driver="virtio-blk-pci", drive="vol", id="vdisk", serial=raw_serial)
        result["raw_attach_s"].append(console.wait(f"bench-disk-seen {n}", STEP_TIMEOUT, started))
        started = time.monotonic()
        qmp.run("device_del", id="vdisk")
        result["raw_detach_s"].append(console.wait(f"bench-disk-gone {n}", STEP_TIMEOUT, started))
        # the device is gone from qemu (not only from the guest) before its node can go
        qmp.wait_event("DEVICE_DELETED", "vdisk")
        qmp.run("blockdev-del", **{"node-name": "vol"})
        result["raw_released_s"].append(time.monotonic() - started)
finally:
    os.kill(raw_pid, 15)
    wait_for("raw qemu stopped", lambda: not os.path.exists(f"/proc/{raw_pid}"), 30)

for key in [k for k in result if k.endswith("_s")]:
    samples = result.pop(key)
    result[key] = round(statistics.median(samples), 3)
    result[key + "_samples"] = [round(s, 3) for s in samples]
print(json.dumps(result))
