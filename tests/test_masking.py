"""One mask everywhere: no two outputs about the same number (logs of serve and of the process AGI, in text and
JSON; audit entries as `audit tail`/`export` print them; CLI output of `check` (text and --json), `dnc` and
`consent`) together reveal more of its digits than ``screener.numbers.mask`` alone. Real processes, a real Redis.

The reported defect: logs showed ``+121****0101`` and the audit ``+1212*****01``: 9 of 11 digits together."""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from screener.embedded_redis import EmbeddedRedis
from screener.numbers import mask
from tests.cli.lab_config import write_config
from tests.cli.test_agi_cli import run_agi
from tests.cli.test_serve_cli import ENV, screen_call, start, start_json, stop

REPO = Path(__file__).resolve().parents[1]
#: the number: its caller ID shares little with the lab's (+12025550144), so nothing else aligns with it
NUMBER = "+13125550187"
#: a run of digits and stars (a number, masked or not, with or without its "+")
_TOKEN = re.compile(r"\+?[0-9*]{4,}")


def revealed(text: str, number: str = NUMBER) -> set[int]:
    """The positions of ``number`` that ``text`` shows: each token of digits and stars that lines up with the
    number somewhere (every digit it shows equal to the number's there) reveals the digits it shows."""
    shown: set[int] = set()
    for token in _TOKEN.findall(text):
        for offset in range(len(number) - len(token) + 1):
            if all(c == "*" or c == number[offset + i] for i, c in enumerate(token)):
                shown |= {offset + i for i, c in enumerate(token) if c != "*" and c != "+"}
    return shown


def test_revealed_finds_what_each_form_shows() -> None:
    assert mask(NUMBER) == "+1312*****87" and revealed(mask(NUMBER)) == {1, 2, 3, 4, 10, 11}
    assert revealed("+131****0187") == {1, 2, 3, 8, 9, 10, 11}  # the old log mask
    assert revealed("3125550187") == set(range(2, 12)) and revealed("+12025550144") == set()
    assert revealed(mask(NUMBER)) | revealed("+131****0187") == {1, 2, 3, 4, 8, 9, 10, 11}  # 8 of 11 together


@pytest.fixture
def config(tmp_path: Path, redis_server: EmbeddedRedis, redis_client: Any) -> Path:
    return write_config(tmp_path, redis_server.url)  # redis_client empties the database first


def cli(config: Path, *args: str) -> str:
    p = subprocess.run([sys.executable, "-m", "screener", "--config", str(config), *args], capture_output=True,
                       text=True, timeout=60, cwd=REPO, env=ENV)
    assert p.returncode in (0, 1), p.stderr
    return p.stdout + p.stderr


def test_no_two_outputs_reveal_more_than_the_mask(config: Path) -> None:
    outputs: dict[str, str] = {}
    for fmt in ("text", "json"):  # serve's logs of a screened call, an opt-out and a block
        served = start(config) if fmt == "text" else start_json(config, ENV, "--log-format", "json")[0]
        try:
            asyncio.run(screen_call(served.port, NUMBER))
        finally:
            outputs[f"serve log ({fmt})"] = stop(served)[1]
    _, lines, err = run_agi(config, ["--log-level", "info", "disclose", NUMBER, "lab", "call-1"],
                            [b"200 result=0 endpos=100\n", b"200 result=57\n", b"200 result=0 endpos=10\n",
                             b"200 result=1\n", b"200 result=1\n"])
    assert any("DISCLOSE_RESULT" in line and "OPTOUT" in line for line in lines), (lines, err)
    outputs["agi log (opt-out)"] = err
    _, _, err = run_agi(config, ["--log-level", "info", "screen", NUMBER, "lab"], [b"200 result=1\n"] * 7)
    outputs["agi log (blocked)"] = err
    outputs["check"] = cli(config, "check", NUMBER, "--campaign", "lab")
    outputs["check --json"] = cli(config, "check", NUMBER, "--campaign", "lab", "--json")
    outputs["dnc check"] = cli(config, "dnc", "check", NUMBER)
    outputs["dnc remove"] = cli(config, "dnc", "remove", NUMBER, "--reason", "test")
    outputs["dnc add"] = cli(config, "dnc", "add", NUMBER)
    outputs["consent grant"] = cli(config, "consent", "grant", NUMBER, "--campaign", "lab", "--source", "s")
    outputs["consent show"] = cli(config, "consent", "show", NUMBER, "--json") + cli(config, "consent", "show",
                                                                                       NUMBER)
    outputs["audit tail"] = cli(config, "audit", "tail", "-n", "100")
    outputs["audit tail --json"] = cli(config, "audit", "tail", "-n", "100", "--json")
    outputs["audit export"] = cli(config, "audit", "export", "--number", NUMBER)
    outputs["audit export csv"] = cli(config, "audit", "export", "--format", "csv")
    allowed = revealed(mask(NUMBER))
    for name, text in outputs.items():
        assert revealed(text), f"{name} shows nothing of the number: the test would prove nothing"
        assert revealed(text) <= allowed, f"{name} shows {text!r}"
    together = set().union(*(revealed(text) for text in outputs.values()))
    assert together == allowed  # every output together: the mask, no digit more
