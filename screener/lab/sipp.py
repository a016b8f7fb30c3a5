"""sipp on loopback: a callee (UAS) in the background, agents' calls (UAC) in the foreground, and their traces.

The callee stands for the carrier trunk (127.0.0.3:5060, Asterisk's ``carrier`` AOR); the agent calls from
127.0.0.2 (Asterisk's ``agents`` endpoint). Each run writes its message and error traces into its own
folder, so a test can assert "the carrier never received an INVITE" or "the agent got 403".
"""

from __future__ import annotations

import itertools
import re
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

SCENARIOS = Path(__file__).resolve().parent / "scenarios"
ASTERISK_SIP = "127.0.0.1:5060"
CARRIER_IP = "127.0.0.3"
AGENT_IP = "127.0.0.2"
DIALER_IP = "127.0.0.4"
DIRECT_IP = "127.0.0.5"

_HEADER = re.compile(r"^-{20,} (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+)\s*$")
_counter = itertools.count(1)


class SippError(RuntimeError):
    pass


def sipp_exe() -> str:
    exe = shutil.which("sipp")
    if exe is None:
        raise SippError("sipp is not installed: run `bash .ci/bootstrap` (Debian package sip-tester)")
    return exe


def scenario(name: str) -> Path:
    path = SCENARIOS / name
    if not path.exists():
        raise SippError(f"no sipp scenario {path}")
    return path


