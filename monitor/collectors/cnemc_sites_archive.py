"""Daily station files of the national air-quality platform, as mirrored by quotsoft.net.

Source
------
The community mirror of Xiaolei Wang (https://quotsoft.net/air/) republishes the hourly
station data of the national urban air-quality publishing platform (CNEMC,
https://air.cnemc.cn:18007/) as one CSV per day, ``china_sites_YYYYMMDD.csv`` (about 2 MB,
2,000+ stations). No licence text is published; the data are CNEMC's. The mirror throttles
heavy downloads, so use it for backfill and test fixtures, not for real time; the files of a
day are complete on the next day (update cadence within the day is not documented).

Layout (wide, UTF-8)
--------------------
::

    date,hour,type,1001A,1002A,…,1760A
    20260301,0,AQI,45,52,…
    20260301,0,PM2.5,31,,…          ← empty cell = missing
    20260301,0,PM2.5_24h,28,30,…
    …
    20260301,23,CO_24h,0.6,0.7,…

One row per (hour, type); ``date`` is ``YYYYMMDD`` and ``hour`` 0–23, Beijing time. The
label is the **end** of the averaging hour, as on the platform: hour 0 of 20260301 is the
value labelled 2026-03-01 00:00, i.e. the mean of 2026-02-28 23:00–2026-03-01 00:00 local
(15:00–16:00 UTC on 2026-02-28). A day file therefore holds the periods ending 00:00 … 23:00
local of its date, which are exactly the values that make that day's daily statistics.

``type`` takes 15 values (:data:`KNOWN_TYPES`). Only the 1-hour concentrations are kept
(:data:`FIELD_MAP`); running means (``*_24h``, ``O3_8h`` …) and the AQI are recomputed by
envmon from the hourly values and are ignored here.

FIELD_MAP
---------
=========  ==============  ==========
type       parameter       unit
=========  ==============  ==========
``PM2.5``  ``pm2_5``       µg/m³
``PM10``   ``pm10``        µg/m³
``SO2``    ``so2``         µg/m³
``NO2``    ``no2``         µg/m³
``O3``     ``o3``          µg/m³
``CO``     ``co``          **mg/m³**
=========  ==============  ==========

Output: observations (``monitor.collectors.base``) with ``site`` = station code (the
column header), ``flags`` empty, in file order (row by row, stations left to right).

Where the files come from
-------------------------
* ``folder``: ``<folder>/china_sites_YYYYMMDD.csv`` or, if that does not exist,
  ``<folder>/YYYY/china_sites_YYYYMMDD.csv`` (year folders).
* ``url``: ``<url>/china_sites_YYYYMMDD.csv``; a ``{year}`` placeholder in ``url`` is
  replaced by the four-digit year, for mirrors that keep year folders
  (``https://example.org/air/{year}``). The mirror's zipped yearly archives are not read.

A day file that is not there (absent from the folder, HTTP 404) gives a :class:`Batch` with
no observations and the note ``missing at source``. Cells that are neither empty nor a
number are dropped and counted in ``Batch.notes``; negative values are kept (and counted):
the quality checks flag them. A file whose header does
not start with ``date,hour,type`` raises :class:`~monitor.errors.SourceFormatChanged` naming
the file; HTTP 5xx after retries raises :class:`~monitor.errors.SourceUnavailable`.
"""

from __future__ import annotations

import io
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import ClassVar, Final, overload

import numpy as np
import numpy.typing as npt
import pandas as pd

from monitor.collectors.base import OBSERVATION_COLUMNS, Batch, DataKind, empty_observations
from monitor.collectors.http import HttpClient
from monitor.collectors.intake import (
    DEFAULT_FUTURE_TOLERANCE,
    HEADER_ONLY,
    check_observations,
    out_of_range_time_text,
)
from monitor.domain.units import CANONICAL_UNITS, to_canonical
from monitor.errors import SourceFormatChanged, SourceUnavailable

__all__ = [
    "FIELD_MAP",
    "KNOWN_TYPES",
    "LAYOUT_TYPES",
    "MISSING_NOTE",
    "SOURCE_NAME",
    "CnemcSitesArchiveCollector",
    "day_file_name",
    "parse_sites_csv",
    "parse_sites_csv_with_notes",
]

