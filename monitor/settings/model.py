"""The settings tree: pydantic dataclasses, one field per setting, its help text the
field's ``description`` (shown by editors through the JSON Schema, and in the settings
reference).

The file's types are TOML's: a string is not taken for a number, nor ``true`` for an
integer, nor ``"2026-06-30"`` for a date (``StrictInt``, ``StrictFloat``, ``StrictBool``,
:data:`Day`). Formats are patterns (:func:`matching`), also published in the JSON Schema;
every table refuses unknown keys (``extra="forbid"``). What needs the whole file (ids
referred to elsewhere, duplicates) is checked in :mod:`monitor.settings.loading`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Annotated, Any, Final, Literal, Self, TypeAlias
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    ConfigDict,
    Discriminator,
    Field,
    SecretStr,
    Strict,
    StrictBool,
    StrictFloat,
    StrictInt,
)
from pydantic.dataclasses import dataclass
from pydantic.fields import FieldInfo
from pydantic.json_schema import SkipJsonSchema
from pydantic_core import PydanticCustomError, PydanticUndefined
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from monitor import redact

#: A date of the file: a TOML date (``2026-06-30``), not a string.
Day: TypeAlias = Annotated[dt.date, Strict()]

#: Every table: unknown keys are refused.
TABLE = ConfigDict(extra="forbid")

# --------------------------------------------------------------------------- field helpers


class Hint:
    """What to write instead, added to an out-of-range problem (``Annotated`` metadata)."""

    def __init__(self, text: str) -> None:
        self.text = text


def setting(
    help: str,
    default: Any = PydanticUndefined,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    min_items: int | None = None,
) -> Any:
    """One setting: its help text (the JSON Schema's ``description``), its default (none:
    required) and its bounds. Used as ``name: str = setting("help", "default")``."""
    return Field(default, description=help, ge=minimum, le=maximum, min_length=min_items)


def internal(default: Any) -> Any:
    """A field that is not read from the file (where it was read from, secrets): left out
    of the JSON Schema and the reference; the loader refuses it as an unknown key."""
    return Field(default, exclude=True)


#: Anchored pattern → the problem to report for a value that does not match it.
PATTERN_PROBLEMS: dict[str, Callable[[str], str]] = {}


def matching(regex: str, expected: str | Callable[[str], str]) -> Any:
    """A string field's pattern: ``regex`` anchored (a JSON Schema pattern matches
    anywhere), registered with the problem a mismatch gives (default: ``'<value>' is not a
    valid value; expected <expected>``). Used as ``Annotated[str, matching(...)]``."""
    anchored = f"^(?:{regex})$"

    def problem(value: str) -> str:
        return f"{value!r} is not a valid value; expected {expected}"

    PATTERN_PROBLEMS[anchored] = expected if callable(expected) else problem
    return Field(pattern=anchored)


_LETTERS = "lower-case letters, digits and _, starting with a letter"
Identifier: TypeAlias = Annotated[str, matching(r"[a-z][a-z0-9_]*", _LETTERS)]
_PLATFORM = "four digits and A, as on the national platform (e.g. 1099A)"
StationCode: TypeAlias = Annotated[str, matching(r"[0-9]{4}A", _PLATFORM)]
Url: TypeAlias = Annotated[
    str,
    matching(
        r"https?://[^\s/]+(/\S*)?",
        lambda v: f"expected an http:// or https:// URL such as http://localhost:8086, got {v!r}",
    ),
]
Email: TypeAlias = Annotated[
    str,
    matching(
        r"[^@\s;,]+@[^@\s;,]+\.[^@\s;,]+",
        lambda v: f"expected an e-mail address such as officer@example.org, got {v!r}",
    ),
]
#: A report recipient: one @, no spaces or list separators.
Recipient: TypeAlias = Annotated[
    str,
    matching(
        r"[^@\s<>,;]+@[^@\s<>,;]+\.[^@\s<>,;]+",
        lambda v: f"{v!r} is not an email address; expected name@example.org",
    ),
]
Duration: TypeAlias = Annotated[
    str,
    matching(
        r"[1-9][0-9]*[smhd]",
        lambda v: f"expected a duration such as 30s, 5m, 4h or 1d, got {v!r}",
    ),
]
ClockTime: TypeAlias = Annotated[
    str,
    matching(
        r"([01][0-9]|2[0-3]):([0-5][0-9])",
        lambda v: f"{v!r} is not a time of day; expected HH:MM, e.g. '08:30'",
    ),
]
GrafanaUid: TypeAlias = Annotated[
    str, matching(r"[A-Za-z0-9_-]{1,40}", "letters, digits, - and _, at most 40")
]
DeviceId: TypeAlias = Annotated[str, matching(r"[0-9A-Za-z]{1,24}", "1 to 24 letters or digits")]
SiteId: TypeAlias = Annotated[str, matching(r"[A-Za-z0-9_]+", "letters, digits and _")]
PasswordVariable: TypeAlias = Annotated[
    str,
    matching(
        r"ENVMON_HJ212_[A-Z0-9_]+",
        "an environment variable name starting with ENVMON_HJ212_ (e.g. ENVMON_HJ212_PW_HN01)",
    ),
]


def _problem(text: str) -> PydanticCustomError:
    """A domain check's problem, said as it is (error type ``envmon``)."""
    return PydanticCustomError("envmon", "{problem}", {"problem": text})


