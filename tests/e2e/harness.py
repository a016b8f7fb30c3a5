"""The e2e harness: ``screener serve`` as a subprocess, calls through the sandbox, Redis-side checks."""

from __future__ import annotations

import asyncio
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, cast
from zoneinfo import ZoneInfo

import redis.asyncio as aioredis

from screener.embedded_redis import EmbeddedRedis
from screener.lab import AsteriskSandbox
from screener.lab.rtp import RtpListener
from screener.lab.sipp import AGENT_IP, CARRIER_IP, CallResult, SippUas, place_call
from screener.store import audit, dnc, keys
from screener.store.audit import AuditEntry

REPO = Path(__file__).resolve().parents[2]
SCREENER = Path(sys.executable).parent / "screener"


def closed_window(tz: str = "America/New_York") -> str:
    """A one-hour daily calling window that is about 12 hours away from now in ``tz`` (so: closed now)."""
    start = (datetime.now(ZoneInfo(tz)) + timedelta(hours=12)).hour
    start = min(start, 22)
    return f"{start:02d}:00-{start + 1:02d}:00"


E2E_CONFIG = """
# ---- e2e additions (tests/e2e/conftest.py) ----
[policies.lab-closed]
source = "e2e: open one hour a day, about 12 hours from now in New York"

[policies.lab-closed.hours]
daily = "{window}"

[campaigns.lab-closed]
company = "Example Solar Inc. test lab"
purpose = "a test call outside calling hours"
subject = "lab-closed"
caller_id = "+12025550144"
callback_number = "+12025550144"
region = "US"
policy = "lab-closed"
dnc_lists = ["internal"]
consent_required = false
opt_out_digit = "9"

[campaigns.lab-closed.disclosure.en]
text = "This is a test call from {{company}}. To stop these calls, press {{opt_out_digit}}."
"""


def write_config(folder: Path, *, agi_port: int, extra: str = "") -> Path:
    """A copy of config/ (with its presets) whose screener.toml listens on ``agi_port`` and has ``extra`` appended."""
    target = folder / "config"
    shutil.copytree(REPO / "config", target)
    path = target / "screener.toml"
    text = path.read_text()
    text = text.replace("port = 4573", f"port = {agi_port}", 1)
    text = text.replace('state_dir = "var"', f'state_dir = "{folder / "var"}"', 1)
    text = text.replace('prompts_dir = "var/prompts"', f'prompts_dir = "{folder / "prompts"}"', 1)
    path.write_text(text + extra)
    return path


def wait_port(port: int, proc: subprocess.Popen[bytes], log: Path, timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"screener serve exited ({proc.returncode}):\n{log.read_text(errors='replace')[-3000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"screener serve did not listen on {port} within {timeout_s} s")


@dataclass
class ServerProcess:
    """``screener --config CFG --redis URL serve`` as a subprocess (ended by its own pid)."""

    config: Path
    redis_url: str
    port: int
    log: Path
    proc: subprocess.Popen[bytes] | None = field(default=None)

    def start(self) -> ServerProcess:
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(
                [str(SCREENER), "--config", str(self.config), "--redis", self.redis_url, "serve"],
                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=self.config.parent)
        wait_port(self.port, self.proc, self.log)
        return self

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self) -> int | None:
        proc = self.proc
        if proc is None:
            return None
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        self.proc = None
        return proc.returncode


@dataclass
class Call:
    """One call through Asterisk: the agent's result, the callee's SIP trace and the RTP the callee got."""

    result: CallResult
    callee: SippUas
    rtp: RtpListener

    @property
    def carrier_invites(self) -> int:
        return len(self.callee.received("INVITE"))


@dataclass
class Lab:
    sandbox: AsteriskSandbox
    workdir: Path
    redis: EmbeddedRedis
    server: ServerProcess

    def call(self, number: str, *, callee: str = "uas_answer.xml", press_after_ms: int = 500,
             timeout_s: float = 60.0, ip: str = AGENT_IP, campaign: str = "", caller_user: str = "agent",
             caller_name: str = "Agent") -> Call:
        """Place one call from the agent (or ``ip=DIALER_IP, campaign=...``) to ``number``; the callee runs
        ``callee`` behind the carrier trunk and is stopped before this returns."""
        with RtpListener(CARRIER_IP) as rtp:
            keys = {"rtp_ip": CARRIER_IP, "rtp_port": str(rtp.port), "digit": "9"}
            with SippUas(callee, self.workdir, keys=keys, pause_ms=press_after_ms) as uas:
                result = place_call(number, self.workdir, timeout_s=timeout_s, ip=ip, campaign=campaign,
                                    caller_user=caller_user, caller_name=caller_name)
                time.sleep(0.3)  # let the callee log the last message (BYE/200)
        return Call(result=result, callee=uas, rtp=rtp)




# -- Redis-side checks (the store's own API) ------------------------------------------------------------

AUDIT_SALT = "change-me-to-a-long-random-secret"  # config/screener.toml's example salt


def _run(coro_factory: Any) -> Any:
    return asyncio.run(coro_factory())


def audit_entries(redis_url: str, e164: str) -> list[AuditEntry]:
    """Every audit entry of a number (found by its salted hash), oldest first."""
    wanted = audit.number_hash(e164, AUDIT_SALT)

    async def go() -> list[AuditEntry]:
        client = aioredis.Redis.from_url(redis_url)
        try:
            return [e async for e in audit.scan(client) if e.fields.get("number_hash") == wanted]
        finally:
            await client.aclose()
    return cast(list[AuditEntry], _run(go))


def decision_reasons(redis_url: str, e164: str) -> list[list[str]]:
    """The reason codes of each decision about a number, oldest first."""
    return [[code for code, _ in e.reasons] for e in audit_entries(redis_url, e164) if e.kind == audit.DECISION]


def dnc_add(redis_url: str, e164: str) -> None:
    async def go() -> None:
        client = aioredis.Redis.from_url(redis_url)
        try:
            await dnc.add_numbers(client, "internal", [e164], source="e2e test")
        finally:
            await client.aclose()
    _run(go)


def on_internal_dnc(redis_url: str, e164: str) -> bool:
    async def go() -> bool:
        client = aioredis.Redis.from_url(redis_url)
        try:
            return await dnc.contains(client, "internal", e164)
        finally:
            await client.aclose()
    return bool(_run(go))


def refused_at_ms(redis_url: str, e164: str) -> int | None:
    async def go() -> int | None:
        client = aioredis.Redis.from_url(redis_url)
        try:
            raw = await client.get(keys.refusal_key(e164))
            return int(raw) if raw is not None else None
        finally:
            await client.aclose()
    return cast("int | None", _run(go))
