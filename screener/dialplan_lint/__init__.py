"""`screener lint-dialplan`: find outbound routes in an Asterisk dialplan that reach a trunk unscreened."""

from screener.dialplan_lint.analyze import Finding, entry_contexts, find_unscreened
from screener.dialplan_lint.parser import DialplanReadError, read_dialplan

__all__ = ["DialplanReadError", "Finding", "entry_contexts", "find_unscreened", "read_dialplan"]
