"""The FastAGI ``end`` script (the ``h`` extension) with the answered-call arguments: the call's end and, when
the callee answered, the answered call reported for the abandoned-call accounting, from the values the shipped
dialplan passes."""

from __future__ import annotations

import time

from screener.agi.answered import answered_call, epoch_arg
from tests.agi.fake_asterisk import ServerFactory, call, header, port_of
from tests.fakes import FakeScreener


def end_header(number: str, campaign: str, call_id: str, *rest: str) -> bytes:
    """The h extension's arguments: call id, campaign, then the number and the answered-call values."""
    return header("end", call_id, campaign, number, *rest, base="disclose-press9")


async def test_a_connected_call_is_reported_with_asterisks_times(make_server: ServerFactory) -> None:
    screener = FakeScreener()
    server = await make_server(screener)
    now = time.time()
    answered, handed_over, ended = now - 60, now - 54.0, now - 4.0
    # the agent was connected 50 s before the hang-up: 4 ms after the hand-over, as Asterisk bridges at once
    args = ("+12125550101", "lab", "1795871312.0", f"{answered:.3f}", "DONE", f"{handed_over:.3f}", "ANSWER",
            "49996", f"{ended:.3f}")
    result = await call(port_of(server), end_header(*args))
    assert result.commands == []  # nothing is sent on a hung-up channel
    assert screener.ended == [("1795871312.0", "lab")]  # no longer among the campaign's calls in progress
    [reported] = screener.answered_calls
    assert (reported.number, reported.campaign, reported.call_id, reported.disclosure, reported.source) == (
        "+12125550101", "lab", "1795871312.0", "DONE", "fastagi")
    assert reported.handed_over_at is not None and reported.connected_at is not None
    delay = (reported.connected_at - reported.handed_over_at).total_seconds()
    assert abs(delay - 0.004) < 0.002
    assert abs(reported.answered_at.timestamp() - answered) < 0.002


async def test_an_agent_gone_before_the_bridge_leaves_no_connection(make_server: ServerFactory) -> None:
    screener = FakeScreener()
    server = await make_server(screener)
    now = time.time()
    # Asterisk 22 (measured in the sandbox): the agent CANCELled during the U() gosub; DIALSTATUS is ANSWER
    # (the callee answered) but ANSWEREDTIME_MS is empty: the agent was never connected
    args = ("+12125550102", "lab", "c2", f"{now - 8:.3f}", "DONE", f"{now - 1:.3f}", "ANSWER", "", f"{now:.3f}")
    await call(port_of(server), end_header(*args))
    [reported] = screener.answered_calls
    assert reported.disclosure == "DONE" and reported.handed_over_at is not None
    assert reported.connected_at is None


async def test_a_callee_who_never_answered_is_not_counted(make_server: ServerFactory) -> None:
    screener = FakeScreener()
    server = await make_server(screener)
    now = time.time()
    await call(port_of(server), end_header("+12125550103", "lab", "c3", "", "", "", "BUSY", "", f"{now:.3f}"))
    assert screener.answered_calls == [] and screener.ended == [("c3", "lab")]
    # the h extension of an older dialplan passes the call id and the campaign only
    await call(port_of(server), header("end", "c4", "lab", base="disclose-press9"))
    assert screener.answered_calls == [] and screener.ended[-1] == ("c4", "lab")


def test_unknown_or_missing_results_are_failed_and_garbled_times_are_not_believed() -> None:
    now = 1_800_000_000.0
    call = answered_call(["+12125550104", "lab", "c4", f"{now - 5}", "", "", "ANSWER", "", f"{now}"], "fastagi",
                         now=now)
    assert call is not None and call.disclosure == "FAILED" and call.handed_over_at is None
    weird = answered_call(["+12125550104", "lab", "c4", f"{now - 5}", "SOMETHING", "", "", "12", "x"], "agi",
                          now=now)
    assert weird is not None and weird.disclosure == "FAILED" and weird.connected_at is None
    assert epoch_arg("1.5e9", now=now) is None  # years ago
    assert epoch_arg("nan", now=now) is None and epoch_arg("", now=now) is None
    assert answered_call(["+1", "lab", "c", "not-a-time"], "fastagi", now=now) is None
