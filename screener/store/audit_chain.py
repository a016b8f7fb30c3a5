"""The audit chain's format: what is hashed, how a link follows from the one before, and tombstones.

Each audit stream (one per hash-tag group, ``store/keys.py``) has its own chain. An entry's fields are, in
order: the client's fields, ``_h`` (the link), ``_n`` (the entry's position in the chain, 1 for the first),
then the fields the Lua script added (``r`` for a decision).

* The **client digest** is the SHA-256 of the client's fields in a canonical form, computed here before the
  append. Fields before ``_k`` (the entry's random key, when it has one) are *plain*: their name and value are
  hashed as they are. ``_k`` and the fields after it are *sealed*: only the SHA-256 of the key and the value
  enters the digest, so a sealed value can later be replaced by that digest (a **tombstone**, for a
  data-subject erasure) and the entry still verifies, while the erased value cannot be recovered by trying
  every phone number (the key is erased with it).
* The **link** of an entry is SHA-256(previous link ‖ client digest ‖ ns(id) ‖ ns(n) ‖ ns(name) ns(value) for
  each field the script added), with ``ns(s) = b"<len>:" + s`` and 32 zero bytes before the first entry. Lua
  computes it in the same step as the append (``lua/lib_audit_append.lua``); ``link`` here is the same
  function, used by ``screener audit verify``.

An entry altered after the fact no longer matches its link; a deleted one leaves a gap in the positions and
breaks the next link; an inserted or moved one repeats a position or breaks a link; a chain rewritten from the
start differs from a checkpoint of its head kept elsewhere.
"""

from __future__ import annotations

import hashlib
import os
from base64 import urlsafe_b64encode
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

#: the field holding an entry's link
LINK_FIELD = "_h"
#: the field holding an entry's position in its chain (after the link)
POSITION_FIELD = "_n"
#: the field holding an entry's random key: it and the fields after it are sealed (erasable)
KEY_FIELD = "_k"
#: the link before a stream's first entry
GENESIS = "0" * 64
#: a sealed value erased by a tombstone starts with this character, followed by the value's digest in hex
TOMBSTONE = "\x1f"
_DOMAIN = b"scr-audit-1\n"


class ChainFormatError(ValueError):
    """An entry whose fields cannot be hashed as the chain's format says (a malformed tombstone, a sealed value
    whose key was erased, a value that looks like a tombstone)."""


def new_key() -> str:
    """A fresh random key for an entry's sealed fields (96 bits, URL-safe base64)."""
    return urlsafe_b64encode(os.urandom(12)).decode()


def _ns(data: bytes) -> bytes:
    return b"%d:%b" % (len(data), data)


def sealed_digest(key: str, value: str) -> bytes:
    """What a sealed field contributes to the client digest: SHA-256(key, NUL, value)."""
    return hashlib.sha256(key.encode() + b"\0" + value.encode()).digest()


def is_tombstone(value: str) -> bool:
    return value.startswith(TOMBSTONE)


def _tombstone_digest(name: str, value: str) -> bytes:
    try:
        raw = bytes.fromhex(value[1:])
    except ValueError:
        raw = b""
    if len(raw) != 32:
        raise ChainFormatError(f"field {name!r} holds a malformed tombstone")
    return raw


def client_digest(fields: Iterable[tuple[str, str]]) -> str:
    """The SHA-256 (hex) of an entry's client fields, in their order (``_h`` and what follows excluded)."""
    digest = hashlib.sha256(_DOMAIN)
    key: str | None = None
    sealed = False
    for name, value in fields:
        if name == KEY_FIELD:
            sealed = True
            key = None if is_tombstone(value) else value
        if not sealed:
            if is_tombstone(value):
                raise ChainFormatError(f"plain field {name!r} starts with the tombstone mark")
            digest.update(b"p" + _ns(name.encode()) + _ns(value.encode()))
            continue
        if is_tombstone(value):
            part = _tombstone_digest(name, value)
        elif key is None:
            raise ChainFormatError(f"sealed field {name!r} is present but the entry's key was erased")
        else:
            part = sealed_digest(key, value)
        digest.update(b"s" + _ns(name.encode()) + part)
    return digest.hexdigest()