def _known_timezone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise _problem(
            f"unknown time zone {value!r}; expected an IANA name such as 'Asia/Shanghai'"
        ) from None
    return value


TimeZone: TypeAlias = Annotated[str, AfterValidator(_known_timezone)]


def _unit_override(value: str) -> str:
    from monitor.domain.units import normalise_unit

    code, sep, unit = value.partition("=")
    try:
        if not sep or not code.strip():
            raise ValueError("no code")
        normalise_unit(unit)
    except ValueError:
        raise _problem(
            f"{value!r} is not code=unit with a known unit; expected e.g. 'a21026=mg/m3' "
            "(µg/m³, mg/m³, mg/L, °C, µS/cm, NTU …)"
        ) from None
    return value


UnitOverride: TypeAlias = Annotated[str, AfterValidator(_unit_override)]

# --------------------------------------------------------------------------- secrets


class Secret(SecretStr):
    """A secret string read from the environment; ``repr`` and ``str`` never show it.

    A :class:`pydantic.SecretStr` that registers its value with :mod:`monitor.redact`, so it
    is also masked in every message, log line and health field."""

    def __init__(self, secret_value: str) -> None:
        super().__init__(secret_value)
        redact.register(secret_value)

    def reveal(self) -> str:
        """The secret itself, for the one call that needs it (a login, a header)."""
        return self.get_secret_value()

    def __repr__(self) -> str:
        return "Secret('********')"

    __str__ = __repr__


class EnvironmentSource(PydanticBaseSettingsSource):
    """The fields of a settings class read from a given environment (not ``os.environ``):
    each field's ``validation_alias`` is its variable. An unset or empty variable is no
    value; with ``strip``, neither is one of blanks (``NAME= `` in an ``.env`` file)."""

    def __init__(
        self, settings_cls: type[BaseSettings], environ: Mapping[str, str], *, strip: bool
    ) -> None:
        super().__init__(settings_cls)
        self.environ, self.strip = environ, strip

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        name = str(field.validation_alias)
        value = self.environ.get(name, "")
        value = value.strip() if self.strip else value
        return (value or None), name, False

    def __call__(self) -> dict[str, Any]:
        values = {}
        for field_name, field in self.settings_cls.model_fields.items():
            value, name, _ = self.get_field_value(field, field_name)
            if value is not None:
                values[name] = value
        return values


class EnvironmentSettings(BaseSettings):
    """Settings read only from a given environment: :meth:`from_environ`. Constructed
    without it (a default), they read nothing, not even ``os.environ``."""

    model_config = SettingsConfigDict(frozen=True, extra="ignore")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings,)

    @classmethod
    def from_environ(cls, environ: Mapping[str, str], *, strip: bool = False) -> Self:
        """The settings the variables of ``environ`` give."""
        return cls(**EnvironmentSource(cls, environ, strip=strip)())


def secret(env: str, help: str) -> Any:
    """A secret: read only from the environment variable ``env``, never from the file."""
    return Field(None, validation_alias=env, description=help)


