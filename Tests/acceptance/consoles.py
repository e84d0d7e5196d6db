"""Talking to Martlet's console proxy as a browser's noVNC or a serial terminal would, over a real
websocket (websocket-client)."""

import struct
import time
import urllib.parse

import websocket


def websocket_url(console_url: str) -> str:
    """The websocket a console URL leads to: noVNC's page names it in its `path` parameter."""
    parts = urllib.parse.urlsplit(console_url)
    if parts.scheme in ("ws", "wss"):
        return console_url
    path = urllib.parse.parse_qs(parts.query)["path"][0]
    return f"ws://{parts.netloc}/{path.lstrip('/')}"


def connect(url: str, **kw) -> websocket.WebSocket:
    return websocket.create_connection(url, timeout=30, subprotocols=["binary"], **kw)


def closed_without_data(url: str, **kw) -> bool:
    """Whether the proxy ends the connection without sending a byte of console data."""
    try:
        ws = connect(url, **kw)
    except (websocket.WebSocketException, OSError):
        return True
    try:
        return not ws.recv()
    except (websocket.WebSocketConnectionClosedException, ConnectionError):
        return True
    finally:
        ws.close()


def rfb_handshake(ws: websocket.WebSocket) -> str:
    """RFB 3.8 up to the server's init message, as tempest's test_novnc does; the desktop's name."""
    version = ws.recv()
    assert version in (b"RFB 003.008\n", b"RFB 003.003\n"), version
    ws.send_binary(b"RFB 003.008\n")
    types = ws.recv()
    assert len(types) >= 2 and 1 in types[1:1 + types[0]], f"no 'None' security type: {types!r}"
    ws.send_binary(bytes([1]))
    assert ws.recv() == b"\0\0\0\0", "security handshake failed"
    ws.send_binary(bytes([1]))  # shared desktop
    init = ws.recv()
    assert len(init) > 24 and len(init) == 24 + struct.unpack(">L", init[20:24])[0], f"bad server init: {init!r}"
    return init[24:].decode(errors="replace")


def read_until(ws: websocket.WebSocket, text: bytes, timeout: float = 60) -> bytes:
    seen = b""
    deadline = time.monotonic() + timeout
    ws.settimeout(5)
    while text not in seen:
        assert time.monotonic() < deadline, f"{text!r} not seen on the console: {seen[-500:]!r}"
        try:
            seen += ws.recv()
        except websocket.WebSocketTimeoutException:
            ws.send_binary(b"\r")
    return seen
