"""Errors the service raises for input a user can correct (the CLI prints them, the admin API answers 4xx)."""

from __future__ import annotations

from collections.abc import Iterable


class InvalidInput(ValueError):
    """Input the service refuses, with a message that names it (``str(exc)``)."""


class BadNumber(InvalidInput):
    """A number that cannot be read, or an emergency number where none may be (a DNC list, consent)."""


class UnknownCampaign(InvalidInput):
    """A campaign name that the running config does not have (``name``); the message lists the known ones."""

    def __init__(self, name: str, known: Iterable[str] = ()) -> None:
        self.name = name
        super().__init__(f"unknown campaign {name!r} (known: {', '.join(sorted(known)) or 'none'})")


class NotFound(LookupError):
    """A record that does not exist (e.g. a consent record to revoke)."""
