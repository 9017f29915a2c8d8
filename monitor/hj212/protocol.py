"""HJ 212-2017 packets: framing, CRC, the data segment, acknowledgements. Pure, no I/O.

HJ 212-2017 《污染物在线监控（监测）系统数据传输标准》 §6.3 (communication packet) and
§6.6 (commands). A packet is::

    ## 0101 QN=…;ST=…;CN=…;PW=…;MN=…;Flag=…;CP=&&…&& 1C80 \\r\\n
    |  |    |                                        |    |
    |  |    data segment (≤ 1024 characters)         |    end of packet
    |  4-digit decimal length of the data segment    CRC16 of the data segment, 4 hex digits
    header

The data segment holds ``QN`` (request id, ``YYYYMMDDhhmmsszzz``), ``ST`` (system code),
``CN`` (command code), ``PW`` (access password), ``MN`` (device id), ``Flag`` (bit field:
version bits V5…V0, then D = split packet, A = acknowledge requested; ``Flag=5`` is the 2017
edition asking for an acknowledgement), optional ``PNUM``/``PNO`` (split packets) and ``CP``,
the command parameters between ``&&`` and ``&&``: ``key=value`` items, ``,`` between items
of one factor and ``;`` between factors, e.g.
``DataTime=20250101080000;a34004-Avg=38.2,a34004-Flag=N``.

The CRC (HJ 212-2017 Appendix A) is CRC-16 over the data segment with initial value 0xFFFF
and the reflected polynomial 0xA001, but each byte is combined as ``crc = (crc >> 8) ^ byte``
before the eight shift/xor rounds (not the Modbus order). The standard's own example gives
``1C80`` (its prose misprints 1C08).

HJ/T 212-2005 packets (no ``QN`` or ``Flag``, old factor codes such as ``011``) use the same
frame and CRC and are parsed too.

Errors: :func:`parse_segment` raises :class:`BadSegment`; :class:`Framer` never raises on
input bytes, it returns :class:`FrameError` values next to the frames it found. Every error
is a :class:`ProtocolError`; nothing else escapes on arbitrary bytes.
"""

from __future__ import annotations

import functools
import struct
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Final

__all__ = [
    "DATA_COMMANDS",
    "MAX_SEGMENT_CHARS",
    "QN_RTN_MN",
    "QN_RTN_PASSWORD",
    "QN_RTN_REJECTED",
    "BadCrc",
    "BadLength",
    "BadSegment",
    "BadTerminator",
    "Frame",
    "FrameError",
    "Framer",
    "Garbage",
    "Packet",
    "PacketTooLarge",
    "ProtocolError",
    "build_packet",
    "build_segment",
    "crc16",
    "data_ack",
    "parse_data_time",
    "parse_segment",
    "rejection",
]

#: Largest data segment the standard allows [characters] (HJ 212-2017 §6.3.2).
MAX_SEGMENT_CHARS: Final = 1024
#: Header ``##`` + 4 length digits, and CRC + CR LF after the segment [bytes].
_HEAD: Final = 6
_TAIL: Final = 6

#: Upload commands carrying monitoring data (HJ 212-2017 §6.6, Table 6): real-time data,
#: minute data, hourly data, daily data, daily run time of the equipment.
DATA_COMMANDS: Final = frozenset({"2011", "2051", "2061", "2031", "2041"})

#: Beijing time, the time of every ``DataTime`` and ``QN`` (UTC+8, no daylight saving).
_BEIJING: Final = timedelta(hours=8)


def _crc_table() -> tuple[int, ...]:
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
        table.append(crc)
    return tuple(table)


