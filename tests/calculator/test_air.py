"""``envmon calc aqi``: the CSV contract, reference values, and bad input."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from monitor.cli import main

HOUR_HEADER = [
    "site",
    "time",
    "aqi",
    "level",
    "category",
    "primary_pollutants",
]


def run(tmp_path: Path, text: str, *args: str, encoding: str = "utf-8") -> Path:
    """Write ``text`` as IN.csv, run ``envmon calc aqi ARGS IN.csv -o OUT.csv``; return OUT."""
    source = tmp_path / "in.csv"
    source.write_bytes(text.encode(encoding))
    out = tmp_path / "out.csv"
    code = main(["calc", "aqi", *args, str(source), "-o", str(out)])
    assert code == 0
    return out


def rows(path: Path) -> list[dict[str, str]]:
    """Rows of an output CSV as dicts."""
    return list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"))))


def test_hour_output_columns_follow_the_contract(tmp_path: Path) -> None:
    """Hour scale: site,time,aqi,level,category,primary_pollutants, iaqi_<p>, complete."""
    out = run(
        tmp_path, "site,time,pm2_5,o3,extra\nA,2026-03-01T16:00,80,150,x\n", "--scale", "hour"
    )
    header = next(csv.reader(io.StringIO(out.read_text(encoding="utf-8"))))
    assert header[:6] == HOUR_HEADER
    assert header[6:9] == ["iaqi_o3", "iaqi_pm2_5", "complete"]
    assert "extra" not in header
    assert "iaqi_so2" not in header


@pytest.mark.parametrize(
    ("time", "pm2_5", "pm10", "expected_aqi", "standard"),
    [
        # standards.md §1.7: PM2.5 80 → 107 (2012 table) / 119 (2026 table); the platform
        # rates 1-hour PM on the 24-hour breakpoints (HJ 633-2026 §4.2.4).
        ("2026-02-28T23:00", "80", "", "107", "hj633-2012"),
        ("2026-03-01T00:00", "80", "", "119", "hj633-2026"),
        # PM10 151 → 101 (2012) / 112 (2026), §1.7.
        ("2025-07-01T12:00", "", "151", "101", "hj633-2012"),
        ("2026-07-01T12:00", "", "151", "112", "hj633-2026"),
        # An offset is converted to Asia/Shanghai before the rule set is chosen:
        # 2026-02-28T16:00Z is 2026-03-01 00:00 in Shanghai.
        ("2026-02-28T16:00Z", "80", "", "119", "hj633-2026"),
        ("2026-02-28T15:00+00:00", "80", "", "107", "hj633-2012"),
    ],
)
def test_hour_auto_standard_switches_on_2026_03_01(
    tmp_path: Path, time: str, pm2_5: str, pm10: str, expected_aqi: str, standard: str
) -> None:
    """--standard auto applies HJ 633-2012 to 2026-02-28 and HJ 633-2026 from 2026-03-01."""
    out = run(tmp_path, f"site,time,pm2_5,pm10\nA,{time},{pm2_5},{pm10}\n", "--scale", "hour")
    (row,) = rows(out)
    assert (row["aqi"], row["standard"], row["time"]) == (expected_aqi, standard, time)


def test_hour_explicit_standard_overrides_the_date(tmp_path: Path) -> None:
    """--standard hj633-2012 rates a 2026 hour with the 2012 table (PM2.5 80 → 107)."""
    out = run(
        tmp_path,
        "site,time,pm2_5\nA,2026-06-01T10:00,80\n",
        "--standard",
        "hj633-2012",
        "--scale",
        "hour",
    )
    assert rows(out)[0]["aqi"] == "107"


def test_hour_level_category_and_primary_pollutants(tmp_path: Path) -> None:
    """Level and category follow HJ 633 Table 2; primary pollutants tie in canonical order."""
    text = (
        "site,time,so2,no2,co,o3,pm10,pm2_5\n"
        # NO2 1h 200 → 100 and PM2.5 60 → 100 (2026): a tie, both primary, canonical order.
        "A,2026-05-01T10:00,5,200,0.5,20,20,60\n"
        # Everything ≤ 50 (max: PM10 20 → 50·20/50 = 20): no primary pollutant
        # (HJ 633 §3.3), level 1 优.
        "A,2026-05-01T11:00,5,20,0.5,20,20,10\n"
        # O3 1h 300 → 150: level 3 轻度污染.
        "A,2026-05-01T12:00,5,20,0.5,300,20,10\n"
    )
    out = rows(run(tmp_path, text, "--scale", "hour"))
    assert [r["aqi"] for r in out] == ["100", "20", "150"]
    assert [r["level"] for r in out] == ["2", "1", "3"]
    assert [r["category"] for r in out] == ["良", "优", "轻度污染"]
    assert [r["primary_pollutants"] for r in out] == ["no2;pm2_5", "", "o3"]
    assert [r["complete"] for r in out] == ["true", "true", "true"]


def test_hour_missing_pollutant_gives_aqi_from_the_rest(tmp_path: Path) -> None:
    """An empty cell is missing: AQI from the pollutants present and complete=false."""
    text = "site,time,so2,no2,co,o3,pm10,pm2_5\nA,2026-05-01T10:00,5,20,0.5,20,20,\n"
    (row,) = rows(run(tmp_path, text, "--scale", "hour"))
    assert row["iaqi_pm2_5"] == ""
    assert row["iaqi_no2"] == "10"  # NO2 1h 20 → 50·20/100 = 10
    assert row["aqi"] == row["iaqi_pm10"] == "20"  # PM10 20 → 50·20/50 = 20, the largest
    assert row["complete"] == "false"


def test_hour_missing_policy_hj633_2026_withholds_a_low_incomplete_aqi(tmp_path: Path) -> None:
    """--missing hj633-2026 (§5.3): with a pollutant missing, AQI ≤ 100 is not given."""
    text = (
        "site,time,so2,no2,co,o3,pm10\n"
        "A,2026-05-01T10:00,5,20,0.5,20,20\n"
        "A,2026-05-01T11:00,5,20,0.5,300,20\n"
    )
    out = rows(run(tmp_path, text, "--scale", "hour", "--missing", "hj633-2026"))
    assert [r["aqi"] for r in out] == ["", "150"]


def test_hour_header_aliases_and_gbk_encoding(tmp_path: Path) -> None:
    """A GBK export with 'PM2.5' in the header and a Chinese site name is read."""
    text = "site,time,PM2.5\n浑南东路,2026-03-01 16:00,35.5\n"
    (row,) = rows(run(tmp_path, text, "--scale", "hour", encoding="gbk"))
    # HJ 633-2026: 35.5 → 36 (GB/T 8170), IAQI 50 + 50·1/25 = 52 (standards.md §1.7).
    assert (row["site"], row["aqi"]) == ("浑南东路", "52")


def test_hour_bad_cells_are_flagged_not_fatal(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Non-numeric, negative and bad-time cells are flagged per row; other rows computed."""
    text = (
        "site,time,no2,pm2_5\n"
        "A,2026-05-01T10:00,abc,80\n"
        "A,2026-05-01T11:00,20,-3\n"
        "A,yesterday,20,80\n"
        "A,2026-05-01T12:00,20,80\n"
    )
    out = rows(run(tmp_path, text, "--scale", "hour"))
    assert "no2 'abc' is not a number" in out[0]["input_problems"]
    assert out[0]["aqi"] == "119"
    assert "pm2_5 '-3'" in out[1]["input_problems"]
    assert "time 'yesterday'" in out[2]["input_problems"]
    assert out[2]["aqi"] == ""
    assert out[3]["input_problems"] == ""
    assert "line 2:" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty"),
        ("site,time,foo,bar\nA,2026-01-01T01:00,1,2\n", "no measurement column"),
        ("site,pm2_5\nA,3\n", "missing column(s) time"),
        ("site,time,pm2_5\n", "no data rows"),
        ("site,time,pm2_5,PM2.5\nA,2026-01-01T01:00,1,2\n", "duplicate columns pm2_5"),
        ("site,time,pm2_5\nA,never,3\n", "no row has a usable time"),
    ],
)
def test_unusable_input_exits_2_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, message: str
) -> None:
    """Unusable files exit 2 with a one-line message naming the problem, no traceback."""
    source = tmp_path / "in.csv"
    source.write_text(text, encoding="utf-8")
    assert main(["calc", "aqi", "--scale", "hour", str(source)]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err
    assert err.count("\n") == 1


def test_missing_file_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A path that does not exist is named in the error."""
    assert main(["calc", "aqi", str(tmp_path / "nope.csv")]) == 2
    assert "nope.csv" in capsys.readouterr().err


def day_text(day: str, hours: range, columns: dict[str, float]) -> str:
    """Hourly rows labelled ``day`` HH:00 for the given hours with constant values."""
    names = ",".join(columns)
    lines = [f"site,time,{names}"]
    for h in hours:
        values = ",".join(str(v) for v in columns.values())
        lines.append(f"A,{day}T{h:02d}:00,{values}")
    return "\n".join(lines) + "\n"


DAY_HEADER = [
    "site",
    "date",
    "so2",
    "no2",
    "co",
    "pm10",
    "pm2_5",
    "o3_1h_max",
    "o3_8h_max",
    "so2_valid",
    "no2_valid",
    "co_valid",
    "pm10_valid",
    "pm2_5_valid",
    "o3_1h_max_valid",
    "o3_8h_max_valid",
    "aqi",
    "level",
    "category",
    "primary_pollutants",
    "standard",
]


def test_day_output_columns_follow_the_contract(tmp_path: Path) -> None:
    """Day scale: site,date, the seven statistics, their validity, aqi … standard."""
    out = run(tmp_path, day_text("2026-05-01", range(24), {"pm2_5": 30}), "--scale", "day")
    header = next(csv.reader(io.StringIO(out.read_text(encoding="utf-8"))))
    assert header[: len(DAY_HEADER)] == DAY_HEADER


def test_day_is_made_of_the_labels_00_to_23(tmp_path: Path) -> None:
    """Values labelled 00:00…23:00 make the day; next day's 00:00 belongs to the next day."""
    text = day_text("2026-05-01", range(24), {"pm2_5": 40}) + "A,2026-05-02T00:00,400\n"
    out = rows(run(tmp_path, text, "--scale", "day"))
    assert [(r["date"], r["pm2_5"], r["pm2_5_valid"]) for r in out] == [
        ("2026-05-01", "40", "true"),
        ("2026-05-02", "400", "false"),
    ]


def test_day_needs_20_hourly_values(tmp_path: Path) -> None:
    """GB 3095 Table 4: 20 hourly values make a valid daily mean, 19 do not."""
    valid = rows(run(tmp_path, day_text("2026-05-01", range(20), {"pm2_5": 80}), "--scale", "day"))
    invalid = rows(
        run(tmp_path, day_text("2026-05-01", range(19), {"pm2_5": 80}), "--scale", "day")
    )
    assert (valid[0]["pm2_5_valid"], valid[0]["aqi"]) == ("true", "119")
    assert (invalid[0]["pm2_5_valid"], invalid[0]["aqi"]) == ("false", "")


def test_day_2012_and_2026_differ_for_the_same_air(tmp_path: Path) -> None:
    """PM2.5 daily mean 75: 良 (100) under HJ 633-2012, 轻度污染 (114) under HJ 633-2026."""
    text = (
        day_text("2026-02-28", range(24), {"pm2_5": 75})
        + day_text("2026-03-01", range(24), {"pm2_5": 75}).split("\n", 1)[1]
    )
    out = rows(run(tmp_path, text, "--scale", "day"))
    assert [(r["date"], r["aqi"], r["category"], r["standard"]) for r in out] == [
        ("2026-02-28", "100", "良", "hj633-2012"),
        ("2026-03-01", "114", "轻度污染", "hj633-2026"),
    ]
    assert out[0]["primary_pollutants"] == out[1]["primary_pollutants"] == "pm2_5"
    assert out[1]["exceedance_pollutants"] == ""  # no exceedance pollutant in 2026


def test_day_o3_statistics_and_2012_rates_the_1h_max(tmp_path: Path) -> None:
    """2012 rates O3 daily max 1 h; 2026 does not (HJ 633-2026 Table 4)."""
    o3 = [60.0] * 24
    o3[14] = 300.0  # one peak hour: 1-hour max 300 → IAQI 150
    lines = ["site,time,o3"]
    for day in ("2025-08-01", "2026-08-01"):
        lines += [f"A,{day}T{h:02d}:00,{o3[h]}" for h in range(24)]
    out = rows(run(tmp_path, "\n".join(lines) + "\n", "--scale", "day"))
    # MDA8: windows containing the peak: (7·60 + 300)/8 = 90 → IAQI 45.
    assert [r["o3_8h_max"] for r in out] == ["90", "90"]
    assert [r["o3_1h_max"] for r in out] == ["300", "300"]
    assert [(r["aqi"], r["primary_pollutants"]) for r in out] == [("150", "o3"), ("45", "")]


def test_day_duplicate_hours_are_reported(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Two values for one site-hour: the first is used, the other reported."""
    text = day_text("2026-05-01", range(24), {"pm2_5": 40}) + "A,2026-05-01T05:00,900\n"
    out = rows(run(tmp_path, text, "--scale", "day"))
    assert out[0]["pm2_5"] == "40"
    assert "duplicate of line 7" in capsys.readouterr().err


def test_stdout_when_no_output_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Without -o the table goes to stdout."""
    source = tmp_path / "in.csv"
    source.write_text("site,time,pm2_5\nA,2026-05-01T10:00,80\n", encoding="utf-8")
    assert main(["calc", "aqi", str(source)]) == 0
    assert capsys.readouterr().out.splitlines()[1].startswith("A,2026-05-01T10:00,119,3,")


AREA_CONFIG = """\
[district]
name = "Test District"
name_zh = "测试区"

[[areas]]
id = "district"
name = "Test District"
name_zh = "测试区"

[[air_stations]]
code = "1001A"
name_zh = "甲站"
role = "evaluation"
areas = ["district"]

[[air_stations]]
code = "1002A"
name_zh = "乙站"
role = "evaluation"
areas = ["district"]

[[air_stations]]
code = "1003A"
name_zh = "对照站"
role = "control"
areas = ["district"]
"""


def run_areas(tmp_path: Path, text: str, *args: str) -> list[dict[str, str]]:
    """Run ``calc aqi --areas`` with a three-station config (1003A is a control site)."""
    config = tmp_path / "areas.toml"
    config.write_text(AREA_CONFIG, encoding="utf-8")
    source = tmp_path / "in.csv"
    source.write_text(text, encoding="utf-8")
    out = tmp_path / "out.csv"
    code = main(
        ["--config", str(config), "calc", "aqi", "--areas", *args, str(source), "-o", str(out)]
    )
    assert code == 0
    return rows(out)


def test_area_hour_is_the_aqi_of_the_mean_not_the_mean_of_aqis(tmp_path: Path) -> None:
    """District hour: the AQI of the sites' mean concentration, never the mean of AQIs."""
    # HJ 633-2026 Table 3: 1001A PM2.5 30 → 50·30/35 = 42.9 → 43; 1002A PM2.5 90 →
    # 100 + 50·(90 − 60)/(115 − 60) = 127.3 → 128.
    # Mean of concentrations 60 → IAQI 100; mean of AQIs would be 85.5.
    # The control site 1003A (500) is never averaged.
    text = (
        "site,time,pm2_5\n"
        "1001A,2026-05-01T10:00,30\n"
        "1002A,2026-05-01T10:00,90\n"
        "1003A,2026-05-01T10:00,500\n"
    )
    out = run_areas(tmp_path, text, "--scale", "hour")
    by_site = {r["site"]: r for r in out}
    assert by_site["1001A"]["aqi"] == "43"
    assert by_site["1002A"]["aqi"] == "128"
    assert (by_site["district"]["aqi"], by_site["district"]["sites"]) == ("100", "2")
    assert by_site["district"]["time"] == "2026-05-01T10:00"


def test_area_station_names_match_as_well_as_codes(tmp_path: Path) -> None:
    """Sites written by their Chinese names count for the area like their codes."""
    text = "site,time,pm2_5\n甲站,2026-05-01T10:00,30\n乙站,2026-05-01T10:00,90\n"
    out = run_areas(tmp_path, text, "--scale", "hour")
    assert [(r["site"], r["aqi"]) for r in out][-1] == ("district", "100")


def test_area_day_uses_only_valid_site_days(tmp_path: Path) -> None:
    """District day: sites whose daily mean is invalid (< 20 h) are left out of the mean."""
    lines = ["site,time,pm2_5"]
    lines += [f"1001A,2026-05-01T{h:02d}:00,40" for h in range(24)]
    lines += [f"1002A,2026-05-01T{h:02d}:00,200" for h in range(19)]  # invalid day at 1002A
    out = run_areas(tmp_path, "\n".join(lines) + "\n", "--scale", "day")
    district = next(r for r in out if r["site"] == "district")
    assert (district["pm2_5"], district["pm2_5_valid"], district["pm2_5_count"]) == (
        "40",
        "true",
        "1",
    )
    # PM2.5 40 under HJ 633-2026: 50 + 50·(40 − 35)/(60 − 35) = 60.
    assert district["aqi"] == "60"


def test_area_without_member_data_gives_no_area_row(tmp_path: Path) -> None:
    """Sites outside every area: site rows only, no empty or broken area rows."""
    out = run_areas(tmp_path, "site,time,pm2_5\nX,2026-05-01T10:00,30\n", "--scale", "hour")
    assert [r["site"] for r in out] == ["X"]


def test_a_daily_mean_near_the_largest_double_keeps_its_value_and_warns_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """CO keeps one decimal (GB/T 8170 rounding to CONCENTRATION_DECIMALS): scaling 1e308
    by 10 overflowed, so its day mean was written as 1.797693135e+308 (the largest double)
    and numpy printed "RuntimeWarning: overflow encountered in multiply" on stderr. Such a
    double has no digits to round away: the mean of 1e308s is 1e308, without a warning."""
    text = "site,time,co,pm2_5\n" + "".join(
        f"A,2026-05-01T{h:02d}:00,1e308,80\n" for h in range(24)
    )
    (day,) = rows(run(tmp_path, text, "--scale", "day"))
    assert (day["co"], day["co_valid"], day["iaqi_co"]) == ("1e+308", "true", "500")
    assert "RuntimeWarning" not in capsys.readouterr().err


@pytest.mark.parametrize("scale", ["hour", "day"])
def test_concentrations_near_the_largest_double_are_averaged_not_an_internal_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], scale: str
) -> None:
    """1e308 is a finite double, but two of them overflow a plain sum: the 24-hour and
    8-hour means and the area means were infinite, and the day scale stopped with
    "internal error: ValueError: so2_24h concentration inf". The means are finite now
    (the mean of 1e308s is 1e308) and rated beyond the top breakpoint: IAQI 500, or for
    O3 8 h above 800 µg/m³ under HJ 633-2026 the 300 its note sets."""
    text = "site,time,so2,o3,pm2_5\n" + "".join(
        f"A,2026-05-01T{h:02d}:00,1e308,1e308,80\n" for h in range(24)
    )
    out = rows(run(tmp_path, text, "--scale", scale))
    assert "internal error" not in capsys.readouterr().err
    if scale == "day":
        (day,) = out
        assert (day["so2"], day["so2_valid"], day["o3_8h_max"]) == ("1e+308", "true", "1e+308")
        assert (day["iaqi_so2"], day["iaqi_o3_8h"], day["aqi"]) == ("500", "300", "500")
    else:
        assert {r["aqi"] for r in out} == {"500"}
