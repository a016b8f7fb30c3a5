"""Fault drills: a real ``screener serve`` under a steady FastAGI load from a fake Asterisk peer
(``agi_peer``), on a real Redis topology, while one fault is injected. Used by ``bench/drills.py`` (the table
in the README) and ``tests/lab/test_drills.py`` (which asserts the zeros).

Per drill it counts the calls, those the screener answered, those it blocked as ``screening_unavailable``,
those the dialplan blocks because the screener was not there (connection refused or cut: ``AGISTATUS``
is not SUCCESS), calls hung (no answer within the dialplan's guard: must be 0), calls allowed wrongly (a
number on the internal list allowed: must be 0), opt-outs acknowledged to the callee and, of those, lost
(not on the internal list after the drill: must be 0 with ``durability = "replica"``), and the time from the
fault to the first allowed call after which no call was blocked for want of the store.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import math
import random
import shutil
import signal
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from screener.embedded_redis import free_port
from screener.lab.agi_peer import Session, disclose_press, screen_call
from screener.lab.slow_proxy import SlowProxy
from screener.lab.stack import ServerProcess, write_config
from screener.lab.topologies import ClusterTopology, ReplicatedServer, SentinelTopology
from screener.service.dnc import DncAdmin

CAMPAIGN = "lab"
#: the dialplan's guard on the screen step (SCREENER_AGI_TIMEOUT, default 3 s): no answer by then is a hang
GUARD_S = 3.0
#: area codes the calls are spread over (so a Cluster's masters all take calls)
AREA_CODES = ("201", "212", "305", "312", "415", "512", "617", "702", "808", "907", "303", "404")


@dataclass
class Call:
    number: str
    started: float
    #: allowed, blocked, unavailable, screener down, hung
    outcome: str
    must_block: bool = False


@dataclass
class Tally:
    calls: list[Call] = field(default_factory=list)
    acknowledged: list[str] = field(default_factory=list)
    opt_outs: int = 0

    def count(self, outcome: str) -> int:
        return sum(c.outcome == outcome for c in self.calls)

    @property
    def allowed_wrongly(self) -> int:
        return sum(c.must_block and c.outcome == "allowed" for c in self.calls)

    def recovery_s(self, fault_at: float) -> float:
        """From the fault to the first allowed call after which no call was blocked for want of the store."""
        bad = [c.started for c in self.calls if c.started >= fault_at and c.outcome in ("unavailable",
                                                                                       "screener down", "hung")]
        if not bad:
            return 0.0
        after = [c.started for c in self.calls if c.outcome == "allowed" and c.started > max(bad)]
        return (min(after) - fault_at) if after else float("nan")


def classify(session: Session) -> str:
    found = session.variables()
    result = found.get("SCREEN_RESULT")
    if result == "ALLOW":
        return "allowed"
    if result == "BLOCK":
        return "unavailable" if "screening_unavailable" in found.get("SCREEN_REASONS", "") else "blocked"
    return "hung" if session.end == "timeout" else "screener down"


class FastAgiLoad:
    """Calls at ``rate`` per second to fresh numbers; a share of the allowed ones opt out during the disclosure;
    a share of the calls redial a number that must be blocked (pre-listed, or opted out and acknowledged)."""

    def __init__(self, port: int, *, rate: float = 20.0, optout_share: float = 0.25, redial_share: float = 0.15,
                 must_block: set[str] | None = None, seed: int = 1) -> None:
        self.port = port
        self.rate = rate
        self.optout_share = optout_share
        self.redial_share = redial_share
        self.must_block = set(must_block or ())
        self.tally = Tally()
        self._rng = random.Random(seed)
        self._ids = itertools.count(1)
        self._tasks: set[asyncio.Task[None]] = set()

    def fresh_number(self, i: int) -> str:
        return f"+1{AREA_CODES[i % len(AREA_CODES)]}555{(i // len(AREA_CODES)) % 10_000:04d}"

    async def run(self, stop: asyncio.Event) -> None:
        start = time.monotonic()
        for n in itertools.count():
            if stop.is_set():
                break
            delay = start + n / self.rate - time.monotonic()
            if delay > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), delay)
                if stop.is_set():
                    break
            task = asyncio.ensure_future(self._call(n))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        if self._tasks:
            await asyncio.wait(set(self._tasks))

    async def _call(self, n: int) -> None:
        redial = self.must_block and self._rng.random() < self.redial_share
        number = self._rng.choice(sorted(self.must_block)) if redial else self.fresh_number(n)
        uid = f"{int(time.time())}.{next(self._ids)}"
        started = time.monotonic()
        session = await screen_call(self.port, number, CAMPAIGN, uid, GUARD_S)
        outcome = classify(session)
        self.tally.calls.append(Call(number, started, outcome, must_block=number in self.must_block))
        if outcome == "allowed" and not redial and self._rng.random() < self.optout_share:
            self.tally.opt_outs += 1
            call_id = session.variables().get("SCREEN_CALL_ID", uid)
            _, acknowledged = await disclose_press(self.port, number, CAMPAIGN, call_id, "9", 10.0)
            if acknowledged:
                self.tally.acknowledged.append(number)
                self.must_block.add(number)


@dataclass
class DrillResult:
    name: str
    tally: Tally
    lost: list[str]
    recovery_s: float

    def row(self) -> dict[str, Any]:
        t = self.tally
        return {"drill": self.name, "calls": len(t.calls), "answered": len(t.calls) - t.count("screener down")
                - t.count("hung"), "unavailable": t.count("unavailable"), "screener down": t.count("screener down"),
                "hung": t.count("hung"), "allowed wrongly": t.allowed_wrongly, "opt-outs acknowledged":
                len(t.acknowledged), "lost": len(self.lost), "recovery s": self.recovery_s}


@dataclass
class Stage:
    """What a drill's fault acts on."""

    url: str
    server: ServerProcess
    topology: Any
    proxy: SlowProxy | None = None


