"""One rule for a file with a header and no data rows, whatever its format (issue 16):
``envmon import`` exits 0 and warns ``FILE: no data rows (header only)``. Nothing to import
is not an error — a daemon or script importing whatever lands in a folder must not fail on
an export made before the day's first value — and nothing is written to the ledger."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.collectors.test_xlsx_import import book_bytes
from tests.test_cli_ledger import config, run

__all__ = ["config"]  # the fixture, used by name

#: The header each format's docstring documents, with no row after it.
HEADERS: dict[str, tuple[str, bytes]] = {
    "long-csv": ("in.csv", b"site,time,parameter,value\n"),
    "cnemc-sites-csv": ("sites_20260301.csv", b"date,hour,type,1001A,1002A\n"),
    "daily-aqi-csv": ("aqi.csv", b"area,date,aqi\n"),
    "indicators-csv": ("targets.csv", b"target,date,value\n"),
    "xlsx": ("book.xlsx", book_bytes({"s": [["site", "time", "parameter", "value"]]})),
}


@pytest.mark.parametrize("file_format", sorted(HEADERS))
def test_a_header_only_file_is_a_warning_not_an_error(
    tmp_path: Path, config: Path, file_format: str, capsys: pytest.CaptureFixture[str]
) -> None:
    name, content = HEADERS[file_format]
    path = tmp_path / name
    path.write_bytes(content)
    code, out, err = run(config, "import", "--format", file_format, str(path), capsys=capsys)
    assert code == 0, err
    assert f"{name}: no data rows (header only)" in out + err
    assert "Traceback" not in err
