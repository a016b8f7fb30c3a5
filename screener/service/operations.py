"""What every ``screener serve`` runs in the background, admin server or not: its heartbeat (screeners
alive) and the flush of its decision statistics to Redis."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass

from screener.service.presence import Presence
from screener.service.screening import Screener
from screener.service.stats import DecisionStats
from screener.service.store_errors import STORE_ERRORS
from screener.service.tasks import cancel_and_wait

log = logging.getLogger("screener.operations")

#: seconds between two flushes of the decision statistics
FLUSH_S = 1.0


@dataclass(frozen=True)
class Operations:
    presence: Presence
    stats: DecisionStats


async def _flush_loop(screener: Screener, stats: DecisionStats, interval_s: float) -> None:
    failing = False
    while True:
        await asyncio.sleep(interval_s)
        try:
            async with asyncio.timeout(max(interval_s, 1.0)):
                await stats.flush(screener.redis)
            failing = False
        except STORE_ERRORS as exc:
            if not failing:
                log.warning("decision statistics not written (%s: %s); kept for the next try",
                            type(exc).__name__, exc)
            failing = True


@contextlib.asynccontextmanager
async def background_operations(screener: Screener, *, flush_s: float = FLUSH_S,
                                heartbeat_s: float | None = None) -> AsyncIterator[Operations]:
    presence = Presence(screener.redis, screener.holder) if heartbeat_s is None else Presence(
        screener.redis, screener.holder, interval_s=heartbeat_s)
    stats = DecisionStats(screener.holder)
    screener.observers.add(stats.observe)
    tasks = [asyncio.create_task(presence.run()), asyncio.create_task(_flush_loop(screener, stats, flush_s))]
    try:
        yield Operations(presence, stats)
    finally:
        for task in tasks:
            await cancel_and_wait(task)
        screener.observers.remove(stats.observe)
        with contextlib.suppress(*STORE_ERRORS):
            async with asyncio.timeout(1.0):
                await stats.flush(screener.redis)
        await presence.leave()
