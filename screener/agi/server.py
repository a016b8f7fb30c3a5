"""The asyncio FastAGI server: one task per AGI session, each read bounded in time and size.

    server = FastAgiServer(screener, settings.fastagi)
    await server.start()
    ...
    await server.shutdown()    # stop accepting; calls in flight get grace_s to finish, then are cancelled
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable

from screener.agi import commands
from screener.agi.channel import AgiChannel
from screener.agi.disclose import run_disclose
from screener.agi.end import run_end
from screener.agi.errors import AgiError
from screener.agi.options import ScriptOptions
from screener.agi.peers import PeerFilter
from screener.agi.screen import run_screen
from screener.agi.session import StreamSession
from screener.config.settings import FastAgiSettings
from screener.service.log_summary import LogSummary
from screener.service.protocol import ScreenerLike

log = logging.getLogger("screener.agi.server")

Script = Callable[[AgiChannel, ScreenerLike, ScriptOptions, float], Awaitable[object]]


async def _screen(channel: AgiChannel, screener: ScreenerLike, options: ScriptOptions, arrived: float) -> object:
    return await run_screen(channel, screener, options)


async def _disclose(channel: AgiChannel, screener: ScreenerLike, options: ScriptOptions, arrived: float) -> object:
    return await run_disclose(channel, screener, options, arrived=arrived)


async def _end(channel: AgiChannel, screener: ScreenerLike, options: ScriptOptions, arrived: float) -> object:
    await run_end(channel, screener, options)
    return None


SCRIPTS: dict[str, Script] = {"screen": _screen, "disclose": _disclose, "end": _end}


class FastAgiServer:
    def __init__(
        self,
        screener: ScreenerLike,
        settings: FastAgiSettings,
        *,
        options: ScriptOptions | None = None,
        header_timeout_s: float = 5.0,
        max_sessions: int = 2000,
        reuse_port: bool = False,
    ) -> None:
        self.screener = screener
        self.options = options or ScriptOptions()
        self.header_timeout_s = header_timeout_s
        self.max_sessions = max_sessions
        #: SO_REUSEPORT: several processes (``serve --workers``) listen on the one port, the kernel spreads calls
        self.reuse_port = reuse_port
        self._settings = settings
        self._peers = PeerFilter(settings.allowed_peers)
        self._server: asyncio.Server | None = None
        self._sessions: set[asyncio.Task[None]] = set()
        self.stats: dict[str, int] = {"sessions": 0, "refused": 0, "errors": 0}
        #: a flood of refused connections is logged once per interval with a count
        self._log_summary = LogSummary(log)

    @property
    def settings(self) -> FastAgiSettings:
        return self._settings

    @settings.setter
    def settings(self, value: FastAgiSettings) -> None:
        """New peers and grace period (a config reload); the bind address and port only change on restart."""
        self._settings = value
        self._peers = PeerFilter(value.allowed_peers)

    @property
    def in_flight(self) -> int:
        return len(self._sessions)

    @property
    def addresses(self) -> list[tuple[str, int]]:
        if self._server is None:
            return []
        return [(s.getsockname()[0], s.getsockname()[1]) for s in self._server.sockets]

    async def start(self) -> None:
        self._server = await asyncio.start_server(
            self._on_connect, self._settings.bind, self._settings.port, reuse_address=True, limit=64 * 1024,
            reuse_port=self.reuse_port or None,
        )
        if not self._settings.allowed_peers:
            log.warning("fastagi.allowed_peers is empty: every connection will be refused")

    async def serve_until(self, stop: asyncio.Event) -> None:
        await stop.wait()
        await self.shutdown()

    async def shutdown(self, grace_s: float | None = None) -> None:
        """Stop accepting; let sessions in flight finish within ``grace_s``; cancel the rest."""
        grace = self._settings.grace_s if grace_s is None else grace_s
        if self._server is not None:
            self._server.close()
        pending = set(self._sessions)
        if pending:
            log.info("waiting up to %.1f s for %d call(s) in flight", grace, len(pending))
            _, pending = await asyncio.wait(pending, timeout=grace)
        for task in pending:
            task.cancel()
        if pending:
            log.warning("cancelled %d call(s) still in flight after %.1f s", len(pending), grace)
            await asyncio.wait(pending, timeout=5)
        if self._server is not None:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(5):
                    await self._server.wait_closed()
            self._server = None

    async def _on_connect(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        peer = writer.get_extra_info("peername")
        host = peer[0] if isinstance(peer, tuple) else None
        if not self._peers.allows(host) or len(self._sessions) >= self.max_sessions:
            self.stats["refused"] += 1
            why = "not in fastagi.allowed_peers" if not self._peers.allows(host) else "too many sessions"
            self._log_summary.event(logging.WARNING, f"refused FastAGI connections ({why})", "from %s", host)
            await _close(writer)
            return
        self._sessions.add(task)
        self.stats["sessions"] += 1
        try:
            await self._session(reader, writer, host)
        finally:
            self._sessions.discard(task)
            await _close(writer)

    async def _session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, host: str | None) -> None:
        arrived = time.monotonic()
        session = StreamSession(reader, writer, reply_timeout_s=self.options.reply_timeout_s)
        try:
            env = await session.read_environment(self.header_timeout_s)
            if env is None:
                log.debug("connection from %s closed before any header (health check?)", host)
                return
            script = SCRIPTS.get(env.script)
            if script is None:
                log.warning("unknown AGI script %r from %s", commands.sanitize(env.script, max_chars=60), host)
                return
            await script(session, self.screener, self.options, arrived)
        except AgiError as exc:
            self.stats["errors"] += 1
            log.warning("FastAGI session from %s ended: %s: %s", host, type(exc).__name__, exc)
        except Exception:
            self.stats["errors"] += 1
            log.exception("FastAGI session from %s failed", host)


async def _close(writer: asyncio.StreamWriter) -> None:
    writer.close()
    with contextlib.suppress(Exception):
        async with asyncio.timeout(1):
            await writer.wait_closed()
