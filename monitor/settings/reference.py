"""What the settings are, for people and editors: the settings reference (one row per key
and environment variable) and the JSON Schema of the settings file, both from the model."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import types
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, Union

from pydantic import TypeAdapter
from pydantic.fields import FieldInfo

from monitor.settings.environment import (
    ENV_OVERRIDES,
    LEDGER_ENV,
    MAIL_TO_ENV,
    MAIL_TO_KEYS,
    field_type,
)
from monitor.settings.model import TARGET_KINDS, SecretSettings, Settings

#: Ledger used when neither ``--ledger``, the settings file nor ``$ENVMON_LEDGER`` names one.
DEFAULT_LEDGER = Path("data/envmon.sqlite")

#: Where the JSON Schema of the settings file is published (``python -m monitor.settings
#: --schema`` writes it; the ``#:schema`` line of each ``config/*.toml`` points to it).
SCHEMA_PATH = Path(__file__).resolve().parents[2] / "config" / "envmon.schema.json"


@dataclass(frozen=True)
class SettingDoc:
    """One row of the settings reference."""

    key: str  #: key path in the file (``air_stations[].code``) or environment variable name
    type: str  #: expected type, in words
    default: str  #: default, or ``required``
    help: str
    source: Literal["file", "environment"] = "file"


# --------------------------------------------------------------------------- type helpers


def unwrap(tp: Any) -> Any:
    """``X`` for ``Annotated[X, …]``."""
    while typing.get_origin(tp) is Annotated:
        tp = typing.get_args(tp)[0]
    return tp


def item_type(tp: Any) -> Any:
    """``X`` for ``tuple[X, ...]``, else ``None``."""
    tp = unwrap(tp)
    return unwrap(typing.get_args(tp)[0]) if typing.get_origin(tp) is tuple else None


def _is_union(tp: Any) -> bool:
    return typing.get_origin(tp) in (Union, types.UnionType)


def is_target_union(tp: Any) -> bool:
    """Whether ``tp`` is the union of the target tables."""
    tp = unwrap(tp)
    return _is_union(tp) and all(dataclasses.is_dataclass(a) for a in typing.get_args(tp))


def optional_inner(tp: Any) -> Any:
    """``X`` for ``X | None``, else ``None``."""
    tp = unwrap(tp)
    if _is_union(tp):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) == 1 and len(typing.get_args(tp)) == 2:
            return unwrap(args[0])
    return None


def is_table(tp: Any) -> bool:
    """Whether ``tp`` is read from a TOML table."""
    tp = unwrap(tp)
    return (isinstance(tp, type) and dataclasses.is_dataclass(tp)) or is_target_union(tp)


def type_text(tp: Any) -> str:
    """The type in words: ``string``, ``list of strings``, ``one of 'a', 'b'`` …"""
    tp = unwrap(tp)
    inner = optional_inner(tp)
    if inner is not None:
        return f"{type_text(inner)} (optional)"
    if typing.get_origin(tp) is Literal:
        return "one of " + ", ".join(repr(a) for a in typing.get_args(tp))
    item = item_type(tp)
    if item is not None:
        return "list of tables" if is_table(item) else f"list of {type_text(item)}s"
    if is_table(tp):
        return "table"
    names = {str: "string", int: "integer", float: "number", bool: "boolean", dt.date: "date"}
    return names.get(tp, getattr(tp, "__name__", str(tp)))


def file_fields(cls: type[Any]) -> list[tuple[str, FieldInfo]]:
    """The keys a table takes, in declaration order (internal fields left out)."""
    infos: dict[str, FieldInfo] = cls.__pydantic_fields__
    return [(f.name, infos[f.name]) for f in dataclasses.fields(cls) if not infos[f.name].exclude]


# --------------------------------------------------------------------------- reference


def settings_reference() -> tuple[SettingDoc, ...]:
    """Every setting, in declaration order: the file's keys, then environment variables."""
    rows: list[SettingDoc] = []
    _reference_rows(Settings, "", rows)
    rows.append(
        SettingDoc(
            "ENVMON_CONFIG",
            "path",
            "config/hunnan.toml",
            "settings file when --config is not given",
            "environment",
        )
    )
    rows.append(
        SettingDoc(
            LEDGER_ENV,
            "path",
            str(DEFAULT_LEDGER),
            "ledger file when neither --ledger nor [ledger] path is given",
            "environment",
        )
    )
    for env, (table, key) in ENV_OVERRIDES.items():
        rows.append(
            SettingDoc(
                env,
                type_text(field_type(table, key)),
                "unset",
                f"sets {table}.{key} over the settings file, for containers",
                "environment",
            )
        )
    rows.append(
        SettingDoc(
            MAIL_TO_ENV,
            "list of strings",
            "unset",
            "e-mail addresses separated by ;: sets "
            + ", ".join(f"{table}.{key}" for table, key in MAIL_TO_KEYS)
            + " over the settings file (one list for reports and Grafana's alert e-mails)",
            "environment",
        )
    )
    for info in SecretSettings.model_fields.values():
        rows.append(
            SettingDoc(
                str(info.validation_alias),
                "secret",
                "unset",
                info.description or "",
                "environment",
            )
        )
    return tuple(rows)


