"""``calc water-class`` rates each distinct text of an item once (the reader's codes): the
same results as rating every row on its own (:func:`rate_samples`, which the domain tests
compare with GB 3838-2002 row by row)."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitor.calculator.table import read_input_csv
from monitor.calculator.water import _CODES, compute_water_class_csv, rate_samples
from monitor.domain.water_quality import WaterBody, WaterClass

#: Cell texts per column: on and beside GB 3838-2002 Table 1 limits (tp 0.1 is class II of
#: rivers and IV of lakes; tn 1.0 class III of lakes), below-detection notes ("0.01L",
#: "<0.02", rated at half the limit), missing markers, and cells that are a row's problem.
TEXTS = {
    "water_body": ["river", "lake", "reservoir", "", "sea"],
    "target_class": ["II", "III", "V", "", "VI"],
    "ph": ["7.2", "5.9", "9.1", "14.5", "", "NA"],
    "do": ["7.5", "5", "1.9", "", "2"],
    "codmn": ["2", "6.1", "15.5", "0.5L", "-1"],
    "nh3n": ["0.15", "1.0", "2.01", "<0.02", "abc"],
    "tp": ["0.1", "0.05", "0.4", "0.01L", ""],
    "tn": ["1.0", "0.2", "2.5", "", "/"],
    "f": ["1.64", "1.0", "0.8", ""],
    "fecal_coliform": ["500", "20000", "50000", ""],
}


@st.composite
def _files(draw: st.DrawFn) -> tuple[list[str], list[list[str]]]:
    """A header of site, time and some columns of :data:`TEXTS`, and rows of their texts
    (each text repeats, so every measurement column has few distinct texts)."""
    columns = draw(
        st.lists(st.sampled_from(list(TEXTS)), min_size=2, max_size=len(TEXTS), unique=True)
    )
    if not any(c in _CODES for c in columns):
        columns.append("nh3n")
    n = draw(st.integers(40, 120))
    rows = [
        [f"S{i % 3}", f"2026-03-{1 + i % 28:02d}T08:00"]
        + [draw(st.sampled_from(TEXTS[c])) for c in columns]
        for i in range(n)
    ]
    return ["site", "time", *columns], rows


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(_files(), st.sampled_from([WaterClass.II, WaterClass.III, WaterClass.V]))
def test_rating_each_text_once_equals_rating_each_row(
    tmp_path: Path, file: tuple[list[str], list[list[str]]], reference: WaterClass
) -> None:
    header, rows = file
    path = tmp_path / "in.csv"
    path.write_text("\n".join(",".join(r) for r in [header, *rows]) + "\n", encoding="utf-8")
    table = read_input_csv(path, _CODES, allow_below_detection=True, lines=True)
    # (the subject: every measurement column is read with the codes of its texts)
    assert table.value_codes is not None
    assert set(table.value_codes) == set(table.columns)

    out = compute_water_class_csv(path, target_reference=reference.code).frame
    ok = (out["input_problems"] == "").to_numpy()
    rated = np.flatnonzero(ok)  # (the others: an unknown body or target, say)
    bodies = [
        WaterBody.parse(b) if b else WaterBody.RIVER
        for b in (out["water_body"][rated] if "water_body" in out else [""] * len(rated))
    ]
    targets = None
    if "target_class" in out:
        targets = np.array(
            [float(WaterClass.from_code(t)) if t else np.nan for t in out["target_class"][rated]]
        )
    expected = rate_samples(
        pd.DataFrame(table.value_matrix[rated], columns=list(table.columns)),
        pd.DataFrame(table.below_matrix[rated], columns=list(table.columns)),
        bodies,
        targets,
        reference,
    )
    for column in expected.columns:
        assert out[column].to_numpy()[rated].tolist() == expected[column].tolist(), column
    # the rows with problems keep their problem and have no results
    results = list(expected.columns)
    assert (out.loc[~ok, results] == "").all().all()


def test_a_text_is_rated_only_for_the_water_bodies_of_its_rows(tmp_path: Path) -> None:
    """Total phosphorus 2e307 mg/L in river rows only: rated against the river limits (III
    0.2 mg/L, GB 3838-2002 Table 1), the multiple finite; against the lake limit (III 0.05)
    it would overflow, and numpy's warning would reach standard error, which the code
    before rating each text once left empty (the same text of a lake row is another key)."""
    rows = [
        f"S1,2026-03-01T{h:02d}:00,{body},{tp}"
        for h in range(8)
        for body, tp in [("river", "2e307"), ("lake", "0.1")]
    ]
    path = tmp_path / "in.csv"
    path.write_text("site,time,water_body,tp\n" + "\n".join(rows) + "\n", encoding="utf-8")
    run = subprocess.run(
        [sys.executable, "-m", "monitor", "calc", "water-class", str(path)],
        capture_output=True,
        check=False,
    )
    assert run.returncode == 0
    # 2e307 mg/L is beyond the plausible range (0–40 mg/L, 100 × Class V): its rows are
    # refused, named on standard error, and still rated (then emptied): no numpy warning
    assert all(line.startswith(b"envmon: ") for line in run.stderr.splitlines())
    assert b"tp '2e307' is implausible" in run.stderr
    out = pd.read_csv(io.BytesIO(run.stdout), dtype=str, keep_default_na=False)
    assert set(out.loc[out["water_body"] == "river", "water_class"]) == {""}
    assert set(out.loc[out["water_body"] == "lake", "water_class"]) == {"IV"}
