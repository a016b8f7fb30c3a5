"""A number's last refusal (an opt-out press), as the cool-down rule reads it."""

from __future__ import annotations

from typing import Any

from screener.store import refusals


async def last_refusal_ms(redis: Any, e164: str) -> int | None:
    """When the number last refused (epoch ms), or None."""
    return await refusals.last_refusal_ms(redis, e164)
