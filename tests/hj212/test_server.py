"""The receiver over real TCP on 127.0.0.1, storing into a real SQLite ledger."""

from __future__ import annotations

import random
import socket
import threading
import time
from pathlib import Path

import pytest

from monitor.hj212.protocol import build_packet
from monitor.hj212.server import Receiver
from monitor.ledger import Ledger
from tests.hj212.conftest import (
    MN,
    Client,
    StartReceiver,
    packet,
    segment,
    station,
    wait_for,
)
from tests.metrics import receiver_samples, value

# 2025-01-01 08:00 Beijing time = 00:00 UTC
T0 = 1735689600


def readings(receiver: Receiver) -> list[tuple[object, ...]]:
    with Ledger.open(receiver.ledger_path) as ledger:
        return ledger.connection.execute(
            "SELECT cn, code, statistic, period_start, period_end, parameter, unit, value, "
            "flags, site FROM hj212_readings ORDER BY cn, code, statistic"
        ).fetchall()


def observations(receiver: Receiver) -> list[tuple[object, ...]]:
    with Ledger.open(receiver.ledger_path) as ledger:
        return ledger.connection.execute(
            "SELECT site, parameter, unit, period_start, period_end, value, flags, source "
            "FROM observations ORDER BY parameter"
        ).fetchall()


@pytest.mark.parametrize(
    ("cn", "cp", "start", "end"),
    [
        # real-time: the acquisition instant
        ("2011", "DataTime=20250101080030;a34004-Rtd=40.1,a34004-Flag=N", T0 + 30, T0 + 30),
        # minute data: DataTime is the start, period = the station's minute interval (10 min)
        ("2051", "DataTime=20250101081000;a34004-Avg=39,a34004-Flag=N", T0 + 600, T0 + 1200),
        # hourly data: start of the hour → stored with its end
        ("2061", "DataTime=20250101080000;a34004-Avg=38.2,a34004-Flag=N", T0, T0 + 3600),
        # daily data: the day starting 00:00 Beijing time
        (
            "2031",
            "DataTime=20250101000000;a34004-Avg=35,a34004-Flag=N",
            T0 - 8 * 3600,
            T0 + 16 * 3600,
        ),
        # daily run time of the equipment
        ("2041", "DataTime=20250101000000;a34004-RT=23.5", T0 - 8 * 3600, T0 + 16 * 3600),
    ],
)
def test_every_data_command_is_acknowledged_and_stored(
    start_receiver: StartReceiver, cn: str, cp: str, start: int, end: int
) -> None:
    receiver = start_receiver()
    client = Client(receiver.port or 0)
    client.send(packet(cn, cp))
    (ack,) = client.replies_until(1)
    assert (ack.cn, ack.st, ack.qn, ack.mn, ack.flag) == ("9014", "91", "20250101090000123", MN, 4)
    rows = readings(receiver)
    obs = observations(receiver)
    if cn == "2061":
        assert obs == [("hn01", "pm2_5", "µg/m³", T0, T0 + 3600, 38.2, "", "hj212")]
        assert rows == []  # not stored twice
    else:  # only hourly means are ledger observations (the evaluation reads hours)
        assert obs == []
        statistic = {"2011": "Rtd", "2041": "RT"}.get(cn, "Avg")
        assert [r[:5] for r in rows] == [(cn, "a34004", statistic, start, end)]
    client.close()