Fault = Callable[[Stage], Awaitable[None]]


async def _in_thread(fn: Callable[[], Any]) -> Any:
    return await asyncio.to_thread(fn)


async def redis_sigstop(stage: Stage) -> None:
    stage.topology.pause(stage.topology.primary)
    await asyncio.sleep(3)
    stage.topology.resume(stage.topology.primary)


async def redis_slowed(stage: Stage) -> None:
    assert stage.proxy is not None
    stage.proxy.delay_s = 0.3
    await asyncio.sleep(3)
    stage.proxy.delay_s = 0.0


async def redis_sigkill_restart(stage: Stage) -> None:
    primary = stage.topology.primary
    await _in_thread(lambda: stage.topology.kill(primary))
    await asyncio.sleep(1)
    await _in_thread(primary.start)  # reloads its append-only file
    await _in_thread(lambda: stage.topology.wait_until_replica(stage.topology.replica))


async def sentinel_failover(stage: Stage) -> None:
    topology: SentinelTopology = stage.topology
    old = await _in_thread(topology.primary)
    await _in_thread(lambda: topology.kill(old))
    await _in_thread(lambda: topology.wait_for_new_primary(old))


async def cluster_master_killed(stage: Stage) -> None:
    cluster: ClusterTopology = stage.topology
    victim = (await _in_thread(cluster.masters))[0]
    replica = await _in_thread(lambda: cluster.replica_of(victim))
    await _in_thread(lambda: cluster.kill(victim))
    await _in_thread(lambda: cluster.wait_for_takeover(victim, replica))


async def screener_sigkill_restart(stage: Stage) -> None:
    proc = stage.server.proc
    assert proc is not None
    proc.send_signal(signal.SIGKILL)  # mid-call: sessions in flight are cut
    await _in_thread(lambda: proc.wait(10))
    stage.server.proc = None
    await _in_thread(stage.server.start)  # its spool (on disk) is flushed by the new process


@dataclass(frozen=True)
class Drill:
    name: str
    topology: str  # "replicated", "proxied", "sentinel", "cluster"
    fault: Fault


DRILLS: tuple[Drill, ...] = (
    Drill("Redis SIGSTOP 3 s", "replicated", redis_sigstop),
    Drill("Redis slowed (+300 ms per reply) 3 s", "proxied", redis_slowed),
    Drill("Redis SIGKILL + restart (AOF)", "replicated", redis_sigkill_restart),
    Drill("Sentinel failover (primary SIGKILL)", "sentinel", sentinel_failover),
    Drill("Cluster master SIGKILL", "cluster", cluster_master_killed),
    Drill("screener SIGKILL + restart mid-call", "replicated", screener_sigkill_restart),
)


def _start_topology(kind: str) -> Any:
    if kind in ("replicated", "proxied"):
        return ReplicatedServer().start()
    if kind == "sentinel":
        return SentinelTopology(replicas=2).start()
    return ClusterTopology(replicas=1, node_timeout_ms=2000).start()


