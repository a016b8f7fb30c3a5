"""Human text shared by the engine's reason details."""

from __future__ import annotations


def format_duration(seconds: int) -> str:
    """Seconds as the config writes them: 604800 -> "7d", 86400 -> "24h", 1800 -> "30m", 90 -> "90s"."""
    if seconds > 0 and seconds % 86_400 == 0 and seconds >= 2 * 86_400:
        return f"{seconds // 86_400}d"
    if seconds > 0 and seconds % 3_600 == 0:
        return f"{seconds // 3_600}h"
    if seconds > 0 and seconds % 60 == 0:
        return f"{seconds // 60}m"
    return f"{seconds}s"
