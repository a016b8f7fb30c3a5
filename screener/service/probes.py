"""What the front ends running in one process report about themselves, for /readyz and /metrics: named
gauges (calls in flight) and named readiness checks (ARI connected). No front end knows another: each
registers its own here, and the admin server reads them."""

from __future__ import annotations

from collections.abc import Callable

#: FastAGI sessions in flight
FASTAGI_SESSIONS = "fastagi_sessions"
#: ARI calls in flight
ARI_CALLS = "ari_calls"
#: the ARI events WebSocket is open and registered
ARI_CONNECTED = "ari_connected"


class Probes:
    def __init__(self) -> None:
        self._gauges: dict[str, Callable[[], float]] = {}
        self._checks: dict[str, Callable[[], bool]] = {}

    def add_gauge(self, name: str, read: Callable[[], float]) -> None:
        self._gauges[name] = read

    def add_check(self, name: str, check: Callable[[], bool]) -> None:
        self._checks[name] = check

    def gauge(self, name: str) -> float:
        """The gauge's value; 0 when no front end registered it (that front end is not running)."""
        read = self._gauges.get(name)
        return float(read()) if read is not None else 0.0

    def check(self, name: str) -> bool | None:
        """The check's result; None when no front end registered it."""
        check = self._checks.get(name)
        return bool(check()) if check is not None else None
