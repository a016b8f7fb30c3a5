"""The Stasis application ``screener``: routes each event to its call, in order, and starts new calls.

A StasisStart for a channel no call knows is a new agent call; every other event goes to the call that
registered one of its channel ids (the agent's id at start, the callee's id before the POST that creates
it). Events of unknown channels are dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Coroutine
from typing import Any

from screener.ari.call import Call
from screener.ari.client import AriClient, AriError, AriNotFound
from screener.ari.events import ApplicationReplaced, Event, Reconnected, StasisStart
from screener.ari.legs import Outcome
from screener.ari.options import AppOptions
from screener.service.protocol import ScreenerLike

log = logging.getLogger("screener.ari.app")

#: the label of [screener-outbound-ari] where a call handed back by a stopping instance resumes (next app)
HAND_BACK_LABEL = "next"


class StasisApp:
    def __init__(self, client: AriClient, screener: ScreenerLike, options: AppOptions | None = None) -> None:
        self.client = client
        self.screener = screener
        self.options = options or AppOptions()
        #: how long a sweep waits before hanging up a channel no call owns
        self.sweep_grace_s = 1.0
        self._by_channel: dict[str, Call] = {}
        self._tasks: set[asyncio.Task[Outcome]] = set()
        self._sweeps: set[asyncio.Task[object]] = set()
        #: True once shutting down: new calls are handed back to the dialplan
        self.draining = False
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
            self._spawn_sweep()
            return
        if isinstance(event, ApplicationReplaced):
            log.error("ARI: another connection registered application %r: this instance gets no more calls",
                      self.client.app)
            return
        calls = {self._by_channel[c] for c in event.channel_ids if c in self._by_channel}
        if not calls and isinstance(event, StasisStart):
            if self.draining:
                self._spawn(self._hand_back(event))
            else:
                self._start(event)
            return
        for call in calls:
            call.feed(event)

    def _spawn_sweep(self) -> None:
        self._spawn(self.sweep())

    def _spawn(self, coro: Coroutine[Any, Any, object]) -> None:
        task = asyncio.ensure_future(coro)
        self._sweeps.add(task)
        task.add_done_callback(self._sweeps.discard)

    def drain(self) -> None:
        """Stop taking new calls: each one goes back to the dialplan at label ``next`` of its context (the
        shipped context tries the next application, then ends the call with 403). Calls in flight go on."""
        self.draining = True

    async def _hand_back(self, event: StasisStart) -> None:
        channel = event.channel
        try:
            if not channel.dialplan_context or not channel.dialplan_exten:
                raise AriError("POST", "continue", None, "no dialplan location")
            await self.client.continue_in_dialplan(channel.id, channel.dialplan_context, channel.dialplan_exten,
                                                   HAND_BACK_LABEL)
            log.info("ARI: shutting down: call %s handed back to the dialplan", channel.id)
        except AriError as exc:
            log.warning("ARI: shutting down: call %s not handed back (%s): ending it with 403", channel.id, exc)
            with contextlib.suppress(AriError):
                await self.client.hangup(channel.id, reason_code=21)

    async def sweep(self) -> int:
        """Hang up channels of this application that no call owns (left by a previous process or a gap), with
        cause 21, and destroy this application's empty bridges that no call owns; how many it removed."""
        removed = 0
        try:
            info = await self.client.application()
            candidates = [c for c in (info.get("channel_ids", []) if isinstance(info, dict) else [])
                          if isinstance(c, str) and not self.has_call(c)]
            if candidates:
                # a channel that has just entered Stasis may be listed before its StasisStart is read: give
                # the socket time to deliver it, then look again
                await asyncio.sleep(self.sweep_grace_s)
            for channel_id in candidates:
                if not self.has_call(channel_id) and channel_id not in self.outcomes:
                    with contextlib.suppress(AriNotFound):
                        await self.client.hangup(channel_id, reason_code=21)
                        removed += 1
            prefix = f"screener-bridge-{self.client.app}-"
            owned = {call.bridge_id for call in self._by_channel.values()}
            for bridge in await self.client.list_bridges() or []:
                bid = bridge.get("id", "") if isinstance(bridge, dict) else ""
                if bid.startswith(prefix) and bid not in owned and not bridge.get("channels"):
                    with contextlib.suppress(AriNotFound):
                        await self.client.destroy_bridge(bid)
                        removed += 1
        except AriError as exc:
            log.warning("ARI: sweep of leftover channels failed: %s", exc)
        if removed:
            log.warning("ARI: removed %d leftover channel(s)/bridge(s) no call owned", removed)
        return removed

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
        """Let calls in flight (and hand-backs, sweeps) finish for ``grace_s``, then cancel them: a call not yet
        bridged tears itself down; a bridged conversation is left to go on without the application."""
        tasks: set[asyncio.Task[Any]] = set(self._tasks) | set(self._sweeps)
        if not tasks:
            return
        _, pending = await asyncio.wait(tasks, timeout=grace_s) if grace_s > 0 else (set(), tasks)
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.wait(pending, timeout=5.0)
