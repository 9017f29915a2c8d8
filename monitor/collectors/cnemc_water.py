"""CNEMC surface-water automatic monitoring: the national real-time release system.

Source
------
国家地表水水质自动监测实时数据发布系统, run by the China National Environmental Monitoring
Centre (CNEMC). Page ``https://szzdjc.cnemc.cn:8070/GJZ/Business/Publish/Main.html``; data
endpoint ``https://szzdjc.cnemc.cn:8070/GJZ/Ajax/Publish.ashx`` (``action=getRealDatas``).
Described in ``shared/reference/data-sources.md`` §5, from third-party scrapers: not an
official API. No licence or terms were found (government public information); keep the
request rate low, so pages are fetched one by one with ``page_delay`` seconds between them.

Cadence and history
-------------------
Automatic stations report about every 4 h, but sample times in one snapshot differ per
section (13:00, 14:00, 16:00, 18:00, 19:00 and 20:00 in one real page). The platform keeps
**no history**: only the latest value per section is shown, and it may change within the
same monitoring time. So every call of :meth:`CnemcWaterCollector.collect` yields *every*
reading in the snapshot, whatever ``since``/``until`` say; the ledger keeps the changes as
revisions. Poll every 20 min to 1 h.

Request
-------
As the page and every public client do: ``POST`` of the form ``action=getRealDatas, AreaID,
RiverID, MNName, PageIndex, PageSize`` (no evidence that GET works, so none is sent).
``AreaID`` is a GB/T 2260 area code (Liaoning ``210000``, Shenyang ``210100``; empty =
nationwide), ``RiverID`` a basin/river id from ``getArea_RiverDic``. A cold session gets
the text ``-1`` (HTTP 200) instead of data until it has loaded ``Main.html`` and POSTed
``action=getArea_RiverDic``: the collector does this warm-up first (cookies kept in its
session), and treats a later ``-1`` as "session not ready" — warm up again (``warmups``
times), then :class:`~monitor.errors.SourceUnavailable`; ``-1`` is never data. A too large
``PageSize`` is truncated by the platform: 500 by default, and fewer rows than ``records``
announces is noted in the batch. Requests are paced (``page_delay`` between every step)
and retried by :class:`~monitor.collectors.http.HttpClient`. The page's ``Referer``,
``Origin`` and ``X-Requested-With`` are sent with envmon's own User-Agent.

Response (JSON; the only form supported)
----------------------------------------
``{"result": 1, "thead": [html…], "tbody": [[cell…]…], "total": <pages>, "records": <n>}``.
Columns 1–5 are, by position: province (省份), basin (流域), section name (断面名称),
monitoring time ``MM-DD HH:MM`` (监测时间) and water-class code (水质类别: 1–6 = Ⅰ … 劣Ⅴ,
7 = 未监测). Indicator columns are found **by header text** (:data:`FIELD_MAP`); the unit
in the header's parentheses is converted with :func:`~monitor.domain.units.to_canonical`,
the FIELD_MAP unit is assumed when the header has none. A trailing 站点情况 column, when
present, is the station status. Indicator cells are HTML such as
``<span title='原始值：23.88'>23.9</span>``: the raw value in the title is used, the
rounded display text only when there is no title. The rendered HTML table of the page is
built by JavaScript in the browser and is not what the endpoint returns, so an HTML answer
is a :class:`~monitor.errors.SourceFormatChanged`.

=================  ===================  =========  ==============================
header contains    parameter            unit       note
=================  ===================  =========  ==============================
水温               ``water_temperature``  °C
pH                 ``ph``               1
溶解氧             ``do``               mg/L
电导率             ``conductivity``     µS/cm
浊度               ``turbidity``        NTU
高锰酸盐指数       ``codmn``            mg/L
氨氮               ``nh3n``             mg/L
总磷               ``tp``               mg/L
总氮               ``tn``               mg/L
叶绿素             ``chlorophyll_a``    mg/L       header unit converted (µg/L …)
藻密度             ``algal_density``    cells/L    个/L and 万个/L understood
=================  ===================  =========  ==============================

Other indicator columns (TOC …) are ignored and counted in the batch notes.

Missing values and flags
------------------------
``--`` (or an empty cell) = the source delivered no number: the observation is written
with value NaN. A cell whose title says ``当天质控不合格`` (rejected by the day's quality
control) gets ``source_qc_failed`` (and ``source_invalid`` too if it shows a number, so it
stays out of statistics). Water-class code 7 (未监测, not monitored) puts ``not_monitored``
and code ``-1`` (not assessed) ``not_assessed`` on every observation of the row. The
station status (站点情况, or a status word in place of a value; not published since
2026-01 for most sections) maps to ``maintenance`` (维护, 运维, 调试, 校准, 检修) or
``source_invalid`` (停运, 故障, 异常, 无效, 断电, 离线); ``正常`` is no flag; an unknown
status word gives no flag and is named in the batch notes. A cell that is neither a
number, ``--`` nor a status word is NaN with ``source_invalid``.

Time
----
The monitoring time is Beijing wall time without a year. The year is the one that puts the
sample closest to the fetch time (the injectable clock ``now``): a ``12-31 20:00`` sample
fetched on 1 January belongs to the previous year, a ``01-01 00:00`` sample fetched a few
minutes early by a slow clock to the next. This is the "more than ~180 days in the
future → last year" rule of §5, made symmetric. A full ``YYYY-MM-DD HH:MM`` label is
accepted as it is. Each value is one **sample**, not a mean over a period, and samples are
not on a fixed grid, so ``period_start == period_end ==`` the sample instant, converted to
UTC.

Writes observations (``monitor.collectors.base``): ``site`` = the configured section id
when the published name (断面名称) is mapped (``section_ids``), else the published name;
canonical ``parameter`` and ``unit``, the instant, ``value``, ``flags``.
"""

