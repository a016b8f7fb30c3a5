"""A fake Asterisk for load and fault drills: FastAGI sessions over loopback, as ``[screener-outbound]`` and
``[screener-disclose]`` run them (a header block like Asterisk 22's, then an answer to every command).

``screen_call`` asks for a decision and reads the variables the screener set; ``disclose_press`` plays the
callee who presses the opt-out digit during the disclosure and tells whether the confirmation was played
(the screener plays it only once the opt-out was acknowledged).
"""

from __future__ import annotations

import asyncio
import contextlib
import shlex
import time
from collections.abc import Callable
from dataclasses import dataclass, field

#: the fixed part of an Asterisk 22 header block (the caller fields and arguments are added per call)
_HEADER = (
    ("agi_network", "yes"), ("agi_language", "en"), ("agi_type", "PJSIP"),
    ("agi_version", "22.0.0"), ("agi_callerid", "agent"), ("agi_calleridname", "Agent"),
    ("agi_callingpres", "0"), ("agi_callingani2", "0"), ("agi_callington", "0"), ("agi_callingtns", "0"),
    ("agi_dnid", "unknown"), ("agi_rdnis", "unknown"), ("agi_context", "screener-outbound"),
    ("agi_priority", "1"), ("agi_enhanced", "0.0"), ("agi_accountcode", ""), ("agi_threadid", "1"),
)


def header(script: str, channel: str, uniqueid: str, *args: str) -> bytes:
    lines = [f"agi_network_script: {script}", f"agi_request: agi://127.0.0.1/{script}",
             f"agi_channel: {channel}", f"agi_uniqueid: {uniqueid}", f"agi_extension: {args[0] if args else 's'}"]
    lines += [f"{k}: {v}" for k, v in _HEADER]
    lines += [f"agi_arg_{i}: {a}" for i, a in enumerate(args, 1)]
    return ("\n".join(lines) + "\n\n").encode()


@dataclass
class Session:
    """What the fake Asterisk saw of one AGI session."""

    commands: list[str] = field(default_factory=list)
    #: "closed" (the screener ended it), "timeout" (no end within the guard), "refused" (no connection),
    #: "reset" (the connection broke)
    end: str = "closed"
    elapsed_s: float = 0.0

    def variables(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for line in self.commands:
            if line.startswith("SET VARIABLE "):
                parts = shlex.split(line)
                if len(parts) == 4:
                    out[parts[2]] = parts[3]
        return out


async def run_session(port: int, data: bytes, respond: Callable[[str], bytes], guard_s: float) -> Session:
    """Send a header block, answer each command line, until the screener closes or ``guard_s`` passes."""
    session = Session()
    started = time.monotonic()
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), guard_s)
    except (OSError, TimeoutError):
        session.end = "refused"
        return session
    try:
        writer.write(data)
        await writer.drain()
        async with asyncio.timeout(guard_s):
            while line := await reader.readline():
                text = line.rstrip(b"\n").decode(errors="replace")
                session.commands.append(text)
                writer.write(respond(text))
                await writer.drain()
    except TimeoutError:
        session.end = "timeout"
    except OSError:
        session.end = "reset"
    finally:
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()
        session.elapsed_s = time.monotonic() - started
    return session


def _answer(line: str, campaign: str) -> bytes:
    if line.startswith("GET VARIABLE"):
        return f"200 result=1 ({campaign})\n".encode()
    if line.startswith("SET VARIABLE"):
        return b"200 result=1\n"
    return b"200 result=0\n"


async def screen_call(port: int, number: str, campaign: str, uniqueid: str, guard_s: float) -> Session:
    """``AGI(agi://.../screen,<number>,<campaign>)`` on an agent's channel."""
    return await run_session(port, header("screen", f"PJSIP/agent-{uniqueid}", uniqueid, number, campaign),
                             lambda line: _answer(line, campaign), guard_s)


async def disclose_press(port: int, number: str, campaign: str, call_id: str, digit: str,
                         guard_s: float) -> tuple[Session, bool]:
    """``AGI(agi://.../disclose,...)`` on the callee's channel, the callee pressing ``digit`` during the prompt;
    (the session, True when the opt-out confirmation was played: the screener had it acknowledged)."""
    played: list[str] = []

    def respond(line: str) -> bytes:
        if line.startswith("STREAM FILE"):
            played.append(line)
            first = len(played) == 1  # the disclosure: the callee presses during it; then the confirmation
            return f"200 result={ord(digit)} endpos=100\n".encode() if first else b"200 result=0 endpos=8000\n"
        if line.startswith("WAIT FOR DIGIT"):
            return f"200 result={ord(digit)}\n".encode()
        return _answer(line, campaign)

    args = (number, campaign, call_id, f"{time.time():.3f}")
    session = await run_session(port, header("disclose", f"PJSIP/callee-{call_id}", f"{call_id}.1", *args),
                                respond, guard_s)
    return session, any("optout" in line for line in played[1:])
