"""`screener prompts build`: render the disclosure, opt-out confirmation and blocked prompts to audio files."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from screener.cli.common import fail, load_cli_settings
from screener.config.errors import ConfigError
from screener.config.paths import project_path
from screener.config.settings import Settings
from screener.prompts import PromptError, Rendered, build


def prompts_dir(settings: Settings) -> Path:
    """settings.prompts_dir, resolved as every path in the config is."""
    return project_path(settings, settings.prompts_dir)


def run_build(args: argparse.Namespace) -> int:
    try:
        settings = load_cli_settings(args)
    except ConfigError as exc:
        return fail(f"config: {exc}")
    out = Path(args.out) if args.out else prompts_dir(settings)

    def progress(r: Rendered) -> None:
        print(f"{r.wav}  {r.seconds:5.1f} s  [{r.spec.language}]  (+ {r.sln16.name})", flush=True)

    try:
        rendered = build(settings, out, campaign=args.campaign, progress=progress)
    except PromptError as exc:
        return fail(str(exc))
    except OSError as exc:
        return fail(f"cannot write prompts to {out}: {exc}")
    print(f"{len(rendered)} prompt(s) in {out}. Asterisk plays them as custom/screener/<name>: copy or link "
          f"this folder to <astdatadir>/sounds/custom/screener (e.g. /usr/share/asterisk/sounds/custom/screener).")
    return 0


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "prompts", help="render the spoken prompts (disclosures, opt-out confirmation) with espeak-ng and sox",
        description=__doc__,
    )
    psub = p.add_subparsers(dest="prompts_command", metavar="ACTION")
    b = psub.add_parser(
        "build", help="render every campaign's prompts (8 kHz .wav and 16 kHz .sln16)",
        description="Render each campaign's disclosure texts (skipping languages with an admin recording), "
                    "plus optout-<lang> and blocked-<lang>, into the config's prompts_dir or --out. "
                    "Needs the Debian packages espeak-ng and sox.",
    )
    b.add_argument("--campaign", metavar="NAME", help="only this campaign (default: all)")
    b.add_argument("--out", metavar="DIR", help="output folder (default: the config's prompts_dir)")
    b.set_defaults(func=run_build)
    def usage(args: argparse.Namespace) -> int:
        p.print_help()
        return 2

    p.set_defaults(func=usage)
