"""The column-wise paths of ``envmon calc`` against the domain functions they stand in for,
and the start-up they save (pandas is not imported for plain files)."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from benchmarks.bench_calc import write_air, write_water
from monitor.calculator.air import POLLUTANT_COLUMNS, _row_standards, _site_days
from monitor.calculator.table import InputTable, read_input_csv
from monitor.domain.aqi import AqiStandard, standards_for_dates
from monitor.domain.daily import DAILY_STATISTICS, Mda8Windows, daily_statistics
from monitor.domain.water_quality import Parameter, label_parameter_set
from monitor.errors import InputError

_RUN_AND_REPORT_PANDAS = """
import sys
from monitor.cli import main
code = main(sys.argv[1:])
print(code, "pandas" in sys.modules)
"""


def _pandas_imported(*argv: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", _RUN_AND_REPORT_PANDAS, *argv],
        check=True,
        capture_output=True,
        text=True,
    )
    return done.stdout.strip()


def test_plain_files_are_rated_without_importing_pandas(tmp_path: Path) -> None:
    """Hourly and daily AQI and water classes of plain exports (numbers, empty cells,
    ``NA``, negative values flagged) run on polars and numpy alone: pandas' start-up
    (0.3–0.7 s) is not paid."""
    air, water, out = tmp_path / "air.csv", tmp_path / "water.csv", tmp_path / "out.csv"
    write_air(air, 3000)  # 200 stations × 15 hours, with '-1' cells (flagged) and 'NA'
    write_water(water, 3000)
    assert "-1" in air.read_text() and "-1" in water.read_text()
    hour = _pandas_imported("calc", "aqi", "--scale", "hour", str(air), "-o", str(out))
    assert hour == "0 False"
    assert out.read_text().count("\n") == 3001
    assert _pandas_imported("calc", "water-class", str(water), "-o", str(out)) == "0 False"
    assert out.read_text().count("\n") == 3001
    day = _pandas_imported("calc", "aqi", "--scale", "day", str(air), "-o", str(out))
    assert day == "0 False"
    assert out.read_text().count("\n") == 201  # 200 stations, one day each


# Times from the last summer-time years of Asia/Shanghai (1986–1991) to after the switch to
# HJ 633-2026 (2026-03-01), with and without offsets.
_TIMES = st.datetimes(min_value=datetime(1986, 1, 1), max_value=datetime(2027, 1, 1))
_NEAR_SWITCH = st.integers(-72, 72).map(lambda h: datetime(2026, 3, 1) + timedelta(hours=h))
_OFFSETS = st.sampled_from(["", "Z", "+08:00", "-05:00", "+14:00"])


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.one_of(_TIMES, _NEAR_SWITCH), _OFFSETS), min_size=1, max_size=30))
def test_row_standards_are_those_of_the_local_dates(
    tmp_path_factory: pytest.TempPathFactory, times: list[tuple[datetime, str]]
) -> None:
    """``--standard auto`` picks each row's rule set from its Asia/Shanghai date as
    :func:`standards_for_dates` does (HJ 633-2026 from 2026-03-01, its foreword)."""
    folder = tmp_path_factory.mktemp("standards")
    lines = [f"1001A,{t.strftime('%Y-%m-%dT%H:%M')}{offset},35" for t, offset in times]
    path = folder / "in.csv"
    path.write_text("site,time,pm2_5\n" + "\n".join(lines) + "\n", encoding="utf-8")
    table = read_input_csv(path, POLLUTANT_COLUMNS)
    chosen = _row_standards("auto", table)
    per_row = np.full(table.row_count, chosen, dtype=object) if isinstance(chosen, str) else chosen
    ok = table.time_ok
    expected = standards_for_dates(table.times[ok])
    assert [str(s) for s in per_row[ok]] == [str(s) for s in expected]
    assert all(str(s) == AqiStandard.HJ633_2012 for s in per_row[~ok])  # not rated


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.lists(st.booleans(), min_size=len(Parameter), max_size=len(Parameter)),
        min_size=0,
        max_size=12,
    ),
    st.sets(st.sampled_from(list(Parameter)), min_size=1),
)
def test_parameter_sets_of_arrays_are_those_of_a_frame(
    rows: list[list[bool]], items: set[Parameter]
) -> None:
    """:func:`label_parameter_set` gives the same labels for float arrays as for a frame."""
    codes = [p.value for p in Parameter if p in items]
    measured: dict[str, npt.NDArray[np.float64]] = {
        p.value: np.array([1.0 if r[j] else np.nan for r in rows], dtype=float)
        for j, p in enumerate(Parameter)
        if p.value in codes
    }
    frame = pd.DataFrame(measured, columns=codes)
    assert label_parameter_set(measured) == label_parameter_set(frame)


_HOUR_VALUES = st.floats(0.0, 400.0, allow_nan=False)  # gaps: the hours left out
# one site-day: the hours 00:00 … 23:00 left out (up to 8, so that the counts meet the
# thresholds of 20 hours and 14 or 20 windows and miss them by one), O3 and PM2.5 per hour
_SITE_DAY = st.tuples(
    st.sampled_from(["1001A", "1002A", "沈阳 站", "B"]),
    st.integers(0, 3),
    st.sets(st.integers(0, 23), max_size=8),
    st.lists(_HOUR_VALUES, min_size=24, max_size=24),
    st.lists(_HOUR_VALUES, min_size=24, max_size=24),
)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(_SITE_DAY, min_size=1, max_size=8, unique_by=lambda d: (d[0], d[1])),
    st.sampled_from(list(Mda8Windows)),
    st.booleans(),
)
def test_site_days_are_the_domain_daily_statistics(
    tmp_path_factory: pytest.TempPathFactory,
    site_days: list[tuple[str, int, set[int], list[float], list[float]]],
    windows: Mda8Windows,
    near: bool,
) -> None:
    """The daily statistics ``calc aqi --scale day`` computes on its arrays (rows, means,
    O3 maxima, MDA8, validity by GB 3095-2026 Table 4 / HJ 663, counts) are those of
    :func:`daily_statistics`, row by row: days with hours missing around the thresholds,
    O3 above the limits that validate incomplete days, days adjacent or far apart."""
    start = datetime(2026, 2, 27) if near else datetime(1995, 7, 1)
    lines = []
    for site, day, left_out, o3, pm in site_days:
        for hour in sorted(set(range(24)) - left_out):
            at = start + timedelta(days=day if near else day * 40, hours=hour)
            cells = [repr(o3[hour]), repr(pm[hour])]
            lines.append(f"{site},{at.strftime('%Y-%m-%dT%H:%M')},{cells[0]},{cells[1]}")
    path = tmp_path_factory.mktemp("days") / "in.csv"
    path.write_text("site,time,o3,pm2_5\n" + "\n".join(lines) + "\n", encoding="utf-8")
    table = read_input_csv(path, POLLUTANT_COLUMNS)
    usable = np.ones(table.row_count, dtype=bool)
    days = _site_days(table, usable, windows)
    frame = pd.DataFrame({"site": table.sites.to_list(), "time": table.times})
    for column in table.columns:
        frame[column] = table.value(column)
    expected = daily_statistics(frame, mda8_windows=windows, round_statistics=False)
    assert days.sites.to_list() == expected["site"].tolist()
    assert (days.days == (expected["date"] - pd.Timestamp(0)).dt.days.to_numpy()).all()
    for s in DAILY_STATISTICS:
        np.testing.assert_array_equal(days.exact[s], expected[s].to_numpy(dtype=float))
        np.testing.assert_array_equal(days.valid[s], expected[f"{s}_valid"].to_numpy())
        np.testing.assert_array_equal(days.counts[s], expected[f"{s}_count"].to_numpy())


def test_cells_checked_once_per_distinct_text_read_as_cell_by_cell(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Columns that repeat their texts are checked once per distinct text; every cell then
    reads as when each cell is checked (plain, odd and bad cells, odd times and sites)."""
    from monitor.calculator import table as table_module

    times = ["2026-03-01T16:00", "2026-03-01 17:00", "2026-03-01T24:00", "2026-03-01T18:00+08:00"]
    times += ["2026-03-01T19:30", "yesterday", "1990-07-01T12:00"]
    cells = ["35", "", "NA", "/", "-", "-1", " 12 ", "1e2", "0.8", "abc", "12L", "inf", "n/a"]
    sites = ["1001A", " 1002A", ""]
    lines = ["site,time,so2,no2,co,o3,pm10,pm2_5"]
    for i in range(400):  # each text repeats: at most a quarter of the rows are distinct
        row = [sites[i % 3], times[i % 7], *(cells[(i + k) % 13] for k in range(6))]
        lines.append(",".join(row))
    path = tmp_path / "repeated.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    regular = table_module.read_regular_csv(path.read_bytes())
    assert regular is not None
    names, frame = regular
    frame.columns = names
    assert set(table_module._distinct_texts(frame, [*POLLUTANT_COLUMNS, "time"])) == {
        *POLLUTANT_COLUMNS,
        "time",
    }
    once = read_input_csv(path, POLLUTANT_COLUMNS)
    monkeypatch.setattr(table_module, "_distinct_texts", lambda frame, names: {})
    each = read_input_csv(path, POLLUTANT_COLUMNS)
    assert np.array_equal(once.times_ns, each.times_ns)
    assert np.array_equal(once.value_matrix, each.value_matrix, equal_nan=True)
    assert np.array_equal(once.below_matrix, each.below_matrix)
    assert once.problem_texts.tolist() == each.problem_texts.tolist()
    assert once.sites.to_list() == each.sites.to_list()
    assert sum(p != "" for p in once.problem_texts) > 100  # the bad cells were seen


