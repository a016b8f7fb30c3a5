"""Edit the running config over the API: read its files, replace them, or change one campaign's limits and
calling windows, guarded by the running version (If-Match).

The files are shown and their diffs given with their secrets masked, and a masked secret sent back keeps
the stored one (``config_secrets``). An edit is validated with the very loader and the very refusals the
file reload uses (``load_settings`` in a scratch copy of the config folder, then
``config.succession.check_successor`` against the running config), refused with the key-naming error and
nothing written when invalid, written atomically (a temporary file renamed over the old one, file by file)
and then loaded by the running ``ConfigHolder`` before the caller is answered. Should the holder still
refuse what was written (another writer changed a file meanwhile), the files written are put back as they
were. Campaign edits go through ``tomlkit`` so the rest of the file,
comments included, stays as it was.
"""

from __future__ import annotations

import asyncio
import difflib
import os
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tomlkit
import tomlkit.exceptions
from tomlkit.items import Table

from screener.config.errors import ConfigError
from screener.config.load import SourceFile, fingerprint, include_paths, load_settings
from screener.config.settings import Campaign, Settings
from screener.config.succession import check_successor
from screener.config.watch import ConfigHolder
from screener.engine.text import format_duration
from screener.service.config_secrets import MaskedSecretSent, mask_secrets, restore_secrets
from screener.service.errors import UnknownCampaign

#: what PATCH /campaigns/NAME may change: limits and calling windows
CAMPAIGN_FIELDS = ("calls_per_second", "frequency", "hours", "quiet")


class VersionConflict(Exception):
    """The running config is not the version the edit was based on (HTTP 412)."""

    def __init__(self, expected: str, running: str, detail: str = "") -> None:
        self.expected = expected
        self.running = running
        super().__init__(detail or f"the running config is version {running}, not {expected}")


class EditRefused(Exception):
    """The edited config does not validate (HTTP 422); ``error.file`` is relative to the config folder."""

    def __init__(self, error: ConfigError) -> None:
        self.error = error
        super().__init__(str(error))


class ConfigNotWritable(Exception):
    """The config folder cannot be written (HTTP 409): a read-only deployment (systemd's ProtectSystem without
    ReadWritePaths for it, or a folder the screener's user may not write). Nothing was changed."""

    def __init__(self, folder: Path, error: OSError) -> None:
        self.folder = folder
        super().__init__(
            f"the config folder {folder} is not writable by the screener ({error.strerror or error}): nothing was "
            "changed. Edit the files there and reload (systemctl reload screener), or let the screener write the "
            "folder (deploy/screener.service: ReadWritePaths, and the folder's group; see asterisk/README.md)")


class BadEdit(ValueError):
    """A malformed edit (HTTP 400), naming the field."""

    def __init__(self, field: str, problem: str) -> None:
        self.field = field
        self.problem = problem
        super().__init__(f"{field}: {problem}")


@dataclass(frozen=True)
class ConfigFiles:
    """The running version and the text of each file (the main file and its includes), by relative path."""

    version: str
    files: dict[str, str]

    def to_json(self) -> dict[str, object]:
        return {"version": self.version, "files": self.files}


@dataclass(frozen=True)
class EditResult:
    #: the new running version (for a dry run: the version the edit would have)
    version: str
    #: unified diff of every file changed
    diff: str
    dry_run: bool = False

    def to_json(self) -> dict[str, object]:
        return {"version": self.version, "diff": self.diff, "dry_run": self.dry_run}


def campaign_view(campaign: Campaign, settings: Settings) -> dict[str, object]:
    """A campaign's editable fields, in the shape PATCH takes, with its policy's hours for reference."""
    policy = settings.policies[campaign.policy]
    calling = campaign.calling
    return {
        "name": campaign.name,
        "policy": campaign.policy,
        "calls_per_second": campaign.calls_per_second,
        "frequency": [{"scope": f.scope.value, "max_calls": f.max_calls, "window": format_duration(f.window_s),
                       "source": f.source} for f in campaign.frequency],
        "hours": None if calling is None or not calling.hours else {
            day: [str(r) for r in ranges] for day, ranges in calling.hours.items()},
        "quiet": None if calling is None or not calling.quiet else [str(r) for r in calling.quiet],
        "policy_hours": {day: [str(r) for r in ranges] for day, ranges in policy.rules.hours.items()},
        "policy_quiet": [str(r) for r in policy.rules.quiet],
    }


