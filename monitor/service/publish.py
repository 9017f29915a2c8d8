"""Publishing the ledger to InfluxDB: the outbox, replay, health and heartbeat.

The ledger is the system of record; InfluxDB is the copy Grafana reads. Every row written
to a published table queues its key in the ledger's ``outbox`` in the same transaction (the
ledger's writers do it: ``observations.py``, ``evaluation_output.py``, ``outbox.py``,
``sources.py``; there are no SQLite triggers, so a tool writing the ledger's tables
directly must queue its keys too), so nothing envmon writes can be missed.
:meth:`Publisher.drain` sends the queue oldest first, day by day in rounds of a few
requests of ``batch_points`` (bounded memory), and removes a key only after the server
accepted all its points; a key written again meanwhile is queued again and sent again, so
the newest value always reaches InfluxDB (same series and time overwrite). The lines of a
round go in time order, every series of an hour together: VictoriaMetrics then spends about
half the CPU per point.

* Server down, throttling (429) or failing (5xx), connection reset, slow: the batch is
  retried a few times, honouring ``Retry-After``; then the drain stops with the rest
  still queued (:class:`~monitor.errors.PublishError` ``unavailable``) and the daemon
  tries again later with a growing pause.
* Server refuses the data (400, 413, 422): the batch is split in halves until the bad
  points are isolated; those go to ``publish_quarantine`` with the server's message, the
  rest is published.
* Token, permission or bucket wrong (401, 403, 404): the drain stops; nothing is lost.

:meth:`Publisher.replay` rebuilds InfluxDB for a date range straight from the tables.

Observations and hourly AQI (nine points in ten) are read as plain rows, not a frame: a
row's texts and flags repeat (a series, its unit, its flags), so they are rendered once per
distinct combination and only the row's own numbers and time per row, and the QC flags are
read by key and matched in arrays rather than joined by SQLite per row; the lines are the
same bytes as through :func:`~monitor.influxdb.points.observation_points` and
:meth:`~monitor.influxdb.points.Measurement.lines` (``tests/service/test_publish_lines.py``).
"""

from __future__ import annotations

import logging
import random
import socket
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, timedelta
from itertools import pairwise
from typing import Any, Final, Protocol

import numpy as np
import pandas as pd

from monitor import __version__
from monitor.errors import PublishError
from monitor.influxdb import points as schema
from monitor.ledger import Ledger
from monitor.ledger.store import LOCAL_OFFSET_S, PUBLISHED_TABLES, local_dates
from monitor.service.sources import section_ids
from monitor.settings import Settings

log = logging.getLogger("envmon.publish")

#: Ledger columns each published table is read with.
TABLE_COLUMNS: Final[Mapping[str, tuple[str, ...]]] = {
    "observations": (
        "site",
        "parameter",
        "period_end",
        "source",
        "unit",
        "value",
        "flags",
        "revision",
    ),
    "hourly_aqi": (
        "site",
        "period_end",
        "standard",
        "official",
        "is_area",
        "aqi",
        "level",
        "primary_pollutants",
        *schema.IAQI_COLUMNS,
        "complete",
        "stations",
    ),
    "daily_aqi": (
        "site",
        "date",
        "standard",
        "official",
        "is_area",
        *schema.DAILY_STATISTICS,
        "invalid_statistics",
        "aqi",
        "level",
        "primary_pollutants",
        "exceedance_pollutants",
        "complete",
        "stations",
    ),
    "water_classes": (
        "site",
        "period_end",
        "water_class",
        "limiting_parameters",
        "exceedance_multiples",
        "parameter_set",
    ),
    "target_progress": (
        "target",
        "as_of",
        "variant",
        "kind",
        "area",
        "standard",
        *schema.PROGRESS_NUMBERS,
        "status",
        "explanation_zh",
        "explanation_en",
    ),
    "official_daily_aqi": ("area", "date", "aqi", "category", "primary_pollutants", "dust"),
}

#: Points a replay reads at once, roughly (a few days of a district; bounded memory).
REPLAY_POINTS: Final = 200_000

#: Points of a queued site-day, about (a day of six pollutants' hourly values; hourly AQI under
#: two rule sets; a daily row under two): a drain round is ``DRAIN_ROUND_REQUESTS`` requests'
#: worth of them, so a round of daily rows is not a few hundred points.
SITE_DAY_POINTS: Final[Mapping[str, int]] = {
    "observations": 144,
    "hourly_aqi": 48,
    "daily_aqi": 2,
    "water_classes": 6,
    "target_progress": 2,
    "official_daily_aqi": 1,
}

#: Requests (of ``batch_points``) a drain round holds, about.
DRAIN_ROUND_REQUESTS: Final = 8

#: Queued site-days a drain reads from the outbox at once (about 12 MB) and sends day by
#: day, so a queue in any order (a site's whole year, then the next site's) is sent as the
#: sites of a day together, going forward in time (see :meth:`_Batch.in_time_order`;
#: VictoriaMetrics took 1.6× the CPU per point for the queue of ``bench_publish`` read
#: 4,096 at a time, i.e. going over the year six times).
OUTBOX_SITE_DAYS: Final = 32_768

