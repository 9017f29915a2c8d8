"""The ``envmon`` command line.

Exit codes: 0 success; 1 operational failure; 2 bad usage, bad configuration or unusable
input. Errors are printed as one line (or one list) on stderr; ``--debug`` adds the
traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from monitor import __version__
from monitor.errors import ConfigError, EnvmonError, InputError
from monitor.redact import RedactingStream
from monitor.service.progress import Progress

if TYPE_CHECKING:
    import threading

    from monitor.calculator.table import CalcResult
    from monitor.hj212.server import Receiver
    from monitor.influxdb.writer import InfluxWriter
    from monitor.settings import Settings

#: Default settings file when neither ``--config`` nor ``$ENVMON_CONFIG`` is given.
DEFAULT_CONFIG = Path("config/hunnan.toml")

Handler = Callable[[argparse.Namespace], int]


def _config_path(args: argparse.Namespace) -> Path:
    if args.config is not None:
        return Path(args.config)
    env = os.environ.get("ENVMON_CONFIG")
    return Path(env) if env else DEFAULT_CONFIG


def _cmd_config_check(args: argparse.Namespace) -> int:
    from monitor.service.sources import build_collector
    from monitor.settings import (
        hj212_password_problems,
        load_settings,
        mail_security_mismatch,
        required_mail,
        required_secrets,
        resolve_ledger_path,
        summarize,
        unknown_environment,
    )

    settings = load_settings(_config_path(args), os.environ)
    for text in unknown_environment(settings, os.environ):
        print(f"envmon: warning: {text}", file=sys.stderr)
    ledger = resolve_ledger_path(args.ledger, settings, os.environ)
    problems: list[str] = hj212_password_problems(settings)
    for source in settings.sources:  # every collector must be buildable from its settings
        try:
            build_collector(source, settings)
        except ConfigError as err:
            problems.extend(err.problems)
        except ValueError as err:
            problems.append(f"sources: {source.name!r}: {err}")
    if problems:
        raise ConfigError(problems, source=str(settings.source))
    missing = required_secrets(settings) + required_mail(settings)
    mismatch = mail_security_mismatch(settings)
    summary = summarize(settings, ledger)
    if missing or mismatch:  # not OK: say so where the summary would
        summary = summary.replace("\nsettings OK", "\nsettings INCOMPLETE (see the errors)")
    print(summary)
    for env, why in missing:
        print(f"error: {env} is not set: {why}", file=sys.stderr)
    for text in mismatch:
        print(f"error: {text}", file=sys.stderr)
    return 2 if missing or mismatch else 0


def _write_result(result: CalcResult, out: str | None) -> None:
    if out is None or out == "-":
        sys.stdout.write(result.to_csv_bytes().decode("utf-8"))
    else:
        result.write_csv(out)  # written by the columnar engine, not held as bytes


def _area_membership(args: argparse.Namespace) -> dict[str, list[str]]:
    """Area id → codes and Chinese names of the stations averaged for it, from the settings."""
    from monitor.settings import load_settings

    settings = load_settings(_config_path(args), os.environ)
    return {
        area.id: [
            name
            for station in settings.averaged_stations(area.id)
            for name in (station.code, station.name_zh)
        ]
        for area in settings.areas
    }


def _read_input_ahead(args: argparse.Namespace) -> None:
    """In a process that ends with the calculation (:func:`main`), its input file is read
    while the calculator's modules are imported."""
    if getattr(args, "ends_process", False):
        from monitor.calculator import read_ahead

        read_ahead(Path(args.input))


def _cmd_calc_aqi(args: argparse.Namespace) -> int:
    _read_input_ahead(args)
    from monitor.calculator.air import compute_aqi_csv

    membership = _area_membership(args) if args.areas else None
    result = compute_aqi_csv(
        Path(args.input),
        standard=args.standard,
        scale=args.scale,
        hourly_method=args.hourly_method,
        missing=args.missing,
        mda8_windows=args.mda8_windows,
        areas=membership,
    )
    _write_result(result, args.output)
    for line in result.warnings:
        print(f"envmon: warning: {line}", file=sys.stderr)
    return 0


def _cmd_calc_water_class(args: argparse.Namespace) -> int:
    _read_input_ahead(args)
    from monitor.calculator.water import compute_water_class_csv

    result = compute_water_class_csv(Path(args.input), target_reference=args.reference)
    _write_result(result, args.output)
    for line in result.warnings:
        print(f"envmon: warning: {line}", file=sys.stderr)
    return 0


def _load(args: argparse.Namespace) -> tuple[Settings, Path]:
    """Settings and the ledger path, as every ledger command needs them."""
    from monitor.settings import load_settings, resolve_ledger_path

    settings = load_settings(_config_path(args), os.environ)
    return settings, resolve_ledger_path(args.ledger, settings, os.environ)


def _existing_ledger(path: Path) -> None:
    """Commands that only read refuse a ledger that does not exist (a mistyped path)."""
    if not path.exists():
        raise InputError(
            f"no ledger at {path}; check --ledger, [ledger] path or $ENVMON_LEDGER, or collect "
            "or import data first"
        )


