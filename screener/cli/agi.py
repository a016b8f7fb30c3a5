"""`screener agi` (not built yet)."""

from __future__ import annotations

import argparse
from typing import Any


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser("agi", help="(not built yet)")
    p.set_defaults(func=lambda args: 2)
