"""Evaluation on real-shaped inputs, through the commands (issue 13 §1).

The national water platform sends 水温, 电导率, 浊度, 叶绿素α and 藻密度 with every section;
GB 3838-2002 Table 1 classifies none of them, so a section's class rests on the Table 1 items
present and the others are ignored. One site-day that cannot be evaluated never stops the
rest; it is recorded, shown and retried.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.cli import main
from monitor.ledger import Ledger
from tests.conftest import DATA, HUNNAN_TWO_STATIONS, RecordedServer
from tests.test_cli_ledger import long_csv

ENDPOINT = "/GJZ/Ajax/Publish.ashx"


def _config(tmp_path: Path, url: str) -> Path:
    path = tmp_path / "envmon.toml"
    text = HUNNAN_TWO_STATIONS.replace(
        "[[areas]]", '[ledger]\npath = "ledger.sqlite"\n\n[[areas]]'
    ) + (
        f'\n[[sources]]\nname = "water"\ncollector = "cnemc_water"\nurl = "{url}"\n'
        "retries = 0\ntimeout_seconds = 5\n"
    )
    path.write_text(text, encoding="utf-8")
    return path


def test_collect_water_with_unclassified_items_stores_classes_and_air_still_evaluates(
    tmp_path: Path, recorded_server: RecordedServer, capsys: pytest.CaptureFixture[str]
) -> None:
    """`collect cnemc_water --once` on the project's fixture (water temperature,
    conductivity, turbidity, chlorophyll a, algal density beside the GB 3838 items) exits 0,
    stores classes, and a following air import evaluates."""
    recorded_server.add_file(ENDPOINT, DATA / "cnemc_water" / "real_datas_liaoning.json")
    config = _config(tmp_path, recorded_server.url + ENDPOINT)
    assert main(["--config", str(config), "collect", "water", "--once"]) == 0
    with Ledger.open(tmp_path / "ledger.sqlite") as ledger:
        measured = set(ledger.query("SELECT DISTINCT parameter FROM observations")["parameter"])
        classes = ledger.query("SELECT site, water_class FROM water_classes")
        dirty = ledger.dirty_days()
    # The fixture really carries items GB 3838-2002 Table 1 does not classify.
    assert {"water_temperature", "conductivity", "turbidity", "chlorophyll_a"} <= measured
    assert len(classes) > 0
    assert set(classes["water_class"]) <= {"I", "II", "III", "IV", "V", "劣V"}
    assert dirty.empty
    capsys.readouterr()
    code = main(
        ["--config", str(config), "import", "--format", "long-csv", str(long_csv(tmp_path))]
    )
    assert code == 0
    with Ledger.open(tmp_path / "ledger.sqlite") as ledger:
        daily = ledger.query("SELECT count(*) AS n FROM daily_aqi")["n"].iloc[0]
        assert ledger.dirty_days().empty
    assert daily > 0
