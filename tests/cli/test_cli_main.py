"""The ``screener`` entry point: every subcommand listed by --help without importing any of them, and only the
module of the command being run imported (a fast CLI)."""

from __future__ import annotations

import argparse
import ast
import subprocess
import sys

import pytest

from screener.cli.main import COMMANDS, build_parser, command_in, main

SCREENER = [sys.executable, "-m", "screener"]


def _listed(parser: argparse.ArgumentParser) -> dict[str, str | None]:
    """The subcommands a parser's --help lists, with their one-line help."""
    (sub,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return {choice.dest: choice.help for choice in sub._choices_actions}


def test_help_lists_every_subcommand_with_its_summary() -> None:
    proc = subprocess.run([*SCREENER, "--help"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    text = " ".join(proc.stdout.split())
    for command in COMMANDS:
        assert f"{command.name} {command.summary}" in text
    # every subcommand module (a module of screener.cli with a register()) is one of them
    from pathlib import Path

    folder = Path(__file__).resolve().parents[2] / "screener" / "cli"
    modules = {f"screener.cli.{p.stem}" for p in folder.glob("*.py") if "\ndef register(" in p.read_text()}
    assert modules == {c.module for c in COMMANDS}


def test_the_summaries_are_what_each_module_registers() -> None:
    """--help lists the commands from COMMANDS; each module registers itself with the same one-line help."""
    lazy, full = _listed(build_parser()), _listed(build_parser("*"))
    assert lazy == full == {c.name: c.summary for c in COMMANDS}


@pytest.mark.parametrize("name", [c.name for c in COMMANDS])
def test_each_subcommand_registers_itself_and_has_its_own_help(
        name: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main([name, "--help"])
    assert done.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: screener {name}") and len(out.splitlines()) > 3


def loaded_after(argv: list[str], then: str, prefixes: tuple[str, ...]) -> list[str]:
    """The modules starting with ``prefixes`` a fresh interpreter has loaded after ``main(argv)`` and ``then``."""
    code = (
        "import sys\n"
        "from screener.cli.main import main\n"
        "try:\n"
        f"    main({argv!r})\n"
        "except SystemExit:\n"
        "    pass\n"
        f"{then}\n"
        f"print('LOADED', sorted(m for m in sys.modules if m.startswith({prefixes!r}) and m != 'screener.cli.main'))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    last = proc.stdout.splitlines()[-1]
    assert last.startswith("LOADED ")
    return list(ast.literal_eval(last[len("LOADED "):]))


def test_importing_the_cli_and_its_help_import_no_command_and_no_geocoder() -> None:
    heavy = ("phonenumbers", "redis", "asyncio", "screener.cli.", "screener.config", "screener.service")
    assert loaded_after(["--help"], "pass", heavy) == []


def test_a_check_imports_its_own_command_only_and_not_the_geocoder() -> None:
    # what a check runs with, the screening flow included
    then = "import screener.service\nfrom screener.numbers import normalize\nnormalize('+13055551234', 'US')"
    loaded = loaded_after(["check", "--help"], then, ("screener.cli.", "phonenumbers.geo"))
    assert loaded == ["screener.cli.check", "screener.cli.common", "screener.cli.usage"]


@pytest.mark.parametrize(
    ("argv", "command"),
    [
        (["check", "+1202"], "check"),
        (["--config", "x.toml", "check"], "check"),
        (["--config=check", "dnc", "add"], "dnc"),
        (["--conf", "dnc", "check"], "check"),
        (["--redis", "redis://h/0", "--config", "c", "audit", "tail"], "audit"),
        (["-h"], None),
        ([], None),
        (["--", "serve"], "serve"),
    ],
)
def test_the_command_is_found_past_the_global_options(argv: list[str], command: str | None) -> None:
    assert command_in(argv) == command


def test_an_unknown_command_is_a_usage_error_naming_the_known_ones(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(["chekc", "+12025550123"])
    assert done.value.code == 2
    err = capsys.readouterr().err
    assert "invalid choice: 'chekc'" in err and "lint-dialplan" in err


def test_no_command_prints_the_help_and_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert "lint-dialplan" in capsys.readouterr().out
