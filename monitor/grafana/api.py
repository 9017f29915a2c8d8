"""``envmon grafana provision`` and ``envmon grafana check`` over Grafana's HTTP API.

Plain HTTP through ``requests`` (service-account token from ``ENVMON_GRAFANA_TOKEN`` sent as
``Authorization: Bearer``); ``grafana-client`` is not used because its HTTP layer
(``niquests`` → ``urllib3-future``) replaces the ``urllib3`` package of the whole
environment at interpreter start, under ``requests`` and ``influxdb-client`` too.

Everything is addressed by a fixed uid and upserted (reference §2.2): GET, then POST when
absent, PUT when different, nothing when equal — so a second run changes nothing and says
so. Alerting writes send ``X-Disable-Provenance: true`` so the objects stay editable in the
UI.

Order: datasource (``/api/datasources``), folder (``/api/folders``), dashboards
(``POST /api/dashboards/db`` with ``folderUid`` and ``overwrite``), contact point, alert
rules (``/api/v1/provisioning/alert-rules``; rules of envmon's group no longer generated
are deleted; the group's evaluation interval set through ``rule-groups``), notification
policy (``PUT /api/v1/provisioning/policies``, the whole tree).

"Equal" means every field envmon sends has the same value on the server (Grafana adds
fields of its own: ids, versions, provenance, defaults). The datasource's token is sent
only when the datasource is created or Grafana reports no stored header value
(``secureJsonFields``); it is ``ENVMON_INFLUXDB_TOKEN`` of envmon's environment.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Final

import requests

from monitor.deadline import watched, watched_session
from monitor.errors import ConfigError, EnvmonError
from monitor.grafana import alerts, dashboards, files
from monitor.redact import redact
from monitor.settings import Settings

TIMEOUT_SECONDS: Final = 20.0


class GrafanaError(EnvmonError):
    """Grafana could not be reached, refused the token, or refused an object."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(redact(message))  # the token never reaches a message
        self.status = status


@dataclass
class Change:
    """What provisioning did to one object."""

    kind: str  #: datasource, folder, dashboard, contact point, alert rule, policy, rule group
    uid: str
    action: str  #: created, updated, unchanged, deleted


@dataclass
class Report:
    changes: list[Change] = field(default_factory=list)

    def add(self, kind: str, uid: str, action: str) -> None:
        self.changes.append(Change(kind, uid, action))

    @property
    def changed(self) -> int:
        return sum(c.action != "unchanged" for c in self.changes)

    def lines(self) -> list[str]:
        return [f"{c.kind} {c.uid}: {c.action}" for c in self.changes]


def contains(server: Any, wanted: Any) -> bool:
    """Whether ``server`` has every field of ``wanted`` with the same value (recursively;
    lists must have the same length; numbers compare by value).

    >>> contains({"a": 1, "b": {"c": [1, 2]}, "id": 7}, {"b": {"c": [1.0, 2]}})
    True
    >>> contains({"a": 1}, {"a": 2}), contains({"l": [1]}, {"l": [1, 2]})
    (False, False)
    """
    if isinstance(wanted, dict):
        return isinstance(server, dict) and all(
            k in server and contains(server[k], v) for k, v in wanted.items()
        )
    if isinstance(wanted, list):
        return (
            isinstance(server, list)
            and len(server) == len(wanted)
            and all(contains(s, w) for s, w in zip(server, wanted, strict=True))
        )
    if isinstance(wanted, bool) or isinstance(server, bool):
        return bool(server is wanted)
    if isinstance(wanted, int | float) and isinstance(server, int | float):
        return float(server) == float(wanted)
    return bool(server == wanted)


