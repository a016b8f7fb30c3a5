"""The Stasis application's call state machine against the fake ARI server (a fake Screener decides)."""

from __future__ import annotations

import asyncio
import logging

import pytest

from screener.ari import Outcome
from screener.logs import JsonFormatter
from tests.ari.conftest import Running
from tests.ari.fake_ari import FakeChannel
from tests.factories import lab_prompt


def _no_leftovers(run: Running) -> None:
    assert run.fake.channels == {}, "channels left behind"
    assert run.fake.bridges == {}, "bridges left behind"


async def test_a_blocked_call_hears_not_permitted_and_ends_with_cause_21_and_nothing_is_dialed(
        running: Running) -> None:
    running.screener.blocked.add("+12125550102")
    await running.call("agent-1", "12125550102")
    await running.settle()

    fake = running.fake
    assert running.app.outcomes["agent-1"] is Outcome.BLOCKED
    assert fake.made("POST", "channels/create") == []
    play = fake.made("POST", "channels/agent-1/play")[0]
    assert play.query["media"] == "sound:custom/screener/blocked-en"
    assert fake.index("POST", "channels/agent-1/progress") < fake.index("POST", "channels/agent-1/play")
    hangup = fake.made("DELETE", "channels/agent-1")[0]
    assert hangup.query == {"reason_code": "21"}
    assert fake.made("POST", "channels/agent-1/answer") == []
    request = running.screener.requests[0]
    assert (request.dialed, request.campaign, request.source, request.call_id, request.trunk) == (
        "12125550102", "lab", "ari", "agent-1", "carrier")
    _no_leftovers(running)


async def test_an_allowed_call_is_dialed_disclosed_to_the_callee_only_then_bridged(running: Running) -> None:
    await running.call("agent-1", "12125550101")
    fake = running.fake
    async with asyncio.timeout(5):
        while not fake.bridges or len(next(iter(fake.bridges.values()))) < 2:
            await asyncio.sleep(0.01)

    create = fake.made("POST", "channels/create")[0]
    callee = create.query["channelId"]
    assert create.query["endpoint"] == "PJSIP/+12125550101@carrier"
    assert create.body["variables"]["CONNECTEDLINE(num,i)"] == "+12025550144"
    # the order: create, ring the agent, dial; the disclosure to the callee; then bridge, answer the agent
    order = [fake.index("POST", "channels/create"), fake.index("POST", "channels/agent-1/ring"),
             fake.index("POST", f"channels/{callee}/dial"), fake.index("POST", f"channels/{callee}/play"),
             fake.index("POST", "bridges"), fake.index("POST", "channels/agent-1/answer")]
    assert order == sorted(order)
    assert fake.made("POST", f"channels/{callee}/play")[0].query["media"] == f"sound:{lab_prompt()}"
    assert fake.made("POST", "channels/agent-1/play") == []  # the agent hears nothing of it
    assert sorted(next(iter(fake.bridges.values()))) == sorted(["agent-1", callee])
    evidence = running.screener.disclosures
    assert len(evidence) == 1 and evidence[0].prompt_finished and not evidence[0].opted_out
    assert evidence[0].answer_to_prompt_ms is not None and evidence[0].source == "ari"

    await fake.far_end_hangup(callee)  # the callee ends the conversation
    await running.settle()
    assert running.app.outcomes["agent-1"] is Outcome.BRIDGED
    # the answered call is reported once: handed over after the disclosure, then connected to the agent
    [answered] = running.screener.answered_calls
    assert (answered.number, answered.campaign, answered.call_id, answered.disclosure, answered.source) == (
        "+12125550101", "lab", "agent-1", "DONE", "ari")
    assert answered.handed_over_at is not None and answered.connected_at is not None
    assert answered.answered_at <= answered.handed_over_at <= answered.connected_at
    _no_leftovers(running)


