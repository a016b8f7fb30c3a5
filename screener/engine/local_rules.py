"""The rules decided without the store: calling hours, quiet periods, holidays, stale DNC lists, and the prefix
entries of DNC lists (which come with the lists' states, not from the number's keys)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from screener.config.settings import Campaign, DncList, Policy, Rules
from screener.decision import Reason, sort_reasons
from screener.engine.facts import ListState
from screener.engine.hours import RuleSet, Violation, check_zone
from screener.engine.prefixes import prefix_reasons
from screener.engine.stale import stale_lists
from screener.engine.zones import local_time
from screener.numbers import NumberInfo
from screener.reasons import ReasonCode


@dataclass(frozen=True)
class Precheck:
    """What blocks before the store is asked (every reason, in canonical order), and warnings to log."""

    reasons: tuple[Reason, ...]
    warnings: tuple[str, ...] = ()

    @property
    def blocks(self) -> bool:
        return bool(self.reasons)


def rule_sets(number: NumberInfo, policy: Policy, campaign: Campaign | None = None) -> tuple[RuleSet, ...]:
    """The policy's own rules, those of the callee's state or province and the campaign's own calling hours:
    each must allow the call."""
    sets = [RuleSet("", policy.rules)]
    if number.subdivision is not None and number.subdivision in policy.regions:
        sets.append(RuleSet(number.subdivision, policy.regions[number.subdivision]))
    if campaign is not None and campaign.calling is not None:
        sets.append(RuleSet(f"campaign {campaign.name}", campaign.calling))
    return tuple(sets)


_ZoneKey = tuple[int, int, str | None, str, datetime]
#: (policy id, campaign rules id, subdivision, zone, UTC minute) -> (the policy, the campaign rules, the
#: violations); see _zone_violations
_ZONE_CACHE: dict[_ZoneKey, tuple[Policy, Rules | None, tuple[Violation, ...]]] = {}
_ZONE_CACHE_MAX = 50_000


def _zone_violations(zone_name: str, minute: datetime, subdivision: str | None, policy: Policy,
                     calling: Rules | None, sets: tuple[RuleSet, ...]) -> tuple[Violation, ...]:
    """``check_zone`` memoized per zone and minute: every rule is minute-aligned (HH:MM ranges, whole
    days) and so is every detail it writes, so one minute's answer is exact for every second of it.
    An entry is used only for the very policy and campaign-rules objects it was made with (a reload makes
    new ones)."""
    key = (id(policy), id(calling), subdivision, zone_name, minute)
    hit = _ZONE_CACHE.get(key)
    if hit is not None and hit[0] is policy and hit[1] is calling:
        return hit[2]
    violations = tuple(check_zone(zone_name, local_time(minute, zone_name), sets, policy.holidays))
    if len(_ZONE_CACHE) >= _ZONE_CACHE_MAX:
        _ZONE_CACHE.clear()
    _ZONE_CACHE[key] = (policy, calling, violations)
    return violations


def precheck(
    number: NumberInfo,
    campaign: Campaign,
    policy: Policy,
    lists: Mapping[str, DncList],
    list_states: Mapping[str, ListState],
    now: datetime,
) -> Precheck:
    """Reasons that block a call to ``number`` at ``now`` (timezone-aware) before any store lookup.

    Every zone in ``number.time_zones`` must allow the call; the policy's rules and the callee's state
    rules must both allow it. A prefix entry of one of the campaign's internal or campaign lists blocks the
    number (as an exact entry would). An emergency number gets no reasons: nothing blocks it.
    """
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError(f"decision time {now.isoformat()} has no UTC offset")
    if number.emergency:
        return Precheck(())
    reasons: list[Reason] = []
    warnings: list[str] = []
    for stale in stale_lists(campaign.dnc_lists, lists, list_states, now):
        if stale.action == "warn":
            warnings.append(f"{ReasonCode.DNC_LIST_STALE.value}: {stale.detail}")
        else:
            reasons.append(Reason(ReasonCode.DNC_LIST_STALE, stale.detail))
    reasons += prefix_reasons(number.e164, campaign.dnc_lists, lists, list_states)
    sets = rule_sets(number, policy, campaign)
    grouped: dict[tuple[ReasonCode, str], list[Violation]] = {}
    minute = now.replace(second=0, microsecond=0)
    for zone_name in number.time_zones:
        for violation in _zone_violations(zone_name, minute, number.subdivision, policy, campaign.calling, sets):
            grouped.setdefault((violation.code, violation.key), []).append(violation)
    for (code, _), violations in grouped.items():
        detail = violations[0].detail
        if len(violations) > 1:
            detail += f" (and {len(violations) - 1} more of the number's {len(number.time_zones)} time zones)"
        reasons.append(Reason(code, detail))
    return Precheck(sort_reasons(reasons), tuple(warnings))
