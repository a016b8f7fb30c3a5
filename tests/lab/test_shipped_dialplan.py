"""The shipped dialplan screens every route to the trunk; the lab's deliberate bypass is what the linter flags."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from screener.lab.sandbox import LAB_DIR, SHIPPED_DIR

SCREENER = [sys.executable, "-m", "screener.cli.main"]


def _lint(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*SCREENER, "lint-dialplan", str(path)], capture_output=True, text=True, check=False)


def test_the_shipped_example_dialplan_is_clean() -> None:
    result = _lint(SHIPPED_DIR / "extensions.conf")

    assert result.returncode == 0, result.stdout + result.stderr


def test_the_lab_dialplan_has_exactly_the_bench_bypass(tmp_path: Path) -> None:
    for name in ("extensions.conf", "extensions_screener.conf", "extensions_screener_ari.conf"):
        (tmp_path / name).write_text((SHIPPED_DIR / name).read_text())
    (tmp_path / "extensions_lab.conf").write_text((LAB_DIR / "extensions_lab.conf").read_text())
    with open(tmp_path / "extensions.conf", "a") as f:
        f.write("\n#include extensions_lab.conf\n")

    result = _lint(tmp_path / "extensions.conf")

    assert result.returncode == 1
    assert "[lab-direct]" in result.stdout
    assert "[lab-dialer]" not in result.stdout


def test_the_shipped_dialplan_fails_closed_on_every_path_to_dial() -> None:
    text = (SHIPPED_DIR / "extensions_screener.conf").read_text()
    outbound = text.split("\n[screener-outbound]\n")[1].split("\n[screener-disclose]\n")[0]
    lines = [line.strip() for line in outbound.splitlines() if line.strip().startswith(("exten", "same"))]
    agi = next(i for i, line in enumerate(lines) if "AGI(agi://${SCREENER_AGI}/screen," in line)
    dial = next(i for i, line in enumerate(lines) if "Dial(" in line)
    checks = [line for line in lines[agi + 1:dial] if "GotoIf(" in line]
    assert 'GotoIf($["${AGISTATUS}" != "SUCCESS"]?blocked)' in checks[0]
    assert 'GotoIf($["${SCREEN_RESULT}" != "ALLOW"]?blocked)' in checks[1]
    # a hung screener: the absolute timeout set just before the AGI (and cleared after) jumps to T, which blocks
    assert "Set(TIMEOUT(absolute)=${SCREENER_GUARD_S})" in lines[agi - 1]
    assert "Set(TIMEOUT(absolute)=0)" in lines[agi + 1]
    assert "exten => T,1," in outbound and lines[-1].endswith("Hangup(21)")
    assert "Set(SCREEN_RESULT=)" in " ".join(lines[:agi])  # a stale ALLOW cannot survive into this call
    assert any("(blocked)" in line for line in lines[dial:])
    disclose = text.split("\n[screener-disclose]\n")[1]
    assert "Set(GOSUB_RESULT=ABORT)" in disclose
    assert '"${DISCLOSE_RESULT}" != "DONE"]?abort' in disclose