async def test_an_emergency_number_is_dialed_and_bridged_without_a_disclosure(running: Running) -> None:
    await running.call("agent-1", "911")
    fake = running.fake
    async with asyncio.timeout(5):
        while not fake.bridges or len(next(iter(fake.bridges.values()))) < 2:
            await asyncio.sleep(0.01)

    create = fake.made("POST", "channels/create")[0]
    callee = create.query["channelId"]
    assert create.query["endpoint"] == "PJSIP/911@carrier"
    assert fake.made("POST", f"channels/{callee}/play") == []  # no disclosure to the emergency service
    assert running.screener.disclosures == []
    await fake.far_end_hangup(callee)
    await running.settle()
    assert running.app.outcomes["agent-1"] is Outcome.BRIDGED
    assert running.screener.answered_calls == []  # an emergency call is no telemarketing call: not counted
    _no_leftovers(running)


async def test_the_callee_channel_is_known_before_its_create_request_returns(running: Running) -> None:
    # the fake emits the callee's StasisStart before answering POST /channels/create: the app must route it
    # to the call (not start a new call for it, which would screen it and hang it up)
    await running.call("agent-1")
    async with asyncio.timeout(5):
        while not running.fake.bridges:
            await asyncio.sleep(0.01)
    assert len(running.screener.requests) == 1
    callee = running.fake.made("POST", "channels/create")[0].query["channelId"]
    assert running.fake.made("DELETE", f"channels/{callee}") == []
    await running.fake.far_end_hangup("agent-1")
    await running.settle()
    _no_leftovers(running)


async def test_the_opt_out_digit_is_acknowledged_by_the_store_first_then_confirmed_then_both_legs_end(
        running: Running) -> None:
    fake = running.fake
    fake.playback_s = None  # the disclosure is still playing when the callee presses 9
    await running.call("agent-1", "12125550105")
    async with asyncio.timeout(5):
        while not fake.made("POST", "channels/screener-callee"):
            await asyncio.sleep(0.01)
        while not [r for r in fake.made("POST", "channels/screener-callee") if r.path.endswith("/play")]:
            await asyncio.sleep(0.01)
    callee = fake.made("POST", "channels/create")[0].query["channelId"]
    plays_at_ack: list[list[str]] = []
    running.screener.on_ack = lambda: plays_at_ack.append(
        [p.query["media"] for p in fake.made("POST", f"channels/{callee}/play")])
    await fake.dtmf(callee, "1")  # not the opt-out digit: ignored
    await fake.dtmf(callee, "9")
    await running.settle()

    assert running.app.outcomes["agent-1"] is Outcome.OPTED_OUT
    assert running.screener.opt_outs == [("+12125550105", "lab", "ari", "agent-1")]
    plays = fake.made("POST", f"channels/{callee}/play")
    assert [p.query["media"] for p in plays] == [f"sound:{lab_prompt()}", "sound:custom/screener/optout-en"]
    # the confirmation was asked for only after the store acknowledged: at the ack only the disclosure played
    assert plays_at_ack == [[f"sound:{lab_prompt()}"]]
    assert running.screener.log == ["opt_out", "opt_out acknowledged", "record_disclosure", "record_answered_call",
                                    "call_ended"]
    assert [c.disclosure for c in running.screener.answered_calls] == ["OPTOUT"]
    assert running.screener.ended == [("agent-1", "lab")]  # no longer counted among the campaign's calls
    assert fake.made("POST", "bridges") == [] and fake.made("POST", "channels/agent-1/answer") == []
    assert fake.made("DELETE", f"playbacks/{plays[0].query['playbackId']}")
    evidence = running.screener.disclosures
    assert len(evidence) == 1 and evidence[0].opted_out and not evidence[0].prompt_finished
    _no_leftovers(running)


async def test_an_opt_out_the_store_cannot_acknowledge_still_ends_the_call_unbridged(running: Running) -> None:
    running.screener.fail_opt_out = True
    running.fake.playback_s = None
    await running.call("agent-1", "12125550105")
    async with asyncio.timeout(5):
        while not [r for r in running.fake.made("POST", "channels/screener-callee") if r.path.endswith("/play")]:
            await asyncio.sleep(0.01)
    callee = running.fake.made("POST", "channels/create")[0].query["channelId"]
    await running.fake.dtmf(callee, "9")
    await running.settle()
    assert running.app.outcomes["agent-1"] is Outcome.OPTED_OUT
    assert running.fake.made("POST", "bridges") == []
    # the callee is not told "you will not be called again": it was not recorded
    plays = [p.query["media"] for p in running.fake.made("POST", f"channels/{callee}/play")]
    assert plays == [f"sound:{lab_prompt()}"]
    _no_leftovers(running)


