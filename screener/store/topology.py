"""Redis URLs for every topology (one server, Sentinel, Cluster) and the redis-py client each one needs.

The forms (``rediss`` for TLS; ports default to 6379, and to 26379 for Sentinels)::

    redis://[[user]:password@]host[:port][/db]
    unix://[[user]:password@]/path/to/redis.sock[?db=N]
    redis+sentinel://[[user]:password@]host[:port][,host[:port]...]/SERVICE[/db]
    redis+cluster://[[user]:password@]host[:port][,host[:port]...]

The user and password are the data nodes' (the Sentinel master's, every Cluster node's). Query options:
``db``, ``username``, ``password`` (instead of the user info), ``sentinel_username`` and
``sentinel_password`` (when the Sentinels have a password of their own), and with ``rediss``:
``ssl_ca_certs``, ``ssl_certfile``, ``ssl_keyfile``, ``ssl_cert_reqs`` (required, optional, none) and
``ssl_check_hostname`` (true/false). With ``rediss+sentinel`` the Sentinels and the master both speak
TLS. Timeouts are not URL options: the caller gives them (a decision's time budget bounds them).
Characters such as ``@ : / ? #`` in a password are percent-encoded (``%40``). Secrets are never shown:
``redact`` replaces every password with ``***``, and every error names the URL that way.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, TypeAlias
from urllib.parse import parse_qsl, unquote

import redis.asyncio as aioredis
from redis.asyncio.cluster import ClusterNode, RedisCluster
from redis.asyncio.sentinel import Sentinel

from screener.config.redact import redact

#: a client of any topology: a Sentinel master is a plain ``Redis`` client that asks the Sentinels first
AnyClient: TypeAlias = "aioredis.Redis | RedisCluster"


class Topology(StrEnum):
    SERVER = "server"
    SENTINEL = "sentinel"
    CLUSTER = "cluster"


#: scheme -> (topology, TLS)
SCHEMES: dict[str, tuple[Topology, bool]] = {
    "redis": (Topology.SERVER, False),
    "rediss": (Topology.SERVER, True),
    "unix": (Topology.SERVER, False),
    "redis+sentinel": (Topology.SENTINEL, False),
    "rediss+sentinel": (Topology.SENTINEL, True),
    "redis+cluster": (Topology.CLUSTER, False),
    "rediss+cluster": (Topology.CLUSTER, True),
}
SUPPORTED = ", ".join(f"{scheme}://" for scheme in SCHEMES)
DEFAULT_PORT = 6379
DEFAULT_SENTINEL_PORT = 26379
TLS_OPTIONS = ("ssl_ca_certs", "ssl_certfile", "ssl_keyfile", "ssl_cert_reqs", "ssl_check_hostname")
OPTIONS = {
    Topology.SERVER: ("db", "username", "password"),
    Topology.SENTINEL: ("username", "password", "sentinel_username", "sentinel_password"),
    Topology.CLUSTER: ("username", "password"),
}
_HOST = re.compile(r"[A-Za-z0-9._-]+|\[[0-9A-Fa-f:.]+\]")
_BOOLS = {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False}


class RedisUrlError(ValueError):
    """A Redis URL that cannot be used: names the URL (passwords as ``***``) and lists the supported forms."""

    def __init__(self, url: str, problem: str) -> None:
        self.url = redact(url)
        self.problem = problem
        super().__init__(f"Redis URL {self.url!r}: {problem} (supported schemes: {SUPPORTED})")


@dataclass(frozen=True)
class Endpoint:
    host: str
    port: int

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


@dataclass(frozen=True)
class RedisUrl:
    """A parsed Redis URL: which topology, where, and how to authenticate (secrets kept out of ``repr``)."""

    topology: Topology
    tls: bool
    #: the server (one), the Sentinels, or the Cluster's seed nodes; empty for a unix socket
    endpoints: tuple[Endpoint, ...]
    #: the unix socket's path (``unix://`` only)
    path: str = ""
    #: the Sentinel master's name
    service: str = ""
    db: int = 0
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    sentinel_username: str | None = None
    sentinel_password: str | None = field(default=None, repr=False)
    #: TLS options (``ssl_*``) as redis-py takes them
    tls_options: tuple[tuple[str, str | bool], ...] = ()
    #: the URL as given (may hold secrets: shown only through ``redacted``)
    text: str = field(default="", repr=False, compare=False)

    @property
    def redacted(self) -> str:
        return redact(self.text)


def parse_redis_url(text: str) -> RedisUrl:
    """Parse any supported Redis URL; raises ``RedisUrlError`` naming what is wrong."""
    scheme, sep, rest = text.strip().partition("://")
    if not sep:
        raise RedisUrlError(text, "not a URL (no scheme:// at the start)")
    if scheme.lower() not in SCHEMES:
        raise RedisUrlError(text, f"unknown scheme {scheme + '://'!r}")
    topology, tls = SCHEMES[scheme.lower()]
    rest, _, query = rest.partition("?")
    if "#" in rest or "#" in query:
        raise RedisUrlError(text, "a '#' must be percent-encoded (%23)")
    userinfo, _, location = rest.rpartition("@")
    user, _, password = (unquote(part) for part in userinfo.partition(":"))
    options = _options(text, query, topology, tls)
    username = _once(text, "username", user or None, options.pop("username", None))
    password_ = _once(text, "password", password or None, options.pop("password", None))
    common: dict[str, Any] = {"username": username, "password": password_, "text": text,
                              "tls_options": tuple(sorted(options.pop("tls").items()))}
    if scheme.lower() == "unix":
        if not location.startswith("/") or location == "/":
            raise RedisUrlError(text, "a unix:// URL needs an absolute socket path (unix:///run/redis.sock)")
        return RedisUrl(topology, tls, (), path=unquote(location), db=_db(text, options.pop("db", "0")), **common)
    hosts, _, path = location.partition("/")
    default_port = DEFAULT_SENTINEL_PORT if topology is Topology.SENTINEL else DEFAULT_PORT
    endpoints = tuple(_endpoint(text, part, default_port) for part in hosts.split(","))
    if topology is Topology.SERVER:
        if len(endpoints) != 1:
            raise RedisUrlError(text, "one host only: name Sentinels with redis+sentinel://, nodes with redis+cluster://")
        db = _db(text, options.pop("db", None) or path or "0")
        return RedisUrl(topology, tls, endpoints, db=db, **common)
    if topology is Topology.CLUSTER:
        if path not in ("", "0"):
            raise RedisUrlError(text, f"a Redis Cluster has database 0 only, not {path!r}")
        return RedisUrl(topology, tls, endpoints, **common)
    service, _, db_text = path.partition("/")
    if not service:
        raise RedisUrlError(text, "a Sentinel URL names the master's service after the hosts: "
                                  "redis+sentinel://HOST[:PORT][,HOST[:PORT]...]/SERVICE[/DB]")
    return RedisUrl(topology, tls, endpoints, service=unquote(service), db=_db(text, db_text or "0"),
                    sentinel_username=options.pop("sentinel_username", None),
                    sentinel_password=options.pop("sentinel_password", None), **common)


def _options(text: str, query: str, topology: Topology, tls: bool) -> dict[str, Any]:
    """The query options, checked against what the scheme takes; TLS ones gathered under ``"tls"``."""
    try:
        pairs = parse_qsl(query, keep_blank_values=True, strict_parsing=bool(query))
    except ValueError:
        raise RedisUrlError(text, "the query is not name=value pairs joined by '&'") from None
    known = OPTIONS[topology] + (TLS_OPTIONS if tls else ())
    out: dict[str, Any] = {"tls": {}}
    for name, value in pairs:
        if name not in known:
            hint = " (TLS options need a rediss scheme)" if name in TLS_OPTIONS else ""
            raise RedisUrlError(text, f"unknown option {name!r}{hint}; this scheme takes: {', '.join(known)}")
        if name in out or name in out["tls"]:
            raise RedisUrlError(text, f"option {name!r} given twice")
        if name == "ssl_cert_reqs" and value not in ("required", "optional", "none"):
            raise RedisUrlError(text, "ssl_cert_reqs is one of required, optional, none")
        if name == "ssl_check_hostname":
            if value.lower() not in _BOOLS:
                raise RedisUrlError(text, "ssl_check_hostname is true or false")
            out["tls"][name] = _BOOLS[value.lower()]
        elif name in TLS_OPTIONS:
            out["tls"][name] = value
        else:
            out[name] = value
    return out


def _once(text: str, name: str, in_userinfo: str | None, in_query: str | None) -> str | None:
    if in_userinfo is not None and in_query is not None:
        raise RedisUrlError(text, f"the {name} is given twice (before the @ and as ?{name}=)")
    return in_userinfo if in_userinfo is not None else in_query


def _db(text: str, value: str) -> int:
    if not value.isdigit() or int(value) > 1_000_000:
        raise RedisUrlError(text, f"the database must be a number such as 0, not {value!r}")
    return int(value)


def _endpoint(text: str, part: str, default_port: int) -> Endpoint:
    host, port = part, ""
    if part.startswith("["):
        host, _, after = part.partition("]")
        host += "]"
        if after and not after.startswith(":"):
            raise RedisUrlError(text, f"bad host {part!r}")
        port = after[1:]
    elif ":" in part:
        host, _, port = part.rpartition(":")
    if not host or not _HOST.fullmatch(host):
        raise RedisUrlError(text, f"bad host {part!r}" if part else "a host is missing")
    if port and not (port.isdigit() and 1 <= int(port) <= 65535):
        raise RedisUrlError(text, f"bad port in {part!r} (1-65535)")
    return Endpoint(host.strip("[]"), int(port) if port else default_port)


# -- clients ---------------------------------------------------------------------------------------


class SentinelMaster(aioredis.Redis):
    """The Sentinel master's client: closing it closes the connections to the Sentinels too."""

    async def aclose(self, close_connection_pool: bool | None = None) -> None:
        sentinel = self.connection_pool.sentinel_manager  # type: ignore[attr-defined]
        try:
            await super().aclose(close_connection_pool)
        finally:
            await sentinel.aclose()


