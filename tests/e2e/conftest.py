"""End-to-end fixtures: a real Asterisk 22 (the cached sandbox root), sipp, a real redis-server and
``screener serve`` as a subprocess. Missing pieces (no root and no way to build it, no sipp) FAIL the tests.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from screener.embedded_redis import EmbeddedRedis, free_port
from screener.lab import AsteriskSandbox, build_root
from screener.lab.sipp import sipp_exe
from tests.e2e.harness import E2E_CONFIG, Lab, ServerProcess, closed_window, screener_command, write_config


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/e2e/" in str(item.fspath):
            item.add_marker(pytest.mark.asterisk)


@pytest.fixture(scope="session")
def asterisk_root() -> Path:
    """The cached Asterisk 22 root, built when missing (about 40 s); a failure to build FAILS the tests."""
    return build_root()


@pytest.fixture(scope="session")
def sipp() -> str:
    return sipp_exe()


@pytest.fixture(scope="session")
def e2e_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("e2e")


@pytest.fixture(scope="session")
def agi_port() -> int:
    return free_port()


@pytest.fixture(scope="session")
def e2e_config(e2e_dir: Path, agi_port: int) -> Path:
    return write_config(e2e_dir, agi_port=agi_port, extra=E2E_CONFIG.format(window=closed_window()))


@pytest.fixture(scope="session")
def prompts(e2e_dir: Path, e2e_config: Path) -> Path:
    """The disclosure prompts rendered by ``screener prompts build`` (espeak-ng + sox)."""
    out = e2e_dir / "prompts"
    proc = subprocess.run([*screener_command(), "--config", str(e2e_config), "prompts", "build", "--out", str(out)],
                          capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, f"screener prompts build failed:\n{proc.stdout}\n{proc.stderr}"
    assert any(out.iterdir()), "screener prompts build wrote no prompt"
    return out


@pytest.fixture(scope="session")
def screener_server(redis_server: EmbeddedRedis, e2e_config: Path, e2e_dir: Path,
                    agi_port: int) -> Iterator[ServerProcess]:
    server = ServerProcess(e2e_config, redis_server.url, agi_port, e2e_dir / "serve.log").start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def sandbox(asterisk_root: Path, sipp: str, prompts: Path, agi_port: int) -> Iterator[AsteriskSandbox]:
    box = AsteriskSandbox(asterisk_root, prompts_dir=prompts, global_vars={"SCREENER_AGI": f"127.0.0.1:{agi_port}"})
    box.start()
    yield box
    box.stop()


@pytest.fixture
def lab(sandbox: AsteriskSandbox, screener_server: ServerProcess, redis_server: EmbeddedRedis, e2e_dir: Path,
        agi_port: int, request: pytest.FixtureRequest) -> Iterator[Lab]:
    """The session's Asterisk pointed at the session's ``screener serve``; each test gets its own sipp folder."""
    sandbox.set_global("SCREENER_AGI", f"127.0.0.1:{agi_port}")
    workdir = e2e_dir / "calls" / request.node.name
    workdir.mkdir(parents=True, exist_ok=True)
    assert screener_server.running, "screener serve is not running"
    yield Lab(sandbox=sandbox, workdir=workdir, redis=redis_server, server=screener_server)
    sandbox.set_global("SCREENER_AGI", f"127.0.0.1:{agi_port}")
