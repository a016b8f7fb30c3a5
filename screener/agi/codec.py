"""The sans-I/O AGI codec (h11 style): bytes in, typed events out; commands in, bytes out. No sockets here.

    conn = AgiConnection()
    conn.receive_data(chunk)          # b"" means EOF
    event = conn.next_event()         # AgiEnvironment | Reply | HangupNotice | ConnectionClosed | NEED_DATA
    sock.send(conn.send_command(set_variable("SCREEN_RESULT", "ALLOW")))

Every line is capped (``max_line_bytes``), the header block is capped (``max_header_lines``), a multi-line
520 usage reply is capped; garbage raises ``RemoteProtocolError`` and the connection stays in an error
state. A ``HANGUP`` line is an out-of-band notice: when it arrives while a reply is pending, the reply
still follows and ``next_event`` returns it after the notice.
"""

from __future__ import annotations

import re
from enum import Enum

from screener.agi.commands import Command
from screener.agi.errors import ConnectionLost, LocalProtocolError, RemoteProtocolError
from screener.agi.events import (
    NEED_DATA,
    AgiEnvironment,
    ConnectionClosed,
    Event,
    HangupNotice,
    NeedData,
    Reply,
)

MAX_LINE_BYTES = 8192
MAX_HEADER_LINES = 128
MAX_USAGE_LINES = 64
#: header fields whose values come from the caller or the network (a SIP From user part, a redirecting
#: number): a raw newline inside one (``%0a`` in a SIP URI, unescaped by Asterisk) splits it over lines
CALLER_FIELDS = frozenset({"agi_callerid", "agi_calleridname", "agi_dnid", "agi_rdnis"})
#: Asterisk's last fixed header field (after every caller field, before the agi_arg_N lines)
LAST_FIXED_FIELD = "agi_threadid"

_HEADER_KEY = re.compile(r"agi_[a-z0-9_]{1,60}")
_RESULT = re.compile(r"\S*")
_PAIR = re.compile(r"[a-z]+=\S*")
_STATUS = re.compile(r"(?P<code>[0-9]{3})(?P<sep>[ -]|$)(?P<text>.*)", re.S)


class State(Enum):
    HEADERS = "headers"
    IDLE = "idle"
    AWAITING_REPLY = "awaiting_reply"
    CLOSED = "closed"
    ERROR = "error"


