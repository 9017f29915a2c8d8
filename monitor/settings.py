"""Settings of envmon: one typed tree of frozen dataclasses, loaded from a TOML file.

The file (``config/hunnan.toml`` for the first deployment) describes the district, its
areas, air stations, water sections and the targets of the district plan. It holds **no
secrets**: passwords and tokens come only from ``ENVMON_*`` environment variables and are
masked in ``repr`` and in ``envmon config check``.

:func:`load_settings` validates eagerly and raises :class:`~monitor.errors.ConfigError`
listing *every* problem at once: a missing file, a TOML syntax error, unknown keys,
wrong types, duplicate ids, references to unknown ids, values out of range and secrets
written in the file. A problem starts with the key path, ``air_stations[3].code``; list
indexes count from 0 in file order.

Every setting is declared once, as a dataclass field whose metadata carries its help text;
:func:`settings_reference` lists them all (key, type, default, help), which is what the
README's settings table is checked against.

Paths
-----
The ledger is found by :func:`resolve_ledger_path`, first match wins:

1. ``--ledger PATH`` on the command line (relative: to the current directory);
2. ``[ledger] path`` in the settings file (relative: **to the settings file's folder**, so
   the same file means the same ledger whatever directory the daemon starts in);
3. ``$ENVMON_LEDGER`` (relative: to the current directory);
4. :data:`DEFAULT_LEDGER`, ``data/envmon.sqlite`` (relative to the current directory).

Containers
----------
A few settings can be set over the file from the environment (:data:`ENV_OVERRIDES`:
``ENVMON_HTTP_HOST``, ``ENVMON_INFLUXDB_*``, ``ENVMON_HJ212_HOST``, ``ENVMON_SMTP_*``; and
:data:`MAIL_TO_ENV`, ``ENVMON_MAIL_TO``, the one list of recipients of reports and alert
e-mails), so that the Docker stack runs the same file as a host install and envmon and
Grafana share one mail path; a bad value is reported under its key, naming the variable.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import difflib
import os
import re
import tomllib
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Literal, TypeAlias, Union
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from monitor import redact
from monitor.errors import ConfigError

__all__ = [
    "DEFAULT_LEDGER",
    "ENV_OVERRIDES",
    "MAIL_TO_ENV",
    "AirStation",
    "AnnualMeanTarget",
    "Area",
    "CountTarget",
    "DistrictSettings",
    "EvaluationSettings",
    "GoodDayRatioTarget",
    "GrafanaSettings",
    "HJ212Settings",
    "HJ212Station",
    "HeavyPollutionDaysTarget",
    "InfluxSettings",
    "LedgerSettings",
    "Milestone",
    "MilestonesTarget",
    "ModelPoint",
    "QualitySettings",
    "ReportSettings",
    "RiverClassTarget",
    "Secret",
    "SecretSettings",
    "ServiceSettings",
    "SettingDoc",
    "Settings",
    "SmtpSettings",
    "SourceSettings",
    "Target",
    "WaterSection",
    "hj212_password_problems",
    "load_settings",
    "mail_security_mismatch",
    "required_mail",
    "required_secrets",
    "resolve_ledger_path",
    "settings_reference",
    "summarize",
]

#: Ledger used when neither ``--ledger``, the settings file nor ``$ENVMON_LEDGER`` names one.
DEFAULT_LEDGER = Path("data/envmon.sqlite")

#: Environment variable naming the ledger when the settings file does not.
LEDGER_ENV = "ENVMON_LEDGER"

#: Settings the environment sets over the file: ``variable → (table, key)``. They let one
#: settings file serve both a host install and a container, where the health endpoint must
#: listen on 0.0.0.0 and InfluxDB is a service of the compose stack (docker-compose.yml).
ENV_OVERRIDES: dict[str, tuple[str, str]] = {
    "ENVMON_HTTP_HOST": ("service", "http_host"),
    "ENVMON_INFLUXDB_ENABLED": ("influxdb", "enabled"),
    "ENVMON_INFLUXDB_URL": ("influxdb", "url"),
    "ENVMON_INFLUXDB_ORG": ("influxdb", "org"),
    "ENVMON_INFLUXDB_BUCKET": ("influxdb", "bucket"),
    "ENVMON_HJ212_HOST": ("hj212", "host"),
    # the mail path: envmon's reports and (through docker compose) Grafana's alert e-mails
    "ENVMON_SMTP_HOST": ("smtp", "host"),
    "ENVMON_SMTP_PORT": ("smtp", "port"),
    "ENVMON_SMTP_SECURITY": ("smtp", "security"),
    "ENVMON_SMTP_USER": ("smtp", "user"),
    "ENVMON_SMTP_FROM": ("smtp", "from_address"),
}

#: The one list of e-mail recipients: ``;``-separated addresses (Grafana's separator) that
#: set every recipient list over the file, so that envmon's reports and Grafana's alert
#: e-mails (whose contact point reads the same variable) go to the same people.
MAIL_TO_ENV = "ENVMON_MAIL_TO"
MAIL_TO_KEYS: tuple[tuple[str, str], ...] = (
    ("reports", "daily_recipients"),
    ("reports", "monthly_recipients"),
    ("grafana", "contact_emails"),
)

# Key names that hold secrets; such keys are refused in the file.
_SECRET_KEY = re.compile(r"password|passwd|token|secret|api_?key|credential", re.IGNORECASE)

_ID_PATTERN = (r"[a-z][a-z0-9_]*", "lower-case letters, digits and _, starting with a letter")
_STATION_CODE = (r"[0-9]{4}A", "four digits and A, as on the national platform (e.g. 1099A)")

# An email address as reports are sent to: one @, no spaces or list separators.
_EMAIL = re.compile(r"[^@\s<>,;]+@[^@\s<>,;]+\.[^@\s<>,;]+")

Check = Callable[[Any], "str | None"]


def setting(
    help: str,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    pattern: tuple[str, str] | None = None,
    check: Check | None = None,
    hint: str = "",
    min_items: int = 0,
) -> dict[str, Any]:
    """Field metadata declaring one setting: its help text and the checks on its value.

    Used as ``name: str = field(default="x", metadata=setting("help"))``.
    """
    return {
        "help": help,
        "minimum": minimum,
        "maximum": maximum,
        "pattern": pattern,
        "check": check,
        "hint": hint,
        "min_items": min_items,
    }


def _check_timezone(value: str) -> str | None:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        return f"unknown time zone {value!r}; expected an IANA name such as 'Asia/Shanghai'"
    return None


# --------------------------------------------------------------------------- secrets


class Secret:
    """A secret string read from the environment; ``repr`` and ``str`` never show it."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value
        redact.register(value)  # masked in every message, log line and health field

    def reveal(self) -> str:
        """The secret itself, for the one call that needs it (a login, a header)."""
        return self._value

    def __repr__(self) -> str:
        return "Secret('********')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


def secret(env: str, help: str) -> dict[str, Any]:
    """Field metadata declaring a secret: read only from the environment variable
    ``env``, never from the file."""
    return {"help": help, "env": env}


@dataclass(frozen=True, kw_only=True)
class SecretSettings:
    """Secrets, from ``ENVMON_*`` environment variables only. Unset means not configured."""

    smtp_password: Secret | None = field(
        default=None,
        metadata=secret("ENVMON_SMTP_PASSWORD", "password of the SMTP account that sends reports"),
    )
    influxdb_token: Secret | None = field(
        default=None,
        metadata=secret(
            "ENVMON_INFLUXDB_TOKEN", "InfluxDB API token with write access to the bucket"
        ),
    )
    grafana_token: Secret | None = field(
        default=None,
        metadata=secret(
            "ENVMON_GRAFANA_TOKEN",
            "Grafana service-account token for `envmon grafana provision` and `check`",
        ),
    )

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> SecretSettings:
        """Read every declared secret; an unset or empty variable gives ``None``."""
        values = {}
        for f in dataclasses.fields(cls):
            raw = environ.get(f.metadata["env"], "")
            values[f.name] = Secret(raw) if raw else None
        return cls(**values)


# --------------------------------------------------------------------------- the tree


@dataclass(frozen=True, kw_only=True)
class DistrictSettings:
    """The district the service reports on."""

    name: str = field(metadata=setting("name of the district, in English"))
    name_zh: str = field(metadata=setting("name of the district, in Chinese"))
    timezone: str = field(
        default="Asia/Shanghai",
        metadata=setting(
            "IANA time zone of the district's dates (days, months, years)", check=_check_timezone
        ),
    )


@dataclass(frozen=True, kw_only=True)
class LedgerSettings:
    """Where the ledger (SQLite, the system of record) lives."""

    path: str | None = field(
        default=None,
        metadata=setting(
            "ledger file; relative to this file's folder. Unset: $ENVMON_LEDGER, else "
            "data/envmon.sqlite. --ledger overrides both"
        ),
    )
    future_tolerance_minutes: int = field(
        default=60,
        metadata=setting(
            "how far ahead of now a time may lie for the ledger to accept it [min]; later "
            "rows are refused at intake (a wrong date or clock)",
            minimum=0,
            maximum=1440,
        ),
    )


