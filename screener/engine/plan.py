"""The store part of a decision, as data: what to look up in Redis and what blocks, and ``build_plan`` that
makes it from the campaign, its policy and the number.

The engine builds a ``StorePlan`` (pure); the store executes it atomically in one Lua script, which
reserves the attempt only when nothing in the plan blocks; ``store_rules.evaluate`` is the same rule in
Python, so the engine's tests need no Redis and the integration tests check that both agree.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from screener.config.settings import Campaign, DncList, FrequencyLimit, FrequencyScope, ListKind, Policy
from screener.engine.abandonment import lockout_detail
from screener.engine.text import format_duration
from screener.numbers import NumberInfo
from screener.reasons import ReasonCode


@dataclass(frozen=True)
class DncCheck:
    """Look the number up in one DNC list; a hit blocks with ``code`` unless exempted by consent."""

    list_name: str
    #: dnc_internal, dnc_campaign or dnc_registry
    code: ReasonCode
    #: True: a valid consent record exempts the number from this list (registries, when the campaign says so)
    exempt_by_consent: bool = False


@dataclass(frozen=True)
class FrequencyCheck:
    """Block when ``max_calls`` or more earlier attempts in ``scope`` fall inside the last ``window_s``."""

    scope: FrequencyScope
    window_s: int
    max_calls: int
    #: human detail for the reason, e.g. "3 per 24h (subject) FL: F.S. 501.616(6)"
    detail: str = ""


@dataclass(frozen=True)
class StorePlan:
    campaign: str
    subject: str
    dnc: tuple[DncCheck, ...] = ()
    #: the consent purpose to read; None when neither a requirement nor an exemption needs consent
    consent_purpose: str | None = None
    consent_required: bool = False
    frequency: tuple[FrequencyCheck, ...] = ()
    #: minimum seconds since the last attempt to the number (any campaign); 0 = none
    min_interval_s: int = 0
    #: seconds after a refusal during which the number is not called; 0 = none
    refusal_cooldown_s: int = 0
    #: campaign calls per second; 0 = unlimited
    calls_per_second: int = 0
    #: seconds after an abandoned call of this campaign to the number during which it does not call it; 0 = none
    abandon_lockout_s: int = 0
    #: the detail of that reason (``abandonment.lockout_detail``)
    abandon_lockout_detail: str = ""
    #: campaign calls in progress at once; 0 = unlimited
    max_concurrent_calls: int = 0
    #: ms a call is counted at most without its end being reported
    call_lease_ms: int = 0


#: the reason a hit in each kind of list gives
LIST_REASON: dict[ListKind, ReasonCode] = {
    ListKind.INTERNAL: ReasonCode.DNC_INTERNAL,
    ListKind.CAMPAIGN: ReasonCode.DNC_CAMPAIGN,
    ListKind.REGISTRY: ReasonCode.DNC_REGISTRY,
}


def frequency_detail(limit: FrequencyLimit, label: str = "") -> str:
    """ "3 per 24h (subject) FL: F.S. 501.616(6)": the limit, its scope, whose rule and its source."""
    text = f"{limit.max_calls} per {format_duration(limit.window_s)} ({limit.scope.value})"
    origin = ": ".join(part for part in (label, limit.source) if part)
    return f"{text} {origin}" if origin else text


def _frequency(limits: Iterable[FrequencyLimit], label: str) -> list[FrequencyCheck]:
    return [
        FrequencyCheck(limit.scope, limit.window_s, limit.max_calls, frequency_detail(limit, label)) for limit in limits
    ]


def build_plan(number: NumberInfo, campaign: Campaign, policy: Policy, lists: Mapping[str, DncList]) -> StorePlan:
    """What the store must look up and which results block, for one call of ``campaign`` to ``number``.

    Raises ``KeyError`` when the campaign names a list missing from ``lists`` (the loader forbids it).
    """
    dnc: list[DncCheck] = []
    for name in campaign.dnc_lists:
        if name not in lists:
            raise KeyError(f"campaign {campaign.name!r} applies unknown DNC list {name!r}")
        kind = lists[name].kind
        exempt = kind is ListKind.REGISTRY and name in campaign.consent_exempts_registries
        dnc.append(DncCheck(name, LIST_REASON[kind], exempt_by_consent=exempt))
    consent_required = campaign.consent_required or policy.consent_required
    needs_consent = consent_required or any(check.exempt_by_consent for check in dnc)
    region = None
    if number.subdivision is not None:
        region = policy.regions.get(number.subdivision)
    frequency = _frequency(policy.rules.frequency, "")
    frequency += _frequency(campaign.frequency, f"campaign {campaign.name}")
    min_interval_s = policy.rules.min_interval_s
    if region is not None and number.subdivision is not None:
        frequency += _frequency(region.frequency, number.subdivision)
        min_interval_s = max(min_interval_s, region.min_interval_s)
    return StorePlan(
        campaign=campaign.name,
        subject=campaign.subject,
        dnc=tuple(dnc),
        consent_purpose=campaign.consent_purpose if needs_consent else None,
        consent_required=consent_required,
        frequency=tuple(frequency),
        min_interval_s=min_interval_s,
        refusal_cooldown_s=policy.refusal_cooldown_s,
        calls_per_second=campaign.calls_per_second,
        abandon_lockout_s=policy.abandonment.lockout_s,
        abandon_lockout_detail=lockout_detail(policy.abandonment) if policy.abandonment.lockout_s else "",
        max_concurrent_calls=campaign.max_concurrent_calls,
        call_lease_ms=campaign.call_lease_s * 1000 if campaign.max_concurrent_calls else 0,
    )