class AgiConnection:
    """One AGI session's protocol state, from the server's side (FastAGI) or a process AGI's side."""

    def __init__(
        self,
        *,
        max_line_bytes: int = MAX_LINE_BYTES,
        max_header_lines: int = MAX_HEADER_LINES,
        header_done: bool = False,
    ) -> None:
        """``header_done=True``: the header block was consumed elsewhere (a process AGI read by pyst2)."""
        self.max_line_bytes = max_line_bytes
        self.max_header_lines = max_header_lines
        self.state = State.IDLE if header_done else State.HEADERS
        self._buf = bytearray()
        self._scan = 0
        self._eof = False
        self._header: list[tuple[str, str]] = []
        #: what is wrong with a header block that could still be read (see ``_header_line``)
        self._problems: list[str] = []
        self._usage: list[str] | None = None
        self.pending: Command | None = None

    # -- input -----------------------------------------------------------------------------------------
    def receive_data(self, data: bytes) -> None:
        if self._eof:
            if data:
                raise RuntimeError("received data after EOF")
            return
        if data:
            self._buf += data
        else:
            self._eof = True

    def next_event(self) -> Event | NeedData:
        if self.state is State.ERROR:
            raise RemoteProtocolError("connection is in an error state")
        if self.state is State.CLOSED:
            return ConnectionClosed()
        try:
            return self._next_event()
        except RemoteProtocolError:
            self.state = State.ERROR
            raise

    def _next_event(self) -> Event | NeedData:
        while True:
            line = self._next_line()
            if line is None:
                return self._at_end_of_data()
            event = self._handle_line(line)
            if event is not None:
                return event

    def _at_end_of_data(self) -> Event | NeedData:
        if not self._eof:
            return NEED_DATA
        if self._buf:
            raise RemoteProtocolError("connection closed in the middle of a line")
        if self.state is State.HEADERS and self._header:
            raise RemoteProtocolError("connection closed in the middle of the agi_* header block")
        if self._usage is not None:
            raise RemoteProtocolError("connection closed in the middle of a 520 usage reply")
        self.state = State.CLOSED
        return ConnectionClosed()

    def _next_line(self) -> str | None:
        end = self._buf.find(b"\n", self._scan)
        if end < 0:
            if len(self._buf) > self.max_line_bytes:
                raise RemoteProtocolError(f"line longer than {self.max_line_bytes} bytes")
            self._scan = len(self._buf)
            return None
        if end > self.max_line_bytes:
            raise RemoteProtocolError(f"line longer than {self.max_line_bytes} bytes")
        raw = bytes(self._buf[:end])
        del self._buf[: end + 1]
        self._scan = 0
        if raw.endswith(b"\r"):
            raw = raw[:-1]
        if b"\x00" in raw:
            raise RemoteProtocolError("NUL byte in a protocol line")
        return raw.decode("utf-8", errors="replace")

    def _handle_line(self, line: str) -> Event | None:
        if self.state is State.HEADERS:
            return self._header_line(line)
        if self._usage is not None:
            return self._usage_line(line)
        if line == "HANGUP":
            return HangupNotice()
        if self.state is State.IDLE:
            raise RemoteProtocolError(f"unexpected line with no command pending: {line[:60]!r}")
        return self._reply_line(line)

    # -- header block ---------------------------------------------------------------------------------
    def _header_line(self, line: str) -> Event | None:
        """One line of the header block. A raw newline inside a caller-controlled value (``agi_callerid`` and
        the like) splits it: the lines that follow it up to the next header line, and a blank line among them
        while Asterisk's header is not complete (``agi_version`` seen, ``agi_threadid`` not yet), are noted as
        problems instead of ending the session, so the call still gets a decision (``invalid_request``)."""
        if line == "" and self._inside_caller_value():
            self._problem(f"a blank line inside {self._current_key()} (a raw newline in a caller-supplied value)")
            return None
        if line == "":
            if not self._header:
                raise RemoteProtocolError("empty agi_* header block")
            return self._finish_header()
        if len(self._header) + len(self._problems) >= self.max_header_lines:
            raise RemoteProtocolError(f"more than {self.max_header_lines} header lines")
        key, sep, value = line.partition(":")
        if not sep or not _HEADER_KEY.fullmatch(key):
            if self._inside_caller_value():
                self._problem(f"a line that is not agi_* after {self._current_key()} (a raw newline in a "
                              "caller-supplied value)")
                return None
            raise RemoteProtocolError(f"not an agi_* header line: {line[:60]!r}")
        if any(k == key for k, _ in self._header):
            self._problem(f"{key} given twice (a header line injected through a caller-supplied value?)")
        self._header.append((key, value.strip()))
        return None

    def _current_key(self) -> str:
        return self._header[-1][0] if self._header else ""

    def _inside_caller_value(self) -> bool:
        """True while the last header line was a caller field of a real Asterisk header not yet complete."""
        seen = {k for k, _ in self._header}
        return self._current_key() in CALLER_FIELDS and "agi_version" in seen and LAST_FIXED_FIELD not in seen

    def _problem(self, text: str) -> None:
        if len(self._header) + len(self._problems) >= self.max_header_lines:
            raise RemoteProtocolError(f"more than {self.max_header_lines} header lines")
        self._problems.append(text)

    def _finish_header(self) -> AgiEnvironment:
        fields: dict[str, str] = {}
        numbered: dict[int, str] = {}
        for key, value in self._header:
            if key.startswith("agi_arg_"):
                suffix = key[len("agi_arg_"):]
                if not suffix.isdigit() or not 0 < int(suffix) <= self.max_header_lines:
                    raise RemoteProtocolError(f"bad argument header {key!r}")
                numbered[int(suffix)] = value
            fields[key] = value
        args = tuple(numbered.get(i, "") for i in range(1, max(numbered, default=0) + 1))
        problems = tuple(dict.fromkeys(self._problems))
        self._header, self._problems = [], []
        self.state = State.IDLE
        return AgiEnvironment(fields=fields, args=args, problems=problems)

    # -- replies --------------------------------------------------------------------------------------
    def _reply_line(self, line: str) -> Event | None:
        m = _STATUS.fullmatch(line)
        if m is None:
            raise RemoteProtocolError(f"not an AGI reply: {line[:60]!r}")
        code, sep, text = int(m["code"]), m["sep"], m["text"]
        if code == 100:  # "100 result=0 Trying..." (old AGI EXEC progress): the real reply follows
            return None
        if code == 520 and sep == "-":
            self._usage = [text]
            return None
        if code == 200:
            return self._done(parse_200(text))
        if code in (510, 511, 520):
            return self._done(Reply(code=code, text=text))
        raise RemoteProtocolError(f"unknown AGI reply code {code}")

    def _usage_line(self, line: str) -> Event | None:
        assert self._usage is not None
        if line.startswith("520 "):
            usage, self._usage = self._usage, None
            return self._done(Reply(code=520, text="\n".join([*usage, line[4:]])))
        if len(self._usage) >= MAX_USAGE_LINES:
            raise RemoteProtocolError(f"520 usage reply longer than {MAX_USAGE_LINES} lines")
        self._usage.append(line)
        return None

    def _done(self, reply: Reply) -> Reply:
        self.pending = None
        self.state = State.IDLE
        return reply

    # -- output ---------------------------------------------------------------------------------------
    def send_command(self, command: Command) -> bytes:
        """The bytes of ``command``; one command at a time, and only after the header block."""
        if self.state is State.HEADERS:
            raise LocalProtocolError("cannot send a command before the agi_* header block arrived")
        if self.state is not State.IDLE:
            raise LocalProtocolError(f"cannot send a command in state {self.state.value}")
        data = command.encode()
        self.pending = command
        self.state = State.AWAITING_REPLY
        return data


