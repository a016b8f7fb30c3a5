"""Connecting to Redis, as the front ends see it: the URL forms of every topology (one server, Sentinel,
Cluster), checked and opened by ``store.topology``, and a URL made safe to print."""

from screener.store.topology import AnyClient, RedisUrlError, open_client, parse_redis_url, redact

__all__ = ["AnyClient", "RedisUrlError", "open_client", "parse_redis_url", "redact"]