from __future__ import annotations

import html
import re
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, ClassVar, Final
from urllib.parse import urljoin, urlsplit
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from monitor.collectors.base import Batch, DataKind, empty_observations, observations
from monitor.collectors.http import HttpClient, decode_json
from monitor.domain.units import to_canonical
from monitor.errors import SourceFormatChanged, SourceUnavailable

__all__ = [
    "DEFAULT_URL",
    "FIELD_MAP",
    "CnemcWaterCollector",
    "RealTable",
    "infer_sample_time",
    "parse_cell",
    "parse_observations",
    "parse_real_datas",
]

#: The documented endpoint (data-sources.md §5).
DEFAULT_URL: Final = "https://szzdjc.cnemc.cn:8070/GJZ/Ajax/Publish.ashx"
#: Where the page lives, relative to the endpoint (used for the warm-up and Referer).
_PAGE_PATH: Final = "../Business/Publish/Main.html"

BEIJING: Final = ZoneInfo("Asia/Shanghai")

#: Header keyword → (canonical parameter, unit assumed when the header names none).
FIELD_MAP: Final[Mapping[str, tuple[str, str]]] = {
    "水温": ("water_temperature", "°C"),
    "pH": ("ph", "1"),
    "溶解氧": ("do", "mg/L"),
    "电导率": ("conductivity", "µS/cm"),
    "浊度": ("turbidity", "NTU"),
    "高锰酸盐指数": ("codmn", "mg/L"),
    "氨氮": ("nh3n", "mg/L"),
    "总磷": ("tp", "mg/L"),
    "总氮": ("tn", "mg/L"),
    "叶绿素": ("chlorophyll_a", "mg/L"),
    "藻密度": ("algal_density", "cells/L"),
}

# Columns without which the snapshot cannot be used for the GB 3838 class: if one of these
# headers disappears, the header text changed and silently losing it would be wrong.
_REQUIRED: Final = ("ph", "do", "codmn", "nh3n", "tp")