class Grafana:
    """The HTTP calls envmon makes (``/api`` paths of reference §2.2), over ``requests``
    with ``Authorization: Bearer <service-account token>``."""

    def __init__(self, url: str, token: str, *, timeout: float = TIMEOUT_SECONDS) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout
        self.session = watched_session()  # a total deadline per request, not per read
        self.session.headers.update(
            {"Authorization": f"Bearer {token}", "Accept": "application/json"}
        )

    def request(
        self, method: str, path: str, body: Any = None, *, provenance_off: bool = False
    ) -> Any:
        """The JSON answer of ``method path``; an error status or no connection raises
        :class:`GrafanaError` naming the call and Grafana's message."""
        headers = {"X-Disable-Provenance": "true"} if provenance_off else {}
        with watched(self.timeout) as scope:
            try:
                reply = self.session.request(
                    method, self.url + path, json=body, headers=headers, timeout=self.timeout
                )
                reply.content  # the whole body, within the deadline  # noqa: B018
            except requests.RequestException as err:
                if scope.reason is None:
                    raise GrafanaError(
                        f"Grafana at {self.url} is not reachable ({method} {path}): {err}"
                    ) from err
        if scope.reason is not None:
            raise GrafanaError(
                f"Grafana at {self.url} did not answer {method} {path} within "
                f"{self.timeout:g} s (the whole request); is it overloaded or behind a "
                "stalled proxy?"
            )
        if reply.status_code >= 400:
            raise GrafanaError(
                f"Grafana at {self.url} refused {method} {path} "
                f"(HTTP {reply.status_code}): {_message(reply)}",
                status=reply.status_code,
            )
        return reply.json() if reply.content else None

    def get(self, path: str) -> Any | None:
        """``GET path``; ``None`` when Grafana answers 404."""
        try:
            return self.request("GET", path)
        except GrafanaError as err:
            if err.status == 404:
                return None
            raise

    def health(self) -> dict[str, Any]:
        answer: dict[str, Any] = self.request("GET", "/api/health")
        return answer


def _message(reply: requests.Response) -> str:
    """Grafana's message, secrets masked before it is cut (no half token)."""
    try:
        return redact(str(reply.json().get("message", reply.text)))[:200]
    except (ValueError, AttributeError):
        return redact(reply.text)[:200]


def _datasource(grafana: Grafana, settings: Settings, report: Report) -> None:
    body = files.datasource(settings)
    uid = body["uid"]
    token = settings.secrets.influxdb_token
    current = grafana.get(f"/api/datasources/uid/{uid}")
    secure = {"httpHeaderValue1": f"Token {token.reveal()}"} if token is not None else None
    if current is None:
        if secure is None:
            raise ConfigError(
                [
                    "ENVMON_INFLUXDB_TOKEN is not set: the new datasource needs it to read "
                    "InfluxDB (Authorization: Token …); set it and run again"
                ],
                source="environment",
            )
        grafana.request("POST", "/api/datasources", {**body, "secureJsonData": secure})
        report.add("datasource", uid, "created")
        return
    stored = bool((current.get("secureJsonFields") or {}).get("httpHeaderValue1"))
    if contains(current, body) and stored:
        report.add("datasource", uid, "unchanged")
        return
    update = dict(body)
    if not stored and secure is not None:
        update["secureJsonData"] = secure
    grafana.request("PUT", f"/api/datasources/uid/{uid}", update)
    report.add("datasource", uid, "updated")


def _folder(grafana: Grafana, settings: Settings, report: Report) -> None:
    uid, title = settings.grafana.folder_uid, settings.grafana.folder
    current = grafana.get(f"/api/folders/{uid}")
    if current is None:
        grafana.request("POST", "/api/folders", {"uid": uid, "title": title})
        report.add("folder", uid, "created")
    elif current.get("title") != title:
        grafana.request("PUT", f"/api/folders/{uid}", {"title": title, "overwrite": True})
        report.add("folder", uid, "updated")
    else:
        report.add("folder", uid, "unchanged")


