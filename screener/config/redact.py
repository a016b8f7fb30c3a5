"""Secrets out of config text: what is stored with each config version (``screener config show VERSION``), so
the audit salt, passwords and tokens never leave the machine's files.

``redact`` masks a URL's password (user info, query options named like a password or a token).
``redacted_text`` masks, in a config file's text, every value whose key names a secret (``audit_salt``,
``password``, anything with ``token``, ``secret``, ``passw`` or ``api_key`` in its name), wherever the key is:
a table, a dotted or quoted key, an inline table, an array of tables; and every URL in a string value. It
works on the parsed document (tomlkit: comments and layout kept byte for byte), so no way of writing a key
escapes it. It is computed when a version is stored (``redacted_sources``), not at each load: parsing costs
tens of milliseconds that a process AGI call should not pay.
"""

from __future__ import annotations

import tomllib
from collections.abc import Sequence
from typing import Any

MASK = "***"
#: a key whose name holds one of these has a secret value
SECRET_KEY_PARTS = ("audit_salt", "password", "passw", "token", "secret", "api_key", "apikey")
#: a query option whose name holds one of these is a secret (``password``, ``sentinel_password``, ``token``,
#: ``api_key``, ``auth``...)
_SECRET_OPTIONS = ("pass", "token", "secret", "api_key", "apikey", "auth")


def redact(url: str) -> str:
    """``url`` (any scheme: Redis, ARI's http) with every password (user info, query options named like a
    password or a token) replaced by ``***``.

    Works on malformed text too, erring on hiding more: everything between the last ``@`` and the first
    ``:`` of the user info is taken as the password.
    """
    scheme, sep, rest = url.partition("://")
    if not sep:
        scheme, rest = "", url
    userinfo, at, after = rest.rpartition("@")
    if at:
        user, colon, _ = userinfo.partition(":")
        rest = f"{user}:{MASK}@{after}" if colon else f"{userinfo}@{after}"
    head, q, query = rest.partition("?")
    if q:
        pairs = [p.partition("=") for p in query.split("&")]
        query = "&".join(f"{k}{eq}{MASK}" if eq and any(w in k.lower() for w in _SECRET_OPTIONS) else f"{k}{eq}{v}"
                         for k, eq, v in pairs)
        rest = f"{head}?{query}"
    return f"{scheme}{sep}{rest}"


def is_secret_key(name: str) -> bool:
    low = name.lower()
    return any(part in low for part in SECRET_KEY_PARTS)


def redacted_text(content: bytes) -> str:
    """The file's text (UTF-8, undecodable bytes replaced) with its secrets masked. Text that is not TOML (a
    version is stored only once it loaded, so this is a safeguard) is withheld whole."""
    import tomlkit
    import tomlkit.exceptions

    text = content.decode("utf-8", errors="replace")
    try:
        doc = tomlkit.parse(text)
    except tomlkit.exceptions.TOMLKitError:
        return f"# {MASK} (not TOML: withheld, it might hold secrets)\n"
    _mask_container(doc)
    values = tomlkit.dumps(doc)
    masked = mask_comments(values)
    try:  # the comments' masking leaves every value as it was (else the text is withheld: never a secret out)
        same = tomllib.loads(masked) == tomllib.loads(values)
    except tomllib.TOMLDecodeError:
        same = False
    return masked if same else f"# {MASK} (comments could not be masked: withheld, they might hold secrets)\n"


def mask_comments(text: str) -> str:
    """``text`` with each comment that names a secret key or holds a URL or an ``@`` replaced by ``# ***`` (a
    commented-out old password is a password). Strings are skipped: a ``#`` inside one starts no comment."""
    out: list[str] = []
    i, n, state = 0, len(text), ""
    while i < n:
        c = text[i]
        if state == "":
            if text.startswith(('"""', "'''"), i):
                state = text[i:i + 3]
                out.append(state)
                i += 3
                continue
            if c in "\"'":
                state = c
            elif c == "#":
                end = text.find("\n", i)
                end = n if end < 0 else end
                comment = text[i:end]
                out.append(f"# {MASK}" if _secret_comment(comment) else comment)
                i = end
                continue
            out.append(c)
            i += 1
            continue
        if c == "\\" and state in ('"', '"""'):
            out.append(text[i:i + 2])
            i += 2
            continue
        if len(state) == 3 and text.startswith(state, i):
            out.append(state)
            i += 3
            state = ""
            continue
        if len(state) == 1 and (c == state or c == "\n"):
            state = ""
        out.append(c)
        i += 1
    return "".join(out)


def _secret_comment(comment: str) -> bool:
    return "://" in comment or "@" in comment or is_secret_key(comment)


def redacted_sources(sources: Sequence[tuple[str, bytes]]) -> tuple[tuple[str, str], ...]:
    """(path, text with secrets masked) of each file of a version."""
    return tuple((path, redacted_text(content)) for path, content in sources)


def _mask_container(container: Any) -> None:
    for key in list(container.keys()):
        value = container[key]
        masked = _masked(str(key), value)
        if masked is not None:
            container[key] = masked


def _masked(key: str, value: Any) -> Any:
    """What replaces ``value`` (None: keep it; containers are masked in place)."""
    if isinstance(value, dict):
        _mask_container(value)
        return None
    if isinstance(value, list):
        for i, item in enumerate(value):
            replaced = _masked(key, item)
            if replaced is not None:
                value[i] = replaced
        return None
    if isinstance(value, str):
        if is_secret_key(key):
            return MASK if value else None
        shown = redact(value) if "://" in value or "@" in value else value
        return shown if shown != value else None
    return None
