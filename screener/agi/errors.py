"""AGI errors, split by who is at fault (h11 style): the peer, us, or the clock."""

from __future__ import annotations


class AgiError(Exception):
    """Base of every AGI front-end error."""


class RemoteProtocolError(AgiError):
    """Asterisk (or whoever connected) sent something that is not AGI: garbled, truncated or over-long."""


class LocalProtocolError(AgiError):
    """We tried to send something the protocol does not allow (a second command in flight, an unsafe value)."""


class UnsafeValueError(LocalProtocolError):
    """A value or name that could break out of its AGI command line (newline, NUL, over-long, bad name)."""


class AgiTimeout(AgiError):
    """The peer did not answer within the deadline."""


class ConnectionLost(AgiError):
    """The peer closed the connection while a reply was still expected."""
