"""``envmon grafana build``: the committed files are what the code generates, parse, and
hold Grafana's provisioning contract (reference §1)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from monitor.cli import main
from monitor.grafana import alerts, dashboards, files
from monitor.grafana.models import EXPRESSION_UID
from monitor.settings import load_settings

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "config" / "hunnan.toml"


@pytest.fixture(scope="module")
def generated() -> dict[Path, str]:
    return files.rendered(load_settings(CONFIG, {}))


def test_committed_files_match_the_code(generated: dict[Path, str]) -> None:
    """Fails when dashboards/ or config/grafana/provisioning/ drift from the code: run
    `envmon grafana build` and commit."""
    for relative, text in generated.items():
        path = ROOT / relative
        assert path.exists(), f"{relative} missing: run `envmon grafana build`"
        assert path.read_text(encoding="utf-8") == text, f"{relative} drifted"
    committed = {p.relative_to(ROOT) for p in (ROOT / "dashboards").glob("*.json")}
    committed |= {p.relative_to(ROOT) for p in (ROOT / files.PROVISIONING).rglob("*.yaml")}
    assert committed == set(generated), "files no longer generated are still committed"


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def test_datasource_file(generated: dict[Path, str]) -> None:
    text = generated[files.PROVISIONING / "datasources" / "envmon.yaml"]
    data = yaml.safe_load(text)
    assert data["apiVersion"] == 1
    (ds,) = data["datasources"]
    # url and bucket are the variables docker compose passes to both envmon and Grafana:
    # Grafana replaces ${NAME} in provisioning values from its environment (reference
    # §1.1; docs/sources/administration/provisioning/index.md "Using environment variables")
    assert (ds["type"], ds["uid"], ds["access"], ds["url"]) == (
        "influxdb",
        "envmon-influxdb",
        "proxy",
        "${ENVMON_INFLUXDB_URL}",
    )
    # InfluxQL through the bucket's virtual DBRP: db = bucket name (reference §4.1)
    assert ds["jsonData"] == {
        "version": "InfluxQL",
        "dbName": "${ENVMON_INFLUXDB_BUCKET}",
        "httpMode": "POST",
        "httpHeaderName1": "Authorization",
    }
    # the token is interpolated by Grafana from its environment, never written (§1.1–1.2)
    assert ds["secureJsonData"] == {"httpHeaderValue1": "Token ${ENVMON_INFLUXDB_TOKEN}"}
    assert re.findall(r"\$+\{?\w*", text) == [
        "${ENVMON_INFLUXDB_URL",
        "${ENVMON_INFLUXDB_BUCKET",
        "${ENVMON_INFLUXDB_TOKEN",
    ]


def test_datasource_follows_the_bucket_in_env() -> None:
    """The bucket set in .env reaches Grafana: the generated file does not depend on the
    settings file's bucket (a changed bucket no longer empties every panel)."""
    other = load_settings(CONFIG, {"ENVMON_INFLUXDB_BUCKET": "other"})  # as in .env
    assert other.influxdb.bucket == "other"
    shipped = files.datasource_file(load_settings(CONFIG, {}))
    assert files.datasource_file(other) == shipped
    # the HTTP API path (`envmon grafana provision`) uses the settings themselves
    assert files.datasource(other)["jsonData"]["dbName"] == "other"


def test_dashboard_provider_file(generated: dict[Path, str]) -> None:
    data = yaml.safe_load(generated[files.PROVISIONING / "dashboards" / "envmon.yaml"])
    (provider,) = data["providers"]
    assert provider["type"] == "file"
    assert provider["options"]["path"] == "/var/lib/grafana/dashboards/envmon"
    assert provider["options"]["foldersFromFilesStructure"] is False
    # by title only: see test_rules_and_dashboards_share_one_folder
    assert provider["folder"] == "envmon" and "folderUid" not in provider