#: Source ``type`` → (canonical parameter, unit in the file). CNEMC publishes µg/m³, CO mg/m³.
FIELD_MAP: Final[Mapping[str, tuple[str, str]]] = {
    "PM2.5": ("pm2_5", "µg/m³"),
    "PM10": ("pm10", "µg/m³"),
    "SO2": ("so2", "µg/m³"),
    "NO2": ("no2", "µg/m³"),
    "O3": ("o3", "µg/m³"),
    "CO": ("co", "mg/m³"),
}

#: Every ``type`` the national layout is known to carry, in the files' order
#: (data-sources.md §4b).
LAYOUT_TYPES: Final = (
    "AQI",
    "PM2.5",
    "PM2.5_24h",
    "PM10",
    "PM10_24h",
    "SO2",
    "SO2_24h",
    "NO2",
    "NO2_24h",
    "O3",
    "O3_24h",
    "O3_8h",
    "O3_8h_24h",
    "CO",
    "CO_24h",
)
KNOWN_TYPES: Final = frozenset(LAYOUT_TYPES)

SOURCE_NAME: Final = "cnemc_sites_archive"
MISSING_NOTE: Final = "missing at source"
_LEADING: Final = (b"date", b"hour", b"type")
_BEIJING_OFFSET_NS: Final = 8 * 3600 * 10**9  # Asia/Shanghai has had no DST since 1991
_HOUR_NS: Final = 3600 * 10**9
#: Bad cells and rows named one by one in the notes; the rest are counted.
_NAMED: Final = 20


def day_file_name(day: date) -> str:
    """File name of one day's station file, e.g. ``china_sites_20260301.csv``."""
    return f"china_sites_{day:%Y%m%d}.csv"


def parse_sites_csv(
    data: bytes, *, stations: Sequence[str] = (), name: str = "china_sites file"
) -> pd.DataFrame:
    """Observations of one ``china_sites_YYYYMMDD.csv`` file (layout in the module docstring).

    Parameters
    ----------
    data : bytes
        The file as downloaded (UTF-8, with or without BOM).
    stations : sequence of str
        Station codes to keep; empty keeps all.
    name : str
        File name or URL, for error messages.

    Returns
    -------
    DataFrame
        Observations (``OBSERVATION_COLUMNS``) of the six 1-hour concentrations; empty cells
        give no row. Dropped cells are reported by :func:`parse_sites_csv_with_notes`.

    Raises
    ------
    SourceFormatChanged
        If the header does not start with ``date,hour,type``.
    """
    return parse_sites_csv_with_notes(data, stations=stations, name=name)[0]


