"""A loopback HTTP server that holds Grafana's documented API contract (reference §2.2).

It answers the calls ``envmon grafana provision`` and ``check`` make, keeps what was sent,
and refuses what Grafana would refuse or what the contract forbids: a missing or wrong
``Authorization: Bearer`` token (401), an alerting write without
``X-Disable-Provenance: true`` (400 here, so the test fails loudly), bodies without the
fields the API requires (400), a POST of a uid that exists (409), a PUT of one that does
not (404). Like Grafana it adds fields of its own (ids, versions, provenance,
``secureJsonFields``) and never returns secure values.

``POST /api/ds/query`` runs the InfluxQL of each query against a real InfluxDB 1.x with
Grafana's macro substitution (:func:`monitor.influxdb.queries.render`) and answers data
frames, so ``check`` sees real numbers.
"""

from __future__ import annotations

import copy
import json
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from monitor.influxdb.queries import render, unresolved
from tests.engines import Influx1

DEFAULT_POLICY = {"receiver": "grafana-default-email", "group_by": ["grafana_folder", "alertname"]}
#: The contact point a fresh Grafana has: its address is a placeholder that reaches nobody
#: (reference §3; pkg/setting/setting_unified_alerting.go alertmanagerDefaultConfiguration).
DEFAULT_CONTACT: dict[str, Any] = {
    "uid": "default-email-uid",
    "name": "grafana-default-email",
    "type": "email",
    "settings": {"addresses": "<example@email.com>"},
    "disableResolveMessage": False,
}


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class State:
    token: str
    influx: Influx1 | None = None
    datasources: dict[str, dict[str, Any]] = field(default_factory=dict)
    folders: dict[str, dict[str, Any]] = field(default_factory=dict)
    dashboards: dict[str, dict[str, Any]] = field(default_factory=dict)
    rules: dict[str, dict[str, Any]] = field(default_factory=dict)
    group_intervals: dict[tuple[str, str], int] = field(default_factory=dict)
    contact_points: dict[str, dict[str, Any]] = field(
        default_factory=lambda: {DEFAULT_CONTACT["uid"]: copy.deepcopy(DEFAULT_CONTACT)}
    )
    policy: dict[str, Any] = field(default_factory=lambda: copy.deepcopy(DEFAULT_POLICY))
    seen: list[Seen] = field(default_factory=list)
    next_id: int = 1

    def writes(self) -> list[Seen]:
        """Requests that change something (everything but GET and the query API)."""
        return [s for s in self.seen if s.method != "GET" and s.path != "/api/ds/query"]


