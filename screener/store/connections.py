"""The decision's hot path to Redis: one connection per process, commands pipelined on it.

Commands are written as they come (while others are in flight, those of one turn of the event loop go out
in one write) and their replies
read by an asyncio ``Protocol`` with hiredis' parser: replies come back in order, each completes the future
of its command. A caller that gives up (a decision
cut at its deadline) only cancels its future; the reply is parsed and dropped when it comes, and the
connection goes on. So a storm of late decisions never opens a connection, and the connection count of
a process is one, whatever the load. While the server leaves a command unanswered for ``HOLD_AFTER_S`` (a
stall), the commands that follow are held back: sent when it answers again, or dropped unsent when their
callers give up first, so a stalled server gets no backlog of commands nobody waits for any more.

The connection is opened before the first call when the screener starts (``connect``), and again after it
is lost or stuck (no reply for ``STUCK_S``, e.g. a master gone without a word in a failover; a Sentinel
master is asked of the Sentinels again, a ``READONLY`` reply also means the master moved): one attempt at
a time, shared by the callers that wait (within their own deadlines), and after a failed attempt the next
one waits 50 ms, doubling to 2 s with jitter, while callers meanwhile fail at once. Reconnecting is paced,
never a storm.
"""

from __future__ import annotations

import asyncio
import random
from collections import deque
from collections.abc import Sequence
from typing import Any

import hiredis
from redis.asyncio.connection import SSLConnection, UnixDomainSocketConnection
from redis.asyncio.sentinel import SentinelManagedConnection
from redis.exceptions import ConnectionError, NoScriptError, ReadOnlyError, RedisError, ResponseError

#: a command unanswered this long means the connection, or the server behind it, is stuck: it is closed and
#: another one opened. Longer than any stall the screener should ride out on the same connection.
STUCK_S = 2.0
#: commands waiting for a reply past which new ones fail at once (the server has been silent for long)
MAX_PENDING = 20_000
#: a command unanswered this long means a stall: the commands that follow are held back, sent when the
#: server answers again, and dropped unsent if their caller gives up meanwhile (no backlog for Redis to run)
HOLD_AFTER_S = 0.025
#: opening a connection (and its AUTH/SELECT) may take this long; the callers wait within their deadlines
CONNECT_TIMEOUT_S = 2.0
#: the delay before the attempt that follows a failed one: doubling from the first to the last, with jitter
RECONNECT_FIRST_S = 0.05
RECONNECT_MAX_S = 2.0


class DecisionNeedsOneServer(RedisError):
    """The hot path was given a Redis Cluster client: a decision's keys span several slots (not supported
    yet), so the call is blocked (a store error), never decided on part of its facts."""


def reply_error(message: str) -> ResponseError:
    """The redis-py exception of an error reply (NOSCRIPT, READONLY and the others)."""
    if message.startswith("NOSCRIPT"):
        return NoScriptError(message)
    if message.startswith("READONLY"):
        return ReadOnlyError(message)
    return ResponseError(message)


