"""``envmon grafana build``: dashboards/*.json and Grafana's provisioning files.

Written (paths relative to the output folder, the repository root by default):

* ``dashboards/<uid>.json`` — one file per dashboard, real datasource uid (no
  ``__inputs``/``${DS_…}`` placeholders: file provisioning never resolves them);
* ``config/grafana/provisioning/datasources/envmon.yaml`` — the InfluxQL datasource with a
  fixed uid, ``dbName`` = the bucket (InfluxDB 2.x virtual DBRP), and the header
  ``Authorization: Token ${ENVMON_INFLUXDB_TOKEN}`` which Grafana fills in from its
  environment when it reads the file (reference §1.1–1.2); the token is never written;
* ``config/grafana/provisioning/dashboards/envmon.yaml`` — the file provider, reading
  :data:`DASHBOARDS_PATH` in the container (where docker compose mounts ``dashboards/``);
* ``config/grafana/provisioning/alerting/envmon.yaml`` — the rule group, the contact point
  (when addresses are configured) and the notification policy.

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
                "folder": _escape(grafana.folder),
                "folderUid": grafana.folder_uid,
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
    contact = alerts.contact_point(settings)
    if contact is not None:
        out["contactPoints"] = [
            {
                "orgId": 1,
                "name": contact["name"],
                "receivers": [
                    {
                        "uid": contact["uid"],
                        "type": contact["type"],
                        "settings": _escape(contact["settings"]),
                        "disableResolveMessage": contact["disableResolveMessage"],
                    }
                ],
            }
        ]
    out["policies"] = [{"orgId": 1, **alerts.policy(settings)}]
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
