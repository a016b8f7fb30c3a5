"""``screener audit why NUMBER``: every decision about a number with its inputs and every rule's outcome."""

from __future__ import annotations

from typing import Any


def register(actions: Any) -> None:
    return None
