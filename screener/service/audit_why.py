"""``screener audit why NUMBER``: why was this number called, or not, on that day, without reading code.

Every entry about the number (archive and streams as one trail) in time order: each decision with its inputs
(as dialed, normalized, campaign, agent, trunk, caller ID), its reasons, and every rule's outcome, those that
passed included: the DNC lists checked with their versions, the consent record used or missing, the local
time in each of the number's zones against the calling windows, the attempt counts against each limit, the
minimum interval, the cool-down, the campaign's rate; then the config version that decided (``screener config
show VERSION`` prints it), the disclosure's timing for the call, and opt-outs, consent changes, complaints.

The facts come from the entries (decide.lua's ``r``, the client's ``lists``, ``zones``, ``pre_reasons``); the
rules they were held against come from replaying the stored config version (``service/config_versions.py``)
with the same engine functions the decision used. When a version is not stored (an entry older than this
feature), the facts are shown without the windows and limits.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from screener.config.settings import WEEKDAYS, Campaign, Policy, Settings
from screener.engine.hours import check_zone
from screener.engine.local_rules import rule_sets
from screener.engine.plan import StorePlan, build_plan
from screener.engine.restdays import DayKind, day_status
from screener.engine.text import format_duration
from screener.numbers import InvalidNumber, NumberInfo, mask, normalize
from screener.service import config_versions
from screener.service.audit import AuditTrail, NumberFilter
from screener.store.audit import CONSENT, DECISION, DISCLOSURE, OPT_OUT, AuditEntry, DecisionFacts

PASS, BLOCK, EXEMPT, INFO = "pass", "block", "exempt", "info"
CONSENT_STATES = {"-": "not read (no rule of this campaign needs it)", "n": "no record for the purpose",
                  "0": "a record that is not valid at that time (not yet granted, expired or revoked)",
                  "1": "a valid record"}
#: the fields an entry of another kind shows (complaints and admin actions add their own)
_SHOWN = ("action", "actor", "target", "detail", "list", "purpose", "consent_source", "ticket", "complaint_source",
          "ref", "status", "outcome", "abandoned", "connect_delay_ms", "removed", "source")


@dataclass(frozen=True)
class Check:
    """One rule held against one decision: which, about what, its outcome and why."""

    rule: str
    subject: str
    outcome: str
    detail: str

    def to_json(self) -> dict[str, str]:
        return {"rule": self.rule, "subject": self.subject, "outcome": self.outcome, "detail": self.detail}


@dataclass
class WhyItem:
    """One entry of the number's trail, explained."""

    entry: AuditEntry
    title: str
    inputs: dict[str, str] = field(default_factory=dict)
    reasons: list[tuple[str, str]] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    disclosures: list[AuditEntry] = field(default_factory=list)

    def to_json(self) -> dict[str, object]:
        f = self.entry.fields
        data: dict[str, object] = {"id": self.entry.id, "kind": self.entry.kind, "at": f.get("at", ""),
                                   "title": self.title}
        if self.entry.kind == DECISION:
            data.update(verdict=self.entry.verdict, campaign=f.get("campaign", ""), mode=f.get("mode", ""),
                        config_version=f.get("config_version", ""), inputs=self.inputs,
                        reasons=[{"code": c, "detail": d} for c, d in self.reasons],
                        checks=[c.to_json() for c in self.checks],
                        disclosures=[_disclosure_json(d) for d in self.disclosures])
        else:
            data["fields"] = {k: v for k, v in f.items() if not k.startswith("_")}
        if self.notes:
            data["notes"] = self.notes
        return data

    def lines(self) -> list[str]:
        out = [self.title]
        if self.inputs:
            out.append("  inputs: " + ", ".join(f"{k} {v}" for k, v in self.inputs.items() if v))
        if self.entry.kind == DECISION:
            out.append("  reasons: " + ("; ".join(f"{c} ({d})" if d else c for c, d in self.reasons) or
                                        "none: every rule passed"))
        for check in self.checks:
            mark = {PASS: "ok   ", BLOCK: "BLOCK", EXEMPT: "exempt", INFO: "     "}.get(check.outcome, check.outcome)
            out.append(f"  {mark} {check.rule:<13} {check.subject}: {check.detail}")
        for d in self.disclosures:
            out.append("  disclosure: " + _disclosure_text(d))
        out += [f"  note: {n}" for n in self.notes]
        return out


