"""The one fake Screener of the front ends' unit tests (FastAGI, ARI); the real one is used end to end.

It builds its decisions with the real ``Sounds`` and campaign data, as the service does, so a front end
that looked the campaign up itself, or built a prompt name of its own, would disagree with it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime

from screener.config.settings import Settings
from screener.decision import AnsweredCall, Decision, Disclosure, DisclosureEvent, Reason, ScreenRequest
from screener.reasons import ReasonCode, Verdict
from screener.service.screening import StoreUnavailable
from screener.sounds import DEFAULT_SOUNDS, Sounds
from tests.factories import lab_settings


class FakeScreener:
    """Answers ``verdict``/``reasons`` (numbers in ``blocked`` get ``dnc_internal``; 911 is an emergency
    number), after ``delay_s``; ``fail_screen`` raises, ``fail_opt_out`` refuses opt-outs. Records every call
    it gets, in order, in ``log`` (which tests share with the fake Asterisk to check the order)."""

    def __init__(self, *, verdict: Verdict = Verdict.ALLOW, reasons: tuple[ReasonCode, ...] = (),
                 blocked: tuple[str, ...] = (), delay_s: float = 0.0, fail_screen: bool = False,
                 fail_opt_out: bool = False, settings: Settings | None = None) -> None:
        self.settings = settings or lab_settings()
        self.verdict = verdict
        self.reasons = reasons
        self.blocked = set(blocked)
        self.delay_s = delay_s
        self.fail_screen = fail_screen
        self.fail_opt_out = fail_opt_out
        self.requests: list[ScreenRequest] = []
        self.opt_outs: list[tuple[str, str, str, str | None]] = []
        self.disclosures: list[DisclosureEvent] = []
        self.answered_calls: list[AnsweredCall] = []
        #: (call id, campaign) of every call end reported
        self.ended: list[tuple[str, str]] = []
        self.log: list[str] = []
        #: called when an opt-out is acknowledged (a test records what the front end had done by then)
        self.on_ack: Callable[[], None] | None = None

    @property
    def sounds(self) -> Sounds:
        return DEFAULT_SOUNDS

    @property
    def decision_timeout_s(self) -> float:
        return max(0.5, 2 * self.settings.time_budget_ms / 1000)

    def disclosure(self, campaign: str) -> Disclosure | None:
        found = self.settings.campaigns.get(campaign)
        return None if found is None else DEFAULT_SOUNDS.disclosure_of(found)

    async def screen(self, request: ScreenRequest) -> Decision:
        self.requests.append(request)
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        if self.fail_screen:
            raise RuntimeError("boom")
        now = datetime.now(UTC)
        if request.dialed == "911":  # as the real service decides an emergency number: allowed, counted nowhere
            return Decision(verdict=Verdict.ALLOW, reasons=(Reason(ReasonCode.EMERGENCY_NUMBER, "emergency"),),
                            number="911", campaign=request.campaign, decided_at=now, config_version="test",
                            dry_run=False)
        number = "+1" + request.dialed[-10:] if len(request.dialed) >= 10 else request.dialed
        verdict, reasons = self.verdict, tuple(Reason(c) for c in self.reasons)
        if number in self.blocked:
            verdict, reasons = Verdict.BLOCK, (Reason(ReasonCode.DNC_INTERNAL, "internal"),)
        if request.problem:  # as the real service: a request it cannot trust is blocked
            verdict, reasons = Verdict.BLOCK, (Reason(ReasonCode.INVALID_REQUEST, request.problem),)
        campaign = self.settings.campaigns.get(request.campaign)
        on_allow = campaign if verdict is Verdict.ALLOW else None
        return Decision(
            verdict=verdict, reasons=reasons, number=number, campaign=request.campaign, decided_at=now,
            config_version="test", dry_run=False,
            caller_id=on_allow.caller_id if on_allow else None,
            caller_id_name=on_allow.company if on_allow else None,
            disclosure=DEFAULT_SOUNDS.disclosure_of(on_allow) if on_allow else None,
            attempt_id="attempt-1" if on_allow else None,
        )

    async def opt_out(self, number: str, campaign: str, *, source: str, call_id: str | None = None) -> None:
        self.log.append("opt_out")
        if self.fail_opt_out:
            raise StoreUnavailable("redis down")
        await asyncio.sleep(0.01)
        if self.on_ack is not None:
            self.on_ack()
        self.opt_outs.append((number, campaign, source, call_id))
        self.log.append("opt_out acknowledged")

    async def record_disclosure(self, event: DisclosureEvent) -> None:
        self.log.append("record_disclosure")
        self.disclosures.append(event)

    async def record_answered_call(self, call: AnsweredCall) -> None:
        self.log.append("record_answered_call")
        self.answered_calls.append(call)
    async def call_ended(self, call_id: str, campaign: str) -> None:
        self.log.append("call_ended")
        self.ended.append((call_id, campaign))
