"""`screener serve --workers 2` as real processes: one port, both workers answering, a worker killed and
restarted while calls go on, SIGHUP and SIGTERM forwarded, readiness reported by the supervisor, and the
workers gone with their supervisor."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from screener.embedded_redis import EmbeddedRedis
from tests.cli.lab_config import write_config
from tests.cli.test_serve_cli import ENV, SCREENER, screen_call


class Supervised:
    """A `serve --workers N` process whose stderr a thread collects."""

    def __init__(self, config: Path, workers: int, env: dict[str, str] | None = None) -> None:
        self.proc = subprocess.Popen(
            [*SCREENER, "--config", str(config), "serve", "--port", "0", "--workers", str(workers),
             "--watch-interval", "0"],
            stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=env or ENV)
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        listening = re.compile(r"screener serve: FastAGI listening on 127\.0\.0\.1:(\d+) \(")
        match = listening.search(self.wait_for(listening.search))
        assert match is not None
        self.port = int(match.group(1))
        self.wait_for(lambda text: "screener serve: ready" in text)

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.lines.append(line)

    @property
    def log(self) -> str:
        return "".join(self.lines)

    def wait_for(self, found: Callable[[str], object], after: int = 0, timeout_s: float = 60) -> str:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            for line in self.lines[after:]:
                if found(line):
                    return line
            if self.proc.poll() is not None and not self._reader.is_alive():
                break
            time.sleep(0.05)
        raise AssertionError("not found in the log:\n" + self.log)

    def workers(self) -> set[int]:
        """The pids of the supervisor's live children (zombies excluded)."""
        return {pid for pid, ppid, state in processes() if ppid == self.proc.pid and state != "Z"}

    def stop(self) -> int:
        self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout=60)
        self._reader.join(10)
        return code


def processes() -> Iterator[tuple[int, int, str]]:
    """(pid, parent pid, state) of every process, from /proc."""
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            fields = stat.rsplit(")", 1)[1].split()
            yield int(entry), int(fields[1]), fields[0]


def alive(pid: int) -> bool:
    return any(p == pid and state != "Z" for p, _, state in processes())


