"""The callee's RTP listener tells sound from silence in the PCMU that Asterisk sends."""

from __future__ import annotations

import socket
import time

from screener.lab.rtp import RtpListener


def _rtp(payload: bytes, seq: int) -> bytes:
    return bytes([0x80, 0x00]) + seq.to_bytes(2, "big") + (seq * 160).to_bytes(4, "big") + b"\x00\x00\x00\x01" + payload


def test_loud_packets_count_as_audible_and_silence_does_not() -> None:
    with RtpListener("127.0.0.1") as rtp, socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as tx:
        tx.sendto(_rtp(b"\xff" * 160, 1), ("127.0.0.1", rtp.port))          # PCMU silence (+0)
        tx.sendto(_rtp(bytes([0x10, 0x90] * 80), 2), ("127.0.0.1", rtp.port))  # loud samples of both signs
        tx.sendto(b"not rtp", ("127.0.0.1", rtp.port))
        deadline = time.monotonic() + 5
        while len(rtp.packets) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)

    assert len(rtp.packets) == 2
    assert rtp.packets[0].level == 0
    assert rtp.packets[1].level > 1000
    assert rtp.audible() == [rtp.packets[1]]
    assert rtp.audible(before=rtp.packets[1].at) == []
