"""``screener demo``: the whole thing on one machine, with real calls.

It starts a private redis-server, renders the prompts, starts ``screener serve`` and the Asterisk 22 sandbox
with the shipped dialplan, then places sample calls with sipp (agent 127.0.0.2 -> Asterisk 127.0.0.1 ->
carrier 127.0.0.3) and prints each call's outcome with the screener's reasons from the audit trail. Then
it stops everything it started. Needs root (the sandbox runs under chroot) and `bash .ci/bootstrap`.
Its ``screener serve`` runs marked as the lab sandbox (``SCREENER_LAB=1``, set by lab.stack.ServerProcess),
so the example config's placeholder secrets are accepted there and nowhere else.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from screener.cli.common import config_path, fail

DESCRIPTION = """\
The whole thing on one machine, with real calls: a private redis-server, the prompts rendered with
espeak-ng and sox, `screener serve` and a real Asterisk 22 (the sandbox root that `bash .ci/bootstrap`
builds) with the shipped dialplan. sipp then places sample calls (agent 127.0.0.2 -> Asterisk 127.0.0.1 ->
carrier 127.0.0.3): an allowed call with its disclosure, a number on the DNC list, a callee pressing 9
and the retry, and a number over its frequency limit. Each call's outcome is printed with the reasons
from the audit trail; then everything the demo started is stopped. Needs root (chroot).

The screener's admin server runs too: the demo prints its URL and a viewer token, so you can watch the
calls arrive on the supervisor page (--keep-running leaves everything up after the calls, until Ctrl-C).
"""


@dataclass(frozen=True)
class Step:
    """One sample call: what it shows, the number, the callee's behaviour and the SIP answer expected."""

    title: str
    number: str
    callee: str
    expect_status: int
    expect_reasons: tuple[str, ...] = ()
    #: "dnc": put the number on the internal DNC list first
    setup: str = ""


STEPS: tuple[Step, ...] = (
    Step("allowed: disclosure, then agent", "+12125550101", "uas_answer.xml", 200),
    Step("on the internal DNC list", "+12125550102", "uas_answer.xml", 403, ("dnc_internal",), setup="dnc"),
    Step("callee presses 9", "+12125550103", "uas_press9.xml", 603),
    Step("next call after the 9", "+12125550103", "uas_answer.xml", 403, ("dnc_internal",)),
    Step("limit 3/h: call 1 (busy)", "+12125550104", "uas_ring_busy.xml", 486),
    Step("limit 3/h: call 2 (busy)", "+12125550104", "uas_ring_busy.xml", 486),
    Step("limit 3/h: call 3 (busy)", "+12125550104", "uas_ring_busy.xml", 486),
    Step("limit 3/h: call 4", "+12125550104", "uas_answer.xml", 403, ("frequency_limit",)),
)


@dataclass(frozen=True)
class Outcome:
    step: Step
    status: int | None
    carrier_invites: int
    verdict: str
    reasons: tuple[str, ...]
    note: str

    @property
    def as_expected(self) -> bool:
        if self.status != self.step.expect_status:
            return False
        # its decision is in the audit trail, with the verdict the SIP answer shows
        if self.verdict != ("block" if self.step.expect_reasons else "allow"):
            return False
        return not self.step.expect_reasons or self.reasons == self.step.expect_reasons


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "demo", help="run Redis, the Asterisk 22 sandbox and the screener here and place sample calls with sipp",
        description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--keep", action="store_true",
                   help="keep the work folder (configs, logs, sipp message traces) and print where it is")
    p.add_argument("--keep-running", action="store_true",
                   help="after the calls, keep Redis, the screener (with its page) and Asterisk up until Ctrl-C")
    p.set_defaults(func=run)


def say(message: str) -> None:
    print(f"screener demo: {message}", flush=True)