@dataclass(frozen=True, kw_only=True)
class Area:
    """An area results are reported for (the district, the city)."""

    id: str = field(
        metadata=setting("identifier used by stations, sections and targets", pattern=_ID_PATTERN)
    )
    name: str = field(metadata=setting("name, in English"))
    name_zh: str = field(metadata=setting("name, in Chinese"))
    note: str = field(
        default="",
        metadata=setting("free text: how the area's figures are formed, open questions"),
    )
    min_stations: int | None = field(
        default=None,
        metadata=setting(
            "evaluation stations with a value an area value needs (fewer: NA); unset: at "
            "least half of the area's evaluation stations, rounded up",
            minimum=1,
        ),
    )


@dataclass(frozen=True, kw_only=True)
class AirStation:
    """An air monitoring station (national network site)."""

    code: str = field(
        metadata=setting("station code on the national platform", pattern=_STATION_CODE)
    )
    name_zh: str = field(
        metadata=setting("station name, in Chinese, as the platform publishes it")
    )
    name: str = field(default="", metadata=setting("station name, in English or pinyin"))
    role: Literal["evaluation", "control"] = field(
        metadata=setting(
            "evaluation: counts in its areas' averages; control (对照点): background site, "
            "never averaged"
        )
    )
    areas: tuple[str, ...] = field(
        default=(), metadata=setting("ids of the areas the station lies in")
    )
    confirmed: bool = field(
        default=False,
        metadata=setting(
            "true when the station's areas are confirmed by a source; false: to confirm"
        ),
    )
    note: str = field(default="", metadata=setting("free text: source, what is to confirm"))
    latitude: float | None = field(
        default=None,
        metadata=setting("latitude [degrees north], only with a source", minimum=-90, maximum=90),
    )
    longitude: float | None = field(
        default=None,
        metadata=setting(
            "longitude [degrees east], only with a source", minimum=-180, maximum=180
        ),
    )


@dataclass(frozen=True, kw_only=True)
class WaterSection:
    """A surface-water monitoring section (断面)."""

    id: str = field(metadata=setting("identifier used by targets", pattern=_ID_PATTERN))
    name_zh: str = field(metadata=setting("section name, in Chinese"))
    name: str = field(default="", metadata=setting("section name, in English or pinyin"))
    water_body: Literal["river", "lake", "reservoir"] = field(
        default="river",
        metadata=setting(
            "type of water body; lakes and reservoirs have their own total-phosphorus limits "
            "(GB 3838-2002 Table 1)"
        ),
    )
    river: str = field(metadata=setting("river or water body the section is on, in Chinese"))
    level: Literal["national", "provincial", "municipal", "unknown"] = field(
        default="unknown",
        metadata=setting(
            "control level: national (国控), provincial (省控), municipal (市控) or unknown"
        ),
    )
    target_class: Literal["I", "II", "III", "IV", "V"] | None = field(
        default=None,
        metadata=setting("target water class (目标类别), GB 3838-2002; unset: not known yet"),
    )
    areas: tuple[str, ...] = field(
        default=(), metadata=setting("ids of the areas the section lies in")
    )
    confirmed: bool = field(
        default=False,
        metadata=setting("true when level, location and target class are confirmed by a source"),
    )
    note: str = field(default="", metadata=setting("free text: source, what is to confirm"))


@dataclass(frozen=True, kw_only=True)
class _TargetBase:
    id: str = field(metadata=setting("identifier of the target", pattern=_ID_PATTERN))
    name: str = field(metadata=setting("what the plan says, in a few words"))
    year: int = field(metadata=setting("year the target is for", minimum=2000, maximum=2100))
    confirmed: bool = field(
        default=False,
        metadata=setting("true when the target's wording and scope are confirmed by the plan"),
    )
    note: str = field(default="", metadata=setting("free text: source, what is to confirm"))


@dataclass(frozen=True, kw_only=True)
class GoodDayRatioTarget(_TargetBase):
    """Share of good days (优良天数比例, AQI ≤ 100) in an area, at least ``goal``."""

    kind: Literal["good_day_ratio"] = field(
        default="good_day_ratio",
        metadata=setting("target kind: selects which keys this table takes"),
    )
    area: str = field(metadata=setting("id of the area"))
    goal: float = field(
        metadata=setting(
            "minimum share of good days among valid days [0–1]",
            minimum=0,
            maximum=1,
            hint="write a share, e.g. 0.80 for 80 %",
        )
    )
    rules: Literal["hj633-2012", "hj633-2026"] = field(
        metadata=setting("AQI rule set the goal was set under (hj633-2012 or hj633-2026)")
    )


@dataclass(frozen=True, kw_only=True)
class AnnualMeanTarget(_TargetBase):
    """Annual mean concentration of a pollutant in an area, at most ``limit``."""

    kind: Literal["annual_mean"] = field(
        default="annual_mean", metadata=setting("target kind: selects which keys this table takes")
    )
    area: str = field(metadata=setting("id of the area"))
    pollutant: Literal["pm2_5", "pm10", "so2", "no2"] = field(
        metadata=setting("pollutant with an annual-mean evaluation item (GB 3095)")
    )
    limit: float = field(metadata=setting("maximum annual mean [µg/m³]", minimum=0))


@dataclass(frozen=True, kw_only=True)
class HeavyPollutionDaysTarget(_TargetBase):
    """Heavy-pollution days (重污染天, AQI > 200) in an area, at most ``max``."""

    kind: Literal["heavy_pollution_days"] = field(
        default="heavy_pollution_days",
        metadata=setting("target kind: selects which keys this table takes"),
    )
    area: str = field(metadata=setting("id of the area"))
    max: int = field(
        metadata=setting("maximum number of heavy-pollution days in the year", minimum=0)
    )


@dataclass(frozen=True, kw_only=True)
class RiverClassTarget(_TargetBase):
    """Each listed section meets its own ``target_class``."""

    kind: Literal["river_class"] = field(
        default="river_class", metadata=setting("target kind: selects which keys this table takes")
    )
    sections: tuple[str, ...] = field(metadata=setting("ids of the water sections", min_items=1))


@dataclass(frozen=True, kw_only=True)
class Milestone:
    """One item of a milestones target."""

    name: str = field(metadata=setting("what is to be done (e.g. a river's source treatment)"))
    due: dt.date | None = field(default=None, metadata=setting("date it is due (YYYY-MM-DD)"))
    done: dt.date | None = field(
        default=None, metadata=setting("date it was done (YYYY-MM-DD); unset: open")
    )
    confirmed: bool = field(
        default=False, metadata=setting("true when the item is confirmed by the plan")
    )
    note: str = field(default="", metadata=setting("free text"))


@dataclass(frozen=True, kw_only=True)
class MilestonesTarget(_TargetBase):
    """A list of things to get done, each with optional dates."""

    kind: Literal["milestones"] = field(
        default="milestones", metadata=setting("target kind: selects which keys this table takes")
    )
    items: tuple[Milestone, ...] = field(metadata=setting("the milestones", min_items=1))
    expected_items: int | None = field(
        default=None,
        metadata=setting(
            "how many items the plan counts, when the list is not complete yet", minimum=1
        ),
    )


@dataclass(frozen=True, kw_only=True)
class CountTarget(_TargetBase):
    """A count of things to reach, at least ``goal``."""

    kind: Literal["count"] = field(
        default="count", metadata=setting("target kind: selects which keys this table takes")
    )
    goal: int = field(metadata=setting("how many, at least", minimum=1))
    unit: str = field(metadata=setting("what is counted (e.g. green factories)"))


#: Any target; the ``kind`` key of its table tells which.
Target: TypeAlias = (
    GoodDayRatioTarget
    | AnnualMeanTarget
    | HeavyPollutionDaysTarget
    | RiverClassTarget
    | MilestonesTarget
    | CountTarget
)

_TARGET_KINDS: dict[str, type[Any]] = {
    typing.get_args(typing.get_type_hints(cls)["kind"])[0]: cls for cls in typing.get_args(Target)
}


#: Collectors a source can use (the registry in monitor.collectors has the same keys).
CollectorName = Literal[
    "open_meteo", "cnemc_air", "cnemc_sites_archive", "cnemc_water", "usgs_water"
]


@dataclass(frozen=True, kw_only=True)
class ModelPoint:
    """A point a model source (Open-Meteo) is asked about."""

    site: str = field(
        metadata=setting("site id the model values are stored under", pattern=_ID_PATTERN)
    )
    latitude: float = field(metadata=setting("latitude [degrees north]", minimum=-90, maximum=90))
    longitude: float = field(
        metadata=setting("longitude [degrees east]", minimum=-180, maximum=180)
    )
    name: str = field(default="", metadata=setting("what the point stands for"))


