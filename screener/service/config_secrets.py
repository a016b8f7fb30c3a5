"""The secrets of the config file as the admin API shows them: masked on the way out (GET, an edit's diff), put
back on the way in, so that a file read, edited and sent back (GET -> edit -> PUT) keeps the stored secrets.

Secrets: ``[screener] audit_salt`` and ``[ari] password`` are shown as ``***``; ``[screener] redis_url`` with
its passwords as ``***`` (``connection.redact``). A value sent back as shown is replaced by the stored one; a
URL still holding a ``***`` that is not the stored URL as shown is refused (its password would be lost).
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from typing import Any

import tomlkit
import tomlkit.exceptions
from tomlkit.container import Container
from tomlkit.items import Item

from screener.service.connection import redact

#: what a secret is shown as
MASK = "***"
#: (table, key, how its value is shown)
SECRETS: tuple[tuple[str, str, Callable[[str], str]], ...] = (
    ("screener", "audit_salt", lambda value: MASK),
    ("ari", "password", lambda value: MASK),
    ("screener", "redis_url", redact),
)
#: in a file that is not valid TOML: any line that sets one of the secret keys
_SECRET_LINE = re.compile(r"^(\s*(?:[\w.\"']*\.)?[\"']?(?:audit_salt|password|redis_url)[\"']?\s*=).*$", re.MULTILINE)


class MaskedSecretSent(ValueError):
    """A value that still holds the mask but is not the stored secret as shown: the secret cannot be kept."""

    def __init__(self, key: str, problem: str) -> None:
        self.key = key
        self.problem = problem
        super().__init__(f"{key}: {problem}")


def _values(doc: Container) -> dict[tuple[str, str], tuple[Any, str]]:
    """(table, key) -> (the table, the string value) for every secret the document sets."""
    found = {}
    for table_name, key, _ in SECRETS:
        table = doc.get(table_name)
        if isinstance(table, dict) and isinstance(table.get(key), str):
            found[(table_name, key)] = (table, str(table[key]))
    return found


def mask_secrets(text: str, *, before: str | None = None) -> str:
    """``text`` with every secret masked. With ``before`` (the file's previous text, for a diff), a secret whose
    value changed is shown as changed (both would be masked alike)."""
    try:
        doc = tomlkit.parse(text)
    except tomlkit.exceptions.TOMLKitError:
        return _SECRET_LINE.sub(lambda m: f"{m.group(1)} {MASK!r}", text)
    previous = _previous(before)
    for table_name, key, shown in SECRETS:
        table, value = _values(doc).get((table_name, key), (None, ""))
        if table is None or not value:
            continue
        masked = shown(value)
        if (table_name, key) in previous and previous[(table_name, key)] != value:
            masked += " (changed)"
        table[key] = masked
    return tomlkit.dumps(doc)


def _previous(before: str | None) -> dict[tuple[str, str], str]:
    if before is None:
        return {}
    try:
        return {k: value for k, (_, value) in _values(tomlkit.parse(before)).items()}
    except tomlkit.exceptions.TOMLKitError:
        return {}


def restore_secrets(text: str, stored: str) -> str:
    """``text`` (as sent) with every masked secret replaced by its value in ``stored`` (the file on disk).
    Raises ``MaskedSecretSent`` for a value holding the mask that cannot be restored."""
    try:
        doc = tomlkit.parse(text)
    except tomlkit.exceptions.TOMLKitError:
        return text  # the loader names what is wrong with it
    try:
        kept = _values(tomlkit.parse(stored))
    except tomlkit.exceptions.TOMLKitError:
        kept = {}
    changed = False
    for table_name, key, shown in SECRETS:
        table, value = _values(doc).get((table_name, key), (None, ""))
        if table is None or MASK not in value:
            continue
        old_table, old = kept.get((table_name, key), (None, ""))
        if old and value == shown(old):
            table[key] = _as_written(old_table.item(key), table.item(key))
            changed = True
        else:
            raise MaskedSecretSent(f"{table_name}.{key}", f"{value!r} holds {MASK}, the mask shown in place of a "
                                   "secret, but is not the stored value as shown: write the secret itself")
    return tomlkit.dumps(doc) if changed else text


def _as_written(stored: Item, sent: Item) -> Item:
    """The stored value as it was written (its quotes and escapes), on the line as sent (its comment)."""
    restored = copy.deepcopy(stored)
    for part in ("indent", "comment_ws", "comment", "trail"):
        setattr(restored.trivia, part, getattr(sent.trivia, part))
    return restored
