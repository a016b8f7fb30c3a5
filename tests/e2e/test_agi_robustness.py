"""Garbled, truncated and empty FastAGI sessions, and injection attempts through caller ID and EXTEN, neither
crash nor hang ``screener serve`` nor inject a command into Asterisk."""

from __future__ import annotations

import socket
import time

from tests.e2e.harness import Lab, decision_reasons

HEADER = (
    "agi_network: yes\nagi_network_script: screen\nagi_request: agi://127.0.0.1/screen\n"
    "agi_channel: PJSIP/agents-00000099\nagi_uniqueid: 1.99\nagi_callerid: agent\nagi_arg_1: 12125550121\n"
)


def _session(port: int, payload: bytes) -> bytes:
    """Send ``payload``, half-close, read until the server closes (a reset counts: it dropped us)."""
    chunks: list[bytes] = []
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        try:
            if payload:
                s.sendall(payload)
            s.shutdown(socket.SHUT_WR)
            s.settimeout(10)  # a server that hangs on us fails the test here (TimeoutError)
            while data := s.recv(4096):
                chunks.append(data)
        except TimeoutError:
            raise
        except OSError:  # reset, broken pipe, not connected: the server dropped us, as it may
            pass
    return b"".join(chunks)


def test_garbled_truncated_and_empty_sessions_leave_the_server_answering_calls(lab: Lab) -> None:
    port = lab.server.port
    _session(port, b"")                                    # bare connect and close
    _session(port, HEADER.encode()[:50])                             # header cut off mid-line
    _session(port, HEADER.encode())                                  # header without its blank line
    _session(port, b"\x00\xff" * 40_000)                              # binary garbage, no newline, 80 KB
    _session(port, b"agi_network: yes\n" + b"x" * 200_000 + b"\n\n")  # an over-long header line
    _session(port, (HEADER + "\n").encode() + b"200 result=1\n" * 3 + b"HANGUP\n")  # answers, then vanishes
    assert lab.server.running

    call = lab.call("12125550122", callee="uas_ring_busy.xml")

    assert call.result.final_status == 486, call.result.output  # screened, allowed, dialed: the carrier answered
    assert call.carrier_invites == 1


def test_injection_through_caller_id_and_exten_sets_nothing_and_the_next_call_is_screened(lab: Lab) -> None:
    assert lab.sandbox.global_var("INJECTED") == ""
    attempts = [
        # caller ID: quotes and backslashes in the display name, escaped newlines in the user part
        ('Mal\\"ory\\\\ \\"x', "1%0aSET%20VARIABLE%20GLOBAL(INJECTED)%20yes%0a"),
        ("a%0d%0aEXEC%20System%20touch", "2%22%0a%0a"),
    ]
    for n, (name, user) in enumerate(attempts):
        call = lab.call(f"1212555013{n}", callee="uas_ring_busy.xml", caller_name=name, caller_user=user)
        assert call.result.final_status in (486, 403), call.result.output
    # the raw newline Asterisk puts in agi_callerid: a decision (blocked, invalid_request), in the audit trail
    assert decision_reasons(lab.redis.url, "+12125550130") == [["invalid_request"]]
    # EXTEN: percent-encoded newline and a second dial target after the digits
    for n, exten in enumerate(["12125550140%0aSET%20VARIABLE%20GLOBAL(INJECTED)%201",
                               "12125550141&PJSIP/1999", "12125550142%22%0a%0aHANGUP"]):
        call = lab.call(exten, callee="uas_ring_busy.xml", timeout_s=20)
        assert call.result.final_status in (486, 403), call.result.output
        for invite in call.callee.received("INVITE"):  # whatever got through is the filtered E.164 number only
            assert invite.first_line.startswith(f"INVITE sip:+1212555014{n}@"), invite.first_line
    time.sleep(0.2)

    assert lab.sandbox.global_var("INJECTED") == ""
    assert lab.server.running
    call = lab.call("12125550150", callee="uas_ring_busy.xml")
    assert call.result.final_status == 486, call.result.output
    assert decision_reasons(lab.redis.url, "+12125550150") == [[]]
