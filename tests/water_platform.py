"""A loopback stand-in for the national surface-water platform's ``Publish.ashx``.

Shared by the collector's tests and the end-to-end command tests: it enforces what real
clients must do (Main.html, then a POST of ``getArea_RiverDic``, before ``getRealDatas``
answers anything but ``-1``) and serves recorded answers from tests/data/cnemc_water.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qs

import pytest

from tests.conftest import DATA, Reply, serving

FILES = DATA / "cnemc_water"
ENDPOINT = "/GJZ/Ajax/Publish.ashx"
PAGE = "/GJZ/Business/Publish/Main.html"


@dataclass
class Platform:
    """A loopback stand-in for ``Publish.ashx`` that behaves as the real platform is reported
    to: ``getRealDatas`` answers text/plain ``-1`` until the session (cookie) has loaded
    ``Main.html`` and POSTed ``action=getArea_RiverDic``; data only over POST forms; a page
    holds at most ``row_cap`` rows whatever PageSize asks (a too large page is truncated).
    """

    url: str
    replies: list[Reply] = field(default_factory=list)
    requests: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)
    sessions: dict[str, str] = field(default_factory=dict)
    row_cap: int | None = None

    def script(self, *replies: Reply) -> None:
        """Answers of getRealDatas (once the session is warm), in order; the last repeats."""
        self.replies[:] = replies

    def script_files(self, *names: str) -> None:
        self.script(*(Reply(body=(FILES / name).read_bytes()) for name in names))

    def expire(self) -> None:
        """Forget every session (the server restarted): the next call is cold again."""
        self.sessions.clear()

    def forms(self, action: str = "getRealDatas") -> list[dict[str, str]]:
        return [f for m, p, f in self.requests if p == ENDPOINT and f.get("action") == action]


@pytest.fixture
def platform() -> Iterator[Platform]:
    state = Platform(url="")
    lock = threading.Lock()
    served = [0]

    class Handler(BaseHTTPRequestHandler):
        def _session(self) -> str:
            cookie = SimpleCookie(self.headers.get("Cookie", ""))
            return cookie["ASP.NET_SessionId"].value if "ASP.NET_SessionId" in cookie else ""

        def _send(self, reply: Reply, cookie: str = "") -> None:
            if reply.delay:
                time.sleep(reply.delay)
            self.send_response(reply.status)
            self.send_header("Content-Type", reply.content_type)
            if cookie:
                self.send_header("Set-Cookie", f"ASP.NET_SessionId={cookie}; path=/")
            self.send_header("Content-Length", str(len(reply.body)))
            self.end_headers()
            body = reply.body[: len(reply.body) // 2] if reply.truncate else reply.body
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                self.wfile.write(body)
            if reply.truncate:
                self.close_connection = True

        def do_GET(self) -> None:
            path = self.path.partition("?")[0]
            with lock:
                state.requests.append(("GET", path, {}))
                if path != PAGE:
                    reply = Reply(body=b"not found", status=404, content_type="text/plain")
                    self._send(reply)
                    return
                session = uuid.uuid4().hex
                state.sessions[session] = "page"
            html_page = (FILES / "main.html").read_bytes()
            self._send(Reply(body=html_page, content_type="text/html"), cookie=session)

        def do_POST(self) -> None:
            path = self.path.partition("?")[0]
            length = int(self.headers.get("Content-Length", "0"))
            raw = self.rfile.read(length).decode("utf-8")
            form = {k: v[0] for k, v in parse_qs(raw, keep_blank_values=True).items()}
            with lock:
                state.requests.append(("POST", path, form))
                session = self._session()
                action = form.get("action")
                if path != ENDPOINT:
                    reply = Reply(body=b"not found", status=404, content_type="text/plain")
                elif action == "getArea_RiverDic":
                    if state.sessions.get(session) in ("page", "warm"):
                        state.sessions[session] = "warm"
                    reply = Reply(body=(FILES / "area_river_dic.json").read_bytes())
                elif action == "getRealDatas" and state.sessions.get(session) != "warm":
                    reply = Reply(body=b"-1", content_type="text/plain")
                elif action == "getRealDatas":
                    index = min(served[0], len(state.replies) - 1)
                    served[0] += 1
                    reply = state.replies[index]
                    if state.row_cap is not None and reply.status == 200:
                        payload = json.loads(reply.body)
                        payload["tbody"] = payload["tbody"][: state.row_cap]
                        reply = Reply(body=json.dumps(payload, ensure_ascii=False).encode())
                else:
                    reply = Reply(body=b"unknown action", status=500, content_type="text/plain")
            self._send(reply)

        def log_message(self, format: str, *args: object) -> None:  # quiet
            pass

    with serving(Handler) as state.url:
        yield state