_NOT_MONITORED_CLASS: Final = "7"
_NOT_ASSESSED_CLASS: Final = "-1"
#: Title of a cell the platform's daily quality control rejected (当天质控不合格).
_QC_FAILED: Final = re.compile(r"title\s*=\s*['\"][^'\"]*质控不合格")
_MISSING: Final = frozenset({"", "--", "—", "-", "/"})
_STATUS_OK: Final = frozenset({"正常", *_MISSING})
_STATUS_FLAGS: Final = (
    ("维护", "maintenance"),
    ("运维", "maintenance"),
    ("调试", "maintenance"),
    ("校准", "maintenance"),
    ("检修", "maintenance"),
    ("停运", "source_invalid"),
    ("故障", "source_invalid"),
    ("异常", "source_invalid"),
    ("无效", "source_invalid"),
    ("断电", "source_invalid"),
    ("离线", "source_invalid"),
)
_STATUS_HEADERS: Final = ("站点情况", "站点状态", "运行状态")
# Algal density is published as cells/L; the same count per litre under other spellings.
_ALGAE_UNITS: Final[Mapping[str, float]] = {
    "cells/l": 1.0,
    "个/l": 1.0,
    "个/升": 1.0,
    "万个/l": 1e4,
    "万cells/l": 1e4,
    "10^4cells/l": 1e4,
    "10⁴cells/l": 1e4,
    "×10⁴cells/l": 1e4,
}

_RAW_VALUE = re.compile(r"原始值\s*[：:]\s*([-+]?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)")
_TAG = re.compile(r"<[^>]*>")
_UNIT = re.compile(r"[(（]([^()（）]*)[)）]\s*$")
_SHORT_TIME = re.compile(r"^(\d{1,2})-(\d{1,2})\s+(\d{1,2}):(\d{2})$")
_LONG_TIME = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})\s+(\d{1,2}):(\d{2})(?::\d{2})?$")


@dataclass(frozen=True)
class RealTable:
    """One page of ``getRealDatas``: header texts, rows of cells, pages and record count."""

    headers: tuple[str, ...]
    rows: tuple[tuple[object, ...], ...]
    total_pages: int
    records: int | None