def free_udp_port(ip: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((ip, 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True)
class SipMessage:
    """One SIP message from a sipp message trace."""

    #: wall-clock time (epoch seconds) sipp logged it
    at: float
    sent: bool
    text: str

    @property
    def first_line(self) -> str:
        return self.text.split("\n", 1)[0].strip()

    @property
    def method(self) -> str | None:
        """The request method, or None for a response."""
        line = self.first_line
        return None if line.startswith("SIP/2.0") else line.split(" ", 1)[0]

    @property
    def status(self) -> int | None:
        """The response code, or None for a request."""
        line = self.first_line
        if not line.startswith("SIP/2.0 "):
            return None
        return int(line.split(" ")[1])

    def header(self, name: str) -> str | None:
        prefix = name.lower() + ":"
        for line in self.text.split("\n")[1:]:
            if not line.strip():
                break
            if line.lower().startswith(prefix):
                return line.split(":", 1)[1].strip()
        return None

    @property
    def cseq_method(self) -> str:
        value = self.header("CSeq") or ""
        return value.split(" ")[-1] if value else ""


def parse_message_trace(path: Path) -> list[SipMessage]:
    """Parse sipp's ``-trace_msg`` file (``--- <date time>``, ``UDP message sent|received``, the message)."""
    if not path.exists():
        return []
    messages: list[SipMessage] = []
    at: float | None = None
    sent = False
    body: list[str] = []

    def flush() -> None:
        if at is not None:
            text = "\n".join(body).strip("\n")
            if text:
                messages.append(SipMessage(at=at, sent=sent, text=text))

    for raw in path.read_text(errors="replace").splitlines():
        match = _HEADER.match(raw)
        if match:
            flush()
            at = datetime.strptime(match.group(1), "%Y-%m-%d %H:%M:%S.%f").timestamp()
            body = []
            sent = False
            continue
        if at is not None and not body and raw.startswith(("UDP message", "TCP message")):
            sent = " sent" in raw
            continue
        if at is not None:
            body.append(raw)
    flush()
    return messages


def invite_to_status_ms(path: Path, status: int) -> tuple[list[float], list[float]]:
    """From a ``-trace_msg`` file: per call, the ms from the INVITE sipp sent to the first ``status`` it
    received (microsecond timestamps), and the send times of those calls' INVITEs, sorted."""
    invite_at: dict[str, float] = {}
    status_at: dict[str, float] = {}
    for msg in parse_message_trace(path):
        call_id = msg.header("Call-ID") or ""
        if msg.sent and msg.method == "INVITE":
            invite_at.setdefault(call_id, msg.at)
        elif not msg.sent and msg.status == status:
            status_at.setdefault(call_id, msg.at)
    answered = [c for c in status_at if c in invite_at]
    return [(status_at[c] - invite_at[c]) * 1000 for c in answered], sorted(invite_at[c] for c in answered)


@dataclass(frozen=True)
class CallResult:
    """One agent call placed with sipp."""

    number: str
    returncode: int
    messages: tuple[SipMessage, ...]
    workdir: Path
    output: str

    @property
    def final_status(self) -> int | None:
        """The final response to the INVITE (200, 403...), or None when none arrived."""
        for msg in self.messages:
            if not msg.sent and msg.status is not None and msg.status >= 200 and msg.cseq_method == "INVITE":
                return msg.status
        return None

    @property
    def answered(self) -> bool:
        return self.final_status == 200

    def received_at(self, status: int) -> float | None:
        for msg in self.messages:
            if not msg.sent and msg.status == status and msg.cseq_method == "INVITE":
                return msg.at
        return None

    @property
    def invite_sent_at(self) -> float | None:
        for msg in self.messages:
            if msg.sent and msg.method == "INVITE":
                return msg.at
        return None


def _run_dir(base: Path, label: str) -> Path:
    path = base / f"{next(_counter):03d}-{label}"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _keys(keys: dict[str, str]) -> list[str]:
    args: list[str] = []
    for key, value in keys.items():
        args += ["-key", key, value]
    return args


class SippUas:
    """The callee behind the carrier trunk: sipp running a UAS scenario in the background.

    It is started with ``start()`` and ended with ``stop()`` (SIGTERM to its own pid), after which
    ``messages()`` reads its message trace.
    """

    def __init__(self, scenario_name: str, workdir: Path, *, ip: str = CARRIER_IP, port: int = 5060,
                 keys: dict[str, str] | None = None, pause_ms: int | None = None,
                 extra_args: tuple[str, ...] = ()) -> None:
        self.scenario = scenario(scenario_name)
        self.workdir = _run_dir(workdir, "uas-" + self.scenario.stem)
        self.ip = ip
        self.port = port
        self.keys = dict(keys or {})
        self.pause_ms = pause_ms
        self.extra_args = extra_args
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def message_file(self) -> Path:
        return self.workdir / "messages.log"

    def start(self) -> SippUas:
        args = [sipp_exe(), "-sf", str(self.scenario), "-i", self.ip, "-p", str(self.port), "-nostdin",
                "-trace_msg", "-message_file", str(self.message_file),
                "-trace_err", "-error_file", str(self.workdir / "errors.log"), *_keys(self.keys)]
        if self.pause_ms is not None:
            args += ["-d", str(self.pause_ms)]
        args += list(self.extra_args)
        with open(self.workdir / "stderr.log", "wb") as stderr_file:
            self.proc = subprocess.Popen(args, cwd=self.workdir, stdin=subprocess.DEVNULL,
                                         stdout=subprocess.DEVNULL, stderr=stderr_file)
        # sipp binds its port at once or exits (e.g. the port is taken)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                err = (self.workdir / "stderr.log").read_text(errors="replace")
                raise SippError(f"the sipp callee exited at start ({self.proc.returncode}): {err[-1000:]}")
            if self._bound():
                time.sleep(0.2)  # the port may be another process's: then this sipp exits at once
                if self.proc.poll() is None:
                    return self
                continue
            time.sleep(0.05)
        self.stop()
        raise SippError(f"the sipp callee did not bind {self.ip}:{self.port}")

    def _bound(self) -> bool:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            try:
                s.bind((self.ip, self.port))
            except OSError:
                return True
        return False

    def stop(self) -> None:
        proc = self.proc
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        self.proc = None

    def messages(self) -> list[SipMessage]:
        return parse_message_trace(self.message_file)

    def received(self, method: str) -> list[SipMessage]:
        return [m for m in self.messages() if not m.sent and m.method == method]

    def __enter__(self) -> SippUas:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def place_call(number: str, workdir: Path, *, scenario_name: str = "uac.xml", ip: str = AGENT_IP,
               campaign: str = "", caller_user: str = "agent", caller_name: str = "Agent", hold_ms: int = 500,
               timeout_s: float = 60.0, target: str = ASTERISK_SIP) -> CallResult:
    """Place one call as the agent (or the lab dialer: ``ip=DIALER_IP`` with ``campaign``) and wait for its end."""
    run = _run_dir(workdir, "uac-" + re.sub(r"[^0-9A-Za-z+]", "_", number)[:24])
    message_file = run / "messages.log"
    args = [sipp_exe(), target, "-sf", str(scenario(scenario_name)), "-s", number, "-i", ip,
            "-p", str(free_udp_port(ip)), "-mp", str(free_udp_port(ip)), "-m", "1", "-l", "1", "-nostdin",
            "-d", str(hold_ms), "-timeout", f"{int(timeout_s)}s", "-timeout_error",
            "-trace_msg", "-message_file", str(message_file),
            "-trace_err", "-error_file", str(run / "errors.log"),
            *_keys({"campaign": campaign, "caller_user": caller_user, "caller_name": caller_name})]
    try:
        proc = subprocess.run(args, cwd=run, stdin=subprocess.DEVNULL, capture_output=True,
                              timeout=timeout_s + 15, check=False)
    except subprocess.TimeoutExpired as exc:
        raise SippError(f"sipp (agent call to {number}) did not end within {timeout_s + 15} s") from exc
    output = (proc.stdout + proc.stderr).decode(errors="replace")
    return CallResult(number=number, returncode=proc.returncode, messages=tuple(parse_message_trace(message_file)),
                      workdir=run, output=output[-4000:])