class Refused(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def _need(body: Any, *keys: str) -> None:
    if not isinstance(body, dict):
        raise Refused(400, "body must be a JSON object")
    missing = [k for k in keys if k not in body]
    if missing:
        raise Refused(400, f"missing fields {missing}")


def _frames(influx: Influx1, text: str) -> list[dict[str, Any]]:
    frames = []
    for series in influx.query(text):
        columns = series["columns"]
        values = [list(col) for col in zip(*series["values"], strict=True)]
        frames.append(
            {
                "schema": {
                    "name": series["name"],
                    "fields": [{"name": c, "labels": series.get("tags", {})} for c in columns],
                },
                "data": {"values": [[t * 1000 for t in values[0]], *values[1:]]},
            }
        )
    return frames


class Api:
    """Routes: (method, path regex) → handler(state, match, body, headers)."""

    def __init__(self, state: State) -> None:
        self.state = state

    def handle(self, method: str, path: str, headers: dict[str, str], body: Any) -> Any:
        s = self.state
        if headers.get("authorization") != f"Bearer {s.token}":
            raise Refused(401, "Unauthorized")
        provisioning = path.startswith("/api/v1/provisioning/")
        if (
            provisioning
            and method in ("POST", "PUT")
            and headers.get("x-disable-provenance") != "true"
        ):
            raise Refused(400, "test contract: alerting writes must disable provenance")
        for pattern, verb, handler in self.routes():
            match = re.fullmatch(pattern, path)
            if match and verb == method:
                return handler(match, body)
        raise Refused(404, f"no route {method} {path}")

    def routes(self) -> list[tuple[str, str, Any]]:
        return [
            (r"/api/health", "GET", self.health),
            (r"/api/frontend/settings", "GET", lambda m, b: {"buildInfo": {"version": "11.6.0"}}),
            (r"/api/datasources/uid/([^/]+)", "GET", self.get_datasource),
            (r"/api/datasources/uid/([^/]+)/health", "GET", self.datasource_health),
            (r"/api/datasources", "POST", self.post_datasource),
            (r"/api/datasources/uid/([^/]+)", "PUT", self.put_datasource),
            (r"/api/folders/([^/]+)", "GET", self.get_folder),
            (r"/api/folders", "POST", self.post_folder),
            (r"/api/folders/([^/]+)", "PUT", self.put_folder),
            (r"/api/dashboards/uid/([^/]+)", "GET", self.get_dashboard),
            (r"/api/dashboards/db", "POST", self.post_dashboard),
            (r"/api/v1/provisioning/alert-rules/([^/]+)", "GET", self.get_rule),
            (r"/api/v1/provisioning/alert-rules", "POST", self.post_rule),
            (r"/api/v1/provisioning/alert-rules/([^/]+)", "PUT", self.put_rule),
            (r"/api/v1/provisioning/alert-rules/([^/]+)", "DELETE", self.delete_rule),
            (r"/api/v1/provisioning/folder/([^/]+)/rule-groups/([^/]+)", "GET", self.get_group),
            (r"/api/v1/provisioning/folder/([^/]+)/rule-groups/([^/]+)", "PUT", self.put_group),
            (r"/api/v1/provisioning/contact-points", "GET", self.get_contacts),
            (r"/api/v1/provisioning/contact-points", "POST", self.post_contact),
            (r"/api/v1/provisioning/contact-points/([^/]+)", "PUT", self.put_contact),
            (r"/api/v1/provisioning/policies", "GET", lambda m, b: self.state.policy),
            (r"/api/v1/provisioning/policies", "PUT", self.put_policy),
            (r"/api/ds/query", "POST", self.query),
        ]

    def _id(self) -> int:
        self.state.next_id += 1
        return self.state.next_id

    # -- health
    def health(self, match: Any, body: Any) -> Any:
        return {"database": "ok", "version": "11.6.0"}

    # -- datasources
    def _public(self, ds: dict[str, Any]) -> dict[str, Any]:
        out = {k: v for k, v in ds.items() if k != "secureJsonData"}
        out["secureJsonFields"] = dict.fromkeys(ds.get("secureJsonData", {}), True)
        return out

    def get_datasource(self, match: Any, body: Any) -> Any:
        ds = self.state.datasources.get(match.group(1))
        if ds is None:
            raise Refused(404, "Data source not found")
        return self._public(ds)

    def datasource_health(self, match: Any, body: Any) -> Any:
        if match.group(1) not in self.state.datasources:
            raise Refused(404, "Data source not found")
        return {"status": "OK", "message": "datasource is working. 10 measurements found"}

    def _check_datasource(self, body: Any) -> None:
        _need(body, "name", "type", "uid", "access", "url", "jsonData")
        if (
            body["type"] != "influxdb"
            or body["jsonData"].get("httpHeaderName1") != "Authorization"
        ):
            raise Refused(400, "expected an influxdb datasource with an Authorization header")
        value = body.get("secureJsonData", {}).get("httpHeaderValue1")
        if value is not None and not value.startswith("Token "):
            raise Refused(400, "the InfluxDB header value must be 'Token <token>'")

    def post_datasource(self, match: Any, body: Any) -> Any:
        self._check_datasource(body)
        if body["uid"] in self.state.datasources:
            raise Refused(409, "data source with the same uid already exists")
        if "httpHeaderValue1" not in body.get("secureJsonData", {}):
            raise Refused(400, "test contract: a new datasource needs its token")
        self.state.datasources[body["uid"]] = {**body, "id": self._id(), "version": 1}
        return {"message": "Datasource added", "datasource": self._public(body)}

    def put_datasource(self, match: Any, body: Any) -> Any:
        self._check_datasource(body)
        uid = match.group(1)
        old = self.state.datasources.get(uid)
        if old is None:
            raise Refused(404, "Data source not found")
        secure = body.get("secureJsonData") or old.get("secureJsonData", {})
        self.state.datasources[uid] = {**body, "secureJsonData": secure, "id": old["id"]}
        return {"message": "Datasource updated"}

    # -- folders
    def get_folder(self, match: Any, body: Any) -> Any:
        folder = self.state.folders.get(match.group(1))
        if folder is None:
            raise Refused(404, "folder not found")
        return folder

    def post_folder(self, match: Any, body: Any) -> Any:
        _need(body, "uid", "title")
        if body["uid"] in self.state.folders:
            raise Refused(409, "a folder with the same uid already exists")
        self.state.folders[body["uid"]] = {**body, "id": self._id(), "version": 1}
        return self.state.folders[body["uid"]]

    def put_folder(self, match: Any, body: Any) -> Any:
        _need(body, "title")
        folder = self.state.folders.get(match.group(1))
        if folder is None:
            raise Refused(404, "folder not found")
        if not body.get("overwrite") and "version" not in body:
            raise Refused(400, "version or overwrite required")
        folder.update(title=body["title"], version=folder["version"] + 1)
        return folder

    # -- dashboards
    def get_dashboard(self, match: Any, body: Any) -> Any:
        stored = self.state.dashboards.get(match.group(1))
        if stored is None:
            raise Refused(404, "Dashboard not found")
        return stored

    def post_dashboard(self, match: Any, body: Any) -> Any:
        _need(body, "dashboard", "folderUid", "overwrite")
        board = body["dashboard"]
        _need(board, "uid", "title", "panels")
        if len(board["uid"]) > 40:
            raise Refused(400, "uid longer than 40 characters")
        if body["folderUid"] not in self.state.folders:
            raise Refused(400, "folder not found")
        old = self.state.dashboards.get(board["uid"])
        if old is not None and not body["overwrite"]:
            raise Refused(412, "version-mismatch")
        version = 1 if old is None else old["dashboard"]["version"] + 1
        dashboard_id = self._id() if old is None else old["dashboard"]["id"]
        self.state.dashboards[board["uid"]] = {
            "dashboard": {**board, "id": dashboard_id, "version": version},
            "meta": {"folderUid": body["folderUid"], "provisioned": False},
        }
        return {"status": "success", "uid": board["uid"], "version": version}

    # -- alert rules
    def _check_rule(self, body: Any) -> None:
        _need(
            body,
            "uid",
            "title",
            "folderUID",
            "ruleGroup",
            "condition",
            "data",
            "noDataState",
            "execErrState",
            "for",
        )
        if body["folderUID"] not in self.state.folders:
            raise Refused(400, "folder does not exist")
        refs = [q.get("refId") for q in body["data"]]
        if body["condition"] not in refs:
            raise Refused(400, "condition is not a refId of data")
        for query in body["data"]:
            _need(query, "refId", "datasourceUid", "model", "relativeTimeRange")
            uid = query["datasourceUid"]
            if uid != "__expr__" and uid not in self.state.datasources:
                raise Refused(400, f"datasource {uid} not found")
        if body["noDataState"] not in ("OK", "NoData", "Alerting"):
            raise Refused(400, "bad noDataState")
        # ProvisionedAlertRule (pkg/services/ngalert/api/tooling/definitions/
        # provisioning_alert_rules.go): `for` and `keep_firing_for` are model.Duration;
        # the file format's spelling keepFiringFor is no field of the API (Grafana would
        # ignore it silently: refused here so that the mistake shows)
        if "keepFiringFor" in body:
            raise Refused(400, "unknown field keepFiringFor (the API's is keep_firing_for)")
        for key in ("for", "keep_firing_for"):
            if key in body and not re.fullmatch(r"([0-9]+(ms|s|m|h|d|w|y))+", body[key]):
                raise Refused(400, f"{key}: not a duration: {body[key]!r}")
        for query in body["data"]:
            model = query["model"]
            if model.get("type") == "math":  # $REF of a math expression names a refId
                for ref in re.findall(r"\$\{?(\w+)", model.get("expression", "")):
                    if ref not in refs:
                        raise Refused(400, f"math expression refers to unknown {ref}")
        # Grafana: AlertRule.SetDashboardAndPanelFromAnnotations
        notes = body.get("annotations") or {}
        dash, panel = notes.get("__dashboardUid__", ""), notes.get("__panelId__", "")
        if bool(dash) != bool(panel):
            raise Refused(
                400, "both annotations __dashboardUid__ and __panelId__ must be specified"
            )
        if panel and not panel.isdigit():
            raise Refused(400, "annotation __panelId__ must be a valid integer Panel ID")
        if dash and dash not in self.state.dashboards:
            raise Refused(400, f"dashboard {dash} not found")

    def get_rule(self, match: Any, body: Any) -> Any:
        rule = self.state.rules.get(match.group(1))
        if rule is None:
            raise Refused(404, "rule not found")
        return rule

    def post_rule(self, match: Any, body: Any) -> Any:
        self._check_rule(body)
        if body["uid"] in self.state.rules:
            raise Refused(409, "rule uid exists")
        stored = {**body, "id": self._id(), "provenance": "", "updated": "2026-11-26T00:00:00Z"}
        self.state.rules[body["uid"]] = stored
        self.state.group_intervals.setdefault((body["folderUID"], body["ruleGroup"]), 60)
        return stored

    def put_rule(self, match: Any, body: Any) -> Any:
        self._check_rule(body)
        old = self.state.rules.get(match.group(1))
        if old is None:
            raise Refused(404, "rule not found")
        self.state.rules[match.group(1)] = {**body, "id": old["id"], "provenance": ""}
        return self.state.rules[match.group(1)]

    def delete_rule(self, match: Any, body: Any) -> Any:
        self.state.rules.pop(match.group(1), None)
        return None

    def get_group(self, match: Any, body: Any) -> Any:
        folder, group = match.group(1), match.group(2)
        rules = [
            r
            for r in self.state.rules.values()
            if (r["folderUID"], r["ruleGroup"]) == (folder, group)
        ]
        if not rules:
            raise Refused(404, "rule group not found")
        interval = self.state.group_intervals[(folder, group)]
        return {"title": group, "folderUid": folder, "interval": interval, "rules": rules}

    def put_group(self, match: Any, body: Any) -> Any:
        _need(body, "title", "folderUid", "interval", "rules")
        if not isinstance(body["interval"], int) or body["interval"] <= 0:
            raise Refused(400, "interval must be a positive number of seconds")
        self.state.group_intervals[(match.group(1), match.group(2))] = body["interval"]
        return body

    # -- contact points and policy
    def get_contacts(self, match: Any, body: Any) -> Any:
        return list(self.state.contact_points.values())

    def _check_contact(self, body: Any) -> None:
        _need(body, "uid", "name", "type", "settings")
        if body["type"] == "email" and not body["settings"].get("addresses"):
            raise Refused(400, "email needs addresses")

    def post_contact(self, match: Any, body: Any) -> Any:
        self._check_contact(body)
        if body["uid"] in self.state.contact_points:
            raise Refused(409, "contact point uid exists")
        self.state.contact_points[body["uid"]] = {**body, "provenance": ""}
        return body

    def put_contact(self, match: Any, body: Any) -> Any:
        self._check_contact(body)
        if match.group(1) not in self.state.contact_points:
            raise Refused(404, "contact point not found")
        self.state.contact_points[match.group(1)] = {**body, "provenance": ""}
        return {"message": "contactpoint updated"}

    def put_policy(self, match: Any, body: Any) -> Any:
        _need(body, "receiver")
        names = {c["name"] for c in self.state.contact_points.values()} | {"grafana-default-email"}

        def receivers(node: dict[str, Any]) -> Iterator[str]:
            yield node["receiver"]
            for child in node.get("routes", []):
                yield from receivers(child)

        unknown = set(receivers(body)) - names
        if unknown:
            raise Refused(400, f"unknown receivers {sorted(unknown)}")
        self.state.policy = {**body, "provenance": ""}
        return {"message": "policies updated"}

    # -- queries
    def query(self, match: Any, body: Any) -> Any:
        _need(body, "queries", "from", "to")
        assert self.state.influx is not None
        start, end = int(body["from"]) // 1000, int(body["to"]) // 1000
        results = {}
        for q in body["queries"]:
            _need(q, "refId", "datasource", "query")
            if q["datasource"].get("uid") not in self.state.datasources:
                raise Refused(400, "datasource not found")
            text = render(q["query"], start=start, end=end, interval_seconds=1)
            if unresolved(text):
                results[q["refId"]] = {"status": 400, "error": f"undefined {unresolved(text)}"}
                continue
            results[q["refId"]] = {"status": 200, "frames": _frames(self.state.influx, text)}
        return {"results": results}


def serve(state: State) -> tuple[ThreadingHTTPServer, str]:
    """Start the server on a free loopback port; returns it and its URL."""
    api = Api(state)
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def _any(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            body = json.loads(raw) if raw else None
            headers = {k.lower(): v for k, v in self.headers.items()}
            path = self.path.split("?", 1)[0]
            with lock:
                state.seen.append(Seen(self.command, path, headers, copy.deepcopy(body)))
                try:
                    status, answer = 200, api.handle(self.command, path, headers, body)
                except Refused as err:
                    status, answer = err.status, {"message": str(err)}
            data = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PUT = do_DELETE = _any

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_port}"
