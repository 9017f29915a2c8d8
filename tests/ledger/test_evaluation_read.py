"""The evaluation's column-wise read gives exactly what the row-wise read gives (issue 17)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from monitor.collectors.base import observations
from monitor.ledger import Ledger
from monitor.ledger.store import EVALUATION_SITES_IN_SQL

START = datetime(2026, 3, 1, tzinfo=UTC)
END = datetime(2026, 3, 3, tzinfo=UTC)


def _hours(site: str, parameter: str, values: list[float], flags: str = "") -> pd.DataFrame:
    end = pd.date_range("2026-03-01 01:00", periods=len(values), freq="h", tz="UTC")
    frame = observations(site, parameter, end - pd.Timedelta(hours=1), end, np.array(values))
    frame["flags"] = flags
    return frame


def _expected(ledger: Ledger, sites: list[str]) -> pd.DataFrame:
    """The public row-wise read, in the same columns and order."""
    frame = ledger.observations(start=START, end=END, sites=sites)
    return frame[
        ["site", "parameter", "period_start", "period_end", "value", "flags", "source"]
    ].reset_index(drop=True)


def _read(ledger: Ledger, sites: list[str]) -> pd.DataFrame:
    frame = ledger.evaluation_observations(start=START, end=END, sites=sites)
    out = frame[["site", "parameter", "period_start", "period_end", "value", "flags", "source"]]
    out = out.astype({"site": str, "parameter": str, "source": str, "flags": str})
    return out.sort_values(["period_end", "site", "parameter", "source"]).reset_index(drop=True)


def _same(ledger: Ledger, sites: list[str]) -> None:
    got, expected = _read(ledger, sites), _expected(ledger, sites)
    assert len(got) == len(expected) > 0
    for column in ("site", "parameter", "flags", "source"):
        assert got[column].tolist() == expected[column].astype(str).tolist(), column
    for column in ("period_start", "period_end"):
        assert (got[column].to_numpy() == expected[column].to_numpy()).all(), column
    # Bit for bit: the text path must give back the very same doubles.
    a, b = got["value"].to_numpy(), expected["value"].to_numpy()
    assert np.array_equal(np.isnan(a), np.isnan(b))
    assert (a[~np.isnan(a)].view(np.int64) == b[~np.isnan(b)].view(np.int64)).all()


@pytest.fixture
def ledger(tmp_path: Path) -> Ledger:
    ledger = Ledger.open(tmp_path / "ledger.sqlite")
    # Values a short decimal text would change (1/3, 0.1 + 0.2, a CO conversion), a NULL,
    # negative, tiny and huge numbers, flags with ';', two sources for the same hours.
    ledger.write_observations(
        pd.concat(
            [
                _hours("1001A", "pm2_5", [1 / 3, 0.1 + 0.2, np.nan, -2.0, 35.0]),
                _hours("1001A", "co", [1.2345678901234567, 1e-300, 9.99e300, 0.8, 0.0]),
                _hours("1002A", "o3", [65.0, 66.0, 67.0], "maintenance;aqi_mismatch"),
            ],
            ignore_index=True,
        ),
        "a",
    )
    ledger.write_observations(_hours("1001A", "pm2_5", [36.0, 37.0]), "b")
    return ledger


def test_column_read_equals_row_read(ledger: Ledger) -> None:
    _same(ledger, ["1001A", "1002A"])
    _same(ledger, ["1002A"])


def test_many_sites_are_filtered_after_reading(ledger: Ledger) -> None:
    """More sites than the IN-list limit: read for the window, then the wanted ones kept."""
    many = ["1001A", *[f"{9000 + i}X" for i in range(EVALUATION_SITES_IN_SQL)]]
    got = ledger.evaluation_observations(start=START, end=END, sites=many)
    assert set(got["site"].astype(str)) == {"1001A"}
    assert list(got["site"].cat.categories) == ["1001A"]
    _same(ledger, many)


def test_separator_in_a_code_and_infinite_values_fall_back_to_rows(ledger: Ledger) -> None:
    """A code containing the text path's separator (unit separator, 0x1F) or a value the
    text path cannot carry (infinity) must not garble the read: it goes row by row."""
    ledger.write_observations(_hours("odd\x1fsite,1", "no2", [40.0, 41.0]), "a")
    _same(ledger, ["1001A", "odd\x1fsite,1"])
    ledger.connection.execute("UPDATE observations SET value = 9e999 WHERE parameter = 'no2'")
    got = ledger.evaluation_observations(start=START, end=END, sites=["odd\x1fsite,1"])
    assert np.isinf(got["value"]).all() and len(got) == 2


def test_codes_a_csv_reader_could_misread_read_as_written(ledger: Ledger) -> None:
    """Sites (and parameters) are split by pandas' CSV reader: codes it could take for
    missing values ("NA", "nan", "NULL"), numbers or booleans, padded text, quotes, a
    comment sign, a backslash, line ends, its field separator (0x1E), a NUL and Chinese
    text must come back as written."""
    odd = ["NA", "nan", "NULL", "1e5", "007", "True", " padded ", 'q"uote', "it's", "#c"]
    odd += ["back\\slash"]
    odd += ["line\nend", "carriage\rreturn", "field\x1esep", "n\x00ul", "浑南"]
    for site in odd:
        ledger.write_observations(_hours(site, "no2", [40.0, 1 / 3]), "a")
    _same(ledger, ["1001A", "1002A", *odd])
    for site in odd:  # each on its own (the plain and the odd texts take different paths)
        _same(ledger, [site])


def test_empty_window(ledger: Ledger) -> None:
    got = ledger.evaluation_observations(
        start=datetime(2020, 1, 1, tzinfo=UTC), end=datetime(2020, 1, 2, tzinfo=UTC), sites=["x"]
    )
    assert got.empty
    assert list(got.columns) == [
        "site",
        "parameter",
        "period_start",
        "period_end",
        "value",
        "flags",
        "source",
        "ingested_at",
    ]


def test_latest_ingested_source_wins_and_ties_go_to_the_last_by_name(ledger: Ledger) -> None:
    """Evaluation keeps one value per key whatever order the read returns: the latest
    ingested; at the same second, the source last by name (the ledger's key order, what the
    row-by-row read gave before issue 17)."""
    from monitor.service.evaluate import _latest_per_key

    def pm25(sites: list[str]) -> list[float]:
        frame = _latest_per_key(ledger.evaluation_observations(start=START, end=END, sites=sites))
        rows = frame[(frame["site"] == "1001A") & (frame["parameter"] == "pm2_5")]
        return rows.sort_values("period_end")["value"].head(2).tolist()

    db = ledger.connection
    db.execute("UPDATE observations SET ingested_at = 100 WHERE source = 'a'")
    db.execute("UPDATE observations SET ingested_at = 200 WHERE source = 'b'")
    assert pm25(["1001A"]) == [36.0, 37.0]  # b, ingested later
    db.execute("UPDATE observations SET ingested_at = 300 WHERE source = 'a'")
    assert pm25(["1001A"]) == pytest.approx([1 / 3, 0.1 + 0.2])  # a, ingested later
    db.execute("UPDATE observations SET ingested_at = 300")
    assert pm25(["1001A"]) == [36.0, 37.0]  # same second: b, last by name


@pytest.mark.parametrize("csv_reader", [True, False])
def test_value_texts_parse_to_the_doubles_python_reads(
    csv_reader: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The per-hour value texts (integers, SQLite's 15- and 20-digit ``quote()`` output,
    ``nan``) parse bit for bit to what Python's ``float()`` reads, with pandas' CSV reader
    (pandas >= 3.1) and with numpy's text parser (older pandas); a text that is not a
    number gives None (the read then goes row by row)."""
    from monitor.ledger import evaluation_hours

    if csv_reader and not evaluation_hours._CSV_PARSES_EXACTLY:
        pytest.skip("pandas < 3.1: its CSV reader is not used for numbers")
    monkeypatch.setattr(evaluation_hours, "_CSV_PARSES_EXACTLY", csv_reader)
    rng = np.random.default_rng(17)
    doubles = np.concatenate([rng.uniform(-1e3, 1e3, 2000), rng.lognormal(0, 30, 2000)])
    cells = [f"{d:.20g}" for d in doubles] + [f"{d:.15g}" for d in doubles]
    cells += ["35", "-2", "nan", "0.0", "-0.0", "1e-300", "9.99e+300", "2.2250738585072014e-308"]
    texts = [",".join(cells[i : i + 97]) for i in range(0, len(cells), 97)]
    got = evaluation_hours._numbers(texts, len(cells), np.float64)
    assert got is not None
    expected = np.array([float(c) for c in cells])
    assert (got.view(np.int64) == expected.view(np.int64)).all()
    assert evaluation_hours._numbers(["1,2", "x'3'"], 3, np.float64) is None
    assert evaluation_hours._numbers(["1,2"], 3, np.float64) is None
