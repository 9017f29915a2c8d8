"""The column-wise serializer writes exactly what influxdb-client's Point writes."""

from __future__ import annotations

import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st
from influxdb_client.client.write.point import Point
from influxdb_client.domain.write_precision import WritePrecision

from monitor.influxdb.line_protocol import to_lines

# Text with everything line protocol escapes, Chinese, and quotes; a tag value that ends in
# a backslash is included too (the client appends a space; so does to_lines).
TEXT = st.text(alphabet=st.sampled_from(list('ab浑南 ,="\\\n\t\rZ9_.µ³')), min_size=0, max_size=8)
FLOAT = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True, width=64),
    st.sampled_from([0.0, 12.0, 0.1, 35.5, 1e20, 1e-7, -3.0]),
)
ROW = st.fixed_dictionaries(
    {
        "site": st.one_of(st.none(), TEXT),
        "param": st.one_of(st.none(), TEXT),
        "value": FLOAT,
        "level": FLOAT,
        "note": st.one_of(st.none(), TEXT),
        "time": st.integers(min_value=0, max_value=4_000_000_000),
    }
)


def client_line(row: dict[str, object]) -> str:
    point = Point("air observation,x").time(row["time"], WritePrecision.S)
    for key in ("site", "param"):
        point.tag(key, row[key])
    for key in ("value", "level", "note"):
        point.field(key, row[key])  # the client itself skips None, NaN and ±inf
    return str(point.to_line_protocol())


@settings(max_examples=300, deadline=None)
@given(st.lists(ROW, min_size=1, max_size=20))
def test_the_same_bytes_as_influxdb_client(rows: list[dict[str, object]]) -> None:
    frame = pd.DataFrame(rows)
    mine = to_lines(
        "air observation,x",
        frame,
        tags=["site", "param"],
        floats=["value", "level"],
        strings=["note"],
    )
    assert mine == [client_line(row) for row in rows]


def test_a_row_without_fields_gives_an_empty_line() -> None:
    frame = pd.DataFrame({"site": ["a"], "value": [float("nan")], "time": [1]})
    assert to_lines("m", frame, tags=["site"], floats=["value"]) == [""]


def test_whole_floats_stay_floats() -> None:
    """12.0 is written 12 (no i suffix): a float field in line protocol, never an integer."""
    frame = pd.DataFrame({"value": [12.0, 0.5], "time": [1, 2]})
    assert to_lines("m", frame, tags=[], floats=["value"]) == ["m value=12 1", "m value=0.5 2"]
