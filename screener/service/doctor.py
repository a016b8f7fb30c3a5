"""Check a deployment in one go: each check returns findings (ok, warn or fail) that say what to fix.

``screener doctor`` prints them; the admin API's readiness can run the same checks. What is checked:

- Redis: reachable; ``maxmemory-policy noeviction`` (an evicted DNC entry or opt-out would let calls
  through); AOF on (an acknowledged opt-out must survive a restart); ``set-max-intset-entries`` 512 (the
  DNC layout's block sizes assume it, docs/dnc-storage.md);
- the config: valid, and no shipped placeholder secrets;
- the prompts: every campaign's disclosure and the opt-out/blocked notices rendered, for every language;
- the dialplan (when given): no outbound route reaches a trunk without the screener;
- the clock: synchronized (calling hours depend on it), as ``timedatectl`` reports it;
- the FastAGI port: something listens there.

A ``warn`` is advice or a check that could not be made; only a ``fail`` means the deployment is not ready.
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from redis.exceptions import RedisError, ResponseError

from screener.config.placeholders import placeholders
from screener.config.settings import Settings
from screener.prompts import PromptError, specs_for
from screener.service.connection import AnyClient, open_client
from screener.store.client import text

TIMEOUT_S = 3.0


class Status(StrEnum):
    OK = "ok"
    WARN = "warn"
    FAIL = "fail"


#: the server settings the screener relies on: (CONFIG GET name, expected value, status when different, why)
REDIS_SETTINGS: tuple[tuple[str, str, Status, str], ...] = (
    ("maxmemory-policy", "noeviction", Status.FAIL,
     "an evicted key is a lost DNC entry, opt-out or consent record: calls would be let through"),
    ("appendonly", "yes", Status.FAIL, "without AOF an acknowledged opt-out is lost when Redis restarts"),
    ("set-max-intset-entries", "512", Status.WARN,
     "the DNC layout sizes its blocks for 512 (docs/dnc-storage.md): other values cost memory or speed"),
)


@dataclass(frozen=True)
class Finding:
    """One check's result: what was checked, how it went, what was seen, and how to fix it (empty when ok)."""

    name: str
    status: Status
    message: str
    fix: str = ""


def ok(name: str, message: str) -> Finding:
    return Finding(name, Status.OK, message)


def passed(findings: Sequence[Finding]) -> bool:
    """True when no finding failed (warnings do not fail a deployment)."""
    return all(f.status is not Status.FAIL for f in findings)


# -- Redis ------------------------------------------------------------------------------------------------

async def redis_findings(url: str, *, shown_as: str, timeout_s: float = TIMEOUT_S) -> list[Finding]:
    """Redis at ``url`` (``shown_as``: the URL with its password masked) and the settings the screener needs."""
    client = open_client(url, timeout_s=timeout_s)
    try:
        try:
            async with asyncio.timeout(timeout_s):
                await client.ping()
        except (RedisError, OSError, TimeoutError) as exc:
            return [Finding("redis", Status.FAIL, f"not reachable at {shown_as}: {type(exc).__name__}: {exc}",
                            "start Redis, or point redis_url / SCREENER_REDIS_URL / --redis at it")]
        findings = [ok("redis", f"reachable at {shown_as}")]
        for name, expected, status, why in REDIS_SETTINGS:
            findings.append(await _redis_setting(client, name, expected, status, why))
        return findings
    finally:
        await client.aclose()


async def _redis_setting(client: AnyClient, name: str, expected: str, status: Status, why: str) -> Finding:
    check = f"redis {name}"
    try:
        async with asyncio.timeout(TIMEOUT_S):
            got = await client.config_get(name)
    except ResponseError as exc:  # CONFIG renamed or disabled (managed Redis services do that)
        return Finding(check, Status.WARN, f"could not be read ({exc})",
                       f"check by hand that {name} is {expected}: {why}")
    except (RedisError, OSError, TimeoutError) as exc:
        return Finding(check, Status.FAIL, f"could not be read: {type(exc).__name__}: {exc}", "check Redis")
    value = {text(key): text(value) for key, value in got.items()}.get(name, "")
    if value == expected:
        return ok(check, value)
    return Finding(check, status, f"is {value or 'unset'!r}, expected {expected!r}: {why}",
                   f"in redis.conf set `{name} {expected}` (or at once: redis-cli CONFIG SET {name} {expected}, "
                   "then CONFIG REWRITE)")



# -- config and prompts -----------------------------------------------------------------------------------

def config_findings(settings: Settings | None, error: str | None) -> list[Finding]:
    """The config as loaded (``settings``), or the error that stopped it loading."""
    if settings is None:
        return [Finding("config", Status.FAIL, error or "not loaded",
                        "fix the key named above; `screener config check` validates the file")]
    found = [ok("config", f"{settings.path}: valid, version {settings.version}, "
                          f"{len(settings.campaigns)} campaign(s)")]
    if not settings.campaigns:
        found.append(Finding("config campaigns", Status.FAIL, "no campaign defined: every call would block",
                             "define at least one [campaigns.NAME]"))
    for placeholder in placeholders(settings):
        found.append(Finding(f"config {placeholder.key}", Status.FAIL, "still the shipped placeholder",
                             placeholder.fix))
    return found


