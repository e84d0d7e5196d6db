#!/usr/bin/env python3
"""Load client for bench/compute.sh (Python 3 standard library only).

  server-fill.py boot --url http://127.0.0.1:P/compute/v2.1 --token TOK --image IMG --flavor 42 \
                      --network NET --servers 2000 [--per-request 1] [--concurrency 16] \
                      [--prefix bench-p1] [--timeout 600] [--poll-interval 0.2] [--microversion 2.1]
      Boots SERVERS servers with POST /servers over CONCURRENCY keep-alive
      HTTP/1.1 connections, one request in flight on each.  --per-request 1
      boots them singly ({"server": {"name", "imageRef", "flavorRef",
      "networks": [{"uuid": NET}]}}); --per-request K > 1 asks for K at a time
      with "min_count": K, "max_count": K (the last request takes the remainder).
      Request i is named PREFIX-%05d (Nova names the servers of a multiple
      create NAME-1 .. NAME-K).  Once every POST has answered, it probes
      GET /servers/detail?status=BUILD&limit=1 every POLL-INTERVAL seconds
      until none is in BUILD, then walks GET /servers/detail?limit=1000&name=
      PREFIX- (marker after marker; the name filter is a regex in Nova, and the
      servers are counted by name prefix here too, so a server that ignores the
      filter only costs more pages) to check that every server of the accepted
      requests is listed and ACTIVE (outcome "active"; else "error" when some
      are in ERROR, "other", or "timeout" TIMEOUT seconds after the last POST).
      Without a working status filter it polls with such walks instead.  Prints
      one JSON object: requests, accepted, errors_by_status, servers_expected,
      the statuses seen, the first faults of ERROR servers, posts_s (first send
      to last answer), POST latency p50/p90/p99/max, active_s (first send to the
      end of the probe, or walk, that found none in BUILD: an upper bound;
      active_s_lower is the start of the last one that found one, a lower
      bound), per_s = servers / active_s, launched_s (the latest
      OS-SRV-USG:launched_at minus the wall time of the first send, when the
      server reports launched_at), the probes, walks and the time of the last
      walk, the client's CPU.

  server-fill.py walk --url .../compute/v2.1 --token TOK [--limit 1000] [--repeats 5] [--expect N]
      Walks GET /servers/detail?limit=LIMIT&marker=<last id of the page before>
      REPEATS times over one keep-alive connection, one request at a time, until
      a page holds fewer than LIMIT servers.  Per request: the time from the
      send to the last byte (and to the first byte), the servers and bytes.
      Prints per-page p50/p90/p99/max over the full pages (LIMIT servers) and
      over every request, the walk times (wall clock, including this client's
      JSON parsing between pages, and the sum of the page times), and the
      checks: servers per walk (= EXPECT), distinct ids, full pages without a
      "next" link in servers_links.

Why raw sockets and not http.client or requests: the client shares the 2 cores
with the server (see bench/lib/port-fill.py, whose client, bench/lib/rawhttp.py,
this uses): one thread, a selectors loop over non-blocking sockets, request
bytes built before the clock starts, answers parsed just enough.  Its CPU time
is reported.

Exit status: 0 ok; 1 some requests failed, a server went to ERROR, the wait
timed out or a check failed (the JSON says which); 3 bad usage or the server is
unreachable.
"""
import argparse
import datetime
import json
import resource
import sys
import time
import urllib.parse

from rawhttp import connect, loopback, parse_response, pct, send_all


def stats(values, prefix=""):
    v = sorted(values)
    return {prefix + "n": len(v), prefix + "p50_ms": pct(v, 50), prefix + "p90_ms": pct(v, 90),
            prefix + "p99_ms": pct(v, 99), prefix + "max_ms": round(v[-1], 2) if v else None,
            prefix + "min_ms": round(v[0], 2) if v else None,
            prefix + "mean_ms": round(sum(v) / len(v), 2) if v else None}


def cpu_s():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


