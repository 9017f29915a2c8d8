"""InfluxDB line protocol, column by column.

``influxdb-client`` serialises a :class:`~influxdb_client.Point` at about 30,000 points/s
and a DataFrame at about 75,000 rows/s; publishing a year of a district's data goes through
millions of points, so :func:`to_lines` builds the same text from whole columns. The output
is **byte for byte** what ``Point.to_line_protocol()`` gives for the same values (a property
test checks it), so the client's rules hold:

* tags and fields are sorted by key; a tag whose value is ``None``/NaN/empty is left out;
* measurement: ``,``, space, ``\\n``, ``\\t``, ``\\r`` escaped; tag keys, tag values and
  field keys also ``=``; a tag value ending in ``\\`` gets a space appended;
* string fields are quoted with ``"`` and ``\\`` escaped; non-ASCII text (Chinese site
  names) is written as is, the payload being UTF-8;
* float fields are written with :func:`str` and a trailing ``.0`` trimmed (still a float in
  line protocol: no ``i`` suffix); NaN and ±inf are left out;
* a row left with no field gives ``""``, which the server would refuse: callers drop it.

Timestamps are integer seconds (precision ``s``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import pandas as pd
import polars as pl

_MEASUREMENT: Final = str.maketrans(
    {",": r"\,", " ": r"\ ", "\n": r"\n", "\t": r"\t", "\r": r"\r"}
)
_KEY: Final = str.maketrans(
    {",": r"\,", "=": r"\=", " ": r"\ ", "\n": r"\n", "\t": r"\t", "\r": r"\r"}
)
_STRING: Final = str.maketrans({'"': r"\"", "\\": r"\\"})


def escape_measurement(name: str) -> str:
    """A measurement name as line protocol writes it.

    >>> escape_measurement("air observation")
    'air\\\\ observation'
    """
    return name.translate(_MEASUREMENT)


def escape_key(key: str) -> str:
    """A tag key or field key as line protocol writes it."""
    return key.translate(_KEY)


def escape_tag_value(value: str) -> str:
    """A tag value as line protocol writes it.

    >>> print(escape_tag_value("浑南 东路,1=a"))
    浑南\\ 东路\\,1\\=a
    """
    escaped = value.translate(_KEY)
    return escaped + " " if escaped.endswith("\\") else escaped


def _text(value: Any) -> str | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return str(value)


def _per_distinct(
    column: pd.Series, render: Callable[[str], str | None], missing: str | None = ""
) -> pl.Series:
    """``render`` applied once per distinct text of ``column`` (tags and codes repeat a lot),
    then spread over the rows; ``missing`` for None/NaN."""
    codes, uniques = pd.factorize(column, use_na_sentinel=True)
    rendered = [render(text) if (text := _text(u)) is not None else missing for u in uniques]
    table = pl.Series([*rendered, missing], dtype=pl.String)  # code -1 (missing) → last entry
    return table.gather(np.where(codes < 0, len(rendered), codes))


def _tag_renderer(key: str) -> Callable[[str], str | None]:
    prefix = f",{escape_key(key)}="

    def render(text: str) -> str | None:
        return prefix + escape_tag_value(text) if text else ""

    return render


def _string_renderer(key: str) -> Callable[[str], str | None]:
    prefix = f"{escape_key(key)}="

    def render(text: str) -> str | None:
        return f'{prefix}"{text.translate(_STRING)}"'

    return render


def _float_text(value: float) -> str:
    text = str(value)
    return text[:-2] if text.endswith(".0") else text


def _float_field(key: str, values: pd.Series) -> pl.Series:
    """``key=value`` per row, null where the value is NaN or ±inf (left out)."""
    prefix = f"{escape_key(key)}="
    data = pd.to_numeric(values, errors="coerce").to_numpy(dtype=np.float64)
    finite = np.isfinite(data)
    # Measured values repeat (one decimal place): render each distinct value once
    # (by bit pattern, so that -0.0 keeps its sign as the client writes it).
    inverse, bits = pd.factorize(data[finite].view(np.int64))
    rendered = [prefix + _float_text(v) for v in np.asarray(bits).view(np.float64).tolist()]
    positions = np.full(len(data), len(rendered), dtype=np.int64)
    positions[finite] = inverse
    return pl.Series([*rendered, None], dtype=pl.String).gather(positions)


def to_lines(
    measurement: str,
    frame: pd.DataFrame,
    *,
    tags: Sequence[str],
    floats: Sequence[str] = (),
    strings: Sequence[str] = (),
    time: str = "time",
) -> list[str]:
    """One line per row of ``frame`` (``""`` for a row with no field left).

    ``tags`` and ``strings`` columns hold text (``None``/NaN: absent); ``floats`` columns
    hold numbers (NaN: absent); ``time`` holds integer epoch seconds. Each distinct value is
    rendered once in Python; the lines are assembled column-wise (polars).

    >>> frame = pd.DataFrame({"site": ["1098A", None], "value": [12.0, float("nan")],
    ...                       "flags": ["", "stuck"], "time": [1700000000, 1700003600]})
    >>> to_lines("air_observation", frame, tags=["site"], floats=["value"], strings=["flags"])
    ['air_observation,site=1098A flags="",value=12 1700000000', 'air_observation flags="stuck" 1700003600']
    """  # noqa: E501
    n = len(frame)
    if n == 0 or not [*floats, *strings]:
        return [""] * n
    columns: list[pl.Series] = [
        _per_distinct(frame[key], _tag_renderer(key)) for key in sorted(tags)
    ]
    float_set = set(floats)
    fields = [
        _float_field(key, frame[key])
        if key in float_set
        else _per_distinct(frame[key], _string_renderer(key), missing=None)
        for key in sorted([*floats, *strings])
    ]
    return _assemble(measurement, columns, fields, frame[time].to_numpy())


def to_lines_grouped(
    measurement: str,
    groups: pd.DataFrame,
    codes: npt.NDArray[np.intp],
    rows: Mapping[str, Any],
    *,
    tags: Sequence[str],
    floats: Sequence[str] = (),
    strings: Sequence[str] = (),
    time: str = "time",
) -> list[str]:
    """:func:`to_lines` of rows whose columns are mostly shared by many rows: the same text
    as ``to_lines`` of the frame with, for each row ``i``, the columns of ``groups`` at
    position ``codes[i]`` and the columns of ``rows`` (1-D arrays as long as ``codes``:
    ``time`` and per-row float fields) at ``i``.

    Tags and fields in ``groups`` are rendered once per group (a series and its flags),
    then spread over the rows, so a row costs only its own numbers.

    >>> groups = pd.DataFrame({"site": ["1098A", "1099A"], "flags": ["", "stuck"]})
    >>> rows = {"value": np.array([12.0, 3.5, np.nan]), "time": np.array([1, 2, 3])}
    >>> to_lines_grouped("m", groups, np.array([0, 1, 1]), rows, tags=["site"],
    ...                  floats=["value"], strings=["flags"])
    ['m,site=1098A flags="",value=12 1', 'm,site=1099A flags="stuck",value=3.5 2', 'm,site=1099A flags="stuck" 3']
    """  # noqa: E501
    n = len(codes)
    if n == 0 or not [*floats, *strings]:
        return [""] * n
    gather = pl.Series(np.asarray(codes, dtype=np.int64))

    def shared(series: list[pl.Series], separator: str) -> pl.Series:
        """Rendered columns of the groups joined per group (null: none left), then spread
        over the rows: one text per row instead of one per column."""
        frame = pl.DataFrame({f"c{i}": c for i, c in enumerate(series)})
        joined = pl.concat_str(pl.all(), separator=separator, ignore_nulls=True)
        out = frame.select(pl.when(joined != "").then(joined).alias("joined"))["joined"]
        return out.gather(gather)

    float_set = set(floats)
    fields: list[pl.Series] = []
    run: list[pl.Series] = []  # consecutive fields of the groups, joined per group
    for key in sorted([*floats, *strings]):
        if key in rows:
            if run:
                fields.append(shared(run, ","))
                run = []
            values = pd.Series(rows[key])
            fields.append(
                _float_field(key, values)
                if key in float_set
                else _per_distinct(values, _string_renderer(key), missing=None)
            )
        else:
            run.append(
                _float_field(key, groups[key])
                if key in float_set
                else _per_distinct(groups[key], _string_renderer(key), missing=None)
            )
    if run:
        fields.append(shared(run, ","))
    per_row_tags = [key for key in sorted(tags) if key in rows]
    if per_row_tags:  # tags are the series: normally all shared
        columns = [
            _per_distinct(pd.Series(rows[key]), _tag_renderer(key))
            if key in rows
            else _per_distinct(groups[key], _tag_renderer(key)).gather(gather)
            for key in sorted(tags)
        ]
    elif tags:
        rendered = [_per_distinct(groups[key], _tag_renderer(key)) for key in sorted(tags)]
        columns = [shared(rendered, "").fill_null("")]
    else:
        columns = []
    return _assemble(measurement, columns, fields, np.asarray(rows[time]))


def _assemble(
    measurement: str, columns: list[pl.Series], fields: list[pl.Series], times: Any
) -> list[str]:
    """Lines from the rendered tags (``,key=value`` or ``""``) and fields (``key=value`` or
    null: left out) of each row, and its time (integer epoch seconds)."""
    stamps = pl.Series(np.asarray(times, dtype=np.int64))  # whole seconds
    table = pl.DataFrame(
        {
            **{f"t{i}": c for i, c in enumerate(columns)},
            **{f"f{i}": c for i, c in enumerate(fields)},
            "time": stamps,
        }
    )
    joined = pl.concat_str(
        [pl.col(f"f{i}") for i in range(len(fields))], separator=",", ignore_nulls=True
    )
    head = [
        pl.lit(escape_measurement(measurement)),
        *(pl.col(f"t{i}") for i in range(len(columns))),
    ]
    line = pl.concat_str([*head, pl.lit(" "), joined, pl.lit(" "), pl.col("time").cast(pl.String)])
    out = table.select(
        pl.when(joined.fill_null("") != "").then(line).otherwise(pl.lit("")).alias("line")
    )
    lines: list[str] = out["line"].to_list()
    return lines
