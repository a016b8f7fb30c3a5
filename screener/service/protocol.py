"""What a front end (FastAGI, classic AGI, ARI) needs of the service. ``Screener`` is the real one; the front
ends' unit tests use one small fake (tests/fakes.py)."""

from __future__ import annotations

import asyncio
import logging
from typing import Protocol

from screener.decision import AnsweredCall, Decision, Disclosure, DisclosureEvent, ScreenRequest
from screener.numbers import mask
from screener.service.log_summary import LogSummary
from screener.sounds import Sounds

log = logging.getLogger("screener.service")
#: a storm of late decisions is logged once per interval with a count, not once per call
_summary = LogSummary(log)


class ScreenerLike(Protocol):
    @property
    def sounds(self) -> Sounds:
        """The names of the sounds to play (the "not permitted" notice, confirmations)."""
        ...

    @property
    def decision_timeout_s(self) -> float:
        """How long a front end waits for ``screen`` before it blocks the call itself."""
        ...

    async def screen(self, request: ScreenRequest) -> Decision:
        """Decide one call; never raises for a store failure (blocks with screening_unavailable instead)."""
        ...

    def disclosure(self, campaign: str) -> Disclosure | None:
        """What the callee hears for ``campaign`` (None: no such campaign in the running config)."""
        ...

    async def opt_out(self, number: str, campaign: str, *, source: str, call_id: str | None = None) -> None:
        """Put the number on the internal DNC list; returns once Redis acknowledged, raises otherwise."""
        ...

    async def record_disclosure(self, event: DisclosureEvent) -> None:
        """Append the disclosure evidence to the audit trail."""
        ...

    async def record_answered_call(self, call: AnsweredCall) -> None:
        """Count an answered call (abandoned or not) for its campaign's abandoned-call rate and audit it."""
    async def call_ended(self, call_id: str, campaign: str) -> None:
        """The call ended: it no longer counts among its campaign's calls in progress. Never raises for a
        store failure (the end waits in the spool)."""
        ...


async def screen_or_block(screener: ScreenerLike, request: ScreenRequest, timeout_s: float | None = None) -> Decision:
    """Ask the screener, with a deadline (``timeout_s``, else the service's own); a screener that raises or
    answers too late gives the fail-closed decision (block, ``screening_unavailable``). Never raises."""
    deadline = screener.decision_timeout_s if timeout_s is None else timeout_s
    try:
        async with asyncio.timeout(deadline):
            return await screener.screen(request)
    except TimeoutError:
        _summary.event(logging.ERROR, "blocked, no decision in time", "screening %s took longer than %.3f s",
                       mask(request.dialed), deadline)
        return Decision.unavailable(request, f"no decision within {deadline:g} s")
    except Exception as exc:
        log.exception("screening %s failed: blocked", mask(request.dialed))
        return Decision.unavailable(request, f"screener error: {type(exc).__name__}")
