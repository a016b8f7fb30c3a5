"""Writes through the admin API land in the audit trail as entries of kind ``admin``, with the token's
name as the actor."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

from screener.service.screening import STORE_ERRORS, Screener
from screener.store import audit

log = logging.getLogger("screener.admin")


def admin_audit_fields(actor: str, action: str, target: str, detail: str, config_version: str,
                       at: datetime) -> dict[str, str]:
    """The audit entry of one admin action (one function, to follow the shared audit-field builder)."""
    return {"kind": audit.ADMIN, "at": at.isoformat(timespec="milliseconds"), "actor": actor, "action": action,
            "target": target, "detail": detail, "config_version": config_version, "source": "api"}


async def record_admin_action(screener: Screener, actor: str, action: str, target: str, detail: str = "") -> str | None:
    """Append the entry; its id, or None (logged) when Redis did not take it within a second."""
    settings = screener.settings
    fields = admin_audit_fields(actor, action, target, detail, settings.version, datetime.now(UTC))
    try:
        async with asyncio.timeout(1.0):
            return await audit.append(screener.scripts.connections, fields, settings.audit_maxlen)
    except STORE_ERRORS as exc:
        log.error("admin action not in the audit trail (%s): %s", type(exc).__name__, fields)
        return None
