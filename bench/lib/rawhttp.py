"""The HTTP/1.1 client of port-fill.py and server-fill.py (Python 3 standard library only).

Raw non-blocking sockets in one thread, request bytes built before the clock
starts, answers parsed just enough (status line, Content-Length or chunked):
the client shares the 2 cores with the server, so its CPU per request must be
small (port-fill.py's docstring has the figures).
"""
import selectors
import socket
import sys
import time
import urllib.parse


def loopback(url, prog):
    """URL split, when it is http:// on the loopback; else exits naming PROG."""
    u = urllib.parse.urlsplit(url)
    if u.scheme != "http" or u.hostname not in ("127.0.0.1", "localhost", "::1"):
        sys.exit("%s: only http:// loopback URLs are accepted, got %s" % (prog, url))
    return u


def pct(sorted_values, p):
    if not sorted_values:
        return None
    k = min(len(sorted_values) - 1, max(0, int(round(p / 100.0 * len(sorted_values) + 0.5)) - 1))
    return round(sorted_values[k], 2)


def connect(addr, timeout):
    """A blocking TCP connection with TCP_NODELAY (TIMEOUT bounds the connect)."""
    s = socket.create_connection(addr, timeout=timeout)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def parse_response(buf):
    """A complete HTTP/1.1 response at the start of buf: (status, body, close, rest); else None."""
    end = buf.find(b"\r\n\r\n")
    if end < 0:
        return None
    head = buf[:end].decode("latin-1").split("\r\n")
    status = int(head[0].split(" ", 2)[1])
    length, chunked, close = None, False, False
    for line in head[1:]:
        k, _, val = line.partition(":")
        k = k.strip().lower()
        val = val.strip()
        if k == "content-length":
            length = int(val)
        elif k == "transfer-encoding" and "chunked" in val.lower():
            chunked = True
        elif k == "connection" and val.lower() == "close":
            close = True
    pos = end + 4
    if chunked:
        parts = []
        while True:
            nl = buf.find(b"\r\n", pos)
            if nl < 0:
                return None
            size = int(buf[pos:nl].split(b";")[0], 16)
            if size == 0:
                # the last chunk, then (no trailers) an empty line
                tail = buf.find(b"\r\n", nl + 2)
                if tail < 0:
                    return None
                pos = tail + 2
                break
            if len(buf) < nl + 2 + size + 2:
                return None
            parts.append(buf[nl + 2:nl + 2 + size])
            pos = nl + 2 + size + 2
        body = b"".join(parts)
    else:
        if length is None:
            length = 0
        if len(buf) < pos + length:
            return None
        body = buf[pos:pos + length]
        pos += length
    return status, body, close, buf[pos:]


def send_all(addr, pending, concurrency, on_answer, connect_timeout=120, wait=120,
             lost="request %d", stalled="%d requests in flight"):
    """Sends each request of PENDING (bytes) over CONCURRENCY keep-alive connections to ADDR,
    one in flight on each, and calls on_answer(index, status, body, ms, answered_at) per answer
    (ms from the send to the answer; answered_at on the time.perf_counter() clock).

    A connection the server closed before answering is opened again and the request sent once
    more (a second loss raises OSError naming LOST % index); no answer in WAIT s raises too
    (STALLED % requests in flight).  Returns (t_start, wall_start, reconnects, connections):
    the perf_counter() and time.time() before the first connection is opened.
    """
    nxt = 0
    reconnects = 0
    sel = selectors.DefaultSelector()

    class Conn:
        __slots__ = ("sock", "buf", "out", "index", "t0", "attempts")

    def open_conn(c):
        c.sock = connect(addr, connect_timeout)
        c.sock.setblocking(False)
        c.buf = b""

    def close_conn(c):
        try:
            sel.unregister(c.sock)
        except (KeyError, ValueError):
            pass
        try:
            c.sock.close()
        except OSError:
            pass

    def send_next(c):
        nonlocal nxt
        if nxt >= len(pending):
            return False
        c.index, c.out, c.attempts = nxt, pending[nxt], 0
        nxt += 1
        c.t0 = time.perf_counter()
        return True

    def flush(c):
        n = c.sock.send(c.out)
        c.out = c.out[n:]
        sel.modify(c.sock, selectors.EVENT_WRITE if c.out else selectors.EVENT_READ, c)

    def reopen(c):
        # the server closed a keep-alive connection before answering: resend once on a new one
        # (a POST the server had taken is then done twice: the callers' count checks show it)
        nonlocal reconnects
        close_conn(c)
        reconnects += 1
        c.attempts += 1
        if c.attempts > 1:
            raise OSError("connection lost twice for " + lost % c.index)
        open_conn(c)
        c.out = pending[c.index]
        sel.register(c.sock, selectors.EVENT_WRITE, c)

    connections = max(1, min(concurrency, len(pending)))
    live = 0
    t_start = time.perf_counter()
    wall_start = time.time()
    for _ in range(connections):
        c = Conn()
        open_conn(c)
        if send_next(c):
            sel.register(c.sock, selectors.EVENT_WRITE, c)
            live += 1
    while live:
        events = sel.select(timeout=wait)
        if not events:
            raise OSError("no answer in %d s (%s)" % (wait, stalled % live))
        for key, ev in events:
            c = key.data
            try:
                if ev & selectors.EVENT_WRITE and c.out:
                    flush(c)
                    continue
                data = c.sock.recv(262144)
            except (BlockingIOError, InterruptedError):
                continue
            except OSError:
                reopen(c)
                continue
            if not data:
                reopen(c)
                continue
            c.buf += data
            got = parse_response(c.buf)
            if got is None:
                continue
            status, body, close, c.buf = got
            done = time.perf_counter()
            on_answer(c.index, status, body, (done - c.t0) * 1000, done)
            if close:
                close_conn(c)
                open_conn(c)
                sel.register(c.sock, selectors.EVENT_READ, c)
                reconnects += 1
            if send_next(c):
                flush(c)
            else:
                close_conn(c)
                live -= 1
    return t_start, wall_start, reconnects, connections