# After ``crc = (crc >> 8) ^ byte`` the value fits in 8 bits, so the eight rounds that
# follow are a lookup of that value; and only the high byte of the result enters the next
# step, so the loop carries that byte alone. Two steps at once: for bytes b1, b2 read as
# the little-endian 16-bit value v = b1 | b2 << 8, the next high byte is
# _HIGH[_HIGH[(high ^ v) & 0xFF] ^ ((high ^ v) >> 8)], one lookup in a 64 KiB table.
_TABLE: Final = _crc_table()
_HIGH: Final = bytes(crc >> 8 for crc in _TABLE)
_HIGH2: Final = [_HIGH[_HIGH[i & 0xFF] ^ (i >> 8)] for i in range(65536)]


def crc16(segment: bytes) -> int:
    """CRC16 of a data segment as HJ 212-2017 Appendix A computes it.

    Examples
    --------
    The standard's own example packet (Appendix C, ``CN=1062``):

    >>> segment = (b"QN=20160801085857223;ST=32;CN=1062;PW=100000;"
    ...            b"MN=010000A8900016F000169DC0;Flag=5;CP=&&RtdInterval=30&&")
    >>> f"{crc16(segment):04X}"
    '1C80'
    """
    if not segment:
        return 0xFFFF
    high, high2 = 0xFF, _HIGH2
    body = len(segment) - 1  # every byte but the last, in pairs, then the odd one
    for value in struct.unpack_from(f"<{body // 2}H", segment):
        high = high2[high ^ value]
    if body % 2:
        high = _HIGH[high ^ segment[body - 1]]
    return _TABLE[high ^ segment[-1]]


# --------------------------------------------------------------------------- errors


class ProtocolError(ValueError):
    """A packet that breaks HJ 212-2017 §6.3; the message says what and where."""


class FrameError(ProtocolError):
    """A framing error found by :class:`Framer` (returned, not raised)."""


class Garbage(FrameError):
    """Bytes outside any packet (before ``##``), discarded."""


class BadLength(FrameError):
    """``##`` not followed by four decimal digits."""


class PacketTooLarge(FrameError):
    """The declared length makes the packet larger than the configured maximum."""


class BadTerminator(FrameError):
    """The packet does not end with 4 hex digits and CR LF where its length says."""


class BadCrc(FrameError):
    """The CRC does not match the data segment."""


class BadSegment(ProtocolError):
    """The data segment cannot be read (missing ``CN``/``MN``, no ``CP=&&…&&``, …)."""


# --------------------------------------------------------------------------- framing


@dataclass(frozen=True)
class Frame:
    """One packet whose length, terminator and CRC are right; ``segment`` is its data segment."""

    segment: bytes