class Target:
    """Where the API is and the headers every request carries."""

    def __init__(self, args):
        u = loopback(args.url, "server-fill.py")
        self.addr = (u.hostname, u.port or 80)
        self.base = u.path.rstrip("/")
        self.host = "%s:%d" % self.addr
        extra = ""
        if getattr(args, "microversion", None):
            extra = ("X-OpenStack-Nova-API-Version: %s\r\nOpenStack-API-Version: compute %s\r\n"
                     % (args.microversion, args.microversion))
        self.common = ("Host: %s\r\nX-Auth-Token: %s\r\nAccept: application/json\r\n%s"
                       % (self.host, args.token, extra))

    def request_bytes(self, method, path, body=None):
        if body is None:
            return ("%s %s HTTP/1.1\r\n%s\r\n" % (method, self.base + path, self.common)).encode()
        return (("%s %s HTTP/1.1\r\n%sContent-Type: application/json\r\nContent-Length: %d\r\n\r\n")
                % (method, self.base + path, self.common, len(body))).encode() + body


class Blocking:
    """One keep-alive connection, one request at a time (the polls and the walks)."""

    def __init__(self, target, timeout=120):
        self.t = target
        self.timeout = timeout
        self.sock = None
        self.buf = b""
        self.opens = 0

    def close(self):
        if self.sock is not None:
            try:
                self.sock.close()
            except OSError:
                pass
        self.sock = None
        self.buf = b""

    def get(self, path):
        """(status, body, ms to the last byte, ms to the first byte)."""
        req = self.t.request_bytes("GET", path)
        for attempt in (0, 1):
            if self.sock is None:
                self.sock = connect(self.t.addr, self.timeout)
                self.opens += 1
            t0 = time.perf_counter()
            t_first = None
            try:
                self.sock.sendall(req)
                while True:
                    got = parse_response(self.buf)
                    if got is not None:
                        break
                    data = self.sock.recv(1 << 20)
                    if not data:
                        raise ConnectionResetError("closed by the server")
                    if t_first is None:
                        t_first = time.perf_counter()
                    self.buf += data
            except OSError:
                # a keep-alive connection the server closed before answering: once more on a new one
                self.close()
                if attempt:
                    raise
                continue
            t1 = time.perf_counter()
            status, body, close, self.buf = got
            if close:
                self.close()
            if t_first is None:
                t_first = t1
            return status, body, (t1 - t0) * 1000, (t_first - t0) * 1000
        raise OSError("unreachable")

    @property
    def reconnects(self):
        return max(0, self.opens - 1)


def servers_path(limit, marker=None, name=None):
    q = [("limit", str(limit))]
    if marker:
        q.append(("marker", marker))
    if name:
        q.append(("name", name))
    return "/servers/detail?" + urllib.parse.urlencode(q)


def has_next(doc):
    return any(l.get("rel") == "next" for l in (doc.get("servers_links") or []))


def launched_epoch(s):
    """OS-SRV-USG:launched_at (UTC, "2024-01-01T00:00:00.000000") as epoch seconds, or None."""
    v = s.get("OS-SRV-USG:launched_at")
    if not v or not isinstance(v, str):
        return None
    try:
        d = datetime.datetime.fromisoformat(v.replace("Z", "+00:00"))
    except ValueError:
        return None
    if d.tzinfo is None:
        d = d.replace(tzinfo=datetime.timezone.utc)
    return d.timestamp()


# ---- boot ----------------------------------------------------------------------------------

def post_all(target, bodies, concurrency):
    """POST /servers for each body over CONCURRENCY connections; per request (status, body, ms, t_answer)."""
    pending = [target.request_bytes("POST", "/servers", b) for b in bodies]
    results = [None] * len(pending)

    def answered(i, status, body, ms, done):
        results[i] = (status, body, ms, done)

    t_start, wall_start, reconnects, _ = send_all(target.addr, pending, concurrency, answered,
                                                  wait=300, stalled="%d POSTs in flight")
    return results, t_start, wall_start, reconnects


