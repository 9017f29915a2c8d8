"""Reading the settings file: TOML, the environment's overrides, pydantic's validation, and
every problem at once under its key path (``air_stations[3].code``, list indexes from 0).

Pydantic finds the problems; :func:`_problems` says them in envmon's words (``expected an
integer, got '2026' (string)``, ``unknown key 'district.nmae' in district (did you mean
'name'?)``). What needs the whole file (:func:`check_references`: duplicate ids, ids that
name nothing) is read from the parsed tables, so that an item with a wrong type elsewhere
still counts as known: one mistake gives one problem, not a cascade.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import difflib
import os
import re
import tomllib
import typing
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import annotated_types
from pydantic import TypeAdapter, ValidationError
from pydantic.fields import FieldInfo

from monitor.errors import ConfigError
from monitor.settings.environment import (
    ENV_OVERRIDES,
    LEDGER_ENV,
    MAIL_TO_ENV,
    MAIL_TO_KEYS,
    EnvironmentOverrides,
)
from monitor.settings.model import (
    PATTERN_PROBLEMS,
    TARGET_KINDS,
    EnvironmentSource,
    Hint,
    Secret,
    SecretSettings,
    Settings,
)
from monitor.settings.reference import (
    DEFAULT_LEDGER,
    file_fields,
    is_table,
    is_target_union,
    item_type,
    optional_inner,
    type_text,
    unwrap,
)

_SETTINGS = TypeAdapter(Settings)

# Key names that hold secrets; such keys are refused in the file.
_SECRET_KEY = re.compile(r"password|passwd|token|secret|api_?key|credential", re.IGNORECASE)

_KINDS = ", ".join(repr(k) for k in TARGET_KINDS)

Loc = tuple[int | str, ...]


def load_settings(path: Path, environ: Mapping[str, str]) -> Settings:
    """Read and validate the settings file; secrets come from ``environ``.

    Raises
    ------
    ConfigError
        listing every problem found, with ``source`` the file's path.
    """
    source = str(path)
    try:
        text = path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise ConfigError(
            [
                f"settings file not found: {path}; choose another with --config PATH or "
                "$ENVMON_CONFIG"
            ],
            source=source,
        ) from None
    except UnicodeDecodeError as err:
        raise ConfigError(
            [f"not UTF-8 text (byte {err.start}); save the file as UTF-8"], source=source
        ) from None
    except OSError as err:
        raise ConfigError(
            [f"cannot read the settings file: {err.strerror or err}"], source=source
        ) from None
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ConfigError([f"TOML syntax error: {err}"], source=source) from None

    overridden, problems = _apply_environment(raw, environ)
    errors: list[Any] = [
        {"type": "unexpected_keyword_argument", "loc": loc, "input": value}
        for loc, value in _internal_keys(raw, Settings, ())
    ]
    settings: Settings | None = None
    try:
        settings = _SETTINGS.validate_python(raw)
    except ValidationError as err:
        errors += err.errors(include_url=False)
    described = [(error, _name_override(p, overridden)) for error, p in _described(errors)]
    problems += _one_per_mail_to_address(described, overridden)
    problems += [_name_override(p, overridden) for p in check_references(raw)]
    if problems or settings is None:
        raise ConfigError(problems, source=source)
    stations = tuple(
        dataclasses.replace(station, password=_secret(environ.get(station.password_env, "")))
        for station in settings.hj212.stations
    )
    return dataclasses.replace(
        settings,
        hj212=dataclasses.replace(settings.hj212, stations=stations),
        # absolute, so that a relative [ledger] path stays right if the cwd changes later
        source=Path(os.path.abspath(path)),
        secrets=SecretSettings.from_environ(environ),
    )


def _secret(value: str) -> Secret | None:
    return Secret(value) if value else None


def resolve_ledger_path(
    cli_value: str | None, settings: Settings, environ: Mapping[str, str]
) -> Path:
    """The ledger file: ``--ledger``, else ``[ledger] path``, else ``$ENVMON_LEDGER``, else
    :data:`DEFAULT_LEDGER`.

    A relative ``[ledger] path`` is relative to the settings file's folder; the other
    three are relative to the current directory. ``~`` is expanded in all four. A path
    from the file is returned absolute, the others as given.
    """
    if cli_value:
        return Path(cli_value).expanduser()
    if settings.ledger.path:
        configured = Path(settings.ledger.path).expanduser()
        # abspath, not resolve(): normalise "config/../data" without following symlinks
        return Path(os.path.abspath(settings.source.parent / configured))
    env = environ.get(LEDGER_ENV, "")
    if env:
        return Path(env).expanduser()
    return DEFAULT_LEDGER


# --------------------------------------------------------------------------- environment


def _apply_environment(
    raw: dict[str, Any], environ: Mapping[str, str]
) -> tuple[dict[str, str], list[str]]:
    """Set the overrides ``environ`` gives (:data:`ENV_OVERRIDES`, :data:`MAIL_TO_ENV`) into
    the parsed file; return the keys set (``table.key`` → variable) and the problems of
    values that are not of their key's type (those keys keep the file's value)."""
    given = EnvironmentSource(EnvironmentOverrides, environ, strip=True)()
    problems: list[str] = []
    while True:
        try:
            overrides = EnvironmentOverrides(**given)
            break
        except ValidationError as err:
            for error in err.errors(include_url=False):
                env = str(error["loc"][0])
                table, key = ENV_OVERRIDES[env]  # ENVMON_MAIL_TO, any text, cannot fail
                problem = _problem({**error, "loc": (table, key)})
                problems.append(f"{table}.{key} (from ${env}): {problem.partition(': ')[2]}")
                given.pop(env)  # the key keeps the file's value
    values = overrides.model_dump()
    overridden = {}
    for env, (table, key) in ENV_OVERRIDES.items():
        value = values[f"{table}__{key}"]
        if value is None:
            continue
        section = raw.setdefault(table, {})
        if isinstance(section, dict):
            section[key] = value
            overridden[f"{table}.{key}"] = env
    addresses = values["mail_to"]
    if addresses:
        for table, key in MAIL_TO_KEYS:
            section = raw.setdefault(table, {})
            if isinstance(section, dict):
                section[key] = list(addresses)
                overridden[f"{table}.{key}"] = MAIL_TO_ENV
    return overridden, problems


def _name_override(problem: str, overridden: Mapping[str, str]) -> str:
    """A problem with a value from the environment names the variable it came from."""
    key, sep, rest = problem.partition(": ")
    bare = key.partition("[")[0]  # reports.daily_recipients[0] → reports.daily_recipients
    if sep and bare in overridden:
        return f"{key} (from ${overridden[bare]}): {rest}"
    return problem


def _one_per_mail_to_address(
    described: Sequence[tuple[Mapping[str, Any], str]], overridden: Mapping[str, str]
) -> list[str]:
    """One problem per bad address of ``ENVMON_MAIL_TO``, not one per list it sets.

    ``described``: each pydantic error with its problem (:func:`_described`, the variable
    named). The lists :data:`MAIL_TO_KEYS` the variable set hold the same addresses: the
    errors of one kind at one place in them (``loc`` after the list's table and key: the
    address's index; nothing for the list itself) are one problem, the first list's,
    naming the others. Other problems, of these lists too, are kept as they are.

    >>> (one,) = _one_per_mail_to_address(
    ...     [
    ...         (
    ...             {"loc": ("reports", "daily_recipients", 1), "type": "string_pattern_mismatch"},
    ...             "reports.daily_recipients[1] (from $ENVMON_MAIL_TO): 'x' is not an email "
    ...             "address",
    ...         ),
    ...         (
    ...             {"loc": ("grafana", "contact_emails", 1), "type": "string_pattern_mismatch"},
    ...             "grafana.contact_emails[1] (from $ENVMON_MAIL_TO): expected an e-mail address",
    ...         ),
    ...     ],
    ...     {"reports.daily_recipients": MAIL_TO_ENV, "grafana.contact_emails": MAIL_TO_ENV},
    ... )
    >>> one.partition(": ")[2]
    "'x' is not an email address ($ENVMON_MAIL_TO sets grafana.contact_emails too)"
    """
    lists = [
        (table, key)
        for table, key in MAIL_TO_KEYS
        if overridden.get(f"{table}.{key}") == MAIL_TO_ENV
    ]
    out: list[str] = []
    groups: dict[tuple[Loc, str], tuple[int, list[str]]] = {}  # → (its problem, its lists)
    for error, problem in described:
        loc = tuple(error["loc"])
        field = next((f for f in lists if loc[: len(f)] == f), None)
        if field is None or error["type"] == "unexpected_keyword_argument":
            out.append(problem)
            continue
        name = ".".join(field)
        group = (loc[len(field) :], str(error["type"]))
        if group in groups and name not in groups[group][1]:
            groups[group][1].append(name)
        else:  # the first, or another problem of the same list
            groups[group] = (len(out), [name])
            out.append(problem)
    for at, names in groups.values():
        if len(names) > 1:
            out[at] += f" (${MAIL_TO_ENV} sets {' and '.join(names[1:])} too)"
    return out


# --------------------------------------------------------------------------- problems


def _internal_keys(raw: object, cls: type[Any], loc: Loc) -> Iterator[tuple[Loc, object]]:
    """Remove the keys of internal fields (``source``, ``secrets``, a station's
    ``password``) from the parsed file: they are not settings, so unknown keys there."""
    if not isinstance(raw, dict):
        return
    infos: dict[str, FieldInfo] = cls.__pydantic_fields__
    for name, info in infos.items():
        if name not in raw:
            continue
        if info.exclude:
            yield (*loc, name), raw.pop(name)
            continue
        item = item_type(info.annotation)
        if is_table(info.annotation) and not is_target_union(info.annotation):
            yield from _internal_keys(raw[name], unwrap(info.annotation), (*loc, name))
        elif item is not None and is_table(item) and not is_target_union(item):
            for i, value in enumerate(raw[name] if isinstance(raw[name], list) else []):
                yield from _internal_keys(value, item, (*loc, name, i))


def _walk(loc: Loc) -> tuple[str, Any, FieldInfo | None]:
    """The key path of ``loc`` (a pydantic error location), the type expected there and
    the field it belongs to."""
    path, info = "", None
    tp: Any = Settings
    for part in loc:
        tp = optional_inner(tp) or unwrap(tp)
        if isinstance(part, int):
            tp, path = item_type(tp), f"{path}[{part}]"
        elif is_target_union(tp) and part in TARGET_KINDS:
            tp = TARGET_KINDS[part]  # the discriminator's tag: no key of the file
        else:
            fields: dict[str, FieldInfo] = getattr(tp, "__pydantic_fields__", {})
            info = fields.get(str(part))
            tp = info.annotation if info is not None else Any
            path = f"{path}.{part}" if path else str(part)
    return path, tp, info


def _problems(errors: list[Any]) -> list[str]:
    """Pydantic's errors in envmon's words, each ``key.path: problem``; an unknown key
    close to a missing required one is one problem (the typo), not two."""
    return [problem for _, problem in _described(errors)]


def _described(errors: list[Any]) -> list[tuple[Any, str]]:
    """:func:`_problems`, each with the error it says (an unknown key may say two)."""
    typos: set[Loc] = set()
    for error in errors:
        if error["type"] == "unexpected_keyword_argument" and _is_typo(error):
            parent, key = tuple(error["loc"][:-1]), str(error["loc"][-1])
            known = [name for name, _ in file_fields(unwrap(_walk(parent)[1]))]
            typos.update((*parent, close) for close in difflib.get_close_matches(key, known, 1))
    problems: list[tuple[Any, str]] = []
    for error in _unknown_keys_first(errors):
        if error["type"] == "unexpected_keyword_argument":
            problems += [(error, p) for p in _unknown_key(tuple(error["loc"]), error["input"])]
        elif error["type"] == "too_short" and len(error["input"]) >= error["ctx"]["min_length"]:
            continue  # pydantic counts the valid items only: the invalid ones are reported
        elif not (error["type"] == "missing" and tuple(error["loc"]) in typos):
            problems.append((error, _problem(error)))
    return problems


def _is_typo(error: Any) -> bool:
    """Whether an unknown key is reported as one (with the closest known key), not only as
    a secret written in the file."""
    key, value = str(error["loc"][-1]), error["input"]
    if _SECRET_KEY.search(key):
        return False
    return not _secret_keys(value, key) or _has_non_secret(value)


def _unknown_keys_first(errors: list[Any]) -> list[Any]:
    """The errors with each table's unknown keys before the problems of its keys (pydantic
    reports them after): the order in which one reads the table."""
    ordered: list[Any] = []
    for error in errors:
        at = len(ordered)
        if error["type"] == "unexpected_keyword_argument":
            parent = tuple(error["loc"][:-1])
            at = next(
                (
                    i
                    for i, seen in enumerate(ordered)
                    if tuple(seen["loc"][: len(parent)]) == parent
                    and not (
                        seen["type"] == "unexpected_keyword_argument"
                        and tuple(seen["loc"][:-1]) == parent
                    )
                ),
                at,
            )
        ordered.insert(at, error)
    return ordered


def _unknown_key(loc: Loc, value: object) -> list[str]:
    """An unknown key: a secret in the file (named, never echoed), or a typo with the
    closest known key and the allowed ones."""
    path, key = _walk(loc)[0], str(loc[-1])
    if _SECRET_KEY.search(key):
        return [_secret_in_file(path)]
    problems = [_secret_in_file(p) for p in _secret_keys(value, path)]
    if _is_typo({"loc": loc, "input": value}):
        parent_path, parent, _ = _walk(loc[:-1])
        known = [name for name, _ in file_fields(unwrap(parent))]
        close = difflib.get_close_matches(key, known, n=1)
        maybe = f" (did you mean {close[0]!r}?)" if close else ""
        where = f" in {parent_path}" if parent_path else ""
        problems.append(f"unknown key {path!r}{where}{maybe}; allowed: {', '.join(known)}")
    return problems


def _secret_in_file(path: str) -> str:
    if re.match(r"hj212\.stations\[\d+\]\.", path):
        # A data logger's password is in the variable its password_env names.
        where = "set the variable this station's password_env names (e.g. ENVMON_HJ212_PW_HN01)"
    else:
        where = "set ENVMON_" + re.sub(r"\[[^]]*\]", "", path).replace(".", "_").upper()
    return (
        f"{path}: secrets come only from environment variables: {where} and remove the "
        "key from the file"
    )


def _secret_keys(value: object, path: str) -> list[str]:
    """Key paths under ``value`` whose names look like secrets."""
    found: list[str] = []
    if isinstance(value, dict):
        for key, inner in value.items():
            key_path = f"{path}.{key}"
            if _SECRET_KEY.search(key):
                found.append(key_path)
            else:
                found.extend(_secret_keys(inner, key_path))
    elif isinstance(value, list):
        for i, inner in enumerate(value):
            found.extend(_secret_keys(inner, f"{path}[{i}]"))
    return found


def _has_non_secret(value: object) -> bool:
    """Whether ``value`` holds anything besides secret-looking keys."""
    if isinstance(value, dict):
        return any(
            not _SECRET_KEY.search(key) and _has_non_secret(inner) for key, inner in value.items()
        )
    if isinstance(value, list):
        return any(_has_non_secret(inner) for inner in value)
    return True


_BOUNDS = {
    "greater_than_equal",
    "less_than_equal",
    "greater_than",
    "less_than",
}


def _problem(error: Any) -> str:
    """One pydantic error as ``key.path: what is wrong, and what was expected``."""
    kind, value = error["type"], error["input"]
    path, tp, info = _walk(tuple(error["loc"]))
    if kind == "missing":
        help = info.description if info is not None else ""
        message = f"missing; expected {_a(type_text(tp))}: {help}"
    elif kind == "union_tag_not_found":
        return f"{path}.kind: missing; expected one of {_KINDS}"
    elif kind == "union_tag_invalid":
        return f"{path}.kind: unknown kind {_show(value.get('kind'))}; expected one of {_KINDS}"
    elif kind in _BOUNDS:
        message = _out_of_range(value, info)
    elif kind == "string_pattern_mismatch":
        message = PATTERN_PROBLEMS[error["ctx"]["pattern"]](value)
    elif kind == "envmon":  # a domain check's own words
        message = error["msg"]
    elif kind == "too_short":
        message = f"expected at least {error['ctx']['min_length']} item(s), got {len(value)}"
    else:  # the value is not of the expected type
        tp = optional_inner(tp) or unwrap(tp)
        if typing.get_origin(tp) is typing.Literal:
            expected = type_text(tp)
        else:
            expected = _a(type_text(tp)) + (" (YYYY-MM-DD)" if tp is dt.date else "")
        message = f"expected {expected}, got {_show(value)}"
        if isinstance(value, dict) and expected == "a list of tables":
            # [areas] written for [[areas]]: say how TOML writes a list of tables
            header = re.sub(r"\[\d+\]", "", path)
            message += f"; write each one under [[{header}]], with double brackets"
    return f"{path}: {message}" if path else message


def _out_of_range(value: float, info: FieldInfo | None) -> str:
    low = high = None
    hint = ""
    for item in info.metadata if info is not None else ():
        if isinstance(item, annotated_types.Ge | annotated_types.Gt):
            low = getattr(item, "ge", getattr(item, "gt", None))
        elif isinstance(item, annotated_types.Le | annotated_types.Lt):
            high = getattr(item, "le", getattr(item, "lt", None))
        elif isinstance(item, Hint):
            hint = f"; {item.text}"
    if low is not None and high is not None:
        bounds = f"between {low:g} and {high:g}"
    elif low is not None:
        bounds = f"at least {low:g}"
    else:
        bounds = f"at most {high:g}"
    shown = f"{value:.0f}" if isinstance(value, float) and value.is_integer() else value
    return f"{shown} is out of range; expected {bounds}{hint}"


def _toml_type(value: object) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list | tuple):
        return "array"
    if isinstance(value, dict):
        return "table"
    if isinstance(value, dt.datetime):
        return "date-time"
    if isinstance(value, dt.date):
        return "date"
    return "time"


def _show(value: object) -> str:
    if isinstance(value, dict):
        return "a table"
    text = repr(list(value) if isinstance(value, tuple) else value)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{text} ({_toml_type(value)})"


def _a(text: str) -> str:
    """``text`` with its article: "an integer", "a string", "one of 'a', 'b'" (none)."""
    if text.startswith("one of "):
        return text
    return ("an " if text[:1] in "aeiou" else "a ") + text


# --------------------------------------------------------------------------- the whole file


def check_references(raw: Mapping[str, Any]) -> list[str]:
    """Duplicate ids and references to unknown ids, read from the parsed file.

    Works on the parsed tables so that an item with a type error elsewhere still counts as
    known: one mistake gives one problem, not a cascade.
    """
    problems: list[str] = []

    def items(value: object) -> list[tuple[int, dict[str, Any]]]:
        if not isinstance(value, list):
            return []
        return [(i, v) for i, v in enumerate(value) if isinstance(v, dict)]

    def ids(key: str, id_key: str, value: object = None, label: str = "") -> set[str]:
        seen: dict[str, int] = {}
        for i, item in items(raw.get(key) if value is None else value):
            found = item.get(id_key)
            if not isinstance(found, str):
                continue
            if found in seen:
                problems.append(
                    f"{key}[{i}].{id_key}: duplicate {label or id_key} {found!r}, "
                    f"already used by {key}[{seen[found]}]"
                )
            else:
                seen[found] = i
        return set(seen)

    def refs(path: str, value: object, known: set[str], what: str, list_key: str) -> None:
        values = value if isinstance(value, list) else [value]
        listed: set[str] = set()
        for j, ref in enumerate(values):
            if not isinstance(ref, str):
                continue
            ref_path = f"{path}[{j}]" if isinstance(value, list) else path
            if ref not in known:
                choices = ", ".join(sorted(known)) or f"none; add [[{list_key}]]"
                problems.append(f"{ref_path}: unknown {what} {ref!r}; known: {choices}")
            elif ref in listed:
                problems.append(f"{ref_path}: {what} {ref!r} is listed twice")
            listed.add(ref)

    source_names = ids("sources", "name")
    for i, item in items(raw.get("sources")):
        collector = item.get("collector")
        if collector == "open_meteo" and not item.get("points"):
            problems.append(
                f"sources[{i}].points: an open_meteo source needs at least one "
                "[[sources.points]] with site, latitude and longitude"
            )
        if collector == "cnemc_sites_archive" and not (item.get("folder") or item.get("url")):
            problems.append(f"sources[{i}]: a cnemc_sites_archive source needs a folder or a url")
    area_ids = ids("areas", "id")
    ids("air_stations", "code")
    section_ids = ids("water_sections", "id")
    ids("targets", "id")
    for key in ("air_stations", "water_sections"):
        for i, item in items(raw.get(key)):
            if "areas" in item:
                refs(f"{key}[{i}].areas", item["areas"], area_ids, "area", "areas")
    reports = raw.get("reports")
    if isinstance(reports, dict) and reports.get("area"):
        refs("reports.area", reports["area"], area_ids, "area", "areas")
    for i, item in items(raw.get("targets")):
        if "area" in item:
            refs(f"targets[{i}].area", item["area"], area_ids, "area", "areas")
        if item.get("kind") == "river_class" and "sections" in item:
            refs(
                f"targets[{i}].sections",
                item["sections"],
                section_ids,
                "section",
                "water_sections",
            )
    hj212 = raw.get("hj212")
    if isinstance(hj212, dict):
        if str(hj212.get("source", "hj212")) in source_names:
            problems.append(
                f"hj212.source: {hj212.get('source', 'hj212')!r} is also the name of a "
                "[[sources]] entry; choose a name of its own for the received data"
            )
        ids("hj212.stations", "mn", hj212.get("stations", []), "MN")
    return problems
