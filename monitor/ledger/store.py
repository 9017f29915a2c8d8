"""The ledger: envmon's system of record, an SQLite file in WAL mode.

:class:`Ledger` is one object over **one** SQLite connection; each concern it keeps lives
in its own module, as a part that :class:`Ledger` combines:

- :mod:`~monitor.ledger.connection` — the connection: :meth:`Ledger.open` (WAL mode,
  migrations of :mod:`~monitor.ledger.schema`), ``close``, ``transaction``,
  ``schema_version``, ``query``; :class:`WriteResult`.
- :mod:`~monitor.ledger.sources` — configured sources, their site aliases, watermarks.
- :mod:`~monitor.ledger.observations` — observations: upserts with revisions (and, in the
  same transaction, the outbox, dirty days, watermark and fetch log), HJ 212 readings,
  reads and revisions.
- :mod:`~monitor.ledger.fetch_log` — the fetch log (failed fetches, reading the log).
- :mod:`~monitor.ledger.evaluation` — what evaluation works from and leaves: dirty days,
  the columnar observation read, evaluation failures.
- :mod:`~monitor.ledger.derived` — derived tables (AQI, water classes, QC flags, target
  progress) and official daily AQI.
- :mod:`~monitor.ledger.outbox` — the publish queue and the quarantine of refused points.
- :mod:`~monitor.ledger.indicators` — manually reported indicator values.
- :mod:`~monitor.ledger.report_log` — the report send log (:class:`ReportLogEntry`).
- :mod:`~monitor.ledger.epoch` — how time is stored (epoch seconds UTC, local dates).

The names callers import from here (``Ledger``, ``WriteResult``, ``ReportLogEntry``, the
time helpers and constants) stay importable from this module.
"""

from __future__ import annotations

from monitor.ledger.connection import WriteResult
from monitor.ledger.derived import RECORD_SLICE, DerivedStore
from monitor.ledger.epoch import LOCAL_OFFSET_S, from_epoch, local_dates, to_epoch
from monitor.ledger.evaluation import EvaluationStore
from monitor.ledger.evaluation_input import EVALUATION_SITES_IN_SQL
from monitor.ledger.fetch_log import FetchLogStore
from monitor.ledger.indicators import IndicatorStore
from monitor.ledger.observations import OBSERVATION_KEY, QC_LOOKAHEAD_HOURS, ObservationStore
from monitor.ledger.outbox import PUBLISHED_TABLES, OutboxStore
from monitor.ledger.report_log import ReportLogEntry, ReportLogStore
from monitor.ledger.sources import SourceStore

__all__ = [
    "EVALUATION_SITES_IN_SQL",
    "LOCAL_OFFSET_S",
    "OBSERVATION_KEY",
    "PUBLISHED_TABLES",
    "QC_LOOKAHEAD_HOURS",
    "RECORD_SLICE",
    "Ledger",
    "ReportLogEntry",
    "WriteResult",
    "from_epoch",
    "local_dates",
    "to_epoch",
]


class Ledger(
    SourceStore,
    ObservationStore,
    FetchLogStore,
    EvaluationStore,
    DerivedStore,
    OutboxStore,
    IndicatorStore,
    ReportLogStore,
):
    """An open ledger. Use :meth:`open`; close it (or use ``with``) when done.

    Every part works over the one connection of
    :class:`~monitor.ledger.connection.LedgerConnection`; see the module docstring for
    where each concern lives.
    """
