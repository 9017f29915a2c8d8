"""HJ 212-2017 framing, CRC, data segments and acknowledgements."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.hj212.protocol import (
    BadCrc,
    BadLength,
    BadSegment,
    BadTerminator,
    Frame,
    FrameError,
    Framer,
    Garbage,
    PacketTooLarge,
    ProtocolError,
    build_packet,
    crc16,
    data_ack,
    parse_data_time,
    parse_segment,
    rejection,
)

# HJ 212-2017 Appendix C example (the standard's own packet, CN=1062). The standard's prose
# misprints the CRC as 1C08; the packet itself ends in 1C80, which CRC16 as specified in
# Appendix A reproduces (data-sources.md §7a [S35][S36], V).
STANDARD_PACKET = (
    b"##0101QN=20160801085857223;ST=32;CN=1062;PW=100000;MN=010000A8900016F000169DC0;"
    b"Flag=5;CP=&&RtdInterval=30&&1C80\r\n"
)
# HJ/T 212-2005-style packet (no QN, no Flag, old codes) from a public validator's test
# suite (third-party, C); lower-case CRC as sent there.
OLD_PACKET = (
    b"##0178ST=32;CN=2011;PW=123456;MN=0873HHMZWSLH02;CP=&&DataTime=20160103133030;"
    b"060-Rtd=3.0943,060-Flag=N;011-Rtd=18.0412,011-Flag=N;001-Rtd=8.2137,001-Flag=N;"
    b"B01-Rtd=10.9890,B01-Flag=N&&a9c1\r\n"
)
# data-sources.md §7a: invented but CRC-correct hourly air packet (length 0167, CRC 5140).
HOURLY = (
    b"##0167QN=20250101090000123;ST=22;CN=2061;PW=123456;MN=ABCDEF0123456789ABCDEF01;"
    b"Flag=5;CP=&&DataTime=20250101080000;a34004-Avg=38.2,a34004-Flag=N;"
    b"a21026-Avg=9,a21026-Flag=N&&5140\r\n"
)


def test_crc_of_the_standards_example() -> None:
    assert crc16(STANDARD_PACKET[6:-6]) == 0x1C80
    assert build_packet(STANDARD_PACKET[6:-6]) == STANDARD_PACKET


def test_crc_is_not_the_modbus_crc() -> None:
    """The HJ variant differs from textbook CRC-16/MODBUS (which gives 0x4B37 for
    '123456789'); both start at 0xFFFF with polynomial 0xA001."""
    assert crc16(b"123456789") != 0x4B37


def _crc_as_appendix_a(segment: bytes) -> int:
    """HJ 212-2017 Appendix A, bit by bit (data-sources.md §7a): init 0xFFFF; per byte
    crc = (crc >> 8) ^ byte, then eight rounds of shift right, xor 0xA001 when the bit
    shifted out is 1."""
    crc = 0xFFFF
    for byte in segment:
        crc = (crc >> 8) ^ byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=1100))
def test_crc_table_version_equals_the_bitwise_algorithm(segment: bytes) -> None:
    assert crc16(segment) == _crc_as_appendix_a(segment)


@pytest.mark.parametrize(
    "packet", [STANDARD_PACKET, OLD_PACKET, HOURLY], ids=["2017", "2005", "7a"]
)
def test_known_packets_frame_and_parse(packet: bytes) -> None:
    events = Framer().feed(packet)
    assert events == [Frame(packet[6:-6])]
    parsed = parse_segment(packet[6:-6])
    assert parsed.mn in packet.decode()


def test_old_packet_without_qn_and_flag() -> None:
    p = parse_segment(OLD_PACKET[6:-6])
    assert (p.qn, p.flag, p.cn, p.wants_ack, p.version) == ("", None, "2011", False, 0)
    assert p.items["011"] == {"Rtd": "18.0412", "Flag": "N"}


def test_flag_bits() -> None:
    """Flag = version bits, D, A (HJ 212-2017 §6.3.3): 5 = 2017 + ack, 4 = 2017, 7 = split."""
    seg = b"QN=1;ST=22;CN=2011;PW=1;MN=M;Flag=%d;CP=&&&&"
    assert [parse_segment(seg % f).wants_ack for f in (5, 4, 7, 1, 0)] == [
        True,
        False,
        True,
        True,
        False,
    ]
    assert parse_segment(seg % 5).version == 1


def test_hourly_packet_fields() -> None:
    p = parse_segment(HOURLY[6:-6])
    assert (p.qn, p.st, p.cn, p.pw, p.mn, p.flag) == (
        "20250101090000123",
        "22",
        "2061",
        "123456",
        "ABCDEF0123456789ABCDEF01",
        5,
    )
    assert p.data_time == "20250101080000"
    assert p.items == {"a34004": {"Avg": "38.2", "Flag": "N"}, "a21026": {"Avg": "9", "Flag": "N"}}


def test_ack_is_9014_with_the_requests_qn() -> None:
    ack = data_ack(parse_segment(HOURLY[6:-6]))
    assert ack == build_packet(
        b"QN=20250101090000123;ST=91;CN=9014;PW=123456;MN=ABCDEF0123456789ABCDEF01;Flag=4;CP=&&&&"
    )
    assert Framer().feed(ack) == [Frame(ack[6:-6])]


def test_rejection_names_the_reason() -> None:
    reply = parse_segment(rejection(parse_segment(HOURLY[6:-6]), 3)[6:-6])
    assert (reply.cn, reply.fields["QnRtn"], reply.qn) == ("9011", "3", "20250101090000123")


def test_split_packet_byte_by_byte() -> None:
    framer = Framer()
    events: list[Frame | FrameError] = []
    for i in range(len(HOURLY)):
        events += framer.feed(HOURLY[i : i + 1])
    assert events == [Frame(HOURLY[6:-6])]
    assert framer.pending == 0


def test_concatenated_packets_in_one_read() -> None:
    events = Framer().feed(HOURLY + STANDARD_PACKET + HOURLY)
    assert [e.segment for e in events if isinstance(e, Frame)] == [
        HOURLY[6:-6],
        STANDARD_PACKET[6:-6],
        HOURLY[6:-6],
    ]


def test_bad_crc_is_reported_and_the_next_packet_read() -> None:
    broken = HOURLY[:-6] + b"0000\r\n"
    events = Framer().feed(broken + HOURLY)
    assert isinstance(events[0], BadCrc)
    assert events[1:] == [Frame(HOURLY[6:-6])]


def test_wrong_length_resyncs_on_the_next_packet() -> None:
    too_short = b"##0150" + HOURLY[6:]  # length says 150, segment has 167
    events = Framer().feed(too_short + HOURLY)
    assert isinstance(events[0], BadTerminator)
    assert events[-1] == Frame(HOURLY[6:-6])
    assert isinstance(Framer().feed(b"##01x7QN=1")[0], BadLength)


def test_garbage_before_and_between_packets() -> None:
    events = Framer().feed(b"\x00\xffGET / HTTP/1.1\r\n" + HOURLY + b"junk" + HOURLY)
    kinds = [type(e) for e in events]
    assert kinds == [Garbage, Frame, Garbage, Frame]


# Issue 14: a stray '#' before a packet lost the packet; the framer resynchronises on the
# last '##' of a run of '#'.
@pytest.mark.parametrize("prefix", [b"#", b"x#", b"###", b"noise#", b"#####", b"#\r\n#"])
def test_stray_hash_before_a_packet_keeps_the_packet(prefix: bytes) -> None:
    events = Framer().feed(prefix + HOURLY)
    assert [e for e in events if isinstance(e, Frame)] == [Frame(HOURLY[6:-6])]
    assert all(isinstance(e, Garbage) for e in events[:-1])
    # the same bytes one at a time
    framer = Framer()
    frames = [
        e for i in range(len(prefix + HOURLY)) for e in framer.feed((prefix + HOURLY)[i : i + 1])
    ]
    assert [e for e in frames if isinstance(e, Frame)] == [Frame(HOURLY[6:-6])]


def test_header_inside_garbage_does_not_hold_back_the_next_packet() -> None:
    # '##' and four digits, then no data segment: refused at once, not after 1,012 bytes
    events = Framer().feed(b"##1000xyz" + HOURLY)
    assert isinstance(events[0], BadLength)
    assert events[-1] == Frame(HOURLY[6:-6])


def test_oversized_packet_refused_without_waiting() -> None:
    framer = Framer(max_packet_bytes=200)
    events = framer.feed(b"##9999QN=")
    assert isinstance(events[0], PacketTooLarge)
    assert framer.feed(HOURLY) == [Frame(HOURLY[6:-6])]  # 179 bytes: under the limit


@pytest.mark.parametrize(
    "segment",
    [
        b"QN=1;ST=22;CN=2011;PW=1;MN=M;Flag=5",  # no CP
        b"QN=1;ST=22;PW=1;MN=M;Flag=5;CP=&&&&",  # no CN
        b"QN=1;ST=22;CN=2011;PW=1;Flag=5;CP=&&&&",  # no MN
        b"QN=1;ST=22;CN=2011;PW=1;MN=M;Flag=x;CP=&&&&",  # Flag not a number
        b"QN=1;XX=2;CN=2011;PW=1;MN=M;CP=&&&&",  # unknown header field
        b"QN=1;ST=22;CN=2011;PW=1;MN=M;CP=&&a34004-Rtd&&",  # item without =
    ],
)
def test_bad_segments(segment: bytes) -> None:
    with pytest.raises(BadSegment):
        parse_segment(segment)


def test_data_time_is_beijing_time() -> None:
    assert parse_data_time("20250101080000").isoformat() == "2025-01-01T00:00:00+00:00"
    for bad in ("2025010108000", "20251301080000", "2025010108000x", ""):
        with pytest.raises(BadSegment):
            parse_data_time(bad)


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=400))
def test_parser_never_raises_on_arbitrary_bytes(data: bytes) -> None:
    """Arbitrary bytes: the framer returns values, the segment parser raises only
    ProtocolError subclasses."""
    framer = Framer(max_packet_bytes=300)
    for event in framer.feed(data):
        assert isinstance(event, Frame | FrameError)
    with contextlib.suppress(ProtocolError):
        parse_segment(data)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.sampled_from([HOURLY, STANDARD_PACKET, OLD_PACKET]), min_size=1, max_size=5),
    st.lists(st.binary(max_size=30), min_size=6, max_size=6),
    st.lists(st.integers(min_value=0, max_value=3), min_size=6, max_size=6),
    st.lists(st.integers(min_value=1, max_value=64), min_size=1, max_size=20),
)
def test_packets_survive_garbage_and_any_split(
    packets: list[bytes], garbage: list[bytes], hashes: list[int], cuts: list[int]
) -> None:
    """Packets separated by garbage without '##', ending in up to three stray '#', come out
    intact whatever the read sizes."""
    stream = b""
    for i, packet in enumerate(packets):
        stream += garbage[i].replace(b"#", b"") + b"#" * hashes[i] + packet
    framer = Framer()
    events: list[Frame | FrameError] = []
    at, i = 0, 0
    while at < len(stream):
        step = cuts[i % len(cuts)]
        events += framer.feed(stream[at : at + step])
        at, i = at + step, i + 1
    assert [e.segment for e in events if isinstance(e, Frame)] == [p[6:-6] for p in packets]
