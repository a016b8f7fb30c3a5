"""The text of a config file with its secrets replaced by ``***``: what is stored with each config version
(``screener config show VERSION``), so the audit salt and passwords never leave the machine's files.

Line by line: the value of ``audit_salt`` and of every ``password`` key, and the password inside a Redis URL
(``redis://user:***@host``, ``?password=***``, ``sentinel_password=***``). Everything else is kept byte for
byte, comments and layout included.
"""

from __future__ import annotations

import re

#: keys whose whole value is a secret
SECRET_KEYS = ("audit_salt", "password")
_SECRET_LINE = re.compile(r"^(\s*(?:" + "|".join(SECRET_KEYS) + r""")\s*=\s*)("(?:[^"\\]|\\.)*"|'[^']*')""", re.M)
_URL_PASSWORD = re.compile(r"(://[^:/@\s\"']*:)[^@/\s\"']*(@)")
_QUERY_PASSWORD = re.compile(r"((?:^|[?&])(?:sentinel_)?password=)[^&\s\"']*")
MASK = "***"


def redacted_text(content: bytes) -> str:
    """The file's text (UTF-8, undecodable bytes replaced) with its secrets masked."""
    text = content.decode("utf-8", errors="replace")
    text = _SECRET_LINE.sub(lambda m: f'{m.group(1)}"{MASK}"', text)
    text = _URL_PASSWORD.sub(rf"\g<1>{MASK}\g<2>", text)
    return _QUERY_PASSWORD.sub(rf"\g<1>{MASK}", text)
