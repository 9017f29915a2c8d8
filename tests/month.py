"""A realistic month of published points, on the shipped settings.

The settings are ``config/hunnan.toml`` as shipped (11 national stations of Shenyang, the
district's sections, its four targets, its four sources) with one change a bureau makes
before the river panels can say anything: each section gets a target class (the shipped
file leaves them unset, "to confirm"). The national water source lists its sections by
published name (于家房, 砂山, 高坎大桥), as shipped; their readings are stored under the
configured ids, and every panel and rule must see one identity per section.

November 2026 (HJ 633-2026 in force) is written to a real ledger, evaluated by the real
pipeline and published by the real :class:`~monitor.service.publish.Publisher` into a real
InfluxDB 1.x:

* **Air**: 11 stations × 6 pollutants × 720 hours, as the national platform publishes them
  (integers, CO to 0.1 mg/m³): a diurnal cycle with noise, a heavy-pollution episode on
  11–13 November (PM2.5 around 180–230 µg/m³) and a light one on 21–22 November. One value
  fails two QC checks at once: 1099A at 2026-11-05 03:00 has PM2.5 400 µg/m³ with PM10 100
  and neighbours near 30 (``pm25_gt_pm10`` and ``spike``, domain/quality.py), so its
  ``qc_flags`` is ``pm25_gt_pm10;spike`` and ``qc_count`` 2.
* **Model**: the Open-Meteo grid cell ``hunnan_model``, every 3 hours.
* **Water**: the 7 sections every 4 hours (DO, NH3-N, CODMn, TP, pH); 白塔堡河 carries
  NH3-N around 2.5 mg/L (劣V, GB 3838 Table 1 class V limit 2.0) against its target IV.
* **Imported**: the bureau's audited daily AQI of the district for every day; by hand, 4
  new green factories and 3 rivers' source treatment done.
* **Health**: one publish round half an hour after the last hour (:data:`NOW`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from monitor.ledger import Ledger
from monitor.service.pipeline import evaluate_dirty
from monitor.service.publish import Publisher
from monitor.settings import Settings, load_settings
from tests.engines import Influx1
from tests.published import _Lines

ROOT = Path(__file__).resolve().parents[1]
LOCAL = "Asia/Shanghai"
FIRST_HOUR = pd.Timestamp("2026-11-01 00:00", tz=LOCAL)
DAYS = 30
#: Epoch seconds of the last hourly label (2026-11-30 23:00 +08:00).
LAST_HOUR = int((FIRST_HOUR + pd.Timedelta(hours=DAYS * 24 - 1)).timestamp())
#: "now" of the dashboards and rules: the publish round after the last hour.
NOW = LAST_HOUR + 1800
STARTED_AT = NOW - 3 * 86400
#: Target classes given to the sections (GB 3838 classes; the bureau's to confirm).
TARGET_CLASSES = {
    "hun_yujiafang": "III",
    "hun_shashan": "III",
    "hun_gaokan_bridge": "III",
    "zhangguan_he": "IV",
    "baitapu_he": "IV",
    "mantang_he": "IV",
    "hunnan_zonggan": "IV",
}
#: The value that fails two QC checks (see the module docstring).
FLAGGED = ("1099A", "pm2_5", int(pd.Timestamp("2026-11-05 03:00", tz=LOCAL).timestamp()))


def month_settings(folder: Path, *, target_classes: bool = True) -> Settings:
    """``config/hunnan.toml`` with target classes (as shipped: ``target_classes=False``)."""
    text = (ROOT / "config" / "hunnan.toml").read_text(encoding="utf-8")
    text = text.replace('path = "../data/envmon.sqlite"', f'path = "{folder}/ledger.sqlite"')
    text = text.replace('folder = "../data/reports"', f'folder = "{folder}/reports"')
    for section, target in TARGET_CLASSES.items() if target_classes else ():
        text = text.replace(
            f'id = "{section}"\n', f'id = "{section}"\ntarget_class = "{target}"\n'
        )
    path = folder / "envmon.toml"
    path.write_text(text, encoding="utf-8")
    return load_settings(path, {"ENVMON_INFLUXDB_TOKEN": "test-token"})


def _hours(n: int, step_hours: int = 1) -> pd.DatetimeIndex:
    return pd.date_range(FIRST_HOUR, periods=n, freq=f"{step_hours}h")


def _pm25_profile(rng: np.random.Generator) -> np.ndarray:
    """District PM2.5 of each hour [µg/m³]: daily level × diurnal cycle."""
    day_level = 30 + 15 * rng.random(DAYS)
    day_level[10:13] = (190.0, 230.0, 180.0)  # heavy episode, 11–13 November
    day_level[20:22] = (95.0, 105.0)  # light pollution, 21–22 November
    hour = np.arange(DAYS * 24) % 24
    diurnal = 1 + 0.25 * np.cos((hour - 21) / 24 * 2 * np.pi)
    return np.repeat(day_level, 24) * diurnal


def _air(settings: Settings, rng: np.random.Generator) -> pd.DataFrame:
    hours = _hours(DAYS * 24)
    base = _pm25_profile(rng)
    rows: list[Row] = []
    for n, station in enumerate(settings.air_stations):
        factor = 0.85 + 0.3 * n / len(settings.air_stations)
        noise = lambda scale: rng.normal(0, scale, len(hours))  # noqa: E731
        pm25 = np.maximum(3, np.round(base * factor + noise(4)))
        values = {
            "pm2_5": pm25,
            "pm10": np.maximum(pm25 + 5, np.round(pm25 * 1.6 + noise(6))),
            "so2": np.maximum(2, np.round(14 + noise(4))),
            "no2": np.maximum(5, np.round(38 + 0.3 * pm25 * factor + noise(8))),
            "co": np.maximum(0.2, np.round(0.5 + pm25 / 200 + noise(0.1), 1)),
            "o3": np.maximum(
                2, np.round(40 + 25 * np.sin(np.arange(len(hours)) / 24 * 2 * np.pi) + noise(6))
            ),
        }
        if station.code == FLAGGED[0]:
            at = [int(h.timestamp()) for h in hours].index(FLAGGED[2])
            values["pm2_5"][at - 1 : at + 2] = (30.0, 400.0, 31.0)
            values["pm10"][at - 1 : at + 2] = (60.0, 100.0, 62.0)
        for parameter, series in values.items():
            unit = "mg/m³" if parameter == "co" else "µg/m³"
            for end, value in zip(hours, series, strict=True):
                rows.append(
                    (
                        station.code,
                        parameter,
                        unit,
                        end - pd.Timedelta(hours=1),
                        end,
                        float(value),
                        "",
                    )
                )
    return _frame(rows)


Row = tuple[str, str, str, pd.Timestamp, pd.Timestamp, float, str]


def _frame(rows: list[Row]) -> pd.DataFrame:
    columns = ["site", "parameter", "unit", "period_start", "period_end", "value", "flags"]
    frame = pd.DataFrame(rows, columns=columns)
    for column in ("period_start", "period_end"):
        frame[column] = pd.to_datetime(frame[column]).dt.tz_convert("UTC")
    return frame


def _model(rng: np.random.Generator) -> pd.DataFrame:
    hours = _hours(DAYS * 8, 3)
    base = _pm25_profile(rng)[::3]
    rows: list[Row] = []
    for parameter, series in {
        "pm2_5": base * 0.9,
        "pm10": base * 1.3,
        "o3": 45 + rng.normal(0, 5, len(hours)),
        "no2": 30 + rng.normal(0, 5, len(hours)),
        "so2": 12 + rng.normal(0, 2, len(hours)),
        "co": 0.6 + rng.normal(0, 0.05, len(hours)),
    }.items():
        unit = "mg/m³" if parameter == "co" else "µg/m³"
        for end, value in zip(hours, series, strict=True):
            rows.append(
                (
                    "hunnan_model",
                    parameter,
                    unit,
                    end - pd.Timedelta(hours=1),
                    end,
                    round(float(value), 1),
                    "",
                )
            )
    return _frame(rows)


def _water(rng: np.random.Generator) -> dict[str, pd.DataFrame]:
    """Readings per source: the national sections (cnemc_water) and the tributaries, which
    the shipped settings collect from no source yet, under their own source name."""
    ends = _hours(DAYS * 6, 4)  # 00:00 … 20:00, every 4 h
    national: list[Row] = []
    local: list[Row] = []
    for section in TARGET_CLASSES:
        bad = section == "baitapu_he"
        n = len(ends)
        values = {
            "do": np.round(7.5 + rng.normal(0, 0.6, n), 2),
            "nh3n": np.round((2.5 if bad else 0.45) + rng.normal(0, 0.08, n), 3),
            "codmn": np.round(4.0 + rng.normal(0, 0.5, n), 2),
            "tp": np.round(0.12 + rng.normal(0, 0.02, n), 3),
            "ph": np.round(7.6 + rng.normal(0, 0.2, n), 2),
        }
        rows = national if section.startswith("hun_") else local
        for parameter, series in values.items():
            unit = "1" if parameter == "ph" else "mg/L"
            for end, value in zip(ends, series, strict=True):
                rows.append(
                    (section, parameter, unit, end - pd.Timedelta(hours=4), end, float(value), "")
                )
    return {"cnemc_water": _frame(national), "river_survey": _frame(local)}


def _official(rng: np.random.Generator) -> pd.DataFrame:
    days = pd.date_range(FIRST_HOUR, periods=DAYS, freq="D")
    level = _pm25_profile(rng).reshape(DAYS, 24).mean(axis=1)
    aqi = np.round(np.where(level <= 35, level / 35 * 50, 50 + (level - 35) * 1.3))
    return pd.DataFrame(
        {
            "area": "hunnan",
            "date": days.strftime("%Y-%m-%d"),
            "aqi": aqi.astype(float),
            "category": np.where(aqi <= 50, "优", np.where(aqi <= 100, "良", "污染")),
            "primary_pollutants": np.where(aqi <= 50, "", "PM2.5"),
            "dust": False,
        }
    )


@dataclass
class Month:
    """What was loaded: the settings, the ledger file and every line written."""

    settings: Settings
    config: Path  #: the settings file
    ledger: Path
    lines: list[str]


def load_month(influx: Influx1, folder: Path, *, target_classes: bool = True) -> Month:
    """Reset ``influx`` and load it with the month, through ledger → evaluate → publish
    (``target_classes=False``: on the settings exactly as shipped)."""
    folder.mkdir(parents=True, exist_ok=True)
    settings = month_settings(folder, target_classes=target_classes)
    rng = np.random.default_rng(20261101)
    influx.reset()
    writer = _Lines(influx)
    path = folder / "ledger.sqlite"
    with Ledger.open(path) as ledger:
        ledger.write_observations(_air(settings, rng), "cnemc_shenyang")
        ledger.write_observations(_model(rng), "open_meteo_hunnan")
        for source, frame in _water(rng).items():
            ledger.write_observations(frame, source)
        ledger.write_official_daily(_official(rng), "bureau_2026-11.csv")
        # what the bureau records by hand (`envmon indicator add`): 4 new green factories,
        # 3 of the 8 rivers' source treatment done
        ledger.add_indicator_value("green_factories", "2026-11-15", "4")
        for river in ("张官河", "白塔堡河", "满堂河"):
            ledger.add_indicator_value(
                "river_source_treatment", "2026-11-20", "completed", item=river
            )
        evaluate_dirty(ledger, settings)
        publisher = Publisher(ledger, settings, writer)
        publisher.drain()
        publisher.health_round(STARTED_AT, now=NOW)
    return Month(settings, folder / "envmon.toml", path, writer.lines)
