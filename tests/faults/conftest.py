"""A hostile HTTP server on 127.0.0.1 (ephemeral port, one thread per connection) for the fault
tests: every request meets ``server.fault`` unless ``server.routes`` answers it first.

Faults: ``hang`` (accept, read the request, never answer), ``reset`` (close with a TCP reset),
``cut`` (announce 1000 bytes, send 100, close), ``stall`` (announce 1000, send 100, then
nothing), ``500`` (an error page, as JSON), ``badjson`` (200 with an HTML page), ``ok`` (no
fault: routes only, 404 for the rest). Hanging handlers are released when the test ends.
"""

from __future__ import annotations

import json
import socket
import struct
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

FAULTS = ("hang", "reset", "cut", "stall", "500", "badjson")
ANNOUNCED, SENT = 1000, 100  # bytes a cut or stalled answer announces, and sends


@dataclass
class Hostile:
    """What the server does; set by a test after the fixture starts it."""

    url: str
    fault: str = "hang"
    # "METHOD /path" (a prefix) -> (status, JSON body): answered normally, before the fault
    routes: dict[str, tuple[int, object]] = field(default_factory=dict)
    seen: list[str] = field(default_factory=list)  # "METHOD /path" of every request
    release: threading.Event = field(default_factory=threading.Event)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: ThreadingHTTPServer

    def log_message(self, *args: object) -> None:  # quiet
        pass

    @property
    def state(self) -> Hostile:
        return self.server.state  # type: ignore[attr-defined]

    def _send(self, status: int, body: bytes, kind: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        request = f"{self.command} {self.path}"
        self.state.seen.append(request)
        for prefix, (status, payload) in self.state.routes.items():
            if request.startswith(prefix):
                self._send(status, json.dumps(payload).encode())
                return
        fault = self.state.fault
        if fault == "hang":
            self.state.release.wait(60)
            self.close_connection = True
        elif fault == "reset":  # SO_LINGER 0: close sends RST instead of FIN
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()  # now, before socketserver's shutdown sends a FIN
            self.close_connection = True
        elif fault in ("cut", "stall"):
            self.send_response(200)
            self.send_header("Content-Length", str(ANNOUNCED))
            self.end_headers()
            self.wfile.write(b"x" * SENT)
            self.wfile.flush()
            if fault == "stall":
                self.state.release.wait(60)
            self.close_connection = True
        elif fault == "500":
            self._send(500, json.dumps({"message": "internal error"}).encode())
        elif fault == "badjson":
            self._send(200, b"<html><body>maintenance</body></html>", "text/html")
        else:
            self._send(404, json.dumps({"message": "not found"}).encode())

    do_GET = do_POST = _answer


@pytest.fixture
def hostile() -> Iterator[Hostile]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.state = Hostile(f"http://127.0.0.1:{httpd.server_address[1]}")  # type: ignore[attr-defined]
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield httpd.state  # type: ignore[attr-defined]
    httpd.state.release.set()  # type: ignore[attr-defined]
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def closed_port() -> int:
    """A port on 127.0.0.1 nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
