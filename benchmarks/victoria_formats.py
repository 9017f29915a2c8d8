"""Experiment: VictoriaMetrics' CPU per point, line protocol against its JSON-line import.

Run from the checkout: ``.venv/bin/python -m benchmarks.bench_publish --formats --sites 1600
--days 3 [--repeat 2] [--keep DIR]`` (needs the Debian package ``victoria-metrics``).

Issue 17's national year is bound by VictoriaMetrics' CPU per point; this measures whether
an explicit VictoriaMetrics publishing mode (``/api/v1/import``, one JSON line per series
with ``values`` and ``timestamps`` arrays) would pay. It builds a national-shape ledger with
``bench_national_year``'s generator (``--sites`` stations, ``--days`` days, areas of ten;
import and evaluation), captures the requests
``Publisher.replay`` sends (time-ordered lines in requests of ``batch_points``), and posts
the same points, each variant to a VictoriaMetrics of its own, ``--repeat`` times
alternating:

* **line protocol** (the named baseline): the captured requests to ``/api/v2/write``, as
  envmon publishes today;
* **JSON, series-day**: the same lines converted to ``/api/v1/import`` lines, one per series
  and local day (24 samples of an hourly series), in requests of about as many samples;
  string fields as 0 (what VictoriaMetrics stores for them from line protocol);
* **JSON, series-day, gzip 1**: the same bodies with ``Content-Encoding: gzip``.

Reported per variant: VictoriaMetrics' CPU (utime + stime from /proc) per line-protocol
line ("point", as ``bench_publish`` counts them), the samples stored (must be equal), the
same-run ratio against the baseline; and envmon's own CPU per line to read the ledger and
build the line protocol (``Publisher.replay`` into a writer that takes everything). The
conversion to JSON here parses line protocol in Python and is not what a real adapter would
cost: it is not counted.
"""

from __future__ import annotations

import gzip
import json
import re
import shutil
import time
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path

import requests

from benchmarks.bench_national_year import FIRST_DAY, FORMAT, SOURCE, generate, write_config
from benchmarks.bench_publish import _cpu_seconds
from monitor.ledger import Ledger
from monitor.ledger.store import LOCAL_OFFSET_S
from monitor.service.evaluate import evaluate_dirty
from monitor.service.pipeline import parse_import_file
from monitor.service.publish import Publisher
from monitor.settings import load_settings
from tests.engines import start_victoria_metrics

WRITE = "/api/v2/write?bucket=envmon&org=envmon&precision=s"
IMPORT = "/api/v1/import"
_LINE = re.compile(r'^((?:[^ \\]|\\.)+) ((?:[^ \\"]|\\.|"(?:[^"\\]|\\.)*")+) (-?\d+)$')
_PART = re.compile(r"(?:[^,\\]|\\.)+")
_TAG = re.compile(r"((?:[^=\\]|\\.)+)=(.*)")
_FIELD = re.compile(r'((?:[^,=\\]|\\.)+)=("(?:[^"\\]|\\.)*"|[^,]*)')
_ESCAPED = re.compile(r"\\([, =])")


class _Capture:
    """A writer that keeps every request's lines."""

    def __init__(self) -> None:
        self.requests: list[list[str]] = []

    def write(self, lines: Sequence[str]) -> None:
        self.requests.append(list(lines))


class _Sink:
    def write(self, lines: Sequence[str]) -> None:
        pass


def build(folder: Path, days: int, stations: int) -> Path:
    """A national-shape ledger (generated archive, imported, evaluated); its config."""
    paths = generate(folder / "archive", days, stations)
    config = write_config(folder, stations, 10)
    settings = load_settings(config, {"ENVMON_INFLUXDB_TOKEN": "bench"})
    with Ledger.open(folder / "ledger.sqlite") as ledger:
        ledger.register_source(SOURCE, FORMAT, "measured")
        for path in paths:
            frame, _ = parse_import_file(path, FORMAT)
            ledger.write_observations(frame, SOURCE, requested=f"import {path}")
        evaluate_dirty(ledger, settings)
    return config


def _unescape(text: str) -> str:
    return _ESCAPED.sub(r"\1", text)


def _head(head: str, cache: dict[str, tuple[str, str]]) -> tuple[str, str]:
    """(measurement, JSON labels text) of a line's head, parsed once per distinct head."""
    found = cache.get(head)
    if found is None:
        measurement, *tags = _PART.findall(head)
        pairs = []
        for tag in tags:
            match = _TAG.fullmatch(tag)
            assert match is not None, tag
            pairs.append((_unescape(match.group(1)), _unescape(match.group(2))))
        labels = "".join(
            f",{json.dumps(k, ensure_ascii=False)}:{json.dumps(v, ensure_ascii=False)}"
            for k, v in sorted(pairs)
        )
        found = cache[head] = (_unescape(measurement), labels)
    return found