#: Data health looks this far back (a site silent longer reports this age: "at least").
HEALTH_WINDOW_S: Final = schema.HEALTH_WINDOW_S


#: Points the server refused: their keys and lines, its status and message.
_Refused = tuple[pd.DataFrame, int, str]

#: What to do with a batch of which only the first lines were taken (see :class:`_Pipeline`).
_Partly = Callable[["_Batch", int], None]


class LineWriter(Protocol):
    """What the publisher needs of the InfluxDB adapter."""

    def write(self, lines: Sequence[str]) -> None: ...


@dataclass
class PublishReport:
    """What a drain or replay did."""

    points: int = 0
    requests: int = 0
    quarantined: int = 0

    def summary(self) -> str:
        text = f"{self.points} point(s) published in {self.requests} request(s)"
        if self.quarantined:
            text += f", {self.quarantined} refused by the server and quarantined"
        return text


@dataclass
class _Batch:
    """Lines to send and, per line, the key it came from (for the outbox and quarantine)
    and its timestamp (epoch seconds)."""

    lines: list[str]
    keys: pd.DataFrame  # kind, key, day: the outbox key of each line
    times: np.ndarray  # int64 epoch seconds of each line

    def __len__(self) -> int:
        return len(self.lines)

    def part(self, span: slice) -> _Batch:
        """The lines ``span`` (a slice) with their keys and times."""
        return _Batch(
            self.lines[span], self.keys.iloc[span].reset_index(drop=True), self.times[span]
        )

    def in_time_order(self) -> _Batch:
        """The same lines ordered by time, lines of the same time in their order (a stable
        sort: a line written twice keeps its last value last).

        Each request then holds every series of an hour or two rather than a few series
        over weeks, which VictoriaMetrics ingests with 2–2.5× less CPU per point (its
        per-day index is touched once per series and day instead of once per line;
        measured with ``benchmarks/bench_publish.py``); InfluxDB takes the same points
        either way (each point has its series and time)."""
        order = np.argsort(self.times, kind="stable")
        if len(order) < 2 or bool((np.diff(order) == 1).all()):
            return self
        lines: list[str] = np.asarray(self.lines, dtype=object)[order].tolist()
        return _Batch(lines, self.keys.iloc[order].reset_index(drop=True), self.times[order])


