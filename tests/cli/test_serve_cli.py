"""`screener serve` as a real process: a real Redis, a fake Asterisk on loopback, signals."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

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


def example_config(tmp_path: Path) -> Path:
    import shutil

    from tests.cli.lab_config import REPO

    folder = tmp_path / "config"
    shutil.copytree(REPO / "config", folder)
    example = folder / "screener.toml"
    example.write_text(example.read_text().replace('state_dir = "var"', f'state_dir = "{tmp_path / "var"}"'))
    return example


async def test_example_config_runs_ari_beside_fastagi_and_fastagi_serves_while_asterisk_is_away(
        tmp_path: Path, redis_server: EmbeddedRedis) -> None:
    import socket

    with socket.socket() as s:  # a loopback port where no Asterisk answers
        s.bind(("127.0.0.1", 0))
        dead = s.getsockname()[1]
    example = example_config(tmp_path)
    text = example.read_text()
    assert "enabled = true" in text.split("[ari]", 1)[1].split("[", 1)[0]  # ARI is on in the example
    # credentials in the URL (the password has its own key, but a URL may carry one): never printed
    example.write_text(text.replace('url = "http://127.0.0.1:8088"', f'url = "http://asterisk:s3cret@127.0.0.1:{dead}"'))
    proc = subprocess.Popen(
        [*SCREENER, "--config", str(example), "--redis", redis_server.url, "serve", "--port", "0",
         "--log-level", "info"],
        stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
        env={**ENV, "SCREENER_LAB": "1"})  # the example's placeholder secrets: the lab sandbox only
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
    assert f"ARI application 'screener' on http://asterisk:***@127.0.0.1:{dead}" in log and "s3cret" not in log
    assert log.count("ARI: cannot reach") >= 2 and "ARI: reconnecting" in log  # retried with backoff
    assert "change-me" not in log  # the ARI password is never logged


@pytest.mark.parametrize("lab", [None, "0", "yes"])
def test_serve_refuses_the_shipped_placeholder_secrets_outside_the_lab(
        tmp_path: Path, redis_server: EmbeddedRedis, lab: str | None) -> None:
    example = example_config(tmp_path)
    env = ENV if lab is None else {**ENV, "SCREENER_LAB": lab}
    proc = subprocess.run([*SCREENER, "--config", str(example), "--redis", redis_server.url, "serve", "--port", "0"],
                          capture_output=True, text=True, timeout=30, env=env)
    assert proc.returncode == 2, proc.stderr
    assert "refusing to serve with the shipped placeholder secrets" in proc.stderr
    assert f"{example}: screener.audit_salt: still the shipped placeholder" in proc.stderr
    assert f"{example}: ari.password: still the shipped placeholder" in proc.stderr
    assert "openssl rand" in proc.stderr and "ari.conf" in proc.stderr  # how to fix each
    assert "change-me" not in proc.stderr  # the secrets themselves are never printed
    assert "FastAGI listening" not in proc.stderr


def test_serve_names_only_the_placeholder_left(tmp_path: Path, redis_server: EmbeddedRedis) -> None:
    example = example_config(tmp_path)
    example.write_text(example.read_text().replace('audit_salt = "change-me-to-a-long-random-secret"',
                                                   'audit_salt = "4f1c0e9a7b"'))
    proc = subprocess.run([*SCREENER, "--config", str(example), "--redis", redis_server.url, "serve", "--port", "0"],
                          capture_output=True, text=True, timeout=30, env=ENV)
    assert proc.returncode == 2
    assert "ari.password" in proc.stderr and "audit_salt" not in proc.stderr
    assert "4f1c0e9a7b" not in proc.stderr


# -- JSON logs and systemd readiness -------------------------------------------------------------------------

def start_json(config: Path, env: dict[str, str], *extra: str) -> tuple[Served, list[dict[str, object]]]:
    """serve with JSON logs: every stderr line must be one JSON object; returns once it is ready."""
    proc = subprocess.Popen(
        [*SCREENER, "--config", str(config), "serve", "--port", "0", "--watch-interval", "0.2", *extra],
        stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=env,
    )
    assert proc.stderr is not None
    lines: list[str] = []
    records: list[dict[str, object]] = []
    port = 0
    for line in proc.stderr:
        lines.append(line)
        record = json.loads(line)  # not JSON: the test fails here
        records.append(record)
        m = re.search(r"FastAGI listening on 127\.0\.0\.1:(\d+)", str(record["message"]))
        port = int(m.group(1)) if m else port
        if str(record["message"]).startswith("ready (config version"):
            return Served(proc, port, lines), records
    proc.wait(5)
    raise AssertionError("serve did not start:\n" + "".join(lines))


@pytest.mark.parametrize(("how", "number"), [("flag", "2025550171"), ("environment", "2025550172")])
async def test_json_logs_carry_each_decision_as_fields(config: Path, how: str, number: str) -> None:
    from screener.numbers import mask

    env = {**ENV, "SCREENER_LOG_FORMAT": "json"} if how == "environment" else ENV
    served, _ = start_json(config, env, *(["--log-format", "json"] if how == "flag" else []))
    try:
        assert (await screen_call(served.port, number))["SCREEN_RESULT"] == "ALLOW"  # a number of its own
        assert (await screen_call(served.port, "12"))["SCREEN_RESULT"] == "BLOCK"
    finally:
        code, log = stop(served)
    assert code == 0
    records = [json.loads(line) for line in log.splitlines()]
    for record in records:
        assert {"time", "level", "logger", "message"} <= record.keys()
        assert record["time"].endswith("+00:00") and record["level"] in ("DEBUG", "INFO", "WARNING", "ERROR")
    decisions = [r for r in records if "verdict" in r]
    assert [(r["verdict"], r["reasons"], r["campaign"]) for r in decisions] == [
        ("allow", [], "lab"), ("block", ["invalid_number"], "lab")]
    allowed = decisions[0]
    assert allowed["call_id"] == "1795871312.0"  # agi_uniqueid of the recorded header
    assert allowed["number"] == mask("+1" + number) and allowed["logger"] == "screener.agi.screen"
    assert number not in log  # masked numbers only
    assert any(str(r["message"]).startswith("screener serve stopped") for r in records)


def test_a_bad_log_format_in_the_environment_is_a_usage_error(config: Path) -> None:
    proc = subprocess.run([*SCREENER, "--config", str(config), "serve", "--port", "0"], capture_output=True,
                          text=True, timeout=30, env={**ENV, "SCREENER_LOG_FORMAT": "xml"})
    assert proc.returncode == 2 and "SCREENER_LOG_FORMAT='xml' is not a log format" in proc.stderr


def test_a_startup_error_in_json_mode_is_a_json_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[screener]\ntime_budget_ms = 'soon'\n")
    proc = subprocess.run([*SCREENER, "--config", str(bad), "serve", "--log-format", "json"],
                          capture_output=True, text=True, timeout=30, env=ENV)
    assert proc.returncode == 2
    (record,) = [json.loads(line) for line in proc.stderr.splitlines()]
    assert record["level"] == "ERROR" and "bad.toml" in record["message"] and "time_budget_ms" in record["message"]


def test_serve_tells_systemd_it_is_ready_and_stopping(config: Path, tmp_path: Path) -> None:
    import socket

    path = tmp_path / "notify.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as listener:
        listener.bind(str(path))
        listener.settimeout(30)
        proc = subprocess.Popen([*SCREENER, "--config", str(config), "serve", "--port", "0"],
                                stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
                                env={**ENV, "NOTIFY_SOCKET": str(path)})
        try:
            ready = listener.recv(4096).decode().split("\n")
            assert "READY=1" in ready and f"MAINPID={proc.pid}" in ready
            assert any(line.startswith("STATUS=screening calls") for line in ready)
            proc.send_signal(signal.SIGTERM)
            assert "STOPPING=1" in listener.recv(4096).decode().split("\n")
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=30) == 0


# -- the audit archive on serve's schedule ---------------------------------------------------------------------------


def lock_holder(lock: Path) -> int | None:
    """The pid holding the flock on ``lock`` (from /proc/locks), None when nobody holds it."""
    if not lock.exists():
        return None
    inode = lock.stat().st_ino
    for line in Path("/proc/locks").read_text().splitlines():
        fields = line.split()
        if "->" not in fields and len(fields) >= 6 and fields[1] == "FLOCK" and \
                int(fields[5].rsplit(":", 1)[1]) == inode:
            return int(fields[4])
    return None


async def wait_for_run(lock: Path, other_than: int | None = None) -> int:
    """The pid of the archive run holding the archive's lock (not ``other_than``), waiting for it to take it."""
    for _ in range(1200):
        pid = lock_holder(lock)
        if pid is not None and pid != other_than:
            return pid
        await asyncio.sleep(0.05)
    raise AssertionError(f"no archive run took {lock}")


