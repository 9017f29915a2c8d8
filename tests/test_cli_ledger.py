"""Ledger commands end to end: import, export, status (real files, real SQLite)."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pandas as pd
import pytest

from monitor.calculator.air import compute_aqi_csv
from monitor.cli import main
from tests.conftest import HUNNAN_TWO_STATIONS

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "examples" / "synthetic_hourly.csv"

CONFIG = HUNNAN_TWO_STATIONS.replace("[[areas]]", '[ledger]\npath = "ledger.sqlite"\n\n[[areas]]')


@pytest.fixture
def config(tmp_path: Path) -> Path:
    """A settings file whose ledger lives beside it."""
    path = tmp_path / "envmon.toml"
    path.write_text(CONFIG, encoding="utf-8")
    return path


def long_csv(tmp_path: Path, name: str = "sample.csv", bump: float = 0.0) -> Path:
    """The synthetic example in the long import layout (site,time,parameter,value,unit)."""
    wide = pd.read_csv(SAMPLE)
    long = wide.melt(id_vars=["site", "time"], var_name="parameter", value_name="value")
    long = long.dropna(subset=["value"])
    long["unit"] = long["parameter"].map(lambda p: "mg/m3" if p == "co" else "ug/m3")
    if bump:
        first = long.index[(long["parameter"] == "no2")][0]
        long.loc[first, "value"] += bump
    path = tmp_path / name
    long.to_csv(path, index=False)
    return path


def calculator(scale: str) -> pd.DataFrame:
    """`calc aqi` of the sample as the ledger stores it: 2012 rows rate what is present,
    2026 rows follow HJ 633-2026 §5.3 (AQI NA when a pollutant is missing and the rest
    give <= 100)."""
    present = compute_aqi_csv(SAMPLE, scale=scale).frame
    withheld = compute_aqi_csv(SAMPLE, scale=scale, missing="hj633-2026").frame
    return present.where(present["standard"] != "hj633-2026", withheld)


def run(config: Path, *args: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """Run envmon with the config; return exit code, stdout, stderr."""
    code = main(["--config", str(config), *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_import_then_export_daily_aqi_equals_the_calculator(
    tmp_path: Path, config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`import --format long-csv` evaluates; `export --what daily-aqi` equals `calc aqi`."""
    code, out, _ = run(
        config, "import", "--format", "long-csv", str(long_csv(tmp_path)), capsys=capsys
    )
    assert code == 0
    assert "1147 new" in out  # 2 sites × 96 hours × 6 pollutants = 1152, 5 PM2.5 missing
    code, out, _ = run(
        config,
        "export",
        "--from",
        "2026-02-27",
        "--to",
        "2026-03-02",
        "--what",
        "daily-aqi",
        "--site",
        "1099A",
        "--site",
        "2900A",
        capsys=capsys,
    )
    exported = list(csv.DictReader(io.StringIO(out)))
    expected = calculator("day")
    assert [r["aqi"] for r in exported] == expected["aqi"].tolist()
    assert [r["standard"] for r in exported] == expected["standard"].tolist()
    assert list(exported[0])[:7] == [
        "site",
        "date",
        "aqi",
        "level",
        "category",
        "primary_pollutants",
        "standard",
    ]


