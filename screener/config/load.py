"""Load, validate and version the TOML config: one file plus the preset files it includes.

Every problem raises ``ConfigError(file, dotted.key, problem)``. ``Settings.version`` is a short hash of
the content of the config file and of every included file, in order.
"""

from __future__ import annotations

import hashlib
import ipaddress
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from screener.config.campaigns import check_name, parse_campaign, parse_list
from screener.config.complaints import parse_complaints
from screener.config.errors import ConfigError
from screener.config.policies import parse_policy
from screener.config.reader import Node
from screener.config.settings import (
    DEFAULT_TIME_BUDGET_MS,
    AdminSettings,
    AriSettings,
    AuditSettings,
    DncList,
    Durability,
    FastAgiSettings,
    ListKind,
    Policy,
    Secret,
    Settings,
)

TOP_KEYS = ("include", "screener", "fastagi", "ari", "admin", "audit", "lists", "policies", "campaigns",
            "complaints")
PRESET_KEYS = ("policies",)
SCREENER_KEYS = ("redis_url", "state_dir", "time_budget_ms", "audit_salt", "audit_maxlen", "prompts_dir",
                 "max_in_flight", "overload_wait_ms", "durability", "replica_wait_ms")
FASTAGI_KEYS = ("bind", "port", "allowed_peers", "grace_s")
ARI_KEYS = ("enabled", "url", "username", "password", "app")
ADMIN_KEYS = ("enabled", "listen", "tls_cert", "tls_key", "metrics_require_token")
AUDIT_KEYS = ("archive_dir", "archive_after", "archive_interval", "retention")
_RETENTION = re.compile(r"(?:(\d+)y)?(?:(\d+)d)?")
VERSION_CHARS = 12


@dataclass(frozen=True)
class SourceFile:
    """One file of a config: its path as shown in errors, and its bytes."""

    path: str
    content: bytes


def _read(path: str, *, by: str | None = None, key: str = "", files: Mapping[str, bytes] | None = None) -> SourceFile:
    if files is not None:  # a stored version replayed: its files, never the disk's
        if path in files:
            return SourceFile(path, files[path])
        raise ConfigError(by or path, key, f"file not in the stored version: {path}")
    try:
        return SourceFile(path, Path(path).read_bytes())
    except FileNotFoundError:
        if by is None:
            raise ConfigError(path, "", "file not found") from None
        raise ConfigError(by, key, f"included file not found: {path}") from None
    except OSError as exc:
        raise ConfigError(by or path, key, f"cannot read {path}: {exc.strerror or exc}") from None


