"""The audit archive on ``screener serve``'s schedule, in a child process: ``screener audit archive`` every
``[audit] archive_interval``, one run at a time.

A run compresses, fsyncs and parses files for seconds; in a process of its own it never holds up the event loop
that answers calls. Its output and exit status are logged. When serve stops, a run still going gets the grace
calls in flight get, then is killed: a run is crash-safe (the next one recovers; nothing is lost or duplicated).
The child finds the same Redis as serve through ``SCREENER_REDIS_URL`` in its environment (a password on its
command line would show in every user's process list).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger("screener.audit.archive")

#: the longest line of the child's output that is logged whole
_MAX_LINE = 2000


def archive_command(config: str) -> list[str]:
    """``screener --config PATH audit archive`` with this interpreter (the venv serve runs from)."""
    return [sys.executable, "-m", "screener", "--config", str(Path(config).absolute()), "audit", "archive"]


def _die_with_parent() -> None:
    """In the child, before it runs: killed when serve dies (a worker SIGKILLed by the ``--workers`` supervisor
    would otherwise leave its run behind; the run is crash-safe)."""
    import ctypes
    import signal

    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


async def _relay(stream: asyncio.StreamReader | None, emit: Callable[[str], None]) -> None:
    """Log each line the child writes (the report on stdout, warnings and errors on stderr)."""
    if stream is None:
        return
    while True:
        try:
            line = await stream.readline()
        except ValueError:  # a line longer than the reader's limit: the rest of it is skipped
            continue
        if not line:
            return
        text = line.decode(errors="replace").rstrip()
        if text:
            emit(text[:_MAX_LINE])


async def run_archive(config: str, redis_url: str, stop: asyncio.Event, grace_s: float) -> int:
    """One run of ``screener audit archive`` in a child process, its output and exit status logged; returns the
    status (negative: the signal that ended it). When ``stop`` is set while it runs, it gets ``grace_s`` to finish
    and is then killed."""
    proc = await asyncio.create_subprocess_exec(
        *archive_command(config), stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE, env={**os.environ, "SCREENER_REDIS_URL": redis_url}, limit=1 << 20,
        preexec_fn=_die_with_parent)
    log.info("audit archive: run started (pid %d)", proc.pid)
    relays = asyncio.gather(_relay(proc.stdout, lambda t: log.info("audit archive: %s", t)),
                            _relay(proc.stderr, lambda t: log.warning("audit archive: %s", t)))
    done = asyncio.ensure_future(proc.wait())
    stopping = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({done, stopping}, return_when=asyncio.FIRST_COMPLETED)
        if not done.done():
            try:
                await asyncio.wait_for(asyncio.shield(done), grace_s)
            except TimeoutError:
                log.warning("audit archive: the run (pid %d) did not end within %.0f s of serve stopping: killed "
                            "(the next run recovers from it)", proc.pid, grace_s)
                proc.kill()
        status = await done
    finally:
        stopping.cancel()
        done.cancel()
        if proc.returncode is None:  # cancelled: the run does not outlive the task that owns it
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()
        await relays
    _log_status(proc.pid, status)
    return status


def _log_status(pid: int, status: int) -> None:
    if status == 0:
        log.info("audit archive: run (pid %d) done", pid)
    elif status == 1:
        log.error("audit archive: run (pid %d) ended with exit status 1: a group's stream was not trimmed "
                  "(run `screener audit verify`)", pid)
    else:
        how = f"was ended by signal {-status}" if status < 0 else f"failed with exit status {status}"
        log.warning("audit archive: run (pid %d) %s; the next run tries again", pid, how)


async def keep_archiving(config: str, redis_url: str, stop: asyncio.Event, interval_s: float, grace_s: float, *,
                         first_after_s: float = 60.0) -> None:
    """Until ``stop``: a run every ``interval_s`` after the previous one ended (one at a time), the first
    ``first_after_s`` after the start (not in the way of a starting screener)."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), min(first_after_s, interval_s))
    while not stop.is_set():
        try:
            await run_archive(config, redis_url, stop, grace_s)
        except OSError as exc:  # the interpreter could not be started
            log.error("audit archive: cannot start a run: %s; trying again in %.0f s", exc, interval_s)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), interval_s)
