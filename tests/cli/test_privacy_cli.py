"""`screener privacy export|erase` as a user runs them: real processes, a real Redis."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from screener.embedded_redis import EmbeddedRedis
from tests.cli.lab_config import write_config

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def config(tmp_path: Path, redis_server: EmbeddedRedis, redis_client: Any) -> Path:
    return write_config(tmp_path / "config", redis_server.url)


def run(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "screener", "--config", str(config), *args],
                          capture_output=True, text=True, timeout=60, cwd=REPO)


def test_export_then_erase_with_yes(config: Path, tmp_path: Path) -> None:
    assert run(config, "consent", "grant", "+12025550161", "--campaign", "lab", "--source", "form 1").returncode == 0
    assert run(config, "dnc", "add", "+12025550161").returncode == 0
    out = tmp_path / "export.json"
    p = run(config, "privacy", "export", "2025550161", "-o", str(out))
    assert p.returncode == 0, p.stderr
    record = json.loads(out.read_text())
    assert record["number"] == "+12025550161" and [d["list"] for d in record["dnc"]] == ["internal"]
    assert [c["source"] for c in record["consent"]] == ["form 1"]

    refused = run(config, "privacy", "erase", "+12025550161")
    assert refused.returncode == 2 and "--yes" in refused.stderr
    assert json.loads(run(config, "privacy", "export", "+12025550161").stdout)["consent"]  # nothing erased yet

    p = run(config, "privacy", "erase", "+12025550161", "--yes")
    assert p.returncode == 0, p.stderr
    assert "removed     1  consent records" in p.stdout and "kept: the number on the internal DNC list" in p.stdout
    after = json.loads(run(config, "privacy", "export", "+12025550161").stdout)
    assert after["consent"] == [] and [d["list"] for d in after["dnc"]] == ["internal"]
    assert run(config, "privacy", "export", "12").returncode == 2


def test_erase_refuses_on_a_host_that_does_not_hold_the_archive(config: Path, tmp_path: Path,
                                                                 redis_server: EmbeddedRedis) -> None:
    # the host that archives: its own config folder (so its own [audit] archive_dir) on the same Redis
    archiving = write_config(tmp_path / "archiving-host", redis_server.url)
    assert run(config, "consent", "grant", "+12025550162", "--campaign", "lab", "--source", "form 2").returncode == 0
    p = run(archiving, "audit", "archive", "--before", "now")
    assert p.returncode == 0 and "archived" in p.stdout, p.stderr

    p = run(config, "privacy", "erase", "+12025550162", "--yes")
    assert p.returncode == 2, (p.stdout, p.stderr)
    folder = config.parent.parent / "var" / "audit-archive"  # (a config in config/: the project folder above)
    assert str(folder) in p.stderr and "run the erasure on the host that archives" in p.stderr, p.stderr
    assert json.loads(run(config, "privacy", "export", "+12025550162").stdout)["consent"]  # nothing erased
    p = run(archiving, "privacy", "erase", "+12025550162", "--yes")
    assert p.returncode == 0 and "removed     1  consent records" in p.stdout, p.stderr
