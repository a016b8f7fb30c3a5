"""The service layer: what every front end (FastAGI, classic AGI, ARI, the CLI, the admin API) calls.

``screening`` decides calls (the flow of PRODUCT.md, fail closed); the administrative use cases (DNC
lists, consent, the audit trail) live beside it, one module each. Front ends import from here, never
from ``screener.store``.
"""

from screener.service.screening import DisclosureEvent, Screener, ScreenerLike, StoreUnavailable, connect
from screener.store.topology import AnyClient, RedisUrlError, open_client, parse_redis_url, redact

__all__ = ["AnyClient", "DisclosureEvent", "RedisUrlError", "Screener", "ScreenerLike", "StoreUnavailable", "connect",
           "open_client", "parse_redis_url", "redact"]
