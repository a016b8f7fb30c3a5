"""The layout rules, without Redis: which representation each block and tag gets."""

from __future__ import annotations

import random

from screener.store import keys
from screener.store.dnc.edits import split_number, tag_entry
from screener.store.dnc.layout import (
    BLOCK_BYTES,
    BLOCK_MIN,
    INTSET_MAX,
    bitmap_members,
    plan_tag,
    tag_bitmap,
)
from screener.store.dnc.lookup import lookup_keys


def test_lookup_keys_follow_the_key_schema() -> None:
    tag_key, block_key, tag_sfx, block_sfx = lookup_keys("us-national", "7", "+12015550123")
    assert tag_key == "scr:{+1201}:dnc:us-national:7"
    assert block_key == "scr:{+1201}:dnc:us-national:7:555"
    assert (tag_sfx, block_sfx) == (5550123, 123)
    assert block_key == f"{tag_key}:{keys.block_id('+12015550123')}"


def test_split_number_rejects_non_e164() -> None:
    assert split_number("+442079460000") == ("+44207", "9460000")
    for bad in ("12015550123", "+123456", "+12015550123x", "911"):
        try:
            split_number(bad)
        except ValueError:
            continue
        raise AssertionError(f"{bad!r} was accepted")


def test_tag_entry_marks_short_numbers_with_their_block() -> None:
    assert tag_entry("+12015550123") == "+1201"
    assert tag_entry("+6834001") == "+6/83"


def test_tag_bitmap_uses_getbit_order() -> None:
    bm = tag_bitmap([0, 9, 10_000, 9_999_999])
    assert bm[0] == 0x80 and bm[1] == 0x40
    assert bm[BLOCK_BYTES] == 0x80  # block 1 starts at bit 0 of its own 1,250 bytes
    assert bitmap_members(bm) == [0, 9, 10_000, 9_999_999]


def test_dense_blocks_become_bitmaps_medium_blocks_intsets_sparse_numbers_the_tag_set() -> None:
    rng = random.Random(5)
    dense = {555 * 10_000 + s for s in rng.sample(range(10_000), INTSET_MAX + 1)}
    medium = {777 * 10_000 + s for s in rng.sample(range(10_000), BLOCK_MIN)}
    sparse = {b * 10_000 + rng.randrange(10_000) for b in range(100, 130)}
    for acc in (list(dense | medium | sparse), tag_bitmap(dense | medium | sparse)):
        plan = plan_tag(acc)
        assert set(plan.bitmap_blocks) == {555}
        assert set(plan.set_blocks) == {777}
        assert set(plan.tag_members) == sparse
        assert plan.count == len(dense | medium | sparse)


def test_the_tag_set_never_outgrows_an_intset() -> None:
    rng = random.Random(6)
    # 400 blocks with 5 numbers each: 2,000 loose numbers
    numbers = {b * 10_000 + s for b in range(400) for s in rng.sample(range(10_000), 5)}
    plan = plan_tag(list(numbers))
    assert len(plan.tag_members) <= INTSET_MAX
    assert plan.count == len(numbers)
    assert all(len(m) <= INTSET_MAX for m in plan.set_blocks.values())


def test_fixed_blocks_keep_their_key() -> None:
    plan = plan_tag([123 * 10_000 + 1], fixed_blocks=[123])
    assert plan.set_blocks == {123: [1]} and not plan.tag_members