def _parse(source: SourceFile) -> dict[str, Any]:
    try:
        return tomllib.loads(source.content.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ConfigError(source.path, "", f"not UTF-8 text: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(source.path, "", f"invalid TOML: {exc}") from None


def include_paths(main: SourceFile, data: dict[str, Any]) -> list[tuple[str, str]]:
    """(key, path) of every include of the main file, relative to its folder."""
    root = Node(data, main.path)
    base = os.path.dirname(main.path)
    out = []
    for i, rel in enumerate(root.strings("include", ())):
        if not rel.strip():
            raise root.error(f"include[{i}]", "empty path")
        out.append((f"include[{i}]", os.path.normpath(os.path.join(base, rel))))
    return out


def version_of(sources: list[SourceFile]) -> str:
    digest = hashlib.sha256()
    for source in sources:
        digest.update(len(source.content).to_bytes(8, "big"))
        digest.update(source.content)
    return digest.hexdigest()[:VERSION_CHARS]


@dataclass(frozen=True)
class FileState:
    """What a poll of the config sees: the version its files would load as ("" if unreadable) and each file's
    (path, size, mtime in ns). Two equal states in a row mean the files have settled (no save in progress)."""

    version: str
    stats: tuple[tuple[str, int, int], ...]


def _stat(path: str) -> tuple[str, int, int]:
    try:
        st = os.stat(path)
    except OSError:
        return (path, -1, -1)
    return (path, st.st_size, st.st_mtime_ns)


def file_state(path: str | os.PathLike[str]) -> FileState:
    """The config's files as they are now, without validating them. Cheap enough to poll: it reads the files
    and hashes them."""
    main_path = os.fspath(path)
    try:
        main = _read(main_path)
    except ConfigError:
        return FileState("", (_stat(main_path),))
    sources = [main]
    try:
        includes = include_paths(main, _parse(main))
    except ConfigError:
        includes = []
    for _, inc in includes:
        try:
            sources.append(_read(inc))
        except ConfigError:
            sources.append(SourceFile(inc, b"\0missing"))
    return FileState(version_of(sources), tuple(_stat(source.path) for source in sources))


def fingerprint(path: str | os.PathLike[str]) -> str:
    """The version the files at ``path`` would load as, without validating them ("" if unreadable)."""
    return file_state(path).version


def _screener(root: Node) -> dict[str, Any]:
    node = root.table("screener")
    node.check_keys(SCREENER_KEYS)
    return {
        "redis_url": node.string("redis_url", "").strip(),
        "state_dir": node.string("state_dir", "var", nonempty=True),
        "time_budget_ms": node.integer("time_budget_ms", DEFAULT_TIME_BUDGET_MS, low=1, high=60_000),
        "audit_salt": Secret(node.string("audit_salt", "")),
        "audit_maxlen": node.integer("audit_maxlen", 10_000_000, low=0),
        "prompts_dir": node.string("prompts_dir", "var/prompts", nonempty=True),
        "max_in_flight": node.integer("max_in_flight", 64, low=1, high=100_000),
        "overload_wait_ms": node.integer("overload_wait_ms", 20, low=0, high=60_000),
        "durability": _durability(node),
        "replica_wait_ms": node.integer("replica_wait_ms", 1000, low=1, high=60_000),
    }


def _durability(node: Node) -> Durability:
    text = node.string("durability", "master").strip().lower()
    try:
        return Durability(text)
    except ValueError:
        known = ", ".join(d.value for d in Durability)
        raise node.error("durability", f"{text!r} is not a durability (one of {known})") from None


def _address(node: Node, name: str, value: str) -> None:
    try:
        ipaddress.ip_network(value, strict=False)
    except ValueError:
        raise node.error(name, f"{value!r} is not an IP address or network") from None


def _fastagi(root: Node) -> FastAgiSettings:
    node = root.table("fastagi")
    node.check_keys(FASTAGI_KEYS)
    bind = node.string("bind", "127.0.0.1").strip()
    _address(node, "bind", bind)
    peers = node.strings("allowed_peers", ("127.0.0.1",))
    for i, peer in enumerate(peers):
        _address(node, f"allowed_peers[{i}]", peer.strip())
    return FastAgiSettings(
        bind=bind,
        port=node.integer("port", 4573, low=1, high=65_535),
        allowed_peers=tuple(p.strip() for p in peers),
        grace_s=node.number("grace_s", 10.0, low=0, high=3_600),
    )


def _ari(root: Node) -> AriSettings:
    node = root.table("ari")
    node.check_keys(ARI_KEYS)
    url = node.string("url", "http://127.0.0.1:8088").strip().rstrip("/")
    if not url.startswith(("http://", "https://")):
        raise node.error("url", f"{url!r} must start with http:// or https://")
    return AriSettings(
        enabled=node.boolean("enabled", False),
        url=url,
        username=node.string("username", "screener"),
        password=Secret(node.string("password", "")),
        app=node.string("app", "screener", nonempty=True).strip(),
    )


def _listen(node: Node, name: str, default: str) -> str:
    """ "HOST:PORT" with an IP address (IPv6 in brackets) and a port 0-65535 (0: any free port)."""
    value = node.string(name, default).strip()
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65_535:
        raise node.error(name, f"{value!r} is not HOST:PORT (e.g. 127.0.0.1:8090, or [::1]:8090; port 0-65535)")
    _address(node, name, host[1:-1] if host.startswith("[") and host.endswith("]") else host)
    return value


def _pem_file(node: Node, name: str, folder: str, *, check: bool = True) -> str | None:
    """A certificate or key file, relative to ``folder`` (the config file's); it must exist (when ``check``)."""
    if not node.has(name):
        return None
    value = node.string(name, nonempty=True).strip()
    path = os.path.join(folder, value)
    if check and not os.path.isfile(path):
        raise node.error(name, f"file not found: {path}")
    return path


def _admin(root: Node, folder: str, *, check_files: bool = True) -> AdminSettings:
    node = root.table("admin")
    node.check_keys(ADMIN_KEYS)
    cert = _pem_file(node, "tls_cert", folder, check=check_files)
    key = _pem_file(node, "tls_key", folder, check=check_files)
    if (cert is None) != (key is None):
        raise node.error("tls_key" if key is None else "tls_cert",
                         "missing: HTTPS needs both tls_cert and tls_key (set neither to serve plain HTTP)")
    return AdminSettings(
        enabled=node.boolean("enabled", True),
        listen=_listen(node, "listen", "127.0.0.1:8090"),
        tls_cert=cert,
        tls_key=key,
        metrics_require_token=node.boolean("metrics_require_token", False),
    )


def _audit(root: Node) -> AuditSettings:
    node = root.table("audit")
    node.check_keys(AUDIT_KEYS)
    retention = node.string("retention", "5y1d").strip().replace(" ", "")
    match = _RETENTION.fullmatch(retention)
    if not retention or match is None:
        raise node.error("retention", f'{retention!r} is not a retention such as "5y1d" (years and days)')
    years, days = int(match.group(1) or 0), int(match.group(2) or 0)
    if years * 366 + days < 1:
        raise node.error("retention", "must keep segments at least one day")
    return AuditSettings(
        archive_dir=node.string("archive_dir", "var/audit-archive", nonempty=True),
        archive_after_s=node.duration("archive_after", "1h"),
        archive_interval_s=node.duration("archive_interval", "1h"),
        retention_years=years,
        retention_days=days,
    )


def _policies(node: Node, into: dict[str, Policy], where: dict[str, str]) -> None:
    for name, policy_node in node.children():
        check_name(node, name, "policy")
        if name in into:
            raise node.error(name, f'policy "{name}" is already defined in {where[name]}')
        into[name] = parse_policy(name, policy_node)
        where[name] = node.file


def load_settings(path: str | os.PathLike[str], files: Mapping[str, bytes] | None = None, *,
                  folder: str | os.PathLike[str] | None = None) -> Settings:
    """Read, validate and version the config at ``path`` and its includes; raise ``ConfigError``.

    ``files``: the texts of a stored version (path -> bytes) to load instead of the disk's (``screener audit
    why`` replays the rules of the version that made a decision); files it names (TLS certificates) are then
    not checked. ``folder``: where the files the config names by a relative path (``[admin] tls_cert``,
    ``tls_key``) are, when not beside ``path`` (an edit checked in a scratch copy of the config folder)."""
    main_path = os.fspath(path)
    main = _read(main_path, files=files)
    data = _parse(main)
    root = Node(data, main.path)
    root.check_keys(TOP_KEYS)
    sources = [main]
    policies: dict[str, Policy] = {}
    where: dict[str, str] = {}
    for key, inc in include_paths(main, data):
        source = _read(inc, by=main.path, key=key, files=files)
        sources.append(source)
        preset = Node(_parse(source), source.path)
        preset.check_keys(PRESET_KEYS)
        _policies(preset.table("policies"), policies, where)
    _policies(root.table("policies"), policies, where)
    lists: dict[str, DncList] = {}
    lists_node = root.table("lists")
    for name, node in lists_node.children():
        check_name(lists_node, name, "list")
        lists[name] = parse_list(name, node)
    campaigns_node = root.table("campaigns")
    campaigns = {}
    for name, node in campaigns_node.children():
        check_name(campaigns_node, name, "campaign")
        campaigns[name] = parse_campaign(name, node, lists, policies)
    if campaigns and not any(lst.kind is ListKind.INTERNAL for lst in lists.values()):
        # opt-outs go to the internal list: without one, an opt-out would be stored where no campaign looks
        raise lists_node.error(None, 'no list of kind "internal": define one (e.g. [lists.internal] '
                               'kind = "internal"), where opt-outs and complaints go')
    return Settings(
        path=main.path,
        version=version_of(sources),
        fastagi=_fastagi(root),
        ari=_ari(root),
        admin=_admin(root, os.fspath(folder) if folder is not None else os.path.dirname(main.path),
                     check_files=files is None),
        audit=_audit(root),
        source_contents=tuple((source.path, source.content) for source in sources),
        lists=lists,
        policies=policies,
        campaigns=campaigns,
        complaint_sources=parse_complaints(root.table("complaints")),
        **_screener(root),
    )
