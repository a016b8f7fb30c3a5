"""Decision statistics for the supervisor page, over every screener: allow/block counts and reasons per
campaign, block rate per region and US state / Canadian province, opt-outs.

Each ``screener serve`` counts its own live decisions in memory (an observer on its ``Screener``: no I/O
in the call's path) and adds them to per-minute and per-hour counters in Redis about once a second, so
any admin server reads the whole fleet's numbers. Dry runs are not calls and are not counted.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from screener.config.watch import ConfigHolder
from screener.decision import Decision
from screener.numbers import InvalidNumber, normalize
from screener.service.observe import OptOut
from screener.store import stats

#: the campaign label of decisions for a campaign the config does not know (bounded label values)
UNKNOWN_CAMPAIGN = "(unknown)"
#: the region label of numbers that have no region (invalid input, non-geographic numbers)
NO_REGION = "(none)"
_MAX_PENDING_BUCKETS = 4 * 60


def minute_bucket(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y%m%d%H%M")


def hour_bucket(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y%m%d%H")


class RegionLabels:
    """ "US-FL", "CA-ON", "CN"...: where a number is, cached per number prefix (the part that decides it)."""

    def __init__(self, size: int = 65_536) -> None:
        self._cache: dict[str, str] = {}
        self._size = size

    def __call__(self, e164: str) -> str:
        if not e164.startswith("+") or len(e164) < 8:
            return NO_REGION
        prefix = e164[:-4]
        label = self._cache.get(prefix)
        if label is None:
            try:
                info = normalize(e164, "US")
            except InvalidNumber:
                label = NO_REGION
            else:
                label = info.region or NO_REGION
                if info.subdivision is not None:
                    label = f"{label}-{info.subdivision}"
            if len(self._cache) >= self._size:
                self._cache.clear()
            self._cache[prefix] = label
        return label


class DecisionStats:
    """This process's live decisions and opt-outs, counted per minute and hour until ``flush``."""

    def __init__(self, holder: ConfigHolder, clock: Any = time.time) -> None:
        self.holder = holder
        self._clock = clock
        self._pending: dict[tuple[str, str], Counter[str]] = {}
        self._regions = RegionLabels()
        self._minute = -1
        self._buckets: tuple[tuple[str, str], ...] = ()

    def observe(self, event: object) -> None:
        """Counts only (it runs in the decision's path): a few dictionary updates."""
        if isinstance(event, Decision):
            if event.dry_run:
                return
            campaign = event.campaign if event.campaign in self.holder.current.campaigns else UNKNOWN_CAMPAIGN
            verdict = event.verdict.value
            counts = self._counters()
            if counts is None:
                return
            for key in (f"v|{campaign}|{verdict}", f"g|{self._regions(event.number)}|{verdict}",
                        *(f"r|{campaign}|{code.value}" for code in dict.fromkeys(event.codes))):
                for counter in counts:
                    counter[key] = counter.get(key, 0) + 1
        elif isinstance(event, OptOut):
            campaign = event.campaign if event.campaign in self.holder.current.campaigns else UNKNOWN_CAMPAIGN
            for counter in self._counters() or ():
                counter[f"o|{campaign}"] = counter.get(f"o|{campaign}", 0) + 1

    def _counters(self) -> tuple[Counter[str], Counter[str]] | None:
        """The counters of the current minute and hour (the bucket names are worked out once a minute)."""
        minute = int(self._clock() // 60)
        if minute != self._minute:
            at = datetime.fromtimestamp(minute * 60, UTC)
            self._minute = minute
            self._buckets = (("m", minute_bucket(at)), ("h", hour_bucket(at)))
        out = []
        for bucket in self._buckets:
            counter = self._pending.get(bucket)
            if counter is None:
                if len(self._pending) >= _MAX_PENDING_BUCKETS:
                    return None  # Redis has been away for hours: drop rather than grow without bound
                counter = self._pending[bucket] = Counter()
            out.append(counter)
        return out[0], out[1]

    async def flush(self, redis: Any) -> None:
        """Add the pending counts to Redis; on failure they stay pending for the next flush."""
        pending, self._pending = self._pending, {}
        try:
            await stats.add(redis, pending)
        except BaseException:
            for bucket, counter in pending.items():
                self._pending.setdefault(bucket, Counter()).update(counter)
            raise


@dataclass
class CampaignCounts:
    allowed: int = 0
    blocked: int = 0
    reasons: Counter[str] = field(default_factory=Counter)
    opt_outs: int = 0

    def to_json(self) -> dict[str, object]:
        return {"allowed": self.allowed, "blocked": self.blocked, "opt_outs": self.opt_outs,
                "top_reasons": [{"code": c, "count": n} for c, n in self.reasons.most_common(5)]}


@dataclass
class WindowCounts:
    """Counts over one window (the last hour, the last day)."""

    campaigns: dict[str, CampaignCounts] = field(default_factory=dict)
    #: region -> [allowed, blocked]
    regions: dict[str, list[int]] = field(default_factory=dict)

    def add(self, row: dict[str, int]) -> None:
        for key, n in row.items():
            kind, _, rest = key.partition("|")
            if kind == "g":
                region, _, verdict = rest.rpartition("|")
                pair = self.regions.setdefault(region, [0, 0])
                pair[0 if verdict == "allow" else 1] += n
                continue
            name, _, what = rest.partition("|") if kind != "o" else (rest, "", "")
            counts = self.campaigns.setdefault(name, CampaignCounts())
            if kind == "v":
                if what == "allow":
                    counts.allowed += n
                else:
                    counts.blocked += n
            elif kind == "r":
                counts.reasons[what] += n
            elif kind == "o":
                counts.opt_outs += n

    def to_json(self) -> dict[str, object]:
        regions = []
        for region, (allowed, blocked) in sorted(self.regions.items()):
            total = allowed + blocked
            regions.append({"region": region, "allowed": allowed, "blocked": blocked,
                            "block_rate": round(blocked / total, 4) if total else 0.0})
        return {"campaigns": {name: c.to_json() for name, c in sorted(self.campaigns.items())}, "regions": regions}


async def read_stats(redis: Any, now: datetime) -> dict[str, object]:
    """The last hour (the current minute and the 59 before it), the last day (the current hour and the 23
    before it) and the opt-outs since 00:00 UTC."""
    now = now.astimezone(UTC)
    minutes = [("m", minute_bucket(now - timedelta(minutes=i))) for i in range(60)]
    hours = [("h", hour_bucket(now - timedelta(hours=i))) for i in range(24)]
    rows = await stats.read(redis, minutes + hours)
    hour, day = WindowCounts(), WindowCounts()
    for row in rows[:60]:
        hour.add(row)
    for row in rows[60:]:
        day.add(row)
    today = sum(n for (_, bucket), row in zip(hours, rows[60:], strict=True) if bucket[:8] == now.strftime("%Y%m%d")
                for key, n in row.items() if key.startswith("o|"))
    return {"hour": hour.to_json(), "day": day.to_json(), "opt_outs_today": today,
            "as_of": now.isoformat(timespec="seconds")}
