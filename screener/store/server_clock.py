"""The Redis server's clock as the screener's decisions see it, to give a decision an expiry that the
script checks by the server's own clock (decide.lua ARGV[10]).

A live decision's reply carries the server's time when the script ran; the script ran after the command was
sent, so (server time - our time at sending) is an upper bound of how far the server's clock is ahead of
ours. The smallest such bound of the last few seconds turns our deadline into a server time that is never
earlier than the true one (plus a small slack), so a decision that Redis runs in time is never expired,
and one that it runs long after the screener gave up (a stalled server answering its backlog) changes
nothing.
"""

from __future__ import annotations

import time

#: how long a bound is trusted (a clock adjusted by NTP is seen within two windows)
WINDOW_S = 5.0
#: added to the expiry: the script's clock is read in whole milliseconds, and clocks are adjusted
SLACK_MS = 10


class ServerClock:
    def __init__(self) -> None:
        self._current: float | None = None
        self._previous: float | None = None
        self._window_start = -1e9

    def observe(self, server_ms: int, sent_ms: float) -> None:
        """A reply: the server's time ``server_ms`` when it ran a command we sent at our ``sent_ms``."""
        now = time.monotonic()
        if now - self._window_start >= WINDOW_S:
            self._previous, self._current, self._window_start = self._current, None, now
        ahead = server_ms - sent_ms
        if self._current is None or ahead < self._current:
            self._current = ahead

    @property
    def ahead_ms(self) -> float | None:
        """The smallest upper bound of the server clock's lead over ours, or None before any reply."""
        bounds = [b for b in (self._current, self._previous) if b is not None]
        return min(bounds) if bounds else None

    def expiry_ms(self, time_left_s: float) -> int | None:
        """The server time past which a command sent now, whose caller waits ``time_left_s`` more, is late."""
        ahead = self.ahead_ms
        if ahead is None:
            return None
        return int(time.time() * 1000 + time_left_s * 1000 + ahead) + SLACK_MS