def _reference_rows(cls: type[Any], prefix: str, rows: list[SettingDoc]) -> None:
    # a target's kind comes first and is required: it tells which fields follow
    for name, info in sorted(file_fields(cls), key=lambda f: f[0] != "kind"):
        key = f"{prefix}{name}"
        tp = info.annotation
        required = info.is_required() or name == "kind"
        default = "required" if required else _default_text(info.default)
        rows.append(SettingDoc(key, type_text(tp), default, info.description or ""))
        inner = item_type(tp)
        if inner is not None and is_target_union(inner):
            for kind, target_cls in TARGET_KINDS.items():
                _reference_rows(target_cls, f"{key}[kind={kind}].", rows)
        elif inner is not None and is_table(inner):
            _reference_rows(inner, f"{key}[].", rows)
        elif is_table(tp):
            _reference_rows(unwrap(tp), f"{key}.", rows)


def _default_text(value: object) -> str:
    if value is None:
        return "unset"
    if value == ():
        return "[]"
    if isinstance(value, bool):
        return "true" if value else "false"
    if dataclasses.is_dataclass(value):
        return "see below"
    return repr(value) if isinstance(value, str) else str(value)


# --------------------------------------------------------------------------- JSON Schema


def settings_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of the settings file, from the model: every key with
    its type, default, bounds, pattern and help text (``description``); unknown keys are
    refused (``additionalProperties: false``); targets are told apart by ``kind``.

    TOML dates are strings of format ``date`` here, as Taplo (Even Better TOML) passes them
    to the schema."""
    schema = _untitled(TypeAdapter(Settings).json_schema(mode="validation"))
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "envmon settings file",
        **{k: v for k, v in schema.items() if k != "title"},
        "description": (
            "Settings of envmon (config/*.toml). No secrets: passwords and tokens come only "
            "from ENVMON_* environment variables. Generated by `python -m monitor.settings "
            "--schema`; do not edit by hand."
        ),
    }


def _untitled(schema: Any) -> Any:
    """The schema without the titles pydantic makes of the keys (``Name Zh``): an editor
    shows the key and its ``description`` (beside a ``$ref`` only in an ``allOf``, which
    Taplo reads); a table told apart by a key (a target's
    ``kind``) is checked against the one table its key names (``if``/``then``), so that a
    problem is shown at its key, not as "valid under none of the kinds"."""
    if isinstance(schema, dict) and "discriminator" in schema:
        name = schema["discriminator"]["propertyName"]
        mapping = schema["discriminator"]["mapping"]
        return {
            "type": "object",
            "required": [name],
            "properties": {name: {"enum": list(mapping)}},
            "allOf": [
                {
                    "if": {"properties": {name: {"const": tag}}, "required": [name]},
                    "then": {"$ref": ref},
                }
                for tag, ref in mapping.items()
            ],
        }
    if isinstance(schema, dict) and "$ref" in schema and len(schema) > 1:
        # Taplo follows a $ref and drops the keys beside it (the table's description)
        others = {key: value for key, value in schema.items() if key != "$ref"}
        return _untitled({"allOf": [{"$ref": schema["$ref"]}], **others})
    if isinstance(schema, dict):
        properties = schema.get("properties")
        if isinstance(properties, dict):
            for value in properties.values():
                if isinstance(value, dict):
                    value.pop("title", None)
        return {key: _untitled(value) for key, value in schema.items()}
    if isinstance(schema, list):
        return [_untitled(value) for value in schema]
    return schema


def schema_text() -> str:
    """:func:`settings_schema` as the published file's text."""
    return json.dumps(settings_schema(), indent=2, ensure_ascii=False) + "\n"


def write_schema(path: Path = SCHEMA_PATH) -> Path:
    """Write the JSON Schema to ``path`` (default: ``config/envmon.schema.json``)."""
    path.write_text(schema_text(), encoding="utf-8")
    return path
