"""Settings of envmon: one typed tree of frozen pydantic dataclasses, loaded from a TOML file.

The file (``config/hunnan.toml`` for the first deployment) describes the district, its
areas, air stations, water sections and the targets of the district plan. It holds **no
secrets**: passwords and tokens come only from ``ENVMON_*`` environment variables, are
:class:`pydantic.SecretStr` (:class:`Secret`) and masked in ``repr`` and in
``envmon config check``.

:func:`load_settings` validates eagerly and raises :class:`~monitor.errors.ConfigError`
listing *every* problem at once: a missing file, a TOML syntax error, unknown keys,
wrong types, duplicate ids, references to unknown ids, values out of range and secrets
written in the file. A problem starts with the key path, ``air_stations[3].code``; list
indexes count from 0 in file order.

Every setting is declared once, as a field of :mod:`monitor.settings.model` with its help
text; :func:`settings_reference` lists them all (key, type, default, help), and
:func:`settings_schema` is the JSON Schema of the file, published as
``config/envmon.schema.json`` (``python -m monitor.settings --schema`` writes it) so that
editors (Taplo / Even Better TOML, through the ``#:schema`` line of ``config/*.toml``)
check and complete the file.

Modules: :mod:`~monitor.settings.model` (the tree), :mod:`~monitor.settings.environment`
(what the environment sets), :mod:`~monitor.settings.loading` (file → tree, the problems),
:mod:`~monitor.settings.reference` (reference and schema), :mod:`~monitor.settings.summary`
(``config check`` and what is missing to run).

Paths
-----
The ledger is found by :func:`resolve_ledger_path`, first match wins:

1. ``--ledger PATH`` on the command line (relative: to the current directory);
2. ``[ledger] path`` in the settings file (relative: **to the settings file's folder**, so
   the same file means the same ledger whatever directory the daemon starts in);
3. ``$ENVMON_LEDGER`` (relative: to the current directory);
4. :data:`DEFAULT_LEDGER`, ``data/envmon.sqlite`` (relative to the current directory).

Containers
----------
A few settings can be set over the file from the environment (:data:`ENV_OVERRIDES`:
``ENVMON_HTTP_HOST``, ``ENVMON_INFLUXDB_*``, ``ENVMON_HJ212_HOST``, ``ENVMON_SMTP_*``; and
:data:`MAIL_TO_ENV`, ``ENVMON_MAIL_TO``, the one list of recipients of reports and alert
e-mails), so that the Docker stack runs the same file as a host install and envmon and
Grafana share one mail path; a bad value is reported under its key, naming the variable.
"""

from __future__ import annotations

from monitor.settings.environment import (
    ENV_OVERRIDES,
    LEDGER_ENV,
    MAIL_TO_ENV,
    MAIL_TO_KEYS,
)
from monitor.settings.loading import load_settings, resolve_ledger_path
from monitor.settings.model import (
    AirStation,
    AnnualMeanTarget,
    Area,
    CollectorName,
    CountTarget,
    DistrictSettings,
    EvaluationSettings,
    GoodDayRatioTarget,
    GrafanaSettings,
    HeavyPollutionDaysTarget,
    HJ212Settings,
    HJ212Station,
    InfluxSettings,
    LedgerSettings,
    Milestone,
    MilestonesTarget,
    ModelPoint,
    QualitySettings,
    ReportSettings,
    RiverClassTarget,
    Secret,
    SecretSettings,
    ServiceSettings,
    Settings,
    SmtpSettings,
    SourceSettings,
    Target,
    ValidDayRule,
    WaterSection,
)
from monitor.settings.reference import (
    DEFAULT_LEDGER,
    SCHEMA_PATH,
    SettingDoc,
    settings_reference,
    settings_schema,
    write_schema,
)
from monitor.settings.summary import (
    DEPLOYMENT_ENV,
    GRAFANA_IMPLICIT_TLS_PORT,
    hj212_password_problems,
    mail_security_mismatch,
    required_mail,
    required_secrets,
    summarize,
    unknown_environment,
)

__all__ = [
    "DEFAULT_LEDGER",
    "DEPLOYMENT_ENV",
    "ENV_OVERRIDES",
    "GRAFANA_IMPLICIT_TLS_PORT",
    "LEDGER_ENV",
    "MAIL_TO_ENV",
    "MAIL_TO_KEYS",
    "SCHEMA_PATH",
    "AirStation",
    "AnnualMeanTarget",
    "Area",
    "CollectorName",
    "CountTarget",
    "DistrictSettings",
    "EvaluationSettings",
    "GoodDayRatioTarget",
    "GrafanaSettings",
    "HJ212Settings",
    "HJ212Station",
    "HeavyPollutionDaysTarget",
    "InfluxSettings",
    "LedgerSettings",
    "Milestone",
    "MilestonesTarget",
    "ModelPoint",
    "QualitySettings",
    "ReportSettings",
    "RiverClassTarget",
    "Secret",
    "SecretSettings",
    "ServiceSettings",
    "SettingDoc",
    "Settings",
    "SmtpSettings",
    "SourceSettings",
    "Target",
    "ValidDayRule",
    "WaterSection",
    "hj212_password_problems",
    "load_settings",
    "mail_security_mismatch",
    "required_mail",
    "required_secrets",
    "resolve_ledger_path",
    "settings_reference",
    "settings_schema",
    "summarize",
    "unknown_environment",
    "write_schema",
]
