"""The deadlines and names of the ``screen`` and ``disclose`` scripts."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ScriptOptions:
    """Deadlines and names of the ``screen`` and ``disclose`` scripts."""

    #: how long ``screen`` waits for the decision before it blocks with screening_unavailable;
    #: None: the service's own (``Screener.decision_timeout_s``)
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
    #: "source" recorded with requests from this front end
    source: str = "fastagi"
