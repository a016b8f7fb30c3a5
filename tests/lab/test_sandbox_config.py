"""What the sandbox writes into the root: the shipped files as they are, the lab's beside them, globals set."""

from __future__ import annotations

import os
from pathlib import Path

from screener.lab.sandbox import SHIPPED_DIR, AsteriskSandbox


def _fake_root(tmp_path: Path) -> Path:
    root = tmp_path / "root"
    (root / "etc" / "asterisk").mkdir(parents=True)
    (root / "run").mkdir()
    (root / "var").mkdir()
    os.symlink("/run", root / "var" / "run")  # as in the Debian root: absolute, meant inside the chroot
    return root


def test_paths_inside_the_root_follow_its_absolute_symlinks_inside_the_root(tmp_path: Path) -> None:
    box = AsteriskSandbox(_fake_root(tmp_path))

    assert box.pid_file == tmp_path / "root" / "run" / "asterisk" / "asterisk.pid"


def test_the_shipped_dialplan_is_copied_unchanged_and_the_lab_files_are_included(tmp_path: Path) -> None:
    box = AsteriskSandbox(_fake_root(tmp_path), global_vars={"SCREENER_AGI": "127.0.0.1:14573", "EXTRA": "1"})

    box.write_configs()

    etc = box.etc
    assert (etc / "extensions_screener.conf").read_text() == (SHIPPED_DIR / "extensions_screener.conf").read_text()
    extensions = (etc / "extensions.conf").read_text()
    assert extensions.count("SCREENER_AGI=") == 1  # replaced, not added after the shipped line
    assert "SCREENER_AGI=127.0.0.1:14573\n" in extensions
    assert "EXTRA=1\n" in extensions.split("\n#include")[0]
    assert extensions.rstrip().endswith("#include extensions_lab.conf")
    pjsip = (etc / "pjsip.conf").read_text()
    assert pjsip.startswith((SHIPPED_DIR / "pjsip.conf").read_text())
    assert pjsip.rstrip().endswith("#include pjsip_lab.conf")
    for name in ("modules.conf", "http.conf", "ari.conf", "logger.conf", "extensions_lab.conf", "pjsip_lab.conf"):
        assert (etc / name).exists(), name
    assert "localhost" in (tmp_path / "root" / "etc" / "hosts").read_text()


def test_stopping_a_sandbox_that_never_started_does_nothing(tmp_path: Path) -> None:
    box = AsteriskSandbox(_fake_root(tmp_path))

    box.stop()

    assert box.pid is None
