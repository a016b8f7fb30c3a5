"""What the AGI scripts need from the world: a channel to drive, a screener to ask, and their options."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from screener.agi.encode import Command
from screener.agi.events import AgiEnvironment, Reply
from screener.config.settings import Settings
from screener.service import ScreenerLike as ScreenerLike  # re-exported: what the front end needs of the service


class AgiChannel(Protocol):
    """One AGI session (FastAGI over TCP, or a process AGI on stdin/stdout)."""

    @property
    def env(self) -> AgiEnvironment: ...

    @property
    def hung_up(self) -> bool: ...

    async def execute(self, command: Command, *, timeout_s: float | None = None) -> Reply: ...


@dataclass(frozen=True)
class ScriptOptions:
    """Deadlines and names of the ``screen`` and ``disclose`` scripts."""

    #: how long ``screen`` waits for the decision before it blocks with screening_unavailable;
    #: None: twice the config's time_budget_ms, at least 0.5 s
    decision_timeout_s: float | None = None
    #: deadline for the reply to a short command (SET/GET VARIABLE)
    reply_timeout_s: float = 10.0
    #: deadline for the reply to STREAM FILE (the prompt's length plus margin)
    prompt_timeout_s: float = 120.0
    #: how long ``disclose`` listens for the opt-out digit after the prompt (TCPA: opt-out within 2 s of
    #: identification; the window stays open a little longer)
    opt_out_wait_ms: int = 3000
    #: how long ``disclose`` waits for Redis to acknowledge an opt-out
    opt_out_timeout_s: float = 5.0
    #: how long the disclosure evidence may take to record
    record_timeout_s: float = 2.0
    #: sound folder of the rendered prompts, as Asterisk names it (under its sounds dir)
    prompt_prefix: str = "custom/screener"
    #: "source" recorded with requests from this front end
    source: str = "fastagi"

    def decision_timeout(self, settings: Settings | None) -> float:
        if self.decision_timeout_s is not None:
            return self.decision_timeout_s
        budget_ms = settings.time_budget_ms if settings is not None else 250
        return max(0.5, 2 * budget_ms / 1000)
