"""The administrative DNC use cases: add, remove, check, import, list and export, for every front end.

Numbers are read here, once (``screener.numbers.normalize``; emergency numbers refused), list names are checked
here (a name the config does not know is an error naming the lists it knows; with no config, the lists that
exist in Redis), and every change of a list becomes an audit entry (``screener.service.dnc.audit``) naming its
actor. Every change of a list's numbers passes ``_change`` (then the store's ``apply_ops``) or an import.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

from screener.config.campaigns import REGISTRY_MAX_AGE_DAYS
from screener.config.settings import ListKind, Settings
from screener.engine.prefixes import matching_prefix
from screener.service.dnc import audit as dnc_audit
from screener.service.dnc.errors import DncError, ExportIncomplete, ImportFailed, UnknownList
from screener.service.dnc.imports import (
    NOT_CHANGED,
    ImportOptions,
    ProgressCallback,
    check_import_file,
    grace_for,
    import_file,
)
from screener.service.dnc.records import ImportResult, ListRow, NumberChange, NumberCheck
from screener.service.durability import NotReplicated, acknowledged
from screener.service.numbers_input import DEFAULT_REGION, e164_of, prefix_of
from screener.store import dnc, keys
from screener.store.client import AnyRedis, connect
from screener.store.dnc.export import iter_version
from screener.store.dnc.prefixes import PrefixLimit, edit_prefix
from screener.store.dnc.versions import VersionFreed

#: export formats: E.164, or "ftc" (10 digits for +1 numbers, as the FTC's files)
EXPORT_FORMATS = ("e164", "ftc")
#: the name of the internal list when no config says which list is internal
DEFAULT_INTERNAL = "internal"


def dnc_change_keys(list_name: str, e164: str) -> list[str]:
    """Keys in every slot a change of one number on a list writes: the number's tag, the list's metadata."""
    return [keys.dnc_tag_set_key(list_name, "0", keys.number_tag(e164)), keys.dnc_meta_key(list_name)]


def prefix_change_keys(list_name: str) -> list[str]:
    """Keys in every slot a change of a list's prefix entries (or its switch to a new version) writes."""
    return [keys.dnc_meta_key(list_name), keys.DNC_LISTS_KEY]


