"""Lua scripts: read from the package's ``lua/*.lua`` files and registered once per client."""

from __future__ import annotations

from functools import cache
from importlib.resources import files
from typing import Any

from redis.commands.core import AsyncScript


@cache
def script_source(name: str) -> str:
    """The text of ``screener/store/lua/<name>.lua``."""
    return files("screener.store").joinpath("lua", f"{name}.lua").read_text(encoding="utf-8")


class Scripts:
    """The registered scripts of one Redis client. ``AsyncScript`` reloads a script after NOSCRIPT."""

    def __init__(self, client: Any) -> None:
        self.decide: AsyncScript = client.register_script(script_source("decide"))
