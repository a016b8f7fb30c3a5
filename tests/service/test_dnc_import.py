"""Importing files into DNC lists against a real redis-server: exactness, formats, bad lines, change lists."""

from __future__ import annotations

import gzip
import random
import zipfile
from pathlib import Path

import redis.asyncio as aioredis

from screener.service.dnc import Format, ImportOptions, import_file
from screener.store import dnc
from screener.store.dnc.export import iter_version

FAST = ImportOptions(grace_s=0.0)


def us(n: int) -> str:
    return f"+1{n}"


def write_lines(path: Path, lines: list[str]) -> Path:
    path.write_text("".join(f"{line}\n" for line in lines))
    return path


def random_numbers(rng: random.Random) -> set[int]:
    """A mix of densities: a registry-dense area code, a medium one, a sparse one, scattered numbers."""
    out = {2015000000 + s for s in rng.sample(range(300_000), 24_000)}  # 8 %: bitmaps
    out |= {2025000000 + s for s in rng.sample(range(1_000_000), 4_000)}  # 0.4 %: intset blocks
    out |= {3055550000 + s for s in rng.sample(range(10_000), 300)}  # one medium block
    out |= {rng.randrange(200, 260) * 10**7 + rng.randrange(2 * 10**6, 10**7) for _ in range(1_000)}
    return out


async def assert_exact(r: aioredis.Redis, name: str, numbers: set[int], rng: random.Random) -> None:
    listed = sorted(numbers)
    hits = await dnc.contains_many(r, name, [us(n) for n in listed])
    assert all(hits), f"{hits.count(False)} listed numbers missed"
    probes = [n for n in (rng.choice(listed) + rng.randrange(-50, 50) for _ in range(15_000)) if n not in numbers]
    probes += [n for n in (rng.randrange(200, 1000) * 10**7 + rng.randrange(10**7) for _ in range(5_000))
               if n not in numbers]
    found = await dnc.contains_many(r, name, [us(n) for n in probes])
    assert not any(found), f"{found.count(True)} unlisted numbers hit"


async def test_every_listed_number_hits_and_unlisted_numbers_miss(redis_client: aioredis.Redis,
                                                                    tmp_path: Path) -> None:
    rng = random.Random(11)
    numbers = random_numbers(rng)
    lines = [str(n) for n in numbers]
    rng.shuffle(lines)  # unsorted on purpose; a small budget forces several flushes (merges of tags)
    path = write_lines(tmp_path / "list.txt", lines)
    options = ImportOptions(grace_s=0.0, budget_bytes=1 << 20, chunk_bytes=32 << 10)
    result = await import_file(redis_client, "reg", path, options)
    assert result.mode == "replace" and result.bad_count == 0
    assert result.count == len(numbers) and result.numbers == len(numbers)
    await assert_exact(redis_client, "reg", numbers, rng)
    exported = [n async for n in iter_version(redis_client, "reg", result.version)]
    assert sorted(exported) == sorted(us(n) for n in numbers)


async def test_sorted_file_with_duplicates_counts_each_number_once(redis_client: aioredis.Redis,
                                                                   tmp_path: Path) -> None:
    rng = random.Random(12)
    numbers = random_numbers(rng)
    lines = [str(n) for n in sorted(numbers)] + [str(n) for n in rng.sample(sorted(numbers), 500)]
    result = await import_file(redis_client, "reg", write_lines(tmp_path / "l.txt", lines), FAST)
    assert result.numbers == len(lines) and result.count == len(numbers)
    await assert_exact(redis_client, "reg", numbers, rng)


async def test_bad_lines_are_reported_with_line_numbers_and_good_lines_kept(redis_client: aioredis.Redis,
                                                                            tmp_path: Path) -> None:
    lines = ["2015550100", "hello", "2015550101", "", "0015550102", "201555010", "(201) 555-0103",
             "202,5550104", "+12015550105", "2015550106"]
    result = await import_file(redis_client, "l", write_lines(tmp_path / "bad.txt", lines), FAST)
    assert [b.line_no for b in result.bad] == [2, 5, 6]
    assert result.bad_count == 3
    good = ["+12015550100", "+12015550101", "+12015550103", "+12025550104", "+12015550105", "+12015550106"]
    assert all(await dnc.contains_many(redis_client, "l", good))
    assert result.count == len(good)


async def test_bad_lines_beyond_the_report_are_still_counted(redis_client: aioredis.Redis, tmp_path: Path) -> None:
    lines = [f"x{i}" if i % 10 == 0 else str(2015550000 + i) for i in range(1, 1001)]
    options = ImportOptions(grace_s=0.0, keep_bad=5, chunk_bytes=1024)
    result = await import_file(redis_client, "l", write_lines(tmp_path / "bad.txt", lines), options)
    assert result.bad_count == 100 and [b.line_no for b in result.bad] == [10, 20, 30, 40, 50]
    assert result.count == 900