def test_hourly_packet_units_and_flags(start_receiver: StartReceiver) -> None:
    """Units converted to canonical ones, data flags mapped to QC flags, unknown codes kept."""
    receiver = start_receiver(station(units=("a21005=ug/m3",)))
    cp = (
        "DataTime=20250101080000;a21026-Avg=9,a21026-Flag=N;a21005-Avg=800,a21005-Flag=C;"
        "a34002-Avg=70,a34002-Min=50,a34002-Max=90,a34002-Flag=M;a05024-Avg=60,a05024-Flag=D;"
        "a01001-Avg=-3.5,a01001-Flag=N;x99999-Avg=1.5,x99999-Flag=N"
    )
    client = Client(receiver.port or 0)
    client.send(packet("2061", cp))
    assert client.replies_until(1)[0].cn == "9014"
    assert observations(receiver) == [
        # a21005 sent in µg/m³ (station override) → CO in mg/m³
        ("hn01", "co", "mg/m³", T0, T0 + 3600, 0.8, "calibration", "hj212"),
        ("hn01", "o3", "µg/m³", T0, T0 + 3600, 60.0, "source_invalid;hj212_fault", "hj212"),
        ("hn01", "pm10", "µg/m³", T0, T0 + 3600, 70.0, "maintenance", "hj212"),
        # ST=22: SO2 in µg/m³ by default ([M] ambient practice, see codes.py)
        ("hn01", "so2", "µg/m³", T0, T0 + 3600, 9.0, "", "hj212"),
    ]
    raw = {(r[1], r[2]): r for r in readings(receiver)}
    assert raw[("a34002", "Min")][5:8] == ("pm10", "µg/m³", 50.0)
    assert raw[("a01001", "Avg")][5:8] == ("", "°C", -3.5)  # known, no canonical parameter
    assert raw[("x99999", "Avg")][5:8] == ("", "", 1.5)  # unknown: kept raw
    assert receiver.stats.unknown_codes == {"x99999": 1}
    samples = receiver_samples(receiver)
    assert value(samples, "envmon_hj212_unknown_code_readings_total", code="x99999") == 1


def test_water_station_packet(start_receiver: StartReceiver) -> None:
    receiver = start_receiver(station(mn="W0001", site="hunhe_1"))
    cp = (
        "DataTime=20250101080000;w01001-Avg=7.6,w01001-Flag=N;w01009-Avg=8.1,w01009-Flag=N;"
        "w21003-Avg=0.42,w21003-Flag=N;w01018-Avg=abc,w01018-Flag=N"
    )
    client = Client(receiver.port or 0)
    client.send(packet("2061", cp, mn="W0001", st="21"))
    assert client.replies_until(1)[0].cn == "9014"
    assert [(o[1], o[2], o[5], o[6]) for o in observations(receiver)] == [
        ("cod", "mg/L", None, "source_invalid"),  # not a number: kept, flagged
        ("do", "mg/L", 8.1, ""),
        ("nh3n", "mg/L", 0.42, ""),
        ("ph", "1", 7.6, ""),
    ]


def test_no_ack_when_flag_does_not_ask(start_receiver: StartReceiver) -> None:
    receiver = start_receiver()
    client = Client(receiver.port or 0)
    client.send(packet(flag=4))
    assert wait_for(lambda: receiver.stats.packets["accepted"] == 1)
    assert client.replies_until(1, timeout=0.5) == []
    assert len(observations(receiver)) == 1


def test_split_packets_and_concatenated_packets(start_receiver: StartReceiver) -> None:
    receiver = start_receiver()
    client = Client(receiver.port or 0)
    data = packet()
    for cut in (3, 40, len(data) - 3):  # one packet in four writes
        client.send(data[:cut] if cut == 3 else b"")
        time.sleep(0.02)
    client.send(data[3:40])
    time.sleep(0.02)
    client.send(data[40:])
    assert len(client.replies_until(1)) == 1
    several = b"".join(
        packet(
            cp=f"DataTime=202501010{h}0000;a34004-Avg={h},a34004-Flag=N", qn=f"2025010109000012{h}"
        )
        for h in range(1, 6)
    )
    client.send(several)  # five packets in one write
    replies = client.replies_until(6)
    assert [r.qn for r in replies[1:]] == [f"2025010109000012{h}" for h in range(1, 6)]
    assert receiver.stats.packets["accepted"] == 6


def test_bad_crc_and_bad_length_refused_connection_survives(start_receiver: StartReceiver) -> None:
    receiver = start_receiver()
    client = Client(receiver.port or 0)
    good = packet()
    client.send(good[:-6] + b"0000\r\n")  # bad CRC
    client.send(b"##01x9" + good[6:])  # bad length field
    client.send(good)
    replies = client.replies_until(1)
    assert [r.cn for r in replies] == ["9014"]
    assert receiver.stats.packets["bad_crc"] == 1
    assert receiver.stats.packets["bad_length"] == 1
    assert receiver.stats.packets["accepted"] == 1


