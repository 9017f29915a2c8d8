"""The HJ 212-2017 receiver: an asyncio TCP server that stores what data loggers push.

One event loop (in its own thread inside the daemon) reads every connection: the
:class:`~monitor.hj212.protocol.Framer` cuts packets, each data packet is checked (MN
registered, password right, ``DataTime`` one the ledger can hold:
:mod:`monitor.hj212.data_time`; refusals are answered ``QnRtn``), converted to ledger rows
(:mod:`monitor.hj212.readings`) and queued; one writer thread commits everything queued in
one transaction (group commit: the packets that arrived while the previous transaction was
committing; :meth:`~monitor.ledger.Ledger.write_hj212`, plain rows). The event loop never
waits on SQLite. The acknowledgement a packet asks for (``Flag`` A bit, ``CN=9014``) is
sent **after** its rows are committed: acknowledged ⇒ stored. A packet committed whose
acknowledgement is lost (connection dropped, shutdown) is sent again by the device, and the
same values again change nothing.

Limits (``[hj212]`` settings): packet size, idle timeout, time to complete a started packet
(slow senders), connections in total (more are refused) and per station (a new one closes
the station's oldest), refused packets in a row on a connection (then it is closed). A client that
sends garbage only ever costs its own connection.

Stored: hourly means (``CN=2061``) of canonical parameters as ledger observations under the
``[hj212] source`` name, labelled by the end of the hour (with revisions, like every
source); every other reading (real-time, minute and daily data, ``Min``/``Max``/``Cou``,
codes without a canonical parameter, unknown codes) in ``hj212_readings``. Counters for
``/metrics`` and the state for ``/healthz`` are in :class:`ReceiverStats`.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import queue
import sqlite3
import sys
import threading
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import numpy as np
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    Metric,
    SummaryMetricFamily,
)

from monitor.errors import EnvmonError
from monitor.hj212.codes import CODES
from monitor.hj212.data_time import TimeRefusal, refuse_data_time
from monitor.hj212.protocol import (
    DATA_COMMANDS,
    QN_RTN_MN,
    QN_RTN_PASSWORD,
    QN_RTN_REJECTED,
    BadSegment,
    Frame,
    Framer,
    Packet,
    data_ack,
    parse_segment,
    rejection,
)
from monitor.hj212.readings import is_observation, readings
from monitor.ledger import Ledger
from monitor.settings import HJ212Settings, HJ212Station

__all__ = ["Receiver", "ReceiverStats", "StationState"]

log = logging.getLogger("envmon.hj212")

#: Most packets one commit takes; more wait for the next (the benchmark sets 1 for its
#: baseline).
MAX_BATCH_PACKETS = 5000
#: Packets queued for the writer above which connections stop reading (back-pressure).
MAX_QUEUED_PACKETS: Final = 20000
#: Seconds between checks of idle and slow connections.
SWEEP_S: Final = 0.25
#: Commit latencies kept for the p50/p99 in /metrics.
LATENCY_WINDOW: Final = 10000
#: Interpreter switch interval while the receiver runs [s] (Python's default is 5 ms). The
#: event loop releases the GIL at every socket call and must take it back from whichever
#: thread holds it (the writer, an evaluation job of the daemon); with 5 ms, each call could
#: wait that long, and a stop-and-wait station waits for every one of them. Measured with
#: ``benchmarks/bench_hj212.py``: 0.5 ms gave more packets/s in each of four interleaved pairs.
SWITCH_INTERVAL_S: Final = 0.0005


@dataclass
class StationState:
    """A registered station and what the receiver has seen of it."""

    mn: str
    site: str
    password: str
    expected_interval_s: int
    minute_interval_s: int
    units: dict[str, str]
    packets: int = 0
    last_packet: float | None = None
    connections: list[_Connection] = field(default_factory=list)

    @classmethod
    def from_settings(cls, station: HJ212Station) -> StationState:
        """Runtime state of a configured station (its password revealed here, once)."""
        units = {}
        for item in station.units:
            code, _, unit = item.partition("=")
            units[code.strip()] = unit.strip()
        return cls(
            mn=station.mn,
            site=station.site,
            password="" if station.password is None else station.password.reveal(),
            expected_interval_s=station.expected_interval_minutes * 60,
            minute_interval_s=station.minute_interval_minutes * 60,
            units=units,
        )


@dataclass
class ReceiverStats:
    """Counters of the receiver (thread-safe through ``lock``)."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    packets: Counter[str] = field(default_factory=Counter)  # result → count
    connections_total: int = 0
    connections_open: int = 0
    connections_refused: int = 0
    connections_closed: Counter[str] = field(default_factory=Counter)  # reason → count
    readings_written: int = 0
    observations_written: int = 0
    commits: int = 0
    write_failures: int = 0
    last_write_error: str = ""
    unknown_codes: Counter[str] = field(default_factory=Counter)
    latencies: deque[float] = field(default_factory=lambda: deque(maxlen=LATENCY_WINDOW))
    latency_count: int = 0  # every committed packet since the start (the summary's _count)
    latency_sum: float = 0.0  # and their latencies [s] (its _sum)

    def count(self, result: str, n: int = 1) -> None:
        """Count packets by result (``accepted``, ``bad_crc``, ``unknown_mn`` …)."""
        with self.lock:
            self.packets[result] += n

    def latency_quantiles(self) -> tuple[float, float] | None:
        """(p50, p99) seconds from packet received to rows committed, recent packets."""
        with self.lock:
            if not self.latencies:
                return None
            values = np.fromiter(self.latencies, dtype=float)
        p50, p99 = np.quantile(values, [0.5, 0.99])
        return float(p50), float(p99)