async def test_a_busy_callee_gives_the_agent_busy_and_leaves_nothing_behind(running: Running) -> None:
    running.fake.callee = "busy"
    await running.call("agent-1", "12125550104")
    await running.settle()
    assert running.app.outcomes["agent-1"] is Outcome.BUSY
    assert running.fake.made("DELETE", "channels/agent-1")[0].query == {"reason": "busy"}
    assert running.fake.made("POST", "bridges") == []
    assert running.screener.answered_calls == []  # never answered: nothing to count
    assert running.screener.requests[0].commit  # the attempt was reserved by screen()
    _no_leftovers(running)


async def test_no_answer_within_the_ring_timeout_ends_both_legs(running: Running) -> None:
    running.fake.callee = "noanswer"
    await running.call("agent-1", "12125550107")
    await running.settle()
    assert running.app.outcomes["agent-1"] is Outcome.NO_ANSWER
    callee = running.fake.made("POST", "channels/create")[0].query["channelId"]
    assert running.fake.made("POST", f"channels/{callee}/dial")[0].query == {"timeout": "1"}
    assert running.fake.made("DELETE", "channels/agent-1")[0].query == {"reason": "no_answer"}
    _no_leftovers(running)


async def _during_the_disclosure(running: Running, number: str) -> str:
    """Call ``number`` as agent-1 and return the callee leg's id while its disclosure plays (it never ends)."""
    fake = running.fake
    fake.playback_s = None
    await running.call("agent-1", number)
    async with asyncio.timeout(5):
        while not [r for r in fake.made("POST", "channels/screener-callee") if r.path.endswith("/play")]:
            await asyncio.sleep(0.01)
    return str(fake.made("POST", "channels/create")[0].query["channelId"])


async def test_the_agent_hanging_up_during_the_disclosure_ends_the_callee_leg(running: Running) -> None:
    fake = running.fake
    callee = await _during_the_disclosure(running, "12125550108")
    await fake.far_end_hangup("agent-1")
    await running.settle()
    assert running.app.outcomes["agent-1"] is Outcome.AGENT_HUNG_UP
    assert fake.made("DELETE", f"channels/{callee}")
    assert fake.made("POST", "bridges") == []
    assert running.screener.disclosures[0].prompt_finished is False
    # answered, and the agent left before it could be connected: reported as ended from our side
    [answered] = running.screener.answered_calls
    assert (answered.disclosure, answered.handed_over_at, answered.connected_at) == ("ABORTED", None, None)
    _no_leftovers(running)


async def test_the_callee_hanging_up_during_the_disclosure_is_the_callees_choice_not_an_abandoned_call(
        running: Running) -> None:
    fake = running.fake
    callee = await _during_the_disclosure(running, "12125550110")
    await fake.far_end_hangup(callee)
    await running.settle()
    assert running.app.outcomes["agent-1"] is Outcome.CALLEE_HUNG_UP
    assert [c.disclosure for c in running.screener.answered_calls] == ["HANGUP"]
    _no_leftovers(running)


async def test_a_decision_that_fails_or_takes_too_long_blocks_the_call(running: Running) -> None:
    running.screener.fail_screen = True
    await running.call("agent-1")
    await running.settle()
    running.screener.fail_screen = False
    running.screener.delay_s = 5.0  # more than the decision timeout (twice the 150 ms budget, at least 0.5 s)
    await running.call("agent-2")
    await running.settle()
    for agent in ("agent-1", "agent-2"):
        assert running.app.outcomes[agent] is Outcome.BLOCKED
        assert running.fake.made("DELETE", f"channels/{agent}")[0].query == {"reason_code": "21"}
    assert running.fake.made("POST", "channels/create") == []
    _no_leftovers(running)


async def test_missing_arguments_or_trunk_block_the_call(running: Running) -> None:
    await running.started("agent-1", [])  # no campaign: unknown campaign in a real screener
    await running.call("agent-2", trunk="")
    await running.settle()
    assert running.app.outcomes["agent-2"] is Outcome.BLOCKED
    assert running.fake.made("POST", "channels/create") == []
    _no_leftovers(running)