class Framer:
    """Cuts a byte stream into packets: split and concatenated packets, resync after garbage.

    ``feed`` returns, in stream order, a :class:`Frame` per good packet and a
    :class:`FrameError` per problem. After an error the framer looks for the next ``##``.
    A packet whose declared size exceeds ``max_packet_bytes`` is refused at once, without
    waiting for its bytes.

    Examples
    --------
    >>> framer = Framer()
    >>> packet = build_packet(b"ST=22;CN=2011;PW=1;MN=A;CP=&&&&")
    >>> [type(e).__name__ for e in framer.feed(b"xx" + packet[:10])]
    ['Garbage']
    >>> framer.feed(packet[10:] + packet) == [Frame(packet[6:-6])] * 2
    True
    """

    def __init__(self, max_packet_bytes: int = _HEAD + MAX_SEGMENT_CHARS + _TAIL) -> None:
        self.max_packet_bytes = max_packet_bytes
        self._buffer = bytearray()

    @property
    def pending(self) -> int:
        """Bytes held for a packet that has not arrived completely."""
        return len(self._buffer)

    def feed(self, data: bytes) -> list[Frame | FrameError]:
        """Add received bytes; return the packets and errors they complete."""
        buffer = self._buffer
        buffer += data
        out: list[Frame | FrameError] = []
        while buffer:
            start = buffer.find(b"##")
            if start < 0:
                # keep a trailing '#': it may be the first half of the next header
                keep = 1 if buffer[-1:] == b"#" else 0
                dropped = len(buffer) - keep
                if dropped:
                    out.append(Garbage(f"{dropped} byte(s) outside any packet, discarded"))
                    del buffer[:dropped]
                break
            # A stray '#' just before a header ('###0167…', 'x#' + packet): the header is
            # the last two '#' of the run.
            end = start + 2
            while end < len(buffer) and buffer[end] == 0x23:  # '#'
                end += 1
            if end - 2:
                out.append(Garbage(f"{end - 2} byte(s) before '##', discarded"))
                del buffer[: end - 2]
            if len(buffer) < _HEAD:
                break
            digits = bytes(buffer[2:6])
            if not digits.isdigit():
                out.append(BadLength(f"'##' followed by {digits!r}; expected 4 decimal digits"))
                del buffer[:2]
                continue
            # The data segment starts with a header field (QN= in HJ 212-2017, ST= in
            # HJ/T 212-2005): checked as soon as it arrives, so that '##' and four digits
            # inside garbage do not hold back the packet that follows.
            opening = bytes(buffer[_HEAD : _HEAD + 3])
            if opening not in _OPENINGS:
                out.append(
                    BadLength(
                        f"'##{digits.decode()}' followed by {opening!r}; expected a data "
                        "segment starting QN=, ST=, CN=, PW= or MN="
                    )
                )
                del buffer[:2]
                continue
            total = _HEAD + int(digits) + _TAIL
            if total > self.max_packet_bytes:
                out.append(
                    PacketTooLarge(
                        f"declared data segment of {int(digits)} bytes makes a {total}-byte "
                        f"packet; the limit is {self.max_packet_bytes}"
                    )
                )
                del buffer[:2]
                continue
            if len(buffer) < total:
                break
            segment = bytes(buffer[_HEAD : total - _TAIL])
            crc_text = bytes(buffer[total - _TAIL : total - 2])
            if buffer[total - 2 : total] != b"\r\n" or not _is_hex(crc_text):
                out.append(
                    BadTerminator(
                        f"packet of declared length {int(digits)} does not end with CRC and "
                        f"CR LF (found {bytes(buffer[total - _TAIL : total])!r}); wrong length?"
                    )
                )
                del buffer[:2]
                continue
            del buffer[:total]
            expected = crc16(segment)
            if int(crc_text, 16) != expected:
                out.append(
                    BadCrc(f"CRC {crc_text.decode()} does not match the segment ({expected:04X})")
                )
                continue
            out.append(Frame(segment))
        return out


#: How a data segment can begin: its first header field (any order is read); the first
#: three bytes, or fewer while they arrive.
_OPENINGS: Final = frozenset(
    f"{key}=".encode()[:n] for key in ("QN", "ST", "CN", "PW", "MN", "Flag") for n in range(4)
)


def _is_hex(text: bytes) -> bool:
    return len(text) == 4 and not text.translate(None, b"0123456789abcdefABCDEF")


def build_packet(segment: bytes) -> bytes:
    """Frame a data segment: ``##``, length, segment, CRC, CR LF.

    Raises
    ------
    ValueError
        If the segment is longer than 9999 bytes (the length field has 4 digits).

    Examples
    --------
    >>> build_packet(b"QN=20160801085857223;ST=32;CN=1062;PW=100000;"
    ...              b"MN=010000A8900016F000169DC0;Flag=5;CP=&&RtdInterval=30&&")[:6]
    b'##0101'
    """
    if len(segment) > 9999:
        raise ValueError(f"data segment of {len(segment)} bytes; at most 9999 fit the length")
    return b"##%04d%s%04X\r\n" % (len(segment), segment, crc16(segment))


# --------------------------------------------------------------------------- segments


