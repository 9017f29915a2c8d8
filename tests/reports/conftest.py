"""A filled ledger for the report tests, and the settings that describe it.

Hunnan with three stations (one named like an HTML injection, one silent), one river
section with target class III, a good-day target for 2026 and a source that never ran.

* 2026-05-10: hourly observations of 1099A and 2900A go through the real evaluation
  (``evaluate_dirty``): PM2.5 40 ± 1 µg/m³ and PM10 60 ± 1 all day, except 2900A at PM2.5
  100 ± 1 and PM10 120 ± 1 for the hours labelled 08:00–10:00; other pollutants low. One
  SO2 value of 1099A is negative (a QC flag). A river reading at 08:00 is class IV (CODMn
  6.5, NH3-N 1.2, TP 0.25).
* 2026-01-01 … 2026-05-09 and April 2025: area daily rows written directly (both rule
  sets), with the April 2026 statistics below; an audited official AQI of 105 (PM10) for
  2026-04-01 replaces the computed 50.
"""

from __future__ import annotations

import email
import email.policy
import shutil
import socket
import ssl
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from monitor.collectors.base import observations
from monitor.ledger import Ledger
from monitor.service.evaluate import evaluate_dirty
from monitor.settings import Settings, load_settings
from tests.conftest import HUNNAN_LEDGER, area_daily_row

EVIL = '<script>alert("x")</script>&站'

CONFIG = (
    HUNNAN_LEDGER
    + f"""\

[[air_stations]]
code = "1099A"
name_zh = "浑南东路"
role = "evaluation"
areas = ["hunnan"]

[[air_stations]]
code = "2900A"
name_zh = '{EVIL}'
role = "evaluation"
areas = ["hunnan"]

[[air_stations]]
code = "1100A"
name_zh = "沈阳站"
role = "control"
areas = ["hunnan"]

[[water_sections]]
id = "hun_a"
name_zh = "浑河<b>甲</b>断面"
river = "浑河"
target_class = "III"

[[targets]]
kind = "good_day_ratio"
id = "good_days"
name = "优良天数比例 ≥ 80 %"
area = "hunnan"
year = 2026
goal = 0.80
rules = "hj633-2012"

[[targets]]
kind = "river_class"
id = "rivers"
name = "断面达标"
year = 2026
sections = ["hun_a"]

[[sources]]
name = "cnemc"
collector = "cnemc_air"

[reports]
daily_recipients = ["officer@example.org", "leader@example.org"]
monthly_recipients = ["leader@example.org"]

[smtp]
host = "127.0.0.1"
port = 1
security = "none"
from_address = "envmon@hunnan.example.org"
timeout = 5
"""
)

DAY = date(2026, 5, 10)
#: Hours (labels) of 2026-05-10 with PM2.5 100 µg/m³ (± 1) at 2900A.
BREACH_HOURS = (8, 9, 10)
APRIL = date(2026, 4, 1)
#: April 2026 area days: AQI and primary pollutant (computed), and the daily PM2.5 mean.
APRIL_AQI = [50.0] * 20 + [80.0] * 5 + [130.0] * 5
APRIL_PRIMARY = [""] * 20 + ["pm2_5"] * 5 + ["pm2_5"] * 3 + ["o3"] * 2
APRIL_PM25 = [30.0] * 20 + [50.0] * 5 + [90.0] * 5
APRIL_2025_PM25 = 40.0


def config_text(**smtp: object) -> str:
    """The settings, with [smtp] keys replaced."""
    text = CONFIG
    for key, value in smtp.items():
        lines = [
            f"{key} = {value!r}".replace("'", '"') if line.startswith(f"{key} = ") else line
            for line in text.splitlines()
        ]
        text = "\n".join(lines) + "\n"
    return text


def _hours(day: date) -> pd.DatetimeIndex:
    return pd.date_range(pd.Timestamp(day), periods=24, freq="h", tz="Asia/Shanghai")


def _air(site: str, pm25: list[float], pm10: list[float], day: date) -> pd.DataFrame:
    """Hourly values alternating ± a little around their level (a constant would be
    flagged ``stuck`` and left out)."""
    ends = _hours(day)
    wobble = np.where(np.arange(24) % 2 == 0, -1.0, 1.0)
    levels = {"so2": (5.0, 1.0), "no2": (10.0, 1.0), "co": (0.5, 0.1), "o3": (50.0, 2.0)}
    frames = []
    for parameter, values in [
        *((k, level + step * wobble) for k, (level, step) in levels.items()),
        ("pm10", np.asarray(pm10) + wobble),
        ("pm2_5", np.asarray(pm25) + wobble),
    ]:
        frames.append(
            observations(
                site,
                parameter,
                (ends - pd.Timedelta(hours=1)).to_numpy(),
                ends.to_numpy(),
                np.asarray(values, dtype=float),
            )
        )
    return pd.concat(frames, ignore_index=True)


def _area_rows(
    first: date, aqi: list[float], primary: list[str], pm25: list[float]
) -> list[dict[str, Any]]:
    rows = []
    for i, value in enumerate(aqi):
        day = first + timedelta(days=i)
        statistics = {"so2": 8.0, "no2": 20.0, "co": 0.6, "pm10": 60.0, "pm2_5": pm25[i]}
        statistics |= {"o3_1h_max": 120.0, "o3_8h_max": 100.0}
        for standard in ("hj633-2012", "hj633-2026"):
            rows.append(
                area_daily_row(
                    day, standard, value, **statistics, level=1, primary_pollutants=primary[i]
                )
            )
    return rows


