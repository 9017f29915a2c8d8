"""A report whose figures rest on synthetic data says so: in its title (HTML, text, email
subject) and in a banner naming the files, so that nobody takes the tour's report
(``examples/synthetic_hunnan_hourly.csv``, README "Offline tour") for official figures.

Synthetic: observations imported (``envmon import``) from a file whose name begins with
``synthetic`` (the bundled examples, made up by ``examples/make_synthetic_*.py``) and not
replaced since. A report without such observations is unchanged.
"""

from __future__ import annotations

import email
import email.policy
import time
from datetime import date
from pathlib import Path

import pandas as pd

from monitor.cli import main
from monitor.collectors.base import observations
from monitor.ledger import Ledger
from monitor.ledger.fetch_log import log_fetch
from monitor.reports import render
from monitor.service.reporting import gather_daily, gather_monthly, synthetic_files
from monitor.settings import Settings
from tests.reports.conftest import DAY


def _import(config: Path, path: Path, values: str) -> None:
    """Import hourly PM2.5 of the control station 1100A on the reported day (long CSV)."""
    lines = ["site,time,parameter,value,unit"]
    lines += [f"1100A,{DAY}T{h:02d}:00,pm2_5,{values},µg/m³" for h in range(24)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert main(["--config", str(config), "import", "--format", "long-csv", str(path)]) == 0


def _daily(config: Path, out: Path) -> tuple[str, str, str]:
    """HTML, text and email subject of ``envmon report daily`` of the day."""
    argv = ["--config", str(config), "report", "daily", "--date", str(DAY), "--out", str(out)]
    assert main(argv) == 0
    html = (out / f"daily-{DAY}.html").read_text(encoding="utf-8")
    text = (out / f"daily-{DAY}.txt").read_text(encoding="utf-8")
    with (out / f"daily-{DAY}.eml").open("rb") as handle:
        message = email.message_from_binary_file(handle, policy=email.policy.default)
    return html, text, str(message["Subject"])


def test_a_report_on_synthetic_data_says_so_until_measurements_replace_them(
    ledger: Ledger, settings: Settings, config: Path, tmp_path: Path
) -> None:
    # the fixture's ledger (measurements of the source cnemc): no mark
    html, text, subject = _daily(config, tmp_path / "before")
    assert "合成数据" not in html + text + subject
    assert 'class="synthetic"' not in html

    _import(config, tmp_path / "synthetic_hunnan_day.csv", "35")
    html, text, subject = _daily(config, tmp_path / "synthetic")
    for shown in (html, text, subject):
        assert "合成数据" in shown  # (the reports are in Chinese by default)
    assert "<title>【合成数据" in html
    assert '<p class="synthetic">' in html
    assert "synthetic_hunnan_day.csv" in html and "synthetic_hunnan_day.csv" in text
    # the monthly report of the month, and the English words
    monthly = gather_monthly(ledger, settings, DAY, DAY)
    assert monthly.synthetic == (str(tmp_path / "synthetic_hunnan_day.csv"),)
    assert render.subject(monthly, "en").startswith("[SYNTHETIC DATA, NOT OFFICIAL] ")

    # the same hours imported again from a file of measurements (other values: revisions)
    _import(config, tmp_path / "hunnan_day.csv", "36")
    html, text, subject = _daily(config, tmp_path / "measured")
    assert "合成数据" not in html + text + subject


def test_measurements_imported_with_a_synthetic_file_are_not_marked(
    ledger: Ledger, settings: Settings, config: Path, tmp_path: Path
) -> None:
    """One ``envmon import`` of a file of measurements (the reported day) and a synthetic
    file (a later month, outside the report): observations name their import only by source
    and second, so the two files must not be stored in one second (was: they usually were,
    and the measured day's report was marked synthetic, naming the other file)."""
    measured = tmp_path / "hunnan_day.csv"
    synthetic = tmp_path / "synthetic_june.csv"
    for path, day in ((measured, DAY), (synthetic, DAY.replace(month=6))):
        lines = ["site,time,parameter,value,unit"]
        lines += [f"1100A,{day}T{h:02d}:00,pm2_5,35,µg/m³" for h in range(24)]
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    time.sleep(1 - time.time() % 1)  # (at the start of a second: both would fit in it)
    argv = ["--config", str(config), "import", "--format", "long-csv"]
    assert main([*argv, str(measured), str(synthetic)]) == 0
    html, text, subject = _daily(config, tmp_path / "out")
    assert "合成数据" not in html + text + subject
    assert gather_monthly(ledger, settings, DAY, DAY).synthetic == ()
    # the June report rests on the synthetic file
    june = DAY.replace(month=6)
    assert gather_monthly(ledger, settings, june, june).synthetic == (str(synthetic),)


def test_many_imports_of_synthetic_files_cost_one_scan(tmp_path: Path) -> None:
    """A ledger that once took synthetic files many times (re-imports, chunks of a long
    file, several files), all since replaced by measurements: the observations of the
    period are read once per source, not once per import (was: one scan per import, each
    a full scan of the period when nothing synthetic remains: a year of the national
    network, ~100 M observations, took seconds per import for every report)."""
    hour = pd.Timestamp("2026-05-10 01:00", tz="Asia/Shanghai")
    start, end = int(hour.timestamp()) - 3600, int(hour.timestamp()) + 86400
    with Ledger.open(tmp_path / "ledger.sqlite") as ledger:
        measured = observations("1100A", "pm2_5", hour - pd.Timedelta(hours=1), hour, 35.0)
        ledger.write_observations(measured, "import_long_csv", requested="import day.csv")
        with ledger.transaction() as db:
            for second in range(1_700_000_000, 1_700_000_008):  # (imports long ago)
                name = f"synthetic_{second % 3}.csv"
                log_fetch(
                    db,
                    "import_long_csv",
                    requested=f"import ./data/{name}",
                    covers=(None, None),
                    started_at=None,
                    finished_at=second,
                    status="ok",
                )
        scans: list[str] = []
        ledger.connection.set_trace_callback(
            lambda sql: scans.append(sql) if "FROM observations" in sql else None
        )
        try:
            assert synthetic_files(ledger, start, end) == ()
            assert len(scans) == 1
            # a synthetic file that still holds a value of the period (any case of name)
            synthetic = observations("1100A", "pm2_5", hour, hour + pd.Timedelta(hours=1), 9.0)
            ledger.write_observations(
                synthetic, "import_long_csv", requested="import data\\SYNTHETIC_b.CSV"
            )
            assert synthetic_files(ledger, start, end) == ("data\\SYNTHETIC_b.CSV",)
        finally:
            ledger.connection.set_trace_callback(None)


def test_the_periods_each_report_rests_on(
    ledger: Ledger, settings: Settings, config: Path, tmp_path: Path
) -> None:
    """Synthetic values of August 2025 (air) and 20 December 2025 (the river section's
    reading): the monthly report of May 2026 rests on May 2025 and January … May 2026, not
    on them (was: marked, the months between counted); the daily report of 9 May 2026 shows
    the section's latest reading, the synthetic one of December (was: not marked)."""
    path = tmp_path / "synthetic_2025.csv"
    lines = ["site,time,parameter,value,unit"]
    lines += [f"1100A,2025-08-10T{h:02d}:00,pm2_5,35,µg/m³" for h in range(1, 24)]
    # GB 3838-2002 Table 1: CODMn 6.5 mg/L is class IV (≤ 10), as the fixture's reading
    reading = {"ph": ("7.6", ""), "do": ("5.2", "mg/L"), "codmn": ("6.5", "mg/L")}
    lines += [f"hun_a,2025-12-20T08:00,{p},{v},{u}" for p, (v, u) in reading.items()]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert main(["--config", str(config), "import", "--format", "long-csv", str(path)]) == 0

    may = gather_monthly(ledger, settings, DAY, DAY)
    assert may.synthetic == ()
    # August 2026 compares with August 2025
    august = date(2026, 8, 1)
    assert gather_monthly(ledger, settings, august, august).synthetic == (str(path),)
    daily = gather_daily(ledger, settings, date(2026, 5, 9))
    assert [line.latest_class for line in daily.sections] == ["IV"]  # the December reading
    assert daily.synthetic == (str(path),)
