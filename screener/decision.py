"""The records that cross the screener's layers: a request to screen a call, and the decision."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime

from screener.reasons import REASON_ORDER, ReasonCode, Verdict


@dataclass(frozen=True)
class ScreenRequest:
    """One outbound call to screen, as a front end (FastAGI, ARI, CLI) saw it."""

    dialed: str
    campaign: str
    #: decision time; ``None`` means now
    at: datetime | None = None
    #: True: reserve the attempt (a live call); False: a dry run that changes nothing but the audit trail
    commit: bool = True
    agent: str | None = None
    trunk: str | None = None
    caller_id: str | None = None
    #: which front end asked: "cli", "fastagi", "ari", "agi", "api"
    source: str = "cli"
    #: the PBX's call id (Asterisk uniqueid), for the audit trail
    call_id: str | None = None
    #: what is wrong with the request as the front end received it (e.g. a garbled AGI header); not empty:
    #: the call is blocked with ``invalid_request`` (and audited), whatever else it says
    problem: str = ""


_CAMPAIGN_NAME = re.compile(r"[^A-Za-z0-9_.:-]")


def clean_campaign(value: str) -> str:
    """A campaign name as a front end may pass it on: letters, digits and ``_.:-`` only, at most 64."""
    return _CAMPAIGN_NAME.sub("", value)[:64]


@dataclass(frozen=True)
class Reason:
    """One applicable reason, with a human detail (which list, which window...)."""

    code: ReasonCode
    detail: str = ""

    def to_json(self) -> dict[str, str]:
        return {"code": self.code.value, "detail": self.detail}


@dataclass(frozen=True)
class Disclosure:
    """What an allowed call needs on answer: who calls and why, the prompt that says it, the opt-out digit."""

    company: str
    purpose: str
    callback_number: str
    opt_out_digit: str
    #: the sound Asterisk plays to the callee on answer (``custom/screener/<campaign>-<lang>``, or the admin's
    #: recording), in the campaign's first disclosure language
    prompt: str
    language: str
    #: the confirmation played after the opt-out digit, in the same language
    optout_prompt: str
    #: the disclosure sound of every language the campaign has
    prompts: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, object]:
        return {"company": self.company, "purpose": self.purpose, "callback_number": self.callback_number,
                "opt_out_digit": self.opt_out_digit, "prompt": self.prompt, "language": self.language,
                "optout_prompt": self.optout_prompt, "prompts": dict(self.prompts)}


@dataclass(frozen=True)
class Decision:
    """The screener's answer for one call: a verdict, every reason that applies, and what the call needs."""

    verdict: Verdict
    reasons: tuple[Reason, ...]
    #: E.164, or the raw input when it could not be normalized
    number: str
    campaign: str
    decided_at: datetime
    config_version: str
    dry_run: bool
    #: on allow: the caller ID (number) and caller-ID name to present, from the campaign
    caller_id: str | None = None
    caller_id_name: str | None = None
    disclosure: Disclosure | None = None
    #: id of the reserved attempt (frequency state), when one was reserved
    attempt_id: str | None = None
    #: id of the audit stream entry, once written
    audit_id: str | None = None
    #: wall time the screener spent, in microseconds
    elapsed_us: int = 0

    @classmethod
    def unavailable(cls, request: ScreenRequest, detail: str) -> Decision:
        """The fail-closed answer when no decision could be had (the screener raised, was too slow, or the
        call lacks what it needs): block with ``screening_unavailable``."""
        return cls(verdict=Verdict.BLOCK, reasons=(Reason(ReasonCode.SCREENING_UNAVAILABLE, detail),),
                   number=request.dialed, campaign=request.campaign, decided_at=datetime.now(UTC),
                   config_version="", dry_run=not request.commit)

    @property
    def allowed(self) -> bool:
        return self.verdict is Verdict.ALLOW

    @property
    def codes(self) -> tuple[ReasonCode, ...]:
        return tuple(r.code for r in self.reasons)

    def to_json(self) -> dict[str, object]:
        from screener.numbers import mask  # phonenumbers: only for the callers that serialize

        return {
            "verdict": self.verdict.value,
            "reasons": [r.to_json() for r in self.reasons],
            "number": mask(self.number),  # one mask for every output (logs, audit, CLI, API)
            "campaign": self.campaign,
            "decided_at": self.decided_at.isoformat(),
            "config_version": self.config_version,
            "dry_run": self.dry_run,
            "caller_id": self.caller_id,
            "caller_id_name": self.caller_id_name,
            "disclosure": self.disclosure.to_json() if self.disclosure else None,
            "attempt_id": self.attempt_id,
            "audit_id": self.audit_id,
            "elapsed_us": self.elapsed_us,
        }


def sort_reasons(reasons: list[Reason]) -> tuple[Reason, ...]:
    """Reasons in the canonical order of PRODUCT.md, duplicates (same code and detail) removed."""
    seen: set[tuple[ReasonCode, str]] = set()
    unique = []
    for r in reasons:
        if (r.code, r.detail) not in seen:
            seen.add((r.code, r.detail))
            unique.append(r)
    return tuple(sorted(unique, key=lambda r: REASON_ORDER.index(r.code)))


@dataclass(frozen=True)
class DisclosureEvent:
    """What happened on the callee's channel after answer (recorded in the audit trail as evidence)."""

    number: str
    campaign: str
    call_id: str | None
    #: milliseconds from answer to the start of the disclosure prompt
    answer_to_prompt_ms: int | None
    #: True when the prompt played to its end
    prompt_finished: bool
    #: True when the callee pressed the opt-out digit
    opted_out: bool
    language: str = ""
    source: str = "fastagi"


@dataclass(frozen=True)
class AnsweredCall:
    """A call the callee answered, as a front end saw it end (the abandoned-call accounting: TSR 310.4(b)(4)).

    ``disclosure`` says how the disclosure ended: ``DONE`` (played, no opt-out: the call was handed over to
    the agent at ``handed_over_at``), ``OPTOUT``, ``HANGUP`` (the callee hung up during it), ``ABORTED`` (the
    call was ended during it from our side: the agent hung up, the screener stopped) or ``FAILED`` (it could
    not be played, or nothing is known). ``connected_at`` is when the agent was connected; None: never.
    """

    number: str
    campaign: str
    call_id: str | None
    answered_at: datetime
    disclosure: str
    handed_over_at: datetime | None = None
    connected_at: datetime | None = None
    #: which front end saw it: "fastagi", "ari", "agi"
    source: str = "fastagi"