@dataclass
class _Queued:
    packet: Packet
    station: StationState
    received: float  # time.perf_counter() when its last byte was read
    received_at: int  # epoch seconds
    ack: tuple[_Connection, bytes] | None  # where to send which acknowledgement
    observations: list[tuple[Any, ...]]  # rows of Ledger.write_hj212
    other: list[tuple[Any, ...]]
    unknown: list[str]  # factor codes envmon does not know, one per reading


def _rows(
    packet: Packet, station: StationState, received_at: int
) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]], list[str]]:
    """A packet's readings as rows of :meth:`Ledger.write_hj212`: (hourly observations,
    other readings, unknown codes). Done in the event loop, so that the writer thread holds
    the GIL only briefly between its SQLite calls (which release it): a writer busy in
    Python would delay every socket call of the loop by up to the interpreter's switch
    interval.

    Raises
    ------
    BadSegment
        As :func:`~monitor.hj212.readings.readings` (checked before, by the time check).
    """
    found = readings(
        packet, station.site, minute_interval_s=station.minute_interval_s, units=station.units
    )
    observations: list[tuple[Any, ...]] = []
    other: list[tuple[Any, ...]] = []
    unknown: list[str] = []
    mn = packet.mn
    for r in found:
        if r.code not in CODES:
            unknown.append(r.code)
        if is_observation(r):
            observations.append(
                (r.site, r.parameter, r.period_end, r.period_start, r.unit, r.value, r.flags)
            )
        else:  # kept in hj212_readings; observations have revisions instead
            other.append(
                (r.period_end, r.site, r.code, r.statistic, r.cn, r.period_start,
                 r.parameter, r.unit, r.value, r.flags, mn, received_at)
            )  # fmt: skip
    return observations, other, unknown


def _reason(error: Exception) -> str:
    """Counter label of a refused packet: the error class in snake case."""
    name = type(error).__name__
    return "".join("_" + c.lower() if c.isupper() else c for c in name).lstrip("_")


