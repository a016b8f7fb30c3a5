"""What every subcommand shares: finding the config, connecting to Redis, printing errors."""

from __future__ import annotations

import argparse
import os
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from redis.exceptions import RedisClusterException, RedisError

from screener.cli.usage import UsageError as UsageError  # re-exported for the subcommands
from screener.cli.usage import fail as fail
from screener.config.errors import ConfigError
from screener.config.paths import project_path
from screener.config.settings import Settings
from screener.embedded_redis import EmbeddedRedisError, ensure_daemon
from screener.service.connection import RedisUrlError, parse_redis_url
from screener.service.errors import InvalidInput, NotFound
from screener.times import parse_aware

if TYPE_CHECKING:
    from screener.service.screening import Screener
    from screener.service.spool import Spool

DEFAULT_CONFIG = "config/screener.toml"


def config_path(args: argparse.Namespace) -> str:
    return str(getattr(args, "config", None) or os.environ.get("SCREENER_CONFIG") or DEFAULT_CONFIG)


def load_cli_settings(args: argparse.Namespace) -> Settings:
    """Load and validate the config named by --config / SCREENER_CONFIG / the default."""
    from screener.config.load import load_settings

    path = config_path(args)
    if not Path(path).exists():
        raise ConfigError(path, "", "no such config file (use --config PATH or SCREENER_CONFIG)")
    return load_settings(path)


def given_redis_url(args: argparse.Namespace) -> str | None:
    """--redis, else SCREENER_REDIS_URL, else None; a bad URL is a ``ConfigError`` naming where it came from."""
    flag, env = getattr(args, "redis", None), os.environ.get("SCREENER_REDIS_URL")
    return _checked(flag, "--redis", "") if flag else _checked(env, "SCREENER_REDIS_URL", "") if env else None


def redis_url(args: argparse.Namespace, settings: Settings) -> str:
    """--redis, else SCREENER_REDIS_URL, else the config's redis_url, else the private redis-server."""
    url = given_redis_url(args) or _checked(settings.redis_url, settings.path, "screener.redis_url")
    return url or ensure_daemon(state_dir(settings))


def _checked(url: str, source: str, key: str) -> str:
    if url:
        try:
            parse_redis_url(url)
        except RedisUrlError as exc:
            raise ConfigError(source, key, str(exc)) from None
    return url


def state_dir(settings: Settings) -> Path:
    """The state folder (the private redis-server's data)."""
    return project_path(settings, settings.state_dir)


def spool_for(settings: Settings, role: str) -> Spool:
    """The spool of this process (``<state_dir>/spool/<role>-<pid>.jsonl``), with what dead processes left
    adopted at once (their pending opt-outs block their numbers from the first call)."""
    from screener.service.spool import Spool

    spool = Spool(state_dir(settings) / "spool", name=f"{role}-{os.getpid()}")
    spool.adopt_orphans()
    return spool


def parse_when(value: str, flag: str) -> datetime:
    """An ISO-8601 time with a UTC offset (``2026-12-01T10:00:00-05:00`` or ``...Z``)."""
    try:
        return parse_aware(value)
    except ValueError as exc:
        raise UsageError(f"{flag} {exc}") from None


async def open_screener(args: argparse.Namespace, *, spool_role: str | None = None,
                        timeout_s: float | None = None) -> Screener:
    """Load the config and connect: the Screener every one-shot command uses. ``spool_role``: keep what Redis
    cannot take (an opt-out) in the state folder's spool, where a running screener adopts and writes it;
    ``timeout_s``: Redis commands' timeout for administrative work (default: the decision's time budget)."""
    from screener.config.watch import ConfigHolder
    from screener.service.connection import open_client
    from screener.service.screening import Screener

    settings = load_cli_settings(args)
    holder = ConfigHolder(settings.path, settings)
    spool = spool_for(settings, spool_role) if spool_role else None
    url = redis_url(args, settings)
    if timeout_s is not None:
        return Screener(holder, open_client(url, timeout_s=timeout_s), spool=spool)
    return await Screener.create(holder, url, spool=spool)


def run_guarded(func: Callable[[argparse.Namespace], Awaitable[int]]) -> Callable[[argparse.Namespace], Awaitable[int]]:
    """Turn the errors a user can cause into one clear line and exit status 2 (1 for an unreachable store)."""

    async def wrapper(args: argparse.Namespace) -> int:
        try:
            return await func(args)
        except (UsageError, InvalidInput, NotFound) as exc:
            return fail(str(exc))
        except ConfigError as exc:
            return fail(f"config: {exc}")
        except (EmbeddedRedisError, RedisUrlError) as exc:
            return fail(str(exc))
        except BrokenPipeError:
            raise  # the reader of our output went away (`| head`): main() ends quietly
        except (RedisError, OSError) as exc:
            return fail(f"Redis is not reachable: {type(exc).__name__}: {exc}")
        except RedisClusterException as exc:  # e.g. a write whose keys span hash slots: nothing was sent
            return fail(f"not possible on a Redis Cluster yet: {type(exc).__name__}: {exc}", 1)

    return wrapper