class CnemcWaterCollector:
    """Latest surface-water readings per section from the CNEMC real-time release system.

    Parameters
    ----------
    source : str
        Source name written with every batch (e.g. ``cnemc_water``).
    url : str
        ``Publish.ashx`` endpoint; the page used for the warm-up is derived from it.
    sections : sequence of str
        Sections to keep, by published name (断面名称) or by configured id; empty = every
        section the query returns.
    section_ids : mapping of str to str
        Published section name → configured section id (``[[water_sections]]`` ``name_zh``
        → ``id``). Readings of a mapped section are stored under its id, so the ledger,
        the publisher and the dashboards know a section by one identity; unmapped sections
        keep their published name.
    area_id : str
        ``AreaID`` of the request: GB/T 2260 code of a province or city (``210000``
        Liaoning, ``210100`` Shenyang); empty = nationwide.
    river_id : str
        ``RiverID`` of the request (basin/river id from ``getArea_RiverDic``); empty = all.
    page_size : int
        ``PageSize``; moderate (500, as public clients send) because a too large page is
        truncated by the platform (detected against ``records`` and noted).
    max_pages : int
        Stop after this many pages (noted in the batch).
    page_delay : float
        Seconds between requests [s] (warm-up steps and pages), slept with the client's
        ``sleep``.
    warmups : int
        Warm-ups tried when the platform answers ``-1`` (session not ready) before the
        fetch is reported unavailable.
    client : HttpClient, optional
        HTTP client; its session receives the page's Referer/Origin headers.
    now : callable
        Clock returning a tz-aware fetch time; the sample year is inferred from it.
    """

    name: ClassVar[str] = "cnemc_water"
    kind: ClassVar[DataKind] = "measured"

    def __init__(
        self,
        *,
        source: str,
        url: str = DEFAULT_URL,
        sections: Sequence[str] = (),
        section_ids: Mapping[str, str] | None = None,
        area_id: str = "",
        river_id: str = "",
        page_size: int = 500,
        max_pages: int = 20,
        page_delay: float = 1.0,
        warmups: int = 2,
        client: HttpClient | None = None,
        now: Callable[[], datetime] | None = None,
    ) -> None:
        if page_size < 1 or max_pages < 1:
            raise ValueError(f"page_size={page_size} and max_pages={max_pages}; expected both ≥ 1")
        self.source = source
        self.url = url
        self.page_url = urljoin(url, _PAGE_PATH)
        self.sections = tuple(sections)
        self.section_ids = dict(section_ids or {})
        self.warmups = max(0, warmups)
        self._warm = False
        self.area_id = area_id
        self.river_id = river_id
        self.page_size = page_size
        self.max_pages = max_pages
        self.page_delay = page_delay
        self._client = client if client is not None else HttpClient(source)
        self._now = now if now is not None else _beijing_now
        parts = urlsplit(url)
        self._client.session.headers.update(
            {
                "Referer": self.page_url,
                "Origin": f"{parts.scheme}://{parts.netloc}",
                "X-Requested-With": "XMLHttpRequest",
                "Accept": "application/json, text/javascript, */*; q=0.01",
            }
        )

    def collect(self, since: datetime | None, until: datetime | None) -> Iterator[Batch]:
        """Fetch the current snapshot and yield it as one batch.

        ``since`` and ``until`` are ignored: the platform has only the latest values, and
        every reading seen is archived (a changed value becomes a revision in the ledger).
        """
        fetched_at = self._now()
        if fetched_at.tzinfo is None:
            raise ValueError(f"now() returned naive {fetched_at!r}; expected a tz-aware time")
        tables, notes = self.fetch_tables()
        frame, parse_notes = parse_observations(
            tables,
            fetched_at=fetched_at,
            sections=self.sections,
            section_ids=self.section_ids,
            source=self.source,
        )
        yield Batch(
            source=self.source,
            observations=frame,
            requested=(
                f"POST getRealDatas AreaID={self.area_id!r} RiverID={self.river_id!r} "
                f"PageSize={self.page_size} sections={list(self.sections)!r} at "
                f"{fetched_at.isoformat()}"
            ),
            kind=self.kind,
            notes=(*notes, *parse_notes),
        )

    def fetch_tables(self) -> tuple[list[RealTable], list[str]]:
        """Fetch every page of the current snapshot (network); notes say what was cut."""
        notes: list[str] = []
        if not self._warm:
            self._warm_up()
        first = self._fetch_page(1)
        tables = [first]
        last = min(first.total_pages, self.max_pages)
        if first.total_pages > self.max_pages:
            notes.append(
                f"the snapshot has {first.total_pages} pages; read only {self.max_pages} "
                "(max_pages)"
            )
        for index in range(2, last + 1):
            self._client.sleep(self.page_delay)
            tables.append(self._fetch_page(index))
        got = sum(len(t.rows) for t in tables)
        if first.records is not None and last == first.total_pages and got < first.records:
            notes.append(
                f"the snapshot announces {first.records} records but {last} page(s) of "
                f"PageSize {self.page_size} held {got}: the platform truncated the answer "
                "(lower page_size)"
            )
        return tables, notes

    def _form(self, index: int) -> dict[str, str]:
        """The form the page POSTs for one page of the table."""
        return {
            "action": "getRealDatas",
            "AreaID": self.area_id,
            "RiverID": self.river_id,
            "MNName": "",
            "PageIndex": str(index),
            "PageSize": str(self.page_size),
        }

    def _fetch_page(self, index: int) -> RealTable:
        where = f"{self.url} page {index}"
        for attempt in range(self.warmups + 1):
            response = self._client.post(self.url, self._form(index))
            if not _is_cold_text(response.text):
                payload = decode_json(self.source, response.text, where)
                return parse_real_datas(payload, source=self.source, where=where)
            if attempt < self.warmups:
                # "-1" = the session is not ready (no page visit, no dictionary call yet)
                self._client.sleep(self.page_delay)
                self._warm_up()
        raise SourceUnavailable(
            self.source,
            f"getRealDatas page {index} answered '-1' (session not ready) even after "
            f"{self.warmups} warm-up(s) ({self.page_url}, getArea_RiverDic); expected the "
            "JSON table; try later",
        )

    def _warm_up(self) -> None:
        """Load the page and POST ``getArea_RiverDic``, as a browser does first."""
        self._client.get(self.page_url)
        self._client.sleep(self.page_delay)
        self._client.post(self.url, {"action": "getArea_RiverDic"})
        self._client.sleep(self.page_delay)
        self._warm = True


