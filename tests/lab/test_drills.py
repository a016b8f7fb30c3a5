"""The fault drills (screener/lab/drills.py, bench/drills.py) as tests: a real ``screener serve`` under a
steady FastAGI load from a fake Asterisk peer, on real Redis topologies, one fault each. Whatever the fault:
no call hangs, no number that must be blocked is allowed, no opt-out acknowledged to a callee is lost
(``durability = "replica"``), and calls are allowed again afterwards without restarting the screener (but
for the drill that restarts it)."""

from __future__ import annotations

import math

import pytest

from screener.lab.drills import DRILLS, Drill, run_ari_drill, run_drill, table


@pytest.mark.timeout(240)
@pytest.mark.parametrize("drill", DRILLS, ids=[d.name for d in DRILLS])
async def test_drill(drill: Drill) -> None:
    result = await run_drill(drill, rate=15.0)
    print("\n" + table([result]))
    tally = result.tally
    assert len(tally.calls) > 50
    assert tally.count("hung") == 0
    assert tally.allowed_wrongly == 0
    assert sum(c.must_block for c in tally.calls) > 0  # redials of blocked numbers were made
    assert result.lost == [] and len(tally.acknowledged) > 0
    # the fault was felt (calls blocked for want of the store, or of the screener) and it recovered
    assert tally.count("unavailable") + tally.count("screener down") > 0
    assert not math.isnan(result.recovery_s)
    assert tally.calls[-1].outcome in ("allowed", "blocked")


@pytest.mark.timeout(240)
async def test_ari_websocket_dropped_mid_call() -> None:
    result = await run_ari_drill()
    print("\n" + table([result]))
    tally = result.tally
    assert len(tally.calls) == 60 and tally.count("hung") == 0 and tally.allowed_wrongly == 0
    assert sum(c.must_block for c in tally.calls) > 0
    assert result.lost == [] and len(tally.acknowledged) > 0
    assert tally.count("allowed") > 30 and not math.isnan(result.recovery_s)
