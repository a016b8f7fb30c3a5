"""The screening service: every front end (CLI, FastAGI, ARI, admin API) calls ``Screener``.

(Interface first; the implementation lands next.)
"""

from __future__ import annotations

from dataclasses import dataclass

from screener.decision import Decision, ScreenRequest


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


class Screener:
    async def screen(self, request: ScreenRequest) -> Decision:
        """Decide one call. Never raises for a store failure: blocks with screening_unavailable instead."""
        raise NotImplementedError

    async def opt_out(self, number: str, campaign: str, *, source: str, call_id: str | None = None) -> None:
        """Put an E.164 number on the internal DNC list and record the refusal; returns once Redis acknowledged.

        Raises ``StoreUnavailable`` when Redis could not acknowledge it within the time budget.
        """
        raise NotImplementedError

    async def record_disclosure(self, event: DisclosureEvent) -> None:
        """Append the disclosure evidence to the audit trail."""
        raise NotImplementedError

    async def aclose(self) -> None:
        raise NotImplementedError
