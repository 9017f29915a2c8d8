"""``envmon hj212 send``: CSV → packets → a real receiver on 127.0.0.1."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.cli import main
from monitor.errors import InputError
from monitor.hj212.client import packets_from_csv
from monitor.hj212.protocol import parse_segment
from monitor.ledger import Ledger
from tests.hj212.conftest import MN, StartReceiver

CSV = f"""\
mn,time,code,value,cn,flag
{MN},20250101080000,a34004,38.2,2061,N
{MN},2025-01-01T08:00:00,a21026,9,2061,
{MN},2025-01-01T00:00:00+00:00,a34002,70,,M
{MN},20250101080030,a34004,40.1,2011,N
"""


def test_csv_rows_grouped_into_packets(tmp_path: Path) -> None:
    path = tmp_path / "data.csv"
    path.write_text(CSV, encoding="utf-8")
    packets = packets_from_csv(path)
    assert [(p.mn, p.cn, p.data_time, len(p.items)) for p in packets] == [
        (MN, "2061", "20250101080000", 3),  # ISO and +00:00 times are the same Beijing hour
        (MN, "2011", "20250101080030", 1),
    ]
    segment = packets[0].segment(qn="20250101090000123", st="22", pw="pw", flag=5)
    parsed = parse_segment(segment)
    assert parsed.items["a34002"] == {"Avg": "70", "Flag": "M"}
    assert parsed.items["a21026"] == {"Avg": "9", "Flag": "N"}
    assert parse_segment(packets[1].segment(qn="1", st="22", pw="pw", flag=5)).items["a34004"] == {
        "Rtd": "40.1",
        "Flag": "N",
    }


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("mn,time,value\nA,20250101080000,1\n", "missing column(s) code"),
        (f"mn,time,code,value\n{MN},yesterday,a34004,1\n", "line 2: time 'yesterday'"),
        (f"mn,time,code,value\n{MN},20250101080000,a34004,abc\n", "line 2: value 'abc'"),
        (f"mn,time,code,value,cn\n{MN},20250101080000,a34004,1,9999\n", "line 2: cn '9999'"),
        ("mn,time,code,value\n", "no rows"),
    ],
)
def test_bad_csv(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InputError, match=message.replace("(", r"\(").replace(")", r"\)")):
        packets_from_csv(path)


def test_send_command_against_a_receiver(
    start_receiver: StartReceiver,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    receiver = start_receiver()
    path = tmp_path / "data.csv"
    path.write_text(CSV, encoding="utf-8")
    monkeypatch.setenv("FIELD_PW", "123456")
    args = ["hj212", "send", str(path), "--host", "127.0.0.1", "--port", str(receiver.port)]
    code = main(["--config", str(tmp_path / "none.toml"), *args, "--password-env", "FIELD_PW"])
    assert capsys.readouterr().out.strip() == (
        "sent 2 packet(s): 2 acknowledged, 0 refused, 0 without an answer"
    )
    assert code == 0
    with Ledger.open(receiver.ledger_path) as ledger:
        stored = ledger.query("SELECT parameter, value, flags FROM observations ORDER BY 1")
    assert stored.values.tolist() == [
        ["pm10", 70.0, "maintenance"],
        ["pm2_5", 38.2, ""],
        ["so2", 9.0, ""],
    ]
    monkeypatch.setenv("FIELD_PW", "wrong")
    code = main(["--config", str(tmp_path / "none.toml"), *args, "--password-env", "FIELD_PW"])
    assert code == 1
    out = capsys.readouterr().out
    assert "0 acknowledged, 2 refused" in out
    assert "QnRtn=3 wrong password" in out


def test_send_without_receiver_is_one_line_exit_1(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import socket

    with socket.socket() as probe:  # a port with nothing listening
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    path = tmp_path / "data.csv"
    path.write_text(CSV, encoding="utf-8")
    monkeypatch.setenv("FIELD_PW", "x")
    code = main(
        ["--config", str(tmp_path / "none.toml"), "hj212", "send", str(path), "--host",
         "127.0.0.1", "--port", str(port), "--password-env", "FIELD_PW"]
    )  # fmt: skip
    err = capsys.readouterr().err
    assert code == 1
    assert err.count("\n") == 1 and "cannot connect to 127.0.0.1" in err