def _grafana_folders(order: list[tuple[str, str]]) -> dict[str, str]:
    """Folders (uid → title) a fresh Grafana ends up with when the provisioners run in
    ``order``, each ``(title, uid)`` resolved as Grafana resolves it:

    * alert rule groups: by title at the root, created with a random uid when missing
      (pkg/services/provisioning/alerting/rules_provisioner.go, getOrCreateFolderByTitle;
      AlertRuleGroupV1 has ``folder`` only, rules_types.go);
    * the dashboard provider: by ``folderUid`` when set, else by title; created with that
      uid (or a random one) when missing
      (pkg/services/provisioning/dashboards/file_reader.go, getOrCreateFolder).
    """
    folders: dict[str, str] = {}
    for n, (title, uid) in enumerate(order):
        if uid:
            if uid not in folders:
                folders[uid] = title
        elif title not in folders.values():
            folders[f"random-{n}"] = title
    return folders


def test_rules_and_dashboards_share_one_folder(generated: dict[Path, str]) -> None:
    """grafana/grafana#125079: alerting is provisioned first and makes its folder by title
    with a random uid; a dashboard provider with a ``folderUid`` then makes a second folder
    of the same title. Both name the folder by title only, so they meet in one."""
    provider = yaml.safe_load(generated[files.PROVISIONING / "dashboards" / "envmon.yaml"])
    group = yaml.safe_load(generated[files.PROVISIONING / "alerting" / "envmon.yaml"])
    (dashboards_entry,) = provider["providers"]
    (rules_entry,) = group["groups"]
    assert set(rules_entry) == {"orgId", "name", "folder", "interval", "rules"}  # no uid field
    alerting = (rules_entry["folder"], "")
    boards = (dashboards_entry["folder"], dashboards_entry.get("folderUid", ""))
    for order in ([alerting, boards], [boards, alerting]):
        assert list(_grafana_folders(order).values()) == ["envmon"]
    # what the old provider (folderUid: envmon) did on a fresh Grafana: two "envmon"
    assert list(_grafana_folders([alerting, ("envmon", "envmon")]).values()) == [
        "envmon",
        "envmon",
    ]


def test_alerting_file(generated: dict[Path, str]) -> None:
    data = yaml.safe_load(generated[files.PROVISIONING / "alerting" / "envmon.yaml"])
    (group,) = data["groups"]
    assert (group["name"], group["folder"], group["interval"]) == ("envmon", "envmon", "1m")
    uids = [r["uid"] for r in group["rules"]]
    assert len(uids) == len(set(uids)) and all(len(u) <= 40 for u in uids)
    titles = [r["title"] for r in group["rules"]]
    assert len(titles) == len(set(titles))  # unique within the folder
    for rule in group["rules"]:
        refs = [q["refId"] for q in rule["data"]]
        silence = "-silent-" in rule["uid"]
        assert refs == (["A", "B", "C", "H", "M"] if silence else ["A", "B", "C"])
        assert rule["condition"] == "C"
        assert rule["data"][0]["datasourceUid"] == "envmon-influxdb"
        assert rule["data"][0]["relativeTimeRange"]["from"] > 0
        assert [q["datasourceUid"] for q in rule["data"][1:]] == [EXPRESSION_UID] * (len(refs) - 1)
        if silence:  # Grafana math expressions: whole hours and minutes of B
            assert [q["model"]["type"] for q in rule["data"][3:]] == ["math", "math"]
            assert rule["data"][3]["model"]["expression"] == "floor($B / 3600)"
        assert rule["data"][0]["model"]["rawQuery"] is True
        assert "$timeFilter" in rule["data"][0]["model"]["query"]
        assert rule["labels"]["severity"] in ("critical", "warning")
        assert rule["dashboardUid"] in {d.uid for d in dashboards.DASHBOARDS}
        board = json.loads(generated[Path("dashboards") / f"{rule['dashboardUid']}.json"])
        assert rule["panelId"] in [p["id"] for p in board["panels"]]
        # labels are env-interpolated (a $ would vanish); annotations only expand ${…}
        assert not any("$" in s for s in _strings(rule["labels"]))
        assert not any("${" in s for s in _strings(rule["annotations"]))
        assert re.search(r"[\u4e00-\u9fff]", rule["annotations"]["summary"])  # Chinese
        assert "{{ externalURL }}d/" in rule["annotations"]["description"]
        assert "秒" not in rule["annotations"]["summary"]
        if silence:  # durations only as hours and minutes, never B's raw seconds
            assert "$values.B" not in str(rule["annotations"])
    heartbeat = next(r for r in group["rules"] if r["uid"] == "envmon-heartbeat")
    assert heartbeat["noDataState"] == "Alerting"  # dead man's switch
    # the contact point always exists: its addresses are ENVMON_MAIL_TO from Grafana's
    # environment (compose refuses to start without it)
    (contact,) = data["contactPoints"]
    (receiver,) = contact["receivers"]
    assert (receiver["uid"], receiver["type"]) == ("envmon-email", "email")
    assert receiver["settings"] == {"addresses": "${ENVMON_MAIL_TO}", "singleEmail": True}
    (policy,) = data["policies"]
    assert policy["receiver"] == contact["name"] == "envmon-email"
    assert {r["receiver"] for r in policy["routes"]} == {"envmon-email"}
    assert policy["group_by"] == ["grafana_folder", "alertname"]
    assert policy["repeat_interval"] == "4h"


