"""Screening calls: every front end (FastAGI, classic AGI, ARI, the CLI, the admin API) calls ``Screener``.

``screen`` runs the decision in the order of PRODUCT.md: campaign, number (normalize, emergency), the
pure rules (hours, quiet periods, holidays, stale lists), then one Redis round trip (decide.lua) for DNC,
consent, frequency and rate that also reserves the attempt and writes the audit entry. Any store error
or a blown time budget blocks the call with ``screening_unavailable``: fail closed. The decision carries
what the call needs (caller ID and name, the disclosure prompt and its language), so no front end looks
the campaign up again.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import logging
import os
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from screener.config.settings import DEFAULT_ABANDONMENT, AbandonmentRule, Campaign, ListKind, Policy, Settings
from screener.config.watch import ConfigHolder
from screener.decision import AnsweredCall, Decision, Disclosure, DisclosureEvent, Reason, ScreenRequest, sort_reasons
from screener.engine import build_plan, evaluate, precheck
from screener.engine.abandonment import AbandonmentCounts, classify, hour_of, rate_reason, window_counts
from screener.engine.facts import ListState
from screener.engine.plan import StorePlan
from screener.numbers import (
    InvalidNumber,
    NumberInfo,
    could_be_emergency,
    emergency_with_no_campaign,
    example_number,
    mask,
    normalize,
)
from screener.reasons import ReasonCode, Verdict
from screener.service import spool as spool_kinds
from screener.service.admission import OVERLOADED, Admission, ScreenerCounters
from screener.service.audit_fields import CALL_OUTCOME, DECISION, DISCLOSURE, OPT_OUT, audit_fields, with_personal
from screener.service.budgets import DECISION_BUDGETS, LIST_STATE_TTL_S, oldest_list_version_s
from screener.service.connection import AnyClient, open_client
from screener.service.durability import acknowledged
from screener.service.log_summary import LogSummary
from screener.service.observe import Observers, OptOut
from screener.service.pending import PendingWrites
from screener.service.spool import PendingWrite, Spool
from screener.service.store_errors import STORE_ERRORS
from screener.sounds import DEFAULT_SOUNDS, Sounds
from screener.store import abandonment, audit, campaign_limits, dnc, keys, refusals
from screener.store.campaign_limits import CampaignAllowance, Grant
from screener.store.connections import Connections
from screener.store.decide import StoreOutcome, encode_reasons, plan_in_slot, prepare, run_decision
from screener.store.scripts import Scripts

log = logging.getLogger("screener.service")

#: a campaign with no answered call in its window
NO_CALLS = AbandonmentCounts()
#: an opt-out may take longer than a decision's budget: it must be acknowledged, not rushed
OPT_OUT_TIMEOUT_S = 5.0
#: an audit entry written outside a decision's budget (disclosure evidence, a fail-closed block's entry)
AUDIT_TIMEOUT_S = 1.0
#: the detail of decide.lua's reason when the number's audit stream is at audit_maxlen
AUDIT_FULL = "audit trail full"
#: building the audit entries of refused calls (when the spool is flushed after an overload) is followed by
#: a pause this many times as long, so that the flush takes a quarter of the event loop, the decisions the rest
FLUSH_PACE = 3.0


def _retrieved(future: asyncio.Future[Any]) -> None:
    """Mark a shared future's exception as seen (each waiter gets it; none may be left to see it)."""
    if not future.cancelled():
        future.exception()


#: the reason of a decision refused past max_in_flight
_OVERLOADED = (Reason(ReasonCode.SCREENING_UNAVAILABLE, OVERLOADED),)


class StoreUnavailable(RuntimeError):
    """Redis could not acknowledge a write in time."""


def connect(url: str, budget_s: float) -> AnyClient:
    """A client for any supported Redis URL (one server, Sentinel, Cluster: ``store.topology``) whose every
    socket operation is bounded (the decision's own deadline bounds it too). A bad URL raises
    ``RedisUrlError`` naming it (passwords hidden)."""
    return open_client(url, timeout_s=max(budget_s, 0.05), max_connections=1024)


def _e164_or_raw(dialed: str, campaign: Campaign | None) -> str:
    try:
        return normalize(dialed, campaign.region if campaign else "ZZ").e164
    except InvalidNumber:
        return dialed


