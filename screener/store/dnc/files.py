"""Reading DNC list files as a stream of number batches: FTC flat files, CSV, E.164; plain, .gz or .zip.

Fast path: a chunk whose every line is a 10-digit North American number (optionally ``AAA,NNNNNNN``, the
area-code column form) or a ``+E.164`` number is converted with C-speed bytes operations and ``int``; any
other chunk is read line by line (phonenumbers for national formats), and each line that is no number is
reported with its line number. Memory is one chunk, whatever the file size.
"""

from __future__ import annotations

import csv
import functools
import gzip
import io
import itertools
import re
import zipfile
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import IO

import phonenumbers

from screener.numbers import InvalidNumber, listable_e164

CHUNK_BYTES = 1 << 20
#: numbers (or change-list rows) per batch of a CSV file
BATCH_ROWS = 50_000
#: tag width: the E.164 digits of a number divided by this give its tag (keys.TAG_SUFFIX_DIGITS)
TAG_SPAN = 10_000_000
_DIGITS = b"0123456789"
_NANP_LEAD = b"23456789"
_NON_DIGITS = re.compile(r"\D")
_LETTERS = re.compile(r"[A-Za-z]")
_E164 = re.compile(r"\+[1-9]\d{7,14}")
_NANP = re.compile(r"[2-9]\d\d[2-9]\d{6}")
ADD_FLAGS = frozenset({"A", "ADD", "ADDED", "ADDITION", "I", "INS", "INSERT", "+", "NEW"})
DELETE_FLAGS = frozenset({"D", "DEL", "DELETE", "DELETED", "DELETION", "R", "REMOVE", "REMOVED", "-"})


class Format(StrEnum):
    FTC = "ftc"
    CSV = "csv"
    E164 = "e164"


@dataclass(frozen=True)
class BadLine:
    line_no: int
    text: str
    reason: str


@dataclass
class Batch:
    """Numbers from a stretch of the file. ``values``: E.164 digits as ints, minus ``offset`` (a multiple of
    TAG_SPAN); ``short``: E.164 numbers with fewer than 8 digits; ``ops``: (op, e164) of a change list."""

    values: list[int] = field(default_factory=list)
    offset: int = 0
    short: list[str] = field(default_factory=list)
    ops: list[tuple[str, str]] = field(default_factory=list)
    bad: list[BadLine] = field(default_factory=list)
    lines: int = 0


