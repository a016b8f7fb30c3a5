"""The deadlines and names of the Stasis application."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class AppOptions:
    """Deadlines and names of the Stasis application."""

    #: seconds the callee may ring before the attempt ends as no answer
    ring_timeout_s: int = 30
    #: seconds the opt-out digit is still taken after the disclosure ended (TCPA: opt-out within 2 s of
    #: identification; the window stays open a little longer)
    opt_out_window_s: float = 3.0
    #: the longest a disclosure may play
    prompt_timeout_s: float = 120.0
    #: the longest the "not permitted" and the opt-out confirmation prompts may play
    blocked_prompt_timeout_s: float = 15.0
    #: how long Redis may take to acknowledge an opt-out
    opt_out_timeout_s: float = 5.0
    #: how long the disclosure evidence may take to record
    record_timeout_s: float = 2.0
    #: None: the service's own (``Screener.decision_timeout_s``)
    decision_timeout_s: float | None = None
    #: language of the "not permitted" prompt the agent hears on a block (``blocked-<lang>``)
    agent_language: str = "en"
