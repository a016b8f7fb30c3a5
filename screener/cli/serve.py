"""`screener serve`: the long-running service Asterisk talks to (FastAGI, and ARI when enabled).

With ``--workers N`` (default: one per core) a supervisor runs N such processes on the same FastAGI port
(SO_REUSEPORT), restarts one that dies, forwards SIGHUP and SIGTERM to them and reports ready when they all
are (see ``screener.cli.workers``); each worker is what follows, the ARI application in worker 1 only.

Each process loads the config (reloaded on SIGHUP and when its files change), connects to Redis, listens for
FastAGI on the configured address and, with `[ari] enabled = true`, runs the Stasis application on the
configured ARI URL (retrying with backoff while Asterisk does not answer; FastAGI serves meanwhile). It
stops gracefully on SIGTERM/SIGINT: it stops accepting, lets calls in flight finish within grace_s, then
cancels the rest. With ``[admin] enabled`` (the default) it also runs the admin HTTP server (JSON API, health,
metrics, the supervisor page) on ``[admin] listen``, and every screener heartbeats in Redis and counts its
decisions there for the page. Redis being down at start is not fatal: the service starts and blocks every call with
screening_unavailable until Redis is back.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ipaddress
import logging
import os
import signal
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, AsyncExitStack
from dataclasses import dataclass, field, replace
from typing import Any

from screener.agi.options import ScriptOptions
from screener.agi.server import FastAgiServer
from screener.cli.call_options import add_call_options
from screener.cli.common import config_path, fail, redis_url, spool_for
from screener.config.errors import ConfigError
from screener.config.placeholders import LAB_ENV, lab_sandbox, placeholders
from screener.config.settings import AdminSettings, FastAgiSettings, Settings
from screener.config.watch import ConfigHolder
from screener.embedded_redis import EmbeddedRedisError
from screener.logs import FORMAT_ENV, FORMATS
from screener.logs import setup as setup_logging
from screener.sdnotify import notify
from screener.service.connection import redact
from screener.service.operations import background_operations
from screener.service.probes import FASTAGI_SESSIONS, Probes
from screener.service.screening import Screener
from screener.sounds import Sounds

log = logging.getLogger("screener.serve")


@dataclass
class ServeContext:
    """What a front end running inside `screener serve` gets."""

    args: argparse.Namespace
    holder: ConfigHolder
    screener: Screener
    redis_url: str
    stop: asyncio.Event
    #: what each front end reports about itself (calls in flight, ARI connected), read by the admin server
    probes: Probes = field(default_factory=Probes)
    #: the worker this process is (1..N) under ``--workers N``; 0 when it runs alone
    worker: int = 0


#: front ends started by `screener serve`, in order; each is an async context manager factory that runs
#: its front end until the context exits (FastAGI and ARI are built in; more can be appended here).
FrontEnd = Callable[[ServeContext], AbstractAsyncContextManager[None]]
FRONT_ENDS: list[FrontEnd] = []


def fastagi_settings(args: argparse.Namespace, settings: Settings) -> FastAgiSettings:
    fa = settings.fastagi
    if args.bind is not None:
        fa = replace(fa, bind=args.bind)
    if args.port is not None:
        fa = replace(fa, port=args.port)
    if args.allow:
        fa = replace(fa, allowed_peers=tuple(args.allow))
    if args.grace is not None:
        fa = replace(fa, grace_s=args.grace)
    return fa


def script_options(args: argparse.Namespace) -> ScriptOptions:
    return ScriptOptions(
        decision_timeout_s=args.decision_timeout,
        opt_out_wait_ms=args.opt_out_wait_ms,
    )


@contextlib.asynccontextmanager
async def fastagi_front_end(ctx: ServeContext) -> AsyncIterator[None]:
    settings: Settings = ctx.holder.current
    server = FastAgiServer(ctx.screener, fastagi_settings(ctx.args, settings), options=script_options(ctx.args),
                           reuse_port=ctx.worker > 0)
    await server.start()
    ctx.probes.add_gauge(FASTAGI_SESSIONS, lambda: server.in_flight)
    addresses = ", ".join(f"{h}:{p}" for h, p in server.addresses)
    log.info("FastAGI listening on %s (allowed peers: %s; scripts: screen, disclose)",
             addresses, ", ".join(server.settings.allowed_peers) or "none")
    say(ctx.args, f"FastAGI listening on {addresses}")

    def on_reload(new: Settings) -> None:
        server.settings = fastagi_settings(ctx.args, new)

    ctx.holder.add_listener(on_reload)
    try:
        yield
    finally:
        await server.shutdown()
        log.info("FastAGI stopped: %d session(s) served, %d refused, %d ended with an error",
                 server.stats["sessions"], server.stats["refused"], server.stats["errors"])


@contextlib.asynccontextmanager
async def ari_front_end(ctx: ServeContext) -> AsyncIterator[None]:
    """The Stasis application, when ``[ari] enabled``: it retries Asterisk with backoff and never stops FastAGI.
    Under ``--workers`` it runs in worker 1 only: Asterisk gives an application name one WebSocket, and a
    second connection would take the name over (see asterisk/README-ari.md)."""
    settings: Settings = ctx.holder.current
    if not settings.ari.enabled or ctx.worker > 1:
        yield
        return
    from screener.ari import run_ari

    grace_s = settings.fastagi.grace_s
    task = asyncio.create_task(run_ari(ctx.screener, settings.ari, ctx.stop, grace_s=grace_s, probes=ctx.probes))
    say(ctx.args, f"ARI application {settings.ari.app!r} on {redact(settings.ari.url)}")
    try:
        yield
    finally:
        ctx.stop.set()
        try:
            await asyncio.wait_for(task, timeout=grace_s + 10)
        except (TimeoutError, asyncio.CancelledError):
            log.error("ARI: the application did not stop within %.0f s", grace_s + 10)
        except Exception:
            log.exception("ARI: the application ended with an error")


@contextlib.asynccontextmanager
async def operations_front_end(ctx: ServeContext) -> AsyncIterator[None]:
    """The heartbeat (screeners alive) and the decision statistics, admin server or not."""
    async with background_operations(ctx.screener):
        yield


@contextlib.asynccontextmanager
async def archive_task(ctx: ServeContext) -> AsyncIterator[None]:
    """The audit archive on a schedule, beside the spool flusher: every ``[audit] archive_interval`` (0: never;
    then run ``screener audit archive`` from cron), ``screener audit archive`` in a child process, one run at a
    time (``screener.cli.archive_schedule``: a run's file work never holds up the calls), killed when it does
    not end within the grace on shutdown. Under ``--workers`` it runs in worker 1 only (restarted with it): one
    schedule per host. A second run at once would be safe all the same (the archive folder's lock refuses it,
    ``ArchiveBusy``), only noisy."""
    interval_s = ctx.holder.current.audit.archive_interval_s
    if interval_s <= 0 or ctx.worker > 1:
        yield
        return
    from screener.cli.archive_schedule import keep_archiving

    grace_s = ctx.holder.current.fastagi.grace_s
    task = asyncio.create_task(keep_archiving(config_path(ctx.args), ctx.redis_url, ctx.stop, interval_s, grace_s))
    try:
        yield
    finally:
        ctx.stop.set()  # a run still going gets its grace, then is killed (the task ends with it)
        try:
            await asyncio.wait_for(task, timeout=grace_s + 10)
        except TimeoutError:
            log.error("audit archive: the schedule did not stop within %.0f s", grace_s + 10)


def admin_settings(ctx: ServeContext) -> AdminSettings:
    """``[admin]`` with --admin-listen; under ``--workers`` worker N listens on the port + N - 1 (each worker
    is a screener with its own metrics: Prometheus scrapes every worker's port; the API and the page work on
    any of them)."""
    settings = ctx.holder.current.admin
    if ctx.args.admin_listen is not None:
        settings = replace(settings, listen=ctx.args.admin_listen)
    try:
        ipaddress.ip_address(settings.host)
        port = settings.port
    except ValueError:
        raise OSError(f"admin listen address {settings.listen!r} is not IP:PORT") from None
    if ctx.worker > 1 and port:
        host = f"[{settings.host}]" if ":" in settings.host else settings.host
        settings = replace(settings, listen=f"{host}:{port + ctx.worker - 1}")
    return settings


@contextlib.asynccontextmanager
async def admin_front_end(ctx: ServeContext) -> AsyncIterator[None]:
    """The admin HTTP server, when ``[admin] enabled`` (the default)."""
    if not ctx.holder.current.admin.enabled or ctx.args.no_admin:
        yield
        return
    settings = admin_settings(ctx)
    from screener.admin import admin_context, admin_server

    async with admin_server(admin_context(ctx.screener, ctx.redis_url, ctx.probes, settings)) as server:
        say(ctx.args, f"admin server on {server.url}")
        yield


async def check_redis(screener: Screener, url: str) -> None:
    try:
        async with asyncio.timeout(2):
            await screener.redis.ping()
            await screener.open()  # the decisions' connection, before the first call
        log.info("Redis reachable at %s", redact(url))
    except Exception as exc:
        log.error("Redis at %s is not reachable (%s): calls are BLOCKED (screening_unavailable) until it is back",
                  redact(url), exc)


def _install_stop_signals(loop: asyncio.AbstractEventLoop, stop: asyncio.Event) -> None:
    def on_signal(name: str) -> None:
        if not stop.is_set():
            log.info("%s received: stopping (calls in flight get their grace period)", name)
        stop.set()

    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, on_signal, sig.name)


def say(args: argparse.Namespace, text: str) -> None:
    """A milestone for the operator: ``screener serve: TEXT`` (``screener serve [worker N]: TEXT`` in a worker)
    on stderr, or a log record in JSON mode (where every line of output is one JSON object)."""
    if args.log_format == "json":
        log.info("%s", text)
    else:
        who = f"screener serve [worker {args.worker}]" if args.worker else "screener serve"
        print(f"{who}: {text}", file=sys.stderr, flush=True)


def log_format(args: argparse.Namespace) -> str:
    """--log-format, else SCREENER_LOG_FORMAT, else text."""
    return str(args.log_format or os.environ.get(FORMAT_ENV) or "text").strip().lower()


def worker_count(args: argparse.Namespace) -> int:
    """--workers, else one per core this process may run on."""
    if args.workers is not None:
        return int(args.workers)
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


async def run(args: argparse.Namespace) -> int:
    args.log_format = log_format(args)
    if args.log_format not in FORMATS:
        return fail(f"{FORMAT_ENV}={args.log_format!r} is not a log format (one of {', '.join(FORMATS)})")
    if args.workers is not None and args.workers < 1:
        return fail(f"--workers {args.workers}: at least 1")
    setup_logging(args.log_level, args.log_format, worker=args.worker or None)
    try:
        count = worker_count(args)
        if count > 1 and not args.worker:
            from screener.cli.workers import supervise

            return await supervise(args, count)
        return await _serve(args)
    except StartupError as exc:
        if args.log_format == "json":
            log.error("%s", exc)
            return 2
        return fail(str(exc))


class StartupError(Exception):
    """``screener serve`` cannot start (exit status 2)."""


def load_config(args: argparse.Namespace) -> tuple[ConfigHolder, str]:
    """The config (placeholders refused outside the lab) and the Redis URL (starting the private redis-server
    when none is set); ``StartupError`` when serve cannot start with them."""
    path = config_path(args)
    try:
        holder = ConfigHolder(path)
        refused = [] if lab_sandbox() else placeholders(holder.current)
        if refused:
            raise StartupError("config: refusing to serve with the shipped placeholder secrets:\n" +
                               "".join(f"  {p}\n" for p in refused) +
                               f"(only the lab sandbox may run with them: it sets {LAB_ENV}=1)")
        url = redis_url(args, holder.current)
    except ConfigError as exc:
        raise StartupError(f"config: {exc}") from None
    except (EmbeddedRedisError, OSError) as exc:
        raise StartupError(f"cannot start the private redis-server: {exc}") from None
    return holder, url


def _watch_supervisor(loop: asyncio.AbstractEventLoop, fd: int, stop: asyncio.Event) -> None:
    """A worker stops (gracefully) when its supervisor is gone: the pipe it inherited reads end-of-file."""

    def on_readable() -> None:
        try:
            data = os.read(fd, 64)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            loop.remove_reader(fd)
            if not stop.is_set():
                log.error("the supervisor is gone: stopping")
            stop.set()

    os.set_blocking(fd, False)
    loop.add_reader(fd, on_readable)


async def _serve(args: argparse.Namespace) -> int:
    holder, url = load_config(args)
    path = config_path(args)
    settings = holder.current
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    _install_stop_signals(loop, stop)
    holder.install_sighup(loop)
    if args.supervisor_fd is not None:
        _watch_supervisor(loop, args.supervisor_fd, stop)
    screener = await Screener.create(holder, url, sounds=Sounds(args.prompt_prefix), spool=spool_for(settings, "serve"))
    ctx = ServeContext(args=args, holder=holder, screener=screener, redis_url=url, stop=stop, worker=args.worker)
    log.info("screener serve starting: config %s version %s, redis %s", path, settings.version, redact(url))
    await check_redis(screener, url)
    screener.warm_up()
    watcher = asyncio.create_task(holder.watch(args.watch_interval)) if args.watch_interval > 0 else None
    flusher = asyncio.create_task(screener.keep_flushing(stop))
    try:
        async with AsyncExitStack() as stack:
            for front_end in (operations_front_end, archive_task, fastagi_front_end, ari_front_end,
                              admin_front_end, *FRONT_ENDS):
                await stack.enter_async_context(front_end(ctx))
            say(args, f"ready (config version {settings.version}, redis {redact(url)})")
            notify(f"READY=1\nSTATUS=screening calls, config version {settings.version}\nMAINPID={os.getpid()}")
            await stop.wait()
            notify("STOPPING=1\nSTATUS=stopping: calls in flight get their grace period")
    except OSError as exc:
        raise StartupError(f"cannot listen: {exc}") from None
    finally:
        for task in (watcher, flusher):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        await screener.aclose()
    log.info("screener serve stopped")
    return 0


EPILOG = """\
dialplan (see asterisk/extensions_screener.conf):
  same => n,AGI(agi://127.0.0.1:4573/screen,${NUMBER},${SCREENER_CAMPAIGN})
  same => n,GotoIf($["${SCREEN_RESULT}" = "ALLOW"]?dial)   ; anything else: Hangup(21)
  same => n(dial),Dial(PJSIP/${SCREEN_NUMBER}@${SCREENER_TRUNK},30,U(screener-disclose^${SCREEN_NUMBER}^...))

SIGHUP reloads the config (it is also reloaded when its files change); SIGTERM/SIGINT stop gracefully.
Under systemd (Type=notify, see deploy/screener.service) it reports READY=1 once it accepts calls.

--workers N runs N processes on the one FastAGI port under a supervisor (the pid to signal); each worker
has its own connections to Redis, its own max_in_flight bound and its own spool file; the ARI application
and the audit archive schedule ([audit] archive_interval: `screener audit archive` as a child process) run in
worker 1. A worker that dies is restarted; calls it was deciding are lost (the dialplan blocks them).
"""


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "serve", help="run the FastAGI server (and the ARI application) Asterisk asks before every call",
        description=__doc__, epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--workers", type=int, metavar="N",
                   help="worker processes on the FastAGI port (default: one per core); 1 = this process alone")
    p.add_argument("--worker", type=int, default=0, help=argparse.SUPPRESS)  # set by the supervisor: 1..N
    p.add_argument("--supervisor-fd", type=int, default=None, help=argparse.SUPPRESS)
    p.add_argument("--bind", metavar="ADDR", help="listen address (default: the config's fastagi.bind)")
    p.add_argument("--port", type=int, metavar="N", help="listen port (default: fastagi.port, 4573; 0 = any)")
    p.add_argument("--allow", action="append", metavar="PEER",
                   help="allowed Asterisk address or network, repeatable (default: fastagi.allowed_peers)")
    p.add_argument("--grace", type=float, metavar="S", help="seconds calls in flight get on shutdown (fastagi.grace_s)")
    add_call_options(p)
    p.add_argument("--watch-interval", type=float, default=1.0, metavar="S",
                   help="seconds between config file checks; 0 = reload on SIGHUP only (default 1)")
    p.add_argument("--admin-listen", metavar="HOST:PORT",
                   help="admin HTTP server address (default: the config's admin.listen, 127.0.0.1:8090; port 0 = any)")
    p.add_argument("--no-admin", action="store_true", help="do not run the admin HTTP server")
    p.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    p.add_argument("--log-format", choices=FORMATS, default=None,
                   help="text lines, or one JSON object per line with the call id, campaign, verdict and reasons "
                        f"of each decision as fields (default: ${FORMAT_ENV}, else text)")
    p.set_defaults(func=run)
