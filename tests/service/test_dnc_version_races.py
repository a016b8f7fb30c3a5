"""A list's versions against what happens while an import replaces them, at every round trip of the import
(tests/round_trips.py), against a real redis-server: opt-outs acknowledged meanwhile, a second import, screeners
and exports still reading the version that the import frees."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from screener.decision import ScreenRequest
from screener.embedded_redis import EmbeddedRedis
from screener.reasons import ReasonCode as R
from screener.reasons import Verdict
from screener.service import screening
from screener.service.dnc import DncAdmin, DncError, ExportIncomplete, Format, ImportBusy, ImportOptions, import_file
from screener.service.dnc.imports import check_grace, grace_for, min_grace_s
from screener.service.screening import Screener, connect
from screener.store import dnc, keys
from screener.store.dnc.export import iter_version
from screener.store.dnc.versions import VersionFreed
from tests.dnc_files import replaced_while_exported, snapshot
from tests.factories import StaticHolder, make_settings
from tests.round_trips import hooked_client

#: the list before the import: two area codes; the file adds a third and drops one number
BEFORE = ["+12015550100", "+12015550101", "+12125550142"]
FILE = ["+12015550100", "+12125550142", "+13055550100"]
#: a file of E.164 numbers; the old version freed right after the switch (grace 0)
FAST = ImportOptions(fmt=Format.E164, grace_s=0.0)
REPLACE = replace(FAST, replace=True)


def write(path: Path, numbers: list[str]) -> Path:
    path.write_text("".join(n + "\n" for n in numbers))
    return path


async def listed_numbers(redis: aioredis.Redis, list_name: str) -> set[str]:
    return set((await snapshot(redis, list_name)).numbers)


async def replace_with_an_opt_out_at(url: str, redis: aioredis.Redis, tmp_path: Path,
                                     k: int) -> tuple[bool, bool, bool] | None:
    """A list of BEFORE replaced by FILE, with an opt-out acknowledged just before the importer's round trip ``k``:
    (whether the list was marked as building or switched by then, whether the opt-out is listed after the
    replace, whether the list's count is its number of numbers); None when the import made fewer than ``k``
    round trips."""
    name = f"internal-{k}"
    await import_file(redis, name, write(tmp_path / "before.txt", BEFORE), FAST)
    opted = f"+1718555{k:04d}"
    marked: list[bool] = []

    async def opt_out_before(n: int) -> None:
        if n == k:
            building, live = await redis.hmget(keys.dnc_meta_key(name), ["building", "version"])
            marked.append(building is not None or live != b"1")  # marked, or already switched
            assert await dnc.add_numbers(redis, name, [opted], source="opt-out: fastagi") == 1

    importer = hooked_client(url, opt_out_before)
    try:
        result = await import_file(importer, name, write(tmp_path / "file.txt", FILE), REPLACE)
    finally:
        await importer.aclose()
    if not marked:
        return None
    after = await snapshot(redis, name)
    assert set(after.numbers) - {opted} == set(FILE), k
    assert result.version == after.version
    return marked[0], opted in after.numbers, after.count == len(after.numbers)


async def test_an_opt_out_acknowledged_at_any_round_trip_of_a_replace_survives_it(
        redis_server: EmbeddedRedis, redis_client: aioredis.Redis, tmp_path: Path) -> None:
    """Once the replace has marked the list as building, every opt-out goes to the new version too, and nothing
    empties that version afterwards (begin_build used to free the build's own version right after marking it,
    deleting an opt-out that landed in between). Before the mark, an opt-out is replaced away like every number
    the file does not hold: that is what a replace means (docs/dnc-storage.md)."""
    outcomes: dict[int, tuple[bool, bool, bool]] = {}
    for k in range(1, 1000):
        outcome = await replace_with_an_opt_out_at(redis_server.url, redis_client, tmp_path, k)
        if outcome is None:
            break  # every round trip of the import was tried
        outcomes[k] = outcome
    lost = [k for k, (was_marked, listed, _) in outcomes.items() if was_marked and not listed]
    assert lost == [], f"opt-outs acknowledged during the replace and lost (at round trips {lost} of {outcomes})"
    assert not any(listed for was_marked, listed, _ in outcomes.values() if not was_marked)
    assert all(counted for *_, counted in outcomes.values()), "the list's count is its number of numbers"
    assert sum(was_marked for was_marked, *_ in outcomes.values()) >= 8, outcomes  # begin, build, switch, freeing


@pytest.mark.parametrize(("first", "second"), [("replace", "edit"), ("edit", "replace"), ("changes", "edit"),
                                               ("edit", "changes")])
async def test_a_second_import_while_one_builds_is_refused_and_the_first_lands_whole(
        redis_server: EmbeddedRedis, redis_client: aioredis.Redis, tmp_path: Path, first: str, second: str) -> None:
    """A bulk addition used to write to the live version, where a concurrent replace's switch lost it: now every
    import builds its own version, and a second import of the list is refused while one builds (it changes
    nothing and says so), at whatever point of the first it comes."""
    await import_file(redis_client, "reg", write(tmp_path / "before.txt", BEFORE), FAST)
    changes = tmp_path / "changes.csv"
    changes.write_text("number,flag\n+12015550101,D\n+13055550100,A\n")
    files = {"replace": write(tmp_path / "file.txt", FILE), "edit": write(tmp_path / "more.txt", ["+14155550100"]),
             "changes": changes}
    expected = {"replace": set(FILE), "edit": set(BEFORE) | {"+14155550100"},
                "changes": set(BEFORE) - {"+12015550101"} | {"+13055550100"}}

    def options(mode: str) -> ImportOptions:
        return ImportOptions(fmt=Format.CSV if mode == "changes" else Format.E164, replace=mode == "replace",
                             changes=mode == "changes", grace_s=0)

    refused: list[str] = []

    async def second_import_while_building(n: int) -> None:
        if refused or await redis_client.hget(keys.dnc_meta_key("reg"), "building") is None:
            return
        before = await snapshot(redis_client, "reg")
        with pytest.raises(ImportBusy, match=r"another import of list 'reg' is building.*the list was not changed"):
            await import_file(redis_client, "reg", files[second], options(second))
        assert await snapshot(redis_client, "reg") == before
        refused.append(f"at round trip {n}")

    importer = hooked_client(redis_server.url, second_import_while_building)
    try:
        result = await import_file(importer, "reg", files[first], options(first))
    finally:
        await importer.aclose()
    assert refused
    after = await snapshot(redis_client, "reg")
    assert set(after.numbers) == expected[first] and after.count == len(expected[first])
    assert result.mode == first and after.version == result.version


async def test_a_decision_still_reading_a_version_an_import_freed_is_blocked(
        redis_server: EmbeddedRedis, redis_client: aioredis.Redis, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """`dnc import --replace --grace 0` used to let a listed number through: the screener decided with its cached
    version, whose keys were gone. The freed marker in the number's slot blocks it (screening_unavailable), and
    the screener reads the list versions again for the next call."""
    number = "+12125550142"
    path = write(tmp_path / "internal.txt", BEFORE)
    await import_file(redis_client, "internal", path, FAST)
    # every cached version is trusted for an hour: the decision below reads version 1 whatever the machine's load
    monkeypatch.setattr(screening, "LIST_STATE_TTL_S", 3600.0)
    screener = Screener(StaticHolder(make_settings()), connect(redis_server.url, 0.5))  # type: ignore[arg-type]
    try:
        request = ScreenRequest(dialed=number, campaign="open", commit=False)
        first = await screener.screen(request)
        assert first.codes == (R.DNC_INTERNAL,)
        result = await import_file(redis_client, "internal", path, REPLACE)
        assert result.freed_version == "1"  # version 1 is gone, and the screener's cache still names it
        cut = await screener.screen(request)
        assert cut.verdict is Verdict.BLOCK and cut.codes == (R.SCREENING_UNAVAILABLE,)
        assert "list internal: version freed" in cut.reasons[0].detail
        again = await screener.screen(request)
        assert again.codes == (R.DNC_INTERNAL,)  # the live version read again
    finally:
        await screener.aclose()


async def test_a_lookup_of_a_freed_version_says_so_and_contains_reads_the_live_one(
        redis_client: aioredis.Redis, tmp_path: Path) -> None:
    path = write(tmp_path / "l.txt", BEFORE)
    await import_file(redis_client, "l", path, FAST)
    await import_file(redis_client, "l", path, REPLACE)
    with pytest.raises(VersionFreed, match="version 1 of list 'l' was freed"):
        await dnc.contains_in(redis_client, "l", "1", BEFORE[0])
    with pytest.raises(VersionFreed):
        await dnc.contains_many(redis_client, "l", BEFORE, version="1")
    assert await dnc.contains(redis_client, "l", BEFORE[0])  # the live version, 2
    # a tag the freed version never had keys in: it never listed those numbers (and the marker is per tag)
    assert not await dnc.contains_in(redis_client, "l", "1", "+14155550100")


async def test_an_export_that_an_import_frees_midway_fails_instead_of_ending_short(
        redis_client: aioredis.Redis, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The export used to stop early without an error (2 of 8 numbers, exit 0) when a replace freed its version."""
    numbers = [f"+1{ac}5550123" for ac in (201, 202, 203, 205, 206, 207, 208, 209)]
    path = write(tmp_path / "reg.txt", numbers)
    await import_file(redis_client, "reg", path, FAST)
    from screener.service.dnc import admin as admin_module

    monkeypatch.setattr(admin_module, "iter_version", replaced_while_exported(path, 2))
    got: list[str] = []
    with pytest.raises(ExportIncomplete, match=r"stopped after 2 numbers, incomplete: version 1 of list 'reg' was "
                                               r"freed.*run it again"):
        async for number in DncAdmin(redis_client).export("reg"):
            got.append(number)
    assert got == numbers[:2]
    monkeypatch.undo()
    assert [n async for n in DncAdmin(redis_client).export("reg")] == numbers  # run again: the new version, whole


async def test_an_export_of_a_version_freed_before_it_began_fails(redis_client: aioredis.Redis,
                                                                  tmp_path: Path) -> None:
    path = write(tmp_path / "reg.txt", BEFORE)
    await import_file(redis_client, "reg", path, FAST)
    await import_file(redis_client, "reg", path, REPLACE)
    assert not await redis_client.exists(keys.dnc_version_tags_key("reg", "1"))  # freed, registry and all
    with pytest.raises(VersionFreed):
        [n async for n in iter_version(redis_client, "reg", "1")]
    assert [n async for n in iter_version(redis_client, "reg", "2")] == sorted(BEFORE)


def test_the_least_grace_period_covers_the_cache_and_the_longest_decision() -> None:
    """No screener outlives it: list versions cached LIST_STATE_TTL_S, then a decision of up to 1.5 time
    budgets (from the config when there is one), plus a margin; an import that gives none keeps the old version
    at least 3 s, longer when the budget needs it."""
    assert min_grace_s(None) == pytest.approx(1.0 + 1.5 * 0.150 + 1.0)  # the default budget, 150 ms
    assert grace_for(None) == 3.0
    slow = make_settings(time_budget_ms=60_000)  # the longest budget a config may give
    assert min_grace_s(slow) == pytest.approx(1.0 + 90.0 + 1.0)
    assert grace_for(slow) == min_grace_s(slow)
    check_grace(92.0, slow)
    with pytest.raises(DncError, match=r"a grace period of 30 s is too short.*give 92 s or more"):
        check_grace(30.0, slow)
