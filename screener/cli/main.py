"""``screener``: the command-line entry point. Each subcommand lives in its own module under screener.cli."""

from __future__ import annotations

import argparse
import asyncio
import importlib
import inspect
import sys
from collections.abc import Sequence

#: subcommand modules, in the order --help lists them; each has ``register(subparsers)``
COMMAND_MODULES: tuple[str, ...] = (
    "screener.cli.check",
    "screener.cli.dnc",
    "screener.cli.consent",
    "screener.cli.audit",
    "screener.cli.config_cmd",
    "screener.cli.serve",
    "screener.cli.agi",
    "screener.cli.prompts",
    "screener.cli.lint_dialplan",
    "screener.cli.admin",
    "screener.cli.demo",
)

EXIT_OK = 0
EXIT_BLOCK = 1
EXIT_USAGE = 2

DESCRIPTION = """\
Outbound call screening for Asterisk: every outbound call asks the screener first. It checks
Do-Not-Call lists, consent records, calling hours in the callee's local time and frequency limits
held in Redis, allows or blocks the call, and records every decision in an audit trail.

The config file comes from --config, else SCREENER_CONFIG, else config/screener.toml.
Redis comes from --redis, else SCREENER_REDIS_URL, else the config's redis_url; when none is set,
a private redis-server is started under the config's state_dir.
"""

EPILOG = """\
examples:
  screener check +12025550123 --campaign us-sales          dry-run decision, human readable
  screener check 2025550123 --campaign us-sales --json --at 2026-12-01T10:00:00-05:00
  screener dnc add +12025550123                             put a number on the internal DNC list
  screener consent grant +8613800138000 --campaign cn-service --source web-form-v3
  screener audit tail -n 20                                 the latest decisions
  screener serve                                            run the FastAGI server for Asterisk

Run `screener COMMAND --help` for each command's options.
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="screener", description=DESCRIPTION, epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--config", metavar="PATH", help="config file (default: $SCREENER_CONFIG or config/screener.toml)"
    )
    parser.add_argument(
        "--redis", metavar="URL",
        help="Redis URL, e.g. redis://127.0.0.1:6379/0 (default: $SCREENER_REDIS_URL, else the config)",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        module = importlib.import_module(name)
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    func = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return EXIT_USAGE
    try:
        result = func(args)
        if inspect.isawaitable(result):
            result = asyncio.run(result)  # type: ignore[arg-type]
    except KeyboardInterrupt:
        return 130
    return int(result or 0)


if __name__ == "__main__":
    sys.exit(main())
