"""Prefix entries of a DNC list (``+1201``: an area code; ``+86138``: a mobile range): a prefix blocks every
number under it. Pure: the list's prefixes come with its state (``ListState.prefixes``), read with its version."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping

from screener.config.settings import DncList, ListKind
from screener.decision import Reason
from screener.engine.facts import ListState
from screener.engine.plan import LIST_REASON

#: the kinds of list that may hold prefix entries (a registry is the registry's numbers, exactly)
PREFIX_KINDS = (ListKind.INTERNAL, ListKind.CAMPAIGN)
#: the shortest prefix: "+", a country code digit and one more digit (a whole country is no DNC entry)
MIN_PREFIX_CHARS = 3


def matching_prefix(e164: str, prefixes: Collection[str]) -> str | None:
    """The longest of ``prefixes`` that ``e164`` starts with (the number itself counts), else None.
    At most 15 set lookups, whatever the number of prefixes."""
    if not prefixes:
        return None
    for end in range(len(e164), MIN_PREFIX_CHARS - 1, -1):
        if e164[:end] in prefixes:
            return e164[:end]
    return None


def prefix_reasons(e164: str, list_names: Iterable[str], lists: Mapping[str, DncList],
                   states: Mapping[str, ListState]) -> list[Reason]:
    """A reason for each internal or campaign list (registries have no prefix entries) among ``list_names``
    with a prefix that ``e164`` falls under: the list's reason code, detail ``<list> (prefix <prefix>)``."""
    out = []
    for name in list_names:
        conf, state = lists.get(name), states.get(name)
        if conf is None or state is None or not state.prefixes or conf.kind not in PREFIX_KINDS:
            continue
        prefix = matching_prefix(e164, state.prefixes)
        if prefix is not None:
            out.append(Reason(LIST_REASON[conf.kind], f"{name} (prefix {prefix})"))
    return out