@dataclass(frozen=True, kw_only=True)
class SourceSettings:
    """One configured data source: which collector, what to ask, how often."""

    name: str = field(
        metadata=setting(
            "source name: used in the ledger, logs, status and `envmon collect NAME`",
            pattern=_ID_PATTERN,
        )
    )
    collector: CollectorName = field(metadata=setting("the collector that reads the source"))
    enabled: bool = field(default=True, metadata=setting("false: configured but not scheduled"))
    interval_minutes: int = field(
        default=60,
        metadata=setting("minutes between scheduled collections", minimum=1, maximum=10080),
    )
    url: str = field(
        default="", metadata=setting("endpoint or base URL; empty: the collector's default")
    )
    folder: str = field(
        default="",
        metadata=setting(
            "folder of archive files (cnemc_sites_archive); relative to this file's folder"
        ),
    )
    stations: tuple[str, ...] = field(
        default=(),
        metadata=setting(
            "station codes, section names (or section ids) or monitoring-location ids to "
            "keep; empty: all"
        ),
    )
    points: tuple[ModelPoint, ...] = field(
        default=(), metadata=setting("[[sources.points]] model points (open_meteo)")
    )
    timeout_seconds: float = field(
        default=30.0,
        metadata=setting(
            "total seconds one request may take (connect, headers and body)",
            minimum=1,
            maximum=600,
        ),
    )
    max_response_bytes: int = field(
        default=32 * 1024 * 1024,
        metadata=setting(
            "largest answer accepted from the source [bytes]; a larger one is refused "
            "without reading it whole",
            minimum=1024,
            maximum=4 * 1024**3,
        ),
    )
    retries: int = field(
        default=3,
        metadata=setting("further attempts after a transient failure", minimum=0, maximum=10),
    )
    catch_up_hours: int = field(
        default=72,
        metadata=setting(
            "on first start, how far back to collect [h]; later starts resume from the "
            "source's watermark",
            minimum=1,
            maximum=24 * 366,
        ),
    )
    max_history_hours: int = field(
        default=24,
        metadata=setting(
            "cnemc_air: most missed hours filled per run from the platform's history "
            "(it keeps 24 h); the rest follow on the next run; 0: no catch-up",
            minimum=0,
            maximum=24,
        ),
    )
    note: str = field(default="", metadata=setting("free text"))


@dataclass(frozen=True, kw_only=True)
class ServiceSettings:
    """The daemon: where it serves /healthz and /metrics."""

    http_host: str = field(
        default="127.0.0.1",
        metadata=setting("address of the health and metrics endpoint (0.0.0.0 in Docker)"),
    )
    http_port: int = field(
        default=8765,
        metadata=setting(
            "port of the health and metrics endpoint; 0: any free port (logged at start)",
            minimum=0,
            maximum=65535,
        ),
    )
    evaluate_areas: bool = field(
        default=True, metadata=setting("compute area (district, city) AQI after each ingest")
    )


@dataclass(frozen=True, kw_only=True)
class QualitySettings:
    """envmon's own quality checks: which of their flags take a value out of the statistics.

    GB 3095-2026 §6.4: all valid data must be used. Flags from the source, and values that
    are not a possible concentration (negative, implausible), always exclude; envmon's own
    suspicions (pm25_gt_pm10, stuck, spike) are advisory unless listed here.
    """

    exclude_own_flags: tuple[Literal["pm25_gt_pm10", "stuck", "spike"], ...] = field(
        default=(),
        metadata=setting(
            "own quality flags that also exclude a value from statistics (any of "
            "pm25_gt_pm10, stuck, spike); empty: they are advisory (stored, shown, counted), "
            "as GB 3095 §6.4 asks that all valid data be used"
        ),
    )


#: ``[evaluation] valid_day_rule`` values (README "Methods and decisions").
ValidDayRule = Literal["all_six_or_over_100", "rate_what_is_present"]


@dataclass(frozen=True, kw_only=True)
class EvaluationSettings:
    """Which days count: choices the standards leave open (README "Methods and decisions")."""

    valid_day_rule: ValidDayRule = field(
        default="all_six_or_over_100",
        metadata=setting(
            "which days count in a good-day ratio, under both rule sets. all_six_or_over_100: "
            "a day is valid when its six daily statistics (SO2, NO2, CO, PM10, PM2.5 24 h "
            "means, O3 daily max 8 h) are all valid, or when the AQI of the valid ones is "
            "> 100 (a valid non-good day, HJ 633-2026 §5.3); other days are withheld. "
            "rate_what_is_present: as each rule set publishes (2012: any valid statistic "
            "rates the day; 2026: §5.3)"
        ),
    )


def _check_url(value: str) -> str | None:
    if not re.fullmatch(r"https?://[^\s/]+(/\S*)?", value):
        return "expected an http:// or https:// URL such as http://localhost:8086"
    return None


@dataclass(frozen=True, kw_only=True)
class InfluxSettings:
    """The InfluxDB (2.x, 3 Core or VictoriaMetrics) Grafana reads: where envmon publishes.

    The ledger stays the system of record; publishing follows an outbox in the ledger and
    catches up after an outage. The API token comes only from ``ENVMON_INFLUXDB_TOKEN``.
    """

    enabled: bool = field(
        default=False, metadata=setting("true: the daemon publishes to InfluxDB after evaluating")
    )
    url: str = field(
        default="http://localhost:8086",
        metadata=setting("base URL of the InfluxDB HTTP API", check=_check_url),
    )
    org: str = field(default="envmon", metadata=setting("organisation name (InfluxDB 2.x)"))
    bucket: str = field(
        default="envmon",
        metadata=setting("bucket written to; InfluxQL reads it as database of the same name"),
    )
    timeout_seconds: float = field(
        default=20.0,
        metadata=setting("seconds to wait for one write request", minimum=1, maximum=600),
    )
    batch_points: int = field(
        default=5000,
        metadata=setting("points per write request", minimum=1, maximum=100_000),
    )
    interval_seconds: int = field(
        default=60,
        metadata=setting(
            "seconds between publish rounds of the daemon (it also publishes after each "
            "evaluation); the heartbeat is written every round",
            minimum=5,
            maximum=3600,
        ),
    )
    max_backoff_seconds: int = field(
        default=600,
        metadata=setting(
            "longest wait between attempts while InfluxDB is down or throttling",
            minimum=5,
            maximum=86400,
        ),
    )
    retention_days: int = field(
        default=0,
        metadata=setting(
            "retention of a bucket made by `envmon influx check --create-bucket`; 0: forever",
            minimum=0,
            maximum=36500,
        ),
    )
    verify_tls: bool = field(
        default=True, metadata=setting("false: accept a self-signed certificate (https)")
    )


def _check_email(value: str) -> str | None:
    if not re.fullmatch(r"[^@\s;,]+@[^@\s;,]+\.[^@\s;,]+", value):
        return f"expected an e-mail address such as officer@example.org, got {value!r}"
    return None


def _check_duration(value: str) -> str | None:
    if not re.fullmatch(r"[1-9][0-9]*[smhd]", value):
        return f"expected a duration such as 30s, 5m, 4h or 1d, got {value!r}"
    return None


@dataclass(frozen=True, kw_only=True)
class GrafanaSettings:
    """Grafana: the dashboards and alert rules `envmon grafana build` generates and
    `envmon grafana provision` pushes. The service-account token comes only from
    ``ENVMON_GRAFANA_TOKEN``; Grafana reads InfluxDB with ``ENVMON_INFLUXDB_TOKEN`` from its
    own environment (never written to a file)."""

    url: str = field(
        default="http://localhost:3000",
        metadata=setting(
            "base URL of Grafana as envmon reaches it: target of `envmon grafana "
            "provision`/`check` (alert e-mails link to Grafana's own GF_SERVER_ROOT_URL)",
            check=_check_url,
        ),
    )
    folder: str = field(
        default="envmon", metadata=setting("folder title of the dashboards and alert rules")
    )
    folder_uid: str = field(
        default="envmon",
        metadata=setting(
            "folder uid (fixed, so re-provisioning updates)",
            pattern=(r"[A-Za-z0-9_-]{1,40}", "letters, digits, - and _, at most 40"),
        ),
    )
    language: Literal["zh", "en"] = field(
        default="zh", metadata=setting("language of titles, labels and alert texts")
    )
    datasource_uid: str = field(
        default="envmon-influxdb",
        metadata=setting(
            "uid of the InfluxDB (InfluxQL) datasource the panels and rules use",
            pattern=(r"[A-Za-z0-9_-]{1,40}", "letters, digits, - and _, at most 40"),
        ),
    )
    datasource_name: str = field(
        default="envmon InfluxDB", metadata=setting("display name of the datasource")
    )
    influxdb_url: str = field(
        default="http://influxdb:8086",
        metadata=setting(
            "InfluxDB URL as Grafana reaches it, for `envmon grafana provision` (the "
            "provisioning file reads ENVMON_INFLUXDB_URL from Grafana's environment)",
            check=_check_url,
        ),
    )
    contact_emails: tuple[str, ...] = field(
        default=(),
        metadata={
            **setting(
                "addresses the alert e-mails go to; ENVMON_MAIL_TO sets it with the "
                "report recipients (the one documented path). `config check` fails when a "
                "publishing service has none"
            ),
            "items": setting("e-mail address", check=_check_email),
        },
    )
    budget_alert_days: int = field(
        default=10,
        metadata=setting(
            "alert when the non-good days still affordable this year fall to this number",
            minimum=0,
            maximum=366,
        ),
    )
    silence_grace_minutes: int = field(
        default=120,
        metadata=setting(
            "a station or source is silent when its newest value is older than its "
            "collection interval plus this grace (publication delays) [min]",
            minimum=0,
            maximum=10080,
        ),
    )
    heartbeat_minutes: int = field(
        default=10,
        metadata=setting(
            "the service is missing when no heartbeat arrived for this long [min]",
            minimum=2,
            maximum=1440,
        ),
    )
    evaluation_interval: str = field(
        default="1m",
        metadata=setting("how often Grafana evaluates the rules", check=_check_duration),
    )
    group_wait: str = field(
        default="30s",
        metadata=setting("wait before the first e-mail of a group", check=_check_duration),
    )
    group_interval: str = field(
        default="5m",
        metadata=setting(
            "wait before an e-mail about new alerts of a group", check=_check_duration
        ),
    )
    repeat_interval: str = field(
        default="4h",
        metadata=setting(
            "wait before repeating an e-mail about alerts still firing", check=_check_duration
        ),
    )


