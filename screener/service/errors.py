"""Errors the service raises for input a user can correct (the CLI prints them, the admin API answers 4xx)."""

from __future__ import annotations


class InvalidInput(ValueError):
    """Input the service refuses, with a message that names it (``str(exc)``)."""


class BadNumber(InvalidInput):
    """A number that cannot be read, or an emergency number where none may be (a DNC list, consent)."""


class UnknownCampaign(InvalidInput):
    """A campaign name that the running config does not have."""


class NotFound(LookupError):
    """A record that does not exist (e.g. a consent record to revoke)."""
