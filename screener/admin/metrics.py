"""Prometheus metrics of one screener process, on a registry of its own (never the global default).

Counters and histograms move with the Screener's observer events (decisions, disclosures, opt-outs); the
in-flight gauges read the front ends' probes and the spool gauges the Screener's spool (writes waiting for
Redis) at scrape time; the Redis-backed facts (DNC list age and size, screeners
alive, Redis reachable) are read when /metrics is scraped, at most once a second.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, InfoMetricFamily, Metric
from prometheus_client.registry import Collector

from screener.config.watch import ConfigHolder
from screener.decision import Decision, DisclosureEvent
from screener.reasons import ReasonCode
from screener.service.abandonment import CampaignAbandonment, abandonment_report
from screener.service.admission import OVERLOADED, ScreenerCounters
from screener.service.complaints import ComplaintCounts, complaint_counts
from screener.service.dnc import DncAdmin, ListRow
from screener.service.observe import OptOut
from screener.service.presence import screeners_alive
from screener.service.probes import ARI_CALLS, ARI_CONNECTED, FASTAGI_SESSIONS, Probes
from screener.service.spool import OPT_OUT, Spool
from screener.service.stats import UNKNOWN_CAMPAIGN
from screener.service.store_errors import STORE_ERRORS

DECISION_BUCKETS = (0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.25, 0.5, 1.0)
PROMPT_BUCKETS = (50, 100, 200, 300, 500, 750, 1000, 1500, 2000, 3000, 5000, 10000)
#: the detail screening.py writes when the store blew the time budget (any other store failure is an error)
TIMEOUT_DETAIL = "did not answer within"


@dataclass
class RedisFacts:
    """What the last scrape read from Redis."""

    up: bool = False
    lists: list[ListRow] = field(default_factory=list)
    screeners: int = 0
    at: float = 0.0
    complaints: ComplaintCounts = field(default_factory=lambda: ComplaintCounts(0, 0))
    abandonment: list[CampaignAbandonment] = field(default_factory=list)


class _Collector(Collector):
    """Families computed at scrape time from the config holder, the probes and the last Redis facts."""

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    def collect(self) -> Iterator[Metric]:
        m = self.metrics
        holder, facts = m.holder, m.facts
        info = InfoMetricFamily("screener_config", "the running config version", labels=["version"])
        info.add_metric([holder.current.version], {})
        yield info
        yield CounterMetricFamily("screener_config_reload_failures", "config reloads refused since the start",
                                  value=holder.stats["reload_failures"])
        last = holder.last_reload
        yield GaugeMetricFamily("screener_config_last_reload_ok", "1 when the latest reload attempt (if any) loaded",
                                value=1 if last is None or last.ok else 0)
        yield GaugeMetricFamily("screener_redis_up", "1 when Redis answered the latest scrape's read in time",
                                value=1 if facts.up else 0)
        yield GaugeMetricFamily("screener_screeners_alive", "screeners whose heartbeat is in Redis",
                                value=facts.screeners)
        age = GaugeMetricFamily("screener_dnc_list_age_seconds", "seconds since the list's last full import",
                                labels=["list"])
        size = GaugeMetricFamily("screener_dnc_list_size", "numbers on the list", labels=["list"])
        max_age = GaugeMetricFamily("screener_dnc_list_max_age_seconds", "the list's max_age_days in seconds "
                                    "(0: never stale)", labels=["list"])
        stale = GaugeMetricFamily("screener_dnc_list_stale", "1 when the list is too old to call against",
                                  labels=["list"])
        for lst in facts.lists:
            if lst.age_s is not None:
                age.add_metric([lst.name], lst.age_s)
            size.add_metric([lst.name], lst.count)
            max_age.add_metric([lst.name], lst.max_age_days * 86_400)
            stale.add_metric([lst.name], 1 if lst.stale else 0)
        yield from (age, size, max_age, stale)
        yield GaugeMetricFamily("screener_complaints_open", "complaint tickets open", value=facts.complaints.open)
        yield GaugeMetricFamily("screener_complaints_overdue", "open complaint tickets past a deadline",
                                value=facts.complaints.overdue)
        rate = GaugeMetricFamily("screener_abandonment_rate_percent", "abandoned per 100 answered calls over the "
                                 "campaign policy's window", labels=["campaign"])
        answered = GaugeMetricFamily("screener_abandonment_answered", "calls answered over the campaign policy's "
                                     "window", labels=["campaign"])
        over = GaugeMetricFamily("screener_abandonment_over_limit", "1 when the campaign's abandoned-call rate is "
                                 "over its policy's limit", labels=["campaign"])
        for row in facts.abandonment:
            rate.add_metric([row.campaign], row.rate_percent)
            answered.add_metric([row.campaign], row.answered)
            over.add_metric([row.campaign], 1 if row.over_limit else 0)
        yield from (rate, answered, over)
        if m.spool is not None:
            yield GaugeMetricFamily("screener_spool_pending_writes", "opt-outs and audit entries waiting for Redis "
                                    "in this process's spool", value=len(m.spool))
            yield GaugeMetricFamily("screener_spool_pending_opt_outs", "numbers whose opt-out waits for Redis "
                                    "(blocked by this process only until Redis takes it)",
                                    value=len(m.spool.pending(OPT_OUT, "number")))
            yield CounterMetricFamily("screener_spool_overflowed", "writes refused because the spool was full "
                                      "(lost: an opt-out or an audit entry)", value=m.spool.overflowed)
            yield CounterMetricFamily("screener_spool_rejected", "pending writes Redis refused as malformed, set "
                                      "aside in the spool folder's <name>.rejected file", value=m.spool.rejected)
        connected = m.probes.check(ARI_CONNECTED)
        if connected is not None:
            yield GaugeMetricFamily("screener_ari_connected", "1 while the ARI WebSocket is open",
                                    value=1 if connected else 0)
        if m.counters is not None:
            yield from _admission(m.counters())


def _admission(c: ScreenerCounters) -> Iterator[Metric]:
    """The Screener's admission control (the spool has gauges of its own)."""
    yield GaugeMetricFamily("screener_decisions_in_flight", "decisions being made now", value=c.in_flight)
    yield GaugeMetricFamily("screener_max_in_flight", "decisions in flight past which calls are refused "
                            "(screener.max_in_flight)", value=c.max_in_flight)
    yield CounterMetricFamily("screener_decisions_refused_overloaded", "calls refused past max_in_flight and "
                              "overload_wait_ms (blocked, screening_unavailable \"overloaded\"; no Redis command)",
                              value=c.refused_overloaded)