def _check_clock_time(value: str) -> str | None:
    match = re.fullmatch(r"([01][0-9]|2[0-3]):([0-5][0-9])", value)
    return None if match else f"{value!r} is not a time of day; expected HH:MM, e.g. '08:30'"


@dataclass(frozen=True, kw_only=True)
class ReportSettings:
    """The daily digest and the monthly report: when, in which language, to whom."""

    area: str = field(
        default="",
        metadata=setting("id of the area reported on; empty: the first [[areas]] entry"),
    )
    daily_time: str = field(
        default="08:30",
        metadata=setting(
            "time of day (HH:MM, Asia/Shanghai) the daemon sends yesterday's digest",
            check=_check_clock_time,
        ),
    )
    monthly_day: int = field(
        default=1,
        metadata=setting(
            "day of the month the daemon sends last month's report", minimum=1, maximum=28
        ),
    )
    monthly_time: str = field(
        default="09:00",
        metadata=setting(
            "time of day (HH:MM, Asia/Shanghai) the monthly report is sent",
            check=_check_clock_time,
        ),
    )
    language: Literal["zh", "en"] = field(
        default="zh", metadata=setting("language of reports: zh (official terms) or en")
    )
    folder: str = field(
        default="reports",
        metadata=setting(
            "folder reports are written to; relative to this file's folder. --out overrides"
        ),
    )
    daily_recipients: tuple[str, ...] = field(
        default=(), metadata=setting("email addresses the daily digest is sent to")
    )
    monthly_recipients: tuple[str, ...] = field(
        default=(), metadata=setting("email addresses the monthly report is sent to")
    )
    retry_minutes: int = field(
        default=15,
        metadata=setting(
            "minutes between the daemon's attempts to send reports whose sending failed",
            minimum=1,
            maximum=1440,
        ),
    )
    max_attempts: int = field(
        default=96,
        metadata=setting(
            "sending attempts per report before the daemon gives up (the file stays)",
            minimum=1,
            maximum=10000,
        ),
    )
    pdf: bool = field(
        default=False,
        metadata=setting(
            "also print each report to PDF with headless Chromium (/usr/bin/chromium); "
            "skipped with a warning when Chromium is absent"
        ),
    )


@dataclass(frozen=True, kw_only=True)
class SmtpSettings:
    """The SMTP account reports are sent from; the password is ENVMON_SMTP_PASSWORD."""

    host: str = field(
        default="", metadata=setting("SMTP server; empty: reports are written, not sent")
    )
    port: int = field(
        default=587,
        metadata=setting("SMTP port (587 STARTTLS, 465 TLS, 25 none)", minimum=1, maximum=65535),
    )
    security: Literal["none", "starttls", "tls"] = field(
        default="starttls",
        metadata=setting(
            "none (plain, only on a trusted network), starttls (upgrade after connecting) or "
            "tls (TLS from the start)"
        ),
    )
    user: str = field(
        default="",
        metadata=setting("login name; empty: no login. Password from ENVMON_SMTP_PASSWORD"),
    )
    from_address: str = field(
        default="",
        metadata=setting("sender address of report emails; empty: the user when it is an address"),
    )
    timeout: float = field(
        default=30.0,
        metadata=setting("seconds to wait for the SMTP server", minimum=1, maximum=600),
    )


_HJ212_PASSWORD_ENV = (
    r"ENVMON_HJ212_[A-Z0-9_]+",
    "an environment variable name starting with ENVMON_HJ212_ (e.g. ENVMON_HJ212_PW_HN01)",
)


@dataclass(frozen=True, kw_only=True)
class HJ212Station:
    """A data logger allowed to push HJ 212 packets: its MN, the site it reports for."""

    mn: str = field(
        metadata=setting(
            "device id (MN) the data logger sends; 24 characters in HJ 212-2017, shorter on "
            "older devices",
            pattern=(r"[0-9A-Za-z]{1,24}", "1 to 24 letters or digits"),
        )
    )
    site: str = field(
        metadata=setting(
            "site id its observations are stored under (station code, section id …)",
            pattern=(r"[A-Za-z0-9_]+", "letters, digits and _"),
        )
    )
    name: str = field(default="", metadata=setting("what the station is, free text"))
    password_env: str = field(
        metadata=setting(
            "environment variable (ENVMON_HJ212_…) holding the station's access password "
            "(PW); `envmon config check` reports it when unset and [hj212] is enabled",
            pattern=_HJ212_PASSWORD_ENV,
        )
    )
    expected_interval_minutes: int = field(
        default=60,
        metadata=setting(
            "minutes between the station's data packets; /healthz calls it late after twice that",
            minimum=1,
            maximum=1440,
        ),
    )
    minute_interval_minutes: int = field(
        default=10,
        metadata=setting("period of its minute data (CN=2051) [min]", minimum=1, maximum=60),
    )
    units: tuple[str, ...] = field(
        default=(),
        metadata=setting(
            "units the device sends where they differ from the default, as code=unit "
            "(e.g. a21026=mg/m3)"
        ),
    )
    password: Secret | None = field(default=None, metadata={"internal": True})


@dataclass(frozen=True, kw_only=True)
class HJ212Settings:
    """The HJ 212-2017 receiver: a TCP server data loggers push their data to."""

    enabled: bool = field(default=False, metadata=setting("true: the daemon runs the receiver"))
    host: str = field(
        default="127.0.0.1",
        metadata=setting("address to listen on (0.0.0.0 to accept stations from the network)"),
    )
    port: int = field(
        default=9212,
        metadata=setting("TCP port to listen on; 0: any free port", minimum=0, maximum=65535),
    )
    source: str = field(
        default="hj212",
        metadata=setting("source name of the received data in the ledger", pattern=_ID_PATTERN),
    )
    max_packet_bytes: int = field(
        default=1036,
        metadata=setting(
            "largest packet accepted [bytes]: the standard's 1036 (a data segment of at most "
            "1024 characters, HJ 212-2017 §6.3); raise it only for a device that sends more",
            minimum=64,
            maximum=10011,
        ),
    )
    idle_timeout_seconds: float = field(
        default=600.0,
        metadata=setting("a connection silent this long is closed [s]", minimum=1, maximum=86400),
    )
    packet_timeout_seconds: float = field(
        default=30.0,
        metadata=setting(
            "a started packet must be complete within this time, else the connection is "
            "closed (slow senders) [s]",
            minimum=1,
            maximum=3600,
        ),
    )
    max_connections: int = field(
        default=1000,
        metadata=setting("open connections in total; more are refused", minimum=1),
    )
    max_connections_per_station: int = field(
        default=2,
        metadata=setting(
            "open connections per station; a new one closes the station's oldest", minimum=1
        ),
    )
    max_rejected_packets: int = field(
        default=5,
        metadata=setting(
            "refused packets in a row (bad CRC, bad length, garbage, unknown MN, wrong "
            "password …) after which a connection is closed",
            minimum=1,
        ),
    )
    evaluate_interval_minutes: int = field(
        default=5,
        metadata=setting(
            "minutes between evaluations of what the receiver stored", minimum=1, maximum=1440
        ),
    )
    stations: tuple[HJ212Station, ...] = field(
        default=(), metadata=setting("[[hj212.stations]] data loggers allowed to send")
    )


