"""Garbage, truncation, floods, injection attempts, foreign peers and shutdown: no crash, no hang, no injection."""

from __future__ import annotations

import asyncio

import pytest

from screener.reasons import Verdict
from tests.agi.asterisk_parse import parse_args
from tests.agi.fake_asterisk import ServerFactory, call, header, port_of
from tests.fakes import FakeScreener

ALLOWED_VERBS = {("GET", "VARIABLE"), ("SET", "VARIABLE"), ("STREAM", "FILE"), ("WAIT", "FOR"), ("NOOP",)}


def assert_no_injection(commands: list[str]) -> None:
    for line in commands:
        args = parse_args(line)
        assert tuple(args[:2]) in ALLOWED_VERBS, line
        if args[:2] == ["SET", "VARIABLE"]:
            assert len(args) == 4, line
        if args[:2] == ["GET", "VARIABLE"]:
            assert len(args) == 3, line


async def still_serving(port: int) -> None:
    result = await call(port, header("screen", "15551234567"))
    assert result.variables()["SCREEN_RESULT"] == "ALLOW"


@pytest.mark.parametrize(
    "data",
    [
        b"GET / HTTP/1.1\r\nHost: screener\r\n\r\n",
        b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03" + bytes(range(256)),
        b"agi_network: yes\nagi_network_script: screen\nEXEC System rm\n\n",
        b"\n\n\n",
        b"agi_network: yes\x00\n\n",
    ],
)
async def test_garbled_header_closes_without_a_command(make_server: ServerFactory, data: bytes) -> None:
    server = await make_server()
    result = await call(port_of(server), data)
    assert result.commands == [] and result.closed_by_server
    await still_serving(port_of(server))


async def test_bare_connect_and_close(make_server: ServerFactory) -> None:
    server = await make_server()
    for _ in range(20):
        _, writer = await asyncio.open_connection("127.0.0.1", port_of(server))
        writer.close()
        await writer.wait_closed()
    await still_serving(port_of(server))
    assert server.stats["errors"] == 0


async def test_silent_peer_is_dropped_at_the_header_deadline(make_server: ServerFactory) -> None:
    server = await make_server(header_timeout_s=0.2)
    reader, writer = await asyncio.open_connection("127.0.0.1", port_of(server))
    writer.write(b"agi_network: yes\n")  # ...and nothing more
    async with asyncio.timeout(10):
        assert await reader.read() == b""
    writer.close()
    await still_serving(port_of(server))


async def test_truncated_session_mid_command(make_server: ServerFactory) -> None:
    screener = FakeScreener()
    server = await make_server(screener)
    result = await call(port_of(server), header("screen", "15551234567"), close_after=2)
    assert len(result.commands) == 2
    await still_serving(port_of(server))


