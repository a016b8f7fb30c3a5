"""`screener complaint` and `screener report abandonment` as a user runs them: real processes, a real Redis."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from screener.embedded_redis import EmbeddedRedis
from screener.numbers import mask
from tests.cli.lab_config import write_config

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def config(tmp_path: Path, redis_server: EmbeddedRedis, redis_client: Any) -> Path:
    return write_config(tmp_path / "config", redis_server.url)  # redis_client empties the database first


def run(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "screener", "--config", str(config), *args],
                          capture_output=True, text=True, timeout=60, cwd=REPO)


def test_a_complaint_from_12321_is_listed_overdue_until_its_stages_are_done_and_it_is_closed(config: Path) -> None:
    # received on Thursday 12 February 2026 (Beijing): forward by Tuesday 24 February (the Spring Festival
    # break in between, Saturday 14 a make-up working day), long past now: overdue
    p = run(config, "complaint", "add", "+8613800138000", "--source", "12321", "--received",
            "2026-02-12T16:30:00+08:00", "--ref", "12321-0212", "--text", "calls at night", "--json")
    assert p.returncode == 0, p.stderr
    ticket = json.loads(p.stdout)
    assert ticket["number"] == mask("+8613800138000") and ticket["dnc"] == "listed"  # the one mask, as everywhere
    assert "8613800138000" not in p.stdout
    # reply: 25-27 Feb, Saturday 28 Feb (make-up, 4), 2-6 Mar, 9-13 Mar, 16 Mar (15); answer: 17-19 Mar
    assert [(s["name"], s["due_date"]) for s in ticket["stages"]] == [
        ("forward", "2026-02-24"), ("reply", "2026-03-16"), ("answer", "2026-03-19")]
    assert run(config, "dnc", "check", "+8613800138000").returncode == 0  # listed

    overdue = run(config, "complaint", "list", "--overdue")
    assert overdue.returncode == 1, overdue.stderr
    assert ticket["id"] in overdue.stdout and "forward due 2026-02-24 (overdue)" in overdue.stdout
    listed = json.loads(run(config, "complaint", "list", "--json").stdout)
    assert [t["id"] for t in listed] == [ticket["id"]] and listed[0]["overdue"] is True

    show = run(config, "complaint", "show", ticket["id"])
    assert show.returncode == 0, show.stderr
    assert "calendar  CN, Asia/Shanghai" in show.stdout and "[overdue]" in show.stdout
    # with the number's `audit why`: its opt-out and the complaint, each with its own fields
    assert f"why {mask('+8613800138000')}: " in show.stdout
    assert re.search(rf"COMPLAINT  .*ticket {ticket['id']}.*complaint_source 12321.*ref 12321-0212", show.stdout)
    assert "OPT-OUT" in show.stdout
    shown = json.loads(run(config, "complaint", "show", ticket["id"], "--json").stdout)
    assert shown["id"] == ticket["id"] and {"complaint", "opt_out"} <= {e["kind"] for e in shown["why"]["entries"]}

    for stage, at in (("forward", "2026-02-13T10:00:00+08:00"), ("reply", "2026-03-02T10:00:00+08:00")):
        assert run(config, "complaint", "done", ticket["id"], stage, "--at", at).returncode == 0
    closed = run(config, "complaint", "close", ticket["id"], "--resolution", "number blocked; user answered",
                 "--json")
    assert closed.returncode == 0 and json.loads(closed.stdout)["status"] == "closed"
    assert [s["state"] for s in json.loads(closed.stdout)["stages"]] == ["done", "done", "closed"]
    clear = run(config, "complaint", "list", "--overdue")
    assert clear.returncode == 0 and "no complaints overdue" in clear.stdout
    assert json.loads(run(config, "complaint", "list", "--all", "--json").stdout)[0]["status"] == "closed"


def test_bad_input_is_one_line_and_exit_2(config: Path) -> None:
    p = run(config, "complaint", "add", "+12025550162", "--source", "fcc", "--received", "now")
    assert p.returncode == 2 and "unknown complaint source 'fcc'" in p.stderr and "Traceback" not in p.stderr
    p = run(config, "complaint", "add", "+12025550162", "--source", "ftc", "--received", "yesterday")
    assert p.returncode == 2 and "--received 'yesterday' is not an ISO-8601 time" in p.stderr
    p = run(config, "complaint", "list", "--due-within", "two days")
    assert p.returncode == 2 and "--due-within 'two days'" in p.stderr
    p = run(config, "complaint", "show", "CMP-424242")
    assert p.returncode == 2 and "no complaint 'CMP-424242'" in p.stderr
    p = run(config, "complaint", "close", "CMP-424242", "--resolution", "x")
    assert p.returncode == 2


def test_due_within_lists_what_is_due_soon(config: Path) -> None:
    assert run(config, "complaint", "add", "+12025550162", "--source", "ftc", "--received", "now").returncode == 0
    # 10 US business days from today: never within a day, always within three weeks
    assert json.loads(run(config, "complaint", "list", "--due-within", "1d", "--json").stdout) == []
    assert len(json.loads(run(config, "complaint", "list", "--due-within", "3w", "--json").stdout)) == 1


def test_report_abandonment_lists_every_campaign(config: Path) -> None:
    p = run(config, "report", "abandonment", "--json")
    assert p.returncode == 0, p.stderr
    [row] = json.loads(p.stdout)
    assert (row["campaign"], row["answered"], row["abandoned"], row["limit_percent"]) == ("lab", 0, 0, None)
    assert run(config, "report", "abandonment", "--campaign", "nope").returncode == 2
    text = run(config, "report", "abandonment").stdout
    assert "lab" in text and "ok" in text
