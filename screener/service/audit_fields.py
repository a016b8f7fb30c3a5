"""The one builder of audit-entry fields: every entry (decision, opt-out, disclosure, consent change, admin
action) starts with the same fields, built here from the settings that made it.

Numbers never enter the trail in clear: ``number`` is masked, ``number_hash`` is a keyed hash (HMAC with the
config's ``audit_salt``) that lets an auditor find a number's entries without the trail holding it.

The fields come in two parts (``store/audit_chain.py``): first the plain ones (kind, time, campaign, config
version, source, and the ``extra`` facts), then the entry's random key ``_k`` and the **personal** ones (the
masked number, its hash, the call id, and the ``personal`` extras such as the number as dialed or the agent):
those are sealed, so a data-subject erasure can replace them by tombstones and the chain still verifies.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime
from functools import lru_cache

from screener.config.settings import Settings
from screener.numbers import mask
from screener.store.audit import (
    ARCHIVE,
    CALL_OUTCOME,
    COMPLAINT,
    CONFIG,
    CONSENT,
    DECISION,
    DISCLOSURE,
    DNC_CHANGE,
    OPT_OUT,
    PRIVACY,
)
from screener.store.audit_chain import KEY_FIELD, TOMBSTONE, new_key

__all__ = ["ARCHIVE", "CALL_OUTCOME", "COMPLAINT", "CONFIG", "CONSENT", "DECISION", "DISCLOSURE", "DNC_CHANGE",
           "OPT_OUT", "PRIVACY", "audit_fields", "number_hash", "plain_fields", "with_personal"]


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
    """The fields every entry about a number has: kind, time, campaign, config version, source, then ``extra``;
    then the sealed part: ``_k``, the masked number, its hash, the call id. More personal fields go after them
    (``with_personal``). ``settings`` None: no config was loaded (a DNC change made with only a Redis URL): the
    entry has no config version and no number hash (without the salt a hash would be a guessable one)."""
    return {
        **plain_fields(kind, settings, at=at, campaign=campaign, source=source, **extra),
        KEY_FIELD: new_key(),
        "number": mask(number),
        "number_hash": number_hash(number, settings.audit_salt.value) if number and settings is not None else "",
        **_safe({"call_id": call_id or ""}),
    }


def with_personal(fields: dict[str, str], **personal: str) -> dict[str, str]:
    """``fields`` (from ``audit_fields``) with more personal fields at its end, so sealed (erasable) too."""
    return {**fields, **_safe(personal)}


def _safe(values: dict[str, str]) -> dict[str, str]:
    """Values as given, but one that starts with the chain's tombstone mark (a control character no real input
    holds, which the chain refuses in a client field) is written with the mark spelled out (``\\x1f``)."""
    return {k: "\\x1f" + v[1:] if v.startswith(TOMBSTONE) else v for k, v in values.items()}


def plain_fields(kind: str, settings: Settings | None, *, at: datetime, campaign: str = "", source: str,
                 **extra: str) -> dict[str, str]:
    """The fields of an entry about no one number (an admin action, a config change, an archive run): nothing
    sealed."""
    return _safe({
        "kind": kind,
        "at": at.isoformat(timespec="milliseconds"),
        "campaign": campaign,
        "config_version": settings.version if settings is not None else "",
        "source": source,
        **extra,
    })