class SecretSettings(EnvironmentSettings):
    """Secrets, from ``ENVMON_*`` environment variables only. Unset means not configured."""

    smtp_password: Secret | None = secret(
        "ENVMON_SMTP_PASSWORD", "password of the SMTP account that sends reports"
    )
    influxdb_token: Secret | None = secret(
        "ENVMON_INFLUXDB_TOKEN", "InfluxDB API token with write access to the bucket"
    )
    grafana_token: Secret | None = secret(
        "ENVMON_GRAFANA_TOKEN",
        "Grafana service-account token for `envmon grafana provision` and `check`",
    )


# --------------------------------------------------------------------------- the tree


@dataclass(frozen=True, kw_only=True, config=TABLE)
class DistrictSettings:
    """The district the service reports on."""

    name: str = setting("name of the district, in English")
    name_zh: str = setting("name of the district, in Chinese")
    timezone: TimeZone = setting(
        "IANA time zone of the district's dates (days, months, years)", "Asia/Shanghai"
    )


@dataclass(frozen=True, kw_only=True, config=TABLE)
class LedgerSettings:
    """Where the ledger (SQLite, the system of record) lives."""

    path: str | None = setting(
        "ledger file; relative to this file's folder. Unset: $ENVMON_LEDGER, else "
        "data/envmon.sqlite. --ledger overrides both",
        None,
    )
    future_tolerance_minutes: StrictInt = setting(
        "how far ahead of now a time may lie for the ledger to accept it [min]; later "
        "rows are refused at intake (a wrong date or clock)",
        60,
        minimum=0,
        maximum=1440,
    )


@dataclass(frozen=True, kw_only=True, config=TABLE)
class Area:
    """An area results are reported for (the district, the city)."""

    id: Identifier = setting("identifier used by stations, sections and targets")
    name: str = setting("name, in English")
    name_zh: str = setting("name, in Chinese")
    note: str = setting("free text: how the area's figures are formed, open questions", "")
    min_stations: StrictInt | None = setting(
        "evaluation stations with a value an area value needs (fewer: NA); unset: at "
        "least half of the area's evaluation stations, rounded up",
        None,
        minimum=1,
    )


@dataclass(frozen=True, kw_only=True, config=TABLE)
class AirStation:
    """An air monitoring station (national network site)."""

    code: StationCode = setting("station code on the national platform")
    name_zh: str = setting("station name, in Chinese, as the platform publishes it")
    name: str = setting("station name, in English or pinyin", "")
    role: Literal["evaluation", "control"] = setting(
        "evaluation: counts in its areas' averages; control (对照点): background site, "
        "never averaged"
    )
    areas: tuple[str, ...] = setting("ids of the areas the station lies in", ())
    confirmed: StrictBool = setting(
        "true when the station's areas are confirmed by a source; false: to confirm", False
    )
    note: str = setting("free text: source, what is to confirm", "")
    latitude: StrictFloat | None = setting(
        "latitude [degrees north], only with a source", None, minimum=-90, maximum=90
    )
    longitude: StrictFloat | None = setting(
        "longitude [degrees east], only with a source", None, minimum=-180, maximum=180
    )


@dataclass(frozen=True, kw_only=True, config=TABLE)
class WaterSection:
    """A surface-water monitoring section (断面)."""

    id: Identifier = setting("identifier used by targets")
    name_zh: str = setting("section name, in Chinese")
    name: str = setting("section name, in English or pinyin", "")
    water_body: Literal["river", "lake", "reservoir"] = setting(
        "type of water body; lakes and reservoirs have their own total-phosphorus limits "
        "(GB 3838-2002 Table 1)",
        "river",
    )
    river: str = setting("river or water body the section is on, in Chinese")
    level: Literal["national", "provincial", "municipal", "unknown"] = setting(
        "control level: national (国控), provincial (省控), municipal (市控) or unknown", "unknown"
    )
    target_class: Literal["I", "II", "III", "IV", "V"] | None = setting(
        "target water class (目标类别), GB 3838-2002; unset: not known yet", None
    )
    areas: tuple[str, ...] = setting("ids of the areas the section lies in", ())
    confirmed: StrictBool = setting(
        "true when level, location and target class are confirmed by a source", False
    )
    note: str = setting("free text: source, what is to confirm", "")


_KIND_HELP = "target kind: selects which keys this table takes"


def _kind_required(schema: dict[str, Any]) -> None:
    """In the JSON Schema a target's ``kind`` is required: it tells which keys follow."""
    schema["required"] = ["kind", *schema.get("required", [])]


