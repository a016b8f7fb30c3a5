"""Run the store part of a decision (decide.lua) and turn its reply into facts."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from functools import lru_cache

from screener.decision import Reason
from screener.engine.facts import Attempt, StoreFacts
from screener.engine.plan import StorePlan
from screener.reasons import ReasonCode
from screener.store import audit, keys
from screener.store.audit_chain import client_digest
from screener.store.client import text
from screener.store.scripts import Connections, Script, Scripts

_DECIDE = Script("decide")


async def prepare(scripts: Scripts) -> None:
    """Open the hot path's connection and load decide.lua, before the first decision needs them (one server or a
    Sentinel master; a Redis Cluster's connections open, and load the script, as its decisions come)."""
    connections = scripts.connections
    if isinstance(connections, Connections):
        await connections.connect()
        await _DECIDE.load(connections)


@dataclass(frozen=True)
class StoreOutcome:
    facts: StoreFacts
    #: True when the script reserved the attempt (live decision, nothing blocked)
    reserved: bool
    #: the reasons the script found (same rules as screener.engine evaluate())
    reasons: tuple[Reason, ...]
    audit_id: str
    #: the decision time the script used (epoch ms): the given one, or the Redis server's clock
    now_ms: int



def parse_attempt(member: str) -> Attempt | None:
    parts = member.split("|", 3)
    if len(parts) < 4 or not parts[0].isdigit():
        return None
    return Attempt(at_ms=int(parts[0]), campaign=parts[1], subject=parts[2])


def parse_reason(raw: str) -> Reason:
    code, _, detail = raw.partition("|")
    return Reason(ReasonCode(code), detail)


def encode_reasons(reasons: tuple[Reason, ...] | list[Reason]) -> str:
    """The reasons as an audit entry's field (``screener.store.audit.encode_reasons``: any detail survives)."""
    return audit.encode_reasons((r.code.value, r.detail) for r in reasons)


@lru_cache(maxsize=4096)
def plan_json(plan: StorePlan) -> str:
    """The plan as decide.lua reads it (ARGV[5]); the same for every number of a campaign and state."""
    return json.dumps({
        "c": plan.campaign, "s": plan.subject, "p": plan.consent_purpose or "",
        "cr": int(plan.consent_required), "mi": plan.min_interval_s * 1000, "cd": plan.refusal_cooldown_s * 1000,
        "cps": plan.calls_per_second, "ret": keys.ATTEMPT_RETENTION_S * 1000,
        "cc": plan.max_concurrent_calls, "cl": plan.call_lease_ms,
        "dnc": [[c.list_name, c.code.value, int(c.exempt_by_consent)] for c in plan.dnc],
        "f": [[f.scope.value, f.window_s * 1000, f.max_calls, f.detail or f"{f.max_calls} per {f.window_s}s"]
              for f in plan.frequency],
        "lo": plan.abandon_lockout_s * 1000, "lod": plan.abandon_lockout_detail,
    }, separators=(",", ":"))


def plan_in_slot(scripts: Scripts, plan: StorePlan) -> StorePlan:
    """The plan decide.lua runs: on a Redis Cluster without the campaign's limits, whose counters are in the
    campaign's slot, not the number's (the screener's ``CampaignAllowance`` counts them there)."""
    if scripts.cluster and (plan.calls_per_second or plan.max_concurrent_calls):
        return replace(plan, calls_per_second=0, max_concurrent_calls=0)
    return plan


async def run_decision(
    scripts: Scripts,
    plan: StorePlan,
    e164: str,
    list_versions: Mapping[str, str],
    *,
    now_ms: int,
    server_time: bool,
    commit: bool,
    pre_block: bool,
    attempt_id: str,
    audit_fields: Mapping[str, str],
    audit_maxlen: int,
    call_id: str = "",
    time_left_s: float | None = None,
) -> StoreOutcome:
    """One EVALSHA: read the facts, reserve the attempt when allowed, append the audit entry to the stream of
    the number's group (registered by the caller), extending its chain.

    ``server_time``: decide at the Redis server's "now" (live decisions) instead of ``now_ms``.
    ``audit_maxlen``: at this stream length the call is blocked (``screening_unavailable``) and nothing is
    appended; ``audit_id`` is then "". ``call_id``: the member that counts the call among the campaign's calls in
    progress (released by ``campaign_limits.call_ended``). On a Redis Cluster every key is in the number's slot
    (the audit stream and its head included): give the plan ``plan_in_slot`` made. ``time_left_s``: how long the
    caller waits for the reply; a script that Redis runs later than that (by the server's clock) changes nothing
    (no attempt, no audit entry, no chain head) and fails with EXPIRED.
    """
    in_slot = scripts.cluster
    if in_slot and (plan.calls_per_second or plan.max_concurrent_calls):
        raise ValueError("a Cluster decision counts no campaign limit in its script: use plan_in_slot()")
    attempts_key, consent_key, refusal_key, block, tag_suffix, block_suffix = keys.number_keys(e164)
    keys_ = [
        attempts_key,
        consent_key,
        refusal_key,
        keys.slot_unused_key(e164) if in_slot else keys.rate_key(plan.campaign),
        *audit.stream_keys(keys.audit_group(e164)),
    ]
    tag = keys.number_tag(e164)
    for check in plan.dnc:
        tag_key = keys.dnc_tag_set_key(check.list_name, list_versions.get(check.list_name, "0"), tag)
        keys_ += [tag_key, keys.dnc_tag_block_key(tag_key, block), keys.dnc_freed_key(tag_key)]
    keys_.append(keys.abandoned_key(e164))  # right after the DNC keys: decide.lua reads KEYS[7 + 3 * #dnc]
    expiry = None if time_left_s is None else scripts.clock.expiry_ms(time_left_s)
    args = ["" if server_time else now_ms, "1" if commit else "0", "1" if pre_block else "0", attempt_id,
            plan_json(plan), tag_suffix, block_suffix, audit_maxlen,
            audit.fields_json(audit_fields), client_digest(audit_fields.items())]
    # always the last three arguments: the expiry ("" = none), the calls key's index in KEYS (0: none), the
    # call's id
    args.append("" if expiry is None else expiry)
    if plan.max_concurrent_calls:
        keys_.append(keys.calls_key(plan.campaign))
        args += [len(keys_), call_id]
    else:
        args += [0, ""]
    sent_ms = time.time() * 1000
    reply = await _DECIDE(scripts.connections, keys_, args)
    (hits, consent_valid, attempts, refusal, rate_count, reserved, reasons, audit_id, _store_ok, used_ms, gone,
     in_flight, abandoned) = reply
    if server_time:
        scripts.clock.observe(int(used_ms), sent_ms)
    parsed = [parse_attempt(text(m)) for m in attempts]
    refusal_text = text(refusal)
    abandoned_text = text(abandoned)
    facts = StoreFacts(
        dnc_hits=tuple(text(h) for h in hits),
        dnc_gone=tuple(text(g) for g in gone),
        consent_valid=bool(consent_valid),
        attempts=tuple(a for a in parsed if a is not None),
        last_refusal_ms=int(refusal_text) if refusal_text.isdigit() else None,
        rate_count=int(rate_count),
        last_abandoned_ms=int(abandoned_text) if abandoned_text.isdigit() else None,
        calls_in_flight=int(in_flight),
    )
    return StoreOutcome(
        facts=facts,
        reserved=bool(reserved),
        reasons=tuple(parse_reason(text(r)) for r in reasons),
        audit_id=text(audit_id),
        now_ms=int(used_ms),
    )
