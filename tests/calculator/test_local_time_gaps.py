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

import pandas as pd
import pytest

from monitor.calculator.table import local_time_problems, parse_local_times
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


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # the evening summer time ended: 24:00 is 1986-09-15 00:00 at +08:00 (tz database,
        # zoneinfo above), not 23:00 at +08:00 (24 hours after 00:00 at +09:00)
        ("1986-09-14T24:00", datetime(1986, 9, 15, 0, 0)),
        # the evening of the day it began: 1986-05-05 00:00 at +09:00, not 01:00
        ("1986-05-04T24:00", datetime(1986, 5, 5, 0, 0)),
        ("1991-09-15T24:00", datetime(1991, 9, 16, 0, 0)),
    ],
)
def test_hour_24_of_a_summer_time_change_day_is_next_midnight(
    text: str, expected: datetime
) -> None:
    """ISO 8601: ``24:00`` of a date is 00:00 of the next day on the wall clock; on the day
    the clocks changed that is 23 or 25 hours after the day's 00:00, not 24."""
    got = parse_local_times(pd.Series([text], dtype=object))[0]
    assert got.to_pydatetime() == expected.replace(tzinfo=_SHANGHAI)
    assert got.tz_localize(None).to_pydatetime() == expected


def test_calc_does_not_take_24_00_of_the_change_back_day_for_23_00(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``1986-09-14T23:00`` and ``T24:00`` are two hours (15:00 and 16:00 UTC): neither
    is a duplicate of the other, and the later one is 00:00 of the next day."""
    source = tmp_path / "in.csv"
    source.write_text(
        "site,time,pm2_5\nA,1986-09-14T23:00,30\nA,1986-09-14T24:00,40\n", encoding="utf-8"
    )
    assert main(["calc", "aqi", "--scale", "day", str(source)]) == 0
    captured = capsys.readouterr()
    assert "duplicate" not in captured.err
    days = [(r["date"], r["pm2_5"]) for r in csv.DictReader(io.StringIO(captured.out))]
    # (as for 2026-03-01T23:00 and T24:00: the second on the next date's row)
    assert days == [("1986-09-14", "30"), ("1986-09-15", "40")]


def test_import_keeps_23_00_and_24_00_of_the_change_back_day_apart() -> None:
    """Read as one instant, the two rows had the same key and different values: both
    were refused as conflicting. They are an hour apart (15:00 and 16:00 UTC)."""
    text = "site,time,parameter,value\nA,1986-09-14T23:00,pm2_5,30\nA,1986-09-14T24:00,pm2_5,31\n"
    frame, warnings = parse_long_csv(text.encode(), "in.csv")
    assert warnings == []
    assert frame["period_end"].dt.hour.tolist() == [15, 16]


def test_the_suggested_times_keep_a_fraction_of_a_second() -> None:
    """The forms to choose from name the same wall time as the text: ``01:30:00.5`` is
    not ``01:30:00``."""
    (found,) = local_time_problems(["1986-09-14T01:30:00.5"])
    assert found is not None
    assert "give the offset: 1986-09-14T01:30:00.500000+09:00 for the first" in found


def test_hour_24_before_clocks_jumped_at_midnight_is_the_jump() -> None:
    """On 1940-06-01 Asia/Shanghai's clocks jumped from 00:00 to 01:00 (tz database, as
    zoneinfo gives it): 00:00 of that date never showed, and 24:00 of 31 May — the end of
    that day — is the instant of the jump, 16:00 UTC (not a time that is not one)."""
    never = datetime(1940, 6, 1, 0, 0).replace(tzinfo=_SHANGHAI)
    assert never.astimezone(ZoneInfo("UTC")).astimezone(_SHANGHAI).hour == 1  # (premise)
    got = parse_local_times(pd.Series(["1940-05-31T24:00"], dtype=object))[0]
    assert got.to_pydatetime() == datetime(1940, 5, 31, 16, 0, tzinfo=ZoneInfo("UTC"))


#: Times pandas' ISO 8601 reader takes for years before 1 (``-1`` is the year -1, ``0000``
#: the year 0), which Python's datetime cannot hold (its years run 1–9999): no summer time
#: to name, so they are "not an ISO 8601 time" like any other unreadable text.
_BEFORE_YEAR_ONE = ("-1", "-5", "0000-01-01T00:00", "-0001-01-01", "-12-01")


@pytest.mark.parametrize("time", _BEFORE_YEAR_ONE)
@pytest.mark.parametrize(
    ("command", "column", "value"), [("aqi", "pm2_5", "30"), ("water-class", "do", "5")]
)
def test_calc_a_time_before_year_one_is_a_row_problem_not_an_internal_error(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    command: str,
    column: str,
    value: str,
    time: str,
) -> None:
    """Was ``envmon: internal error: ValueError: year -1 is out of range`` (exit 1, no
    output) for the whole file: found by the csvfix review (a quoted lone-CR file whose
    line ``,-1`` the Python reader now reads as an empty site and the time ``-1``)."""
    source, out = tmp_path / "in.csv", tmp_path / "out.csv"
    source.write_text(
        f"site,time,{column}\nA,{time},{value}\nA,2026-03-01T08:00,{value}\n", encoding="utf-8"
    )
    assert main(["calc", command, str(source), "-o", str(out)]) == 0
    problems = [r["input_problems"] for r in csv.DictReader(io.StringIO(out.read_text()))]
    assert problems == [
        f"time {time!r} is not an ISO 8601 time (e.g. 2026-03-01T16:00)",
        "",
    ]
    assert "internal error" not in capsys.readouterr().err


@pytest.mark.parametrize("time", _BEFORE_YEAR_ONE)
def test_import_a_time_before_year_one_is_a_row_problem_not_an_internal_error(
    time: str,
) -> None:
    text = f"site,time,parameter,value\nA,{time},pm2_5,30\nA,2026-03-01T08:00,pm2_5,30\n"
    frame, warnings = parse_long_csv(text.encode(), "in.csv")
    assert len(frame) == 1
    # (not an ISO 8601 time, or a year before 1900: either names the cell)
    assert warnings[0].startswith(f"in.csv line 2: time {time!r} ")
    assert warnings[0].endswith("(not imported)")


def test_local_time_problems_of_times_before_year_one_are_none() -> None:
    assert local_time_problems([*_BEFORE_YEAR_ONE, "1986-05-04T02:30"])[:-1] == [None] * 5


#: Offsets pandas' ISO 8601 reader takes that ISO 8601 does not (±hh, ±hhmm or ±hh:mm):
#: one digit, three digits, a minute of one digit. Beside a time without an offset such a
#: text made pandas mix zones and envmon stop with an internal error.
_ODD_OFFSETS = ("2026-03-01T07:00-1", "2026-03-01T07:00+1", "2026-03-01T07:00-123")


@pytest.mark.parametrize("time", _ODD_OFFSETS)
@pytest.mark.parametrize(
    ("command", "column", "value"), [("aqi", "pm2_5", "30"), ("water-class", "do", "5")]
)
def test_calc_an_offset_iso_8601_does_not_know_is_a_row_problem_not_an_internal_error(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    command: str,
    column: str,
    value: str,
    time: str,
) -> None:
    """Was ``envmon: internal error: TypeError: Already tz-aware`` (or ``ValueError: Mixed
    timezones detected``) for the whole file (found by the csvfix review's fuzzing)."""
    source, out = tmp_path / "in.csv", tmp_path / "out.csv"
    source.write_text(
        f"site,time,{column}\nA,{time},{value}\nA,2026-03-01T08:00,{value}\n", encoding="utf-8"
    )
    assert main(["calc", command, str(source), "-o", str(out)]) == 0
    problems = [r["input_problems"] for r in csv.DictReader(io.StringIO(out.read_text()))]
    assert problems == [
        f"time {time!r} is not an ISO 8601 time (e.g. 2026-03-01T16:00)",
        "",
    ]
    assert "internal error" not in capsys.readouterr().err


@pytest.mark.parametrize("time", _ODD_OFFSETS)
def test_import_an_offset_iso_8601_does_not_know_is_a_row_problem(time: str) -> None:
    text = f"site,time,parameter,value\nA,{time},pm2_5,30\nA,2026-03-01T08:00,pm2_5,30\n"
    frame, warnings = parse_long_csv(text.encode(), "in.csv")
    assert len(frame) == 1
    assert warnings[0].startswith(f"in.csv line 2: time {time!r} is not an ISO 8601 time")


def test_times_with_an_offset_iso_8601_does_not_know_are_not_read() -> None:
    read = parse_local_times(pd.Series([*_ODD_OFFSETS, "2026-03-01T08:00"]))
    assert read.isna().tolist() == [True, True, True, False]
    assert local_time_problems(list(_ODD_OFFSETS)) == [None, None, None]
