"""What the settings mean for running: the summary ``envmon config check`` prints, and what
the configured features need but the environment does not give."""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from pathlib import Path
from typing import Final

from monitor.settings.environment import MAIL_TO_ENV, MAIL_TO_KEYS
from monitor.settings.model import (
    AnnualMeanTarget,
    GoodDayRatioTarget,
    HeavyPollutionDaysTarget,
    MilestonesTarget,
    RiverClassTarget,
    SecretSettings,
    Settings,
    Target,
)


def _target_text(target: Target, settings: Settings) -> str:
    if isinstance(target, GoodDayRatioTarget):
        return (
            f"good-day share ≥ {target.goal:.0%} in {target.area}, {target.year} "
            f"(goal set under {target.rules.upper().replace('HJ633', 'HJ 633')})"
        )
    if isinstance(target, AnnualMeanTarget):
        return (
            f"annual mean {target.pollutant} ≤ {target.limit:g} µg/m³ in {target.area}, "
            f"{target.year}"
        )
    if isinstance(target, HeavyPollutionDaysTarget):
        return f"heavy-pollution days ≤ {target.max} in {target.area}, {target.year}"
    if isinstance(target, RiverClassTarget):
        classes = []
        for section_id in target.sections:
            cls = settings.section(section_id).target_class
            classes.append(f"{section_id} {cls or '?'}")
        return f"sections meet their target class by {target.year}: " + ", ".join(classes)
    if isinstance(target, MilestonesTarget):
        done = sum(1 for item in target.items if item.done is not None)
        expected = f" of {target.expected_items} planned" if target.expected_items else ""
        return (
            f"{len(target.items)} milestones listed{expected}, {done} done, "
            f"by {target.year}: " + ", ".join(item.name for item in target.items)
        )
    return f"≥ {target.goal} {target.unit} by {target.year}"


def hj212_password_problems(settings: Settings, *, listening: bool = False) -> list[str]:
    """One problem per station whose password variable is not set, when the receiver is
    enabled (or ``listening``: the command opens it anyway, ``envmon hj212 listen``): what
    ``envmon run``, ``envmon hj212 listen`` and ``envmon config check`` refuse (exit 2).
    Commands that do not open the receiver never ask for the passwords."""
    if not (settings.hj212.enabled or listening):
        return []
    return [
        f"hj212.stations[{i}].password_env: environment variable {station.password_env} is "
        f"not set; set it to the access password (PW) of station {station.mn}"
        for i, station in enumerate(settings.hj212.stations)
        if station.password is None
    ]


#: ``ENVMON_*`` variables of the deployment, not of envmon: docker compose reads them
#: (docker-compose.yml, .env.example) and the image's health check (Dockerfile).
DEPLOYMENT_ENV: Final = frozenset(
    {"ENVMON_CONFIG_FILE", "ENVMON_HEALTHCHECK_URL", "ENVMON_HJ212_PORT", "ENVMON_HTTP_PORT"}
)


def unknown_environment(settings: Settings, environ: Mapping[str, str]) -> list[str]:
    """One warning per ``ENVMON_*`` variable set in ``environ`` that nothing reads, with the
    likely name when one is close (a mistyped ``ENVMON_SMTP_PASWORD`` would otherwise be
    ignored and the mail fail for a reason no message names).

    Known: the variables of the settings reference, each HJ 212 station's
    ``password_env``, and :data:`DEPLOYMENT_ENV`.

    """
    from monitor.settings.reference import settings_reference

    known = {doc.key for doc in settings_reference() if doc.source != "file"}
    known |= {station.password_env for station in settings.hj212.stations}
    known |= DEPLOYMENT_ENV
    warnings = []
    for name in sorted(environ):
        if not name.startswith("ENVMON_") or name in known:
            continue
        close = difflib.get_close_matches(name, sorted(known), n=1, cutoff=0.8)
        hint = f"; did you mean {close[0]}?" if close else " (see docs/reference/settings.md)"
        warnings.append(f"{name} is set, but envmon reads no variable of that name{hint}")
    return warnings


def required_secrets(settings: Settings) -> list[tuple[str, str]]:
    """Secrets the configured features need but the environment does not give:
    ``(environment variable, why it is needed)`` pairs; empty when nothing is missing."""
    missing = []
    if settings.influxdb.enabled and settings.secrets.influxdb_token is None:
        missing.append(
            (
                "ENVMON_INFLUXDB_TOKEN",
                f"[influxdb] enabled = true publishes to {settings.influxdb.url}; set it to "
                "an API token with write access to the bucket",
            )
        )
    return missing


