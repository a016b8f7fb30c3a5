"""Hold the running config; reload it on SIGHUP or when its files change, keeping the old one on error."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from screener.config.errors import ConfigError
from screener.config.load import fingerprint, load_settings
from screener.config.settings import Settings

log = logging.getLogger("screener.config")


@dataclass(frozen=True)
class ReloadResult:
    #: True when the files loaded (even unchanged); False when the edit was refused
    ok: bool
    #: the version now current (the old one when refused)
    version: str
    error: ConfigError | None = None
    #: True when a new version became current
    changed: bool = False
    #: epoch seconds of the attempt
    at: float = field(default=0.0, compare=False)


class ConfigHolder:
    """The current ``Settings``; ``reload()`` swaps in a valid new version and refuses an invalid one."""

    def __init__(self, path: str | os.PathLike[str], settings: Settings | None = None) -> None:
        self.path = os.fspath(path)
        self._settings = settings if settings is not None else load_settings(self.path)
        self._seen = fingerprint(self.path)
        self._listeners: list[Callable[[Settings], None]] = []
        #: the latest reload attempt (None before the first), and how many were refused since the start
        self.last_reload: ReloadResult | None = None
        self.reload_failures = 0

    @property
    def current(self) -> Settings:
        return self._settings

    def add_listener(self, listener: Callable[[Settings], None]) -> None:
        """Call ``listener(new_settings)`` after every reload that changes the version."""
        self._listeners.append(listener)

    def remove_listener(self, listener: Callable[[Settings], None]) -> None:
        if listener in self._listeners:
            self._listeners.remove(listener)

    def reload(self) -> ReloadResult:
        result = self._reload()
        self.last_reload = result
        if not result.ok:
            self.reload_failures += 1
        return result

    def _reload(self) -> ReloadResult:
        old = self._settings
        now = time.time()
        self._seen = fingerprint(self.path)
        try:
            new = load_settings(self.path)
        except ConfigError as exc:
            log.error(
                "config reload refused, keeping version %s: file %s, key %s: %s",
                old.version,
                exc.file,
                exc.key or "-",
                exc.problem,
            )
            return ReloadResult(False, old.version, exc, False, now)
        if new.version == old.version:
            log.info("config reloaded: version %s unchanged", old.version)
            return ReloadResult(True, old.version, None, False, now)
        self._settings = new
        log.info("config reloaded: version %s -> %s", old.version, new.version)
        for listener in self._listeners:
            try:
                listener(new)
            except Exception:
                log.exception("config listener failed")
        return ReloadResult(True, new.version, None, True, now)

    async def watch(self, interval_s: float = 1.0) -> None:
        """Poll the config and its includes every ``interval_s``; reload when their content changes."""
        while True:
            await asyncio.sleep(interval_s)
            if fingerprint(self.path) != self._seen:
                self.reload()

    def install_sighup(self, loop: asyncio.AbstractEventLoop) -> None:
        """Reload on SIGHUP (the loop's signal handler: it runs in the loop, between calls)."""
        loop.add_signal_handler(signal.SIGHUP, self.reload)
