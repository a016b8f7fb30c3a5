"""The audit chain against a real redis-server: SHA-256 in Lua equals hashlib's, every append path extends the
chain of its group's stream, and tombstones keep an entry's digest."""

from __future__ import annotations

import hashlib
import random

import pytest
import redis.asyncio as aioredis

from screener.store import audit, audit_chain, keys
from screener.store.audit_chain import ChainFormatError
from screener.store.scripts import script_source

#: a script that returns audit_link(ARGV[1], ARGV[2], ARGV[3]) (the libs as the real scripts get them)
LINK_SCRIPT = script_source("audit_append").split("local digest = ARGV[1]")[0] + \
    "return audit_link(ARGV[1], ARGV[2], ARGV[3])"


async def test_sha256_in_lua_equals_hashlib(redis_client: aioredis.Redis) -> None:
    rng = random.Random(7)
    sha = await redis_client.script_load(LINK_SCRIPT)
    lengths = [*range(130), 183, 184, 247, 500]  # every padding case: 55/56 and 119/120 bytes included
    for n in lengths:
        prev, digest = rng.randbytes(32), rng.randbytes(32)
        tail = bytes(rng.randrange(256) for _ in range(n))
        got = await redis_client.evalsha(sha, 0, prev.hex(), digest.hex(), tail)
        assert got.decode() == hashlib.sha256(prev + digest + tail).hexdigest(), n
    edge = ("f" * 64, "0" * 64, b"\xff" * 55)  # all-ones words: the additions wrap the most
    got = await redis_client.evalsha(sha, 0, *edge)
    assert got.decode() == hashlib.sha256(bytes.fromhex(edge[0]) + bytes.fromhex(edge[1]) + edge[2]).hexdigest()


def entry(i: int) -> dict[str, str]:
    return {"kind": "test", "i": str(i), "note": "naïve ; | = \n", audit_chain.KEY_FIELD: audit_chain.new_key(),
            "number": "+1201*****23", "call_id": f"call-{i}"}


async def test_each_group_has_its_own_chain_and_head(redis_client: aioredis.Redis) -> None:
    groups = audit.AuditGroups()
    await groups.ensure_all(redis_client, ["+1201", "+1305"])
    for i in range(12):
        await audit.append(redis_client, "+1201" if i % 3 else "+1305", entry(i))
    assert await audit.groups(redis_client) == ["+1201", "+1305"]
    heads = await audit.heads(redis_client, ["+1201", "+1305"])
    for group, count in (("+1201", 8), ("+1305", 4)):
        prev, seen = audit_chain.GENESIS, 0
        async for e in audit.scan_group(redis_client, group):
            assert e.fields[audit_chain.LINK_FIELD] == audit_chain.expected_link(prev, e.id, e.fields)
            prev, seen = e.fields[audit_chain.LINK_FIELD], seen + 1
        head = heads[group]
        assert head is not None and (head.link, head.count, seen) == (prev, count, count)
    merged = [e async for e in audit.merged([audit.scan_group(redis_client, g) for g in ("+1201", "+1305")])]
    # one trail in id order; two streams can give the same id in one millisecond: the group breaks the tie
    assert [e.sort_key for e in merged] == sorted(e.sort_key for e in merged)
    assert sorted(int(e.fields["i"]) for e in merged) == list(range(12))
    for group in ("+1201", "+1305"):
        order = [int(e.fields["i"]) for e in merged if e.group == group]
        assert order == sorted(order)


async def test_the_id_is_in_the_link_and_a_missing_head_continues_the_stream(redis_client: aioredis.Redis) -> None:
    await audit.append(redis_client, "+1201", entry(0))
    [first] = [e async for e in audit.scan_group(redis_client, "+1201")]
    other_id = f"{first.millis + 1}-0"
    assert audit_chain.expected_link(audit_chain.GENESIS, other_id, first.fields) != first.fields["_h"]
    await redis_client.delete(keys.audit_head_key("+1201"))
    await audit.append(redis_client, "+1201", entry(1))  # after the stream's last id, chain restarted
    rows = [e async for e in audit.scan_group(redis_client, "+1201")]
    assert len(rows) == 2 and rows[1].sort_key > rows[0].sort_key
    assert rows[1].fields["_h"] == audit_chain.expected_link(audit_chain.GENESIS, rows[1].id, rows[1].fields)


async def test_a_malformed_digest_is_refused_before_any_write(redis_client: aioredis.Redis) -> None:
    from screener.store.scripts import Script

    with pytest.raises(Exception, match="not 64 hex digits"):
        await Script("audit_append")(redis_client, audit.stream_keys("+1201"), ["abc", "kind", "x"])
    assert await redis_client.exists(keys.audit_stream_key("+1201"), keys.audit_head_key("+1201")) == 0


def test_a_tombstone_keeps_the_digest_and_hides_the_values() -> None:
    fields = entry(3)
    digest = audit_chain.client_digest(fields.items())
    erased = audit_chain.tombstone(fields)
    assert audit_chain.client_digest(erased.items()) == digest
    assert "call-3" not in str(erased) and fields[audit_chain.KEY_FIELD] not in str(erased)
    assert erased["kind"] == "test" and erased["note"] == fields["note"]  # plain fields stay
    partial = audit_chain.tombstone(fields, ["call_id"])
    assert audit_chain.client_digest(partial.items()) == digest and partial["number"] == fields["number"]
    assert audit_chain.client_digest(audit_chain.tombstone(partial).items()) == digest
    altered = dict(erased, note="other")
    assert audit_chain.client_digest(altered.items()) != digest
    with pytest.raises(ChainFormatError):
        audit_chain.tombstone(fields, ["kind"])  # a plain field is not erasable
    with pytest.raises(ChainFormatError):
        audit_chain.client_digest(dict(partial, _k=erased["_k"]).items())  # key gone, a sealed value left
    with pytest.raises(ChainFormatError):
        audit_chain.check_appendable({"note": audit_chain.TOMBSTONE + "00"})


def test_the_unrolled_compression_in_the_lib_is_the_generators() -> None:
    from importlib.resources import files

    from screener.store.lua_sha256 import BEGIN, END, compress_function

    lib = files("screener.store").joinpath("lua", "lib_audit_sha256.lua").read_text(encoding="utf-8")
    assert lib[lib.index(BEGIN):lib.index(END) + len(END)] + "\n" == compress_function()
