"""Complaints, abandoned calls and data-subject requests on a real 3-master Redis Cluster: every write stays in
one slot (the ticket and its indexes in {complaints}; the lock-out, consent and attempts in the number's slot;
the campaign's counts in its own), so each works there as on one server."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from screener.config.settings import AbandonmentRule, Policy, Rules, Settings
from screener.decision import AnsweredCall, ScreenRequest
from screener.reasons import ReasonCode as R
from screener.service.complaints import ComplaintDesk, complaint_counts
from screener.service.consent import ConsentLedger
from screener.service.privacy import PrivacyDesk
from screener.service.screening import Screener, connect
from tests.conftest import StoreTopology
from tests.factories import StaticHolder, campaign, hours, make_settings

NUMBER = "+12125550190"


def settings() -> Settings:
    base = make_settings()
    ofcom = Policy("ofcom", Rules(hours=hours("00:00", "24:00")),
                   abandonment=AbandonmentRule(max_rate_percent=50.0, lockout_s=72 * 3600))
    return replace(base, policies={**base.policies, "ofcom": ofcom},
                   campaigns={**base.campaigns, "ofcom": campaign("ofcom", policy="ofcom")})


@pytest.mark.parametrize("topology", ["cluster"], indirect=True)
async def test_complaints_abandonment_and_erasure_on_a_cluster(topology: StoreTopology) -> None:
    s = Screener(StaticHolder(settings()), connect(topology.url, 2.0))  # type: ignore[arg-type]
    try:
        now = datetime.now(UTC)
        # an abandoned call: counted in the campaign's slot, the lock-out in the number's, read by decide.lua
        answered = now - timedelta(minutes=2)
        await s.record_answered_call(AnsweredCall(NUMBER, "ofcom", "c1", answered, "DONE",
                                                  answered + timedelta(seconds=6), None))
        assert len(s.spool) == 0
        d = await s.screen(ScreenRequest(dialed=NUMBER, campaign="ofcom", commit=False))
        assert R.ABANDONMENT_LIMIT in d.codes
        details = [r.detail for r in d.reasons if r.code is R.ABANDONMENT_LIMIT]
        assert any(x.startswith("campaign ofcom: 1 of 1") for x in details)  # the rate
        assert any(x.startswith("abandoned call") for x in details)  # the lock-out
        # a complaint: the opt-out path and the ticket with its indexes
        desk = ComplaintDesk(s)
        v = await desk.add(NUMBER, source="ftc", received=now, ref="FTC-9", now=now)
        assert [x.ticket.id for x in await desk.list(now=now)] == [v.ticket.id]
        assert (await complaint_counts(s.redis, now)).open == 1
        await desk.close(v.ticket.id, "blocked", now=now)
        # consent, then export and erasure of the number
        await ConsentLedger(s.redis, s.settings).grant(NUMBER, "open", source="form 3", purpose="sales")
        privacy = PrivacyDesk(s, actor="cli:test")
        record = await privacy.export(NUMBER)
        assert [d["list"] for d in record["dnc"]] == ["internal"] and record["consent"]
        assert record["abandoned_calls"] and record["complaints"]
        erased = await privacy.erase(NUMBER)
        assert erased.removed["consent_records"] == 1 and erased.removed["abandoned_calls"] == 1
        assert erased.removed["complaints_redacted"] == 1
        after = await privacy.export(NUMBER)
        assert after["consent"] == [] and after["abandoned_calls"] == [] and after["consent_history"] == []
    finally:
        await s.aclose()
