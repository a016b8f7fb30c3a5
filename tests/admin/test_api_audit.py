"""GET /api/v1/audit (compliance role): filtered by number, campaign and time, as JSON lines or CSV, streamed;
an export of 1,000,000 entries goes through in bounded memory."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from screener.embedded_redis import EmbeddedRedis
from screener.service.tokens import Role
from tests.admin.conftest import Admin, AdminFactory


async def test_export_jsonl_and_csv_with_filters(admin: Admin) -> None:
    await admin.decide("+12125550142")
    await admin.decide("+12125550143")
    await admin.decide("+12125550142", campaign="nope")
    status, text, headers = await admin.request("GET", "/api/v1/audit?number=%2B12125550142", Role.COMPLIANCE)
    assert status == 200 and headers["Content-Type"].startswith("application/x-ndjson")
    entries = [json.loads(line) for line in text.splitlines()]
    assert [(e["number"], e["campaign"]) for e in entries] == [("+1212*****42", "lab"), ("+1212*****42", "nope")]
    assert entries[0]["reasons"] == [] and entries[1]["reasons"][0]["code"] == "unknown_campaign"
    status, text, headers = await admin.request("GET", "/api/v1/audit?campaign=lab&format=csv", Role.COMPLIANCE)
    assert status == 200 and headers["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [r["number"] for r in rows] == ["+1212*****42", "+1212*****43"] and rows[0]["verdict"] == "allow"
    status, text, _ = await admin.request("GET", "/api/v1/audit?since=2000-01-01T00:00:00Z&until=2001-01-01T00:00:00Z",
                                          Role.COMPLIANCE)
    assert status == 200 and text == ""


async def test_export_refuses_bad_parameters_before_sending_anything(admin: Admin) -> None:
    for query, words in [("format=xml", "format: 'xml' is not a format"), ("since=yesterday", "since: 'yesterday'"),
                         ("number=12", "invalid number '12'"), ("limit=5", "limit: unknown parameter")]:
        status, body, _ = await admin.request("GET", f"/api/v1/audit?{query}", Role.COMPLIANCE)
        assert status == 400 and words in body["detail"], (query, body)


def peak_rss_reset() -> int:
    """Reset this process's peak resident size (Linux clear_refs) and return the current size, in kB."""
    Path("/proc/self/clear_refs").write_text("5")
    return _status_kb("VmRSS")


def _status_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise AssertionError(f"no {field} in /proc/self/status")


FILL = """
for i = 1, tonumber(ARGV[1]) do
  redis.call('XADD', KEYS[1], '*', 'kind', 'decision', 'at', '2026-12-02T20:00:00.000+00:00',
             'number', '+1212*****42', 'number_hash', '0123456789abcdef01234567', 'campaign', 'lab',
             'config_version', 'v1', 'mode', 'live', 'source', 'fastagi', 'call_id', 'c' .. i, 'agent', '',
             'verdict', 'block', 'pre_reasons', 'outside_calling_hours|22:00 America/New_York is outside',
             'store_reasons', 'frequency_limit|3 per 1h (any)', 'reserved', '0', 'attempt_id', '')
end
redis.call('SADD', KEYS[2], '+1212')
return redis.call('XLEN', KEYS[1])
"""


@pytest.mark.timeout(900)
async def test_an_export_of_a_million_entries_streams_in_bounded_memory(make_admin: AdminFactory,
                                                                       private_redis: EmbeddedRedis) -> None:
    admin: Admin = await make_admin(redis_url=private_redis.url)
    total = 1_000_000
    for _ in range(10):
        length = await admin.server.context.redis.eval(FILL, 2, "scr:{+1212}:audit", "scr:audit:groups", total // 10)
    assert length == total
    start_kb = peak_rss_reset()
    lines = size = 0
    async with admin.session.get(admin.url + "/api/v1/audit?format=jsonl", headers=admin.headers(Role.COMPLIANCE),
                                 timeout=None) as resp:
        assert resp.status == 200
        async for chunk in resp.content.iter_chunked(1 << 16):
            lines += chunk.count(b"\n")
            size += len(chunk)
    peak_kb = _status_kb("VmHWM")
    assert lines == total
    # the export is hundreds of megabytes; the server (this process) never held more than a sliver of it
    assert size > 300 * 1024 * 1024
    assert peak_kb - start_kb < 64 * 1024, (start_kb, peak_kb)