def parse_real_datas(payload: Any, *, source: str = "cnemc_water", where: str = "") -> RealTable:
    """Check a decoded ``getRealDatas`` answer and return its table.

    Raises
    ------
    SourceUnavailable
        If ``result`` is 0/false (the platform says the query failed).
    SourceFormatChanged
        If the answer is not an object with ``thead`` and ``tbody`` lists.
    """
    at = f" from {where}" if where else ""
    if not isinstance(payload, dict):
        raise SourceFormatChanged(
            source,
            f"getRealDatas answer{at} is {type(payload).__name__} {str(payload)[:60]!r}; "
            "expected an object with result, thead, tbody, total, records",
        )
    missing = [key for key in ("result", "thead", "tbody") if key not in payload]
    if missing:
        raise SourceFormatChanged(
            source,
            f"getRealDatas answer{at} lacks field(s) {missing}; got fields "
            f"{sorted(payload)}; expected result, thead, tbody, total, records",
        )
    result = payload["result"]
    if result in (0, False, "0", "false", "False", None):
        raise SourceUnavailable(source, f"getRealDatas{at} returned result={result!r} (failure)")
    thead, tbody = payload["thead"], payload["tbody"]
    if not isinstance(thead, list) or not isinstance(tbody, list):
        raise SourceFormatChanged(
            source,
            f"getRealDatas answer{at} has thead {type(thead).__name__} and tbody "
            f"{type(tbody).__name__}; expected two lists",
        )
    rows: list[tuple[object, ...]] = []
    for number, row in enumerate(tbody, start=1):
        if not isinstance(row, list):
            raise SourceFormatChanged(
                source, f"tbody row {number}{at} is {row!r}; expected a list of cells"
            )
        rows.append(tuple(row))
    return RealTable(
        headers=tuple(_header(h) for h in thead),
        rows=tuple(rows),
        total_pages=_int_or(payload.get("total"), None) or 1,
        records=_int_or(payload.get("records"), None),
    )


def parse_observations(
    tables: Sequence[RealTable],
    *,
    fetched_at: datetime,
    sections: Sequence[str] = (),
    section_ids: Mapping[str, str] | None = None,
    source: str = "cnemc_water",
) -> tuple[pd.DataFrame, tuple[str, ...]]:
    """Translate snapshot pages into observations (pure).

    Parameters
    ----------
    tables : sequence of RealTable
        The pages of one snapshot; the first one's headers describe all of them.
    fetched_at : datetime
        Tz-aware fetch time, from which the sample year is inferred.
    sections : sequence of str
        Keep only these sections (published names or configured ids); empty = all.
    section_ids : mapping of str to str, optional
        Published name → configured id; the id is written as ``site``.

    Returns
    -------
    (DataFrame, tuple of str)
        Observations (:data:`~monitor.collectors.base.OBSERVATION_COLUMNS`) and notes on
        what was skipped, ignored or unknown.

    Raises
    ------
    SourceFormatChanged
        If headers are missing or differ between pages, a required indicator column is
        gone, a header unit is unknown, or a monitoring time is not ``MM-DD HH:MM``.
    """
    if not tables or not any(t.headers for t in tables):
        raise SourceFormatChanged(source, "getRealDatas returned no table headers (thead)")
    headers = next(t.headers for t in tables if t.headers)
    for table in tables:
        if table.headers and table.headers != headers:
            raise SourceFormatChanged(
                source,
                f"table headers changed between pages: {list(table.headers)} vs {list(headers)}",
            )
    columns, status_col, ignored = _map_headers(headers, source)
    notes: list[str] = []
    if ignored:
        notes.append(f"ignored indicator column(s) without a canonical name: {ignored}")
    wanted = set(sections)
    ids = dict(section_ids or {})
    seen: set[str] = set()
    unknown_status: Counter[str] = Counter()
    no_time = 0
    bad_cells = 0
    sites: list[str] = []
    parameters: list[str] = []
    times: list[datetime] = []
    values: list[float] = []
    flags: list[str] = []
    for row in (row for table in tables for row in table.rows):
        cells = [*row, *([None] * (len(headers) - len(row)))]
        name = _text(cells[2])
        site = ids.get(name, name)
        if not name or (wanted and name not in wanted and site not in wanted):
            continue
        seen.update((name, site))
        label = _text(cells[3])
        if label in _MISSING:
            no_time += 1
            continue
        when = infer_sample_time(label, fetched_at, source=source, site=name)
        row_flags: list[str] = []
        water_class = _text(cells[4])
        if water_class == _NOT_MONITORED_CLASS:
            row_flags.append("not_monitored")
        elif water_class == _NOT_ASSESSED_CLASS:
            row_flags.append("not_assessed")
        if status_col is not None:
            status = _text(cells[status_col])
            flag = _status_flag(status)
            if flag:
                row_flags.append(flag)
            elif status not in _STATUS_OK:
                unknown_status[status] += 1
        for index, (parameter, factor) in columns.items():
            value, cell_flag = parse_cell(cells[index])
            cell_flags = list(row_flags)
            if cell_flag == "unparsed":
                bad_cells += 1
                cell_flag = "source_invalid"
            for flag in cell_flag.split(";") if cell_flag else ():
                if flag not in cell_flags:
                    cell_flags.append(flag)
            sites.append(site)
            parameters.append(parameter)
            times.append(when)
            values.append(value * factor)
            flags.append(";".join(cell_flags))
    if wanted - seen:
        notes.append(f"section(s) not in the snapshot: {sorted(wanted - seen)}")
    if no_time:
        notes.append(f"skipped {no_time} row(s) without a monitoring time")
    if bad_cells:
        notes.append(f"{bad_cells} cell(s) were neither a number nor '--'; flagged source_invalid")
    if unknown_status:
        notes.append(f"unknown station status word(s), not flagged: {dict(unknown_status)}")
    if not sites:
        return empty_observations(), tuple(notes)
    frame = observations(sites, parameters, times, times, np.asarray(values), flags=flags)
    duplicated = frame.duplicated(["site", "parameter", "period_end"], keep="last")
    if duplicated.any():
        notes.append(
            f"dropped {int(duplicated.sum())} duplicate (section, parameter, time) reading(s); "
            "kept the last (section names repeat across areas? filter by area_id)"
        )
        frame = frame[~duplicated].reset_index(drop=True)
    return frame, tuple(notes)


