"""Complaint intake against a real redis-server and the real calendar: the number goes on the internal DNC list
at once (the opt-out path), the ticket's deadlines count China's working days around National Day and the
Spring Festival 2026 with their make-up working days, overdue tickets are found, every action is audited."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import redis.asyncio as aioredis

from screener.config.settings import ComplaintSource, Settings
from screener.decision import ScreenRequest
from screener.embedded_redis import EmbeddedRedis
from screener.reasons import ReasonCode as R
from screener.service.audit_fields import number_hash
from screener.service.complaints import ComplaintDesk, ComplaintNotOpened, complaint_counts
from screener.service.errors import InvalidInput, NotFound
from screener.service.screening import Screener, connect
from screener.service.spool import Spool
from screener.store import audit, dnc
from tests.factories import StaticHolder, campaign, make_settings

SHANGHAI = ZoneInfo("Asia/Shanghai")
CN_NUMBER = "+8613800138000"


def settings() -> Settings:
    base = make_settings()
    sources = {**base.complaint_sources,
               "partner": ComplaintSource("partner", (("reply", 2),), country="GB", time_zone="Europe/London")}
    return replace(base, complaint_sources=sources, campaigns={**base.campaigns, "cn": campaign(
        "cn", region="CN", policy="cn", consent_purpose="service", caller_id="+861012345678")})


@pytest.fixture
async def desk(redis_server: EmbeddedRedis, redis_client: aioredis.Redis) -> AsyncIterator[ComplaintDesk]:
    s = Screener(StaticHolder(settings()), connect(redis_server.url, 1.0))  # type: ignore[arg-type]
    yield ComplaintDesk(s)
    await s.aclose()


async def test_a_12321_complaint_blocks_the_number_at_once_and_counts_national_day_2026(
        desk: ComplaintDesk, redis_client: aioredis.Redis) -> None:
    received = datetime(2026, 9, 29, 10, 0, tzinfo=SHANGHAI)
    now = datetime(2026, 9, 29, 11, 0, tzinfo=SHANGHAI)
    v = await desk.add("13800138000", source="12321", received=received, ref="12321-2026-0929-77",
                       text="called at lunch", campaign="cn", now=now)
    t = v.ticket
    assert t.id.startswith("CMP-") and t.number == CN_NUMBER and t.dnc == "listed"
    assert (t.country, t.time_zone) == ("CN", "Asia/Shanghai")
    # forward: 30 Sep, (1-7 Oct off), 8, 9 Oct; reply: 15 from 9 Oct with Saturday 10 Oct a make-up working
    # day; answer: 3 from 29 Oct
    assert [(s.name, s.working_days, s.due_date) for s in v.stages] == [
        ("forward", 3, date(2026, 10, 9)), ("reply", 15, date(2026, 10, 29)), ("answer", 3, date(2026, 11, 3))]
    assert v.stages[0].due_at == datetime(2026, 10, 10, 0, 0, tzinfo=SHANGHAI)
    assert [s.state for s in v.stages] == ["due", "due", "due"] and not v.overdue
    # on the internal list before add() returned, and every campaign blocks it
    assert await dnc.contains(redis_client, "internal", CN_NUMBER)
    decision = await desk.screener.screen(ScreenRequest(dialed=CN_NUMBER, campaign="open", commit=False))
    assert R.DNC_INTERNAL in decision.codes
    # audited: the opt-out (as a key press would be) and the ticket, neither with the number in clear
    entries = [e for e in await audit.tail(redis_client, 10) if e.kind in ("opt_out", "complaint")]
    assert [(e.kind, e.fields.get("action", "")) for e in entries] == [("opt_out", ""), ("complaint", "open")]
    assert entries[0].fields["source"] == "complaint 12321 12321-2026-0929-77"
    assert entries[1].fields["ticket"] == t.id and entries[1].fields["complaint_source"] == "12321"
    assert all(CN_NUMBER not in str(e.fields) and "called at lunch" not in str(e.fields) for e in entries)
    assert entries[1].fields["number_hash"] == number_hash(CN_NUMBER, "test-salt")


async def test_spring_festival_2026_and_the_overdue_tickets(desk: ComplaintDesk) -> None:
    received = datetime(2026, 2, 12, 16, 30, tzinfo=SHANGHAI)  # Thursday
    v = await desk.add(CN_NUMBER, source="12321", received=received, now=received)
    # forward: Fri 13, Sat 14 (make-up working day), (15-23 off), Tue 24
    assert v.stages[0].due_date == date(2026, 2, 24)
    # still due on the last evening of the break; overdue from midnight after the 24th
    on_time = datetime(2026, 2, 24, 23, 59, tzinfo=SHANGHAI)
    late = datetime(2026, 2, 25, 0, 0, tzinfo=SHANGHAI)
    assert [x.ticket.id for x in await desk.list(overdue=True, now=on_time)] == []
    [overdue] = await desk.list(overdue=True, now=late)
    assert overdue.ticket.id == v.ticket.id and overdue.overdue and overdue.stages[0].state == "overdue"
    counts = await complaint_counts(desk.redis, late)
    assert (counts.open, counts.overdue) == (1, 1)
    assert (await complaint_counts(desk.redis, on_time)).overdue == 0
    # due within 2 days on the 23rd (the forward deadline ends at midnight after the 24th): listed
    feb23 = datetime(2026, 2, 23, 9, 0, tzinfo=SHANGHAI)
    assert [x.ticket.id for x in await desk.list(due_within=timedelta(days=2), now=feb23)] == [v.ticket.id]
    assert await desk.list(due_within=timedelta(hours=12), now=feb23) == []


async def test_stages_done_move_the_next_deadlines_and_closing_ends_the_overdue(
        desk: ComplaintDesk, redis_client: aioredis.Redis) -> None:
    received = datetime(2026, 9, 29, 10, 0, tzinfo=SHANGHAI)
    v = await desk.add(CN_NUMBER, source="12321", received=received, now=received)
    forwarded = datetime(2026, 9, 30, 9, 0, tzinfo=SHANGHAI)
    v = await desk.done(v.ticket.id, "forward", at=forwarded, note="sent to the carrier", now=forwarded)
    # 15 working days from 30 Sep: 8, 9, 10 (make-up), 12-16, 19-23, 26, 27 Oct
    assert [(s.name, s.state, s.due_date) for s in v.stages] == [
        ("forward", "done", date(2026, 10, 9)), ("reply", "due", date(2026, 10, 27)),
        ("answer", "due", date(2026, 10, 30))]
    with pytest.raises(InvalidInput, match="already done"):
        await desk.done(v.ticket.id, "forward", now=forwarded)
    with pytest.raises(InvalidInput, match="no stage 'escalate'"):
        await desk.done(v.ticket.id, "escalate", now=forwarded)
    after = datetime(2026, 10, 28, 9, 0, tzinfo=SHANGHAI)
    assert [x.ticket.id for x in await desk.list(overdue=True, now=after)] == [v.ticket.id]
    closed = await desk.close(v.ticket.id, "replied by letter; number blocked", now=after)
    assert closed.ticket.status == "closed" and not closed.overdue
    assert await desk.list(overdue=True, now=after) == []
    assert [x.ticket.id for x in await desk.list(closed=True, now=after)] == [v.ticket.id]
    with pytest.raises(InvalidInput, match="already closed"):
        await desk.close(v.ticket.id, "again", now=after)
    actions = [e.fields["action"] for e in await audit.tail(redis_client, 20) if e.kind == "complaint"]
    assert actions == ["open", "stage_done", "close"]
    # show: the ticket and the number's trail, found by its hash
    entries = await desk.entries(closed.ticket)
    assert {e.kind for e in entries} >= {"opt_out", "complaint"}


async def test_sources_calendars_and_bad_input(desk: ComplaintDesk) -> None:
    now = datetime(2026, 11, 25, 15, 0, tzinfo=UTC)
    # ftc: 10 US business days, Thanksgiving (26 Nov) off: 27, 30 Nov, 1-4, 7-10 Dec
    v = await desk.add("+12125550199", source="ftc", received=now, ref="FTC-1", now=now)
    assert v.stages[0].due_date == date(2026, 12, 10) and v.ticket.time_zone == "America/New_York"
    # internal: the number's own country (Great Britain) and zone
    v = await desk.add("+442079460000", source="internal", received=now, now=now)
    assert (v.ticket.country, v.ticket.time_zone) == ("GB", "Europe/London")
    # a source from the config
    v = await desk.add("+12125550198", source="partner", received=now, now=now)
    assert [(s.name, s.working_days) for s in v.stages] == [("reply", 2)]
    with pytest.raises(InvalidInput, match=r"unknown complaint source 'fcc'.*12321, ftc, internal, ofcom, partner"):
        await desk.add("+12125550197", source="fcc", received=now, now=now)
    with pytest.raises(InvalidInput, match="in the future"):
        await desk.add("+12125550197", source="ftc", received=now + timedelta(hours=1), now=now)
    with pytest.raises(InvalidInput, match="invalid number"):
        await desk.add("12", source="ftc", received=now, now=now)
    with pytest.raises(InvalidInput, match="emergency"):
        await desk.add("911", source="ftc", received=now, now=now)
    with pytest.raises(NotFound):
        await desk.get("CMP-999999")


async def test_redis_down_the_complaint_waits_in_the_spool_and_no_ticket_is_opened(
        private_redis: EmbeddedRedis, tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool", name="cli-test")
    s = Screener(StaticHolder(settings()), connect(private_redis.url, 0.3), spool=spool)  # type: ignore[arg-type]
    desk = ComplaintDesk(s)
    now = datetime.now(UTC)
    try:
        private_redis.pause()
        try:
            with pytest.raises(ComplaintNotOpened, match=r"NOT opened.*waits in the spool"):
                await desk.add("+12125550196", source="ftc", received=now, now=now)
        finally:
            private_redis.resume()
        # the opt-out lands when the spool is flushed; the ticket is opened by running the command again
        assert await s.flush_pending() == 1
        client = aioredis.Redis.from_url(private_redis.url)
        try:
            assert await dnc.contains(client, "internal", "+12125550196")
        finally:
            await client.aclose()
        assert await desk.list(now=now) == []
        v = await desk.add("+12125550196", source="ftc", received=now, now=now)
        assert [x.ticket.id for x in await desk.list(now=now)] == [v.ticket.id]
    finally:
        await s.aclose()
