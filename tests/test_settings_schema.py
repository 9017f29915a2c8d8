"""The published JSON Schema of the settings file (config/envmon.schema.json): generated from
the settings model, accepted by every shipped settings file, refusing what the loader
refuses; and the pydantic model's own guarantees (secrets, internal fields, checked copies)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import tomllib
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped]  # no stubs installed (types-jsonschema)
import pytest
from pydantic import SecretStr, ValidationError

from monitor import redact
from monitor.errors import ConfigError
from monitor.settings import (
    SCHEMA_PATH,
    load_settings,
    settings_reference,
    settings_schema,
)
from monitor.settings.__main__ import main as schema_main
from monitor.settings.reference import schema_text

CONFIG = Path(__file__).resolve().parents[1] / "config"
SHIPPED = sorted(CONFIG.glob("*.toml"))


def _as_json(value: Any) -> Any:
    """A parsed TOML document as JSON Schema sees it: Taplo (Even Better TOML) hands TOML
    dates and times to the schema as RFC 3339 strings."""
    if isinstance(value, dict):
        return {key: _as_json(inner) for key, inner in value.items()}
    if isinstance(value, list):
        return [_as_json(inner) for inner in value]
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    return value


def _errors(document: Any) -> list[jsonschema.ValidationError]:
    validator = jsonschema.Draft202012Validator(
        settings_schema(), format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )
    return list(validator.iter_errors(_as_json(document)))


def _shipped() -> dict[str, Any]:
    with (CONFIG / "hunnan.toml").open("rb") as f:
        return tomllib.load(f)


def test_published_schema_is_the_generated_one() -> None:
    """config/envmon.schema.json is what the model generates (run `python -m
    monitor.settings --schema` after changing a setting), and a valid 2020-12 schema."""
    assert SCHEMA_PATH == CONFIG / "envmon.schema.json"
    assert SCHEMA_PATH.read_text(encoding="utf-8") == schema_text()
    jsonschema.Draft202012Validator.check_schema(json.loads(schema_text()))


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_schema_accepts_every_shipped_settings_file(path: Path) -> None:
    """Each config/*.toml names the schema on its first line (Taplo's directive) and is valid
    under it, as it is for the loader."""
    assert path.read_text(encoding="utf-8").splitlines()[0] == "#:schema ./envmon.schema.json"
    with path.open("rb") as f:
        document = tomllib.load(f)
    assert [e.message for e in _errors(document)] == []
    load_settings(path, {})


def test_schema_rejects_a_typo_d_key(tmp_path: Path) -> None:
    """`[influxdb] urll` is refused by the schema (an editor underlines it) and by the loader."""
    document = _shipped()
    document.setdefault("influxdb", {})["urll"] = "http://localhost:8086"
    document["targets"][0]["goall"] = 0.8
    influxdb, target = sorted(_errors(document), key=lambda e: str(e.absolute_path[0]))
    assert list(influxdb.absolute_path) == ["influxdb"]
    assert "'urll' was unexpected" in influxdb.message
    assert list(target.absolute_path) == ["targets", 0]
    assert "'goall' was unexpected" in target.message
    text = (CONFIG / "hunnan.toml").read_text(encoding="utf-8")
    path = tmp_path / "typo.toml"
    path.write_text(text + '\n[influxdb]\nurll = "http://localhost:8086"\n', encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_settings(path, {})
    (problem,) = caught.value.problems
    assert problem.startswith("unknown key 'influxdb.urll' in influxdb (did you mean 'url'?)")


@pytest.mark.parametrize(
    ("change", "where"),
    [
        (lambda d: d["air_stations"][0].__setitem__("code", 1103), ["air_stations", 0, "code"]),
        (lambda d: d["air_stations"][0].__setitem__("code", "1099"), ["air_stations", 0, "code"]),
        (lambda d: d["targets"][0].__setitem__("year", "2026"), ["targets", 0, "year"]),
        (lambda d: d["targets"][0].__setitem__("goal", 80), ["targets", 0, "goal"]),
        (lambda d: d["district"].__setitem__("timezone", 8), ["district", "timezone"]),
        (lambda d: d.__setitem__("areas", []), ["areas"]),
    ],
    ids=["code-integer", "code-pattern", "year-string", "goal-range", "timezone-int", "no-area"],
)
def test_schema_rejects_wrong_types_and_values(change: Any, where: list[object]) -> None:
    """A wrong type, a value off its pattern or out of its range is refused at its key."""
    document = _shipped()
    change(document)
    errors = _errors(document)
    assert errors, "the schema accepted it"
    assert any(list(e.absolute_path)[: len(where)] == where for e in errors), errors


def test_schema_refuses_secrets_and_internal_fields() -> None:
    """Secrets are not keys of the file: no password, token, source or secrets key."""
    document = _shipped()
    document["hj212"] = {"stations": [{"mn": "W1", "site": "s", "password_env": "ENVMON_HJ212_X"}]}
    assert _errors(document) == []
    document["hj212"]["stations"][0]["password"] = "123456"
    assert "'password' was unexpected" in _errors(document)[0].message
    schema = settings_schema()
    assert not {"source", "secrets"} & set(schema["properties"])


def test_schema_descriptions_are_the_reference_help() -> None:
    """An editor shows a key's help: the schema's description is the reference's help."""
    schema = settings_schema()
    help = {row.key: row.help for row in settings_reference()}
    district = schema["$defs"]["DistrictSettings"]["properties"]
    assert district["timezone"]["description"] == help["district.timezone"]
    goal = schema["$defs"]["GoodDayRatioTarget"]["properties"]["goal"]
    assert goal["description"] == help["targets[kind=good_day_ratio].goal"]
    assert (goal["minimum"], goal["maximum"]) == (0, 1)
    target = schema["$defs"]["CountTarget"]
    assert "kind" in target["required"]  # the file must say which kind a target is


def test_schema_command_writes_and_checks(tmp_path: Path) -> None:
    """`python -m monitor.settings --schema PATH` writes the schema; `--check` exits 1 when
    the file differs from the model, 0 when it is current."""
    path = tmp_path / "schema.json"
    assert schema_main(["--schema", str(path)]) == 0
    assert path.read_text(encoding="utf-8") == schema_text()
    assert schema_main(["--schema", "--check", str(path)]) == 0
    path.write_text("{}\n", encoding="utf-8")
    assert schema_main(["--schema", "--check", str(path)]) == 1


# --------------------------------------------------------------------------- the model


MINIMAL = """\
[district]
name = "Hunnan District"
name_zh = "浑南区"

[[areas]]
id = "hunnan"
name = "Hunnan District"
name_zh = "浑南区"
"""


def test_internal_fields_are_not_keys_of_the_file(tmp_path: Path) -> None:
    """`source` (where the file was read from) cannot be set in the file."""
    path = tmp_path / "envmon.toml"
    path.write_text('source = "/etc/other.toml"\n' + MINIMAL, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_settings(path, {})
    (problem,) = caught.value.problems
    assert problem.startswith("unknown key 'source' (did you mean 'sources'?); allowed: district")


def test_secrets_are_secret_str_and_masked_everywhere(tmp_path: Path) -> None:
    """Secrets are pydantic SecretStr, registered with monitor.redact when read."""
    path = tmp_path / "envmon.toml"
    path.write_text(MINIMAL, encoding="utf-8")
    token = "tok-7f3a9c-schema-test"
    settings = load_settings(path, {"ENVMON_INFLUXDB_TOKEN": token})
    assert isinstance(settings.secrets.influxdb_token, SecretStr)
    assert token not in repr(settings) and token not in str(settings.secrets)
    assert redact.redact(f"Authorization failed for {token}.") == (
        "Authorization failed for ********."
    )


def test_copies_are_checked_like_the_file(tmp_path: Path) -> None:
    """A copy with a changed value (dataclasses.replace, as tests and tools make) is
    validated by the same model: a port of the wrong type is refused."""
    path = tmp_path / "envmon.toml"
    path.write_text(MINIMAL, encoding="utf-8")
    settings = load_settings(path, {})
    assert dataclasses.replace(settings.smtp, port=2525).port == 2525
    with pytest.raises(ValidationError):
        dataclasses.replace(settings.smtp, port="2525")  # type: ignore[arg-type]
