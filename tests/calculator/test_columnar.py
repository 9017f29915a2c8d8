"""The column-wise paths of ``envmon calc`` against the domain functions they stand in for,
and the start-up they save (pandas is not imported for plain files)."""

from __future__ import annotations

import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from benchmarks.bench_calc import write_air, write_water
from monitor.calculator.air import POLLUTANT_COLUMNS, _row_standards
from monitor.calculator.table import read_input_csv
from monitor.domain.aqi import AqiStandard, standards_for_dates
from monitor.domain.water_quality import Parameter, label_parameter_set

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
    """Hourly AQI and water classes of plain exports (numbers, empty cells, ``NA``, negative
    values flagged) run on polars and numpy alone: pandas' start-up (0.3–0.7 s) is not paid.
    The daily AQI needs the domain's daily statistics, which use pandas."""
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
    assert day == "0 True"


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
