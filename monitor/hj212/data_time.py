"""Which ``DataTime`` the ledger can hold: the HJ 212 receiver's own time check. Pure.

A packet whose time cannot be stored is refused with ``CN=9011``, ``QnRtn=2`` ("request
rejected", HJ 212-2017 Table 7) so that the device stops resending it, counted under the
reason this module names, and logged. Rules, in order:

=========================  =============================================================
reason                     refused when
=========================  =============================================================
``bad_data_time``          ``DataTime`` is missing, or not ``YYYYMMDDhhmmss`` of a real
                           date and time (month 13, 30 February, hour 24 …)
``off_hour_data_time``     hourly data (``CN=2061``) whose ``DataTime`` is not on the hour
                           (``…080500``): HJ 212-2017 §6.6 hourly data cover a clock hour,
                           and the ledger's hourly values are labelled on the hour (an
                           off-hour label made every evaluation fail). Not rounded: which
                           hour a device meant is a guess
``early_data_time``        the period starts before :data:`EARLIEST` (2005-01-01 00:00
                           Beijing time, the first edition of the protocol, HJ/T 212-2005):
                           a device clock reset (data loggers restart at 2000-01-01), or
                           years such as 1600
``future_data_time``       the period ends more than :data:`FUTURE_TOLERANCE_S` after the
                           receiver's clock (years such as 9999 or 2099, a device clock
                           running ahead): data of a period that has not ended
=========================  =============================================================

These are the rules of the shared intake check (:mod:`monitor.collectors.intake`: on the
hour, not before the earliest time, not after now + a tolerance, finite values), applied
per packet without building a DataFrame (the receiver's hot path), with two constants
tightened for data loggers: the earliest time is the protocol's first edition (a logger
whose clock reset to 2000 is refused) and the tolerance is 10 minutes (a logger's clock,
not a platform's labelling). Non-finite numbers are stored as missing with
``source_invalid`` (:mod:`monitor.hj212.readings`), as the intake check refuses them.
"""

from __future__ import annotations

from typing import Final, NamedTuple

from monitor.hj212.protocol import BadSegment, Packet
from monitor.hj212.readings import period

__all__ = ["EARLIEST", "FUTURE_TOLERANCE_S", "TimeRefusal", "refuse_data_time"]

#: Earliest period start accepted: 2005-01-01 00:00 Beijing time [UTC epoch s].
EARLIEST: Final = 1104508800
#: How far the end of a period may lie after the receiver's clock (device clock drift) [s].
FUTURE_TOLERANCE_S: Final = 600


class TimeRefusal(NamedTuple):
    """Why a packet's time is refused: the counter label and a message for the log."""

    reason: str
    message: str


def refuse_data_time(packet: Packet, minute_interval_s: int, now: float) -> TimeRefusal | None:
    """Whether the time of a data packet is refused (see the module docs); None: accepted.

    Examples
    --------
    >>> from monitor.hj212.protocol import parse_segment
    >>> def hourly(t: str) -> Packet:
    ...     return parse_segment(f"ST=22;CN=2061;PW=1;MN=M;CP=&&DataTime={t}&&".encode())
    >>> now = 1767225600.0  # 2026-01-01 08:00 Beijing time
    >>> refuse_data_time(hourly("20251231080000"), 600, now) is None
    True
    >>> refuse_data_time(hourly("20251231080500"), 600, now).reason
    'off_hour_data_time'
    >>> refuse_data_time(hourly("20251331080000"), 600, now).reason
    'bad_data_time'
    >>> refuse_data_time(hourly("16000101080000"), 600, now).reason
    'early_data_time'
    >>> refuse_data_time(hourly("99991231080000"), 600, now).reason
    'future_data_time'
    """
    try:
        start, end = period(packet, minute_interval_s)
    except BadSegment as err:
        return TimeRefusal("bad_data_time", str(err))
    text = packet.data_time
    if packet.cn == "2061" and not text.endswith("0000"):
        return TimeRefusal(
            "off_hour_data_time",
            f"hourly data (CN=2061) with DataTime={text}: not on the hour; expected "
            f"{text[:10]}0000 (the start of the hour the values cover)",
        )
    if start < EARLIEST:
        return TimeRefusal(
            "early_data_time",
            f"DataTime={text} is before 2005-01-01 (HJ/T 212-2005); check the data logger's clock",
        )
    if end > now + FUTURE_TOLERANCE_S:
        return TimeRefusal(
            "future_data_time",
            f"DataTime={text} (CN={packet.cn}) ends a period "
            f"{(end - now) / 3600:.1f} h after the receiver's clock; check the data "
            "logger's clock",
        )
    return None
