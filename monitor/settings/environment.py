"""What the environment sets: secrets (:class:`~monitor.settings.model.SecretSettings`),
the ledger, and the few settings containers set over the file (:data:`ENV_OVERRIDES`,
:data:`MAIL_TO_ENV`), read with pydantic-settings from the environment the caller passes.
"""

from __future__ import annotations

from typing import Annotated, Any, Final

from pydantic import BeforeValidator, Field, create_model

from monitor.settings.model import (
    EnvironmentSettings,
    GrafanaSettings,
    HJ212Settings,
    InfluxSettings,
    ReportSettings,
    ServiceSettings,
    SmtpSettings,
)

#: Environment variable naming the ledger when the settings file does not.
LEDGER_ENV: Final = "ENVMON_LEDGER"

#: Settings the environment sets over the file: ``variable → (table, key)``. They let one
#: settings file serve both a host install and a container, where the health endpoint must
#: listen on 0.0.0.0 and InfluxDB is a service of the compose stack (docker-compose.yml).
ENV_OVERRIDES: dict[str, tuple[str, str]] = {
    "ENVMON_HTTP_HOST": ("service", "http_host"),
    "ENVMON_INFLUXDB_ENABLED": ("influxdb", "enabled"),
    "ENVMON_INFLUXDB_URL": ("influxdb", "url"),
    "ENVMON_INFLUXDB_ORG": ("influxdb", "org"),
    "ENVMON_INFLUXDB_BUCKET": ("influxdb", "bucket"),
    "ENVMON_HJ212_HOST": ("hj212", "host"),
    # the mail path: envmon's reports and (through docker compose) Grafana's alert e-mails
    "ENVMON_SMTP_HOST": ("smtp", "host"),
    "ENVMON_SMTP_PORT": ("smtp", "port"),
    "ENVMON_SMTP_SECURITY": ("smtp", "security"),
    "ENVMON_SMTP_USER": ("smtp", "user"),
    "ENVMON_SMTP_FROM": ("smtp", "from_address"),
}

#: The one list of e-mail recipients: ``;``-separated addresses (Grafana's separator) that
#: set every recipient list over the file, so that envmon's reports and Grafana's alert
#: e-mails (whose contact point reads the same variable) go to the same people.
MAIL_TO_ENV: Final = "ENVMON_MAIL_TO"
MAIL_TO_KEYS: tuple[tuple[str, str], ...] = (
    ("reports", "daily_recipients"),
    ("reports", "monthly_recipients"),
    ("grafana", "contact_emails"),
)

#: The tables :data:`ENV_OVERRIDES` and :data:`MAIL_TO_KEYS` reach into.
TABLES: dict[str, type[Any]] = {
    "service": ServiceSettings,
    "influxdb": InfluxSettings,
    "hj212": HJ212Settings,
    "smtp": SmtpSettings,
    "reports": ReportSettings,
    "grafana": GrafanaSettings,
}


def field_type(table: str, key: str) -> Any:
    """The type of ``[table] key`` (without its constraints)."""
    return TABLES[table].__pydantic_fields__[key].annotation


def _from_text(table: str, key: str) -> Any:
    """What a variable's text is read as: a boolean (true/false, 1/0, yes/no, on/off …) or
    an integer where the file has one; otherwise the text, checked like the file's value."""
    kind = field_type(table, key)
    return kind if kind in (bool, int, float) else str


def _addresses(value: object) -> object:
    if isinstance(value, str):
        return tuple(a.strip() for a in value.split(";") if a.strip())
    return value


_FIELDS: dict[str, Any] = {
    f"{table}__{key}": (_from_text(table, key) | None, Field(None, validation_alias=env))
    for env, (table, key) in ENV_OVERRIDES.items()
}
_FIELDS["mail_to"] = (
    Annotated[tuple[str, ...], BeforeValidator(_addresses)] | None,
    Field(None, validation_alias=MAIL_TO_ENV),
)

#: The overrides as one pydantic-settings class: field ``table__key`` reads its variable,
#: ``mail_to`` reads ``ENVMON_MAIL_TO`` (split on ``;``).
EnvironmentOverrides: type[EnvironmentSettings] = create_model(
    "EnvironmentOverrides",
    __base__=EnvironmentSettings,
    __doc__="Settings the environment sets over the file (ENV_OVERRIDES, ENVMON_MAIL_TO).",
    **_FIELDS,
)

__all__ = [
    "ENV_OVERRIDES",
    "LEDGER_ENV",
    "MAIL_TO_ENV",
    "MAIL_TO_KEYS",
    "TABLES",
    "EnvironmentOverrides",
    "field_type",
]
