"""Building AGI command lines that cannot carry a second command.

Asterisk reads one command per ``\\n``-terminated line into a buffer of 8192 bytes (22.6+) or 2048 (older);
a ``\\n`` inside a value, or a line longer than the buffer, ends the command early and the remainder runs as
the next command (``EXEC System ...``). ``parse_args`` splits on spaces and tabs, groups ``"..."`` and
unescapes ``\\"`` and ``\\\\``. So every value here is checked for control characters, escaped, wrapped in
quotes and capped; names, file names and digit sets are checked against tight patterns. A ``Command`` is
only made by the builders below, and ``Command.encode`` checks the final line once more.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from screener.agi.errors import UnsafeValueError

#: the longest quoted value we send, in bytes after escaping (well under the 2048 line buffer of old Asterisk)
MAX_VALUE_BYTES = 1024
#: the longest command line we send, without the newline (older Asterisk reads at most 2047 bytes)
MAX_COMMAND_BYTES = 2000

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,79}(\([A-Za-z0-9_,]{0,80}\))?")
_FILE = re.compile(r"/?[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*")
_DIGITS = re.compile(r"[0-9*#]{0,12}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True)
class Command:
    """One AGI command line without its newline; ``verb`` names it in logs."""

    verb: str
    line: str

    def encode(self) -> bytes:
        data = self.line.encode("utf-8")
        if _CONTROL.search(self.line) or len(data) > MAX_COMMAND_BYTES:
            raise UnsafeValueError(f"refusing to send an unsafe {self.verb} command line")
        return data + b"\n"


def sanitize(value: str, *, max_chars: int = 256) -> str:
    """Untrusted text made safe to echo: control characters removed, at most ``max_chars`` characters."""
    return _CONTROL.sub("", value)[:max_chars]


def quote(value: str, *, max_bytes: int = MAX_VALUE_BYTES) -> str:
    """``value`` as one quoted AGI argument. Raises UnsafeValueError on CR, LF, NUL (any control) or length."""
    if _CONTROL.search(value):
        raise UnsafeValueError("value contains a control character (CR, LF, NUL...)")
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    if len(escaped.encode("utf-8")) > max_bytes:
        raise UnsafeValueError(f"value longer than {max_bytes} bytes")
    return f'"{escaped}"'


def check_name(name: str) -> str:
    """A channel variable name (``NAME`` or ``FUNC(args)``) of letters, digits and underscores."""
    if not _NAME.fullmatch(name):
        raise UnsafeValueError(f"not a safe variable name: {name!r}")
    return name


def check_file(name: str) -> str:
    """A sound file as Asterisk plays it: path segments of letters, digits, ``_ . -``, no ``..``."""
    if not _FILE.fullmatch(name) or ".." in name.split("/") or len(name) > 256:
        raise UnsafeValueError(f"not a safe sound file name: {name!r}")
    return name


def check_digits(digits: str) -> str:
    if not _DIGITS.fullmatch(digits):
        raise UnsafeValueError(f"not a DTMF digit set: {digits!r}")
    return digits


def set_variable(name: str, value: str) -> Command:
    return Command("SET VARIABLE", f"SET VARIABLE {check_name(name)} {quote(value)}")


def get_variable(name: str) -> Command:
    return Command("GET VARIABLE", f"GET VARIABLE {check_name(name)}")


def stream_file(file: str, escape_digits: str = "") -> Command:
    return Command("STREAM FILE", f'STREAM FILE {check_file(file)} "{check_digits(escape_digits)}"')


def wait_for_digit(timeout_ms: int) -> Command:
    return Command("WAIT FOR DIGIT", f"WAIT FOR DIGIT {int(timeout_ms)}")


def verbose(message: str, level: int = 1) -> Command:
    return Command("VERBOSE", f"VERBOSE {quote(sanitize(message, max_chars=200))} {int(level)}")


def noop() -> Command:
    return Command("NOOP", "NOOP")
