"""A fake Screener and a fake Asterisk (a real loopback TCP client replaying recorded header blocks)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from screener.agi.server import FastAgiServer
from screener.config.settings import (
    AriSettings,
    Campaign,
    DisclosureText,
    FastAgiSettings,
    Secret,
    Settings,
)
from screener.decision import Decision, Reason, ScreenRequest
from screener.reasons import ReasonCode, Verdict
from screener.service import DisclosureEvent
from tests.agi import transcripts


def lab_campaign(name: str = "lab", **kw: object) -> Campaign:
    base: dict[str, object] = dict(
        name=name, company='Lab "Test" Co', purpose="testing", subject="sales", caller_id="+12025550100",
        callback_number="+12025550100", region="US", policy="open", dnc_lists=("internal",),
        consent_required=False, consent_purpose="sales",
        disclosures=(DisclosureText("en", "This is Lab Co. Press 9 to stop our calls."),
                     DisclosureText("zh", "这里是实验室公司。")),
    )
    base.update(kw)
    return Campaign(**base)  # type: ignore[arg-type]


def lab_settings(*campaigns: Campaign) -> Settings:
    camps = campaigns or (lab_campaign(),)
    return Settings(
        path="tests/agi", version="v-test", redis_url="", state_dir="var", time_budget_ms=100,
        audit_salt=Secret("s"), audit_maxlen=1000, fastagi=FastAgiSettings(), ari=AriSettings(),
        lists={}, policies={}, campaigns={c.name: c for c in camps},
    )


@dataclass
class FakeScreener:
    """Answers with ``verdict``/``reasons``; ``fail`` raises, ``delay_s`` sleeps first; records every call."""

    verdict: Verdict = Verdict.ALLOW
    reasons: tuple[ReasonCode, ...] = ()
    fail: bool = False
    delay_s: float = 0.0
    opt_out_fails: bool = False
    _settings: Settings = field(default_factory=lab_settings)
    requests: list[ScreenRequest] = field(default_factory=list)
    opt_outs: list[tuple[str, str, str, str | None]] = field(default_factory=list)
    disclosures: list[DisclosureEvent] = field(default_factory=list)
    #: shared with the fake Asterisk to check the order of opt-out and commands
    log: list[str] = field(default_factory=list)

    @property
    def settings(self) -> Settings:
        return self._settings

    async def screen(self, request: ScreenRequest) -> Decision:
        self.requests.append(request)
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        if self.fail:
            raise RuntimeError("boom")
        campaign = self._settings.campaigns.get(request.campaign)
        number = "+1" + request.dialed[-10:] if len(request.dialed) >= 10 else request.dialed
        return Decision(
            verdict=self.verdict, reasons=tuple(Reason(c) for c in self.reasons), number=number,
            campaign=request.campaign, decided_at=datetime.now(UTC), config_version="v-test", dry_run=False,
            caller_id=campaign.caller_id if campaign and self.verdict is Verdict.ALLOW else None,
        )

    async def opt_out(self, number: str, campaign: str, *, source: str, call_id: str | None = None) -> None:
        self.log.append("opt_out")
        if self.opt_out_fails:
            raise ConnectionError("redis down")
        self.opt_outs.append((number, campaign, source, call_id))

    async def record_disclosure(self, event: DisclosureEvent) -> None:
        self.log.append("record_disclosure")
        self.disclosures.append(event)


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