def fill(ledger: Ledger, settings: Settings) -> None:
    """Fill the ledger as the module docstring says."""
    pm25_2900, pm10_2900 = [40.0] * 24, [60.0] * 24
    for hour in BREACH_HOURS:
        pm25_2900[hour], pm10_2900[hour] = 100.0, 120.0
    air = pd.concat(
        [_air("1099A", [40.0] * 24, [60.0] * 24, DAY), _air("2900A", pm25_2900, pm10_2900, DAY)]
    )
    air = air.reset_index(drop=True)
    first_so2 = air.index[(air["site"] == "1099A") & (air["parameter"] == "so2")][0]
    air.loc[first_so2, "value"] = -3.0
    ledger.write_observations(air, "cnemc")
    end = pd.Timestamp("2026-05-10 08:00", tz="Asia/Shanghai")
    values = {"ph": 7.6, "do": 5.2, "codmn": 6.5, "nh3n": 1.2, "tp": 0.25}
    ledger.write_observations(
        observations("hun_a", list(values), end, end, list(values.values())), "water"
    )
    evaluate_dirty(ledger, settings)
    # Days before the reported day, written directly (after the evaluation, which also
    # re-evaluates the previous day for its quality checks).
    rows = _area_rows(date(2026, 1, 1), [50.0] * 70 + [120.0] * 20, ["pm2_5"] * 90, [30.0] * 90)
    rows += _area_rows(APRIL, APRIL_AQI, APRIL_PRIMARY, APRIL_PM25)
    rows += _area_rows(date(2026, 5, 1), [50.0] * 9, [""] * 9, [30.0] * 9)
    rows += _area_rows(date(2025, 4, 1), [60.0] * 30, ["pm10"] * 30, [APRIL_2025_PM25] * 30)
    ledger.replace_derived("daily_aqi", pd.DataFrame(rows), ("site", "date", "standard"))
    official = pd.DataFrame(
        [
            {
                "area": "hunnan",
                "date": "2026-04-01",
                "aqi": 105.0,
                "category": "轻度污染",
                "primary_pollutants": "PM10",
                "dust": False,
            }
        ]
    )
    ledger.write_official_daily(official, "official.csv")


@pytest.fixture
def config(tmp_path: Path) -> Path:
    """The settings file (SMTP on a closed port until a test says otherwise)."""
    path = tmp_path / "envmon.toml"
    path.write_text(CONFIG, encoding="utf-8")
    return path


@pytest.fixture
def settings(config: Path) -> Settings:
    """The loaded settings."""
    return load_settings(config, {})


@pytest.fixture
def ledger(config: Path, settings: Settings) -> Iterator[Ledger]:
    """The filled ledger beside the settings file."""
    with Ledger.open(config.parent / "ledger.sqlite") as opened:
        fill(opened, settings)
        yield opened


def free_port() -> int:
    """A loopback port nothing listens on (just now)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Received:
    """One message the test SMTP server took."""

    sender: str
    recipients: list[str]
    data: bytes
    tls: bool = False  #: the session was encrypted (STARTTLS or SMTPS)

    @property
    def message(self) -> EmailMessage:
        parsed = email.message_from_bytes(self.data, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed


@dataclass
class SmtpServer:
    """A real SMTP server (aiosmtpd) on 127.0.0.1, started and stopped by the test."""

    port: int
    received: list[Received] = field(default_factory=list)
    logins: list[tuple[str, str]] = field(default_factory=list)
    controller: Any = None

    def start(
        self, *, password: str | None = None, tls: str = "", cert: Path | None = None
    ) -> None:
        """Listen; ``tls`` "starttls" (required) or "tls" (SMTPS) with ``cert``'s key pair."""
        from aiosmtpd.controller import Controller
        from aiosmtpd.smtp import AuthResult

        server = self

        class Handler:
            async def handle_DATA(self, smtp: Any, session: Any, envelope: Any) -> str:
                encrypted = (
                    smtp._tls_protocol is not None  # after STARTTLS
                    or smtp.transport.get_extra_info("ssl_object") is not None  # SMTPS
                )
                server.received.append(
                    Received(
                        envelope.mail_from,
                        list(envelope.rcpt_tos),
                        envelope.original_content,
                        tls=encrypted,
                    )
                )
                return "250 OK"

        def authenticator(
            smtp: Any, session: Any, envelope: Any, mechanism: str, auth: Any
        ) -> Any:
            user = auth.login.decode()
            given = auth.password.decode()
            server.logins.append((user, given))
            return AuthResult(success=given == password, handled=False)

        options: dict[str, Any] = {}
        if password is not None:
            options = {
                "authenticator": authenticator,
                "auth_require_tls": False,
                "auth_exclude_mechanism": ["LOGIN"],  # PLAIN only: one answer per attempt
            }
        if tls:
            assert cert is not None
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(cert, cert.with_suffix(".key"))
            if tls == "starttls":
                options |= {"tls_context": context, "require_starttls": True}
            else:
                options |= {"ssl_context": context}
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port, **options)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    """An SMTP server on a free loopback port, not started yet (``start()`` it)."""
    server = SmtpServer(free_port())
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A self-signed certificate for 127.0.0.1 (``.pem``, key beside it as ``.key``)."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl is not installed (Debian package openssl; .ci/run installs it)")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "server.pem", folder / "server.key"
    subprocess.run(
        [
            openssl,
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=DNS:localhost,IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return cert