@dataclass(frozen=True, kw_only=True)
class Settings:
    """Everything envmon is configured with. Built by :func:`load_settings`."""

    district: DistrictSettings = field(metadata=setting("[district] the district reported on"))
    ledger: LedgerSettings = field(
        default=LedgerSettings(), metadata=setting("[ledger] the SQLite ledger")
    )
    areas: tuple[Area, ...] = field(
        metadata=setting("[[areas]] areas figures are reported for", min_items=1)
    )
    air_stations: tuple[AirStation, ...] = field(
        default=(), metadata=setting("[[air_stations]] air monitoring stations")
    )
    water_sections: tuple[WaterSection, ...] = field(
        default=(), metadata=setting("[[water_sections]] surface-water monitoring sections")
    )
    targets: tuple[Target, ...] = field(
        default=(),
        metadata=setting("[[targets]] targets of the plan, one table each, told apart by kind"),
    )
    sources: tuple[SourceSettings, ...] = field(
        default=(), metadata=setting("[[sources]] data sources the daemon collects from")
    )
    service: ServiceSettings = field(
        default=ServiceSettings(), metadata=setting("[service] the daemon")
    )
    quality: QualitySettings = field(
        default=QualitySettings(), metadata=setting("[quality] envmon's own quality checks")
    )
    evaluation: EvaluationSettings = field(
        default=EvaluationSettings(),
        metadata=setting("[evaluation] which days count in good-day ratios"),
    )
    influxdb: InfluxSettings = field(
        default=InfluxSettings(), metadata=setting("[influxdb] where envmon publishes")
    )
    reports: ReportSettings = field(
        default=ReportSettings(), metadata=setting("[reports] daily digest and monthly report")
    )
    smtp: SmtpSettings = field(
        default=SmtpSettings(), metadata=setting("[smtp] the server report emails go through")
    )
    hj212: HJ212Settings = field(
        default=HJ212Settings(), metadata=setting("[hj212] the HJ 212-2017 receiver")
    )
    grafana: GrafanaSettings = field(
        default=GrafanaSettings(), metadata=setting("[grafana] dashboards and alert rules")
    )
    # Not read from the file: where it was read from, and the environment's secrets.
    source: Path = field(default=Path("."), metadata={"internal": True})
    secrets: SecretSettings = field(default=SecretSettings(), metadata={"internal": True})

    def area(self, area_id: str) -> Area:
        """The area with this id (``KeyError`` if none)."""
        for area in self.areas:
            if area.id == area_id:
                return area
        raise KeyError(area_id)

    def stations_in(self, area_id: str) -> tuple[AirStation, ...]:
        """Every station that lies in the area, control sites included."""
        return tuple(s for s in self.air_stations if area_id in s.areas)

    def averaged_stations(self, area_id: str) -> tuple[AirStation, ...]:
        """The stations whose values make the area's average: evaluation stations only."""
        return tuple(s for s in self.stations_in(area_id) if s.role == "evaluation")

    def source_settings(self, name: str) -> SourceSettings:
        """The source with this name (``KeyError`` if none)."""
        for item in self.sources:
            if item.name == name:
                return item
        raise KeyError(name)

    def section(self, section_id: str) -> WaterSection:
        """The water section with this id (``KeyError`` if none)."""
        for section in self.water_sections:
            if section.id == section_id:
                return section
        raise KeyError(section_id)


# --------------------------------------------------------------------------- reference


@dataclass(frozen=True)
class SettingDoc:
    """One row of the settings reference."""

    key: str  #: key path in the file (``air_stations[].code``) or environment variable name
    type: str  #: expected type, in words
    default: str  #: default, or ``required``
    help: str
    source: Literal["file", "environment"] = "file"


def settings_reference() -> tuple[SettingDoc, ...]:
    """Every setting, in declaration order: the file's keys, then environment variables."""
    rows: list[SettingDoc] = []
    _reference_rows(Settings, "", rows)
    rows.append(
        SettingDoc(
            "ENVMON_CONFIG",
            "path",
            "config/hunnan.toml",
            "settings file when --config is not given",
            "environment",
        )
    )
    rows.append(
        SettingDoc(
            LEDGER_ENV,
            "path",
            str(DEFAULT_LEDGER),
            "ledger file when neither --ledger nor [ledger] path is given",
            "environment",
        )
    )
    for env, (table, key) in ENV_OVERRIDES.items():
        rows.append(
            SettingDoc(
                env,
                _type_text(typing.get_type_hints(_TABLES[table])[key]),
                "unset",
                f"sets {table}.{key} over the settings file, for containers",
                "environment",
            )
        )
    rows.append(
        SettingDoc(
            MAIL_TO_ENV,
            "list of strings",
            "unset",
            "e-mail addresses separated by ;: sets "
            + ", ".join(f"{table}.{key}" for table, key in MAIL_TO_KEYS)
            + " over the settings file (one list for reports and Grafana's alert e-mails)",
            "environment",
        )
    )
    for f in dataclasses.fields(SecretSettings):
        rows.append(
            SettingDoc(f.metadata["env"], "secret", "unset", f.metadata["help"], "environment")
        )
    return tuple(rows)


def _reference_rows(cls: type[Any], prefix: str, rows: list[SettingDoc]) -> None:
    hints = typing.get_type_hints(cls)
    # a target's kind comes first and is required: it tells which fields follow
    fields = sorted(dataclasses.fields(cls), key=lambda f: f.name != "kind")
    for f in fields:
        if f.metadata.get("internal"):
            continue
        key = f"{prefix}{f.name}"
        tp = hints[f.name]
        required = f.default is dataclasses.MISSING or f.name == "kind"
        default = "required" if required else _default_text(f.default)
        rows.append(SettingDoc(key, _type_text(tp), default, f.metadata["help"]))
        inner = _item_type(tp)
        if inner is not None and _is_target_union(inner):
            for kind, target_cls in _TARGET_KINDS.items():
                _reference_rows(target_cls, f"{key}[kind={kind}].", rows)
        elif inner is not None and dataclasses.is_dataclass(inner):
            _reference_rows(typing.cast(type[Any], inner), f"{key}[].", rows)
        elif isinstance(tp, type) and dataclasses.is_dataclass(tp):
            _reference_rows(tp, f"{key}.", rows)


def _default_text(value: object) -> str:
    if value is None:
        return "unset"
    if value == ():
        return "[]"
    if isinstance(value, bool):
        return "true" if value else "false"
    if dataclasses.is_dataclass(value):
        return "see below"
    return repr(value) if isinstance(value, str) else str(value)


# --------------------------------------------------------------------------- type helpers


def _item_type(tp: Any) -> Any:
    """``X`` for ``tuple[X, ...]``, else ``None``."""
    if typing.get_origin(tp) is tuple:
        return typing.get_args(tp)[0]
    return None


def _is_union(tp: Any) -> bool:
    return typing.get_origin(tp) in (Union, types.UnionType)


def _is_target_union(tp: Any) -> bool:
    return _is_union(tp) and all(dataclasses.is_dataclass(a) for a in typing.get_args(tp))


def _optional_inner(tp: Any) -> Any:
    """``X`` for ``X | None``, else ``None``."""
    if _is_union(tp):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) == 1 and len(typing.get_args(tp)) == 2:
            return args[0]
    return None


def _type_text(tp: Any) -> str:
    inner = _optional_inner(tp)
    if inner is not None:
        return f"{_type_text(inner)} (optional)"
    if typing.get_origin(tp) is Literal:
        return "one of " + ", ".join(repr(a) for a in typing.get_args(tp))
    item = _item_type(tp)
    if item is not None:
        if dataclasses.is_dataclass(item) or _is_target_union(item):
            return "list of tables"
        return f"list of {_type_text(item)}s"
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        return "table"
    names = {str: "string", int: "integer", float: "number", bool: "boolean", dt.date: "date"}
    return names.get(tp, getattr(tp, "__name__", str(tp)))


def _toml_type(value: object) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "table"
    if isinstance(value, dt.datetime):
        return "date-time"
    if isinstance(value, dt.date):
        return "date"
    return "time"


def _show(value: object) -> str:
    if isinstance(value, dict):
        return "a table"
    text = repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{text} ({_toml_type(value)})"


def _a(text: str) -> str:
    return ("an " if text[:1] in "aeiou" else "a ") + text


# --------------------------------------------------------------------------- loading


class _Invalid:
    """Marker for a value that could not be converted (its problem is already recorded)."""


_INVALID = _Invalid()