class _Pipelined(asyncio.Protocol):
    """One connection: commands written as they come, replies matched to them in order."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._parser = hiredis.Reader()
        #: (future, monotonic time sent) of every command not answered yet, oldest first
        self._waiting: deque[tuple[asyncio.Future[Any], float]] = deque()
        self._transport: asyncio.Transport | None = None
        self.lost = False
        #: commands packed during this turn of the event loop, written together at its end (one send)
        self._out: list[bytes] = []
        #: (future, command) held back during a stall (HOLD_AFTER_S), oldest first
        self._held: deque[tuple[asyncio.Future[Any], bytes]] = deque()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport

    def data_received(self, data: bytes) -> None:
        parser = self._parser
        parser.feed(data)
        while True:
            try:
                reply = parser.gets()
            except hiredis.ProtocolError as exc:
                self.abort(f"unreadable reply from Redis: {exc}")
                return
            if reply is False:
                self._release()
                return
            if not self._waiting:
                self.abort("a reply from Redis that no command asked for")
                return
            future, _ = self._waiting.popleft()
            if isinstance(reply, hiredis.ReplyError):
                error = reply_error(str(reply))
                if isinstance(error, ReadOnlyError):
                    self.abort("the server is a replica now (a failover): reconnecting to the master")
                if not future.done():
                    future.set_exception(error)
            elif not future.done():  # else its caller gave up (its deadline): the reply is dropped
                future.set_result(reply)

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        self._fail(ConnectionError(f"connection to Redis lost: {exc or 'closed'}"))

    def _fail(self, error: Exception) -> None:
        for future, _ in [*self._waiting, *self._held]:
            if not future.done():
                future.set_exception(error)
        self._waiting.clear()
        self._held.clear()

    def send(self, packed: bytes) -> asyncio.Future[Any]:
        """Write one packed command; the future of its reply (an error reply as its exception)."""
        if self.lost or self._transport is None or self._transport.is_closing():
            raise ConnectionError("connection to Redis lost")
        future: asyncio.Future[Any] = self._loop.create_future()
        now = self._loop.time()
        if self._held or (self._waiting and now - self._waiting[0][1] > HOLD_AFTER_S):
            self._held.append((future, packed))  # a stall: sent when the server answers again
            return future
        idle = not self._waiting
        self._waiting.append((future, now))
        if idle:  # nothing else in flight: write at once (the lowest latency when calls come one by one)
            self._transport.write(packed)
        else:
            self._queue(packed)
        return future

    def _queue(self, packed: bytes) -> None:
        """Others are in flight: this turn's commands go out together, in one write."""
        if not self._out:
            self._loop.call_soon(self._write)
        self._out.append(packed)

    def _release(self) -> None:
        """The server answers again: send the held commands whose callers still wait, drop the others."""
        if not self._held or (self._waiting and self._loop.time() - self._waiting[0][1] > HOLD_AFTER_S):
            return
        now = self._loop.time()
        while self._held:
            future, packed = self._held.popleft()
            if not future.done():
                self._waiting.append((future, now))
                self._queue(packed)

    def _write(self) -> None:
        out, self._out = self._out, []
        if self._transport is not None and not self._transport.is_closing():
            self._transport.write(b"".join(out))

    @property
    def pending(self) -> int:
        return len(self._waiting) + len(self._held)

    def unanswered_for(self) -> float:
        """Seconds the oldest command has waited for its reply (0 when none waits)."""
        return self._loop.time() - self._waiting[0][1] if self._waiting else 0.0

    def abort(self, why: str) -> None:
        self.lost = True
        if self._transport is not None:
            self._transport.abort()  # connection_lost fails what still waits
        self._fail(ConnectionError(why))

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()


async def _open(client: Any) -> _Pipelined:
    """A connection to the server of ``client``'s pool (one server, unix socket, TLS, or the Sentinels'
    current master), authenticated and on the right database as the pool's own connections would be."""
    pool = getattr(client, "connection_pool", None)
    if pool is None:  # a RedisCluster client: one pool per node
        raise DecisionNeedsOneServer(
            "this connection needs one Redis server or a Sentinel master: a Redis Cluster's decisions go "
            "through SlotConnections (store/cluster_path.py), each to the master of the number's slot")
    template = pool.make_connection()  # no I/O: how the pool's connections connect
    loop = asyncio.get_running_loop()
    conn: _Pipelined
    if isinstance(template, UnixDomainSocketConnection):
        _, conn = await loop.create_unix_connection(lambda: _Pipelined(loop), template.path)
    else:
        if isinstance(template, SentinelManagedConnection):
            host, port = await pool.get_master_address()
        else:
            host, port = template.host, template.port
        ssl = template.ssl_context.get() if isinstance(template, SSLConnection) else None
        _, conn = await loop.create_connection(lambda: _Pipelined(loop), host, port, ssl=ssl)
    try:
        setup = []
        credentials = await _credentials(template)
        if credentials:
            setup.append(pack_command(b"AUTH", *credentials))
        if getattr(template, "db", 0):
            setup.append(pack_command(b"SELECT", template.db))
        for reply in await asyncio.gather(*(conn.send(command) for command in setup)):
            if reply != b"OK":
                raise ConnectionError(f"unexpected reply to the connection's set-up: {reply!r}")
    except BaseException:
        conn.close()
        raise
    return conn