class Metrics:
    def __init__(self, holder: ConfigHolder, probes: Probes, spool: Spool | None = None,
                 counters: Callable[[], ScreenerCounters] | None = None) -> None:
        self.holder = holder
        self.probes = probes
        #: the Screener's spool (None: no spool gauges)
        self.spool = spool
        #: the Screener's own counts (admission control), read at scrape time
        self.counters = counters
        self.facts = RedisFacts()
        self._lock = asyncio.Lock()
        self._children: dict[tuple[str, ...], Any] = {}
        r = self.registry = CollectorRegistry()
        self.decisions = Counter("screener_decisions", "decisions made by this screener",
                                 ["campaign", "verdict", "mode"], registry=r)
        self.reasons = Counter("screener_decision_reasons", "decisions that gave each reason (once per decision)",
                               ["campaign", "reason"], registry=r)
        self.latency = Histogram("screener_decision_seconds", "time to decide one call", buckets=DECISION_BUCKETS,
                                 registry=r)
        self.redis_errors = Counter("screener_redis_errors", "Redis failures that blocked a call, by kind "
                                    "(timeout: the time budget ran out; error: any other)", ["kind"], registry=r)
        self.opt_outs = Counter("screener_opt_outs", "opt-outs recorded (callee pressed the opt-out key)",
                                ["campaign"], registry=r)
        self.answer_to_prompt = Histogram("screener_answer_to_prompt_ms", "milliseconds from the callee's answer to "
                                          "the start of the disclosure", buckets=PROMPT_BUCKETS, registry=r)
        Gauge("screener_fastagi_sessions_in_flight", "FastAGI sessions open now", registry=r).set_function(
            lambda: probes.gauge(FASTAGI_SESSIONS))
        Gauge("screener_ari_calls_in_flight", "ARI calls being handled now", registry=r).set_function(
            lambda: probes.gauge(ARI_CALLS))
        r.register(_Collector(self))
        for verdict in ("allow", "block"):
            self.decisions.labels(UNKNOWN_CAMPAIGN, verdict, "live")
        for kind in ("timeout", "error"):
            self.redis_errors.labels(kind)

    def _campaign(self, name: str) -> str:
        return name if name in self.holder.current.campaigns else UNKNOWN_CAMPAIGN

    def observe(self, event: object) -> None:
        """The Screener's observer: counts only, no I/O (labelled children are looked up once, then cached)."""
        if isinstance(event, Decision):
            campaign = self._campaign(event.campaign)
            key = (campaign, event.verdict.value, "dry_run" if event.dry_run else "live")
            child = self._children.get(key)
            if child is None:
                child = self._children[key] = self.decisions.labels(*key)
            child.inc()
            for reason in {r.code: r for r in event.reasons}.values():  # each code once per decision
                rkey = (campaign, reason.code.value)
                child = self._children.get(rkey)
                if child is None:
                    child = self._children[rkey] = self.reasons.labels(*rkey)
                child.inc()
                if reason.code is ReasonCode.SCREENING_UNAVAILABLE and reason.detail != OVERLOADED:
                    # a refusal past max_in_flight is no Redis failure (screener_decisions_refused_overloaded)
                    self.redis_errors.labels("timeout" if TIMEOUT_DETAIL in reason.detail else "error").inc()
            self.latency.observe(event.elapsed_us / 1e6)
        elif isinstance(event, DisclosureEvent):
            if event.answer_to_prompt_ms is not None:
                self.answer_to_prompt.observe(event.answer_to_prompt_ms)
        elif isinstance(event, OptOut):
            self.opt_outs.labels(self._campaign(event.campaign)).inc()

    async def refresh(self, redis: Any, *, min_interval_s: float = 1.0, timeout_s: float = 1.0) -> RedisFacts:
        """Read the Redis-backed facts (at most once per ``min_interval_s``)."""
        async with self._lock:
            if time.monotonic() - self.facts.at < min_interval_s:
                return self.facts
            now = time.time()
            try:
                async with asyncio.timeout(timeout_s):
                    lists = await DncAdmin(redis, self.holder.current).lists(now=now)
                    alive = len(await screeners_alive(redis))
                    complaints = await complaint_counts(redis)
                    abandonment = await abandonment_report(redis, self.holder.current)
                self.facts = RedisFacts(True, lists, alive, time.monotonic(), complaints, abandonment)
            except STORE_ERRORS:
                old = self.facts
                self.facts = RedisFacts(False, old.lists, old.screeners, time.monotonic(), old.complaints,
                                        old.abandonment)
            return self.facts

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
