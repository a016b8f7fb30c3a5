"""Admission control: a bound on the decisions in flight in one screener process.

Past the bound (``[screener] max_in_flight``) a decision waits for a free slot, first come first served, at
most ``[screener] overload_wait_ms`` and behind at most as many others as the bound: that absorbs a burst
(a dialer starting a hundred calls in the same millisecond) and the moment after a Redis stall when every
slot is finishing at once. A decision that finds the queue full, or whose wait runs out, is refused:
blocked with ``screening_unavailable`` (detail "overloaded"), without a Redis command and at a cost of
microseconds: the call is noted in the spool, and its audit entry is built and written when the overload
is over. The decisions admitted keep their latency, because the queue in front of Redis and of the event
loop cannot grow past the bound; without it, an offered load above capacity makes every decision late,
each late one adds work (a timeout, a retry, a log line), and the screener ends up blocking every call.

The bound is a count, not a rate: size it as capacity x acceptable latency (Little's law), see
config/README.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from dataclasses import dataclass

#: the detail of a decision refused past the bound
OVERLOADED = "overloaded"


class Admission:
    """Counts the decisions in flight, queues those past the bound for a short while, refuses the rest
    (one event loop: no lock)."""

    def __init__(self) -> None:
        self.in_flight = 0
        #: the bound the last decision was admitted or refused against (the config may change it)
        self.bound = 0
        #: decisions admitted and refused since the process started
        self.admitted = 0
        self.refused = 0
        self._refused_at = -1e9
        #: decisions waiting for a slot, first come first served (a slot is handed over by ``leave``)
        self._waiting: deque[asyncio.Future[None]] = deque()

    @property
    def waiting(self) -> int:
        return len(self._waiting)

    def enter(self, bound: int) -> bool:
        """True: admitted at once (call ``leave`` when it is done); False: no free slot, or others wait."""
        self.bound = bound
        if self.in_flight >= bound or self._waiting:
            return False
        self.in_flight += 1
        self.admitted += 1
        return True

    async def wait(self, bound: int, wait_s: float) -> bool:
        """After ``enter`` said no: wait up to ``wait_s`` for a slot (True: admitted, call ``leave``) unless
        ``bound`` others wait already; False: refused (counted)."""
        if wait_s > 0 and len(self._waiting) < bound:
            slot: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._waiting.append(slot)
            try:
                async with asyncio.timeout(wait_s):
                    await slot
                return True
            except TimeoutError:
                if slot.done() and not slot.cancelled():
                    return True  # handed over just as the wait ran out: it is ours
            except BaseException:  # our caller gave up (its own deadline) while we waited
                if slot.done() and not slot.cancelled():
                    self.leave()  # a slot was handed over all the same: pass it on
                raise
            finally:
                with contextlib.suppress(ValueError):
                    self._waiting.remove(slot)
        self.refused += 1
        self._refused_at = time.monotonic()
        return False

    def leave(self) -> None:
        """A decision is done: its slot goes to the first decision still waiting, or is freed."""
        while self._waiting:
            slot = self._waiting.popleft()
            if not slot.done():
                slot.set_result(None)
                self.admitted += 1
                return
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
    #: refused past the bound and its short wait (blocked, screening_unavailable "overloaded")
    refused_overloaded: int
    #: admitted, then blocked because the store did not answer in time or failed
    store_unavailable: int
    #: writes (audit entries, opt-outs) kept for Redis, waiting now, and lost because the spool was full
    spooled: int
    spool_waiting: int
    spool_overflowed: int