def open_client(url: RedisUrl | str, *, timeout_s: float = 5.0, connect_timeout_s: float | None = None,
                max_connections: int | None = None, health_check_interval: float = 0) -> AnyClient:
    """The screener's one Redis opener: a redis-py asyncio client for ``url``, a ``Redis`` (one server, or the
    master a Sentinel names, found again after a failover) or a ``RedisCluster``, whose every socket operation
    takes at most ``timeout_s`` (connecting: ``connect_timeout_s``, by default the same). Nothing connects
    until the first command; a bad URL raises ``RedisUrlError`` naming it (passwords hidden)."""
    target = parse_redis_url(url) if isinstance(url, str) else url
    socket_timeout = timeout_s
    connect_timeout = timeout_s if connect_timeout_s is None else connect_timeout_s
    tls: dict[str, Any] = dict(target.tls_options)
    if target.tls:
        tls["ssl"] = True
    limits: dict[str, Any] = {"max_connections": max_connections} if max_connections else {}
    common: dict[str, Any] = {"username": target.username, "password": target.password,
                              "socket_timeout": socket_timeout, "socket_connect_timeout": connect_timeout,
                              "health_check_interval": health_check_interval}
    if target.topology is Topology.CLUSTER:
        nodes = [ClusterNode(e.host, e.port) for e in target.endpoints]
        return RedisCluster(startup_nodes=nodes, **common, **tls, **limits)
    if target.topology is Topology.SENTINEL:
        sentinel = Sentinel(  # type: ignore[no-untyped-call]
            [(e.host, e.port) for e in target.endpoints],
            sentinel_kwargs={"username": target.sentinel_username, "password": target.sentinel_password,
                             "socket_timeout": socket_timeout, "socket_connect_timeout": connect_timeout, **tls},
            **common, **tls, **limits,
        )
        client: aioredis.Redis = sentinel.master_for(target.service, redis_class=SentinelMaster, db=target.db)
        return client
    if target.path:
        return aioredis.Redis(unix_socket_path=target.path, db=target.db, **common, **limits)
    [where] = target.endpoints
    return aioredis.Redis(host=where.host, port=where.port, db=target.db, **common, **tls, **limits)


__all__ = ["SUPPORTED", "AnyClient", "Endpoint", "RedisUrl", "RedisUrlError", "SentinelMaster", "Topology",
           "open_client", "parse_redis_url", "redact"]
