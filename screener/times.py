"""Times given by a user (the CLI's --at, the API's "at"): ISO 8601 with a UTC offset, never a naive time."""

from __future__ import annotations

from datetime import datetime


def parse_aware(value: str) -> datetime:
    """``2026-12-01T10:00:00-05:00`` or ``...Z``; ValueError with a sentence that quotes the value."""
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00") if value.endswith("Z") else value)
    except ValueError:
        raise ValueError(f"{value!r} is not an ISO-8601 time such as 2026-12-01T10:00:00-05:00") from None
    if when.tzinfo is None:
        raise ValueError(f"{value!r} has no UTC offset: add one, such as -05:00 or Z")
    return when
