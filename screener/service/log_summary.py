"""Log lines that would otherwise repeat once per call under a storm (a store outage, an overload).

The first occurrence of a kind is logged as it comes, with its details; the ones that follow within the
interval are only counted, and when the interval ends one line per kind gives their number::

    WARNING screener.service: blocked, the store did not answer: +1212***0142 (open): ... within 150 ms
    WARNING screener.service: blocked, the store did not answer: 3,011 more in the last 10 s

So a storm costs two log lines per kind and interval, however many calls it hits.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

#: seconds between two summary lines of the same kind
INTERVAL_S = 10.0


@dataclass
class _Window:
    level: int
    started: float
    count: int = 0


class LogSummary:
    """Counts repeated log events per kind; see the module's docstring."""

    def __init__(self, logger: logging.Logger, interval_s: float = INTERVAL_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.logger = logger
        self.interval_s = interval_s
        self._clock = clock
        self._windows: dict[str, _Window] = {}
        self._timer: asyncio.TimerHandle | None = None

    def event(self, level: int, kind: str, detail: str = "", *args: object) -> None:
        """One occurrence of ``kind`` (a fixed text: what happened); ``detail % args`` describes this one and
        is logged only when the occurrence is the first of its interval."""
        now = self._clock()
        window = self._windows.get(kind)
        if window is not None and now - window.started >= self.interval_s:
            self._close(kind, window)
            window = None
        if window is None:
            self._windows[kind] = _Window(level, now)
            if self.logger.isEnabledFor(level):
                self.logger.log(level, f"{kind}: {detail}" if detail else kind, *args)
            return
        window.count += 1
        self._schedule()

    def flush(self) -> None:
        """Log what was counted and not summed up yet (at shutdown, or from a periodic task)."""
        for kind, window in list(self._windows.items()):
            self._close(kind, window)
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _close(self, kind: str, window: _Window) -> None:
        del self._windows[kind]
        if window.count:
            span = min(self._clock() - window.started, self.interval_s)
            self.logger.log(window.level, "%s: %s more in the last %s s", kind, f"{window.count:,}", f"{span:.3g}")

    def _schedule(self) -> None:
        """Sum the counted events up when their interval ends, even if no further event comes."""
        if self._timer is not None:
            return
        with contextlib.suppress(RuntimeError):  # no running loop: the next event or flush() sums them up
            loop = asyncio.get_running_loop()
            oldest = min(w.started for w in self._windows.values())
            delay = max(oldest + self.interval_s - self._clock(), 0.0) + 0.01
            self._timer = loop.call_later(delay, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        now = self._clock()
        for kind, window in list(self._windows.items()):
            if now - window.started >= self.interval_s:
                self._close(kind, window)
        if any(w.count for w in self._windows.values()):
            self._schedule()