def parse_200(text: str) -> Reply:
    """Parse what follows ``200 ``: ``result=<r>[ (data)][ key=value...]``, in time linear in the line.

    The data may hold spaces and parentheses: it runs to the last ``)`` that only ``key=value`` pairs follow
    (what ``result=(\\S*)(?: \\((.*)\\))?((?: [a-z]+=\\S*)*)`` would match, without its backtracking).
    """
    malformed = RemoteProtocolError(f"malformed 200 reply: {text[:60]!r}")
    if not text.startswith("result="):
        raise malformed
    found = _RESULT.match(text, 7)
    assert found is not None  # \S* matches even nothing
    result, tail = found.group(), text[found.end():]
    data: str | None = None
    pairs_at = 0
    if tail.startswith(" ("):
        # the data ends at the rightmost ")" that a run of valid pairs (maybe none) follows to the end
        for start in _pair_run_starts(tail):
            if start >= 3 and tail[start - 1] == ")":
                data, pairs_at = tail[2:start - 1], start
                break
        else:
            raise malformed
    elif _pair_run_starts(tail)[-1] != 0:
        raise malformed
    endpos: int | None = None
    for pair in tail[pairs_at:].split():
        key, _, value = pair.partition("=")
        if key == "endpos":
            try:
                endpos = int(value)
            except ValueError as exc:
                raise RemoteProtocolError(f"bad endpos in reply: {value[:20]!r}") from exc
    return Reply(code=200, result=result, data=data, endpos=endpos)


def _pair_run_starts(tail: str) -> list[int]:
    """Every index ``i`` (right to left) where ``tail[i:]`` is a run of `` key=value`` pairs: its end, then
    the space before each pair while the pairs from there on are valid. Each character is looked at once."""
    starts = [len(tail)]
    end = len(tail)
    while end > 0:
        space = tail.rfind(" ", 0, end)
        if space < 0 or not _PAIR.fullmatch(tail, space + 1, end):
            break
        starts.append(space)
        end = space
    return starts


def awaited_reply(event: Event, verb: str) -> tuple[Reply | None, bool]:
    """What one event means while the reply to command ``verb`` is awaited, for both transports (FastAGI and
    process AGI): (the reply, or None to read on; True when the event shows the channel hung up). A
    ``HANGUP`` notice is noted, not returned; EOF raises ``ConnectionLost``; anything else is a protocol
    error."""
    if isinstance(event, HangupNotice):
        return None, True
    if isinstance(event, ConnectionClosed):
        raise ConnectionLost(f"connection closed before the reply to {verb}")
    if isinstance(event, Reply):
        return event, event.code == 511
    raise RemoteProtocolError(f"unexpected event {event!r}")
