"""Verdicts and the stable reason codes shared by the CLI, the audit trail and the dialplan variables."""

from __future__ import annotations

from enum import StrEnum


class Verdict(StrEnum):
    """What the screener answers for one call."""

    #: the call may be placed
    ALLOW = "allow"
    #: the call must not be placed
    BLOCK = "block"


class ReasonCode(StrEnum):
    """Why a call was allowed or blocked. The values are a public contract: never rename one."""

    #: the request itself could not be trusted (a raw newline in a caller-supplied AGI header value...)
    INVALID_REQUEST = "invalid_request"
    INVALID_NUMBER = "invalid_number"
    EMERGENCY_NUMBER = "emergency_number"
    DNC_INTERNAL = "dnc_internal"
    DNC_CAMPAIGN = "dnc_campaign"
    DNC_REGISTRY = "dnc_registry"
    DNC_LIST_STALE = "dnc_list_stale"
    NO_CONSENT = "no_consent"
    OUTSIDE_CALLING_HOURS = "outside_calling_hours"
    QUIET_HOURS = "quiet_hours"
    HOLIDAY = "holiday"
    FREQUENCY_LIMIT = "frequency_limit"
    RATE_LIMIT = "rate_limit"
    #: the campaign's abandoned-call rate is over its policy's limit, or the number's last call by the
    #: campaign was abandoned less than the policy's lock-out ago
    ABANDONMENT_LIMIT = "abandonment_limit"
    UNKNOWN_CAMPAIGN = "unknown_campaign"
    SCREENING_UNAVAILABLE = "screening_unavailable"


#: the order in which reasons are reported (PRODUCT.md, "The decision")
REASON_ORDER: tuple[ReasonCode, ...] = tuple(ReasonCode)