@dataclass(frozen=True)
class Packet:
    """A parsed data segment.

    ``items`` maps each factor code to its fields by suffix (``{"a34004": {"Avg": "38.2",
    "Flag": "N"}}``), values as sent. ``fields`` holds the other ``CP`` keys (``DataTime``,
    ``RtdInterval``, ``QnRtn`` …). ``flag`` is None when the packet has no ``Flag`` (HJ/T
    212-2005).
    """

    qn: str
    st: str
    cn: str
    pw: str
    mn: str
    flag: int | None
    pnum: str = ""
    pno: str = ""
    fields: dict[str, str] = field(default_factory=dict)
    items: dict[str, dict[str, str]] = field(default_factory=dict)

    @property
    def wants_ack(self) -> bool:
        """Whether the A bit of ``Flag`` asks for an acknowledgement (HJ 212-2017 §6.3.3)."""
        return self.flag is not None and bool(self.flag & 1)

    @property
    def version(self) -> int:
        """Version bits of ``Flag``: 1 = HJ 212-2017, 0 = HJ/T 212-2005 (or no Flag)."""
        return 0 if self.flag is None else self.flag >> 2

    @property
    def data_time(self) -> str:
        """``DataTime`` as sent, or empty."""
        return self.fields.get("DataTime", "")


_HEADER_KEYS: Final = ("QN", "ST", "CN", "PW", "MN", "Flag", "PNUM", "PNO")


def parse_segment(segment: bytes) -> Packet:
    """Read a data segment.

    Raises
    ------
    BadSegment
        If it is not ``key=value`` fields ending in ``CP=&&…&&``, or lacks ``CN`` or ``MN``,
        or ``Flag`` is not a number.

    Examples
    --------
    >>> p = parse_segment(b"QN=20250101090000123;ST=22;CN=2061;PW=123456;"
    ...     b"MN=ABCDEF0123456789ABCDEF01;Flag=5;CP=&&DataTime=20250101080000;"
    ...     b"a34004-Avg=38.2,a34004-Flag=N&&")
    >>> p.cn, p.mn, p.wants_ack, p.data_time, p.items["a34004"]
    ('2061', 'ABCDEF0123456789ABCDEF01', True, '20250101080000', {'Avg': '38.2', 'Flag': 'N'})
    """
    text = segment.decode("utf-8", errors="replace")
    at = text.find("CP=&&")
    if at < 0 or not text.endswith("&&") or len(text) < at + 7:
        raise BadSegment("no command parameters 'CP=&&…&&' at the end of the data segment")
    head, area = text[:at], text[at + 5 : -2]
    header: dict[str, str] = {}
    for part in head.split(";"):
        if not part:
            continue
        key, sep, value = part.partition("=")
        if not sep or key not in _HEADER_KEYS:
            raise BadSegment(
                f"unexpected field {part[:40]!r} before CP; expected one of "
                + ", ".join(_HEADER_KEYS)
            )
        header[key] = value
    for required in ("CN", "MN"):
        if not header.get(required):
            raise BadSegment(f"the data segment has no {required}")
    flag_text = header.get("Flag")
    flag: int | None = None
    if flag_text is not None:
        if not flag_text.isdigit() or len(flag_text) > 3:
            raise BadSegment(f"Flag={flag_text[:10]!r}; expected a number 0–255")
        flag = int(flag_text)
    fields: dict[str, str] = {}
    items: dict[str, dict[str, str]] = {}
    for part in area.replace(",", ";").split(";"):
        key, sep, value = part.partition("=")
        if not sep:
            if not part:
                continue
            raise BadSegment(f"item {part[:40]!r} in CP is not key=value")
        factor = _factor_item(key)
        if factor is None:
            fields[key] = value
        elif factor[0] in items:
            items[factor[0]][factor[1]] = value
        else:
            items[factor[0]] = {factor[1]: value}
    return Packet(
        qn=header.get("QN", ""),
        st=header.get("ST", ""),
        cn=header["CN"],
        pw=header.get("PW", ""),
        mn=header["MN"],
        flag=flag,
        pnum=header.get("PNUM", ""),
        pno=header.get("PNO", ""),
        fields=fields,
        items=items,
    )


