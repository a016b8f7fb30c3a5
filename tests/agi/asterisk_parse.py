"""A Python model of how Asterisk 22 reads one AGI command (res_agi.c: one line, then ``parse_args``)."""

from __future__ import annotations

#: AGI_BUF_LEN of Asterisk before 22.6.0 (8192 since)
OLD_BUF_LEN = 2048


def split_lines(data: bytes, buf_len: int = OLD_BUF_LEN) -> list[bytes]:
    """The command lines Asterisk would run: split at ``\\n``; an over-long line is cut into pieces."""
    out: list[bytes] = []
    for line in data.split(b"\n")[:-1] if data.endswith(b"\n") else data.split(b"\n"):
        while len(line) > buf_len - 1:
            out.append(line[: buf_len - 1])
            line = line[buf_len - 1:]
        out.append(line)
    return out


def parse_args(line: str) -> list[str]:
    """Spaces/tabs split tokens, ``"`` groups, backslash takes the next character literally."""
    args: list[str] = []
    cur: list[str] = []
    in_token = quoted = escaped = False
    for ch in line:
        if escaped:
            cur.append(ch)
            escaped = False
            in_token = True
        elif ch == "\\":
            escaped = True
            in_token = True
        elif ch == '"':
            quoted = not quoted
            in_token = True
        elif ch in " \t" and not quoted:
            if in_token:
                args.append("".join(cur))
                cur, in_token = [], False
        else:
            cur.append(ch)
            in_token = True
    if in_token:
        args.append("".join(cur))
    return args
