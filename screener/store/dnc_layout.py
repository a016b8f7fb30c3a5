"""How one tag's numbers of a DNC list are laid out in Redis (pure: no I/O), and the Lua that edits them.

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


#: the 2-key check the decision script does for one list (KEYS: tag key, block key; ARGV: tag suffix,
#: block suffix): 1 when listed
LOOKUP_LUA = """
if redis.call('SISMEMBER', KEYS[1], ARGV[1]) == 1 then return 1 end
local t = redis.call('TYPE', KEYS[2])['ok']
if t == 'set' then return redis.call('SISMEMBER', KEYS[2], ARGV[2]) end
if t == 'string' then return redis.call('GETBIT', KEYS[2], ARGV[2]) end
return 0
"""

#: Lua functions that add or remove one number in one list version, keeping the layout's rules
#: (tag set and block sets stay intsets: an overflowing block set becomes a bitmap, an overflowing tag set
#: moves its most populated blocks to keys of their own). ``tagkey`` is keys.dnc_tag_key; ``rest`` the digits
#: after the tag (7 digits; shorter only for very short numbers, which always use a block key).
MUTATE_FUNCS_LUA = """
local function dnc_block_key(tagkey, rest)
  return tagkey .. ':' .. string.sub(rest, 1, #rest - 4)
end
local function dnc_to_bitmap(bk)
  local members = redis.call('SMEMBERS', bk)
  redis.call('DEL', bk)
  redis.call('SETBIT', bk, 9999, 0)
  for _, m in ipairs(members) do redis.call('SETBIT', bk, tonumber(m), 1) end
end
local function dnc_block_add(bk, bs, maxn)
  local t = redis.call('TYPE', bk)['ok']
  if t == 'string' then
    if redis.call('SETBIT', bk, bs, 1) == 0 then return 1 end
    return 0
  end
  local added = redis.call('SADD', bk, bs)
  if added == 1 and redis.call('SCARD', bk) > maxn then dnc_to_bitmap(bk) end
  return added
end
local function dnc_split_tag(tagkey, maxn)
  local members = redis.call('SMEMBERS', tagkey)
  local groups, order = {}, {}
  for _, m in ipairs(members) do
    local n = tonumber(m)
    local b = math.floor(n / 10000)
    if groups[b] == nil then groups[b] = {}; order[#order + 1] = b end
    local g = groups[b]
    g[#g + 1] = n
  end
  table.sort(order, function(x, y) return #groups[x] > #groups[y] end)
  -- a set that outgrew its intset never shrinks back to one: rebuild the tag set from what stays in it
  local remaining, keep = #members, {}
  for _, b in ipairs(order) do
    if remaining > maxn / 2 then
      local bk = tagkey .. ':' .. string.format('%03d', b)
      for _, n in ipairs(groups[b]) do dnc_block_add(bk, n % 10000, maxn) end
      remaining = remaining - #groups[b]
    else
      for _, n in ipairs(groups[b]) do keep[#keep + 1] = n end
    end
  end
  redis.call('DEL', tagkey)
  for i = 1, #keep, 500 do
    redis.call('SADD', tagkey, unpack(keep, i, math.min(i + 499, #keep)))
  end
end
local function dnc_add(tagkey, rest, maxn)
  local bk = dnc_block_key(tagkey, rest)
  local bs = tonumber(string.sub(rest, -4))
  if #rest == 7 and redis.call('SISMEMBER', tagkey, tonumber(rest)) == 1 then return 0 end
  if #rest ~= 7 or redis.call('EXISTS', bk) == 1 then return dnc_block_add(bk, bs, maxn) end
  local added = redis.call('SADD', tagkey, tonumber(rest))
  if added == 1 and redis.call('SCARD', tagkey) > maxn then dnc_split_tag(tagkey, maxn) end
  return added
end
local function dnc_remove(tagkey, rest)
  local bk = dnc_block_key(tagkey, rest)
  local bs = tonumber(string.sub(rest, -4))
  local removed = 0
  if #rest == 7 then removed = redis.call('SREM', tagkey, tonumber(rest)) end
  local t = redis.call('TYPE', bk)['ok']
  if t == 'set' then
    removed = removed + redis.call('SREM', bk, bs)
  elseif t == 'string' then
    removed = removed + redis.call('SETBIT', bk, bs, 0)
    if removed > 0 and redis.call('BITCOUNT', bk) == 0 then redis.call('DEL', bk) end
  end
  if removed > 0 then return 1 end
  return 0
end
"""

#: One tag of one version (one slot): KEYS[1] = tag key; ARGV[1] = intset max, ARGV[2] = the edits, space
#: separated, each the op ('a' add, 'r' remove) followed by the rest ("a5550123 r5550124").
#: Returns {numbers added, numbers removed}.
MUTATE_TAG_LUA = MUTATE_FUNCS_LUA + """
local maxn = tonumber(ARGV[1])
local added, removed = 0, 0
for tok in string.gmatch(ARGV[2], '%S+') do
  local op, rest = string.sub(tok, 1, 1), string.sub(tok, 2)
  if op == 'a' then added = added + dnc_add(KEYS[1], rest, maxn)
  else removed = removed + dnc_remove(KEYS[1], rest) end
end
return {added, removed}
"""

#: Merge a block written elsewhere into an existing block key (any type). KEYS[1] = block key;
#: ARGV = intset max, 'b' + bitmap bytes | 's' + members... Returns the numbers newly added.
MERGE_BLOCK_LUA = MUTATE_FUNCS_LUA + """
local maxn = tonumber(ARGV[1])
local added = 0
local t = redis.call('TYPE', KEYS[1])['ok']
if ARGV[2] == 'b' and t ~= 'set' then
  -- bitmap into a bitmap (or nothing): OR it in through a scratch key of the same slot
  local before = redis.call('BITCOUNT', KEYS[1])
  local scratch = KEYS[1] .. ':merge'
  redis.call('SET', scratch, ARGV[3])
  redis.call('BITOP', 'OR', KEYS[1], KEYS[1], scratch)
  redis.call('DEL', scratch)
  return redis.call('BITCOUNT', KEYS[1]) - before
elseif ARGV[2] == 'b' then
  local bm = ARGV[3]
  for i = 1, #bm do
    local byte = string.byte(bm, i)
    if byte ~= 0 then
      for j = 0, 7 do
        if bit.band(byte, bit.rshift(128, j)) ~= 0 then
          added = added + dnc_block_add(KEYS[1], (i - 1) * 8 + j, maxn)
        end
      end
    end
  end
else
  for i = 3, #ARGV do added = added + dnc_block_add(KEYS[1], tonumber(ARGV[i]), maxn) end
end
return added
"""