#: How far ahead of the fetch a sample time may be (clocks of platform and host differ).
_SKEW: Final = timedelta(days=1)


def infer_sample_time(
    label: str, fetched_at: datetime, *, source: str = "cnemc_water", site: str = ""
) -> datetime:
    """The sample instant of a ``MM-DD HH:MM`` Beijing label, with the year inferred.

    A sample is never later than its fetch: of the previous, current and next year (in
    Beijing) the latest that puts the sample no more than a day after ``fetched_at`` (clock
    skew) wins, so late-December samples fetched in January belong to the previous year and
    a ``01-01`` sample fetched in December to the current one, never to the coming year.

    Raises
    ------
    SourceFormatChanged
        If the label is neither ``MM-DD HH:MM`` nor ``YYYY-MM-DD HH:MM``, or no year makes
        it a valid date.

    Examples
    --------
    >>> fetched = datetime(2027, 1, 1, 0, 40, tzinfo=BEIJING)
    >>> infer_sample_time("12-31 20:00", fetched).isoformat()
    '2026-12-31T20:00:00+08:00'
    >>> infer_sample_time("01-01 00:00", fetched).isoformat()
    '2027-01-01T00:00:00+08:00'
    >>> infer_sample_time("12-31 20:00", datetime(2026, 12, 6, tzinfo=BEIJING)).isoformat()
    '2025-12-31T20:00:00+08:00'
    """
    text = label.strip()
    of = f" of section {site!r}" if site else ""
    long = _LONG_TIME.match(text)
    short = _SHORT_TIME.match(text)
    try:
        if long:
            y, mo, d, h, mi = (int(g) for g in long.groups()[:5])
            return datetime(y, mo, d, h, mi, tzinfo=BEIJING)
        if short:
            mo, d, h, mi = (int(g) for g in short.groups())
            local = fetched_at.astimezone(BEIJING)
            candidates = []
            for year in (local.year - 1, local.year, local.year + 1):
                try:
                    candidates.append(datetime(year, mo, d, h, mi, tzinfo=BEIJING))
                except ValueError:  # 02-29 outside a leap year
                    continue
            past = [c for c in candidates if c <= local + _SKEW]
            if past:
                return max(past)
            if candidates:
                return min(candidates)
    except ValueError:
        pass
    raise SourceFormatChanged(
        source, f"monitoring time {label!r}{of} is not a 'MM-DD HH:MM' Beijing time"
    )


