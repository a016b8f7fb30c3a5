"""Typed events of the AGI codec: frozen dataclasses, never dicts."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final


@dataclass(frozen=True)
class AgiEnvironment:
    """The ``agi_*`` header block Asterisk sends first; ``args`` are ``agi_arg_1..N`` in order."""

    fields: dict[str, str] = field(default_factory=dict)
    args: tuple[str, ...] = ()
    #: what was wrong with a header block that could still be read (a raw newline in a caller-supplied
    #: value, a field given twice): a request built from it is refused (``invalid_request``)
    problems: tuple[str, ...] = ()

    def get(self, key: str, default: str = "") -> str:
        return self.fields.get(key, default)

    @property
    def network_script(self) -> str:
        """``agi_network_script`` as sent (it may carry a ``?query``)."""
        return self.get("agi_network_script")

    @property
    def script(self) -> str:
        """The script name without any ``?query`` part and surrounding slashes."""
        return self.network_script.split("?", 1)[0].strip("/")

    @property
    def channel(self) -> str:
        return self.get("agi_channel")

    @property
    def uniqueid(self) -> str:
        return self.get("agi_uniqueid")

    @property
    def callerid(self) -> str:
        return self.get("agi_callerid")

    @property
    def language(self) -> str:
        return self.get("agi_language")

    def arg(self, n: int) -> str:
        """``agi_arg_n`` (1-based), or "" when absent."""
        return self.args[n - 1] if 0 < n <= len(self.args) else ""


@dataclass(frozen=True)
class Reply:
    """One reply line: ``200 result=<r>[ (data)][ endpos=<n>]``, 510, 511, or 520 (usage text in ``text``)."""

    code: int
    result: str = ""
    data: str | None = None
    endpos: int | None = None
    #: the message after the code for 510/511/520 (multi-line usage joined with "\n")
    text: str = ""

    @property
    def ok(self) -> bool:
        return self.code == 200

    @property
    def result_int(self) -> int | None:
        try:
            return int(self.result)
        except ValueError:
            return None

    @property
    def digit(self) -> str | None:
        """For STREAM FILE / WAIT FOR DIGIT: the pressed digit (result is its ASCII code), else None."""
        n = self.result_int if self.ok else None
        if n is None or n <= 0 or n > 127:
            return None
        return chr(n)


@dataclass(frozen=True)
class HangupNotice:
    """A bare ``HANGUP`` line: the channel hung up. Out of band: a pending command's reply still follows."""


@dataclass(frozen=True)
class ConnectionClosed:
    """The peer closed the connection at a clean boundary (no partial line)."""


class NeedData:
    """``next_event()`` needs more bytes before it can return an event."""

    def __repr__(self) -> str:
        return "NEED_DATA"


NEED_DATA: Final = NeedData()

Event = AgiEnvironment | Reply | HangupNotice | ConnectionClosed