def archive_runs_of(parent: int) -> list[int]:
    """The children of ``parent`` running `screener audit archive`."""
    found = []
    for status in Path("/proc").glob("[0-9]*/status"):
        with contextlib.suppress(OSError):
            ppid = next(int(line.split()[1]) for line in status.read_text().splitlines() if line.startswith("PPid:"))
            cmdline = (status.parent / "cmdline").read_bytes().split(b"\0")
            if ppid == parent and b"audit" in cmdline and b"archive" in cmdline:
                found.append(int(status.parent.name))
    return found


def stalled_manifest(archive: Path, day: str, seq: int) -> Path:
    """A manifest that is a FIFO: the run that opens it (its recovery reads every manifest newer than the state)
    waits there, lock held, until the test writes to it: an archive run that takes as long as the test wants."""
    path = archive / day / f"{seq:08d}.manifest.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    os.mkfifo(path)
    return path


async def release(fifo: Path, data: bytes) -> None:
    """Hand ``data`` to the run waiting on ``fifo`` and remove the FIFO (the next run does not find it)."""
    for _ in range(1200):
        try:
            fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)  # ENXIO until the run has it open for reading
            break
        except OSError:
            await asyncio.sleep(0.05)
    else:
        raise AssertionError(f"no archive run opened {fifo}")
    fifo.unlink()
    os.write(fd, data)
    os.close(fd)


