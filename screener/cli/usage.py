"""How every subcommand reports a mistake: ``screener: error: ...`` on stderr and exit status 2 (no I/O
library imported, so a command that needs no Redis starts fast)."""

from __future__ import annotations

import sys


class UsageError(Exception):
    """Bad command-line input: printed as ``screener: error: ...`` with exit status 2."""


def fail(message: str, status: int = 2) -> int:
    print(f"screener: error: {message}", file=sys.stderr)
    return status
