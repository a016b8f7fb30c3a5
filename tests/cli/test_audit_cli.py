"""`screener audit` and `dnc export` as a user runs them: one time zone per output (--tz), DNC changes shown,
and a reader that closes the pipe early (`| head`) is a quiet, successful end. Real processes, a real Redis."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis

from screener.embedded_redis import EmbeddedRedis
from screener.store import audit
from tests.cli.lab_config import write_config

REPO = Path(__file__).resolve().parents[2]
ENV = {k: v for k, v in os.environ.items() if not k.startswith("SCREENER_")}


@pytest.fixture
def config(tmp_path: Path, redis_server: EmbeddedRedis, redis_client: Any) -> Path:
    return write_config(tmp_path, redis_server.url)  # redis_client empties the database first


def run(config: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "screener", "--config", str(config), *args], capture_output=True,
                          text=True, timeout=60, cwd=REPO, env=env or ENV)


async def _append(url: str, entries: list[dict[str, str]]) -> None:
    client = aioredis.Redis.from_url(url)
    try:
        for start in range(0, len(entries), 1000):
            await audit.append_many(client, [("+1202", e) for e in entries[start:start + 1000]])
    finally:
        await client.aclose()


def _entry(at: str, n: int = 0) -> dict[str, str]:
    return {"kind": "decision", "at": at, "number": "+1202*****23", "campaign": "lab", "verdict": "allow",
            "pre_reasons": "", "store_reasons": f"frequency_limit|3 per 1h; lab {n}", "config_version": "v"}


def test_one_time_zone_per_output_chosen_by_tz(config: Path, redis_server: EmbeddedRedis) -> None:
    """The reported defect: entries written by clocks in -05:00 and +00:00 were printed as they were."""
    asyncio.run(_append(redis_server.url, [_entry("2026-12-02T10:00:00.000-05:00"),
                                           _entry("2026-12-02T16:30:00.000+00:00")]))
    utc = run(config, "audit", "tail").stdout.splitlines()
    assert [line.split()[0] for line in utc] == ["2026-12-02T15:00:00.000+00:00", "2026-12-02T16:30:00.000+00:00"]
    ny = run(config, "audit", "tail", "--json", "--tz", "America/New_York").stdout.splitlines()
    assert [json.loads(line)["at"] for line in ny] == ["2026-12-02T10:00:00.000-05:00",
                                                       "2026-12-02T11:30:00.000-05:00"]
    local = run(config, "audit", "export", "--tz", "local", env={**ENV, "TZ": "Asia/Shanghai"}).stdout.splitlines()
    assert [json.loads(line)["at"] for line in local] == ["2026-12-02T23:00:00.000+08:00",
                                                          "2026-12-03T00:30:00.000+08:00"]
    csv_lines = run(config, "audit", "export", "--format", "csv").stdout.splitlines()[1:]
    assert all("+00:00" in line and "-05:00" not in line for line in csv_lines)
    p = run(config, "audit", "tail", "--tz", "Mars/Olympus_Mons")
    assert p.returncode == 2 and "--tz 'Mars/Olympus_Mons': not a time zone" in p.stderr


def test_a_reason_detail_with_separators_is_shown_whole(config: Path, redis_server: EmbeddedRedis) -> None:
    asyncio.run(_append(redis_server.url, [{**_entry("2026-12-02T10:00:00.000+00:00"),
                                            "store_reasons": audit.encode_reasons([("frequency_limit", "3; 1h|x%")])}]))
    (line,) = run(config, "audit", "tail", "--json").stdout.splitlines()
    assert json.loads(line)["reasons"] == [{"code": "frequency_limit", "detail": "3; 1h|x%"}]


def test_dnc_changes_are_shown_in_the_tail(config: Path) -> None:
    assert run(config, "dnc", "add", "+12025550123", "--source", "ticket 9").returncode == 0
    assert run(config, "dnc", "remove", "+12025550123", "--reason", "added by mistake").returncode == 0
    assert run(config, "dnc", "add", "+1201555", "--prefix").returncode == 0
    add, remove, prefix = run(config, "audit", "tail").stdout.splitlines()
    assert " DNC    add_prefix list internal  prefix +1201555  +1 -0 " in prefix
    assert " DNC    add list internal  +1202*****23  +1 -0  version 0 -> 0  by cli:" in add and "'ticket 9'" in add
    assert " DNC    remove list internal  +1202*****23  +0 -1 " in remove
    assert remove.endswith("reason: added by mistake")


def _closed_early(cmd: list[str]) -> tuple[int, str, bytes]:
    """Run ``cmd`` with its stdout on a real pipe, read one line, close the pipe: (status, stderr, the line)."""
    proc = subprocess.Popen(cmd, cwd=REPO, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    first = proc.stdout.readline()
    proc.stdout.close()  # like `| head -1`
    err = proc.stderr.read().decode()
    return proc.wait(60), err, first


def test_a_reader_that_closes_the_pipe_early_is_a_quiet_end(config: Path, redis_server: EmbeddedRedis,
                                                            tmp_path: Path) -> None:
    """The reported defect: `audit export | head` and `dnc export | head` printed `Redis is not reachable:
    BrokenPipeError`."""
    asyncio.run(_append(redis_server.url, [_entry("2026-12-02T10:00:00.000+00:00", n) for n in range(20_000)]))
    numbers = tmp_path / "l.txt"
    numbers.write_text("".join(f"{2015000000 + i}\n" for i in range(200_000)))
    assert run(config, "dnc", "import", str(numbers), "--list", "internal").returncode == 0
    base = [sys.executable, "-m", "screener", "--config", str(config)]
    for args in (["audit", "export"], ["audit", "export", "--format", "csv"], ["audit", "tail", "-n", "20000"],
                 ["dnc", "export", "--list", "internal"]):
        status, err, first = _closed_early([*base, *args])
        assert first, args
        assert (status, err) == (0, ""), args