TARGET = ConfigDict(extra="forbid", json_schema_extra=_kind_required)


@dataclass(frozen=True, kw_only=True, config=TARGET)
class _TargetBase:
    id: Identifier = setting("identifier of the target")
    name: str = setting("what the plan says, in a few words")
    year: StrictInt = setting("year the target is for", minimum=2000, maximum=2100)
    confirmed: StrictBool = setting(
        "true when the target's wording and scope are confirmed by the plan", False
    )
    note: str = setting("free text: source, what is to confirm", "")


@dataclass(frozen=True, kw_only=True, config=TARGET)
class GoodDayRatioTarget(_TargetBase):
    """Share of good days (优良天数比例, AQI ≤ 100) in an area, at least ``goal``."""

    kind: Literal["good_day_ratio"] = setting(_KIND_HELP, "good_day_ratio")
    area: str = setting("id of the area")
    goal: Annotated[StrictFloat, Hint("write a share, e.g. 0.80 for 80 %")] = setting(
        "minimum share of good days among valid days [0–1]", minimum=0, maximum=1
    )
    rules: Literal["hj633-2012", "hj633-2026"] = setting(
        "AQI rule set the goal was set under (hj633-2012 or hj633-2026)"
    )


@dataclass(frozen=True, kw_only=True, config=TARGET)
class AnnualMeanTarget(_TargetBase):
    """Annual mean concentration of a pollutant in an area, at most ``limit``."""

    kind: Literal["annual_mean"] = setting(_KIND_HELP, "annual_mean")
    area: str = setting("id of the area")
    pollutant: Literal["pm2_5", "pm10", "so2", "no2"] = setting(
        "pollutant with an annual-mean evaluation item (GB 3095)"
    )
    limit: StrictFloat = setting("maximum annual mean [µg/m³]", minimum=0)


@dataclass(frozen=True, kw_only=True, config=TARGET)
class HeavyPollutionDaysTarget(_TargetBase):
    """Heavy-pollution days (重污染天, AQI > 200) in an area, at most ``max``."""

    kind: Literal["heavy_pollution_days"] = setting(_KIND_HELP, "heavy_pollution_days")
    area: str = setting("id of the area")
    max: StrictInt = setting("maximum number of heavy-pollution days in the year", minimum=0)


@dataclass(frozen=True, kw_only=True, config=TARGET)
class RiverClassTarget(_TargetBase):
    """Each listed section meets its own ``target_class``."""

    kind: Literal["river_class"] = setting(_KIND_HELP, "river_class")
    sections: tuple[str, ...] = setting("ids of the water sections", min_items=1)


@dataclass(frozen=True, kw_only=True, config=TABLE)
class Milestone:
    """One item of a milestones target."""

    name: str = setting("what is to be done (e.g. a river's source treatment)")
    due: Day | None = setting("date it is due (YYYY-MM-DD)", None)
    done: Day | None = setting("date it was done (YYYY-MM-DD); unset: open", None)
    confirmed: StrictBool = setting("true when the item is confirmed by the plan", False)
    note: str = setting("free text", "")


@dataclass(frozen=True, kw_only=True, config=TARGET)
class MilestonesTarget(_TargetBase):
    """A list of things to get done, each with optional dates."""

    kind: Literal["milestones"] = setting(_KIND_HELP, "milestones")
    items: tuple[Milestone, ...] = setting("the milestones", min_items=1)
    expected_items: StrictInt | None = setting(
        "how many items the plan counts, when the list is not complete yet", None, minimum=1
    )


@dataclass(frozen=True, kw_only=True, config=TARGET)
class CountTarget(_TargetBase):
    """A count of things to reach, at least ``goal``."""

    kind: Literal["count"] = setting(_KIND_HELP, "count")
    goal: StrictInt = setting("how many, at least", minimum=1)
    unit: str = setting("what is counted (e.g. green factories)")


#: Any target; the ``kind`` key of its table tells which.
Target: TypeAlias = (
    GoodDayRatioTarget
    | AnnualMeanTarget
    | HeavyPollutionDaysTarget
    | RiverClassTarget
    | MilestonesTarget
    | CountTarget
)

