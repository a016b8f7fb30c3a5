"""The CLI on every Redis topology, as a user runs it: `redis+sentinel://` and `redis+cluster://` decide fully
and serve the DNC and consent commands, a bad URL is one clear line naming it."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from screener.lab.topologies import ClusterTopology, SentinelTopology
from screener.store import keys
from tests.cli.lab_config import write_config
from tests.conftest import SENTINEL_MASTER_PASSWORD, SENTINEL_PASSWORD

REPO = Path(__file__).resolve().parents[2]
#: Wednesday 2 December 2026, 10:00 in New York
NY_10AM = "2026-12-02T10:00:00-05:00"
SCHEMES = ("redis://", "rediss://", "unix://", "redis+sentinel://", "redis+cluster://")


def run(config: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "screener", "--config", str(config), *args], capture_output=True,
                          text=True, timeout=60, cwd=REPO, env={**os.environ, **(env or {})})


def config_for(tmp_path: Path, url: str) -> Path:
    """The lab config naming ``url``, with a budget that holds on a loaded machine."""
    path = write_config(tmp_path, url)
    path.write_text(path.read_text().replace("time_budget_ms = 150", "time_budget_ms = 2000"))
    return path


def codes(p: subprocess.CompletedProcess[str]) -> list[str]:
    return [r["code"] for r in json.loads(p.stdout)["reasons"]]


def test_check_allows_and_blocks_through_sentinel(redis_sentinel: SentinelTopology, tmp_path: Path) -> None:
    with redis_sentinel.client(redis_sentinel.primary()) as primary:
        primary.flushall()
    config = config_for(tmp_path, redis_sentinel.url())  # the URL in the config file itself
    check = ("check", "+12025550123", "--campaign", "lab", "--json", "--at", NY_10AM)
    p = run(config, *check)
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["verdict"] == "allow"
    assert run(config, "dnc", "add", "+12025550123").returncode == 0
    p = run(config, *check)
    assert p.returncode == 1, p.stderr
    assert codes(p) == ["dnc_internal"]
    p = run(config, "check", "+12025550199", "--campaign", "lab", "--json", "--commit")  # now: --at is dry runs only
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["attempt_id"]  # reserved by decide.lua on the Sentinel's master
    with redis_sentinel.client(redis_sentinel.primary()) as primary:
        entries = primary.xrange(keys.audit_stream_key("+1202"))  # every decision of the number, the DNC change
        assert [f.get("kind") for _, f in entries] == ["decision", "dnc_change", "decision", "decision"]
    assert SENTINEL_MASTER_PASSWORD not in p.stderr + p.stdout and SENTINEL_PASSWORD not in p.stderr + p.stdout


def test_on_a_cluster_dnc_consent_and_live_decisions_work(redis_cluster: ClusterTopology, tmp_path: Path) -> None:
    for server in redis_cluster.servers:
        with redis_cluster.client(server) as node:
            node.flushall()
    config = config_for(tmp_path, redis_cluster.url())
    for number in ("+12025550123", "+14155550123"):
        assert run(config, "dnc", "add", number).returncode == 0
    assert run(config, "dnc", "check", "+14155550123").returncode == 0  # listed
    assert run(config, "dnc", "check", "+14155550124").returncode == 1  # not listed
    p = run(config, "consent", "grant", "+12025550124", "--campaign", "lab", "--source", "web form")
    assert p.returncode == 0, p.stderr  # the record and its history entry: one script in the number's slot
    assert "web form" in run(config, "consent", "show", "+12025550124", "--campaign", "lab").stdout
    p = run(config, "audit", "tail", "--number", "+12025550124")  # and its audit entry, in the same script
    assert p.returncode == 0 and "CONSENT" in p.stdout, p.stderr
    p = run(config, "check", "+12025550199", "--campaign", "lab", "--json", "--at", NY_10AM)
    assert p.returncode == 0, p.stderr
    p = run(config, "check", "+12025550199", "--campaign", "lab", "--json", "--commit")
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["attempt_id"]  # reserved by decide.lua on the master of the number's slot
    p = run(config, "check", "+12025550123", "--campaign", "lab", "--json", "--at", NY_10AM)
    assert p.returncode == 1 and codes(p) == ["dnc_internal"], p.stderr
    assert "Traceback" not in p.stderr


@pytest.mark.parametrize("where", ["--redis", "SCREENER_REDIS_URL", "config"])
def test_a_bad_url_is_one_clear_line_naming_it(where: str, tmp_path: Path) -> None:
    bad = "sentinel://:hunter2@127.0.0.1:26379/mymaster"
    config = config_for(tmp_path, bad if where == "config" else "")
    flag = ("--redis", bad) if where == "--redis" else ()
    env = {"SCREENER_REDIS_URL": bad} if where == "SCREENER_REDIS_URL" else {}
    for command in (("check", "+12025550123", "--campaign", "lab"), ("audit", "tail"), ("dnc", "check", "+12025550123"),
                    ("serve",)):
        p = run(config, *flag, *command, env=env)
        assert p.returncode == 2, (command, p.stderr)
        assert "Traceback" not in p.stderr and "hunter2" not in p.stderr, p.stderr
        assert "sentinel://:***@127.0.0.1:26379/mymaster" in p.stderr and "unknown scheme 'sentinel://'" in p.stderr
        assert all(scheme in p.stderr for scheme in SCHEMES)
        if where == "config":
            assert str(config) in p.stderr and "screener.redis_url" in p.stderr
        else:
            assert where in p.stderr


async def test_serve_with_the_admin_server_runs_on_sentinel(redis_sentinel: SentinelTopology, tmp_path: Path) -> None:
    """Every client of `serve` (decisions, the admin API's, the live feed's) comes from the topology-aware
    opener: with a redis+sentinel:// URL and the admin server on (the lab config's [admin]), it starts,
    answers /readyz and screens calls."""
    import aiohttp

    from tests.cli.test_serve_cli import ENV, SCREENER, Served, screen_call, stop

    with redis_sentinel.client(redis_sentinel.primary()) as primary:
        primary.flushall()
    config = config_for(tmp_path, redis_sentinel.url())
    proc = subprocess.Popen([*SCREENER, "--config", str(config), "serve", "--port", "0"], stderr=subprocess.PIPE,
                            stdout=subprocess.DEVNULL, text=True, env=ENV)
    assert proc.stderr is not None
    lines: list[str] = []
    fastagi = admin = ""
    for line in proc.stderr:
        lines.append(line)
        fastagi = fastagi or (re.findall(r"FastAGI listening on 127\.0\.0\.1:(\d+)", line) or [""])[0]
        admin = admin or (re.findall(r"admin server on (http://\S+)", line) or [""])[0]
        if "screener serve: ready" in line:
            break
    served = Served(proc, int(fastagi or 0), lines)
    try:
        assert fastagi and admin, "".join(lines)
        async with aiohttp.ClientSession() as session, session.get(admin + "readyz") as resp:
            assert resp.status == 200 and (await resp.json())["ready"] is True
        variables = await screen_call(served.port, "2025550123")
        assert variables["SCREEN_RESULT"] == "ALLOW", variables
    finally:
        code, log = stop(served)
    assert code == 0 and "Traceback" not in log, log
    assert SENTINEL_MASTER_PASSWORD not in log and SENTINEL_PASSWORD not in log


def test_doctor_checks_redis_through_sentinel(redis_sentinel: SentinelTopology, tmp_path: Path) -> None:
    from tests.cli.test_doctor_cli import doctor, fake_timedatectl, lines_of

    config = config_for(tmp_path, redis_sentinel.url())
    p = doctor(config, fake_timedatectl(tmp_path / "bin", "NTPSynchronized=yes"))
    assert "Traceback" not in p.stderr, p.stderr
    found = lines_of(p.stdout)
    assert found["redis"].startswith("ok  ") and "reachable at redis+sentinel://:***@127.0.0.1:" in found["redis"]
    for setting in ("maxmemory-policy", "appendonly", "set-max-intset-entries"):
        assert "could not be read" not in found[f"redis {setting}"], found
    assert SENTINEL_MASTER_PASSWORD not in p.stdout + p.stderr and SENTINEL_PASSWORD not in p.stdout + p.stderr
