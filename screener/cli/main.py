"""``screener``: the command-line entry point. Each subcommand lives in its own module under screener.cli.

Only the module of the subcommand being run is imported (``--help`` imports none): the others are listed from
``COMMANDS`` alone, so that a one-shot command does not pay for every other command's imports.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Coroutine, Sequence
from typing import NamedTuple


class Command(NamedTuple):
    name: str
    #: the module with ``register(subparsers)``
    module: str
    #: the one line ``screener --help`` shows (the module registers the same text)
    summary: str


#: every subcommand, in the order --help lists them
COMMANDS: tuple[Command, ...] = (
    Command("check", "screener.cli.check", "decide one call (dry run by default)"),
    Command("dnc", "screener.cli.dnc", "add, remove, check, import, list and export DNC lists"),
    Command("consent", "screener.cli.consent", "grant, revoke, show, import or export consent records"),
    Command("audit", "screener.cli.audit", "read and export the audit trail"),
    Command("complaint", "screener.cli.complaint",
            "complaint intake with working-day deadlines (add, list, show, done, close)"),
    Command("report", "screener.cli.report", "compliance reports (abandoned calls)"),
    Command("privacy", "screener.cli.privacy", "data-subject requests: export or erase what is held about a number"),
    Command("config", "screener.cli.config_cmd", "validate the config and show its campaigns, policies and lists"),
    Command("serve", "screener.cli.serve",
            "run the FastAGI server (and the ARI application) Asterisk asks before every call"),
    Command("agi", "screener.cli.agi",
            "process AGI for Asterisk (one process per call, stdin/stdout): screen, disclose or end"),
    Command("prompts", "screener.cli.prompts",
            "render the spoken prompts (disclosures, opt-out confirmation) with espeak-ng and sox"),
    Command("lint-dialplan", "screener.cli.lint_dialplan",
            "report dialplan routes that reach a trunk without the screener (exit 1)"),
    Command("doctor", "screener.cli.doctor",
            "check a deployment (Redis settings, config, prompts, dialplan, clock, port)"),
    Command("admin", "screener.cli.admin", "admin API tokens (create, list, revoke)"),
    Command("demo", "screener.cli.demo",
            "run Redis, the Asterisk 22 sandbox and the screener here and place sample calls with sipp"),
)
#: the subcommand modules, in --help order
COMMAND_MODULES: tuple[str, ...] = tuple(c.module for c in COMMANDS)
#: the global options that take a value (``--config PATH``), which the subcommand scan skips
_VALUE_OPTIONS = ("--config", "--redis")

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


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser, with ``command`` (or every subcommand when ``"*"``) fully registered from its module and the
    others listed by name and summary only."""
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
    for c in COMMANDS:
        if command in (c.name, "*"):
            importlib.import_module(c.module).register(sub)
        else:
            sub.add_parser(c.name, help=c.summary, add_help=False)
    return parser


def command_in(argv: Sequence[str]) -> str | None:
    """The subcommand ``argv`` names: its first word that is not a global option or an option's value."""
    skip = False
    for arg in argv:
        if skip:
            skip = False
        elif arg.startswith("-"):
            # "--config PATH" (or an abbreviation such as "--conf PATH"); "--config=PATH" is one word
            skip = "=" not in arg and len(arg) > 2 and any(o.startswith(arg) for o in _VALUE_OPTIONS)
        else:
            return arg
    return None


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(command_in(args_list))
    args = parser.parse_args(args_list)
    func = getattr(args, "func", None)
    if func is None and args.command is not None:
        # the scan named another word than argparse chose (an unusual spelling): register the chosen one
        parser = build_parser(args.command)
        args = parser.parse_args(args_list)
        func = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return EXIT_USAGE
    args.argv = args_list  # the command line as given (`serve --workers` runs its workers with it)
    try:
        result = func(args)
        if isinstance(result, Coroutine):
            import asyncio  # here: --help and the synchronous commands do not need it

            result = asyncio.run(result)
        sys.stdout.flush()
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return _reader_gone()
    return int(result or 0)


def _reader_gone() -> int:
    """The reader of our output closed it (``screener audit export | head``): a quiet, successful end. What is
    still buffered goes to /dev/null, so the interpreter's last flush does not complain either."""
    import os

    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
