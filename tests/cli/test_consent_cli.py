"""`screener consent import` / `export` as a user runs them: the summary with bad lines, a progress bar only on
a terminal (a real pseudo-terminal), the export in CSV and JSON lines. Real processes, a real Redis."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from screener.embedded_redis import EmbeddedRedis
from tests.cli.lab_config import write_config

REPO = Path(__file__).resolve().parents[2]
ENV = {k: v for k, v in os.environ.items() if not k.startswith("SCREENER_")}


@pytest.fixture
def config(tmp_path: Path, redis_server: EmbeddedRedis, redis_client: Any) -> Path:
    return write_config(tmp_path, redis_server.url)  # redis_client empties the database first


def records_file(path: Path, n: int) -> Path:
    rows = [f"212555{i:04d},2026-11-01T09:30:00-05:00,,v2,web,form-{i}" for i in range(n)]
    path.write_text("number,granted,expires,text_version,channel,evidence\n" + "\n".join(rows) + "\nnope,x,,,,\n")
    return path


def test_import_reports_and_export_writes_csv_and_jsonl(config: Path, tmp_path: Path) -> None:
    base = [sys.executable, "-m", "screener", "--config", str(config), "consent"]
    path = records_file(tmp_path / "signups.csv", 30)
    p = subprocess.run([*base, "import", str(path), "--campaign", "lab", "--source", "sign-up form"],
                       capture_output=True, text=True, timeout=60, cwd=REPO, env=ENV)
    assert p.returncode == 0, p.stderr
    assert p.stderr == ""  # no progress bar without a terminal
    assert "consent import signups.csv into campaign lab: 30 records written; lines read 32; bad lines 1" in p.stdout
    assert "bad line 32: 'nope,x,,,,': invalid number 'nope'" in p.stdout
    p = subprocess.run([*base, "export"], capture_output=True, text=True, timeout=60, cwd=REPO, env=ENV)
    rows = list(csv.DictReader(io.StringIO(p.stdout)))
    assert len(rows) == 30 and rows[0]["origin_file"] == "signups.csv" and rows[0]["source"] == "sign-up form"
    assert {r["number"] for r in rows} == {f"+1212555{i:04d}" for i in range(30)}
    p = subprocess.run([*base, "export", "--campaign", "lab", "--format", "jsonl"], capture_output=True, text=True,
                       timeout=60, cwd=REPO, env=ENV)
    first = json.loads(p.stdout.splitlines()[0])
    assert first["granted"] == "2026-11-01T14:30:00.000+00:00" and first["channel"] == "web"
    p = subprocess.run([*base, "import", "--help"], capture_output=True, text=True, timeout=60, cwd=REPO, env=ENV)
    assert "granted        required; when consent was given" in p.stdout


def test_a_progress_bar_with_rate_and_eta_and_none_on_a_pipe_by_default(config: Path, tmp_path: Path) -> None:
    path = records_file(tmp_path / "many.csv", 3_000)
    base = [sys.executable, "-m", "screener", "--config", str(config), "consent", "import", str(path),
            "--campaign", "lab", "--source", "s"]
    shown = subprocess.run([*base, "--progress", "always"], capture_output=True, text=True, timeout=60, cwd=REPO,
                           env=ENV)
    assert shown.returncode == 0, shown.stderr
    assert "records" in shown.stderr and "ETA" in shown.stderr and "[" in shown.stderr
    quiet = subprocess.run(base, capture_output=True, text=True, timeout=60, cwd=REPO, env=ENV)
    assert quiet.returncode == 0 and "ETA" not in quiet.stderr  # auto: stderr is a pipe here, not a terminal


def test_the_bar_is_drawn_on_a_terminal_only_unless_told() -> None:
    from screener.cli.progress import ProgressBar

    class Stream(io.StringIO):
        def __init__(self, tty: bool) -> None:
            super().__init__()
            self.tty = tty

        def isatty(self) -> bool:
            return self.tty

    assert ProgressBar(Stream(True), "records").tty and not ProgressBar(Stream(False), "records").tty
    assert ProgressBar(Stream(False), "records", "always").tty and not ProgressBar(Stream(True), "records", "never").tty
