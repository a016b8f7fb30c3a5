"""A fake Asterisk: a real loopback TCP client replaying recorded header blocks and answering commands."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from screener.agi.server import FastAgiServer
from tests.agi import transcripts


def header(script: str, *args: str, base: str = "screen-allow", **fields: str) -> bytes:
    """A recorded header block with ``agi_network_script``, the ``agi_arg_N`` and some fields replaced."""
    lines = [ln for ln in transcripts.load(base).header.decode().split("\n") if ln]
    out = []
    for line in lines:
        key = line.split(":", 1)[0]
        if key.startswith("agi_arg_"):
            continue
        if key == "agi_network_script":
            line = f"agi_network_script: {script}"
        elif key == "agi_request":
            line = f"agi_request: agi://127.0.0.1:4573/{script}"
        elif key in fields:
            line = f"{key}: {fields[key]}"
        out.append(line)
    out += [f"agi_arg_{i}: {a}" for i, a in enumerate(args, 1)]
    return ("\n".join(out) + "\n\n").encode()


def default_reply(command: str) -> bytes:
    if command.startswith("GET VARIABLE SCREENER_CAMPAIGN"):
        return b"200 result=1 (lab)\n"
    if command.startswith("STREAM FILE"):
        return b"200 result=0 endpos=8000\n"
    if command == "NOOP":
        return b"200 result=0\n"
    if command.startswith(("SET VARIABLE", "WAIT FOR DIGIT", "VERBOSE")):
        return b"200 result=1\n" if command.startswith("SET") else b"200 result=0\n"
    return b"510 Invalid or unknown command\n"


Responder = Callable[[str], bytes]
ServerFactory = Callable[..., Awaitable[FastAgiServer]]


def port_of(server: FastAgiServer) -> int:
    return server.addresses[0][1]


@dataclass
class CallResult:
    commands: list[str]
    #: True when the server closed the connection (EOF), False when the fake Asterisk gave up
    closed_by_server: bool

    def variables(self) -> dict[str, str]:
        from tests.agi.asterisk_parse import parse_args

        out: dict[str, str] = {}
        for line in self.commands:
            args = parse_args(line)
            if args[:2] == ["SET", "VARIABLE"]:
                assert len(args) == 4, line
                out[args[2]] = args[3]
        return out

    def set_order(self) -> list[str]:
        return [line.split()[2] for line in self.commands if line.startswith("SET VARIABLE")]


async def call(
    port: int, data: bytes, responder: Responder = default_reply, *, timeout_s: float = 5.0,
    log: list[str] | None = None, close_after: int | None = None,
) -> CallResult:
    """Play Asterisk: send ``data`` (a header block), answer each command line, until the server closes."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    commands: list[str] = []
    closed = False
    try:
        writer.write(data)
        await writer.drain()
        async with asyncio.timeout(timeout_s):
            while close_after is None or len(commands) < close_after:
                line = await reader.readline()
                if not line:
                    closed = True
                    break
                assert line.endswith(b"\n")
                text = line[:-1].decode()
                commands.append(text)
                if log is not None:
                    log.append(text)
                writer.write(responder(text))
                await writer.drain()
    except ConnectionError:
        closed = True
    finally:
        writer.close()
    return CallResult(commands, closed)
