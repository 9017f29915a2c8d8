"""The report send log: which daily and monthly reports were written, asked to be sent,
claimed by a sender, sent or failed (a report is never sent twice)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from monitor.ledger.connection import LedgerConnection
from monitor.ledger.epoch import epoch_now


class ReportLogStore(LedgerConnection):
    """Writing, claiming and finishing report sends, and reading the log."""

    def report_entry(self, kind: str, period: str) -> ReportLogEntry | None:
        """The send-log row of one report (``daily``/``monthly``, ``YYYY-MM-DD``/``YYYY-MM``)."""
        row = self.connection.execute(
            f"SELECT {_REPORT_COLUMNS} FROM report_log WHERE kind = ? AND period = ?",
            (kind, period),
        ).fetchone()
        return None if row is None else ReportLogEntry.from_row(row)

    def last_report_period(self, kind: str) -> str | None:
        """The latest period of a kind in the send log, or None when there is none."""
        row = self.connection.execute(
            "SELECT max(period) FROM report_log WHERE kind = ?", (kind,)
        ).fetchone()
        return None if row is None or row[0] is None else str(row[0])

    def record_report(
        self,
        kind: str,
        period: str,
        *,
        path: str,
        message_id: str,
        recipients: Sequence[str],
        send: bool,
    ) -> ReportLogEntry:
        """Note that a report was written to ``path``; with ``send``, ask for it to be sent.

        A report already sent (or being sent) stays so: it is never sent twice. A report
        written again keeps its first Message-ID, so that mail programs recognise a resent
        copy after a crash as the same message. Returns the row as stored.
        """
        now = epoch_now()
        with self.transaction() as db:
            old = db.execute(
                "SELECT status, message_id FROM report_log WHERE kind = ? AND period = ?",
                (kind, period),
            ).fetchone()
            if old is None:
                db.execute(
                    "INSERT INTO report_log (kind, period, recipients, status, written_at, "
                    "message_id, path) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (
                        kind,
                        period,
                        ",".join(recipients),
                        "pending" if send else "written",
                        now,
                        message_id,
                        path,
                    ),
                )
            elif old[0] in ("sent", "sending"):
                db.execute(
                    "UPDATE report_log SET path = ?, written_at = ? WHERE kind = ? AND period = ?",
                    (path, now, kind, period),
                )
            else:
                status = "pending" if send or old[0] == "pending" else "written"
                attempts = "0" if send else "attempts"  # an explicit send starts afresh
                db.execute(
                    f"UPDATE report_log SET path = ?, written_at = ?, recipients = ?, "
                    f"status = ?, attempts = {attempts} WHERE kind = ? AND period = ?",
                    (path, now, ",".join(recipients), status, kind, period),
                )
        entry = self.report_entry(kind, period)
        assert entry is not None
        return entry

    def claim_report(
        self, kind: str, period: str, *, stale_after_s: int = 3600, force: bool = False
    ) -> bool:
        """Take a pending report for sending (``True``), so that no other process sends it
        too; a claim older than ``stale_after_s`` (a sender that died) can be taken over,
        and any claim with ``force`` (the operator knows no other sender runs)."""
        now = epoch_now()
        stale = now + 1 if force else now - stale_after_s
        with self.transaction() as db:
            claimed = db.execute(
                "UPDATE report_log SET status = 'sending', claimed_at = ? WHERE kind = ? AND "
                "period = ? AND (status = 'pending' OR (status = 'sending' AND claimed_at < ?))",
                (now, kind, period, stale),
            ).rowcount
        return claimed == 1

    def report_claimed_at(self, kind: str, period: str) -> int | None:
        """When the report's current sending claim was taken (epoch seconds), or None."""
        row = self.connection.execute(
            "SELECT claimed_at FROM report_log WHERE kind = ? AND period = ? AND "
            "status = 'sending'",
            (kind, period),
        ).fetchone()
        return None if row is None or row[0] is None else int(row[0])

    def finish_report_send(
        self, kind: str, period: str, *, error: str = "", max_attempts: int = 96
    ) -> ReportLogEntry:
        """Record the outcome of one sending attempt of a claimed report: sent when
        ``error`` is empty, else pending again (``failed`` after ``max_attempts``)."""
        now = epoch_now()
        with self.transaction() as db:
            if not error:
                db.execute(
                    "UPDATE report_log SET status = 'sent', sent_at = ?, attempts = attempts + 1,"
                    " last_error = '' WHERE kind = ? AND period = ?",
                    (now, kind, period),
                )
            else:
                db.execute(
                    "UPDATE report_log SET attempts = attempts + 1, last_error = ?, status = "
                    "CASE WHEN attempts + 1 >= ? THEN 'failed' ELSE 'pending' END "
                    "WHERE kind = ? AND period = ?",
                    (error, max_attempts, kind, period),
                )
        entry = self.report_entry(kind, period)
        assert entry is not None
        return entry

    def reports_to_send(self, *, stale_after_s: int = 3600) -> list[ReportLogEntry]:
        """Reports asked to be sent and not sent yet (pending, or claimed by a sender that
        died), oldest first."""
        rows = self.connection.execute(
            f"SELECT {_REPORT_COLUMNS} FROM report_log WHERE status = 'pending' OR "
            "(status = 'sending' AND claimed_at < ?) ORDER BY written_at, kind, period",
            (epoch_now() - stale_after_s,),
        ).fetchall()
        return [ReportLogEntry.from_row(r) for r in rows]


_REPORT_COLUMNS: Final = (
    "kind, period, recipients, status, attempts, written_at, sent_at, message_id, path, last_error"
)


@dataclass(frozen=True)
class ReportLogEntry:
    """One row of the report send log (times in epoch seconds UTC)."""

    kind: str
    period: str
    recipients: tuple[str, ...]
    status: str  #: written, pending, sending, sent or failed
    attempts: int
    written_at: int
    sent_at: int | None
    message_id: str
    path: str
    last_error: str

    @classmethod
    def from_row(cls, row: Sequence[Any]) -> ReportLogEntry:
        """From a row selected with ``_REPORT_COLUMNS``."""
        recipients = tuple(r for r in str(row[2]).split(",") if r)
        return cls(
            str(row[0]),
            str(row[1]),
            recipients,
            str(row[3]),
            int(row[4]),
            int(row[5]),
            None if row[6] is None else int(row[6]),
            str(row[7]),
            str(row[8]),
            str(row[9]),
        )