def parse_sites_csv_with_notes(
    data: bytes,
    *,
    stations: Sequence[str] = (),
    name: str = "china_sites file",
    now: datetime | None = None,
    future_tolerance: timedelta = DEFAULT_FUTURE_TOLERANCE,
) -> tuple[pd.DataFrame, list[str]]:
    """:func:`parse_sites_csv`, plus notes on what was dropped (bad cells, rows, stations).

    Values the ledger cannot hold are refused by the intake check
    (:mod:`monitor.collectors.intake`; ``now`` defaults to the clock): a note per refused
    value names its line and station column. Two rows of one hour and type with different
    values refuse both.

    Vectorised: the kept rows are parsed by pandas' C reader into one float matrix
    (rows = hour × type, columns = stations), and the melt to long form is a single
    ``numpy.nonzero`` over the non-missing cells, so the cost per observation is a few
    array operations, not Python code.
    """
    lines = data.removeprefix(b"\xef\xbb\xbf").replace(b"\r\n", b"\n").split(b"\n")
    header = [h.strip() for h in lines[0].split(b",")] if lines else []
    if len(header) < 3 or tuple(h.lower() for h in header[:3]) != _LEADING:
        shown = lines[0][:80].decode("utf-8", "replace") if lines else ""
        raise SourceFormatChanged(
            SOURCE_NAME,
            f"{name}: header {shown!r} does not start with 'date,hour,type'; "
            "expected the national china_sites layout (date,hour,type,<station codes…>)",
        )
    codes = [h.decode("utf-8", "replace") for h in header[3:]]
    notes: list[str] = []

    # Pick the 1-hour rows by their third field; 360 lines a day, so a Python pass is cheap.
    prefixes: list[tuple[str, str, str]] = []
    cells: list[bytes] = []
    line_numbers: list[int] = []
    unknown: set[str] = set()
    ragged: list[str] = []
    for number, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        fields = line.split(b",", 3)
        kind = fields[2].strip().decode("utf-8", "replace") if len(fields) > 2 else ""
        if kind not in FIELD_MAP:
            if kind not in KNOWN_TYPES:
                unknown.add(kind)
            continue
        rest = fields[3].rstrip(b"\r") if len(fields) > 3 else b""
        if rest.count(b",") + 1 != len(codes):
            ragged.append(line[:40].decode("utf-8", "replace"))
            continue
        prefixes.append(
            (fields[0].decode("ascii", "replace"), fields[1].decode("ascii", "replace"), kind)
        )
        cells.append(rest)
        line_numbers.append(number)
    if unknown:
        notes.append(f"{name}: ignored rows of unknown type(s) {sorted(unknown)}")
    if ragged:
        notes.append(
            f"{name}: {len(ragged)} row(s) without one cell per station column dropped "
            f"(first: {ragged[0]!r}); expected {len(codes)} cells after date,hour,type"
        )

    if not any(line.strip() for line in lines[1:]):
        notes.append(HEADER_ONLY)  # nothing to import is not an error (issue 16: one rule)
    columns, wanted = _station_columns(codes, stations, name, notes)
    if not cells or not wanted:
        return empty_observations(), notes

    matrix, bad_at, bad_texts = _float_matrix(cells, len(codes))
    matrix = np.ascontiguousarray(matrix[:, columns]) if len(columns) < len(codes) else matrix
    dates = pd.Series([p[0] for p in prefixes], dtype=object)
    hours = pd.Series([p[1] for p in prefixes], dtype=object)
    row_ends, bad_rows = _row_period_ends(dates, hours)
    if len(bad_at):
        notes.extend(
            f"{name} line {line_numbers[at // len(codes)]} column {codes[at % len(codes)]}: "
            f"value {text!r} is not a finite number; expected a number or an empty cell "
            "(not stored)"
            for at, text in zip(bad_at[:_NAMED], bad_texts[:_NAMED], strict=True)
        )
        if len(bad_at) > _NAMED:
            notes.append(
                f"{name}: … and {len(bad_at) - _NAMED} more cell(s) that are not numbers dropped"
            )
    if bad_rows.any():
        lost = int(np.count_nonzero(~np.isnan(matrix[bad_rows])))
        samples = sorted(
            {f"{d},{h}" for d, h in zip(dates[bad_rows], hours[bad_rows], strict=True)}
        )
        at = [str(line_numbers[i]) for i in np.flatnonzero(bad_rows)[:_NAMED]]
        notes.append(
            f"{name}: {int(bad_rows.sum())} row(s) with a bad date,hour {samples[:3]} dropped "
            f"({'line' if len(at) == 1 else 'lines'} {', '.join(at)}"
            f"{' …' if bad_rows.sum() > _NAMED else ''}; {lost} value(s)); expected date "
            "YYYYMMDD from 1900 up to now and hour 0–23"
        )
        matrix[bad_rows] = np.nan

    kinds = np.array([p[2] for p in prefixes], dtype=object)
    parameters = np.array([FIELD_MAP[k][0] for k in kinds], dtype=object)
    for kind, (parameter, unit) in FIELD_MAP.items():
        if unit != CANONICAL_UNITS[parameter]:
            rows = kinds == kind
            matrix[rows] = to_canonical(parameter, matrix[rows], unit)
    negative = matrix < 0
    if negative.any():  # kept: the quality checks flag them and keep them out of statistics
        notes.append(f"{name}: {int(negative.sum())} negative value(s) kept, to be flagged")

    row_index, col_index = np.nonzero(~np.isnan(matrix))
    end_ns = row_ends[row_index]
    site_codes = np.array(wanted, dtype=object)
    units = np.array([CANONICAL_UNITS[p] for p in parameters], dtype=object)
    frame = pd.DataFrame(
        {
            "site": pd.array(site_codes[col_index], dtype="str"),
            "parameter": pd.array(parameters[row_index], dtype="str"),
            "unit": pd.array(units[row_index], dtype="str"),
            "period_start": _utc(end_ns - _HOUR_NS),
            "period_end": _utc(end_ns),
            "value": matrix[row_index, col_index],
            "flags": pd.array(np.full(len(row_index), "", dtype=object), dtype="str"),
        },
        columns=list(OBSERVATION_COLUMNS),
    )
    # What the ledger can hold (future times, conflicting duplicates, non-finite values):
    # the intake check every boundary shares, naming the file line and station column.
    where = _CellLabels(name, np.asarray(line_numbers)[row_index], site_codes[col_index])
    check = check_observations(
        frame,
        now=datetime.now(UTC) if now is None else now,
        future_tolerance=future_tolerance,
        where=where,
    )
    admitted = check.admitted
    if not admitted.all():
        notes.extend(
            f"{where[i]}: {' | '.join(p)} (not stored)" for i, p in check.problems.items()
        )
        frame = frame[admitted].reset_index(drop=True)
    return frame, notes