def _config(folder: Path, port: int, budget_ms: int) -> Path:
    path = write_config(folder, agi_port=port)
    text = path.read_text().replace("time_budget_ms = 150", f'time_budget_ms = {budget_ms}\ndurability = "replica"', 1)
    path.write_text(text)
    return path


async def _listed(url: str, numbers: list[str]) -> list[bool]:
    async with DncAdmin.open(url) as admin:
        return [(await admin.check("internal", n)).listed for n in numbers]


async def run_drill(drill: Drill, *, rate: float = 20.0, before_s: float = 3.0, after_s: float = 4.0,
                    budget_ms: int = 150, deadline_s: float = 90.0) -> DrillResult:
    """One drill: its topology and a ``screener serve``, load before, during and after the fault."""
    folder = Path(tempfile.mkdtemp(prefix="screener-drill-"))
    topology = await _in_thread(lambda: _start_topology(drill.topology))
    proxy = None
    server = None
    try:
        url = topology.url()
        if drill.topology == "proxied":
            proxy = await SlowProxy(topology.primary.port).start()
            url = f"redis://127.0.0.1:{proxy.port}/0"
        preset = [f"+1646555{i:04d}" for i in range(20)]  # already on the internal list: every redial is blocked
        async with DncAdmin.open(url) as admin:
            for number in preset:
                await admin.add("internal", number, actor="drill", source="drill", create=True)
        port = free_port()
        server = ServerProcess(_config(folder, port, budget_ms), url, port, folder / "serve.log")
        await _in_thread(server.start)
        stage = Stage(url, server, topology, proxy)
        load = FastAgiLoad(port, rate=rate, must_block=set(preset))
        stop = asyncio.Event()
        running = asyncio.ensure_future(load.run(stop))
        await asyncio.sleep(before_s)
        fault_at = time.monotonic()
        await asyncio.wait_for(drill.fault(stage), deadline_s)
        # on until the calls are allowed again (or the deadline), then a few more seconds
        end = time.monotonic() + deadline_s
        while time.monotonic() < end and math.isnan(load.tally.recovery_s(fault_at)):
            await asyncio.sleep(0.5)
        await asyncio.sleep(after_s)
        stop.set()
        await running
        acknowledged = list(load.tally.acknowledged)
        listed = await _listed(url, acknowledged) if acknowledged else []
        lost = [n for n, ok in zip(acknowledged, listed, strict=True) if not ok]
        return DrillResult(drill.name, load.tally, lost, load.tally.recovery_s(fault_at))
    finally:
        if server is not None:
            await _in_thread(server.stop)
        if proxy is not None:
            await proxy.aclose()
        await _in_thread(topology.stop)
        shutil.rmtree(folder, ignore_errors=True)


COLUMNS = ("drill", "calls", "answered", "unavailable", "screener down", "hung", "allowed wrongly",
           "opt-outs acknowledged", "lost", "recovery s")


def table(results: list[DrillResult]) -> str:
    """A Markdown table of the drills' rows."""
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    for result in results:
        row = result.row()
        cells = [f"{row[c]:.1f}" if c == "recovery s" else str(row[c]) for c in COLUMNS]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


# -- the ARI WebSocket dropped mid-call ---------------------------------------------------------------

ARI_DRILL = "ARI WebSocket dropped mid-call"


class _Recording:
    """The real screener, with every decision kept by call id (the drill classifies the calls by them)."""

    def __init__(self, screener: Any) -> None:
        self._screener = screener
        self.decisions: dict[str, Any] = {}

    def __getattr__(self, name: str) -> Any:
        return getattr(self._screener, name)

    async def screen(self, request: Any) -> Any:
        decision = await self._screener.screen(request)
        self.decisions[request.call_id or ""] = decision
        return decision


async def _drive_ari_call(fake: Any, app: Any, agent: str, opt_out: bool, number: str, must_block: set[str],
                          acknowledged: list[str]) -> None:
    """Play the callee (press 9 during the disclosure, or listen and talk a while) and the agent's hang-up."""
    end = time.monotonic() + 20
    callee = None
    while time.monotonic() < end and agent not in app.outcomes:
        created = [r.query["channelId"] for r in fake.made("POST", "channels/create")
                   if r.query.get("originator") == agent]
        if created and fake.made("POST", f"channels/{created[0]}/play"):
            callee = created[0]
            break
        await asyncio.sleep(0.01)
    if callee is None:
        return
    with contextlib.suppress(KeyError, ConnectionError, RuntimeError):
        if opt_out:
            await fake.dtmf(callee, "9")
            while time.monotonic() < end and agent not in app.outcomes:
                await asyncio.sleep(0.01)
            if any("optout" in r.query.get("media", "") for r in fake.made("POST", f"channels/{callee}/play")):
                acknowledged.append(number)  # the confirmation played: the opt-out was acknowledged
                must_block.add(number)
        else:
            await asyncio.sleep(0.6)
            await fake.far_end_hangup(agent)


