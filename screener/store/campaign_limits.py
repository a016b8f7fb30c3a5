"""A campaign's limits across screeners: calls per second and calls in progress (``rate_limit``).

On one server or a Sentinel master, decide.lua counts both exactly, in the decision's own round trip (the
campaign's keys are on the same server). On a Redis Cluster a decision may only touch the number's slot, so
each screener process holds an allowance leased from the campaign's counters (in the campaign's slot
``{c:NAME}``) and a decision spends it in memory:

* calls per second: tokens for one second of the campaign master's clock (``rate_lease.lua``); the tokens
  handed out in a second never add up to more than the limit; a token not spent in its second is dropped;
* calls in progress: placeholders among the campaign's calls (``calls_lease.lua``), each bound to the call
  it allowed (``calls_bind.lua``), or given back unspent (``calls_return.lua``), or freed by its lease. A
  placeholder is spent only in its first ``PLACEHOLDER_USE_S`` and holds its place for ``PLACEHOLDER_MS``:
  the rest is the time its bind has to land, through a failover of the campaign's master (a bind that fails
  goes to ``on_unbound``: the screener's spool writes it again).

Both are leased in small batches (sized by the last second's use) when the allowance runs out, so most
decisions stay one round trip; the tolerance and its reasons are in docs/redis-topologies.md. A call's end
(``call_ended``) frees its place on every topology.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from redis.exceptions import RedisError

from screener.store import keys
from screener.store.client import text
from screener.store.scripts import Script

log = logging.getLogger("screener.store.campaign_limits")

_RELEASE = Script("calls_release")
_CALLS_LEASE = Script("calls_lease")
_CALLS_BIND = Script("calls_bind")
_CALLS_RETURN = Script("calls_return")
_RATE_LEASE = Script("rate_lease")

#: ms an "ended" marker lives (a call's end reported before its allowance was bound to it, or a bind replayed)
ENDED_MARKER_MS = 120_000
#: seconds after its lease a placeholder may be spent on a call (then it is given back unspent)
PLACEHOLDER_USE_S = 9.0
#: ms a leased placeholder holds its place unless bound or given back: its use, then 31 s for the bind of the
#: call that spent it to land (through a failover of the campaign's master: the shipped node timeout is 5 s)
PLACEHOLDER_MS = 40_000
#: placeholders and tokens leased at most at once
MAX_BATCH = 16


async def call_ended(connections: Any, campaign: str, call_id: str) -> bool:
    """The call no longer counts among the campaign's calls in progress (any topology; any screener may report
    it). True when it was counted."""
    reply = await _RELEASE(connections, [keys.calls_key(campaign), keys.call_ended_key(campaign, call_id)],
                           [call_id, ENDED_MARKER_MS])
    return bool(int(reply))


@dataclass(frozen=True)
class PendingBind:
    """An allowed call that takes its placeholder's place (``bind``); written again as often as needed."""

    campaign: str
    placeholder: str
    call_id: str
    lease_ms: int
    #: epoch ms the call was allowed (its lease counts from then, so a bind written again changes nothing)
    allowed_ms: int

    def data(self) -> dict[str, str]:
        return {"campaign": self.campaign, "placeholder": self.placeholder, "call_id": self.call_id,
                "lease_ms": str(self.lease_ms), "allowed_ms": str(self.allowed_ms)}

    @classmethod
    def parse(cls, data: dict[str, str]) -> PendingBind:
        return cls(data["campaign"], data["placeholder"], data["call_id"], int(data["lease_ms"]),
                   int(data["allowed_ms"]))


async def bind(connections: Any, pending: PendingBind) -> bool:
    """The call takes its placeholder's place among the campaign's calls (idempotent: ``calls_bind.lua``). True
    when it is counted, False when it had ended already."""
    reply = await _CALLS_BIND(connections, [keys.calls_key(pending.campaign),
                                            keys.call_ended_key(pending.campaign, pending.call_id)],
                              [pending.placeholder, pending.call_id, pending.lease_ms, pending.allowed_ms])
    return bool(int(reply))


