"""Connecting to Redis, as the service and the front ends see it: the URL forms of every topology (one server,
Sentinel, Cluster), checked and opened by ``store.topology`` (every client of the screener comes from its
``open_client``), and a URL made safe to print."""

from __future__ import annotations

from screener.store.topology import AnyClient, RedisUrlError, open_client, parse_redis_url, redact


def open_redis(url: str, *, timeout_s: float = 5.0, max_connections: int | None = None) -> AnyClient:
    """A client of the URL's topology (one server, Sentinel master, Cluster) whose every socket operation,
    connecting included, takes at most ``timeout_s``. Nothing connects until the first command; a bad URL
    raises ``RedisUrlError`` naming it (passwords hidden)."""
    return open_client(url, socket_timeout=timeout_s, connect_timeout=timeout_s, max_connections=max_connections)


__all__ = ["AnyClient", "RedisUrlError", "open_client", "open_redis", "parse_redis_url", "redact"]