def _local_date(text: str, option: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InputError(f"{option} {text!r} is not a date; expected YYYY-MM-DD") from None


def _log_to_stderr(args: argparse.Namespace) -> None:
    """Log lines with time, level and logger on stderr (long-running commands)."""
    import logging

    logging.basicConfig(
        level=logging.DEBUG if args.debug else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    if not args.debug:
        # APScheduler logs every job added and every run at INFO ("Adding job tentatively",
        # "Running job …"): envmon logs what a run did itself; its warnings still show.
        logging.getLogger("apscheduler").setLevel(logging.WARNING)


def _cmd_run(args: argparse.Namespace) -> int:
    import logging

    from monitor.service.daemon import Daemon
    from monitor.settings import unknown_environment

    _log_to_stderr(args)
    settings, ledger = _load(args)
    for text in unknown_environment(settings, os.environ):
        logging.getLogger("envmon").warning(text)
    _require_hj212_passwords(settings, listening=False)
    return Daemon(settings, ledger).run()


def _require_hj212_passwords(settings: Settings, *, listening: bool) -> None:
    """Commands that open the HJ 212 receiver need every station's password (exit 2)."""
    from monitor.settings import hj212_password_problems

    problems = hj212_password_problems(settings, listening=listening)
    if problems:
        raise ConfigError(problems, source=str(settings.source))


def _cmd_collect(args: argparse.Namespace) -> int:
    from datetime import UTC, datetime

    from monitor.ledger import Ledger
    from monitor.service.pipeline import collection_window, ingest
    from monitor.service.sources import build_collector, find_source

    settings, path = _load(args)
    source = find_source(settings, args.source)
    collector = build_collector(source, settings)
    while True:
        with Ledger.open(path) as ledger:
            since, until = collection_window(ledger, source, datetime.now(UTC))
            report = ingest(ledger, settings, source, collector, since, until)
        _print_refused(report.refused)
        print(f"{source.name}: {report.summary()}")
        if args.once:
            return 0
        time.sleep(source.interval_minutes * 60)


def _cmd_backfill(args: argparse.Namespace) -> int:
    from monitor.ledger import Ledger
    from monitor.service.pipeline import backfill
    from monitor.service.sources import build_collector, find_source

    first = _local_date(args.date_from, "--from")
    last = _local_date(args.date_to, "--to")
    if last < first:
        raise InputError(f"--to {last} is before --from {first}; expected a forward range")
    settings, path = _load(args)
    source = find_source(settings, args.source)
    collector = build_collector(source, settings)
    days = (last - first).days + 1
    bar = Progress(days, f"backfill {source.name}")
    evaluation = _EvaluationBar()
    with Ledger.open(path) as ledger:
        report = backfill(
            ledger,
            settings,
            source,
            collector,
            first,
            last,
            on_day=lambda n, _: bar.update(n),
            on_evaluate=evaluation.update,
        )
    _print_refused(report.refused)
    print(f"{source.name}: {report.summary()}")
    for line in report.warnings:
        print(f"envmon: failed day {line}", file=sys.stderr)
    if report.warnings:
        print(
            f"envmon: {len(report.warnings)} day(s) failed; run the backfill again for them",
            file=sys.stderr,
        )
        return 1
    return 0


def _print_refused(refused: list[str], limit: int = 20) -> None:
    """Rows the intake check refused (also in the fetch log), the first ``limit`` of them."""
    for line in refused[:limit]:
        print(f"envmon: refused: {line}", file=sys.stderr)
    if len(refused) > limit:
        print(f"envmon: refused: … and {len(refused) - limit} more", file=sys.stderr)


class _EvaluationBar:
    """Progress bars for the evaluation after an ingest, one per stage (evaluating the
    changed days, then the targets' progress series), each created on its first update."""

    def __init__(self) -> None:
        self.bars: dict[str, Progress] = {}

    def update(self, done: int, total: int, stage: str) -> None:
        bar = self.bars.get(stage)
        if bar is None:
            bar = self.bars[stage] = Progress(total, stage)
        bar.update(done)


def _cmd_import(args: argparse.Namespace) -> int:
    from monitor.ledger import Ledger
    from monitor.service.pipeline import import_files

    settings, path = _load(args)
    files = [Path(f) for f in args.files]
    bar = Progress(len(files), f"import {args.format}")
    with Ledger.open(path) as ledger:
        report = import_files(
            ledger,
            settings,
            args.format,
            files,
            on_file=lambda n, _: bar.update(n),
            on_evaluate=_EvaluationBar().update,
        )
    for line in report.warnings[:20]:
        print(f"envmon: warning: {line}", file=sys.stderr)
    if len(report.warnings) > 20:
        print(f"envmon: warning: … and {len(report.warnings) - 20} more", file=sys.stderr)
    print(report.summary())
    return 0


def _cmd_status(args: argparse.Namespace) -> int:
    from datetime import UTC, datetime

    from monitor.ledger import Ledger
    from monitor.service.export import site_status, source_status

    settings, path = _load(args)
    _existing_ledger(path)
    with Ledger.open(path) as ledger:
        sources = source_status(ledger)
        sites = site_status(ledger, datetime.now(UTC))
        dirty = len(ledger.dirty_days())
        unevaluated = ledger.evaluation_failures()
    configured = {s.name: s for s in settings.sources}
    print(f"ledger: {path}")
    print("sources:")
    if sources.empty and not configured:
        print("  none configured and nothing collected yet")
    seen = set()
    for row in sources.to_dict("records"):
        seen.add(str(row["source"]))
        failures = int(row["failures_since_success"])
        refused = int(row.get("refused_since_success", 0))
        state = "FAILING" if failures else "REFUSED AT INTAKE" if refused else "ok"
        print(
            f"  {row['source']} ({row['collector']}, {row['kind']}): "
            f"{state}; last success {row['last_success'] or 'never'}; "
            f"failures since {failures}; latest data {row['latest_data'] or 'none'}"
            + (f"; last error: {row['last_error']}" if failures else "")
            + (
                f"; {refused} batch(es) wholly refused since ({row['last_refused_note']})"
                if refused
                else ""
            )
            + (f"; open {row['open_gaps']}" if row.get("open_gaps") else "")
        )
    for name, source in configured.items():
        if name not in seen:
            print(f"  {name} ({source.collector}): never collected")
    print("sites (last 24 h):")
    if sites.empty:
        print("  no air observations in the last 24 hours")
    for row in sites.to_dict("records"):
        print(
            f"  {row['site']}: completeness {float(row['completeness_24h']):.0%}, "
            f"latest {row['latest']}, QC flags {row['qc_flags_24h']}"
        )
    if dirty:
        print(f"{dirty} site-day(s) waiting for evaluation")
    if len(unevaluated):
        print(f"evaluation: FAILING for {len(unevaluated)} day(s), retried on every run:")
    for row in unevaluated.to_dict("records"):
        since = datetime.fromtimestamp(int(row["first_failed"]), UTC).isoformat()
        print(
            f"  {row['scope']} {row['site']} {row['date']}: failing since {since}, "
            f"{row['attempts']} attempt(s): {row['error']}"
        )
    return 0


def _cmd_export(args: argparse.Namespace) -> int:
    from monitor.ledger import Ledger
    from monitor.service.export import write_daily_aqi, write_hourly_aqi, write_observations

    first = _local_date(args.date_from, "--from")
    last = _local_date(args.date_to, "--to")
    if last < first:
        raise InputError(f"--to {last} is before --from {first}; expected a forward range")
    _, path = _load(args)
    _existing_ledger(path)
    sites = args.site or None
    with Ledger.open(path) as ledger:  # written piece by piece: memory bounded, any range
        if args.what == "observations":
            write_observations(ledger, first, last, sys.stdout, sites)
        elif args.what == "hourly-aqi":
            write_hourly_aqi(ledger, first, last, sys.stdout, sites, args.standard)
        else:
            write_daily_aqi(ledger, first, last, sys.stdout, sites, args.standard)
    return 0


def _influx_writer(settings: Settings) -> InfluxWriter:
    """The InfluxDB adapter of the settings; the token must be in the environment."""
    from monitor.influxdb.writer import InfluxWriter

    if settings.secrets.influxdb_token is None:
        raise ConfigError(
            [
                "ENVMON_INFLUXDB_TOKEN is not set; expected an InfluxDB API token with write "
                f"access to bucket {settings.influxdb.bucket!r} (for VictoriaMetrics any "
                "non-empty value)"
            ],
            source="environment",
        )
    return InfluxWriter(settings.influxdb, settings.secrets.influxdb_token)


def _cmd_publish(args: argparse.Namespace) -> int:
    from monitor.errors import PublishError
    from monitor.ledger import Ledger
    from monitor.service.publish import Publisher

    if args.replay and args.date_from is None:
        raise InputError("--replay needs --from DATE (YYYY-MM-DD): the first day to replay")
    if not args.replay and (args.date_from or args.date_to):
        raise InputError("--from and --to go with --replay; without it the outbox is sent")
    settings, path = _load(args)
    _existing_ledger(path)
    with Ledger.open(path) as ledger, _influx_writer(settings) as writer:
        publisher = Publisher(ledger, settings, writer)
        try:
            if args.replay:
                first = _local_date(args.date_from, "--from")
                last = _local_date(args.date_to, "--to") if args.date_to else _today()
                if last < first:
                    raise InputError(
                        f"--to {last} is before --from {first}; expected a forward range"
                    )
                bar = Progress((last - first).days + 1, "replay")
                report = publisher.replay(first, last, on_day=lambda n, _: bar.update(n))
            else:
                pending, _ = ledger.outbox_stats()
                drain_bar = Progress(pending, "publish")
                report = publisher.drain(on_batch=lambda n, _: drain_bar.update(n))
                publisher.health_round(started_at=time.time())
        except PublishError as err:
            pending, _ = ledger.outbox_stats()
            print(
                f"envmon: {err}; {pending} site-day(s) still queued: run `envmon publish` "
                "again later (the daemon retries by itself)",
                file=sys.stderr,
            )
            return 1
    print(report.summary())
    return 0


def _cmd_influx_check(args: argparse.Namespace) -> int:
    settings, _ = _load(args)
    with _influx_writer(settings) as writer:
        report = writer.check(create_bucket=args.create_bucket)
    print("\n".join(report.lines))
    return 0 if report.ok else 1


def _cmd_grafana_build(args: argparse.Namespace) -> int:
    from monitor.grafana import files
    from monitor.settings import load_settings

    settings = load_settings(_config_path(args), os.environ)
    report = files.write(settings, Path(args.out))
    for path, action in report:
        print(f"{path}: {action}")
    written = sum(action == "written" for _, action in report)
    print(f"{written} file(s) written, {len(report) - written} unchanged")
    return 0


def _cmd_grafana_provision(args: argparse.Namespace) -> int:
    from monitor.grafana import api
    from monitor.settings import load_settings

    settings = load_settings(_config_path(args), os.environ)
    report = api.provision(settings, args.url)
    for line in report.lines():
        print(line)
    print(f"{report.changed} change(s) made at {args.url or settings.grafana.url}")
    return 0


def _cmd_grafana_check(args: argparse.Namespace) -> int:
    from monitor.grafana import api
    from monitor.settings import load_settings

    settings = load_settings(_config_path(args), os.environ)
    checks = api.check(settings, args.url)
    for item in checks:
        print(f"{'ok  ' if item.ok else 'FAIL'} {item.what}: {item.detail}")
    failed = sum(not c.ok for c in checks)
    print(f"{len(checks) - failed} of {len(checks)} check(s) passed")
    return 1 if failed else 0


def _cmd_progress(args: argparse.Namespace) -> int:
    import json

    from monitor.ledger import Ledger
    from monitor.service.progress_targets import compute_progress

    settings, path = _load(args)
    # By default up to the last complete day: today's daily AQI cannot exist yet.
    last_complete = _today() - timedelta(days=1)
    as_of = _local_date(args.as_of, "--as-of") if args.as_of else last_complete
    year = args.year or as_of.year
    if args.as_of is None and year != last_complete.year:
        # a past year: all of it; a future year: nothing has elapsed yet
        as_of = date(year, 12, 31) if year < last_complete.year else date(year - 1, 12, 31)
    known = [t.id for t in settings.targets]
    if args.target is not None and args.target not in known:
        raise InputError(
            f"unknown target {args.target!r}; configured targets: {', '.join(known) or 'none'}"
        )
    with Ledger.open(path) as ledger:
        rows = compute_progress(ledger, settings, as_of=as_of, year=year, target_id=args.target)
    if args.json:
        print(json.dumps([r.as_json() for r in rows], ensure_ascii=False, indent=2, default=str))
        return 0
    if not rows:
        print(f"no target for {year} in the settings")
        return 0
    print(f"progress as of {max(min(as_of, date(year, 12, 31)), date(year - 1, 12, 31))} ({year})")
    for r in rows:
        value = (
            "—"
            if r.value is None
            else (
                f"{r.value * 100:.1f}%"
                if r.kind in ("good_day_ratio", "river_class")
                else f"{r.value:g}"
            )
        )
        goal = (
            "—"
            if r.goal is None
            else (
                f"{r.goal * 100:.0f}%"
                if r.kind in ("good_day_ratio", "river_class")
                else f"{r.goal:g}"
            )
        )
        extra = ""
        if r.budget_remaining is not None:
            extra += f"  budget {r.budget_remaining}"
        if r.projection_low is not None and r.projection_high is not None:
            scale = 100 if r.kind == "good_day_ratio" else 1
            unit = "%" if r.kind == "good_day_ratio" else ""
            extra += (
                f"  projected {r.projection_low * scale:.1f}{unit}–"
                f"{r.projection_high * scale:.1f}{unit}"
            )
        if r.withheld_days:
            extra += (
                f"  withheld {r.withheld_days} day(s): ratio "
                f"{(r.ratio_low or 0) * 100:.1f}%–{(r.ratio_high or 0) * 100:.1f}%"
            )
        print(f"  {r.id} [{r.variant}] {r.status}: {value} (goal {goal}){extra}")
        print(f"      {r.explanation_zh if args.lang == 'zh' else r.explanation_en}")
    return 0


def _today() -> date:
    from datetime import datetime
    from zoneinfo import ZoneInfo

    return datetime.now(ZoneInfo("Asia/Shanghai")).date()


def _cmd_indicator_set(args: argparse.Namespace) -> int:
    from monitor.ledger import Ledger
    from monitor.service.progress_targets import refresh_progress
    from monitor.settings import MilestonesTarget

    settings, path = _load(args)
    day = _local_date(args.date, "--date")
    target = next((t for t in settings.targets if t.id == args.target), None)
    if target is None:
        known = ", ".join(t.id for t in settings.targets) or "none"
        raise InputError(f"unknown target {args.target!r}; configured targets: {known}")
    from monitor.collectors.bureau_csv import check_indicator_value

    items = tuple(i.name for i in target.items) if isinstance(target, MilestonesTarget) else ()
    problems = check_indicator_value(
        target.kind, args.value, args.item or "", items, target.year, day.isoformat()
    )
    if problems:
        raise InputError(f"{target.id}: " + "; ".join(problems))
    with Ledger.open(path) as ledger:
        ledger.add_indicator_value(
            target.id, day.isoformat(), args.value, item=args.item or "", note=args.note or ""
        )
        refresh_progress(ledger, settings, (day.isoformat(),), _today())
    print(
        f"{target.id}: recorded {args.value!r} for {day}"
        + (f" ({args.item})" if args.item else "")
    )
    return 0


def _cmd_report(args: argparse.Namespace) -> int:
    from monitor.ledger import Ledger
    from monitor.reports.mail import MailError
    from monitor.service.reporting import default_day, report_folder, send_report, write_report

    settings, path = _load(args)
    kind = args.report_kind
    day = _local_date(args.date, "--date") if args.date else default_day(kind, _today())
    folder = report_folder(settings, args.out)
    with Ledger.open(path) as ledger:
        written = write_report(ledger, settings, kind, day, folder, send=args.send)
        print(f"{kind} report {written.period}: {written.html}")
        print(f"  plain text {written.text}; email {written.eml}")
        if written.pdf is not None:
            print(f"  PDF {written.pdf}")
        if not args.send:
            return 0
        entry = written.entry
        if entry.status == "sent":
            print(f"  already sent at {_local_time(entry.sent_at)}; not sent again")
            return 0
        try:
            outcome = send_report(ledger, settings, kind, written.period, force=args.force)
        except MailError as err:
            raise MailError(
                f"{kind} report {written.period} written to {written.html} but not sent: {err}; "
                "the daemon retries it (or run this command again)"
            ) from err
        if outcome.startswith("busy"):  # nothing sent by this run: say so, not exit 0
            print(f"envmon: {kind} report {written.period} {outcome}", file=sys.stderr)
            return 1
        print(f"  {outcome}: {', '.join(entry.recipients)}")
    return 0


def _local_time(seconds: int | None) -> str:
    from datetime import datetime
    from zoneinfo import ZoneInfo

    if seconds is None:
        return "?"
    return datetime.fromtimestamp(seconds, ZoneInfo("Asia/Shanghai")).strftime("%Y-%m-%d %H:%M")


def _cmd_hj212_send(args: argparse.Namespace) -> int:
    from monitor.hj212.client import packets_from_csv, send_packets
    from monitor.settings import load_settings

    packets = packets_from_csv(Path(args.file), default_cn=args.cn)
    host, port, envs = args.host, args.port, {}
    try:
        settings = load_settings(_config_path(args), os.environ)
    except ConfigError:
        if args.password_env is None or host is None or port is None:
            raise
    else:
        host = host if host is not None else settings.hj212.host
        port = port if port is not None else settings.hj212.port
        envs = {s.mn: s.password_env for s in settings.hj212.stations}

    def password(mn: str) -> str:
        name = args.password_env or envs.get(mn)
        if name is None:
            raise InputError(
                f"no password for MN {mn}: give --password-env NAME or list the station in "
                "[[hj212.stations]] with its password_env"
            )
        value = os.environ.get(name, "")
        if not value:
            raise InputError(f"environment variable {name} (password of MN {mn}) is not set")
        return value

    report = send_packets(
        packets,
        host=host if host != "0.0.0.0" else "127.0.0.1",
        port=port,
        password=password,
        st=args.st,
        flag=4 if args.no_ack else 5,
        timeout=args.timeout,
    )
    print(report.summary())
    return 0 if report.refused == 0 and report.unanswered == 0 else 1


def _cmd_hj212_listen(args: argparse.Namespace) -> int:
    import signal
    import threading

    from monitor.hj212.server import Receiver

    _log_to_stderr(args)
    settings, ledger = _load(args)
    if not settings.hj212.stations:
        raise ConfigError(
            [
                "hj212.stations: no station registered; add [[hj212.stations]] with mn, site "
                "and password_env"
            ],
            source=str(settings.source),
        )
    _require_hj212_passwords(settings, listening=True)
    receiver = Receiver(settings.hj212, ledger)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    port = receiver.start()
    print(f"listening for HJ 212 on {settings.hj212.host}:{port}", file=sys.stderr)
    listen_and_evaluate(
        receiver, settings, ledger, stop, settings.hj212.evaluate_interval_minutes * 60.0
    )
    return 0


def listen_and_evaluate(
    receiver: Receiver, settings: Settings, ledger: Path, stop: threading.Event, every_s: float
) -> None:
    """Until ``stop``: evaluate what the running receiver stored every ``every_s`` seconds
    (the daemon's ``evaluate_interval_minutes``), then stop the receiver and evaluate what
    it committed last. Publishing is left to ``envmon publish`` (the outbox keeps it)."""
    import logging

    from monitor.ledger import Ledger
    from monitor.service.pipeline import evaluate_dirty

    log = logging.getLogger("envmon.hj212")

    def evaluate() -> None:
        try:
            with Ledger.open(ledger) as open_ledger:
                if not open_ledger.dirty_days().empty:
                    report = evaluate_dirty(open_ledger, settings)
                    log.info("hj212: evaluated %d site-day(s)", report.site_days)
        except EnvmonError as err:  # the receiver goes on; the days stay dirty
            log.warning("hj212: evaluation failed: %s", err)
        except Exception:  # as the daemon's scheduler: the receiver must outlive it
            log.exception("hj212: unexpected error in the evaluation")

    try:
        while not stop.wait(every_s):
            evaluate()
    finally:
        receiver.stop()
    evaluate()


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``envmon`` (for tests and docs/reference/cli.md, made from it)."""
    parser = argparse.ArgumentParser(
        prog="envmon",
        description="Environmental indicator monitoring: official AQI, water class, targets.",
    )
    parser.add_argument("--version", action="version", version=f"envmon {__version__}")
    parser.add_argument(
        "--config",
        metavar="PATH",
        help=f"settings file (default: $ENVMON_CONFIG, else {DEFAULT_CONFIG})",
    )
    parser.add_argument(
        "--ledger",
        metavar="PATH",
        help="ledger database (default: from config, else $ENVMON_LEDGER)",
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    config = commands.add_parser("config", help="check the settings")
    config_commands = config.add_subparsers(dest="config_command", metavar="ACTION", required=True)
    check = config_commands.add_parser(
        "check", help="validate the settings file and environment; exit 2 listing every problem"
    )
    check.set_defaults(handler=_cmd_config_check)

    calc = commands.add_parser("calc", help="compute official figures from a CSV export")
    calc_commands = calc.add_subparsers(dest="calc_command", metavar="FIGURE", required=True)

    aqi = calc_commands.add_parser(
        "aqi",
        help="AQI per HJ 633-2012 / HJ 633-2026, hourly (real-time) or daily",
        description=(
            "Input CSV: site,time and any of so2,no2,co,o3,pm10,pm2_5 (1-hour means; µg/m³, "
            "CO mg/m³). time is ISO 8601, Asia/Shanghai when it has no offset, and labels "
            "the hour by its end as the national platform does."
        ),
    )
    aqi.add_argument(
        "--standard",
        choices=["hj633-2012", "hj633-2026", "auto"],
        default="auto",
        help="rule set; auto: HJ 633-2012 up to 2026-02-28, HJ 633-2026 from 2026-03-01",
    )
    aqi.add_argument("--scale", choices=["hour", "day"], default="hour")
    aqi.add_argument(
        "--hourly-method",
        choices=["platform", "standard-text"],
        default="platform",
        help=(
            "platform (default): 1-hour values, PM on the 24-hour breakpoints, as the national "
            "platform publishes; standard-text: HJ 633-2012 §5.1.3 real-time indicators "
            "(24-hour moving PM, O3 8-hour moving mean) for 2012 hours"
        ),
    )
    aqi.add_argument(
        "--missing",
        choices=["present", "hj633-2026"],
        default="present",
        help=(
            "present (default): AQI from the pollutants present, as published; hj633-2026: "
            "§5.3 — with a pollutant missing, the AQI is given only when above 100 (what "
            "the ledger, exports and reports store for 2026 rows)"
        ),
    )
    aqi.add_argument(
        "--mda8-windows",
        choices=["within-day", "ending-in-day"],
        default="within-day",
        help=(
            "O3 daily max 8-hour windows, the O3 day being 01:00 … 24:00 (the next date's "
            "00:00): within-day (default; the 17 windows ending 08:00 … 24:00, HJ 663-2013 "
            "and the platform) or ending-in-day (24 windows ending 01:00 … 24:00, reaching "
            "into the previous day)"
        ),
    )
    aqi.add_argument(
        "--areas",
        action="store_true",
        help=(
            "also compute each configured area (district, city): the mean of its evaluation "
            "stations' concentrations, then the AQI; rows with site = the area id"
        ),
    )
    aqi.add_argument("input", metavar="IN.csv")
    aqi.add_argument("-o", "--output", metavar="OUT.csv", help="output file (default: stdout)")
    aqi.set_defaults(handler=_cmd_calc_aqi, end_at_once=True, data_output=True)

    water = calc_commands.add_parser(
        "water-class",
        help="surface-water class per GB 3838-2002, single-factor method (环办〔2011〕22号)",
        description=(
            "Input CSV: site,time, optional water_body (river, lake, reservoir; default river) "
            "and any GB 3838-2002 Table 1 item (mg/L; fecal_coliform per litre)."
        ),
    )
    water.add_argument(
        "--reference",
        choices=["I", "II", "III", "IV", "V"],
        default="III",
        help="class the exceedance multiples are measured against (default III)",
    )
    water.add_argument("input", metavar="IN.csv")
    water.add_argument("-o", "--output", metavar="OUT.csv", help="output file (default: stdout)")
    water.set_defaults(handler=_cmd_calc_water_class, end_at_once=True, data_output=True)

    run = commands.add_parser(
        "run",
        help="the daemon: collect every enabled source on its schedule, evaluate, serve /healthz",
    )
    run.set_defaults(handler=_cmd_run)

    collect = commands.add_parser("collect", help="collect one source now and evaluate")
    collect.add_argument("source", metavar="SOURCE", help="a [[sources]] name from the settings")
    collect.add_argument(
        "--once", action="store_true", help="collect once and exit (else repeat on its interval)"
    )
    collect.set_defaults(handler=_cmd_collect)

    backfill = commands.add_parser(
        "backfill", help="collect a past period of one source, day by day, and evaluate"
    )
    backfill.add_argument("source", metavar="SOURCE")
    backfill.add_argument("--from", dest="date_from", metavar="DATE", required=True)
    backfill.add_argument("--to", dest="date_to", metavar="DATE", required=True)
    backfill.set_defaults(handler=_cmd_backfill)

    importer = commands.add_parser(
        "import", help="import files (national archive CSV, long CSV, Excel) and evaluate"
    )
    importer.add_argument(
        "--format",
        choices=["cnemc-sites-csv", "long-csv", "xlsx", "daily-aqi-csv", "indicators-csv"],
        required=True,
    )
    importer.add_argument("files", metavar="FILE", nargs="+")
    importer.set_defaults(handler=_cmd_import)

    publish = commands.add_parser(
        "publish", help="send the ledger to InfluxDB: what is queued, or --replay a date range"
    )
    publish.add_argument(
        "--replay", action="store_true", help="rebuild a date range from the ledger"
    )
    publish.add_argument("--from", dest="date_from", metavar="DATE", help="first day to replay")
    publish.add_argument(
        "--to", dest="date_to", metavar="DATE", help="last day to replay (default: today)"
    )
    publish.set_defaults(handler=_cmd_publish)

    influx = commands.add_parser("influx", help="the InfluxDB envmon publishes to")
    influx_commands = influx.add_subparsers(dest="influx_command", required=True)
    influx_check = influx_commands.add_parser(
        "check", help="is InfluxDB reachable, the token valid and the bucket present?"
    )
    influx_check.add_argument(
        "--create-bucket", action="store_true", help="create the bucket when it is missing"
    )
    influx_check.set_defaults(handler=_cmd_influx_check)

    grafana = commands.add_parser("grafana", help="Grafana dashboards and alert rules")
    grafana_commands = grafana.add_subparsers(dest="grafana_command", required=True)
    grafana_build = grafana_commands.add_parser(
        "build", help="write dashboards/*.json and config/grafana/provisioning/*"
    )
    grafana_build.add_argument(
        "--out", metavar="DIR", default=".", help="folder to write under (default: .)"
    )
    grafana_build.set_defaults(handler=_cmd_grafana_build)
    for name, handler, text in (
        ("provision", _cmd_grafana_provision, "push everything to a running Grafana"),
        ("check", _cmd_grafana_check, "are datasource, dashboards and rules in place?"),
    ):
        sub = grafana_commands.add_parser(name, help=text)
        sub.add_argument("--url", metavar="URL", help="Grafana base URL (default: [grafana] url)")
        sub.set_defaults(handler=handler)

    status = commands.add_parser(
        "status", help="per source: last success, failures; per site: completeness, QC flags"
    )
    status.set_defaults(handler=_cmd_status)

    export = commands.add_parser("export", help="CSV on stdout from the ledger")
    export.add_argument("--from", dest="date_from", metavar="DATE", required=True)
    export.add_argument("--to", dest="date_to", metavar="DATE", required=True)
    export.add_argument("--site", action="append", metavar="S", help="repeatable; default all")
    export.add_argument(
        "--what", choices=["observations", "hourly-aqi", "daily-aqi"], default="observations"
    )
    export.add_argument(
        "--standard",
        choices=["official", "hj633-2012", "hj633-2026"],
        default="official",
        help="AQI rows: the rule set in force on each date (default) or one rule set throughout",
    )
    export.set_defaults(handler=_cmd_export, data_output=True)

    progress = commands.add_parser(
        "progress", help="progress toward the plan's targets, and the room left this year"
    )
    progress.add_argument("--year", type=int, metavar="Y", help="target year (default: this)")
    progress.add_argument("--target", metavar="ID", help="one target only")
    progress.add_argument("--as-of", dest="as_of", metavar="DATE", help="count days up to DATE")
    progress.add_argument("--json", action="store_true", help="a JSON list instead of a table")
    progress.add_argument(
        "--lang", choices=["zh", "en"], default="zh", help="language of the explanations"
    )
    progress.set_defaults(handler=_cmd_progress)

    indicator = commands.add_parser("indicator", help="manually reported target values")
    indicator_commands = indicator.add_subparsers(
        dest="indicator_command", metavar="ACTION", required=True
    )
    setter = indicator_commands.add_parser(
        "set", help="record a value (kept with its time and note: an audit trail)"
    )
    setter.add_argument("target", metavar="TARGET")
    setter.add_argument("value", metavar="VALUE", help="a number, or a milestone status")
    setter.add_argument("--date", required=True, metavar="D")
    setter.add_argument("--item", metavar="NAME", help="the milestone item (milestones targets)")
    setter.add_argument("--note", metavar="TEXT")
    setter.set_defaults(handler=_cmd_indicator_set)

    report = commands.add_parser(
        "report", help="write the daily digest or the monthly report (HTML, text, email)"
    )
    report_kinds = report.add_subparsers(dest="report_kind", metavar="KIND", required=True)
    for kind, what, default in (
        ("daily", "the day reported", "yesterday"),
        ("monthly", "any day of the month reported", "last month"),
    ):
        sub = report_kinds.add_parser(kind, help=f"the {kind} report")
        sub.add_argument(
            "--date", metavar="D", help=f"{what} (YYYY-MM-DD; default {default}, Asia/Shanghai)"
        )
        sub.add_argument(
            "--out", metavar="DIR", help="folder to write to (default: [reports] folder)"
        )
        sub.add_argument(
            "--send",
            action="store_true",
            help="also email it to the configured recipients (never twice; retried if it fails)",
        )
        sub.add_argument(
            "--force",
            action="store_true",
            help="with --send: take over a sending claim left by a process that crashed",
        )
        sub.set_defaults(handler=_cmd_report)
    hj212 = commands.add_parser("hj212", help="the HJ 212-2017 receiver and a test client")
    hj212_commands = hj212.add_subparsers(dest="hj212_command", metavar="ACTION", required=True)
    send = hj212_commands.add_parser(
        "send", help="build HJ 212 packets from a CSV and send them (field tests, demos)"
    )
    send.add_argument("file", metavar="FILE.csv", help="mn,time,code,value[,cn,flag,statistic]")
    send.add_argument("--host", help="receiver address (default: [hj212] host)")
    send.add_argument("--port", type=int, help="receiver port (default: [hj212] port)")
    send.add_argument(
        "--password-env",
        metavar="NAME",
        help="environment variable holding the password (default: the station's password_env)",
    )
    send.add_argument(
        "--cn",
        choices=["2011", "2051", "2061", "2031"],
        default="2061",
        help="command of rows without a cn column (default 2061, hourly data)",
    )
    send.add_argument("--st", default="22", help="system code ST (default 22, air quality)")
    send.add_argument(
        "--no-ack", action="store_true", help="send Flag=4: no acknowledgement requested"
    )
    send.add_argument(
        "--timeout", type=float, default=5.0, help="seconds to wait for each answer (default 5)"
    )
    send.set_defaults(handler=_cmd_hj212_send)
    listen = hj212_commands.add_parser(
        "listen",
        help="run only the HJ 212 receiver (no scheduled sources) until Ctrl-C, evaluating "
        "what it stores every [hj212] evaluate_interval_minutes",
    )
    listen.set_defaults(handler=_cmd_hj212_listen)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``envmon``; returns the exit code.

    Run as the program (no ``argv``: the ``envmon`` command, ``python -m monitor``), a
    calculation (``envmon calc``) ends the process as soon as its output is written and
    flushed: it holds nothing to close, and tearing its arrays and numpy's and polars'
    modules down one object at a time would take 0.1–0.2 s more at 1,000,000 rows. Its
    input file is read while the calculator's modules are imported.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Handler = args.handler
    streams = sys.stdout, sys.stderr
    # A command whose standard output is data (a CSV: `export`, `calc`) writes it as it is,
    # as it writes a file with `-o`: the secrets are masked as whole words, and a data cell
    # that happens to read as one (an HJ 212 password `123456`, a count of 123456) must not
    # become `********`. Its messages on standard error are masked as every command's.
    if not getattr(args, "data_output", False):
        sys.stdout = RedactingStream(sys.stdout)
    sys.stderr = RedactingStream(sys.stderr)
    args.ends_process = argv is None and getattr(args, "end_at_once", False)
    try:
        code = _run(handler, args)
    finally:
        sys.stdout, sys.stderr = streams
    if args.ends_process:
        _end_at_once(code)
    return code


def _end_at_once(code: int) -> None:
    """End the process with ``code`` once standard output and error are flushed (if they
    cannot be, the interpreter's own exit reports it, as without this). A stream the
    process was started without (``>&-``: Python's is None) has nothing to flush.

    ``os._exit`` skips the ``atexit`` handlers: :func:`logging.shutdown` (one of them, when
    logging is in use) is called first, so logging handlers are flushed and closed."""
    logging = sys.modules.get("logging")  # (not imported for this: none to shut down then)
    if logging is not None:
        logging.shutdown()
    try:
        for stream in (sys.stdout, sys.stderr):
            if stream is not None:
                stream.flush()
    except (OSError, ValueError):
        return
    os._exit(code)


def _run(handler: Handler, args: argparse.Namespace) -> int:
    """Run one command; EnvmonError → its message and exit code (secrets masked)."""
    try:
        return handler(args)
    except EnvmonError as err:
        if args.debug:
            traceback.print_exc()
        print(f"envmon: error: {err}", file=sys.stderr)
        return err.exit_code
    except KeyboardInterrupt:
        print("envmon: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 1
    except Exception as err:  # the CLI's one broad except: one line, traceback with --debug
        if args.debug:
            traceback.print_exc()
        else:
            print(
                f"envmon: internal error: {type(err).__name__}: {err} "
                "(run with --debug for the traceback and report it)",
                file=sys.stderr,
            )
        return 1
