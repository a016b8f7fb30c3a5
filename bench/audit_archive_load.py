"""The archive part of bench/audit_bench.py: fill a private redis-server's audit streams (chains that verify,
spread over two days), then time an archive run (segments written, fsynced, streams trimmed) and a verify of
what it wrote, in entries per second."""

from __future__ import annotations

import asyncio
import tempfile
import time
from pathlib import Path

from screener.config.load import load_settings
from screener.embedded_redis import EmbeddedRedis
from screener.lab.audit_load import load_chains
from screener.service.audit import AuditTrail
from screener.service.audit_archive import Archiver
from screener.service.audit_verify import Verifier
from screener.service.screening import connect

CONFIG = Path(__file__).resolve().parent / "bench.toml"


async def _run(url: str, folder: Path, entries: int, groups: int) -> None:
    client = connect(url, 30)
    now = int(time.time() * 1000)
    names = [f"+1{200 + i}" for i in range(groups)]
    await load_chains(client, names, entries, first_ms=now - 2 * 86_400_000, last_ms=now - 60_000)
    started = time.perf_counter()
    settings = load_settings(CONFIG)
    report = await Archiver(client, settings, folder).run(before_ms=int(time.time() * 1000))
    archive_s = time.perf_counter() - started
    size = sum(m.bytes for m in report.segments)
    started = time.perf_counter()
    verified = await Verifier(AuditTrail(client, settings.audit_salt.value, folder)).run()
    verify_s = time.perf_counter() - started
    await client.aclose()
    print(f"archive: {report.entries:,} entries in {groups} groups, {len(report.segments)} daily segments, "
          f"{size / 1e6:.1f} MB gzip ({size / max(1, report.entries):.0f} bytes an entry)")
    print(f"{'measure':48} {'seconds':>9} {'entries/s':>11}")
    print(f"{'archive run (read, write, fsync, trim)':48} {archive_s:9.1f} {report.entries / archive_s:11,.0f}")
    print(f"{'verify (archive and streams, every link)':48} {verify_s:9.1f} {verified.entries / verify_s:11,.0f}"
          f"  ({'holds' if verified.ok else 'BROKEN'})")


def run_archive_bench(entries: int, groups: int) -> None:
    with tempfile.TemporaryDirectory() as tmp, EmbeddedRedis(Path(tmp) / "redis", persist=False) as redis:
        asyncio.run(_run(redis.url, Path(tmp) / "archive", entries, groups))
