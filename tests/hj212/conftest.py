"""A real HJ 212 receiver on 127.0.0.1 with a real SQLite ledger, and a small TCP client."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from monitor.hj212.protocol import Frame, Framer, Packet, build_packet, parse_segment
from monitor.hj212.server import Receiver
from monitor.settings import HJ212Settings, HJ212Station, Secret

MN = "ABCDEF0123456789ABCDEF01"
PASSWORD = "123456"


def station(
    mn: str = MN, site: str = "hn01", password: str = PASSWORD, **kw: object
) -> HJ212Station:
    """A registered station whose password was read from the environment."""
    return HJ212Station(
        mn=mn,
        site=site,
        password_env="ENVMON_HJ212_PW_TEST",
        password=Secret(password),
        **kw,  # type: ignore[arg-type]
    )


def segment(
    cn: str = "2061",
    cp: str = "DataTime=20250101080000;a34004-Avg=38.2,a34004-Flag=N",
    *,
    mn: str = MN,
    pw: str = PASSWORD,
    flag: int = 5,
    qn: str = "20250101090000123",
    st: str = "22",
) -> bytes:
    return f"QN={qn};ST={st};CN={cn};PW={pw};MN={mn};Flag={flag};CP=&&{cp}&&".encode()


def packet(*args: object, **kw: object) -> bytes:
    return build_packet(segment(*args, **kw))  # type: ignore[arg-type]


#: Clients opened by a test, closed by the ``start_receiver`` fixture afterwards.
_OPEN: list[Client] = []


class Client:
    """A blocking TCP client that reads framed replies."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        _OPEN.append(self)
        self.framer = Framer(10011)
        self.replies: list[Packet] = []

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def replies_until(self, n: int, timeout: float = 10.0) -> list[Packet]:
        """Read until ``n`` replies arrived (or the timeout, or the server closed)."""
        deadline = time.monotonic() + timeout
        while len(self.replies) < n and time.monotonic() < deadline:
            self.sock.settimeout(max(deadline - time.monotonic(), 0.01))
            try:
                data = self.sock.recv(65536)
            except TimeoutError:
                break
            if not data:
                break
            for event in self.framer.feed(data):
                if isinstance(event, Frame):
                    self.replies.append(parse_segment(event.segment))
        return self.replies

    def closed_by_server(self, timeout: float = 10.0) -> bool:
        """Whether the server closes the connection within ``timeout`` s."""
        self.sock.settimeout(timeout)
        try:
            while True:
                data = self.sock.recv(65536)
                if not data:
                    return True
        except TimeoutError:
            return False
        except ConnectionError:
            return True

    def close(self) -> None:
        self.sock.close()
        if self in _OPEN:
            _OPEN.remove(self)


StartReceiver = Callable[..., Receiver]


@pytest.fixture
def start_receiver(tmp_path: Path) -> Iterator[StartReceiver]:
    """Start a receiver (port 0) on a ledger in tmp_path; stopped at the end."""
    started: list[Receiver] = []

    def start(*stations: HJ212Station, **limits: object) -> Receiver:
        settings = replace(
            HJ212Settings(enabled=True, port=0),
            stations=stations or (station(),),
            **limits,  # type: ignore[arg-type]
        )
        receiver = Receiver(settings, tmp_path / "ledger.sqlite")
        receiver.start()
        started.append(receiver)
        return receiver

    yield start
    while _OPEN:
        _OPEN.pop().close()
    for receiver in started:
        receiver.stop()


def wait_for(condition: Callable[[], bool], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return condition()
