"""Process AGI (Asterisk starts one process per call, stdin/stdout) on pyst2's ``asterisk.agi.AGI``.

pyst2 reads the ``agi_*`` header and turns Asterisk's SIGHUP into a flag (it must run in the main
thread). Commands are NOT sent through pyst2's helpers (``set_variable`` quotes without escaping): they
are built by ``screener.agi.commands`` and their replies parsed by the same codec as FastAGI, so a process
AGI gets the same injection safety, the same scripts and the same variables.
"""

from __future__ import annotations

from typing import Any, TextIO

from asterisk.agi import AGI

from screener.agi.codec import AgiConnection, awaited_reply
from screener.agi.commands import Command
from screener.agi.errors import ConnectionLost
from screener.agi.events import AgiEnvironment, NeedData, Reply


class _Quiet:
    """pyst2 writes every header line and command to stderr (numbers included): keep them out of the logs."""

    def write(self, _: str) -> int:
        return 0

    def flush(self) -> None:
        return None


class ProcessChannel:
    """An ``AgiChannel`` over stdin/stdout; the script's arguments come from the command line."""

    def __init__(self, stdin: TextIO, stdout: TextIO, args: tuple[str, ...]) -> None:
        self._agi: Any = AGI(stdin=stdin, stdout=stdout, stderr=_Quiet())
        self._stdin = stdin
        self._stdout = stdout
        self._env = AgiEnvironment(fields={str(k): str(v) for k, v in self._agi.env.items()}, args=args)
        self._conn = AgiConnection(header_done=True)
        self._hung_up = False

    @property
    def env(self) -> AgiEnvironment:
        return self._env

    @property
    def hung_up(self) -> bool:
        return self._hung_up or bool(self._agi._got_sighup)

    async def execute(self, command: Command, *, timeout_s: float | None = None) -> Reply:
        data = self._conn.send_command(command)
        try:
            self._stdout.write(data.decode("utf-8"))
            self._stdout.flush()
        except (BrokenPipeError, OSError) as exc:
            self._hung_up = True
            raise ConnectionLost(f"Asterisk closed our stdout: {exc}") from exc
        while True:
            event = self._conn.next_event()
            if isinstance(event, NeedData):
                line = self._stdin.readline(self._conn.max_line_bytes + 2)
                self._conn.receive_data(line.encode("utf-8") if line else b"")
                continue
            try:
                reply, hung_up = awaited_reply(event, command.verb)
            except ConnectionLost:
                self._hung_up = True
                raise
            self._hung_up = self._hung_up or hung_up
            if reply is not None:
                return reply
