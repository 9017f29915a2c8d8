"""``envmon hj212 send``: build HJ 212-2017 packets from a CSV file and send them.

A small client for field tests and demonstrations. The CSV (UTF-8, header row) has one
row per factor value:

==============  ========  ===============================================================
column          required  meaning
==============  ========  ===============================================================
``mn``          yes       device id (MN) of the station sending
``time``        yes       ``DataTime``, Beijing time: ``YYYYMMDDhhmmss`` or ISO 8601
                          (``2025-01-01T08:00:00``, an offset is converted); the **start**
                          of the period for minute, hourly and daily data
``code``        yes       factor code (``a34004``, ``w21003`` …)
``value``       yes       the value, in the unit the station is configured for
``cn``          no        command: 2011 real-time, 2051 minute, 2061 hourly (default,
                          or ``--cn``), 2031 daily
``flag``        no        data flag (``N`` normal by default; ``M``, ``C``, ``D`` …)
``statistic``   no        ``Rtd`` (default for 2011), ``Avg`` (default otherwise), ``Min``,
                          ``Max``, ``Cou``
==============  ========  ===============================================================

Rows with the same ``mn``, ``cn`` and ``time`` make one packet. The password comes from an
environment variable only: ``--password-env NAME``, else the ``password_env`` of the
station's ``[[hj212.stations]]`` entry in the settings.
"""

from __future__ import annotations

import csv
import socket
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from monitor.errors import InputError, SourceUnavailable
from monitor.hj212.protocol import (
    BadSegment,
    Frame,
    Framer,
    build_packet,
    build_segment,
    parse_segment,
)

__all__ = ["CsvPacket", "SendReport", "packets_from_csv", "send_packets"]

_BEIJING = timezone(timedelta(hours=8))
_REQUIRED = ("mn", "time", "code", "value")
_COMMANDS = ("2011", "2051", "2061", "2031")
_RECEIVER = "HJ 212 receiver"


@dataclass(frozen=True)
class CsvPacket:
    """One packet built from CSV rows."""

    mn: str
    cn: str
    data_time: str  # YYYYMMDDhhmmss, Beijing time
    items: tuple[tuple[str, str, str, str], ...]  # (code, statistic, value, flag)
    line: int  # first CSV line of the packet

    def segment(self, *, qn: str, st: str, pw: str, flag: int) -> bytes:
        """The data segment: ``DataTime`` then one ``;``-group per factor."""
        groups: dict[str, list[str]] = {}
        flags: dict[str, str] = {}
        for code, statistic, value, data_flag in self.items:
            groups.setdefault(code, []).append(f"{code}-{statistic}={value}")
            flags[code] = data_flag
        parts = [f"DataTime={self.data_time}"] + [
            ",".join([*fields, f"{code}-Flag={flags[code]}"]) for code, fields in groups.items()
        ]
        return build_segment(
            qn=qn, st=st, cn=self.cn, pw=pw, mn=self.mn, flag=flag, cp=";".join(parts)
        )


def _data_time(text: str, line: int) -> str:
    text = text.strip()
    if len(text) == 14 and text.isdigit():
        try:
            datetime.strptime(text, "%Y%m%d%H%M%S")
        except ValueError:
            pass
        else:
            return text
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise InputError(
            f"line {line}: time {text!r} is not a time; expected YYYYMMDDhhmmss or ISO 8601"
        ) from None
    if moment.tzinfo is not None:
        moment = moment.astimezone(_BEIJING).replace(tzinfo=None)
    return moment.strftime("%Y%m%d%H%M%S")


def packets_from_csv(path: Path, *, default_cn: str = "2061") -> list[CsvPacket]:
    """Read the CSV (see the module docs) into packets, in order of first appearance.

    Raises
    ------
    InputError
        If the file cannot be read, a required column is missing, or a row has a bad
        ``time``, ``cn``, ``value`` or ``code`` (every bad row is listed).
    """
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as err:
        raise InputError(f"cannot read {path}: {err}") from None
    reader = csv.DictReader(text.splitlines())
    header = [h.strip() for h in reader.fieldnames or []]
    missing = [c for c in _REQUIRED if c not in header]
    if missing:
        raise InputError(
            f"{path}: missing column(s) {', '.join(missing)}; expected a header with "
            "mn,time,code,value[,cn,flag,statistic]"
        )
    packets: dict[tuple[str, str, str], list[tuple[str, str, str, str]]] = {}
    first_line: dict[tuple[str, str, str], int] = {}
    problems: list[str] = []
    for line, raw in enumerate(reader, start=2):
        row = {(k or "").strip(): (v or "").strip() for k, v in raw.items()}
        try:
            cn = row.get("cn") or default_cn
            if cn not in _COMMANDS:
                raise InputError(f"line {line}: cn {cn!r}; expected one of {', '.join(_COMMANDS)}")
            code, value = row["code"], row["value"]
            if not code.isalnum():
                raise InputError(f"line {line}: code {code!r}; expected letters and digits")
            try:
                float(value)
            except ValueError:
                raise InputError(f"line {line}: value {value!r} is not a number") from None
            mn = row["mn"]
            if not mn.isalnum():
                raise InputError(f"line {line}: mn {mn!r}; expected letters and digits")
            statistic = row.get("statistic") or ("Rtd" if cn == "2011" else "Avg")
            flag = row.get("flag") or "N"
            key = (mn, cn, _data_time(row["time"], line))
        except InputError as err:
            problems.append(str(err))
            continue
        packets.setdefault(key, []).append((code, statistic, value, flag))
        first_line.setdefault(key, line)
    if problems:
        raise InputError(f"{path}: {len(problems)} bad row(s): " + "; ".join(problems[:10]))
    if not packets:
        raise InputError(f"{path}: no rows; expected one row per factor value")
    return [
        CsvPacket(mn, cn, data_time, tuple(items), first_line[(mn, cn, data_time)])
        for (mn, cn, data_time), items in packets.items()
    ]


