"""`screener dnc` as a user runs it: add/remove/check exit codes, import, lists, export (real Redis)."""

from __future__ import annotations

import gzip
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from screener.cli.main import main
from screener.embedded_redis import EmbeddedRedis
from tests.cli.lab_config import write_config
from tests.dnc_files import replaced_while_exported

REPO = Path(__file__).resolve().parents[2]
NO_CONFIG = "/nonexistent/screener.toml"


@pytest.fixture
def redis(redis_server: EmbeddedRedis, redis_client: Any) -> EmbeddedRedis:
    return redis_server  # redis_client empties the database first


def dnc(redis: EmbeddedRedis, *args: str) -> int:
    """Run ``screener dnc ...`` in-process with only a Redis URL (no config file)."""
    return main(["--config", NO_CONFIG, "--redis", redis.url, "dnc", *args])


def test_add_check_remove_exit_like_grep(redis: EmbeddedRedis, capsys: pytest.CaptureFixture[str]) -> None:
    assert dnc(redis, "add", "202-555-0123", "--new-list") == 0  # no config: only --new-list creates a list
    assert "+1202*****23 added to list internal" in capsys.readouterr().out
    assert dnc(redis, "check", "(202) 555-0123") == 0
    assert "+1202*****23 is on list internal" in capsys.readouterr().out
    assert dnc(redis, "add", "020 7946 0123", "--region", "GB", "--list", "tps", "--new-list") == 0
    assert dnc(redis, "check", "+442079460123", "--list", "tps") == 0
    assert dnc(redis, "check", "+442079460124", "--list", "tps") == 1
    capsys.readouterr()
    assert dnc(redis, "remove", "2025550123", "--reason", "opted out by mistake: the callee asked to be called") == 0
    assert "+1202*****23 removed from list internal" in capsys.readouterr().out
    assert dnc(redis, "check", "2025550123") == 1
    capsys.readouterr()
    assert dnc(redis, "check", "not-a-number") == 2
    assert "invalid number" in capsys.readouterr().err
    assert dnc(redis, "add", "911") == 2


def test_check_with_redis_unreachable_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--config", NO_CONFIG, "--redis", "redis://127.0.0.1:1/0", "dnc", "check", "+12025550123"]) == 2
    assert "Redis is not reachable" in capsys.readouterr().err


