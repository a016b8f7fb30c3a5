"""The demo's own check of each sample call: the SIP answer, and the decision the audit trail holds for it."""

from __future__ import annotations

from screener.cli.demo import STEPS, Outcome


def outcome(step_no: int, status: int, verdict: str, reasons: tuple[str, ...] = ()) -> Outcome:
    return Outcome(STEPS[step_no], status, 1, verdict, reasons, "")


def test_a_call_is_as_expected_only_with_its_answer_and_its_decision_in_the_trail() -> None:
    assert outcome(0, 200, "allow").as_expected
    assert outcome(1, 403, "block", ("dnc_internal",)).as_expected
    assert not outcome(0, 200, "?").as_expected  # no decision found in the audit trail: not shown as a success
    assert not outcome(1, 403, "?", ("dnc_internal",)).as_expected
    assert not outcome(1, 403, "block", ("frequency_limit",)).as_expected
    assert not outcome(0, 486, "allow").as_expected
