"""The audit trail in Redis: one append-only stream per hash-tag group, each with its own hash chain.

An entry about a number goes to the stream of the number's group (``scr:{+1201}:audit``, the slot of every
other key of a decision about it); an entry about no one number (admin actions, config changes, archive runs)
goes to the global group's. A set (``keys.AUDIT_GROUPS_KEY``) registers every group that has a stream: a
writer registers a group before its first append (``AuditGroups`` remembers which it did, per process), and
readers merge the registered streams in id order (ties broken by group name, so the order is stable).

Every append goes through one Lua function (``lua/lib_audit_append.lua``) that extends the stream's chain in
the same step: ``audit_append.lua`` here, ``decide.lua``, ``refusal_record.lua`` and ``consent_write.lua``.
The chain's format (what is hashed) is ``audit_chain.py``.
"""

from __future__ import annotations

import asyncio
import heapq
import json
import re
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from screener.store import keys
from screener.store.audit_chain import (
    KEY_FIELD,
    LINK_FIELD,
    POSITION_FIELD,
    ChainFormatError,
    check_appendable,
    client_digest,
    split,
)
from screener.store.client import AnyRedis, is_cluster, text
from screener.store.cluster_path import SlotConnections
from screener.store.scripts import Connections, Script, execute_with_scripts

#: entry kinds
DECISION = "decision"
OPT_OUT = "opt_out"
DISCLOSURE = "disclosure"
CONSENT = "consent"
CONFIG = "config"
ARCHIVE = "archive"
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

_APPEND = Script("audit_append")
_REWRITE = Script("audit_rewrite")



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
class DecisionFacts:
    """What decide.lua found, from a decision entry's ``r`` field (see the header of decide.lua)."""

    #: the script's verdict: "allow" when neither it nor the pure rules blocked
    verdict: str
    reserved: bool
    #: indices into the entry's ``lists`` (the DNC lists checked, in order) of the lists holding the number
    dnc_hits: tuple[int, ...]
    #: "-" consent not read, "n" no record, "0" a record that is not valid, "1" a valid record
    consent: str
    #: earlier attempts counted by each frequency check of the plan, in its order
    counts: tuple[int, ...]
    #: ms since the latest attempt (when a minimum interval applies and there was one)
    since_last_ms: int | None
    #: ms since the number's last refusal (when a cool-down applies and there was one)
    since_refusal_ms: int | None
    #: the campaign's calls in the decision's second before this one (when it has a calls/s cap)
    rate_count: int | None
    #: (code, detail) of every reason the script found
    reasons: tuple[tuple[str, str], ...]

    @classmethod
    def parse(cls, raw: str) -> DecisionFacts | None:
        parts = raw.split("|", 7)
        if len(parts) < 8 or len(parts[0]) != 2:
            return None

        def number(text: str) -> int | None:
            return int(text) if text.lstrip("-").isdigit() else None

        try:
            return cls(
                verdict="allow" if parts[0][0] == "a" else "block", reserved=parts[0][1] == "1",
                dnc_hits=tuple(int(i) for i in parts[1].split(",") if i), consent=parts[2],
                counts=tuple(int(c) for c in parts[3].split(".") if c), since_last_ms=number(parts[4]),
                since_refusal_ms=number(parts[5]), rate_count=number(parts[6]), reasons=tuple(decode_reasons(parts[7])))
        except ValueError:
            return None

    def to_json(self) -> dict[str, object]:
        return {"reserved": self.reserved, "dnc_hits": list(self.dnc_hits), "consent": self.consent,
                "counts": list(self.counts), "since_last_ms": self.since_last_ms,
                "since_refusal_ms": self.since_refusal_ms, "rate_count": self.rate_count}


