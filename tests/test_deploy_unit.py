"""deploy/screener.service: what it promises (notify readiness, restart on failure, reload by SIGHUP, a hardened
sandbox with its own user and state directory), checked by systemd's own `systemd-analyze verify`."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
UNIT = REPO / "deploy" / "screener.service"
#: where the unit expects the screener to be installed (its ExecStart and Documentation)
INSTALL_PREFIX = "/opt/screener"


def settings(text: str) -> dict[str, list[str]]:
    """KEY -> values, over every section (comments and blank lines skipped)."""
    out: dict[str, list[str]] = {}
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith(("#", ";", "[")):
            key, _, value = line.partition("=")
            out.setdefault(key.strip(), []).append(value.strip())
    return out


def verify(unit: Path) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("systemd-analyze")
    assert exe is not None, "systemd-analyze is missing: run `bash .ci/bootstrap` (Debian package systemd)"
    return subprocess.run([exe, "verify", str(unit)], capture_output=True, text=True, timeout=60, cwd=unit.parent)


def installed_copy(tmp_path: Path, text: str) -> Path:
    """The unit as installed from this checkout: its install prefix pointing here (ExecStart must exist)."""
    assert (REPO / ".venv" / "bin" / "screener").exists()
    unit = tmp_path / "screener.service"
    unit.write_text(text.replace(INSTALL_PREFIX, str(REPO)))
    return unit


def test_the_unit_says_what_the_service_needs() -> None:
    s = settings(UNIT.read_text())
    assert s["Type"] == ["notify"] and s["NotifyAccess"] == ["main"]  # screener serve sends READY=1
    assert s["ExecStart"] == [f"{INSTALL_PREFIX}/.venv/bin/screener serve"]
    assert s["ExecReload"] == ["/bin/kill -HUP $MAINPID"] and s["Restart"] == ["on-failure"]
    assert s["User"] == ["screener"] and s["Group"] == ["screener"]
    # its state, and the config folder the admin API edits (read-only elsewhere: ProtectSystem=strict)
    assert s["StateDirectory"] == ["screener"] and s["ReadWritePaths"] == ["/var/lib/screener -/etc/screener"]
    for key, value in {"ProtectSystem": "strict", "NoNewPrivileges": "yes", "PrivateTmp": "yes",
                       "ProtectHome": "yes", "PrivateDevices": "yes", "CapabilityBoundingSet": ""}.items():
        assert s[key] == [value], key
    assert "SCREENER_LOG_FORMAT=json" in s["Environment"]


def test_systemd_analyze_verify_finds_nothing_to_complain_about(tmp_path: Path) -> None:
    proc = verify(installed_copy(tmp_path, UNIT.read_text()))
    assert proc.returncode == 0 and proc.stdout + proc.stderr == "", proc.stdout + proc.stderr


def test_the_verification_catches_a_broken_unit(tmp_path: Path) -> None:
    """The check above is worth something: the same verification complains about a typo."""
    broken = UNIT.read_text().replace("Restart=on-failure", "Restart=on-failures\nProtectSystm=strict")
    proc = verify(installed_copy(tmp_path, broken))
    out = proc.stdout + proc.stderr
    assert "on-failures" in out and "ProtectSystm" in out
