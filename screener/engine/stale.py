"""DNC lists too old to trust: a registry copy older than its ``max_age_days`` (TSR 310.4, CRTC UTR)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from screener.config.settings import DncList
from screener.engine.facts import ListState

_DAY_S = 86_400


@dataclass(frozen=True)
class StaleList:
    name: str
    #: "block" or "warn" (the list's ``stale_action``)
    action: str
    detail: str


def stale_lists(
    names: Iterable[str],
    lists: Mapping[str, DncList],
    list_states: Mapping[str, ListState],
    now: datetime,
) -> list[StaleList]:
    """The lists among ``names`` with ``max_age_days`` > 0 never imported or imported too long ago."""
    found: list[StaleList] = []
    now_s = now.timestamp()
    for name in names:
        dnc = lists.get(name)
        if dnc is None or dnc.max_age_days <= 0:
            continue
        state = list_states.get(name)
        imported_at = state.imported_at if state is not None else None
        limit = f"max age {dnc.max_age_days} days"
        if dnc.source:
            limit += f", {dnc.source}"
        if imported_at is None:
            found.append(StaleList(name, dnc.stale_action, f"{name}: never imported ({limit})"))
            continue
        age_s = now_s - imported_at
        if age_s > dnc.max_age_days * _DAY_S:
            when = datetime.fromtimestamp(imported_at, UTC).strftime("%Y-%m-%d %H:%M UTC")
            found.append(
                StaleList(
                    name,
                    dnc.stale_action,
                    f"{name}: last imported {when}, {int(age_s // _DAY_S)} days ago ({limit})",
                )
            )
    return found
