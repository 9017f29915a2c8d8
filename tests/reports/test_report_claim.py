"""A sending claim left by a crash mid-send (issue 16): `report --send` says what happened
(nothing sent, claimed since when) and exits 1; `--force` takes the claim over and sends."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.cli import main
from monitor.ledger import Ledger
from tests.reports.conftest import SmtpServer, config_text


def test_a_stale_claim_is_explained_and_force_reclaims_it(
    ledger: Ledger,
    config: Path,
    tmp_path: Path,
    smtp_server: SmtpServer,
    capsys: pytest.CaptureFixture[str],
) -> None:
    config.write_text(config_text(port=smtp_server.port), encoding="utf-8")
    smtp_server.start()
    args = ["--config", str(config), "report", "daily", "--date", "2026-05-11"]
    args += ["--out", str(tmp_path / "out"), "--send"]
    assert main(args[:-1]) == 0  # written
    capsys.readouterr()
    sent_before = len(smtp_server.received)
    # claimed by a sender that then crashed mid-send (the claim stays 'sending')
    ledger.connection.execute(
        "UPDATE report_log SET status = 'pending' WHERE kind = 'daily' AND period = '2026-05-11'"
    )
    assert ledger.claim_report("daily", "2026-05-11")
    assert main(args) == 1
    err = capsys.readouterr().err
    assert "NOT sent by this run" in err
    assert "claimed for sending since" in err
    assert "--force" in err
    assert len(smtp_server.received) == sent_before
    assert main([*args, "--force"]) == 0
    assert "sent: " in capsys.readouterr().out
    assert len(smtp_server.received) == sent_before + 1
    entry = ledger.report_entry("daily", "2026-05-11")
    assert entry is not None and entry.status == "sent"