def wait_until(condition: Callable[[], bool], timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


def decided_by(log: str, worker: int) -> int:
    """Decisions the log says worker ``worker`` made."""
    return len(re.findall(rf"\[worker {worker}\] screener\.agi\.screen: screen ", log))


async def calls(port: int, first: int, count: int) -> list[dict[str, str]]:
    """``count`` calls, one after the other (each a connection of its own, as Asterisk's are)."""
    return [await screen_call(port, f"20255{first + i:05d}") for i in range(count)]


@pytest.fixture
def config(tmp_path: Path, redis_server: EmbeddedRedis) -> Path:
    return write_config(tmp_path, redis_server.url)


async def test_two_workers_share_the_port_and_calls_go_on_while_a_killed_worker_is_restarted(config: Path) -> None:
    served = Supervised(config, 2)
    try:
        first_pids = served.workers()
        assert len(first_pids) == 2
        answered = await calls(served.port, 10_000, 30)
        assert {v["SCREEN_RESULT"] for v in answered} == {"ALLOW"}
        assert decided_by(served.log, 1) > 0 and decided_by(served.log, 2) > 0  # the kernel spreads the calls
        # kill one worker as a crash would; the other keeps answering every call meanwhile
        victim = min(first_pids)
        mark = len(served.lines)
        os.kill(victim, signal.SIGKILL)
        wait_until(lambda: not alive(victim))
        during = await calls(served.port, 10_100, 20)
        assert {v["SCREEN_RESULT"] for v in during} == {"ALLOW"}
        served.wait_for(lambda text: "was killed by SIGKILL" in text, after=mark)
        restarted = served.wait_for(lambda text: re.search(r"worker \d restarted \(pid \d+\)", text), after=mark)
        new_pid = int(re.findall(r"\(pid (\d+)\)", restarted)[0])
        index = re.findall(r"worker (\d) restarted", restarted)[0]
        served.wait_for(lambda text: f"screener serve [worker {index}]: ready" in text, after=mark)
        assert served.workers() == (first_pids - {victim}) | {new_pid}
        # both answer again: the restarted one too
        before = decided_by(served.log, int(index))
        after_restart = await calls(served.port, 10_200, 30)
        assert {v["SCREEN_RESULT"] for v in after_restart} == {"ALLOW"}
        assert decided_by(served.log, int(index)) > before
        # SIGHUP to the supervisor reloads the config in every worker
        config.write_text(config.read_text().replace('company = "Example Solar Inc. test lab"',
                                                     'company = "Renamed Lab"'))
        served.proc.send_signal(signal.SIGHUP)
        wait_until(lambda: served.log.count("config reloaded: version") >= 2)
        renamed = await calls(served.port, 10_300, 20)
        assert {v["SCREEN_CALLERID_NAME"] for v in renamed} == {"Renamed Lab"}
    finally:
        pids = served.workers()
        code = served.stop()
    assert code == 0, served.log
    assert not any(alive(pid) for pid in pids)  # SIGTERM reached the workers: they stopped gracefully
    assert served.log.count("screener serve stopped") == 3  # two workers, then the supervisor


def test_the_supervisor_reports_ready_once_every_worker_is(config: Path, tmp_path: Path) -> None:
    path = tmp_path / "notify.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as listener:
        listener.bind(str(path))
        listener.settimeout(60)
        served = Supervised(config, 2, env={**ENV, "NOTIFY_SOCKET": str(path)})
        try:
            ready = listener.recv(4096).decode().split("\n")  # the first message systemd gets
            assert "READY=1" in ready and f"MAINPID={served.proc.pid}" in ready, ready
            assert "STATUS=screening calls, 2 workers" in ready
            assert served.log.count("]: ready (config version") == 2  # both workers were ready before
            served.proc.send_signal(signal.SIGTERM)
            assert "STOPPING=1" in listener.recv(4096).decode().split("\n")
        finally:
            assert served.stop() == 0


def test_workers_stop_when_their_supervisor_is_killed(config: Path) -> None:
    served = Supervised(config, 2)
    pids = served.workers()
    assert len(pids) == 2
    served.proc.kill()
    served.proc.wait(30)
    wait_until(lambda: not any(alive(pid) for pid in pids))
    served._reader.join(10)
    assert served.log.count("the supervisor is gone: stopping") == 2


def test_a_port_taken_by_another_server_stops_the_supervisor_with_status_2(config: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        proc = subprocess.run([*SCREENER, "--config", str(config), "serve", "--port", str(port), "--workers", "2"],
                              capture_output=True, text=True, timeout=60, env=ENV)
    assert proc.returncode == 2
    assert f"cannot listen on 127.0.0.1:{port}" in proc.stderr


def test_zero_workers_is_a_usage_error(config: Path) -> None:
    proc = subprocess.run([*SCREENER, "--config", str(config), "serve", "--workers", "0"],
                          capture_output=True, text=True, timeout=60, env=ENV)
    assert proc.returncode == 2 and "--workers 0: at least 1" in proc.stderr


def free_port_pair() -> int:
    """A loopback port P with P + 1 free too (at the time of asking)."""
    for _ in range(50):
        with socket.socket() as first:
            first.bind(("127.0.0.1", 0))
            port = first.getsockname()[1]
            with socket.socket() as second:
                try:
                    second.bind(("127.0.0.1", port + 1))
                except OSError:
                    continue
                return int(port)
    raise AssertionError("no two free ports in a row")


async def test_each_worker_serves_its_own_admin_port(config: Path) -> None:
    import aiohttp

    base = free_port_pair()
    config.write_text(config.read_text().replace('listen = "127.0.0.1:0"', f'listen = "127.0.0.1:{base}"'))
    served = Supervised(config, 2)
    try:
        for worker, port in ((1, base), (2, base + 1)):
            said = f"[worker {worker}]: admin server on http://127.0.0.1:{port}"
            served.wait_for(lambda text, said=said: said in text)
        async with aiohttp.ClientSession() as session:
            for port in (base, base + 1):  # each worker's own metrics
                async with session.get(f"http://127.0.0.1:{port}/metrics") as resp:
                    assert resp.status == 200 and "screener_decisions_in_flight" in await resp.text()
    finally:
        assert served.stop() == 0
