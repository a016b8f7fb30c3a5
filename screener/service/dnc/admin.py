"""The administrative DNC use cases: add, remove, check, import, list and export, for every front end.

Numbers are read here, once (``screener.numbers.normalize``; emergency numbers refused), provenance is
recorded here, and every change of a list's numbers passes ``_change`` (then the store's ``apply_ops``).
The config is optional: a list does not have to be configured to be imported, checked or exported.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path

from screener.config.settings import Settings
from screener.service.dnc.errors import DncError
from screener.service.dnc.imports import ImportOptions, ProgressCallback, check_import_file, import_file
from screener.service.dnc.records import ImportResult, ListRow, NumberChange, NumberCheck
from screener.service.durability import acknowledged
from screener.service.numbers_input import e164_of
from screener.store import dnc, keys
from screener.store.client import AnyRedis, connect
from screener.store.dnc.export import iter_version

#: a registry list with no max age in the config is stale after this many days (FTC: re-scrub every 31 days)
REGISTRY_MAX_AGE_DAYS = 31
DEFAULT_REGION = "US"
#: export formats: E.164, or "ftc" (10 digits for +1 numbers, as the FTC's files)
EXPORT_FORMATS = ("e164", "ftc")


def dnc_change_keys(list_name: str, e164: str) -> list[str]:
    """Keys in every slot a change of one number on a list writes: the number's tag, the list's metadata."""
    return [keys.dnc_tag_set_key(list_name, "0", keys.number_tag(e164)), keys.dnc_meta_key(list_name)]


def dnc_number(raw: str, region: str = DEFAULT_REGION) -> str:
    """The E.164 form of a number a person typed; BadNumber when it is none, or an emergency number."""
    return e164_of(raw, region)


class DncAdmin:
    """The DNC lists of one Redis (a plain server or a cluster), with the config's view of them when given."""

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

    async def add(self, list_name: str, number: str, *, region: str = DEFAULT_REGION,
                  source: str = "") -> NumberChange:
        """Put a number on a list (``source``: the provenance recorded with the change)."""
        return await self._change(list_name, dnc.ADD, dnc_number(number, region), source)

    async def remove(self, list_name: str, number: str, *, region: str = DEFAULT_REGION,
                     source: str = "") -> NumberChange:
        """Take a number off a list."""
        return await self._change(list_name, dnc.REMOVE, dnc_number(number, region), source)

    async def _change(self, list_name: str, op: str, e164: str, source: str) -> NumberChange:
        """Every change of a list's numbers made through the service passes here (acknowledged as the config's
        ``durability`` says: service/durability.py)."""

        async def write() -> tuple[int, int]:
            return await dnc.apply_ops(self.redis, list_name, [(op, e164)], source=source)

        if self.settings is None:
            added, removed = await write()
        else:
            added, removed = await acknowledged(self.redis, self.settings, write, keys=dnc_change_keys(list_name, e164))
        if op == dnc.ADD:
            return NumberChange(list_name, e164, "add", bool(added))
        return NumberChange(list_name, e164, "remove", bool(removed))

    async def check(self, list_name: str, number: str, *, region: str = DEFAULT_REGION) -> NumberCheck:
        """Is the number on the list's live version?"""
        e164 = dnc_number(number, region)
        return NumberCheck(list_name, e164, await dnc.contains(self.redis, list_name, e164))

    async def import_file(self, list_name: str, path: str | Path, options: ImportOptions | None = None,
                          progress: ProgressCallback | None = None) -> ImportResult:
        """Import a file into a list (``screener.service.dnc.imports``). The source defaults to the file's name,
        the kind to the list's kind in the config."""
        check_import_file(path)
        options = options or ImportOptions()
        if not options.source:
            options = replace(options, source=Path(path).name)
        conf = self.settings.lists.get(list_name) if self.settings else None
        if not options.kind and conf is not None:
            options = replace(options, kind=conf.kind.value)
        return await import_file(self.redis, list_name, path, options, progress)

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
            max_age = conf.max_age_days if conf else 0
            if not max_age and kind == "registry":
                max_age = REGISTRY_MAX_AGE_DAYS
            stale: bool | None = None
            if max_age:
                stale = imported is None or at - imported > max_age * 86400
            rows.append(ListRow(name=name, kind=kind, source=info.state.source or (conf.source if conf else ""),
                                imported_at=imported, age_s=at - imported if imported else None,
                                count=info.state.count, version=info.state.version, building=info.building,
                                max_age_days=max_age, stale=stale))
        return rows

    async def export(self, list_name: str, fmt: str = "e164") -> AsyncIterator[str]:
        """The numbers of the list's live version, sorted within each area code: E.164, or with ``fmt="ftc"``
        the 10 digits of +1 numbers."""
        if fmt not in EXPORT_FORMATS:
            raise DncError(f"unknown export format {fmt!r} (one of {', '.join(EXPORT_FORMATS)})")
        version = (await dnc.read_list_states(self.redis, [list_name]))[list_name].version
        async for e164 in iter_version(self.redis, list_name, version):
            yield e164[2:] if fmt == "ftc" and e164.startswith("+1") else e164