#: ``kind`` → target class, in declaration order.
TARGET_KINDS: Final[dict[str, type[Any]]] = {
    "good_day_ratio": GoodDayRatioTarget,
    "annual_mean": AnnualMeanTarget,
    "heavy_pollution_days": HeavyPollutionDaysTarget,
    "river_class": RiverClassTarget,
    "milestones": MilestonesTarget,
    "count": CountTarget,
}

#: Collectors a source can use (the registry in monitor.collectors has the same keys).
CollectorName = Literal[
    "open_meteo", "cnemc_air", "cnemc_sites_archive", "cnemc_water", "usgs_water"
]


@dataclass(frozen=True, kw_only=True, config=TABLE)
class ModelPoint:
    """A point a model source (Open-Meteo) is asked about."""

    site: Identifier = setting("site id the model values are stored under")
    latitude: StrictFloat = setting("latitude [degrees north]", minimum=-90, maximum=90)
    longitude: StrictFloat = setting("longitude [degrees east]", minimum=-180, maximum=180)
    name: str = setting("what the point stands for", "")


@dataclass(frozen=True, kw_only=True, config=TABLE)
class SourceSettings:
    """One configured data source: which collector, what to ask, how often."""

    name: Identifier = setting(
        "source name: used in the ledger, logs, status and `envmon collect NAME`"
    )
    collector: CollectorName = setting("the collector that reads the source")
    enabled: StrictBool = setting("false: configured but not scheduled", True)
    interval_minutes: StrictInt = setting(
        "minutes between scheduled collections", 60, minimum=1, maximum=10080
    )
    url: str = setting("endpoint or base URL; empty: the collector's default", "")
    folder: str = setting(
        "folder of archive files (cnemc_sites_archive); relative to this file's folder", ""
    )
    stations: tuple[str, ...] = setting(
        "station codes, section names (or section ids) or monitoring-location ids to "
        "keep; empty: all",
        (),
    )
    points: tuple[ModelPoint, ...] = setting("[[sources.points]] model points (open_meteo)", ())
    timeout_seconds: StrictFloat = setting(
        "total seconds one request may take (connect, headers and body)",
        30.0,
        minimum=1,
        maximum=600,
    )
    max_response_bytes: StrictInt = setting(
        "largest answer accepted from the source [bytes]; a larger one is refused "
        "without reading it whole",
        32 * 1024 * 1024,
        minimum=1024,
        maximum=4 * 1024**3,
    )
    retries: StrictInt = setting(
        "further attempts after a transient failure", 3, minimum=0, maximum=10
    )
    catch_up_hours: StrictInt = setting(
        "on first start, how far back to collect [h]; later starts resume from the "
        "source's watermark",
        72,
        minimum=1,
        maximum=24 * 366,
    )
    max_history_hours: StrictInt = setting(
        "cnemc_air: most missed hours filled per run from the platform's history "
        "(it keeps 24 h); the rest follow on the next run; 0: no catch-up",
        24,
        minimum=0,
        maximum=24,
    )
    note: str = setting("free text", "")


@dataclass(frozen=True, kw_only=True, config=TABLE)
class ServiceSettings:
    """The daemon: where it serves /healthz and /metrics."""

    http_host: str = setting(
        "address of the health and metrics endpoint (0.0.0.0 in Docker)", "127.0.0.1"
    )
    http_port: StrictInt = setting(
        "port of the health and metrics endpoint; 0: any free port (logged at start)",
        8765,
        minimum=0,
        maximum=65535,
    )
    evaluate_areas: StrictBool = setting(
        "compute area (district, city) AQI after each ingest", True
    )


@dataclass(frozen=True, kw_only=True, config=TABLE)
class QualitySettings:
    """envmon's own quality checks: which of their flags take a value out of the statistics.

    GB 3095-2026 §6.4: all valid data must be used. Flags from the source, and values that
    are not a possible concentration (negative, implausible), always exclude; envmon's own
    suspicions (pm25_gt_pm10, stuck, spike) are advisory unless listed here.
    """

    exclude_own_flags: tuple[Literal["pm25_gt_pm10", "stuck", "spike"], ...] = setting(
        "own quality flags that also exclude a value from statistics (any of "
        "pm25_gt_pm10, stuck, spike); empty: they are advisory (stored, shown, counted), "
        "as GB 3095 §6.4 asks that all valid data be used",
        (),
    )


#: ``[evaluation] valid_day_rule`` values (docs/methods.md, "Methods and decisions").
ValidDayRule = Literal["all_six_or_over_100", "rate_what_is_present"]