class DncAdmin:
    """The DNC lists of one Redis (a plain server or a cluster), with the config's view of them when given.

    With a config, only the lists it names are accepted; without one, only the lists that exist in Redis
    (``create=True`` makes a new one: an import or an add that means to)."""

    def __init__(self, redis: AnyRedis, settings: Settings | None = None) -> None:
        self.redis = redis
        self.settings = settings

    @classmethod
    @asynccontextmanager
    async def open(cls, redis_url: str, settings: Settings | None = None, *,
                   timeout_s: float = 5.0) -> AsyncIterator[DncAdmin]:
        """Connect to ``redis_url`` (a cluster client when it names a cluster node) for the block's duration."""
        client = await connect(redis_url, timeout_s=timeout_s)
        try:
            yield cls(client, settings)
        finally:
            await client.aclose()

    async def known_list(self, list_name: str, *, create: bool = False) -> None:
        """Raise UnknownList unless the list is the config's (with a config) or exists in Redis (without one,
        unless ``create``)."""
        if self.settings is not None:
            if list_name not in self.settings.lists:
                known = ", ".join(sorted(self.settings.lists)) or "none"
                raise UnknownList(f"unknown list {list_name!r}: the config {self.settings.path} names {known}",
                                  configured=True)
            return
        names = await dnc.list_names(self.redis)
        if list_name not in names and not create:
            raise UnknownList(f"no list named {list_name!r} in Redis (lists there: {', '.join(names) or 'none'}); "
                              "without a config only lists that exist in Redis are accepted", configured=False)

    async def is_internal(self, list_name: str) -> bool:
        """The config says the list is internal; without a config, Redis records it as such, or it is named
        ``internal``."""
        if self.settings is not None:
            conf = self.settings.lists.get(list_name)
            return conf is not None and conf.kind is ListKind.INTERNAL
        info = (await dnc.read_list_infos(self.redis, [list_name]))[list_name]
        return info.kind == ListKind.INTERNAL.value or (not info.kind and list_name == DEFAULT_INTERNAL)

    async def add(self, list_name: str, number: str, *, actor: str, region: str = DEFAULT_REGION,
                  source: str = "", create: bool = False) -> NumberChange:
        """Put a number on a list (``source``: the provenance recorded with the change; ``actor``: who or what
        makes it, recorded in its audit entry)."""
        e164 = e164_of(number, region)
        await self.known_list(list_name, create=create)
        return await self._change(list_name, dnc.ADD, e164, source, actor, "")

    async def remove(self, list_name: str, number: str, *, actor: str, region: str = DEFAULT_REGION,
                     source: str = "", reason: str = "") -> NumberChange:
        """Take a number off a list. From the internal list (an opt-out or complaint withdrawn) ``reason`` is
        required: it says why, in the audit entry."""
        e164 = e164_of(number, region)
        await self.known_list(list_name)
        if not reason.strip() and await self.is_internal(list_name):
            raise DncError(f"taking a number off the internal list {list_name!r} withdraws an opt-out or a "
                           "complaint: give the reason (it is recorded in the audit trail)")
        return await self._change(list_name, dnc.REMOVE, e164, source, actor, reason.strip())

    async def _change(self, list_name: str, op: str, e164: str, source: str, actor: str, reason: str) -> NumberChange:
        """Every change of a list's numbers made through the service passes here, and is audited."""
        if not actor.strip():
            raise DncError("a change of a DNC list needs its actor (who or what made it)")

        async def write() -> Any:
            return await dnc.apply_ops(self.redis, list_name, [(op, e164)], source=source)

        # acknowledged as the config's ``durability`` says (service/durability.py)
        applied = await acknowledged(self.redis, self.settings, write, keys=dnc_change_keys(list_name, e164))
        action = dnc_audit.ADD if op == dnc.ADD else dnc_audit.REMOVE
        fields = dnc_audit.change_fields(self.settings, actor=actor, action=action, list_name=list_name,
                                         source=source, added=applied.added, removed=applied.removed,
                                         version_before=applied.version, version_after=applied.version, number=e164,
                                         reason=reason)
        audit_id = await dnc_audit.record_change(self.redis, self.settings, fields, number=e164)
        changed = bool(applied.added if op == dnc.ADD else applied.removed)
        return NumberChange(list_name, e164, action, changed, version=applied.version, audit_id=audit_id)

    async def check(self, list_name: str, number: str, *, region: str = DEFAULT_REGION) -> NumberCheck:
        """Is the number on the list's live version, or under one of its prefix entries?"""
        e164 = e164_of(number, region)
        await self.known_list(list_name)
        exact = await dnc.contains(self.redis, list_name, e164)
        by_prefix = ""
        if not exact and await self._kind(list_name) != ListKind.REGISTRY.value:
            state = (await dnc.read_list_states(self.redis, [list_name]))[list_name]
            by_prefix = matching_prefix(e164, state.prefixes) or ""
        return NumberCheck(list_name, e164, exact or bool(by_prefix), by_prefix=by_prefix)

    async def add_prefix(self, list_name: str, prefix: str, *, actor: str, region: str = DEFAULT_REGION,
                         source: str = "", create: bool = False) -> NumberChange:
        """Put a prefix entry on an internal or campaign list: it blocks every number under it (``+1201``: an
        area code; ``+86138``: a mobile range). Registries are exact lists of numbers: refused."""
        entry = prefix_of(prefix, region)
        await self.known_list(list_name, create=create)
        return await self._change_prefix(list_name, entry, True, source, actor, "")

    async def remove_prefix(self, list_name: str, prefix: str, *, actor: str, region: str = DEFAULT_REGION,
                            source: str = "", reason: str = "") -> NumberChange:
        """Take a prefix entry off a list (from the internal list: with its ``reason``, as for a number)."""
        entry = prefix_of(prefix, region)
        await self.known_list(list_name)
        if not reason.strip() and await self.is_internal(list_name):
            raise DncError(f"taking a prefix off the internal list {list_name!r} lifts opt-outs: give the reason "
                           "(it is recorded in the audit trail)")
        return await self._change_prefix(list_name, entry, False, source, actor, reason.strip())

    async def _change_prefix(self, list_name: str, prefix: str, add: bool, source: str, actor: str,
                             reason: str) -> NumberChange:
        if not actor.strip():
            raise DncError("a change of a DNC list needs its actor (who or what made it)")
        kind = await self._kind(list_name)
        if kind == ListKind.REGISTRY.value:
            raise DncError(f"{list_name} is a registry list: it holds the registry's numbers exactly, never prefix "
                           "entries (put them on the internal list or a campaign list)")
        try:  # a prefix on the internal list is a suppression entry: acknowledged as a number's change
            edit = await acknowledged(self.redis, self.settings,
                                      lambda: edit_prefix(self.redis, list_name, prefix, add=add, source=source),
                                      keys=prefix_change_keys(list_name))
        except PrefixLimit as exc:
            raise DncError(str(exc)) from None
        action = dnc_audit.ADD_PREFIX if add else dnc_audit.REMOVE_PREFIX
        fields = dnc_audit.change_fields(self.settings, actor=actor, action=action, list_name=list_name,
                                         source=source, added=int(edit.changed and add),
                                         removed=int(edit.changed and not add), version_before=edit.version,
                                         version_after=edit.version, reason=reason, prefix=prefix)
        audit_id = await dnc_audit.record_change(self.redis, self.settings, fields)
        return NumberChange(list_name, prefix, "add" if add else "remove", edit.changed, version=edit.version,
                            audit_id=audit_id, prefix=True)

    async def _kind(self, list_name: str) -> str:
        """The list's kind: the config's, else the one recorded in Redis ("" when neither says)."""
        conf = self.settings.lists.get(list_name) if self.settings is not None else None
        if conf is not None:
            return conf.kind.value
        return (await dnc.read_list_infos(self.redis, [list_name]))[list_name].kind

    async def import_file(self, list_name: str, path: str | Path, options: ImportOptions | None = None,
                          progress: ProgressCallback | None = None, *, actor: str,
                          create: bool = False) -> ImportResult:
        """Import a file into a list (``screener.service.dnc.imports``), audited once it landed. The source
        defaults to the file's name, the kind to the list's kind in the config, the grace period to one no
        screener of the config outlives (``grace_for``)."""
        check_import_file(path)
        if not actor.strip():
            raise DncError("a change of a DNC list needs its actor (who or what made it)")
        await self.known_list(list_name, create=create)
        options = options or ImportOptions()
        if options.grace_s is None:
            options = replace(options, grace_s=grace_for(self.settings))
        if not options.source:
            options = replace(options, source=Path(path).name)
        conf = self.settings.lists.get(list_name) if self.settings else None
        if not options.kind and conf is not None:
            options = replace(options, kind=conf.kind.value)
        landed: list[ImportResult] = []

        async def write() -> ImportResult:
            landed.append(await import_file(self.redis, list_name, path, options, progress))
            return landed[0]

        try:  # acknowledged as the config's ``durability`` says: the new version spreads over every master
            result = await acknowledged(self.redis, self.settings, write, keys=prefix_change_keys(list_name),
                                        every_master=True)
        except NotReplicated as exc:
            if not landed:
                raise ImportFailed(f"{path}: the import failed ({exc}); {NOT_CHANGED}") from exc
            await self._record_import(list_name, path, options, landed[0], actor)  # it is live on the masters
            raise ImportFailed(f"{path}: the import landed (version {landed[0].version} of {list_name!r} is live) "
                               f"but was not acknowledged: {exc}; run it again once the replicas answer") from exc
        await self._record_import(list_name, path, options, result, actor)
        return result

    async def _record_import(self, list_name: str, path: str | Path, options: ImportOptions, result: ImportResult,
                             actor: str) -> None:
        action = {"replace": dnc_audit.REPLACE, "changes": dnc_audit.CHANGES}.get(result.mode, dnc_audit.IMPORT)
        fields = dnc_audit.change_fields(self.settings, actor=actor, action=action, list_name=list_name,
                                         source=options.source, added=result.added, removed=result.removed,
                                         version_before=result.old_version, version_after=result.version,
                                         file=Path(path).name, lines=str(result.lines), bad_lines=str(result.bad_count))
        await dnc_audit.record_change(self.redis, self.settings, fields)

    async def lists(self, *, now: float | None = None) -> list[ListRow]:
        """Every list in Redis or in the config, by name, with its staleness at ``now`` (epoch s)."""
        configured = self.settings.lists if self.settings else {}
        names = sorted(set(await dnc.list_names(self.redis)) | set(configured))
        infos = await dnc.read_list_infos(self.redis, names)
        at = time.time() if now is None else now
        rows = []
        for name in names:
            info, conf = infos[name], configured.get(name)
            kind = conf.kind.value if conf else info.kind
            imported = info.state.imported_at
            # a configured list's max age is the one decisions use (the loader's default included); a list
            # only in Redis is checked by no campaign: a registry gets the loader's default for the record
            max_age = conf.max_age_days if conf else REGISTRY_MAX_AGE_DAYS if kind == "registry" else 0
            stale: bool | None = None
            if max_age:
                stale = imported is None or at - imported > max_age * 86400
            rows.append(ListRow(name=name, kind=kind, source=info.state.source or (conf.source if conf else ""),
                                imported_at=imported, age_s=at - imported if imported else None,
                                count=info.state.count, version=info.state.version, building=info.building,
                                max_age_days=max_age, stale=stale, prefixes=tuple(sorted(info.state.prefixes))))
        return rows

    async def export(self, list_name: str, fmt: str = "e164") -> AsyncIterator[str]:
        """The numbers of the list's live version, sorted within each area code: E.164, or with ``fmt="ftc"``
        the 10 digits of +1 numbers. ``ExportIncomplete`` (after what was yielded) when an import freed that
        version before it was read whole: the numbers yielded are then only part of the list."""
        if fmt not in EXPORT_FORMATS:
            raise DncError(f"unknown export format {fmt!r} (one of {', '.join(EXPORT_FORMATS)})")
        await self.known_list(list_name)
        version = (await dnc.read_list_states(self.redis, [list_name]))[list_name].version
        written = 0
        try:
            async for e164 in iter_version(self.redis, list_name, version):
                yield e164[2:] if fmt == "ftc" and e164.startswith("+1") else e164
                written += 1
        except VersionFreed as exc:
            raise ExportIncomplete(f"the export of list {list_name!r} stopped after {written:,} numbers, incomplete: "
                                   f"{exc}; run it again (it reads the new version)") from None
