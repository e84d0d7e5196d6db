#!/usr/bin/env python3
"""Helpers for bench/network.sh (Python 3 standard library only).

  port-fill.py create --url http://127.0.0.1:P/network --token TOK --network NET_ID \
                      --count 10000 [--concurrency 16] [--per-device 1] [--prefix bench-dev]
      POST /v2.0/ports COUNT times over CONCURRENCY keep-alive HTTP/1.1
      connections, one request in flight on each.  Port i (0-based) gets
      device_id PREFIX-%05d % (i // PER_DEVICE).  Prints one JSON object:
      created, errors (by status), seconds (wall clock, first send to last
      answer), per_s, the rate over the first and the last tenth of the answers,
      latency p50/p90/p99/max (ms), the client's own CPU seconds, reconnects.

  port-fill.py check --file LISTING.json --network NET_ID --count N [--prefix bench-dev]
      Reads a GET /v2.0/ports answer and prints {"ports": all, "on_network": ...,
      "bench_ports": ..., "fixed_ips": ..., "distinct_ips": ..., "duplicate_ips": [first few],
      "ports_without_ip": ..., "distinct_ids": ..., "distinct_macs": ...}.

Why not http.client in 16 threads (as image-fill.py does)?  On this 2-core
machine the client shares the CPU with the server, so its cost per request is
taken from the server.  http.client + threads costs ~150-250 us of CPU per
request under the GIL (header objects, email.parser, thread hand-offs): at a
few thousand ports/s that is a third to half of a core.  wrk would be cheap,
but it runs for a duration, not a count (it cannot stop after exactly 10,000
POSTs, and in-flight POSTs when it stops would still create ports).  So this is
one thread, one selectors loop over 16 non-blocking sockets, with the request
bytes prebuilt and the answers parsed just enough (status line, Content-Length
or chunked): ~20-40 us of CPU per request.  Its CPU time is reported so the
share it took is visible next to the server's.  That client is
bench/lib/rawhttp.py, which server-fill.py uses too.

Exit status: 0 ok, 1 some requests failed / the check failed, 3 bad usage or the
server is unreachable.
"""
import argparse
import json
import resource
import sys
import time

from rawhttp import loopback, pct, send_all


def create(args):
    u = loopback(args.url, "port-fill.py")
    addr = (u.hostname, u.port or 80)
    path = u.path.rstrip("/") + "/v2.0/ports"
    host = "%s:%d" % addr

    def request_bytes(i):
        body = json.dumps({"port": {"network_id": args.network,
                                    "device_id": "%s-%05d" % (args.prefix, i // args.per_device)}},
                          separators=(",", ":")).encode()
        return (("POST %s HTTP/1.1\r\nHost: %s\r\nX-Auth-Token: %s\r\nContent-Type: application/json\r\n"
                 "Accept: application/json\r\nContent-Length: %d\r\n\r\n") % (path, host, args.token, len(body))).encode() + body

    # built before the clock starts, so the timed loop is sockets and parsing only
    pending = [request_bytes(i) for i in range(args.count)]
    lat = []
    finished = []          # answer times, to compare the rate at the start and at the end
    errors = {}
    first_errors = []

    def answered(_, status, body, ms, done_at):
        lat.append(ms)
        finished.append(done_at)
        if status != 201:
            errors[status] = errors.get(status, 0) + 1
            if len(first_errors) < 5:
                first_errors.append("%d %s" % (status, body[:200].decode("utf-8", "replace")))

    ru0 = resource.getrusage(resource.RUSAGE_SELF)
    t_start, _, reconnects, connections = send_all(addr, pending, args.concurrency, answered,
                                                   connect_timeout=60, lost="port %d")
    dt = time.perf_counter() - t_start
    ru1 = resource.getrusage(resource.RUSAGE_SELF)
    lat.sort()
    n_err = sum(errors.values())
    out = {"requested": args.count, "answered": len(lat), "created": len(lat) - n_err, "errors": n_err,
           "errors_by_status": {str(k): v for k, v in sorted(errors.items())}, "first_errors": first_errors,
           "seconds": round(dt, 3), "per_s": round(len(lat) / dt, 1) if dt else None,
           "concurrency": connections, "per_device": args.per_device,
           "p50_ms": pct(lat, 50), "p90_ms": pct(lat, 90), "p99_ms": pct(lat, 99),
           "max_ms": round(lat[-1], 2) if lat else None, "reconnects": reconnects,
           "client_cpu_s": round((ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime), 3)}
    out["client_cpu_cores"] = round(out["client_cpu_s"] / dt, 3) if dt else None
    # the rate over the first and the last tenth of the answers: a store or IPAM that slows
    # down as ports accumulate shows as last_tenth_per_s well below first_tenth_per_s
    tenth = len(finished) // 10
    if tenth >= 2:
        first = finished[tenth - 1] - t_start
        last = finished[-1] - finished[-tenth - 1]
        out["first_tenth_per_s"] = round(tenth / first, 1) if first > 0 else None
        out["last_tenth_per_s"] = round(tenth / last, 1) if last > 0 else None
    print(json.dumps(out))
    return 1 if n_err or len(lat) != args.count else 0


def check(args):
    with open(args.file, "rb") as f:
        doc = json.load(f)
    ports = doc.get("ports", [])
    mine = [p for p in ports if p.get("network_id") == args.network]
    bench = [p for p in mine if str(p.get("device_id", "")).startswith(args.prefix + "-")]
    seen, dups, ips, without = set(), [], 0, 0
    for p in mine:
        fixed = p.get("fixed_ips") or []
        if not fixed:
            without += 1
        for ip in fixed:
            ips += 1
            a = ip.get("ip_address")
            if a in seen:
                if len(dups) < 5:
                    dups.append(a)
            seen.add(a)
    out = {"ports": len(ports), "on_network": len(mine), "bench_ports": len(bench),
           "fixed_ips": ips, "distinct_ips": len(seen), "duplicate_ips": dups, "ports_without_ip": without,
           "distinct_ids": len({p.get("id") for p in ports}),
           "distinct_macs": len({p.get("mac_address") for p in mine}),
           "devices": len({p.get("device_id") for p in bench}),
           "has_next_link": any(l.get("rel") == "next" for l in doc.get("ports_links", []) or [])}
    ok = (len(bench) == args.count and ips == len(seen) and without == 0 and out["distinct_ids"] == len(ports))
    out["ok"] = ok
    print(json.dumps(out))
    return 0 if ok else 1


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("create")
    c.add_argument("--url", required=True)
    c.add_argument("--token", required=True)
    c.add_argument("--network", required=True)
    c.add_argument("--count", type=int, default=10000)
    c.add_argument("--concurrency", type=int, default=16)
    c.add_argument("--per-device", type=int, default=1)
    c.add_argument("--prefix", default="bench-dev")
    k = sub.add_parser("check")
    k.add_argument("--file", required=True)
    k.add_argument("--network", required=True)
    k.add_argument("--count", type=int, required=True)
    k.add_argument("--prefix", default="bench-dev")
    args = ap.parse_args()
    if args.cmd == "create" and (args.count < 1 or args.per_device < 1):
        print(json.dumps({"error": "--count and --per-device must be >= 1"}))
        return 3
    try:
        return create(args) if args.cmd == "create" else check(args)
    except (OSError, ValueError) as e:
        print(json.dumps({"error": str(e)}))
        return 3


if __name__ == "__main__":
    sys.exit(main())