def to_import_bodies(lines: Sequence[str], samples_per_body: int) -> list[bytes]:
    """``/api/v1/import`` bodies of the lines: one JSON line per series and local day."""
    cache: dict[str, tuple[str, str]] = {}
    days: dict[int, dict[str, tuple[list[str], list[str]]]] = {}
    for line in lines:
        match = _LINE.match(line)
        assert match is not None, line
        measurement, labels = _head(match.group(1), cache)
        stamp = int(match.group(3))
        series = days.setdefault((stamp + LOCAL_OFFSET_S) // 86400, {})
        for key, value in _FIELD.findall(match.group(2)):
            name = json.dumps(f"{measurement}_{_unescape(key)}", ensure_ascii=False)
            values, stamps = series.setdefault(f'{{"__name__":{name}{labels}}}', ([], []))
            values.append("0" if value.startswith('"') else value)
            stamps.append(f"{stamp * 1000}")
    bodies: list[bytes] = []
    for series in days.values():
        body: list[str] = []
        count = 0
        for metric, (values, stamps) in series.items():
            body.append(
                f'{{"metric":{metric},"values":[{",".join(values)}],'
                f'"timestamps":[{",".join(stamps)}]}}\n'
            )
            count += len(values)
            if count >= samples_per_body:
                bodies.append("".join(body).encode())
                body, count = [], 0
        if body:
            bodies.append("".join(body).encode())
    return bodies


def post_all(
    folder: Path, path: str, bodies: Sequence[bytes], compress: bool
) -> tuple[float, int, int]:
    """VictoriaMetrics' CPU seconds for taking the bodies (a fresh one), the samples stored
    and a digest of them (name, labels, time and value of each; independent of order)."""
    victoria = start_victoria_metrics(folder / f"victoria-{time.time_ns()}")
    try:
        headers = {"Content-Encoding": "gzip"} if compress else {}
        sent = [gzip.compress(b, 1) for b in bodies] if compress else list(bodies)
        with requests.Session() as session:
            before = _cpu_seconds(victoria.process.pid)
            for body in sent:
                session.post(
                    victoria.url + path, data=body, headers=headers, timeout=120
                ).raise_for_status()
            cpu = _cpu_seconds(victoria.process.pid) - before
        stored, digest = 0, 0
        for series in victoria.export():
            metric = tuple(sorted(series["metric"].items()))
            stored += len(series["values"])
            for value, stamp in zip(series["values"], series["timestamps"], strict=True):
                digest = (digest + hash((metric, stamp, float(value).hex()))) % 2**64
    finally:
        victoria.stop()
        shutil.rmtree(victoria.data.parent, ignore_errors=True)
    return cpu, stored, digest


def run_formats(folder: Path, days: int, stations: int, repeat: int) -> None:
    """Build (or reuse) the ledger in ``folder``, then measure: see the module docstring."""
    config = folder / "envmon.toml"
    if not (folder / "ledger.sqlite").exists():
        config = build(folder, days, stations)
    settings = load_settings(config, {"ENVMON_INFLUXDB_TOKEN": "bench"})
    last = FIRST_DAY + timedelta(days=days - 1)
    with Ledger.open(folder / "ledger.sqlite") as ledger:
        capture = _Capture()
        Publisher(ledger, settings, capture).replay(FIRST_DAY, last)
        own = time.process_time()
        Publisher(ledger, settings, _Sink()).replay(FIRST_DAY, last)
        own = time.process_time() - own
    lines = [line for request in capture.requests for line in request]
    points = len(lines)
    fields = sum(len(_FIELD.findall(line.split(" ")[-2])) for line in lines[:1000]) / 1000
    print(f"{points:,} lines in {len(capture.requests)} requests")
    print(f"envmon, ledger to line protocol: {own / points * 1e6:.2f} µs CPU/point")
    write = ["\n".join(request).encode() for request in capture.requests]
    started = time.process_time()
    size = int(settings.influxdb.batch_points * fields)
    imports = to_import_bodies(lines, size)
    print(
        f"converted to {len(imports)} JSON bodies in {time.process_time() - started:.0f} s "
        "(Python parsing of line protocol, not counted)"
    )
    for turn in range(repeat):
        cpu, stored, digest = post_all(folder, WRITE, write, compress=False)
        print(
            f"#{turn} line protocol (baseline): VictoriaMetrics {cpu / points * 1e6:.2f} µs "
            f"CPU/point, {stored:,} samples stored",
            flush=True,
        )
        for name, compress in (("JSON series-day", False), ("JSON series-day gzip 1", True)):
            other, stored, same = post_all(folder, IMPORT, imports, compress=compress)
            print(
                f"#{turn} {name}: VictoriaMetrics {other / points * 1e6:.2f} µs CPU/point, "
                f"{stored:,} samples stored, "
                f"{'the same' if same == digest else 'NOT the same'} as the baseline's; "
                f"{cpu / other:.2f}× less than the baseline; "
                f"with envmon's side equal: {(cpu + own) / (other + own):.2f}×",
                flush=True,
            )