@dataclass(frozen=True)
class WhyReport:
    number: str
    items: tuple[WhyItem, ...]

    def to_json(self) -> dict[str, object]:
        return {"number": mask(self.number), "entries": [i.to_json() for i in self.items]}

    def lines(self) -> list[str]:
        out = [f"why {mask(self.number)}: {len(self.items)} entr{'y' if len(self.items) == 1 else 'ies'}"]
        for item in self.items:
            out += ["", *item.lines()]
        return out


def _disclosure_text(entry: AuditEntry) -> str:
    f = entry.fields
    ms = f.get("answer_to_prompt_ms") or "?"
    return (f"{f.get('at', '')}: answer to prompt {ms} ms, "
            f"{'played to its end' if f.get('prompt_finished') == '1' else 'cut short'}, "
            f"{'the callee OPTED OUT' if f.get('opted_out') == '1' else 'no opt-out'}"
            + (f", language {f['language']}" if f.get("language") else ""))


def _disclosure_json(entry: AuditEntry) -> dict[str, str]:
    f = entry.fields
    return {"id": entry.id, "at": f.get("at", ""), "answer_to_prompt_ms": f.get("answer_to_prompt_ms", ""),
            "prompt_finished": f.get("prompt_finished", ""), "opted_out": f.get("opted_out", "")}


class _Replay:
    """The stored config versions, loaded once each."""

    def __init__(self, redis: Any, archive_dir: Path | None) -> None:
        self.redis = redis
        self.archive_dir = archive_dir
        self._loaded: dict[str, tuple[Settings | None, str]] = {}

    async def settings(self, version: str) -> tuple[Settings | None, str]:
        if version not in self._loaded:
            self._loaded[version] = await config_versions.replayable(self.redis, version, self.archive_dir)
        return self._loaded[version]


class Explainer:
    """Builds the explanation of one number's trail."""

    def __init__(self, trail: AuditTrail, archive_dir: Path | None = None) -> None:
        self.trail = trail
        self.replay = _Replay(trail.redis, archive_dir)

    async def why(self, wanted: NumberFilter, since_ms: int | None, until_ms: int | None) -> WhyReport:
        items: list[WhyItem] = []
        by_call: dict[str, WhyItem] = {}
        consents: dict[str, AuditEntry] = {}
        async for entry in self.trail.group_entries(wanted.group, None, until_ms):
            if not wanted.matches(entry):
                continue
            if entry.kind == CONSENT:
                consents[entry.fields.get("purpose", "")] = entry
            if since_ms is not None and entry.millis < since_ms:
                continue
            call = entry.fields.get("call_id", "")
            if entry.kind == DISCLOSURE and call and call in by_call:
                by_call[call].disclosures.append(entry)
                continue
            item = await self._item(entry, wanted.e164, consents)
            if entry.kind == DECISION and call:
                by_call[call] = item
            items.append(item)
        return WhyReport(wanted.e164, tuple(items))

    async def _item(self, entry: AuditEntry, e164: str, consents: dict[str, AuditEntry]) -> WhyItem:
        f = entry.fields
        at = f.get("at", "")
        if entry.kind == DECISION:
            mode = "dry run" if f.get("mode") == "dry_run" else "live"
            title = (f"{at}  {entry.verdict.upper()}  campaign {f.get('campaign', '')} ({mode}, {f.get('source', '')}"
                     f"{', call ' + f['call_id'] if f.get('call_id') else ''})  config {f.get('config_version', '')}"
                     f"  [{entry.id}]")
            item = WhyItem(entry, title, inputs={
                "dialed": f.get("dialed", ""), "normalized": f.get("number", ""), "campaign": f.get("campaign", ""),
                "agent": f.get("agent", ""), "trunk": f.get("trunk", ""), "caller ID": f.get("caller_id", "")},
                reasons=entry.reasons)
            await self._checks(item, e164, consents)
            return item
        if entry.kind == DISCLOSURE:
            return WhyItem(entry, f"{at}  DISCLOSURE  campaign {f.get('campaign', '')}  {_disclosure_text(entry)}"
                                  f"  [{entry.id}]")
        if entry.kind == OPT_OUT:
            return WhyItem(entry, f"{at}  OPT-OUT  campaign {f.get('campaign', '')}: put on list "
                                  f"{f.get('list', '')} ({f.get('source', '')})  [{entry.id}]")
        shown = ", ".join(f"{k} {f[k]}" for k in _SHOWN if f.get(k))
        return WhyItem(entry, f"{at}  {entry.kind.upper()}  {shown}  [{entry.id}]")

    async def _checks(self, item: WhyItem, e164: str, consents: dict[str, AuditEntry]) -> None:
        entry = item.entry
        facts = entry.facts
        f = entry.fields
        settings, why_not = await self.replay.settings(f.get("config_version", ""))
        campaign = settings.campaigns.get(f.get("campaign", "")) if settings else None
        policy = settings.policies.get(campaign.policy) if settings and campaign else None
        if settings is None:
            item.notes.append(f"rules not replayed: {why_not}")
        elif campaign is None or policy is None:
            item.notes.append(f"campaign {f.get('campaign', '')!r} is not in config version {settings.version}")
        number = _number(e164, campaign)
        plan = build_plan(number, campaign, policy, settings.lists) if (
            settings and campaign and policy and number) else None
        item.checks += _dnc_checks(f.get("lists", ""), facts, plan)
        if facts is not None:
            item.checks += _consent_checks(facts, plan, campaign, consents, entry.millis)
        item.checks += _hour_checks(f.get("zones", ""), number, campaign, policy)
        if facts is not None:
            item.checks += _limit_checks(facts, plan)
            item.checks.append(Check("attempt", f.get("attempt_id", ""), INFO,
                                     "reserved (counted against later calls)" if facts.reserved else
                                     "not reserved (a dry run, or the call was blocked)"))
        elif entry.kind == DECISION:
            item.notes.append("decided without the store's facts (the number, the campaign or the store failed "
                              "first): only its reasons apply")


