"""The abandoned-call report (``screener report abandonment``, the admin API): per campaign, the calls answered
and abandoned in its policy's rolling window, the rate against the limit, and what happens over it."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from screener.config.settings import Settings
from screener.engine.abandonment import over_limit, window_counts
from screener.service.numbers_input import campaign_of
from screener.store import abandonment

__all__ = ["CampaignAbandonment", "abandonment_report"]


@dataclass(frozen=True)
class CampaignAbandonment:
    """One campaign's abandoned-call standing over its policy's window."""

    campaign: str
    policy: str
    window_s: int
    answered: int
    abandoned: int
    #: abandoned per 100 answered (the denominator at least the policy's min_answered)
    rate_percent: float
    #: None: the policy counts but sets no limit
    limit_percent: float | None
    #: "block" or "warn": what the campaign's calls get over the limit
    action: str
    over_limit: bool
    connect_within_s: int
    lockout_s: int
    source: str

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


async def abandonment_report(redis: Any, settings: Settings, campaign: str | None = None,
                             now: datetime | None = None) -> list[CampaignAbandonment]:
    """Every configured campaign (or only ``campaign``), by name; ``UnknownCampaign`` for a name not in the
    config."""
    names = [campaign_of(settings, campaign).name] if campaign else sorted(settings.campaigns)
    buckets = await abandonment.read_buckets(redis, names)
    at = now or datetime.now(UTC)
    out = []
    for name in names:
        camp = settings.campaigns[name]
        rule = settings.policies[camp.policy].abandonment
        counts = window_counts(buckets.get(name, {}), at, rule.window_s)
        out.append(CampaignAbandonment(
            campaign=name, policy=camp.policy, window_s=rule.window_s, answered=counts.answered,
            abandoned=counts.abandoned, rate_percent=round(counts.rate(rule.min_answered) * 100, 3),
            limit_percent=rule.max_rate_percent, action=rule.action, over_limit=over_limit(rule, counts),
            connect_within_s=rule.connect_within_s, lockout_s=rule.lockout_s, source=rule.source))
    return out
