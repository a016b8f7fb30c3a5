"""The audit trail as an auditor gets it, from the CLI (`screener audit export`) and the admin API alike:
one JSON object a line, or CSV with fixed columns."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterator, Iterable
from dataclasses import replace
from datetime import datetime, tzinfo

from screener.store.audit import AuditEntry

CSV_COLUMNS = ("id", "kind", "at", "number", "number_hash", "campaign", "verdict", "reasons", "mode",
               "config_version", "source", "call_id", "attempt_id", "answer_to_prompt_ms", "prompt_finished",
               "opted_out", "actor", "action", "target", "list", "added", "removed", "version_before", "version_after",
               "reason", "file", "group", "trunk", "caller_id", "lists", "zones")
FORMATS = ("jsonl", "csv")


def in_zone(entry: AuditEntry, zone: tzinfo | None) -> AuditEntry:
    """The entry with its time in ``zone`` (None: this machine's): entries keep the offset of the clock that
    made them, and an output shows one zone."""
    at = entry.fields.get("at")
    try:
        when = datetime.fromisoformat(at) if at else None
    except ValueError:
        return entry
    if when is None or when.tzinfo is None:
        return entry
    return replace(entry, fields={**entry.fields, "at": when.astimezone(zone).isoformat(timespec="milliseconds")})


def jsonl_line(entry: AuditEntry) -> str:
    return json.dumps(entry.to_json(), ensure_ascii=False) + "\n"


def csv_row(entry: AuditEntry) -> dict[str, str]:
    return dict(entry.fields, id=entry.id, group=entry.group, verdict=entry.verdict, attempt_id=entry.attempt_id,
                reasons=";".join(code for code, _ in entry.reasons))


def csv_lines(entries: Iterable[AuditEntry], *, header: bool) -> str:
    """CSV text of ``entries`` (with the header line first when ``header``)."""
    out = io.StringIO()
    writer = csv.DictWriter(out, CSV_COLUMNS, extrasaction="ignore")
    if header:
        writer.writeheader()
    for entry in entries:
        writer.writerow(csv_row(entry))
    return out.getvalue()


async def export_chunks(entries: AsyncIterator[AuditEntry], fmt: str, *, batch: int = 500) -> AsyncIterator[str]:
    """The export as text chunks of about ``batch`` entries each: constant memory whatever the range."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown export format {fmt!r} (one of {', '.join(FORMATS)})")
    pending: list[AuditEntry] = []
    header = fmt == "csv"
    async for entry in entries:
        pending.append(entry)
        if len(pending) >= batch:
            yield _chunk(pending, fmt, header)
            header = False
            pending = []
    if pending or header:
        yield _chunk(pending, fmt, header)


def _chunk(entries: list[AuditEntry], fmt: str, header: bool) -> str:
    if fmt == "csv":
        return csv_lines(entries, header=header)
    return "".join(jsonl_line(e) for e in entries)
