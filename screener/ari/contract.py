"""What the Stasis application needs from the world: a screener to ask, and its options."""

from __future__ import annotations

from dataclasses import dataclass

from screener.config.settings import Settings
from screener.service import ScreenerLike as ScreenerLike  # re-exported: what the front end needs of the service


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
    #: None: twice the config's time_budget_ms, at least 0.5 s
    decision_timeout_s: float | None = None
    #: language of the "not permitted" prompt the agent hears on a block (``blocked-<lang>``)
    agent_language: str = "en"
    #: sound folder of the rendered prompts, as Asterisk names it (under its sounds dir)
    prompt_prefix: str = "custom/screener"

    def decision_timeout(self, settings: Settings | None) -> float:
        if self.decision_timeout_s is not None:
            return self.decision_timeout_s
        budget_ms = settings.time_budget_ms if settings is not None else 250
        return max(0.5, 2 * budget_ms / 1000)
