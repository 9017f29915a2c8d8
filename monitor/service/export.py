"""Tables read back from the ledger: ``envmon export`` and ``envmon status``.

Times are ISO 8601 with the +08:00 offset (+09:00 in the summer times before 1992),
labelling the hour by its end as the national platform does; dates are Asia/Shanghai
calendar dates.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Final

import numpy as np
import pandas as pd

from monitor.domain.aqi import level_categories
from monitor.domain.daily import DAILY_STATISTICS
from monitor.domain.units import AIR_PARAMETERS
from monitor.ledger import Ledger

LOCAL_TZ: Final = "Asia/Shanghai"


def _local_bounds(first: date, last: date) -> tuple[int, int]:
    """Epoch bounds (exclusive, inclusive] of labels 00:00 of ``first`` … 23:00 of ``last``
    (the hours labelled on those dates, 23 or 25 on a day the clocks changed)."""
    start = _first_instant(first) - pd.Timedelta(hours=1)
    end = _first_instant(last + timedelta(days=1)) - pd.Timedelta(hours=1)
    return int(start.timestamp()), int(end.timestamp())


def _first_instant(day: date) -> pd.Timestamp:
    """Local midnight of ``day``, or where it never was (clocks put forward at midnight:
    1919, 1940-1949) the day's first instant, 01:00 UTC+9."""
    return pd.Timestamp(day).tz_localize(LOCAL_TZ, ambiguous=True, nonexistent="shift_forward")


def _iso_local(seconds: pd.Series) -> pd.Series:
    utc = pd.to_datetime(seconds.astype("int64"), unit="s", utc=True)
    times = utc.dt.tz_convert(LOCAL_TZ)
    text = times.dt.strftime("%Y-%m-%dT%H:%M:%S+08:00")
    # the offset the local time had where it was not UTC+8 (summer time: 1919, 1940-1949,
    # 1986-1991, UTC+9): the text reads back as the instant, each hour its own
    other = (times.dt.tz_localize(None) - utc.dt.tz_localize(None)) != pd.Timedelta(hours=8)
    if other.any():
        text[other] = pd.Series([t.isoformat() for t in times[other]], index=text.index[other])
    return text


def _site_filter(sites: Sequence[str] | None, column: str = "site") -> tuple[str, list[str]]:
    if not sites:
        return "", []
    return f" AND {column} IN ({','.join('?' * len(sites))})", list(sites)


def export_observations(
    ledger: Ledger, first: date, last: date, sites: Sequence[str] | None = None
) -> pd.DataFrame:
    """``site,time,parameter,value,unit,source,flags`` (source flags and envmon's QC flags)."""
    start, end = _local_bounds(first, last)
    where, params = _site_filter(sites, "o.site")
    frame = ledger.query(
        "SELECT o.site, o.period_end, o.parameter, o.value, o.unit, o.source, o.flags, "
        "q.flags AS qc FROM observations o LEFT JOIN qc_flags q ON q.site = o.site AND "
        "q.parameter = o.parameter AND q.period_end = o.period_end "
        f"WHERE o.period_end > ? AND o.period_end <= ?{where} "
        "ORDER BY o.site, o.period_end, o.parameter, o.source",
        [start, end, *params],
    )
    qc = frame["qc"].astype(object).where(frame["qc"].notna(), "")
    flags = [
        ";".join(dict.fromkeys(t for t in f"{a};{b}".split(";") if t))
        for a, b in zip(frame["flags"], qc, strict=True)
    ]
    return pd.DataFrame(
        {
            "site": frame["site"],
            "time": _iso_local(frame["period_end"]) if len(frame) else [],
            "parameter": frame["parameter"],
            "value": frame["value"],
            "unit": frame["unit"],
            "source": frame["source"],
            "flags": flags,
        }
    )


