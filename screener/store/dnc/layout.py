"""How one tag's numbers of a DNC list are laid out in Redis (pure: no I/O; the Lua that keeps the layout when
numbers are added or removed one at a time is ``lua/lib_dnc_edit.lua``).

A number ``+1 201 555 1234`` has the tag ``+1201`` (keys.number_tag), the tag suffix ``5551234`` (its last
7 digits), the block ``555`` and the block suffix ``1234`` (its last 4 digits). Per list version and tag:

* sparse numbers live in ONE tag-level set of tag suffixes (an intset of int32 while it holds at most
  ``INTSET_MAX`` members);
* a block with at least ``BLOCK_MIN`` numbers gets a key of its own: an intset of int16 block suffixes while it
  holds at most ``INTSET_MAX`` numbers, else a 10,000-bit bitmap (1,250 bytes);
* a lookup checks both (docs/dnc-storage.md explains the thresholds with measured bytes per number).

The tag bitmap used while importing is the concatenation of the tag's 1,000 block bitmaps: bit ``suffix``
of the tag is bit ``suffix % 10000`` of block ``suffix // 10000``, in Redis's GETBIT order (bit 0 = the most
significant bit of byte 0), so a dense block is written as a slice of it, with no per-number work.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

#: Redis's default set-max-intset-entries: a set of at most this many integers is a compact intset
INTSET_MAX = 512
#: a block with at least this many numbers gets a key of its own (below: its numbers go to the tag set)
BLOCK_MIN = 48
#: numbers per block and bytes of a block bitmap
BLOCK_SIZE = 10_000
BLOCK_BYTES = BLOCK_SIZE // 8
#: blocks per tag (7-digit tag suffixes) and bytes of a whole tag bitmap
TAG_BLOCKS = 1_000
TAG_BYTES = TAG_BLOCKS * BLOCK_BYTES
TAG_SPAN = 10_000_000

#: the bit positions (0 = most significant) set in each byte value
BITS_OF_BYTE: tuple[tuple[int, ...], ...] = tuple(tuple(i for i in range(8) if b & (0x80 >> i)) for b in range(256))
#: mask of bit i (GETBIT order) inside a byte
BIT_MASKS: tuple[int, ...] = tuple(0x80 >> i for i in range(8))


def block_id_of(block: int) -> str:
    """The block id of block number ``block`` (0..999) of a 7-digit tag suffix: three digits."""
    return f"{block:03d}"


@dataclass
class TagPlan:
    """What to write for one tag: tag-set members, intset blocks, bitmap blocks."""

    tag_members: list[int] = field(default_factory=list)
    set_blocks: dict[int, list[int]] = field(default_factory=dict)
    bitmap_blocks: dict[int, bytes] = field(default_factory=dict)

    @property
    def count(self) -> int:
        return (len(self.tag_members) + sum(len(m) for m in self.set_blocks.values())
                + sum(int.from_bytes(b, "big").bit_count() for b in self.bitmap_blocks.values()))


def bitmap_members(chunk: bytes | bytearray, base: int = 0) -> list[int]:
    """The positions of the set bits of ``chunk`` (GETBIT order), plus ``base``."""
    out: list[int] = []
    bits = BITS_OF_BYTE
    for i, byte in enumerate(chunk):
        if byte:
            at = base + i * 8
            out.extend(at + b for b in bits[byte])
    return out


def tag_bitmap(suffixes: Iterable[int]) -> bytearray:
    """A whole tag's bitmap from its 7-digit suffixes."""
    bm = bytearray(TAG_BYTES)
    masks = BIT_MASKS
    for s in suffixes:
        bm[s >> 3] |= masks[s & 7]
    return bm


def _blocks_of(acc: bytearray | list[int]) -> Iterator[tuple[int, int, bytes | list[int]]]:
    """(block, count, bitmap bytes or sorted members) of each non-empty block of a tag."""
    if isinstance(acc, bytearray):
        for b in range(TAG_BLOCKS):
            chunk = acc[b * BLOCK_BYTES:(b + 1) * BLOCK_BYTES]
            n = int.from_bytes(chunk, "big").bit_count()
            if n:
                yield b, n, bytes(chunk)
        return
    by_block: dict[int, list[int]] = {}
    for s in sorted(set(acc)):
        b, r = divmod(s, BLOCK_SIZE)
        by_block.setdefault(b, []).append(r)
    for b, members in by_block.items():
        yield b, len(members), members


def plan_tag(acc: bytearray | list[int], *, intset_max: int = INTSET_MAX, block_min: int = BLOCK_MIN,
             fixed_blocks: Iterable[int] = ()) -> TagPlan:
    """Lay out one tag's numbers (a tag bitmap, or a list of 7-digit suffixes, duplicates allowed).

    ``fixed_blocks``: blocks that already have a key of their own (their numbers stay there).
    """
    fixed = set(fixed_blocks)
    plan = TagPlan()
    loose: dict[int, list[int]] = {}
    for b, n, content in _blocks_of(acc):
        if n > intset_max:
            plan.bitmap_blocks[b] = content if isinstance(content, bytes) else _block_bitmap(content)
            continue
        members = bitmap_members(content) if isinstance(content, bytes) else content
        if n >= block_min or b in fixed:
            plan.set_blocks[b] = members
        else:
            loose[b] = members
    # the tag set must stay an intset: promote the most populated loose blocks until it fits
    total = sum(len(m) for m in loose.values())
    for b in sorted(loose, key=lambda k: len(loose[k]), reverse=True):
        if total <= intset_max:
            break
        plan.set_blocks[b] = loose.pop(b)
        total -= len(plan.set_blocks[b])
    for b in sorted(loose):
        plan.tag_members.extend(b * BLOCK_SIZE + r for r in loose[b])
    return plan


def _block_bitmap(members: Iterable[int]) -> bytes:
    bm = bytearray(BLOCK_BYTES)
    for s in members:
        bm[s >> 3] |= BIT_MASKS[s & 7]
    return bytes(bm)


#: the block ids of a tag's 1,000 blocks, in order
BLOCK_IDS: tuple[str, ...] = tuple(block_id_of(b) for b in range(TAG_BLOCKS))