@dataclass
class _Tokens:
    second: int = -1
    left: int = 0
    #: the campaign's calls of ``second`` are all handed out
    exhausted: bool = False
    #: tokens spent in the last two seconds (second -> count): sizes the next lease
    spent: dict[int, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Grant:
    """What a decision took from the allowance: a token of a second, a placeholder (either may be absent) with
    the monotonic time until which it may be spent."""

    campaign: str
    second: int | None = None
    placeholder: str | None = None
    usable_until: float = 0.0


class CampaignAllowance:
    """A screener process's allowance of its campaigns' limits on a Redis Cluster (docs/redis-topologies.md).

    ``on_unbound`` is told of a bind that did not land (the campaign's master did not answer): the screener
    keeps it and writes it again (``bind``) until it lands."""

    def __init__(self, connections: Any, *, holder: str | None = None, clock: Callable[[], float] = time.time,
                 on_unbound: Callable[[PendingBind], None] | None = None) -> None:
        self.connections = connections
        self.holder = holder or uuid.uuid4().hex[:12]
        self._clock = clock
        self.on_unbound = on_unbound
        #: the campaign master's clock minus ours (ms), measured at each lease
        self._offset_ms = 0.0
        self._tokens: dict[str, _Tokens] = {}
        #: unused placeholders per campaign: (member, monotonic time after which it is not used)
        self._free: dict[str, list[tuple[str, float]]] = {}
        #: placeholders past their time, not spent: given back by ``return_unused``
        self._unused: dict[str, list[str]] = {}
        self._placed: dict[str, list[float]] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._binds: set[asyncio.Task[None]] = set()

    def _lock(self, name: str) -> asyncio.Lock:
        return self._locks.setdefault(name, asyncio.Lock())

    def _second_now(self) -> int:
        return int((self._clock() * 1000 + self._offset_ms) // 1000)

    # -- calls per second -------------------------------------------------------------------------------

    async def take_rate(self, campaign: str, cps: int) -> int | None:
        """A token of the current second (its number), or None: the campaign's calls of this second are all
        handed out. Leases more (one round trip to the campaign's slot) when this process has none left."""
        tokens = self._tokens.setdefault(campaign, _Tokens())
        if not self._spend(tokens):
            async with self._lock("rate:" + campaign):
                if not self._spend(tokens):
                    await self._lease_rate(campaign, cps, tokens)
                    if not self._spend(tokens):
                        return None
        return tokens.second

    def _spend(self, tokens: _Tokens) -> bool:
        now = self._second_now()
        if tokens.second != now or tokens.left <= 0:
            return False
        tokens.left -= 1
        tokens.spent[now] = tokens.spent.get(now, 0) + 1
        return True

    async def _lease_rate(self, campaign: str, cps: int, tokens: _Tokens) -> None:
        if tokens.exhausted and tokens.second == self._second_now():
            return
        last = tokens.spent.get(self._second_now() - 1, 0)
        want = max(1, min(cps, MAX_BATCH, math.ceil(last / 4)))
        sent = self._clock()
        second, granted, server_ms = await _RATE_LEASE(self.connections, [keys.rate_lease_key(campaign)],
                                                       [cps, want])
        self._offset_ms = int(server_ms) - (sent + self._clock()) / 2 * 1000
        second, granted = int(second), int(granted)
        if second != tokens.second:
            tokens.left = 0
        tokens.second, tokens.left = second, tokens.left + granted
        tokens.exhausted = granted < want
        tokens.spent = {s: n for s, n in tokens.spent.items() if s >= second - 1}

    def give_back_rate(self, campaign: str, second: int) -> None:
        """A token taken for a call the decision did not allow: spendable again within its second."""
        tokens = self._tokens.get(campaign)
        if tokens is not None and tokens.second == second:
            tokens.left += 1
            tokens.spent[second] = max(0, tokens.spent.get(second, 0) - 1)

    # -- calls in progress ------------------------------------------------------------------------------

    async def take_call(self, campaign: str, max_calls: int, lease_ms: int) -> tuple[str, float] | None:
        """A placeholder among the campaign's calls in progress with the monotonic time until which it may be
        spent, or None: they are all taken."""
        found = self._pop_free(campaign)
        if found is None:
            async with self._lock("calls:" + campaign):
                found = self._pop_free(campaign)
                if found is None:
                    await self._lease_calls(campaign, max_calls, lease_ms)
                    found = self._pop_free(campaign)
        if found is not None:
            placed = self._placed.setdefault(campaign, [])
            placed.append(time.monotonic())
            del placed[:-64]
        return found

    def _pop_free(self, campaign: str) -> tuple[str, float] | None:
        free = self._free.get(campaign)
        now = time.monotonic()
        while free:
            member, usable_until = free.pop()
            if now < usable_until:
                return member, usable_until
            self._unused.setdefault(campaign, []).append(member)  # given back by ``return_unused``
        return None

    async def _lease_calls(self, campaign: str, max_calls: int, lease_ms: int) -> None:
        recent = [t for t in self._placed.get(campaign, []) if t > time.monotonic() - 1]
        want = max(1, min(MAX_BATCH, math.ceil(len(recent) / 4)))
        sent, sent_wall = time.monotonic(), self._clock()
        members, server_ms = await _CALLS_LEASE(self.connections, [keys.calls_key(campaign)],
                                                [max_calls, want, self.holder, PLACEHOLDER_MS, lease_ms])
        self._offset_ms = int(server_ms) - (sent_wall + self._clock()) / 2 * 1000
        usable_until = sent + PLACEHOLDER_USE_S  # counted from before the lease: never past its real time
        self._free.setdefault(campaign, []).extend((text(m), usable_until) for m in members)

    def give_back_call(self, campaign: str, placeholder: str, usable_until: float) -> None:
        """A placeholder taken for a call the decision did not allow: usable again until its own time ends."""
        self._free.setdefault(campaign, []).append((placeholder, usable_until))

    async def return_unused(self, *, every: bool = False) -> int:
        """Give back the placeholders whose time to be spent is over (``every``: all unspent ones, at the end):
        their places are free at once instead of when their lease ends. How many went back; what Redis does not
        take now is kept for the next call."""
        now = time.monotonic()
        returned = 0
        for campaign, free in list(self._free.items()):
            stale = [m for m, until in free if every or until <= now]
            self._free[campaign] = [(m, until) for m, until in free if not (every or until <= now)]
            self._unused.setdefault(campaign, []).extend(stale)
        for campaign, members in list(self._unused.items()):
            if not members:
                continue
            try:
                await _CALLS_RETURN(self.connections, [keys.calls_key(campaign)], members)
            except (RedisError, OSError, TimeoutError):
                continue  # their lease frees them all the same
            returned += len(members)
            self._unused[campaign] = []
        return returned

    def bind_call(self, campaign: str, placeholder: str, call_id: str, lease_ms: int) -> None:
        """The allowed call takes its placeholder's place (in the background: not on the decision's path)."""
        # allowed "now" on the campaign master's clock (calls_bind.lua counts the lease from it)
        pending = PendingBind(campaign, placeholder, call_id, lease_ms, int(self._clock() * 1000 + self._offset_ms))
        task = asyncio.ensure_future(self._bind(pending))
        self._binds.add(task)
        task.add_done_callback(self._binds.discard)

    async def _bind(self, pending: PendingBind) -> None:
        try:
            await bind(self.connections, pending)
            return
        except (RedisError, OSError, TimeoutError) as exc:
            failure = type(exc).__name__
        if self.on_unbound is not None:
            log.warning("call %s of %s not counted yet among its calls in progress (%s): kept to be written again",
                        pending.call_id, pending.campaign, failure)
            self.on_unbound(pending)
        else:
            log.error("call %s of %s not counted among its calls in progress (%s): its placeholder frees its place "
                      "within %d s", pending.call_id, pending.campaign, failure, PLACEHOLDER_MS // 1000)

    # -- the decision's use -----------------------------------------------------------------------------

    async def take(self, campaign: str, cps: int, max_calls: int, lease_ms: int) -> tuple[Grant, str | None]:
        """Take what a call of the campaign needs: (the grant, None), or (what was taken and given back
        already, the detail of the limit reached)."""
        second = None
        if cps:
            second = await self.take_rate(campaign, cps)
            if second is None:
                return Grant(campaign), f"{cps} calls/s"
        placeholder = None
        if max_calls:
            placeholder = await self.take_call(campaign, max_calls, lease_ms)
            if placeholder is None:
                if second is not None:
                    self.give_back_rate(campaign, second)
                return Grant(campaign), f"{max_calls} concurrent calls"
            return Grant(campaign, second, *placeholder), None
        return Grant(campaign, second), None

    def settle(self, grant: Grant, *, reserved: bool, call_id: str, lease_ms: int) -> None:
        """After the decision: bind the placeholder to the allowed call, or give back what it did not use."""
        if reserved:
            if grant.placeholder is not None:
                self.bind_call(grant.campaign, grant.placeholder, call_id, lease_ms)
            return
        if grant.second is not None:
            self.give_back_rate(grant.campaign, grant.second)
        if grant.placeholder is not None:
            self.give_back_call(grant.campaign, grant.placeholder, grant.usable_until)

    async def settled(self, timeout_s: float = 10.0) -> None:
        """Until the binds under way are done (or ``timeout_s``)."""
        if self._binds:
            with contextlib.suppress(Exception):
                await asyncio.wait(set(self._binds), timeout=timeout_s)

    async def aclose(self) -> None:
        """Wait for the binds under way (a few seconds at most), then give back every unspent placeholder."""
        await self.settled(3.0)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.return_unused(every=True), 3.0)