def export_hourly_aqi(
    ledger: Ledger,
    first: date,
    last: date,
    sites: Sequence[str] | None = None,
    standard: str = "official",
) -> pd.DataFrame:
    """``site,time,aqi,level,category,primary_pollutants,standard`` then the IAQIs."""
    start, end = _local_bounds(first, last)
    where, params = _site_filter(sites)
    which = "official = 1" if standard == "official" else "standard = ?"
    extra = [] if standard == "official" else [standard]
    frame = ledger.query(
        "SELECT site, period_end, aqi, level, primary_pollutants, standard, is_area, complete, "
        "stations, "
        + ", ".join(f"iaqi_{p}" for p in AIR_PARAMETERS)
        + f" FROM hourly_aqi WHERE {which} AND period_end > ? AND period_end <= ?{where} "
        "ORDER BY is_area, site, period_end",
        [*extra, start, end, *params],
    )
    level = frame["level"].to_numpy(dtype=np.int8) if len(frame) else np.zeros(0, np.int8)
    out = pd.DataFrame(
        {
            "site": frame["site"],
            "time": _iso_local(frame["period_end"]) if len(frame) else [],
            "aqi": frame["aqi"].astype("Int64") if len(frame) else [],
            "level": pd.Series(level).replace(0, pd.NA).astype("Int64"),
            "category": level_categories(level),
            "primary_pollutants": frame["primary_pollutants"],
            "standard": frame["standard"],
        }
    )
    for p in AIR_PARAMETERS:
        out[f"iaqi_{p}"] = frame[f"iaqi_{p}"].astype("Int64") if len(frame) else []
    out["complete"] = frame["complete"].astype(bool) if len(frame) else []
    out["area"] = frame["is_area"].astype(bool) if len(frame) else []
    # Area rows: the evaluation stations with a value the row rests on; empty for sites.
    out["stations"] = frame["stations"].astype("Int64") if len(frame) else []
    return out


def export_daily_aqi(
    ledger: Ledger,
    first: date,
    last: date,
    sites: Sequence[str] | None = None,
    standard: str = "official",
) -> pd.DataFrame:
    """``site,date,aqi,level,category,primary_pollutants,standard`` then statistics."""
    where, params = _site_filter(sites)
    which = "official = 1" if standard == "official" else "standard = ?"
    extra = [] if standard == "official" else [standard]
    frame = ledger.query(
        "SELECT site, date, aqi, level, primary_pollutants, standard, is_area, complete, "
        f"stations, exceedance_pollutants, invalid_statistics, {', '.join(DAILY_STATISTICS)} "
        f"FROM daily_aqi WHERE {which} AND date >= ? AND date <= ?{where} "
        "ORDER BY is_area, site, date",
        [*extra, first.isoformat(), last.isoformat(), *params],
    )
    level = frame["level"].to_numpy(dtype=np.int8) if len(frame) else np.zeros(0, np.int8)
    out = pd.DataFrame(
        {
            "site": frame["site"],
            "date": frame["date"],
            "aqi": frame["aqi"].astype("Int64") if len(frame) else [],
            "level": pd.Series(level).replace(0, pd.NA).astype("Int64"),
            "category": level_categories(level),
            "primary_pollutants": frame["primary_pollutants"],
            "standard": frame["standard"],
        }
    )
    for s in DAILY_STATISTICS:
        out[s] = frame[s] if len(frame) else []
    out["invalid_statistics"] = frame["invalid_statistics"] if len(frame) else []
    out["exceedance_pollutants"] = frame["exceedance_pollutants"] if len(frame) else []
    out["complete"] = frame["complete"].astype(bool) if len(frame) else []
    out["area"] = frame["is_area"].astype(bool) if len(frame) else []
    # Area rows: the evaluation stations with a value the row rests on; empty for sites.
    out["stations"] = frame["stations"].astype("Int64") if len(frame) else []
    return out


