"""`screener check`, `consent`, `audit` and `config` as a user runs them: real processes, a real Redis."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from screener.embedded_redis import EmbeddedRedis
from tests.cli.lab_config import write_config

REPO = Path(__file__).resolve().parents[2]
CONFIG = REPO / "config" / "screener.toml"
#: Wednesday 2 December 2026, 10:00 in New York / 10:00 in Beijing
NY_10AM = "2026-12-02T10:00:00-05:00"
BJ_10AM = "2026-12-02T10:00:00+08:00"


def run(redis: EmbeddedRedis, *args: str, config: Path = CONFIG) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "screener", "--config", str(config), "--redis", redis.url, *args],
                          capture_output=True, text=True, timeout=60, cwd=REPO)


@pytest.fixture
def redis(redis_server: EmbeddedRedis, redis_client: Any) -> EmbeddedRedis:
    return redis_server  # redis_client empties the database first


def test_check_allow_json_contract_and_exit_0(redis: EmbeddedRedis) -> None:
    p = run(redis, "check", "(202) 555-0123", "--campaign", "lab", "--json", "--at", NY_10AM)
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    assert out["verdict"] == "allow" and out["reasons"] == [] and out["number"] == "+1202*****23"  # one mask everywhere
    assert out["dry_run"] is True and out["config_version"]


def test_an_allowed_check_says_what_the_call_needs(redis: EmbeddedRedis) -> None:
    # the caller ID and name to present and the disclosure the callee hears, as the live front ends use them
    p = run(redis, "check", "+12025550123", "--campaign", "lab", "--json", "--at", NY_10AM)
    out = json.loads(p.stdout)
    assert out["caller_id"] and out["caller_id_name"]
    assert re.fullmatch(r"custom/screener/lab-en-[0-9a-f]{8}", out["disclosure"]["prompt"])
    assert out["disclosure"]["language"] == "en"
    assert out["disclosure"]["optout_prompt"] == "custom/screener/optout-en"
    text = run(redis, "check", "+12025550123", "--campaign", "lab", "--at", NY_10AM).stdout
    assert f"caller ID to present: {out['caller_id']} ({out['caller_id_name']})" in text
    assert f"disclosure on answer: {out['disclosure']['prompt']} (en)" in text
    blocked = json.loads(run(redis, "check", "12", "--campaign", "lab", "--json").stdout)
    assert blocked["disclosure"] is None and blocked["caller_id"] is None


def test_check_block_lists_every_reason_and_exits_1(redis: EmbeddedRedis) -> None:
    assert run(redis, "dnc", "add", "+12025550123").returncode == 0
    # 23:30 in New York: on the internal list, outside hours, and us-national never imported
    p = run(redis, "check", "+12025550123", "--campaign", "us-sales", "--json", "--at", "2026-12-02T23:30:00-05:00")
    assert p.returncode == 1, p.stderr
    codes = [r["code"] for r in json.loads(p.stdout)["reasons"]]
    assert codes == ["dnc_internal", "dnc_list_stale", "outside_calling_hours"]


def test_check_human_output_names_the_reasons(redis: EmbeddedRedis) -> None:
    p = run(redis, "check", "12", "--campaign", "lab")
    assert p.returncode == 1
    assert p.stdout.startswith("BLOCK") and "invalid_number" in p.stdout
    p = run(redis, "check", "+12025550123", "--campaign", "no-such")
    assert p.returncode == 1 and "unknown_campaign" in p.stdout and "lab" in p.stdout


def test_commit_reserves_attempts_and_dry_run_does_not(redis: EmbeddedRedis) -> None:
    for _ in range(4):
        assert run(redis, "check", "+12025550123", "--campaign", "lab").returncode == 0
    for _ in range(3):  # the lab campaign: open all day, at most 3 calls an hour per number
        assert run(redis, "check", "+12025550123", "--campaign", "lab", "--commit").returncode == 0
    p = run(redis, "check", "+12025550123", "--campaign", "lab", "--commit", "--json")
    assert p.returncode == 1 and [r["code"] for r in json.loads(p.stdout)["reasons"]] == ["frequency_limit"]


@pytest.mark.parametrize("at", ["2026-12-02T10:00:00-05:00", "2000-01-01T00:00:00Z", "2099-01-01T00:00:00Z"])
async def test_commit_with_at_is_a_usage_error_and_writes_nothing(redis: EmbeddedRedis, redis_client: Any,
                                                                  at: str) -> None:
    p = run(redis, "check", "+12025550123", "--campaign", "lab", "--commit", "--at", at)
    assert p.returncode == 2
    assert "--commit cannot be used with --at" in p.stderr and p.stdout == ""
    assert await redis_client.keys() == []  # no attempt reserved, no audit entry


def test_check_help_says_why_commit_and_at_do_not_mix(redis: EmbeddedRedis) -> None:
    p = run(redis, "check", "--help")
    assert p.returncode == 0
    assert "--commit cannot be combined with --at, whatever the time" in " ".join(p.stdout.split())


def test_usage_and_config_errors_exit_2(redis: EmbeddedRedis, tmp_path: Path) -> None:
    p = run(redis, "check", "+12025550123", "--campaign", "lab", "--at", "2026-12-02T10:00")
    assert p.returncode == 2 and "no UTC offset" in p.stderr
    p = run(redis, "check", "+12025550123")
    assert p.returncode == 2 and "--campaign" in p.stderr
    broken = tmp_path / "broken.toml"
    broken.write_text(CONFIG.read_text().replace("[campaigns.lab]\n", "[campaigns.lab]\nbogus_key = 1\n")
                      .replace('"presets/', f'"{CONFIG.parent}/presets/'))
    p = run(redis, "check", "+12025550123", "--campaign", "lab", config=broken)
    assert p.returncode == 2
    assert str(broken) in p.stderr and "campaigns.lab" in p.stderr and "bogus_key" in p.stderr
    p = run(redis, "check", "+12025550123", "--campaign", "lab", config=tmp_path / "missing.toml")
    assert p.returncode == 2 and "missing.toml" in p.stderr


def test_consent_grant_and_revoke_drive_the_decision(redis: EmbeddedRedis) -> None:
    check = ("check", "13800138000", "--campaign", "cn-service", "--json", "--at", BJ_10AM)
    p = run(redis, *check)
    assert p.returncode == 1 and [r["code"] for r in json.loads(p.stdout)["reasons"]] == ["no_consent"]
    p = run(redis, "consent", "grant", "13800138000", "--campaign", "cn-service", "--source", "app sign-up",
            "--granted", "2026-11-01T00:00:00+08:00", "--expires", "2027-11-01T00:00:00+08:00")
    assert p.returncode == 0, p.stderr
    assert run(redis, *check).returncode == 0
    shown = run(redis, "consent", "show", "13800138000", "--campaign", "cn-service", "--json")
    [record] = json.loads(shown.stdout)
    assert record["number"] == "+86138******00" and record["source"] == "app sign-up"  # masked, as everywhere
    assert run(redis, "consent", "revoke", "13800138000", "--campaign", "cn-service",
               "--at", "2026-11-20T00:00:00+08:00").returncode == 0
    assert run(redis, *check).returncode == 1
    p = run(redis, "consent", "revoke", "13800138001", "--campaign", "cn-service")
    assert p.returncode == 2 and "no consent record" in p.stderr


def test_audit_tail_and_export_by_number(redis: EmbeddedRedis, tmp_path: Path) -> None:
    run(redis, "check", "+12025550123", "--campaign", "lab", "--at", NY_10AM)
    run(redis, "check", "+12025550199", "--campaign", "lab", "--at", NY_10AM)
    tail = run(redis, "audit", "tail", "-n", "5")
    assert tail.returncode == 0 and tail.stdout.count("ALLOW") == 2 and "+1202*****23" in tail.stdout
    assert "+12025550123" not in tail.stdout  # numbers are masked in the trail
    p = run(redis, "audit", "export", "--number", "+12025550123")
    lines = [json.loads(line) for line in p.stdout.splitlines()]
    assert len(lines) == 1 and lines[0]["verdict"] == "allow" and lines[0]["mode"] == "dry_run"
    out = tmp_path / "audit.csv"
    p = run(redis, "audit", "export", "--format", "csv", "-o", str(out))
    assert p.returncode == 0 and "exported 3 entries" in p.stderr  # the decisions and the config version's entry
    rows = out.read_text().splitlines()
    assert rows[0].startswith("id,kind,at,number") and [r.split(",")[1] for r in rows[1:]].count("decision") == 2


def test_config_check_prints_the_version(redis: EmbeddedRedis) -> None:
    p = run(redis, "config", "check")
    assert p.returncode == 0 and "valid, version" in p.stdout
    assert "change-me" not in run(redis, "config", "show").stdout  # the audit salt is never printed


def test_config_show_masks_the_redis_password(redis: EmbeddedRedis, tmp_path: Path) -> None:
    config = write_config(tmp_path, "redis://:hunter2@127.0.0.1:6390/0")
    p = run(redis, "config", "show", config=config)
    assert p.returncode == 0, p.stderr
    assert "redis_url: redis://:***@127.0.0.1:6390/0" in p.stdout and "hunter2" not in p.stdout + p.stderr


def test_config_check_warns_about_placeholder_secrets_but_exits_0(redis: EmbeddedRedis, tmp_path: Path) -> None:
    p = run(redis, "config", "check")
    assert p.returncode == 0 and "valid, version" in p.stdout
    assert f"screener: warning: {CONFIG}: screener.audit_salt: still the shipped placeholder" in p.stderr
    assert f"screener: warning: {CONFIG}: ari.password: still the shipped placeholder" in p.stderr
    assert "change-me" not in p.stdout + p.stderr
    from tests.cli.lab_config import write_config

    p = run(redis, "config", "check", config=write_config(tmp_path, redis.url))
    assert p.returncode == 0 and p.stderr == ""  # a real salt and no ARI: nothing to warn about