@dataclass(frozen=True)
class AuditEntry:
    id: str
    #: every field as stored, in order (the client's, the link ``_h``, then what the script added)
    fields: dict[str, str]
    #: the group of the stream it is in (``+1201``, ``global``)
    group: str = ""

    @property
    def kind(self) -> str:
        return self.fields.get("kind", DECISION)

    @cached_property
    def facts(self) -> DecisionFacts | None:
        """What decide.lua found (decisions that reached the store), else None."""
        raw = self.fields.get("r")
        return DecisionFacts.parse(raw) if raw is not None else None

    @property
    def verdict(self) -> str:
        facts = self.facts
        return facts.verdict if facts is not None else self.fields.get("verdict", "")

    @property
    def reserved(self) -> bool:
        facts = self.facts
        return facts.reserved if facts is not None else self.fields.get("reserved") == "1"

    @property
    def attempt_id(self) -> str:
        """The id of the attempt the decision reserved ("" when it reserved none)."""
        return self.fields.get("attempt_id", "") if self.reserved else ""

    @property
    def reasons(self) -> list[tuple[str, str]]:
        """(code, detail) pairs: the pure rules' reasons, then the store's."""
        facts = self.facts
        store = list(facts.reasons) if facts is not None else decode_reasons(self.fields.get("store_reasons", ""))
        return [*decode_reasons(self.fields.get("pre_reasons", "")), *store]

    @property
    def millis(self) -> int:
        return int(self.id.split("-", 1)[0])

    @property
    def sort_key(self) -> tuple[int, int, str]:
        """Id order, ties (the same id in two streams) broken by group: a stable order across streams."""
        ms, _, seq = self.id.partition("-")
        return int(ms), int(seq or 0), self.group

    def to_json(self) -> dict[str, object]:
        """The entry for a reader (``audit tail --json``, ``export``): its fields without the chain's own (the
        link and the entry's key are for ``audit verify``; the archive keeps them), its position, and for a
        decision its verdict, reasons and facts spelled out."""
        data: dict[str, object] = {"id": self.id, "group": self.group, **self.fields}
        for name in ("pre_reasons", "store_reasons", "r", LINK_FIELD, KEY_FIELD):
            data.pop(name, None)
        if POSITION_FIELD in data:
            data["position"] = data.pop(POSITION_FIELD)
        if self.kind == DECISION:
            data["verdict"] = self.verdict
            data["reasons"] = [{"code": c, "detail": d} for c, d in self.reasons]
            data["reserved"] = self.reserved
            data["attempt_id"] = self.attempt_id
            if self.facts is not None:
                data["facts"] = self.facts.to_json()
        return data


def entry_of(raw_id: object, raw_fields: Mapping[Any, Any], group: str = "") -> AuditEntry:
    try:  # the common case, bytes from redis-py: decoded without a call per field (the archive reads millions)
        fields = {k.decode(): v.decode() for k, v in raw_fields.items()}
    except AttributeError:
        fields = {text(k): text(v) for k, v in raw_fields.items()}
    return AuditEntry(text(raw_id), fields, group)


# -- registering groups ------------------------------------------------------------------------------------------


class AuditGroups:
    """The groups this process has registered (``keys.AUDIT_GROUPS_KEY``): a writer registers a group once,
    before its first append, so a reader never misses a stream."""

    def __init__(self) -> None:
        self._known: set[str] = set()

    def known(self, group: str) -> bool:
        return group in self._known

    async def ensure(self, client: AnyRedis, group: str) -> None:
        if group not in self._known:
            await client.sadd(keys.AUDIT_GROUPS_KEY, group)
            self._known.add(group)

    async def ensure_all(self, client: AnyRedis, groups: Iterable[str]) -> None:
        missing = sorted(set(groups) - self._known)
        if missing:
            await client.sadd(keys.AUDIT_GROUPS_KEY, *missing)
            self._known.update(missing)


async def groups(client: Any) -> list[str]:
    """Every registered group, sorted."""
    return sorted(text(g) for g in await client.smembers(keys.AUDIT_GROUPS_KEY))


# -- appending ---------------------------------------------------------------------------------------------------


