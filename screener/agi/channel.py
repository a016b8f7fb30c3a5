"""What the AGI scripts drive: one AGI session (FastAGI over TCP, or a process AGI on stdin/stdout)."""

from __future__ import annotations

from typing import Protocol

from screener.agi.commands import Command
from screener.agi.events import AgiEnvironment, Reply


class AgiChannel(Protocol):
    """One AGI session: its environment, whether Asterisk said the channel hung up, and command execution."""

    @property
    def env(self) -> AgiEnvironment: ...

    @property
    def hung_up(self) -> bool: ...

    async def execute(self, command: Command, *, timeout_s: float | None = None) -> Reply: ...
