"""Typed reads from a parsed TOML table, each failure naming the file, the dotted key and the problem."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from datetime import time
from itertools import pairwise
from typing import Any

from screener.config.errors import ConfigError
from screener.config.settings import WEEKDAYS, TimeRange

_DURATION = re.compile(r"(?:(\d+)([wdhms]))")
_DURATION_FULL = re.compile(r"(?:\d+[wdhms])+")
_UNIT_S = {"w": 604_800, "d": 86_400, "h": 3_600, "m": 60, "s": 1}
_CLOCK = re.compile(r"(\d{1,2}):(\d{2})")
_MISSING: Any = object()

#: hours-table keys that stand for several weekdays, applied before the single days (which win)
DAY_GROUPS: dict[str, tuple[str, ...]] = {
    "daily": WEEKDAYS,
    "weekdays": WEEKDAYS[:5],
    "weekend": WEEKDAYS[5:],
}


def _type_name(value: object) -> str:
    return {bool: "a boolean", int: "an integer", float: "a number", str: "a string", list: "a list",
            dict: "a table"}.get(type(value), type(value).__name__)  # fmt: skip


class Node:
    """One TOML table at a dotted ``key`` of ``file``."""

    def __init__(self, data: dict[str, Any], file: str, key: str = "") -> None:
        self.data = data
        self.file = file
        self.key = key

    def path(self, name: str) -> str:
        return f"{self.key}.{name}" if self.key else name

    def error(self, name: str | None, problem: str) -> ConfigError:
        return ConfigError(self.file, self.path(name) if name is not None else self.key, problem)

    def check_keys(self, allowed: Iterable[str]) -> None:
        known = list(allowed)
        for name in self.data:
            if name not in known:
                raise self.error(name, f"unknown key (known here: {', '.join(known)})")

    def has(self, name: str) -> bool:
        return name in self.data

    def raw(self, name: str, default: Any = _MISSING) -> Any:
        if name in self.data:
            return self.data[name]
        if default is _MISSING:
            raise self.error(name, "missing (required)")
        return default

    def string(self, name: str, default: Any = _MISSING, *, nonempty: bool = False) -> str:
        value = self.raw(name, default)
        if not isinstance(value, str):
            raise self.error(name, f"expected a string, got {_type_name(value)}")
        if nonempty and not value.strip():
            raise self.error(name, "must not be empty")
        return value

    def boolean(self, name: str, default: Any = _MISSING) -> bool:
        value = self.raw(name, default)
        if not isinstance(value, bool):
            raise self.error(name, f"expected true or false, got {_type_name(value)}")
        return value

    def integer(self, name: str, default: Any = _MISSING, *, low: int | None = None, high: int | None = None) -> int:
        value = self.raw(name, default)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.error(name, f"expected an integer, got {_type_name(value)}")
        self._range(name, value, low, high)
        return value

    def number(
        self, name: str, default: Any = _MISSING, *, low: float | None = None, high: float | None = None
    ) -> float:
        value = self.raw(name, default)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.error(name, f"expected a number, got {_type_name(value)}")
        if not math.isfinite(value):  # nan passes every comparison; inf is no setting either
            raise self.error(name, f"{value} is not a finite number")
        self._range(name, value, low, high)
        return float(value)

    def _range(self, name: str, value: float, low: float | None, high: float | None) -> None:
        if low is not None and value < low:
            raise self.error(name, f"{value} is out of range: must be at least {low}")
        if high is not None and value > high:
            raise self.error(name, f"{value} is out of range: must be at most {high}")

    def strings(self, name: str, default: Any = _MISSING) -> tuple[str, ...]:
        value = self.raw(name, default)
        if isinstance(value, str) or not isinstance(value, list | tuple):
            raise self.error(name, f"expected a list of strings, got {_type_name(value)}")
        for i, item in enumerate(value):
            if not isinstance(item, str):
                raise self.error(f"{name}[{i}]", f"expected a string, got {_type_name(item)}")
        return tuple(value)

    def table(self, name: str, *, required: bool = False) -> Node:
        value = self.raw(name, _MISSING if required else {})
        if not isinstance(value, dict):
            raise self.error(name, f"expected a table, got {_type_name(value)}")
        return Node(value, self.file, self.path(name))

    def tables(self, name: str) -> list[Node]:
        """An array of tables (``[[x]]`` or a list of inline tables)."""
        value = self.raw(name, [])
        if not isinstance(value, list):
            raise self.error(name, f"expected a list of tables, got {_type_name(value)}")
        nodes = []
        for i, item in enumerate(value):
            if not isinstance(item, dict):
                raise self.error(f"{name}[{i}]", f"expected a table, got {_type_name(item)}")
            nodes.append(Node(item, self.file, f"{self.path(name)}[{i}]"))
        return nodes

    def children(self) -> list[tuple[str, Node]]:
        """The sub-tables of this table (``[lists.NAME]``), each checked to be a table."""
        out = []
        for name in self.data:
            out.append((name, self.table(name)))
        return out

    def duration(self, name: str, default: Any = _MISSING, *, high: int | None = None) -> int:
        """Seconds, from "90s", "30m", "24h", "7d", "2w", "1h30m" or an integer of seconds."""
        value = self.raw(name, default)
        if isinstance(value, bool):
            raise self.error(name, 'expected a duration such as "90s", "30m", "24h" or "7d"')
        if isinstance(value, int):
            seconds = value
        elif isinstance(value, str) and _DURATION_FULL.fullmatch(value.strip()):
            seconds = sum(int(n) * _UNIT_S[unit] for n, unit in _DURATION.findall(value.strip()))
        else:
            raise self.error(name, f'{value!r} is not a duration such as "90s", "30m", "24h" or "7d"')
        if seconds < 0:
            raise self.error(name, "a duration cannot be negative")
        if high is not None and seconds > high:
            raise self.error(name, f"{value!r} is out of range: at most {high // 86_400} days")
        return seconds

    def weekday(self, name: str, default: Any = _MISSING) -> str:
        value = self.string(name, default).strip().lower()
        if value not in WEEKDAYS:
            raise self.error(name, f"{value!r} is not a weekday (one of {', '.join(WEEKDAYS)})")
        return value


def parse_clock(text: str, *, allow_24: bool) -> time | None:
    """ "08:00" -> time(8, 0); "24:00" -> None (end of day) when ``allow_24``; ValueError otherwise."""
    match = _CLOCK.fullmatch(text.strip())
    if not match:
        raise ValueError(f"{text!r} is not a time of day HH:MM")
    hour, minute = int(match.group(1)), int(match.group(2))
    if allow_24 and hour == 24 and minute == 0:
        return None
    if hour > 23 or minute > 59:
        raise ValueError(f"{text!r} is not a time of day (00:00 to 23:59, or 24:00 as an end)")
    return time(hour, minute)


def parse_range(text: str, *, wrap: bool) -> tuple[TimeRange, ...]:
    """ "08:00-21:00" -> one range. With ``wrap``, "21:00-09:00" crosses midnight: two ranges."""
    parts = text.split("-")
    if len(parts) != 2:
        raise ValueError(f"{text!r} is not a time range HH:MM-HH:MM")
    start = parse_clock(parts[0], allow_24=False)
    end = parse_clock(parts[1], allow_24=True)
    assert start is not None
    if end is not None and end <= start:
        if not wrap:
            raise ValueError(
                f"{text!r}: the end must be after the start (a range cannot cross midnight here; "
                "write the evening part on this day and the morning part on the next)"
            )
        if end == time(0, 0):
            return (TimeRange(start, None),)
        return (TimeRange(start, None), TimeRange(time(0, 0), end))
    return (TimeRange(start, end),)


def ranges(node: Node, name: str, *, wrap: bool) -> tuple[TimeRange, ...]:
    """A string range, a list of ranges, or [] / "closed" for none; sorted, overlaps refused."""
    value = node.raw(name)
    items: list[str]
    if isinstance(value, str):
        items = [] if value.strip().lower() in ("", "closed", "none") else [value]
    elif isinstance(value, list) and all(isinstance(v, str) for v in value):
        items = list(value)
    else:
        raise node.error(name, f'expected "HH:MM-HH:MM" or a list of them, got {_type_name(value)}')
    out: list[TimeRange] = []
    for text in items:
        try:
            out.extend(parse_range(text, wrap=wrap))
        except ValueError as exc:
            raise node.error(name, str(exc)) from None
    out.sort(key=lambda r: r.start)
    for a, b in pairwise(out):
        if a.end is None or a.end > b.start:
            raise node.error(name, f"ranges {a} and {b} overlap")
    return tuple(out)
