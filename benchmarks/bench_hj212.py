"""Benchmark: HJ 212 packets stored and acknowledged per second, and the send → acknowledgement
latency, with stations that wait for each acknowledgement before sending the next packet.

Run: ``.venv/bin/python -m benchmarks.bench_hj212 [--stations 50] [--seconds 8] [--rate 2000]``.

A receiver (``monitor.hj212.server.Receiver``) runs in this process on a fresh ledger with
``--stations`` registered stations. A load generator in a **separate process** (so that it
does not compete for this process's GIL) opens one connection per station; each station
sends hourly packets (six pollutants, ``Flag=5``: acknowledged only after their rows are
committed) **stop-and-wait**: the next packet leaves when the previous one is acknowledged.
Measured on the client side:

* packets/s: acknowledgements ÷ time from the first packet sent to the last acknowledgement,
  stations sending as fast as the acknowledgements come back (saturation);
* p50/p99 send → acknowledgement at an offered ``--rate`` packets/s in total (each station
  sends one packet every ``stations / rate`` s, or as soon as its previous packet is
  acknowledged when that comes later), the aim's condition;
* the receiver's CPU time per packet (this process only).

Named baselines, measured in the same run with the same load:

* **previous writer** (the baseline of the ratio): the receiver as it was before group
  commit was tuned, kept here as :class:`PreviousWriter`: one transaction per packet
  (``MAX_BATCH_PACKETS = 1``), observations through a DataFrame and
  ``Ledger.write_observations``, other readings in a second transaction;
* **previous writer, grouped**: the same, taking every packet queued into one transaction
  (how the receiver's writer ran before this benchmark's issue). Both previous-writer
  baselines subclass today's receiver: their reading side (framing, checks, conversion,
  switch interval) is today's, only the writer is the previous one;
* **one packet per transaction**: today's writer (plain rows, one transaction for all) with
  ``MAX_BATCH_PACKETS = 1``: what the group commit alone gives;
* **echo** (a ceiling, not a competitor): an asyncio server on the same loopback that answers
  every packet at once with a fixed acknowledgement, without framing, checking or storing:
  what the load generator and the loopback allow on this machine at the moment.

Aim (issue "Speed where users feel it"): ≥ 3,000 packets/s, and p99 < 50 ms at 2,000
packets/s offered, 50 stations. The machine's two cores are shared with other work: every
figure varies with it; the ratios, measured within one run, vary less.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import random
import tempfile
import time
from dataclasses import replace
from multiprocessing.connection import Connection
from pathlib import Path

import numpy as np
import pandas as pd

from monitor.hj212 import server
from monitor.hj212.protocol import build_packet
from monitor.ledger import Ledger
from monitor.settings import HJ212Settings, HJ212Station, Secret

PASSWORD = "bench-pw"
CODES = ("a34004", "a34002", "a21026", "a21004", "a05024", "a21005")
ECHO_ACK = build_packet(b"QN=1;ST=91;CN=9014;PW=p;MN=M;Flag=4;CP=&&&&")


def _mn(i: int) -> str:
    return f"BENCH{i:019d}"


def _packets(i: int, count: int) -> list[bytes]:
    """Hourly packets of station i, one per hour from 2025-01-01 00:00 Beijing time."""
    out = []
    for h in range(count):
        day, hour = divmod(h, 24)
        month, mday = divmod(day, 28)
        stamp = f"{2025 + month // 12}{1 + month % 12:02d}{1 + mday:02d}{hour:02d}0000"
        items = ";".join(
            f"{c}-Avg={10 + (i + h + k) % 50}.{k},{c}-Flag=N" for k, c in enumerate(CODES)
        )
        segment = (
            f"QN={stamp}{h % 1000:03d};ST=22;CN=2061;PW={PASSWORD};MN={_mn(i)};Flag=5;"
            f"CP=&&DataTime={stamp};{items}&&"
        )
        out.append(build_packet(segment.encode()))
    return out


class _Station(asyncio.Protocol):
    """One station, stop-and-wait: the next packet when the previous is acknowledged (and,
    paced, not before its scheduled time). Acknowledgements end in LF; one per packet."""

    def __init__(
        self, packets: list[bytes], interval: float, until: float, done: asyncio.Future[None]
    ) -> None:
        self.packets = packets
        self.interval = interval
        self.until = until
        self.done = done
        self.loop = asyncio.get_running_loop()
        self.transport: asyncio.Transport | None = None
        self.latencies: list[float] = []
        self.sent_at = 0.0
        self.next_at = 0.0
        self.k = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def start(self, at: float) -> None:
        self.next_at = at
        self.loop.call_at(at, self.send)

    def send(self) -> None:
        assert self.transport is not None
        self.sent_at = self.loop.time()
        self.transport.write(self.packets[self.k % len(self.packets)])
        self.k += 1

    def data_received(self, data: bytes) -> None:
        now = self.loop.time()
        for _ in range(data.count(b"\n")):
            self.latencies.append(now - self.sent_at)
        if now >= self.until:
            if not self.done.done():
                self.done.set_result(None)
            return
        self.next_at += self.interval
        if self.interval > 0 and self.next_at > now:
            self.loop.call_at(self.next_at, self.send)
        else:
            self.next_at = max(self.next_at, now)
            self.send()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.done.done():
            self.done.set_result(None)


async def _load(
    port: int, stations: int, per_station: int, seconds: float, rate: float
) -> tuple[list[float], float]:
    loop = asyncio.get_running_loop()
    interval = stations / rate if rate > 0 else 0.0
    protocols = []
    dones = []
    for i in range(stations):
        done: asyncio.Future[None] = loop.create_future()
        packets = _packets(i, per_station)
        _, protocol = await loop.create_connection(
            lambda p=packets, d=done: _Station(p, interval, 0.0, d),  # type: ignore[misc]
            "127.0.0.1",
            port,
        )
        protocols.append(protocol)
        dones.append(done)
    started = loop.time() + 0.05
    for protocol in protocols:
        protocol.until = started + seconds
        protocol.start(started + (random.random() * interval if interval else 0.0))
    await asyncio.gather(*dones)
    elapsed = max(loop.time(), started + seconds) - started
    for protocol in protocols:
        assert protocol.transport is not None
        protocol.transport.close()
    await asyncio.sleep(0.05)
    return [x for p in protocols for x in p.latencies], elapsed


def _client(port: int, load: tuple[int, int, float, float], out: Connection) -> None:
    out.send(asyncio.run(_load(port, *load)))


def _measure(port: int, load: tuple[int, int, float, float]) -> tuple[list[float], float, float]:
    """Run the load generator in another process; (latencies, seconds, our CPU seconds)."""
    ctx = multiprocessing.get_context("spawn")
    parent, child = ctx.Pipe()
    process = ctx.Process(target=_client, args=(port, load, child))
    process.start()
    cpu = time.process_time()
    latencies, seconds = parent.recv()
    cpu = time.process_time() - cpu
    process.join()
    return latencies, seconds, cpu


def _summary(latencies: list[float], seconds: float, cpu: float) -> dict[str, float]:
    values = np.asarray(latencies) * 1000
    p50, p99 = np.quantile(values, [0.5, 0.99]) if len(values) else (np.nan, np.nan)
    return {
        "packets": len(values),
        "seconds": seconds,
        "rate": len(values) / seconds,
        "p50_ms": float(p50),
        "p99_ms": float(p99),
        "cpu_us": cpu / max(len(values), 1) * 1e6,
    }


class PreviousWriter(server.Receiver):
    """The receiver with the writer it had before (one DataFrame per commit, observations
    and other readings in two transactions)."""

    def _write(self, ledger: Ledger, batch: list[server._Queued]) -> None:
        # the rows today's reading side made (converting again would count it twice)
        observations = [row for item in batch for row in item.observations]
        other = [row for item in batch for row in item.other]
        if other:
            ledger.write_hj212_readings(other)
        if observations:
            site, parameter, end, start, unit, value, flags = zip(*observations, strict=True)
            frame = pd.DataFrame(
                {
                    "site": site,
                    "parameter": parameter,
                    "unit": unit,
                    "period_start": pd.to_datetime(
                        np.array(start, dtype=np.int64), unit="s", utc=True
                    ),
                    "period_end": pd.to_datetime(
                        np.array(end, dtype=np.int64), unit="s", utc=True
                    ),
                    "value": np.array(value, dtype=float),  # None → NaN
                    "flags": flags,
                }
            )
            ledger.write_observations(frame, self.settings.source, requested="HJ 212 push")
        committed = time.perf_counter()
        with self.stats.lock:
            self.stats.packets["accepted"] += len(batch)
            self.stats.commits += 1
            self.stats.latencies.extend(committed - item.received for item in batch)
        with self._queued_lock:
            self._queued -= len(batch)
        acks = [item.ack for item in batch if item.ack is not None]
        if acks and self._loop is not None:
            self._loop.call_soon_threadsafe(self._send_acks, acks)


def run_receiver(
    folder: Path,
    stations: int,
    seconds: float,
    batch: int,
    rate: float = 0.0,
    receiver_class: type[server.Receiver] = server.Receiver,
) -> dict[str, float]:
    """One measurement with the writer taking at most ``batch`` packets per commit; with
    ``rate`` > 0 the load is offered at that many packets/s in total."""
    server.MAX_BATCH_PACKETS = batch
    settings = replace(
        HJ212Settings(enabled=True, port=0, max_connections=stations + 10),
        stations=tuple(
            HJ212Station(mn=_mn(i), site=f"b{i:04d}", password_env="ENVMON_HJ212_PW_BENCH",
                         password=Secret(PASSWORD))
            for i in range(stations)
        ),
    )  # fmt: skip
    path = folder / f"ledger-{receiver_class.__name__}-{batch}-{rate:.0f}.sqlite"
    receiver = receiver_class(settings, path)
    port = receiver.start()
    try:
        per_station = 1500  # 62 days of hours: every packet new at up to 9,000 packets/s
        result = _summary(*_measure(port, (stations, per_station, seconds, rate)))
        commits = receiver.stats.commits
        accepted = receiver.stats.packets["accepted"]
    finally:
        receiver.stop()
    with Ledger.open(path) as ledger:
        rows = ledger.connection.execute("SELECT count(*) FROM observations").fetchone()[0]
    assert accepted >= result["packets"], (accepted, result["packets"])
    return {**result, "commits": commits, "rows": rows}


class _Echo(asyncio.Protocol):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.transport.write(ECHO_ACK * data.count(b"\n"))


def _echo_server(ready: Connection) -> None:
    async def serve() -> None:
        echo = await asyncio.get_running_loop().create_server(_Echo, "127.0.0.1", 0)
        ready.send(echo.sockets[0].getsockname()[1])
        await asyncio.sleep(3600)

    asyncio.run(serve())


def run_echo(stations: int, seconds: float) -> dict[str, float]:
    """The ceiling: the same load against an echo server in another process."""
    ctx = multiprocessing.get_context("spawn")
    parent, child = ctx.Pipe()
    process = ctx.Process(target=_echo_server, args=(child,), daemon=True)
    process.start()
    try:
        port = parent.recv()
        latencies, elapsed, _ = _measure(port, (stations, 24, seconds, 0.0))
    finally:
        process.kill()
        process.join()
    return {**_summary(latencies, elapsed, 0.0), "commits": 0, "rows": 0}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stations", type=int, default=50, help="stations = connections")
    parser.add_argument("--seconds", type=float, default=8.0, help="length of each measurement")
    parser.add_argument("--rate", type=float, default=2000, help="offered load [packets/s]")
    args = parser.parse_args()
    n, seconds = args.stations, args.seconds
    load = os.getloadavg()
    most = server.MAX_BATCH_PACKETS
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        batched = run_receiver(folder, n, seconds, most)
        paced = run_receiver(folder, n, seconds, most, args.rate)
        previous_grouped = run_receiver(folder, n, seconds, most, 0.0, PreviousWriter)
        previous = run_receiver(folder, n, seconds, 1, 0.0, PreviousWriter)
        previous_paced = run_receiver(folder, n, seconds, 1, args.rate, PreviousWriter)
        single = run_receiver(folder, n, seconds, 1)
    server.MAX_BATCH_PACKETS = most
    echo = run_echo(n, seconds)
    naive = previous
    results = (
        ("envmon, saturation", batched),
        (f"envmon, {args.rate:.0f}/s offered", paced),
        ("previous writer, grouped", previous_grouped),
        ("previous writer", previous),
        (f"previous, {args.rate:.0f}/s offered", previous_paced),
        ("today's, 1 packet/commit", single),
        ("echo (ceiling)", echo),
    )
    print(f"{n} stations stop-and-wait on loopback; load average before: {load[0]:.1f}")
    for name, r in results:
        print(
            f"{name:28s} {r['packets']:6.0f} packets in {r['seconds']:5.2f} s = "
            f"{r['rate']:6.0f} packets/s; send→ack p50 {r['p50_ms']:6.1f} ms, "
            f"p99 {r['p99_ms']:6.1f} ms; {r['commits']:.0f} commits; "
            f"receiver CPU {r['cpu_us']:.0f} µs/packet"
        )
    print(
        f"ratio: {batched['rate'] / naive['rate']:.1f}× the packets/s of the previous writer "
        f"({batched['rate'] / single['rate']:.1f}× today's writer at one packet per commit); "
        f"{batched['rate'] / echo['rate']:.2f}× the echo ceiling; "
        f"aim ≥ 3,000 packets/s: {'met' if batched['rate'] >= 3000 else 'NOT met'}; "
        f"p99 < 50 ms at {args.rate:.0f}/s offered: "
        f"{'met' if paced['p99_ms'] < 50 else 'NOT met'} ({paced['p99_ms']:.1f} ms, "
        f"{paced['rate']:.0f} packets/s delivered)"
    )


if __name__ == "__main__":
    main()