class Publisher:
    """Sends the ledger to InfluxDB through a :class:`LineWriter`."""

    def __init__(
        self,
        ledger: Ledger,
        settings: Settings,
        writer: LineWriter,
        *,
        attempts: int = 3,
        sleep: Callable[[float], object] = time.sleep,
        should_stop: Callable[[], bool] = lambda: False,
    ) -> None:
        self.ledger = ledger
        self.settings = settings
        self.writer = writer
        self.attempts = attempts
        self.sleep = sleep
        self.should_stop = should_stop
        self._rivers = {s.id: s.river for s in settings.water_sections}
        self._targets = {
            s.id: s.target_class for s in settings.water_sections if s.target_class is not None
        }

    # ------------------------------------------------------------------ outbox

    def drain(self, on_batch: Callable[[int, int], None] | None = None) -> PublishReport:
        """Publish every queued site-day, oldest first. ``on_batch(done, total)`` after each
        round.

        The queue is read oldest first, ``OUTBOX_SITE_DAYS`` at a time; those site-days
        are sent day by day, in rounds of about ``DRAIN_ROUND_REQUESTS`` requests (bounded
        memory), their points in time order in requests of ``batch_points``. A site-day is
        marked published once all its points were accepted: at the end of its round, or
        when a round fails, if its points were all in the requests taken before. Raises
        :class:`PublishError` (``unavailable`` or ``refused``) when the server does not
        take a request after the retries; everything not yet accepted stays queued."""
        report = PublishReport()
        total, _ = self.ledger.outbox_stats()
        round_points = DRAIN_ROUND_REQUESTS * self.settings.influxdb.batch_points
        done, last_seq = 0, 0
        with _Pipeline(self, report) as pipeline:
            while not self.should_stop():
                chunk = self.ledger.outbox_batch(OUTBOX_SITE_DAYS, after=last_seq)
                if chunk.empty:
                    break
                last_seq = int(chunk["seq"].iloc[-1])
                for queued in _rounds_by_day(chunk, round_points):
                    if self.should_stop():
                        break
                    batches = [
                        self._queued_batch(str(kind), window)
                        for kind, group in queued.groupby("kind", sort=False)
                        for window in _day_windows(group)
                    ]
                    done += len(queued)
                    pipeline.submit(
                        _concat(batches),
                        self._marker(queued["seq"].tolist(), done, total, on_batch),
                        self._partial_marker(queued),
                    )
        return report

    # ------------------------------------------------------------------ replay

    def replay(
        self, first: date, last: date, on_day: Callable[[int, int], None] | None = None
    ) -> PublishReport:
        """Publish every row of the local dates ``first`` … ``last`` straight from the
        tables, day by day, in requests of ``batch_points``; the outbox is left as it is."""
        report = PublishReport()
        days = (last - first).days + 1
        # The sites (targets, areas) of each table, so each day is read by key (the tables
        # are keyed by site first) instead of scanning the whole table per day.
        keys = {
            table: self.ledger.query(
                f"SELECT DISTINCT {PUBLISHED_TABLES[table][0]} AS k FROM {table}"
            )["k"].tolist()
            for table in TABLE_COLUMNS
        }
        step = max(1, REPLAY_POINTS // max(1, sum(len(k) for k in keys.values()) * 200))
        with _Pipeline(self, report) as pipeline:
            self._replay_steps(first, days, step, keys, pipeline, on_day)
        return report

    def _replay_steps(
        self,
        first: date,
        days: int,
        step: int,
        keys: Mapping[str, list[str]],
        pipeline: _Pipeline,
        on_day: Callable[[int, int], None] | None,
    ) -> None:
        for start in range(0, days, step):
            if self.should_stop():
                break
            day = (first + timedelta(days=start)).isoformat()
            until = (first + timedelta(days=min(days, start + step) - 1)).isoformat()
            batches = [
                self._site_day_batch(table, day, keys[table], until)
                for table in TABLE_COLUMNS
                if keys[table]
            ]
            reached = min(days, start + step)
            pipeline.submit(_concat(batches), _progress(on_day, reached, days))

    def _marker(
        self,
        seqs: list[int],
        done: int,
        total: int,
        on_batch: Callable[[int, int], None] | None,
    ) -> Callable[[], None]:
        """What to do once a drain round was accepted: mark it published, show progress."""

        def published() -> None:
            self.ledger.outbox_done(seqs)
            if on_batch is not None:
                on_batch(min(done, total), total)

        return published

    def _partial_marker(self, queued: pd.DataFrame) -> Callable[[_Batch, int], None]:
        """What to do when a drain round failed after its first ``accepted`` lines were
        taken: mark published the site-days of ``queued`` (columns seq, kind, key, day) all
        of whose lines are among them (lines are in time order, so the earlier days of the
        round are done), so they are not sent again."""

        def published(batch: _Batch, accepted: int) -> None:
            positions = batch.keys.assign(position=np.arange(len(batch)))
            last = positions.groupby(["kind", "key", "day"], sort=False)["position"].max()
            ends = queued.join(last, on=["kind", "key", "day"])["position"].fillna(-1)
            complete = queued["seq"][ends.to_numpy() < accepted].tolist()
            if complete:
                self.ledger.outbox_done(complete)

        return published

    def _queued_batch(self, table: str, window: pd.DataFrame) -> _Batch:
        """Lines of the queued site-days ``window`` (columns key, day; consecutive days):
        one query for the window, then only the queued (key, day) pairs are kept."""
        keys = sorted(set(window["key"]))
        first, last = str(window["day"].min()), str(window["day"].max())
        batch = self._site_day_batch(table, first, keys, last)
        days = (date.fromisoformat(last) - date.fromisoformat(first)).days + 1
        if len(window) == len(keys) * days:  # every (key, day) of the window is queued
            return batch
        # (key, day) of each line as one number; those of the queued site-days among them
        key_of, key_names = pd.factorize(batch.keys["key"].to_numpy(dtype=object))
        day_of, day_names = pd.factorize(batch.keys["day"].to_numpy(dtype=object))
        queued_key = pd.Index(key_names).get_indexer(window["key"].to_numpy(dtype=object))
        queued_day = pd.Index(day_names).get_indexer(window["day"].to_numpy(dtype=object))
        found = (queued_key >= 0) & (queued_day >= 0)
        wanted = queued_key[found] * len(day_names) + queued_day[found]
        keep = np.isin(key_of * len(day_names) + day_of, wanted)
        if keep.all():
            return batch
        lines: list[str] = np.asarray(batch.lines, dtype=object)[keep].tolist()
        return _Batch(lines, batch.keys[keep].reset_index(drop=True), batch.times[keep])

    def _site_day_batch(
        self, table: str, day: str, keys: Sequence[str] | None, last_day: str | None = None
    ) -> _Batch:
        """Lines of ``table``'s rows of the local dates ``day`` … ``last_day`` (default: the
        one day) of the sites, targets or areas ``keys`` (all when ``None``), each tagged
        with its outbox key (kind, key, day)."""
        if table in ("observations", "hourly_aqi"):  # (read as plain rows)
            read = self._observation_lines if table == "observations" else self._hourly_aqi_lines
            lines, sites, times = read(day, last_day or day, keys)
            return _Batch(
                lines,
                pd.DataFrame({"kind": table, "key": sites, "day": _local_days(times)}),
                times,
            )
        rows = self._select(table, day, last_day or day, keys)
        lines, index, times = self._lines(table, rows)
        key_column, column = PUBLISHED_TABLES[table]
        days = rows[column].to_numpy()[index]
        if column == "period_end":
            days = _local_days(days)
        return _Batch(
            lines,
            pd.DataFrame({"kind": table, "key": rows[key_column].to_numpy()[index], "day": days}),
            times,
        )

    def _observation_lines(
        self, first: str, last: str, keys: Sequence[str] | None
    ) -> tuple[list[str], np.ndarray, np.ndarray]:
        """Lines of the observations of the local dates ``first`` … ``last`` of the sites
        ``keys`` (all when ``None``), and the site and time of each line.

        Read as plain rows (no frame per row), the text columns grouped into their distinct
        combinations (a series and its flags): :func:`schema.observation_lines` renders
        each once; a row costs its value, revision and time."""
        columns = [f"t.{c}" for c in schema.OBSERVATION_TEXTS if c != "qc_flags"]
        selected = ", ".join([*columns, "t.period_end", "t.value", "t.revision"])
        records: list[tuple[object, ...]] = []
        for sql, args in self._queries("observations", first, last, keys, selected, qc=False):
            records += self.ledger.connection.execute(sql, args).fetchall()
        empty = np.array([], dtype=np.int64)
        if not records:
            return [], np.array([], dtype=object), empty
        width = len(schema.OBSERVATION_TEXTS) - 1  # the texts, then period_end, value, revision
        seen: dict[tuple[object, ...], int] = {}
        number = seen.setdefault
        series = np.array([number(r[:width], len(seen)) for r in records], dtype=np.int64)
        combos = list(seen)  # the distinct (site, parameter, source, unit, flags)
        ends = [r[width] for r in records]
        period_end = _stamps(ends)
        numbers = [_numbers([r[i] for r in records]) for i in (width + 1, width + 2)]
        exact = None if set(map(type, ends)) <= {int} else ends  # a REAL period_end (1.5)
        qc_codes, qc_texts = self._qc_flags(first, last, combos, series, period_end, exact)
        base = len(qc_texts) + 1
        codes, distinct = pd.factorize(series * base + qc_codes + 1)
        texts = pd.DataFrame(
            [combos[i] for i in (distinct // base).tolist()], columns=schema.OBSERVATION_TEXTS[:-1]
        )
        texts["qc_flags"] = np.array([None, *qc_texts], dtype=object)[distinct % base]
        lines, index = schema.observation_lines(
            texts, codes, period_end, *numbers, exclude_own=self.settings.quality.exclude_own_flags
        )
        sites = np.array([c[0] for c in combos], dtype=object)
        return lines, sites[series[index]], period_end[index]

    def _hourly_aqi_lines(
        self, first: str, last: str, keys: Sequence[str] | None
    ) -> tuple[list[str], np.ndarray, np.ndarray]:
        """Lines of the hourly AQI rows of the local dates ``first`` … ``last`` of the sites
        ``keys`` (all when ``None``), and the site and time of each line.

        Everything but the time, the AQI and the IAQIs is rendered once per distinct
        combination (site, rule set, level, primary pollutants …, and whether the AQI is
        there, which decides if the level is written) by :func:`schema.hourly_aqi_points`
        and :meth:`~schema.Measurement.lines`; a row costs its own numbers."""
        own = ("period_end", "aqi", *schema.IAQI_COLUMNS)  # each row's; the rest shared
        shared = [c for c in TABLE_COLUMNS["hourly_aqi"] if c not in own]
        columns = [*shared, *own]
        selected = ", ".join(f"t.{c}" for c in columns)
        records: list[tuple[object, ...]] = []
        for sql, args in self._queries("hourly_aqi", first, last, keys, selected):
            records += self.ledger.connection.execute(sql, args).fetchall()
        if not records:
            return [], np.array([], dtype=object), np.array([], dtype=np.int64)
        width = len(shared)
        seen: dict[tuple[object, ...], int] = {}
        number = seen.setdefault
        combo = np.array([number(r[:width], len(seen)) for r in records], dtype=np.int64)
        period_end = _stamps([r[width] for r in records])
        numbers = {c: _numbers([r[width + 1 + i] for r in records]) for i, c in enumerate(own[1:])}
        # whether the AQI is there decides whether the level is written: part of the group
        codes, _ = pd.factorize(combo * 2 + np.isnan(numbers["aqi"]))
        _, firsts = np.unique(codes, return_index=True)
        points = schema.hourly_aqi_points(
            pd.DataFrame([records[i] for i in firsts.tolist()], columns=columns)
        )
        made = schema.AQI_HOURLY.lines_grouped(points, codes, {**numbers, "time": period_end})
        index = np.flatnonzero(np.asarray(made, dtype=object) != "")
        lines = made if len(index) == len(made) else [made[i] for i in index.tolist()]
        at = columns.index("site")
        sites = np.array([c[at] for c in seen], dtype=object)
        return lines, sites[combo[index]], period_end[index]

    def _qc_flags(
        self,
        first: str,
        last: str,
        combos: Sequence[tuple[object, ...]],
        series: np.ndarray,
        ends: np.ndarray,
        exact: Sequence[object] | None = None,
    ) -> tuple[np.ndarray, list[object]]:
        """envmon's QC flags of each observation of the local dates ``first`` … ``last``
        (its site and parameter: the first two of ``combos[series[i]]``; its period end
        ``ends[i]``): per observation the position of its text among the texts returned,
        -1 where it has none. What ``LEFT JOIN qc_flags`` on the three gives, read apart by
        the table's key (sites, parameters, days) and matched here: it costs SQLite a third
        of the observations' read less."""
        site_of, site_names = pd.factorize(np.array([c[0] for c in combos], dtype=object))
        parameter_of, parameter_names = pd.factorize(
            np.array([c[1] for c in combos], dtype=object)
        )
        found: list[tuple[Any, ...]] = []
        names = [str(p) for p in parameter_names]
        for sql, args in self._queries(
            "qc_flags", first, last, [str(s) for s in site_names], "t.site", qc=False
        ):
            sql = sql.replace("SELECT t.site", "SELECT t.site, t.parameter, t.period_end, t.flags")
            sql += f" AND t.parameter IN ({', '.join('?' * len(names))})"
            found += self.ledger.connection.execute(sql, [*args, *names]).fetchall()
        none = np.full(len(ends), -1, dtype=np.int64)
        if not found:
            return none, []
        qc = np.empty((len(found), 4), dtype=object)
        qc[:] = found
        site_at = pd.Index(site_names).get_indexer(qc[:, 0])
        parameter_at = pd.Index(parameter_names).get_indexer(qc[:, 1])
        qc_ends = qc[:, 2].astype(np.int64)
        known = (site_at >= 0) & (parameter_at >= 0)
        low = int(min(ends.min(), qc_ends.min()))
        span = int(max(ends.max(), qc_ends.max())) - low + 1
        pairs = len(site_names) * len(parameter_names)
        stamped = exact is None and set(map(type, qc[:, 2].tolist())) <= {int}
        if pairs * span >= 2**62 or not stamped:
            # (or a period_end stored as a REAL with a fraction, in either table: the join
            # matched it only to the same number; cut to whole seconds, it would match more)
            flags = {(a, b, c): d for a, b, c, d in found}
            keys = zip(series.tolist(), ends.tolist() if exact is None else exact, strict=True)
            each = [flags.get((combos[i][0], combos[i][1], t)) for i, t in keys]
            codes, texts = pd.factorize(np.array([*each, None], dtype=object)[:-1])
            return codes.astype(np.int64), list(texts)
        pair = (site_of * len(parameter_names) + parameter_of)[series]
        wanted = pair * span + (ends - low)
        have = (site_at * len(parameter_names) + parameter_at)[known] * span + (
            qc_ends[known] - low
        )
        order = np.argsort(have)
        have = have[order]
        text_codes, texts = pd.factorize(qc[known, 3][order])
        if not len(have):
            return none, []
        at = np.minimum(np.searchsorted(have, wanted), len(have) - 1)
        hit = have[at] == wanted
        none[hit] = text_codes[at[hit]]
        return none, list(texts)

    def _select(
        self, table: str, first: str, last: str, keys: Sequence[str] | None
    ) -> pd.DataFrame:
        selected = ", ".join(f"t.{c}" for c in TABLE_COLUMNS[table])
        if table == "observations":  # envmon's QC flags travel with their value
            selected += ", q.flags AS qc_flags"
        frames = [
            self.ledger.query(sql, args)
            for sql, args in self._queries(table, first, last, keys, selected)
        ]
        return pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]

    def _queries(
        self,
        table: str,
        first: str,
        last: str,
        keys: Sequence[str] | None,
        selected: str,
        *,
        qc: bool = True,
    ) -> list[tuple[str, list[object]]]:
        """The queries (SQL, arguments) reading ``selected`` of ``table`` (alias ``t``; with
        ``qc``, the observations' QC flags are ``q``) for the local dates ``first`` …
        ``last`` of ``keys`` (all when ``None``), at most 500 keys each."""
        key_column, column = PUBLISHED_TABLES.get(table, ("site", "period_end"))
        join = ""
        if table == "observations" and qc:  # envmon's QC flags travel with their value
            join = (
                " LEFT JOIN qc_flags q ON q.site = t.site AND q.parameter = t.parameter "
                "AND q.period_end = t.period_end"
            )
        if column == "period_end":
            start = int(pd.Timestamp(first).timestamp()) - LOCAL_OFFSET_S
            end = int(pd.Timestamp(last).timestamp()) - LOCAL_OFFSET_S + 86400
            # labels 00:00 … 23:00 local make the day (DESIGN.md, Time)
            where = f"t.{column} >= ? AND t.{column} < ?"
            params: list[object] = [start, end]
        else:
            where, params = f"t.{column} BETWEEN ? AND ?", [first, last]
        queries = []
        chunks = [None] if keys is None else [keys[i : i + 500] for i in range(0, len(keys), 500)]
        for chunk in chunks:
            sql = f"SELECT {selected} FROM {table} t{join} WHERE {where}"
            args = list(params)
            if chunk is not None:
                sql += f" AND t.{key_column} IN ({', '.join('?' * len(chunk))})"
                args += list(chunk)
            queries.append((sql, args))
        return queries

    # ------------------------------------------------------------------ lines

    def _lines(self, table: str, rows: pd.DataFrame) -> tuple[list[str], np.ndarray, np.ndarray]:
        """Lines of ``rows`` and, per line, the position of its row and its time (empty
        lines dropped)."""
        parts: list[tuple[schema.Measurement, pd.DataFrame]]
        if table == "observations":
            air, water = schema.observation_points(
                rows, exclude_own=self.settings.quality.exclude_own_flags
            )
            parts = [(schema.AIR_OBSERVATION, air), (schema.WATER_OBSERVATION, water)]
        elif table == "hourly_aqi":
            parts = [(schema.AQI_HOURLY, schema.hourly_aqi_points(rows))]
        elif table == "daily_aqi":
            parts = [(schema.AQI_DAILY, schema.daily_aqi_points(rows))]
        elif table == "water_classes":
            parts = [
                (schema.WATER_CLASS, schema.water_class_points(rows, self._rivers, self._targets))
            ]
        elif table == "target_progress":
            parts = [(schema.TARGET_PROGRESS, schema.target_progress_points(rows))]
        else:
            parts = [(schema.AQI_DAILY_PUBLISHED, schema.published_daily_points(rows))]
        lines: list[str] = []
        index: list[np.ndarray] = []
        times: list[np.ndarray] = []
        for measurement, frame in parts:
            if frame.empty:
                continue
            made = np.asarray(measurement.lines(frame), dtype=object)
            keep = made != ""
            lines += made[keep].tolist()
            index.append(frame.index.to_numpy()[keep])
            times.append(frame["time"].to_numpy(dtype=np.int64)[keep])
        if not index:
            return lines, np.array([], dtype=np.int64), np.array([], dtype=np.int64)
        return lines, np.concatenate(index), np.concatenate(times)

    # ------------------------------------------------------------------ sending

    def _write_batch(self, batch: _Batch, report: PublishReport, sent: _Sent) -> None:
        """Write a batch in requests of ``batch_points``, noting in ``sent`` how many lines
        were taken so far and the points the server refused as bad data (isolated by
        splitting), with its status and message. Touches no ledger (it runs on the
        pipeline's writer thread)."""
        size = self.settings.influxdb.batch_points
        for start in range(0, len(batch), size):
            part = batch.part(slice(start, start + size))
            rejected = self._write_isolating(part, report)
            report.points += len(part) - sum(len(r[0]) for r in rejected)
            sent.refused += rejected
            sent.lines = start + len(part)

    def _keep_refused(self, refused: list[_Refused], report: PublishReport) -> None:
        for keys, status, message in refused:
            self.ledger.quarantine(keys, status, message)
            log.warning("InfluxDB refused %d point(s): %s", len(keys), message)
            report.quarantined += len(keys)

    def _write_isolating(self, batch: _Batch, report: PublishReport) -> list[_Refused]:
        """Write; on a data refusal split in halves until the refused lines are alone."""
        try:
            self._write_retrying(batch.lines, report)
            return []
        except PublishError as err:
            if err.kind != "rejected":
                raise
            if len(batch) == 1:
                keys = batch.keys.assign(line=batch.lines)
                return [(keys, int(err.status or 0), str(err))]
        middle = len(batch) // 2
        halves = (slice(0, middle), slice(middle, len(batch)))
        found = []
        for half in halves:
            found += self._write_isolating(batch.part(half), report)
        return found

    def _write_retrying(self, lines: Sequence[str], report: PublishReport) -> None:
        pause = 1.0
        cap = float(self.settings.influxdb.max_backoff_seconds)
        for attempt in range(1, self.attempts + 1):
            report.requests += 1
            try:
                self.writer.write(lines)
                return
            except PublishError as err:
                if err.kind != "unavailable" or attempt == self.attempts or self.should_stop():
                    raise
                wait = err.retry_after if err.retry_after is not None else pause
                wait = min(wait, cap, 60.0) * (1.0 if err.retry_after else random.uniform(1, 2))
                log.info("InfluxDB unavailable (%s); retrying in %.1f s", err, wait)
                self.sleep(wait)
                pause *= 2

    # ------------------------------------------------------------------ health

    def health_round(self, started_at: float, now: float | None = None) -> int:
        """Write the heartbeat, data health and source health points; returns the count."""
        now = time.time() if now is None else now
        stamp = int(now)
        lines = [
            *schema.DATA_HEALTH.lines(self._data_health(stamp)),
            *schema.SOURCE_HEALTH.lines(self._source_health(stamp)),
            *schema.HEARTBEAT.lines(self._heartbeat(started_at, stamp)),
        ]
        lines = [line for line in lines if line]
        self._write_retrying(lines, PublishReport())
        return len(lines)

    def _heartbeat(self, started_at: float, stamp: int) -> pd.DataFrame:
        pending, oldest = self.ledger.outbox_stats()
        quarantined = self.ledger.query("SELECT count(*) AS n FROM publish_quarantine")
        return pd.DataFrame(
            {
                "instance": [socket.gethostname()],
                "up": [1.0],
                "uptime_seconds": [float(max(0, stamp - int(started_at)))],
                "outbox_pending": [float(pending)],
                "publish_lag_seconds": [0.0 if oldest is None else float(max(0, stamp - oldest))],
                "quarantined": [float(quarantined["n"].iloc[0])],
                "version": [__version__],
                "time": [stamp],
            }
        )

    def _data_health(self, stamp: int) -> pd.DataFrame:
        since = stamp - HEALTH_WINDOW_S
        day_ago = stamp - 86400
        seen = self.ledger.query(
            "SELECT site, source, max(CASE WHEN value IS NOT NULL THEN period_end END) AS latest,"
            " sum(period_end > ? AND value IS NOT NULL) AS values_24h,"
            " count(DISTINCT CASE WHEN period_end > ? AND value IS NOT NULL THEN period_end END)"
            " AS periods_24h, min(period_end - period_start) AS step"
            " FROM observations WHERE period_end > ? GROUP BY site, source",
            (day_ago, day_ago, since),
        )
        flagged = self.ledger.query(
            "SELECT site, count(*) AS qc_flags_24h FROM qc_flags WHERE period_end > ? "
            "GROUP BY site",
            (day_ago,),
        )
        # cnemc_water lists sections by published name or id; rows are stored under the id
        ids = section_ids(self.settings)
        configured = pd.DataFrame(
            [
                (ids.get(site, site), source.name)
                for source in self.settings.sources
                if source.enabled
                for site in (*source.stations, *(p.site for p in source.points))
            ],
            columns=["site", "source"],
        )
        frame = configured.merge(seen, on=["site", "source"], how="outer")
        failing = self.ledger.query(
            "SELECT site, count(*) AS evaluation_failures FROM evaluation_failures GROUP BY site"
        )
        # Failing days of a site without a series here (an area) get a row of their own.
        alone = failing.loc[~failing["site"].isin(frame["site"]), ["site"]]
        frame = pd.concat([frame, alone.assign(source="evaluation")], ignore_index=True)
        frame = frame.merge(flagged, on="site", how="left")
        frame = frame.merge(failing, on="site", how="left")
        latest = pd.to_numeric(frame["latest"], errors="coerce")
        step = pd.to_numeric(frame["step"], errors="coerce").where(lambda s: s > 0, 3600.0)
        expected = (86400.0 / step).clip(lower=1.0)
        periods = pd.to_numeric(frame["periods_24h"], errors="coerce").fillna(0.0)
        return pd.DataFrame(
            {
                "site": frame["site"],
                "source": frame["source"],
                "age_seconds": (stamp - latest).fillna(float(HEALTH_WINDOW_S)),
                "completeness_24h": (periods / expected).clip(upper=1.0),
                "values_24h": pd.to_numeric(frame["values_24h"], errors="coerce").fillna(0.0),
                "qc_flags_24h": pd.to_numeric(frame["qc_flags_24h"], errors="coerce").fillna(0.0),
                "evaluation_failures": pd.to_numeric(
                    frame["evaluation_failures"], errors="coerce"
                ).fillna(0.0),
                "time": stamp,
            }
        )

    def _source_health(self, stamp: int) -> pd.DataFrame:
        names = [s.name for s in self.settings.sources if s.enabled]
        if not names:
            return pd.DataFrame(columns=["source", "time"])
        log_rows = self.ledger.query(
            "SELECT source, status, rows, error, finished_at FROM fetch_log "
            "WHERE finished_at > ? ORDER BY id",
            (stamp - 86400,),
        )
        marks = self.ledger.query("SELECT source, period_end FROM watermarks")
        mark = dict(zip(marks["source"], marks["period_end"], strict=True))
        records = []
        for name in names:
            mine = log_rows[log_rows["source"] == name]
            last = mine.iloc[-1] if len(mine) else None
            records.append(
                {
                    "source": name,
                    "age_seconds": float(stamp - mark[name]) if name in mark else np.nan,
                    "last_fetch_ok": np.nan if last is None else float(last["status"] != "failed"),
                    "failures_24h": float((mine["status"] == "failed").sum()),
                    "rows_24h": float(mine["rows"].sum()),
                    "last_error": ""
                    if last is None or last["status"] != "failed"
                    else last["error"],
                    "time": stamp,
                }
            )
        return pd.DataFrame(records)


def _concat(batches: Sequence[_Batch]) -> _Batch:
    """One batch of several, in time order (:meth:`_Batch.in_time_order`)."""
    full = [batch for batch in batches if len(batch)]
    if not full:
        empty = np.array([], dtype=np.int64)
        return _Batch([], pd.DataFrame({"kind": [], "key": [], "day": []}), empty)
    return _Batch(
        [line for batch in full for line in batch.lines],
        pd.concat([batch.keys for batch in full], ignore_index=True),
        np.concatenate([batch.times for batch in full]),
    ).in_time_order()


@dataclass
class _Sent:
    """How far the writer thread got with a batch: lines taken (accepted, or refused as
    bad data and listed in ``refused``)."""

    lines: int = 0
    refused: list[_Refused] = field(default_factory=list)


class _Pipeline:
    """Serialise the next batch while the previous one is on the wire: one batch in flight
    on a writer thread, so reading the ledger and waiting for the server overlap. ``after``
    runs (on the caller's thread) once its batch was accepted, before the next is sent;
    ``partly`` (batch, lines taken) when it failed after its first requests."""

    def __init__(self, publisher: Publisher, report: PublishReport) -> None:
        self.publisher = publisher
        self.report = report
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="publish-write")
        self._pending: (
            tuple[Future[None], _Batch, _Sent, Callable[[], object], _Partly | None] | None
        ) = None

    def submit(
        self, batch: _Batch, after: Callable[[], object], partly: _Partly | None = None
    ) -> None:
        self.wait()
        sent = _Sent()
        future = self._pool.submit(self.publisher._write_batch, batch, self.report, sent)
        self._pending = (future, batch, sent, after, partly)

    def wait(self) -> None:
        """Wait for the batch in flight; keep its refused points; run its ``after``, or on
        an error its ``partly`` and raise the error."""
        if self._pending is None:
            return
        future, batch, sent, after, partly = self._pending
        self._pending = None
        try:
            future.result()
        except BaseException:
            self.publisher._keep_refused(sent.refused, self.report)
            if partly is not None and sent.lines:
                partly(batch, sent.lines)
            raise
        self.publisher._keep_refused(sent.refused, self.report)
        after()

    def __enter__(self) -> _Pipeline:
        return self

    def __exit__(self, kind: type[BaseException] | None, *rest: object) -> None:
        try:
            if kind is None:
                self.wait()
        finally:
            self._pool.shutdown(wait=True)


def _progress(
    on_day: Callable[[int, int], None] | None, reached: int, days: int
) -> Callable[[], None]:
    def show() -> None:
        if on_day is not None:
            on_day(reached, days)

    return show


def _rounds_by_day(chunk: pd.DataFrame, points: int) -> Iterator[pd.DataFrame]:
    """Queued site-days (columns seq, kind, key, day) ordered by day (then as queued), in
    rounds of about ``points`` points (estimated with :data:`SITE_DAY_POINTS`), one at a
    time."""
    ordered = chunk.iloc[np.argsort(chunk["day"].to_numpy(dtype=str), kind="stable")]
    weight = ordered["kind"].map(SITE_DAY_POINTS).fillna(24).to_numpy(dtype=np.int64)
    before = np.cumsum(weight) - weight  # points of the site-days ahead of each
    rounds = before // max(1, points)
    bounds = [0, *(np.flatnonzero(np.diff(rounds)) + 1).tolist(), len(ordered)]
    for start, end in pairwise(bounds):
        yield ordered.iloc[start:end]


def _day_windows(queued: pd.DataFrame) -> list[pd.DataFrame]:
    """Queued site-days (columns key, day) split into runs of consecutive days, so each run
    is read with one query and a scattered queue never reads the days between."""
    days = pd.to_datetime(queued["day"], format="%Y-%m-%d")
    order = np.argsort(days.to_numpy(), kind="stable")
    ordered = queued.iloc[order]
    stamps = days.iloc[order].to_numpy().astype("datetime64[D]").astype(np.int64)
    bounds = [0, *(np.flatnonzero(np.diff(stamps) > 1) + 1).tolist(), len(ordered)]
    return [ordered.iloc[a:b] for a, b in pairwise(bounds) if b > a]


def _distinct_rows(table: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
    """The distinct rows of a 2-D object array: the code of each row (numbered in order of
    first appearance) and, per column, its values in the distinct rows (None stays None)."""
    codes = np.zeros(len(table), dtype=np.int64)
    per_column = []
    for i in range(table.shape[1]):
        column, found = pd.factorize(table[:, i])
        values = np.array([*found, None], dtype=object)  # code -1 (None) → the last
        column = np.where(column < 0, len(found), column)
        per_column.append((column, values))
        codes = pd.factorize(codes * len(values) + column)[0]
    _, firsts = np.unique(codes, return_index=True)
    return codes, [values[column[firsts]] for column, values in per_column]


def _local_days(seconds: np.ndarray) -> np.ndarray:
    """:func:`local_dates` of epoch-second labels, worked out once per distinct day."""
    stamps = np.asarray(seconds, dtype=np.int64)
    if not len(stamps):
        return local_dates(stamps)
    days, inverse = np.unique((stamps + LOCAL_OFFSET_S) // 86400, return_inverse=True)
    texts: np.ndarray = local_dates(days * 86400 - LOCAL_OFFSET_S).astype(object)
    return texts[inverse.reshape(-1)]


def _numbers(values: list[Any]) -> np.ndarray:
    """A column of numbers as read (REAL or INTEGER; None: NaN) as float64: what
    ``pd.to_numeric(..., errors="coerce")`` of the column gives, without its object array
    when every value is a number or None (a text, which SQLite keeps only when it is not a
    number, goes through ``pd.to_numeric`` as before; a blob is no number, NaN, not what
    its bytes spell: ``b"12"`` is not 12)."""
    if set(map(type, values)) <= {float, int, type(None)}:
        return np.array(values, dtype=np.float64)
    cells = [None if isinstance(v, bytes | bytearray | memoryview) else v for v in values]
    return np.asarray(pd.to_numeric(np.array(cells, dtype=object), errors="coerce"), np.float64)


def _stamps(values: list[Any]) -> np.ndarray:
    """Epoch seconds as read (INTEGER NOT NULL) as int64."""
    if set(map(type, values)) <= {int}:
        return np.array(values, dtype=np.int64)
    return np.array(values, dtype=object).astype(np.int64)
