"""The pure policy engine: facts and a clock in, a decision out. No I/O anywhere in this package.

Public API (what the service calls)::

    precheck(number, campaign, policy, lists, list_states, now) -> Precheck
    build_plan(number, campaign, policy, lists) -> StorePlan
    evaluate(plan, facts, now_ms) -> list[Reason]
"""

from screener.engine.evaluate import evaluate
from screener.engine.planner import build_plan
from screener.engine.precheck import Precheck, precheck

__all__ = ["Precheck", "build_plan", "evaluate", "precheck"]