class Receiver:
    """The HJ 212 receiver. ``start()`` runs it in a thread; ``stop()`` ends it cleanly
    (open connections closed, everything queued committed)."""

    def __init__(
        self,
        settings: HJ212Settings,
        ledger_path: Path,
    ) -> None:
        self.settings = settings
        self.ledger_path = ledger_path
        self.stats = ReceiverStats()
        self.stations = {s.mn: StationState.from_settings(s) for s in settings.stations}
        self.port: int | None = None
        self._queue: queue.SimpleQueue[_Queued | None] = queue.SimpleQueue()
        self._queued = 0
        self._queued_lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.Server | None = None
        self._stopping: asyncio.Event | None = None
        self._thread: threading.Thread | None = None
        self._writer: threading.Thread | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._connections: set[_Connection] = set()
        self._logged_codes: set[str] = set()
        self._logged_refusals: set[tuple[str, str]] = set()
        self._switch_interval: float | None = None  # the interpreter's, restored by stop()
        self.started_at = time.time()

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> int:
        """Open the ledger, start the writer and the server thread; return the port.

        Raises
        ------
        EnvmonError
            If the port cannot be bound or the ledger cannot be opened.
        """
        with Ledger.open(self.ledger_path) as ledger:  # migrate, register, fail early
            ledger.register_source(self.settings.source, "hj212", "measured")
        self._switch_interval = sys.getswitchinterval()
        sys.setswitchinterval(min(self._switch_interval, SWITCH_INTERVAL_S))
        self._writer = threading.Thread(target=self._write_loop, name="hj212-writer", daemon=True)
        self._writer.start()
        self._thread = threading.Thread(target=self._run_loop, name="hj212", daemon=True)
        self._thread.start()
        self._ready.wait()
        if self._error is not None:
            self._queue.put(None)
            self._writer.join()
            sys.setswitchinterval(self._switch_interval)
            self._switch_interval = None
            host, port = self.settings.host, self.settings.port
            raise EnvmonError(
                f"cannot listen for HJ 212 on {host}:{port} ({self._error}); choose another "
                "[hj212] port (or host) in the settings"
            ) from self._error
        assert self.port is not None
        log.info(
            "HJ 212 receiver on %s:%d, %d station(s)",
            self.settings.host,
            self.port,
            len(self.stations),
        )
        return self.port

    def stop(self) -> None:
        """Stop accepting, close connections, commit what is queued, end both threads."""
        loop, stopping = self._loop, self._stopping
        if loop is not None and stopping is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # loop already gone
                loop.call_soon_threadsafe(stopping.set)
        if self._thread is not None:
            self._thread.join()
        if self._writer is not None and self._writer.is_alive():
            self._queue.put(None)
            self._writer.join()
        if self._switch_interval is not None:
            sys.setswitchinterval(self._switch_interval)
            self._switch_interval = None

    def _run_loop(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as err:  # reported to start() or logged; the thread must end
            if not self._ready.is_set():
                self._error = err
                self._ready.set()
            else:
                log.exception("HJ 212 receiver stopped on an error")

    async def _serve(self) -> None:
        loop = asyncio.get_running_loop()
        self._loop = loop
        self._stopping = asyncio.Event()
        self._server = await loop.create_server(
            lambda: _Connection(self), self.settings.host, self.settings.port, backlog=1024
        )
        self.port = int(self._server.sockets[0].getsockname()[1])
        self._ready.set()
        sweeper = asyncio.create_task(self._sweep())
        await self._stopping.wait()
        sweeper.cancel()
        self._server.close()
        await asyncio.sleep(0.05)  # connections accepted just before: let them start
        for _ in range(100):  # close them all and let the transports report it
            for connection in list(self._connections):
                connection.close("shutdown")
            if not self._connections:
                break
            await asyncio.sleep(0.01)
        await self._server.wait_closed()

    async def _sweep(self) -> None:
        """Four times a second: close idle and slow connections, resume paused reading."""
        limits = self.settings
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(SWEEP_S)
            now = loop.time()
            behind = self._queued > MAX_QUEUED_PACKETS
            for connection in list(self._connections):
                if connection.started is not None:
                    if now - connection.started > limits.packet_timeout_seconds:
                        connection.close("slow_packet")
                elif now - connection.last_read > limits.idle_timeout_seconds:
                    connection.close("idle")
                if connection.paused and not behind:
                    connection.resume()

    # ------------------------------------------------------------------ packets

    def _accept(self, frame: Frame, connection: _Connection, received: float) -> str | None:
        """Check one packet and queue it; return why it is refused, or None."""
        try:
            packet = parse_segment(frame.segment)
        except BadSegment:
            return "bad_segment"
        station = self.stations.get(packet.mn)
        if station is None:
            connection.send(rejection(packet, QN_RTN_MN))
            return "unknown_mn"
        if not station.password or not hmac.compare_digest(
            packet.pw.encode(), station.password.encode()
        ):
            connection.send(rejection(packet, QN_RTN_PASSWORD))
            return "wrong_password"
        if packet.mn not in connection.stations:
            connection.stations.add(packet.mn)
            station.connections.append(connection)
            if len(station.connections) > self.settings.max_connections_per_station:
                station.connections.pop(0).close("replaced")
        if packet.cn not in DATA_COMMANDS:
            self.stats.count("other_command")  # nothing to store (replies, heartbeats …)
            return None
        now = time.time()
        refused = refuse_data_time(packet, station.minute_interval_s, now)
        if refused is not None:
            self._log_refusal(station, refused)
            connection.send(rejection(packet, QN_RTN_REJECTED))
            return refused.reason
        try:
            observations, other, unknown = _rows(packet, station, int(now))
        except BadSegment:  # the time check above reads the same fields
            return "bad_data_time"
        station.packets += 1
        station.last_packet = now
        ack = (connection, data_ack(packet)) if packet.wants_ack else None
        with self._queued_lock:
            self._queued += 1
        self._queue.put(
            _Queued(packet, station, received, int(now), ack, observations, other, unknown)
        )
        return None

    def _log_refusal(self, station: StationState, refused: TimeRefusal) -> None:
        """One warning per refused packet; off-hour hourly data once per station (a device
        that sends them does so every hour), later ones at debug level."""
        key = (station.mn, refused.reason)
        once = refused.reason == "off_hour_data_time"
        level = logging.DEBUG if once and key in self._logged_refusals else logging.WARNING
        self._logged_refusals.add(key)
        log.log(
            level,
            "HJ 212: packet of MN %s (site %s) refused: %s%s",
            station.mn,
            station.site,
            refused.message,
            " (logged once per station; counted in envmon_hj212_packets_total)" if once else "",
        )

    @staticmethod
    def _send_acks(acks: list[tuple[_Connection, bytes]]) -> None:
        for connection, data in acks:
            connection.send(data)

    # ------------------------------------------------------------------ the writer

    def _write_loop(self) -> None:
        """The single writer: take what is queued, commit it, acknowledge it."""
        ledger = Ledger.open(self.ledger_path)
        try:
            done = False
            while not done:
                item = self._queue.get()
                if item is None:
                    break
                batch = [item]
                while len(batch) < MAX_BATCH_PACKETS:
                    try:
                        more = self._queue.get_nowait()
                    except queue.Empty:
                        break
                    if more is None:
                        done = True
                        break
                    batch.append(more)
                try:
                    self._write(ledger, batch)
                except Exception:  # the writer must outlive a bad batch (style §9.3)
                    log.exception("HJ 212: unexpected error writing %d packet(s)", len(batch))
                    with self._queued_lock:
                        self._queued -= len(batch)
        finally:
            ledger.close()

    def _write(self, ledger: Ledger, batch: list[_Queued]) -> None:
        """Commit a batch in one transaction (:meth:`Ledger.write_hj212`)."""
        observations = [row for item in batch for row in item.observations]
        other = [row for item in batch for row in item.other]
        unknown = Counter(code for item in batch for code in item.unknown)
        try:
            ledger.write_hj212(
                other,
                observations,
                self.settings.source,
                requested=f"HJ 212 push: {len(batch)} packet(s)",
            )
        except (EnvmonError, sqlite3.Error, OSError) as err:  # nothing acknowledged: resent
            with self.stats.lock:
                self.stats.write_failures += 1
                self.stats.last_write_error = str(err)
            log.warning("HJ 212: %d packet(s) not stored: %s", len(batch), err)
            with self._queued_lock:
                self._queued -= len(batch)
            time.sleep(1.0)
            return
        committed = time.perf_counter()
        with self.stats.lock:
            self.stats.packets["accepted"] += len(batch)
            self.stats.readings_written += len(other)
            self.stats.observations_written += len(observations)
            self.stats.commits += 1
            self.stats.last_write_error = ""
            self.stats.unknown_codes.update(unknown)
            waited = [committed - item.received for item in batch]
            self.stats.latencies.extend(waited)
            self.stats.latency_count += len(waited)
            self.stats.latency_sum += sum(waited)
        with self._queued_lock:
            self._queued -= len(batch)
        for code in unknown.keys() - self._logged_codes:
            self._logged_codes.add(code)
            log.warning("HJ 212: unknown factor code %r kept raw in hj212_readings", code)
        acks = [item.ack for item in batch if item.ack is not None]
        if acks and self._loop is not None:  # one wake-up of the event loop per commit
            with contextlib.suppress(RuntimeError):  # the loop has ended: nobody to answer
                self._loop.call_soon_threadsafe(self._send_acks, acks)

    # ------------------------------------------------------------------ health

    def health(self) -> dict[str, Any]:
        """The receiver's entry in /healthz: listening address, counters, stations."""
        now = time.time()
        stations = {}
        late = []
        for mn, s in self.stations.items():
            is_late = (
                s.last_packet is None and now - self.started_at > 2 * s.expected_interval_s
            ) or (s.last_packet is not None and now - s.last_packet > 2 * s.expected_interval_s)
            if is_late:
                late.append(mn)
            stations[mn] = {
                "site": s.site,
                "packets": s.packets,
                "last_packet": _iso(s.last_packet),
                "late": is_late,
                "connections": len(s.connections),
            }
        stats = self.stats
        with stats.lock:
            failing = bool(stats.last_write_error)
            body: dict[str, Any] = {
                "state": "failing" if failing else "ok",
                "listening": f"{self.settings.host}:{self.port}",
                "connections_open": stats.connections_open,
                "packets": dict(stats.packets),
                "last_write_error": stats.last_write_error,
                "unknown_codes": dict(stats.unknown_codes),
            }
        body["late_stations"] = late
        body["stations"] = stations
        return body

    def metric_families(self) -> list[Metric]:
        """The receiver's Prometheus metric families for /metrics
        (:mod:`monitor.service.metrics` serves them)."""
        stats = self.stats
        with stats.lock:
            packets = dict(stats.packets)
            closed = dict(stats.connections_closed)
            unknown = dict(stats.unknown_codes)
            latency_count, latency_sum = stats.latency_count, stats.latency_sum
            families: list[Metric] = [
                GaugeMetricFamily("envmon_hj212_connections_open", "Open HJ 212 connections.",
                                  stats.connections_open),
                CounterMetricFamily("envmon_hj212_connections_total", "HJ 212 connections "
                                    "accepted or refused.", stats.connections_total),
                CounterMetricFamily("envmon_hj212_connections_refused_total", "HJ 212 "
                                    "connections refused at the connection limit.",
                                    stats.connections_refused),
                CounterMetricFamily("envmon_hj212_readings_written_total", "Readings committed "
                                    "to hj212_readings.", stats.readings_written),
                CounterMetricFamily("envmon_hj212_observations_written_total", "Hourly "
                                    "observations committed from HJ 212 packets.",
                                    stats.observations_written),
                CounterMetricFamily("envmon_hj212_commits_total", "Ledger commits of the HJ 212 "
                                    "writer.", stats.commits),
                CounterMetricFamily("envmon_hj212_write_failures_total", "Failed ledger writes "
                                    "of the HJ 212 writer.", stats.write_failures),
            ]  # fmt: skip
        by_result = CounterMetricFamily(
            "envmon_hj212_packets_total", "HJ 212 packets by result.", labels=["result"]
        )
        for result, count in sorted(packets.items()):
            by_result.add_metric([result], count)
        by_reason = CounterMetricFamily(
            "envmon_hj212_connections_closed_total",
            "HJ 212 connections closed, by reason.",
            labels=["reason"],
        )
        for reason, count in sorted(closed.items()):
            by_reason.add_metric([reason], count)
        by_code = CounterMetricFamily(
            "envmon_hj212_unknown_code_readings_total",
            "Readings with a factor code envmon does not know (kept raw).",
            labels=["code"],
        )
        for code, count in sorted(unknown.items()):
            by_code.add_metric([code], count)
        families += [by_result, by_reason, by_code]
        # quantiles over the last LATENCY_WINDOW packets; _count and _sum since the start
        latency = SummaryMetricFamily(
            "envmon_hj212_commit_latency_seconds",
            "Seconds from packet received to rows committed (quantiles: recent packets).",
            count_value=latency_count,
            sum_value=latency_sum,
        )
        quantiles = self.stats.latency_quantiles()
        if quantiles is not None:
            for quantile, seconds in zip(("0.5", "0.99"), quantiles, strict=True):
                latency.add_sample(latency.name, {"quantile": quantile}, seconds)
        last_packet = GaugeMetricFamily(
            "envmon_hj212_station_last_packet_timestamp_seconds",
            "Unix time of the station's last accepted data packet.",
            labels=["mn", "site"],
        )
        for s in self.stations.values():
            if s.last_packet is not None:
                last_packet.add_metric([s.mn, s.site], s.last_packet)
        return [*families, latency, last_packet]


class _Connection(asyncio.Protocol):
    """One TCP connection: frames what it reads and hands packets to the receiver."""

    def __init__(self, receiver: Receiver) -> None:
        self.receiver = receiver
        self.framer = Framer(receiver.settings.max_packet_bytes)
        self.transport: asyncio.Transport | None = None
        self.stations: set[str] = set()
        self.refused = 0
        self.reason = "client"
        self.counted = False  # in connections_open
        self.paused = False
        self.started: float | None = None  # when the packet being received began
        self.last_read = 0.0
        self.loop = asyncio.get_running_loop()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.last_read = self.loop.time()
        receiver, stats = self.receiver, self.receiver.stats
        with stats.lock:
            stats.connections_total += 1
            if stats.connections_open >= receiver.settings.max_connections:
                stats.connections_refused += 1
                refuse = True
            else:
                stats.connections_open += 1
                self.counted = True
                refuse = False
        stopping = receiver._stopping is not None and receiver._stopping.is_set()
        if refuse or stopping:
            transport.abort()
            return
        receiver._connections.add(self)

    def data_received(self, data: bytes) -> None:
        if self.transport is None or self.transport.is_closing():
            return
        received = time.perf_counter()
        now = self.loop.time()
        self.last_read = now
        receiver = self.receiver
        events = self.framer.feed(data)
        for event in events:
            if isinstance(event, Frame):
                problem = receiver._accept(event, self, received)
            else:
                problem = _reason(event)
            if problem is None:
                self.refused = 0  # the limit counts refusals in a row
                continue
            receiver.stats.count(problem)
            self.refused += 1
            if self.refused >= receiver.settings.max_rejected_packets:
                self.close("too_many_refused")
                return
        if not self.framer.pending:
            self.started = None
        elif self.started is None or events:
            self.started = now
        if receiver._queued > MAX_QUEUED_PACKETS:  # the writer is behind: stop reading
            self.paused = True
            self.transport.pause_reading()

    def resume(self) -> None:
        self.paused = False
        if self.transport is not None and not self.transport.is_closing():
            self.transport.resume_reading()

    def send(self, data: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)

    def close(self, reason: str) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.reason = reason
            self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        receiver = self.receiver
        receiver._connections.discard(self)
        for mn in self.stations:
            with contextlib.suppress(ValueError):
                receiver.stations[mn].connections.remove(self)
        if not self.counted:
            return
        reason = "reset" if exc is not None and self.reason == "client" else self.reason
        with receiver.stats.lock:
            receiver.stats.connections_open -= 1
            receiver.stats.connections_closed[reason] += 1


def _iso(moment: float | None) -> str | None:
    return None if moment is None else datetime.fromtimestamp(moment, UTC).isoformat()