def _number(e164: str, campaign: Campaign | None) -> NumberInfo | None:
    try:
        return normalize(e164, campaign.region if campaign else "US")
    except InvalidNumber:
        return None


def _dnc_checks(lists: str, facts: DecisionFacts | None, plan: StorePlan | None) -> list[Check]:
    checks = []
    for i, item in enumerate(filter(None, lists.split(","))):
        name, _, version = item.partition("@")
        listed = facts is not None and i in facts.dnc_hits
        check = plan.dnc[i] if plan is not None and i < len(plan.dnc) else None
        code = check.code.value if check else "dnc"
        if facts is None:
            outcome, detail = INFO, "checked (the store did not answer)"
        elif not listed:
            outcome, detail = PASS, "not listed"
        elif check is not None and check.exempt_by_consent and facts.consent == "1":
            outcome, detail = EXEMPT, f"listed, exempted by a valid consent ({code})"
        else:
            outcome, detail = BLOCK, f"LISTED: {code}"
        checks.append(Check("dnc list", f"{name} version {version}", outcome, detail))
    return checks


def _consent_checks(facts: DecisionFacts, plan: StorePlan | None, campaign: Campaign | None,
                    consents: dict[str, AuditEntry], at_ms: int) -> list[Check]:
    purpose = plan.consent_purpose if plan else (campaign.consent_purpose if campaign else "")
    required = plan.consent_required if plan else False
    if facts.consent == "-":
        return [Check("consent", purpose or "-", INFO, "not required and no registry exemption needs it")]
    state = CONSENT_STATES.get(facts.consent, facts.consent)
    outcome = PASS if facts.consent == "1" or not required else BLOCK
    detail = f"{'required' if required else 'read for a registry exemption'}: {state}"
    record = consents.get(purpose or "")
    if record is not None and record.millis <= at_ms:
        r = record.fields
        detail += (f"; record: {r.get('action', '')} {r.get('at', '')} from {r.get('consent_source', '')}"
                   + (f", text {r['text_version']}" if r.get("text_version") else "")
                   + (f", via {r['channel']}" if r.get("channel") else "")
                   + (f", expires {_ms_text(r['expires_ms'])}" if r.get("expires_ms", "0") != "0" else "")
                   + (f", revoked {_ms_text(r['revoked_ms'])}" if r.get("revoked_ms", "0") != "0" else ""))
    elif facts.consent != "n":
        detail += "; its grant is not in this trail (recorded before the trail began)"
    return [Check("consent", purpose or "-", outcome, detail)]


def _ms_text(raw: str) -> str:
    try:
        return datetime.fromtimestamp(int(raw) / 1000).astimezone().isoformat(timespec="minutes")
    except ValueError:
        return raw


