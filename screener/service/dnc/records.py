"""What the DNC use cases return: frozen records a front end prints, or serializes with ``to_json()``."""

from __future__ import annotations

from dataclasses import dataclass, field

from screener.service.progress import Progress
from screener.store.dnc.files import BadLine

__all__ = ["ImportResult", "ListRow", "NumberChange", "NumberCheck", "Progress"]


@dataclass(frozen=True)
class NumberChange:
    """A number added to or removed from a list (``changed``: False when it was already on it / not on it)."""

    list_name: str
    number: str
    #: "add" or "remove"
    action: str
    changed: bool
    #: the live version the change was made in
    version: str = ""
    #: the id of the change's audit entry
    audit_id: str = ""
    #: True: ``number`` is a prefix entry (every number under it)
    prefix: bool = False

    def to_json(self) -> dict[str, object]:
        return {"list": self.list_name, "number": self.number, "action": self.action, "changed": self.changed,
                "version": self.version, "audit_id": self.audit_id, "prefix": self.prefix}


@dataclass(frozen=True)
class NumberCheck:
    """Is a number on a list (its live version)?"""

    list_name: str
    number: str
    listed: bool
    #: the prefix entry the number is listed by ("" when it is not, or is listed exactly)
    by_prefix: str = ""

    def to_json(self) -> dict[str, object]:
        return {"list": self.list_name, "number": self.number, "listed": self.listed, "by_prefix": self.by_prefix}


@dataclass(frozen=True)
class ListRow:
    """One list as ``screener dnc lists`` shows it: metadata in Redis, completed from the config."""

    name: str
    #: the config's kind, else the kind recorded at import ("" when neither says)
    kind: str
    #: provenance of the live version, else the config's source ("" when neither says)
    source: str
    imported_at: float | None
    #: seconds since the import, at the time the row was made
    age_s: float | None
    count: int
    version: str
    #: the version an import is building ("" when none)
    building: str
    #: days after which the list is stale (0: never stale)
    max_age_days: int
    #: None when the list cannot go stale (no max age), else whether it is (never imported counts as stale)
    stale: bool | None
    #: the list's prefix entries, sorted
    prefixes: tuple[str, ...] = ()

    def to_json(self) -> dict[str, object]:
        return {"name": self.name, "kind": self.kind, "source": self.source, "imported_at": self.imported_at,
                "age_s": self.age_s, "count": self.count, "version": self.version, "building": self.building,
                "max_age_days": self.max_age_days, "stale": self.stale, "prefixes": list(self.prefixes)}


@dataclass(frozen=True)
class ImportResult:
    """What an import did."""

    list_name: str
    #: "replace" (a new version from the file alone), "edit" (the live list plus the file's numbers) or
    #: "changes" (the live list with a change list applied); each switched in whole
    mode: str = ""
    lines: int = 0
    #: good numbers read (duplicates included)
    numbers: int = 0
    added: int = 0
    removed: int = 0
    bad_count: int = 0
    #: the first bad lines (ImportOptions.keep_bad of them)
    bad: tuple[BadLine, ...] = field(default=())
    version: str = ""
    old_version: str = ""
    #: the old version whose keys were freed after the switch ("" when it had none)
    freed_version: str = ""
    #: the list's count after the import
    count: int = 0
    seconds: float = 0.0
    #: what went wrong after the import landed (the old version not freed yet...)
    warnings: tuple[str, ...] = ()

    @property
    def rate(self) -> float:
        return self.numbers / self.seconds if self.seconds > 0 else 0.0

    def to_json(self) -> dict[str, object]:
        return {"list": self.list_name, "mode": self.mode, "lines": self.lines, "numbers": self.numbers,
                "added": self.added, "removed": self.removed, "bad_count": self.bad_count,
                "bad": [{"line": b.line_no, "text": b.text, "reason": b.reason} for b in self.bad],
                "version": self.version, "old_version": self.old_version, "freed_version": self.freed_version,
                "count": self.count, "seconds": self.seconds, "warnings": list(self.warnings)}
