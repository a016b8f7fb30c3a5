"""A thin ARI client on aiohttp: REST calls and the events WebSocket, with reconnect and backoff.

- Credentials go in an HTTP Basic ``Authorization`` header only (never in a URL, never in a log line or an
  exception message: ``password`` is a ``Secret``).
- ``run(handler, stop)`` keeps one WebSocket to ``/ari/events?app=NAME`` open until ``stop`` is set. Each
  message is parsed into a typed event and handed to ``handler`` synchronously, in the order Asterisk sent
  it; the handler queues it per call (see ``app.py``), so one slow call never reorders or delays another.
- After a drop it reconnects with exponential backoff (capped, with jitter) and, once back, hands a
  synthetic ``Reconnected`` event to the handler (on every open; ``first`` tells the first one apart): events
  of the gap are lost and calls resynchronise.
- Channel, bridge and playback ids are generated here (``new_id``), so a caller can register an id
  before the POST that creates it (StasisStart can arrive before the POST's response).
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import aiohttp
from yarl import URL

from screener.ari.events import Event, Reconnected, parse_event
from screener.config.settings import Secret

log = logging.getLogger("screener.ari.client")


class AriError(RuntimeError):
    """A REST call failed (HTTP status >= 400, or no answer). Carries no credentials."""

    def __init__(self, method: str, path: str, status: int | None, detail: str = "") -> None:
        self.method = method
        self.path = path
        self.status = status
        self.detail = detail
        super().__init__(f"ARI {method} {path}: {status if status is not None else 'no answer'} {detail}".strip())


class AriNotFound(AriError):
    """404: the channel, bridge or playback does not exist (any more)."""


@dataclass(frozen=True)
class Backoff:
    """Delays between WebSocket connection attempts: initial, doubled each failure, capped, +-jitter."""

    initial_s: float = 0.2
    max_s: float = 5.0
    factor: float = 2.0
    jitter: float = 0.2

    def delay(self, attempt: int) -> float:
        base = min(self.max_s, self.initial_s * self.factor ** max(0, attempt))
        return base * (1 + random.uniform(-self.jitter, self.jitter))


EventHandler = Callable[[Event], None]


def new_id(kind: str) -> str:
    """A client-generated id for a channel, bridge or playback (unique, URL-safe)."""
    return f"screener-{kind}-{uuid.uuid4().hex}"


class AriClient:
    """REST and events for one Stasis application. Use as ``async with AriClient(...) as client``."""

    def __init__(self, url: str, username: str, password: Secret, app: str, *, backoff: Backoff | None = None,
                 request_timeout_s: float = 5.0, heartbeat_s: float = 10.0) -> None:
        base = URL(url)
        if base.user or base.password:
            # a URL with credentials would leak them into every log line: keep only host and port
            base = base.with_user(None)
        self.base = base
        self.app = app
        self._auth_header = aiohttp.encode_basic_auth(username, password.value)
        self.backoff = backoff or Backoff()
        self.request_timeout_s = request_timeout_s
        self.heartbeat_s = heartbeat_s
        self._session: aiohttp.ClientSession | None = None
        #: set while the WebSocket is open and registered
        self.connected = asyncio.Event()
        #: how many times the WebSocket has been (re)opened
        self.connections = 0
        self._ws: aiohttp.ClientWebSocketResponse | None = None

    def __repr__(self) -> str:
        return f"AriClient({str(self.base)!r}, app={self.app!r})"

    async def __aenter__(self) -> AriClient:
        self._session = aiohttp.ClientSession(headers={"Authorization": self._auth_header})
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.close()

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            raise RuntimeError("AriClient used outside `async with`")
        return self._session

    @property
    def events_url(self) -> URL:
        scheme = "wss" if self.base.scheme == "https" else "ws"
        return (self.base.with_scheme(scheme) / "ari" / "events").with_query(app=self.app, subscribeAll="false")

    # -- REST --------------------------------------------------------------------------------------------

    async def request(self, method: str, path: str, params: Mapping[str, str | int] | None = None,
                      body: Mapping[str, Any] | None = None) -> Any:
        """One REST call under /ari; the decoded JSON reply (None when empty). Raises AriError/AriNotFound."""
        url = self.base / "ari" / path.lstrip("/")
        query = {k: str(v) for k, v in (params or {}).items()}
        try:
            async with self.session.request(method, url, params=query, json=body,
                                            timeout=aiohttp.ClientTimeout(total=self.request_timeout_s)) as resp:
                text = await resp.text()
                if resp.status == 404:
                    raise AriNotFound(method, path, resp.status, text[:200])
                if resp.status >= 400:
                    raise AriError(method, path, resp.status, text[:200])
                return json.loads(text) if text.strip() else None
        except (aiohttp.ClientError, TimeoutError, json.JSONDecodeError) as exc:
            raise AriError(method, path, None, type(exc).__name__) from None

    async def create_channel(self, channel_id: str, endpoint: str, *, originator: str | None = None,
                             variables: Mapping[str, str] | None = None) -> Any:
        params: dict[str, str | int] = {"endpoint": endpoint, "app": self.app, "channelId": channel_id}
        if originator:
            params["originator"] = originator
        return await self.request("POST", "channels/create", params, {"variables": dict(variables or {})})

    async def dial(self, channel_id: str, *, timeout_s: int) -> None:
        await self.request("POST", f"channels/{channel_id}/dial", {"timeout": timeout_s})

    async def ring(self, channel_id: str) -> None:
        await self.request("POST", f"channels/{channel_id}/ring")

    async def progress(self, channel_id: str) -> None:
        await self.request("POST", f"channels/{channel_id}/progress")

    async def answer(self, channel_id: str) -> None:
        await self.request("POST", f"channels/{channel_id}/answer")

    async def play(self, channel_id: str, media: str, playback_id: str) -> None:
        await self.request("POST", f"channels/{channel_id}/play", {"media": media, "playbackId": playback_id})

    async def stop_playback(self, playback_id: str) -> None:
        await self.request("DELETE", f"playbacks/{playback_id}")

    async def hangup(self, channel_id: str, *, reason: str | None = None, reason_code: int | None = None) -> None:
        params: dict[str, str | int] = {}
        if reason_code is not None:
            params["reason_code"] = reason_code
        elif reason:
            params["reason"] = reason
        await self.request("DELETE", f"channels/{channel_id}", params)

    async def continue_in_dialplan(self, channel_id: str, context: str, extension: str, label: str) -> None:
        await self.request("POST", f"channels/{channel_id}/continue",
                           {"context": context, "extension": extension, "label": label})

    async def get_channel(self, channel_id: str) -> Any:
        return await self.request("GET", f"channels/{channel_id}")

    async def application(self) -> Any:
        """GET /applications/{app}: the channel and bridge ids the application is subscribed to."""
        return await self.request("GET", f"applications/{self.app}")

    async def list_bridges(self) -> Any:
        return await self.request("GET", "bridges")

    async def create_bridge(self, bridge_id: str) -> None:
        await self.request("POST", "bridges", {"type": "mixing", "bridgeId": bridge_id, "name": bridge_id})

    async def add_channels(self, bridge_id: str, channel_ids: list[str]) -> None:
        await self.request("POST", f"bridges/{bridge_id}/addChannel", {"channel": ",".join(channel_ids)})

    async def destroy_bridge(self, bridge_id: str) -> None:
        await self.request("DELETE", f"bridges/{bridge_id}")

    # -- events ------------------------------------------------------------------------------------------

    async def run(self, handler: EventHandler, stop: asyncio.Event) -> None:
        """Keep the events WebSocket open until ``stop`` is set, reconnecting with backoff."""
        failures = 0
        stopper = asyncio.ensure_future(stop.wait())
        try:
            while not stop.is_set():
                reader = asyncio.ensure_future(self._connect_and_read(handler))
                await asyncio.wait({reader, stopper}, return_when=asyncio.FIRST_COMPLETED)
                if not reader.done():
                    reader.cancel()
                    await asyncio.gather(reader, return_exceptions=True)
                    break
                opened = self._outcome(reader)
                failures = 0 if opened else failures + 1
                if stop.is_set():
                    break
                delay = self.backoff.delay(failures)
                log.info("ARI: reconnecting to %s in %.1f s", self.base, delay)
                with_timeout = asyncio.ensure_future(asyncio.sleep(delay))
                await asyncio.wait({with_timeout, stopper}, return_when=asyncio.FIRST_COMPLETED)
                with_timeout.cancel()
        finally:
            stopper.cancel()
            self.connected.clear()

    def _outcome(self, reader: asyncio.Future[bool]) -> bool:
        """True when that attempt opened the WebSocket (the next backoff starts over)."""
        exc = reader.exception()
        if exc is None:
            return reader.result()
        if isinstance(exc, aiohttp.WSServerHandshakeError):
            hint = " (check the ARI user and password)" if exc.status == 401 else ""
            log.warning("ARI: %s refused the events WebSocket: HTTP %s%s", self.base, exc.status, hint)
        elif isinstance(exc, aiohttp.ClientError | OSError | TimeoutError):
            log.warning("ARI: cannot reach %s: %s", self.base, type(exc).__name__)
        else:
            log.error("ARI: events loop failed: %s", type(exc).__name__)
        return False

    async def _connect_and_read(self, handler: EventHandler) -> bool:
        async with self.session.ws_connect(self.events_url, heartbeat=self.heartbeat_s,
                                           timeout=aiohttp.ClientWSTimeout(ws_close=2.0)) as ws:
            self._ws = ws
            self.connections += 1
            self.connected.set()
            log.info("ARI: events WebSocket open on %s for application %r", self.base, self.app)
            handler(Reconnected("Reconnected", self.app, first=self.connections == 1))
            try:
                async for msg in ws:
                    if msg.type is aiohttp.WSMsgType.TEXT:
                        self._dispatch(msg.data, handler)
                    elif msg.type is aiohttp.WSMsgType.ERROR:
                        break
            finally:
                self._ws = None
                self.connected.clear()
            log.warning("ARI: events WebSocket to %s closed", self.base)
        return True

    def _dispatch(self, data: str, handler: EventHandler) -> None:
        try:
            event = parse_event(json.loads(data))
        except json.JSONDecodeError:
            log.warning("ARI: skipped a message that is not JSON (%d bytes)", len(data))
            return
        if event is None:
            log.warning("ARI: skipped a message that is not an event")
            return
        try:
            handler(event)
        except Exception:
            log.exception("ARI: handler failed on %s", event.type)

    async def drop_connection(self) -> None:
        """Close the current WebSocket (the run loop reconnects); used by tests and on ApplicationReplaced."""
        ws = self._ws
        if ws is not None:
            await ws.close()