def test_a_bad_number_is_reported_as_such_even_with_redis_unreachable(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--config", NO_CONFIG, "--redis", "redis://127.0.0.1:1/0", "dnc", "add", "911"]) == 2
    assert "emergency number" in capsys.readouterr().err
    assert main(["--config", NO_CONFIG, "--redis", "redis://127.0.0.1:1/0", "dnc", "import", "/nonexistent.txt",
                 "--list", "reg"]) == 2
    assert "no such file: /nonexistent.txt" in capsys.readouterr().err


def test_import_reports_bad_lines_and_lists_and_exports(redis: EmbeddedRedis, tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "201.txt.gz"
    lines = [str(2015550100 + i) for i in range(100)] + ["garbage", "2015550100"]
    path.write_bytes(gzip.compress("\n".join(lines).encode()))
    assert dnc(redis, "import", str(path), "--list", "us-national", "--source", "FTC 2026-11-28", "--new-list") == 0
    out = capsys.readouterr().out
    assert "new version 1 switched in" in out
    assert "numbers 101" in out and "bad lines 1" in out and "list count now 100" in out
    assert "bad line 101: 'garbage'" in out
    assert dnc(redis, "lists") == 0
    out = capsys.readouterr().out
    row = next(line for line in out.splitlines() if line.startswith("us-national"))
    assert "FTC 2026-11-28" in row and " 100 " in row and " 1 " in row
    export = tmp_path / "out.txt"
    assert dnc(redis, "export", "--list", "us-national", str(export)) == 0
    assert export.read_text().split() == [f"+1{2015550100 + i}" for i in range(100)]
    assert dnc(redis, "export", "--list", "us-national", "--format", "ftc") == 0
    assert capsys.readouterr().out.split() == [str(2015550100 + i) for i in range(100)]


def test_replace_and_changes(redis: EmbeddedRedis, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    full = tmp_path / "full.txt"
    full.write_text("2015550100\n2015550101\n")
    assert dnc(redis, "import", str(full), "--list", "reg", "--new-list") == 0
    full.write_text("2015550102\n")
    assert dnc(redis, "import", str(full), "--list", "reg", "--replace") == 0
    assert "new version 2 switched in (the file's numbers); version 1 freed" in capsys.readouterr().out
    assert dnc(redis, "check", "2015550100", "--list", "reg") == 1
    assert dnc(redis, "check", "2015550102", "--list", "reg") == 0
    changes = tmp_path / "changes.csv"
    changes.write_text("201,5550103,A\n201,5550102,D\n")
    assert dnc(redis, "import", str(changes), "--list", "reg", "--changes") == 0
    assert "added 1; removed 1" in capsys.readouterr().out
    assert dnc(redis, "check", "2015550103", "--list", "reg") == 0
    assert dnc(redis, "check", "2015550102", "--list", "reg") == 1
    assert dnc(redis, "import", str(tmp_path / "missing.txt"), "--list", "reg") == 2


def test_check_help_states_the_exit_status() -> None:
    p = subprocess.run([sys.executable, "-m", "screener", "dnc", "check", "--help"], capture_output=True, text=True,
                       timeout=60, cwd=REPO)
    assert p.returncode == 0
    assert "0 when the number IS listed, 1 when it is not, 2 on an" in p.stdout


def test_import_as_a_process_prints_a_plain_summary_without_a_terminal(redis: EmbeddedRedis, tmp_path: Path) -> None:
    path = tmp_path / "l.txt"
    path.write_text("2015550100\n")
    p = subprocess.run([sys.executable, "-m", "screener", "--config", NO_CONFIG, "--redis", redis.url, "dnc",
                        "import", str(path), "--list", "l", "--new-list"], capture_output=True, text=True, timeout=60,
                       cwd=REPO)
    assert p.returncode == 0, p.stderr
    assert p.stderr == ""  # no progress bar when stderr is not a terminal
    assert "list l: new version 1 switched in" in p.stdout


def test_an_import_killed_mid_way_leaves_the_live_list_and_a_rerun_cleans_up(redis: EmbeddedRedis,
                                                                              tmp_path: Path) -> None:
    import asyncio

    import redis.asyncio as aioredis

    from screener.store import dnc as store
    from screener.store import keys

    small = tmp_path / "old.txt"
    small.write_text("2015550100\n")
    assert dnc(redis, "import", str(small), "--list", "reg", "--new-list") == 0
    big = tmp_path / "big.txt"
    numbers = [ac * 10**7 + s for ac in (202, 203, 205, 206) for s in range(2_000_000, 10**7, 9)]
    big.write_bytes(b"".join(b"%d\n" % n for n in numbers))
    cmd = [sys.executable, "-m", "screener", "--config", NO_CONFIG, "--redis", redis.url, "dnc", "import", str(big),
           "--list", "reg", "--replace", "--memory-mb", "1"]

    async def building_with_keys(client: aioredis.Redis) -> str:
        info = (await store.read_list_infos(client, ["reg"]))["reg"]
        if info.building and await client.scard(keys.dnc_version_tags_key("reg", info.building)):
            return info.building
        return ""

    async def kill_mid_way() -> str:
        client = aioredis.Redis.from_url(redis.url)
        proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            for _ in range(3000):
                version = await building_with_keys(client)
                if version:
                    proc.kill()  # SIGKILL: no cleanup runs
                    proc.wait(10)
                    return version
                assert proc.poll() is None, "the import ended before it could be killed"
                await asyncio.sleep(0.005)
            raise AssertionError("the import never started writing")
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)
            await client.aclose()

    partial = asyncio.run(kill_mid_way())
    assert dnc(redis, "check", "2015550100", "--list", "reg") == 0  # the live list is untouched
    assert dnc(redis, "check", str(numbers[0]), "--list", "reg") == 1
    assert dnc(redis, "import", str(small), "--list", "reg", "--replace") == 2  # the dead build looks alive
    small.write_text("2015550101\n")
    assert dnc(redis, "import", str(small), "--list", "reg", "--replace", "--stale-after", "0") == 0
    assert dnc(redis, "check", "2015550101", "--list", "reg") == 0
    assert dnc(redis, "check", "2015550100", "--list", "reg") == 1

    async def leftovers() -> int:
        client = aioredis.Redis.from_url(redis.url)
        try:
            return int(await client.exists(keys.dnc_version_tags_key("reg", partial)))
        finally:
            await client.aclose()

    assert asyncio.run(leftovers()) == 0


def test_a_truncated_archive_fails_cleanly_and_changes_nothing(redis: EmbeddedRedis, tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    good = tmp_path / "l.txt"
    good.write_text("2015550100\n")
    assert dnc(redis, "import", str(good), "--list", "reg", "--new-list") == 0
    data = gzip.compress("".join(f"{2025550000 + i}\n" for i in range(5000)).encode())
    broken = tmp_path / "l.txt.gz"
    broken.write_bytes(data[: len(data) // 2])
    assert dnc(redis, "import", str(broken), "--list", "reg", "--replace") == 2
    assert "the list was not changed" in capsys.readouterr().err
    assert dnc(redis, "check", "2015550100", "--list", "reg") == 0
    assert dnc(redis, "check", "2025550000", "--list", "reg") == 1
    zipped = tmp_path / "l.zip"
    zipped.write_bytes(b"PK not really a zip")
    assert dnc(redis, "import", str(zipped), "--list", "reg", "--replace") == 2


def test_a_typo_in_a_list_name_is_an_error_naming_the_configured_lists(redis: EmbeddedRedis, tmp_path: Path,
                                                                       capsys: pytest.CaptureFixture[str]) -> None:
    """The reported defect: ``dnc add --list nosuchlist`` made a list of kind ``?``."""
    config = str(write_config(tmp_path, redis.url))
    for args in (["add", "+12025550123", "--list", "nosuchlist"], ["check", "+12025550123", "--list", "nosuchlist"],
                 ["remove", "+12025550123", "--list", "nosuchlist", "--reason", "x"]):
        assert main(["--config", config, "dnc", *args]) == 2
        assert "unknown list 'nosuchlist': the config " in capsys.readouterr().err
    assert main(["--config", config, "dnc", "lists"]) == 0
    assert "nosuchlist" not in capsys.readouterr().out
    assert main(["--config", config, "dnc", "add", "+12025550123"]) == 0  # internal is in the config
    assert main(["--config", config, "dnc", "remove", "+12025550123"]) == 2
    assert "give the reason" in capsys.readouterr().err
    assert main(["--config", config, "dnc", "remove", "+12025550123", "--reason", "complaint withdrawn"]) == 0
    # with only a Redis URL: the lists in Redis are known, a new one needs --new-list
    assert dnc(redis, "add", "+12025550123", "--list", "nosuchlist") == 2
    err = capsys.readouterr().err
    assert "no list named 'nosuchlist' in Redis (lists there: internal)" in err and "--new-list" in err


def test_help_says_which_lists_are_accepted() -> None:
    p = subprocess.run([sys.executable, "-m", "screener", "dnc", "--help"], capture_output=True, text=True,
                       timeout=60, cwd=REPO)
    text = " ".join(p.stdout.split())
    assert "With only a Redis URL (--redis or SCREENER_REDIS_URL) and no config file, the lists that exist in Redis " \
           "are accepted" in text
    assert "needs --reason" in text


def test_prefix_entries_from_the_command_line(redis: EmbeddedRedis, tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    config = str(write_config(tmp_path, redis.url))
    assert main(["--config", config, "dnc", "add", "+1201", "--prefix"]) == 0
    assert "prefix +1201 added to list internal (every number under it is listed)" in capsys.readouterr().out
    assert main(["--config", config, "dnc", "check", "2015550123"]) == 0
    assert "+1201*****23 is on list internal (blocked by prefix +1201)" in capsys.readouterr().out
    assert main(["--config", config, "dnc", "check", "2025550123"]) == 1
    assert main(["--config", config, "dnc", "lists"]) == 0
    row = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("internal"))
    assert " +1201 " in row
    assert main(["--config", config, "dnc", "add", "+12015550123", "--prefix"]) == 2
    assert "is a whole number" in capsys.readouterr().err
    assert main(["--config", config, "dnc", "remove", "+1201", "--prefix", "--reason", "area code reassigned"]) == 0
    assert main(["--config", config, "dnc", "check", "2015550123"]) == 1


def test_a_grace_period_screeners_could_outlive_is_refused_saying_why(redis: EmbeddedRedis, tmp_path: Path,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    """`--grace 0` freed the old version while screeners still decided with it (cached about 1 s, plus up to 1.5
    time budgets a decision): refused, with the least grace period that covers them, and nothing imported."""
    path = tmp_path / "l.txt"
    path.write_text("2015550100\n")
    assert dnc(redis, "import", str(path), "--list", "reg", "--new-list") == 0
    capsys.readouterr()
    assert dnc(redis, "import", str(path), "--list", "reg", "--replace", "--grace", "0") == 2
    err = capsys.readouterr().err
    assert "--grace: a grace period of 0 s is too short: screeners may still decide with the old version for " \
           "1.225 s after the switch" in err
    assert "time_budget_ms 150" in err and "give 2.225 s or more" in err
    assert dnc(redis, "lists") == 0
    assert next(line for line in capsys.readouterr().out.splitlines() if line.startswith("reg")).split()[-2] == "1"
    # with a config, its time budget says how long: 10 s a decision keeps the old version 1 + 15 s (+ 1 s)
    config = write_config(tmp_path, redis.url)
    config.write_text(config.read_text().replace("time_budget_ms = 150", "time_budget_ms = 10000"))
    assert main(["--config", str(config), "dnc", "import", str(path), "--list", "internal", "--grace", "5"]) == 2
    assert "give 17 s or more" in capsys.readouterr().err
    assert main(["--config", str(config), "dnc", "import", str(path), "--list", "internal", "--grace", "17"]) == 0


def test_an_export_an_import_cuts_short_fails_and_leaves_no_file(redis: EmbeddedRedis, tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture[str],
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """An export overlapping a replace ended early with part of the list and exit 0; now it fails with exit 2, says
    so, and FILE is not written (nor is anything left beside it)."""
    from screener.service.dnc import admin as admin_module

    path = tmp_path / "reg.txt"
    path.write_text("".join(f"{ac}5550123\n" for ac in (201, 202, 203, 205, 206, 207, 208, 209)))
    assert dnc(redis, "import", str(path), "--list", "reg", "--new-list") == 0
    monkeypatch.setattr(admin_module, "iter_version", replaced_while_exported(path, 2))
    out = tmp_path / "out" / "reg-export.txt"
    out.parent.mkdir()
    capsys.readouterr()
    assert dnc(redis, "export", "--list", "reg", str(out)) == 2
    err = capsys.readouterr().err
    assert "the export of list 'reg' stopped after 2 numbers, incomplete" in err and "run it again" in err
    assert f"{out} was not written" in err
    assert list(out.parent.iterdir()) == []
    assert dnc(redis, "export", "--list", "reg") == 2
    assert "what was written to stdout is only part of the list" in capsys.readouterr().err
    monkeypatch.undo()
    assert dnc(redis, "export", "--list", "reg", str(out)) == 0
    assert len(out.read_text().split()) == 8
