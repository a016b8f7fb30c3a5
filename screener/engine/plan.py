"""The store part of a decision, as data: what to look up in Redis and what blocks.

The engine builds a ``StorePlan`` (pure); the store executes it atomically in one Lua script, which
reserves the attempt only when nothing in the plan blocks; ``evaluate`` is the same rule in Python,
so the engine's tests need no Redis and the integration tests check that both agree.
"""

from __future__ import annotations

from dataclasses import dataclass

from screener.config.settings import FrequencyScope
from screener.reasons import ReasonCode


@dataclass(frozen=True)
class DncCheck:
    """Look the number up in one DNC list; a hit blocks with ``code`` unless exempted by consent."""

    list_name: str
    #: dnc_internal, dnc_campaign or dnc_registry
    code: ReasonCode
    #: True: a valid consent record exempts the number from this list (registries, when the campaign says so)
    exempt_by_consent: bool = False


@dataclass(frozen=True)
class FrequencyCheck:
    """Block when ``max_calls`` or more earlier attempts in ``scope`` fall inside the last ``window_s``."""

    scope: FrequencyScope
    window_s: int
    max_calls: int
    #: human detail for the reason, e.g. "3 per 24h (subject) FL: F.S. 501.616(6)"
    detail: str = ""


@dataclass(frozen=True)
class StorePlan:
    campaign: str
    subject: str
    dnc: tuple[DncCheck, ...] = ()
    #: the consent purpose to read; None when neither a requirement nor an exemption needs consent
    consent_purpose: str | None = None
    consent_required: bool = False
    frequency: tuple[FrequencyCheck, ...] = ()
    #: minimum seconds since the last attempt to the number (any campaign); 0 = none
    min_interval_s: int = 0
    #: seconds after a refusal during which the number is not called; 0 = none
    refusal_cooldown_s: int = 0
    #: campaign calls per second; 0 = unlimited
    calls_per_second: int = 0
