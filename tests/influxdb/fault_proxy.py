"""A loopback HTTP proxy in front of a real write endpoint that misbehaves on cue.

Each request takes the next scripted :class:`Fault` (then passes through once the script is
used up): answer with a status and headers without forwarding, close the connection
without answering, wait before forwarding (a slow server), or refuse with 400 every
request whose body holds a marker (the server finding bad data in a batch).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import requests


@dataclass
class Fault:
    """What the proxy does with one request."""

    status: int | None = None  # answer this instead of forwarding
    headers: dict[str, str] = field(default_factory=dict)
    body: str = ""
    close: bool = False  # drop the connection without an answer
    delay: float = 0.0  # wait this long, then forward (or answer)


@dataclass
class FaultProxy:
    """``url`` goes in ``[influxdb] url``; ``script`` is consumed one fault per request."""

    upstream: str
    script: list[Fault] = field(default_factory=list)
    reject_marker: str | None = None  # 400 for any body containing it
    requests_seen: int = 0
    bodies: list[str] = field(default_factory=list)
    url: str = ""
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def next_fault(self) -> Fault | None:
        with self._lock:
            self.requests_seen += 1
            return self.script.pop(0) if self.script else None


@contextmanager
def fault_proxy(upstream: str) -> Iterator[FaultProxy]:
    proxy = FaultProxy(upstream)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _relay(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            fault = proxy.next_fault()
            text = body.decode("utf-8", "replace")
            with proxy._lock:
                proxy.bodies.append(text)
            if fault is not None and fault.delay:
                time.sleep(fault.delay)
            if fault is not None and fault.close:
                self.close_connection = True
                self.connection.shutdown(2)
                return
            if fault is not None and fault.status is not None:
                self._answer(fault.status, fault.body.encode(), fault.headers)
                return
            if proxy.reject_marker and proxy.reject_marker in text:
                message = b'{"code":"invalid","message":"unable to parse points: bad value"}'
                self._answer(400, message, {"Content-Type": "application/json"})
                return
            reply = requests.request(
                self.command,
                proxy.upstream + self.path,
                data=body,
                headers={k: v for k, v in self.headers.items() if k.lower() != "host"},
                timeout=60,
            )
            self._answer(reply.status_code, reply.content, {})

        do_POST = _relay
        do_GET = _relay

        def _answer(self, status: int, body: bytes, headers: dict[str, str]) -> None:
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    proxy.url = f"http://127.0.0.1:{server.server_port}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield proxy
    finally:
        server.shutdown()
        server.server_close()
