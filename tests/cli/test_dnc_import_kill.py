"""A real ``screener dnc import`` process killed with SIGKILL midway (no cleanup runs) leaves the list exactly as
it was, in every format and packing; the next import frees what the dead one wrote. Also what the CLI says when
an import fails or lands (real Redis)."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from screener.cli.main import main
from screener.embedded_redis import EmbeddedRedis
from screener.store import dnc, keys
from tests.dnc_files import FORMATS, PACKINGS, lines_of, snapshot, write

REPO = Path(__file__).resolve().parents[2]
NO_CONFIG = "/nonexistent/screener.toml"
BASE = [2015550000 + i for i in range(0, 3_000, 3)]
#: big enough that the import is still reading when it is killed (8 area codes, none of them the base's)
BIG = {fmt: [ac * 10**7 + 2_000_000 + i * 7 for ac in range(202, 210) for i in range(60_000 if fmt == "csv" else
                                                                                         250_000)]
       for fmt in FORMATS}


def cli(redis: EmbeddedRedis, *args: str) -> int:
    return main(["--config", NO_CONFIG, "--redis", redis.url, "dnc", *args])


@pytest.fixture(scope="module")
def big_files(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str], Path]:
    folder = tmp_path_factory.mktemp("big")
    return {(fmt, packing): write(folder / f"{fmt}-{packing}", lines_of(BIG[fmt], fmt), packing)
            for fmt in FORMATS for packing in PACKINGS}


async def _kill_midway(redis: EmbeddedRedis, cmd: list[str]) -> str:
    """Start the import; SIGKILL it once its build holds tags of the file (not only the copy of the live list);
    the build's version."""
    client = aioredis.Redis.from_url(redis.url)
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        for _ in range(6000):
            info = (await dnc.read_list_infos(client, ["reg"]))["reg"]
            if info.building and await client.scard(keys.dnc_version_tags_key("reg", info.building)) > 1:
                proc.kill()  # SIGKILL: no cleanup runs
                proc.wait(10)
                return info.building
            assert proc.poll() is None, f"the import ended before it could be killed: {proc.stderr.read()!r}"  # type: ignore[union-attr]
            await asyncio.sleep(0.005)
        raise AssertionError("the import never started writing")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        await client.aclose()


async def _snapshot(redis: EmbeddedRedis) -> tuple[str, int, tuple[str, ...]]:
    client = aioredis.Redis.from_url(redis.url)
    try:
        shot = await snapshot(client, "reg")
        return shot.version, shot.count, shot.numbers
    finally:
        await client.aclose()


async def _exists(redis: EmbeddedRedis, key: str) -> bool:
    client = aioredis.Redis.from_url(redis.url)
    try:
        return bool(await client.exists(key))
    finally:
        await client.aclose()


@pytest.mark.parametrize("packing", PACKINGS)
@pytest.mark.parametrize("fmt", FORMATS)
def test_a_sigkilled_import_leaves_the_list_exactly_as_it_was(redis_server: EmbeddedRedis, redis_client: object,
                                                              big_files: dict[tuple[str, str], Path], tmp_path: Path,
                                                              fmt: str, packing: str) -> None:
    base = write(tmp_path / "base", lines_of(BASE, "ftc"), "plain")
    assert cli(redis_server, "import", str(base), "--list", "reg", "--new-list") == 0
    before = asyncio.run(_snapshot(redis_server))
    # additions to a non-empty list: the live list is copied into the new version, then the file is added
    cmd = [sys.executable, "-m", "screener", "--config", NO_CONFIG, "--redis", redis_server.url, "dnc", "import",
           str(big_files[fmt, packing]), "--list", "reg", "--format", fmt, "--memory-mb", "1"]
    dead = asyncio.run(_kill_midway(redis_server, cmd))
    assert asyncio.run(_snapshot(redis_server)) == before
    # the next import frees the dead build (at once with --stale-after 0) and lands
    small = write(tmp_path / "small", ["2025550100"], "plain")
    assert cli(redis_server, "import", str(small), "--list", "reg", "--stale-after", "0") == 0
    assert not asyncio.run(_exists(redis_server, keys.dnc_version_tags_key("reg", dead)))
    _, count, numbers = asyncio.run(_snapshot(redis_server))
    assert numbers == tuple(sorted({*before[2], "+12025550100"})) and count == len(numbers)


def test_a_failed_import_says_the_list_was_not_changed(redis_server: EmbeddedRedis, redis_client: object,
                                                       tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base = write(tmp_path / "base", lines_of(BASE, "ftc"), "plain")
    assert cli(redis_server, "import", str(base), "--list", "reg", "--new-list") == 0
    before = asyncio.run(_snapshot(redis_server))
    capsys.readouterr()
    csv = write(tmp_path / "file", lines_of(BASE[:10], "csv"), "plain")
    assert cli(redis_server, "import", str(csv), "--list", "reg", "--format", "csv", "--column", "tel") == 2
    err = capsys.readouterr().err
    assert "no column named 'tel'" in err and err.rstrip().endswith("the list was not changed")
    assert asyncio.run(_snapshot(redis_server)) == before


def test_a_csv_import_without_column_lands_and_says_so(redis_server: EmbeddedRedis, redis_client: object,
                                                       tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The reported defect: ``I/O operation on closed file; the list was not changed``, yet the list had changed."""
    csv = write(tmp_path / "file", lines_of(BASE[:10], "csv"), "plain")
    assert cli(redis_server, "import", str(csv), "--list", "reg", "--format", "csv", "--new-list") == 0
    captured = capsys.readouterr()
    assert captured.err == ""
    assert "list reg: new version 1 switched in" in captured.out and "list count now 10" in captured.out
    assert asyncio.run(_snapshot(redis_server))[2] == tuple(f"+1{n}" for n in BASE[:10])