def _same_tables(a: InputTable, b: InputTable) -> None:
    assert np.array_equal(a.times_ns, b.times_ns)
    assert np.array_equal(a.value_matrix, b.value_matrix, equal_nan=True)
    assert np.array_equal(a.below_matrix, b.below_matrix)
    assert a.problem_texts.tolist() == b.problem_texts.tolist()
    assert a.sites.to_list() == b.sites.to_list()
    assert a.text.with_columns(pl.all().cast(pl.String).fill_null("")).equals(b.text)


_HEADER = "site,time,so2,no2,co,o3,pm10,pm2_5"
_ROWS = [  # (plain, empty, odd and bad cells; no quote anywhere)
    "1001A,2026-03-01T16:00,35,,NA,/,-,-1",
    "1001A,2026-03-01T17:00, 12 ,1e2,0.8,abc,12L,inf",
    " 1002A,2026-03-01T16:00,,,,,,",
    ",2026-03-01T16:00,5,6,0.4,80,70,30",
] * 20  # (the texts repeat: columns whose texts are mostly distinct are read as text)


@pytest.mark.parametrize(
    ("layout", "coded_read"),
    [
        ("\n".join([_HEADER, *_ROWS]) + "\n", True),
        ("\r\n".join([_HEADER, *_ROWS]), True),  # CRLF, no final line end
        ("\n".join([_HEADER, *_ROWS, "1001A,2026-03-01T18:00,1,2,0.3,4,5"]) + "\n", False),
        ("\n".join([_HEADER, *_ROWS, "1001A,2026-03-01T18:00,1,2,0.3,4,5,6,7"]) + "\n", False),
        ("\n".join([_HEADER, _ROWS[0], "", *_ROWS[1:]]) + "\n", False),  # a blank line
        ("\n".join([_HEADER, _ROWS[0], "   ,,,,,,,", *_ROWS[1:]]) + "\n", False),
        ("\n".join([_HEADER, _ROWS[0], ",,,,,,,", *_ROWS[1:]]) + "\n", False),
        ("\n".join([_HEADER.replace("pm2_5", '"pm2_5"'), *_ROWS]) + "\n", False),  # a quote
    ],
)
def test_measurement_columns_read_as_categories_read_as_text(
    tmp_path: Path, layout: str, coded_read: bool
) -> None:
    """``coded`` (the measurement columns of a file without quotes read as categorical
    text) gives the same cells, values and problems as the text read; a file with a short
    or long line, a blank line or a line of empty cells, or a quote, is read as before
    (short lines, blank and empty lines by pandas: the categorical reader gives an empty
    cell as null, so a missing cell could not be told from it otherwise)."""
    from monitor.calculator import table as table_module

    path = tmp_path / "air.csv"
    path.write_bytes(layout.encode())
    try:
        as_text = read_input_csv(path, POLLUTANT_COLUMNS)
    except InputError as err:  # (a line longer than the header: the same message)
        with pytest.raises(InputError, match="Expected 8 fields in line 82, saw 9") as coded_err:
            read_input_csv(path, POLLUTANT_COLUMNS, coded=True)
        assert str(coded_err.value) == str(err)
    else:
        _same_tables(read_input_csv(path, POLLUTANT_COLUMNS, coded=True), as_text)
    regular = table_module.read_regular_csv(path.read_bytes(), coded=lambda n: n != "site")
    kinds = set() if regular is None else {type(t) for t in regular[1].dtypes}
    assert (pl.Categorical in kinds) == coded_read
    assert (regular is None) == (not coded_read and '"' not in layout)


