"""A private redis-server for when no Redis URL is configured (and for the tests)."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path


class EmbeddedRedisError(RuntimeError):
    pass


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


class EmbeddedRedis:
    """Starts ``redis-server`` on loopback with its data under ``state_dir``; ``stop()`` ends only that process."""

    def __init__(self, state_dir: str | Path, port: int | None = None, *, persist: bool | None = True,
                 extra_args: tuple[str, ...] = (), config_file: Path | None = None) -> None:
        self.state_dir = Path(state_dir)
        self.port = port or free_port()
        #: True: AOF on; False: off; None: as ``config_file`` says (the lab runs deploy/redis as shipped)
        self.persist = persist
        self.extra_args = extra_args
        #: a config file read first (a Sentinel needs one it can rewrite); the arguments override it
        self.config_file = config_file
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout_s: float = 10.0) -> EmbeddedRedis:
        exe = shutil.which("redis-server")
        if exe is None:
            raise EmbeddedRedisError(
                "redis-server is not installed: run `bash .ci/bootstrap` (or `apt-get install redis-server`), "
                "or set a Redis URL with --redis / SCREENER_REDIS_URL"
            )
        self.state_dir.mkdir(parents=True, exist_ok=True)
        config = [str(self.config_file)] if self.config_file else []
        args = [exe, *config, "--bind", "127.0.0.1", "--port", str(self.port), "--dir", str(self.state_dir),
                "--daemonize", "no", "--save", "", "--protected-mode", "yes", "--logfile",
                str(self.state_dir / "redis.log")]
        if self.persist:
            # every write acknowledged is on disk within a second (opt-outs and consent must not be lost)
            args += ["--appendonly", "yes", "--appendfsync", "everysec"]
        elif self.persist is False:
            args += ["--appendonly", "no"]
        args += list(self.extra_args)
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                log = (self.state_dir / "redis.log").read_text(errors="replace")[-2000:]
                raise EmbeddedRedisError(f"redis-server exited at start (port {self.port}):\n{log}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as s:
                    s.sendall(b"PING\r\n")
                    if s.recv(64).startswith((b"+PONG", b"-NOAUTH")):  # up (with a password: asks for it)
                        return self
            except OSError:
                pass
            time.sleep(0.05)
        self.stop()
        raise EmbeddedRedisError(f"redis-server did not answer on port {self.port} within {timeout_s} s")

    def pause(self) -> None:
        """Freeze the server (SIGSTOP): it accepts connections but answers nothing, like a stalled Redis."""
        if self.proc:
            os.kill(self.proc.pid, signal.SIGSTOP)

    def resume(self) -> None:
        if self.proc:
            os.kill(self.proc.pid, signal.SIGCONT)

    def kill(self) -> None:
        """End the server at once (SIGKILL), as a crash would: no shutdown, no final save."""
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.resume()
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None

    def __enter__(self) -> EmbeddedRedis:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def ensure_daemon(state_dir: str | Path, timeout_s: float = 10.0) -> str:
    """The URL of the private redis-server under ``state_dir``, starting it (as a daemon) when none answers.

    It listens on a unix socket only (no TCP port), appends every write to its AOF file, and keeps running
    after the command that started it, so that one command's writes (a DNC entry, a consent record) are
    there for the next one. ``stop_daemon`` ends it.
    """
    state = Path(state_dir).resolve()
    sock = state / "redis.sock"
    url = f"unix://{sock}?db=0"
    if _answers(sock):
        return url
    exe = shutil.which("redis-server")
    if exe is None:
        raise EmbeddedRedisError(
            "redis-server is not installed: run `bash .ci/bootstrap` (or `apt-get install redis-server`), "
            "or set a Redis URL with --redis / SCREENER_REDIS_URL"
        )
    state.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [exe, "--port", "0", "--unixsocket", str(sock), "--unixsocketperm", "700", "--dir", str(state),
         "--daemonize", "yes", "--pidfile", str(state / "redis.pid"), "--logfile", str(state / "redis.log"),
         "--appendonly", "yes", "--appendfsync", "everysec", "--save", ""],
        check=True, stdout=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if _answers(sock):
            return url
        time.sleep(0.05)
    raise EmbeddedRedisError(f"the private redis-server under {state} did not start; see {state / 'redis.log'}")


def stop_daemon(state_dir: str | Path) -> bool:
    """Stop the private redis-server under ``state_dir`` (by its pid file). True when one was running."""
    pidfile = Path(state_dir).resolve() / "redis.pid"
    try:
        pid = int(pidfile.read_text().strip())
    except (OSError, ValueError):
        return False
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return False
    for _ in range(100):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.05)
    return True


def _answers(sock: Path) -> bool:
    if not sock.exists():
        return False
    try:
        with socket.socket(socket.AF_UNIX) as s:
            s.settimeout(0.5)
            s.connect(str(sock))
            s.sendall(b"PING\r\n")
            return s.recv(64).startswith(b"+PONG")
    except OSError:
        return False