@dataclass
class SendReport:
    """What the server answered."""

    sent: int = 0
    acknowledged: int = 0
    refused: int = 0
    unanswered: int = 0
    refusals: list[str] | None = None

    def summary(self) -> str:
        """One line for the operator."""
        text = (
            f"sent {self.sent} packet(s): {self.acknowledged} acknowledged, "
            f"{self.refused} refused, {self.unanswered} without an answer"
        )
        if self.refusals:
            text += " (" + "; ".join(self.refusals[:5]) + ")"
        return text


_QN_RTN = {
    "2": "rejected (DataTime refused, see the receiver log)",
    "3": "wrong password",
    "4": "unknown MN",
    "9": "CRC error",
}


def send_packets(
    packets: Iterable[CsvPacket],
    *,
    host: str,
    port: int,
    password: Callable[[str], str],
    st: str = "22",
    flag: int = 5,
    timeout: float = 5.0,
    clock: Callable[[], datetime] = lambda: datetime.now(_BEIJING),
) -> SendReport:
    """Send each packet and wait (up to ``timeout`` s) for its answer.

    ``password(mn)`` gives the station's password. With ``flag`` asking for an
    acknowledgement (A bit), each packet waits for ``CN=9014`` (acknowledged) or ``CN=9011``
    (refused); without it packets are only sent.

    Raises
    ------
    SourceUnavailable
        If the server cannot be reached or closes the connection.
    """
    report = SendReport(refusals=[])
    last_qn = 0
    try:
        sock = socket.create_connection((host, port), timeout=timeout)
    except OSError as err:
        raise SourceUnavailable(
            _RECEIVER,
            f"cannot connect to {host}:{port}: {err}; is it running "
            "(envmon run with [hj212] enabled, or envmon hj212 listen)?",
        ) from None
    framer = Framer(10011)
    with sock:
        for packet in packets:
            now = clock()  # QN: YYYYMMDDhhmmsszzz, made unique within the run
            last_qn = max(
                int(now.strftime("%Y%m%d%H%M%S") + f"{now.microsecond // 1000:03d}"), last_qn + 1
            )
            qn = str(last_qn)
            data = build_packet(packet.segment(qn=qn, st=st, pw=password(packet.mn), flag=flag))
            try:
                sock.sendall(data)
            except OSError as err:
                raise SourceUnavailable(
                    _RECEIVER, f"the receiver closed the connection: {err}"
                ) from None
            report.sent += 1
            if not flag & 1:
                continue
            answer = _answer(sock, framer, qn, timeout)
            if answer is None:
                report.unanswered += 1
            elif answer.cn == "9014":
                report.acknowledged += 1
            else:
                report.refused += 1
                code = answer.fields.get("QnRtn", "?")
                assert report.refusals is not None
                report.refusals.append(
                    f"line {packet.line}: QnRtn={code} {_QN_RTN.get(code, '')}".rstrip()
                )
    return report


def _answer(sock: socket.socket, framer: Framer, qn: str, timeout: float) -> _Reply | None:
    deadline = time.monotonic() + timeout
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return None
        sock.settimeout(remaining)
        try:
            data = sock.recv(65536)
        except TimeoutError:
            return None
        except OSError as err:
            raise SourceUnavailable(
                _RECEIVER, f"the receiver closed the connection: {err}"
            ) from None
        if not data:
            raise SourceUnavailable(_RECEIVER, "the receiver closed the connection")
        for event in framer.feed(data):
            if not isinstance(event, Frame):
                continue
            try:
                reply = parse_segment(event.segment)
            except BadSegment:
                continue
            if reply.qn == qn and reply.cn in ("9014", "9011"):
                return _Reply(reply.cn, reply.fields)


@dataclass(frozen=True)
class _Reply:
    cn: str
    fields: Mapping[str, str]
