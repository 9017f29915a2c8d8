"""``envmon grafana provision`` and ``check`` against a server holding Grafana's API
contract (tests/grafana/fake_grafana.py), with rule queries run on real InfluxDB 1.x."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from monitor.cli import main
from monitor.grafana import alerts, api, dashboards
from monitor.settings import Settings, load_settings
from tests.engines import Influx1
from tests.grafana.fake_grafana import State, serve
from tests.published import HEALTH_AT, SETTINGS, Published, load_published

TOKEN = "glsa_test_token"
INFLUX_TOKEN = "influx-secret-token"
GRAFANA = """
[grafana]
contact_emails = ["duty@hunnan.example.cn", "lead@hunnan.example.cn"]
"""


@pytest.fixture(scope="module")
def published(influx1: Influx1, tmp_path_factory: pytest.TempPathFactory) -> Published:
    return load_published(influx1, tmp_path_factory.mktemp("published"))


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "envmon.toml"
    path.write_text(SETTINGS + GRAFANA, encoding="utf-8")
    return path


def settings_for(config: Path, **env: str) -> Settings:
    return load_settings(
        config, {"ENVMON_GRAFANA_TOKEN": TOKEN, "ENVMON_INFLUXDB_TOKEN": INFLUX_TOKEN, **env}
    )


@pytest.fixture
def grafana(influx1: Influx1) -> Iterator[tuple[State, str]]:
    state = State(TOKEN, influx1)
    server, url = serve(state)
    yield state, url
    server.shutdown()
    server.server_close()


def test_provision_creates_everything_then_changes_nothing(
    config: Path, grafana: tuple[State, str]
) -> None:
    state, url = grafana
    settings = settings_for(config)
    first = api.provision(settings, url)
    rules = alerts.rules(settings)
    assert first.changed == len(first.changes)  # everything new
    # the group's interval is Grafana's default 60 s, equal to the configured 1m: kept
    assert {(c.kind, c.action) for c in first.changes} == {
        ("datasource", "created"),
        ("folder", "created"),
        ("dashboard", "created"),
        ("contact point", "created"),
        ("alert rule", "created"),
        ("policy", "updated"),
    }
    # what Grafana holds: fixed uids, token in the secure part only, folder, provenance off
    datasource = state.datasources["envmon-influxdb"]
    assert datasource["secureJsonData"] == {"httpHeaderValue1": f"Token {INFLUX_TOKEN}"}
    assert datasource["jsonData"]["dbName"] == "envmon"
    assert set(state.dashboards) == {d.uid for d in dashboards.DASHBOARDS}
    assert all(d["meta"]["folderUid"] == "envmon" for d in state.dashboards.values())
    assert set(state.rules) == {r.uid for r in rules}
    assert state.contact_points["envmon-email"]["settings"]["addresses"] == (
        "duty@hunnan.example.cn;lead@hunnan.example.cn"
    )
    assert state.policy["receiver"] == "envmon-email"
    for seen in state.writes():
        assert seen.headers["authorization"] == f"Bearer {TOKEN}"
        if seen.path.startswith("/api/v1/provisioning/"):
            assert seen.headers["x-disable-provenance"] == "true"
    dashboard_posts = [s for s in state.writes() if s.path == "/api/dashboards/db"]
    assert all(
        s.body["overwrite"] is True and s.body["folderUid"] == "envmon" for s in dashboard_posts
    )
    assert all(s.body["dashboard"]["id"] is None for s in dashboard_posts)

    before = len(state.seen)
    second = api.provision(settings, url)
    assert second.changed == 0, second.lines()
    assert [s for s in state.writes() if state.seen.index(s) >= before] == []


def test_provision_updates_what_differs_and_deletes_stale_rules(
    config: Path, grafana: tuple[State, str]
) -> None:
    state, url = grafana
    settings = settings_for(config)
    api.provision(settings, url)
    state.rules["envmon-area-aqi-100"]["title"] = "edited in the UI"
    state.dashboards["envmon-air"]["meta"]["folderUid"] = "general"
    stale = {**state.rules["envmon-do-low"], "uid": "envmon-old-rule", "id": 999}
    state.rules["envmon-old-rule"] = stale
    report = api.provision(settings, url)
    assert sorted(report.lines()) == sorted(
        [
            *(line for line in report.lines() if line.endswith("unchanged")),
            "alert rule envmon-area-aqi-100: updated",
            "dashboard envmon-air: updated",
            "alert rule envmon-old-rule: deleted",
        ]
    )
    assert "envmon-old-rule" not in state.rules
    assert state.rules["envmon-area-aqi-100"]["title"] == "区域小时AQI超过100"


def test_english_titles_by_setting(tmp_path: Path, grafana: tuple[State, str]) -> None:
    state, url = grafana
    path = tmp_path / "en.toml"
    path.write_text(SETTINGS + GRAFANA + 'language = "en"\n', encoding="utf-8")
    api.provision(settings_for(path), url)
    assert state.dashboards["envmon-air"]["dashboard"]["title"] == "Air quality"
    assert state.rules["envmon-area-aqi-100"]["title"] == "Area hourly AQI above 100"


def test_check_reports_presence_and_rule_data(
    config: Path, grafana: tuple[State, str], published: Published
) -> None:
    _state, url = grafana
    settings = settings_for(config)
    before = api.check(settings, url, now=HEALTH_AT + 60)
    assert not all(c.ok for c in before)  # nothing provisioned yet
    api.provision(settings, url)
    checks = {c.what: c for c in api.check(settings, url, now=HEALTH_AT + 60)}
    assert all(c.ok for c in checks.values()), [c for c in checks.values() if not c.ok]
    # 3 h before the health round: 2 station AQIs; heartbeat present
    assert checks["alert rule envmon-site-aqi-200"].detail == "present; query returned 2 value(s)"
    assert checks["alert rule envmon-heartbeat"].detail == "present; query returned 1 value(s)"


def test_cli_provision_and_errors(
    config: Path,
    grafana: tuple[State, str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _state, url = grafana
    monkeypatch.delenv("ENVMON_GRAFANA_TOKEN", raising=False)
    assert main(["--config", str(config), "grafana", "provision", "--url", url]) == 2
    assert "ENVMON_GRAFANA_TOKEN is not set" in capsys.readouterr().err
    monkeypatch.setenv("ENVMON_GRAFANA_TOKEN", "wrong")
    assert main(["--config", str(config), "grafana", "provision", "--url", url]) == 1
    err = capsys.readouterr().err
    assert "refused" in err and "401" in err and "wrong" not in err
    monkeypatch.setenv("ENVMON_GRAFANA_TOKEN", TOKEN)
    monkeypatch.setenv("ENVMON_INFLUXDB_TOKEN", INFLUX_TOKEN)
    assert main(["--config", str(config), "grafana", "provision", "--url", url]) == 0
    out = capsys.readouterr().out
    assert "dashboard envmon-targets: created" in out and INFLUX_TOKEN not in out
    assert main(["--config", str(config), "grafana", "provision", "--url", url]) == 0
    assert "0 change(s) made" in capsys.readouterr().out


def test_evaluation_interval_is_set_on_the_group(
    tmp_path: Path, grafana: tuple[State, str]
) -> None:
    state, url = grafana
    path = tmp_path / "two.toml"
    path.write_text(SETTINGS + GRAFANA + 'evaluation_interval = "2m"\n', encoding="utf-8")
    first = api.provision(settings_for(path), url)
    assert "rule group envmon: updated" in first.lines()
    assert state.group_intervals[("envmon", "envmon")] == 120
    put = [s for s in state.writes() if "/rule-groups/" in s.path]
    assert [(s.method, s.path) for s in put] == [
        ("PUT", "/api/v1/provisioning/folder/envmon/rule-groups/envmon")
    ]
    assert {r["uid"] for r in put[0].body["rules"]} == set(state.rules)
    assert api.provision(settings_for(path), url).changed == 0


def test_rules_over_the_api_keep_firing_and_compute_durations(
    config: Path, grafana: tuple[State, str]
) -> None:
    """The API's own field names reach Grafana: ``keep_firing_for`` (ProvisionedAlertRule,
    pkg/services/ngalert/api/tooling/definitions/provisioning_alert_rules.go), not the
    file's ``keepFiringFor`` (which Grafana's JSON decoding would drop silently; the fake
    refuses it); silence rules carry math expressions on ``$B``."""
    state, url = grafana
    settings = settings_for(config)
    api.provision(settings, url)
    assert state.rules["envmon-area-aqi-100"]["keep_firing_for"] == "2h"
    assert state.rules["envmon-heartbeat"]["keep_firing_for"] == "0s"
    silent = state.rules["envmon-silent-source-river_lab"]
    assert [q["refId"] for q in silent["data"]] == ["A", "B", "C", "H", "M"]
    assert silent["noDataState"] == "Alerting" and silent["for"] == "15m"
    wrong = {**alerts.api_rule(alerts.rules(settings)[0], settings), "keepFiringFor": "2h"}
    wrong["uid"] = "envmon-misspelt"
    with pytest.raises(api.GrafanaError, match="keepFiringFor"):
        api._client(settings, url).request(
            "POST", "/api/v1/provisioning/alert-rules", wrong, provenance_off=True
        )


def test_check_says_whether_alert_mail_reaches_someone(
    tmp_path: Path, grafana: tuple[State, str], published: Published
) -> None:
    """A fresh Grafana's policy goes to grafana-default-email, whose address is a
    placeholder (<example@email.com>): `grafana check` fails on it, and passes once the
    contact point with the configured addresses is provisioned."""
    _state, url = grafana
    bare = tmp_path / "bare.toml"
    bare.write_text(SETTINGS + "\n[grafana]\n", encoding="utf-8")
    nobody = {c.what: c for c in api.check(settings_for(bare), url, now=HEALTH_AT + 60)}
    assert not nobody["alert e-mail"].ok
    assert "ENVMON_MAIL_TO" in nobody["alert e-mail"].detail
    assert "grafana-default-email" in nobody["alert e-mail"].detail
    path = tmp_path / "mail.toml"
    path.write_text(SETTINGS + GRAFANA, encoding="utf-8")
    settings = settings_for(path)
    api.provision(settings, url)
    checks = {c.what: c for c in api.check(settings, url, now=HEALTH_AT + 60)}
    assert checks["alert e-mail"].ok
    assert checks["alert e-mail"].detail == (
        "policy → envmon-email → duty@hunnan.example.cn;lead@hunnan.example.cn"
    )
