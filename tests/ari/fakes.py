"""A fake Screener for the Stasis application's tests (the real one is used end to end)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime

from screener.config.settings import Settings
from screener.decision import Decision, Disclosure, Reason, ScreenRequest
from screener.reasons import ReasonCode, Verdict
from screener.service import DisclosureEvent, StoreUnavailable
from tests.factories import campaign, make_settings


def lab_settings() -> Settings:
    base = make_settings()
    return replace(base, campaigns={**base.campaigns, "lab": campaign("lab", caller_id="+12025550144")})


class FakeScreener:
    """Allows every number except those in ``blocked``; records every call it gets, in order."""

    def __init__(self, *, blocked: tuple[str, ...] = (), delay_s: float = 0.0, fail_opt_out: bool = False,
                 raise_on_screen: bool = False) -> None:
        self._settings = lab_settings()
        self.blocked = set(blocked)
        self.delay_s = delay_s
        self.fail_opt_out = fail_opt_out
        self.raise_on_screen = raise_on_screen
        self.requests: list[ScreenRequest] = []
        self.opt_outs: list[tuple[str, str, str, str | None]] = []
        self.disclosures: list[DisclosureEvent] = []
        #: the order of screener calls and of what the app asked Asterisk to do meanwhile (filled by tests)
        self.log: list[str] = []
        #: called when an opt-out is acknowledged (a test records what the app had done by then)
        self.on_ack: Callable[[], None] | None = None

    @property
    def settings(self) -> Settings:
        return self._settings

    async def screen(self, request: ScreenRequest) -> Decision:
        self.requests.append(request)
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        if self.raise_on_screen:
            raise RuntimeError("boom")
        if request.dialed == "911":  # as the real service decides an emergency number: allowed, counted nowhere
            return Decision(verdict=Verdict.ALLOW, reasons=(Reason(ReasonCode.EMERGENCY_NUMBER, "emergency"),),
                            number="911", campaign=request.campaign, decided_at=datetime.now(UTC),
                            config_version="test", dry_run=False)
        number = "+1" + request.dialed[-10:]
        blocked = number in self.blocked
        campaign = self._settings.campaigns[request.campaign]
        return Decision(
            verdict=Verdict.BLOCK if blocked else Verdict.ALLOW,
            reasons=(Reason(ReasonCode.DNC_INTERNAL, "internal"),) if blocked else (),
            number=number, campaign=request.campaign, decided_at=datetime.now(UTC), config_version="test",
            dry_run=False, caller_id=None if blocked else campaign.caller_id,
            disclosure=None if blocked else Disclosure(campaign.company, campaign.purpose, campaign.callback_number,
                                                       campaign.opt_out_digit, {"en": "custom/screener/lab-en"}),
            attempt_id=None if blocked else "attempt-1",
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
        self.disclosures.append(event)
