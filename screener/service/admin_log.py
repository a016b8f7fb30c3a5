"""Writes through the admin API land in the audit trail as entries of kind ``admin``, with the token's
name as the actor (the shared audit-entry fields from ``audit_fields``, then who did what to what). They
are appended like every other entry (``Screener.append_audit``): what Redis cannot take waits in the spool."""

from __future__ import annotations

from datetime import UTC, datetime

from screener.service.audit_fields import audit_fields, plain_fields
from screener.service.screening import Screener
from screener.store import keys
from screener.store.audit import ADMIN


def admin_audit_fields(screener: Screener, actor: str, action: str, target: str, detail: str, *,
                       number: str = "", campaign: str = "") -> dict[str, str]:
    """The audit entry of one admin action; ``number`` (E.164) when the action concerns one (masked and
    hashed like every entry's, so an auditor finds who changed what about a number)."""
    if not number:
        return plain_fields(ADMIN, screener.settings, at=datetime.now(UTC), campaign=campaign, source="api",
                            actor=actor, action=action, target=target, detail=detail)
    return audit_fields(ADMIN, screener.settings, at=datetime.now(UTC), number=number, campaign=campaign,
                        source="api", actor=actor, action=action, target=target, detail=detail)


async def record_admin_action(screener: Screener, actor: str, action: str, target: str, detail: str = "", *,
                              number: str = "", campaign: str = "") -> str | None:
    """Append the entry (to the number's audit group, else the global one); its id, or None when Redis did not
    take it in time (it then waits in the spool and joins the chain when Redis answers)."""
    fields = admin_audit_fields(screener, actor, action, target, detail, number=number, campaign=campaign)
    return await screener.append_audit(fields, group=keys.audit_group(number or None))
