"""What a ``Screener`` tells its observers (metrics, statistics): every ``Decision`` it makes, every
``DisclosureEvent`` it records and every ``OptOut`` Redis acknowledged.

Observers run synchronously in the decision's path: they must only count (no I/O, no await); one that
raises is logged and never affects the call.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

log = logging.getLogger("screener.observe")


@dataclass(frozen=True)
class OptOut:
    """A number put on the internal DNC list by the callee (acknowledged by Redis)."""

    number: str
    campaign: str
    source: str


Observer = Callable[[object], None]


class Observers:
    """A list of observers, each called with every event; exceptions are logged and swallowed."""

    def __init__(self) -> None:
        self._observers: list[Observer] = []

    def add(self, observer: Observer) -> None:
        self._observers.append(observer)

    def remove(self, observer: Observer) -> None:
        if observer in self._observers:
            self._observers.remove(observer)

    def notify(self, event: object) -> None:
        for observer in self._observers:
            try:
                observer(event)
            except Exception:
                log.exception("observer %r failed", observer)
