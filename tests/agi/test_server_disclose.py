"""The FastAGI ``disclose`` script on the callee's channel: prompt, opt-out digit, hang-ups, evidence."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from screener.config.settings import DisclosureText
from tests.agi import transcripts
from tests.agi.fake_asterisk import ServerFactory, call, default_reply, header, port_of
from tests.factories import lab_campaign, lab_prompt, lab_settings
from tests.fakes import FakeScreener

CALLEE = dict(base="disclose-press9")


def disclose_header(*args: str) -> bytes:
    return header("disclose", *args, **CALLEE)


def scripted(replies: dict[str, list[bytes]]) -> Callable[[str], bytes]:
    """Reply per command verb from a queue; anything else gets the default."""
    def responder(command: str) -> bytes:
        for prefix, queue in replies.items():
            if command.startswith(prefix) and queue:
                return queue.pop(0)
        return default_reply(command)
    return responder


async def test_no_digit_is_done_and_evidence_is_recorded(make_server: ServerFactory) -> None:
    screener = FakeScreener()
    server = await make_server(screener)
    result = await call(port_of(server), disclose_header("+15551234567", "lab", "1795871312.0"))
    assert result.commands[:2] == [f'STREAM FILE {lab_prompt()} "9"', "WAIT FOR DIGIT 3000"]
    assert result.variables() == {"DISCLOSE_RESULT": "DONE"}
    [event] = screener.disclosures
    assert (event.number, event.campaign, event.call_id) == ("+15551234567", "lab", "1795871312.0")
    assert event.prompt_finished and not event.opted_out and event.language == "en"
    assert event.answer_to_prompt_ms is not None and event.answer_to_prompt_ms >= 0
    assert screener.opt_outs == []


async def test_press9_after_prompt_opts_out_before_anything_else(make_server: ServerFactory) -> None:
    screener = FakeScreener()
    server = await make_server(screener)
    responder = scripted({"WAIT FOR DIGIT": [b"200 result=57\n"]})
    result = await call(port_of(server), disclose_header("+15551234567", "lab", "c1"), responder,
                        log=screener.log)
    assert screener.opt_outs == [("+15551234567", "lab", "fastagi-disclose", "c1")]
    after = screener.log[screener.log.index("opt_out acknowledged") + 1:]
    assert after[0] == 'STREAM FILE custom/screener/optout-en ""'  # the confirmation comes after Redis said yes
    assert result.variables() == {"DISCLOSE_RESULT": "OPTOUT", "GOSUB_RESULT": "ABORT"}
    [event] = screener.disclosures
    assert event.opted_out and event.prompt_finished


async def test_press9_during_the_prompt(make_server: ServerFactory) -> None:
    screener = FakeScreener()
    server = await make_server(screener)
    responder = scripted({"STREAM FILE custom/screener/lab": [b"200 result=57 endpos=1200\n"]})
    result = await call(port_of(server), disclose_header("+15551234567", "lab", "c1"), responder)
    assert not any(c.startswith("WAIT FOR DIGIT") for c in result.commands)
    assert len(screener.opt_outs) == 1
    assert result.variables()["GOSUB_RESULT"] == "ABORT"
    assert not screener.disclosures[0].prompt_finished


async def test_other_digits_do_not_opt_out(make_server: ServerFactory) -> None:
    screener = FakeScreener()
    server = await make_server(screener, opt_out_wait_ms=5000)
    responder = scripted({"WAIT FOR DIGIT": [b"200 result=49\n", b"200 result=0\n"]})  # "1", then nothing
    result = await call(port_of(server), disclose_header("+15551234567", "lab", "c1"), responder)
    waits = [c for c in result.commands if c.startswith("WAIT FOR DIGIT")]
    assert len(waits) == 2 and int(waits[1].split()[-1]) <= 5000
    assert result.variables() == {"DISCLOSE_RESULT": "DONE"}
    assert screener.opt_outs == []


async def test_custom_digit_and_recording(make_server: ServerFactory) -> None:
    campaign = lab_campaign("acme", opt_out_digit="7",
                            disclosures=(DisclosureText("zh", "x", recording="/var/lib/prompts/acme-zh"),))
    screener = FakeScreener(settings=lab_settings(campaign))
    server = await make_server(screener, opt_out_wait_ms=2000)
    responder = scripted({"WAIT FOR DIGIT": [b"200 result=55\n"]})
    result = await call(port_of(server), disclose_header("+8613800138000", "acme", "c2"), responder)
    assert result.commands[0] == 'STREAM FILE /var/lib/prompts/acme-zh "7"'
    assert result.commands[1] == "WAIT FOR DIGIT 2000" or result.commands[1].startswith("WAIT FOR DIGIT 1")
    assert 'STREAM FILE custom/screener/optout-zh ""' in result.commands
    assert screener.opt_outs[0][:2] == ("+8613800138000", "acme")


async def test_opt_out_failure_still_aborts_without_a_false_confirmation(make_server: ServerFactory) -> None:
    screener = FakeScreener(fail_opt_out=True)
    server = await make_server(screener)
    responder = scripted({"WAIT FOR DIGIT": [b"200 result=57\n"]})
    result = await call(port_of(server), disclose_header("+15551234567", "lab", "c1"), responder)
    assert not any("optout-" in c for c in result.commands)
    assert result.variables() == {"DISCLOSE_RESULT": "OPTOUT", "GOSUB_RESULT": "ABORT"}
    assert screener.disclosures[0].opted_out


async def test_callee_hangs_up_mid_prompt_as_recorded(make_server: ServerFactory) -> None:
    """Replies from transcripts/disclose-callee-hangs-up.txt: -1, then HANGUP before a 511."""
    recorded = dict(transcripts.load("disclose-callee-hangs-up").exchanges)
    stream_reply = "\n".join(recorded['STREAM FILE beep "9"']) + "\n"
    screener = FakeScreener()

    def responder(command: str) -> bytes:
        if command.startswith("STREAM FILE"):
            return stream_reply.encode()
        if command.startswith("SET VARIABLE"):
            return b"200 result=1\n"
        return b"HANGUP\n511 Command Not Permitted on a dead channel or intercept routine\n"

    server = await make_server(screener)
    result = await call(port_of(server), disclose_header("+15551234568", "lab", "c3"), responder)
    assert result.variables() == {"DISCLOSE_RESULT": "HANGUP", "GOSUB_RESULT": "ABORT"}
    [event] = screener.disclosures
    assert not event.prompt_finished and not event.opted_out
    assert screener.opt_outs == []


async def test_hangup_during_the_digit_wait(make_server: ServerFactory) -> None:
    screener = FakeScreener()
    server = await make_server(screener)
    responder = scripted({"WAIT FOR DIGIT": [b"HANGUP\n200 result=-1\n"]})
    result = await call(port_of(server), disclose_header("+15551234567", "lab", "c1"), responder)
    assert result.variables()["DISCLOSE_RESULT"] == "HANGUP"
    assert screener.disclosures[0].prompt_finished


async def test_missing_prompt_file_fails_closed(make_server: ServerFactory) -> None:
    server = await make_server()
    responder = scripted({"STREAM FILE": [b"200 result=-1 endpos=0\n"]})
    result = await call(port_of(server), disclose_header("+15551234567", "lab", "c1"), responder)
    assert result.variables() == {"DISCLOSE_RESULT": "FAILED", "GOSUB_RESULT": "ABORT"}


async def test_unknown_campaign_fails_closed(make_server: ServerFactory) -> None:
    screener = FakeScreener()
    server = await make_server(screener)
    result = await call(port_of(server), disclose_header("+15551234567", "nope", "c1"))
    assert not any(c.startswith("STREAM FILE") for c in result.commands)
    assert result.variables() == {"DISCLOSE_RESULT": "FAILED", "GOSUB_RESULT": "ABORT"}
    assert screener.disclosures[0].campaign == "nope"


async def test_connection_dropped_mid_prompt_still_records_evidence(make_server: ServerFactory) -> None:
    screener = FakeScreener()
    server = await make_server(screener)
    await call(port_of(server), disclose_header("+15551234567", "lab", "c1"), close_after=1)
    for _ in range(200):
        if screener.disclosures:
            break
        await asyncio.sleep(0.01)
    [event] = screener.disclosures
    assert not event.prompt_finished


async def test_answer_time_from_the_dialplan_counts_in_the_evidence(make_server: ServerFactory) -> None:
    screener = FakeScreener()
    server = await make_server(screener)
    answered = f"{time.time() - 1.5:.3f}"
    await call(port_of(server), disclose_header("+15551234567", "lab", "c1", answered))
    [event] = screener.disclosures
    assert event.answer_to_prompt_ms is not None and 1500 <= event.answer_to_prompt_ms < 60_000


async def test_implausible_answer_time_is_ignored(make_server: ServerFactory) -> None:
    screener = FakeScreener()
    server = await make_server(screener)
    await call(port_of(server), disclose_header("+15551234567", "lab", "c1", "12"))
    [event] = screener.disclosures
    assert event.answer_to_prompt_ms is not None and event.answer_to_prompt_ms < 1500
