"""Numbers in logs are masked (PRODUCT.md: store and log the minimum)."""

from __future__ import annotations


def mask(number: str) -> str:
    """``+15551234567`` → ``+155****4567``; short values keep only their last two characters."""
    if len(number) <= 4:
        return "*" * len(number)
    keep_head = 4 if len(number) >= 10 else 1
    return number[:keep_head] + "*" * (len(number) - keep_head - 4) + number[-4:]