async def test_each_call_handles_its_own_events_in_order_while_another_call_is_slow(running: Running) -> None:
    running.screener.delay_s = 0.3
    fake = running.fake
    fake.playback_s = None
    await running.call("agent-slow", "12125550111")
    running.screener.delay_s = 0.0
    await running.call("agent-fast", "12125550112")
    # the fast call goes on while the slow one still waits for its decision
    async with asyncio.timeout(5):
        while not [r for r in fake.made("POST", "channels/screener-callee") if r.path.endswith("/play")]:
            await asyncio.sleep(0.01)
    assert len(fake.made("POST", "channels/create")) == 1
    # the slow call's agent hangs up while its decision is pending; its events wait in its own queue and
    # are seen in order once the decision is in: it never dials
    await fake.far_end_hangup("agent-slow")
    await fake.far_end_hangup("agent-fast")
    await running.settle()
    assert running.app.outcomes["agent-slow"] is Outcome.AGENT_HUNG_UP
    assert len(fake.made("POST", "channels/create")) == 1
    _no_leftovers(running)


async def test_after_a_websocket_gap_a_call_whose_legs_vanished_is_torn_down(running: Running) -> None:
    fake = running.fake
    await running.call("agent-1")
    async with asyncio.timeout(5):
        while not fake.bridges or len(next(iter(fake.bridges.values()))) < 2:
            await asyncio.sleep(0.01)
    await fake.drop()
    # during the gap both legs hang up; their events are lost with the socket
    callee = fake.made("POST", "channels/create")[0].query["channelId"]
    fake.channels.pop("agent-1")
    fake.channels.pop(callee)
    await fake.wait_connected(2)
    await running.settle()
    assert running.app.outcomes["agent-1"] is Outcome.BRIDGED
    assert fake.made("GET", "channels/agent-1")
    _no_leftovers(running)  # the bridge was destroyed


async def test_on_connect_channels_and_bridges_no_call_owns_are_removed(running: Running) -> None:
    fake = running.fake
    running.app.sweep_grace_s = 0.05
    # a previous process of this application died mid-call: its agent channel and its bridge are left
    fake.channels["orphan"] = FakeChannel("orphan", "PJSIP/agents-0009")
    fake.bridges["screener-bridge-screener-old"] = []
    fake.bridges["someone-elses-bridge"] = []
    await fake.drop()
    await fake.wait_connected(2)
    async with asyncio.timeout(5):
        while "orphan" in fake.channels or "screener-bridge-screener-old" in fake.bridges:
            await asyncio.sleep(0.01)
    assert fake.made("DELETE", "channels/orphan")[0].query == {"reason_code": "21"}
    assert list(fake.bridges) == ["someone-elses-bridge"]
    fake.bridges.clear()
    _no_leftovers(running)


async def test_a_disclosure_that_cannot_play_ends_the_call_instead_of_bridging(running: Running) -> None:
    running.fake.missing_media.add(f"sound:{lab_prompt()}")
    await running.call("agent-1", "12125550109")
    await running.settle()
    assert running.app.outcomes["agent-1"] is Outcome.FAILED
    assert running.fake.made("POST", "bridges") == []
    assert running.fake.made("POST", "channels/agent-1/answer") == []
    evidence = running.screener.disclosures
    assert len(evidence) == 1 and not evidence[0].prompt_finished and not evidence[0].opted_out
    assert [c.disclosure for c in running.screener.answered_calls] == ["FAILED"]
    _no_leftovers(running)


async def test_each_decision_is_logged_with_its_fields_for_json_logs(
        running: Running, caplog: pytest.LogCaptureFixture) -> None:
    from screener.numbers import mask

    running.screener.blocked.add("+12125550102")
    with caplog.at_level(logging.INFO, logger="screener.ari"):
        await running.call("agent-1", "12125550102")
        await running.settle()
    decisions = [r for r in caplog.records if hasattr(r, "verdict")]
    assert len(decisions) == 1
    record = decisions[0]
    assert (record.call_id, record.campaign, record.verdict) == ("agent-1", "lab", "block")  # type: ignore[attr-defined]
    assert record.reasons == ["dnc_internal"] and record.number == mask("+12125550102")  # type: ignore[attr-defined]
    assert "2125550102" not in JsonFormatter().format(record)  # masked only
