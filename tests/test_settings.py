"""Settings: the shipped file, every kind of problem at once, secrets, ledger path, CLI."""

from __future__ import annotations

import datetime as dt
import tomllib
from pathlib import Path

import pytest

from monitor.cli import main
from monitor.errors import ConfigError
from monitor.settings import (
    DEFAULT_LEDGER,
    AnnualMeanTarget,
    GoodDayRatioTarget,
    HeavyPollutionDaysTarget,
    MilestonesTarget,
    Secret,
    load_settings,
    resolve_ledger_path,
    settings_reference,
    summarize,
)

SHIPPED = Path(__file__).resolve().parents[1] / "config" / "hunnan.toml"

MINIMAL = """\
[district]
name = "Hunnan District"
name_zh = "浑南区"

[[areas]]
id = "hunnan"
name = "Hunnan District"
name_zh = "浑南区"
"""

STATION = """
[[air_stations]]
code = "{code}"
name_zh = "站"
role = "evaluation"
areas = ["hunnan"]
"""


def write(tmp_path: Path, text: str, name: str = "envmon.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def problems_of(path: Path, environ: dict[str, str] | None = None) -> tuple[str, ...]:
    with pytest.raises(ConfigError) as info:
        load_settings(path, environ or {})
    assert info.value.source == str(path)
    return info.value.problems


# --------------------------------------------------------------------------- shipped file


def test_shipped_config_loads():
    """config/hunnan.toml loads with the district, both areas and all 11 national sites."""
    settings = load_settings(SHIPPED, {})
    assert settings.district.name_zh == "浑南区"
    assert settings.district.timezone == "Asia/Shanghai"
    assert [a.id for a in settings.areas] == ["hunnan", "shenyang"]
    assert len(settings.air_stations) == 11
    assert {s.code for s in settings.stations_in("hunnan")} == {"1098A", "1099A", "2900A"}


def test_shipped_control_site_not_in_city_average():
    """The control site 1098A lies in Shenyang but is not one of its averaged stations."""
    settings = load_settings(SHIPPED, {})
    (control,) = [s for s in settings.air_stations if s.role == "control"]
    assert control.code == "1098A"
    assert "shenyang" in control.areas
    assert control not in settings.averaged_stations("shenyang")
    assert len(settings.averaged_stations("shenyang")) == 10


def test_shipped_hunnan_membership_marked_to_confirm():
    """Every station placed in Hunnan is marked unconfirmed, with a note."""
    settings = load_settings(SHIPPED, {})
    for station in settings.stations_in("hunnan"):
        assert station.confirmed is False, station.code
        assert station.note, station.code


def test_shipped_targets():
    """The plan's four targets for 2026 load with their kinds and goals."""
    settings = load_settings(SHIPPED, {})
    kinds = {t.kind: t for t in settings.targets}
    assert set(kinds) == {"good_day_ratio", "milestones", "river_class", "count"}
    assert all(t.year == 2026 for t in settings.targets)
    good = kinds["good_day_ratio"]
    assert isinstance(good, GoodDayRatioTarget)
    assert (good.area, good.goal, good.rules) == ("hunnan", 0.80, "hj633-2012")
    rivers = kinds["milestones"]
    assert isinstance(rivers, MilestonesTarget)
    assert rivers.expected_items == 8
    assert not any(item.confirmed for item in rivers.items)


def test_shipped_sections_without_source_have_no_target_class():
    """No section claims a target class the sources do not give; all are to confirm."""
    settings = load_settings(SHIPPED, {})
    names = {s.name_zh for s in settings.water_sections}
    assert {"于家房", "砂山", "高坎大桥"} <= names
    assert all(s.target_class is None and not s.confirmed for s in settings.water_sections)


def test_shipped_ledger_is_relative_to_config_folder(tmp_path, monkeypatch):
    """The shipped [ledger] path resolves to <checkout>/data/envmon.sqlite from any cwd."""
    monkeypatch.chdir(tmp_path)
    settings = load_settings(SHIPPED, {})
    assert resolve_ledger_path(None, settings, {}) == SHIPPED.parents[1] / "data/envmon.sqlite"


# --------------------------------------------------------------------------- problems


def test_five_mistakes_give_five_problems(tmp_path):
    """A file with five different mistakes is reported with exactly five problems."""
    text = (
        MINIMAL.replace(
            'name = "Hunnan District"\nname_zh', 'nmae = "Hunnan District"\nname_zh', 1
        )
        + STATION.format(code="1099A")
        + STATION.format(code="1099A")
        + '\n[[air_stations]]\ncode = 1103\nname_zh = "陵东街"\nrole = "evaluation"\n'
        + '\n[[water_sections]]\nid = "s1"\nname_zh = "甲"\nriver = "浑河"\nareas = ["nowhere"]\n'
        + '\n[[targets]]\nkind = "good_day_ratio"\nid = "g"\nname = "good days"\n'
        + 'area = "hunnan"\nyear = 2026\ngoal = 80\nrules = "hj633-2012"\n'
    )
    problems = problems_of(write(tmp_path, text))
    assert len(problems) == 5, problems
    joined = "\n".join(problems)
    assert "unknown key 'district.nmae'" in joined
    assert "air_stations[2].code: expected a string, got 1103 (integer)" in joined
    assert "air_stations[1].code: duplicate code '1099A'" in joined
    assert "water_sections[0].areas[0]: unknown area 'nowhere'" in joined
    assert "targets[0].goal: 80 is out of range" in joined


def test_missing_file_names_path_and_how_to_choose(tmp_path):
    """A missing file gives one problem naming the path, --config and $ENVMON_CONFIG."""
    path = tmp_path / "absent.toml"
    (problem,) = problems_of(path)
    assert str(path) in problem
    assert "--config PATH" in problem
    assert "$ENVMON_CONFIG" in problem


def test_toml_syntax_error_gives_line(tmp_path):
    """A TOML syntax error is one problem that says which line."""
    (problem,) = problems_of(write(tmp_path, MINIMAL + "broken = \n"))
    assert problem.startswith("TOML syntax error")
    assert "line 9" in problem


def test_unknown_key_lists_allowed_keys(tmp_path):
    """A typo is reported with a suggestion and the allowed keys."""
    (problem,) = problems_of(write(tmp_path, MINIMAL + 'timezon = "Asia/Shanghai"\n'))
    # the key lands in the last table, [[areas]]
    assert "unknown key 'areas[0].timezon'" in problem
    assert "allowed: id, name, name_zh, note" in problem


def test_unknown_top_level_key_suggests_close_match(tmp_path):
    """An unknown table at the top level suggests the closest known key."""
    (problem,) = problems_of(write(tmp_path, MINIMAL + '\n[distrct]\nname = "x"\n'))
    assert "unknown key 'distrct'" in problem
    assert "did you mean 'district'?" in problem


@pytest.mark.parametrize(
    ("snippet", "expected"),
    [
        ("\n[ledger]\npath = 3\n", "ledger.path: expected a string, got 3 (integer)"),
        (
            STATION.format(code="1099A").replace('"evaluation"', '"background"'),
            "air_stations[0].role: expected one of 'evaluation', 'control', got 'background'",
        ),
        (
            STATION.format(code="1099A").replace('["hunnan"]', '"hunnan"'),
            "air_stations[0].areas: expected a list of strings, got 'hunnan' (string)",
        ),
        (
            '\n[[water_sections]]\nid = "s"\nname_zh = "甲"\nriver = "浑河"\ntarget_class = 3\n',
            "water_sections[0].target_class: expected one of 'I', 'II', 'III', 'IV', 'V'",
        ),
        (
            '\n[[targets]]\nkind = "milestones"\nid = "m"\nname = "m"\nyear = 2026\n'
            '[[targets.items]]\nname = "张官河"\ndue = "2026-06-30"\n',
            "targets[0].items[0].due: expected a date (YYYY-MM-DD), got '2026-06-30' (string)",
        ),
        (
            '\n[[targets]]\nkind = "count"\nid = "c"\nname = "c"\nyear = "2026"\n'
            'goal = 10\nunit = "factories"\n',
            "targets[0].year: expected an integer, got '2026' (string)",
        ),
        (
            '\n[influxdb]\nurl = "localhost:8086"\n',
            "influxdb.url: expected an http:// or https:// URL such as http://localhost:8086, "
            "got 'localhost:8086'",
        ),
    ],
    ids=["string", "choice", "list", "water-class", "date", "integer", "url"],
)
def test_wrong_type_names_key_value_and_type(tmp_path, snippet, expected):
    """A wrong type names the key path, the value and the expected type."""
    (problem,) = problems_of(write(tmp_path, MINIMAL + snippet))
    assert expected in problem


def test_a_table_for_a_list_of_tables_says_to_double_the_brackets(tmp_path):
    """[areas] instead of [[areas]]: the problem says how TOML writes a list of tables."""
    text = MINIMAL.replace("[[areas]]", "[areas]")
    assert "[areas]" in text
    (problem,) = problems_of(write(tmp_path, text))
    assert problem == (
        "areas: expected a list of tables, got a table; "
        "write each one under [[areas]], with double brackets"
    )


def test_bool_is_not_an_integer(tmp_path):
    """true is refused where an integer is expected."""
    snippet = '\n[[targets]]\nkind = "count"\nid = "c"\nname = "c"\nyear = 2026\ngoal = true\n'
    (problem,) = problems_of(write(tmp_path, MINIMAL + snippet + 'unit = "factories"\n'))
    assert "targets[0].goal: expected an integer, got True (boolean)" in problem


def test_missing_required_key(tmp_path):
    """A missing required key is named with what it is for."""
    (problem,) = problems_of(write(tmp_path, MINIMAL.replace('name_zh = "浑南区"\n', "", 1)))
    assert problem.startswith("district.name_zh: missing; expected a string")


def test_missing_choice_names_the_choices_without_an_article(tmp_path):
    """A missing key with a closed set of values lists them ("expected one of …")."""
    target = (
        '\n[[targets]]\nkind = "good_day_ratio"\nid = "g"\nname = "g"\n'
        'area = "hunnan"\nyear = 2026\ngoal = 0.8\n'
    )
    (problem,) = problems_of(write(tmp_path, MINIMAL + target))
    assert problem.startswith(
        "targets[0].rules: missing; expected one of 'hj633-2012', 'hj633-2026': "
    ), problem


def test_duplicate_ids(tmp_path):
    """Duplicate area ids name both positions."""
    (problem,) = problems_of(write(tmp_path, MINIMAL + MINIMAL[MINIMAL.index("[[areas]]") :]))
    assert problem == "areas[1].id: duplicate id 'hunnan', already used by areas[0]"


def test_unknown_section_and_area_references(tmp_path):
    """Targets naming an unknown area or section are reported with the known ids."""
    snippet = (
        '\n[[water_sections]]\nid = "s1"\nname_zh = "甲"\nriver = "浑河"\n'
        '\n[[targets]]\nkind = "river_class"\nid = "r"\nname = "r"\nyear = 2026\n'
        'sections = ["s1", "s2"]\n'
        '\n[[targets]]\nkind = "heavy_pollution_days"\nid = "h"\nname = "h"\nyear = 2026\n'
        'area = "shenyang"\nmax = 3\n'
    )
    problems = problems_of(write(tmp_path, MINIMAL + snippet))
    assert problems == (
        "targets[0].sections[1]: unknown section 's2'; known: s1",
        "targets[1].area: unknown area 'shenyang'; known: hunnan",
    )


@pytest.mark.parametrize(
    ("snippet", "expected"),
    [
        (
            'goal = 1.5\nrules = "hj633-2012"\n',
            "targets[0].goal: 1.5 is out of range; expected between 0 and 1; write a share",
        ),
        ('goal = -0.1\nrules = "hj633-2012"\n', "targets[0].goal: -0.1 is out of range"),
        ('goal = 0.8\nrules = "hj633"\n', "targets[0].rules: expected one of 'hj633-2012'"),
    ],
    ids=["above-1", "negative", "rules"],
)
def test_target_values_out_of_range(tmp_path, snippet, expected):
    """A good-day goal outside 0–1 or an unknown rule set is refused."""
    head = '\n[[targets]]\nkind = "good_day_ratio"\nid = "g"\nname = "g"\narea = "hunnan"\n'
    (problem,) = problems_of(write(tmp_path, MINIMAL + head + "year = 2026\n" + snippet))
    assert expected in problem


def test_year_and_count_ranges(tmp_path):
    """A year before 2000 and a count goal of 0 are both refused."""
    snippet = (
        '\n[[targets]]\nkind = "count"\nid = "c"\nname = "c"\nyear = 1999\ngoal = 0\n'
        'unit = "factories"\n'
    )
    problems = problems_of(write(tmp_path, MINIMAL + snippet))
    assert problems == (
        "targets[0].year: 1999 is out of range; expected between 2000 and 2100",
        "targets[0].goal: 0 is out of range; expected at least 1",
    )


def test_unknown_and_missing_target_kind(tmp_path):
    """A target without kind, or with an unknown one, lists the supported kinds."""
    snippet = '\n[[targets]]\nid = "a"\n\n[[targets]]\nkind = "ratio"\nid = "b"\n'
    problems = problems_of(write(tmp_path, MINIMAL + snippet))
    assert len(problems) == 2
    assert problems[0].startswith("targets[0].kind: missing; expected one of 'good_day_ratio'")
    assert problems[1].startswith("targets[1].kind: unknown kind 'ratio' (string)")
    assert "'count'" in problems[1]


def test_bad_station_code_and_id_and_timezone(tmp_path):
    """Station codes, ids and time zones are checked against their formats."""
    text = MINIMAL.replace('id = "hunnan"', 'id = "Hunnan"').replace(
        "[[areas]]", 'timezone = "Asia/Shenyang"\n\n[[areas]]'
    ) + STATION.format(code="1099").replace('["hunnan"]', '["Hunnan"]')
    problems = problems_of(write(tmp_path, text))
    assert len(problems) == 3, problems
    assert "district.timezone: unknown time zone 'Asia/Shenyang'" in problems[0]
    assert problems[1].startswith("areas[0].id: 'Hunnan' is not a valid value")
    assert problems[2].startswith("air_stations[0].code: '1099' is not a valid value")


# --------------------------------------------------------------------------- secrets


@pytest.mark.parametrize(
    ("text", "path", "env"),
    [
        (MINIMAL + '\n[smtp]\npassword = "hunter2"\n', "smtp.password", "ENVMON_SMTP_PASSWORD"),
        (MINIMAL + '\n[influxdb]\ntoken = "hunter2"\n', "influxdb.token", "ENVMON_INFLUXDB_TOKEN"),
        (
            MINIMAL.replace("[district]\n", '[district]\napi_key = "hunter2"\n'),
            "district.api_key",
            "ENVMON_DISTRICT_API_KEY",
        ),
    ],
    ids=["smtp-password", "influx-token", "api-key"],
)
def test_secret_in_file_refused_without_echo(tmp_path, text, path, env):
    """A secret in the file is one problem naming the env variable, never the value."""
    (problem,) = problems_of(write(tmp_path, text))
    assert problem.startswith(f"{path}: secrets come only from environment variables")
    assert f"set {env}" in problem
    assert "hunter2" not in problem


def test_secrets_from_environment_masked():
    """Secrets come from ENVMON_* variables, are masked in repr and summary, and revealable."""
    environ = {"ENVMON_SMTP_PASSWORD": "hunter2", "ENVMON_INFLUXDB_TOKEN": ""}
    settings = load_settings(SHIPPED, environ)
    assert settings.secrets.smtp_password == Secret("hunter2")
    assert settings.secrets.smtp_password is not None
    assert settings.secrets.smtp_password.reveal() == "hunter2"
    assert settings.secrets.influxdb_token is None  # empty counts as not set
    assert "hunter2" not in repr(settings)
    text = summarize(settings, Path("ledger.sqlite"))
    assert "hunter2" not in text
    assert "ENVMON_SMTP_PASSWORD: set (********)" in text
    assert "ENVMON_INFLUXDB_TOKEN: not set" in text


# --------------------------------------------------------------------------- ledger path


def test_ledger_precedence(tmp_path):
    """--ledger beats the file, the file beats $ENVMON_LEDGER, which beats the default."""
    environ = {"ENVMON_LEDGER": "/env/ledger.sqlite"}
    with_path = load_settings(
        write(tmp_path, MINIMAL + '\n[ledger]\npath = "/file/ledger.sqlite"\n', "a.toml"), {}
    )
    without = load_settings(write(tmp_path, MINIMAL, "b.toml"), {})
    assert resolve_ledger_path("cli.sqlite", with_path, environ) == Path("cli.sqlite")
    assert resolve_ledger_path(None, with_path, environ) == Path("/file/ledger.sqlite")
    assert resolve_ledger_path(None, without, environ) == Path("/env/ledger.sqlite")
    assert resolve_ledger_path(None, without, {}) == DEFAULT_LEDGER == Path("data/envmon.sqlite")


def test_relative_ledger_in_file_is_relative_to_file(tmp_path, monkeypatch):
    """A relative [ledger] path is taken from the settings file's folder, not the cwd."""
    folder = tmp_path / "etc"
    folder.mkdir()
    write(folder, MINIMAL + '\n[ledger]\npath = "../var/ledger.sqlite"\n')
    monkeypatch.chdir(folder)
    settings = load_settings(Path("envmon.toml"), {})
    monkeypatch.chdir(tmp_path)
    assert resolve_ledger_path(None, settings, {}) == tmp_path / "var" / "ledger.sqlite"


# --------------------------------------------------------------------------- other kinds


def test_all_target_kinds_load(tmp_path):
    """annual_mean, heavy_pollution_days and dated milestones load as typed targets."""
    snippet = (
        '\n[[targets]]\nkind = "annual_mean"\nid = "pm"\nname = "PM2.5"\narea = "hunnan"\n'
        'pollutant = "pm2_5"\nyear = 2026\nlimit = 35\n'
        '\n[[targets]]\nkind = "heavy_pollution_days"\nid = "h"\nname = "h"\narea = "hunnan"\n'
        "year = 2026\nmax = 3\n"
        '\n[[targets]]\nkind = "milestones"\nid = "m"\nname = "m"\nyear = 2026\n'
        '[[targets.items]]\nname = "张官河"\ndue = 2026-06-30\ndone = 2026-05-01\n'
    )
    annual, heavy, milestones = load_settings(write(tmp_path, MINIMAL + snippet), {}).targets
    assert isinstance(annual, AnnualMeanTarget) and annual.limit == 35.0
    assert isinstance(annual.limit, float)
    assert isinstance(heavy, HeavyPollutionDaysTarget) and heavy.max == 3
    assert isinstance(milestones, MilestonesTarget)
    assert milestones.items[0].due == dt.date(2026, 6, 30)
    assert "1 done" in summarize(load_settings(write(tmp_path, MINIMAL + snippet), {}), Path("x"))


def test_settings_are_frozen():
    """Settings cannot be changed after loading."""
    settings = load_settings(SHIPPED, {})
    with pytest.raises(AttributeError):
        settings.district.name = "x"  # type: ignore[misc]


# --------------------------------------------------------------------------- reference


def _keys(value: object, prefix: str) -> set[str]:
    keys: set[str] = set()
    if isinstance(value, dict):
        for key, inner in value.items():
            key_path = f"{prefix}{key}"
            keys.add(key_path)
            if isinstance(inner, list) and inner and isinstance(inner[0], dict):
                for item in inner:
                    sub = f"[kind={item['kind']}]." if key == "targets" else "[]."
                    keys |= _keys(item, key_path + sub)
            elif isinstance(inner, dict):
                keys |= _keys(inner, key_path + ".")
    return keys


def test_reference_documents_every_key_of_shipped_file():
    """Every key used in config/hunnan.toml has a row with help text in the reference."""
    reference = {row.key: row for row in settings_reference()}
    with SHIPPED.open("rb") as f:
        used = _keys(tomllib.load(f), "")
    assert used - set(reference) == set()
    assert all(row.help and row.type for row in reference.values())


def test_reference_rows():
    """The reference gives type and default per key, and the environment variables."""
    reference = {row.key: row for row in settings_reference()}
    assert reference["air_stations[].code"].default == "required"
    assert reference["district.timezone"].default == "'Asia/Shanghai'"
    assert reference["targets[kind=good_day_ratio].goal"].type == "number"
    assert reference["water_sections[].target_class"].type.startswith("one of 'I'")
    assert reference["ENVMON_SMTP_PASSWORD"].source == "environment"
    assert reference["ENVMON_LEDGER"].default == "data/envmon.sqlite"


# --------------------------------------------------------------------------- CLI


@pytest.fixture
def clean_env(monkeypatch):
    for name in (
        "ENVMON_CONFIG",
        "ENVMON_LEDGER",
        "ENVMON_SMTP_PASSWORD",
        "ENVMON_INFLUXDB_TOKEN",
    ):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_cli_config_check_ok(clean_env, capsys):
    """`envmon --config hunnan.toml config check` exits 0 and prints the summary."""
    assert main(["--config", str(SHIPPED), "config", "check"]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    assert f"settings file: {SHIPPED}" in out
    assert "1098A 森林路 (control, not averaged)" in out
    assert f"ledger: {SHIPPED.parents[1] / 'data' / 'envmon.sqlite'}" in out
    assert "good_days_2026 [good_day_ratio]" in out


def test_cli_config_check_ledger_option(clean_env, capsys, tmp_path):
    """--ledger overrides the file's ledger path in the summary."""
    ledger = tmp_path / "other.sqlite"
    assert main(["--config", str(SHIPPED), "--ledger", str(ledger), "config", "check"]) == 0
    assert f"ledger: {ledger}" in capsys.readouterr().out


def test_cli_config_check_lists_every_problem(clean_env, capsys, tmp_path):
    """With a broken file the CLI exits 2, lists every problem on stderr, no traceback."""
    text = MINIMAL.replace('name_zh = "浑南区"', "name_zh = 1", 1) + '\n[smtp]\npassword = "p"\n'
    path = write(tmp_path, text)
    assert main(["--config", str(path), "config", "check"]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert f"envmon: error: {path}: 2 problem(s):" in err
    assert "  - district.name_zh: expected a string, got 1 (integer)" in err
    assert "  - smtp.password: secrets come only from environment variables" in err
    assert "Traceback" not in err


def test_cli_honours_envmon_config(clean_env, capsys, tmp_path):
    """$ENVMON_CONFIG chooses the settings file when --config is absent."""
    path = write(tmp_path, MINIMAL.replace("Hunnan District", "Testing District", 1))
    clean_env.setenv("ENVMON_CONFIG", str(path))
    assert main(["config", "check"]) == 0
    assert "district: Testing District (浑南区)" in capsys.readouterr().out


def test_cli_missing_config_via_env(clean_env, capsys, tmp_path):
    """A missing $ENVMON_CONFIG file exits 2 naming the path."""
    missing = tmp_path / "nope.toml"
    clean_env.setenv("ENVMON_CONFIG", str(missing))
    assert main(["config", "check"]) == 2
    err = capsys.readouterr().err
    assert f"settings file not found: {missing}" in err
    assert "Traceback" not in err


def test_quality_exclude_own_flags(tmp_path):
    """[quality] exclude_own_flags: empty by default (own flags advisory, GB 3095 §6.4);
    only the advisory flags can be listed, a wrong one is named with the choices."""
    assert load_settings(write(tmp_path, MINIMAL), {}).quality.exclude_own_flags == ()
    chosen = MINIMAL + '\n[quality]\nexclude_own_flags = ["stuck"]\n'
    assert load_settings(write(tmp_path, chosen), {}).quality.exclude_own_flags == ("stuck",)
    wrong = MINIMAL + '\n[quality]\nexclude_own_flags = ["negative"]\n'
    (problem,) = problems_of(write(tmp_path, wrong))
    assert problem.startswith("quality.exclude_own_flags[0]:")
    assert "'negative'" in problem and "'spike'" in problem


# --------------------------------------------------------------------------- ENVMON_MAIL_TO

MAIL_TO_SETS = "($ENVMON_MAIL_TO sets reports.monthly_recipients and grafana.contact_emails too)"


def test_mail_to_two_bad_addresses_are_two_problems_each_naming_the_lists(tmp_path):
    """ENVMON_MAIL_TO sets three lists: each bad address is one problem (not three), in
    the order of the addresses."""
    problems = problems_of(write(tmp_path, MINIMAL), {"ENVMON_MAIL_TO": "ok@example.org;x;y"})
    assert problems == tuple(
        f"reports.daily_recipients[{i}] (from $ENVMON_MAIL_TO): {v!r} is not an email "
        f"address; expected name@example.org {MAIL_TO_SETS}"
        for i, v in ((1, "x"), (2, "y"))
    )


def test_mail_to_a_bad_address_among_problems_of_its_tables_and_nested_tables(tmp_path):
    """Problems of the tables the variable reaches into ([reports] daily_time, [grafana]
    budget_alert_days) and of nested tables ([[hj212.stations]]) are kept as they are, in
    their place; only the address's problems in the three lists are one."""
    text = (
        MINIMAL
        + '\n[reports]\ndaily_time = "8:30"\n\n[grafana]\nbudget_alert_days = 400\n'
        + '\n[hj212]\n\n[[hj212.stations]]\nmn = "W 1"\nsite = "hunhe_1"\n'
        + 'password_env = "ENVMON_HJ212_PW_W1"\n'
    )
    problems = problems_of(write(tmp_path, text), {"ENVMON_MAIL_TO": "bad"})
    assert len(problems) == 4, problems
    assert problems[0].startswith("reports.daily_time: '8:30' is not a time of day")
    assert problems[1] == (
        "reports.daily_recipients[0] (from $ENVMON_MAIL_TO): 'bad' is not an email address; "
        f"expected name@example.org {MAIL_TO_SETS}"
    )
    assert problems[2].startswith("hj212.stations[0].mn: 'W 1' is not a valid value")
    assert problems[3].startswith("grafana.budget_alert_days: 400 is out of range")


def test_mail_to_keys_that_read_like_its_problems_are_their_own_problems(tmp_path):
    """Problems are told apart by where pydantic found them, not by their text: two keys
    written in the file whose names read like a problem of a list the variable sets are two
    problems (was: the second was taken for the first's address in another list and
    dropped)."""
    key = '"{key} (from $ENVMON_MAIL_TO): token" = "x"'
    text = (
        MINIMAL
        + "\n[reports]\n"
        + key.format(key="daily_recipients")
        + "\n\n[grafana]\n"
        + key.format(key="contact_emails")
        + "\n"
    )
    problems = problems_of(write(tmp_path, text), {"ENVMON_MAIL_TO": "ok@example.org"})
    assert len(problems) == 2, problems
    assert problems[0].startswith("reports.daily_recipients (from $ENVMON_MAIL_TO): token: ")
    assert problems[1].startswith("grafana.contact_emails (from $ENVMON_MAIL_TO): token: ")
    assert all("sets" not in p for p in problems)


def test_mail_to_another_problem_of_the_same_address_is_not_merged():
    """Two problems of different kinds at one place of one list are two problems (text
    parsing merged them, naming the list as "too"); problems of the lists set in the file,
    not by the variable, are never merged."""
    from monitor.settings.loading import _one_per_mail_to_address

    at = ("reports", "daily_recipients", 0)
    described: list[tuple[dict[str, object], str]] = [
        ({"loc": at, "type": "string_pattern_mismatch"}, "daily 0: pattern"),
        ({"loc": at, "type": "envmon"}, "daily 0: other"),
        ({"loc": ("reports", "monthly_recipients", 0), "type": "envmon"}, "monthly 0: other"),
        ({"loc": ("reports", "daily_recipients"), "type": "too_long"}, "daily: too long"),
        ({"loc": ("grafana", "contact_emails", 0), "type": "envmon"}, "grafana 0: other"),
    ]
    overridden = {
        "reports.daily_recipients": "ENVMON_MAIL_TO",
        "reports.monthly_recipients": "ENVMON_MAIL_TO",
    }
    assert _one_per_mail_to_address(described, overridden) == [
        "daily 0: pattern",
        "daily 0: other ($ENVMON_MAIL_TO sets reports.monthly_recipients too)",
        "daily: too long",
        "grafana 0: other",
    ]
