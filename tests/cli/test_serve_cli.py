"""`screener serve` as a real process: a real Redis, a fake Asterisk on loopback, signals."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from screener.cli.serve import mask_url
from screener.embedded_redis import EmbeddedRedis
from tests.cli.lab_config import write_config

SCREENER = [sys.executable, "-m", "screener.cli.main"]
#: the config file alone decides (no SCREENER_REDIS_URL / SCREENER_CONFIG from the caller's environment)
ENV = {k: v for k, v in os.environ.items() if not k.startswith("SCREENER_")}


class Served:
    def __init__(self, proc: subprocess.Popen[str], port: int, lines: list[str]) -> None:
        self.proc, self.port, self.lines = proc, port, lines


def start(config: Path, *extra: str) -> Served:
    proc = subprocess.Popen(
        [*SCREENER, "--config", str(config), "serve", "--port", "0", "--watch-interval", "0.2", *extra],
        stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=ENV,
    )
    assert proc.stderr is not None
    lines: list[str] = []
    for line in proc.stderr:
        lines.append(line)
        m = re.search(r"FastAGI listening on 127\.0\.0\.1:(\d+)", line)
        if m and "screener serve:" in line:
            return Served(proc, int(m.group(1)), lines)
    proc.wait(5)
    raise AssertionError("serve did not start:\n" + "".join(lines))


def stop(served: Served) -> tuple[int, str]:
    served.proc.send_signal(signal.SIGTERM)
    assert served.proc.stderr is not None
    rest = served.proc.stderr.read()
    return served.proc.wait(timeout=30), "".join(served.lines) + rest


@pytest.fixture
def config(tmp_path: Path, redis_server: EmbeddedRedis) -> Iterator[Path]:
    yield write_config(tmp_path, redis_server.url)


async def screen_call(port: int, number: str) -> dict[str, str]:
    from tests.agi.fake_asterisk import call, header

    result = await call(port, header("screen", number, "lab"), timeout_s=10)
    return result.variables()


async def test_serve_screens_through_the_real_service_and_stops_on_sigterm(config: Path) -> None:
    served = start(config)
    try:
        variables = await screen_call(served.port, "2025550123")
        assert variables["SCREEN_RESULT"] == "ALLOW", variables
        assert variables["SCREEN_NUMBER"] == "+12025550123"
        assert variables["SCREEN_CALLERID"] == "+12025550144"
        assert variables["SCREEN_CALLERID_NAME"] == "Example Solar Inc. test lab"
        invalid = await screen_call(served.port, "12")
        assert (invalid["SCREEN_RESULT"], invalid["SCREEN_REASONS"]) == ("BLOCK", "invalid_number")
    finally:
        code, log = stop(served)
    assert code == 0, log
    assert "config version" in log and "stopped" in log


async def test_redis_down_at_start_serves_and_blocks(tmp_path: Path) -> None:
    config = write_config(tmp_path, "redis://:hunter2@127.0.0.1:1/0")
    served = start(config)
    try:
        variables = await screen_call(served.port, "2025550123")
        assert variables["SCREEN_RESULT"] == "BLOCK"
        assert variables["SCREEN_REASONS"] == "screening_unavailable"
    finally:
        code, log = stop(served)
    assert code == 0
    assert "hunter2" not in log and "redis://:***@127.0.0.1:1/0" in log
    assert "not reachable" in log


async def test_sighup_reloads_the_config(config: Path) -> None:
    served = start(config)
    try:
        config.write_text(config.read_text().replace('company = "Example Solar Inc. test lab"',
                                                     'company = "Renamed Lab"'))
        served.proc.send_signal(signal.SIGHUP)
        for _ in range(100):
            variables = await screen_call(served.port, "2025550124")
            if variables["SCREEN_CALLERID_NAME"] == "Renamed Lab":
                break
            await asyncio.sleep(0.1)
        assert variables["SCREEN_CALLERID_NAME"] == "Renamed Lab"
    finally:
        code, _ = stop(served)
    assert code == 0


def test_config_error_exits_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[screener]\ntime_budget_ms = 'soon'\n")
    proc = subprocess.run([*SCREENER, "--config", str(bad), "serve", "--port", "0"],
                          capture_output=True, text=True, timeout=30, env=ENV)
    assert proc.returncode == 2
    assert "screener: error: config:" in proc.stderr and "bad.toml" in proc.stderr


def test_allow_option_refuses_other_peers(config: Path) -> None:
    served = start(config, "--allow", "10.1.2.3")

    async def attempt() -> list[str]:
        from tests.agi.fake_asterisk import call, header

        return (await call(served.port, header("screen", "2025550123", "lab"))).commands

    try:
        assert asyncio.run(attempt()) == []
    finally:
        code, log = stop(served)
    assert code == 0 and "not in fastagi.allowed_peers" in log


@pytest.mark.parametrize(
    ("url", "masked"),
    [
        ("redis://:secret@10.0.0.5:6379/0", "redis://:***@10.0.0.5:6379/0"),
        ("redis://user:secret@host/1", "redis://user:***@host/1"),
        ("redis://127.0.0.1:6379/0", "redis://127.0.0.1:6379/0"),
        ("unix:///run/redis.sock", "unix:///run/redis.sock"),
    ],
)
def test_mask_url(url: str, masked: str) -> None:
    assert mask_url(url) == masked



def test_port_in_use_exits_2(config: Path) -> None:
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        proc = subprocess.run([*SCREENER, "--config", str(config), "serve", "--port", str(port)],
                              capture_output=True, text=True, timeout=30, env=ENV)
    assert proc.returncode == 2
    assert "cannot listen" in proc.stderr


async def test_example_config_runs_ari_beside_fastagi_and_fastagi_serves_while_asterisk_is_away(
        tmp_path: Path, redis_server: EmbeddedRedis) -> None:
    import shutil
    import socket

    from tests.cli.lab_config import REPO

    with socket.socket() as s:  # a loopback port where no Asterisk answers
        s.bind(("127.0.0.1", 0))
        dead = s.getsockname()[1]
    folder = tmp_path / "config"
    shutil.copytree(REPO / "config", folder)
    example = folder / "screener.toml"
    text = example.read_text()
    assert "enabled = true" in text.split("[ari]", 1)[1].split("[", 1)[0]  # ARI is on in the example
    example.write_text(text.replace('url = "http://127.0.0.1:8088"', f'url = "http://127.0.0.1:{dead}"')
                       .replace('state_dir = "var"', f'state_dir = "{tmp_path / "var"}"'))
    proc = subprocess.Popen(
        [*SCREENER, "--config", str(example), "--redis", redis_server.url, "serve", "--port", "0",
         "--log-level", "info"],
        stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=ENV)
    assert proc.stderr is not None
    lines: list[str] = []
    port = 0
    for line in proc.stderr:
        lines.append(line)
        m = re.search(r"FastAGI listening on 127\.0\.0\.1:(\d+)", line)
        if m and "screener serve:" in line:
            port = int(m.group(1))
        if "screener serve: ready" in line:
            break
    served = Served(proc, port, lines)
    try:
        await asyncio.sleep(1.0)  # ARI has tried (and failed) to reach Asterisk by now
        variables = await screen_call(served.port, "2025550123")
        assert variables["SCREEN_RESULT"] == "ALLOW", variables
    finally:
        code, log = stop(served)
    assert code == 0, log
    assert "ARI application 'screener'" in log
    assert log.count("ARI: cannot reach") >= 2 and "ARI: reconnecting" in log  # retried with backoff
    assert "change-me" not in log  # the ARI password is never logged