async def run_ari_drill(*, calls: int = 60, rate: float = 10.0, drop_at: int = 25,
                        budget_ms: int = 150) -> DrillResult:
    """Calls into the Stasis application (real screener, real Redis with a replica, a fake Asterisk ARI),
    a third of the answered callees opting out, later calls redialing them; the events WebSocket is dropped
    while calls are in their disclosure or bridged. Calls started while it is down find no application:
    the shipped ARI dialplan blocks them (``STASISSTATUS=FAILED``): counted as "screener down"."""
    from screener.ari import AppOptions, AriClient, Backoff, StasisApp
    from screener.config.settings import Secret
    from screener.config.watch import ConfigHolder
    from screener.lab.fake_ari import PASSWORD, USER, FakeAri
    from screener.service.screening import Screener, connect

    folder = Path(tempfile.mkdtemp(prefix="screener-ari-drill-"))
    topology = await _in_thread(lambda: ReplicatedServer().start())
    tally = Tally()
    must_block: set[str] = set()
    try:
        holder = ConfigHolder(str(_config(folder, free_port(), budget_ms)))  # durability = "replica"
        real = Screener(holder, connect(topology.url(), budget_ms / 1000))
        screener = _Recording(real)
        options = AppOptions(ring_timeout_s=2, opt_out_window_s=0.3, blocked_prompt_timeout_s=2.0)
        async with FakeAri(playback_s=0.3).serve() as fake, AriClient(
                fake.url, USER, Secret(PASSWORD), "screener", backoff=Backoff(0.05, 0.2, 0.0)) as client:
            app = StasisApp(client, screener, options)
            stop = asyncio.Event()
            runner = asyncio.ensure_future(client.run(app.handle, stop))
            await fake.wait_connected()
            drivers: list[asyncio.Task[None]] = []
            started: dict[str, tuple[str, float]] = {}
            redials: set[str] = set()
            fault_at = time.monotonic()
            load = FastAgiLoad(0)
            for i in range(calls):
                await asyncio.sleep(1 / rate)
                if i == drop_at:
                    fault_at = time.monotonic()
                    await fake.drop()
                agent = f"agent-{i}"
                redial = bool(must_block) and i % 5 == 4
                number = sorted(must_block)[i % len(must_block)] if redial else load.fresh_number(i)
                if fake.ws is None:  # no application connected: Stasis() fails and the dialplan blocks
                    tally.calls.append(Call(number, time.monotonic(), "screener down", number in must_block))
                    continue
                started[agent] = (number, time.monotonic())
                if redial:
                    redials.add(agent)
                await fake.start_call(agent, [number.lstrip("+"), CAMPAIGN, "carrier"])
                drivers.append(asyncio.ensure_future(
                    _drive_ari_call(fake, app, agent, i % 3 == 0, number, must_block, tally.acknowledged)))
            await asyncio.wait(drivers, timeout=60)
            end = time.monotonic() + 30
            while app.active_calls and time.monotonic() < end:
                await asyncio.sleep(0.05)
            for agent, (number, at) in started.items():
                decision = screener.decisions.get(agent)
                if agent not in app.outcomes:
                    outcome = "hung"
                elif decision is None:
                    outcome = "screener down"
                elif decision.allowed:
                    outcome = "allowed"
                else:
                    outcome = "unavailable" if any(c.value == "screening_unavailable" for c in decision.codes) \
                        else "blocked"
                tally.calls.append(Call(number, at, outcome, agent in redials))
            tally.opt_outs = sum(1 for i in range(calls) if i % 3 == 0)
            stop.set()
            await runner
            await app.shutdown(2.0)
        tally.calls.sort(key=lambda c: c.started)
        listed = await _listed(topology.url(), tally.acknowledged) if tally.acknowledged else []
        lost = [n for n, ok in zip(tally.acknowledged, listed, strict=True) if not ok]
        await real.aclose()
        return DrillResult(ARI_DRILL, tally, lost, tally.recovery_s(fault_at))
    finally:
        await _in_thread(topology.stop)
        shutil.rmtree(folder, ignore_errors=True)
