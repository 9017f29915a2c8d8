"""Shared fixtures: a real HTTP server on 127.0.0.1 that serves recorded responses."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from hypothesis import settings as hypothesis_settings

pytest_plugins = ["tests.engines"]

# Speed is measured in benchmarks/, never asserted in tests: Hypothesis' deadline of 200 ms
# per example would only make property tests fail on a loaded 2-core machine. On CI (as
# Hypothesis detects it: ``CI`` set, ``GITHUB_ACTIONS``, ...) Hypothesis has loaded its own
# "ci" profile, which has no deadline either.
hypothesis_settings.register_profile("envmon", deadline=None)
if hypothesis_settings.get_current_profile_name() != "ci":
    hypothesis_settings.load_profile("envmon")

DATA: Path = Path(__file__).parent / "data"

#: Settings with the Hunnan area only and the ledger beside the settings file; append
#: stations, sources, sections or targets as a test needs them.
HUNNAN_LEDGER = """\
[district]
name = "Hunnan District"
name_zh = "浑南区"

[ledger]
path = "ledger.sqlite"

[[areas]]
id = "hunnan"
name = "Hunnan District"
name_zh = "浑南区"
"""

#: Settings with the Hunnan area and two of its stations (1099A, 2900A), for tests that need
#: a district; append sources, sections or targets as a test needs them.
HUNNAN_TWO_STATIONS = """\
[district]
name = "Hunnan District"
name_zh = "浑南区"

[[areas]]
id = "hunnan"
name = "Hunnan District"
name_zh = "浑南区"

[[air_stations]]
code = "1099A"
name_zh = "浑南东路"
role = "evaluation"
areas = ["hunnan"]

[[air_stations]]
code = "2900A"
name_zh = "裕农路"
role = "evaluation"
areas = ["hunnan"]
"""


#: The settings head of the daemon tests: one evaluation station of one area, a ledger
#: file beside the settings and the health server on a free port ([[sources]] follow).
ONE_STATION_DAEMON = """\
[district]
name = "Hunnan District"
name_zh = "浑南区"

[ledger]
path = "ledger.sqlite"

[service]
http_port = 0

[[areas]]
id = "hunnan"
name = "Hunnan District"
name_zh = "浑南区"

[[air_stations]]
code = "1099A"
name_zh = "浑南东路"
role = "evaluation"
areas = ["hunnan"]
"""


@dataclass
class Reply:
    """One scripted answer: status, body, headers, and an optional delay before answering."""

    body: bytes = b""
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    content_type: str = "application/json; charset=utf-8"
    truncate: bool = False  # send the headers and half the body, then close


@dataclass
class RecordedServer:
    """A loopback HTTP server answering each path with scripted replies, in order.

    ``routes[path]`` is a list of replies; each request to the path takes the next one, and
    the last one repeats. Requests are recorded as (path, query string).
    """

    url: str
    routes: dict[str, list[Reply]]
    requests: list[tuple[str, str]]

    def add(self, path: str, *replies: Reply) -> None:
        """Script the replies for a path (replacing earlier ones)."""
        self.routes[path] = list(replies)

    def add_file(self, path: str, file: Path, **kwargs: object) -> None:
        """Serve a recorded file from tests/data for a path."""
        self.add(path, Reply(body=file.read_bytes(), **kwargs))  # type: ignore[arg-type]


def area_daily_row(day: date, standard: str, aqi: float | None, **columns: Any) -> dict[str, Any]:
    """One computed ``daily_aqi`` row of the area ``hunnan`` under ``standard``, official when
    that rule set is in force on the day (HJ 633-2026 from 2026-03-01); the daily statistics
    empty, level 2 with PM2.5 primary, unless ``columns`` say otherwise."""
    in_force = "hj633-2026" if day >= date(2026, 3, 1) else "hj633-2012"
    row: dict[str, Any] = {
        "site": "hunnan",
        "date": day.isoformat(),
        "standard": standard,
        "official": int(standard == in_force),
        "is_area": 1,
        "so2": None,
        "no2": None,
        "co": None,
        "pm10": None,
        "pm2_5": None,
        "o3_1h_max": None,
        "o3_8h_max": None,
        "invalid_statistics": "",
        "aqi": aqi,
        "level": 2,
        "primary_pollutants": "pm2_5",
        "exceedance_pollutants": "",
        "complete": 1,
        "computed_at": 0,
    }
    return row | columns


@contextlib.contextmanager
def serving(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    """A real HTTP server with ``handler`` on a free loopback port, for the block; its URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def recorded_server() -> Iterator[RecordedServer]:
    """Start a real HTTP server on a free loopback port; stop it after the test."""
    routes: dict[str, list[Reply]] = {}
    seen: list[tuple[str, str]] = []
    counters: dict[str, int] = {}
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path, _, query = self.path.partition("?")
            with lock:
                seen.append((path, query))
                replies = routes.get(path)
                if not replies:
                    reply = Reply(body=b"not found", status=404, content_type="text/plain")
                else:
                    index = min(counters.get(path, 0), len(replies) - 1)
                    counters[path] = counters.get(path, 0) + 1
                    reply = replies[index]
            if reply.delay:
                time.sleep(reply.delay)
            self.send_response(reply.status)
            self.send_header("Content-Type", reply.content_type)
            for key, value in reply.headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(reply.body)))
            self.end_headers()
            body = reply.body[: len(reply.body) // 2] if reply.truncate else reply.body
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                self.wfile.write(body)
            if reply.truncate:
                self.close_connection = True

        def log_message(self, format: str, *args: object) -> None:  # quiet
            pass

    with serving(Handler) as url:
        yield RecordedServer(url, routes, seen)


#: A reading that the ``poisoned_evaluation`` fixture makes evaluation raise on.
POISON_VALUE = 1.2345
POISON_ERROR = "simulated defect in a domain function"


@pytest.fixture
def poisoned_evaluation(monkeypatch: pytest.MonkeyPatch) -> str:
    """Make the water evaluation of any site-day holding the value :data:`POISON_VALUE` raise.

    Every real input known to break evaluation is now refused at intake or flagged by QC
    (an infinite NH3-N is ``implausible``), so a fault-isolation test injects the fault an
    unforeseen defect would be: the rest of the pipeline is real. Returns the error text.
    """
    from monitor.service import evaluate

    original = evaluate._water

    def water(obs: pd.DataFrame, *args: Any, **kwargs: Any) -> pd.DataFrame:
        if (obs["value"] == POISON_VALUE).any():
            raise ValueError(POISON_ERROR)
        return original(obs, *args, **kwargs)

    monkeypatch.setattr(evaluate, "_water", water)
    return POISON_ERROR


@pytest.fixture(autouse=True)
def _forget_secrets() -> Iterator[None]:
    """Secrets register themselves for masking process-wide when settings are read: each
    test starts and ends with none, so one test's password never masks another's output."""
    from monitor import redact

    redact.reset()
    yield
    redact.reset()


# Fixtures defined beside their stand-ins (imported last: they use the helpers above).
from tests.water_platform import platform  # noqa: E402, F401
