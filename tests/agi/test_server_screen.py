"""The FastAGI ``screen`` script through a real loopback socket, with a fake Asterisk and a fake screener."""

from __future__ import annotations

import asyncio

from screener.reasons import ReasonCode, Verdict
from tests.agi.fake_asterisk import ServerFactory, call, default_reply, header, port_of
from tests.fakes import FakeScreener

SCREEN_VARS = ["SCREEN_REASONS", "SCREEN_NUMBER", "SCREEN_CALLERID", "SCREEN_CALLERID_NAME", "SCREEN_CAMPAIGN",
               "SCREEN_CALL_ID", "SCREEN_RESULT"]


async def test_allow_sets_every_variable_with_result_last(make_server: ServerFactory) -> None:
    screener = FakeScreener()
    server = await make_server(screener)
    result = await call(port_of(server), header("screen", "15551234567"))
    assert result.closed_by_server
    assert result.commands[0] == "GET VARIABLE SCREENER_CAMPAIGN"
    assert result.set_order() == SCREEN_VARS
    assert result.variables() == {
        "SCREEN_REASONS": "", "SCREEN_NUMBER": "+15551234567", "SCREEN_CALLERID": "+12025550144",
        "SCREEN_CALLERID_NAME": 'Lab "Test" Co', "SCREEN_CAMPAIGN": "lab", "SCREEN_CALL_ID": "1795871312.0",
        "SCREEN_RESULT": "ALLOW",
    }
    [request] = screener.requests
    assert (request.dialed, request.campaign, request.commit, request.source) == ("15551234567", "lab", True,
                                                                                  "fastagi")
    assert (request.caller_id, request.call_id, request.agent) == ("sipp", "1795871312.0", "PJSIP/agents-00000000")


async def test_campaign_argument_wins_over_the_channel_variable(make_server: ServerFactory) -> None:
    screener = FakeScreener()
    server = await make_server(screener)
    result = await call(port_of(server), header("screen?trace=1", "+15551234567", "lab"))
    assert not any(c.startswith("GET VARIABLE") for c in result.commands)
    assert result.variables()["SCREEN_RESULT"] == "ALLOW"
    assert screener.requests[0].campaign == "lab"


async def test_block_lists_every_reason(make_server: ServerFactory) -> None:
    screener = FakeScreener(verdict=Verdict.BLOCK, reasons=(ReasonCode.DNC_INTERNAL, ReasonCode.FREQUENCY_LIMIT))
    server = await make_server(screener)
    result = await call(port_of(server), header("screen", "15551234567"))
    variables = result.variables()
    assert variables["SCREEN_RESULT"] == "BLOCK"
    assert variables["SCREEN_REASONS"] == "dnc_internal,frequency_limit"
    assert result.set_order()[-1] == "SCREEN_RESULT"


async def test_screener_raising_blocks_with_screening_unavailable(make_server: ServerFactory) -> None:
    server = await make_server(FakeScreener(fail_screen=True))
    variables = (await call(port_of(server), header("screen", "15551234567"))).variables()
    assert (variables["SCREEN_RESULT"], variables["SCREEN_REASONS"]) == ("BLOCK", "screening_unavailable")


async def test_slow_screener_blocks_within_the_budget(make_server: ServerFactory) -> None:
    server = await make_server(FakeScreener(delay_s=30), decision_timeout_s=0.2)
    # generous: proves "does not hang", not a speed
    result = await call(port_of(server), header("screen", "15551234567"), timeout_s=10)
    assert result.variables()["SCREEN_RESULT"] == "BLOCK"
    assert result.variables()["SCREEN_REASONS"] == "screening_unavailable"


async def test_a_missing_campaign_still_asks_the_screener(make_server: ServerFactory) -> None:
    screener = FakeScreener(verdict=Verdict.BLOCK, reasons=(ReasonCode.UNKNOWN_CAMPAIGN,))

    def no_campaign(command: str) -> bytes:
        return b"200 result=0\n" if command.startswith("GET VARIABLE") else default_reply(command)

    server = await make_server(screener)
    result = await call(port_of(server), header("screen", "15551234567"), no_campaign)
    assert screener.requests[0].campaign == ""
    assert result.variables()["SCREEN_RESULT"] == "BLOCK"


async def test_unknown_script_gets_no_command(make_server: ServerFactory) -> None:
    server = await make_server()
    result = await call(port_of(server), header("rm-rf", "1"))
    assert result.commands == [] and result.closed_by_server


async def test_agent_hangup_notice_while_setting_variables(make_server: ServerFactory) -> None:
    sent: list[str] = []

    def hang_up_first(command: str) -> bytes:
        sent.append(command)
        reply = default_reply(command)
        return b"HANGUP\n" + reply if len(sent) == 2 else reply

    server = await make_server()
    result = await call(port_of(server), header("screen", "15551234567"), hang_up_first)
    assert result.set_order() == SCREEN_VARS  # SET VARIABLE still works on a dead channel


async def test_many_calls_at_once(make_server: ServerFactory) -> None:
    screener = FakeScreener(delay_s=0.05)
    server = await make_server(screener)
    results = await asyncio.gather(*(call(port_of(server), header("screen", f"1555123{i:04d}")) for i in range(50)))
    assert all(r.variables()["SCREEN_RESULT"] == "ALLOW" for r in results)
    assert sorted(r.variables()["SCREEN_NUMBER"] for r in results) == sorted(f"+1555123{i:04d}" for i in range(50))


async def test_the_end_script_reports_the_calls_end_and_sends_no_command(make_server: ServerFactory) -> None:
    # the dialplan's h extension: AGI(agi://.../end,${SCREEN_CALL_ID},${SCREEN_CAMPAIGN}) on a hung-up channel
    screener = FakeScreener()
    server = await make_server(screener)
    result = await call(port_of(server), header("end", "1795871312.0", "lab"))
    assert result.closed_by_server and result.commands == []
    assert screener.ended == [("1795871312.0", "lab")] and screener.requests == []
    result = await call(port_of(server), header("end", "", ""))  # nothing to release: nothing asked
    assert result.commands == [] and screener.ended == [("1795871312.0", "lab")]
