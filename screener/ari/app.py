"""The Stasis application ``screener``: routes each event to its call, in order, and starts new calls.

A StasisStart for a channel no call knows is a new agent call; every other event goes to the call that
registered one of its channel ids (the agent's id at start, the callee's id before the POST that creates
it). Events of unknown channels are dropped.
"""

from __future__ import annotations

import asyncio
import logging

from screener.ari.call import Call, Outcome
from screener.ari.client import AriClient
from screener.ari.contract import AppOptions, ScreenerLike
from screener.ari.events import ApplicationReplaced, Event, Reconnected, StasisStart

log = logging.getLogger("screener.ari.app")


class StasisApp:
    def __init__(self, client: AriClient, screener: ScreenerLike, options: AppOptions | None = None) -> None:
        self.client = client
        self.screener = screener
        self.options = options or AppOptions()
        self._by_channel: dict[str, Call] = {}
        self._tasks: set[asyncio.Task[Outcome]] = set()
        #: outcomes of finished calls by agent channel id (tests and diagnostics; bounded)
        self.outcomes: dict[str, Outcome] = {}

    @property
    def active_calls(self) -> int:
        return len(self._tasks)

    def has_call(self, channel_id: str) -> bool:
        """True while a call in flight owns this channel id."""
        return channel_id in self._by_channel

    def handle(self, event: Event) -> None:
        """Called by the client for each event, in WebSocket order; never blocks."""
        if isinstance(event, Reconnected):
            for call in set(self._by_channel.values()):
                call.feed(event)
            return
        if isinstance(event, ApplicationReplaced):
            log.error("ARI: another connection registered application %r: this instance gets no more calls",
                      self.client.app)
            return
        calls = {self._by_channel[c] for c in event.channel_ids if c in self._by_channel}
        if not calls and isinstance(event, StasisStart):
            self._start(event)
            return
        for call in calls:
            call.feed(event)

    def _start(self, event: StasisStart) -> None:
        call = Call(event, self.client, self.screener, self.options, self._register, self._unregister)
        task = asyncio.ensure_future(call.run())
        self._tasks.add(task)

        def done(t: asyncio.Task[Outcome]) -> None:
            self._tasks.discard(t)
            if not t.cancelled() and t.exception() is None:
                self.outcomes[call.agent.id] = t.result()
                while len(self.outcomes) > 1000:
                    self.outcomes.pop(next(iter(self.outcomes)))

        task.add_done_callback(done)

    def _register(self, channel_id: str, call: Call) -> None:
        self._by_channel[channel_id] = call

    def _unregister(self, channel_id: str) -> None:
        self._by_channel.pop(channel_id, None)

    async def shutdown(self, grace_s: float = 5.0) -> None:
        """Let calls in flight finish for ``grace_s``, then cancel them (each tears itself down)."""
        if not self._tasks:
            return
        _, pending = await asyncio.wait(set(self._tasks), timeout=grace_s)
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.wait(pending, timeout=5.0)
