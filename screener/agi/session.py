"""An AGI session over asyncio streams: the codec plus a deadline on every read."""

from __future__ import annotations

import asyncio
import logging

from screener.agi.codec import AgiConnection, awaited_reply
from screener.agi.commands import Command
from screener.agi.errors import AgiTimeout, ConnectionLost, RemoteProtocolError
from screener.agi.events import AgiEnvironment, ConnectionClosed, Event, NeedData, Reply

log = logging.getLogger("screener.agi")

READ_CHUNK = 16384


class StreamSession:
    """Reads the header block, then runs one command at a time; ``HANGUP`` notices set ``hung_up``."""

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        *,
        conn: AgiConnection | None = None,
        reply_timeout_s: float = 10.0,
    ) -> None:
        self._reader = reader
        self._writer = writer
        self._conn = conn or AgiConnection()
        self.reply_timeout_s = reply_timeout_s
        self.hung_up = False
        self._env: AgiEnvironment | None = None

    @property
    def env(self) -> AgiEnvironment:
        if self._env is None:
            raise RuntimeError("the agi_* header block has not been read")
        return self._env

    async def read_environment(self, timeout_s: float) -> AgiEnvironment | None:
        """The header block, or None when the peer closed without sending one (a bare connect)."""
        event = await self._next(timeout_s, "the agi_* header block")
        if isinstance(event, ConnectionClosed):
            return None
        if not isinstance(event, AgiEnvironment):
            raise RemoteProtocolError(f"expected the header block, got {event!r}")
        self._env = event
        return event

    async def execute(self, command: Command, *, timeout_s: float | None = None) -> Reply:
        """Send ``command`` and return its reply; ``HANGUP`` notices on the way are noted, not returned."""
        self._writer.write(self._conn.send_command(command))
        await self._drain(timeout_s)
        while True:
            event = await self._next(timeout_s, f"the reply to {command.verb}")
            try:
                reply, hung_up = awaited_reply(event, command.verb)
            except ConnectionLost:
                self.hung_up = True
                raise
            self.hung_up = self.hung_up or hung_up
            if reply is not None:
                return reply

    async def _drain(self, timeout_s: float | None) -> None:
        try:
            async with asyncio.timeout(timeout_s or self.reply_timeout_s):
                await self._writer.drain()
        except TimeoutError as exc:
            raise AgiTimeout("peer does not read our commands") from exc
        except (ConnectionError, OSError) as exc:
            self.hung_up = True
            raise ConnectionLost(f"connection lost while sending: {exc}") from exc

    async def _next(self, timeout_s: float | None, what: str) -> Event:
        deadline = timeout_s or self.reply_timeout_s
        try:
            async with asyncio.timeout(deadline):
                while True:
                    event = self._conn.next_event()
                    if not isinstance(event, NeedData):
                        return event
                    try:
                        data = await self._reader.read(READ_CHUNK)
                    except (ConnectionError, OSError):
                        data = b""
                    self._conn.receive_data(data)
        except TimeoutError as exc:
            raise AgiTimeout(f"no {what} within {deadline:g} s") from exc