def _flat(fields: Mapping[str, str]) -> list[str]:
    check_appendable(fields)
    return [part for pair in fields.items() for part in pair]


def append_args(fields: Mapping[str, str]) -> list[str]:
    """ARGV of audit_append.lua for ``fields`` (their digest, then the fields in order)."""
    return [client_digest(fields.items()), *_flat(fields)]


def stream_keys(group: str) -> list[str]:
    return [keys.audit_stream_key(group), keys.audit_head_key(group)]


async def append(target: AnyRedis | Connections | SlotConnections, group: str, fields: Mapping[str, str]) -> str:
    """Append one entry to ``group``'s stream (registered by the caller), extending its chain; its id."""
    reply = await _APPEND(target, stream_keys(group), append_args(fields))
    return text(reply[0])


async def append_many(client: AnyRedis, entries: Sequence[tuple[str, Mapping[str, str]]],
                      registry: AuditGroups | None = None) -> list[str]:
    """Append (group, fields) entries in order, in one round trip (entries that waited for Redis); their ids."""
    if not entries:
        return []
    await (registry or AuditGroups()).ensure_all(client, {g for g, _ in entries})

    def queue() -> Any:
        pipe = client.pipeline(transaction=False)
        for group, fields in entries:
            _APPEND.queue(pipe, stream_keys(group), append_args(fields))
        return pipe

    replies = await execute_with_scripts(client, [_APPEND], queue)
    return [text(r[0]) for r in replies]


async def replace_entry(client: AnyRedis, entry: AuditEntry, fields: Mapping[str, str]) -> None:
    """Replace a stream entry by ``fields`` (the same entry with values replaced, e.g.
    ``audit_chain.tombstone(entry.fields)``: its client digest, and so its link, must not change), keeping its
    id and place. Refused (``ChainFormatError``) when the link would not hold, and by Redis when the stream's
    entry holds another link than ``entry``'s."""
    if client_digest(split(fields).client) != client_digest(split(entry.fields).client):
        raise ChainFormatError(f"replacing entry {entry.id} would change its digest: the chain would break")
    for name in (LINK_FIELD, POSITION_FIELD):
        if fields.get(name) != entry.fields.get(name):
            raise ChainFormatError(f"replacing entry {entry.id} would change its {name}")
    flat = [part for pair in fields.items() for part in pair]
    await _REWRITE(client, [keys.audit_stream_key(entry.group)], [entry.id, entry.fields.get(LINK_FIELD, ""), *flat])


# -- the chain heads ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Head:
    """A stream's chain head: the link of its last entry, that entry's id, and how many entries it has had."""

    group: str
    link: str
    last_id: str
    count: int

    def to_json(self) -> dict[str, object]:
        return {"group": self.group, "link": self.link, "last_id": self.last_id, "count": self.count}


def parse_head(group: str, raw: object) -> Head | None:
    parts = text(raw).split(" ")
    if len(parts) != 3 or not parts[2].isdigit():
        return None
    return Head(group, parts[0], parts[1], int(parts[2]))


async def heads(client: Any, names: Sequence[str]) -> dict[str, Head | None]:
    """The chain head of each group (None: no head, or an unreadable one)."""
    out: dict[str, Head | None] = {}
    for group in names:
        raw = await client.get(keys.audit_head_key(group))
        out[group] = None if raw is None else parse_head(group, raw)
    return out


# -- reading -----------------------------------------------------------------------------------------------------


async def scan_group(client: Any, group: str, start: str = "-", end: str = "+", *, exclusive_start: bool = False,
                     batch: int = 1000) -> AsyncIterator[AuditEntry]:
    """A group's stream between two ids (or ms timestamps), oldest first, read in batches."""
    stream = keys.audit_stream_key(group)
    cursor, exclusive = start, exclusive_start
    while True:
        lo = f"({cursor}" if exclusive and cursor not in ("-", "+") else cursor
        rows = await client.xrange(stream, min=lo, max=end, count=batch)
        for raw_id, raw_fields in rows:
            yield entry_of(raw_id, raw_fields, group)
        if len(rows) < batch:
            return
        cursor, exclusive = text(rows[-1][0]), True