def boot(args):
    target = Target(args)
    per = max(1, args.per_request)
    sizes = [per] * (args.servers // per) + ([args.servers % per] if args.servers % per else [])
    bodies = []
    for i, n in enumerate(sizes):
        s = {"name": "%s-%05d" % (args.prefix, i + 1), "imageRef": args.image, "flavorRef": args.flavor,
             "networks": [{"uuid": args.network}]}
        if per > 1:
            s["min_count"] = n
            s["max_count"] = n
        bodies.append(json.dumps({"server": s}, separators=(",", ":")).encode())
    c0 = cpu_s()
    results, t_start, wall_start, reconnects = post_all(target, bodies, args.concurrency)
    t_posts = max(r[3] for r in results)
    lat = sorted(r[2] for r in results)
    errors, first_errors, expected, ids = {}, [], 0, set()
    for n, (status, body, _, _) in zip(sizes, results):
        if status == 202:
            expected += n
            try:
                sid = (json.loads(body).get("server") or {}).get("id")
                if sid:
                    ids.add(sid)
            except ValueError:
                pass
        else:
            errors[status] = errors.get(status, 0) + 1
            if len(first_errors) < 5:
                first_errors.append("%d %s" % (status, body[:300].decode("utf-8", "replace")))
    out = {"prefix": args.prefix, "requests": len(bodies), "per_request": per, "concurrency": args.concurrency,
           "accepted": len(bodies) - sum(errors.values()), "errors": sum(errors.values()),
           "errors_by_status": {str(k): v for k, v in sorted(errors.items())}, "first_errors": first_errors,
           "servers_requested": args.servers, "servers_expected": expected, "ids_in_answers": len(ids),
           "posts_s": round(t_posts - t_start, 3),
           "posts_per_s": round(len(bodies) / (t_posts - t_start), 1) if t_posts > t_start else None,
           "post_reconnects": reconnects}
    out.update({("post_" + k): v for k, v in stats(lat).items() if k != "n"})

    # ---- wait until every accepted server is ACTIVE (or ERROR) ----
    # Cheap probes first: GET /servers/detail?status=BUILD&limit=1 every POLL-INTERVAL s
    # until none is in BUILD, then one full walk to check every server and its status.  The
    # time to ACTIVE ends with the probe that found none in BUILD (its start before it is
    # the lower bound).  A server that ignores the status filter (the probe returns a server
    # not in BUILD, or the walk finds BUILD servers the probe missed) is polled with full walks
    # instead, every max(POLL-INTERVAL, 0.2) s, and the time then ends with the walk.
    conn = Blocking(target)
    want = args.prefix + "-"
    name_filter = want
    use_probe = True
    probes, polls = 0, 0
    prev_start, t_done = None, None      # start of the poll before the last; end of the last
    state, mine, outcome = {}, {}, "timeout"
    deadline = time.perf_counter() + args.timeout
    walk_ms = []

    def full_walk():
        nonlocal name_filter
        while True:
            found, pages, marker = {}, 0, None
            t0 = time.perf_counter()
            while True:
                status, body, _, _ = conn.get(servers_path(args.limit, marker, name_filter))
                pages += 1
                if status != 200:
                    raise OSError("GET /servers/detail answered %d: %s" % (status, body[:300].decode("utf-8", "replace")))
                page = json.loads(body).get("servers") or []
                for s in page:
                    if str(s.get("name", "")).startswith(want):
                        if s.get("id") in found:
                            raise OSError("server %s listed twice in one walk (is the marker ignored?)" % s.get("id"))
                        found[s.get("id")] = s
                if len(page) < args.limit or not page:
                    break
                marker = page[-1].get("id")
                if pages > 100000:
                    raise OSError("more than 100,000 pages in one walk")
            if not found and name_filter and expected:
                # accepted servers are listed at once: a name filter that finds none of them
                # is not Nova's regex (substring) match.  Walk everything from now on.
                name_filter = None
                continue
            return found, t0, time.perf_counter()

    while True:
        if use_probe:
            p0 = time.perf_counter()
            status, body, _, _ = conn.get("/servers/detail?status=BUILD&limit=1")
            p1 = time.perf_counter()
            probes += 1
            if status != 200:
                raise OSError("GET /servers/detail?status=BUILD answered %d: %s" % (status, body[:300].decode("utf-8", "replace")))
            page = json.loads(body).get("servers") or []
            if page and page[0].get("status") != "BUILD":
                use_probe = False                       # the status filter is not applied
                prev_start = None
                continue
            if page:
                prev_start = p0
                if time.perf_counter() > deadline:
                    mine, _, _ = full_walk()            # what there is, for the report
                    break
                time.sleep(args.poll_interval)
                continue
            t_end = p1                                  # none in BUILD: check them all
            mine, w0, w1 = full_walk()
            walk_ms.append((w1 - w0) * 1000)
        else:
            mine, w0, w1 = full_walk()
            walk_ms.append((w1 - w0) * 1000)
            t_end, p0 = w1, w0
        polls += 1
        state = {}
        for s in mine.values():
            st = s.get("status", "?")
            state[st] = state.get(st, 0) + 1
        # settled: all listed, none left in BUILD (Nova's boot ends in ACTIVE or ERROR; any other
        # status is reported as it is rather than waited on until the time-out)
        if len(mine) >= expected and not state.get("BUILD"):
            t_done = t_end
            outcome = ("error" if state.get("ERROR") else
                       "active" if state.get("ACTIVE", 0) == len(mine) else "other")
            break
        if use_probe and state.get("BUILD"):
            use_probe = False                           # the probe missed servers in BUILD
            prev_start = None
        else:
            prev_start = p0
        if state.get("ERROR") and args.fail_fast:
            outcome = "error"
            break
        if time.perf_counter() > deadline:
            break
        time.sleep(args.poll_interval if use_probe else max(args.poll_interval, 0.2))
    c1 = cpu_s()
    state = {}
    for s in mine.values():
        st = s.get("status", "?")
        state[st] = state.get(st, 0) + 1

    out.update({"outcome": outcome, "servers_listed": len(mine), "statuses": state, "polls": polls, "probes": probes,
                "build_probe_used": use_probe, "name_filter_used": name_filter is not None,
                "poll_reconnects": conn.reconnects,
                "last_walk_ms": round(walk_ms[-1], 1) if walk_ms else None,
                "max_walk_ms": round(max(walk_ms), 1) if walk_ms else None})
    if outcome == "active":
        out["active_s"] = round(t_done - t_start, 3)
        out["active_s_lower"] = round(max(t_posts, prev_start or t_posts) - t_start, 3)
        out["per_s"] = round(len(mine) / (t_done - t_start), 1)
        launched = [x for x in (launched_epoch(s) for s in mine.values()) if x is not None]
        if launched and len(launched) == len(mine):
            out["launched_s"] = round(max(launched) - wall_start, 3)
            out["launched_per_s"] = round(len(mine) / (max(launched) - wall_start), 1) if max(launched) > wall_start else None
    missing = [i for i in ids if i not in mine]
    out["ids_not_listed"] = len(missing)
    faults = []
    for s in mine.values():
        if s.get("status") == "ERROR" and len(faults) < 5:
            f = s.get("fault") or {}
            faults.append("%s %s: %s %s" % (s.get("id"), s.get("name"), f.get("code", ""), str(f.get("message", "(no fault)"))[:300]))
    out["error_faults"] = faults
    out["client_cpu_s"] = round(c1 - c0, 3)
    print(json.dumps(out))
    ok = (outcome == "active" and not errors and len(mine) == expected == args.servers and not missing)
    return 0 if ok else 1


# ---- walk ----------------------------------------------------------------------------------

def walk(args):
    target = Target(args)
    conn = Blocking(target)
    full_ms, all_ms, ttfb_ms, walk_wall_ms, walk_sum_ms, bytes_ = [], [], [], [], [], []
    counts, distinct, requests, problems, no_next = [], [], [], [], 0
    last_page_next = None
    c0 = cpu_s()
    for rep in range(args.repeats):
        ids, n_total, marker, sum_ms, reqs, missing_next = set(), 0, None, 0.0, 0, False
        t0 = time.perf_counter()
        while True:
            status, body, ms, first = conn.get(servers_path(args.limit, marker))
            reqs += 1
            if status != 200:
                raise OSError("GET /servers/detail answered %d: %s" % (status, body[:300].decode("utf-8", "replace")))
            doc = json.loads(body)
            page = doc.get("servers") or []
            sum_ms += ms
            all_ms.append(ms)
            ttfb_ms.append(first)
            if len(page) == args.limit:
                full_ms.append(ms)
                bytes_.append(len(body))
            for s in page:
                ids.add(s.get("id"))
            n_total += len(page)
            if page and missing_next:
                no_next += 1       # the page before was full, had no next link, and more servers followed
            if len(page) < args.limit or not page:
                last_page_next = has_next(doc)
                break
            missing_next = not has_next(doc)
            marker = page[-1].get("id")
            if reqs > 100000:
                raise OSError("more than 100,000 pages in one walk")
        walk_wall_ms.append((time.perf_counter() - t0) * 1000)
        walk_sum_ms.append(sum_ms)
        counts.append(n_total)
        distinct.append(len(ids))
        requests.append(reqs)
        if args.expect is not None and n_total != args.expect:
            problems.append("walk %d listed %d servers, expected %d" % (rep + 1, n_total, args.expect))
        if len(ids) != n_total:
            problems.append("walk %d listed %d servers but %d distinct ids" % (rep + 1, n_total, len(ids)))
    c1 = cpu_s()
    out = {"limit": args.limit, "repeats": args.repeats, "requests_per_walk": requests,
           "servers_per_walk": counts, "distinct_ids_per_walk": distinct,
           "full_pages_without_next": no_next, "last_page_has_next": last_page_next,
           "page_bytes_mean": round(sum(bytes_) / len(bytes_)) if bytes_ else None,
           "walk_ms": [round(x, 1) for x in walk_wall_ms], "walk_page_sum_ms": [round(x, 1) for x in walk_sum_ms],
           "reconnects": conn.reconnects, "problems": problems, "client_cpu_s": round(c1 - c0, 3)}
    out.update(stats(full_ms, "page_"))
    out.update(stats(all_ms, "request_"))
    out["ttfb_p50_ms"] = pct(sorted(ttfb_ms), 50)
    w = sorted(walk_wall_ms)
    out["walk_median_ms"] = round(w[(len(w) - 1) // 2] if len(w) % 2 else (w[len(w) // 2 - 1] + w[len(w) // 2]) / 2, 1) if w else None
    out["walk_max_ms"] = round(w[-1], 1) if w else None
    s = sorted(walk_sum_ms)
    out["walk_page_sum_median_ms"] = round(s[(len(s) - 1) // 2] if len(s) % 2 else (s[len(s) // 2 - 1] + s[len(s) // 2]) / 2, 1) if s else None
    print(json.dumps(out))
    return 1 if problems else 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("boot")
    b.add_argument("--url", required=True, help="http://127.0.0.1:PORT/compute/v2.1")
    b.add_argument("--token", required=True)
    b.add_argument("--image", required=True)
    b.add_argument("--flavor", default="42")
    b.add_argument("--network", required=True)
    b.add_argument("--servers", type=int, default=2000)
    b.add_argument("--per-request", type=int, default=1)
    b.add_argument("--concurrency", type=int, default=16)
    b.add_argument("--prefix", default="bench")
    b.add_argument("--limit", type=int, default=1000, help="page size of the polls")
    b.add_argument("--timeout", type=float, default=600, help="seconds after the last POST")
    b.add_argument("--poll-interval", type=float, default=0.05, help="seconds between two probes (walks: at least 0.2)")
    b.add_argument("--fail-fast", action="store_true", help="stop polling at the first ERROR server")
    b.add_argument("--microversion")
    w = sub.add_parser("walk")
    w.add_argument("--url", required=True)
    w.add_argument("--token", required=True)
    w.add_argument("--limit", type=int, default=1000)
    w.add_argument("--repeats", type=int, default=5)
    w.add_argument("--expect", type=int)
    w.add_argument("--microversion")
    args = ap.parse_args()
    if args.cmd == "boot" and (args.servers < 1 or args.per_request < 1 or args.concurrency < 1 or args.limit < 1):
        print(json.dumps({"error": "--servers, --per-request, --concurrency and --limit must be >= 1"}))
        return 3
    if args.cmd == "walk" and (args.limit < 1 or args.repeats < 1):
        print(json.dumps({"error": "--limit and --repeats must be >= 1"}))
        return 3
    try:
        return boot(args) if args.cmd == "boot" else walk(args)
    except (OSError, ValueError) as e:
        print(json.dumps({"error": str(e)}))
        return 3


if __name__ == "__main__":
    sys.exit(main())
