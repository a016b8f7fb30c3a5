"""What a Screener does with the writes Redis could not take (the spool, ``spool.py``).

It keeps them (an opt-out on disk before ``keep`` returns, the others fsynced together within
``SYNC_DELAY_S``), knows which numbers have an opt-out pending (they are blocked meanwhile), and flushes
them in batches once Redis answers: soon after a decision that Redis answered, and every second from
``keep_flushing`` in ``screener serve``. It does not flush while decisions are being refused as overloaded
(unless an opt-out waits or the spool is half full): the audit entries of refused calls are built at flush
time, and that work waits for the overload to end.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable

from screener.service.log_summary import LogSummary
from screener.service.spool import OPT_OUT, Spool, Writer
from screener.service.store_errors import STORE_ERRORS

log = logging.getLogger("screener.service")

#: seconds a kept audit entry may wait for its fsync (one write and one fsync for all entries of the moment)
SYNC_DELAY_S = 0.2
#: writes per round trip when they are flushed (a refused call's audit entry is built then: a small batch
#: keeps the event loop answering decisions between two)
BATCH = 100


class PendingWrites:
    """The spool of one Screener, kept and flushed (see the module's docstring)."""

    def __init__(self, spool: Spool, write: Writer, *, overloaded: Callable[[], bool], summary: LogSummary,
                 on_flushed: Callable[[], None]) -> None:
        self.spool = spool
        self._write = write
        self._overloaded = overloaded
        self._summary = summary
        self._on_flushed = on_flushed
        #: the numbers of the opt-outs that wait (blocked by this screener meanwhile)
        self.opt_out_numbers = spool.pending(OPT_OUT, "number")
        #: the flush started by a decision Redis answered (``flush_soon``)
        self.flushing: asyncio.Task[int] | None = None
        self._flushed_at = -1e9
        self._sync_timer: asyncio.TimerHandle | None = None

    def keep(self, kind: str, data: dict[str, str]) -> bool:
        """Spool a write; False (logged) when the spool is full and it is lost."""
        opt_out = kind == OPT_OUT
        kept = self.spool.add(kind, data, sync=opt_out)
        if not kept:
            self._summary.event(logging.ERROR, "spool full, pending writes LOST",
                                "%d items wait: a pending %s was dropped (%d dropped since the start)",
                                len(self.spool), kind, self.spool.overflowed)
        elif opt_out:
            self.opt_out_numbers.add(data["number"])
        elif self._sync_timer is None:
            self._sync_timer = asyncio.get_running_loop().call_later(SYNC_DELAY_S, self._sync)
        return kept

    def _sync(self) -> None:
        self._sync_timer = None
        try:
            self.spool.sync()
        except OSError as exc:
            self._summary.event(logging.ERROR, "spool not synced to disk", "%s", exc)

    def flush_soon(self) -> None:
        """Redis answered and writes wait: flush them in the background (once a second at most)."""
        if self.spool.items and (self.flushing is None or self.flushing.done()) and \
                time.monotonic() - self._flushed_at > 1.0:
            self._flushed_at = time.monotonic()
            self.flushing = asyncio.ensure_future(self.flush())

    async def flush(self, *, now: bool = False) -> int:
        """Write what waits (and what a dead screener process left in the folder), in order, until Redis fails
        again; returns how many writes landed. Waits (returns 0) while decisions are refused as overloaded,
        unless ``now``, an opt-out waits, or the spool is half full."""
        if not now and self._overloaded() and not self.opt_out_numbers and \
                len(self.spool) < self.spool.max_items // 2:
            return 0
        try:
            done = await self.spool.flush(self._write, batch=BATCH)
        except STORE_ERRORS as exc:
            self._summary.event(logging.WARNING, "pending writes not flushed yet", "%s; %d waiting",
                                type(exc).__name__, len(self.spool))
            done = 0
        self.opt_out_numbers = self.spool.pending(OPT_OUT, "number")
        if done:
            log.info("%d pending write(s) flushed to Redis; %d waiting", done, len(self.spool))
            self._on_flushed()
        return done

    async def keep_flushing(self, stop: asyncio.Event, every_s: float = 1.0) -> None:
        """Until ``stop``: every ``every_s``, flush what waits."""
        while not stop.is_set():
            if self.spool.items or self.spool.folder is not None:
                await self.flush()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), every_s)

    async def aclose(self) -> None:
        """A last flush (what is left stays on disk, or is lost when the spool has no folder), then close."""
        if self.flushing is not None:
            await asyncio.wait([self.flushing], timeout=2)
        if self.spool.items:
            await self.flush(now=True)
        if self._sync_timer is not None:
            self._sync_timer.cancel()
            self._sync_timer = None
        self.spool.close()
