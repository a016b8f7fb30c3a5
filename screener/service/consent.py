"""The consent ledger's use cases (``screener consent``, the admin API): grant, revoke and show records.

Numbers are normalized here with the campaign's region, and the purpose defaults to the campaign's.
Every grant and revoke is also an entry of the audit trail (kind ``consent``, in the number's group), written
by the store in the same step as the record.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from screener.config.settings import Settings
from screener.service.audit_fields import CONSENT, audit_fields
from screener.service.errors import InvalidInput, NotFound
from screener.service.numbers_input import DEFAULT_REGION, campaign_of, e164_of
from screener.store import audit, consent
from screener.store.consent import ConsentRecord

__all__ = ["ConsentLedger", "ConsentRecord", "NumberRecords"]


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
        return audit_fields(
            CONSENT, self.settings, at=datetime.now(UTC), number=record.number, campaign=record.campaign,
            source=self.source, action=action, purpose=record.purpose, consent_source=record.source,
            text_version=record.text_version, channel=record.channel, granted_ms=str(record.granted_ms),
            expires_ms=str(record.expires_ms), revoked_ms=str(record.revoked_ms),
            personal={"evidence": record.evidence})

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
        await consent.grant(self.redis, record, self._entry, self._groups)
        return record

    async def revoke(self, number: str, campaign: str, *, purpose: str | None = None,
                     at: datetime | None = None) -> ConsentRecord:
        """Revoke a consent from ``at`` (default now); ``NotFound`` when the number has none for the purpose."""
        camp = campaign_of(self.settings, campaign)
        e164 = e164_of(number, camp.region)
        try:
            return await consent.revoke(self.redis, e164, purpose or camp.consent_purpose,
                                        _ms(at or datetime.now(UTC)), self._entry, self._groups)
        except consent.ConsentNotFound as exc:
            raise NotFound(str(exc)) from None

    async def show(self, number: str, campaign: str | None = None) -> NumberRecords:
        """Every consent record of a number (read with the campaign's region, else US)."""
        region = campaign_of(self.settings, campaign).region if campaign else DEFAULT_REGION
        e164 = e164_of(number, region)
        found = await consent.records(self.redis, e164)
        return NumberRecords(e164, tuple(found), _ms(datetime.now(UTC)))