class _Loader:
    """Builds the typed tree from parsed TOML, recording every problem on the way."""

    def __init__(self) -> None:
        self.problems: list[str] = []

    def problem(self, path: str, message: str) -> None:
        self.problems.append(f"{path}: {message}" if path else message)

    # -- structure

    def build(self, cls: type[Any], raw: object, path: str) -> Any:
        if not isinstance(raw, dict):
            self.problem(path, f"expected a table, got {_show(raw)}")
            return _INVALID
        hints = typing.get_type_hints(cls)
        known = {f.name: f for f in dataclasses.fields(cls) if not f.metadata.get("internal")}
        ok = True
        suggested: set[str] = set()  # a typo of a required key is one problem, not two
        for key, value in raw.items():
            key_path = f"{path}.{key}" if path else key
            if key in known:
                continue
            ok = False
            if _SECRET_KEY.search(key):
                self.secret_in_file(key_path)
                continue
            secrets = _secret_keys(value, key_path)
            for secret_path in secrets:
                self.secret_in_file(secret_path)
            if not secrets or _has_non_secret(value):
                close = difflib.get_close_matches(key, list(known), n=1)
                suggested.update(c for c in close if c not in raw)
                maybe = f" (did you mean {close[0]!r}?)" if close else ""
                where = f" in {path}" if path else ""
                self.problem(
                    "",
                    f"unknown key {key_path!r}{where}{maybe}; allowed: {', '.join(known)}",
                )
        values: dict[str, Any] = {}
        for name, f in known.items():
            key_path = f"{path}.{name}" if path else name
            if name not in raw:
                if f.default is dataclasses.MISSING and name not in suggested:
                    self.problem(
                        key_path,
                        f"missing; expected {_a(_type_text(hints[name]))}: {f.metadata['help']}",
                    )
                    ok = False
                continue
            value = self.convert(raw[name], hints[name], key_path, f.metadata)
            if value is _INVALID:
                ok = False
            else:
                values[name] = value
        return cls(**values) if ok else _INVALID

    def secret_in_file(self, path: str) -> None:
        env = "ENVMON_" + re.sub(r"\[[^]]*\]", "", path).replace(".", "_").upper()
        self.problem(
            path,
            f"secrets come only from environment variables: set {env} and remove the key "
            "from the file",
        )

    # -- values

    def convert(self, value: object, tp: Any, path: str, meta: Mapping[str, Any]) -> Any:
        inner = _optional_inner(tp)
        if inner is not None:
            tp = inner
        item = _item_type(tp)
        if item is not None:
            return self.convert_list(value, item, path, meta)
        if _is_target_union(tp):
            return self.convert_target(value, path)
        if isinstance(tp, type) and dataclasses.is_dataclass(tp):
            return self.build(tp, value, path)
        converted = self.convert_scalar(value, tp, path)
        if converted is _INVALID:
            return _INVALID
        return converted if self.check_value(converted, path, meta) else _INVALID

    def convert_list(self, value: object, item: Any, path: str, meta: Mapping[str, Any]) -> Any:
        if not isinstance(value, list):
            self.problem(path, f"expected {_a(_type_text(tuple[item, ...]))}, got {_show(value)}")
            return _INVALID
        if len(value) < meta.get("min_items", 0):
            self.problem(path, f"expected at least {meta['min_items']} item(s), got {len(value)}")
            return _INVALID
        each = meta.get("items", {})  # checks of each item, if declared
        items = [self.convert(v, item, f"{path}[{i}]", each) for i, v in enumerate(value)]
        if any(v is _INVALID for v in items):
            return _INVALID
        return tuple(items)

    def convert_target(self, value: object, path: str) -> Any:
        kinds = ", ".join(repr(k) for k in _TARGET_KINDS)
        if not isinstance(value, dict):
            self.problem(path, f"expected a table, got {_show(value)}")
            return _INVALID
        kind = value.get("kind")
        if kind is None:
            self.problem(f"{path}.kind", f"missing; expected one of {kinds}")
            return _INVALID
        if kind not in _TARGET_KINDS:
            self.problem(f"{path}.kind", f"unknown kind {_show(kind)}; expected one of {kinds}")
            return _INVALID
        return self.build(_TARGET_KINDS[kind], value, path)

    def convert_scalar(self, value: object, tp: Any, path: str) -> Any:
        if typing.get_origin(tp) is Literal:
            allowed = typing.get_args(tp)
            if value in allowed and isinstance(value, str):
                return value
            choices = ", ".join(repr(a) for a in allowed)
            self.problem(path, f"expected one of {choices}, got {_show(value)}")
            return _INVALID
        good = (
            (tp is str and isinstance(value, str))
            or (tp is bool and isinstance(value, bool))
            or (tp is int and isinstance(value, int) and not isinstance(value, bool))
            or (tp is float and isinstance(value, int | float) and not isinstance(value, bool))
            or (tp is dt.date and type(value) is dt.date)
        )
        if not good:
            expected = _a(_type_text(tp)) + (" (YYYY-MM-DD)" if tp is dt.date else "")
            self.problem(path, f"expected {expected}, got {_show(value)}")
            return _INVALID
        if tp is float:
            return float(typing.cast(float, value))
        return value

    def check_value(self, value: Any, path: str, meta: Mapping[str, Any]) -> bool:
        hint = f"; {meta['hint']}" if meta.get("hint") else ""
        low, high = meta.get("minimum"), meta.get("maximum")
        number = isinstance(value, int | float) and not isinstance(value, bool)
        if number and ((low is not None and value < low) or (high is not None and value > high)):
            if low is not None and high is not None:
                bounds = f"between {low:g} and {high:g}"
            elif low is not None:
                bounds = f"at least {low:g}"
            else:
                bounds = f"at most {high:g}"
            shown = f"{value:.0f}" if isinstance(value, float) and value.is_integer() else value
            self.problem(path, f"{shown} is out of range; expected {bounds}{hint}")
            return False
        pattern = meta.get("pattern")
        if pattern is not None and not re.fullmatch(pattern[0], value):
            self.problem(path, f"{value!r} is not a valid value; expected {pattern[1]}")
            return False
        check = meta.get("check")
        if check is not None:
            message = check(value)
            if message is not None:
                self.problem(path, message)
                return False
        return True


def _secret_keys(value: object, path: str) -> list[str]:
    """Key paths under ``value`` whose names look like secrets."""
    found: list[str] = []
    if isinstance(value, dict):
        for key, inner in value.items():
            key_path = f"{path}.{key}"
            if _SECRET_KEY.search(key):
                found.append(key_path)
            else:
                found.extend(_secret_keys(inner, key_path))
    elif isinstance(value, list):
        for i, inner in enumerate(value):
            found.extend(_secret_keys(inner, f"{path}[{i}]"))
    return found


def _has_non_secret(value: object) -> bool:
    """Whether ``value`` holds anything besides secret-looking keys."""
    if isinstance(value, dict):
        return any(
            not _SECRET_KEY.search(key) and _has_non_secret(inner) for key, inner in value.items()
        )
    if isinstance(value, list):
        return any(_has_non_secret(inner) for inner in value)
    return True


def _check_references(raw: Mapping[str, Any]) -> list[str]:
    """Duplicate ids and references to unknown ids, read from the raw file.

    Works on the raw tables so that an item with a type error elsewhere still counts as
    known: one mistake gives one problem, not a cascade.
    """
    problems: list[str] = []

    def items(key: str) -> list[tuple[int, dict[str, Any]]]:
        value = raw.get(key)
        if not isinstance(value, list):
            return []
        return [(i, v) for i, v in enumerate(value) if isinstance(v, dict)]

    def ids(key: str, id_key: str) -> set[str]:
        seen: dict[str, int] = {}
        for i, item in items(key):
            value = item.get(id_key)
            if not isinstance(value, str):
                continue
            if value in seen:
                problems.append(
                    f"{key}[{i}].{id_key}: duplicate {id_key} {value!r}, "
                    f"already used by {key}[{seen[value]}]"
                )
            else:
                seen[value] = i
        return set(seen)

    def refs(path: str, value: object, known: set[str], what: str, list_key: str) -> None:
        values = value if isinstance(value, list) else [value]
        listed: set[str] = set()
        for j, ref in enumerate(values):
            if not isinstance(ref, str):
                continue
            ref_path = f"{path}[{j}]" if isinstance(value, list) else path
            if ref not in known:
                choices = ", ".join(sorted(known)) or f"none; add [[{list_key}]]"
                problems.append(f"{ref_path}: unknown {what} {ref!r}; known: {choices}")
            elif ref in listed:
                problems.append(f"{ref_path}: {what} {ref!r} is listed twice")
            listed.add(ref)

    ids("sources", "name")
    for i, item in items("sources"):
        collector = item.get("collector")
        if collector == "open_meteo" and not item.get("points"):
            problems.append(
                f"sources[{i}].points: an open_meteo source needs at least one "
                "[[sources.points]] with site, latitude and longitude"
            )
        if collector == "cnemc_sites_archive" and not (item.get("folder") or item.get("url")):
            problems.append(f"sources[{i}]: a cnemc_sites_archive source needs a folder or a url")
    area_ids = ids("areas", "id")
    ids("air_stations", "code")
    section_ids = ids("water_sections", "id")
    ids("targets", "id")
    for key in ("air_stations", "water_sections"):
        for i, item in items(key):
            if "areas" in item:
                refs(f"{key}[{i}].areas", item["areas"], area_ids, "area", "areas")
    reports = raw.get("reports")
    if isinstance(reports, dict) and reports.get("area"):
        refs("reports.area", reports["area"], area_ids, "area", "areas")
    for key in ("daily_recipients", "monthly_recipients"):
        listed = reports.get(key) if isinstance(reports, dict) else None
        for j, address in enumerate(listed if isinstance(listed, list) else []):
            if isinstance(address, str) and not _EMAIL.fullmatch(address):
                problems.append(
                    f"reports.{key}[{j}]: {address!r} is not an email address; "
                    "expected name@example.org"
                )
    for i, item in items("targets"):
        if "area" in item:
            refs(f"targets[{i}].area", item["area"], area_ids, "area", "areas")
        if item.get("kind") == "river_class" and "sections" in item:
            refs(
                f"targets[{i}].sections",
                item["sections"],
                section_ids,
                "section",
                "water_sections",
            )
    return problems


