"""The Asterisk sandbox: start, drive and stop Debian sid's Asterisk 22 under chroot on 127.0.0.1:5060.

The root itself is built and cached by ``.ci/asterisk-root`` (outside the repository). Every start writes
the shipped configs (``asterisk/``) and the lab-only ones (``asterisk/sandbox/``) into the root afresh,
copies the rendered prompts in, mounts a fresh procfs (never the host's /dev), and starts Asterisk. Only
an Asterisk running inside this root (checked through /proc/PID/root) is ever stopped.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import re
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

#: the repository checkout this package runs from
REPO = Path(__file__).resolve().parents[2]
ROOT_SCRIPT = REPO / ".ci" / "asterisk-root"
SHIPPED_DIR = REPO / "asterisk"
LAB_DIR = SHIPPED_DIR / "sandbox"

#: copied as they are from asterisk/ (what admins use)
SHIPPED_FILES = ("extensions.conf", "extensions_screener.conf", "extensions_screener_ari.conf", "pjsip.conf")
#: copied as they are from asterisk/sandbox/ (lab only)
LAB_FILES = ("modules.conf", "http.conf", "ari.conf", "logger.conf", "extensions_lab.conf", "pjsip_lab.conf")
#: where the prompts go inside the root (Asterisk plays them as custom/screener/NAME)
PROMPTS_SUBDIR = Path("usr/share/asterisk/sounds/custom/screener")

SIP_ADDRESS = ("127.0.0.1", 5060)


log = logging.getLogger("screener.lab.sandbox")


class SandboxError(RuntimeError):
    pass


#: the sandbox of this process that holds the root's lock (at most one: one Asterisk can bind 5060)
_active: AsteriskSandbox | None = None


def _run_root_script(action: str) -> Path:
    if not ROOT_SCRIPT.exists():
        raise SandboxError(f"{ROOT_SCRIPT} is missing: the lab runs from a repository checkout")
    proc = subprocess.run([str(ROOT_SCRIPT), action], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SandboxError(f".ci/asterisk-root {action} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return Path(proc.stdout.strip().splitlines()[-1])


def root_path() -> Path:
    """The cached root, or SandboxError when it is not built."""
    return _run_root_script("path")


def build_root() -> Path:
    """Build the root unless a good one is cached (about 40 s the first time); its path."""
    return _run_root_script("build")


def _is_mounted(path: Path) -> bool:
    proc = subprocess.run(["findmnt", "-rn", "-o", "TARGET", "--mountpoint", str(path)],
                          capture_output=True, text=True, check=False)
    return proc.returncode == 0 and bool(proc.stdout.strip())


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _sip_port_free() -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.bind(SIP_ADDRESS)
        except OSError:
            return False
    return True


class AsteriskSandbox:
    """One Asterisk 22 in the cached root. ``start()``, ``rx(cmd)``, ``stop()``; also a context manager."""

    def __init__(self, root: Path | None = None, *, prompts_dir: Path | None = None,
                 global_vars: dict[str, str] | None = None) -> None:
        self.root = Path(root) if root is not None else root_path()
        self.prompts_dir = prompts_dir
        #: extra [globals] lines written after the shipped ones (e.g. SCREENER_AGI=127.0.0.1:14573)
        self.global_vars = dict(global_vars or {})
        self.pid: int | None = None
        self._mounted_proc = False
        self._lock_fd: int | None = None

    # -- paths ---------------------------------------------------------------------------------------
    @property
    def etc(self) -> Path:
        return self.root / "etc" / "asterisk"

    def in_root(self, path: str) -> Path:
        """The host path of ``path`` inside the root, following the root's own absolute symlinks
        (its /var/run points to /run: read naively, that would be the host's /run)."""
        current = self.root
        for part in Path(path).relative_to("/").parts:
            candidate = current / part
            for _ in range(20):
                if not candidate.is_symlink():
                    break
                target = os.readlink(candidate)
                candidate = self.root / target.lstrip("/") if target.startswith("/") else candidate.parent / target
            current = candidate
        return current

    @property
    def pid_file(self) -> Path:
        return self.in_root("/var/run/asterisk/asterisk.pid")

    @property
    def log_file(self) -> Path:
        return self.in_root("/var/log/asterisk/messages")

    # -- lifecycle -----------------------------------------------------------------------------------
    def start(self, timeout_s: float = 60.0, *, lock_timeout_s: float = 600.0) -> AsteriskSandbox:
        """Start Asterisk in the root. Another process using the root is waited for (its lock, up to
        ``lock_timeout_s``); another sandbox of this process is stopped first (one 127.0.0.1:5060)."""
        if not (self.root / "usr" / "sbin" / "asterisk").exists():
            raise SandboxError(f"no Asterisk under {self.root}: run `.ci/asterisk-root build`")
        self._lock(lock_timeout_s)
        try:
            self.stop_leftover()
            if not _sip_port_free():
                raise SandboxError("127.0.0.1:5060 is taken by a process this sandbox did not start: stop it first")
            self.write_configs()
            self.install_prompts()
            proc_dir = self.root / "proc"
            if not _is_mounted(proc_dir):
                subprocess.run(["mount", "-t", "proc", "proc", str(proc_dir)], check=True)
            self._mounted_proc = True
            self.pid_file.unlink(missing_ok=True)
            subprocess.run(["chroot", str(self.root), "/usr/sbin/asterisk", "-g"], check=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
            self._wait_ready(timeout_s)
            self.pid = self._read_pid()
            if self.pid is None:
                raise SandboxError(f"Asterisk runs but wrote no pid file {self.pid_file}")
        except BaseException:
            self.stop()
            raise
        return self

    @property
    def lock_file(self) -> Path:
        return self.root.parent / f"{self.root.name}.lock"

    def _lock(self, timeout_s: float) -> None:
        global _active
        if _active is not None and _active is not self:
            _active.stop()
        if self._lock_fd is not None:
            return
        fd = os.open(self.lock_file, os.O_RDWR | os.O_CREAT, 0o644)
        deadline = time.monotonic() + timeout_s
        waited = False
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if not waited:
                    log.warning("waiting for another process that uses the Asterisk sandbox (lock %s)", self.lock_file)
                    waited = True
                if time.monotonic() > deadline:
                    os.close(fd)
                    raise SandboxError(
                        f"another process uses the sandbox (lock {self.lock_file}) for {timeout_s} s") from None
                time.sleep(0.2)
        self._lock_fd = fd
        _active = self

    def _unlock(self) -> None:
        global _active
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # closing the only descriptor releases the flock
            self._lock_fd = None
        if _active is self:
            _active = None

    def _wait_ready(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        last = ""
        while time.monotonic() < deadline:
            if self.pid is None:
                self.pid = self._read_pid()
            if self.pid is not None and not _alive(self.pid):
                raise SandboxError(f"Asterisk exited at start; see {self.log_file}")
            try:
                out = self.rx("core waitfullybooted", timeout_s=10)
                if "fully booted" in out.lower():
                    endpoints = self.rx("pjsip show endpoints")
                    if "agents" in endpoints and "carrier" in endpoints:
                        return
                    last = endpoints
            except SandboxError as exc:
                last = str(exc)
            time.sleep(0.2)
        raise SandboxError(f"Asterisk did not become ready within {timeout_s} s: {last[-500:]}")

    def _read_pid(self) -> int | None:
        try:
            return int(self.pid_file.read_text().strip())
        except (OSError, ValueError):
            return None

    def _ours(self, pid: int) -> bool:
        """True when ``pid`` is an asterisk process chrooted into this root."""
        try:
            return os.readlink(f"/proc/{pid}/root") == str(self.root.resolve()) and \
                Path(f"/proc/{pid}/comm").read_text().strip() == "asterisk"
        except OSError:
            return False

    def stop_leftover(self) -> None:
        """Stop an Asterisk that an earlier run left in this root (by its pid file, after checking that it runs
        chrooted in this root), and unmount a procfs left mounted. Called with the root's lock held."""
        pid = self._read_pid()
        if pid is not None and _alive(pid) and self._ours(pid):
            self.pid = pid
        self._terminate()
        self.pid = None

    def stop(self, timeout_s: float = 20.0) -> None:
        """Stop this sandbox's Asterisk, unmount proc and release the root. A sandbox that does not hold the
        root (never started, or replaced by another one of this process) does nothing."""
        if self._lock_fd is None:
            return
        try:
            self._terminate(timeout_s)
        finally:
            self._unlock()

    def _terminate(self, timeout_s: float = 20.0) -> None:
        """``core stop now``, wait for the process to go (SIGTERM then SIGKILL on that pid only), unmount proc."""
        pid = self.pid if self.pid is not None else self._read_pid()
        if pid is not None and _alive(pid) and self._ours(pid):
            with contextlib.suppress(SandboxError):
                self.rx("core stop now", timeout_s=5)
            if not self._wait_gone(pid, timeout_s):
                os.kill(pid, signal.SIGTERM)
                if not self._wait_gone(pid, 5):
                    os.kill(pid, signal.SIGKILL)
                    self._wait_gone(pid, 5)
        self.pid = None
        proc_dir = self.root / "proc"
        if _is_mounted(proc_dir):
            subprocess.run(["umount", str(proc_dir)], check=False)
            if _is_mounted(proc_dir):
                subprocess.run(["umount", "-l", str(proc_dir)], check=False)
        self._mounted_proc = False

    @staticmethod
    def _wait_gone(pid: int, timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if not _alive(pid):
                return True
            time.sleep(0.05)
        return not _alive(pid)

    def __enter__(self) -> AsteriskSandbox:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- configs and prompts ---------------------------------------------------------------------------
    def write_configs(self) -> None:
        """Write the shipped and the lab configs into the root (fresh on every start)."""
        self.etc.mkdir(parents=True, exist_ok=True)
        # the root must name this machine, or Asterisk looks its own name up in DNS on every call (seconds)
        hosts = self.in_root("/etc/hosts")
        hosts.write_text(f"127.0.0.1 localhost {socket.gethostname()}\n::1 localhost\n")
        for name in LAB_FILES:
            shutil.copyfile(LAB_DIR / name, self.etc / name)
        extensions = (SHIPPED_DIR / "extensions.conf").read_text()
        for key, value in self.global_vars.items():
            line = f"{key}={value}"
            extensions, count = re.subn(rf"^{re.escape(key)}=.*$", line, extensions, count=1, flags=re.M)
            if not count:
                extensions = extensions.replace("[globals]\n", f"[globals]\n{line}\n", 1)
        extensions += "\n; --- lab only (screener.lab.sandbox) ---\n#include extensions_lab.conf\n"
        (self.etc / "extensions.conf").write_text(extensions)
        for name in SHIPPED_FILES:
            if name not in ("extensions.conf", "pjsip.conf"):  # those two get the lab lines added above/below
                shutil.copyfile(SHIPPED_DIR / name, self.etc / name)
        pjsip = (SHIPPED_DIR / "pjsip.conf").read_text()
        pjsip += "\n; --- lab only (screener.lab.sandbox) ---\n#include pjsip_lab.conf\n"
        (self.etc / "pjsip.conf").write_text(pjsip)

    def install_prompts(self) -> None:
        """Copy the rendered prompts (``prompts_dir``) to the root's sounds/custom/screener/."""
        target = self.in_root("/" + str(PROMPTS_SUBDIR))
        if target.exists():
            shutil.rmtree(target)
        target.mkdir(parents=True)
        if self.prompts_dir is not None:
            shutil.copytree(self.prompts_dir, target, dirs_exist_ok=True)

    # -- the CLI -------------------------------------------------------------------------------------
    def rx(self, command: str, *, timeout_s: float = 15.0) -> str:
        """Run one Asterisk CLI command (``asterisk -rx``) and return its output."""
        try:
            proc = subprocess.run(["chroot", str(self.root), "/usr/sbin/asterisk", "-rx", command],
                                  capture_output=True, text=True, timeout=timeout_s, check=False)
        except subprocess.TimeoutExpired as exc:
            raise SandboxError(f"asterisk -rx {command!r} did not answer within {timeout_s} s") from exc
        if proc.returncode != 0:
            raise SandboxError(f"asterisk -rx {command!r} failed ({proc.returncode}): {proc.stderr.strip()}")
        return proc.stdout

    def channels(self) -> list[dict[str, str]]:
        """``core show channels concise``: one dict per channel (channel, context, exten, state, app, data...)."""
        fields = ("channel", "context", "exten", "priority", "state", "app", "data", "callerid", "accountcode",
                  "peeraccount", "amaflags", "duration", "bridged", "uniqueid")
        rows = []
        for line in self.rx("core show channels concise").splitlines():
            parts = line.split("!")
            if len(parts) >= 7:
                rows.append(dict(zip(fields, parts, strict=False)))
        return rows

    def global_var(self, name: str) -> str:
        """A global dialplan variable ("" when unset)."""
        for line in self.rx("dialplan show globals").splitlines():
            key, _, value = line.strip().partition("=")
            if key == name:
                return value
        return ""

    def set_global(self, name: str, value: str) -> None:
        """Change a global dialplan variable in the running Asterisk (e.g. SCREENER_AGI)."""
        self.rx(f"dialplan set global {name} {value}")