@pytest.mark.parametrize("stripped", [False, True])
def test_site_days_from_the_site_codes_of_the_checks(tmp_path: Path, stripped: bool) -> None:
    """The site codes the cell checks found (each distinct site text once) give the same
    site-days, in the same order (sites by code point, as pandas sorts str), as the site
    texts themselves; a site written with spaces around it is the same site, and then the
    codes of the texts as read are not used."""
    sites = ["北京A", "Z9", "a1", "1001A", "上海B"]
    lines = ["site,time,pm2_5,o3"]
    for i in range(24 * 3 * len(sites)):
        site = sites[i % len(sites)]
        if stripped and i % 7 == 0:
            site = f" {site} "
        at = datetime(2026, 3, 1) + timedelta(hours=i // len(sites))
        lines.append(f"{site},{at:%Y-%m-%dT%H:%M},{i % 97},{(i * 7) % 180}")
    path = tmp_path / "in.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    table = read_input_csv(path, POLLUTANT_COLUMNS)
    assert (table.site_codes is None) == stripped
    usable = np.ones(table.row_count, dtype=bool)
    days = _site_days(table, usable, Mda8Windows.WITHIN_DAY)
    without = _site_days(
        dataclasses.replace(table, site_codes=None), usable, Mda8Windows.WITHIN_DAY
    )
    assert days.sites.to_list() == without.sites.to_list() == sorted(sites * 3)
    assert days.days.tolist() == without.days.tolist()
    for s in DAILY_STATISTICS:
        np.testing.assert_array_equal(days.exact[s], without.exact[s])
        np.testing.assert_array_equal(days.counts[s], without.counts[s])
    assert days.counts["pm2_5"].tolist() == [24.0] * len(sites) * 3


def _read_as(tmp_path: Path, so2: Callable[[int], str], rows: int) -> dict[str, type]:
    """How ``read_regular_csv`` reads each column of an hourly file of ``rows`` rows whose
    so2 cell of row i is ``so2(i)`` (no2: 40 texts, co: one)."""
    from monitor.calculator import table as table_module

    lines = [_HEADER]
    for i in range(rows):
        hour = f"2026-03-{1 + i // 24 % 28:02d}T{i % 24:02d}:00"
        lines.append(f"1001A,{hour},{so2(i)},{i % 40},0.8,,,")
    path = tmp_path / "air.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    regular = table_module.read_regular_csv(path.read_bytes(), coded=lambda n: n != "site")
    assert regular is not None
    names, frame = regular
    return dict(zip(names, (type(t) for t in frame.dtypes), strict=True))


def test_columns_of_mostly_distinct_texts_are_read_as_text(tmp_path: Path) -> None:
    """Only the measurement columns whose texts repeat (in the first rows) are read as
    categories: the categorical reader is slow on many distinct texts (concentrations with
    three decimals). The cells read the same either way."""
    rng = np.random.default_rng(3)
    read_as = _read_as(tmp_path, lambda i: f"{rng.random() * 100:.3f}", 2000)
    assert read_as["so2"] is pl.String  # 2,000 distinct texts in 2,000 rows
    assert read_as["no2"] is pl.Categorical  # 40 texts
    assert read_as["co"] is pl.Categorical and read_as["pm2_5"] is pl.Categorical
    path = tmp_path / "air.csv"
    _same_tables(
        read_input_csv(path, POLLUTANT_COLUMNS, coded=True),
        read_input_csv(path, POLLUTANT_COLUMNS),
    )


@pytest.mark.parametrize("distinct_from", ["middle", "end"])
def test_a_column_that_repeats_only_in_its_first_rows_is_read_as_text(
    tmp_path: Path, distinct_from: str
) -> None:
    """The repeat is judged on the file's start, middle and end: a column whose first
    512 KB repeat and whose later rows hold distinct three-decimal values would be read
    about 60 % slower as categories (found in review: 1.91 s against 1.20 s of CPU)."""
    rng = np.random.default_rng(5)
    rows = 60_000  # about 2.5 MB: well past the first sample of 512 KB
    start = rows // 2 if distinct_from == "middle" else rows - 2_000
    read_as = _read_as(
        tmp_path, lambda i: f"{rng.random() * 100:.3f}" if i >= start else f"{i % 30}", rows
    )
    assert read_as["so2"] is pl.String  # repeats at the start, distinct later
    assert read_as["no2"] is pl.Categorical  # 40 texts throughout


@pytest.mark.parametrize("odd_time", [False, True])
def test_local_times_once_per_time_text_are_those_of_the_rows(
    tmp_path: Path, odd_time: bool
) -> None:
    """What is computed from each row's local time (on the hour? from the HJ 633-2026 date
    on?) is computed once per distinct time text when every row's time is its text's,
    with the same result; a time read cell by cell (an offset, summer time 1986–1991, a
    text that is not a time) means row by row."""
    from monitor.calculator.air import _HJ633_2026_LOCAL_NS, _off_the_hour

    times = ["2025-12-31T23:00", "2026-01-01T00:00", "2026-01-01T00:30", "2026-03-01 17:00"]
    if odd_time:  # (and the times that are not times)
        times += ["2026-03-01T18:00+08:00", "1990-07-01T12:00", "yesterday", "2026-02-30T10:00"]
    lines = ["site,time,pm2_5"]
    lines += [f"1001A,{times[i % len(times)]},{i % 50}" for i in range(20 * len(times))]
    path = tmp_path / "in.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    table = read_input_csv(path, POLLUTANT_COLUMNS)
    assert (table.time_codes is None) == odd_time
    for f in (_off_the_hour, lambda t: t >= _HJ633_2026_LOCAL_NS):
        row_by_row = f(table.local_ns)
        np.testing.assert_array_equal(table.of_local_times(f), row_by_row)
    assert table.of_local_times(_off_the_hour)[2]  # 00:30
    assert not table.of_local_times(_off_the_hour)[1]
