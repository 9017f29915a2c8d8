"""A small world of published points, for the InfluxQL query and Grafana tests.

Observations are written to a real ledger, evaluated by the real pipeline and published by
the real :class:`~monitor.service.publish.Publisher` into a real InfluxDB 1.x, so every
query is tested against exactly the lines envmon writes. The inputs are chosen so that the
numbers the queries must return can be worked out by hand (see the comments):

* Air, evaluation stations 1099A and 2900A of area ``hunnan``, hourly labels
  2026-11-01 00:00 … 2026-11-02 23:00 (Asia/Shanghai). Even hours / odd hours alternate so
  no value is a flatline (quality check ``stuck``): SO2 5, NO2 8, CO 0.3, O3 9 (all below
  the ``stuck`` floors), PM10 45/44, PM2.5 35/34 µg/m³ (**calm**: AQI 50/49, HJ 633
  Table 1: PM2.5 35 → IAQI 50, 34 → 50·34/35 = 48.6 → 49).
  On 2026-11-02 (the **breach** day) 2900A has PM2.5 245/244 and PM10 300/299:
  IAQI = 200 + 100·(245 − 150)/(250 − 150) = 295 (244 → 294), level 5 (重度污染).
  The area (mean of both stations) has PM2.5 140/139: IAQI 150 + 50·(140 − 115)/35 = 185.7
  → 186 (139 → 184.3 → 185), level 4.
* Water, section ``sec_a`` on 浑河 (target Class III): a calm reading ending
  2026-11-01 12:00 (DO 7.0, NH3-N 0.4, CODMn 3.0, TP 0.05 mg/L: Class II, meets the target)
  and a breach ending 2026-11-02 12:00 (DO 2.5 < 3, NH3-N 2.6 > 2.0 Class V limit, GB 3838
  Table 1: Class 劣V, worse than the target).
* Health: one publish round at :data:`HEALTH_AT` (data_health, source_health, heartbeat).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from monitor.ledger import Ledger
from monitor.service.pipeline import evaluate_dirty
from monitor.service.publish import Publisher
from monitor.settings import Settings, load_settings
from tests.conftest import HUNNAN_TWO_STATIONS
from tests.engines import Influx1

SETTINGS = (
    HUNNAN_TWO_STATIONS
    + """
[[water_sections]]
id = "sec_a"
name_zh = "甲断面"
river = "浑河"
target_class = "III"
areas = ["hunnan"]

[[targets]]
kind = "good_day_ratio"
id = "good_days_2026"
name = "优良天数比例 ≥ 80 %"
area = "hunnan"
year = 2026
goal = 0.80
rules = "hj633-2012"

[[sources]]
name = "cnemc_air"
collector = "cnemc_air"
interval_minutes = 60
stations = ["1099A", "2900A"]

[[sources]]
name = "river_lab"
collector = "cnemc_water"
interval_minutes = 240
stations = ["sec_a"]

[influxdb]
bucket = "envmon"
"""
)

LOCAL = "Asia/Shanghai"
#: First hourly label (local) and the number of hours written.
FIRST_HOUR = pd.Timestamp("2026-11-01 00:00", tz=LOCAL)
HOURS = 48
#: Epoch seconds of the first label of the breach day (2026-11-02 00:00 +08:00).
BREACH_DAY = int(pd.Timestamp("2026-11-02 00:00", tz=LOCAL).timestamp())
#: Epoch seconds of the last hourly label (2026-11-02 23:00 +08:00).
LAST_HOUR = int(pd.Timestamp("2026-11-02 23:00", tz=LOCAL).timestamp())
#: Moment of the publish round that writes health and heartbeat points.
HEALTH_AT = LAST_HOUR + 1800
STARTED_AT = HEALTH_AT - 7200
WATER_CALM_END = int(pd.Timestamp("2026-11-01 12:00", tz=LOCAL).timestamp())
WATER_BREACH_END = int(pd.Timestamp("2026-11-02 12:00", tz=LOCAL).timestamp())


def air_value(site: str, parameter: str, hour: int) -> float:
    """The value written for ``site`` and ``parameter`` at hour index ``hour`` (0 … 47)."""
    odd = hour % 2
    breach = site == "2900A" and hour >= 24
    if parameter == "pm2_5":
        return (245.0 if breach else 35.0) - odd
    if parameter == "pm10":
        return (300.0 if breach else 45.0) - odd
    return {"so2": 5.0, "no2": 8.0, "co": 0.3, "o3": 9.0}[parameter]


WATER = {
    WATER_CALM_END: {"do": 7.0, "nh3n": 0.4, "codmn": 3.0, "tp": 0.05},
    WATER_BREACH_END: {"do": 2.5, "nh3n": 2.6, "codmn": 3.0, "tp": 0.05},
}


def _observations() -> tuple[pd.DataFrame, pd.DataFrame]:
    units = {"so2": "µg/m³", "no2": "µg/m³", "co": "mg/m³", "o3": "µg/m³"}
    air = []
    for site in ("1099A", "2900A"):
        for parameter in ("so2", "no2", "co", "o3", "pm10", "pm2_5"):
            for hour in range(HOURS):
                end = FIRST_HOUR + pd.Timedelta(hours=hour)
                air.append(
                    (
                        site,
                        parameter,
                        units.get(parameter, "µg/m³"),
                        (end - pd.Timedelta(hours=1)).tz_convert("UTC"),
                        end.tz_convert("UTC"),
                        air_value(site, parameter, hour),
                        "",
                    )
                )
    water = []
    for end_s, values in WATER.items():
        end = pd.Timestamp(end_s, unit="s", tz="UTC")
        for parameter, value in values.items():
            water.append(("sec_a", parameter, "mg/L", end - pd.Timedelta(hours=4), end, value, ""))
    columns = ["site", "parameter", "unit", "period_start", "period_end", "value", "flags"]
    return pd.DataFrame(air, columns=columns), pd.DataFrame(water, columns=columns)


class _Lines:
    """A LineWriter that loads InfluxDB 1.x and keeps what it wrote."""

    def __init__(self, influx: Influx1) -> None:
        self.influx = influx
        self.lines: list[str] = []

    def write(self, lines: object) -> None:
        batch = list(lines)  # type: ignore[call-overload]
        self.influx.write(batch)
        self.lines.extend(batch)


@dataclass
class Published:
    """What was loaded: the settings, the ledger file and every line written."""

    settings: Settings
    ledger: Path
    lines: list[str]

    def ledger_query(self, sql: str, params: tuple[object, ...] = ()) -> pd.DataFrame:
        with Ledger.open(self.ledger) as ledger:
            return ledger.query(sql, params)


def load_published(influx: Influx1, folder: Path) -> Published:
    """Reset ``influx`` and load it with the published points of the scenario."""
    folder.mkdir(parents=True, exist_ok=True)
    config = folder / "envmon.toml"
    config.write_text(SETTINGS, encoding="utf-8")
    settings = load_settings(config, {"ENVMON_INFLUXDB_TOKEN": "test-token"})
    influx.reset()
    writer = _Lines(influx)
    path = folder / "ledger.sqlite"
    air, water = _observations()
    with Ledger.open(path) as ledger:
        ledger.write_observations(air, "cnemc_air")
        ledger.write_observations(water, "river_lab")
        evaluate_dirty(ledger, settings)
        publisher = Publisher(ledger, settings, writer)
        publisher.drain()
        publisher.health_round(STARTED_AT, now=HEALTH_AT)
    return Published(settings, path, writer.lines)
