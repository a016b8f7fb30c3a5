"""IANA time zones, loaded once each (zoneinfo caches the files; this keeps the lookups cheap)."""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from zoneinfo import ZoneInfo


@lru_cache(maxsize=1024)
def zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def local_time(now: datetime, zone_name: str) -> datetime:
    """``now`` (timezone-aware) as wall-clock time in ``zone_name``."""
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError(f"decision time {now.isoformat()} has no UTC offset")
    return now.astimezone(zone(zone_name))