def _hj212_secrets(settings: Settings, environ: Mapping[str, str]) -> tuple[Settings, list[str]]:
    """Check the HJ 212 stations (unique MN, units) and read their passwords from the
    environment. A missing password is not a problem here: only the commands that open the
    receiver need them (:func:`hj212_password_problems`)."""
    from monitor.domain.units import normalise_unit

    problems: list[str] = []
    if settings.hj212.source in {item.name for item in settings.sources}:
        problems.append(
            f"hj212.source: {settings.hj212.source!r} is also the name of a [[sources]] "
            "entry; choose a name of its own for the received data"
        )
    seen: dict[str, int] = {}
    stations = []
    for i, station in enumerate(settings.hj212.stations):
        path = f"hj212.stations[{i}]"
        if station.mn in seen:
            problems.append(
                f"{path}.mn: duplicate MN {station.mn!r}, already used by "
                f"hj212.stations[{seen[station.mn]}]"
            )
        seen.setdefault(station.mn, i)
        for j, item in enumerate(station.units):
            code, sep, unit = item.partition("=")
            try:
                if not sep or not code.strip():
                    raise ValueError("no code")
                normalise_unit(unit)
            except ValueError:
                problems.append(
                    f"{path}.units[{j}]: {item!r} is not code=unit with a known unit; "
                    "expected e.g. 'a21026=mg/m3' (µg/m³, mg/m³, mg/L, °C, µS/cm, NTU …)"
                )
        raw = environ.get(station.password_env, "")
        stations.append(dataclasses.replace(station, password=Secret(raw) if raw else None))
    hj212 = dataclasses.replace(settings.hj212, stations=tuple(stations))
    return dataclasses.replace(settings, hj212=hj212), problems


_TABLES: dict[str, type[Any]] = {
    "service": ServiceSettings,
    "influxdb": InfluxSettings,
    "hj212": HJ212Settings,
    "smtp": SmtpSettings,
    "reports": ReportSettings,
    "grafana": GrafanaSettings,
}
_TRUE, _FALSE = ("true", "1", "yes", "on"), ("false", "0", "no", "off")


def _apply_environment(raw: dict[str, Any], environ: Mapping[str, str]) -> dict[str, str]:
    """Set :data:`ENV_OVERRIDES` given in ``environ`` into the parsed file; return the keys
    set (``table.key`` → variable). A boolean takes true/false, 1/0, yes/no or on/off; any
    other text is left for the loader to report."""
    overridden = {}
    for env, (table, key) in ENV_OVERRIDES.items():
        value: object = environ.get(env, "").strip()
        if not value:
            continue
        section = raw.setdefault(table, {})
        if not isinstance(section, dict):
            continue  # the loader reports the malformed table
        kind = typing.get_type_hints(_TABLES[table])[key]
        if kind is bool:
            text = str(value).lower()
            value = True if text in _TRUE else False if text in _FALSE else value
        elif kind is int and re.fullmatch(r"[0-9]+", str(value)):
            value = int(str(value))
        section[key] = value
        overridden[f"{table}.{key}"] = env
    addresses = environ.get(MAIL_TO_ENV, "").strip()
    if addresses:
        listed = [a.strip() for a in addresses.split(";") if a.strip()]
        for table, key in MAIL_TO_KEYS:
            section = raw.setdefault(table, {})
            if isinstance(section, dict):
                section[key] = list(listed)
                overridden[f"{table}.{key}"] = MAIL_TO_ENV
    return overridden


def _name_override(problem: str, overridden: Mapping[str, str]) -> str:
    """A problem with a value from the environment names the variable it came from."""
    key, sep, rest = problem.partition(": ")
    bare = key.partition("[")[0]  # reports.daily_recipients[0] → reports.daily_recipients
    if sep and bare in overridden:
        return f"{key} (from ${overridden[bare]}): {rest}"
    return problem


def load_settings(path: Path, environ: Mapping[str, str]) -> Settings:
    """Read and validate the settings file; secrets come from ``environ``.

    Raises
    ------
    ConfigError
        listing every problem found, with ``source`` the file's path.
    """
    source = str(path)
    try:
        text = path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise ConfigError(
            [
                f"settings file not found: {path}; choose another with --config PATH or "
                "$ENVMON_CONFIG"
            ],
            source=source,
        ) from None
    except UnicodeDecodeError as err:
        raise ConfigError(
            [f"not UTF-8 text (byte {err.start}); save the file as UTF-8"], source=source
        ) from None
    except OSError as err:
        raise ConfigError(
            [f"cannot read the settings file: {err.strerror or err}"], source=source
        ) from None
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ConfigError([f"TOML syntax error: {err}"], source=source) from None

    overridden = _apply_environment(raw, environ)
    loader = _Loader()
    built = loader.build(Settings, raw, "")
    problems = [_name_override(p, overridden) for p in loader.problems]
    problems += [_name_override(p, overridden) for p in _check_references(raw)]
    if built is not _INVALID:
        built, hj212_problems = _hj212_secrets(built, environ)
        problems += hj212_problems
    if problems or built is _INVALID:
        raise ConfigError(problems, source=source)
    settings: Settings = built
    # absolute, so that a relative [ledger] path stays right if the cwd changes later
    absolute = Path(os.path.abspath(path))
    return dataclasses.replace(
        settings, source=absolute, secrets=SecretSettings.from_environ(environ)
    )


def resolve_ledger_path(
    cli_value: str | None, settings: Settings, environ: Mapping[str, str]
) -> Path:
    """The ledger file: ``--ledger``, else ``[ledger] path``, else ``$ENVMON_LEDGER``, else
    :data:`DEFAULT_LEDGER`.

    A relative ``[ledger] path`` is relative to the settings file's folder; the other
    three are relative to the current directory. ``~`` is expanded in all four. A path
    from the file is returned absolute, the others as given.
    """
    if cli_value:
        return Path(cli_value).expanduser()
    if settings.ledger.path:
        configured = Path(settings.ledger.path).expanduser()
        # abspath, not resolve(): normalise "config/../data" without following symlinks
        return Path(os.path.abspath(settings.source.parent / configured))
    env = environ.get(LEDGER_ENV, "")
    if env:
        return Path(env).expanduser()
    return DEFAULT_LEDGER


# --------------------------------------------------------------------------- summary


def _target_text(target: Target, settings: Settings) -> str:
    if isinstance(target, GoodDayRatioTarget):
        return (
            f"good-day share ≥ {target.goal:.0%} in {target.area}, {target.year} "
            f"(goal set under {target.rules.upper().replace('HJ633', 'HJ 633')})"
        )
    if isinstance(target, AnnualMeanTarget):
        return (
            f"annual mean {target.pollutant} ≤ {target.limit:g} µg/m³ in {target.area}, "
            f"{target.year}"
        )
    if isinstance(target, HeavyPollutionDaysTarget):
        return f"heavy-pollution days ≤ {target.max} in {target.area}, {target.year}"
    if isinstance(target, RiverClassTarget):
        classes = []
        for section_id in target.sections:
            cls = settings.section(section_id).target_class
            classes.append(f"{section_id} {cls or '?'}")
        return f"sections meet their target class by {target.year}: " + ", ".join(classes)
    if isinstance(target, MilestonesTarget):
        done = sum(1 for item in target.items if item.done is not None)
        expected = f" of {target.expected_items} planned" if target.expected_items else ""
        return (
            f"{len(target.items)} milestones listed{expected}, {done} done, "
            f"by {target.year}: " + ", ".join(item.name for item in target.items)
        )
    return f"≥ {target.goal} {target.unit} by {target.year}"


def hj212_password_problems(settings: Settings, *, listening: bool = False) -> list[str]:
    """One problem per station whose password variable is not set, when the receiver is
    enabled (or ``listening``: the command opens it anyway, ``envmon hj212 listen``): what
    ``envmon run``, ``envmon hj212 listen`` and ``envmon config check`` refuse (exit 2).
    Commands that do not open the receiver never ask for the passwords."""
    if not (settings.hj212.enabled or listening):
        return []
    return [
        f"hj212.stations[{i}].password_env: environment variable {station.password_env} is "
        f"not set; set it to the access password (PW) of station {station.mn}"
        for i, station in enumerate(settings.hj212.stations)
        if station.password is None
    ]