def source_status(ledger: Ledger) -> pd.DataFrame:
    """Per source: last success, last failure, failures since the last success, watermark,
    and the gaps its latest successful fetch reported as still open (``gap:`` notes).

    A batch whose rows were all refused at intake (fetch-log status ``refused``) is neither
    a success nor a failure of the fetch: it is counted in ``refused_since_success``, with
    the first line of its note (how many rows) as ``last_refused_note``."""
    log = ledger.query(
        "SELECT source, status, finished_at, error, notes FROM fetch_log ORDER BY id"
    )
    sources = ledger.query("SELECT source, collector, kind FROM sources ORDER BY source")
    rows = []
    for source, collector, kind in sources.itertuples(index=False):
        entries = log[log["source"] == source]
        ok = entries[entries["status"].isin(["ok", "empty"])]
        failed = entries[entries["status"] == "failed"]
        refused = entries[entries["status"] == "refused"]
        last_ok = int(ok["finished_at"].iloc[-1]) if len(ok) else None
        since_ok = failed[failed["finished_at"] >= (last_ok or 0)] if last_ok else failed
        refused_since = refused[refused["finished_at"] >= last_ok] if last_ok else refused
        mark = ledger.watermark(source)
        rows.append(
            {
                "source": source,
                "collector": collector,
                "kind": kind,
                "last_success": _fmt(last_ok),
                "last_failure": _fmt(int(failed["finished_at"].iloc[-1]) if len(failed) else None),
                "failures_since_success": len(since_ok),
                "last_error": failed["error"].iloc[-1] if len(failed) else "",
                "refused_since_success": len(refused_since),
                "last_refused_note": str(refused["notes"].iloc[-1]).split("\n", 1)[0]
                if len(refused)
                else "",
                "latest_data": "" if mark is None else _fmt(int(mark.timestamp())),
                # gaps the collector could not fill, as its latest successful fetch said
                "open_gaps": "; ".join(
                    line
                    for line in (str(ok["notes"].iloc[-1]) if len(ok) else "").splitlines()
                    if line.startswith("gap:")
                ),
            }
        )
    return pd.DataFrame(rows)


def _fmt(seconds: int | None) -> str:
    if seconds is None:
        return ""
    moment = pd.Timestamp(seconds, unit="s", tz="UTC").tz_convert(LOCAL_TZ)
    if moment.utcoffset() != pd.Timedelta(hours=8):  # (summer time, as _iso_local)
        return moment.isoformat()
    return moment.strftime("%Y-%m-%dT%H:%M:%S+08:00")


def site_status(ledger: Ledger, now: datetime) -> pd.DataFrame:
    """Per site: completeness of the last 24 hours (air: hourly values of the six
    pollutants present / 144) and QC flags in that window."""
    end = int(now.timestamp())
    start = end - 24 * 3600
    counts = ledger.query(
        "SELECT site, count(DISTINCT parameter || period_end) AS n, max(period_end) AS latest "
        "FROM observations WHERE value IS NOT NULL AND period_end > ? AND period_end <= ? "
        "AND parameter IN "
        f"({','.join('?' * len(AIR_PARAMETERS))}) GROUP BY site ORDER BY site",
        [start, end, *AIR_PARAMETERS],
    )
    flags = ledger.query(
        "SELECT site, count(*) AS flagged FROM qc_flags WHERE period_end > ? AND period_end <= ? "
        "GROUP BY site",
        [start, end],
    )
    out = counts.merge(flags, on="site", how="left").fillna({"flagged": 0})
    out["completeness_24h"] = (out["n"] / (24 * len(AIR_PARAMETERS))).round(3)
    out["latest"] = [_fmt(int(v)) for v in out["latest"]]
    out["qc_flags_24h"] = out["flagged"].astype(int)
    return out[["site", "completeness_24h", "latest", "qc_flags_24h"]]


__all__ = [
    "export_daily_aqi",
    "export_hourly_aqi",
    "export_observations",
    "site_status",
    "source_status",
]
