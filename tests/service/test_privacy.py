"""Data-subject requests against a real redis-server: the export holds every record about the number, the
erasure removes what is not needed and keeps the suppression entry, open complaints and the audit trail."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
import redis.asyncio as aioredis

from screener.config.settings import AbandonmentRule, Policy, Rules, Settings
from screener.decision import AnsweredCall, ScreenRequest
from screener.embedded_redis import EmbeddedRedis
from screener.reasons import ReasonCode as R
from screener.service.complaints import ComplaintDesk
from screener.service.consent import ConsentLedger
from screener.service.privacy import PrivacyDesk
from screener.service.screening import Screener, connect
from screener.store import audit, dnc, keys
from tests.factories import StaticHolder, campaign, hours, make_settings

NUMBER = "+12125550177"
OTHER = "+12125550178"


def settings() -> Settings:
    base = make_settings()
    ofcom = Policy("ofcom", Rules(hours=hours("00:00", "24:00")), abandonment=AbandonmentRule(lockout_s=72 * 3600))
    return replace(base, policies={**base.policies, "ofcom": ofcom},
                   campaigns={**base.campaigns, "ofcom": campaign("ofcom", policy="ofcom")})


@pytest.fixture
async def screener(redis_server: EmbeddedRedis, redis_client: aioredis.Redis) -> AsyncIterator[Screener]:
    s = Screener(StaticHolder(settings()), connect(redis_server.url, 1.0))  # type: ignore[arg-type]
    yield s
    await s.aclose()


async def history_of(s: Screener, number: str) -> None:
    """A life in the screener: consent, calls, an abandoned call, complaints, an opt-out."""
    now = datetime.now(UTC)
    ledger = ConsentLedger(s.redis, s.settings)
    await ledger.grant(number, "consent", source="web form 12", text_version="v3", channel="web")
    await ledger.revoke(number, "consent")
    await ledger.grant(number, "open", source="call 99", purpose="sales")
    assert (await s.screen(ScreenRequest(dialed=number, campaign="open"))).verdict.value == "allow"
    answered = now - timedelta(minutes=5)
    await s.record_answered_call(AnsweredCall(number, "ofcom", "c1", answered, "DONE",
                                              answered + timedelta(seconds=6), None))
    desk = ComplaintDesk(s)
    closed = await desk.add(number, source="ftc", received=now - timedelta(days=2), ref="FTC-7",
                            text="my name is Jane Doe", now=now)
    await desk.close(closed.ticket.id, "blocked", now=now)
    await desk.add(number, source="internal", received=now, text="called twice", now=now)
    await s.opt_out(number, "open", source="fastagi-disclose", call_id="c2")


async def test_the_export_holds_every_record_about_the_number_and_nothing_of_others(
        screener: Screener, redis_client: aioredis.Redis) -> None:
    await history_of(screener, NUMBER)
    await screener.opt_out(OTHER, "open", source="other")

    record = await PrivacyDesk(screener).export("(212) 555-0177")
    json.dumps(record)  # JSON all the way
    assert record["number"] == NUMBER
    [internal] = record["dnc"]
    assert (internal["list"], internal["kind"]) == ("internal", "internal")
    assert [o["source"] for o in internal["opt_outs"]] == ["complaint ftc FTC-7", "complaint internal",
                                                          "fastagi-disclose"]
    assert sorted((c["purpose"], c["revoked_ms"] > 0) for c in record["consent"]) == [
        ("sales", False), ("service", True)]
    assert [h["action"] for h in record["consent_history"]] == ["grant", "revoke", "grant"]
    assert [(a["campaign"], a["subject"]) for a in record["attempts"]] == [("open", "sales")]
    assert record["last_refusal_at"] is not None
    assert [a["campaign"] for a in record["abandoned_calls"]] == ["ofcom"]
    assert sorted(c["status"] for c in record["complaints"]) == ["closed", "open"]
    assert any(c["text"] == "my name is Jane Doe" for c in record["complaints"])
    kinds = [e["kind"] for e in record["audit"]]
    assert {"decision", "call_outcome", "complaint", "opt_out"} <= set(kinds)
    assert OTHER not in json.dumps(record)
    # the request itself is recorded
    [entry] = [e for e in await audit.tail(redis_client, 5) if e.kind == "privacy"]
    assert entry.fields["action"] == "export" and NUMBER not in str(entry.fields)


async def test_the_erasure_keeps_the_suppression_open_complaints_and_the_trail_and_removes_the_rest(
        screener: Screener, redis_client: aioredis.Redis) -> None:
    await history_of(screener, NUMBER)
    await history_of(screener, OTHER)
    desk = PrivacyDesk(screener)

    result = await PrivacyDesk(screener, actor="cli:dpo").erase(NUMBER)

    assert result.removed == {"consent_records": 2, "attempts": 1, "refusals": 1, "abandoned_calls": 1,
                              "consent_history": 3, "complaints_redacted": 1}
    kept = [what for what, _ in result.kept]
    assert kept[0] == "the number on the internal DNC list 'internal'"
    assert any(w.startswith("open complaint CMP-") for w in kept) and any("audit-trail entries" in w for w in kept)
    # never called again; the suppression is a DNC change like any other, with its actor
    assert await dnc.contains(redis_client, "internal", NUMBER)
    changes = [e.fields for e in await audit.tail(redis_client, 20) if e.kind == "dnc_change"]
    assert any(c["actor"] == "cli:dpo" and c["list"] == "internal" and "Art. 17" in c["source"] for c in changes)
    d = await screener.screen(ScreenRequest(dialed=NUMBER, campaign="open", commit=False))
    assert d.codes == (R.DNC_INTERNAL,)
    # nothing left in the number's own keys; the closed complaint keeps only the masked number
    for key in (keys.attempts_key(NUMBER), keys.consent_key(NUMBER), keys.refusal_key(NUMBER),
                keys.abandoned_key(NUMBER)):
        assert not await redis_client.exists(key), key
    after = await desk.export(NUMBER)
    assert (after["consent"], after["consent_history"], after["attempts"], after["abandoned_calls"]) == (
        [], [], [], [])
    assert after["last_refusal_at"] is None
    closed = next(c for c in after["complaints"] if c["status"] == "closed")
    assert closed["number"] != NUMBER and closed["text"] == "" and closed["erased"] is True
    assert "Jane Doe" not in json.dumps(after)
    still_open = next(c for c in after["complaints"] if c["status"] == "open")
    assert still_open["number"] == NUMBER and still_open["text"] == "called twice"
    # the other number is untouched
    other = await desk.export(OTHER)
    assert len(other["consent"]) == 2 and len(other["consent_history"]) == 3 and other["attempts"]
    # the erasure is in the trail, with what it removed
    erasures = [e for e in await audit.tail(redis_client, 10) if e.kind == "privacy" and e.fields["action"] == "erase"]
    assert len(erasures) == 1 and "consent_records=2" in erasures[0].fields["removed"]
    # erasing again finds nothing more to remove and still keeps the suppression
    again = await desk.erase(NUMBER)
    assert set(again.removed.values()) == {0}
