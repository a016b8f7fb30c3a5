"""What the store tells the engine about one number, read in the decision's single round trip."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Attempt:
    """An earlier attempt to call the number (reserved by a live decision)."""

    at_ms: int
    campaign: str
    subject: str


@dataclass(frozen=True)
class ListState:
    """What the screener knows of a DNC list's live version (from its metadata)."""

    name: str
    version: str
    #: epoch seconds of the last full import; None: never imported (an internal list need not be)
    imported_at: float | None = None
    count: int = 0
    source: str = ""
    #: prefix entries (``+1201``): every number under one is on the list (internal and campaign lists)
    prefixes: frozenset[str] = frozenset()


@dataclass(frozen=True)
class StoreFacts:
    """Facts about one number from Redis."""

    #: names of the DNC lists (among those the campaign applies) that contain the number
    dnc_hits: tuple[str, ...] = ()
    #: names of the DNC lists whose version (the one the screener read) was freed meanwhile: they cannot answer
    dnc_gone: tuple[str, ...] = ()
    #: True when a consent record for the campaign's purpose is granted, unexpired and unrevoked
    consent_valid: bool = False
    #: earlier attempts inside the retention window, oldest first
    attempts: tuple[Attempt, ...] = ()
    #: epoch ms of the number's last refusal, if any
    last_refusal_ms: int | None = None
    #: calls the campaign started in the decision's second, before this one
    rate_count: int = 0
    #: epoch ms of the number's last abandoned call by the campaign, if any
    last_abandoned_ms: int | None = None
    #: calls of the campaign in progress (decided, end not reported, lease not expired), before this one
    calls_in_flight: int = 0
    extra: dict[str, str] = field(default_factory=dict)
