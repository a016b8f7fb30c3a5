"""Consent records in a CSV file (``screener consent import``): the columns, and a row read into a record.

The first row names the columns (any order, any case; other columns are ignored and reported):

* ``number`` (or ``phone``, ``phone_number``, ``msisdn``, ``e164``, ``tel``): required; national numbers are
  read with the campaign's region;
* ``granted``: required; when the consent was given, ISO-8601 with a UTC offset (``2026-11-01T09:30:00+08:00``
  or ``...Z``);
* ``expires``: when it ends (same form; empty: never); ``revoked``: when it was revoked (empty: not revoked);
* ``text_version``, ``channel``, ``evidence``: the consent text version the person saw, how it was given (web,
  phone, sms, paper...), a pointer to the evidence (a recording id, a form submission id, a document hash);
* ``purpose``: the consent's purpose (empty: the campaign's); ``source``: where it came from (empty: the
  import's ``--source``).

Each record keeps its provenance: the import's source (or the row's), the file's name and the row's line.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import IO

from screener.config.settings import Campaign
from screener.service.errors import InvalidInput
from screener.service.numbers_input import e164_of
from screener.store.consent import ConsentRecord

#: the names a column may have (the first is the documented one)
COLUMNS: dict[str, tuple[str, ...]] = {
    "number": ("number", "phone", "phone_number", "msisdn", "e164", "tel"),
    "granted": ("granted",),
    "expires": ("expires",),
    "revoked": ("revoked",),
    "text_version": ("text_version",),
    "channel": ("channel",),
    "evidence": ("evidence",),
    "purpose": ("purpose",),
    "source": ("source",),
}
REQUIRED = ("number", "granted")


@dataclass(frozen=True)
class Header:
    """Where each known column is (its index), and the columns that are ignored."""

    index: dict[str, int]
    ignored: tuple[str, ...]


def read_header(row: list[str]) -> Header:
    """The header row; InvalidInput naming what is missing (the file is then not read at all)."""
    names = [cell.strip().lower() for cell in row]
    index: dict[str, int] = {}
    for column, aliases in COLUMNS.items():
        for i, name in enumerate(names):
            if name in aliases and column not in index:
                index[column] = i
    missing = [c for c in REQUIRED if c not in index]
    if missing:
        raise InvalidInput(f"the header row ({', '.join(row) or 'empty'}) has no {' and no '.join(missing)} column: "
                           f"the first row names the columns ({', '.join(COLUMNS)})")
    used = set(index.values())
    return Header(index, tuple(row[i] for i in range(len(row)) if i not in used))


def rows(stream: IO[bytes]) -> Iterator[tuple[int, list[str]]]:
    """(line number, cells) of each row of a binary stream read as UTF-8 CSV; the stream stays open."""
    text = io.TextIOWrapper(stream, encoding="utf-8", errors="replace", newline="")
    try:
        reader = csv.reader(text)
        for row in reader:
            yield reader.line_num, row
    finally:
        text.detach()  # the caller closes the stream


def _when(value: str, column: str) -> int:
    """Epoch ms of an ISO-8601 time with a UTC offset; ValueError naming the column."""
    try:
        when = datetime.fromisoformat(value[:-1] + "+00:00" if value.endswith(("Z", "z")) else value)
    except ValueError:
        raise ValueError(f"{column} {value!r} is not an ISO-8601 time such as 2026-11-01T09:30:00+08:00") from None
    if when.tzinfo is None:
        raise ValueError(f"{column} {value!r} has no UTC offset (add one, such as +08:00 or Z)")
    return int(when.timestamp() * 1000)


def record_of(row: list[str], header: Header, campaign: Campaign, *, source: str, purpose: str | None,
              file_name: str, line_no: int) -> ConsentRecord:
    """The record of one row; ValueError (its message: what is wrong) for a row that is none."""

    def cell(column: str) -> str:
        i = header.index.get(column)
        return row[i].strip() if i is not None and i < len(row) else ""

    raw = cell("number")
    if not raw:
        raise ValueError("no number")
    try:
        number = e164_of(raw, campaign.region)
    except InvalidInput as exc:
        raise ValueError(str(exc)) from None
    if not cell("granted"):
        raise ValueError("no grant time (granted): when the consent was given is part of its evidence")
    granted = _when(cell("granted"), "granted")
    expires = _when(cell("expires"), "expires") if cell("expires") else 0
    revoked = _when(cell("revoked"), "revoked") if cell("revoked") else 0
    if expires and expires <= granted:
        raise ValueError(f"expires {cell('expires')!r} is not after granted {cell('granted')!r}")
    if revoked and revoked < granted:
        raise ValueError(f"revoked {cell('revoked')!r} is before granted {cell('granted')!r}")
    return ConsentRecord(
        number=number, purpose=cell("purpose") or purpose or campaign.consent_purpose,
        source=cell("source") or source, campaign=campaign.name, text_version=cell("text_version"),
        channel=cell("channel"), evidence=cell("evidence"), granted_ms=granted, expires_ms=expires,
        revoked_ms=revoked, origin_file=file_name, origin_line=line_no,
    )
