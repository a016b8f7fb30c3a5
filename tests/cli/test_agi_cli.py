"""`screener agi` as Asterisk runs it: a process with the header block on stdin and replies scripted."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from screener.embedded_redis import EmbeddedRedis
from tests.agi import transcripts
from tests.agi.asterisk_parse import parse_args
from tests.cli.lab_config import write_config
from tests.cli.test_serve_cli import ENV

# a process AGI gets no agi_network lines, and agi_arg_N are the AGI() arguments
HEADER = b"".join(
    line + b"\n" for line in transcripts.load("screen-allow").header.split(b"\n")
    if line and not line.startswith((b"agi_network", b"agi_arg_"))
) + b"agi_arg_1: agi\nagi_arg_2: screen\n\n"


def run_agi(config: Path, args: list[str], replies: list[bytes]) -> tuple[int, list[str], str]:
    proc = subprocess.run(
        [sys.executable, "-m", "screener.cli.main", f"--config={config}", "agi", *args],
        input=HEADER + b"".join(replies), capture_output=True, timeout=60, env=ENV,
    )
    return proc.returncode, proc.stdout.decode().splitlines(), proc.stderr.decode()


def variables(lines: list[str]) -> dict[str, str]:
    out = {}
    for line in lines:
        tokens = parse_args(line)
        if tokens[:2] == ["SET", "VARIABLE"]:
            assert len(tokens) == 4
            out[tokens[2]] = tokens[3]
    return out


@pytest.fixture
def config(tmp_path: Path, redis_server: EmbeddedRedis) -> Path:
    return write_config(tmp_path, redis_server.url)


def test_screen_sets_the_variables(config: Path) -> None:
    code, lines, err = run_agi(config, ["screen", "2025550125", "lab"], [b"200 result=1\n"] * 7)
    assert code == 0, err
    assert [ln.split()[2] for ln in lines] == ["SCREEN_REASONS", "SCREEN_NUMBER", "SCREEN_CALLERID",
                                             "SCREEN_CALLERID_NAME", "SCREEN_CAMPAIGN", "SCREEN_CALL_ID",
                                             "SCREEN_RESULT"]
    got = variables(lines)
    assert got["SCREEN_RESULT"] == "ALLOW" and got["SCREEN_NUMBER"] == "+12025550125"
    assert got["SCREEN_CALL_ID"] == "1795871312.0"
    assert "2025550125" not in err  # pyst2's header dump stays out of Asterisk's log


def test_screen_campaign_from_the_channel_variable(config: Path) -> None:
    code, lines, err = run_agi(config, ["screen", "2025550126", ""],
                               [b"200 result=1 (lab)\n"] + [b"200 result=1\n"] * 7)
    assert code == 0, err
    assert lines[0] == "GET VARIABLE SCREENER_CAMPAIGN"
    assert variables(lines)["SCREEN_RESULT"] == "ALLOW"


def test_injection_through_the_arguments(config: Path) -> None:
    code, lines, _ = run_agi(config, ["screen", '12"\\3 EXEC System x', 'lab" x'], [b"200 result=1\n"] * 7)
    assert code == 0
    assert all(parse_args(ln)[:2] == ["SET", "VARIABLE"] and len(parse_args(ln)) == 4 for ln in lines)
    assert variables(lines)["SCREEN_RESULT"] == "BLOCK"


def test_disclose_opt_out_then_the_next_call_is_blocked(config: Path) -> None:
    code, lines, err = run_agi(
        config, ["disclose", "+12025550127", "lab", "call-1"],
        [b"200 result=0 endpos=100\n", b"200 result=57\n", b"200 result=0 endpos=10\n", b"200 result=1\n",
         b"200 result=1\n"],
    )
    assert code == 0, err
    assert re.fullmatch(r'STREAM FILE custom/screener/lab-en-[0-9a-f]{8} "9"', lines[0]), lines[0]
    assert lines[1:3] == ["WAIT FOR DIGIT 3000", 'STREAM FILE custom/screener/optout-en ""']
    assert variables(lines) == {"DISCLOSE_RESULT": "OPTOUT", "GOSUB_RESULT": "ABORT"}
    code, lines, err = run_agi(config, ["screen", "2025550127", "lab"], [b"200 result=1\n"] * 7)
    got = variables(lines)
    assert (got["SCREEN_RESULT"], got["SCREEN_REASONS"]) == ("BLOCK", "dnc_internal"), err


def test_asterisk_going_away_mid_session(config: Path) -> None:
    code, lines, _ = run_agi(config, ["screen", "2025550128", "lab"], [b"200 result=1\n"])
    assert code == 1 and len(lines) == 2  # stdin closed before the second reply: no hang, no crash
