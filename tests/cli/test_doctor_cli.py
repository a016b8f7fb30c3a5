"""`screener doctor` against real deployments on this machine: a real redis-server configured well or badly,
prompts rendered or not, a dialplan, a listening FastAGI port, and the clock as `timedatectl` reports it (a
stand-in `timedatectl` first on PATH says what the test needs)."""

from __future__ import annotations

import ast
import json
import os
import re
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from screener.embedded_redis import EmbeddedRedis
from screener.service.doctor import Status, dialplan_findings
from tests.cli.lab_config import REPO, write_config
from tests.cli.test_serve_cli import ENV
from tests.conftest import StoreTopology

SCREENER = [sys.executable, "-m", "screener"]
SHIPPED_DIALPLAN = REPO / "asterisk" / "extensions.conf"


def fake_timedatectl(folder: Path, output: str, status: int = 0) -> dict[str, str]:
    """An environment whose PATH starts with a `timedatectl` that prints ``output`` and exits ``status``."""
    folder.mkdir(parents=True, exist_ok=True)
    script = folder / "timedatectl"
    script.write_text(f"#!/bin/sh\necho '{output}'\nexit {status}\n")
    script.chmod(0o755)
    return {**ENV, "PATH": f"{folder}:{os.environ['PATH']}"}


def doctor(config: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*SCREENER, "--config", str(config), "doctor", *args], capture_output=True, text=True,
                          timeout=120, env=env)


def lines_of(out: str) -> dict[str, str]:
    """check name -> its line ("ok  " / "WARN" / "FAIL" and the message)."""
    found = {}
    for line in out.splitlines():
        if line[:4] in ("ok  ", "WARN", "FAIL"):
            name = line[6:].split(":", 1)[0]
            found[name] = line
    return found


