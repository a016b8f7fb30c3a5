"""Connecting to Redis, as the service and the front ends see it: the URL forms of every topology (one server,
Sentinel, Cluster), checked and opened by the store's one opener (``store.topology.open_client``: every client
of the screener comes from it), and a URL made safe to print (``redact``). Front ends import them from here,
never from ``screener.store``."""

from __future__ import annotations

from screener.store.topology import AnyClient, RedisUrlError, open_client, parse_redis_url, redact

__all__ = ["AnyClient", "RedisUrlError", "open_client", "parse_redis_url", "redact"]