async def test_the_scheduled_archive_runs_in_a_child_process_while_calls_are_answered(
        tmp_path: Path, private_redis: EmbeddedRedis) -> None:
    from screener.lab.audit_load import load_chains
    from screener.service.screening import connect
    from screener.store import keys
    from screener.store.audit_archive import ArchiveDir

    config = write_config(tmp_path, private_redis.url)
    config.write_text(config.read_text() + '\n[audit]\narchive_interval = "1s"\n')
    archive = tmp_path / "var" / "audit-archive"
    lock = archive / "LOCK"
    client = connect(private_redis.url, 30)
    now = int(time.time() * 1000)
    try:
        loaded = await load_chains(client, ["+1201", "+1305"], 300, first_ms=now - 4 * 86_400_000,
                                   last_ms=now - 3 * 86_400_000)
        first = stalled_manifest(archive, "2020-01-01", 1)
        served = start(config, "--workers", "1")
        try:
            run = await wait_for_run(lock)
            # the run is a child of serve, not serve's own event loop: a call is answered while it holds the lock
            assert run != served.proc.pid and archive_runs_of(served.proc.pid) == [run]
            assert (await screen_call(served.port, "2025550123"))["SCREEN_RESULT"] == "ALLOW"
            await asyncio.sleep(3)  # three intervals: still the one run (one at a time), still answering
            assert archive_runs_of(served.proc.pid) == [run] and lock_holder(lock) == run
            assert (await screen_call(served.port, "2025550125"))["SCREEN_RESULT"] == "ALLOW"
            await release(first, b"{}")  # an unreadable manifest: that run fails (exit 2), the next one archives
            for _ in range(1200):
                if sum([await client.xlen(keys.audit_stream_key(g)) for g in ("+1201", "+1305")]) == 0:
                    break
                await asyncio.sleep(0.05)
            archived = {f"{p.group}/{e.id}" for m in ArchiveDir(archive).manifests() for p in m.groups
                        for e in ArchiveDir(archive).read_part(m, p)}
            assert archived == {f"{g}/{i}" for g, ids in loaded.ids.items() for i in ids}
            assert [await client.xlen(keys.audit_stream_key(g)) for g in ("+1201", "+1305")] == [0, 0]  # trimmed
            # a run still going when serve stops gets the grace (5 s here), then is killed
            stalled = stalled_manifest(archive, "2020-01-02", 99)
            second = await wait_for_run(lock, other_than=run)
            code, log = stop(served)
        finally:
            if served.proc.poll() is None:  # the test failed before serve stopped: end it and its run
                for pid in archive_runs_of(served.proc.pid):
                    os.kill(pid, signal.SIGKILL)
                served.proc.kill()
                served.proc.wait()
        assert code == 0, log
        assert not Path(f"/proc/{second}").exists() and lock_holder(lock) is None
        assert f"run (pid {run}) failed with exit status 2" in log and "is unreadable" in log, log
        assert f"the run (pid {second}) did not end within 5 s of serve stopping: killed" in log, log
        assert f"run (pid {second}) was ended by signal 9" in log, log
        stalled.unlink()
    finally:
        await client.aclose()