@pytest.mark.parametrize(
    ("kwargs", "code", "counter"),
    [({"pw": "wrong"}, "3", "wrong_password"), ({"mn": "FFFF"}, "4", "unknown_mn")],
)
def test_refused_station_gets_qnrtn_and_is_closed_after_the_limit(
    start_receiver: StartReceiver, kwargs: dict[str, str], code: str, counter: str
) -> None:
    receiver = start_receiver(max_rejected_packets=3)
    client = Client(receiver.port or 0)
    for _ in range(3):
        client.send(packet(**kwargs))
    replies = client.replies_until(3)
    assert [(r.cn, r.fields["QnRtn"]) for r in replies] == [("9011", code)] * 3
    assert client.closed_by_server()
    assert receiver.stats.packets[counter] == 3
    assert receiver.stats.connections_closed["too_many_refused"] == 1
    assert observations(receiver) == []
    assert value(receiver_samples(receiver), "envmon_hj212_packets_total", result=counter) == 3


def test_oversized_packet_refused(start_receiver: StartReceiver) -> None:
    receiver = start_receiver(max_packet_bytes=256)
    client = Client(receiver.port or 0)
    big = ";".join(f"a34004-Avg={i}" for i in range(40))
    client.send(build_packet(segment(cp="DataTime=20250101080000;" + big)))
    client.send(packet())
    assert [r.cn for r in client.replies_until(1)] == ["9014"]
    assert receiver.stats.packets["packet_too_large"] == 1


def test_slowloris_closed_others_unaffected(start_receiver: StartReceiver) -> None:
    receiver = start_receiver(packet_timeout_seconds=1.0, idle_timeout_seconds=60.0)
    slow = Client(receiver.port or 0)
    data = packet()
    started = time.monotonic()
    closed = False
    for byte in data[:-1]:  # one byte every 0.1 s: never idle, never done
        try:
            slow.send(bytes([byte]))
        except OSError:
            closed = True
            break
        good = Client(receiver.port or 0)
        if time.monotonic() - started > 3:
            break
        time.sleep(0.1)
        good.close()
    assert closed or slow.closed_by_server(timeout=3)
    assert receiver.stats.connections_closed["slow_packet"] == 1
    other = Client(receiver.port or 0)
    other.send(packet())
    assert [r.cn for r in other.replies_until(1)] == ["9014"]


def test_idle_connection_closed(start_receiver: StartReceiver) -> None:
    receiver = start_receiver(idle_timeout_seconds=1.0)
    client = Client(receiver.port or 0)
    assert client.closed_by_server(timeout=5)
    assert receiver.stats.connections_closed["idle"] == 1


def test_garbage_client_dropped_without_affecting_others(start_receiver: StartReceiver) -> None:
    receiver = start_receiver(max_rejected_packets=5)
    rng = random.Random(212)
    garbage = Client(receiver.port or 0)
    good = Client(receiver.port or 0)
    results: list[int] = []

    def send_good() -> None:
        for i in range(20):
            good.send(packet(qn=f"202501010900001{i:02d}"))
        results.append(len(good.replies_until(20)))

    thread = threading.Thread(target=send_good)
    thread.start()
    try:
        for _ in range(50):
            garbage.send(bytes(rng.randrange(256) for _ in range(500)) + b"##00")
    except OSError:
        pass  # closed by the server: what we want
    thread.join()
    assert results == [20]
    assert garbage.closed_by_server()
    assert receiver.stats.connections_closed["too_many_refused"] == 1


