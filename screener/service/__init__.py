"""The service layer: what every front end (FastAGI, classic AGI, ARI, the CLI, the admin API) calls.

``screening`` decides calls (the flow of PRODUCT.md, fail closed); the administrative use cases (DNC
lists, consent, the audit trail) live beside it, one module each. Front ends import from here, never
from ``screener.store``.
"""

from screener.service.screening import DisclosureEvent, Screener, ScreenerLike, StoreUnavailable, connect

__all__ = ["DisclosureEvent", "Screener", "ScreenerLike", "StoreUnavailable", "connect"]
