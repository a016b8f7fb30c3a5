"""What the end of an answered call tells, for the abandoned-call accounting: the ``end`` script's arguments 3-9.

The disclosure (``disclose``, on the callee's channel) cannot see whether the agent is connected afterwards:
Asterisk bridges the two channels only after the ``U()`` gosub returns. So the gosub leaves on the agent's
channel (``SHARED()``) the answer time, the disclosure's result and the time it ended, and the ``h``
extension passes them to ``end`` with Dial's ``ANSWEREDTIME_MS`` (how long the agent was connected: empty when
never) and the hang-up time. Every time comes from Asterisk's clock.

Arguments of ``end`` after the call id and the campaign: 3 the E.164 number, 4 the answer time (epoch seconds;
empty: the callee never answered, nothing to count), 5 the disclosure result (DONE, OPTOUT, HANGUP, FAILED;
empty when the disclosure never said), 6 the time the disclosure ended, 7 DIALSTATUS, 8 ANSWEREDTIME_MS,
9 the hang-up time.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

from screener.agi import commands
from screener.decision import AnsweredCall, clean_campaign
from screener.numbers import clean_dialed

#: the disclosure results the ``disclose`` script sets (anything else: FAILED)
RESULTS = ("DONE", "OPTOUT", "HANGUP", "FAILED")
#: an answer longer ago than this is not believed (a garbled argument)
MAX_CALL_S = 2 * 86_400


def epoch_arg(value: str, *, now: float | None = None) -> datetime | None:
    """An epoch-seconds argument (fractions allowed) as an aware time, when plausible (the last two days)."""
    try:
        epoch = float(value)
    except ValueError:
        return None
    current = time.time() if now is None else now
    if not current - MAX_CALL_S <= epoch <= current + 60:
        return None
    return datetime.fromtimestamp(epoch, UTC)


def answered_call(args: list[str], source: str, *, now: float | None = None) -> AnsweredCall | None:
    """The answered call the hangup handler's arguments describe, or None when the callee never answered."""
    args = [*args, *[""] * 9][:9]
    number, campaign, call_id, answered, result, handed_over, _dialstatus, connected_ms, ended = args
    answered_at = epoch_arg(answered, now=now)
    if answered_at is None:
        return None
    disclosure = result if result in RESULTS else "FAILED"
    handed_over_at = epoch_arg(handed_over, now=now) if disclosure == "DONE" else None
    ended_at = epoch_arg(ended, now=now)
    connected_at = None
    if connected_ms.isdigit() and ended_at is not None:
        connected_at = datetime.fromtimestamp(ended_at.timestamp() - int(connected_ms) / 1000, UTC)
    return AnsweredCall(number=clean_dialed(number), campaign=clean_campaign(campaign),
                        call_id=commands.sanitize(call_id, max_chars=64) or None, answered_at=answered_at,
                        disclosure=disclosure, handed_over_at=handed_over_at, connected_at=connected_at,
                        source=source)
