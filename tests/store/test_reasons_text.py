"""An audit entry's reasons field survives any detail (``;``, ``|``, ``%``, non-ASCII): written by Python
(``store.audit.encode_reasons``) and by the decision script (``lua/lib_reasons.lua``) alike, read back by
``decode_reasons`` (``audit tail``, ``audit export``). Real redis-server for the Lua side."""

from __future__ import annotations

import redis.asyncio as aioredis

from screener.config.settings import FrequencyScope
from screener.decision import Reason
from screener.engine.plan import FrequencyCheck, StorePlan
from screener.reasons import ReasonCode
from screener.store import audit, keys
from screener.store.audit import decode_reasons, encode_reasons
from screener.store.decide import encode_reasons as encode_decision_reasons
from screener.store.decide import run_decision
from screener.store.scripts import Scripts, script_source

DETAILS = ["3 per 24h; FL: F.S. 501.616(6)", "a|b||c", "100% sure; 50%3B %7C %25", "免打扰;名单|内部 ✓",
           "", ";", "|", "%", "%%3B;;||", "trailing %"]


def test_any_detail_survives_the_python_round_trip() -> None:
    pairs = [("frequency_limit", d) for d in DETAILS] + [("dnc_internal", "internal")]
    text = encode_reasons(pairs)
    assert decode_reasons(text) == pairs
    reasons = (Reason(ReasonCode.QUIET_HOURS, DETAILS[0]), Reason(ReasonCode.HOLIDAY, DETAILS[3]))
    assert decode_reasons(encode_decision_reasons(reasons)) == [(r.code.value, r.detail) for r in reasons]


def test_an_old_entry_without_escapes_still_reads() -> None:
    assert decode_reasons("dnc_internal|internal;quiet_hours|12:00-14:00") == [("dnc_internal", "internal"),
                                                                               ("quiet_hours", "12:00-14:00")]


async def test_lua_writes_the_same_text_as_python(redis_client: aioredis.Redis) -> None:
    lib = script_source("decide").split("\n-- decide.lua", 1)[0]  # the lib files the decision script uses
    assert "reason_encode" in lib
    for detail in DETAILS:
        lua = await redis_client.eval(lib + "\nreturn reason_encode(ARGV[1])", 0, f"frequency_limit|{detail}")
        assert lua.decode() == encode_reasons([("frequency_limit", detail)])
        assert decode_reasons(lua.decode()) == [("frequency_limit", detail)]


async def test_a_decision_whose_details_hold_separators_reads_back_whole(redis_client: aioredis.Redis) -> None:
    limits = tuple(FrequencyCheck(FrequencyScope.ANY, 3600, 1, detail) for detail in DETAILS[:4])
    plan = StorePlan(campaign="c", subject="s", frequency=limits)
    e164 = "+12025550123"
    await audit.AuditGroups().ensure(redis_client, keys.audit_group(e164))  # as the screener does before deciding
    await redis_client.zadd(keys.attempts_key(e164), {"1799999990000|c|s|x": 1_799_999_990_000})
    outcome = await run_decision(Scripts(redis_client), plan, e164, {}, now_ms=1_800_000_000_000, server_time=False,
                                 commit=False, pre_block=False, attempt_id="t", audit_maxlen=100,
                                 audit_fields={"kind": "decision", "pre_reasons": encode_reasons([("holiday", "a;b")])})
    assert [r.detail for r in outcome.reasons] == DETAILS[:4]
    (entry,) = await audit.tail(redis_client, 1)
    assert entry.reasons == [("holiday", "a;b"), *(("frequency_limit", d) for d in DETAILS[:4])]