@pytest.fixture
def listening() -> Iterator[int]:
    """A port where something listens (what `screener serve` would be)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


@pytest.fixture
def good_redis(tmp_path: Path) -> Iterator[EmbeddedRedis]:
    with EmbeddedRedis(tmp_path / "redis-good", persist=True) as server:  # AOF on, noeviction, intset 512
        yield server


@pytest.fixture
def deployment(tmp_path: Path, good_redis: EmbeddedRedis, listening: int) -> Path:
    """A healthy one: the lab config on a well-configured Redis, its prompts rendered, FastAGI port bound."""
    config = write_config(tmp_path, good_redis.url)
    config.write_text(config.read_text().replace("port = 4573", f"port = {listening}"))
    built = subprocess.run([*SCREENER, "--config", str(config), "prompts", "build"], capture_output=True,
                           text=True, timeout=300, env=ENV)
    assert built.returncode == 0, built.stderr
    return config


def test_a_healthy_deployment_passes_every_check(deployment: Path, tmp_path: Path) -> None:
    env = fake_timedatectl(tmp_path / "bin", "NTPSynchronized=yes")
    p = doctor(deployment, env, "--dialplan", str(SHIPPED_DIALPLAN))
    assert p.returncode == 0, p.stdout + p.stderr
    found = lines_of(p.stdout)
    assert set(found) == {"config", "redis", "redis maxmemory-policy", "redis appendonly",
                          "redis set-max-intset-entries", "prompts", "dialplan", "clock", "fastagi port"}
    assert all(line.startswith("ok  ") for line in found.values()), p.stdout
    assert "6 prompt(s) rendered" in found["prompts"] and "synchronized" in found["clock"]
    assert "fix:" not in p.stdout and p.stdout.rstrip().endswith("9 check(s): 0 failed, 0 warning(s)")


def test_what_fails_is_named_with_its_fix_and_exits_1(deployment: Path, tmp_path: Path) -> None:
    prompts = tmp_path / "prompts"
    [lab_zh] = prompts.glob("lab-zh-*.sln16")
    lab_zh.unlink()
    leaky = tmp_path / "leaky.conf"
    leaky.write_text("[from-agents]\nexten => _X.,1,Dial(PJSIP/${EXTEN}@carrier)\n")
    env = fake_timedatectl(tmp_path / "bin", "NTPSynchronized=no")
    p = doctor(deployment, env, "--dialplan", str(leaky))
    assert p.returncode == 1
    found = lines_of(p.stdout)
    assert found["prompts"].startswith("FAIL") and lab_zh.name in found["prompts"]
    assert found["dialplan"].startswith("FAIL") and "1 route(s) reach a trunk unscreened" in found["dialplan"]
    assert found["clock"].startswith("FAIL") and "not synchronized" in found["clock"]
    assert found["redis"].startswith("ok  ") and found["fastagi port"].startswith("ok  ")
    assert "fix: render them with `screener prompts build`" in p.stdout
    assert "fix: enable NTP" in p.stdout and "3 failed" in p.stdout


def test_a_badly_configured_redis_is_reported_setting_by_setting(tmp_path: Path, listening: int) -> None:
    args = ("--maxmemory-policy", "allkeys-lru", "--set-max-intset-entries", "1000")
    with EmbeddedRedis(tmp_path / "redis-bad", persist=False, extra_args=args) as bad:
        config = write_config(tmp_path, bad.url)
        p = doctor(config, fake_timedatectl(tmp_path / "bin", "NTPSynchronized=yes"))
    assert p.returncode == 1
    found = lines_of(p.stdout)
    assert found["redis"].startswith("ok  ")
    assert found["redis maxmemory-policy"].startswith("FAIL") and "'allkeys-lru'" in found["redis maxmemory-policy"]
    assert found["redis appendonly"].startswith("FAIL") and "'no'" in found["redis appendonly"]
    assert found["redis set-max-intset-entries"].startswith("WARN")
    assert "redis-cli CONFIG SET maxmemory-policy noeviction" in p.stdout
    assert found["dialplan"].startswith("WARN") and "not checked" in found["dialplan"]
    assert found["fastagi port"].startswith("FAIL")  # lab_config's 4573: nothing of ours listens there


def test_placeholders_unreachable_redis_and_a_stopped_service(tmp_path: Path) -> None:
    """The shipped example as it comes: placeholders, no Redis running, nothing listening, no prompts."""
    import shutil

    shutil.copytree(REPO / "config", tmp_path / "config")
    example = tmp_path / "config" / "screener.toml"
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        free = s.getsockname()[1]
    example.write_text(example.read_text().replace("port = 4573", f"port = {free}"))
    p = doctor(example, {**fake_timedatectl(tmp_path / "bin", "NTPSynchronized=yes"),
                         "SCREENER_REDIS_URL": "redis://:hunter2@127.0.0.1:1/0"}, "--json")
    assert p.returncode == 1
    findings = {f["name"]: f for f in map(json.loads, p.stdout.splitlines())}
    assert findings["config screener.audit_salt"]["status"] == "fail"
    assert "openssl rand" in findings["config screener.audit_salt"]["fix"]
    assert findings["config ari.password"]["status"] == "fail"
    assert findings["redis"]["status"] == "fail" and "redis://:***@127.0.0.1:1/0" in findings["redis"]["message"]
    assert findings["fastagi port"]["status"] == "fail" and findings["prompts"]["status"] == "fail"
    assert "change-me" not in p.stdout and "hunter2" not in p.stdout  # secrets are never printed


def test_an_invalid_config_is_a_finding_and_the_rest_is_still_checked(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[screener]\ntime_budget_ms = 'soon'\n")
    p = doctor(bad, fake_timedatectl(tmp_path / "bin", "Failed to connect to bus", status=1))
    assert p.returncode == 1
    found = lines_of(p.stdout)
    assert found["config"].startswith("FAIL") and "time_budget_ms" in found["config"]
    assert found["redis"].startswith("WARN") and found["clock"].startswith("WARN")
    assert "could not be checked" in found["clock"]


def test_the_private_redis_is_looked_at_not_started(tmp_path: Path) -> None:
    config = write_config(tmp_path, "")  # no redis_url: the private redis-server under state_dir
    p = doctor(config, fake_timedatectl(tmp_path / "bin", "NTPSynchronized=yes"))
    assert lines_of(p.stdout)["redis"].startswith("FAIL")
    assert f"unix://{tmp_path / 'var' / 'redis.sock'}" in p.stdout
    assert not (tmp_path / "var" / "redis.pid").exists()


def test_the_doctor_command_does_not_import_the_store() -> None:
    tree = ast.parse((REPO / "screener" / "cli" / "doctor.py").read_text())
    imported = [n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
    imported += [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
    assert "screener.service.doctor" in imported
    assert not [m for m in imported if m.startswith("screener.store")]


def test_a_fastagi_dialplan_that_does_not_report_answered_calls_is_a_warning(tmp_path: Path) -> None:
    shipped = SHIPPED_DIALPLAN.parent / "extensions_screener.conf"
    [good] = dialplan_findings(str(SHIPPED_DIALPLAN))
    assert good.status is Status.OK
    old = tmp_path / "extensions_screener.conf"
    # the h extension as it was before the abandoned-call accounting: the call id and the campaign only
    old.write_text(re.sub(r"(/end,\$\{SCREEN_CALL_ID\},\$\{SCREEN_CAMPAIGN\})[^)]*\)", r"\1)", shipped.read_text()))
    assert "SCREENER_ANSWERED)}" not in old.read_text().split("exten => h")[1].split("exten => T")[0]
    ari = SHIPPED_DIALPLAN.parent / "extensions_screener_ari.conf"
    (tmp_path / ari.name).write_text(ari.read_text())
    main = tmp_path / "extensions.conf"
    main.write_text(SHIPPED_DIALPLAN.read_text())
    [found] = dialplan_findings(str(main))
    assert found.status is Status.WARN and "abandoned calls are not counted" in found.message
    assert "h extension of [screener-outbound]" in found.fix


@pytest.mark.parametrize("topology", ["sentinel", "cluster"], indirect=True)
def test_doctor_reads_redis_through_a_sentinel_or_cluster_url(topology: StoreTopology, tmp_path: Path) -> None:
    config = write_config(tmp_path, topology.url)
    p = doctor(config, fake_timedatectl(tmp_path / "bin", "System clock synchronized: yes"))
    found = lines_of(p.stdout)
    assert found["redis"].startswith("ok  ") and "reachable" in found["redis"], p.stdout + p.stderr
    assert found["redis maxmemory-policy"].startswith("ok  "), p.stdout  # deploy/redis/redis.conf: noeviction
