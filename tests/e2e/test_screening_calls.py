"""Calls through a real Asterisk 22: allowed with disclosure first, blocked with 403, opted out with a key press."""

from __future__ import annotations

import wave

from screener.lab.sipp import DIALER_IP
from tests.e2e.harness import (
    Lab,
    audit_entries,
    calls_in_progress,
    decision_reasons,
    dnc_add,
    on_internal_dnc,
    refused_at_ms,
)

#: a PCMU packet carries 20 ms
PACKET_S = 0.02


def prompt_seconds(lab: Lab, name: str) -> float:
    assert lab.sandbox.prompts_dir is not None
    [path] = lab.sandbox.prompts_dir.glob(f"{name}-*.wav")  # the name ends with the text's digest
    with wave.open(str(path)) as w:
        return float(w.getnframes()) / float(w.getframerate())


def test_allowed_call_reaches_the_carrier_and_the_callee_hears_the_disclosure_before_the_agent_is_bridged(
        lab: Lab) -> None:
    call = lab.call("12125550101")

    assert call.result.final_status == 200, call.result.output
    invites = call.callee.received("INVITE")
    assert len(invites) == 1
    # the carrier is asked for the E.164 number, with the campaign's caller ID
    assert invites[0].first_line.startswith("INVITE sip:+12125550101@")
    assert "+12025550144" in (invites[0].header("From") or "")
    callee_answered = next(m.at for m in call.callee.messages() if m.sent and m.status == 200)
    agent_answered = call.result.received_at(200)
    assert agent_answered is not None
    # the agent is answered only after the whole disclosure played to the callee
    prompt_s = prompt_seconds(lab, "lab-en")
    assert agent_answered - callee_answered >= 0.9 * prompt_s
    # RTP with sound reached the callee after it answered and before the agent got its 200 OK: most of the
    # prompt (its pauses between words are silence)
    heard_first = call.rtp.audible(before=agent_answered)
    assert len(heard_first) * PACKET_S >= 0.5 * prompt_s, f"{len(heard_first)} audible packets before the 200"
    assert heard_first[0].at >= callee_answered - 0.05
    assert decision_reasons(lab.redis.url, "+12125550101") == [[]]
    # the disclosure evidence: the prompt played to its end, no opt-out
    evidence = [e.fields for e in audit_entries(lab.redis.url, "+12125550101") if e.kind == "disclosure"]
    assert [(f["prompt_finished"], f["opted_out"]) for f in evidence] == [("1", "0")]
    # answer -> prompt start, measured from the answer time the dialplan passes along
    assert 0 <= int(evidence[0]["answer_to_prompt_ms"]) < 5000


def test_a_number_on_the_internal_dnc_list_gets_403_and_the_carrier_never_sees_an_invite(lab: Lab) -> None:
    dnc_add(lab.redis.url, "+12125550102")

    call = lab.call("12125550102")

    assert call.result.final_status == 403, call.result.output
    assert call.carrier_invites == 0
    assert decision_reasons(lab.redis.url, "+12125550102") == [["dnc_internal"]]


def test_an_emergency_number_is_dialed_at_once_without_a_disclosure(lab: Lab) -> None:
    call = lab.call("911")

    assert call.result.final_status == 200, call.result.output
    invites = call.callee.received("INVITE")
    assert len(invites) == 1 and invites[0].first_line.startswith("INVITE sip:911@")
    assert decision_reasons(lab.redis.url, "911") == [["emergency_number"]]
    # no disclosure was played to the emergency service (and none could end the call)
    assert [e for e in audit_entries(lab.redis.url, "911") if e.kind == "disclosure"] == []


def test_a_call_outside_calling_hours_gets_403_and_the_carrier_never_sees_an_invite(lab: Lab) -> None:
    # the lab dialer names the campaign per call (header X-Screener-Campaign); lab-closed is closed now
    call = lab.call("12125550103", ip=DIALER_IP, campaign="lab-closed")

    assert call.result.final_status == 403, call.result.output
    assert call.carrier_invites == 0
    assert decision_reasons(lab.redis.url, "+12125550103") == [["outside_calling_hours"]]


def test_a_number_over_its_frequency_limit_gets_403_and_the_carrier_never_sees_an_invite(lab: Lab) -> None:
    # campaign lab: at most 3 calls per hour per number; the callee is busy, so no disclosure is needed
    for _ in range(3):
        allowed = lab.call("12125550104", callee="uas_ring_busy.xml")
        assert allowed.result.final_status == 486, allowed.result.output
        assert allowed.carrier_invites == 1

    call = lab.call("12125550104", callee="uas_ring_busy.xml")

    assert call.result.final_status == 403, call.result.output
    assert call.carrier_invites == 0
    assert decision_reasons(lab.redis.url, "+12125550104")[-1] == ["frequency_limit"]


def test_pressing_9_puts_the_number_on_the_internal_dnc_list_before_the_call_ends_and_blocks_the_next_call(
        lab: Lab) -> None:
    number = "+12125550105"
    assert not on_internal_dnc(lab.redis.url, number)

    call = lab.call("12125550105", callee="uas_press9.xml", press_after_ms=500)

    # the agent was never bridged; the callee got the INFO answered and then Asterisk's BYE
    assert call.result.final_status is not None and call.result.final_status != 200, call.result.output
    assert call.carrier_invites == 1
    byes = call.callee.received("BYE")
    assert len(byes) == 1
    assert on_internal_dnc(lab.redis.url, number)
    evidence = [e.fields for e in audit_entries(lab.redis.url, number) if e.kind == "disclosure"]
    assert [f["opted_out"] for f in evidence] == ["1"]
    refused = refused_at_ms(lab.redis.url, number)
    assert refused is not None and refused / 1000 <= byes[0].at + 0.01, "opt-out recorded after the call ended"

    retry = lab.call("12125550105")

    assert retry.result.final_status == 403, retry.result.output
    assert retry.carrier_invites == 0
    assert decision_reasons(lab.redis.url, number)[-1] == ["dnc_internal"]


def test_the_h_extension_frees_an_allowed_calls_place_among_its_campaigns_calls_in_progress(lab: Lab) -> None:
    # campaign lab-one: one call at a time; each call is allowed, dialed (the carrier is busy) and ends: the
    # dialplan's h extension tells the screener, so the next call has the place again
    for number in ("12125550111", "12125550112"):
        call = lab.call(number, ip=DIALER_IP, campaign="lab-one", callee="uas_ring_busy.xml")
        assert call.result.final_status == 486, call.result.output  # screened, allowed, dialed: busy
    assert decision_reasons(lab.redis.url, "+12125550112") == [[]]  # not rate_limit: the first call's end freed it
    assert calls_in_progress(lab.redis.url, "lab-one") == 0
