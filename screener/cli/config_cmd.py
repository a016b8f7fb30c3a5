"""``screener config``: validate a config file and show what it defines (secrets masked)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from screener.cli.common import UsageError, load_cli_settings, run_guarded
from screener.config.placeholders import placeholders
from screener.service.connection import redact


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "config", help="validate the config and show its campaigns, policies and lists",
        description="Load and validate the config (the same checks a running screener makes on reload) and "
                    "print its version (a content hash recorded with every decision). Exit status 2 when invalid: "
                    "the message names the file, the key and the problem. A secret still holding the shipped "
                    "placeholder (change-me...) is a warning here; `screener serve` refuses to start with it.")
    p.add_argument("action", nargs="?", choices=("check", "show"), default="check")
    p.add_argument("version", nargs="?", metavar="VERSION",
                   help="with show: print that stored config version exactly (every version a screener loaded is "
                        "stored, content-addressed, in Redis and the audit archive; secrets shown as ***)")
    p.set_defaults(func=run_guarded(_config))


async def _show_version(args: argparse.Namespace) -> int:
    from screener.cli.common import redis_url
    from screener.config.paths import archive_dir
    from screener.service.config_versions import stored
    from screener.service.connection import open_client

    s = load_cli_settings(args)
    redis = open_client(redis_url(args, s))
    try:
        found = await stored(redis, args.version, archive_dir(s))
    finally:
        await redis.aclose()
    print(f"# config version {found.version} ({len(found.files)} file(s), from {found.where}; secrets shown as ***)")
    for path, text in found.files:
        print(f"# ---- file: {path}")
        sys.stdout.write(text if text.endswith("\n") or not text else text + "\n")
    return 0


async def _config(args: argparse.Namespace) -> int:
    if args.version is not None:
        if args.action != "show":
            raise UsageError("VERSION goes with `config show VERSION`")
        return await _show_version(args)
    s = load_cli_settings(args)
    print(f"{s.path}: valid, version {s.version}")
    for placeholder in placeholders(s):
        print(f"screener: warning: {placeholder}", file=sys.stderr)
    if args.action == "show":
        print(f"redis_url: {redact(s.redis_url) or '(private redis-server under ' + s.state_dir + ')'}")
        print(f"time budget: {s.time_budget_ms} ms")
        for name, lst in sorted(s.lists.items()):
            print(f"list {name}: {lst.kind.value}, source {lst.source!r}, max age {lst.max_age_days} d")
        for name, pol in sorted(s.policies.items()):
            print(f"policy {name}: regions {', '.join(sorted(pol.regions)) or '-'}")
        for name, c in sorted(s.campaigns.items()):
            print(f"campaign {name}: region {c.region}, policy {c.policy}, lists {', '.join(c.dnc_lists)}, "
                  f"consent {'required (' + c.consent_purpose + ')' if c.consent_required else 'not required'}, "
                  f"caller ID {c.caller_id}")
    return 0
