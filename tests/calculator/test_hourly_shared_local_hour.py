"""``envmon calc aqi --scale hour`` with moving means (``--hourly-method standard-text``, or
an SO2 1-hour value above 800) when two rows of a site fall on one local hour: the hour of
Asia/Shanghai's summer-time fall-back (1986–1991; 1986-09-14 02:00 UTC+9 became 01:00 UTC+8,
so 1986-09-13T16:00Z and 17:00Z are both local 01:00 on 1986-09-14).

They are distinct instants, not duplicates. As ``--scale day`` counts that local hour
(``test_daily_shared_local_hour.py``: the later row holds it), the moving means of the hours
after it take the later row's value; each of the two rows is still rated, its own moving
means ending with its own value, and the earlier row says so in ``input_problems``.
Before this was handled, the run stopped with an internal error (ValueError from the
domain's ``moving_means``: "site 'S1' has two values labelled 1986-09-14 01:00:00").
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from monitor.cli import main
from tests.calculator.test_air import AREA_CONFIG, rows

_START = dt.datetime(1986, 9, 12, 17, 0)  # (UTC) local 1986-09-13 01:00 (UTC+9)
_EARLIER = 23  # 1986-09-13T16:00Z: local 1986-09-14 01:00 (UTC+9)
_LATER = 24  # 1986-09-13T17:00Z: local 1986-09-14 01:00 (UTC+8)


def _text(site: str = "S1", so2: int = 5) -> str:
    """27 hours of one site; every PM2.5 35 and O3 20 but the earlier fall-back row's
    (PM2.5 275, O3 100)."""
    lines = ["site,time,pm2_5,so2,o3"]
    for k in range(27):
        t = _START + dt.timedelta(hours=k)
        pm, o3 = (275, 100) if k == _EARLIER else (35, 20)
        lines.append(f"{site},{t:%Y-%m-%dT%H:%M}+00:00,{pm},{so2},{o3}")
    return "\n".join(lines) + "\n"


def _run(tmp_path: Path, text: str, *args: str) -> list[dict[str, str]]:
    source = tmp_path / "in.csv"
    source.write_text(text, encoding="utf-8")
    out = tmp_path / "out.csv"
    assert main(["calc", "aqi", "--scale", "hour", *args, str(source), "-o", str(out)]) == 0
    return rows(out)


def test_standard_text_rates_both_rows_of_the_fall_back_hour(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = _run(tmp_path, _text(), "--standard", "hj633-2012", "--hourly-method", "standard-text")
    assert "internal error" not in capsys.readouterr().err
    assert len(out) == 27  # every row rated, none lost
    earlier, later, after = out[_EARLIER], out[_LATER], out[_LATER + 1]
    # HJ 633-2012 Table 1, PM2.5 24 h: 35 → IAQI 50, 75 → 100 (linear between, rounded up).
    # Earlier row: its own window, labels 09-13 02:00 … 09-14 01:00: (23·35 + 275)/24 = 45
    # → 50 + 50·(45 − 35)/(75 − 35) = 62.5 → 63.
    assert earlier["iaqi_pm2_5"] == "63"
    # Later row and the next hour: the local hour holds the later row (35): every value 35.
    assert (later["iaqi_pm2_5"], after["iaqi_pm2_5"]) == ("50", "50")
    # O3 8 h (Table 1: 0–100 µg/m³ → IAQI 0–50), the window restarts at 01:00 (HJ 663):
    # earlier row 100 alone → 50; later row 20 → 10; 02:00: (20 + 20)/2 = 20 → 10
    # (with the earlier row's 100 it would be 40 → 20).
    assert (earlier["iaqi_o3_8h"], later["iaqi_o3_8h"], after["iaqi_o3_8h"]) == ("50", "10", "10")
    # the earlier row says which row holds its local hour (line numbers count the header)
    assert f"line {_LATER + 2}" in earlier["input_problems"]
    assert "1986-09-14 01:00" in earlier["input_problems"]
    assert later["input_problems"] == "" and after["input_problems"] == ""


def test_platform_so2_above_800_in_the_fall_back_hour(tmp_path: Path) -> None:
    """The SO2 > 800 rule (HJ 633-2012 Table 1 note: the 24-hour mean's IAQI) needs the
    SO2 24-hour moving mean: the same rows, no internal error."""
    out = _run(tmp_path, _text(so2=900), "--standard", "hj633-2012")
    assert len(out) == 27
    # Too few hours (< 20) before local 1986-09-13 21:00 for a 24-hour mean; the later
    # rows have one: 900 µg/m³ (SO2 24 h, Table 1: 800 → 200, 1600 → 300) → 200 +
    # 100·100/800 = 212.5 → 213.
    assert out[_EARLIER]["iaqi_so2"] == "213"
    assert out[_LATER]["iaqi_so2"] == "213"
    assert f"line {_LATER + 2}" in out[_EARLIER]["input_problems"]


def _district_rows(tmp_path: Path) -> list[dict[str, str]]:
    """The area rows of ``calc aqi --areas --hourly-method standard-text`` on the fall-back
    file of the only member site (1001A)."""
    config = tmp_path / "areas.toml"
    config.write_text(AREA_CONFIG, encoding="utf-8")
    source = tmp_path / "in.csv"
    source.write_text(_text(site="1001A"), encoding="utf-8")
    out = tmp_path / "out.csv"
    argv = ["--config", str(config), "calc", "aqi", "--areas", "--standard", "hj633-2012"]
    argv += ["--hourly-method", "standard-text", str(source), "-o", str(out)]
    assert main(argv) == 0
    return [r for r in rows(out) if r["site"] == "district"]


def test_area_rows_of_the_fall_back_hour(tmp_path: Path) -> None:
    """``--areas``: the area's mean per instant has the same two local 01:00 rows."""
    district = _district_rows(tmp_path)
    assert len(district) == 27
    # the same means as the only member site's (1001A)
    assert [r["iaqi_pm2_5"] for r in district[_EARLIER : _LATER + 2]] == ["63", "50", "50"]
    assert [r["iaqi_o3_8h"] for r in district[_EARLIER : _LATER + 2]] == ["50", "10", "10"]


def test_the_earlier_area_row_of_the_fall_back_hour_says_so(tmp_path: Path) -> None:
    """The area's two rows labelled local 1986-09-14 01:00 (area rows show local labels,
    without an offset): the earlier says why its moving means differ, as a site's earlier
    row does (was: two rows of one label and no word of which is which)."""
    district = _district_rows(tmp_path)
    earlier, later = district[_EARLIER], district[_LATER]
    assert earlier["time"] == later["time"] == "1986-09-14T01:00"
    assert "summer-time change-back" in earlier["input_problems"]
    assert "1986-09-14 01:00" in earlier["input_problems"]
    assert later["input_problems"] == ""