@functools.lru_cache(maxsize=4096)  # a few hundred keys in practice
def _factor_item(key: str) -> tuple[str, str] | None:
    """(code, suffix) of a factor item key such as ``a34004-Avg``; None for other keys."""
    code, dash, suffix = key.partition("-")
    if dash and code.isalnum() and suffix.isalpha() and code.isascii() and suffix.isascii():
        return code, suffix
    return None


@functools.lru_cache(maxsize=4096)  # every station sends the same hours
def parse_data_time(text: str) -> datetime:
    """``DataTime`` (``YYYYMMDDhhmmss``, Beijing time) → aware UTC datetime.

    Raises
    ------
    BadSegment
        If it is not 14 digits of a real date and time.

    Examples
    --------
    >>> parse_data_time("20250101080000").isoformat()
    '2025-01-01T00:00:00+00:00'
    """
    if len(text) != 14 or not text.isascii() or not text.isdigit():
        raise BadSegment(f"DataTime={text[:20]!r}; expected YYYYMMDDhhmmss")
    try:  # not strptime: this runs for every packet
        local = datetime(
            int(text[:4]), int(text[4:6]), int(text[6:8]),
            int(text[8:10]), int(text[10:12]), int(text[12:14]),
        )  # fmt: skip
    except ValueError:
        raise BadSegment(f"DataTime={text!r} is not a valid date and time") from None
    return (local - _BEIJING).replace(tzinfo=UTC)


def build_segment(
    *,
    qn: str,
    st: str,
    cn: str,
    pw: str,
    mn: str,
    flag: int | None,
    cp: str,
) -> bytes:
    """A data segment from its fields (``Flag`` left out when None; ``QN`` when empty).

    Examples
    --------
    >>> build_segment(qn="1", st="91", cn="9014", pw="p", mn="M", flag=4, cp="")
    b'QN=1;ST=91;CN=9014;PW=p;MN=M;Flag=4;CP=&&&&'
    """
    parts = [f"QN={qn}"] if qn else []
    parts += [f"ST={st}", f"CN={cn}", f"PW={pw}", f"MN={mn}"]
    if flag is not None:
        parts.append(f"Flag={flag}")
    parts.append(f"CP=&&{cp}&&")
    return ";".join(parts).encode()


def data_ack(packet: Packet) -> bytes:
    """The data acknowledgement (``CN=9014``) the platform sends when ``Flag`` has the A bit.

    HJ 212-2017 §6.6 and Appendix C: ``ST=91`` (system interaction), the request's ``QN``,
    ``PW`` and ``MN``, ``Flag=4``, empty ``CP``. [M] Devices of the 2005 edition get the same
    reply; whether they expect ``QN`` inside ``CP`` instead is not verified.

    Examples
    --------
    >>> p = parse_segment(b"QN=20250101090000123;ST=22;CN=2061;PW=1;MN=M;Flag=5;CP=&&&&")
    >>> data_ack(p)[6:-6]
    b'QN=20250101090000123;ST=91;CN=9014;PW=1;MN=M;Flag=4;CP=&&&&'
    """
    return build_packet(
        build_segment(qn=packet.qn, st="91", cn="9014", pw=packet.pw, mn=packet.mn, flag=4, cp="")
    )


#: ``QnRtn`` reply codes (HJ 212-2017 Table 7): 2 request rejected, 3 password error, 4 MN
#: error (also in tang0-0/HJ212-Pack ``src/hj212.h``).
QN_RTN_REJECTED: Final = 2
QN_RTN_PASSWORD: Final = 3
QN_RTN_MN: Final = 4


def rejection(packet: Packet, code: int) -> bytes:
    """A refusal (``CN=9011``, ``QnRtn=code``) for a packet that is not accepted.

    [M] The standard defines ``CN=9011`` as the field side's answer to a platform request;
    answering an upload with it is this project's choice, so that a device (and
    ``envmon hj212 send``) can tell a wrong password from a lost packet.
    """
    return build_packet(
        build_segment(
            qn=packet.qn, st="91", cn="9011", pw="", mn=packet.mn, flag=4, cp=f"QnRtn={code}"
        )
    )