def parse_cell(cell: object) -> tuple[float, str]:
    """Value of an indicator cell and its flag (``''``, a status flag or ``'unparsed'``).

    Examples
    --------
    >>> parse_cell("<span title='原始值：23.88'>23.9</span>")
    (23.88, '')
    >>> parse_cell("--")
    (nan, '')
    >>> parse_cell("维护")
    (nan, 'maintenance')
    >>> parse_cell("<span title='当天质控不合格'>--</span>")
    (nan, 'source_qc_failed')
    """
    if cell is None:
        return float("nan"), ""
    if isinstance(cell, int | float) and not isinstance(cell, bool):
        return float(cell), ""
    raw = str(cell)
    if _QC_FAILED.search(html.unescape(raw)):
        # rejected by the platform's daily QC: usually "--"; a number shown anyway is kept
        # but marked invalid so that it stays out of every statistic
        number = _number(_text(raw))
        return number, "source_qc_failed" if np.isnan(
            number
        ) else "source_qc_failed;source_invalid"
    match = _RAW_VALUE.search(html.unescape(raw))
    if match:
        return float(match.group(1)), ""
    text = _text(raw)
    if text in _MISSING:
        return float("nan"), ""
    try:
        return float(text), ""
    except ValueError:
        pass
    flag = _status_flag(text)
    return float("nan"), flag or "unparsed"


def _map_headers(
    headers: Sequence[str], source: str
) -> tuple[dict[int, tuple[str, float]], int | None, list[str]]:
    """Column index → (parameter, factor to the FIELD_MAP unit); status column; ignored."""
    if len(headers) < 6 or "断面" not in headers[2] or "时间" not in headers[3]:
        raise SourceFormatChanged(
            source,
            f"table headers {list(headers)[:6]} do not start with 省份, 流域, 断面名称, "
            "监测时间, 水质类别 and indicators",
        )
    columns: dict[int, tuple[str, float]] = {}
    status_col: int | None = None
    ignored: list[str] = []
    for index, header in enumerate(headers[5:], start=5):
        if any(word in header for word in _STATUS_HEADERS):
            status_col = index
            continue
        unit_match = _UNIT.search(header)
        name = header[: unit_match.start()] if unit_match else header
        hit = next(((k, v) for k, v in FIELD_MAP.items() if k in name), None)
        if hit is None:
            ignored.append(header)
            continue
        parameter, default_unit = hit[1]
        unit = unit_match.group(1).strip() if unit_match else default_unit
        columns[index] = (parameter, _factor(parameter, unit, header, source))
    found = {parameter for parameter, _ in columns.values()}
    lost = [p for p in _REQUIRED if p not in found]
    if lost:
        raise SourceFormatChanged(
            source,
            f"no column for {lost} in table headers {list(headers)}; expected headers "
            f"containing {[k for k, v in FIELD_MAP.items() if v[0] in lost]}",
        )
    return columns, status_col, ignored


def _factor(parameter: str, unit: str, header: str, source: str) -> float:
    """Factor from the header's unit to the canonical unit."""
    if parameter == "algal_density":
        key = unit.lower().replace(" ", "")
        if key in _ALGAE_UNITS:
            return _ALGAE_UNITS[key]
    try:
        return float(to_canonical(parameter, [1.0], unit)[0])
    except ValueError as err:
        raise SourceFormatChanged(
            source, f"unit {unit!r} in header {header!r} cannot be read: {err}"
        ) from err


def _number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        return float("nan")


def _status_flag(text: str) -> str:
    return next((flag for word, flag in _STATUS_FLAGS if word in text), "")


def _text(cell: object) -> str:
    """Cell HTML → plain text (tags removed, entities decoded, spaces collapsed)."""
    if cell is None:
        return ""
    return " ".join(html.unescape(_TAG.sub("", str(cell))).split())


def _header(cell: object) -> str:
    """Header HTML → text without any spaces ("水温<br/>(℃)" → "水温(℃)")."""
    return _text(cell).replace(" ", "")


def _int_or(value: object, default: int | None) -> int | None:
    try:
        return int(str(value))
    except (TypeError, ValueError):
        return default


def _is_cold_text(text: str) -> bool:
    """The platform's "session not ready" answer: the text ``-1`` (HTTP 200, text/plain)."""
    return text.strip() == "-1"


def _beijing_now() -> datetime:
    return datetime.now(BEIJING)
