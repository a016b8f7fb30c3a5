"""``screener doctor``: check a deployment in one go and print what to fix (the checks: screener.service.doctor)."""

from __future__ import annotations

import argparse
import json
import os
from typing import Any

from screener.cli.common import load_cli_settings, state_dir
from screener.cli.prompts import prompts_dir
from screener.config.errors import ConfigError
from screener.config.settings import Settings
from screener.service.connection import redact
from screener.service.doctor import Finding, Status, check_deployment, passed

DESCRIPTION = """\
Checks a deployment and prints what to fix:
  - Redis reachable, maxmemory-policy noeviction, AOF on, set-max-intset-entries 512
  - the config valid, with no shipped placeholder secret (change-me...)
  - the prompts rendered for every campaign and language (under prompts_dir)
  - the dialplan: no route reaches a trunk without the screener (with --dialplan FILE)
  - the clock synchronized (timedatectl), the FastAGI port bound (something listens)

Without a Redis URL (--redis, SCREENER_REDIS_URL, redis_url) it checks the private redis-server under
state_dir, without starting it.

exit status: 0 when nothing failed (warnings allowed), 1 when a check failed
"""

MARK = {Status.OK: "ok  ", Status.WARN: "WARN", Status.FAIL: "FAIL"}


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "doctor", help="check a deployment (Redis settings, config, prompts, dialplan, clock, port)",
        description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--dialplan", metavar="FILE", help="also lint this extensions.conf (as lint-dialplan does)")
    p.add_argument("--json", action="store_true", help="one JSON object per finding")
    p.set_defaults(func=_doctor)


def redis_url_for_doctor(args: argparse.Namespace, settings: Settings | None) -> str | None:
    """--redis, SCREENER_REDIS_URL, the config's redis_url, else the private redis-server's socket (not
    started here: a doctor looks, it does not start things)."""
    url = getattr(args, "redis", None) or os.environ.get("SCREENER_REDIS_URL") or (settings and settings.redis_url)
    if url:
        return str(url)
    if settings is None:
        return None
    return f"unix://{state_dir(settings).resolve() / 'redis.sock'}?db=0"


async def _doctor(args: argparse.Namespace) -> int:
    settings: Settings | None = None
    error: str | None = None
    try:
        settings = load_cli_settings(args)
    except ConfigError as exc:
        error = str(exc)
    url = redis_url_for_doctor(args, settings)
    findings = await check_deployment(
        settings, config_error=error, redis_url=url, redis_shown_as=redact(url) if url else "",
        prompts_dir=prompts_dir(settings) if settings is not None else None, dialplan=args.dialplan,
    )
    for finding in findings:
        print(json.dumps(vars(finding), ensure_ascii=False) if args.json else render(finding))
    failed = sum(f.status is Status.FAIL for f in findings)
    warned = sum(f.status is Status.WARN for f in findings)
    if not args.json:
        print(f"{len(findings)} check(s): {failed} failed, {warned} warning(s)")
    return 0 if passed(findings) else 1


def render(finding: Finding) -> str:
    line = f"{MARK[finding.status]}  {finding.name}: {finding.message}"
    return f"{line}\n      fix: {finding.fix}" if finding.fix else line