class Screener:
    """Decides calls against the current settings and one Redis."""

    def __init__(self, holder: ConfigHolder, redis: AnyClient, *,
                 clock: Callable[[], datetime] | None = None, sounds: Sounds = DEFAULT_SOUNDS,
                 spool: Spool | None = None) -> None:
        self.holder = holder
        self._sounds = sounds
        #: the bound on decisions in flight, and what it admitted and refused
        self.admission = Admission()
        #: decisions admitted, then blocked because the store did not answer or failed
        self.store_unavailable = 0
        #: what would repeat once per call under a storm is logged once per interval with a count
        self.log_summary = LogSummary(log)
        #: opt-outs and audit entries Redis could not take yet (see ``flush_pending``)
        self.pending = PendingWrites(spool if spool is not None else Spool(), self._write_pending,
                                     overloaded=self.admission.refusing, summary=self.log_summary,
                                     on_flushed=self.invalidate_list_states)
        self.redis = redis
        self.scripts = Scripts(redis)
        #: the audit groups this process has registered (a group is registered before its first append)
        self.audit_groups = audit.AuditGroups()
        #: the config versions this process has stored (``service/config_versions.py``)
        self._versions_recorded: set[str] = set()
        self._version_tried_at = -1e9
        #: on a Redis Cluster, this process's allowance of the campaigns' limits (docs/redis-topologies.md)
        self.allowance = CampaignAllowance(self.scripts.connections, on_unbound=self._unbound)
        self._clock = clock or (lambda: datetime.now(UTC))
        self._list_states: dict[str, ListState] = {}
        self._list_states_at = -1e9
        self._list_states_read: asyncio.Future[dict[str, ListState]] | None = None
        self._plans: dict[tuple[str, str | None], StorePlan] = {}
        self._disclosures: dict[str, Disclosure] = {}
        self._list_versions: dict[str, str] = {}
        self._versions_of: dict[str, ListState] | None = None
        self._plans_for: Settings | None = None
        #: answered/abandoned calls of the campaigns whose policy limits abandonment, refreshed like list states
        self._abandonment: dict[str, AbandonmentCounts] = {}
        self._abandonment_at = -1e9
        self._abandonment_for: Settings | None = None
        self._abandonment_limited: dict[str, AbandonmentRule] = {}
        self._abandonment_warned: dict[str, float] = {}
        #: told of every Decision, DisclosureEvent and OptOut (metrics, statistics)
        self.observers = Observers()

    @classmethod
    async def create(cls, holder: ConfigHolder, url: str, *, sounds: Sounds = DEFAULT_SOUNDS,
                     spool: Spool | None = None) -> Screener:
        return cls(holder, connect(url, holder.current.time_budget_ms / 1000), sounds=sounds, spool=spool)

    @property
    def settings(self) -> Settings:
        return self.holder.current

    @property
    def sounds(self) -> Sounds:
        return self._sounds

    @property
    def decision_timeout_s(self) -> float:
        """How long a front end waits for a decision: twice the store's time budget, at least 0.5 s (the
        service answers within its budget; the margin covers a busy event loop)."""
        return max(0.5, 2 * self.settings.time_budget_ms / 1000)

    @property
    def spool(self) -> Spool:
        return self.pending.spool

    @property
    def _flushing(self) -> asyncio.Task[int] | None:
        """The flush a decision started (tests wait for it)."""
        return self.pending.flushing

    @property
    def counters(self) -> ScreenerCounters:
        """What this process did since it started (for a metrics endpoint)."""
        return ScreenerCounters(
            in_flight=self.admission.in_flight, max_in_flight=self.settings.max_in_flight,
            admitted=self.admission.admitted, refused_overloaded=self.admission.refused,
            store_unavailable=self.store_unavailable, spooled=self.spool.added, spool_waiting=len(self.spool),
            spool_overflowed=self.spool.overflowed)

    def disclosure(self, campaign: str) -> Disclosure | None:
        found = self.settings.campaigns.get(campaign)
        return None if found is None else self._sounds.disclosure_of(found)

    # -- deciding -------------------------------------------------------------------------------------

    async def screen(self, request: ScreenRequest) -> Decision:
        """Decide one call. Never raises for a store failure: blocks with screening_unavailable instead.

        Past ``max_in_flight`` decisions in flight the call waits for a slot (``overload_wait_ms`` at most,
        behind at most ``max_in_flight`` others), then is refused (screening_unavailable, "overloaded"):
        nothing is sent to Redis and the call is noted in the spool (its audit entry is built when the overload
        is over); a number that may be an emergency number is still decided in full (an
        emergency number is always allowed), as are calls of an unknown campaign, without the store."""
        started = time.perf_counter()
        settings = self.settings
        admission = self.admission
        if not admission.enter(settings.max_in_flight) and not await admission.wait(
                settings.max_in_flight, settings.overload_wait_ms / 1000):
            self.log_summary.event(logging.WARNING, "overloaded, decisions refused",
                                   "%d decisions in flight (screener.max_in_flight), %d waiting for a slot: "
                                   "refusing more", admission.in_flight, admission.waiting)
            return await self._refuse(request, settings, started)
        try:
            if settings.version not in self._versions_recorded:
                await self.record_config_version(settings)
            return await self._decide(request, settings, started, admitted=True)
        finally:
            self.admission.leave()

    async def _refuse(self, request: ScreenRequest, settings: Settings, started: float) -> Decision:
        campaign = settings.campaigns.get(request.campaign)
        if campaign is None or could_be_emergency(request.dialed, campaign.region):
            return await self._decide(request, settings, started, admitted=False)
        now = request.at or self._clock()
        self._keep(spool_kinds.REFUSED, {
            "dialed": request.dialed, "campaign": request.campaign, "at": now.isoformat(),
            "commit": "1" if request.commit else "0", "source": request.source, "call_id": request.call_id or "",
            "agent": request.agent or "", "trunk": request.trunk or "", "caller_id": request.caller_id or "",
            "config_version": settings.version})
        return self._decision(request, settings, now, started, request.dialed, _OVERLOADED, Verdict.BLOCK, None)

    async def _decide(self, request: ScreenRequest, settings: Settings, started: float, *,
                      admitted: bool) -> Decision:
        now = request.at or self._clock()
        spool_audit = not admitted
        campaign = settings.campaigns.get(request.campaign)
        if request.problem:  # recorded under the number as the campaign reads it, so `audit why` finds it
            return await self._final(request, settings, now, started, _e164_or_raw(request.dialed, campaign),
                                     (Reason(ReasonCode.INVALID_REQUEST, request.problem),), Verdict.BLOCK)
        if campaign is None:
            if emergency_with_no_campaign(request.dialed, {c.region for c in settings.campaigns.values()} or {"US"}):
                return await self._final(request, settings, now, started, request.dialed, (
                    Reason(ReasonCode.EMERGENCY_NUMBER, "emergency number: always allowed"),), Verdict.ALLOW,
                    spool_audit=spool_audit)
            known = ", ".join(sorted(settings.campaigns)) or "none"
            reason = Reason(ReasonCode.UNKNOWN_CAMPAIGN, f"unknown campaign {request.campaign!r} (known: {known})")
            return await self._final(request, settings, now, started, request.dialed, (reason,), Verdict.BLOCK,
                                     spool_audit=spool_audit)
        try:
            number = normalize(request.dialed, campaign.region)
        except InvalidNumber as exc:
            return await self._final(request, settings, now, started, request.dialed,
                                     (Reason(ReasonCode.INVALID_NUMBER, exc.reason),), Verdict.BLOCK,
                                     spool_audit=spool_audit)
        if number.emergency:
            return await self._final(request, settings, now, started, number.e164, (
                Reason(ReasonCode.EMERGENCY_NUMBER, f"emergency number in {campaign.region}: always allowed"),),
                Verdict.ALLOW, campaign=campaign, spool_audit=spool_audit)
        if not admitted:
            return await self._final(request, settings, now, started, number.e164, _OVERLOADED, Verdict.BLOCK,
                                     campaign=campaign, spool_audit=True)
        try:
            return await self._screen_with_store(request, settings, campaign, number, now, started)
        except STORE_ERRORS as exc:
            detail = f"store did not answer within {settings.time_budget_ms} ms" if isinstance(
                exc, TimeoutError) else f"store error: {type(exc).__name__}: {exc}"
            self.store_unavailable += 1
            self.log_summary.event(logging.WARNING, "blocked, the store did not answer", "%s (%s): %s",
                                   mask(number.e164), campaign.name, detail)
            return await self._final(request, settings, now, started, number.e164, (
                Reason(ReasonCode.SCREENING_UNAVAILABLE, detail),), Verdict.BLOCK, campaign=campaign,
                spool_audit=True)

    async def _screen_with_store(self, request: ScreenRequest, settings: Settings, campaign: Campaign,
                                 number: NumberInfo, now: datetime, started: float) -> Decision:
        # the time budget is the store's: the pure rules' CPU time (a country's holidays computed the first
        # time, say) does not eat into it, but the whole stays within 1.5 budgets plus that CPU time
        budget_s = settings.time_budget_ms / 1000
        loop = asyncio.get_running_loop()
        deadline = loop.time() + budget_s
        policy = settings.policies[campaign.policy]
        states = self._fresh_states(settings)
        abandoned = self._fresh_abandonment(settings)
        if states is None or abandoned is None:
            async with asyncio.timeout_at(deadline):
                if states is None:
                    states = await self._states(settings)
                if abandoned is None:
                    abandoned = await self._abandonment_counts(settings)
        pre = precheck(number, campaign, policy, settings.lists, states, now)
        for warning in pre.warnings:
            self.log_summary.event(logging.WARNING, f"{campaign.name}: {warning}")
        full_plan = self._plan(settings, campaign, policy, number)
        plan = plan_in_slot(self.scripts, full_plan)
        now_ms = int(now.timestamp() * 1000)
        attempt_id = os.urandom(8).hex()
        call_id = request.call_id or attempt_id
        pre_reasons = list(pre.reasons)
        over = rate_reason(policy.abandonment, abandoned.get(campaign.name, NO_CALLS), campaign.name)
        if over is not None:
            if policy.abandonment.action == "block":
                pre_reasons.append(over)
            else:
                self._warn_abandonment(campaign.name, over.detail)
        if number.e164 in self.pending.opt_out_numbers:
            pre_reasons.append(Reason(ReasonCode.DNC_INTERNAL, "opt-out pending (Redis has not taken it yet)"))
        grant: Grant | None = None
        binds_wait = campaign.name in self.pending.call_bind_campaigns
        if plan is not full_plan and full_plan.max_concurrent_calls and binds_wait:
            # calls it allowed are not counted yet (their binds wait in the spool): until they land, a place
            # freed meanwhile might be one of theirs, so no call is allowed on a guess
            self.pending.flush_soon()
            pre_reasons.append(Reason(ReasonCode.SCREENING_UNAVAILABLE, "calls allowed earlier are not counted "
                                      "yet among the campaign's calls in progress (Redis has not taken them)"))
        if plan is not full_plan and request.commit and not pre_reasons:
            async with asyncio.timeout_at(deadline):
                grant, limit = await self.allowance.take(campaign.name, full_plan.calls_per_second,
                                                         full_plan.max_concurrent_calls, full_plan.call_lease_ms)
            if limit is not None:
                pre_reasons.append(Reason(ReasonCode.RATE_LIMIT, limit))
        versions = self._versions(states)
        fields = self._audit_fields(request, settings, now, number.e164, campaign.name, plain={
            "attempt_id": attempt_id, "lists": _checked_lists(plan, versions), "zones": _local_times(number, now),
            "pre_reasons": encode_reasons(pre_reasons)})
        reserved = False
        try:
            store_deadline = max(deadline, loop.time() + budget_s / 2)
            async with asyncio.timeout_at(store_deadline):
                await self.audit_groups.ensure(self.redis, keys.audit_group(number.e164))
                outcome = await run_decision(
                    self.scripts, plan, number.e164, versions,
                    now_ms=now_ms, server_time=request.at is None, commit=request.commit,
                    pre_block=bool(pre_reasons), attempt_id=attempt_id, audit_fields=fields,
                    audit_maxlen=settings.audit_maxlen, call_id=call_id, time_left_s=store_deadline - loop.time(),
                )
            decision = self._after_store(request, settings, campaign, number, now, started, plan, outcome,
                                         pre_reasons, attempt_id)
            reserved = decision.allowed and decision.attempt_id is not None
        finally:
            if grant is not None:
                self.allowance.settle(grant, reserved=reserved, call_id=call_id, lease_ms=full_plan.call_lease_ms)
        return decision

    def _after_store(self, request: ScreenRequest, settings: Settings, campaign: Campaign, number: NumberInfo,
                     now: datetime, started: float, plan: StorePlan, outcome: StoreOutcome,
                     pre_reasons: list[Reason], attempt_id: str) -> Decision:
        self.pending.flush_soon()
        if outcome.facts.dnc_gone:
            # a list version this screener read was freed (an import's grace period was shorter than the cache and
            # this decision): blocked by the script; read the live versions again for the next call
            log.warning("list version freed while deciding (%s): blocked; reading the lists again",
                        ", ".join(outcome.facts.dnc_gone))
            self.invalidate_list_states()
        store_reasons = evaluate(plan, outcome.facts, outcome.now_ms)
        if not outcome.audit_id:  # the stream is at audit_maxlen: the script blocked the call, appended nothing
            log.error("audit stream of %s is full (audit_maxlen %d): calls are blocked until `screener audit "
                      "archive` runs", keys.audit_group(number.e164), settings.audit_maxlen)
            full = [r for r in outcome.reasons if r.detail.startswith(AUDIT_FULL)]
            # no entry and no word why: blocked all the same (a call without its evidence is not allowed)
            store_reasons = (full or [Reason(ReasonCode.SCREENING_UNAVAILABLE, "no audit entry was written")]) + \
                store_reasons
        elif {r.code for r in store_reasons} != {r.code for r in outcome.reasons}:
            # the engine and the script disagree: report both, and never let the call through on it
            log.error("engine/script disagreement for %s: engine %s, script %s", mask(number.e164),
                      [r.code.value for r in store_reasons], [r.code.value for r in outcome.reasons])
            store_reasons = list(outcome.reasons) + store_reasons
        reasons = sort_reasons(pre_reasons + list(store_reasons))
        verdict = Verdict.BLOCK if reasons else Verdict.ALLOW
        if verdict is Verdict.ALLOW and request.commit and not outcome.reserved:
            reasons = (Reason(ReasonCode.SCREENING_UNAVAILABLE, "the attempt could not be reserved"),)
            verdict = Verdict.BLOCK
        return self._decision(request, settings, now, started, number.e164, reasons, verdict, campaign,
                              attempt_id=attempt_id if outcome.reserved else None, audit_id=outcome.audit_id or None)

    def _plan(self, settings: Settings, campaign: Campaign, policy: Policy, number: NumberInfo) -> StorePlan:
        """The campaign's store plan for the number's state or province (``build_plan`` reads nothing else of
        the number), built once per config version."""
        self._config_caches(settings)
        key = (campaign.name, number.subdivision)
        plan = self._plans.get(key)
        if plan is None:
            plan = self._plans[key] = build_plan(number, campaign, policy, settings.lists)
        return plan

    def _config_caches(self, settings: Settings) -> None:
        """Empty what is cached per config version (plans, disclosures) when the config changed."""
        if self._plans_for is not settings:
            self._plans, self._disclosures, self._plans_for = {}, {}, settings

    def _disclosure(self, settings: Settings, campaign: Campaign) -> Disclosure:
        """What an allowed call of ``campaign`` needs on answer, worked out once per config version."""
        self._config_caches(settings)
        found = self._disclosures.get(campaign.name)
        if found is None:
            found = self._disclosures[campaign.name] = self._sounds.disclosure_of(campaign)
        return found

    def _versions(self, states: dict[str, ListState]) -> dict[str, str]:
        """Each list's live version, worked out once per read of the list states."""
        if self._versions_of is not states:
            self._list_versions, self._versions_of = {n: s.version for n, s in states.items()}, states
        return self._list_versions

    def _fresh_states(self, settings: Settings) -> dict[str, ListState] | None:
        """The lists' versions and ages read less than a second ago for every list of the config, else None."""
        if time.monotonic() - self._list_states_at <= LIST_STATE_TTL_S and settings.lists.keys() <= \
                self._list_states.keys():
            return self._list_states
        return None

    async def _states(self, settings: Settings) -> dict[str, ListState]:
        """The lists' versions and ages: refreshed every second, and at once when the config names a list not
        read yet (a reload). One read at a time, shared by every decision that needs it (a decision cut at its
        deadline does not cancel it for the others)."""
        names = settings.lists.keys()
        fresh = self._fresh_states(settings)
        if fresh is not None:
            return fresh
        reading = self._list_states_read
        if reading is None or reading.done():
            reading = self._list_states_read = asyncio.ensure_future(self._read_states(list(names)))
            reading.add_done_callback(_retrieved)
        states = await asyncio.shield(reading)
        if not names <= states.keys():  # read for an older config: read again for this one
            return await self._read_states(list(names))
        return states

    async def _read_states(self, names: list[str]) -> dict[str, ListState]:
        connections = self.scripts.connections
        if isinstance(connections, Connections):  # one server: on the decisions' own connection
            states = await dnc.read_list_states_on(connections, names)
        else:  # a Redis Cluster: the lists' metadata are in slots of their own
            states = await dnc.read_list_states(self.redis, names)
        self._list_states, self._list_states_at = states, time.monotonic()
        return states

    async def open(self) -> None:
        """Connect to Redis and load the decision's script now, before the first call (``screener serve``
        does at start). Raises a store error when Redis does not answer: decisions then block until it does."""
        await prepare(self.scripts)

    def _fresh_abandonment(self, settings: Settings) -> dict[str, AbandonmentCounts] | None:
        """The abandonment counts read less than a second ago for this config (nothing to read when no campaign
        limits abandonment), else None."""
        if settings is self._abandonment_for and (
                not self._abandonment_limited or time.monotonic() - self._abandonment_at <= LIST_STATE_TTL_S):
            return self._abandonment
        return None

    async def _abandonment_counts(self, settings: Settings) -> dict[str, AbandonmentCounts]:
        """The rolling answered/abandoned counts of every campaign whose policy limits abandonment, read at
        most once a second (at once when a reload named a campaign not read yet)."""
        if settings is not self._abandonment_for:  # a reload: which campaigns have a limit, worked out once
            self._abandonment_for = settings
            self._abandonment_limited = {
                c.name: settings.policies[c.policy].abandonment for c in settings.campaigns.values()
                if settings.policies[c.policy].abandonment.max_rate_percent is not None}
            self._abandonment_at = -1e9
        limited = self._abandonment_limited
        if time.monotonic() - self._abandonment_at > LIST_STATE_TTL_S:
            buckets = await abandonment.read_buckets(self.redis, limited)
            now = self._clock()
            self._abandonment = {name: window_counts(buckets.get(name, {}), now, rule.window_s)
                                 for name, rule in limited.items()}
            self._abandonment_at = time.monotonic()
        return self._abandonment

    def _warn_abandonment(self, campaign: str, detail: str) -> None:
        """A campaign over its limit under action "warn": logged at most once a minute."""
        if time.monotonic() - self._abandonment_warned.get(campaign, -1e9) > 60:
            self._abandonment_warned[campaign] = time.monotonic()
            log.warning("%s: over its abandoned-call limit (action warn): %s", campaign, detail)

    def warm_up(self) -> None:
        """Load what the first decisions would load (number metadata, time zones, holidays), then freeze
        the heap: Python's full collections no longer walk those long-lived objects, which otherwise stall
        the event loop for tens of milliseconds now and then (measured with bench/decision_bench.py)."""
        settings = self.settings
        now = self._clock()
        for campaign in settings.campaigns.values():
            e164 = example_number(campaign.region)
            if e164 is None:
                continue
            number = normalize(e164, campaign.region)
            policy = settings.policies[campaign.policy]
            precheck(number, campaign, policy, settings.lists, {}, now)
            build_plan(number, campaign, policy, settings.lists)
        gc.collect()
        gc.freeze()

    def invalidate_list_states(self) -> None:
        self._list_states_at = -1e9

    def invalidate_abandonment(self) -> None:
        self._abandonment_at = -1e9

    @staticmethod
    def _audit_fields(request: ScreenRequest, settings: Settings, now: datetime, number: str,
                      campaign: str, plain: dict[str, str] | None = None) -> dict[str, str]:
        """A decision's fields: its inputs (plain: mode, trunk, caller ID; sealed: the number as dialed, the agent)
        and ``plain`` (what the rules checked)."""
        fields = audit_fields(DECISION, settings, at=now, number=number, campaign=campaign, source=request.source,
                              call_id=request.call_id, mode="live" if request.commit else "dry_run",
                              trunk=request.trunk or "", caller_id=request.caller_id or "", **(plain or {}))
        return with_personal(fields, dialed=mask(request.dialed), agent=request.agent or "")

    async def _final(self, request: ScreenRequest, settings: Settings, now: datetime, started: float,
                     number: str, reasons: tuple[Reason, ...], verdict: Verdict, *,
                     campaign: Campaign | None = None, spool_audit: bool = False) -> Decision:
        """A decision made without the store's facts: write its audit entry on its own (``spool_audit``: in
        the spool, for Redis later; it joins its group's chain when it lands)."""
        fields = self._final_fields(request, settings, now, number, reasons, verdict)
        audit_id = None
        group = keys.audit_group(number)
        if spool_audit:
            # no second round trip for a call the store could not answer (or that was refused as
            # overloaded): the entry waits in the spool
            self._keep(spool_kinds.AUDIT, {spool_kinds.GROUP: group, **fields})
        else:
            audit_id = await self.append_audit(fields, group=group, timeout_s=settings.time_budget_ms / 1000)
        return self._decision(request, settings, now, started, number, reasons, verdict, campaign,
                              audit_id=audit_id)

    def _final_fields(self, request: ScreenRequest, settings: Settings, now: datetime, number: str,
                      reasons: tuple[Reason, ...], verdict: Verdict) -> dict[str, str]:
        return self._audit_fields(request, settings, now, number, request.campaign, plain={
            "verdict": verdict.value, "pre_reasons": encode_reasons(list(reasons))})

    def _refused_entry(self, data: dict[str, str]) -> tuple[str, dict[str, str]]:
        """The audit group and entry of a call refused as overloaded, built from what ``_refuse`` noted."""
        settings = self.settings
        request = ScreenRequest(dialed=data["dialed"], campaign=data["campaign"], commit=data["commit"] == "1",
                                source=data["source"], call_id=data["call_id"] or None, agent=data["agent"] or None,
                                trunk=data.get("trunk") or None, caller_id=data.get("caller_id") or None)
        number = request.dialed
        campaign = settings.campaigns.get(request.campaign)
        if campaign is not None:
            with contextlib.suppress(InvalidNumber):
                number = normalize(number, campaign.region).e164
        fields = self._final_fields(request, settings, datetime.fromisoformat(data["at"]), number, _OVERLOADED,
                                    Verdict.BLOCK)
        fields["config_version"] = data["config_version"]  # the config that refused it (a plain field)
        return keys.audit_group(number), fields

    def _decision(self, request: ScreenRequest, settings: Settings, now: datetime, started: float, number: str,
                  reasons: tuple[Reason, ...], verdict: Verdict, campaign: Campaign | None, *,
                  attempt_id: str | None = None, audit_id: str | None = None) -> Decision:
        on_allow = campaign if verdict is Verdict.ALLOW else None
        decision = Decision(
            verdict=verdict, reasons=reasons, number=number, campaign=request.campaign, decided_at=now,
            config_version=settings.version, dry_run=not request.commit,
            caller_id=on_allow.caller_id if on_allow else None,
            caller_id_name=on_allow.company if on_allow else None,
            disclosure=self._disclosure(settings, on_allow) if on_allow else None,
            attempt_id=attempt_id, audit_id=audit_id,
            elapsed_us=int((time.perf_counter() - started) * 1e6),
        )
        self.observers.notify(decision)
        return decision

    # -- a call's end ---------------------------------------------------------------------------------

    async def call_ended(self, call_id: str, campaign: str) -> None:
        """The call ``call_id`` of ``campaign`` ended (the dialplan's ``h`` extension, the ARI channel's end): it
        no longer counts among the campaign's calls in progress. Any screener may be told. A campaign with no
        concurrent-call limit needs nothing; when Redis cannot take it now it waits in the spool (until then,
        or until its lease ends, the call still counts: fail closed)."""
        found = self.settings.campaigns.get(campaign)
        if found is None or not found.max_concurrent_calls or not call_id:
            return
        pending = {"campaign": campaign, "call_id": call_id}
        try:
            async with asyncio.timeout(AUDIT_TIMEOUT_S):
                await campaign_limits.call_ended(self.scripts.connections, campaign, call_id)
        except STORE_ERRORS as exc:
            log.warning("end of call %s (%s) not recorded yet (%s): kept in the spool", call_id, campaign,
                        type(exc).__name__)
            self._keep(spool_kinds.CALL_END, pending)

    def _unbound(self, pending: campaign_limits.PendingBind) -> None:
        """An allowed call's bind that did not land (Redis Cluster): kept in the spool and written again; until
        then the campaign's calls are blocked by this screener (``_screen_with_store``)."""
        self._keep(spool_kinds.CALL_BIND, pending.data())  # PendingWrites.keep notes its campaign

    # -- opt-out and evidence -------------------------------------------------------------------------

    def internal_list(self) -> str:
        """The list opt-outs go to (the loader makes sure a config with campaigns has one)."""
        for name, lst in self.settings.lists.items():
            if lst.kind is ListKind.INTERNAL:
                return name
        raise StoreUnavailable('the config has no list of kind "internal": an opt-out cannot be recorded')

    async def opt_out(self, number: str, campaign: str, *, source: str, call_id: str | None = None) -> None:
        """Put the number (E.164, or as dialed in the campaign's region) on the internal DNC list and record the
        refusal; returns once Redis acknowledged, raises ``StoreUnavailable`` otherwise."""
        settings = self.settings
        known = settings.campaigns.get(campaign)
        try:
            e164 = normalize(number, known.region if known else "ZZ").e164
        except InvalidNumber as exc:
            raise StoreUnavailable(f"opt-out of {mask(number)} not recorded: {exc.reason}") from exc
        now = self._clock()
        internal = self.internal_list()
        fields = audit_fields(OPT_OUT, settings, at=now, number=e164, campaign=campaign, source=source,
                              call_id=call_id, list=internal)
        pending = {"number": e164, "list": internal, "source": source, "at_ms": str(int(now.timestamp() * 1000)),
                   "retention_s": str(self._refusal_retention_s(settings)),
                   "fields": json.dumps(fields, separators=(",", ":"), ensure_ascii=False)}
        try:
            async with asyncio.timeout(OPT_OUT_TIMEOUT_S):
                await self._write_opt_out(pending)
        except asyncio.CancelledError:
            # the caller gave up waiting (its own deadline): the opt-out is kept all the same
            self._keep(spool_kinds.OPT_OUT, pending)
            raise
        except STORE_ERRORS as exc:
            kept = self._keep(spool_kinds.OPT_OUT, pending)
            raise StoreUnavailable(
                f"opt-out of {mask(e164)} not acknowledged: {type(exc).__name__}: {exc}; "
                + ("kept in the spool, written when Redis answers" if kept else "THE SPOOL IS FULL: it was lost")
            ) from exc
        self.invalidate_list_states()
        self.observers.notify(OptOut(e164, campaign, source))

    async def _write_opt_out(self, pending: dict[str, str]) -> None:
        """The internal list, then the refusal time with its audit entry; returns once acknowledged as the
        config's ``durability`` says (by a replica too with "replica"), raises otherwise."""
        # here: service.dnc imports this module (its grace periods come from the decision's budgets)
        from screener.service.dnc.admin import dnc_change_keys

        e164 = pending["number"]

        async def write() -> None:
            await dnc.add_numbers(self.redis, pending["list"], [e164], source=f"opt-out: {pending['source']}")
            await refusals.record(self.redis, e164, at_ms=int(pending["at_ms"]),
                                  retention_s=int(pending["retention_s"]), audit_fields=json.loads(pending["fields"]),
                                  groups=self.audit_groups)

        await acknowledged(self.redis, self.settings, write,
                           keys=[keys.refusal_key(e164), *dnc_change_keys(pending["list"], e164),
                                 keys.audit_stream_key(keys.audit_group(e164))])

    # -- writes that wait for Redis --------------------------------------------------------------------

    def _keep(self, kind: str, data: dict[str, str]) -> bool:
        return self.pending.keep(kind, data)

    async def flush_pending(self, *, now: bool = False) -> int:
        """Write what waits in the spool, in order, until Redis fails again (``PendingWrites.flush``)."""
        return await self.pending.flush(now=now)

    async def keep_flushing(self, stop: asyncio.Event, every_s: float = 1.0) -> None:
        """Until ``stop``: every ``every_s``, flush what waits (a serve process runs this beside its front ends)."""
        await self.pending.keep_flushing(stop, every_s, also=self.allowance.return_unused)

    async def _write_pending(self, items: list[PendingWrite]) -> None:
        """One batch of the spool, in order, within OPT_OUT_TIMEOUT_S (a store error leaves it in the spool)."""
        async with asyncio.timeout(OPT_OUT_TIMEOUT_S):
            await self._write_batch(items)

    async def _write_batch(self, items: list[PendingWrite]) -> None:
        """Spooled items in order: runs of audit entries (a refused call's built now) in one round trip each,
        each joining the chain of its group's stream as it lands (audit_append.lua); the others one by one."""
        entries: list[tuple[str, dict[str, str]]] = []
        built_s = 0.0
        for item in items:
            if item.kind == spool_kinds.AUDIT:
                data = dict(item.data)
                entries.append((data.pop(spool_kinds.GROUP, keys.AUDIT_GLOBAL_GROUP), data))
                continue
            if item.kind == spool_kinds.REFUSED:
                started = time.perf_counter()
                entries.append(self._refused_entry(item.data))
                built_s += time.perf_counter() - started
                continue
            if entries:
                await audit.append_many(self.redis, entries, self.audit_groups)
                entries = []
            if item.kind == spool_kinds.OPT_OUT:
                await self._write_opt_out(item.data)
            elif item.kind == spool_kinds.ANSWERED_CALL:
                await self._write_answered_call(item.data)
            elif item.kind == spool_kinds.CALL_END:
                await campaign_limits.call_ended(self.scripts.connections, item.data["campaign"],
                                                 item.data["call_id"])
            elif item.kind == spool_kinds.CALL_BIND:
                await campaign_limits.bind(self.scripts.connections, campaign_limits.PendingBind.parse(item.data))
        if entries:
            await audit.append_many(self.redis, entries, self.audit_groups)
        if built_s:  # after an overload: leave the event loop to the decisions (the flush takes a quarter of it)
            await asyncio.sleep(min(FLUSH_PACE * built_s, 0.1))

    @staticmethod
    def _refusal_retention_s(settings: Settings) -> int:
        """A refusal is kept as long as the longest cool-down any policy gives it (31 days at least)."""
        return max([keys.ATTEMPT_RETENTION_S, *(p.refusal_cooldown_s for p in settings.policies.values())])

    async def record_disclosure(self, event: DisclosureEvent) -> None:
        """Append the disclosure evidence to the audit trail (best effort within the time budget)."""
        settings = self.settings
        ms = event.answer_to_prompt_ms
        fields = audit_fields(
            DISCLOSURE, settings, at=self._clock(), number=event.number, campaign=event.campaign,
            source=event.source, call_id=event.call_id, language=event.language,
            answer_to_prompt_ms="" if ms is None else str(ms), prompt_finished="1" if event.prompt_finished else "0",
            opted_out="1" if event.opted_out else "0")
        self.observers.notify(event)
        await self.append_audit(fields, group=keys.audit_group(event.number))

    def abandonment_rule(self, campaign: str) -> AbandonmentRule:
        """The abandonment rule of a campaign's policy (TSR's 2 s, no limit, for an unknown campaign)."""
        settings = self.settings
        found = settings.campaigns.get(campaign)
        return settings.policies[found.policy].abandonment if found else DEFAULT_ABANDONMENT

    async def record_answered_call(self, call: AnsweredCall) -> None:
        """Count an answered call in its campaign's abandoned-call rate (abandoned or not, by its policy), lock
        the number out of the campaign after an abandoned call when the policy says so, and append the
        outcome to the audit trail. Redis not answering: the whole record waits in the spool."""
        settings = self.settings
        rule = self.abandonment_rule(call.campaign)
        result = classify(call, rule.connect_within_s)
        now = self._clock()
        known = settings.campaigns.get(call.campaign)
        try:
            e164 = normalize(call.number, known.region if known else "ZZ").e164
        except InvalidNumber:
            e164 = ""
        fields = audit_fields(
            CALL_OUTCOME, settings, at=now, number=e164 or call.number, campaign=call.campaign, source=call.source,
            call_id=call.call_id, outcome=result.outcome.value, abandoned="1" if result.abandoned else "0",
            disclosure=call.disclosure, answered_at=_iso(call.answered_at), handed_over_at=_iso(call.handed_over_at),
            connected_at=_iso(call.connected_at),
            connect_delay_ms="" if result.connect_delay_ms is None else str(result.connect_delay_ms),
            connect_within_s=str(rule.connect_within_s))
        longest = max(p.abandonment.lockout_s for p in settings.policies.values()) if settings.policies else 0
        pending = {
            # the record's own id (not the call id, which a front end may repeat): written again by the spool,
            # the record counts once
            "campaign": call.campaign, "record_id": uuid.uuid4().hex, "number": e164,
            "hour": str(hour_of(call.answered_at)),
            "current_hour": str(hour_of(now)), "abandoned": "1" if result.abandoned else "0",
            "keep_hours": str(max([rule.window_s, *(p.abandonment.window_s for p in settings.policies.values())])
                              // 3600 + 1),
            "lock_out": "1" if result.abandoned and rule.lockout_s > 0 and e164 else "0",
            "at_ms": str(int(now.timestamp() * 1000)), "keep_s": str(longest),
            "group": keys.audit_group(e164 or None),
            "fields": json.dumps(fields, separators=(",", ":"), ensure_ascii=False)}
        log.info("answered call %s (%s, call %s): %s%s", mask(e164 or call.number), call.campaign,
                 call.call_id or "-", result.outcome.value, " (abandoned)" if result.abandoned else "")
        try:
            async with asyncio.timeout(AUDIT_TIMEOUT_S):
                await self._write_answered_call(pending)
        except asyncio.CancelledError:
            self._keep(spool_kinds.ANSWERED_CALL, pending)  # the caller gave up waiting: kept all the same
            raise
        except STORE_ERRORS as exc:
            log.warning("answered call of %s not counted yet (%s): kept in the spool", call.campaign,
                        type(exc).__name__)
            self._keep(spool_kinds.ANSWERED_CALL, pending)
            return
        self.invalidate_abandonment()

    async def _write_answered_call(self, pending: dict[str, str]) -> None:
        """The campaign's hour bucket, the number's lock-out, the audit entry (each acknowledged), then the
        record marked done. Written again (a spool's batch replayed after a partial success), the call is
        counted once (its marker in the campaign's slot) and a record marked done is skipped; only a record
        that stopped between its audit entry and its mark shows twice in the audit trail."""
        fields = json.loads(pending["fields"])
        # a record spooled before records had an id: one derived from its audit entry (its time and call)
        record_id = pending.get("record_id") or uuid.uuid5(uuid.NAMESPACE_OID, pending["fields"]).hex
        counted = await abandonment.count_call(
            self.redis, pending["campaign"], record_id, hour=int(pending["hour"]),
            abandoned=pending["abandoned"] == "1", keep_hours=int(pending["keep_hours"]),
            current_hour=int(pending["current_hour"]))
        if counted is abandonment.Counted.DONE:
            return
        if pending["lock_out"] == "1":
            await abandonment.lock_out(self.redis, pending["number"], pending["campaign"],
                                       at_ms=int(pending["at_ms"]), keep_s=int(pending["keep_s"]))
        group = pending.get("group") or keys.audit_group(pending["number"] or None)
        await audit.append_many(self.redis, [(group, fields)], self.audit_groups)
        await abandonment.record_done(self.redis, pending["campaign"], record_id)

    async def record_config_version(self, settings: Settings) -> None:
        """Store the config version (once per process; before its first decision), so that ``config show
        VERSION`` and ``audit why`` find it. A store error is logged and tried again by a decision at least a second
        later (a stuck Redis holds one decision a second up, not every one)."""
        from screener.service import config_versions

        if time.monotonic() - self._version_tried_at < 1.0:
            return
        self._version_tried_at = time.monotonic()
        try:
            async with asyncio.timeout(AUDIT_TIMEOUT_S):
                await config_versions.record(self.redis, settings, groups=self.audit_groups)
            self._versions_recorded.add(settings.version)
            self._version_tried_at = -1e9
        except STORE_ERRORS as exc:
            self.log_summary.event(logging.WARNING, "config version not stored yet", "%s: %s", settings.version,
                                   type(exc).__name__)

    async def append_audit_entry(self, group: str, fields: dict[str, str]) -> str:
        """Append an entry of any kind (fields from ``audit_fields``/``plain_fields``) to ``group``'s stream
        (``keys.audit_group(number)``), extending its chain; its id. Store errors raise (``append_audit`` spools
        the entry instead)."""
        await self.audit_groups.ensure(self.redis, group)
        return await audit.append(self.scripts.connections, group, fields)

    async def append_audit(self, fields: dict[str, str], *, group: str = keys.AUDIT_GLOBAL_GROUP,
                           timeout_s: float = AUDIT_TIMEOUT_S) -> str | None:
        """Append one audit entry (any kind: a decision's, disclosure evidence, an admin action's) to ``group``'s
        stream (``keys.audit_group(number)``); its id, or None when Redis did not take it within ``timeout_s``: it
        then waits in the spool (logged when full) and joins the chain when it lands."""
        try:
            async with asyncio.timeout(timeout_s):
                return await self.append_audit_entry(group, fields)
        except STORE_ERRORS as exc:
            self.log_summary.event(logging.WARNING, "audit entries kept in the spool (Redis did not take them)",
                                   "%s: %s of %s", type(exc).__name__, fields.get("kind", "?"),
                                   fields.get("number", "?"))
            self._keep(spool_kinds.AUDIT, {spool_kinds.GROUP: group, **fields})
            return None

    async def aclose(self) -> None:
        await self.allowance.settled(3.0)  # a bind that fails now goes to the spool, flushed (or kept) below
        await self.pending.aclose()  # one last flush; what is left stays on disk (or is lost in memory)
        self.log_summary.flush()
        await self.allowance.aclose()
        await self.scripts.aclose()
        await self.redis.aclose()


def _iso(when: datetime | None) -> str:
    return "" if when is None else when.isoformat(timespec="milliseconds")


def _checked_lists(plan: StorePlan, versions: dict[str, str]) -> str:
    """The DNC lists a decision checks, in the plan's order, with the version of each: ``internal@3,reg@12``
    (decide.lua's hits are indices into it)."""
    return ",".join(f"{check.list_name}@{versions.get(check.list_name, '0')}" for check in plan.dnc)


def _local_times(number: NumberInfo, now: datetime) -> str:
    """The callee's local time in each of the number's zones: ``America/New_York=2026-12-02T15:00;...``."""
    from screener.engine.zones import local_time

    return ";".join(f"{zone}={local_time(now, zone).strftime('%Y-%m-%dT%H:%M')}" for zone in number.time_zones)


__all__ = ["DECISION_BUDGETS", "LIST_STATE_TTL_S", "Screener", "StoreUnavailable", "connect", "oldest_list_version_s"]
