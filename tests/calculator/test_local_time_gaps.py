"""Local times without an offset that Asia/Shanghai's clocks showed twice or never.

Asia/Shanghai kept summer time 1986–1991 (tz database, as Python's ``zoneinfo`` gives it:
1986-05-04 02:00 +08:00 → 03:00 +09:00; 1986-09-14 02:00 +09:00 → 01:00 +08:00). So
``1986-09-14T01:00`` names two instants (ambiguous) and ``1986-05-04T02:30`` none
(nonexistent). ``envmon calc`` and ``envmon import`` reported both as "not an ISO 8601
time", which sent users to fix a valid ISO 8601 text; they now say what the time is and
that an offset (``+09:00`` summer time, ``+08:00`` standard time) makes it unique.
"""

from __future__ import annotations

import csv
import io
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from monitor.calculator.table import local_time_problems
from monitor.cli import main
from monitor.collectors.long_csv import parse_long_csv

_SHANGHAI = ZoneInfo("Asia/Shanghai")


def test_the_dates_are_those_of_the_tz_database() -> None:
    """The premises of the tests below (platform facts, not envmon's code)."""
    twice = datetime(1986, 9, 14, 1, 0)
    assert (
        twice.replace(tzinfo=_SHANGHAI, fold=0).utcoffset()
        != twice.replace(tzinfo=_SHANGHAI, fold=1).utcoffset()
    )
    never = datetime(1986, 5, 4, 2, 30).replace(tzinfo=_SHANGHAI)
    assert never.astimezone(ZoneInfo("UTC")).astimezone(_SHANGHAI).hour == 3


_AMBIGUOUS = (
    "time '1986-09-14T01:00' is ambiguous: Asia/Shanghai clocks showed 1986-09-14T01:00 "
    "twice (summer time ended that night); give the offset: 1986-09-14T01:00+09:00 for the "
    "first (summer time), 1986-09-14T01:00+08:00 for the second"
)
_NONEXISTENT = (
    "time '1986-05-04T02:30' did not exist in Asia/Shanghai: clocks jumped an hour forward "
    "(summer time began) and never showed 1986-05-04T02:30; give the offset the clock that "
    "read it kept: 1986-05-04T02:30+08:00 (standard time) or 1986-05-04T02:30+09:00 "
    "(summer time)"
)


@pytest.mark.parametrize(
    ("command", "column", "value"), [("aqi", "pm2_5", "30"), ("water-class", "do", "5")]
)
def test_calc_names_an_ambiguous_and_a_nonexistent_local_time(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str, column: str, value: str
) -> None:
    text = (
        f"site,time,{column}\n"
        f"A,1986-09-14T01:00,{value}\n"  # line 2: ambiguous
        f"A,1986-05-04T02:30,{value}\n"  # line 3: nonexistent
        f"A,1986-09-14T01:00+09:00,{value}\n"  # the offset given: fine
        f"A,1986-09-14T01:00+08:00,{value}\n"
        f"A,yesterday,{value}\n"  # not a time at all: as before
    )
    source, out = tmp_path / "in.csv", tmp_path / "out.csv"
    source.write_text(text, encoding="utf-8")
    assert main(["calc", command, str(source), "-o", str(out)]) == 0
    problems = [r["input_problems"] for r in csv.DictReader(io.StringIO(out.read_text()))]
    assert problems[:4] == [_AMBIGUOUS, _NONEXISTENT, "", ""]
    assert problems[4] == "time 'yesterday' is not an ISO 8601 time (e.g. 2026-03-01T16:00)"
    err = capsys.readouterr().err
    assert f"line 2: {_AMBIGUOUS}" in err and f"line 3: {_NONEXISTENT}" in err


def test_import_names_an_ambiguous_and_a_nonexistent_local_time() -> None:
    text = (
        "site,time,parameter,value\n"
        "A,1986-09-14T01:00,pm2_5,30\n"  # line 2
        "A,1986-05-04T02:30,pm2_5,30\n"  # line 3
        "A,1986-09-14T01:00+09:00,pm2_5,30\n"
        "A,1986-09-14T01:00+08:00,pm2_5,30\n"
        "A,yesterday,pm2_5,30\n"  # line 6
    )
    frame, warnings = parse_long_csv(text.encode(), "in.csv")
    assert len(frame) == 2  # the two times with an offset: two instants, an hour apart
    assert frame["period_end"].diff().iloc[1].total_seconds() == 3600
    assert warnings[0].startswith(f"in.csv line 2: {_AMBIGUOUS}")
    assert warnings[1].startswith(f"in.csv line 3: {_NONEXISTENT}")
    assert warnings[2].startswith("in.csv line 6: time 'yesterday' is not an ISO 8601 time")


def test_the_suggested_times_keep_the_seconds_and_the_others_are_not_named() -> None:
    found = local_time_problems(
        ["1986-09-14T01:30:15", "1986-09-14T02:00", "1986-09-14T01:00+08:00", "yesterday"]
    )
    assert found[0] is not None
    assert "give the offset: 1986-09-14T01:30:15+09:00 for the first" in found[0]
    # 02:00 after the change-back happened once; with an offset, or no time: not these
    assert found[1:] == [None, None, None]
