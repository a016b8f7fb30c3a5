"""Each configured DNC list's size, version, age and staleness (the supervisor page and /metrics)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from screener.config.settings import Settings
from screener.engine.stale import stale_lists
from screener.store import dnc


@dataclass(frozen=True)
class ListStatus:
    name: str
    kind: str
    #: the config's source, or the last import's when the config names none
    source: str
    count: int
    version: str
    #: epoch seconds of the last full import (None: never imported)
    imported_at: float | None
    #: epoch seconds of the last change of any kind (import, add, remove)
    last_change_at: float | None
    max_age_days: int
    #: True: older than max_age_days (or never imported while it has one)
    stale: bool
    stale_detail: str = ""

    def age_s(self, now: datetime) -> float | None:
        return None if self.imported_at is None else max(0.0, now.timestamp() - self.imported_at)

    def to_json(self, now: datetime) -> dict[str, object]:
        return {"name": self.name, "kind": self.kind, "source": self.source, "count": self.count,
                "version": self.version, "imported_at": self.imported_at, "last_change_at": self.last_change_at,
                "age_s": self.age_s(now), "max_age_days": self.max_age_days, "stale": self.stale,
                "stale_detail": self.stale_detail}


async def list_statuses(redis: Any, settings: Settings, now: datetime) -> list[ListStatus]:
    infos = await dnc.read_list_infos(redis, settings.lists)
    states = {name: info.state for name, info in infos.items()}
    stale = {s.name: s.detail for s in stale_lists(settings.lists, settings.lists, states, now)}
    out = []
    for name, lst in settings.lists.items():
        info = infos[name]
        out.append(ListStatus(
            name=name, kind=lst.kind.value, source=lst.source or info.state.source, count=info.state.count,
            version=info.state.version, imported_at=info.state.imported_at, last_change_at=info.last_change_at,
            max_age_days=lst.max_age_days, stale=name in stale, stale_detail=stale.get(name, "")))
    return out
