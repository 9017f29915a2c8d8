"""Benchmark: HJ 212 packets accepted into the ledger per second on loopback, and the p99 time
from packet received to row committed.

Run: ``.venv/bin/python -m benchmarks.bench_hj212 [--packets 20000] [--stations 200]``.

A receiver (``monitor.hj212.server.Receiver``) runs in this process on a fresh ledger with
``--stations`` registered stations. A load generator in a **separate process** (so that it
does not compete for this process's GIL) opens one connection per station and sends hourly
packets (six pollutants, ``Flag=5``: each is acknowledged after its rows are committed),
keeping ``--window`` packets in flight per connection. Measured:

* packets/s: packets acknowledged ÷ time from the first packet sent to the last
  acknowledgement (client side, so it includes framing, checks, the ledger commit and the
  acknowledgement);
* p50/p99 latency, server side: from the read that completed a packet to the commit of its
  rows (``ReceiverStats.latencies``), at saturation and under a load paced at ``--rate``
  packets/s (the aim's condition);
* the receiver's CPU time per packet (this process only), which stays comparable when other
  work shares the machine.

Named baseline, measured in the same run with the same load: the same receiver with its
writer committing **one packet per transaction** (``MAX_BATCH_PACKETS = 1``), the naive
single-writer design. Aim (issue "HJ 212 receiver"): ≥ 2,000 packets/s, p99 < 50 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import random
import tempfile
import time
from dataclasses import replace
from multiprocessing.connection import Connection
from pathlib import Path

from monitor.hj212 import server
from monitor.hj212.protocol import Frame, Framer, build_packet
from monitor.ledger import Ledger
from monitor.settings import HJ212Settings, HJ212Station, Secret

PASSWORD = "bench-pw"
CODES = ("a34004", "a34002", "a21026", "a21004", "a21005", "a05024")


def _mn(i: int) -> str:
    return f"BENCH{i:019d}"


def _packets(i: int, count: int) -> list[bytes]:
    """Hourly packets of station i, one per hour from 2025-01-01 00:00 Beijing time."""
    out = []
    for h in range(count):
        day, hour = divmod(h, 24)
        stamp = f"2025{1 + day // 28:02d}{1 + day % 28:02d}{hour:02d}0000"
        items = ";".join(
            f"{c}-Avg={10 + (i + h + k) % 50}.{k},{c}-Flag=N" for k, c in enumerate(CODES)
        )
        qn = f"{stamp}{h % 1000:03d}"
        segment = (
            f"QN={qn};ST=22;CN=2061;PW={PASSWORD};MN={_mn(i)};Flag=5;"
            f"CP=&&DataTime={stamp};{items}&&"
        )
        out.append(build_packet(segment.encode()))
    return out


async def _station(port: int, packets: list[bytes], window: int, interval: float) -> int:
    """Send a station's packets and count acknowledgements. ``interval`` > 0: one packet
    every ``interval`` s (open loop, a paced load); else ``window`` packets in flight."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    framer = Framer(10011)
    acked = 0

    async def paced() -> None:
        start = time.perf_counter() + random.random() * interval
        for k, data in enumerate(packets):
            delay = start + k * interval - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            writer.write(data)

    sender = asyncio.create_task(paced()) if interval > 0 else None
    sent = 0
    if sender is None:
        while sent < min(window, len(packets)):
            writer.write(packets[sent])
            sent += 1
    while acked < len(packets):
        data = await reader.read(65536)
        if not data:
            break
        for event in framer.feed(data):
            if isinstance(event, Frame):
                acked += 1
                if sender is None and sent < len(packets):
                    writer.write(packets[sent])
                    sent += 1
    if sender is not None:
        await sender
    writer.close()
    return acked


async def _load(
    port: int, stations: int, per_station: int, window: int, rate: float
) -> tuple[int, float]:
    batches = [_packets(i, per_station) for i in range(stations)]
    interval = stations / rate if rate > 0 else 0.0
    started = time.perf_counter()
    acked = await asyncio.gather(*(_station(port, b, window, interval) for b in batches))
    return sum(acked), time.perf_counter() - started


