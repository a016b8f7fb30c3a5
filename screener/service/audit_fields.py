"""The one builder of audit-entry fields: every entry (decision, opt-out, disclosure, admin action) starts
with the same fields, built here from the settings that made it.

Numbers never enter the trail in clear: ``number`` is masked, ``number_hash`` is a keyed hash (HMAC with the
config's ``audit_salt``) that lets an auditor find a number's entries without the trail holding it.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime
from functools import lru_cache

from screener.config.settings import Settings
from screener.numbers import mask
from screener.store.audit import CALL_OUTCOME, COMPLAINT, DECISION, DISCLOSURE, DNC_CHANGE, OPT_OUT, PRIVACY

__all__ = ["CALL_OUTCOME", "COMPLAINT", "DECISION", "DISCLOSURE", "DNC_CHANGE", "OPT_OUT", "PRIVACY",
           "audit_fields", "number_hash"]


def number_hash(e164: str, salt: str) -> str:
    """A keyed hash of the number: lets an auditor find a number's entries without the trail holding it."""
    keyed = _keyed(salt).copy()  # HMAC-SHA256 with the salt as key, its key set up once
    keyed.update(e164.encode())
    return keyed.hexdigest()[:24]


@lru_cache(maxsize=8)
def _keyed(salt: str) -> hmac.HMAC:
    return hmac.new(salt.encode(), digestmod=hashlib.sha256)


def audit_fields(kind: str, settings: Settings | None, *, at: datetime, number: str, campaign: str, source: str,
                 call_id: str | None = None, **extra: str) -> dict[str, str]:
    """The fields every entry has (kind, time, masked number and its hash, campaign, config version, source,
    call id), then ``extra``. ``settings`` None: no config was loaded (a DNC change made with only a Redis URL):
    the entry has no config version and no number hash (without the salt a hash would be a guessable one)."""
    return {
        "kind": kind,
        "at": at.isoformat(timespec="milliseconds"),
        "number": mask(number),
        "number_hash": number_hash(number, settings.audit_salt.value) if number and settings is not None else "",
        "campaign": campaign,
        "config_version": settings.version if settings is not None else "",
        "source": source,
        "call_id": call_id or "",
        **extra,
    }
