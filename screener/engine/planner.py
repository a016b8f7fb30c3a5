"""Build the store part of a decision (``StorePlan``) from the campaign, its policy and the number."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from screener.config.settings import Campaign, DncList, FrequencyLimit, ListKind, Policy
from screener.engine.plan import DncCheck, FrequencyCheck, StorePlan
from screener.engine.text import format_duration
from screener.numbers import NumberInfo
from screener.reasons import ReasonCode

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
    )
