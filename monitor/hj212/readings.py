"""An accepted HJ 212 data packet → readings with canonical names, units, periods, flags. Pure.

Periods (HJ 212-2017 §6.6: ``DataTime`` of minute, hourly and daily data is the **start**
of the period; of real-time data, the acquisition instant), in UTC epoch seconds:

=======  ====================  ==========================================================
CN       what                  period
=======  ====================  ==========================================================
2011     real-time data        the instant ``DataTime`` (start = end)
2051     minute data           ``DataTime`` … + the station's minute interval
2061     hourly data           ``DataTime`` … + 1 h: labelled by its **end**, as envmon's
                               hourly values are (the value sent for 08:00 is stored at 09:00)
2031     daily data            ``DataTime`` (00:00 Beijing time) … + 24 h
2041     daily run time        as daily data
=======  ====================  ==========================================================

Every item of every factor becomes one :class:`Reading` (statistic ``Rtd``, ``Avg``,
``Min``, ``Max``, ``Cou``, ``ZsAvg`` …). Concentration statistics (``Rtd``, ``Avg``, ``Min``,
``Max``) of a code with a canonical parameter are converted to its canonical unit; other
readings keep the value and unit as sent, with an empty ``parameter``. Which readings
become ledger observations is :func:`is_observation`'s decision: hourly means only, since
the ledger's observations are the hourly values the evaluation reads.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping
from typing import Final, NamedTuple

from monitor.domain.units import CANONICAL_UNITS, to_canonical
from monitor.hj212.codes import CODES, qc_flags, sent_unit
from monitor.hj212.protocol import BadSegment, Packet, parse_data_time

__all__ = ["PERIOD_SECONDS", "Reading", "is_observation", "period", "readings"]

#: Length of the period of each data command [s]; None: the station's minute interval.
PERIOD_SECONDS: Final[Mapping[str, int | None]] = {
    "2011": 0,
    "2051": None,
    "2061": 3600,
    "2031": 86400,
    "2041": 86400,
}
_CONCENTRATION: Final = frozenset({"Rtd", "Avg", "Min", "Max"})
_NOT_VALUES: Final = frozenset({"Flag", "EFlag", "SampleTime"})


class Reading(NamedTuple):
    """One value of one factor statistic; times are UTC epoch seconds."""

    site: str
    code: str
    statistic: str
    cn: str
    period_start: int
    period_end: int
    parameter: str
    unit: str
    value: float | None
    flags: str


def period(packet: Packet, minute_interval_s: int) -> tuple[int, int]:
    """(start, end) of a data packet's period in UTC epoch seconds.

    Raises
    ------
    BadSegment
        If ``DataTime`` is missing or invalid, or the command carries no data.

    Examples
    --------
    >>> from monitor.hj212.protocol import parse_segment
    >>> p = parse_segment(b"ST=22;CN=2061;PW=1;MN=M;CP=&&DataTime=20250101080000&&")
    >>> period(p, 600)  # 08:00–09:00 Beijing = 00:00–01:00 UTC
    (1735689600, 1735693200)
    """
    if packet.cn not in PERIOD_SECONDS:
        raise BadSegment(f"CN={packet.cn} carries no monitoring data")
    if not packet.data_time:
        raise BadSegment(f"CN={packet.cn} packet without DataTime")
    start = int(parse_data_time(packet.data_time).timestamp())
    length = PERIOD_SECONDS[packet.cn]
    return start, start + (minute_interval_s if length is None else length)


@functools.lru_cache(maxsize=256)
def _factor(parameter: str, unit: str) -> float | None:
    """Multiplier from ``unit`` to the parameter's canonical unit (None: no conversion)."""
    try:
        return float(to_canonical(parameter, [1.0], unit)[0])
    except ValueError:
        return None


def _number(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def readings(
    packet: Packet,
    site: str,
    *,
    minute_interval_s: int = 600,
    units: Mapping[str, str] | None = None,
) -> list[Reading]:
    """The readings of a data packet (see the module docs).

    ``units`` overrides, per factor code, the unit the device sends. A value that is not a
    number is kept as None with ``source_invalid``.

    Raises
    ------
    BadSegment
        As :func:`period`.

    Examples
    --------
    >>> from monitor.hj212.protocol import parse_segment
    >>> p = parse_segment(b"ST=22;CN=2061;PW=1;MN=M;CP=&&DataTime=20250101080000;"
    ...                   b"a21005-Avg=0.8,a21005-Flag=N;a34004-Avg=38.2,a34004-Flag=C&&")
    >>> [(r.parameter, r.unit, r.value, r.flags) for r in readings(p, "s1")]
    [('co', 'mg/m³', 0.8, ''), ('pm2_5', 'µg/m³', 38.2, 'calibration')]
    """
    start, end = period(packet, minute_interval_s)
    out: list[Reading] = []
    cn, st = packet.cn, packet.st
    for code, fields in packet.items.items():
        flags = qc_flags(fields.get("Flag", ""))
        unit = (units.get(code) if units else None) or sent_unit(code, st)
        parameter, canonical, factor = _plan(code, unit)
        for statistic, text in fields.items():
            if statistic in _NOT_VALUES:
                continue
            value = _number(text)
            row_flags = flags
            if value is None:
                row_flags = _invalid(flags)
            if parameter and statistic in _CONCENTRATION:
                if value is not None and factor != 1.0:
                    value = round(value * factor, 9)
                out.append(
                    Reading(site, code, statistic, cn, start, end, parameter, canonical, value,
                            row_flags)
                )  # fmt: skip
            else:
                out.append(
                    Reading(site, code, statistic, cn, start, end, "", unit, value, row_flags)
                )
    return out


@functools.lru_cache(maxsize=64)
def _invalid(flags: str) -> str:
    """``flags`` of a value that is not a number: with ``source_invalid``."""
    if "source_invalid" in flags.split(";"):
        return flags
    return ";".join(f for f in ("source_invalid", flags) if f)


@functools.lru_cache(maxsize=1024)
def _plan(code: str, unit: str) -> tuple[str, str, float]:
    """(canonical parameter, its unit, factor from ``unit``) of a code's concentrations;
    ('', unit, 1.0) when there is no canonical parameter or no conversion from ``unit``."""
    known = CODES.get(code)
    if known is None or known.parameter is None:
        return "", unit, 1.0
    factor = _factor(known.parameter, unit)
    if factor is None:
        return "", unit, 1.0
    return known.parameter, CANONICAL_UNITS[known.parameter], factor


def is_observation(reading: Reading) -> bool:
    """Whether a reading is stored as a ledger observation: the hourly mean (``CN=2061``,
    ``Avg``) of a canonical parameter. Every other reading goes to ``hj212_readings``."""
    return reading.cn == "2061" and reading.statistic == "Avg" and reading.parameter != ""
