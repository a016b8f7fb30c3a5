"""What the admin application's handlers share: the running service, its config and its probes."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from aiohttp import web

from screener.admin.auth import CALLER_KEY, BadTokenThrottle, Handler, authorize
from screener.admin.metrics import Metrics
from screener.config.settings import AdminSettings
from screener.config.watch import ConfigHolder
from screener.service.config_edit import ConfigEditor
from screener.service.connection import AnyClient
from screener.service.live import LiveFeed
from screener.service.probes import Probes
from screener.service.screening import Screener
from screener.service.tokens import Role


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class AdminContext:
    holder: ConfigHolder
    screener: Screener
    #: the same Redis as the screener's, on connections of its own whose operations may take longer than a
    #: decision's time budget (an audit export, a status read on a busy server)
    redis: AnyClient
    probes: Probes
    metrics: Metrics
    feed: LiveFeed
    editor: ConfigEditor
    throttle: BadTokenThrottle
    #: the [admin] settings the server started with (listen and TLS need a restart to change)
    settings: AdminSettings
    clock: Callable[[], datetime] = field(default=_utc_now)


CONTEXT = web.AppKey("context", AdminContext)


def context(request: web.Request) -> AdminContext:
    return request.app[CONTEXT]


def requires(role: Role) -> Callable[[Handler], Handler]:
    """A handler that runs only for a token whose role allows ``role`` (see ``authorize``)."""

    def wrap(handler: Handler) -> Handler:
        @functools.wraps(handler)
        async def guarded(request: web.Request) -> web.StreamResponse:
            ctx = context(request)
            request[CALLER_KEY] = await authorize(request, role, ctx.throttle, ctx.redis)
            return await handler(request)

        return guarded

    return wrap