def required_mail(settings: Settings) -> list[tuple[str, str]]:
    """What the mail path lacks: ``(environment variable, why)`` pairs; empty when alert
    e-mails and reports can be sent, or when nothing is to be sent.

    Mail is needed when the service publishes to InfluxDB (Grafana's alert rules read it
    and e-mail through the same SMTP server and to the same recipients, docker-compose.yml)
    or when any part of the mail path is configured (reports are to be e-mailed). Then the
    recipients, the SMTP server and the sender address must all be set: a stack that starts
    without them reaches no officer. Development: Mailpit (docs/deployment.md)."""
    smtp, reports = settings.smtp, settings.reports
    lists = dict(
        zip(
            (f"{table}.{key}" for table, key in MAIL_TO_KEYS),
            (
                reports.daily_recipients,
                reports.monthly_recipients,
                settings.grafana.contact_emails,
            ),
            strict=True,
        )
    )
    wanted = settings.influxdb.enabled or bool(smtp.host) or any(lists.values())
    if not wanted:
        return []
    why = (
        "[influxdb] enabled = true: Grafana's alert rules read what envmon publishes"
        if settings.influxdb.enabled
        else "the mail path is partly configured"
    )
    missing = []
    empty = [name for name, listed in lists.items() if not listed]
    if empty:
        missing.append(
            (
                MAIL_TO_ENV,
                f"{why}; nobody would get alert e-mails or reports ({', '.join(empty)} "
                "empty). Set it to the duty officers' addresses, separated by ;",
            )
        )
    if not smtp.host:
        missing.append(
            (
                "ENVMON_SMTP_HOST",
                f"{why}; no SMTP server to send through ([smtp] host empty). Set the "
                "bureau's SMTP server (development: mailpit, port 1025, security none)",
            )
        )
    if not any("@" in a for a in (smtp.from_address, smtp.user)):
        missing.append(
            (
                "ENVMON_SMTP_FROM",
                f"{why}; no sender address ([smtp] from_address empty, user not an "
                "address). Set the address alert e-mails and reports are sent from",
            )
        )
    return missing


#: The port on which Grafana's mailer speaks TLS from the start: Grafana builds its dialer
#: with ``gomail.NewDialer(host, port, …)`` (grafana/grafana
#: pkg/services/notifications/smtp.go) and sets no ``SSL``; gomail's ``NewDialer`` sets
#: ``SSL: port == 465`` (go-gomail/gomail smtp.go). On every other port it speaks plain SMTP
#: and upgrades with STARTTLS (``GF_SMTP_STARTTLS_POLICY``, docker-compose.yml).
GRAFANA_IMPLICIT_TLS_PORT: Final = 465


def mail_security_mismatch(settings: Settings) -> list[str]:
    """Where envmon's mail and Grafana's alert mail would take different paths to the one
    SMTP server (both get ``ENVMON_SMTP_HOST/PORT``, docker-compose.yml, but Grafana has
    no security setting: it decides by the port). Empty when they agree, or when nothing is
    published for Grafana to alert on, or no SMTP server is set.

    ``[smtp] security = "tls"`` on a port other than 465: envmon opens TLS at once, Grafana
    speaks plain SMTP and STARTTLS; ``starttls``/``none`` on 465: Grafana opens TLS at once,
    envmon does not. One of the two would fail against the server."""
    smtp = settings.smtp
    if not (settings.influxdb.enabled and smtp.host):
        return []
    implicit = smtp.port == GRAFANA_IMPLICIT_TLS_PORT
    if smtp.security == "tls" and not implicit:
        return [
            f"ENVMON_SMTP_SECURITY=tls with ENVMON_SMTP_PORT={smtp.port}: envmon would open "
            f"TLS at once (implicit TLS) but Grafana's alert mailer uses implicit TLS only on "
            f"port {GRAFANA_IMPLICIT_TLS_PORT} and speaks STARTTLS on port {smtp.port}, so one "
            "of the two cannot send. Set ENVMON_SMTP_PORT=465 if the server takes TLS from the "
            "start, or ENVMON_SMTP_SECURITY=starttls if it upgrades on port "
            f"{smtp.port}"
        ]
    if implicit and smtp.security != "tls":
        return [
            f"ENVMON_SMTP_SECURITY={smtp.security} with ENVMON_SMTP_PORT={smtp.port}: "
            f"Grafana's alert mailer opens TLS at once on port {smtp.port} but envmon would "
            f"not ({smtp.security}), so one of the two cannot send. Set "
            "ENVMON_SMTP_SECURITY=tls for port 465, or use the server's STARTTLS port "
            "(ENVMON_SMTP_PORT=587)"
        ]
    return []


