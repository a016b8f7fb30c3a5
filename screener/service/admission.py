"""Admission control: a bound on the decisions in flight in one screener process.

Past the bound (``[screener] max_in_flight``) a decision is refused at once: blocked with
``screening_unavailable`` (detail "overloaded"), without a Redis command and at a cost of microseconds: the
call is noted in the spool, and its audit entry is built and written when the overload is over. The
decisions admitted keep their latency, because the queue in front of Redis and of the event loop cannot
grow past the bound; without it, an offered load above capacity makes every decision late, each late one
adds work (a timeout, a retry, a log line), and the screener ends up blocking every call.

The bound is a count, not a rate: size it as capacity x acceptable latency (Little's law), see
config/README.md.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

#: the detail of a decision refused past the bound
OVERLOADED = "overloaded"


class Admission:
    """Counts the decisions in flight and refuses those past the bound (single event loop: no lock)."""

    def __init__(self) -> None:
        self.in_flight = 0
        #: the bound the last decision was admitted or refused against (the config may change it)
        self.bound = 0
        #: decisions admitted and refused since the process started
        self.admitted = 0
        self.refused = 0
        self._refused_at = -1e9

    def enter(self, bound: int) -> bool:
        """True: admitted (call ``leave`` when it is done); False: refused, nothing to undo."""
        self.bound = bound
        if self.in_flight >= bound:
            self.refused += 1
            self._refused_at = time.monotonic()
            return False
        self.in_flight += 1
        self.admitted += 1
        return True

    def leave(self) -> None:
        self.in_flight -= 1

    def refusing(self, within_s: float = 1.0) -> bool:
        """Whether a decision was refused in the last ``within_s`` (an overload is going on)."""
        return time.monotonic() - self._refused_at < within_s


@dataclass(frozen=True)
class ScreenerCounters:
    """What one screener process did since it started, for logs and a metrics endpoint."""

    #: decisions being made now, and the bound past which they are refused
    in_flight: int
    max_in_flight: int
    admitted: int
    #: refused at once past the bound (blocked, screening_unavailable "overloaded")
    refused_overloaded: int
    #: admitted, then blocked because the store did not answer in time or failed
    store_unavailable: int
    #: writes (audit entries, opt-outs) kept for Redis, waiting now, and lost because the spool was full
    spooled: int
    spool_waiting: int
    spool_overflowed: int
