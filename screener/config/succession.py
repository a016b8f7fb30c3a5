"""What a running screener refuses to switch to, beyond what the loader checks: the rules every change of the
running config passes (a file reload, SIGHUP, an edit over the admin API), in one place.

- no campaign: an empty or half-saved file would block every call (``unknown_campaign``) and drop the salt;
- an internal list of the running config removed, renamed or given another kind: the opt-outs and complaints
  stay in Redis under the old name while every campaign checks the new (empty) one, so every number that
  asked not to be called again would be called.

A config loaded at start has no predecessor: only the loader's checks apply there.
"""

from __future__ import annotations

from screener.config.errors import ConfigError
from screener.config.settings import ListKind, Settings


def check_successor(running: Settings, new: Settings) -> None:
    """Raise ``ConfigError`` (naming ``new``'s file and the key) when ``new`` may not replace ``running``."""
    if not new.campaigns:
        raise ConfigError(new.path, "campaigns", "no campaign defined (an empty or half-saved file?): "
                          "every call would block; define at least one [campaigns.NAME]")
    for name, old in running.lists.items():
        if old.kind is not ListKind.INTERNAL:
            continue
        kept = new.lists.get(name)
        if kept is not None and kept.kind is ListKind.INTERNAL:
            continue
        change = "removed (or renamed)" if kept is None else f'changed to kind "{kept.kind.value}"'
        raise ConfigError(
            new.path, f"lists.{name}",
            f'the running config\'s internal list "{name}" is {change}: the opt-outs and complaints stored under '
            f'"{name}" would no longer block any call. Keep [lists.{name}] with kind = "internal"')