@dataclass(frozen=True, kw_only=True, config=TABLE)
class EvaluationSettings:
    """Which days count: choices the standards leave open (docs/methods.md)."""

    valid_day_rule: ValidDayRule = setting(
        "which days count in a good-day ratio, under both rule sets. all_six_or_over_100: "
        "a day is valid when its six daily statistics (SO2, NO2, CO, PM10, PM2.5 24 h "
        "means, O3 daily max 8 h) are all valid, or when the AQI of the valid ones is "
        "> 100 (a valid non-good day, HJ 633-2026 §5.3); other days are withheld. "
        "rate_what_is_present: as each rule set publishes (2012: any valid statistic "
        "rates the day; 2026: §5.3)",
        "all_six_or_over_100",
    )


@dataclass(frozen=True, kw_only=True, config=TABLE)
class InfluxSettings:
    """The InfluxDB (2.x, 3 Core or VictoriaMetrics) Grafana reads: where envmon publishes.

    The ledger stays the system of record; publishing follows an outbox in the ledger and
    catches up after an outage. The API token comes only from ``ENVMON_INFLUXDB_TOKEN``.
    """

    enabled: StrictBool = setting("true: the daemon publishes to InfluxDB after evaluating", False)
    url: Url = setting("base URL of the InfluxDB HTTP API", "http://localhost:8086")
    org: str = setting("organisation name (InfluxDB 2.x)", "envmon")
    bucket: str = setting(
        "bucket written to; InfluxQL reads it as database of the same name", "envmon"
    )
    timeout_seconds: StrictFloat = setting(
        "seconds to wait for one write request", 20.0, minimum=1, maximum=600
    )
    batch_points: StrictInt = setting("points per write request", 5000, minimum=1, maximum=100_000)
    interval_seconds: StrictInt = setting(
        "seconds between publish rounds of the daemon (it also publishes after each "
        "evaluation); the heartbeat is written every round",
        60,
        minimum=5,
        maximum=3600,
    )
    max_backoff_seconds: StrictInt = setting(
        "longest wait between attempts while InfluxDB is down or throttling",
        600,
        minimum=5,
        maximum=86400,
    )
    retention_days: StrictInt = setting(
        "retention of a bucket made by `envmon influx check --create-bucket`; 0: forever",
        0,
        minimum=0,
        maximum=36500,
    )
    verify_tls: StrictBool = setting("false: accept a self-signed certificate (https)", True)


@dataclass(frozen=True, kw_only=True, config=TABLE)
class GrafanaSettings:
    """Grafana: the dashboards and alert rules `envmon grafana build` generates and
    `envmon grafana provision` pushes. The service-account token comes only from
    ``ENVMON_GRAFANA_TOKEN``; Grafana reads InfluxDB with ``ENVMON_INFLUXDB_TOKEN`` from its
    own environment (never written to a file)."""

    url: Url = setting(
        "base URL of Grafana as envmon reaches it: target of `envmon grafana "
        "provision`/`check` (alert e-mails link to Grafana's own GF_SERVER_ROOT_URL)",
        "http://localhost:3000",
    )
    folder: str = setting("folder title of the dashboards and alert rules", "envmon")
    folder_uid: GrafanaUid = setting("folder uid (fixed, so re-provisioning updates)", "envmon")
    language: Literal["zh", "en"] = setting("language of titles, labels and alert texts", "zh")
    datasource_uid: GrafanaUid = setting(
        "uid of the InfluxDB (InfluxQL) datasource the panels and rules use",
        "envmon-influxdb",
    )
    datasource_name: str = setting("display name of the datasource", "envmon InfluxDB")
    influxdb_url: Url = setting(
        "InfluxDB URL as Grafana reaches it, for `envmon grafana provision` (the "
        "provisioning file reads ENVMON_INFLUXDB_URL from Grafana's environment)",
        "http://influxdb:8086",
    )
    contact_emails: tuple[Email, ...] = setting(
        "addresses the alert e-mails go to; ENVMON_MAIL_TO sets it with the "
        "report recipients (the one documented path). `config check` fails when a "
        "publishing service has none",
        (),
    )
    budget_alert_days: StrictInt = setting(
        "alert when the non-good days still affordable this year fall to this number",
        10,
        minimum=0,
        maximum=366,
    )
    silence_grace_minutes: StrictInt = setting(
        "a station or source is silent when its newest value is older than its "
        "collection interval plus this grace (publication delays) [min]",
        120,
        minimum=0,
        maximum=10080,
    )
    heartbeat_minutes: StrictInt = setting(
        "the service is missing when no heartbeat arrived for this long [min]",
        10,
        minimum=2,
        maximum=1440,
    )
    evaluation_interval: Duration = setting("how often Grafana evaluates the rules", "1m")
    group_wait: Duration = setting("wait before the first e-mail of a group", "30s")
    group_interval: Duration = setting("wait before an e-mail about new alerts of a group", "5m")
    repeat_interval: Duration = setting(
        "wait before repeating an e-mail about alerts still firing", "4h"
    )


