"""The options of the commands that answer calls (``serve`` for FastAGI and ARI, ``agi`` for process AGI)."""

from __future__ import annotations

import argparse

from screener.sounds import DEFAULT_DIR


def add_call_options(p: argparse.ArgumentParser) -> None:
    """--decision-timeout, --opt-out-wait-ms and --prompt-prefix, the same in every front end."""
    p.add_argument("--decision-timeout", type=float, metavar="S",
                   help="block with screening_unavailable after this long (default: 2 x time_budget_ms, >= 0.5 s)")
    p.add_argument("--opt-out-wait-ms", type=int, default=3000, metavar="MS",
                   help="how long `disclose` listens for the opt-out key after the prompt (default 3000)")
    p.add_argument("--prompt-prefix", default=DEFAULT_DIR, metavar="DIR",
                   help=f"sound folder of the prompts as Asterisk names it (default {DEFAULT_DIR})")