class ConfigEditor:
    """Reads and edits the files of ``holder``'s config; one edit at a time."""

    def __init__(self, holder: ConfigHolder) -> None:
        self.holder = holder
        self._lock = asyncio.Lock()

    @property
    def base(self) -> Path:
        return Path(self.holder.path).resolve().parent

    @property
    def main_name(self) -> str:
        return Path(self.holder.path).name

    def _relative(self, path: str) -> str:
        return os.path.relpath(Path(path).resolve(), self.base)

    def _file_names(self, main_text: str) -> list[str]:
        """The main file and its includes (relative paths), for a main file with ``main_text``."""
        main = SourceFile(str(self.base / self.main_name), main_text.encode())
        data = tomlkit.parse(main_text).unwrap() if main_text else {}
        names = [self.main_name]
        for _, path in include_paths(main, data):
            names.append(self._relative(path))
        return names

    def read(self) -> ConfigFiles:
        """The running version and the files on disk, their secrets masked (``config_secrets``)."""
        files = self._read_files()
        files[self.main_name] = mask_secrets(files[self.main_name])
        return ConfigFiles(self.holder.current.version, files)

    def _read_files(self) -> dict[str, str]:
        """The files on disk as they are, by relative path."""
        main_text = Path(self.holder.path).read_text(encoding="utf-8")
        files = {self.main_name: main_text}
        try:
            names = self._file_names(main_text)
        except (ConfigError, tomlkit.exceptions.TOMLKitError):
            names = [self.main_name]
        for name in names[1:]:
            path = self.base / name
            if path.is_file():
                files[name] = path.read_text(encoding="utf-8")
        return files

    async def replace(self, files: Mapping[str, str], if_match: str, *, dry_run: bool = False) -> EditResult:
        """Replace some of the files (the others stay); the whole config must validate."""
        async with self._lock:
            self._check_version(if_match)
            edited = dict(files)
            if self.main_name in edited:  # the secrets sent back as GET showed them: the stored ones
                try:
                    edited[self.main_name] = restore_secrets(edited[self.main_name], self._read_files()[self.main_name])
                except MaskedSecretSent as exc:
                    raise EditRefused(ConfigError(self.main_name, exc.key, exc.problem)) from None
            return self._apply(edited, dry_run=dry_run)

    async def patch_campaign(self, name: str, changes: Mapping[str, Any], if_match: str | None = None, *,
                             dry_run: bool = False) -> EditResult:
        """Change a campaign's ``calls_per_second``, ``frequency``, ``hours`` or ``quiet`` (None removes one)."""
        for key in changes:
            if key not in CAMPAIGN_FIELDS:
                raise BadEdit(key, f"not editable here (editable: {', '.join(CAMPAIGN_FIELDS)})")
        if not changes:
            raise BadEdit("body", f"no change given (editable: {', '.join(CAMPAIGN_FIELDS)})")
        async with self._lock:
            if if_match is not None:
                self._check_version(if_match)
            if name not in self.holder.current.campaigns:
                raise UnknownCampaign(name, self.holder.current.campaigns)
            main_path = Path(self.holder.path)
            doc = tomlkit.parse(main_path.read_text(encoding="utf-8"))
            table = doc.get("campaigns", {}).get(name)
            if not isinstance(table, Table):
                raise UnknownCampaign(name, self.holder.current.campaigns)
            for key, value in changes.items():
                if value is None:
                    if key in table:
                        del table[key]
                else:
                    table[key] = _toml(key, value)
            return self._apply({self.main_name: tomlkit.dumps(doc)}, dry_run=dry_run)

    def _check_version(self, if_match: str) -> None:
        running = self.holder.current.version
        if if_match.strip().strip('"') != running:
            raise VersionConflict(if_match, running)
        if fingerprint(self.holder.path) != running:
            raise VersionConflict(if_match, running, "the files on disk differ from the running config (an edit "
                                  "not loaded yet, or refused): reload or fix them first")

    def _apply(self, files: dict[str, str], *, dry_run: bool) -> EditResult:
        current = self._read_files()
        main_text = files.get(self.main_name, current[self.main_name])
        try:
            allowed = self._file_names(main_text)
        except (ConfigError, tomlkit.exceptions.TOMLKitError):
            self._validate(files, [self.main_name])  # raises the loader's own error for the main file
            raise
        for name in files:
            if name not in allowed:
                raise BadEdit(f"files.{name}", f"not the config file or one of its includes ({', '.join(allowed)})")
        outside = [n for n in allowed if n.startswith("..") or os.path.isabs(n)]
        if outside:
            raise BadEdit("files", f"includes outside the config folder cannot be edited here: {', '.join(outside)}")
        version = self._validate(files, allowed)
        changed = {n: t for n, t in files.items() if current.get(n) != t}
        diff = "".join(self._diff(n, current.get(n, ""), t) for n, t in changed.items())
        if dry_run or not changed:
            return EditResult(version, diff, dry_run)
        self._write(changed, current)
        result = self.holder.reload()
        if not result.ok or result.version != version:
            self._restore({name: current.get(name) for name in changed})
            problem = str(result.error) if result.error else f"loaded version {result.version}, expected {version}"
            raise EditRefused(ConfigError(self.main_name, "", f"written, but the running screener refused it "
                                          f"({problem}); the previous files were put back"))
        return EditResult(version, diff)

    def _diff(self, name: str, old: str, new: str) -> str:
        """The unified diff of one file; the main file's secrets masked (a changed one shown as changed)."""
        if name == self.main_name:
            old, new = mask_secrets(old), mask_secrets(new, before=old)
        return "".join(difflib.unified_diff(old.splitlines(True), new.splitlines(True), f"a/{name}", f"b/{name}"))

    def _write(self, changed: Mapping[str, str], current: Mapping[str, str]) -> None:
        """Write the changed files; when one cannot be written, put back those already written and raise
        ``ConfigNotWritable``."""
        written: list[str] = []
        try:
            for name, text in changed.items():
                _write_atomically(self.base / name, text)
                written.append(name)
        except OSError as exc:
            self._restore({name: current.get(name) for name in written})
            raise ConfigNotWritable(self.base, exc) from None

    def _restore(self, previous: Mapping[str, str | None]) -> None:
        """Put files back as they were (None: the file did not exist)."""
        for name, text in previous.items():
            if text is None:
                (self.base / name).unlink(missing_ok=True)
            else:
                _write_atomically(self.base / name, text)

    def _validate(self, files: Mapping[str, str], names: list[str]) -> str:
        """Load the edited config from a scratch copy with the reload's own loader; its version."""
        with tempfile.TemporaryDirectory(prefix="screener-config-check-") as scratch:
            root = Path(scratch)
            for name in names:
                target = root / name
                target.parent.mkdir(parents=True, exist_ok=True)
                if name in files:
                    target.write_text(files[name], encoding="utf-8")
                elif (self.base / name).is_file():
                    shutil.copyfile(self.base / name, target)
            try:
                edited = load_settings(root / self.main_name, folder=self.base)  # relative TLS files: the real ones
                check_successor(self.holder.current, edited)
            except ConfigError as exc:
                raise EditRefused(ConfigError(os.path.relpath(exc.file, root), exc.key, exc.problem)) from None
            return edited.version


def _toml(field: str, value: Any) -> Any:
    """A JSON value as a TOML value (inline tables and arrays); null inside a value is refused."""
    if value is None:
        raise BadEdit(field, "null is only allowed for a whole field (it removes the field)")
    if isinstance(value, dict):
        table = tomlkit.inline_table()
        for key, item in value.items():
            table[key] = _toml(f"{field}.{key}", item)
        return table
    if isinstance(value, list):
        array = tomlkit.array()
        for i, item in enumerate(value):
            array.append(_toml(f"{field}[{i}]", item))
        return array
    if isinstance(value, bool | int | float | str):
        return value
    raise BadEdit(field, f"unsupported value {value!r}")


def _write_atomically(path: Path, text: str) -> None:
    """Write beside the file, flush to disk, keep its mode, rename over it."""
    mode = path.stat().st_mode & 0o7777 if path.exists() else 0o644
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