def test_dashboards_parse_and_reference_only_the_datasource(generated: dict[Path, str]) -> None:
    uids = {"envmon-influxdb"}
    for spec in dashboards.DASHBOARDS:
        board = json.loads(generated[Path("dashboards") / f"{spec.uid}.json"])
        assert board["uid"] == spec.uid and board["title"] == spec.zh
        assert board["id"] is None and "__inputs" not in board
        assert board["timezone"] == "Asia/Shanghai"
        ids = [p["id"] for p in board["panels"]]
        # stable ids (the panel's place in the spec, which alert links use); a panel of a
        # target kind no configured target has is left out, so ids may have gaps
        assert ids == sorted(set(ids)) and ids[0] == 1
        for panel in board["panels"]:
            assert panel["datasource"]["uid"] in uids
            for target in panel["targets"]:
                assert target["datasource"] == {"type": "influxdb", "uid": "envmon-influxdb"}
                assert target["rawQuery"] is True
            assert panel["gridPos"]["x"] + panel["gridPos"]["w"] <= 24
        text = generated[Path("dashboards") / f"{spec.uid}.json"]
        assert "${DS_" not in text


def test_build_command_writes_then_reports_unchanged(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--config", str(CONFIG), "grafana", "build", "--out", str(tmp_path)]) == 0
    assert "7 file(s) written, 0 unchanged" in capsys.readouterr().out
    assert (tmp_path / "dashboards" / "envmon-air.json").exists()
    assert main(["--config", str(CONFIG), "grafana", "build", "--out", str(tmp_path)]) == 0
    assert "0 file(s) written, 7 unchanged" in capsys.readouterr().out


def test_contact_point_and_policy_with_addresses(tmp_path: Path) -> None:
    """`envmon grafana provision` (HTTP API) sends the configured addresses themselves."""
    config = tmp_path / "envmon.toml"
    config.write_text(
        CONFIG.read_text(encoding="utf-8").replace(
            "contact_emails = []", 'contact_emails = ["duty@hunnan.example.cn"]'
        ),
        encoding="utf-8",
    )
    settings = load_settings(config, {})
    contact = alerts.contact_point(settings)
    assert contact is not None
    assert contact["settings"] == {"addresses": "duty@hunnan.example.cn", "singleEmail": True}
    assert alerts.policy(settings)["receiver"] == contact["name"]