def test_importing_the_same_file_twice_changes_nothing(
    tmp_path: Path, config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The second import reports 0 new, 0 revised; a corrected file records revisions."""
    path = long_csv(tmp_path)
    run(config, "import", "--format", "long-csv", str(path), capsys=capsys)
    _, out, _ = run(config, "import", "--format", "long-csv", str(path), capsys=capsys)
    assert "0 new, 0 revised, 1147 unchanged" in out
    corrected = long_csv(tmp_path, "corrected.csv", bump=5.0)
    _, out, _ = run(config, "import", "--format", "long-csv", str(corrected), capsys=capsys)
    assert "0 new, 1 revised" in out


def test_export_observations_contract(
    tmp_path: Path, config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Observations export: site,time,parameter,value,unit,source,flags; time with +08:00."""
    run(config, "import", "--format", "long-csv", str(long_csv(tmp_path)), capsys=capsys)
    _, out, _ = run(
        config,
        "export",
        "--from",
        "2026-02-27",
        "--to",
        "2026-02-27",
        "--site",
        "1099A",
        capsys=capsys,
    )
    rows = list(csv.DictReader(io.StringIO(out)))
    assert list(rows[0]) == ["site", "time", "parameter", "value", "unit", "source", "flags"]
    assert rows[0]["time"] == "2026-02-27T00:00:00+08:00"
    assert rows[-1]["time"] == "2026-02-27T23:00:00+08:00"
    assert {r["unit"] for r in rows if r["parameter"] == "co"} == {"mg/m³"}
    assert len(rows) == 24 * 6


def test_export_hourly_aqi_contract(
    tmp_path: Path, config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Hourly export: site,time,aqi,level,category,primary_pollutants,standard, as calc."""
    run(config, "import", "--format", "long-csv", str(long_csv(tmp_path)), capsys=capsys)
    _, out, _ = run(
        config,
        "export",
        "--from",
        "2026-02-27",
        "--to",
        "2026-03-02",
        "--site",
        "1099A",
        "--what",
        "hourly-aqi",
        capsys=capsys,
    )
    rows = list(csv.DictReader(io.StringIO(out)))
    assert list(rows[0])[:7] == [
        "site",
        "time",
        "aqi",
        "level",
        "category",
        "primary_pollutants",
        "standard",
    ]
    expected = calculator("hour")
    expected = expected[expected["site"] == "1099A"]
    assert [r["aqi"] for r in rows] == expected["aqi"].tolist()


def test_status_lists_sources_and_sites(
    tmp_path: Path, config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`status` names the import source and each site's 24-hour completeness."""
    run(config, "import", "--format", "long-csv", str(long_csv(tmp_path)), capsys=capsys)
    code, out, _ = run(config, "status", capsys=capsys)
    assert code == 0
    assert "import_long_csv (long-csv, measured): ok" in out


def test_bad_dates_exit_2(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A malformed --from is a one-line error with exit code 2."""
    code, _, err = run(
        config, "export", "--from", "yesterday", "--to", "2026-01-01", capsys=capsys
    )
    assert code == 2
    assert "--from 'yesterday' is not a date; expected YYYY-MM-DD" in err


def test_export_flags_are_empty_not_nan(
    tmp_path: Path, config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Unflagged observations export an empty flags cell."""
    run(config, "import", "--format", "long-csv", str(long_csv(tmp_path)), capsys=capsys)
    _, out, _ = run(config, "export", "--from", "2026-02-27", "--to", "2026-02-27", capsys=capsys)
    flags = {r["flags"] for r in csv.DictReader(io.StringIO(out))}
    assert "nan" not in flags
    assert "" in flags


def test_reading_commands_refuse_a_missing_ledger(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`status` on a mistyped --ledger path says so instead of creating an empty ledger."""
    config = tmp_path / "c.toml"
    config.write_text(CONFIG, encoding="utf-8")
    missing = tmp_path / "typo.sqlite"
    code = main(["--config", str(config), "--ledger", str(missing), "status"])
    assert code == 2
    assert "no ledger at" in capsys.readouterr().err
    assert not missing.exists()


def test_export_command_writes_the_frames_csv(
    tmp_path: Path, config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`envmon export` (streamed piece by piece) writes exactly the CSV of the whole-range
    frames, for each --what, a --site filter and an empty range (header only)."""
    from datetime import date

    from monitor.ledger import Ledger
    from monitor.service.export import export_daily_aqi, export_hourly_aqi, export_observations

    run(config, "import", "--format", "long-csv", str(long_csv(tmp_path)), capsys=capsys)
    first, last = date(2026, 2, 27), date(2026, 3, 2)
    with Ledger.open(tmp_path / "ledger.sqlite") as ledger:
        expected = {
            "observations": export_observations(ledger, first, last),
            "hourly-aqi": export_hourly_aqi(ledger, first, last, ["1099A"]),
            "daily-aqi": export_daily_aqi(ledger, first, last, None, "hj633-2026"),
            "empty": export_observations(ledger, date(2020, 1, 1), date(2020, 1, 1)),
        }
    for what, frame in expected.items():
        args = ["export", "--from", str(first), "--to", str(last)]
        if what == "hourly-aqi":
            args += ["--what", what, "--site", "1099A"]
        elif what == "daily-aqi":
            args += ["--what", what, "--standard", "hj633-2026"]
        elif what == "empty":
            args = ["export", "--from", "2020-01-01", "--to", "2020-01-01"]
        code, out, err = run(config, *args, capsys=capsys)
        assert (code, err) == (0, "")
        assert out == frame.to_csv(index=False, lineterminator="\n"), what
        assert len(frame) > 0 or out == "site,time,parameter,value,unit,source,flags\n"


def test_export_data_is_written_as_it_is_and_its_messages_masked(
    tmp_path: Path, config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A registered secret is masked as a whole word wherever envmon writes a message, but
    an export's CSV is data: a cell that reads as the secret (here every year of the times,
    a 4-character numeric password, as HJ 212 passwords often are) is written as it is,
    as `-o` writes a file; the command's messages on standard error stay masked."""
    from datetime import date

    from monitor import redact
    from monitor.ledger import Ledger
    from monitor.service.export import export_observations

    run(config, "import", "--format", "long-csv", str(long_csv(tmp_path)), capsys=capsys)
    first, last = date(2026, 2, 27), date(2026, 3, 2)
    with Ledger.open(tmp_path / "ledger.sqlite") as ledger:
        expected = export_observations(ledger, first, last).to_csv(
            index=False, lineterminator="\n"
        )
    redact.register("2026")
    code, out, err = run(config, "export", "--from", str(first), "--to", str(last), capsys=capsys)
    assert (code, err) == (0, "")
    assert out == expected and "2026-02-27T" in out and redact.MASK not in out
    code, out, err = run(
        config, "export", "--from", "2026-02-30", "--to", "2026-03-02", capsys=capsys
    )
    assert code != 0 and out == ""
    assert "2026" not in err and f"{redact.MASK}-02-30" in err  # the message, masked
    code, out, _ = run(config, "calc", "aqi", str(SAMPLE), capsys=capsys)
    assert code == 0 and "2026-" in out and redact.MASK not in out  # calc's CSV: data too
    code, out, _ = run(config, "status", capsys=capsys)
    assert "2026" not in out  # a command's report (not data) stays masked