async def test_gz_and_zip_files_are_read_directly(redis_client: aioredis.Redis, tmp_path: Path) -> None:
    rng = random.Random(13)
    numbers = sorted({2015000000 + rng.randrange(10**6) for _ in range(5_000)})
    content = "".join(f"{n}\r\n" for n in numbers).encode()  # CRLF, as Windows tools write it
    gz = tmp_path / "list.txt.gz"
    gz.write_bytes(gzip.compress(content))
    zp = tmp_path / "list.zip"
    with zipfile.ZipFile(zp, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("readme.txt", "FTC download")
        z.writestr("201.txt", content)
    for name, path in (("gz", gz), ("zip", zp)):
        result = await import_file(redis_client, name, path, FAST)
        assert result.bad_count == 0 and result.count == len(numbers), name
        assert all(await dnc.contains_many(redis_client, name, [us(n) for n in numbers]))


async def test_ftc_area_code_column_csv_and_e164(redis_client: aioredis.Redis, tmp_path: Path) -> None:
    numbers = [2015550100 + i for i in range(50)]
    ftc = write_lines(tmp_path / "ftc.txt", [f"{str(n)[:3]},{str(n)[3:]}" for n in numbers])
    csv = write_lines(tmp_path / "l.csv", ["id,name,Phone Number", *(f'{i},"A, B",{n}' for i, n in enumerate(numbers))])
    e164 = write_lines(tmp_path / "e164.txt", [*(us(n) for n in numbers), "+442079460123"])
    for name, path, options in (("ftc", ftc, FAST), ("csv", csv, ImportOptions(fmt=Format.CSV, grace_s=0)),
                                ("csvcol", csv, ImportOptions(fmt=Format.CSV, column="phone number", grace_s=0)),
                                ("e164", e164, ImportOptions(fmt=Format.E164, grace_s=0))):
        result = await import_file(redis_client, name, path, options)
        assert result.bad_count == 0, (name, result.bad)
        assert all(await dnc.contains_many(redis_client, name, [us(n) for n in numbers])), name
    assert await dnc.contains(redis_client, "e164", "+442079460123")


async def test_change_list_adds_and_deletes_in_one_pass(redis_client: aioredis.Redis, tmp_path: Path) -> None:
    await import_file(redis_client, "reg", write_lines(tmp_path / "full.txt", ["2015550100", "2015550101"]), FAST)
    changes = write_lines(tmp_path / "changes.csv", [
        "AreaCode,PhoneNumber,ChangeType,Date",
        "201,5550102,A,2026-11-27", "201,5550100,D,2026-11-27", "2025550103,ADD,2026-11-27",
        "201,5550199,X,2026-11-27", "201,5550101,D,2026-11-27", "201,5550101,A,2026-11-28",
    ])
    result = await import_file(redis_client, "reg", changes, ImportOptions(changes=True, grace_s=0))
    assert result.mode == "changes"
    assert [b.line_no for b in result.bad] == [5]
    assert (result.added, result.removed) == (3, 2)
    assert await dnc.contains_many(redis_client, "reg", ["+12015550100", "+12015550101", "+12015550102",
                                                         "+12025550103"]) == [False, True, True, True]
    assert result.count == 3


async def test_import_into_a_non_empty_list_without_replace_adds(redis_client: aioredis.Redis,
                                                                 tmp_path: Path) -> None:
    await dnc.add_numbers(redis_client, "internal", ["+12015550100"])
    result = await import_file(redis_client, "internal", write_lines(tmp_path / "l.txt", ["2015550101"]), FAST)
    assert result.mode == "edit" and result.count == 2
    assert all(await dnc.contains_many(redis_client, "internal", ["+12015550100", "+12015550101"]))


async def test_bulk_additions_merge_with_every_representation(redis_client: aioredis.Redis, tmp_path: Path) -> None:
    rng = random.Random(14)
    first = random_numbers(rng)
    await import_file(redis_client, "reg", write_lines(tmp_path / "a.txt", [str(n) for n in first]), FAST)
    # more numbers in the same blocks and tags: sparse tags overflow, block sets outgrow their intsets
    more = set(rng.sample(sorted(first), 2_000)) | random_numbers(rng)
    more |= {3055550000 + s for s in rng.sample(range(10_000), 600)}
    more |= {rng.randrange(200, 260) * 10**7 + rng.randrange(2 * 10**6, 10**7) for _ in range(3_000)}
    lines = [str(n) for n in more]
    rng.shuffle(lines)
    options = ImportOptions(grace_s=0.0, budget_bytes=1 << 20, chunk_bytes=32 << 10)
    result = await import_file(redis_client, "reg", write_lines(tmp_path / "b.txt", lines), options)
    assert result.mode == "edit"
    assert result.added == len(more - first) and result.count == len(first | more)
    await assert_exact(redis_client, "reg", first | more, rng)
    async for key in redis_client.scan_iter(match="scr:{*}:dnc:reg:*", count=1000):
        if await redis_client.type(key) == b"set":
            assert await redis_client.object("encoding", key) == b"intset", key
