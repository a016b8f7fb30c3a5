"""The admin server on a real loopback port, over a real Screener, ConfigHolder and redis-server.

``admin`` gives a running server (``[admin] listen = 127.0.0.1:0``) with the heartbeat and the decision
statistics running as in ``screener serve``, one token per role, and an aiohttp client.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import redis.asyncio as aioredis

from screener.admin import AdminServer, admin_context, admin_server
from screener.admin.auth import BadTokenThrottle
from screener.config.watch import ConfigHolder
from screener.decision import Decision, ScreenRequest
from screener.embedded_redis import EmbeddedRedis
from screener.service.operations import background_operations
from screener.service.probes import Probes
from screener.service.screening import Screener
from screener.service.tokens import Role, create_token
from screener.store import audit
from tests.cli.lab_config import write_config

#: a comment that an edit through the API must keep
COMMENT = "# supervisors: keep the lab campaign gentle"


@dataclass
class Admin:
    server: AdminServer
    screener: Screener
    holder: ConfigHolder
    config: Path
    redis: aioredis.Redis
    session: aiohttp.ClientSession
    probes: Probes
    tokens: dict[Role, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return self.server.url.rstrip("/")

    def headers(self, role: Role | None, **extra: str) -> dict[str, str]:
        headers = dict(extra)
        if role is not None:
            headers["Authorization"] = f"Bearer {self.tokens[role]}"
        return headers

    async def request(self, method: str, path: str, role: Role | None = None, *, json: Any = None,
                      data: str | None = None, headers: dict[str, str] | None = None) -> tuple[int, Any, Any]:
        """(status, decoded JSON or text, response headers)."""
        async with self.session.request(method, self.url + path, json=json, data=data,
                                        headers={**self.headers(role), **(headers or {})}) as resp:
            text = await resp.text()
            body: Any = text
            if text.strip():
                try:
                    body = await resp.json(content_type=None)
                except ValueError:
                    body = text
            return resp.status, body, resp.headers

    async def decide(self, number: str = "+12125550142", campaign: str = "lab", *, commit: bool = True) -> Decision:
        return await self.screener.screen(ScreenRequest(dialed=number, campaign=campaign, commit=commit,
                                                        source="fastagi"))


def lab_config(folder: Path, redis_url: str) -> Path:
    path = write_config(folder, redis_url)
    text = path.read_text().replace("[campaigns.lab]\n", f"{COMMENT}\n[campaigns.lab]\n")
    path.write_text(text)
    return path


AdminFactory = Callable[..., Any]


@pytest.fixture
async def make_admin(tmp_path: Path, redis_server: EmbeddedRedis,
                     redis_client: aioredis.Redis) -> AsyncIterator[AdminFactory]:
    """Start an admin server: ``await make_admin(redis_url=..., metrics_require_token=..., throttle=...)``."""
    started: list[tuple[Any, Any, Screener, aiohttp.ClientSession]] = []

    async def factory(*, redis_url: str | None = None, throttle: BadTokenThrottle | None = None,
                      config_text: Callable[[str], str] | None = None, heartbeat_s: float | None = None,
                      **admin_settings: Any) -> Admin:
        url = redis_url or redis_server.url
        index = len(started)
        config = lab_config(tmp_path / f"admin{index}", url)
        if config_text is not None:
            config.write_text(config_text(config.read_text()))
        holder = ConfigHolder(config)
        screener = await Screener.create(holder, url)
        probes = Probes()
        settings = replace(holder.current.admin, **admin_settings)
        operations = background_operations(screener, flush_s=0.1, heartbeat_s=heartbeat_s)
        await operations.__aenter__()
        server_cm = admin_server(admin_context(screener, url, probes, settings, throttle))
        server = await server_cm.__aenter__()
        session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30))
        started.append((server_cm, operations, screener, session))
        admin = Admin(server, screener, holder, config, redis_client, session, probes)
        for role in Role:
            admin.tokens[role] = await create_token(screener.redis, f"{role.value}-{index}", role)
        return admin

    yield factory
    for server_cm, operations, screener, session in reversed(started):
        await session.close()
        await server_cm.__aexit__(None, None, None)
        await operations.__aexit__(None, None, None)
        await screener.aclose()


@pytest.fixture
async def admin(make_admin: AdminFactory) -> Admin:
    result: Admin = await make_admin()
    return result


async def audit_rows(redis: aioredis.Redis) -> list[tuple[bytes, dict[bytes, bytes]]]:
    """Every entry of every audit group's stream, merged in id order, as ``XRANGE`` rows (bytes)."""
    names = await audit.groups(redis)
    merged = audit.merged([audit.scan_group(redis, g) for g in names])
    return [(e.id.encode(), {k.encode(): v.encode() for k, v in e.fields.items()}) async for e in merged]
