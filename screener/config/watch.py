"""Hold the running config; reload it on SIGHUP or when its files change, keeping the old one on error.

A reload is refused (the old config keeps running) when the new files are invalid, and also when the running
screener may not switch to them (``config.succession``: no campaign, or an internal list removed or renamed).
The watcher reads the files only once they have settled (the same size, mtime and content on two polls in a
row), so an editor's truncate-then-write save is not read half-way.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from screener.config.errors import ConfigError
from screener.config.load import FileState, file_state, fingerprint, load_settings
from screener.config.settings import Settings
from screener.config.succession import check_successor

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
        #: reloads tried, reloads refused (the old config kept), polls of the files by ``watch``
        self.stats = {"reloads": 0, "reload_failures": 0, "polls": 0}
        #: the latest reload attempt (None before the first)
        self.last_reload: ReloadResult | None = None

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
        return result

    def _reload(self) -> ReloadResult:
        old = self._settings
        now = time.time()
        self._seen = fingerprint(self.path)
        self.stats["reloads"] += 1
        try:
            new = load_settings(self.path)
            check_successor(old, new)
        except ConfigError as exc:
            self.stats["reload_failures"] += 1
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
        """Poll the config and its includes every ``interval_s``; reload when their content changed and has
        settled: the same on two polls in a row (so a reload follows a save within two intervals)."""
        previous: FileState | None = None
        while True:
            await asyncio.sleep(interval_s)
            state = file_state(self.path)
            self.stats["polls"] += 1
            if state == previous and state.version != self._seen:
                self.reload()
            previous = state

    def install_sighup(self, loop: asyncio.AbstractEventLoop) -> None:
        """Reload on SIGHUP (the loop's signal handler: it runs in the loop, between calls)."""
        loop.add_signal_handler(signal.SIGHUP, self.reload)