def prompt_findings(settings: Settings, prompts_dir: Path) -> list[Finding]:
    """Every prompt the campaigns need (disclosure per language, opt-out and blocked notices) under
    ``prompts_dir``, as the 8 kHz .wav and the 16 kHz .sln16 that ``screener prompts build`` writes."""
    try:
        specs = specs_for(settings.campaigns.values())
    except PromptError as exc:
        return [Finding("prompts", Status.FAIL, str(exc), "rename the campaign or language")]
    missing = [f"{spec.name}{ext}" for spec in specs for ext in (".wav", ".sln16")
               if not (prompts_dir / f"{spec.name}{ext}").is_file()]
    if missing:
        shown = ", ".join(missing[:6]) + (f" and {len(missing) - 6} more" if len(missing) > 6 else "")
        return [Finding("prompts", Status.FAIL, f"missing under {prompts_dir}: {shown}",
                        "render them with `screener prompts build` (and copy or link them where Asterisk "
                        "plays custom/screener/ from)")]
    return [ok("prompts", f"{len(specs)} prompt(s) rendered under {prompts_dir}")]


# -- dialplan, clock, port --------------------------------------------------------------------------------

def dialplan_findings(path: str | None) -> list[Finding]:
    """The route check of ``screener lint-dialplan`` on ``path`` (not checked when None)."""
    if path is None:
        return [Finding("dialplan", Status.WARN, "not checked",
                        "pass --dialplan /etc/asterisk/extensions.conf to check that no route bypasses the screener")]
    from screener.dialplan_lint import DialplanReadError, entry_contexts, find_unscreened, read_dialplan

    try:
        plan = read_dialplan(path)
    except DialplanReadError as exc:
        return [Finding("dialplan", Status.FAIL, f"cannot be read: {exc}", "give the path of extensions.conf")]
    findings = find_unscreened(plan, entries=entry_contexts(plan))
    if findings:
        shown = "; ".join(str(f) for f in findings[:3]) + (f" (and {len(findings) - 3} more)" if len(findings) > 3
                                                            else "")
        return [Finding("dialplan", Status.FAIL, f"{len(findings)} route(s) reach a trunk unscreened: {shown}",
                        f"route them through [screener-outbound]; details: screener lint-dialplan {path}")]
    agi_steps = [step for context in plan.contexts.values() for ext in context.extensions for step in ext.steps
                 if step.app.lower() == "agi" and "agi://" in step.args]
    screens = any(step.args.split(",", 1)[0].rstrip().endswith("/screen") for step in agi_steps)
    counts = any(step.args.split(",", 1)[0].rstrip().endswith("/end") and "SCREENER_ANSWERED" in step.args
                 for step in agi_steps)
    if screens and not counts:
        return [Finding("dialplan", Status.WARN, f"{path}: no route reaches a trunk without the screener, but no h "
                        "extension passes the disclosure's times to the end script: abandoned calls are not counted",
                        "copy the h extension of [screener-outbound], its Set(__SCREENER_AGENT_CHANNEL=...) line and "
                        "the SHARED() lines of [screener-disclose] from the shipped extensions_screener.conf")]
    return [ok("dialplan", f"{path}: no route reaches a trunk without the screener "
                           f"({len(plan.contexts)} context(s))")]


def clock_findings(timeout_s: float = 5.0) -> list[Finding]:
    """Whether the system clock is synchronized (NTP), as ``timedatectl show -p NTPSynchronized`` says."""
    exe = shutil.which("timedatectl")
    if exe is None:
        return [Finding("clock", Status.WARN, "could not be checked: timedatectl not found",
                        "make sure NTP (chrony, systemd-timesyncd) keeps the clock synchronized")]
    try:
        proc = subprocess.run([exe, "show", "-p", "NTPSynchronized"], capture_output=True, text=True,
                              timeout=timeout_s, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return [Finding("clock", Status.WARN, f"could not be checked: {exc}", "check NTP by hand")]
    answer = proc.stdout.strip()
    if proc.returncode != 0 or not answer.startswith("NTPSynchronized="):
        detail = (proc.stderr.strip() or answer or f"exit status {proc.returncode}").splitlines()[0]
        return [Finding("clock", Status.WARN, f"could not be checked: timedatectl: {detail}",
                        "make sure NTP (chrony, systemd-timesyncd) keeps the clock synchronized")]
    if answer == "NTPSynchronized=yes":
        return [ok("clock", "synchronized (NTP)")]
    return [Finding("clock", Status.FAIL, "not synchronized: calling hours are decided on this clock",
                    "enable NTP: timedatectl set-ntp true (systemd-timesyncd) or install chrony")]


async def port_findings(bind: str, port: int, timeout_s: float = TIMEOUT_S) -> list[Finding]:
    """Whether something accepts connections on the FastAGI address (``screener serve``, presumably)."""
    host = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(bind, bind)
    try:
        async with asyncio.timeout(timeout_s):
            _, writer = await asyncio.open_connection(host, port)
        writer.close()
        await writer.wait_closed()
    except (OSError, TimeoutError) as exc:
        return [Finding("fastagi port", Status.FAIL, f"nothing listens on {host}:{port} ({exc})",
                        "start the service: systemctl start screener (or screener serve)")]
    return [ok("fastagi port", f"something listens on {host}:{port}")]


async def check_deployment(settings: Settings | None, *, config_error: str | None = None,
                           redis_url: str | None, redis_shown_as: str = "", prompts_dir: Path | None = None,
                           dialplan: str | None = None) -> list[Finding]:
    """Every check, in the order ``screener doctor`` prints them. Checks that need the config are skipped
    (with a warning) when it did not load; Redis is skipped when no URL is known."""
    findings = config_findings(settings, config_error)
    if redis_url:
        findings += await redis_findings(redis_url, shown_as=redis_shown_as or redis_url)
    else:
        findings.append(Finding("redis", Status.WARN, "not checked: no Redis URL (the config did not load)",
                                "fix the config, or pass --redis"))
    if settings is not None and prompts_dir is not None:
        findings += prompt_findings(settings, prompts_dir)
    findings += dialplan_findings(dialplan)
    findings += clock_findings()
    if settings is not None:
        findings += await port_findings(settings.fastagi.bind, settings.fastagi.port)
    return findings
