"""Screeners alive: each ``screener serve`` heartbeats in Redis; the admin page and /metrics count them."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
import uuid
from dataclasses import dataclass
from typing import Any

from screener.config.watch import ConfigHolder
from screener.service.store_errors import STORE_ERRORS
from screener.store import presence

log = logging.getLogger("screener.presence")

#: seconds between heartbeats, and how long a screener counts as alive after its last one
HEARTBEAT_S = 5.0
ALIVE_TTL_S = 15.0


@dataclass(frozen=True)
class ScreenerInstance:
    id: str
    host: str
    pid: int
    config_version: str
    #: epoch seconds
    started: float
    #: epoch ms of the last heartbeat (the Redis clock)
    last_seen_ms: int

    def to_json(self) -> dict[str, object]:
        return {"id": self.id, "host": self.host, "pid": self.pid, "config_version": self.config_version,
                "started": self.started, "last_seen_ms": self.last_seen_ms}


class Presence:
    """This process's heartbeat."""

    def __init__(self, redis: Any, holder: ConfigHolder, *, interval_s: float = HEARTBEAT_S,
                 ttl_s: float = ALIVE_TTL_S) -> None:
        self.redis = redis
        self.holder = holder
        self.interval_s = interval_s
        self.ttl_s = ttl_s
        self.host = socket.gethostname()
        self.pid = os.getpid()
        self.id = f"{self.host}:{self.pid}:{uuid.uuid4().hex[:6]}"
        self.started = time.time()

    async def beat(self) -> None:
        info = {"host": self.host, "pid": self.pid, "config_version": self.holder.current.version,
                "started": self.started}
        await presence.beat(self.redis, self.id, info, int(self.ttl_s * 1000))

    async def run(self) -> None:
        """Heartbeat until cancelled, and at once when the config version changes; a Redis outage is logged
        once and retried at the next beat."""
        changed = asyncio.Event()

        def on_reload(_: object) -> None:
            changed.set()

        self.holder.add_listener(on_reload)
        failing = False
        try:
            while True:
                changed.clear()
                try:
                    async with asyncio.timeout(self.interval_s):
                        await self.beat()
                    failing = False
                except STORE_ERRORS as exc:
                    if not failing:
                        log.warning("heartbeat not written (%s: %s); retrying", type(exc).__name__, exc)
                    failing = True
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self.interval_s):
                        await changed.wait()
        finally:
            self.holder.remove_listener(on_reload)

    async def leave(self) -> None:
        with contextlib.suppress(*STORE_ERRORS):
            async with asyncio.timeout(1.0):
                await presence.leave(self.redis, self.id)


async def screeners_alive(redis: Any, ttl_s: float = ALIVE_TTL_S) -> list[ScreenerInstance]:
    out = []
    for sid, seen, info in await presence.alive(redis, int(ttl_s * 1000)):
        out.append(ScreenerInstance(id=sid, host=str(info.get("host", "")), pid=int(info.get("pid", 0)),
                                    config_version=str(info.get("config_version", "")),
                                    started=float(info.get("started", 0.0)), last_seen_ms=seen))
    return sorted(out, key=lambda s: s.id)
