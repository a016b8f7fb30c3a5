"""The legs of one call as the application tracks them: its event queue, which channels are gone (and why),
resynchronisation after a WebSocket gap, and the teardown that leaves no channel or bridge behind.

``Call`` (call.py) builds the flow on top of this.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from enum import StrEnum

from screener.ari.client import AriClient, AriError, AriNotFound
from screener.ari.events import (
    Channel,
    ChannelDestroyed,
    ChannelHangupRequest,
    Event,
    Reconnected,
    StasisEnd,
    StasisStart,
)
from screener.ari.options import AppOptions

log = logging.getLogger("screener.ari.call")


class Outcome(StrEnum):
    """How a call ended, from the application's side (logged, and returned for tests)."""

    BLOCKED = "blocked"
    BRIDGED = "bridged"
    OPTED_OUT = "opted_out"
    BUSY = "busy"
    NO_ANSWER = "no_answer"
    CALLEE_FAILED = "callee_failed"
    AGENT_HUNG_UP = "agent_hung_up"
    CALLEE_HUNG_UP = "callee_hung_up"
    FAILED = "failed"


#: hang-up causes (Q.850) of a callee that did not answer: the outcome, and the agent's hang-up reason
_CAUSES = {17: (Outcome.BUSY, "busy"), 18: (Outcome.NO_ANSWER, "no_answer"), 19: (Outcome.NO_ANSWER, "no_answer")}


class Ended(Exception):
    """A leg the flow needs is gone: stop the flow, tear down."""

    def __init__(self, outcome: Outcome) -> None:
        super().__init__(outcome.value)
        self.outcome = outcome

class Legs:
    """The agent's channel (in Stasis from the start), the callee leg and the bridge the call creates."""

    def __init__(self, agent: Channel, client: AriClient, options: AppOptions,
                 unregister: Callable[[str], None]) -> None:
        self.agent = agent
        self.client = client
        self.options = options
        self._unregister = unregister
        self.queue: asyncio.Queue[Event] = asyncio.Queue()
        self.callee_id: str | None = None
        self.bridge_id: str | None = None
        self.gone: set[str] = set()
        self.in_stasis: set[str] = {agent.id}
        #: the first hang-up cause seen per channel
        self.causes: dict[str, int] = {}
        self._agent_reason: dict[str, str | int] = {"reason": "normal"}
        self._answered_at: float | None = None
        self._dialed_at: float | None = None

    @property
    def label(self) -> str:
        return self.agent.id

    def feed(self, event: Event) -> None:
        self.queue.put_nowait(event)

    async def _wait(self, wanted: Callable[[Event], bool], timeout_s: float | None, *,
                    callee_needed: bool = False) -> Event | None:
        """The next event matching ``wanted``; None at the deadline; Ended when a needed leg is gone."""
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        while True:
            self._check_legs(callee_needed)
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                return None
            try:
                async with asyncio.timeout(remaining):
                    event = await self.queue.get()
            except TimeoutError:
                return None
            await self._track(event)
            self._check_legs(callee_needed)
            if wanted(event):
                return event

    async def _drain(self) -> None:
        """Take in the events already queued (without waiting); Ended when the agent is gone."""
        while not self.queue.empty():
            await self._track(self.queue.get_nowait())
        self._check_legs(False)

    def _check_legs(self, callee_needed: bool) -> None:
        if self.agent.id in self.gone:
            raise Ended(Outcome.BRIDGED if self.bridge_id else Outcome.AGENT_HUNG_UP)
        if callee_needed and self.callee_id is not None and self.callee_id in self.gone:
            if self.bridge_id:
                raise Ended(Outcome.BRIDGED)
            if self._answered_at is None:  # it never answered: tell the agent why (busy: SIP 486)
                outcome, reason = _CAUSES.get(self.causes.get(self.callee_id, 0),
                                              (Outcome.CALLEE_FAILED, "normal"))
                rang = time.monotonic() - (self._dialed_at or time.monotonic())
                if outcome is Outcome.CALLEE_FAILED and rang >= self.options.ring_timeout_s - 0.5:
                    outcome, reason = Outcome.NO_ANSWER, "no_answer"  # Asterisk's dial timeout ended it
                self._agent_reason = {"reason": reason}
                raise Ended(outcome)
            raise Ended(Outcome.CALLEE_HUNG_UP)

    async def _track(self, event: Event) -> None:
        if isinstance(event, StasisStart):
            self.in_stasis.add(event.channel.id)
        elif isinstance(event, ChannelHangupRequest | StasisEnd | ChannelDestroyed):
            self.gone.add(event.channel.id)
            if isinstance(event, ChannelHangupRequest | ChannelDestroyed) and event.cause:
                self.causes.setdefault(event.channel.id, event.cause)
        elif isinstance(event, Reconnected) and not event.first:
            await self._resync()

    async def _resync(self) -> None:
        """After a WebSocket gap: ask Asterisk which of our channels still exist."""
        for channel_id in (self.agent.id, self.callee_id):
            if channel_id is None or channel_id in self.gone:
                continue
            try:
                await self.client.get_channel(channel_id)
            except AriNotFound:
                self.gone.add(channel_id)
            except AriError as exc:
                log.warning("call %s: resync of %s failed: %s", self.label, channel_id, exc)

    # -- teardown -------------------------------------------------------------------------------------

    async def _teardown(self) -> None:
        """Hang up every leg still alive, destroy the bridge, unregister the ids. Never raises."""
        legs: list[tuple[str, dict[str, str | int]]] = []
        if self.callee_id is not None:
            legs.append((self.callee_id, {"reason": "normal"}))
        legs.append((self.agent.id, self._agent_reason))
        for channel_id, reason in legs:
            if channel_id in self.gone:
                continue
            try:
                await self.client.hangup(channel_id, reason=_str(reason.get("reason")),
                                         reason_code=_int(reason.get("reason_code")))
            except AriNotFound:
                pass
            except AriError as exc:
                log.warning("call %s: hang-up of %s failed: %s", self.label, channel_id, exc)
            self.gone.add(channel_id)
        if self.bridge_id is not None:
            try:
                await self.client.destroy_bridge(self.bridge_id)
            except AriNotFound:
                pass
            except AriError as exc:
                log.warning("call %s: bridge %s not destroyed: %s", self.label, self.bridge_id, exc)
        self._unregister_all()

    def _unregister_all(self) -> None:
        self._unregister(self.agent.id)
        if self.callee_id is not None:
            self._unregister(self.callee_id)


def _str(value: str | int | None) -> str | None:
    return None if value is None else str(value)


def _int(value: str | int | None) -> int | None:
    return None if value is None else int(value)