def required_secrets(settings: Settings) -> list[tuple[str, str]]:
    """Secrets the configured features need but the environment does not give:
    ``(environment variable, why it is needed)`` pairs; empty when nothing is missing."""
    missing = []
    if settings.influxdb.enabled and settings.secrets.influxdb_token is None:
        missing.append(
            (
                "ENVMON_INFLUXDB_TOKEN",
                f"[influxdb] enabled = true publishes to {settings.influxdb.url}; set it to "
                "an API token with write access to the bucket",
            )
        )
    return missing


def required_mail(settings: Settings) -> list[tuple[str, str]]:
    """What the mail path lacks: ``(environment variable, why)`` pairs; empty when alert
    e-mails and reports can be sent, or when nothing is to be sent.

    Mail is needed when the service publishes to InfluxDB (Grafana's alert rules read it
    and e-mail through the same SMTP server and to the same recipients, docker-compose.yml)
    or when any part of the mail path is configured (reports are to be e-mailed). Then the
    recipients, the SMTP server and the sender address must all be set: a stack that starts
    without them reaches no officer. Development: Mailpit (README "Docker")."""
    smtp, reports = settings.smtp, settings.reports
    lists = dict(
        zip(
            (f"{table}.{key}" for table, key in MAIL_TO_KEYS),
            (
                reports.daily_recipients,
                reports.monthly_recipients,
                settings.grafana.contact_emails,
            ),
            strict=True,
        )
    )
    wanted = settings.influxdb.enabled or bool(smtp.host) or any(lists.values())
    if not wanted:
        return []
    why = (
        "[influxdb] enabled = true: Grafana's alert rules read what envmon publishes"
        if settings.influxdb.enabled
        else "the mail path is partly configured"
    )
    missing = []
    empty = [name for name, listed in lists.items() if not listed]
    if empty:
        missing.append(
            (
                MAIL_TO_ENV,
                f"{why}; nobody would get alert e-mails or reports ({', '.join(empty)} "
                "empty). Set it to the duty officers' addresses, separated by ;",
            )
        )
    if not smtp.host:
        missing.append(
            (
                "ENVMON_SMTP_HOST",
                f"{why}; no SMTP server to send through ([smtp] host empty). Set the "
                "bureau's SMTP server (development: mailpit, port 1025, security none)",
            )
        )
    if not any("@" in a for a in (smtp.from_address, smtp.user)):
        missing.append(
            (
                "ENVMON_SMTP_FROM",
                f"{why}; no sender address ([smtp] from_address empty, user not an "
                "address). Set the address alert e-mails and reports are sent from",
            )
        )
    return missing


#: The port on which Grafana's mailer speaks TLS from the start: Grafana builds its dialer
#: with ``gomail.NewDialer(host, port, …)`` (grafana/grafana
#: pkg/services/notifications/smtp.go) and sets no ``SSL``; gomail's ``NewDialer`` sets
#: ``SSL: port == 465`` (go-gomail/gomail smtp.go). On every other port it speaks plain SMTP
#: and upgrades with STARTTLS (``GF_SMTP_STARTTLS_POLICY``, docker-compose.yml).
GRAFANA_IMPLICIT_TLS_PORT: Final = 465


def mail_security_mismatch(settings: Settings) -> list[str]:
    """Where envmon's mail and Grafana's alert mail would take different paths to the one
    SMTP server (both get ``ENVMON_SMTP_HOST/PORT``, docker-compose.yml, but Grafana has
    no security setting: it decides by the port). Empty when they agree, or when nothing is
    published for Grafana to alert on, or no SMTP server is set.

    ``[smtp] security = "tls"`` on a port other than 465: envmon opens TLS at once, Grafana
    speaks plain SMTP and STARTTLS; ``starttls``/``none`` on 465: Grafana opens TLS at once,
    envmon does not. One of the two would fail against the server."""
    smtp = settings.smtp
    if not (settings.influxdb.enabled and smtp.host):
        return []
    implicit = smtp.port == GRAFANA_IMPLICIT_TLS_PORT
    if smtp.security == "tls" and not implicit:
        return [
            f"ENVMON_SMTP_SECURITY=tls with ENVMON_SMTP_PORT={smtp.port}: envmon would open "
            f"TLS at once (implicit TLS) but Grafana's alert mailer uses implicit TLS only on "
            f"port {GRAFANA_IMPLICIT_TLS_PORT} and speaks STARTTLS on port {smtp.port}, so one "
            "of the two cannot send. Set ENVMON_SMTP_PORT=465 if the server takes TLS from the "
            "start, or ENVMON_SMTP_SECURITY=starttls if it upgrades on port "
            f"{smtp.port}"
        ]
    if implicit and smtp.security != "tls":
        return [
            f"ENVMON_SMTP_SECURITY={smtp.security} with ENVMON_SMTP_PORT={smtp.port}: "
            f"Grafana's alert mailer opens TLS at once on port {smtp.port} but envmon would "
            f"not ({smtp.security}), so one of the two cannot send. Set "
            "ENVMON_SMTP_SECURITY=tls for port 465, or use the server's STARTTLS port "
            "(ENVMON_SMTP_PORT=587)"
        ]
    return []


def summarize(settings: Settings, ledger: Path) -> str:
    """What ``envmon config check`` prints when the settings are valid."""
    district = settings.district
    lines = [
        f"settings file: {settings.source}",
        f"district: {district.name} ({district.name_zh}), time zone {district.timezone}",
        f"ledger: {ledger}",
        "",
        f"areas ({len(settings.areas)}), with their air stations:",
    ]
    mark = {True: "", False: "  [to confirm]"}
    for area in settings.areas:
        averaged = len(settings.averaged_stations(area.id))
        lines.append(f"  {area.id}: {area.name} ({area.name_zh}), {averaged} averaged")
        for station in settings.stations_in(area.id):
            role = "evaluation" if station.role == "evaluation" else "control, not averaged"
            lines.append(f"    {station.code} {station.name_zh} ({role}){mark[station.confirmed]}")
    no_area = [s for s in settings.air_stations if not s.areas]
    if no_area:
        lines.append("  stations in no area: " + ", ".join(s.code for s in no_area))
    lines += ["", f"water sections ({len(settings.water_sections)}):"]
    for section in settings.water_sections:
        target_class = section.target_class or "not set"
        lines.append(
            f"  {section.id}: {section.name_zh}, {section.river} ({section.water_body}), "
            f"level {section.level}, target class {target_class}{mark[section.confirmed]}"
        )
    lines += ["", f"targets ({len(settings.targets)}):"]
    for target in settings.targets:
        lines.append(
            f"  {target.id} [{target.kind}]: {_target_text(target, settings)}"
            f"{mark[target.confirmed]}"
        )
    lines += ["", f"sources ({len(settings.sources)}):"]
    for item in settings.sources:
        what = item.url or item.folder or "default endpoint"
        scope = f", {len(item.stations)} station(s)" if item.stations else ""
        scope += f", {len(item.points)} model point(s)" if item.points else ""
        state = "" if item.enabled else "  [disabled]"
        lines.append(
            f"  {item.name}: {item.collector} every {item.interval_minutes} min, {what}"
            f"{scope}{state}"
        )
    service = settings.service
    lines.append(f"service: /healthz and /metrics on {service.http_host}:{service.http_port}")
    influx = settings.influxdb
    lines.append(
        f"influxdb: bucket {influx.bucket} of org {influx.org} at {influx.url}"
        if influx.enabled
        else "influxdb: not published ([influxdb] enabled = false)"
    )
    reports, smtp = settings.reports, settings.smtp
    lines.append(
        f"reports ({reports.language}): daily at {reports.daily_time} to "
        f"{len(reports.daily_recipients)} recipient(s), monthly on day {reports.monthly_day} at "
        f"{reports.monthly_time} to {len(reports.monthly_recipients)}; written to "
        f"{reports.folder}; "
        + (f"SMTP {smtp.host}:{smtp.port} ({smtp.security})" if smtp.host else "SMTP not set")
    )
    hj212 = settings.hj212
    if hj212.enabled or hj212.stations:
        state = "" if hj212.enabled else "  [disabled]"
        lines.append(
            f"hj212 receiver: {hj212.host}:{hj212.port}, {len(hj212.stations)} station(s){state}"
        )
        for pusher in hj212.stations:
            secret_state = "set" if pusher.password else "not set"
            lines.append(
                f"  MN {pusher.mn} → site {pusher.site}, password {pusher.password_env}: "
                f"{secret_state}"
            )
    lines += ["", "secrets (environment variables only):"]
    needed = dict(required_secrets(settings))
    for f in dataclasses.fields(SecretSettings):
        env = f.metadata["env"]
        if getattr(settings.secrets, f.name):
            state = "set (********)"
        elif env in needed:
            state = f"NOT SET, but required: {needed[env]}"
        else:
            state = "not set"
        lines.append(f"  {env}: {state}")
    unconfirmed = (
        sum(not s.confirmed for s in settings.air_stations)
        + sum(not s.confirmed for s in settings.water_sections)
        + sum(not t.confirmed for t in settings.targets)
    )
    lines += ["", f"settings OK; {unconfirmed} item(s) marked to confirm"]
    return "\n".join(lines)
