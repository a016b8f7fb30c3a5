"""Writing a new version of a list fast: numbers gathered per tag client-side, each tag written whole.

A tag's numbers are gathered as a list of suffixes while few, then as the tag's 1.25 MB bitmap; when the
gathered tags exceed the memory budget (and at the end) each tag is laid out (layout.plan_tag) and written
with plain commands in a pipeline: ``SET block bitmap NX``, ``SADD block members``, ``SADD tag members``.
A tag met again after a flush (an unsorted file larger than the budget) is merged with what was written.
The count comes from Redis's replies (numbers newly stored), so duplicates in the file are not counted.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from screener.store import keys
from screener.store.client import AnyRedis, pipeline
from screener.store.dnc.edits import mutate_versions, split_ops
from screener.store.dnc.layout import (
    BIT_MASKS,
    BLOCK_IDS,
    BLOCK_SIZE,
    INTSET_MAX,
    TAG_BYTES,
    TAG_SPAN,
    TagPlan,
    bitmap_members,
    block_id_of,
    plan_tag,
    tag_bitmap,
)
from screener.store.scripts import Script, execute_with_scripts

#: a tag gathers a list of suffixes up to this many, then switches to its bitmap (about the same memory)
LIST_MAX = 30_000
#: bytes a gathered suffix costs in a Python list (int object + pointer)
LIST_ENTRY_BYTES = 36
#: default memory budget of the gathered numbers before a flush
DEFAULT_BUDGET_BYTES = 256 << 20
#: queued commands per pipeline
PIPELINE_COMMANDS = 2_000

_MERGE_BLOCK = Script("dnc_merge_block")
_DESCRIBE_TAG = Script("dnc_describe_tag")


@dataclass
class _Written:
    """What this build already wrote for a tag (to merge when the tag comes again)."""

    tag_members: set[int] = field(default_factory=set)
    #: block -> "set" | "bitmap"
    blocks: dict[int, str] = field(default_factory=dict)


class VersionBuilder:
    """Gathers numbers for one (new, not yet live) version of a list and writes them."""

    def __init__(self, redis: AnyRedis, list_name: str, version: str, *, intset_max: int = INTSET_MAX,
                 budget_bytes: int = DEFAULT_BUDGET_BYTES, existing: bool = False) -> None:
        """``existing``: the version may hold numbers already (bulk additions to a live list): each tag's
        keys are read before it is first written, and merged with."""
        self.redis = redis
        self.list_name = list_name
        self.version = version
        self.intset_max = intset_max
        self.budget_bytes = budget_bytes
        self.existing = existing
        self.count = 0
        self.flushes = 0
        self._accs: dict[int, bytearray | list[int]] = {}
        self._bytes = 0
        self._written: dict[int, _Written] = {}
        self._short: list[str] = []
        #: blocks to merge into keys that exist already: (key, "b" | "s", payload)
        self._merges: list[tuple[str, str, list[Any]]] = []

    @property
    def over_budget(self) -> bool:
        return self._bytes > self.budget_bytes

    def add_values(self, values: list[int], offset: int = 0) -> None:
        """Numbers as E.164 digits (ints) minus ``offset`` (a multiple of TAG_SPAN); each has 8+ digits."""
        if not values:
            return
        tag_offset = offset // TAG_SPAN
        lo, hi = min(values), max(values)
        if lo // TAG_SPAN == hi // TAG_SPAN:  # the usual case: files come sorted or by area code
            base = lo - lo % TAG_SPAN
            self._add_suffixes(lo // TAG_SPAN + tag_offset, values, base)
            return
        groups: dict[int, list[int]] = {}
        for v in values:
            t, s = divmod(v, TAG_SPAN)
            g = groups.get(t)
            if g is None:
                groups[t] = g = []
            g.append(s)
        for t, suffixes in groups.items():
            self._add_suffixes(t + tag_offset, suffixes, 0)

    def add_short(self, e164s: list[str]) -> None:
        self._short.extend(e164s)

    def _add_suffixes(self, tag: int, values: list[int], base: int) -> None:
        acc = self._accs.get(tag)
        if acc is None or (isinstance(acc, list) and len(acc) + len(values) > LIST_MAX):
            if len(values) + (len(acc) if acc is not None else 0) > LIST_MAX:
                old = acc
                acc = tag_bitmap(old) if old is not None else bytearray(TAG_BYTES)
                self._bytes += TAG_BYTES - (len(old) * LIST_ENTRY_BYTES if old is not None else 0)
            else:
                acc = []
            self._accs[tag] = acc
        if isinstance(acc, bytearray):
            masks = BIT_MASKS
            for v in values:
                s = v - base
                acc[s >> 3] |= masks[s & 7]
        else:
            acc.extend([v - base for v in values] if base else values)
            self._bytes += len(values) * LIST_ENTRY_BYTES

    async def flush(self) -> None:
        """Write every gathered tag (merging tags written before) and forget them."""
        accs, self._accs, self._bytes = self._accs, {}, 0
        self.flushes += 1
        if self.existing:
            await self._describe([tag for tag in accs if tag not in self._written])
        pipe = pipeline(self.redis)
        handlers: list[tuple[str, Any]] = []
        for tag, acc in accs.items():
            self._queue_tag(pipe, handlers, tag, acc)
            if len(handlers) >= PIPELINE_COMMANDS:
                await self._execute(pipe, handlers)
                pipe, handlers = pipeline(self.redis), []
        if handlers:
            await self._execute(pipe, handlers)
        if self._short:
            short, self._short = self._short, []
            net = await mutate_versions(self.redis, self.list_name, split_ops([("a", n) for n in short]),
                                        [self.version], self.intset_max)
            self.count += net[self.version][0]

    async def _describe(self, tags: list[int]) -> None:
        """Learn what the version already holds in these tags (one round trip per node)."""
        if not tags:
            return

        def queue() -> Any:
            pipe = pipeline(self.redis)
            for tag in tags:
                tag_key = keys.dnc_tag_set_key(self.list_name, self.version, f"+{tag}")
                _DESCRIBE_TAG.queue(pipe, [tag_key, *(keys.dnc_tag_block_key(tag_key, b) for b in BLOCK_IDS)], [])
            return pipe

        for tag, (members, blocks) in zip(tags, await execute_with_scripts(self.redis, [_DESCRIBE_TAG], queue),
                                          strict=True):
            if members or blocks:
                self._written[tag] = _Written({int(m) for m in members}, {int(b): "existing" for b in blocks})

    def _queue_tag(self, pipe: Any, handlers: list[tuple[str, Any]], tag: int, acc: bytearray | list[int]) -> None:
        prev = self._written.get(tag)
        if prev is not None and prev.tag_members:
            if isinstance(acc, bytearray):
                for s in prev.tag_members:
                    acc[s >> 3] |= BIT_MASKS[s & 7]
            else:
                acc.extend(prev.tag_members)
        plan: TagPlan = plan_tag(acc, intset_max=self.intset_max, fixed_blocks=prev.blocks if prev else ())
        written = prev or _Written()
        tag_str = f"+{tag}"
        tag_key = keys.dnc_tag_set_key(self.list_name, self.version, tag_str)
        pipe.sadd(keys.dnc_version_tags_key(self.list_name, self.version), tag_str)
        handlers.append(("ignore", None))
        for b, payload in plan.bitmap_blocks.items():
            key = keys.dnc_tag_block_key(tag_key, block_id_of(b))
            if b in written.blocks:
                self._merges.append((key, "b", [payload]))
            else:
                pipe.set(key, payload, nx=True)
                handlers.append(("bitmap", (key, payload)))
            written.blocks[b] = "bitmap"
        for b, members in plan.set_blocks.items():
            key = keys.dnc_tag_block_key(tag_key, block_id_of(b))
            if b in written.blocks:
                self._merges.append((key, "s", list(members)))
            else:
                pipe.sadd(key, *members)
                handlers.append(("set", (key, members)))
                written.blocks[b] = "set"
        new_members = set(plan.tag_members)
        moved = written.tag_members - new_members
        if moved:
            pipe.srem(tag_key, *moved)
            handlers.append(("count", -1))
        fresh = new_members - written.tag_members
        if fresh:
            pipe.sadd(tag_key, *sorted(fresh))
            handlers.append(("count", 1))
        written.tag_members = new_members
        self._written[tag] = written

    async def _execute(self, pipe: Any, handlers: list[tuple[str, Any]]) -> None:
        replies = await pipe.execute(raise_on_error=False)
        retry, self._merges = self._merges, []
        for (kind, data), reply in zip(handlers, replies, strict=True):
            if kind in ("count", "ignore") and isinstance(reply, Exception):
                raise reply
            if kind == "count":
                self.count += data * int(reply)
            elif kind == "bitmap":
                key, payload = data
                if reply is True:
                    self.count += int.from_bytes(payload, "big").bit_count()
                else:  # the key exists already (an opt-out arrived during the build): merge
                    retry.append((key, "b", [payload]))
            elif kind == "set":
                key, members = data
                if isinstance(reply, Exception):
                    retry.append((key, "s", members))
                else:
                    self.count += int(reply)
        for key, how, payload in retry:
            self.count += int(await _MERGE_BLOCK(self.redis, [key, keys.dnc_merge_scratch_key(key)],
                                                 [self.intset_max, how, *payload]))


def members_of_bitmap(payload: bytes, block: int) -> list[int]:
    """The tag suffixes of a block bitmap (for tests and tools)."""
    return [block * BLOCK_SIZE + s for s in bitmap_members(payload)]
