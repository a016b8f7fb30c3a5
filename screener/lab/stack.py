"""The whole stack on one machine, for the e2e tests, the demo and the bench: a lab copy of the config,
``screener serve`` as a subprocess, calls through the sandbox with a callee and its RTP, Redis-side checks."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from screener.config.placeholders import LAB_ENV
from screener.lab.rtp import RtpListener
from screener.lab.sandbox import REPO
from screener.lab.sipp import AGENT_IP, CARRIER_IP, CallResult, SippUas, place_call
from screener.service import refusals
from screener.service.audit import DECISION, AuditEntry, AuditTrail
from screener.service.connection import open_redis
from screener.service.dnc import DncAdmin, UnknownList
from screener.store import keys

#: the example config's audit salt (config/screener.toml); lab copies keep it
AUDIT_SALT = "change-me-to-a-long-random-secret"


def screener_command() -> list[str]:
    """How to run the ``screener`` CLI of this interpreter."""
    exe = Path(sys.executable).parent / "screener"
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "screener.cli.main"]


def write_config(folder: Path, *, agi_port: int, extra: str = "", source: Path | None = None,
                 admin_port: int = 0) -> Path:
    """A copy of the config folder (default: the repository's config/, with its presets) whose screener.toml
    listens on ``agi_port`` (and its admin server on ``admin_port``, 0: any free port), keeps its state and
    prompts under ``folder``, and has ``extra`` appended."""
    target = folder / "config"
    shutil.copytree(source or REPO / "config", target)
    path = target / "screener.toml"
    text = path.read_text()
    text = text.replace("port = 4573", f"port = {agi_port}", 1)
    text = text.replace('listen = "127.0.0.1:8090"', f'listen = "127.0.0.1:{admin_port}"', 1)
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
    """``screener --config CFG --redis URL serve`` as a subprocess (ended by its own pid), marked as the lab
    sandbox (``SCREENER_LAB=1``: the example config's placeholder secrets are accepted)."""

    config: Path
    redis_url: str
    port: int
    log: Path
    proc: subprocess.Popen[bytes] | None = field(default=None)

    def start(self) -> ServerProcess:
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(
                [*screener_command(), "--config", str(self.config), "--redis", self.redis_url, "serve"],
                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=self.config.parent,
                env={**os.environ, LAB_ENV: "1"})
        wait_port(self.port, self.proc, self.log)
        return self

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def pids(self) -> list[int]:
        """``screener serve``'s pid and its workers' (the supervisor's children, under ``--workers``)."""
        if self.proc is None:
            return []
        found = [self.proc.pid]
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    stat = (entry / "stat").read_text()
                except OSError:
                    continue
                if int(stat.rsplit(")", 1)[1].split()[1]) == self.proc.pid:
                    found.append(int(entry.name))
        return found

    def signal_all(self, sig: signal.Signals) -> None:
        """Send ``sig`` to serve and every worker (SIGSTOP freezes the whole screener, SIGCONT thaws it)."""
        for pid in self.pids():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)

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



def place_lab_call(workdir: Path, number: str, *, callee: str = "uas_answer.xml", press_after_ms: int = 500,
                   timeout_s: float = 60.0, ip: str = AGENT_IP, campaign: str = "", caller_user: str = "agent",
                   caller_name: str = "Agent", agent_scenario: str = "uac.xml", hold_ms: int = 500) -> Call:
    """Place one call from the agent (or ``ip=DIALER_IP, campaign=...``) to ``number`` through Asterisk; the
    callee runs ``callee`` behind the carrier trunk (its media goes to an RTP listener) and is stopped
    before this returns. The agent runs ``agent_scenario`` (``hold_ms``: its sipp ``-d`` pause)."""
    with RtpListener(CARRIER_IP) as rtp:
        keys_ = {"rtp_ip": CARRIER_IP, "rtp_port": str(rtp.port), "digit": "9"}
        with SippUas(callee, workdir, keys=keys_, pause_ms=press_after_ms) as uas:
            result = place_call(number, workdir, scenario_name=agent_scenario, timeout_s=timeout_s, ip=ip,
                                campaign=campaign, caller_user=caller_user, caller_name=caller_name,
                                hold_ms=hold_ms)
            time.sleep(0.3)  # let the callee log the last message (BYE/200)
    return Call(result=result, callee=uas, rtp=rtp)


# -- Redis-side checks (through the service, as the CLI reads them) ------------------------------------

def _run(coro_factory: Any) -> Any:
    return asyncio.run(coro_factory())


def audit_entries(redis_url: str, e164: str, salt: str = AUDIT_SALT) -> list[AuditEntry]:
    """Every audit entry of a number (found by its hash with the config's audit salt), oldest first."""
    async def go() -> list[AuditEntry]:
        client = open_redis(redis_url)
        try:
            return [e async for e in AuditTrail(client, salt).entries(number=e164)]
        finally:
            await client.aclose()
    return cast(list[AuditEntry], _run(go))


def wait_audit(redis_url: str, e164: str, kind: str, count: int = 1, timeout_s: float = 30.0) -> list[AuditEntry]:
    """The number's audit entries of ``kind``, once there are at least ``count`` (AssertionError after
    ``timeout_s``): entries written when a call ends land a little after the SIP dialog is over."""
    deadline = time.monotonic() + timeout_s
    while True:
        found = [e for e in audit_entries(redis_url, e164) if e.kind == kind]
        if len(found) >= count:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"{len(found)} {kind} entries for {e164} after {timeout_s} s, wanted {count}")
        time.sleep(0.2)


def decision_reasons(redis_url: str, e164: str) -> list[list[str]]:
    """The reason codes of each decision about a number, oldest first."""
    return [[code for code, _ in e.reasons] for e in audit_entries(redis_url, e164) if e.kind == DECISION]


def dnc_add(redis_url: str, e164: str) -> None:
    async def go() -> None:
        async with DncAdmin.open(redis_url) as admin:
            await admin.add("internal", e164, actor="lab", source="e2e test", create=True)
    _run(go)


def on_internal_dnc(redis_url: str, e164: str) -> bool:
    async def go() -> bool:
        async with DncAdmin.open(redis_url) as admin:
            try:
                return (await admin.check("internal", e164)).listed
            except UnknownList:  # no opt-out (nor add) made the list yet
                return False
    return bool(_run(go))


def calls_in_progress(redis_url: str, campaign: str) -> int:
    """How many calls of the campaign count as in progress (max_concurrent_calls)."""
    async def go() -> int:
        client = open_redis(redis_url)
        try:
            return int(await client.zcard(keys.calls_key(campaign)))
        finally:
            await client.aclose()
    return cast(int, _run(go))


def refused_at_ms(redis_url: str, e164: str) -> int | None:
    async def go() -> int | None:
        client = open_redis(redis_url)
        try:
            return await refusals.last_refusal_ms(client, e164)
        finally:
            await client.aclose()
    return cast("int | None", _run(go))
