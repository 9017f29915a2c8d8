"""``envmon grafana build``: dashboards/*.json and Grafana's provisioning files.

Written (paths relative to the output folder, the repository root by default):

* ``dashboards/<uid>.json`` — one file per dashboard, real datasource uid (no
  ``__inputs``/``${DS_…}`` placeholders: file provisioning never resolves them);
* ``config/grafana/provisioning/datasources/envmon.yaml`` — the InfluxQL datasource with a
  fixed uid; its ``url``, ``dbName`` (the bucket: InfluxDB 2.x virtual DBRP) and the header
  ``Authorization: Token …`` are ``${ENVMON_INFLUXDB_URL}``, ``${ENVMON_INFLUXDB_BUCKET}`` and
  ``${ENVMON_INFLUXDB_TOKEN}``, which Grafana fills in from its environment when it reads
  the file (reference §1.1–1.2): the same variables docker compose gives envmon, so a
  changed bucket in ``.env`` changes both; the token is never written;
* ``config/grafana/provisioning/dashboards/envmon.yaml`` — the file provider, reading
  :data:`DASHBOARDS_PATH` in the container (where docker compose mounts ``dashboards/``);
* ``config/grafana/provisioning/alerting/envmon.yaml`` — the rule group, the e-mail contact
  point to ``${ENVMON_MAIL_TO}`` (the addresses envmon's reports go to) and the notification
  policy.

**One folder.** Grafana provisions alerting before dashboards; the rule group names its
folder by title only (``AlertRuleGroupV1`` has ``folder``, no uid:
``pkg/services/provisioning/alerting/rules_types.go``) and a missing folder is created with a
random uid (``rules_provisioner.go`` ``getOrCreateFolderByTitle``; grafana/grafana#125079).
The dashboard provider therefore names the folder by title only too: without ``folderUid``
it looks the folder up by title (``pkg/services/provisioning/dashboards/file_reader.go``
``getOrCreateFolder``) and joins the one alerting made, in either order. With a
``folderUid`` it would look up that uid, miss, and make a second folder of the same title.

Grafana replaces ``$NAME``/``${NAME}`` in provisioning YAML values (``$$`` is a literal
``$``), so every other ``$`` — none is expected — is escaped; dashboard JSON is not
interpolated. Alert annotations use ``{{ $values.B }}`` templates, which are left alone
(only braced ``${…}`` would be expanded, reference §1.4).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Final

import yaml

from monitor.grafana import alerts, dashboards
from monitor.grafana.models import INFLUXDB_TYPE
from monitor.settings import Settings

#: Where the provider reads dashboard JSON inside the Grafana container.
DASHBOARDS_PATH: Final = "/var/lib/grafana/dashboards/envmon"
#: The provisioning folder, relative to the output folder.
PROVISIONING: Final = Path("config/grafana/provisioning")
#: The token Grafana substitutes from its environment into the datasource header.
TOKEN_REFERENCE: Final = "Token ${ENVMON_INFLUXDB_TOKEN}"
#: The InfluxDB URL and bucket Grafana substitutes from its environment (docker compose
#: passes the ones it gives envmon).
URL_REFERENCE: Final = "${ENVMON_INFLUXDB_URL}"
BUCKET_REFERENCE: Final = "${ENVMON_INFLUXDB_BUCKET}"


def datasource(settings: Settings) -> dict[str, Any]:
    """The datasource fields shared by the YAML file and the HTTP API body (without the
    secure part)."""
    grafana = settings.grafana
    return {
        "name": grafana.datasource_name,
        "type": INFLUXDB_TYPE,
        "uid": grafana.datasource_uid,
        "access": "proxy",
        "url": grafana.influxdb_url,
        "isDefault": True,
        "jsonData": {
            "version": "InfluxQL",
            "dbName": settings.influxdb.bucket,
            "httpMode": "POST",
            "httpHeaderName1": "Authorization",
        },
    }


def _escape(value: Any) -> Any:
    """``$`` → ``$$`` in every string value (Grafana's literal dollar)."""
    if isinstance(value, str):
        return value.replace("$", "$$")
    if isinstance(value, dict):
        return {k: _escape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_escape(v) for v in value]
    return value


def datasource_file(settings: Settings) -> dict[str, Any]:
    entry = _escape(datasource(settings))
    entry["url"] = URL_REFERENCE
    entry["jsonData"]["dbName"] = BUCKET_REFERENCE
    entry["orgId"] = 1
    entry["editable"] = False
    entry["secureJsonData"] = {"httpHeaderValue1": TOKEN_REFERENCE}
    return {"apiVersion": 1, "datasources": [entry]}


def dashboard_provider_file(settings: Settings) -> dict[str, Any]:
    grafana = settings.grafana
    return {
        "apiVersion": 1,
        "providers": [
            {
                "name": "envmon",
                "orgId": 1,
                # by title only, as the rule group: one folder (module docstring)
                "folder": _escape(grafana.folder),
                "type": "file",
                "disableDeletion": False,
                "updateIntervalSeconds": 60,
                "allowUiUpdates": True,
                "options": {"path": DASHBOARDS_PATH, "foldersFromFilesStructure": False},
            }
        ],
    }


def alerting_file(settings: Settings) -> dict[str, Any]:
    """Rule group, contact point and policy in the file-provisioning shape. Labels are
    escaped (env-interpolated); queries and annotation templates pass through raw."""
    grafana = settings.grafana
    rules = []
    for rule in alerts.rules(settings):
        entry = alerts.file_rule(rule, settings)
        entry["labels"] = _escape(entry["labels"])
        rules.append(entry)
    out: dict[str, Any] = {
        "apiVersion": 1,
        "groups": [
            {
                "orgId": 1,
                "name": alerts.GROUP,
                "folder": _escape(grafana.folder),
                "interval": grafana.evaluation_interval,
                "rules": rules,
            }
        ],
    }
    contact = alerts.contact_point(settings, alerts.MAIL_TO_REFERENCE)
    assert contact is not None  # the reference is never empty
    out["contactPoints"] = [
        {
            "orgId": 1,
            "name": contact["name"],
            "receivers": [
                {
                    "uid": contact["uid"],
                    "type": contact["type"],
                    # addresses: ${ENVMON_MAIL_TO}, filled in by Grafana from its environment
                    "settings": contact["settings"],
                    "disableResolveMessage": contact["disableResolveMessage"],
                }
            ],
        }
    ]
    out["policies"] = [{"orgId": 1, **alerts.policy(settings, alerts.CONTACT_NAME)}]
    return out


def _yaml(data: Any) -> str:
    header = "# Generated by `envmon grafana build`; do not edit (a test fails on drift).\n"
    return header + yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=100)


def _json(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False, indent=2) + "\n"


def rendered(settings: Settings) -> dict[Path, str]:
    """Every generated file (relative path → text)."""
    out = {
        Path("dashboards") / f"{uid}.json": _json(data)
        for uid, data in dashboards.build_all(settings).items()
    }
    out[PROVISIONING / "datasources" / "envmon.yaml"] = _yaml(datasource_file(settings))
    out[PROVISIONING / "dashboards" / "envmon.yaml"] = _yaml(dashboard_provider_file(settings))
    out[PROVISIONING / "alerting" / "envmon.yaml"] = _yaml(alerting_file(settings))
    return out


def write(settings: Settings, root: Path) -> list[tuple[Path, str]]:
    """Write every generated file under ``root``; ``(path, "written" | "unchanged")``."""
    report = []
    for relative, text in rendered(settings).items():
        path = root / relative
        if path.exists() and path.read_text(encoding="utf-8") == text:
            report.append((path, "unchanged"))
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        report.append((path, "written"))
    return report