async def merged(iterators: Sequence[AsyncIterator[AuditEntry]]) -> AsyncIterator[AuditEntry]:
    """Entries of several id-ordered iterators, merged in id order (ties by group)."""
    heap: list[tuple[tuple[int, int, str], int, AuditEntry]] = []
    for i, it in enumerate(iterators):
        first = await anext(it, None)
        if first is not None:
            heap.append((first.sort_key, i, first))
    heapq.heapify(heap)
    while heap:
        _key, i, entry = heapq.heappop(heap)
        yield entry
        following = await anext(iterators[i], None)
        if following is not None:
            heapq.heappush(heap, (following.sort_key, i, following))


async def tail(client: Any, count: int, names: Sequence[str] | None = None) -> list[AuditEntry]:
    """The latest ``count`` entries across the groups' streams (every registered group by default), oldest
    first."""
    names = await groups(client) if names is None else names
    latest: list[AuditEntry] = []
    for group in names:
        rows = await client.xrevrange(keys.audit_stream_key(group), count=count)
        latest += [entry_of(i, f, group) for i, f in rows]
    return sorted(latest, key=lambda e: e.sort_key)[-count:] if count > 0 else []


async def follow(client: Any, after: str | Mapping[str, str] = "$", *, block_ms: int = 1000,
                 batch: int = 500) -> AsyncIterator[AuditEntry]:
    """New entries of every registered stream (groups registered later included) as they are appended; runs
    until cancelled. ``after``: "$" (from now), an id (entries after it, in every stream), or group -> id.
    One server: one ``XREAD BLOCK`` over every stream; a Cluster: each stream read in turn, then a pause of
    ``block_ms``. The entries of one read come in id order."""
    last: dict[str, str] = dict(after) if isinstance(after, Mapping) else {}
    start = after if isinstance(after, str) else "0-0"
    clustered = is_cluster(client)
    while True:
        for group in await groups(client):
            if group not in last:  # a group first seen now: "$" means its current end, else everything after start
                last[group] = await _last_id(client, group) if start == "$" and not started(last) else start
        if clustered:
            found = await _read_each(client, last, batch)
        else:
            found = await _read_all(client, last, block_ms, batch)
        for entry in sorted(found, key=lambda e: e.sort_key):
            last[entry.group] = entry.id
            yield entry
        if clustered and not found:
            await asyncio.sleep(block_ms / 1000)


def started(last: Mapping[str, str]) -> bool:
    """True once ``follow`` has positions (groups registered after that are new: read from their start)."""
    return bool(last)


async def _last_id(client: Any, group: str) -> str:
    rows = await client.xrevrange(keys.audit_stream_key(group), count=1)
    return text(rows[0][0]) if rows else "0-0"


async def _read_all(client: Any, last: Mapping[str, str], block_ms: int, batch: int) -> list[AuditEntry]:
    if not last:
        await asyncio.sleep(block_ms / 1000)
        return []
    streams = {keys.audit_stream_key(g): i for g, i in last.items()}
    rows = await client.xread(streams, count=batch, block=block_ms)
    return [entry_of(i, f, keys.audit_group_of_key(text(stream))) for stream, entries in rows or []
            for i, f in entries]


async def _read_each(client: Any, last: Mapping[str, str], batch: int) -> list[AuditEntry]:
    found: list[AuditEntry] = []
    for group, after_id in last.items():
        rows = await client.xrange(keys.audit_stream_key(group), min=f"({after_id}", count=batch)
        found += [entry_of(i, f, group) for i, f in rows]
    return found


def fields_json(fields: Mapping[str, str]) -> str:
    """The client fields as decide.lua takes them: a JSON array of names and values, in order."""
    return json.dumps(_flat(fields), separators=(",", ":"), ensure_ascii=False)
