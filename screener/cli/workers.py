"""`screener serve --workers N`: one supervisor and N worker processes on one FastAGI port.

The supervisor checks the config (a bad one stops it with status 2, as a lone serve process would), starts
the private redis-server when no Redis URL is set, and reserves the FastAGI port: a socket bound with
SO_REUSEPORT that never listens, so that the port (also port 0: a free one it picks) stays the workers'
while one of them restarts, and a server without SO_REUSEPORT cannot take it meanwhile. Then it runs N
workers, each the same command line plus ``--worker I --port P``: a full ``screener serve`` process
(FastAGI on the shared port, its own Redis connections, admission bound and spool file; the ARI
application in worker 1 only). The supervisor

- reports ready (sd_notify ``READY=1`` with its own pid, and "ready" on stderr) once every worker is: the
  workers send their sd_notify messages to a socket of the supervisor's, not to systemd;
- restarts a worker that dies: at once the first time, then after a delay that doubles from 0.5 s to
  30 s while it keeps dying within a minute of its start; a worker that fails with status 2 before its
  first start completed (a startup error) stops everything with status 2;
- forwards SIGHUP (reload the config) to every worker; on SIGTERM or SIGINT it sends them SIGTERM, waits
  for their graceful stop (``fastagi.grace_s`` plus a margin), kills what is left and exits 0;
- holds the write end of a pipe every worker watches: when the supervisor is gone, even by SIGKILL, the
  workers stop gracefully instead of serving unsupervised.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass

from screener.cli.serve import StartupError, fastagi_settings, load_config, mask_url, say
from screener.sdnotify import notify

log = logging.getLogger("screener.serve")

#: the first restart of a worker is at once; then the delay doubles from BACKOFF_START_S to BACKOFF_MAX_S
BACKOFF_START_S = 0.5
BACKOFF_MAX_S = 30.0
#: a worker that ran this long before it died is restarted at once again
STABLE_S = 60.0
#: beyond fastagi.grace_s, how long the workers get to stop before they are killed
STOP_MARGIN_S = 15.0
#: a worker that died waits this long before the supervisor decides it must be restarted: a SIGTERM sent
#: to the whole process group (a terminal's Ctrl-C, systemd's stop) reaches the supervisor too
SETTLE_S = 0.2


def reserve_port(bind: str, port: int) -> socket.socket:
    """A socket bound to (bind, port) with SO_REUSEPORT, not listening: it keeps the port for the workers."""
    family = socket.AF_INET6 if ":" in bind else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)  # as asyncio's listening sockets
        sock.bind((bind, port))
    except OSError:
        sock.close()
        raise
    return sock


def notify_socket() -> tuple[socket.socket, str]:
    """A datagram socket the workers' sd_notify messages come to, and its NOTIFY_SOCKET value."""
    name = f"screener-serve-{os.getpid()}-{secrets.token_hex(6)}"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC | socket.SOCK_NONBLOCK)
    sock.bind("\0" + name)  # an abstract name: nothing on disk, gone with the process
    return sock, "@" + name


def describe_exit(code: int) -> str:
    if code < 0:
        with contextlib.suppress(ValueError):
            return f"was killed by {signal.Signals(-code).name}"
        return f"was killed by signal {-code}"
    return f"exited with status {code}"


@dataclass
class Worker:
    index: int
    proc: asyncio.subprocess.Process | None = None
    started_at: float = 0.0
    #: it sent READY=1 since its last start
    ready: bool = False
    starts: int = 0
    #: deaths in a row that came soon after a start
    quick_deaths: int = 0