def check_appendable(fields: Mapping[str, str]) -> None:
    """Refuse client fields the chain could not tell apart from its own: a reserved name, a value that looks
    like a tombstone (raises ``ChainFormatError``)."""
    for name, value in fields.items():
        if name in (LINK_FIELD, POSITION_FIELD):
            raise ChainFormatError(f"{name!r} is the chain's own field")
        if is_tombstone(value):
            raise ChainFormatError(f"field {name!r} starts with the tombstone mark (\\x1f)")


def server_tail(entry_id: str, position: str, server: Sequence[tuple[str, str]]) -> bytes:
    """The bytes after the two hashes in a link's input: the entry id, its position, each field the script
    added."""
    return _ns(entry_id.encode()) + _ns(position.encode()) + b"".join(
        _ns(k.encode()) + _ns(v.encode()) for k, v in server)


def link(prev: str, digest: str, entry_id: str, position: str, server: Sequence[tuple[str, str]] = ()) -> str:
    """An entry's link (hex): SHA-256(previous link ‖ client digest ‖ id, position and added fields)."""
    try:
        hashes = bytes.fromhex(prev) + bytes.fromhex(digest)
    except ValueError:
        raise ChainFormatError("a link is not hex") from None
    return hashlib.sha256(hashes + server_tail(entry_id, position, server)).hexdigest()


@dataclass(frozen=True)
class Parts:
    """An entry's fields as the chain sees them."""

    client: list[tuple[str, str]]
    link: str | None
    position: str | None
    server: list[tuple[str, str]]


def split(fields: Mapping[str, str]) -> Parts:
    """An entry's fields as client fields, its link, its position and the fields the script added."""
    client: list[tuple[str, str]] = []
    server: list[tuple[str, str]] = []
    stored: str | None = None
    position: str | None = None
    for name, value in fields.items():
        if stored is None and name == LINK_FIELD:
            stored = value
        elif stored is None:
            client.append((name, value))
        elif position is None and name == POSITION_FIELD and not server:
            position = value
        else:
            server.append((name, value))
    return Parts(client, stored, position, server)


def position_of(fields: Mapping[str, str]) -> int | None:
    """An entry's position in its chain (None when it has none or an unreadable one)."""
    raw = split(fields).position
    return int(raw) if raw is not None and raw.isdigit() else None


def expected_link(prev: str, entry_id: str, fields: Mapping[str, str]) -> str:
    """The link an entry must hold after ``prev`` (raises ``ChainFormatError`` when it cannot be computed)."""
    parts = split(fields)
    if parts.position is None:
        raise ChainFormatError("the entry has no position (_n) after its link")
    return link(prev, client_digest(parts.client), entry_id, parts.position, parts.server)


def sealed_names(fields: Mapping[str, str]) -> list[str]:
    """The names of an entry's sealed fields (``_k`` and after it, before the link)."""
    names = [name for name, _ in split(fields).client]
    return names[names.index(KEY_FIELD):] if KEY_FIELD in names else []


def tombstone(fields: Mapping[str, str], erase: Iterable[str] | None = None) -> dict[str, str]:
    """The entry with sealed fields replaced by tombstones (their digests): every sealed field when ``erase`` is
    None, else those named (``_k`` goes too once no sealed value is left). Its client digest, and so its link,
    is unchanged: the chain still verifies. Plain fields cannot be erased (``ChainFormatError``)."""
    sealed = sealed_names(fields)
    wanted = set(sealed if erase is None else erase)
    plain = wanted - set(sealed)
    if plain:
        raise ChainFormatError(f"not sealed, so not erasable: {', '.join(sorted(plain))}")
    key = fields.get(KEY_FIELD, "")
    remaining = [n for n in sealed if n != KEY_FIELD and n not in wanted and not is_tombstone(fields[n])]
    if not remaining:
        wanted.add(KEY_FIELD)
    elif KEY_FIELD in wanted:
        raise ChainFormatError("the key goes only with the last sealed value")
    out: dict[str, str] = {}
    for name, value in fields.items():
        if name in wanted and not is_tombstone(value):
            if is_tombstone(key):
                raise ChainFormatError(f"sealed field {name!r} is present but the entry's key was erased")
            value = TOMBSTONE + sealed_digest(key, value).hex()
        out[name] = value
    return out