def test_connection_limits(start_receiver: StartReceiver) -> None:
    receiver = start_receiver(max_connections=2, max_connections_per_station=1)
    first, second = Client(receiver.port or 0), Client(receiver.port or 0)
    first.send(packet())
    assert len(first.replies_until(1)) == 1
    third = Client(receiver.port or 0)  # over the total: refused at once
    assert third.closed_by_server()
    assert wait_for(lambda: receiver.stats.connections_refused == 1)
    second.send(packet())  # same station again: its older connection is closed
    assert len(second.replies_until(1)) == 1
    assert first.closed_by_server()
    assert receiver.stats.connections_closed["replaced"] == 1


def test_200_concurrent_stations(start_receiver: StartReceiver) -> None:
    stations = [station(mn=f"MN{i:04d}", site=f"s{i:04d}") for i in range(200)]
    receiver = start_receiver(*stations, max_connections=300)
    sockets = [Client(receiver.port or 0) for _ in range(200)]
    results: dict[int, int] = {}

    def run(i: int) -> None:
        client = sockets[i]
        for h in range(5):
            client.send(
                packet(
                    mn=f"MN{i:04d}",
                    qn=f"2025010109000010{h}",
                    cp=f"DataTime=202501010{h}0000;a34004-Avg={i}.{h},a34004-Flag=N",
                )
            )
        results[i] = len(client.replies_until(5, timeout=30))

    threads = [threading.Thread(target=run, args=(i,)) for i in range(200)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == dict.fromkeys(range(200), 5)
    with Ledger.open(receiver.ledger_path) as ledger:
        count, sites = ledger.connection.execute(
            "SELECT count(*), count(DISTINCT site) FROM observations WHERE source = 'hj212'"
        ).fetchone()
        value = ledger.connection.execute(
            "SELECT value FROM observations WHERE site = 's0123' AND period_end = ?",
            (T0 - 8 * 3600 + 3 * 3600 + 3600,),
        ).fetchone()
    assert (count, sites) == (1000, 200)
    assert value == (123.3,)
    for client in sockets:
        client.close()


def test_packet_from_unregistered_command_is_counted_not_stored(
    start_receiver: StartReceiver,
) -> None:
    receiver = start_receiver()
    client = Client(receiver.port or 0)
    client.send(packet("9014", ""))  # a station echoing an acknowledgement
    client.send(packet("2061", "a34004-Avg=1"))  # data without DataTime
    client.send(packet())
    refusal, ack = client.replies_until(2)
    assert (refusal.cn, refusal.fields) == ("9011", {"QnRtn": "2"})  # answered: not resent
    assert ack.cn == "9014"
    assert wait_for(lambda: receiver.stats.packets["accepted"] == 1)
    assert receiver.stats.packets["other_command"] == 1
    assert receiver.stats.packets["bad_data_time"] == 1
    assert len(observations(receiver)) == 1
    assert readings(receiver) == []


def test_resent_packet_changes_nothing(start_receiver: StartReceiver) -> None:
    receiver = start_receiver()
    client = Client(receiver.port or 0)
    client.send(packet())
    client.send(packet())
    assert len(client.replies_until(2)) == 2
    with Ledger.open(receiver.ledger_path) as ledger:
        revisions = ledger.connection.execute("SELECT count(*) FROM observation_revisions")
        assert revisions.fetchone() == (0,)
    assert len(observations(receiver)) == 1


def test_port_in_use_is_a_clear_error(start_receiver: StartReceiver, tmp_path: Path) -> None:
    from dataclasses import replace

    from monitor.errors import EnvmonError

    receiver = start_receiver()
    clash = Receiver(replace(receiver.settings, port=receiver.port or 0), tmp_path / "l2.sqlite")
    with pytest.raises(EnvmonError, match=r"cannot listen for HJ 212 on 127\.0\.0\.1"):
        clash.start()


def test_stop_closes_connections_and_commits(tmp_path: Path) -> None:
    from dataclasses import replace

    from monitor.settings import HJ212Settings

    receiver = Receiver(
        replace(HJ212Settings(enabled=True, port=0), stations=(station(),)),
        tmp_path / "ledger.sqlite",
    )
    port = receiver.start()
    client = Client(port)
    client.send(packet(flag=4))
    assert wait_for(lambda: receiver.stats.packets["accepted"] == 1)
    receiver.stop()
    assert client.closed_by_server(timeout=5)
    client.close()
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    assert len(observations(receiver)) == 1


def test_failed_write_is_not_acknowledged_and_degrades_health(
    start_receiver: StartReceiver,
) -> None:
    receiver = start_receiver()
    with Ledger.open(receiver.ledger_path) as ledger:  # break the ledger under the receiver
        ledger.connection.execute("DROP TABLE hj212_readings")
    client = Client(receiver.port or 0)
    client.send(packet("2011", "DataTime=20250101080030;a34004-Rtd=40.1,a34004-Flag=N"))
    assert wait_for(lambda: receiver.stats.write_failures == 1)
    assert client.replies_until(1, timeout=1.5) == []  # not stored: no acknowledgement
    health = receiver.health()
    assert health["state"] == "failing"
    assert "hj212_readings" in health["last_write_error"]
    assert value(receiver_samples(receiver), "envmon_hj212_write_failures_total") == 1


# Issue 14: a stray '#' before a packet lost it; docs/hj212.md promises resynchronisation on
# the next '##'. Each prefix on a real socket, alone in its read.
@pytest.mark.parametrize("prefix", [b"#", b"x#", b"###", b"noise#"])
def test_stray_hash_before_a_packet_on_a_socket(
    start_receiver: StartReceiver, prefix: bytes
) -> None:
    receiver = start_receiver()
    client = Client(receiver.port or 0)
    client.send(prefix)
    time.sleep(0.05)  # a read of its own
    client.send(packet())
    (ack,) = client.replies_until(1)
    assert ack.cn == "9014"
    assert len(observations(receiver)) == 1
    assert receiver.stats.packets["garbage"] >= 1  # the stray bytes, counted as garbage


def _beijing_hour(offset_hours: int) -> str:
    """``DataTime`` of the Beijing hour ``offset_hours`` from now, on the hour."""
    moment = time.time() + 8 * 3600 + offset_hours * 3600
    return time.strftime("%Y%m%d%H0000", time.gmtime(moment - moment % 3600))


@pytest.mark.parametrize(
    ("data_time", "reason"),
    [
        ("20250101080500", "off_hour_data_time"),  # the packet: stored as 09:05 before
        ("20251301080000", "bad_data_time"),  # month 13: no answer before, resent forever
        ("20250230080000", "bad_data_time"),
        ("99991231080000", "future_data_time"),
        ("16000101080000", "early_data_time"),
        ("20000101000000", "early_data_time"),  # a data logger's clock after a reset
        ("future+2h", "future_data_time"),
    ],
)
def test_time_the_ledger_cannot_hold_is_refused_with_qnrtn_2(
    start_receiver: StartReceiver, data_time: str, reason: str
) -> None:
    if data_time == "future+2h":
        data_time = _beijing_hour(2)
    receiver = start_receiver()
    client = Client(receiver.port or 0)
    client.send(packet("2061", f"DataTime={data_time};a34004-Avg=38.2,a34004-Flag=N"))
    client.send(packet())  # the connection goes on: the next packet is stored
    refusal, ack = client.replies_until(2)
    # QnRtn=2 "request rejected" (HJ 212-2017 Table 7; tang0-0/HJ212-Pack src/hj212.h)
    assert (refusal.cn, refusal.fields, refusal.qn) == (
        "9011",
        {"QnRtn": "2"},
        "20250101090000123",
    )
    assert ack.cn == "9014"
    assert wait_for(lambda: receiver.stats.packets["accepted"] == 1)
    assert receiver.stats.packets[reason] == 1
    assert value(receiver_samples(receiver), "envmon_hj212_packets_total", result=reason) == 1
    assert [row[4] for row in observations(receiver)] == [T0 + 3600]  # only the good one


def test_time_tolerance_accepts_the_hour_just_ended(start_receiver: StartReceiver) -> None:
    receiver = start_receiver()
    client = Client(receiver.port or 0)
    client.send(packet("2061", f"DataTime={_beijing_hour(-1)};a34004-Avg=38.2,a34004-Flag=N"))
    (ack,) = client.replies_until(1)
    assert ack.cn == "9014"


def test_off_hour_packets_logged_once_per_station(
    start_receiver: StartReceiver, caplog: pytest.LogCaptureFixture
) -> None:
    other = "ABCDEF0123456789ABCDEF02"
    receiver = start_receiver(station(), station(mn=other, site="hn02"))
    caplog.set_level("WARNING", logger="envmon.hj212")
    client = Client(receiver.port or 0)
    for mn in (MN, MN, MN, other):
        client.send(packet("2061", "DataTime=20250101080500;a34004-Avg=1", mn=mn))
    assert len(client.replies_until(4)) == 4
    warnings = [r.getMessage() for r in caplog.records if "not on the hour" in r.getMessage()]
    assert len(warnings) == 2
    assert "MN ABCDEF0123456789ABCDEF01 (site hn01)" in warnings[0]
    assert "expected 2025010108" in warnings[0]
    assert wait_for(lambda: receiver.stats.packets["off_hour_data_time"] == 4)


def test_acknowledged_means_stored_and_a_resend_after_restart_changes_nothing(
    tmp_path: Path,
) -> None:
    """The guarantee: a packet acknowledged is committed; a device that got no
    acknowledgement (e.g. the receiver stopped between commit and answer) sends it again,
    and the same values again change nothing."""
    from dataclasses import replace

    from monitor.settings import HJ212Settings

    settings = replace(HJ212Settings(enabled=True, port=0), stations=(station(),))
    path = tmp_path / "ledger.sqlite"
    first = Receiver(settings, path)
    client = Client(first.start())
    client.send(packet())
    assert [r.cn for r in client.replies_until(1)] == ["9014"]
    with Ledger.open(path) as ledger:  # committed when the acknowledgement arrives
        stored = ledger.connection.execute("SELECT value FROM observations").fetchall()
    assert stored == [(38.2,)]
    client.close()
    first.stop()
    second = Receiver(settings, path)
    client = Client(second.start())
    try:
        client.send(packet())
        assert [r.cn for r in client.replies_until(1)] == ["9014"]
    finally:
        client.close()
        second.stop()
    with Ledger.open(path) as ledger:
        db = ledger.connection
        assert db.execute("SELECT count(*), max(revision) FROM observations").fetchone() == (1, 0)
        assert db.execute("SELECT count(*) FROM observation_revisions").fetchone() == (0,)


def test_default_packet_limit_is_the_standards_1024_character_segment(
    start_receiver: StartReceiver,
) -> None:
    """HJ 212-2017 §6.3: a data segment of at most 1024 characters (data-sources.md §7a)."""
    receiver = start_receiver()
    assert receiver.settings.max_packet_bytes == 1036
    base = segment(cp="DataTime=20250101080000;a34004-Avg=38.2,a34004-Flag=N;x=")
    fits = base[:-2] + b"0" * (1024 - len(base)) + b"&&"
    assert len(fits) == 1024
    client = Client(receiver.port or 0)
    client.send(build_packet(fits[:-3] + b"00&&"))  # 1025 characters: refused unread
    client.send(build_packet(fits))
    (ack,) = client.replies_until(1)
    assert ack.cn == "9014"
    assert receiver.stats.packets["packet_too_large"] == 1
    assert len(observations(receiver)) == 1


def test_switch_interval_shortened_while_running_and_restored(tmp_path: Path) -> None:
    import sys
    from dataclasses import replace

    from monitor.hj212.server import SWITCH_INTERVAL_S
    from monitor.settings import HJ212Settings

    before = sys.getswitchinterval()
    receiver = Receiver(
        replace(HJ212Settings(enabled=True, port=0), stations=(station(),)),
        tmp_path / "ledger.sqlite",
    )
    receiver.start()
    try:
        assert sys.getswitchinterval() == pytest.approx(min(before, SWITCH_INTERVAL_S))
    finally:
        receiver.stop()
    assert sys.getswitchinterval() == before