@dataclass(frozen=True, kw_only=True, config=TABLE)
class ReportSettings:
    """The daily digest and the monthly report: when, in which language, to whom."""

    area: str = setting("id of the area reported on; empty: the first [[areas]] entry", "")
    daily_time: ClockTime = setting(
        "time of day (HH:MM, Asia/Shanghai) the daemon sends yesterday's digest", "08:30"
    )
    monthly_day: StrictInt = setting(
        "day of the month the daemon sends last month's report", 1, minimum=1, maximum=28
    )
    monthly_time: ClockTime = setting(
        "time of day (HH:MM, Asia/Shanghai) the monthly report is sent", "09:00"
    )
    language: Literal["zh", "en"] = setting("language of reports: zh (official terms) or en", "zh")
    folder: str = setting(
        "folder reports are written to; relative to this file's folder. --out overrides",
        "reports",
    )
    daily_recipients: tuple[Recipient, ...] = setting(
        "email addresses the daily digest is sent to", ()
    )
    monthly_recipients: tuple[Recipient, ...] = setting(
        "email addresses the monthly report is sent to", ()
    )
    retry_minutes: StrictInt = setting(
        "minutes between the daemon's attempts to send reports whose sending failed",
        15,
        minimum=1,
        maximum=1440,
    )
    max_attempts: StrictInt = setting(
        "sending attempts per report before the daemon gives up (the file stays)",
        96,
        minimum=1,
        maximum=10000,
    )
    pdf: StrictBool = setting(
        "also print each report to PDF with headless Chromium (/usr/bin/chromium); "
        "skipped with a warning when Chromium is absent",
        False,
    )


@dataclass(frozen=True, kw_only=True, config=TABLE)
class SmtpSettings:
    """The SMTP account reports are sent from; the password is ENVMON_SMTP_PASSWORD."""

    host: str = setting("SMTP server; empty: reports are written, not sent", "")
    port: StrictInt = setting(
        "SMTP port (587 STARTTLS, 465 TLS, 25 none)", 587, minimum=1, maximum=65535
    )
    security: Literal["none", "starttls", "tls"] = setting(
        "none (plain, only on a trusted network), starttls (upgrade after connecting) or "
        "tls (TLS from the start)",
        "starttls",
    )
    user: str = setting("login name; empty: no login. Password from ENVMON_SMTP_PASSWORD", "")
    from_address: str = setting(
        "sender address of report emails; empty: the user when it is an address", ""
    )
    timeout: StrictFloat = setting(
        "seconds to wait for the SMTP server", 30.0, minimum=1, maximum=600
    )


@dataclass(frozen=True, kw_only=True, config=TABLE)
class HJ212Station:
    """A data logger allowed to push HJ 212 packets: its MN, the site it reports for."""

    mn: DeviceId = setting(
        "device id (MN) the data logger sends; 24 characters in HJ 212-2017, shorter on "
        "older devices"
    )
    site: SiteId = setting(
        "site id its observations are stored under (station code, section id …)"
    )
    name: str = setting("what the station is, free text", "")
    password_env: PasswordVariable = setting(
        "environment variable (ENVMON_HJ212_…) holding the station's access password "
        "(PW); `envmon config check` reports it when unset and [hj212] is enabled"
    )
    expected_interval_minutes: StrictInt = setting(
        "minutes between the station's data packets; /healthz calls it late after twice that",
        60,
        minimum=1,
        maximum=1440,
    )
    minute_interval_minutes: StrictInt = setting(
        "period of its minute data (CN=2051) [min]", 10, minimum=1, maximum=60
    )
    units: tuple[UnitOverride, ...] = setting(
        "units the device sends where they differ from the default, as code=unit "
        "(e.g. a21026=mg/m3)",
        (),
    )
    # Not read from the file: the value of $password_env, set by load_settings.
    password: SkipJsonSchema[Secret | None] = internal(None)