class Supervisor:
    def __init__(self, args: argparse.Namespace, count: int, bind: str, port: int, grace_s: float) -> None:
        self.args = args
        self.bind = bind
        self.port = port
        self.grace_s = grace_s
        self.workers = [Worker(i) for i in range(1, count + 1)]
        self.stop = asyncio.Event()
        self.status = 0
        self.announced = False
        self._read_fd, self._write_fd = os.pipe()
        self._notify, self._notify_address = notify_socket()

    def command(self, worker: Worker) -> list[str]:
        argv = list(getattr(self.args, "argv", None) or sys.argv[1:])
        return [sys.executable, "-m", "screener", *argv, "--workers", "1", "--worker", str(worker.index),
                "--port", str(self.port), "--supervisor-fd", str(self._read_fd)]

    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self._on_stop_signal, sig.name)
        loop.add_signal_handler(signal.SIGHUP, self._forward, signal.SIGHUP)
        loop.add_reader(self._notify.fileno(), self._on_notify)
        keepers = [asyncio.create_task(self._keep_running(w)) for w in self.workers]
        try:
            await self.stop.wait()
            notify("STOPPING=1\nSTATUS=stopping: calls in flight get their grace period")
            self._forward(signal.SIGTERM)
            _, late = await asyncio.wait(keepers, timeout=self.grace_s + STOP_MARGIN_S)
            if late:
                log.error("%d worker(s) did not stop within %.0f s: killing them", len(late),
                          self.grace_s + STOP_MARGIN_S)
                self._forward(signal.SIGKILL)
                await asyncio.wait(late, timeout=5)
        finally:
            for task in keepers:
                task.cancel()
            loop.remove_reader(self._notify.fileno())
            self._notify.close()
            for fd in (self._read_fd, self._write_fd):
                os.close(fd)
        log.info("screener serve stopped (%d workers)", len(self.workers))
        return self.status

    def _on_stop_signal(self, name: str) -> None:
        if not self.stop.is_set():
            log.info("%s received: stopping the workers (calls in flight get their grace period)", name)
        self.stop.set()

    def _forward(self, sig: signal.Signals) -> None:
        if sig is signal.SIGHUP:
            log.info("SIGHUP received: the workers reload the config")
        for worker in self.workers:
            if worker.proc is not None and worker.proc.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    worker.proc.send_signal(sig)

    async def _keep_running(self, worker: Worker) -> None:
        delay = 0.0
        while not self.stop.is_set():
            if delay:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.stop.wait(), delay)
                if self.stop.is_set():
                    return
            try:
                proc = await asyncio.create_subprocess_exec(
                    *self.command(worker), stdin=subprocess.DEVNULL, pass_fds=(self._read_fd,),
                    env={**os.environ, "NOTIFY_SOCKET": self._notify_address})
            except OSError as exc:  # no process could be made (out of memory, too many processes)
                worker.quick_deaths += 1
                delay = min(BACKOFF_START_S * 2 ** (worker.quick_deaths - 1), BACKOFF_MAX_S)
                log.error("worker %d could not be started (%s): trying again in %g s", worker.index, exc, delay)
                continue
            worker.proc, worker.ready, worker.started_at = proc, False, time.monotonic()
            worker.starts += 1
            if worker.starts > 1:
                log.warning("worker %d restarted (pid %d)", worker.index, proc.pid)
            if self.stop.is_set():
                proc.terminate()
            code = await proc.wait()
            if not self.stop.is_set():
                await asyncio.sleep(SETTLE_S)
            if self.stop.is_set():
                return
            if worker.starts == 1 and not worker.ready and code == 2:
                log.error("worker %d could not start (status 2): stopping", worker.index)
                self.status = 2
                self.stop.set()
                return
            lived = time.monotonic() - worker.started_at
            worker.quick_deaths = 0 if lived >= STABLE_S else worker.quick_deaths + 1
            delay = 0.0 if worker.quick_deaths <= 1 else min(BACKOFF_START_S * 2 ** (worker.quick_deaths - 2),
                                                              BACKOFF_MAX_S)
            log.error("worker %d (pid %d) %s after %.1f s; calls it was deciding are lost: restarting it%s",
                      worker.index, proc.pid, describe_exit(code), lived, f" in {delay:g} s" if delay else "")
            self._report()

    def _on_notify(self) -> None:
        while True:
            try:
                data = self._notify.recv(4096)
            except (BlockingIOError, InterruptedError):
                return
            fields = dict(line.partition("=")[::2] for line in data.decode(errors="replace").splitlines())
            if fields.get("READY") != "1":
                continue
            for worker in self.workers:
                if worker.proc is not None and str(worker.proc.pid) == fields.get("MAINPID"):
                    worker.ready = True
            self._report()

    def _report(self) -> None:
        """Ready once every worker is (the first time: on stderr and to systemd); the status meanwhile."""
        ready = sum(w.ready for w in self.workers)
        total = len(self.workers)
        if ready == total and not self.announced:
            self.announced = True
            say(self.args, f"FastAGI listening on {self.bind}:{self.port} ({total} workers)")
            say(self.args, f"ready ({total} workers)")
            notify(f"READY=1\nSTATUS=screening calls, {total} workers\nMAINPID={os.getpid()}")
        elif self.announced:
            notify(f"STATUS=screening calls, {ready} of {total} workers ready")


async def supervise(args: argparse.Namespace, count: int) -> int:
    """Run ``count`` workers (see the module's docstring); the exit status of `screener serve`."""
    holder, url = load_config(args)
    settings = holder.current
    fa = fastagi_settings(args, settings)
    try:
        reserved = reserve_port(fa.bind, fa.port)
    except OSError as exc:
        raise StartupError(f"cannot listen on {fa.bind}:{fa.port}: {exc}") from None
    port = reserved.getsockname()[1]
    log.info("screener serve starting %d workers on %s:%d: config %s version %s, redis %s", count, fa.bind, port,
             settings.path, settings.version, mask_url(url))
    try:
        return await Supervisor(args, count, fa.bind, port, fa.grace_s).run()
    finally:
        reserved.close()
