"""`envmon publish`, `envmon publish --replay` and `envmon influx check` end to end."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.cli import main
from monitor.ledger import Ledger
from tests.engines import VictoriaMetrics
from tests.influxdb.fault_proxy import Fault, fault_proxy
from tests.service.test_publish import filled_ledger, settings_for


def setup(tmp_path: Path, url: str, monkeypatch: pytest.MonkeyPatch, site: str) -> list[str]:
    settings = settings_for(tmp_path, url)
    filled_ledger(tmp_path, settings, [site], hours=48, start="2026-07-01 00:00")
    monkeypatch.setenv("ENVMON_INFLUXDB_TOKEN", "test-token")
    return ["--config", str(tmp_path / "envmon.toml"), "--ledger", str(tmp_path / "ledger.sqlite")]


def test_publish_sends_the_outbox(
    tmp_path: Path,
    victoria: VictoriaMetrics,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    options = setup(tmp_path, victoria.url, monkeypatch, "cli_site")
    with Ledger.open(tmp_path / "ledger.sqlite") as ledger:
        pending = ledger.outbox_stats()[0]
    assert main([*options, "publish"]) == 0
    out, err = capsys.readouterr()
    assert "point(s) published" in out
    # the progress summary (stderr is not a terminal: no bar): every queued entry sent
    assert f"publish: {pending}/{pending} done in " in err
    with Ledger.open(tmp_path / "ledger.sqlite") as ledger:
        assert ledger.outbox_stats() == (0, None)
    assert victoria.export('{__name__="air_observation_value",site="cli_site"}')


def test_replay_needs_from_and_a_forward_range(
    tmp_path: Path,
    victoria: VictoriaMetrics,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    options = setup(tmp_path, victoria.url, monkeypatch, "cli_replay")
    assert main([*options, "publish", "--replay"]) == 2
    assert "--replay needs --from" in capsys.readouterr().err
    assert (
        main([*options, "publish", "--replay", "--from", "2026-07-03", "--to", "2026-07-01"]) == 2
    )
    assert "before --from" in capsys.readouterr().err
    assert main([*options, "publish", "--replay", "--from", "07/01/2026"]) == 2
    assert "expected YYYY-MM-DD" in capsys.readouterr().err
    assert (
        main([*options, "publish", "--replay", "--from", "2026-07-01", "--to", "2026-07-02"]) == 0
    )
    out, err = capsys.readouterr()
    assert "replay: 2/2 done in " in err and "point(s) published" in out


def test_publish_while_influxdb_is_down_exits_1_and_keeps_the_queue(
    tmp_path: Path,
    victoria: VictoriaMetrics,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    with fault_proxy(victoria.url) as proxy:
        options = setup(tmp_path, proxy.url, monkeypatch, "cli_down")
        proxy.script = [Fault(status=503, body="maintenance", headers={"Retry-After": "0"})] * 50
        with Ledger.open(tmp_path / "ledger.sqlite") as ledger:
            before = ledger.outbox_stats()[0]
        assert main([*options, "publish"]) == 1
        err = capsys.readouterr().err
    assert "unavailable (HTTP 503" in err and f"{before} site-day(s) still queued" in err
    assert "Traceback" not in err


def test_publish_without_a_token_exits_2(
    tmp_path: Path,
    victoria: VictoriaMetrics,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    options = setup(tmp_path, victoria.url, monkeypatch, "cli_token")
    monkeypatch.delenv("ENVMON_INFLUXDB_TOKEN")
    assert main([*options, "publish"]) == 2
    assert "ENVMON_INFLUXDB_TOKEN is not set" in capsys.readouterr().err


def test_influx_check(
    tmp_path: Path,
    victoria: VictoriaMetrics,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    options = setup(tmp_path, victoria.url, monkeypatch, "cli_check")
    assert main([*options, "influx", "check"]) == 0
    assert "answers /ping" in capsys.readouterr().out
    settings_for(tmp_path, "http://127.0.0.1:9")  # nothing listens there
    assert main([*options, "influx", "check", "--create-bucket"]) == 1
    assert "does not answer /ping" in capsys.readouterr().out


def test_config_check_names_the_missing_token(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "envmon.toml"
    settings_for(tmp_path, "http://127.0.0.1:9")
    path.write_text(path.read_text() + "enabled = true\n", encoding="utf-8")
    monkeypatch.delenv("ENVMON_INFLUXDB_TOKEN", raising=False)
    # the mail path a publishing service needs (tests/test_settings_mail.py)
    monkeypatch.setenv("ENVMON_MAIL_TO", "duty@example.org")
    monkeypatch.setenv("ENVMON_SMTP_HOST", "smtp.example.org")
    monkeypatch.setenv("ENVMON_SMTP_FROM", "envmon@example.org")
    assert main(["--config", str(path), "config", "check"]) == 2
    captured = capsys.readouterr()
    assert "ENVMON_INFLUXDB_TOKEN: NOT SET, but required" in captured.out
    assert "error: ENVMON_INFLUXDB_TOKEN is not set" in captured.err
    monkeypatch.setenv("ENVMON_INFLUXDB_TOKEN", "x")
    assert main(["--config", str(path), "config", "check"]) == 0