def _dashboards(grafana: Grafana, settings: Settings, report: Report) -> None:
    folder = settings.grafana.folder_uid
    for uid, board in dashboards.build_all(settings).items():
        current = grafana.get(f"/api/dashboards/uid/{uid}")
        wanted = {k: v for k, v in board.items() if k not in ("id", "version")}
        if (
            current is not None
            and contains(current.get("dashboard"), wanted)
            and (current.get("meta") or {}).get("folderUid") == folder
        ):
            report.add("dashboard", uid, "unchanged")
            continue
        payload = {
            "dashboard": board,
            "folderUid": folder,  # left out, an update would move it to the root
            "overwrite": True,
            "message": "envmon grafana provision",
        }
        grafana.request("POST", "/api/dashboards/db", payload)
        report.add("dashboard", uid, "created" if current is None else "updated")


_PROVISIONING: Final = "/api/v1/provisioning"


def _contact_point(grafana: Grafana, settings: Settings, report: Report) -> None:
    wanted = alerts.contact_point(settings)
    if wanted is None:
        return
    uid = wanted["uid"]
    existing = grafana.request("GET", f"{_PROVISIONING}/contact-points") or []
    current = next((c for c in existing if c.get("uid") == uid), None)
    if current is None:
        grafana.request("POST", f"{_PROVISIONING}/contact-points", wanted, provenance_off=True)
        report.add("contact point", uid, "created")
    elif contains(current, wanted):
        report.add("contact point", uid, "unchanged")
    else:
        grafana.request(
            "PUT", f"{_PROVISIONING}/contact-points/{uid}", wanted, provenance_off=True
        )
        report.add("contact point", uid, "updated")


def _rules(grafana: Grafana, settings: Settings, report: Report) -> None:
    folder = settings.grafana.folder_uid
    wanted = [alerts.api_rule(rule, settings) for rule in alerts.rules(settings)]
    for rule in wanted:
        uid = rule["uid"]
        current = grafana.get(f"{_PROVISIONING}/alert-rules/{uid}")
        if current is None:
            grafana.request("POST", f"{_PROVISIONING}/alert-rules", rule, provenance_off=True)
            report.add("alert rule", uid, "created")
        elif contains(current, rule):
            report.add("alert rule", uid, "unchanged")
        else:
            grafana.request("PUT", f"{_PROVISIONING}/alert-rules/{uid}", rule, provenance_off=True)
            report.add("alert rule", uid, "updated")
    group_path = f"{_PROVISIONING}/folder/{folder}/rule-groups/{alerts.GROUP}"
    group = grafana.get(group_path)
    if group is None:
        return
    ours = {r["uid"] for r in wanted}
    for rule in group.get("rules") or []:
        if rule.get("uid") not in ours:
            grafana.request("DELETE", f"{_PROVISIONING}/alert-rules/{rule['uid']}")
            report.add("alert rule", str(rule["uid"]), "deleted")
    interval = alerts.interval_seconds(settings.grafana.evaluation_interval)
    if group.get("interval") != interval:
        body = {
            "title": alerts.GROUP,
            "folderUid": folder,
            "interval": interval,
            "rules": [r for r in group.get("rules") or [] if r.get("uid") in ours],
        }
        grafana.request("PUT", group_path, body, provenance_off=True)
        report.add("rule group", alerts.GROUP, "updated")


def _policy(grafana: Grafana, settings: Settings, report: Report) -> None:
    wanted = alerts.policy(settings)
    current = grafana.request("GET", f"{_PROVISIONING}/policies")
    if contains(current, wanted):
        report.add("policy", "root", "unchanged")
        return
    grafana.request("PUT", f"{_PROVISIONING}/policies", wanted, provenance_off=True)
    report.add("policy", "root", "updated")


def _client(settings: Settings, url: str | None) -> Grafana:
    token = settings.secrets.grafana_token
    if token is None:
        raise ConfigError(
            [
                "ENVMON_GRAFANA_TOKEN is not set: create a Grafana service account with the "
                "Admin role, add a token and export it as ENVMON_GRAFANA_TOKEN"
            ],
            source="environment",
        )
    return Grafana(url or settings.grafana.url, token.reveal())


