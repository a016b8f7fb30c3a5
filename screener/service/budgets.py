"""How long things may take: the list versions a screener caches and the longest decision (an import keeps
an old list version readable at least that long)."""

from __future__ import annotations

#: seconds a cached list version is trusted (an import keeps the old version readable for longer)
LIST_STATE_TTL_S = 1.0
#: the longest decision, in time budgets: the store's budget, then half a budget more for decide.lua
DECISION_BUDGETS = 1.5


def oldest_list_version_s(time_budget_ms: int) -> float:
    """How long after a list's switch a screener may still read its previous version: the cached list versions'
    age plus the longest decision (an import keeps the old version at least that long; one freed sooner blocks
    the calls that still read it: decide.lua checks the version's freed marker)."""
    return LIST_STATE_TTL_S + DECISION_BUDGETS * time_budget_ms / 1000
