"""Bulk consent (``consent import`` / ``consent export``) against a real redis-server and the real 3-master
cluster: every good row written with its provenance and its audit entry, bad rows reported by line number and
never stopping the import, records written batch by batch while the file is read, an export that imports again."""

from __future__ import annotations

import gzip
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis
from redis.asyncio.cluster import RedisCluster

from screener.lab.topologies import ClusterTopology
from screener.service.consent import EXPORT_COLUMNS, ConsentLedger, export_row
from screener.service.errors import InvalidInput
from screener.service.progress import Progress
from screener.store import audit, consent, keys
from tests.factories import make_settings

GRANTED = "2026-11-01T09:30:00+08:00"
GRANTED_MS = int(datetime.fromisoformat(GRANTED).timestamp() * 1000)
HEADER = "Phone_Number,granted,expires,text_version,channel,evidence,customer_name"


def good_rows(n: int, start: int = 0) -> list[str]:
    return [f"1380013{i:04d},{GRANTED},2027-11-01T00:00:00Z,v3,web,form-{i},Name {i}" for i in range(start, start + n)]


def write(path: Path, lines: list[str]) -> Path:
    data = "".join(f"{line}\n" for line in lines).encode()
    path.write_bytes(gzip.compress(data) if path.name.endswith(".gz") else data)
    return path


async def test_good_rows_land_with_provenance_and_bad_rows_are_reported_by_line(redis_client: aioredis.Redis,
                                                                                tmp_path: Path) -> None:
    lines = [HEADER, *good_rows(3),
             "12,2026-11-01T09:30:00+08:00,,,,,",  # line 5: not a number
             "13800138100,,,,,,",  # line 6: no grant time
             "13800138101,2026-11-01 09:30,,,,,",  # line 7: no UTC offset
             "13800138102,2026-11-01T09:30:00Z,2026-10-01T00:00:00Z,,,,",  # line 8: expires before granted
             "110,2026-11-01T09:30:00Z,,,,,",  # line 9: an emergency number
             "",  # line 10: empty, skipped
             "13800138103,2026-11-01T09:30:00Z,,,phone,rec-9,"]  # line 11: good, never expires
    path = write(tmp_path / "crm.csv.gz", lines)
    result = await ConsentLedger(redis_client, make_settings()).import_file(path, "cn", source="CRM export 11-30")
    assert (result.records, result.bad_count, result.lines) == (4, 5, 11)
    assert [(b.line_no, b.reason) for b in result.bad][:2] == [(5, "invalid number '12': '12' is not a valid "
                                                                   "phone number (default region CN)"),
                                                               (6, "no grant time (granted): when the consent was "
                                                                   "given is part of its evidence")]
    assert [b.line_no for b in result.bad] == [5, 6, 7, 8, 9]
    assert "no UTC offset" in result.bad[2].reason and "is not after granted" in result.bad[3].reason
    assert "emergency number" in result.bad[4].reason
    assert result.ignored_columns == ("customer_name",)  # never stored
    [record] = await consent.records(redis_client, "+8613800130001")
    assert (record.purpose, record.campaign, record.source, record.text_version, record.channel,
            record.evidence) == ("service", "cn", "CRM export 11-30", "v3", "web", "form-1")
    assert (record.granted_ms, record.origin_file, record.origin_line) == (GRANTED_MS, "crm.csv.gz", 3)
    assert record.valid_at(GRANTED_MS + 1) and not record.valid_at(GRANTED_MS - 1)
    [last] = await consent.records(redis_client, "+8613800138103")
    assert last.expires_ms == 0 and last.origin_line == 11
    history = [entry async for entry in consent.iter_history(redis_client)]
    assert len(history) == 4 and all(action == "grant" for action, _ in history)
    assert [r.origin_line for _, r in history if r.number == "+8613800130001"] == [3]
    assert len(await consent_entries(redis_client)) == 4  # each with its audit entry, in the number's chain


async def consent_entries(client: Any) -> list[audit.AuditEntry]:
    """Every consent entry of the audit trail (one stream per number group)."""
    names = await audit.groups(client)
    return [e for g in names async for e in audit.scan_group(client, g) if e.kind == audit.CONSENT]


