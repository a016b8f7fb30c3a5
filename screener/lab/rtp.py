"""An RTP listener standing in for the callee's media port: it records what Asterisk plays to the callee."""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass


def _ulaw_to_linear(byte: int) -> int:
    u = ~byte & 0xFF
    sign = u & 0x80
    exponent = (u >> 4) & 0x07
    mantissa = u & 0x0F
    sample = ((mantissa << 3) + 0x84) << exponent
    sample -= 0x84
    return -sample if sign else sample


_ULAW = [_ulaw_to_linear(b) for b in range(256)]


@dataclass(frozen=True)
class RtpPacket:
    at: float
    payload_type: int
    #: mean absolute amplitude of the PCMU payload (0 = silence; speech is in the hundreds or more)
    level: float


class RtpListener:
    """Binds ``ip:port`` (UDP) and records every RTP packet that arrives, with its time and audio level."""

    def __init__(self, ip: str = "127.0.0.3", port: int = 0) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((ip, port))
        self.sock.settimeout(0.2)
        self.ip = ip
        self.port = int(self.sock.getsockname()[1])
        self.packets: list[RtpPacket] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"rtp-{self.port}", daemon=True)

    def start(self) -> RtpListener:
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                data = self.sock.recv(4096)
            except TimeoutError:
                continue
            except OSError:
                return
            if len(data) < 12 or data[0] >> 6 != 2:
                continue
            payload_type = data[1] & 0x7F
            payload = data[12:]
            level = sum(abs(_ULAW[b]) for b in payload) / len(payload) if payload and payload_type == 0 else 0.0
            self.packets.append(RtpPacket(at=time.time(), payload_type=payload_type, level=level))

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self.sock.close()

    def audible(self, *, threshold: float = 50.0, before: float | None = None) -> list[RtpPacket]:
        """The packets that carry sound (not silence), optionally only those that arrived before ``before``."""
        return [p for p in self.packets if p.level >= threshold and (before is None or p.at < before)]

    def __enter__(self) -> RtpListener:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