class _CellLabels(Sequence[str]):
    """``"<file> line <n> column <station>"`` of each observation, made when asked for."""

    def __init__(
        self, name: str, lines: npt.NDArray[np.int_], stations: npt.NDArray[np.object_]
    ) -> None:
        self.name, self.lines, self.stations = name, lines, stations

    def __len__(self) -> int:
        return len(self.lines)

    @overload
    def __getitem__(self, index: int) -> str: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[str]: ...
    def __getitem__(self, index: int | slice) -> str | Sequence[str]:
        if isinstance(index, slice):
            return [self[i] for i in range(len(self))[index]]
        return f"{self.name} line {int(self.lines[index])} column {self.stations[index]}"


def _station_columns(
    codes: list[str], stations: Sequence[str], name: str, notes: list[str]
) -> tuple[list[int], list[str]]:
    """Positions (after date,hour,type) and codes of the station columns to read."""
    first: dict[str, int] = {}
    repeated: set[str] = set()
    for i, code in enumerate(codes):
        key = code.strip().strip('"')
        if not key:
            continue  # a trailing comma in the header
        if key in first:
            repeated.add(key)
        first.setdefault(key, i)
    if repeated:
        notes.append(
            f"{name}: duplicate station column(s) {sorted(repeated)[:5]}; the first is read"
        )
    if not stations:
        return list(first.values()), list(first)
    absent = [s for s in stations if s not in first]
    if absent:
        notes.append(f"{name}: station(s) {absent} not in the file")
    present = [s for s in dict.fromkeys(stations) if s in first]
    return [first[s] for s in present], present


def _float_matrix(
    rows: list[bytes], width: int
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.intp], list[str]]:
    """The station cells of the kept rows as a float matrix (NaN = missing), and where the
    cells are (flat positions, row-major) that are text but not a finite number, with
    their text.

    All cells go through pandas' C reader as one column (commas turned into line breaks, so
    an empty cell is an empty line): one parse for the whole file instead of one column
    object per station.
    """
    blob = b"value\n" + b",".join(rows).replace(b",", b"\n") + b"\n"
    column = pd.read_csv(
        io.BytesIO(blob),
        skip_blank_lines=False,
        keep_default_na=False,
        na_values=[""],
        engine="c",
    )["value"]
    bad = np.zeros(len(column), dtype=bool)
    if column.dtype.kind not in "fiu":
        numbers = pd.to_numeric(column, errors="coerce")
        bad = (numbers.isna() & column.notna()).to_numpy(copy=True)
        column = numbers
    values = column.to_numpy(dtype=np.float64, copy=True)
    infinite = np.isinf(values)
    if infinite.any():  # inf, Infinity, 1e999: no measurement
        bad |= infinite
        values[infinite] = np.nan
    at = np.flatnonzero(bad)
    # The cells as written ("Infinity", "1e999"), not as parsed, for the notes.
    texts = [
        rows[i // width].split(b",")[i % width].decode("utf-8", "replace") for i in at[:_NAMED]
    ]
    return values.reshape(len(rows), width), at, texts


def _row_period_ends(
    dates: pd.Series, hours: pd.Series
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.bool_]]:
    """UTC period end [ns since epoch] of each row, and which rows have a bad date or hour."""
    # Years pandas cannot hold (99990101 would wrap round to 1815) are bad dates.
    holdable = np.array([out_of_range_time_text(d) is None for d in dates], dtype=bool)
    dates = dates.where(holdable, "")
    day = pd.to_datetime(dates.str.strip(), format="%Y%m%d", errors="coerce")
    hour = pd.to_numeric(hours.str.strip(), errors="coerce")
    bad = (day.isna() | hour.isna() | (hour < 0) | (hour > 23) | (hour % 1 != 0)).to_numpy()
    day_ns = day.to_numpy(dtype="datetime64[ns]").astype(np.int64)
    hour_ns = np.nan_to_num(hour.to_numpy(dtype=float)).astype(np.int64) * _HOUR_NS
    ends = np.where(bad, 0, day_ns + hour_ns - _BEIJING_OFFSET_NS)
    return ends.astype(np.int64), bad


def _utc(ns: npt.NDArray[np.int64]) -> pd.DatetimeIndex:
    return pd.DatetimeIndex(ns.astype("datetime64[ns]")).tz_localize("UTC")


