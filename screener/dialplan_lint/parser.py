"""A small reader for Asterisk extensions.conf: contexts, extensions, priorities, includes, #include files.

It keeps what the route check needs (application names and raw arguments with their file and line) and
nothing else. ``#include`` paths are relative to the including file; ``#exec`` is ignored.
"""

from __future__ import annotations

import glob
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

#: contexts that hold settings, not dialplan
NOT_DIALPLAN = {"general", "globals"}

_CONTEXT = re.compile(r"\[([^\]]+)\]\s*(\([^)]*\))?\s*$")
_ASSIGN = re.compile(r"(exten|same|include)\s*=>?\s*(.*)$", re.I)
_INCLUDE_FILE = re.compile(r"#include\s+[\"<]?([^\">]+)[\">]?\s*$", re.I)
_PRIORITY = re.compile(r"\s*(n|\d+|hint|s)(?:\+(\d+))?(?:\(([^)]*)\))?\s*$", re.I)


class DialplanReadError(Exception):
    """A file of the dialplan could not be read (missing, unreadable, include loop)."""


@dataclass(frozen=True)
class Step:
    """One priority: ``app(args)`` at ``file:line``."""

    file: str
    line: int
    priority: int
    label: str
    app: str
    args: str

    @property
    def text(self) -> str:
        return f"{self.app}({self.args})"


@dataclass
class Extension:
    pattern: str
    steps: list[Step] = field(default_factory=list)


@dataclass
class Context:
    name: str
    file: str
    line: int
    extensions: list[Extension] = field(default_factory=list)
    #: (included context, file, line)
    includes: list[tuple[str, str, int]] = field(default_factory=list)

    def extension(self, pattern: str) -> Extension:
        for ext in self.extensions:
            if ext.pattern == pattern:
                return ext
        ext = Extension(pattern)
        self.extensions.append(ext)
        return ext


@dataclass
class Dialplan:
    contexts: dict[str, Context] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)


def strip_comment(line: str) -> str:
    """Drop a ``;`` comment (``\\;`` is a literal semicolon)."""
    out = []
    i = 0
    while i < len(line):
        ch = line[i]
        if ch == "\\" and i + 1 < len(line) and line[i + 1] == ";":
            out.append(";")
            i += 2
            continue
        if ch == ";":
            break
        out.append(ch)
        i += 1
    return "".join(out).strip()


def split_app(text: str) -> tuple[str, str]:
    """``App(args)`` → ("App", "args"); ``App`` → ("App", ""); old ``App,args`` → ("App", "args")."""
    text = text.strip()
    m = re.match(r"([A-Za-z0-9_]+)\s*(.*)$", text, re.S)
    if m is None:
        return text, ""
    name, rest = m.group(1), m.group(2).strip()
    if rest.startswith("(") and rest.endswith(")"):
        return name, rest[1:-1]
    if rest.startswith("("):
        return name, rest[1:]
    return name, rest.lstrip(",")


def split_args(text: str, sep: str = ",") -> list[str]:
    """Split at top-level ``sep`` (not inside (), [], {}, or quotes)."""
    parts: list[str] = []
    depth = 0
    quoted = False
    cur: list[str] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text):
            cur.append(text[i:i + 2])
            i += 2
            continue
        if ch == '"':
            quoted = not quoted
        elif not quoted and ch in "([{":
            depth += 1
        elif not quoted and ch in ")]}":
            depth = max(0, depth - 1)
        elif not quoted and depth == 0 and ch == sep:
            parts.append("".join(cur))
            cur = []
            i += 1
            continue
        cur.append(ch)
        i += 1
    parts.append("".join(cur))
    return parts


class _Reader:
    def __init__(self) -> None:
        self.plan = Dialplan()
        self.context: Context | None = None
        self.last_ext: Extension | None = None
        self.last_prio = 0
        self._stack: list[str] = []

    def read_file(self, path: Path) -> None:
        real = os.path.realpath(path)
        if real in self._stack:
            raise DialplanReadError(f"{path}: #include loop")
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError as exc:
            raise DialplanReadError(f"{path}: {exc.strerror or exc}") from exc
        self._stack.append(real)
        self.plan.files.append(str(path))
        for number, raw in enumerate(text.splitlines(), 1):
            self._line(path, number, raw)
        self._stack.pop()

    def _line(self, path: Path, number: int, raw: str) -> None:
        line = strip_comment(raw)
        if not line:
            return
        inc = _INCLUDE_FILE.match(line)
        if inc:
            self._include_file(path, inc.group(1).strip())
            return
        if line.startswith("#"):
            return  # #exec and friends
        ctx = _CONTEXT.match(line)
        if ctx:
            name = ctx.group(1).strip()
            self.context = self.plan.contexts.setdefault(name, Context(name, str(path), number))
            self.last_ext = None
            return
        m = _ASSIGN.match(line)
        if m is None or self.context is None or self.context.name.lower() in NOT_DIALPLAN:
            return
        kind, value = m.group(1).lower(), m.group(2).strip()
        if kind == "include":
            self.context.includes.append((value.split(",")[0].strip(), str(path), number))
        elif kind == "exten":
            parts = split_args(value)
            if len(parts) >= 3:
                self.last_ext = self.context.extension(parts[0].strip())
                self._step(path, number, parts[1], ",".join(parts[2:]))
        elif kind == "same" and self.last_ext is not None:
            parts = split_args(value)
            if len(parts) >= 2:
                self._step(path, number, parts[0], ",".join(parts[1:]))

    def _step(self, path: Path, number: int, prio_text: str, app_text: str) -> None:
        assert self.last_ext is not None
        m = _PRIORITY.match(prio_text)
        if m is None:
            return
        prio, label = m.group(1).lower(), (m.group(3) or "").strip()
        if prio == "hint":
            return
        if prio == "n":
            self.last_prio += 1 + int(m.group(2) or 0)
        elif prio.isdigit():
            self.last_prio = int(prio)
        app, args = split_app(app_text)
        self.last_ext.steps.append(Step(str(path), number, self.last_prio, label, app, args))

    def _include_file(self, path: Path, name: str) -> None:
        target = Path(name) if os.path.isabs(name) else path.parent / name
        matches = sorted(glob.glob(str(target))) if any(c in name for c in "*?[") else [str(target)]
        for match in matches:
            self.read_file(Path(match))


def read_dialplan(path: str | os.PathLike[str]) -> Dialplan:
    """Read ``path`` and every file it ``#include``s. Raises DialplanReadError, also when no file has a dialplan
    ``[context]`` header (not an extensions.conf: a clean result would mean nothing)."""
    reader = _Reader()
    reader.read_file(Path(path))
    if not any(name.lower() not in NOT_DIALPLAN for name in reader.plan.contexts):
        found = ", ".join(f"[{name}]" for name in reader.plan.contexts)
        raise DialplanReadError(f"{path}: no dialplan [context] header"
                                f"{' (only ' + found + ')' if found else ''}: is this an extensions.conf?")
    return reader.plan