@dataclass(frozen=True, kw_only=True, config=TABLE)
class HJ212Settings:
    """The HJ 212-2017 receiver: a TCP server data loggers push their data to."""

    enabled: StrictBool = setting("true: the daemon runs the receiver", False)
    host: str = setting(
        "address to listen on (0.0.0.0 to accept stations from the network)", "127.0.0.1"
    )
    port: StrictInt = setting(
        "TCP port to listen on; 0: any free port", 9212, minimum=0, maximum=65535
    )
    source: Identifier = setting("source name of the received data in the ledger", "hj212")
    max_packet_bytes: StrictInt = setting(
        "largest packet accepted [bytes]: the standard's 1036 (a data segment of at most "
        "1024 characters, HJ 212-2017 §6.3); raise it only for a device that sends more",
        1036,
        minimum=64,
        maximum=10011,
    )
    idle_timeout_seconds: StrictFloat = setting(
        "a connection silent this long is closed [s]", 600.0, minimum=1, maximum=86400
    )
    packet_timeout_seconds: StrictFloat = setting(
        "a started packet must be complete within this time, else the connection is "
        "closed (slow senders) [s]",
        30.0,
        minimum=1,
        maximum=3600,
    )
    max_connections: StrictInt = setting(
        "open connections in total; more are refused", 1000, minimum=1
    )
    max_connections_per_station: StrictInt = setting(
        "open connections per station; a new one closes the station's oldest", 2, minimum=1
    )
    max_rejected_packets: StrictInt = setting(
        "refused packets in a row (bad CRC, bad length, garbage, unknown MN, wrong "
        "password …) after which a connection is closed",
        5,
        minimum=1,
    )
    evaluate_interval_minutes: StrictInt = setting(
        "minutes between evaluations of what the receiver stored", 5, minimum=1, maximum=1440
    )
    stations: tuple[HJ212Station, ...] = setting(
        "[[hj212.stations]] data loggers allowed to send", ()
    )


@dataclass(frozen=True, kw_only=True, config=TABLE)
class Settings:
    """Everything envmon is configured with. Built by :func:`~monitor.settings.load_settings`."""

    district: DistrictSettings = setting("[district] the district reported on")
    ledger: LedgerSettings = setting("[ledger] the SQLite ledger", LedgerSettings())
    areas: tuple[Area, ...] = setting("[[areas]] areas figures are reported for", min_items=1)
    air_stations: tuple[AirStation, ...] = setting("[[air_stations]] air monitoring stations", ())
    water_sections: tuple[WaterSection, ...] = setting(
        "[[water_sections]] surface-water monitoring sections", ()
    )
    targets: tuple[Annotated[Target, Discriminator("kind")], ...] = setting(
        "[[targets]] targets of the plan, one table each, told apart by kind", ()
    )
    sources: tuple[SourceSettings, ...] = setting(
        "[[sources]] data sources the daemon collects from", ()
    )
    service: ServiceSettings = setting("[service] the daemon", ServiceSettings())
    quality: QualitySettings = setting("[quality] envmon's own quality checks", QualitySettings())
    evaluation: EvaluationSettings = setting(
        "[evaluation] which days count in good-day ratios", EvaluationSettings()
    )
    influxdb: InfluxSettings = setting("[influxdb] where envmon publishes", InfluxSettings())
    reports: ReportSettings = setting(
        "[reports] daily digest and monthly report", ReportSettings()
    )
    smtp: SmtpSettings = setting("[smtp] the server report emails go through", SmtpSettings())
    hj212: HJ212Settings = setting("[hj212] the HJ 212-2017 receiver", HJ212Settings())
    grafana: GrafanaSettings = setting("[grafana] dashboards and alert rules", GrafanaSettings())
    # Not read from the file: where it was read from, and the environment's secrets.
    source: SkipJsonSchema[Path] = internal(Path("."))
    secrets: SkipJsonSchema[SecretSettings] = internal(SecretSettings())

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
