"""The audit trail: an append-only Redis stream of every decision and every opt-out, with its inputs."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from screener.store import keys
from screener.store.cluster_path import SlotConnections
from screener.store.scripts import Connections, Script, pack_command

_APPEND = Script("audit_append")

#: entry kinds
DECISION = "decision"
OPT_OUT = "opt_out"
DISCLOSURE = "disclosure"
#: how an answered call ended: connected to an agent in time, or abandoned (and why)
CALL_OUTCOME = "call_outcome"
#: a complaint ticket opened, a stage of it done, or closed
COMPLAINT = "complaint"
#: a data-subject request: an export of a number's records, or their erasure
PRIVACY = "privacy"
#: a change to a DNC list made through the service (dnc add/remove, an import): who, what, versions
DNC_CHANGE = "dnc_change"
#: a change made through the admin API (actor: the token's name)
ADMIN = "admin"


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


# -- reasons in an entry: "code|detail;code|detail", with '%', ';' and '|' of a detail written %25, %3B and %7C
# (lua/lib_reasons.lua writes the same for the decision script)

_ESCAPED = re.compile(r"%(25|3B|7C)")


def escape_detail(detail: str) -> str:
    return detail.replace("%", "%25").replace(";", "%3B").replace("|", "%7C")


def unescape_detail(text: str) -> str:
    return _ESCAPED.sub(lambda m: chr(int(m.group(1), 16)), text)


def encode_reasons(reasons: Iterable[tuple[str, str]]) -> str:
    """(code, detail) pairs as an entry's reasons field; any detail survives ``decode_reasons``."""
    return ";".join(f"{code}|{escape_detail(detail)}" for code, detail in reasons)


def decode_reasons(text: str) -> list[tuple[str, str]]:
    """The (code, detail) pairs of an entry's reasons field."""
    out = []
    for raw in filter(None, text.split(";")):
        code, _, detail = raw.partition("|")
        out.append((code, unescape_detail(detail)))
    return out


@dataclass(frozen=True)
class AuditEntry:
    id: str
    fields: dict[str, str]

    @property
    def kind(self) -> str:
        return self.fields.get("kind", DECISION)

    @property
    def reasons(self) -> list[tuple[str, str]]:
        """(code, detail) pairs: the pure rules' reasons, then the store's."""
        f = self.fields
        return [*decode_reasons(f.get("pre_reasons", "")), *decode_reasons(f.get("store_reasons", ""))]

    @property
    def millis(self) -> int:
        return int(self.id.split("-", 1)[0])

    def to_json(self) -> dict[str, object]:
        data: dict[str, object] = {"id": self.id, **self.fields}
        data.pop("pre_reasons", None)
        data.pop("store_reasons", None)
        if self.kind == DECISION:
            data["reasons"] = [{"code": c, "detail": d} for c, d in self.reasons]
        return data


def _entry(raw_id: object, raw_fields: Mapping[Any, Any]) -> AuditEntry:
    return AuditEntry(_text(raw_id), {_text(k): _text(v) for k, v in raw_fields.items()})


async def append(connections: Connections | SlotConnections, fields: Mapping[str, str], maxlen: int) -> str:
    """Append one entry (decisions that need no store facts, opt-outs, disclosures)."""
    flat = [part for pair in fields.items() for part in pair]
    entry_id = await connections.execute(
        pack_command(b"XADD", keys.AUDIT_STREAM, b"MAXLEN", b"~", maxlen, b"*", *flat), key=keys.AUDIT_STREAM)
    return _text(entry_id)


async def tail(redis: Any, count: int) -> list[AuditEntry]:
    """The latest ``count`` entries, oldest first."""
    rows = await redis.xrevrange(keys.AUDIT_STREAM, count=count)
    return [_entry(i, f) for i, f in reversed(rows)]


async def follow(redis: Any, last_id: str = "$", block_ms: int = 1000) -> AsyncIterator[AuditEntry]:
    """New entries as they are appended (runs until cancelled)."""
    while True:
        rows = await redis.xread({keys.AUDIT_STREAM: last_id}, block=block_ms, count=100)
        for _stream, entries in rows or []:
            for raw_id, raw_fields in entries:
                entry = _entry(raw_id, raw_fields)
                last_id = entry.id
                yield entry


async def scan(redis: Any, start: str = "-", end: str = "+", batch: int = 1000) -> AsyncIterator[AuditEntry]:
    """Every entry between two stream ids (or ms timestamps), oldest first, read in batches."""
    cursor = start
    exclusive = False
    while True:
        lo = f"({cursor}" if exclusive else cursor
        rows = await redis.xrange(keys.AUDIT_STREAM, min=lo, max=end, count=batch)
        if not rows:
            return
        for raw_id, raw_fields in rows:
            yield _entry(raw_id, raw_fields)
        cursor = _text(rows[-1][0])
        exclusive = True
        if len(rows) < batch:
            return


#: entries per call of audit_append.lua: a batch is one script run, and a short one keeps Redis answering
#: the decisions between two
APPEND_BATCH = 100


async def append_many(redis: Any, entries: Sequence[Mapping[str, str]], maxlen: int) -> list[str]:
    """Append several entries in order (entries that waited for Redis): one script call per APPEND_BATCH."""
    ids: list[str] = []
    for start in range(0, len(entries), APPEND_BATCH):
        batch = [json.dumps(dict(fields), separators=(",", ":"), ensure_ascii=False)
                 for fields in entries[start:start + APPEND_BATCH]]
        ids += [_text(i) for i in await _APPEND(redis, [keys.AUDIT_STREAM], [maxlen, *batch])]
    return ids
