"""DNC lists on a real 3-master Redis Cluster: import, lookups in one slot per number, replace, edits."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest
from redis.asyncio.cluster import RedisCluster

from screener.cli.main import main
from screener.service.dnc import ImportOptions, import_file
from screener.store import dnc, keys
from screener.store.dnc import versions
from screener.store.dnc.export import iter_version
from screener.store.dnc.layout import INTSET_MAX
from screener.store.dnc.versions import VersionFreed

pytestmark = pytest.mark.cluster

AREA_CODES = [201, 202, 212, 305, 415, 617, 718, 917]


def numbers_for(seed: int) -> list[int]:
    rng = random.Random(seed)
    out: set[int] = set()
    for i, ac in enumerate(AREA_CODES):
        k = (30_000, 2_000, 100)[i % 3]  # dense, medium and sparse tags
        out |= {ac * 10**7 + s for s in rng.sample(range(2_000_000, 2_400_000), k)}
    return sorted(out)


async def test_import_lookup_replace_and_edit_on_a_cluster(cluster_client: RedisCluster, tmp_path: Path) -> None:
    first, second = numbers_for(31), numbers_for(32)
    path = tmp_path / "l.txt"
    path.write_text("".join(f"{n}\n" for n in first))
    result = await import_file(cluster_client, "us-national", path, ImportOptions(grace_s=0))
    assert result.count == len(first)
    states = await dnc.read_list_states(cluster_client, ["us-national", "internal"])
    assert states["us-national"].version == result.version and states["internal"].version == "0"

    # the list's keys spread over the masters, each number's keys share one slot
    per_node = []
    for node in cluster_client.get_primaries():
        per_node.append(await cluster_client.dbsize(target_nodes=node))
    assert sum(1 for n in per_node if n > 0) >= 2, per_node
    tag_key, block_key, _, _ = dnc.lookup_keys("us-national", result.version, f"+1{first[0]}")
    assert cluster_client.keyslot(tag_key) == cluster_client.keyslot(block_key)

    rng = random.Random(33)
    listed = set(first)
    assert all(await dnc.contains_many(cluster_client, "us-national", [f"+1{n}" for n in first[::5]]))
    misses = [n for n in (rng.choice(first) + rng.randrange(1, 50) for _ in range(3000)) if n not in listed]
    assert not any(await dnc.contains_many(cluster_client, "us-national", [f"+1{n}" for n in misses]))
    for n in rng.sample(first, 20):  # the decision's single-slot 2-key check, one number at a time
        assert await dnc.contains_in(cluster_client, "us-national", result.version, f"+1{n}")

    path.write_text("".join(f"{n}\n" for n in second))
    again = await import_file(cluster_client, "us-national", path, ImportOptions(replace=True, grace_s=0))
    assert again.old_version == result.version and again.count == len(second)
    assert await cluster_client.exists(keys.dnc_version_tags_key("us-national", result.version)) == 0
    assert await cluster_client.exists(keys.dnc_block_key("us-national", result.version, f"+1{first[0]}")) == 0
    exported = [n async for n in iter_version(cluster_client, "us-national", again.version)]
    assert exported == [f"+1{n}" for n in second]
    gone = sorted(set(first[::7]) - set(second))
    assert not any(await dnc.contains_many(cluster_client, "us-national", [f"+1{n}" for n in gone]))

    # the opt-out path on a cluster
    assert await dnc.add_numbers(cluster_client, "internal", ["+12015550123", "+14155550123"]) == 2
    assert await dnc.contains(cluster_client, "internal", "+14155550123")
    assert await dnc.remove_numbers(cluster_client, "internal", ["+14155550123"]) == 1
    assert not await dnc.contains(cluster_client, "internal", "+14155550123")
    assert (await dnc.read_list_states(cluster_client, ["internal"]))["internal"].count == 1


def test_the_cli_works_against_a_cluster_node_url(redis_cluster: Any, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    url = f"redis://127.0.0.1:{redis_cluster.servers[0].port}/0"

    def dnc_cli(*args: str) -> int:
        return main(["--config", "/nonexistent.toml", "--redis", url, "dnc", *args])

    path = tmp_path / "l.txt"
    path.write_text("".join(f"{ac}5550123\n" for ac in AREA_CODES))
    assert dnc_cli("import", str(path), "--list", "cli-reg", "--replace", "--new-list") == 0
    for ac in AREA_CODES:  # area codes hash to slots on every master
        assert dnc_cli("check", f"{ac}5550123", "--list", "cli-reg") == 0
    assert dnc_cli("check", "2015550124", "--list", "cli-reg") == 1
    assert dnc_cli("add", "2015550124", "--list", "cli-int", "--new-list") == 0
    assert dnc_cli("check", "2015550124", "--list", "cli-int") == 0
    capsys.readouterr()
    assert dnc_cli("export", "--list", "cli-reg") == 0
    assert capsys.readouterr().out.split() == sorted(f"+1{ac}5550123" for ac in AREA_CODES)


async def test_a_crowded_tag_on_a_cluster_moves_blocks_out_and_stays_an_intset(cluster_client: RedisCluster) -> None:
    """The cluster's edit script names every key it touches: a tag set that overflows is split with every block
    key of the tag named (the script asks for them), and stays exact."""
    rng = random.Random(34)
    numbers = sorted({2015000000 + rng.randrange(5_000_000) for _ in range(INTSET_MAX * 2)})
    for start in range(0, len(numbers), 100):
        assert await dnc.add_numbers(cluster_client, "internal", [f"+1{n}" for n in numbers[start:start + 100]]) \
            == len(numbers[start:start + 100])
    tag_key = keys.dnc_tag_key("internal", "0", "+12015550000")
    assert await cluster_client.object("encoding", tag_key) == b"intset"
    assert await cluster_client.scard(tag_key) <= INTSET_MAX
    assert all(await dnc.contains_many(cluster_client, "internal", [f"+1{n}" for n in numbers]))
    assert not any(await dnc.contains_many(cluster_client, "internal", [f"+1{n + 1}" for n in numbers
                                                                         if n + 1 not in set(numbers)]))
    assert (await dnc.read_list_states(cluster_client, ["internal"]))["internal"].count == len(numbers)
    # a very short number (its own block key, never the tag set) on the same path
    assert await dnc.add_numbers(cluster_client, "internal", ["+6831234"]) == 1
    assert await dnc.contains(cluster_client, "internal", "+6831234")
    assert await dnc.remove_numbers(cluster_client, "internal", ["+6831234", f"+1{numbers[0]}"]) == 2
    assert not await dnc.contains(cluster_client, "internal", f"+1{numbers[0]}")


async def test_additions_and_change_lists_land_whole_or_not_at_all_on_a_cluster(cluster_client: RedisCluster,
                                                                                tmp_path: Path) -> None:
    """Additions and change lists build a copy of the live version tag by tag (each tag's copy in its own slot),
    then switch: a failure midway leaves the list as it was; the same file then lands whole."""
    from screener.service.dnc import ImportFailed, Progress
    from tests.dnc_files import snapshot

    first = numbers_for(35)
    path = tmp_path / "l.txt"
    path.write_text("".join(f"{n}\n" for n in first))
    await import_file(cluster_client, "reg", path, ImportOptions(grace_s=0))
    await dnc.add_numbers(cluster_client, "reg", ["+17185550199"])
    before = await snapshot(cluster_client, "reg")
    more = [ac * 10**7 + 3_000_000 + i for ac in AREA_CODES for i in range(0, 30_000, 7)]
    path.write_text("".join(f"{n}\n" for n in more))
    calls = 0

    def fail(p: Progress) -> None:
        nonlocal calls
        calls += p.phase == "reading"
        if calls == 3:
            raise RuntimeError("injected")

    options = ImportOptions(grace_s=0, chunk_bytes=16 << 10, budget_bytes=64 << 10)
    with pytest.raises(ImportFailed, match="the list was not changed"):
        await import_file(cluster_client, "reg", path, options, progress=fail)
    assert await snapshot(cluster_client, "reg") == before
    result = await import_file(cluster_client, "reg", path, options)
    assert result.mode == "edit" and result.version != before.version
    expected = set(before.numbers) | {f"+1{n}" for n in more}
    after = await snapshot(cluster_client, "reg")
    assert set(after.numbers) == expected and after.count == len(expected)
    changes = tmp_path / "c.csv"
    changes.write_text(f"{first[0]},D\n{more[0]},D\n2125550100,A\n")
    result = await import_file(cluster_client, "reg", changes, ImportOptions(grace_s=0, changes=True))
    assert (result.added, result.removed) == (1, 2)
    final = await snapshot(cluster_client, "reg")
    assert set(final.numbers) == (expected - {f"+1{first[0]}", f"+1{more[0]}"}) | {"+12125550100"}
    assert final.count == len(final.numbers)


async def test_an_opt_out_between_the_steps_of_a_replace_s_begin_survives_it_on_a_cluster(
        cluster_client: RedisCluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """begin_build marks the list as building (from then on an opt-out goes to the new version too), then frees
    what earlier imports left; it used to empty its own new version after that, deleting an opt-out acknowledged
    in between, and the switch published the list without it. Then: the version the replace freed says so in
    each number's slot (a reader of it fails closed, never reads an empty list)."""
    numbers = [f"+1{n}" for n in numbers_for(36)[::50]]
    path = tmp_path / "internal.txt"
    path.write_text("".join(n + "\n" for n in numbers))
    await import_file(cluster_client, "internal", path, ImportOptions(grace_s=0))
    real_free_retired = versions.free_retired
    acknowledged: list[str] = []

    async def opt_out_then_free(redis: Any, list_name: str, **kwargs: Any) -> list[str]:
        if not acknowledged:  # right after begin marked the list, before its next step
            assert await dnc.add_numbers(cluster_client, "internal", ["+13055550199"], source="opt-out: fastagi") == 1
            acknowledged.append("+13055550199")
        return await real_free_retired(redis, list_name, **kwargs)

    monkeypatch.setattr(versions, "free_retired", opt_out_then_free)
    result = await import_file(cluster_client, "internal", path, ImportOptions(replace=True, grace_s=0))
    assert acknowledged and await dnc.contains(cluster_client, "internal", "+13055550199")
    assert result.count == len(numbers) + 1
    exported = [n async for n in iter_version(cluster_client, "internal", result.version)]
    assert sorted(exported) == sorted([*numbers, "+13055550199"])
    with pytest.raises(VersionFreed):
        await dnc.contains_in(cluster_client, "internal", result.old_version, numbers[0])
