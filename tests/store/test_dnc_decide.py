"""The decision script (decide.lua) finds numbers in lists written by the importer and the opt-out path."""

from __future__ import annotations

import random
from pathlib import Path

import redis.asyncio as aioredis

from screener.engine.plan import DncCheck, StorePlan
from screener.reasons import ReasonCode
from screener.service.dnc import ImportOptions, import_file
from screener.store import dnc
from screener.store.decide import run_decision
from screener.store.scripts import Scripts


async def test_decide_lua_sees_every_representation(redis_client: aioredis.Redis, tmp_path: Path) -> None:
    rng = random.Random(41)
    dense = [2015550000 + s for s in rng.sample(range(10_000), 900)]  # a bitmap block
    medium = [2025550000 + s for s in rng.sample(range(10_000), 100)]  # a block intset
    sparse = [3055550123, 4155550123]  # tag sets
    path = tmp_path / "reg.txt"
    path.write_text("".join(f"{n}\n" for n in dense + medium + sparse))
    await import_file(redis_client, "reg", path, ImportOptions(grace_s=0))
    await dnc.add_numbers(redis_client, "internal", ["+16175550123"])
    plan = StorePlan(campaign="c", subject="s", dnc=(DncCheck("internal", ReasonCode.DNC_INTERNAL),
                                                     DncCheck("reg", ReasonCode.DNC_REGISTRY)))
    states = await dnc.read_list_states(redis_client, ["internal", "reg"])
    versions = {name: state.version for name, state in states.items()}
    scripts = Scripts(redis_client)

    async def hits(e164: str) -> tuple[str, ...]:
        outcome = await run_decision(scripts, plan, e164, versions, now_ms=1_800_000_000_000, server_time=False,
                                     commit=False, pre_block=False, attempt_id="t", audit_fields={}, audit_maxlen=100)
        return outcome.facts.dnc_hits

    for n in (dense[0], dense[-1], medium[0], *sparse):
        assert await hits(f"+1{n}") == ("reg",), n
    assert await hits("+16175550123") == ("internal",)
    listed = set(dense + medium + sparse)
    for n in (dense[0] + 1, medium[0] + 1, 3055550124, 4155550122, 2125550123):
        if n not in listed:
            assert await hits(f"+1{n}") == (), n
