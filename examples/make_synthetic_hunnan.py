"""Write ``synthetic_hunnan_hourly.csv``: SYNTHETIC hourly air data for the offline tour.

Nothing here is measured. The values are drawn from a fixed random seed so that the file is
the same on every machine; they only look like a late-winter month in Shenyang (PM2.5-led
episodes of a few days, night-time peaks, afternoon ozone) so that the tour has good and
non-good days to show. Never mix this file into a real ledger.

Stations: the three air stations of the Hunnan area in ``config/hunnan.toml`` (1098A, the
control site, is listed but never averaged; 1099A and 2900A are evaluation sites).
Layout: ``envmon import --format long-csv`` (``site,time,parameter,value,unit``; ``time`` is
the end of the hour, Asia/Shanghai; labels 00:00 … 23:00 make a day). One station-day
(2900A, 2026-03-10) lacks five PM2.5 hours, so it has 19 of the 20 hours a valid daily
value needs (GB 3095-2012 Table 4 / HJ 663): its daily AQI is empty in that day's report.

Run from the repository folder: ``.venv/bin/python examples/make_synthetic_hunnan.py [OUT.csv]``
(default: the committed file next to this script).
"""

from __future__ import annotations

import csv
import sys
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Final

import numpy as np
import numpy.typing as npt

SEED: Final = 18
FIRST_DAY: Final = date(2026, 2, 16)
DAYS: Final = 28  # 2026-02-16 … 2026-03-15: four weeks, across the 2026-03-01 rule switch
#: Station → how much of the district's pollution it sees (the control site less).
STATIONS: Final = {"1098A": 0.85, "1099A": 1.0, "2900A": 1.1}
#: (station, local date) whose PM2.5 lacks the hours 08:00 … 12:00.
GAP: Final = ("2900A", date(2026, 3, 10), range(8, 13))
OUT: Final = Path(__file__).with_name("synthetic_hunnan_hourly.csv")


def main(out: Path = OUT) -> None:
    rng = np.random.default_rng(SEED)
    hours = DAYS * 24
    # A district-wide "weather" factor: AR(1) in log space per day, smooth between days.
    daily = np.zeros(DAYS)
    for d in range(1, DAYS):
        daily[d] = 0.7 * daily[d - 1] + rng.normal(0.0, 0.45)
    factor = np.exp(np.interp(np.arange(hours) / 24.0, np.arange(DAYS), daily))
    h = np.arange(hours) % 24
    night = 1 + 0.25 * np.cos(2 * np.pi * (h - 22) / 24)  # particles peak around 22:00
    traffic = 1 + 0.3 * np.cos(2 * np.pi * (h - 8) / 24)  # NO2 peaks in the morning
    sun = np.clip(1 + 0.8 * np.sin(2 * np.pi * (h - 9) / 24), 0.1, None)  # O3 in the afternoon

    rows: list[tuple[str, str, str, str, str]] = []
    for station, share in STATIONS.items():

        def noise(sigma: float = 0.15) -> npt.NDArray[np.float64]:
            return np.exp(rng.normal(0.0, sigma, hours))

        pm2_5 = 36 * share * factor * night * noise()
        values = {
            "so2": (18 * share * factor**0.5 * noise(), "µg/m³", 0),
            "no2": (34 * share * factor**0.6 * traffic * noise(), "µg/m³", 0),
            "co": (0.8 * share * factor**0.7 * night * noise(), "mg/m³", 1),
            "o3": (58 * sun / factor**0.3 * noise(0.2), "µg/m³", 0),
            "pm10": (pm2_5 * 1.55 * noise(0.1), "µg/m³", 0),
            "pm2_5": (pm2_5, "µg/m³", 0),
        }
        for i in range(hours):
            label = datetime.combine(FIRST_DAY, datetime.min.time()) + timedelta(hours=i)
            if station == GAP[0] and label.date() == GAP[1] and label.hour in GAP[2]:
                skip = "pm2_5"
            else:
                skip = ""
            for parameter, (series, unit, decimals) in values.items():
                if parameter == skip:
                    continue
                value = max(float(series[i]), 1.0 if decimals == 0 else 0.1)
                text = f"{value:.{decimals}f}"
                rows.append((station, label.strftime("%Y-%m-%dT%H:%M"), parameter, text, unit))

    with out.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(("site", "time", "parameter", "value", "unit"))
        writer.writerows(rows)
    sys.stdout.write(f"wrote {len(rows)} synthetic rows to {out}\n")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else OUT)
