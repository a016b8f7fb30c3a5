"""The screening service: every front end (CLI, FastAGI, ARI, admin API) calls ``Screener``.

``screen`` runs the decision in the order of PRODUCT.md: campaign, number (normalize, emergency), the
pure rules (hours, quiet periods, holidays, stale lists), then one Redis round trip (decide.lua) for DNC,
consent, frequency and rate that also reserves the attempt and writes the audit entry. Any store error
or a blown time budget blocks the call with ``screening_unavailable``: fail closed.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

import phonenumbers
import redis.asyncio as aioredis
from phonenumbers import shortnumberinfo
from redis.exceptions import RedisError

from screener.config.settings import Campaign, ListKind, Settings
from screener.config.watch import ConfigHolder
from screener.decision import Decision, Disclosure, Reason, ScreenRequest, sort_reasons
from screener.engine.facts import ListState
from screener.numbers import InvalidNumber, NumberInfo, mask, normalize
from screener.reasons import ReasonCode, Verdict
from screener.service.observe import Observers, OptOut
from screener.store import audit, dnc, keys
from screener.store.decisions import encode_reasons, run_decision
from screener.store.scripts import Scripts

log = logging.getLogger("screener.service")

#: seconds a cached list version is trusted (an import keeps the old version readable for longer)
LIST_STATE_TTL_S = 1.0
#: an opt-out may take longer than a decision's budget: it must be acknowledged, not rushed
OPT_OUT_TIMEOUT_S = 5.0
STORE_ERRORS = (RedisError, OSError, TimeoutError, ConnectionError)


class StoreUnavailable(RuntimeError):
    """Redis could not acknowledge a write in time."""


@dataclass(frozen=True)
class DisclosureEvent:
    """What happened on the callee's channel after answer (recorded in the audit trail as evidence)."""

    number: str
    campaign: str
    call_id: str | None
    #: milliseconds from answer to the start of the disclosure prompt
    answer_to_prompt_ms: int | None
    #: True when the prompt played to its end
    prompt_finished: bool
    #: True when the callee pressed the opt-out digit
    opted_out: bool
    language: str = ""
    source: str = "fastagi"


class ScreenerLike(Protocol):
    """What a front end (FastAGI, classic AGI, ARI) needs of the service; ``Screener`` is the real one,
    the front ends' unit tests use small fakes."""

    @property
    def settings(self) -> Settings: ...

    async def screen(self, request: ScreenRequest) -> Decision: ...

    async def opt_out(self, number: str, campaign: str, *, source: str, call_id: str | None = None) -> None: ...

    @staticmethod
    def _refusal_retention_s(settings: Settings) -> int:
        """A refusal is kept as long as the longest cool-down any policy gives it (31 days at least)."""
        return max([keys.ATTEMPT_RETENTION_S, *(p.refusal_cooldown_s for p in settings.policies.values())])

    async def record_disclosure(self, event: DisclosureEvent) -> None: ...


def connect(url: str, budget_s: float) -> aioredis.Redis:
    """A Redis client whose every socket operation is bounded (the decision's own deadline bounds it too)."""
    timeout = max(budget_s, 0.05)
    return aioredis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout,
                                   health_check_interval=0, max_connections=1024)


