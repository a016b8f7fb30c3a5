"""sipp message traces: parsed into messages with their times, and the agent's final answer read from them."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from screener.lab.sipp import CallResult, parse_message_trace

TRACE = """\
----------------------------------------------- 2026-11-28 13:51:11.059273
UDP message sent (564 bytes):

INVITE sip:12125550102@127.0.0.1:5060 SIP/2.0
Via: SIP/2.0/UDP 127.0.0.2:47011;branch=z9hG4bK-23169-1-0
Call-ID: 1-23169@127.0.0.2
CSeq: 1 INVITE
Content-Length:   130

v=0
m=audio 55150 RTP/AVP 0

----------------------------------------------- 2026-11-28 13:51:11.059374
UDP message received [320] bytes :

SIP/2.0 100 Trying
Call-ID: 1-23169@127.0.0.2
CSeq: 1 INVITE
Content-Length:  0


----------------------------------------------- 2026-11-28 13:51:11.067846
UDP message received [388] bytes :

SIP/2.0 403 Forbidden
Call-ID: 1-23169@127.0.0.2
CSeq: 1 INVITE
Reason: Q.850;cause=21
Content-Length:  0


----------------------------------------------- 2026-11-28 13:51:11.067935
UDP message sent (325 bytes):

ACK sip:12125550102@127.0.0.1:5060 SIP/2.0
Via: SIP/2.0/UDP 127.0.0.2:47011;branch=z9hG4bK-23169-1-0
CSeq: 1 ACK

"""


def _trace(tmp_path: Path) -> Path:
    path = tmp_path / "messages.log"
    path.write_text(TRACE)
    return path


def test_a_trace_parses_into_messages_with_direction_time_and_headers(tmp_path: Path) -> None:
    messages = parse_message_trace(_trace(tmp_path))

    assert [m.first_line.split(" ")[0] for m in messages] == ["INVITE", "SIP/2.0", "SIP/2.0", "ACK"]
    assert [m.sent for m in messages] == [True, False, False, True]
    assert [m.method for m in messages] == ["INVITE", None, None, "ACK"]
    assert [m.status for m in messages] == [None, 100, 403, None]
    assert messages[2].header("reason") == "Q.850;cause=21"
    assert messages[0].header("Content-Length") == "130"
    assert messages[0].header("m") is None  # the body is not a header
    assert messages[3].cseq_method == "ACK"
    assert messages[0].at == datetime(2026, 11, 28, 13, 51, 11, 59273).timestamp()


def test_the_final_answer_to_the_invite_is_the_first_final_response(tmp_path: Path) -> None:
    result = CallResult("12125550102", 0, tuple(parse_message_trace(_trace(tmp_path))), tmp_path, "")

    assert result.final_status == 403
    assert not result.answered
    assert result.received_at(403) == datetime(2026, 11, 28, 13, 51, 11, 67846).timestamp()
    assert result.invite_sent_at == datetime(2026, 11, 28, 13, 51, 11, 59273).timestamp()


def test_a_missing_trace_is_no_messages(tmp_path: Path) -> None:
    assert parse_message_trace(tmp_path / "none.log") == []
    assert CallResult("1", 1, (), tmp_path, "").final_status is None


def test_invite_to_status_times_come_from_the_trace(tmp_path: Path) -> None:
    from screener.lab.sipp import invite_to_status_ms

    path = tmp_path / "messages.log"
    path.write_text(TRACE)
    times, stamps = invite_to_status_ms(path, 403)
    assert [round(t, 3) for t in times] == [8.573]  # 13:51:11.067846 - 13:51:11.059273
    assert len(stamps) == 1
    assert invite_to_status_ms(path, 180) == ([], [])  # no call rang
