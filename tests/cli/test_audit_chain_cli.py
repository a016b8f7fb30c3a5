"""`screener audit why`, `verify`, `checkpoint`, `archive` and `config show VERSION` as a user runs them: real
processes, a real Redis, a config edited between decisions."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from screener.config.redact import redacted_text
from screener.config.watch import ConfigHolder
from screener.embedded_redis import EmbeddedRedis
from screener.service.screening import Screener
from tests.cli.lab_config import write_config

NUMBER = "+12025550123"
NY_10AM = "2026-12-02T10:00:00-05:00"
NY_11PM = "2026-12-02T23:00:00-05:00"

SECOND_CAMPAIGN = """
[campaigns.lab-evening]
company = "Example Solar Inc. test lab"
purpose = "a second test campaign"
subject = "lab-evening"
caller_id = "+12025550145"
callback_number = "+12025550145"
region = "US"
policy = "lab"
dnc_lists = ["internal"]
consent_required = false
hours.daily = "09:00-21:00"

[campaigns.lab-evening.disclosure.en]
text = "This is a test call from {company}. To stop these calls, press {opt_out_digit}."
"""


@pytest.fixture
def redis(private_redis: EmbeddedRedis) -> Iterator[EmbeddedRedis]:
    yield private_redis


def run(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCREENER_")}
    return subprocess.run([sys.executable, "-m", "screener", "--config", str(config), *args],
                          capture_output=True, text=True, timeout=120, env=env)


def version_of(config: Path) -> str:
    p = run(config, "config", "check")
    assert p.returncode == 0, p.stderr
    return p.stdout.split("version ")[1].strip()


def opt_out(config: Path, campaign: str) -> None:
    async def go() -> None:
        holder = ConfigHolder(config)
        screener = await Screener.create(holder, holder.current.redis_url)
        try:
            await screener.opt_out(NUMBER, campaign, source="cli test")
        finally:
            await screener.aclose()

    asyncio.run(go())


def test_why_shows_every_decision_with_its_rules_and_config_show_prints_the_old_version(
        redis: EmbeddedRedis, tmp_path: Path) -> None:
    config = write_config(tmp_path, redis.url)
    config.write_text(config.read_text() + SECOND_CAMPAIGN)
    first_text = config.read_bytes()
    first = version_of(config)
    for _ in range(4):  # the lab policy allows 3 per hour: the 4th is blocked
        assert run(config, "check", NUMBER, "--campaign", "lab", "--commit").returncode in (0, 1)
    for at in (NY_10AM, NY_11PM, NY_10AM):  # the evening campaign's own hours: 23:00 is outside them
        run(config, "check", "2025550123", "--campaign", "lab-evening", "--at", at)
    config.write_text(config.read_text().replace('"a second test campaign"', '"a second test campaign, v2"'))
    second = version_of(config)
    assert second != first
    for at in (NY_10AM, NY_11PM):
        run(config, "check", NUMBER, "--campaign", "lab-evening", "--at", at)
    for _ in range(3):
        run(config, "check", NUMBER, "--campaign", "lab", "--at", NY_10AM)
    opt_out(config, "lab")
    assert run(config, "check", NUMBER, "--campaign", "lab", "--at", NY_10AM).returncode == 1  # dnc_internal

    p = run(config, "audit", "why", NUMBER, "--json")
    assert p.returncode == 0, p.stderr
    entries = json.loads(p.stdout)["entries"]
    decisions = [e for e in entries if e["kind"] == "decision"]
    assert len(decisions) == 13
    assert {d["campaign"] for d in decisions} == {"lab", "lab-evening"}
    assert [d["config_version"] for d in decisions] == [first] * 7 + [second] * 6
    assert [d["verdict"] for d in decisions[:4]] == ["allow", "allow", "allow", "block"]
    assert decisions[3]["reasons"][0]["code"] == "frequency_limit"
    assert [r["code"] for r in decisions[5]["reasons"]] == ["outside_calling_hours"]
    assert [r["code"] for r in decisions[-1]["reasons"]] == ["dnc_internal"]
    for d in decisions:
        rules = {c["rule"] for c in d["checks"]}
        assert {"dnc list", "calling hours"} <= rules, d
        assert d["inputs"]["normalized"] == "+1202*****23" and d["inputs"]["campaign"] == d["campaign"]
    hours = next(c for c in decisions[5]["checks"] if c["rule"] == "calling hours")
    assert hours["outcome"] == "block" and "23:00" in hours["detail"] and "09:00-21:00" in hours["detail"]
    counted = next(c for c in decisions[2]["checks"] if c["rule"] == "frequency")
    assert counted["outcome"] == "pass" and counted["detail"].startswith("2 earlier attempt(s)")
    listed = next(c for c in decisions[-1]["checks"] if c["rule"] == "dnc list")
    assert listed["outcome"] == "block" and "LISTED" in listed["detail"]
    assert [e["kind"] for e in entries].count("opt_out") == 1
    assert NUMBER not in p.stdout  # masked

    text = run(config, "audit", "why", "2025550123")
    assert text.returncode == 0 and text.stdout.count(f"config {first}") == 7
    assert "reasons: frequency_limit" in text.stdout and "OPT-OUT" in text.stdout

    shown = run(config, "config", "show", first)
    assert shown.returncode == 0, shown.stderr
    assert redacted_text(first_text) in shown.stdout  # that exact file, as it was, secrets masked
    assert "test-salt-test-salt" not in shown.stdout and 'audit_salt = "***"' in shown.stdout
    assert "v2" not in shown.stdout.split("---- file: " + str(config))[1].split("# ---- file:")[0]
    missing = run(config, "config", "show", "0123456789ab")
    assert missing.returncode == 2 and "not stored" in missing.stderr


def test_verify_checkpoint_and_archive_from_the_command_line(redis: EmbeddedRedis, tmp_path: Path) -> None:
    config = write_config(tmp_path, redis.url)
    for i in range(5):
        assert run(config, "check", f"+1202555012{i}", "--campaign", "lab", "--at", NY_10AM).returncode == 0
    p = run(config, "audit", "verify")
    assert p.returncode == 0 and "the chain holds" in p.stdout, p.stderr
    point = tmp_path / "heads.json"
    assert run(config, "audit", "checkpoint", "-o", str(point)).returncode == 0
    p = run(config, "audit", "archive", "--before", "now")
    assert p.returncode == 0 and "archived 6 entries" in p.stdout, p.stdout + p.stderr  # and the config entry
    p = run(config, "audit", "verify", "--checkpoint", str(point), "--json")
    report = json.loads(p.stdout)
    assert p.returncode == 0 and report["ok"] and report["segments"] == 1 and report["checkpoint_checked"] == 2
    tail = run(config, "audit", "tail", "-n", "4")  # 3 decisions read back from the archive, the run's own entry
    assert tail.returncode == 0 and tail.stdout.count("ALLOW") == 3 and tail.stdout.count("ARCHIVE") == 1
    import redis as sync_redis

    client = sync_redis.Redis.from_url(redis.url)
    assert client.xlen("scr:{+1202}:audit") == 0
    client.close()
    for segment in (tmp_path / "var" / "audit-archive").glob("*/*.seg.gz"):
        segment.write_bytes(segment.read_bytes()[:-20])  # cut short
    p = run(config, "audit", "verify")
    assert p.returncode == 1 and "BROKEN" in p.stdout and "cut short" in p.stdout, p.stdout
    p = run(config, "audit", "verify", "--checkpoint", str(tmp_path / "nope.json"))
    assert p.returncode == 2 and "nope.json" in p.stderr