class Source:
    """An opened input: a binary stream of the (decompressed) content and how far through the file it is."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.raw: IO[bytes] = open(self.path, "rb")  # noqa: SIM115 (closed by close())
        self.total = self.path.stat().st_size
        self._zip: zipfile.ZipFile | None = None
        self.stream: IO[bytes]
        try:
            self._open_stream()
        except BaseException:
            self.raw.close()
            raise

    def _open_stream(self) -> None:
        name = self.path.name.lower()
        if name.endswith(".gz"):
            self.stream = gzip.GzipFile(fileobj=self.raw)  # type: ignore[assignment]
        elif name.endswith(".zip"):
            self._zip = zipfile.ZipFile(self.raw)
            members = [i for i in self._zip.infolist() if not i.is_dir()]
            if not members:
                raise ValueError(f"{self.path}: the zip file holds no file")
            member = max(members, key=lambda i: i.file_size)
            self.total = member.file_size
            self.stream = self._zip.open(member)
        else:
            self.stream = self.raw

    def read(self, size: int) -> bytes:
        return self.stream.read(size)

    def position(self) -> int:
        """Bytes of the file (the zip member: uncompressed) consumed so far."""
        if self._zip is not None:
            return self.stream.tell()
        return self.raw.tell()

    def close(self) -> None:
        self.stream.close()
        if self._zip is not None:
            self._zip.close()
        self.raw.close()


@functools.cache
def country_code(region: str) -> int:
    code = phonenumbers.country_code_for_region(region.upper())
    if not code:
        raise ValueError(f"unknown region {region!r}")
    return int(code)


def iter_batches(source: Source, fmt: Format, region: str = "US", *, column: str | None = None,
                 changes: bool = False, chunk_bytes: int = CHUNK_BYTES,
                 batch_rows: int = BATCH_ROWS) -> Generator[Batch]:
    """The file as batches of numbers (or of change-list ops)."""
    if changes or fmt is Format.CSV:
        yield from _iter_rows(source, region, column, changes, batch_rows)
        return
    nanp = country_code(region) == 1
    carry = b""
    line_base = 0
    while True:
        data = source.read(chunk_bytes)
        buf = carry + data
        if not data:
            if buf and not buf.endswith(b"\n"):
                buf += b"\n"
            chunk, carry = buf, b""
        else:
            cut = buf.rfind(b"\n") + 1
            chunk, carry = buf[:cut], buf[cut:]
        if chunk:
            batch = _fast_chunk(chunk, fmt, nanp)
            if batch is None:
                batch = _slow_chunk(chunk, line_base, fmt, region)
            line_base += batch.lines
            yield batch
        if not data:
            return


def _fast_chunk(chunk: bytes, fmt: Format, nanp: bool) -> Batch | None:
    n = chunk.count(b"\n")
    if b"\r" in chunk:
        chunk = chunk.replace(b"\r\n", b"\n")
    if fmt is Format.FTC and nanp:
        if b"," in chunk:
            if chunk.count(b",") != n or len(chunk) != 12 * n or chunk[3::12] != b"," * n:
                return None
            chunk = chunk.replace(b",", b"")
        if len(chunk) != 11 * n or chunk.translate(None, _DIGITS + b"\n"):
            return None
        if chunk[10::11] != b"\n" * n or chunk[0::11].translate(None, _NANP_LEAD) \
                or chunk[3::11].translate(None, _NANP_LEAD):
            return None
        return Batch(values=list(map(int, chunk.split())), offset=10_000_000_000, lines=n)
    if fmt is Format.E164:
        if chunk.translate(None, _DIGITS + b"+\n") or chunk.count(b"+") != n or not chunk.startswith(b"+") \
                or chunk.count(b"\n+") != n - 1 or b"\n\n" in chunk:
            return None
        values = list(map(int, chunk.split()))
        if len(values) != n or min(values) < TAG_SPAN or max(values) >= 10**15:
            return None
        return Batch(values=values, lines=n)
    return None


def _slow_chunk(chunk: bytes, line_base: int, fmt: Format, region: str) -> Batch:
    batch = Batch()
    lines = chunk.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    batch.lines = len(lines)
    for i, raw in enumerate(lines, start=line_base + 1):
        line = raw.decode("utf-8", "replace").strip()
        if not line:
            continue
        if fmt is Format.FTC and "," in line:
            parts = [p.strip() for p in line.split(",")]
            if len(parts) == 2 and len(parts[0]) == 3 and len(parts[1]) == 7:
                line = parts[0] + parts[1]
        _take(batch, i, line, region)
    return batch


def to_e164(text: str, region: str) -> tuple[str | None, str]:
    """(E.164, "") for a number, else (None, the reason)."""
    if _E164.fullmatch(text):  # already E.164: the fast path's rule (phonenumbers costs ~30 us a number)
        return text, ""
    if len(text) == 10 and _NANP.fullmatch(text) and country_code(region) == 1:
        return "+1" + text, ""
    try:
        return listable_e164(text, region), ""
    except InvalidNumber as exc:
        return None, exc.reason


def _take(batch: Batch, line_no: int, text: str, region: str) -> None:
    e164, reason = to_e164(text, region)
    if e164 is None:
        batch.bad.append(BadLine(line_no, text[:80], reason))
    elif len(e164) >= 9:
        batch.values.append(int(e164[1:]) - batch.offset)
    else:
        batch.short.append(e164)


def _iter_rows(source: Source, region: str, column: str | None, changes: bool, batch_rows: int) -> Iterator[Batch]:
    text = io.TextIOWrapper(source.stream, encoding="utf-8", errors="replace", newline="")
    try:
        yield from _rows_of(text, region, column, changes, batch_rows)
    finally:
        # the wrapper must not close the source's stream when it is collected: the import still reports the
        # position it reached (and closes the source itself)
        text.detach()


def _rows_of(text: io.TextIOWrapper, region: str, column: str | None, changes: bool,
             batch_rows: int) -> Iterator[Batch]:
    reader = csv.reader(text)
    pick: Callable[[list[str]], tuple[str | None, str]] | None = None
    batch = Batch()
    seen = 0
    for row in reader:
        line_no = reader.line_num
        if pick is None:
            pick, is_header = _row_picker(row, column, changes)
            if is_header:
                continue
        if not any(c.strip() for c in row):
            continue
        op, number = pick(row)
        if not number:
            batch.bad.append(BadLine(line_no, ",".join(row)[:80], "no phone number in this row"))
        elif changes and op is None:
            batch.bad.append(BadLine(line_no, ",".join(row)[:80], "no add/delete flag (A or D) in this row"))
        elif changes:
            e164, reason = to_e164(number, region)
            if e164 is None:
                batch.bad.append(BadLine(line_no, number[:80], reason))
            else:
                batch.ops.append((op or "a", e164))
        else:
            _take(batch, line_no, number, region)
        if len(batch.values) + len(batch.ops) + len(batch.short) + len(batch.bad) >= batch_rows:
            batch.lines = line_no - seen
            seen = line_no
            yield batch
            batch = Batch()
    batch.lines = reader.line_num - seen
    yield batch


def _row_picker(first: list[str], column: str | None,
                changes: bool) -> tuple[Callable[[list[str]], tuple[str | None, str]], bool]:
    """How to find the number (and the change flag) in a row; whether the first row is a header."""
    names = [c.strip().lower() for c in first]
    is_header = not any(any(ch.isdigit() for ch in c) for c in first)
    if column is not None:
        if column.lower() not in names:
            raise ValueError(f"no column named {column!r} in the header row ({', '.join(first)})")
        idx = names.index(column.lower())
        return (lambda row: (_flag(row) if changes else None, row[idx].strip() if idx < len(row) else "")), True
    if is_header and not changes:
        for i, name in enumerate(names):
            if any(word in name for word in ("phone", "number", "e164", "tel", "msisdn")):
                return (lambda row, i=i: (None, row[i].strip() if i < len(row) else "")), True
    return (lambda row: (_flag(row) if changes else None, _number_in(row))), is_header


def _flag(row: list[str]) -> str | None:
    for cell in row:
        word = cell.strip().upper()
        if word in ADD_FLAGS:
            return "a"
        if word in DELETE_FLAGS:
            return "r"
    return None


def _number_in(row: list[str]) -> str:
    """The number in a row: a cell of 10+ digits (or +E.164), else an area code cell followed by a 7-digit cell."""
    cells = [c.strip() for c in row]
    for cell in cells:
        if len(_NON_DIGITS.sub("", cell)) >= 10 and not _LETTERS.search(cell):
            return cell
    for a, b in itertools.pairwise(cells):
        if len(a) == 3 and a.isdigit() and len(b.replace("-", "")) == 7 and b.replace("-", "").isdigit():
            return a + b.replace("-", "")
    return ""
