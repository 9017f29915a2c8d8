"""``envmon calc water-class`` on a file without a quote whose data lines have fewer fields
than the header: the columnar reader fills the missing cells with empty text, and the
output row must keep one cell per input column, as before calc4 wrote the input lines as
they are (issue 17: byte-identical output; a short line written as it is would shift every
result one column to the left, under the wrong names)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.calculator.running import run_calc

_INPUT = (
    b"site,time,pH,DO\n"
    b"S1,2026-03-01T08:00,7\n"  # (one field short: do empty)
    b"S2,2026-03-01T08:00,8,5\n"
    b"S3\n"  # (only the site)
)
# Expected bytes: what commit 2ab4c5f (before calc4) writes for this input.
_HEADER = (
    "site,time,ph,do,water_class,limiting_parameters,exceedance_multiples,water_status,"
    "main_pollution_indicators,parameter_set,reference_items,below_detection,input_problems\n"
)


@pytest.mark.parametrize("to_file", [True, False])
def test_short_lines_keep_a_cell_per_input_column(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], to_file: bool
) -> None:
    source = tmp_path / "in.csv"
    source.write_bytes(_INPUT)
    output, _ = run_calc(tmp_path, capsys, ["water-class", str(source)], to_file=to_file)
    written = output.decode("utf-8")
    lines = written.splitlines()
    assert lines[0] + "\n" == _HEADER
    assert lines[1] == "S1,2026-03-01T08:00,7,,I,ph,,优,,automatic,,,"
    assert lines[2] == "S2,2026-03-01T08:00,8,5,III,do,,良好,,automatic,,,"
    assert all(line.count(",") == _HEADER.count(",") for line in lines[1:])