def _client(port: int, load: tuple[int, int, int, float], out: Connection) -> None:
    out.send(asyncio.run(_load(port, *load)))


def run(
    folder: Path, stations: int, per_station: int, window: int, batch: int, rate: float = 0.0
) -> dict[str, float]:
    """One measurement with the writer taking at most ``batch`` packets per commit; with
    ``rate`` > 0 the load is paced at that many packets/s in total."""
    server.MAX_BATCH_PACKETS = batch
    settings = replace(
        HJ212Settings(enabled=True, port=0, max_connections=stations + 10),
        stations=tuple(
            HJ212Station(mn=_mn(i), site=f"b{i:04d}", password_env="ENVMON_HJ212_PW_BENCH",
                         password=Secret(PASSWORD))
            for i in range(stations)
        ),
    )  # fmt: skip
    path = folder / f"ledger-{batch}-{rate:.0f}.sqlite"
    receiver = server.Receiver(settings, path)
    port = receiver.start()
    try:
        ctx = multiprocessing.get_context("spawn")
        parent, child = ctx.Pipe()
        load = (stations, per_station, window, rate)
        process = ctx.Process(target=_client, args=(port, load, child))
        process.start()
        cpu = time.process_time()  # this process = the receiver (the load is elsewhere)
        acked, seconds = parent.recv()
        cpu = time.process_time() - cpu
        process.join()
        quantiles = receiver.stats.latency_quantiles() or (float("nan"), float("nan"))
        commits = receiver.stats.commits
    finally:
        receiver.stop()
    with Ledger.open(path) as ledger:
        rows = ledger.connection.execute("SELECT count(*) FROM observations").fetchone()[0]
    return {
        "packets": acked,
        "seconds": seconds,
        "rate": acked / seconds,
        "p50_ms": quantiles[0] * 1000,
        "p99_ms": quantiles[1] * 1000,
        "commits": commits,
        "rows": rows,
        "cpu_us": cpu / max(acked, 1) * 1e6,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--packets", type=int, default=20000, help="packets in total")
    parser.add_argument("--stations", type=int, default=200, help="stations = connections")
    parser.add_argument("--window", type=int, default=4, help="packets in flight per station")
    parser.add_argument("--rate", type=float, default=2000, help="paced load [packets/s]")
    args = parser.parse_args()
    per_station = max(1, args.packets // args.stations)
    n, window = args.stations, args.window
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        batched = run(folder, n, per_station, window, server.MAX_BATCH_PACKETS)
        paced = run(folder, n, per_station, window, server.MAX_BATCH_PACKETS, args.rate)
        naive = run(folder, n, max(1, per_station // 10), window, 1)
    results = (
        ("envmon, as fast as possible", batched),
        (f"envmon, paced {args.rate:.0f}/s", paced),
        ("baseline: 1 packet/commit", naive),
    )
    for name, r in results:
        print(
            f"{name:28s} {r['packets']:6.0f} packets in {r['seconds']:6.2f} s = "
            f"{r['rate']:6.0f} packets/s; received→committed p50 {r['p50_ms']:7.1f} ms, "
            f"p99 {r['p99_ms']:7.1f} ms; {r['commits']:.0f} commits, {r['rows']:.0f} "
            f"observations; receiver CPU {r['cpu_us']:.0f} µs/packet"
        )
    ratio = batched["rate"] / naive["rate"]
    print(
        f"ratio: {ratio:.1f}× the packets/s of the one-packet-per-commit baseline; "
        f"aim ≥ 2,000 packets/s: {'met' if batched['rate'] >= 2000 else 'NOT met'}; "
        f"p99 < 50 ms at {args.rate:.0f} packets/s: {'met' if paced['p99_ms'] < 50 else 'NOT met'}"
    )


if __name__ == "__main__":
    main()
