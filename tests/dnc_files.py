"""DNC import files for the tests: the same numbers written in each format (ftc, e164, csv) and packing
(plain, .gz, .zip), broken ones (truncated, corrupted) and a snapshot of a list to compare before and after."""

from __future__ import annotations

import gzip
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from screener.store import dnc, keys
from screener.store.client import text
from screener.store.dnc.export import iter_version

FORMATS = ("ftc", "e164", "csv")
PACKINGS = ("plain", "gz", "zip")


def lines_of(numbers: list[int], fmt: str) -> list[str]:
    """10-digit NANP numbers as lines of ``fmt`` (csv: a header naming the column ``phone_number``)."""
    if fmt == "ftc":
        return [str(n) for n in numbers]
    if fmt == "e164":
        return [f"+1{n}" for n in numbers]
    return ["name,phone_number,note", *(f"row {i},{n},x" for i, n in enumerate(numbers))]


def write(path_stem: Path, lines: list[str], packing: str) -> Path:
    """``lines`` written as ``<stem>.txt`` (or ``.csv``), ``.txt.gz`` or ``.zip``."""
    data = "".join(f"{line}\n" for line in lines).encode()
    if packing == "gz":
        path = path_stem.with_name(path_stem.name + ".txt.gz")
        path.write_bytes(gzip.compress(data, compresslevel=1))
    elif packing == "zip":
        path = path_stem.with_name(path_stem.name + ".zip")
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as z:
            z.writestr("list.txt", data)
    else:
        path = path_stem.with_name(path_stem.name + ".txt")
        path.write_bytes(data)
    return path


def truncated(path: Path) -> Path:
    """A copy of an archive cut in the middle (a .gz then ends early; a .zip loses its central directory)."""
    out = path.with_name("truncated-" + path.name)
    data = path.read_bytes()
    out.write_bytes(data[: len(data) // 2])
    return out


def corrupted(path: Path) -> Path:
    """A copy of an archive with garbage in the middle of its compressed data (a zip keeps its directory)."""
    out = path.with_name("corrupted-" + path.name)
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    data[middle:middle + 64] = bytes(range(64))
    out.write_bytes(bytes(data))
    return out


@dataclass(frozen=True)
class ListSnapshot:
    """What a list is: its live version, count and numbers, and every key of the database with its value (but
    the screeners' heartbeats)."""

    version: str
    count: int
    numbers: tuple[str, ...]
    keyspace: dict[str, Any]


async def snapshot(redis: Any, list_name: str) -> ListSnapshot:
    info = (await dnc.read_list_infos(redis, [list_name]))[list_name]
    numbers = tuple([n async for n in iter_version(redis, list_name, info.state.version)])
    space: dict[str, Any] = {}
    async for raw in redis.scan_iter(count=1000):
        key = text(raw)
        if key in (keys.SCREENERS_ALIVE_KEY, keys.SCREENERS_INFO_KEY):
            continue  # a screener's heartbeat (any serve on this Redis writes it): not the import's doing
        kind = text(await redis.type(key))
        if kind == "hash":
            value: Any = {text(k): text(v) for k, v in (await redis.hgetall(key)).items()}
            if key == keys.dnc_meta_key(list_name):
                value.pop("seq", None)  # the version numbers handed out: a failed import used one
        elif kind == "set":
            value = sorted(text(m) for m in await redis.smembers(key))
        elif kind == "string":
            value = await redis.get(key)
        elif kind == "stream":
            value = [(text(i), f) for i, f in await redis.xrange(key)]
        else:
            value = kind
        space[key] = value
    return ListSnapshot(info.state.version, info.state.count, numbers, space)


def replaced_while_exported(path: Path, after: int) -> Any:
    """An ``iter_version`` (to put in ``screener.service.dnc.admin`` with monkeypatch) that, once it has given
    ``after`` numbers, lets an import ``--replace`` of the same list with ``path`` land and free the version
    (grace 0) before it goes on: an export overlapping an import, made exact."""
    from screener.service.dnc import ImportOptions, import_file

    async def iterate(client: Any, list_name: str, version: str) -> Any:
        given = 0
        async for number in iter_version(client, list_name, version):
            yield number
            given += 1
            if given == after:
                await import_file(client, list_name, path, ImportOptions(replace=True, grace_s=0))

    return iterate