class Screener:
    """Decides calls against the current settings and one Redis."""

    def __init__(self, holder: ConfigHolder, redis: aioredis.Redis, *,
                 clock: Callable[[], datetime] | None = None) -> None:
        self.holder = holder
        self.redis = redis
        self.scripts = Scripts(redis)
        self._clock = clock or (lambda: datetime.now(UTC))
        self._list_states: dict[str, ListState] = {}
        self._list_states_at = -1e9
        self._background: set[asyncio.Task[None]] = set()
        #: told of every Decision, DisclosureEvent and OptOut (metrics, statistics)
        self.observers = Observers()

    @classmethod
    async def create(cls, holder: ConfigHolder, url: str) -> Screener:
        return cls(holder, connect(url, holder.current.time_budget_ms / 1000))

    @property
    def settings(self) -> Settings:
        return self.holder.current

    # -- deciding -------------------------------------------------------------------------------------

    async def screen(self, request: ScreenRequest) -> Decision:
        """Decide one call. Never raises for a store failure: blocks with screening_unavailable instead."""
        started = time.perf_counter()
        settings = self.settings
        now = request.at or self._clock()
        campaign = settings.campaigns.get(request.campaign)
        if campaign is None:
            if self._is_emergency_anywhere(request.dialed, settings):
                return await self._final(request, settings, now, started, request.dialed, (
                    Reason(ReasonCode.EMERGENCY_NUMBER, "emergency number: always allowed"),), Verdict.ALLOW)
            known = ", ".join(sorted(settings.campaigns)) or "none"
            reason = Reason(ReasonCode.UNKNOWN_CAMPAIGN, f"unknown campaign {request.campaign!r} (known: {known})")
            return await self._final(request, settings, now, started, request.dialed, (reason,), Verdict.BLOCK)
        try:
            number = normalize(request.dialed, campaign.region)
        except InvalidNumber as exc:
            return await self._final(request, settings, now, started, request.dialed,
                                     (Reason(ReasonCode.INVALID_NUMBER, exc.reason),), Verdict.BLOCK)
        if number.emergency:
            return await self._final(request, settings, now, started, number.e164, (
                Reason(ReasonCode.EMERGENCY_NUMBER, f"emergency number in {campaign.region}: always allowed"),),
                Verdict.ALLOW, campaign=campaign)
        try:
            async with asyncio.timeout(settings.time_budget_ms / 1000):
                return await self._screen_with_store(request, settings, campaign, number, now, started)
        except STORE_ERRORS as exc:
            detail = f"store did not answer within {settings.time_budget_ms} ms" if isinstance(
                exc, TimeoutError) else f"store error: {type(exc).__name__}: {exc}"
            log.warning("blocking %s (%s): %s", mask(number.e164), campaign.name, detail)
            return await self._final(request, settings, now, started, number.e164, (
                Reason(ReasonCode.SCREENING_UNAVAILABLE, detail),), Verdict.BLOCK, campaign=campaign,
                write_audit_in_background=True)

    async def _screen_with_store(self, request: ScreenRequest, settings: Settings, campaign: Campaign,
                                 number: NumberInfo, now: datetime, started: float) -> Decision:
        from screener.engine import build_plan, evaluate, precheck

        policy = settings.policies[campaign.policy]
        states = await self._states(settings)
        pre = precheck(number, campaign, policy, settings.lists, states, now)
        for warning in pre.warnings:
            log.warning("%s: %s", campaign.name, warning)
        plan = build_plan(number, campaign, policy, settings.lists)
        now_ms = int(now.timestamp() * 1000)
        attempt_id = uuid.uuid4().hex[:16]
        fields = self._audit_fields(request, settings, now, number.e164, campaign.name)
        fields["pre_reasons"] = encode_reasons(list(pre.reasons))
        outcome = await run_decision(
            self.scripts, plan, number.e164, {n: s.version for n, s in states.items()},
            now_ms=now_ms, server_time=request.at is None, commit=request.commit, pre_block=bool(pre.reasons),
            attempt_id=attempt_id, audit_fields=fields, audit_maxlen=settings.audit_maxlen,
        )
        store_reasons = evaluate(plan, outcome.facts, outcome.now_ms)
        if {r.code for r in store_reasons} != {r.code for r in outcome.reasons}:
            # the engine and the script disagree: report both, and never let the call through on it
            log.error("engine/script disagreement for %s: engine %s, script %s", mask(number.e164),
                      [r.code.value for r in store_reasons], [r.code.value for r in outcome.reasons])
            store_reasons = list(outcome.reasons) + store_reasons
        reasons = sort_reasons(list(pre.reasons) + list(store_reasons))
        verdict = Verdict.BLOCK if reasons else Verdict.ALLOW
        if verdict is Verdict.ALLOW and request.commit and not outcome.reserved:
            reasons = (Reason(ReasonCode.SCREENING_UNAVAILABLE, "the attempt could not be reserved"),)
            verdict = Verdict.BLOCK
        return self._decision(request, settings, now, started, number.e164, reasons, verdict, campaign,
                              attempt_id=attempt_id if outcome.reserved else None, audit_id=outcome.audit_id)

    async def _states(self, settings: Settings) -> dict[str, ListState]:
        # refreshed every second, and at once when the config names a list not read yet (a reload)
        if time.monotonic() - self._list_states_at > LIST_STATE_TTL_S or not settings.lists.keys() <= set(
                self._list_states):
            self._list_states = await dnc.read_list_states(self.redis, settings.lists.keys())
            self._list_states_at = time.monotonic()
        return self._list_states

    def warm_up(self) -> None:
        """Load what the first decisions would load (number metadata, time zones, holidays), then freeze
        the heap: Python's full collections no longer walk those long-lived objects, which otherwise stall
        the event loop for tens of milliseconds now and then (measured with bench/decision_bench.py)."""
        from screener.engine import build_plan, precheck

        settings = self.settings
        now = self._clock()
        for campaign in settings.campaigns.values():
            example = phonenumbers.example_number(campaign.region)
            if example is None:
                continue
            e164 = phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.E164)
            number = normalize(e164, campaign.region)
            policy = settings.policies[campaign.policy]
            precheck(number, campaign, policy, settings.lists, {}, now)
            build_plan(number, campaign, policy, settings.lists)
        gc.collect()
        gc.freeze()

    def invalidate_list_states(self) -> None:
        self._list_states_at = -1e9

    @staticmethod
    def _is_emergency_anywhere(dialed: str, settings: Settings) -> bool:
        """With no campaign to say the region: an emergency number of some configured region that is not
        also an ordinary number in any of them (2611 is an emergency number in India and a subscriber in
        Luxembourg: that one is not let through unscreened)."""
        text = dialed.strip()
        digits = "".join(ch for ch in text if ch.isdigit())
        if not digits or text.startswith("+"):
            return False
        regions = {c.region for c in settings.campaigns.values()} or {"US"}
        if not any(shortnumberinfo.is_emergency_number(digits, r) for r in regions):
            return False
        for region in regions:
            try:
                if phonenumbers.is_valid_number(phonenumbers.parse(digits, region)):
                    return False
            except phonenumbers.NumberParseException:
                continue
        return True

    def _audit_fields(self, request: ScreenRequest, settings: Settings, now: datetime, number: str,
                      campaign: str) -> dict[str, str]:
        return {
            "kind": audit.DECISION,
            "at": now.isoformat(timespec="milliseconds"),
            "number": mask(number),
            "number_hash": audit.number_hash(number, settings.audit_salt.value),
            "campaign": campaign,
            "config_version": settings.version,
            "mode": "live" if request.commit else "dry_run",
            "source": request.source,
            "call_id": request.call_id or "",
            "agent": request.agent or "",
        }

    async def _final(self, request: ScreenRequest, settings: Settings, now: datetime, started: float,
                     number: str, reasons: tuple[Reason, ...], verdict: Verdict, *,
                     campaign: Campaign | None = None, write_audit_in_background: bool = False) -> Decision:
        """A decision made without the store's facts: write its audit entry on its own."""
        fields = self._audit_fields(request, settings, now, number, request.campaign)
        fields.update(verdict=verdict.value, pre_reasons=encode_reasons(list(reasons)), store_reasons="",
                      reserved="0", attempt_id="")
        audit_id = None
        if write_audit_in_background:
            self._spawn(self._append_audit_quietly(fields, settings.audit_maxlen))
        else:
            try:
                async with asyncio.timeout(settings.time_budget_ms / 1000):
                    audit_id = await audit.append(self.scripts.connections, fields, settings.audit_maxlen)
            except STORE_ERRORS as exc:
                log.error("audit entry not written (%s): %s", type(exc).__name__, fields)
        return self._decision(request, settings, now, started, number, reasons, verdict, campaign,
                              audit_id=audit_id)

    def _decision(self, request: ScreenRequest, settings: Settings, now: datetime, started: float, number: str,
                  reasons: tuple[Reason, ...], verdict: Verdict, campaign: Campaign | None, *,
                  attempt_id: str | None = None, audit_id: str | None = None) -> Decision:
        allowed = verdict is Verdict.ALLOW
        decision = Decision(
            verdict=verdict, reasons=reasons, number=number, campaign=request.campaign, decided_at=now,
            config_version=settings.version, dry_run=not request.commit,
            caller_id=campaign.caller_id if (campaign and allowed) else None,
            disclosure=self._disclosure(campaign) if (campaign and allowed) else None,
            attempt_id=attempt_id, audit_id=audit_id,
            elapsed_us=int((time.perf_counter() - started) * 1e6),
        )
        self.observers.notify(decision)
        return decision

    @staticmethod
    def _disclosure(campaign: Campaign) -> Disclosure:
        prompts = {d.language: d.recording or f"custom/screener/{campaign.name}-{d.language}"
                   for d in campaign.disclosures}
        return Disclosure(company=campaign.company, purpose=campaign.purpose,
                          callback_number=campaign.callback_number, opt_out_digit=campaign.opt_out_digit,
                          prompts=prompts)

    # -- opt-out and evidence -------------------------------------------------------------------------

    def internal_list(self) -> str:
        """The list opt-outs go to (the loader makes sure a config with campaigns has one)."""
        for name, lst in self.settings.lists.items():
            if lst.kind is ListKind.INTERNAL:
                return name
        raise StoreUnavailable('the config has no list of kind "internal": an opt-out cannot be recorded')

    async def opt_out(self, number: str, campaign: str, *, source: str, call_id: str | None = None) -> None:
        """Put an E.164 number on the internal DNC list and record the refusal; returns once Redis acknowledged."""
        settings = self.settings
        now = self._clock()
        now_ms = int(now.timestamp() * 1000)
        try:
            async with asyncio.timeout(OPT_OUT_TIMEOUT_S):
                await dnc.add_numbers(self.redis, self.internal_list(), [number], source=f"opt-out: {source}")
                fields: dict[Any, Any] = {
                    "kind": audit.OPT_OUT, "at": now.isoformat(timespec="milliseconds"), "number": mask(number),
                    "number_hash": audit.number_hash(number, settings.audit_salt.value), "campaign": campaign,
                    "config_version": settings.version, "source": source, "call_id": call_id or "",
                    "list": self.internal_list(),
                }
                async with self.redis.pipeline(transaction=False) as pipe:
                    pipe.set(keys.refusal_key(number), now_ms, px=self._refusal_retention_s(settings) * 1000)
                    pipe.xadd(keys.AUDIT_STREAM, fields, maxlen=settings.audit_maxlen, approximate=True)
                    await pipe.execute()
        except STORE_ERRORS as exc:
            raise StoreUnavailable(f"opt-out of {mask(number)} not acknowledged: {type(exc).__name__}: {exc}") from exc
        self.invalidate_list_states()
        self.observers.notify(OptOut(number, campaign, source))

    @staticmethod
    def _refusal_retention_s(settings: Settings) -> int:
        """A refusal is kept as long as the longest cool-down any policy gives it (31 days at least)."""
        return max([keys.ATTEMPT_RETENTION_S, *(p.refusal_cooldown_s for p in settings.policies.values())])

    async def record_disclosure(self, event: DisclosureEvent) -> None:
        """Append the disclosure evidence to the audit trail (best effort within the time budget)."""
        settings = self.settings
        fields = {
            "kind": audit.DISCLOSURE, "at": self._clock().isoformat(timespec="milliseconds"),
            "number": mask(event.number), "number_hash": audit.number_hash(event.number, settings.audit_salt.value),
            "campaign": event.campaign, "config_version": settings.version, "source": event.source,
            "call_id": event.call_id or "", "language": event.language,
            "answer_to_prompt_ms": "" if event.answer_to_prompt_ms is None else str(event.answer_to_prompt_ms),
            "prompt_finished": "1" if event.prompt_finished else "0", "opted_out": "1" if event.opted_out else "0",
        }
        self.observers.notify(event)
        await self._append_audit_quietly(fields, settings.audit_maxlen)

    async def _append_audit_quietly(self, fields: dict[str, str], maxlen: int) -> None:
        try:
            async with asyncio.timeout(1.0):
                await audit.append(self.scripts.connections, fields, maxlen)
        except STORE_ERRORS as exc:
            log.error("audit entry not written (%s): %s", type(exc).__name__, fields)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def aclose(self) -> None:
        if self._background:
            await asyncio.wait(self._background, timeout=2)
        await self.scripts.aclose()
        await self.redis.aclose()


__all__ = ["DisclosureEvent", "Screener", "ScreenerLike", "StoreUnavailable"]
