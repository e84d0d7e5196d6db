"""Times Block Storage on a running Martlet (bench/volumes.sh starts it with the file driver):
a volume from an image (upload once, then create → available), a plain `qemu-img convert` of the
same file beside it, a backup and a restore of that volume beside a plain PUT of the same bytes to
the object store, and BENCH_VOLUMES volumes created at once. Prints one JSON object."""
import concurrent.futures
import json
import subprocess
import sys
import time
import urllib.request

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from cloud_api import Cloud  # noqa: E402

url, password, source, scratch, count = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
cloud = Cloud(url, password)
result = {}


def wait(volume_id, timeout=600, kind="volumes"):
    """Seconds until the volume (backup) is available; fails loudly on error or timeout."""
    start = time.monotonic()
    while True:
        status = cloud.get(f"/volume/v3/{kind}/{volume_id}")[kind[:-1]]["status"]
        if status == "available":
            return time.monotonic() - start
        if status.startswith("error") or time.monotonic() - start > timeout:
            raise SystemExit(f"{kind[:-1]} {volume_id} is {status} after {time.monotonic() - start:.0f} s")
        time.sleep(0.05)


# The image, uploaded once (not timed: Image's own bench measures uploads).
image = cloud.post("/image/v2/images", {"name": "bench-source", "disk_format": "raw", "container_format": "bare"})
with open(source, "rb") as f:
    request = urllib.request.Request(f"{url}/image/v2/images/{image['id']}/file", data=f, method="PUT")
    request.add_header("X-Auth-Token", cloud.token)
    request.add_header("Content-Type", "application/octet-stream")
    urllib.request.urlopen(request).read()

# Martlet: create from the image → available (the driver streams the image and converts it).
size_gb = max(1, -(-int(cloud.get(f"/image/v2/images/{image['id']}")["size"]) // (1 << 30)))
start = time.monotonic()
volume = cloud.post("/volume/v3/volumes", {"volume": {"size": size_gb, "imageRef": image["id"], "name": "from-image"}})["volume"]
wait(volume["id"])
result["from_image_s"] = round(time.monotonic() - start, 3)

# The naive ceiling: qemu-img convert of the same bytes, already on local disk.
start = time.monotonic()
subprocess.run(["qemu-img", "convert", "-q", "-f", "raw", "-O", "raw", source, scratch], check=True)
result["qemu_img_convert_s"] = round(time.monotonic() - start, 3)

# A clone of that volume (reflink where the file system shares extents, else a sparse copy).
start = time.monotonic()
clone = cloud.post("/volume/v3/volumes", {"volume": {"size": size_gb, "source_volid": volume["id"], "name": "clone"}})["volume"]
wait(clone["id"])
result["clone_s"] = round(time.monotonic() - start, 3)

# A backup of that volume to the object store (only its non-zero chunks are stored), and a
# restore into a new volume; beside them, the same non-zero bytes PUT to the object store
# directly in objects of the backup's chunk size, one after another.
CHUNK = 8 << 20
start = time.monotonic()
backup = cloud.post("/volume/v3/backups", {"backup": {"volume_id": volume["id"], "container": "bench-backups"}})["backup"]
wait(backup["id"], kind="backups")
result["backup_s"] = round(time.monotonic() - start, 3)
result["backup_objects"] = cloud.get(f"/volume/v3/backups/{backup['id']}")["backup"]["object_count"]
start = time.monotonic()
restored = cloud.post(f"/volume/v3/backups/{backup['id']}/restore", {"restore": {"name": "restored"}})["restore"]
wait(restored["volume_id"])
result["restore_s"] = round(time.monotonic() - start, 3)
cloud.call("PUT", "/object-store/v1/AUTH_%s/bench-direct" % cloud.project)
start = time.monotonic()
stored = 0
with open(source, "rb") as f:
    index = 0
    while True:
        block = f.read(CHUNK)
        if not block:
            break
        index += 1
        if block.count(0) == len(block):
            continue
        request = urllib.request.Request(f"{url}/object-store/v1/AUTH_{cloud.project}/bench-direct/chunk-{index:05d}", data=block, method="PUT")
        request.add_header("X-Auth-Token", cloud.token)
        urllib.request.urlopen(request).read()
        stored += len(block)
result["direct_put_s"] = round(time.monotonic() - start, 3)
result["direct_put_mib"] = stored >> 20
result["volume_mib"] = size_gb << 10

# BENCH_VOLUMES blank volumes at once, each on its own connection: all available, and per volume.
def create_one(i):
    started = time.monotonic()
    made = Cloud(url, password) if i == 0 else cloud
    v = made.post("/volume/v3/volumes", {"volume": {"size": 1, "name": f"many-{i}"}})["volume"]
    return v["id"], started


cloud.call("PUT", f"/volume/v3/os-quota-sets/{cloud.project}", {"quota_set": {"volumes": count + 10, "gigabytes": count * 2 + 100}})
start = time.monotonic()
with concurrent.futures.ThreadPoolExecutor(max_workers=16) as pool:
    made = list(pool.map(create_one, range(count)))
accepted = time.monotonic() - start
for volume_id, _ in made:
    wait(volume_id)
result["concurrent_volumes"] = count
result["concurrent_accepted_s"] = round(accepted, 3)
result["concurrent_all_available_s"] = round(time.monotonic() - start, 3)
listing = cloud.get("/volume/v3/volumes?limit=1000")["volumes"]
result["volumes_listed"] = len(listing)
print(json.dumps(result))