async def test_records_are_written_batch_by_batch_while_the_file_is_read(redis_client: aioredis.Redis,
                                                                         tmp_path: Path) -> None:
    path = write(tmp_path / "big.csv", [HEADER, *good_rows(2_000)])
    seen: list[tuple[int, int]] = []
    ledger = ConsentLedger(redis_client, make_settings())

    def progress(p: Progress) -> None:
        seen.append((p.numbers, p.bytes_done))

    result = await ledger.import_file(path, "cn", source="s", progress=progress, batch=300)
    assert result.records == 2_000
    assert [n for n, _ in seen] == [300, 600, 900, 1200, 1500, 1800, 2000]
    assert seen[0][1] < path.stat().st_size  # the first batch was written with most of the file unread
    assert len([entry async for entry in consent.iter_history(redis_client)]) == 2_000
    assert len(await consent_entries(redis_client)) == 2_000


async def test_a_file_without_the_required_columns_writes_nothing(redis_client: aioredis.Redis,
                                                                  tmp_path: Path) -> None:
    ledger = ConsentLedger(redis_client, make_settings())
    with pytest.raises(InvalidInput, match="has no granted column"):
        await ledger.import_file(write(tmp_path / "a.csv", ["number,when", "13800138000,x"]), "cn", source="s")
    with pytest.raises(InvalidInput, match="needs its --source"):
        await ledger.import_file(write(tmp_path / "b.csv", [HEADER]), "cn", source=" ")
    with pytest.raises(InvalidInput, match="unknown campaign 'nope'"):
        await ledger.import_file(write(tmp_path / "c.csv", [HEADER]), "nope", source="s")
    assert await redis_client.dbsize() == 0


async def test_an_export_imports_again_to_the_same_records(redis_client: aioredis.Redis, tmp_path: Path) -> None:
    import csv

    ledger = ConsentLedger(redis_client, make_settings())
    await ledger.import_file(write(tmp_path / "a.csv", [HEADER, *good_rows(50)]), "cn", source="form A")
    await ledger.grant("+12125550142", "consent", source="call 7", text_version="v1")
    await ledger.revoke("+12125550142", "consent")
    exported = [r async for r in ledger.export()]
    assert len(exported) == 51 and len([r async for r in ledger.export("cn")]) == 50
    out = tmp_path / "export.csv"
    with out.open("w", newline="") as f:
        writer = csv.DictWriter(f, EXPORT_COLUMNS)
        writer.writeheader()
        writer.writerows(export_row(r) for r in exported if r.campaign == "cn")
    await redis_client.flushall()
    result = await ledger.import_file(out, "cn", source="restore")
    assert result.records == 50 and result.bad_count == 0
    again = {r.number: r for r in [r async for r in ledger.export()]}
    for before in exported:
        if before.campaign == "cn":
            after = again[before.number]
            assert (after.granted_ms, after.expires_ms, after.evidence, after.source, after.purpose) == (
                before.granted_ms, before.expires_ms, before.evidence, before.source, before.purpose)


async def test_import_and_export_on_a_redis_cluster(redis_cluster: ClusterTopology, tmp_path: Path) -> None:
    """Each record with its history and audit entries in one script call in the number's slot."""
    client: Any = RedisCluster(startup_nodes=redis_cluster.nodes)
    await client.initialize()
    try:
        await client.flushall(target_nodes=RedisCluster.PRIMARIES)
        numbers = [f"+1{ac}5550{i:03d}" for ac in (201, 212, 305, 415, 617, 718) for i in range(40)]
        lines = ["number,granted,evidence", *(f"{n},2026-11-01T09:30:00Z,ev-{n}" for n in numbers), "x,y,z"]
        ledger = ConsentLedger(client, make_settings())
        result = await ledger.import_file(write(tmp_path / "c.csv", lines), "consent", source="cluster file",
                                          batch=100)
        assert result.records == len(numbers) and [b.line_no for b in result.bad] == [len(numbers) + 2]
        slots = {await client.cluster_keyslot(keys.consent_key(n)) for n in numbers}
        assert len({client.get_node_from_key(keys.consent_key(n)).name for n in numbers}) > 1, slots
        exported = sorted(r.number for r in [r async for r in ledger.export("consent")])
        assert exported == sorted(numbers)
        history = sorted(r.number for _, r in [entry async for entry in consent.iter_history(client)])
        assert history == sorted(numbers)  # each record's history entry, written with it in its slot
        assert len(await consent_entries(client)) == len(numbers)
        [record] = await consent.records(client, numbers[-1])
        assert record.evidence == f"ev-{numbers[-1]}" and record.origin_line == len(numbers) + 1
    finally:
        await client.aclose()
