#!/usr/bin/env python3
"""Helpers for bench/image.sh (Python 3 standard library only).

  image-fill.py create --url http://127.0.0.1:P/image --token TOK --count 5000 \
                       [--concurrency 8] [--tag-every 10] [--qcow2-every 4] [--prefix bench-list]
      POST /v2/images COUNT times from a pool of threads, one keep-alive
      HTTP/1.1 connection each.  Image i (0-based) is named PREFIX-%05d, has
      disk_format qcow2 when i % QCOW2_EVERY == 0 (raw otherwise), and, when
      i % TAG_EVERY == 0, the tag "bench" and the property bench_group=a.
      Prints one JSON object: created, errors, seconds, per_s, latency p50/p99 (ms).

  image-fill.py walk --url ... --token TOK [--query 'tag=bench'] [--limit 1000] [--position N]
      Pages through GET /v2/images?QUERY with limit/marker, following each page's
      `next` link, and prints {"count": total, "pages": n, "id_at_position": id}
      (the id of the N-th image, 1-based, in the listing order; null if beyond).

Exit status: 0 ok, 1 some requests failed, 3 bad usage or the server is unreachable.
"""
import argparse
import http.client
import json
import queue
import sys
import threading
import time
import urllib.parse


def connect(url):
    u = urllib.parse.urlsplit(url)
    if u.scheme != "http" or u.hostname not in ("127.0.0.1", "localhost", "::1"):
        sys.exit("image-fill.py: only http:// loopback URLs are accepted, got %s" % url)
    return u, (lambda: http.client.HTTPConnection(u.hostname, u.port or 80, timeout=60))


def request(conn_box, make, method, path, token, body=None):
    """One request on a keep-alive connection, reconnecting once if the server closed it."""
    headers = {"X-Auth-Token": token, "Accept": "application/json"}
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    for attempt in (0, 1):
        if conn_box[0] is None:
            conn_box[0] = make()
        try:
            conn_box[0].request(method, path, body=data, headers=headers)
            r = conn_box[0].getresponse()
            payload = r.read()
            if r.getheader("Connection", "").lower() == "close":
                conn_box[0].close()
                conn_box[0] = None
            return r.status, payload
        except (http.client.HTTPException, OSError):
            if conn_box[0] is not None:
                conn_box[0].close()
            conn_box[0] = None
            if attempt:
                raise
    raise AssertionError("unreachable")


def pct(sorted_values, p):
    if not sorted_values:
        return None
    k = min(len(sorted_values) - 1, max(0, int(round(p / 100.0 * len(sorted_values) + 0.5)) - 1))
    return round(sorted_values[k], 2)


def create(args):
    u, make = connect(args.url)
    base = u.path.rstrip("/")
    work = queue.Queue()
    for i in range(args.count):
        work.put(i)
    lat, errors, lock = [], [], threading.Lock()

    def worker():
        box = [None]
        mine = []
        while True:
            try:
                i = work.get_nowait()
            except queue.Empty:
                break
            body = {"name": "%s-%05d" % (args.prefix, i), "container_format": "bare",
                    "disk_format": "qcow2" if args.qcow2_every and i % args.qcow2_every == 0 else "raw"}
            if args.tag_every and i % args.tag_every == 0:
                body["tags"] = ["bench"]
                body["bench_group"] = "a"
            t0 = time.perf_counter()
            try:
                status, payload = request(box, make, "POST", base + "/v2/images", args.token, body)
            except (http.client.HTTPException, OSError) as e:
                status, payload = 0, str(e).encode()
            mine.append((time.perf_counter() - t0) * 1000)
            if status != 201:
                with lock:
                    errors.append("%d %s" % (status, payload[:200].decode("utf-8", "replace")))
        if box[0] is not None:
            box[0].close()
        with lock:
            lat.extend(mine)

    threads = [threading.Thread(target=worker) for _ in range(max(1, args.concurrency))]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    dt = time.perf_counter() - t0
    lat.sort()
    out = {"requested": args.count, "created": args.count - len(errors), "errors": len(errors),
           "first_errors": errors[:5], "seconds": round(dt, 3), "per_s": round(args.count / dt, 1) if dt else None,
           "concurrency": args.concurrency, "p50_ms": pct(lat, 50), "p99_ms": pct(lat, 99),
           "max_ms": round(lat[-1], 2) if lat else None}
    print(json.dumps(out))
    return 1 if errors else 0


def walk(args):
    u, make = connect(args.url)
    base = u.path.rstrip("/")
    box = [None]
    query = "limit=%d" % args.limit + ("&" + args.query if args.query else "")
    path = base + "/v2/images?" + query
    count = pages = 0
    at = None
    t0 = time.perf_counter()
    while path:
        status, payload = request(box, make, "GET", path, args.token)
        if status != 200:
            print(json.dumps({"error": "GET %s answered %d: %s" % (path, status, payload[:200].decode("utf-8", "replace"))}))
            return 1
        doc = json.loads(payload)
        pages += 1
        for img in doc.get("images", []):
            count += 1
            if count == args.position:
                at = img["id"]
        nxt = doc.get("next")
        # `next` is relative to the version root ("/v2/images?..."), as Glance sends it
        path = (base + nxt) if nxt and nxt.startswith("/v2/") else nxt
        if pages > 100000:
            break
    print(json.dumps({"count": count, "pages": pages, "id_at_position": at,
                      "seconds": round(time.perf_counter() - t0, 3)}))
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("create")
    c.add_argument("--url", required=True)
    c.add_argument("--token", required=True)
    c.add_argument("--count", type=int, default=5000)
    c.add_argument("--concurrency", type=int, default=8)
    c.add_argument("--tag-every", type=int, default=10)
    c.add_argument("--qcow2-every", type=int, default=4)
    c.add_argument("--prefix", default="bench-list")
    w = sub.add_parser("walk")
    w.add_argument("--url", required=True)
    w.add_argument("--token", required=True)
    w.add_argument("--query", default="")
    w.add_argument("--limit", type=int, default=1000)
    w.add_argument("--position", type=int, default=0)
    args = ap.parse_args()
    try:
        return create(args) if args.cmd == "create" else walk(args)
    except (http.client.HTTPException, OSError) as e:
        print(json.dumps({"error": str(e)}))
        return 3


if __name__ == "__main__":
    sys.exit(main())
