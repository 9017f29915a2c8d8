"""``envmon calc water-class`` on a file without a quote whose header has a white-space-only
name: the output header is the one written before the input lines were written as they are
(review of the calc4 merge, issue 17: byte-identical output for every input)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.calculator.running import run_calc

# Expected bytes: what commit 2ab4c5f (before calc4) writes for this input. The blank name
# normalises to "", which the column-per-input-column output names ``column_3`` (polars'
# name for an unnamed column, the 4th); the joined input line must not turn it into "".
_INPUT = b"site,time,pH, \nS1,2026-03-01T08:00,7,x\nS2,2026-03-01T08:00,8,y\n"
_EXPECTED = (
    "site,time,ph,column_3,water_class,limiting_parameters,exceedance_multiples,"
    "water_status,main_pollution_indicators,parameter_set,reference_items,"
    "below_detection,input_problems\n"
    "S1,2026-03-01T08:00,7,x,I,ph,,优,,automatic,,,\n"
    "S2,2026-03-01T08:00,8,y,I,ph,,优,,automatic,,,\n"
)


@pytest.mark.parametrize("to_file", [True, False])
def test_blank_header_name_written_as_before(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], to_file: bool
) -> None:
    source = tmp_path / "in.csv"
    source.write_bytes(_INPUT)
    output, _ = run_calc(tmp_path, capsys, ["water-class", str(source)], to_file=to_file)
    written = output.decode("utf-8")
    assert written == _EXPECTED