def _hour_checks(zones: str, number: NumberInfo | None, campaign: Campaign | None,
                 policy: Policy | None) -> list[Check]:
    checks = []
    for part in filter(None, zones.split(";")):
        zone, _, clock = part.partition("=")
        try:
            local = datetime.fromisoformat(clock)
        except ValueError:
            continue
        day = WEEKDAYS[local.weekday()]
        if policy is None or number is None:
            checks.append(Check("local time", zone, INFO, f"{day} {clock.replace('T', ' ')}"))
            continue
        sets = rule_sets(number, policy, campaign)
        violations = check_zone(zone, local, sets, policy.holidays)
        status = day_status(policy.holidays, local.date())
        hours_day = policy.holidays.makeup_hours_from if (
            status.kind is DayKind.MAKEUP and policy.holidays) else day
        windows = []
        for rule_set in sets:
            label = rule_set.label or policy.name
            if rule_set.rules.hours:
                ranges = rule_set.rules.hours.get(hours_day, ())
                windows.append(f"{label} {', '.join(str(r) for r in ranges) or 'closed'}")
            windows += [f"{label} quiet {q}" for q in rule_set.rules.quiet]
        day_text = {DayKind.HOLIDAY: f"a holiday ({status.name})", DayKind.REST: "a rest day",
                    DayKind.MAKEUP: f"a make-up working day ({hours_day} hours)"}.get(status.kind, "a working day")
        detail = f"{day} {clock.replace('T', ' ')}, {day_text}; windows: {'; '.join(windows) or 'none'}"
        if violations:
            detail += " -> " + "; ".join(v.code.value for v in violations)
        checks.append(Check("calling hours", zone, BLOCK if violations else PASS, detail))
    return checks


def _limit_checks(facts: DecisionFacts, plan: StorePlan | None) -> list[Check]:
    checks = []
    codes = {c for c, _ in facts.reasons}
    for i, count in enumerate(facts.counts):
        limit = plan.frequency[i] if plan is not None and i < len(plan.frequency) else None
        if limit is None:
            checks.append(Check("frequency", f"limit {i + 1}", INFO, f"{count} earlier attempt(s) in its window"))
            continue
        checks.append(Check("frequency", limit.detail or f"{limit.max_calls} per {format_duration(limit.window_s)}",
                            BLOCK if count >= limit.max_calls else PASS,
                            f"{count} earlier attempt(s) in the window, at most {limit.max_calls - 1} allowed"))
    if plan is not None and plan.min_interval_s:
        since = facts.since_last_ms
        blocked = since is not None and since < plan.min_interval_s * 1000
        checks.append(Check("min interval", format_duration(plan.min_interval_s), BLOCK if blocked else PASS,
                            "no earlier attempt" if since is None else f"last attempt {_ago(since)} before"))
    if plan is not None and plan.refusal_cooldown_s:
        since = facts.since_refusal_ms
        blocked = since is not None and since < plan.refusal_cooldown_s * 1000
        checks.append(Check("cool-down", format_duration(plan.refusal_cooldown_s), BLOCK if blocked else PASS,
                            "no refusal" if since is None else f"refused {_ago(since)} before"))
    if facts.rate_count is not None:
        cps = plan.calls_per_second if plan else 0
        checks.append(Check("rate", f"{cps} calls/s" if cps else "campaign", BLOCK if "rate_limit" in codes else PASS,
                            f"{facts.rate_count} call(s) of the campaign already in that second"))
    return checks


def _ago(ms: int) -> str:
    return format_duration(ms // 1000) if ms >= 1000 else f"{ms} ms"


async def why(trail: AuditTrail, number: str, *, region: str, archive_dir: Path | None = None,
              since: datetime | None = None, until: datetime | None = None) -> WhyReport:
    """The explained trail of ``number`` (as dialed in ``region``, or E.164) between two times."""
    wanted = trail.number_filter(number, region)
    since_ms = int(since.timestamp() * 1000) if since else None
    until_ms = int(until.timestamp() * 1000) if until else None
    return await Explainer(trail, archive_dir).why(wanted, since_ms, until_ms)


def first_zone(number: str, region: str) -> str | None:
    """The number's first time zone (``--on DATE`` is that day there), or None."""
    try:
        zones: Sequence[str] = normalize(number, region).time_zones
    except InvalidNumber:
        return None
    return zones[0] if zones else None
