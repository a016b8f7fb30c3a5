"""Lua scripts: read from the package's ``lua/*.lua`` files and run by EVALSHA, loaded again after NOSCRIPT.

A script's header comment names its KEYS, ARGV and reply. A line ``-- uses: lib_name`` in that header puts
``lua/lib_name.lua`` (shared local functions) in front of the script's own text.

One ``Script`` runs two ways:

* on a redis-py client (a plain or a cluster client; in pipelines through ``queue`` and
  ``execute_with_scripts``): the store's administrative paths;
* on ``Connections`` (``store.connections``: one pipelined connection to one server or a Sentinel master)
  or ``SlotConnections`` (``store.cluster_path``: a Redis Cluster's masters): the decision's hot path,
  which packs EVALSHA itself (one bytes join instead of redis-py's per-argument encoding).
"""

from __future__ import annotations

import hashlib
import re
import weakref
from collections.abc import Callable, Sequence
from functools import cache
from importlib.resources import files
from typing import Any

from redis.asyncio.cluster import RedisCluster
from redis.exceptions import NoScriptError

from screener.store.client import AnyRedis
from screener.store.cluster_path import SlotConnections
from screener.store.connections import Connections, DecisionNeedsOneServer, pack_command
from screener.store.server_clock import ServerClock

#: a header line naming the lib files a script needs ("-- uses: lib_dnc_edit")
_USES = re.compile(r"^--\s*uses:\s*(.+)$")


def _lua_file(name: str) -> str:
    return files("screener.store").joinpath("lua", f"{name}.lua").read_text(encoding="utf-8")


def _header(text: str) -> list[str]:
    """The leading comment lines of a Lua file."""
    lines = []
    for line in text.splitlines():
        if not line.startswith("--"):
            break
        lines.append(line)
    return lines


@cache
def script_source(name: str) -> str:
    """The text of ``screener/store/lua/<name>.lua``, after the lib files its header names in ``uses:``."""
    text = _lua_file(name)
    libs: list[str] = []
    for line in _header(text):
        match = _USES.match(line)
        if match:
            libs += [lib.strip() for lib in match.group(1).split(",") if lib.strip()]
    return "".join(_lua_file(lib) + "\n" for lib in libs) + text


class Script:
    """The script ``lua/<name>.lua``, called by EVALSHA and loaded again after NOSCRIPT (a Redis restart,
    a failover or ``SCRIPT FLUSH``)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.source = script_source(name)
        self.sha = hashlib.sha1(self.source.encode()).hexdigest()
        self._load_packed = pack_command(b"SCRIPT", b"LOAD", self.source)
        self._loaded: weakref.WeakSet[Any] = weakref.WeakSet()

    async def __call__(self, target: AnyRedis | Connections | SlotConnections, keys: Sequence[str],
                       args: Sequence[Any]) -> Any:
        """Run the script on a redis-py client, or on the hot path's connections (the command packed by hand;
        on a cluster, sent to the master of the first key's slot)."""
        if isinstance(target, SlotConnections):
            return await target.execute(pack_command(b"EVALSHA", self.sha, len(keys), *keys, *args),
                                        key=keys[0] if keys else None, load=self._load_packed)
        if isinstance(target, Connections):
            packed = pack_command(b"EVALSHA", self.sha, len(keys), *keys, *args)
            try:
                return await target.execute(packed)
            except NoScriptError:
                await target.execute(self._load_packed)
                return await target.execute(packed)
        try:
            return await target.evalsha(self.sha, len(keys), *keys, *args)
        except NoScriptError:
            return await target.eval(self.source, len(keys), *keys, *args)

    async def load(self, client: AnyRedis | Connections | SlotConnections) -> None:
        """Load the script on every primary (before EVALSHA in a pipeline), or on the hot path's server (on a
        cluster's hot path, each master loads it at its first NOSCRIPT)."""
        if isinstance(client, SlotConnections):
            return
        if isinstance(client, Connections):
            await client.execute(self._load_packed)
        elif isinstance(client, RedisCluster):
            for node in client.get_primaries():
                await client.execute_command("SCRIPT", "LOAD", self.source, target_nodes=node)
        else:
            await client.script_load(self.source)

    async def ensure(self, client: AnyRedis, *, force: bool = False) -> None:
        """Load the script once per client (``force``: again, e.g. after NOSCRIPT from a restarted server)."""
        if force or client not in self._loaded:
            await self.load(client)
            self._loaded.add(client)

    def queue(self, pipe: Any, keys: Sequence[str], args: Sequence[Any]) -> None:
        """Add an EVALSHA of the (loaded) script to a pipeline."""
        pipe.execute_command("EVALSHA", self.sha, len(keys), *keys, *args)  # pipe.evalsha is refused on a cluster


async def execute_with_scripts(client: AnyRedis, scripts: Sequence[Script], queue: Callable[[], Any]) -> list[Any]:
    """Run the pipeline ``queue()`` builds, its scripts loaded first; again after NOSCRIPT (a restarted server)."""
    for script in scripts:
        await script.ensure(client)
    try:
        return list(await queue().execute())
    except NoScriptError:
        for script in scripts:
            await script.ensure(client, force=True)
        return list(await queue().execute())


class Scripts:
    """The hot path's connections to one Redis client (decide.lua and audit appends run on them): ``Connections``
    to one server (or a Sentinel master), ``SlotConnections`` to a Redis Cluster's masters; and what the
    decisions' replies tell of the server's clock."""

    def __init__(self, client: Any) -> None:
        self.connections: Connections | SlotConnections = (
            SlotConnections(client) if isinstance(client, RedisCluster) else Connections(client))
        self.clock = ServerClock()

    @property
    def cluster(self) -> bool:
        """True on a Redis Cluster: a decision may only touch keys in the number's slot."""
        return isinstance(self.connections, SlotConnections)

    async def aclose(self) -> None:
        await self.connections.aclose()


__all__ = ["Connections", "DecisionNeedsOneServer", "Script", "Scripts", "execute_with_scripts", "pack_command",
           "script_source"]
