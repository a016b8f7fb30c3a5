"""Live decisions for the supervisor page: one reader of the audit streams (``XREAD BLOCK`` over every group's
stream: every screener writes there) per admin server, fanned out to each watcher. Numbers are masked (the
streams hold them masked); the keyed number hash is left out."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from screener.service.connection import open_client
from screener.service.store_errors import STORE_ERRORS
from screener.service.tasks import cancel_and_wait
from screener.store import audit

log = logging.getLogger("screener.live")

#: fields a watcher sees (never the number hash)
LIVE_FIELDS = ("kind", "at", "number", "campaign", "verdict", "mode", "source", "config_version", "actor", "action",
               "target", "answer_to_prompt_ms", "opted_out")
#: how many recent entries a new watcher gets first
BACKLOG = 20
#: entries a slow watcher may fall behind before it misses some
QUEUE_SIZE = 500
_CLOSED: dict[str, object] = {}


def live_view(entry: audit.AuditEntry) -> dict[str, object]:
    data = entry.to_json()
    view: dict[str, object] = {"id": entry.id}
    view.update({k: data[k] for k in LIVE_FIELDS if k in data and data[k] != ""})
    if "reasons" in data:
        view["reasons"] = data["reasons"]
    return view


class LiveFeed:
    """Reads the audit stream from its own connection (a blocking read must not hold the decisions' ones),
    only while someone watches: with no page open it costs the screener nothing."""

    def __init__(self, url: str, *, block_ms: int = 1000) -> None:
        self.block_ms = block_ms
        # a blocking read waits block_ms for entries: its socket timeout is longer
        self.redis = open_client(url, timeout_s=block_ms / 1000 + 5, connect_timeout_s=5)
        self._watchers: set[asyncio.Queue[dict[str, object]]] = set()
        self._task: asyncio.Task[None] | None = None
        self._stopping: set[asyncio.Future[bool]] = set()

    def _start(self, after_id: str) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(after_id))

    def _stop(self) -> None:
        if self._task is not None:
            task, self._task = self._task, None
            self._stopping.add(asyncio.ensure_future(cancel_and_wait(task)))
            self._stopping = {t for t in self._stopping if not t.done()}

    async def _run(self, last_id: str) -> None:
        failing = False
        while True:
            try:
                async for entry in audit.follow(self.redis, last_id, block_ms=self.block_ms):
                    last_id = entry.id
                    failing = False
                    self._publish(live_view(entry))
            except STORE_ERRORS as exc:
                if not failing:
                    log.warning("live feed: audit stream not readable (%s: %s); retrying", type(exc).__name__, exc)
                failing = True
                await asyncio.sleep(1.0)

    def _publish(self, view: dict[str, object]) -> None:
        for queue in self._watchers:
            if queue.full():
                with contextlib.suppress(asyncio.QueueEmpty):
                    queue.get_nowait()
            queue.put_nowait(view)

    async def recent(self) -> list[dict[str, object]]:
        return [live_view(e) for e in await audit.tail(self.redis, BACKLOG)]

    async def watch(self) -> Watcher:
        """A new watcher: the latest entries first, then every new one."""
        watcher = Watcher(self)
        self._watchers.add(watcher.queue)
        after = "$"
        try:
            watcher.backlog.extend(await self.recent())
            # read on from the newest entry shown, so that nothing appended meanwhile is missed
            after = str(watcher.backlog[-1]["id"]) if watcher.backlog else "0-0"
        except STORE_ERRORS as exc:
            log.warning("live feed: recent entries not readable (%s)", type(exc).__name__)
        self._start(after)
        return watcher

    def _forget(self, queue: asyncio.Queue[dict[str, object]]) -> None:
        self._watchers.discard(queue)
        if not self._watchers:
            self._stop()

    @property
    def reading(self) -> bool:
        return self._task is not None and not self._task.done()

    async def aclose(self) -> None:
        for queue in list(self._watchers):
            with contextlib.suppress(asyncio.QueueFull):
                queue.put_nowait(_CLOSED)
        if self._task is not None:
            await cancel_and_wait(self._task)
            self._task = None
        if self._stopping:
            await asyncio.wait(self._stopping, timeout=6)
        await self.redis.aclose()


class Watcher:
    """One watcher's entries; ``next`` waits for the next one (None on timeout), raises EOFError once the
    feed closed."""

    def __init__(self, feed: LiveFeed) -> None:
        self.feed = feed
        self.queue: asyncio.Queue[dict[str, object]] = asyncio.Queue(QUEUE_SIZE)
        self.backlog: list[dict[str, object]] = []
        self._seen = (0, 0)

    async def next(self, timeout_s: float) -> dict[str, object] | None:
        while True:
            if self.backlog:
                view = self.backlog.pop(0)
            else:
                try:
                    async with asyncio.timeout(timeout_s):
                        view = await self.queue.get()
                except TimeoutError:
                    return None
                if view is _CLOSED:
                    raise EOFError("the live feed closed")
            position = _stream_id(str(view["id"]))
            if position > self._seen:  # the backlog and the queue may overlap
                self._seen = position
                return view

    def close(self) -> None:
        self.feed._forget(self.queue)


def _stream_id(text: str) -> tuple[int, int]:
    if not text:
        return (0, 0)
    ms, _, seq = text.partition("-")
    return int(ms), int(seq or 0)


__all__ = ["LiveFeed", "Watcher", "live_view"]