async def _credentials(template: Any) -> tuple[str, ...]:
    provider = getattr(template, "credential_provider", None)
    if provider is not None:
        return tuple(await provider.get_credentials_async())
    username, password = getattr(template, "username", None), getattr(template, "password", None)
    if password:
        return (username, password) if username else (password,)
    return ()


def pack_command(*parts: str | int | bytes) -> bytes:
    """One RESP command: ``*N`` then each part as a bulk string (one loop and one join: the hot path packs
    about twenty parts a decision)."""
    out = [b"*%d\r\n" % len(parts)]
    for part in parts:
        data = part if type(part) is bytes else (part.encode() if type(part) is str else str(part).encode())
        out.append(b"$%d\r\n%b\r\n" % (len(data), data))
    return b"".join(out)


class Connections:
    """The hot path's connection to the server of a redis-py client (see the module's docstring)."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self._conn: _Pipelined | None = None
        self._connecting: asyncio.Future[_Pipelined] | None = None
        self._failures = 0
        self._retry_at = 0.0
        self._last_error = ""
        #: connections opened since this object was made (1 while the server stays reachable)
        self.opened = 0

    async def connect(self) -> None:
        """Open the connection now (before the first call), unless it is open."""
        await self._connection()

    async def execute(self, packed: bytes, *, key: str | None = None) -> Any:
        """Send one packed command and wait for its reply (an error reply raises, as redis-py's do); ``key``
        names the command's first key (one server serves every key: unused here, ``SlotConnections`` routes
        by it)."""
        return await (await self._connection()).send(packed)

    async def execute_many(self, commands: Sequence[bytes]) -> list[Any]:
        """Send several packed commands at once; their replies, in order."""
        conn = await self._connection()
        return list(await asyncio.gather(*(conn.send(command) for command in commands)))

    async def _connection(self) -> _Pipelined:
        conn = self._conn
        if conn is not None and not conn.lost:
            if conn.unanswered_for() < STUCK_S and conn.pending < MAX_PENDING:
                return conn
            conn.abort(f"Redis left a command unanswered for {conn.unanswered_for():.1f} s "
                       f"({conn.pending} waiting): reconnecting")
        self._conn = None
        loop = asyncio.get_running_loop()
        if self._connecting is None or self._connecting.done():
            wait = self._retry_at - loop.time()
            if wait > 0:
                raise ConnectionError(f"not connected to Redis ({self._last_error}); next attempt in "
                                      f"{wait * 1000:.0f} ms")
            self._connecting = asyncio.ensure_future(self._connect())
            self._connecting.add_done_callback(_retrieved)
        return await asyncio.shield(self._connecting)

    async def _connect(self) -> _Pipelined:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(CONNECT_TIMEOUT_S):
                conn = await _open(self.client)
        except DecisionNeedsOneServer:
            raise
        except (OSError, RedisError, TimeoutError) as exc:
            self._failures += 1
            delay = min(RECONNECT_FIRST_S * 2 ** (self._failures - 1), RECONNECT_MAX_S)
            self._retry_at = loop.time() + delay * random.uniform(0.75, 1.25)
            self._last_error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            raise ConnectionError(f"cannot connect to Redis: {self._last_error}") from exc
        self._failures = 0
        self._conn = conn
        self.opened += 1
        return conn

    async def aclose(self) -> None:
        if self._connecting is not None and not self._connecting.done():
            self._connecting.cancel()
        if self._conn is not None:
            self._conn.close()
            self._conn = None


def _retrieved(future: asyncio.Future[Any]) -> None:
    """Mark a shared future's exception as seen (each waiter gets it; none may be left to see it)."""
    if not future.cancelled():
        future.exception()