def run(args: argparse.Namespace) -> int:
    if os.geteuid() != 0:
        return fail("the demo needs root: the Asterisk sandbox runs under chroot (run `sudo screener demo`)")
    for tool in ("sipp", "redis-server", "espeak-ng", "sox", "mmdebstrap"):
        if shutil.which(tool) is None:
            return fail(f"{tool} is not installed: run `bash .ci/bootstrap` first")
    source = Path(config_path(args))
    if not source.exists():
        return fail(f"no config file {source} (use --config PATH)")
    work = Path(tempfile.mkdtemp(prefix="screener-demo-"))
    failed = True
    try:
        failed = _demo(source, work, keep_running=args.keep_running)
    finally:
        if args.keep or failed:
            say(f"logs, configs and sipp traces are in {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    return 1 if failed else 0


def _admin_url(log: Path, timeout_s: float = 10.0) -> str | None:
    """The admin server's URL, from the line `screener serve` prints when it listens."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        match = re.search(r"admin server on (\S+)", log.read_text(errors="replace")) if log.exists() else None
        if match:
            return match.group(1)
        time.sleep(0.1)
    return None


def _viewer_token(config: Path, redis_url: str) -> str | None:
    from screener.lab.stack import screener_command

    made = subprocess.run([*screener_command(), "--config", str(config), "--redis", redis_url, "admin", "token",
                           "create", "demo-viewer", "--role", "viewer"], capture_output=True, text=True, check=False)
    return made.stdout.strip() if made.returncode == 0 else None


def _wait_for_ctrl_c() -> None:
    say("everything stays up: press Ctrl-C to stop")
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        print()


def _demo(source: Path, work: Path, *, keep_running: bool = False) -> bool:
    """Bring everything up, place the calls, print the table; True when something went wrong."""
    from screener.embedded_redis import EmbeddedRedis, free_port
    from screener.lab import AsteriskSandbox, SandboxError, build_root
    from screener.lab.stack import ServerProcess, screener_command, write_config

    stops: list[Callable[[], object]] = []
    try:
        port = free_port()
        config = write_config(work, agi_port=port, source=source.parent, admin_port=free_port())
        redis = EmbeddedRedis(work / "redis", persist=False).start()
        stops.append(redis.stop)
        say(f"private redis-server on {redis.url}")

        prompts = work / "prompts"
        rendered = subprocess.run([*screener_command(), "--config", str(config), "prompts", "build", "--out",
                                   str(prompts)], capture_output=True, text=True, check=False)
        if rendered.returncode != 0:
            say(f"screener prompts build failed:\n{rendered.stdout}{rendered.stderr}")
            return True
        say(f"rendered {len(list(prompts.glob('*.wav')))} prompts (espeak-ng + sox) into {prompts}")

        server = ServerProcess(config, redis.url, port, work / "serve.log").start()
        stops.append(server.stop)
        say(f"screener serve (FastAGI) listening on 127.0.0.1:{port}")
        admin_url, token = _admin_url(work / "serve.log"), _viewer_token(config, redis.url)
        if admin_url and token:
            say(f"supervisor page: {admin_url}  (viewer token: {token})")
        else:
            say("no supervisor page: the admin server is off in this config, or did not start (see serve.log)")

        say("Asterisk 22 sandbox: building or reusing the cached root (the first build takes about a minute)")
        sandbox = AsteriskSandbox(build_root(), prompts_dir=prompts,
                                  global_vars={"SCREENER_AGI": f"127.0.0.1:{port}"})
        sandbox.start()
        stops.append(sandbox.stop)
        version = sandbox.rx("core show version").split(" built by")[0].strip()
        say(f"{version} running with the shipped dialplan (asterisk/extensions_screener.conf)")
        print(flush=True)
        from screener.config.load import load_settings

        salt = load_settings(str(config)).audit_salt.value
        outcomes = _place_calls(work / "calls", redis.url, salt)
        if keep_running:
            print()
            print(render_table(outcomes))
            print()
            _wait_for_ctrl_c()
    except (SandboxError, RuntimeError, OSError) as exc:
        say(f"error: {exc}")
        return True
    finally:
        for stop in reversed(stops):
            stop()
        if stops:
            say("stopped Asterisk, screener serve and redis-server")
    if not keep_running:
        print()
        print(render_table(outcomes))
        print()
    bad = [o for o in outcomes if not o.as_expected]
    if bad:
        for o in bad:
            say(f"UNEXPECTED: {o.step.title}: SIP {o.status}, reasons {','.join(o.reasons) or '-'} "
                f"(expected SIP {o.step.expect_status} {','.join(o.step.expect_reasons)})")
        return True
    say("every call ended as expected: allowed calls disclosed first, blocked calls never reached the carrier")
    return False


def _place_calls(workdir: Path, redis_url: str, salt: str) -> list[Outcome]:
    from screener.lab.stack import audit_entries, dnc_add, on_internal_dnc, place_lab_call, refused_at_ms

    workdir.mkdir(parents=True, exist_ok=True)
    outcomes = []
    for n, step in enumerate(STEPS, 1):
        if step.setup == "dnc":
            dnc_add(redis_url, step.number)
        before = len(audit_entries(redis_url, step.number, salt))
        say(f"call {n}: {step.title} ({step.number})")
        call = place_lab_call(workdir, step.number.lstrip("+"), callee=step.callee, press_after_ms=1500)
        entries = audit_entries(redis_url, step.number, salt)[before:]
        decisions = [e for e in entries if e.kind == "decision"]
        verdict = (decisions[-1].verdict or "?") if decisions else "?"
        reasons = tuple(code for code, _ in decisions[-1].reasons) if decisions else ()
        note = ""
        status = call.result.final_status
        if status == 200:
            agent_answered = call.result.received_at(200)
            heard = len(call.rtp.audible(before=agent_answered)) * 0.02 if agent_answered else 0.0
            note = f"callee heard {heard:.1f} s of disclosure, then the agent"
        elif step.callee == "uas_press9.xml":
            refused = refused_at_ms(redis_url, step.number)
            byes = call.callee.received("BYE")
            if not on_internal_dnc(redis_url, step.number) or refused is None:
                note = "NOT on the internal DNC list"
            elif byes and refused / 1000 <= byes[0].at:
                note = "on the internal DNC list before the hang-up"
            else:
                note = "on the internal DNC list (after the hang-up)"
        elif status == 486:
            note = "callee busy; the attempt counts"
        elif status == 403:
            note = "Hangup(21) before any Dial"
        outcomes.append(Outcome(step, status, len(call.callee.received("INVITE")), verdict, reasons, note))
    return outcomes


def render_table(outcomes: list[Outcome]) -> str:
    headers = ("#", "call", "number", "agent got", "carrier", "verdict", "reasons", "what happened")
    rows = [
        (str(n), o.step.title, o.step.number, f"SIP {o.status}" if o.status else "no answer",
         "INVITE" if o.carrier_invites else "never", o.verdict.upper(), ",".join(o.reasons) or "-", o.note)
        for n, o in enumerate(outcomes, 1)
    ]
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]
    line = "  ".join("-" * w for w in widths)
    out = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip(), line]
    out += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    return "\n".join(out)