async def test_truncated_header(make_server: ServerFactory) -> None:
    server = await make_server(header_timeout_s=0.3)
    data = header("screen", "15551234567")
    result = await call(port_of(server), data[: len(data) // 2])
    # the fake sent half a header and then waits; the server drops it at the header deadline or on EOF
    assert result.commands == []


async def test_megabyte_line_is_refused(make_server: ServerFactory) -> None:
    server = await make_server()
    reader, writer = await asyncio.open_connection("127.0.0.1", port_of(server))
    try:  # the server closes (or resets) the connection; it never answers
        writer.write(b"agi_network: " + b"y" * 1_000_000 + b"\n\n")
        await writer.drain()
        async with asyncio.timeout(10):
            assert await reader.read() == b""
    except ConnectionError:
        pass
    writer.close()
    await still_serving(port_of(server))


async def test_megabyte_reply_is_refused(make_server: ServerFactory) -> None:
    server = await make_server()
    result = await call(port_of(server), header("screen", "15551234567"),
                        lambda c: b"200 result=1 (" + b"x" * 1_000_000 + b")\n")
    assert result.closed_by_server and len(result.commands) == 1
    await still_serving(port_of(server))


INJECTIONS = [
    '123";EXEC System "rm -rf /',
    "123\\",
    '"',
    "555\\\"1234",
    "15551234567 EXEC System x",
    "15551234567\tEXEC",
]


@pytest.mark.parametrize("evil", INJECTIONS)
async def test_injection_through_exten_and_caller_id(make_server: ServerFactory, evil: str) -> None:
    screener = FakeScreener(verdict=Verdict.BLOCK)
    server = await make_server(screener)
    result = await call(port_of(server), header("screen", evil, evil, agi_callerid=evil, agi_uniqueid=evil))
    assert result.closed_by_server
    assert_no_injection(result.commands)
    variables = result.variables()
    assert variables["SCREEN_RESULT"] == "BLOCK"
    assert all(ch in "0123456789+*#" for ch in variables["SCREEN_NUMBER"])
    assert '"' not in variables["SCREEN_CAMPAIGN"] and " " not in variables["SCREEN_CAMPAIGN"]


@pytest.mark.parametrize("callerid", [
    '123\nEXEC System "rm -rf /"',           # a raw newline, then a command
    "123\n\nEXEC System touch",              # a blank line: the header block would end early
    "123\nagi_arg_1: 911",                    # a header line injected (the real agi_arg_1 comes later)
    "123\r\nSET VARIABLE GLOBAL(X) 1\n",
])
async def test_a_raw_newline_in_the_caller_id_gets_a_blocked_decision_not_a_dropped_session(
        make_server: ServerFactory, callerid: str) -> None:
    screener = FakeScreener()
    server = await make_server(screener)
    result = await call(port_of(server), header("screen", "15551234567", agi_callerid=callerid))
    assert_no_injection(result.commands)
    variables = result.variables()
    assert variables["SCREEN_RESULT"] == "BLOCK" and variables["SCREEN_REASONS"] == "invalid_request"
    [request] = screener.requests
    assert request.dialed == "15551234567"  # the real argument, not an injected one
    assert request.problem  # says what was wrong (logged and audited)
    await still_serving(port_of(server))


async def test_injection_through_the_campaign_variable(make_server: ServerFactory) -> None:
    screener = FakeScreener()
    server = await make_server(screener)

    def evil_campaign(command: str) -> bytes:
        if command.startswith("GET VARIABLE"):
            return b'200 result=1 (lab" EXEC System "rm -rf /)\n'
        return b"200 result=1\n"

    result = await call(port_of(server), header("screen", "15551234567"), evil_campaign)
    assert_no_injection(result.commands)
    assert screener.requests[0].campaign == "labEXECSystemrm-rf"


async def test_nul_and_control_bytes_in_values(make_server: ServerFactory) -> None:
    server = await make_server()
    result = await call(port_of(server), header("screen", "1555\x01123\x7f4567", agi_callerid="a\x1bb"))
    assert_no_injection(result.commands)
    assert result.variables()["SCREEN_NUMBER"] == "+15551234567"


async def test_disallowed_peer_is_closed_at_once(make_server: ServerFactory) -> None:
    screener = FakeScreener()
    server = await make_server(screener, peers=("10.9.8.7", "192.168.0.0/16"))
    result = await call(port_of(server), header("screen", "15551234567"))
    assert result.commands == [] and result.closed_by_server
    assert screener.requests == [] and server.stats["refused"] == 1


async def test_allowed_network(make_server: ServerFactory) -> None:
    server = await make_server(peers=("127.0.0.0/8",))
    await still_serving(port_of(server))


async def test_shutdown_lets_a_call_in_flight_finish(make_server: ServerFactory) -> None:
    screener = FakeScreener(delay_s=0.5)
    server = await make_server(screener, decision_timeout_s=10)
    port = port_of(server)
    in_flight = asyncio.create_task(call(port, header("screen", "15551234567")))
    while not screener.requests:
        await asyncio.sleep(0.01)
    await server.shutdown(grace_s=10)
    result = await in_flight
    assert result.variables()["SCREEN_RESULT"] == "ALLOW"
    with pytest.raises(OSError):
        await asyncio.open_connection("127.0.0.1", port)


async def test_shutdown_cancels_calls_past_the_grace_period(make_server: ServerFactory) -> None:
    screener = FakeScreener(delay_s=60)
    server = await make_server(screener, decision_timeout_s=120)
    in_flight = asyncio.create_task(call(port_of(server), header("screen", "15551234567"), timeout_s=30))
    while not screener.requests:
        await asyncio.sleep(0.01)
    async with asyncio.timeout(20):
        await server.shutdown(grace_s=0.2)
    result = await in_flight
    assert result.closed_by_server
    assert "SCREEN_RESULT" not in result.variables()  # the dialplan treats "not set" as block
    assert server.in_flight == 0
