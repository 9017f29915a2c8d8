"""A hostile HTTP upstream on 127.0.0.1, written at the socket level.

Paths choose the behaviour (any query string is ignored):

* ``/drip`` — status and headers at once (``Content-Length: 100000``), then one body byte
  every ``drip_every`` seconds, for ever;
* ``/drip-headers`` — the status line, then one header byte every ``drip_every`` seconds;
* ``/silent`` — reads the request and never answers;
* ``/huge`` — 200 MB of JSON-ish bytes with ``Content-Length``;
* ``/huge-stream`` — 200 MB with no length (the body ends when the connection closes);
* ``/echo/<status>`` — answers ``status`` with the request's headers in the body (a proxy
  that echoes ``Authorization``);
* ``/retry-after/<seconds>`` — HTTP 429 with ``Retry-After: <seconds>``.

Any other path is answered as ``fallback`` (404 unless given): ``fallback="/drip"`` makes a
server that drips whatever a client asks (InfluxDB's ``/api/v2/write``, Grafana's ``/api/…``).

:class:`DripSmtp` is an SMTP server that drips its greeting a byte at a time.

``requests`` counts requests per path, ``sent`` the body bytes the server managed to write
per path (a client that refuses a big body early makes it small).
"""

from __future__ import annotations

import contextlib
import socket
import socketserver
import threading
import time
from collections import Counter
from collections.abc import Iterator

HUGE_BYTES = 200 * 1000 * 1000


class HostileServer:
    """Start with ``with HostileServer() as server``; ``server.url`` is its base URL."""

    def __init__(self, drip_every: float = 0.5, fallback: str = "") -> None:
        self.drip_every = drip_every
        self.fallback = fallback
        self.requests: Counter[str] = Counter()
        self.sent: Counter[str] = Counter()
        self.closing = threading.Event()
        owner = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                owner._handle(self.request)

        class Server(socketserver.ThreadingTCPServer):
            daemon_threads = True
            allow_reuse_address = True

        self._server = Server(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,))
        self._thread.daemon = True

    def __enter__(self) -> HostileServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.closing.set()
        self._server.shutdown()
        self._server.server_close()

    def _handle(self, conn: socket.socket) -> None:
        head = b""
        conn.settimeout(5)
        with contextlib.suppress(OSError):
            while b"\r\n\r\n" not in head:
                chunk = conn.recv(65536)
                if not chunk:
                    return
                head += chunk
        lines = head.decode("latin-1").split("\r\n")
        path = lines[0].split(" ")[1].split("?")[0] if " " in lines[0] else "/"
        self.requests[path] += 1
        conn.settimeout(30)
        with contextlib.suppress(OSError):
            self._answer(conn, path, lines[1:])

    def _answer(self, conn: socket.socket, path: str, headers: list[str]) -> None:
        known = ("/silent", "/drip", "/drip-headers", "/huge", "/huge-stream")
        if self.fallback and path not in known and not path.startswith(("/echo/", "/retry-")):
            path = self.fallback
        if path == "/silent":
            self.closing.wait()
        elif path == "/drip":
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n")
            conn.sendall(b"Content-Length: 100000\r\n\r\n")
            for _ in self._ticks():
                conn.sendall(b" ")
                self.sent["/drip"] += 1
        elif path == "/drip-headers":
            conn.sendall(b"HTTP/1.1 200 OK\r\n")
            for _ in self._ticks():
                conn.sendall(b"X")
        elif path in ("/huge", "/huge-stream"):
            length = f"Content-Length: {HUGE_BYTES}\r\n" if path == "/huge" else ""
            conn.sendall(
                f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n{length}"
                "Connection: close\r\n\r\n".encode()
            )
            block = b"[" + b"0," * (1 << 19) + b"0]"
            while self.sent[path] < HUGE_BYTES and not self.closing.is_set():
                conn.sendall(block)
                self.sent[path] += len(block)
        elif path.startswith("/echo/"):
            status = int(path.split("/")[2])
            body = ("you sent:\n" + "\n".join(h for h in headers if h)).encode()
            conn.sendall(
                f"HTTP/1.1 {status} Echo\r\nContent-Type: text/plain; charset=utf-8\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
                + body
            )
        elif path.startswith("/retry-after/"):
            seconds = path.split("/")[2]
            conn.sendall(
                f"HTTP/1.1 429 Too Many Requests\r\nRetry-After: {seconds}\r\n"
                "Content-Length: 4\r\nConnection: close\r\n\r\nslow".encode()
            )
        else:
            conn.sendall(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")

    def _ticks(self) -> Iterator[None]:
        while not self.closing.wait(self.drip_every):
            yield None
        time.sleep(0)


class DripSmtp:
    """An SMTP "server" on 127.0.0.1 that sends its ``220`` greeting one byte every
    ``drip_every`` seconds, for ever; ``port`` is where it listens, ``sent`` the bytes sent."""

    def __init__(self, drip_every: float = 0.2) -> None:
        self.drip_every = drip_every
        self.sent = 0
        self.closing = threading.Event()
        owner = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                greeting = b"220 " + b"x" * 100_000
                with contextlib.suppress(OSError):
                    for byte in greeting:
                        if owner.closing.wait(owner.drip_every):
                            return
                        self.request.sendall(bytes([byte]))
                        owner.sent += 1

        class Server(socketserver.ThreadingTCPServer):
            daemon_threads = True
            allow_reuse_address = True

        self._server = Server(("127.0.0.1", 0), Handler)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,))
        self._thread.daemon = True

    def __enter__(self) -> DripSmtp:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.closing.set()
        self._server.shutdown()
        self._server.server_close()
