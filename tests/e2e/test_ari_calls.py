"""ARI mode through a real Asterisk 22 and sipp: the Stasis application screens, dials, discloses, takes the
opt-out digit and bridges; blocked calls and an unconnected application end in 403; nothing is left behind;
a dropped WebSocket and a dead instance never let a call through.

The application runs in a thread of the test process (``tests/ari/lab.py``: a real Screener on the
session's Redis, the e2e config), under its own application name, so it never competes with an
application that ``screener serve`` may run. Agents' calls come from 127.0.0.6 (endpoint ``agents-ari``)
into the shipped ``[screener-outbound-ari]``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from screener.embedded_redis import EmbeddedRedis
from screener.lab import AsteriskSandbox
from tests.ari.lab import (
    AppThread,
    LabCall,
    install_ari,
    place_ari_call,
    scenario,
    wait_app_state,
    wait_nothing_left,
)
from tests.e2e.harness import Lab, audit_entries, decision_reasons, dnc_add, on_internal_dnc, wait_audit

#: a PCMU packet every 20 ms: 25 packets are half a second of sound
HALF_A_SECOND = 25
APP = "screener-e2e"


@pytest.fixture(scope="module")
def ari_thread(sandbox: AsteriskSandbox, redis_server: EmbeddedRedis, e2e_config: Path) -> Iterator[AppThread]:
    install_ari(sandbox)
    with AppThread(e2e_config, redis_server.url) as thread:
        yield thread


@pytest.fixture
def ari(ari_thread: AppThread, lab: Lab) -> Iterator[AppThread]:
    """The application ``screener-e2e`` connected; the dialplan sends calls to it. Stopped after the test."""
    ari_thread.start_app(APP)
    lab.sandbox.set_global("SCREENER_ARI_APPS", APP)
    yield ari_thread
    for name in list(ari_thread.apps):
        ari_thread.stop_app(name)


def ari_call(lab: Lab, number: str, **kw: Any) -> LabCall:
    return place_ari_call(lab.workdir, number, **kw)


def assert_nothing_left() -> None:
    channels, bridges = wait_nothing_left()
    assert channels == [], f"channels left in Asterisk: {[c['name'] for c in channels]}"
    assert bridges == [], f"bridges left in Asterisk: {bridges}"


def test_an_allowed_call_is_dialed_with_the_campaign_caller_id_and_bridged_after_the_disclosure(
        lab: Lab, ari: AppThread) -> None:
    call = ari_call(lab, "12125550201")

    assert call.result.final_status == 200, call.result.output
    invites = call.callee.received("INVITE")
    assert len(invites) == 1
    assert invites[0].first_line.startswith("INVITE sip:+12125550201@")
    assert "+12025550144" in (invites[0].header("From") or "")
    callee_answered = next(m.at for m in call.callee.messages() if m.sent and m.status == 200)
    agent_answered = call.result.received_at(200)
    assert agent_answered is not None and agent_answered > callee_answered
    # the disclosure reached the callee (RTP with sound) after it answered and before the agent's 200 OK
    heard_first = call.rtp.audible(before=agent_answered)
    assert len(heard_first) >= HALF_A_SECOND, f"{len(heard_first)} audible packets before the agent's 200"
    assert heard_first[0].at >= callee_answered - 0.05
    wait_audit(lab.redis.url, "+12125550201", "call_outcome")  # written as the call ends
    entries = audit_entries(lab.redis.url, "+12125550201")
    assert [(e.kind, e.fields.get("source")) for e in entries] == [("decision", "ari"), ("disclosure", "ari"),
                                                                   ("call_outcome", "ari")]
    assert (entries[2].fields["outcome"], entries[2].fields["abandoned"]) == ("connected", "0")
    assert decision_reasons(lab.redis.url, "+12125550201") == [[]]
    evidence = entries[1].fields
    assert (evidence["prompt_finished"], evidence["opted_out"]) == ("1", "0")
    assert evidence["answer_to_prompt_ms"] != ""
    assert_nothing_left()


def test_a_number_on_the_internal_dnc_list_gets_403_and_the_carrier_never_sees_an_invite(
        lab: Lab, ari: AppThread) -> None:
    dnc_add(lab.redis.url, "+12125550202")

    call = ari_call(lab, "12125550202")

    assert call.result.final_status == 403, call.result.output
    # before the 403 the agent got early media (183): the "this call is not permitted" prompt
    statuses = [m.status for m in call.result.messages if not m.sent and m.status in (183, 403)]
    assert statuses[0] == 183 and statuses[-1] == 403, statuses
    assert call.carrier_invites == 0
    assert decision_reasons(lab.redis.url, "+12125550202") == [["dnc_internal"]]
    assert_nothing_left()


def test_a_call_outside_calling_hours_gets_403_and_the_carrier_never_sees_an_invite(
        lab: Lab, ari: AppThread) -> None:
    call = ari_call(lab, "12125550203", campaign="lab-closed")

    assert call.result.final_status == 403, call.result.output
    assert call.carrier_invites == 0
    assert decision_reasons(lab.redis.url, "+12125550203") == [["outside_calling_hours"]]


def test_a_number_over_its_frequency_limit_gets_403_and_busy_callees_leave_nothing_behind(
        lab: Lab, ari: AppThread) -> None:
    # campaign lab: at most 3 calls per hour per number; a busy callee needs no disclosure
    for _ in range(3):
        busy = ari_call(lab, "12125550204", callee="uas_ring_busy.xml")
        assert busy.result.final_status == 486, busy.result.output  # the agent hears busy
        assert busy.carrier_invites == 1
        assert_nothing_left()

    call = ari_call(lab, "12125550204", callee="uas_ring_busy.xml")

    assert call.result.final_status == 403, call.result.output
    assert call.carrier_invites == 0
    assert decision_reasons(lab.redis.url, "+12125550204") == [[], [], [], ["frequency_limit"]]


def test_pressing_9_puts_the_number_on_the_internal_dnc_list_before_the_call_ends_and_blocks_the_next_call(
        lab: Lab, ari: AppThread) -> None:
    number = "+12125550205"
    assert not on_internal_dnc(lab.redis.url, number)

    call = ari_call(lab, "12125550205", callee="uas_press9.xml", press_after_ms=500)

    # the agent was never bridged; the callee's INFO (9) was answered, then the application's BYE came
    assert call.result.final_status is not None and call.result.final_status != 200, call.result.output
    assert call.carrier_invites == 1
    assert [m.method for m in call.callee.messages() if m.sent and m.method == "INFO"] == ["INFO"]
    assert len(call.callee.received("BYE")) == 1
    assert on_internal_dnc(lab.redis.url, number)
    kinds = [e.kind for e in audit_entries(lab.redis.url, number)]
    assert kinds.index("opt_out") < kinds.index("disclosure")  # Redis acknowledged before the call went on
    assert_nothing_left()

    again = ari_call(lab, "12125550205")
    assert again.result.final_status == 403
    assert again.carrier_invites == 0
    assert decision_reasons(lab.redis.url, number)[-1] == ["dnc_internal"]


def test_with_the_application_not_connected_the_call_ends_in_403(lab: Lab, ari: AppThread) -> None:
    lab.sandbox.set_global("SCREENER_ARI_APPS", "screener-nobody")

    call = ari_call(lab, "12125550206")

    assert call.result.final_status == 403, call.result.output
    assert call.carrier_invites == 0
    assert decision_reasons(lab.redis.url, "+12125550206") == []  # nothing screened it
    assert_nothing_left()


def test_no_answer_ends_both_legs_and_leaves_nothing_behind(lab: Lab, ari: AppThread) -> None:
    call = ari_call(lab, "12125550207", callee=scenario("uas_ring_noanswer.xml"))

    assert call.result.final_status == 480, call.result.output  # the application's no_answer
    assert call.carrier_invites == 1 and len(call.callee.received("CANCEL")) == 1
    assert decision_reasons(lab.redis.url, "+12125550207") == [[]]  # the attempt stays recorded
    assert_nothing_left()


def test_the_agent_hanging_up_during_the_disclosure_ends_the_callee_leg_and_leaves_nothing_behind(
        lab: Lab, ari: AppThread) -> None:
    # the agent cancels 1.5 s after its 180 Ringing, while the callee hears the disclosure (about 5 s)
    call = ari_call(lab, "12125550208", agent_scenario=scenario("uac_cancel.xml"), hold_ms=1500)

    assert call.result.final_status == 487, call.result.output
    assert call.carrier_invites == 1
    assert len(call.callee.received("BYE")) == 1  # the application hung the callee up
    evidence = [e.fields for e in audit_entries(lab.redis.url, "+12125550208") if e.kind == "disclosure"]
    assert [(f["prompt_finished"], f["opted_out"]) for f in evidence] == [("0", "0")]
    # the callee answered and was never connected to an agent: an abandoned call
    [outcome] = wait_audit(lab.redis.url, "+12125550208", "call_outcome")
    assert (outcome.fields["outcome"], outcome.fields["abandoned"]) == ("not_connected", "1")
    assert_nothing_left()


def test_calls_during_a_websocket_gap_are_blocked_and_calls_after_the_reconnect_are_screened(
        lab: Lab, ari: AppThread) -> None:
    ari.stop_app(APP)
    ari.start_app("screener-e2e-proxied", via_proxy=True)
    lab.sandbox.set_global("SCREENER_ARI_APPS", "screener-e2e-proxied")
    before = ari_call(lab, "12125550209", callee="uas_ring_busy.xml")
    assert before.result.final_status == 486 and before.carrier_invites == 1

    ari.cut("screener-e2e-proxied")  # the WebSocket drops; the application keeps retrying
    wait_app_state(lab.sandbox, "screener-e2e-proxied", registered=False)
    during = [ari_call(lab, "12125550210", callee="uas_ring_busy.xml") for _ in range(2)]
    assert [c.result.final_status for c in during] == [403, 403]
    assert [c.carrier_invites for c in during] == [0, 0]

    ari.restore("screener-e2e-proxied")
    ari.wait_connected("screener-e2e-proxied")
    after = ari_call(lab, "12125550211", callee="uas_ring_busy.xml")
    assert after.result.final_status == 486, after.result.output
    assert after.carrier_invites == 1
    assert decision_reasons(lab.redis.url, "+12125550211") == [[]]
    assert decision_reasons(lab.redis.url, "+12125550210") == []  # the gap's calls never reached a screener
    assert_nothing_left()


def test_with_two_instances_new_calls_keep_being_screened_when_one_dies(lab: Lab, ari: AppThread) -> None:
    ari.stop_app(APP)
    ari.start_app("screener-e2e-a")
    ari.start_app("screener-e2e-b")
    lab.sandbox.set_global("SCREENER_ARI_APPS", "screener-e2e-a&screener-e2e-b")
    ari.kill_app("screener-e2e-a")
    wait_app_state(lab.sandbox, "screener-e2e-a", registered=False)

    calls = [ari_call(lab, f"1212555022{i}", callee="uas_ring_busy.xml") for i in range(4)]

    assert [c.result.final_status for c in calls] == [486] * 4
    assert [c.carrier_invites for c in calls] == [1] * 4
    assert len(ari.requests("screener-e2e-b")) == 4
    # and a blocked number is still blocked through the survivor
    dnc_add(lab.redis.url, "+12125550229")
    blocked = ari_call(lab, "12125550229")
    assert blocked.result.final_status == 403 and blocked.carrier_invites == 0
    assert_nothing_left()


def test_an_instance_that_is_stopping_hands_new_calls_to_the_next_one(lab: Lab, ari: AppThread) -> None:
    ari.stop_app(APP)
    ari.start_app("screener-e2e-a")
    ari.start_app("screener-e2e-b")
    # listed twice, so most calls start at the stopping instance and go through its hand-back
    lab.sandbox.set_global("SCREENER_ARI_APPS", "screener-e2e-a&screener-e2e-a&screener-e2e-b")
    ari.drain("screener-e2e-a")

    calls = [ari_call(lab, f"1212555023{i}", callee="uas_ring_busy.xml") for i in range(4)]

    assert [c.result.final_status for c in calls] == [486] * 4
    assert [c.carrier_invites for c in calls] == [1] * 4
    assert ari.requests("screener-e2e-a") == []
    assert len(ari.requests("screener-e2e-b")) == 4
    assert_nothing_left()
