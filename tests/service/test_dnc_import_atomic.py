"""An import lands whole or changes nothing, and says which: every format (ftc, e164, csv), every packing
(plain, .gz, .zip) and every mode (replace, additions, change list), broken midway by an exception after some
batches, a truncated or corrupted archive or a bad column, against a real redis-server. (A SIGKILL of the
importing process: tests/cli/test_dnc_import_kill.py.)"""

from __future__ import annotations

from pathlib import Path

import pytest
import redis.asyncio as aioredis

from screener.service.dnc import BadImportFile, DncError, Format, ImportOptions, Progress, import_file
from screener.service.dnc.errors import ImportFailed
from tests.dnc_files import FORMATS, PACKINGS, corrupted, lines_of, snapshot, truncated, write

#: small chunks and batches: the file arrives in many batches, so a failure lands midway
SMALL = {"grace_s": 0.0, "chunk_bytes": 8 << 10, "batch_rows": 1_000, "budget_bytes": 64 << 10}
BASE = [2015550000 + i for i in range(0, 3_000, 3)]
#: the file: numbers beside the base list's (three area codes), some of them on it already
FILE = [2015550000 + i for i in range(0, 3_000, 7)] + [ac * 10**7 + 5_000_000 + i * 13 for ac in (202, 203)
                                                        for i in range(6_000)]
MODES = ("replace", "edit", "changes")


def options_for(fmt: str, mode: str, **extra: object) -> ImportOptions:
    return ImportOptions(fmt=Format(fmt), replace=mode == "replace", changes=mode == "changes",
                         **SMALL, **extra)  # type: ignore[arg-type]


def file_lines(fmt: str, mode: str) -> list[str]:
    if mode != "changes":
        return lines_of(FILE, fmt)
    return ["number,flag", *(f"{n},{'D' if i % 5 == 0 else 'A'}" for i, n in enumerate(FILE))]


async def base_list(redis: aioredis.Redis, tmp_path: Path) -> None:
    await import_file(redis, "reg", write(tmp_path / "base", lines_of(BASE, "ftc"), "plain"), ImportOptions(grace_s=0))
    await redis.hset("scr:dncmeta:reg", "kind", "registry")


def combos() -> list[tuple[str, str, str]]:
    return [(fmt, packing, mode) for fmt in FORMATS for packing in PACKINGS for mode in MODES
            if mode != "changes" or fmt == "csv"]


@pytest.mark.parametrize(("fmt", "packing", "mode"), combos())
async def test_an_exception_after_some_batches_changes_nothing(redis_client: aioredis.Redis, tmp_path: Path,
                                                              fmt: str, packing: str, mode: str) -> None:
    await base_list(redis_client, tmp_path)
    before = await snapshot(redis_client, "reg")
    path = write(tmp_path / "file", file_lines(fmt, mode), packing)
    batches = 0

    def fail_midway(p: Progress) -> None:
        nonlocal batches
        batches += p.phase == "reading"
        if batches == 4:
            raise RuntimeError("injected after 4 batches")

    with pytest.raises(ImportFailed, match=r"injected after 4 batches.*; the list was not changed$"):
        await import_file(redis_client, "reg", path, options_for(fmt, mode), progress=fail_midway)
    assert batches == 4
    assert await snapshot(redis_client, "reg") == before
    # and the same file without the failure lands whole
    result = await import_file(redis_client, "reg", path, options_for(fmt, mode))
    assert result.mode == mode and result.version != before.version
    after = await snapshot(redis_client, "reg")
    assert after.count == len(after.numbers)
    expected = {f"+1{n}" for n in FILE} if mode == "replace" else {f"+1{n}" for n in BASE} | {f"+1{n}" for n in FILE}
    if mode == "changes":
        expected -= {f"+1{n}" for i, n in enumerate(FILE) if i % 5 == 0}
    assert set(after.numbers) == expected


@pytest.mark.parametrize(("fmt", "mode"), [(fmt, mode) for fmt in FORMATS for mode in MODES
                                           if mode != "changes" or fmt == "csv"])
@pytest.mark.parametrize("damage", ["truncated", "corrupted"])
@pytest.mark.parametrize("packing", ["gz", "zip"])
async def test_a_broken_archive_changes_nothing(redis_client: aioredis.Redis, tmp_path: Path, fmt: str, mode: str,
                                                damage: str, packing: str) -> None:
    await base_list(redis_client, tmp_path)
    before = await snapshot(redis_client, "reg")
    good = write(tmp_path / "file", file_lines(fmt, mode), packing)
    broken = truncated(good) if damage == "truncated" else corrupted(good)
    with pytest.raises(BadImportFile, match=r"; the list was not changed$"):
        await import_file(redis_client, "reg", broken, options_for(fmt, mode))
    assert await snapshot(redis_client, "reg") == before


@pytest.mark.parametrize("packing", PACKINGS)
@pytest.mark.parametrize("mode", MODES)
async def test_a_bad_column_changes_nothing(redis_client: aioredis.Redis, tmp_path: Path, packing: str,
                                            mode: str) -> None:
    await base_list(redis_client, tmp_path)
    before = await snapshot(redis_client, "reg")
    path = write(tmp_path / "file", file_lines("csv", mode), packing)
    with pytest.raises(BadImportFile, match=r"no column named 'telephone'.*; the list was not changed$"):
        await import_file(redis_client, "reg", path, options_for("csv", mode, column="telephone"))
    assert await snapshot(redis_client, "reg") == before


@pytest.mark.parametrize("packing", PACKINGS)
async def test_a_csv_without_column_finds_phone_number_and_says_it_landed(redis_client: aioredis.Redis,
                                                                         tmp_path: Path, packing: str) -> None:
    """The reported defect: a CSV import without --column said "I/O operation on closed file; the list was not
    changed" after it had switched the list to a new version."""
    path = write(tmp_path / "file", lines_of(FILE[:50], "csv"), packing)
    result = await import_file(redis_client, "reg", path, ImportOptions(fmt=Format.CSV, grace_s=0))
    assert result.mode == "replace" and result.count == 50 and result.bad_count == 0
    assert (await snapshot(redis_client, "reg")).numbers == tuple(sorted(f"+1{n}" for n in FILE[:50]))


async def test_errors_say_what_became_of_the_list(redis_client: aioredis.Redis, tmp_path: Path) -> None:
    """Each error is a DncError whose message ends with the list's fate (the CLI prints it as it is)."""
    await base_list(redis_client, tmp_path)
    path = write(tmp_path / "file", lines_of(FILE, "ftc"), "plain")
    with pytest.raises(DncError) as caught:
        await import_file(redis_client, "reg", path, ImportOptions(region="XX", grace_s=0))
    assert str(caught.value).endswith("; the list was not changed")