def summarize(settings: Settings, ledger: Path) -> str:
    """What ``envmon config check`` prints when the settings are valid."""
    district = settings.district
    lines = [
        f"settings file: {settings.source}",
        f"district: {district.name} ({district.name_zh}), time zone {district.timezone}",
        f"ledger: {ledger}",
        "",
        f"areas ({len(settings.areas)}), with their air stations:",
    ]
    mark = {True: "", False: "  [to confirm]"}
    for area in settings.areas:
        averaged = len(settings.averaged_stations(area.id))
        lines.append(f"  {area.id}: {area.name} ({area.name_zh}), {averaged} averaged")
        for station in settings.stations_in(area.id):
            role = "evaluation" if station.role == "evaluation" else "control, not averaged"
            lines.append(f"    {station.code} {station.name_zh} ({role}){mark[station.confirmed]}")
    no_area = [s for s in settings.air_stations if not s.areas]
    if no_area:
        lines.append("  stations in no area: " + ", ".join(s.code for s in no_area))
    lines += ["", f"water sections ({len(settings.water_sections)}):"]
    for section in settings.water_sections:
        target_class = section.target_class or "not set"
        lines.append(
            f"  {section.id}: {section.name_zh}, {section.river} ({section.water_body}), "
            f"level {section.level}, target class {target_class}{mark[section.confirmed]}"
        )
    lines += ["", f"targets ({len(settings.targets)}):"]
    for target in settings.targets:
        lines.append(
            f"  {target.id} [{target.kind}]: {_target_text(target, settings)}"
            f"{mark[target.confirmed]}"
        )
    lines += ["", f"sources ({len(settings.sources)}):"]
    for item in settings.sources:
        what = item.url or item.folder or "default endpoint"
        scope = f", {len(item.stations)} station(s)" if item.stations else ""
        scope += f", {len(item.points)} model point(s)" if item.points else ""
        state = "" if item.enabled else "  [disabled]"
        lines.append(
            f"  {item.name}: {item.collector} every {item.interval_minutes} min, {what}"
            f"{scope}{state}"
        )
    service = settings.service
    lines.append(f"service: /healthz and /metrics on {service.http_host}:{service.http_port}")
    influx = settings.influxdb
    lines.append(
        f"influxdb: bucket {influx.bucket} of org {influx.org} at {influx.url}"
        if influx.enabled
        else "influxdb: not published ([influxdb] enabled = false)"
    )
    reports, smtp = settings.reports, settings.smtp
    lines.append(
        f"reports ({reports.language}): daily at {reports.daily_time} to "
        f"{len(reports.daily_recipients)} recipient(s), monthly on day {reports.monthly_day} at "
        f"{reports.monthly_time} to {len(reports.monthly_recipients)}; written to "
        f"{reports.folder}; "
        + (f"SMTP {smtp.host}:{smtp.port} ({smtp.security})" if smtp.host else "SMTP not set")
    )
    hj212 = settings.hj212
    if hj212.enabled or hj212.stations:
        state = "" if hj212.enabled else "  [disabled]"
        lines.append(
            f"hj212 receiver: {hj212.host}:{hj212.port}, {len(hj212.stations)} station(s){state}"
        )
        for pusher in hj212.stations:
            secret_state = "set" if pusher.password else "not set"
            lines.append(
                f"  MN {pusher.mn} → site {pusher.site}, password {pusher.password_env}: "
                f"{secret_state}"
            )
    lines += ["", "secrets (environment variables only):"]
    needed = dict(required_secrets(settings))
    for name, info in SecretSettings.model_fields.items():
        env = str(info.validation_alias)
        if getattr(settings.secrets, name):
            state = "set (********)"
        elif env in needed:
            state = f"NOT SET, but required: {needed[env]}"
        else:
            state = "not set"
        lines.append(f"  {env}: {state}")
    unconfirmed = (
        sum(not s.confirmed for s in settings.air_stations)
        + sum(not s.confirmed for s in settings.water_sections)
        + sum(not t.confirmed for t in settings.targets)
    )
    lines += ["", f"settings OK; {unconfirmed} item(s) marked to confirm"]
    return "\n".join(lines)
