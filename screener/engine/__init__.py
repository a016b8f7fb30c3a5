"""The pure policy engine: facts and a clock in, a decision out. No I/O anywhere in this package.

Public API (what the service calls)::

    precheck(number, campaign, policy, lists, list_states, now) -> Precheck   # local_rules: without the store
    build_plan(number, campaign, policy, lists) -> StorePlan                   # plan: what the store looks up
    evaluate(plan, facts, now_ms) -> list[Reason]                              # store_rules: on the store's facts
"""

from screener.engine.local_rules import Precheck, precheck
from screener.engine.plan import build_plan
from screener.engine.store_rules import evaluate

__all__ = ["Precheck", "build_plan", "evaluate", "precheck"]