class CnemcSitesArchiveCollector:
    """Day files ``china_sites_YYYYMMDD.csv`` from a folder or a mirror URL (module docs).

    Parameters
    ----------
    source : str
        Name of this configured source, for batches and errors.
    folder : Path or None
        Folder holding the day files (or year folders of them).
    url : str or None
        Base URL of the day files; ``{year}`` is replaced by the year. Exactly one of
        ``folder`` and ``url`` must be given.
    stations : sequence of str
        Station codes to keep; empty keeps all.
    client : HttpClient or None
        HTTP client for ``url`` (one is made if not given).
    """

    name: ClassVar[str] = SOURCE_NAME
    kind: ClassVar[DataKind] = "measured"

    def __init__(
        self,
        *,
        source: str,
        folder: Path | None = None,
        url: str | None = None,
        stations: Sequence[str] = (),
        client: HttpClient | None = None,
    ) -> None:
        if (folder is None) == (url is None):
            raise ValueError(
                f"{source}: give exactly one of folder and url; got folder={folder!r}, url={url!r}"
            )
        self.source = source
        self.folder = folder
        self.url = url
        self.stations = tuple(stations)
        self.client = client if client is not None or url is None else HttpClient(source)

    def collect(self, since: datetime | None, until: datetime | None) -> Iterator[Batch]:
        """One batch per day file for the periods ending in (``since``, ``until``] (UTC).

        ``until`` defaults to now and ``since`` to 24 hours before ``until``. Naive datetimes
        are read as UTC. A day file covers the periods ending 00:00 … 23:00 of its date
        (Beijing time), so the first hour label after ``since`` and the last one by ``until``
        bound the files read.
        """
        end = _as_utc(until) if until is not None else pd.Timestamp.now(tz="UTC")
        start = _as_utc(since) if since is not None else end - pd.Timedelta(hours=24)
        if end <= start:
            return
        # Labels are whole hours: the first one after ``start`` and the last one by ``end``,
        # in Beijing time, name the first and last day files.
        first = (start.floor("h") + pd.Timedelta(hours=1 + 8)).date()
        last = (end.floor("h") + pd.Timedelta(hours=8)).date()
        day = first
        while day <= last:
            yield self._day_batch(day, start, end)
            day += timedelta(days=1)

    def _day_batch(self, day: date, start: pd.Timestamp, end: pd.Timestamp) -> Batch:
        midnight = pd.Timestamp(day, tz="UTC") - pd.Timedelta(hours=8)
        covers = (
            max(start, midnight - pd.Timedelta(hours=1)).to_pydatetime(),
            min(end, midnight + pd.Timedelta(hours=23)).to_pydatetime(),
        )
        requested, data = self._read(day)
        if data is None:
            return Batch(
                self.source,
                empty_observations(),
                requested,
                self.kind,
                covers,
                (f"{requested}: {MISSING_NOTE}",),
            )
        frame, notes = parse_sites_csv_with_notes(data, stations=self.stations, name=requested)
        inside = (frame["period_end"] > start) & (frame["period_end"] <= end)
        if not inside.all():
            frame = frame[inside].reset_index(drop=True)
        return Batch(self.source, frame, requested, self.kind, covers, tuple(notes))

    def _read(self, day: date) -> tuple[str, bytes | None]:
        """Where the day file is looked for, and its bytes (None when it is not there)."""
        file_name = day_file_name(day)
        if self.folder is not None:
            flat = self.folder / file_name
            nested = self.folder / f"{day:%Y}" / file_name
            if not self.folder.is_dir():
                raise SourceUnavailable(
                    self.source, f"folder {str(self.folder)!r} does not exist or is not mounted"
                )
            for path in (flat, nested):
                if path.is_file():
                    try:
                        return str(path), path.read_bytes()
                    except OSError as err:
                        raise SourceUnavailable(
                            self.source, f"cannot read {str(path)!r} ({err.strerror})"
                        ) from err
            return str(flat), None
        assert self.url is not None and self.client is not None
        base = self.url.replace("{year}", f"{day:%Y}").rstrip("/")
        address = f"{base}/{file_name}"
        try:
            return address, self.client.get_bytes(address)
        except SourceFormatChanged as err:
            # HttpClient turns every 4xx into SourceFormatChanged; 404 means "no such day".
            if err.status == 404:
                return address, None
            raise


def _as_utc(moment: datetime) -> pd.Timestamp:
    stamp = pd.Timestamp(moment)
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
