"""The consent ledger's use cases (``screener consent``, the admin API): grant, revoke and show records, import
a file of them and export them.

Numbers are normalized here with the campaign's region, and the purpose defaults to the campaign's.
Every grant and revoke is also appended to the ledger's history (a stream per area-code tag) and to the
number's audit trail (kind ``consent``, extending its chain) by the store, in the same step as the record, an
import's records too (``store.consent.grant_many``: each record with its history and audit entries, in its
number's slot). Each write is acknowledged as the config's ``durability`` says.
"""

from __future__ import annotations

import time
import zipfile
import zlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from screener.config.settings import Settings
from screener.service import consent_file
from screener.service.audit_fields import CONSENT, audit_fields, with_personal
from screener.service.durability import acknowledged
from screener.service.errors import InvalidInput, NotFound
from screener.service.numbers_input import DEFAULT_REGION, campaign_of, e164_of
from screener.service.progress import Progress, ProgressCallback
from screener.store import audit, consent, keys
from screener.store.consent import ConsentRecord
from screener.store.dnc.files import BadLine, Source

__all__ = ["EXPORT_COLUMNS", "ConsentImport", "ConsentLedger", "ConsentRecord", "NumberRecords", "export_row"]

#: records written per round trip of an import (each with its audit entry)
IMPORT_BATCH = 500
#: the columns of ``consent export`` (CSV); the same names as an import reads, so an export imports again
EXPORT_COLUMNS = ("number", "granted", "expires", "revoked", "purpose", "text_version", "channel", "evidence",
                  "source", "campaign", "origin_file", "origin_line")


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds") if ms else ""


def export_row(record: ConsentRecord) -> dict[str, str]:
    """One record as ``consent export`` writes it (times in ISO-8601, UTC)."""
    return {"number": record.number, "granted": _iso(record.granted_ms), "expires": _iso(record.expires_ms),
            "revoked": _iso(record.revoked_ms), "purpose": record.purpose, "text_version": record.text_version,
            "channel": record.channel, "evidence": record.evidence, "source": record.source,
            "campaign": record.campaign, "origin_file": record.origin_file,
            "origin_line": str(record.origin_line) if record.origin_line else ""}


@dataclass(frozen=True)
class ConsentImport:
    """What ``consent import`` did: the records written, the bad lines (counted; the first ones kept)."""

    file: str
    campaign: str
    records: int = 0
    lines: int = 0
    bad_count: int = 0
    bad: tuple[BadLine, ...] = ()
    #: header columns that are not consent fields (not stored)
    ignored_columns: tuple[str, ...] = ()
    seconds: float = 0.0

    def to_json(self) -> dict[str, object]:
        return {"file": self.file, "campaign": self.campaign, "records": self.records, "lines": self.lines,
                "bad_count": self.bad_count, "bad": [{"line": b.line_no, "text": b.text, "reason": b.reason}
                                                     for b in self.bad],
                "ignored_columns": list(self.ignored_columns), "seconds": self.seconds}


@dataclass
class _Tally:
    records: int = 0
    lines: int = 0
    bad_count: int = 0
    bad: list[BadLine] = field(default_factory=list)


def _origin(record: ConsentRecord) -> dict[str, str]:
    """A record's file and line, when it came from a file (an entry field each)."""
    return {"origin_file": record.origin_file, "origin_line": str(record.origin_line)} if record.origin_file else {}


def _ms(when: datetime) -> int:
    return int(when.timestamp() * 1000)


@dataclass(frozen=True)
class NumberRecords:
    """A number's consent records, as of ``now_ms``."""

    number: str
    records: tuple[ConsentRecord, ...]
    now_ms: int

    def state(self, record: ConsentRecord) -> str:
        if record.valid_at(self.now_ms):
            return "valid"
        return "revoked" if record.revoked_ms else "not valid now"