def provision(settings: Settings, url: str | None = None) -> Report:
    """Push datasource, folder, dashboards, contact point, rules and policy; idempotent."""
    grafana = _client(settings, url)
    grafana.health()
    report = Report()
    for step in (_datasource, _folder, _dashboards, _contact_point, _rules, _policy):
        step(grafana, settings, report)
    return report


@dataclass
class Check:
    what: str
    ok: bool
    detail: str


def _rows(answer: Any) -> int:
    """Values in a ``/api/ds/query`` answer (all frames of all refIds)."""
    total = 0
    for result in (answer or {}).get("results", {}).values():
        for frame in result.get("frames") or []:
            values = (frame.get("data") or {}).get("values") or []
            total += len(values[0]) if values else 0
    return total


#: The address of Grafana's own default contact point: a placeholder that reaches nobody.
PLACEHOLDER_ADDRESS: Final = "<example@email.com>"


def _mail_check(grafana: Grafana) -> Check:
    """Does the notification policy's receiver e-mail someone real? (The default contact
    point of a fresh Grafana sends to a placeholder.)"""
    what = "alert e-mail"
    try:
        policy = grafana.request("GET", f"{_PROVISIONING}/policies") or {}
        points = grafana.request("GET", f"{_PROVISIONING}/contact-points") or []
    except GrafanaError as err:
        return Check(what, False, str(err))
    receiver = str(policy.get("receiver") or "")
    addresses = [
        str((point.get("settings") or {}).get("addresses") or "")
        for point in points
        if point.get("name") == receiver and point.get("type") == "email"
    ]
    real = [a for a in addresses if a.strip() and PLACEHOLDER_ADDRESS not in a]
    if not real:
        return Check(
            what,
            False,
            f"the policy sends to {receiver or 'no receiver'!r}, which e-mails nobody: set "
            "ENVMON_MAIL_TO ([grafana] contact_emails) and provision again",
        )
    return Check(what, True, f"policy → {receiver} → {'; '.join(real)}")


def check(settings: Settings, url: str | None = None, now: float | None = None) -> list[Check]:
    """Health, datasource health, each dashboard and rule present, each rule's query
    returning data over its time range (``POST /api/ds/query``)."""
    grafana = _client(settings, url)
    out: list[Check] = []
    health = grafana.health()
    out.append(
        Check("grafana", health.get("database") == "ok", f"version {health.get('version')}")
    )
    uid = settings.grafana.datasource_uid
    try:
        answer = grafana.request("GET", f"/api/datasources/uid/{uid}/health")
        out.append(
            Check(f"datasource {uid}", answer.get("status") == "OK", str(answer.get("message")))
        )
    except GrafanaError as err:
        out.append(Check(f"datasource {uid}", False, str(err)))
    for board in dashboards.DASHBOARDS:
        found = grafana.get(f"/api/dashboards/uid/{board.uid}")
        out.append(
            Check(f"dashboard {board.uid}", found is not None, "present" if found else "missing")
        )
    out.append(_mail_check(grafana))
    stamp = int(time.time() if now is None else now)
    for rule in alerts.rules(settings):
        found = grafana.get(f"{_PROVISIONING}/alert-rules/{rule.uid}")
        if found is None:
            out.append(Check(f"alert rule {rule.uid}", False, "missing"))
            continue
        model = alerts.api_rule(rule, settings)["data"][0]["model"]
        body = {
            "queries": [model],
            "from": str((stamp - rule.lookback_seconds) * 1000),
            "to": str(stamp * 1000),
        }
        try:
            answer = grafana.request("POST", "/api/ds/query", body)
            rows = _rows(answer)
            detail = f"present; query returned {rows} value(s)"
            if rows == 0 and rule.no_data == "Alerting":
                detail += " — no data: this rule fires"
            out.append(Check(f"alert rule {rule.uid}", True, detail))
        except GrafanaError as err:
            out.append(Check(f"alert rule {rule.uid}", False, f"present; query failed: {err}"))
    return out
