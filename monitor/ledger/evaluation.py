"""What evaluation works from and leaves behind in the ledger: the days to re-evaluate
(dirty days), the observations it reads (column by column), and what failed."""

from __future__ import annotations

import sqlite3
import warnings
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import pandas as pd

from monitor.ledger.connection import LedgerConnection
from monitor.ledger.epoch import epoch_now, from_epoch

#: Up to this many sites, :meth:`Ledger.evaluation_observations` filters them in SQL; more
#: are read for the whole time window and filtered in numpy.
EVALUATION_SITES_IN_SQL: Final = 64


class EvaluationStore(LedgerConnection):
    """Dirty days, the evaluation read, and evaluation failures."""

    def dirty_days(self) -> pd.DataFrame:
        """(site, date) pairs whose derived values must be recomputed."""
        return self.query("SELECT site, date FROM dirty_days ORDER BY date, site")

    def clear_dirty(self, done: pd.DataFrame) -> None:
        """Forget dirty days (columns site, date) that were evaluated."""
        with self.transaction() as db:
            db.executemany(
                "DELETE FROM dirty_days WHERE site = ? AND date = ?",
                list(zip(done["site"], done["date"], strict=True)),
            )

    def evaluation_observations(
        self, *, start: datetime, end: datetime, sites: Sequence[str]
    ) -> pd.DataFrame:
        """What evaluation reads: the observations of ``sites`` with ``start < period_end <=
        end`` (UTC), column by column.

        Columns ``site``, ``parameter`` and ``source`` are categoricals (categories sorted),
        ``period_start``/``period_end``/``ingested_at`` tz-aware UTC, ``value`` float (NaN
        for NULL), ``flags`` str; rows in key order within each period end.

        Speed (issue 17): Python's sqlite3 makes a tuple and an object per cell, which was
        most of an evaluation's time. SQLite instead joins each hour's column into one text
        (``group_concat`` over the key's first column: a streaming scan) and numpy parses
        the numbers; values are written with 17 significant digits (``%!.17g``), which read
        back to the same double. Should a text not split into exactly the hour's rows (a
        separator inside a code, a value numpy cannot parse), the window is read row by row.
        Many sites (a national network) are read for the whole window and filtered here: an
        ``IN`` list of a thousand sites costs SQLite more per row than reading the row.
        """
        where = "period_end > ? AND period_end <= ?"
        params: list[Any] = [int(start.timestamp()), int(end.timestamp())]
        wanted = sorted(set(sites))
        by_sql = len(wanted) <= EVALUATION_SITES_IN_SQL
        if by_sql:
            where += f" AND site IN ({','.join('?' * len(wanted))})"
            params.extend(wanted)
        frame = self._observation_columns(where, params)
        if frame is None:
            frame = self._observation_rows(where, params)
        if not by_sql:
            frame = frame[frame["site"].isin(wanted)].reset_index(drop=True)
            frame["site"] = frame["site"].cat.remove_unused_categories()
        for column in ("period_start", "period_end", "ingested_at"):
            frame[column] = from_epoch(frame[column].to_numpy())
        return frame

    def _observation_columns(self, where: str, params: Sequence[Any]) -> pd.DataFrame | None:
        """The columns of :meth:`evaluation_observations` (times as epoch seconds) from one
        text per hour and column, or None when a text does not split into its rows."""
        sep = "\x1f"
        hours = self.connection.execute(
            "SELECT count(*), group_concat(site, char(31)), group_concat(parameter, char(31)), "
            "group_concat(period_start, ','), period_end, "
            "group_concat(CASE WHEN value IS NULL THEN 'nan' "
            "ELSE printf('%!.17g', value) END, ','), "
            "group_concat(flags, char(31)), group_concat(source, char(31)), "
            f"group_concat(ingested_at, ',') FROM observations WHERE {where} "
            "GROUP BY period_end",
            params,
        ).fetchall()
        n = sum(int(h[0]) for h in hours)

        def text(i: int) -> list[str] | None:
            cells = sep.join(h[i] for h in hours).split(sep) if n else []
            return cells if len(cells) == n else None

        def categorical(i: int) -> pd.Categorical[Any] | None:
            # Hour by hour: never a Python string per row of the whole window at once.
            names: dict[str, int] = {}
            parts = []
            for hour in hours:
                cells = hour[i].split(sep)
                if len(cells) != hour[0]:
                    return None
                codes, uniques = pd.factorize(np.array(cells, dtype=object))
                found = [names.setdefault(str(u), len(names)) for u in uniques]
                parts.append(np.array(found, dtype=np.int64)[codes])
            if not names:
                return pd.Categorical([])
            order = sorted(names)  # the categories pd.Categorical infers: sorted
            rank = np.empty(len(order), dtype=np.int64)
            rank[[names[name] for name in order]] = np.arange(len(order))
            codes = rank[np.concatenate(parts)]
            return pd.Categorical.from_codes(codes, dtype=pd.CategoricalDtype(order))

        def numbers(i: int, dtype: type) -> npt.NDArray[Any] | None:
            joined = ",".join(h[i] for h in hours)
            parsed: npt.NDArray[Any]
            try:
                with warnings.catch_warnings():  # unparsable text: numpy stops early, warns
                    warnings.simplefilter("ignore", DeprecationWarning)
                    parsed = np.fromstring(joined, dtype=dtype, sep=",") if n else np.zeros(0)
            except ValueError:  # what later numpy versions raise instead
                return None
            return parsed if len(parsed) == n else None

        site, parameter, flags, source = categorical(1), categorical(2), text(6), categorical(7)
        period_start = numbers(3, np.int64)
        counts = np.fromiter((h[0] for h in hours), np.int64, len(hours))
        period_end = np.repeat(np.fromiter((h[4] for h in hours), np.int64, len(hours)), counts)
        value, ingested_at = numbers(5, np.float64), numbers(8, np.int64)
        if (
            site is None
            or parameter is None
            or flags is None
            or source is None
            or period_start is None
            or value is None
            or ingested_at is None
            or np.isinf(value).any()  # written as Inf; read row by row to be sure
        ):
            return None
        return pd.DataFrame(
            {
                "site": site,
                "parameter": parameter,
                "period_start": period_start,
                "period_end": period_end,
                "value": value,
                "flags": np.array(flags, dtype=object),
                "source": source,
                "ingested_at": ingested_at,
            }
        )

    def _observation_rows(self, where: str, params: Sequence[Any]) -> pd.DataFrame:
        """The columns of :meth:`evaluation_observations` (times as epoch seconds), read
        row by row."""
        return read_observation_rows(self.connection, where, params)

    # ------------------------------------------------------------------ evaluation failures

    def record_evaluation_results(
        self,
        failed: Sequence[tuple[str, str, str, str]],
        succeeded: Iterable[tuple[str, str]],
    ) -> None:
        """Keep what could not be evaluated and forget what now evaluated, in one transaction.

        ``failed`` holds (site or area, date, scope ``site``/``area``, error): a new failure
        starts with one attempt, a repeated one counts the attempt and keeps when it first
        failed. A failed area-day is queued as a dirty day under the area's id so the next
        run retries it (a failed site-day is still dirty). ``succeeded`` (site or area, date)
        rows are deleted.
        """
        now = epoch_now()
        with self.transaction() as db:
            db.executemany(
                "DELETE FROM evaluation_failures WHERE site = ? AND date = ?",
                [(str(k), str(d)) for k, d in succeeded],
            )
            db.executemany(
                "INSERT INTO evaluation_failures (site, date, scope, error, first_failed, "
                "last_failed, attempts) VALUES (?, ?, ?, ?, ?, ?, 1) ON CONFLICT (site, date) "
                "DO UPDATE SET scope = excluded.scope, error = excluded.error, "
                "last_failed = excluded.last_failed, "
                "attempts = evaluation_failures.attempts + 1",
                [(site, day, scope, error, now, now) for site, day, scope, error in failed],
            )
            db.executemany(
                "INSERT OR IGNORE INTO dirty_days (site, date) VALUES (?, ?)",
                [(site, day) for site, day, scope, _ in failed if scope == "area"],
            )

    def evaluation_failures(self) -> pd.DataFrame:
        """Site-days and area-days that could not be evaluated (columns site, date, scope,
        error, first_failed, last_failed, attempts; epoch seconds), oldest first."""
        return self.query(
            "SELECT site, date, scope, error, first_failed, last_failed, attempts "
            "FROM evaluation_failures ORDER BY first_failed, date, site"
        )


def read_observation_rows(
    connection: sqlite3.Connection, where: str, params: Sequence[Any], order_by: str = ""
) -> pd.DataFrame:
    """Observations ``WHERE where`` as the evaluation reads them (site, parameter, period
    start and end as epoch seconds, value, flags, source, ingestion time), row by row: the
    general read, and the fallback of the column-wise one."""
    order = f" ORDER BY {order_by}" if order_by else ""
    rows = connection.execute(
        "SELECT site, parameter, period_start, period_end, value, flags, source, "
        f"ingested_at FROM observations WHERE {where}{order}",
        params,
    ).fetchall()
    n = len(rows)
    columns: list[Sequence[Any]] = list(zip(*rows, strict=True)) if n else [()] * 8
    return pd.DataFrame(
        {
            "site": pd.Categorical(columns[0]),
            "parameter": pd.Categorical(columns[1]),
            "period_start": np.fromiter(columns[2], np.int64, n),
            "period_end": np.fromiter(columns[3], np.int64, n),
            "value": np.array(columns[4], dtype=float) if n else np.zeros(0),
            "flags": np.array(columns[5], dtype=object),
            "source": pd.Categorical(columns[6]),
            "ingested_at": np.fromiter(columns[7], np.int64, n),
        }
    )