class ConsentLedger:
    """The consent ledger of one Redis, read and written with the running config's campaigns."""

    def __init__(self, redis: Any, settings: Settings, *, source: str = "admin") -> None:
        self.redis = redis
        self.settings = settings
        #: who changes the ledger, in the audit entries ("admin" for the CLI, "api", ...)
        self.source = source
        self._groups = audit.AuditGroups()

    def _entry(self, record: ConsentRecord, action: str) -> dict[str, str]:
        """The audit entry of a grant or revoke (the evidence pointer is sealed: it may name a person)."""
        return with_personal(audit_fields(
            CONSENT, self.settings, at=datetime.now(UTC), number=record.number, campaign=record.campaign,
            source=self.source, action=action, purpose=record.purpose, consent_source=record.source,
            text_version=record.text_version, channel=record.channel, granted_ms=str(record.granted_ms),
            expires_ms=str(record.expires_ms), revoked_ms=str(record.revoked_ms),
            **_origin(record)), evidence=record.evidence)

    async def grant(self, number: str, campaign: str, *, source: str, purpose: str | None = None,
                    granted: datetime | None = None, expires: datetime | None = None, text_version: str = "",
                    channel: str = "", evidence: str = "") -> ConsentRecord:
        """Record a consent (acknowledged by Redis on return)."""
        camp = campaign_of(self.settings, campaign)
        if not source.strip():
            raise InvalidInput("a consent needs its source (form id, call id...): where it came from is its evidence")
        granted = granted or datetime.now(UTC)
        if expires is not None and expires <= granted:
            raise InvalidInput(f"the expiry {expires.isoformat()} is not after the grant time {granted.isoformat()}")
        record = ConsentRecord(
            number=e164_of(number, camp.region), purpose=purpose or camp.consent_purpose, source=source,
            campaign=camp.name, text_version=text_version, channel=channel, evidence=evidence,
            granted_ms=_ms(granted), expires_ms=_ms(expires) if expires else 0,
        )
        await acknowledged(self.redis, self.settings,
                           lambda: consent.grant(self.redis, record, self._entry, self._groups),
                           keys=[keys.consent_key(record.number)])
        return record

    async def revoke(self, number: str, campaign: str, *, purpose: str | None = None,
                     at: datetime | None = None) -> ConsentRecord:
        """Revoke a consent from ``at`` (default now); ``NotFound`` when the number has none for the purpose."""
        camp = campaign_of(self.settings, campaign)
        e164 = e164_of(number, camp.region)
        try:
            return await acknowledged(
                self.redis, self.settings,
                lambda: consent.revoke(self.redis, e164, purpose or camp.consent_purpose, _ms(at or datetime.now(UTC)),
                                       self._entry, self._groups),
                keys=[keys.consent_key(e164)])
        except consent.ConsentNotFound as exc:
            raise NotFound(str(exc)) from None

    async def show(self, number: str, campaign: str | None = None) -> NumberRecords:
        """Every consent record of a number (read with the campaign's region, else US)."""
        region = campaign_of(self.settings, campaign).region if campaign else DEFAULT_REGION
        e164 = e164_of(number, region)
        found = await consent.records(self.redis, e164)
        return NumberRecords(e164, tuple(found), _ms(datetime.now(UTC)))

    async def import_file(self, path: str | Path, campaign: str, *, source: str, purpose: str | None = None,
                          progress: ProgressCallback | None = None, keep_bad: int = 20,
                          batch: int = IMPORT_BATCH) -> ConsentImport:
        """Import a CSV file of consent records (``consent_file`` names its columns; .gz and .zip are read
        directly) for ``campaign``, streaming in constant memory. A bad row is counted (the first ``keep_bad``
        kept with their line numbers and reasons) and never stops the import; every good row is written, with
        its provenance (``source`` unless the row has one, the file's name, its line)."""
        camp = campaign_of(self.settings, campaign)
        if not source.strip():
            raise InvalidInput("an import needs its --source (where the records came from): it is their provenance")
        if not Path(path).is_file():
            raise InvalidInput(f"no such file: {path}")
        started = time.monotonic()
        name = Path(path).name
        tally = _Tally()
        try:
            src = Source(path)
        except ValueError as exc:  # an empty or corrupt archive
            raise InvalidInput(f"{path}: {exc}") from None
        header: consent_file.Header | None = None
        try:
            pending: list[ConsentRecord] = []
            for line_no, row in consent_file.rows(src.stream):
                tally.lines = line_no
                if header is None:
                    header = consent_file.read_header(row)
                    continue
                if not any(cell.strip() for cell in row):
                    continue
                try:
                    pending.append(consent_file.record_of(row, header, camp, source=source, purpose=purpose,
                                                          file_name=name, line_no=line_no))
                except ValueError as exc:
                    tally.bad_count += 1
                    if len(tally.bad) < keep_bad:
                        tally.bad.append(BadLine(line_no, ",".join(row)[:80], str(exc)))
                if len(pending) >= batch:
                    await self._write(pending, tally, src, started, progress)
                    pending = []
            await self._write(pending, tally, src, started, progress)
        except (EOFError, zipfile.BadZipFile, zlib.error, OSError) as exc:  # a truncated or corrupt archive
            raise InvalidInput(f"{path}: {exc} after line {tally.lines}: {tally.records} records were written before "
                               "it; import the file again once fixed (a record is kept per number and purpose: "
                               "a second import overwrites the first)") from None
        finally:
            src.close()
        return ConsentImport(name, camp.name, tally.records, tally.lines, tally.bad_count, tuple(tally.bad),
                             header.ignored if header else (), time.monotonic() - started)

    async def _write(self, records: list[ConsentRecord], tally: _Tally, src: Source, started: float,
                     progress: ProgressCallback | None) -> None:
        await acknowledged(self.redis, self.settings,
                           lambda: consent.grant_many(self.redis, records, self._entry, self._groups),
                           keys=[keys.consent_key(r.number) for r in records])
        tally.records += len(records)
        if progress is not None:
            progress(Progress(src.position(), src.total, tally.records, tally.bad_count, time.monotonic() - started))

    async def export(self, campaign: str | None = None) -> AsyncIterator[ConsentRecord]:
        """Every consent record (only ``campaign``'s when given), a batch of numbers at a time."""
        async for record in consent.iter_all(self.redis):
            if campaign is None or record.campaign == campaign:
                yield record
