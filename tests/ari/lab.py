"""ARI in the real Asterisk sandbox: the ARI dialplan and an agents' endpoint installed into a running
sandbox, the Stasis application running in a thread (a real Screener on a real Redis), and a TCP proxy
between the application and Asterisk that a test can cut to drop the WebSocket.

The sandbox's own files are not changed: the ARI pieces are written into its root at run time and loaded
with ``dialplan reload`` / ``module reload res_pjsip.so``.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import threading
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from screener.ari import AppOptions, Backoff, StasisApp
from screener.ari.client import AriClient
from screener.config.settings import AriSettings, Secret
from screener.config.watch import ConfigHolder
from screener.decision import AnsweredCall, Decision, Disclosure, DisclosureEvent, ScreenRequest
from screener.lab import AsteriskSandbox, sipp
from screener.lab.rtp import RtpListener
from screener.lab.sipp import SippUas, place_call
from screener.lab.stack import Call
from screener.service.screening import Screener, connect
from screener.sounds import Sounds

REPO = Path(__file__).resolve().parents[2]
ARI_DIALPLAN = REPO / "asterisk" / "extensions_screener_ari.conf"
SCENARIOS = Path(__file__).resolve().parent / "scenarios"
#: the agents whose calls enter [screener-outbound-ari] (lab only; the campaign is "lab" unless the call
#: names another one in the header X-Screener-Campaign)
ARI_AGENT_IP = "127.0.0.6"
#: where the sandbox's ARI listens (asterisk/sandbox/http.conf)
ARI_HOST, ARI_PORT = "127.0.0.1", 8088
ARI_USER = "screener"
ARI_PASSWORD = "secret"  # the sandbox's lab password (asterisk/sandbox/ari.conf)

_ENDPOINT = """
; --- lab only (tests/ari/lab.py): agents whose calls go through the ARI application ---
[agents-ari]
type=endpoint
context=lab-ari-agents
disallow=all
allow=ulaw
dtmf_mode=info
direct_media=no

[agents-ari-identify]
type=identify
endpoint=agents-ari
match={ip}
"""


_CONTEXT = """
; --- lab only (tests/ari/lab.py) ---
[lab-ari-agents]
exten => _[+0-9].,1,Set(SCREENER_CAMPAIGN=${PJSIP_HEADER(read,X-Screener-Campaign)})
 same => n,ExecIf($["${SCREENER_CAMPAIGN}" = ""]?Set(SCREENER_CAMPAIGN=lab))
 same => n,Goto(screener-outbound-ari,${EXTEN},1)
"""


def install_ari(sandbox: AsteriskSandbox, *, agent_ip: str | None = None) -> None:
    """Put the shipped ARI dialplan and an ``agents-ari`` endpoint into the running sandbox and load them."""
    etc = sandbox.etc
    shutil.copyfile(ARI_DIALPLAN, etc / ARI_DIALPLAN.name)
    (etc / "extensions_ari_lab.conf").write_text(_CONTEXT)
    extensions = (etc / "extensions.conf").read_text()
    for name in (ARI_DIALPLAN.name, "extensions_ari_lab.conf"):
        if f"#include {name}" not in extensions:
            extensions += f"\n#include {name}\n"
    (etc / "extensions.conf").write_text(extensions)
    pjsip = (etc / "pjsip.conf").read_text()
    if "[agents-ari]" not in pjsip:
        (etc / "pjsip.conf").write_text(pjsip + _ENDPOINT.format(ip=agent_ip or ARI_AGENT_IP))
    sandbox.rx("dialplan reload")
    sandbox.rx("module reload res_pjsip.so")
    out = sandbox.rx("dialplan show screener-outbound-ari")
    assert "Stasis(" in out, out
    assert "agents-ari" in sandbox.rx("pjsip show endpoints")


def scenario(name: str) -> str:
    """An absolute scenario path (screener.lab.sipp.scenario() accepts it as its name)."""
    path = SCENARIOS / name
    assert path.exists(), path
    return str(path)


class AppScreener:
    """The real Screener as one application instance sees it, recording the requests that instance made
    (each app instance in a test gets its own name and ARI settings)."""

    def __init__(self, inner: Screener, ari: AriSettings) -> None:
        self.inner = inner
        self.ari = ari
        self.requests: list[ScreenRequest] = []

    @property
    def sounds(self) -> Sounds:
        return self.inner.sounds

    @property
    def decision_timeout_s(self) -> float:
        return self.inner.decision_timeout_s

    def disclosure(self, campaign: str) -> Disclosure | None:
        return self.inner.disclosure(campaign)

    async def screen(self, request: ScreenRequest) -> Decision:
        self.requests.append(request)
        return await self.inner.screen(request)

    async def opt_out(self, number: str, campaign: str, *, source: str, call_id: str | None = None) -> None:
        await self.inner.opt_out(number, campaign, source=source, call_id=call_id)

    async def record_disclosure(self, event: DisclosureEvent) -> None:
        await self.inner.record_disclosure(event)

    async def record_answered_call(self, call: AnsweredCall) -> None:
        await self.inner.record_answered_call(call)


class TcpProxy:
    """A loopback TCP proxy (in the app thread's loop) that a test can cut and restore."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.port = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def open(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def cut(self) -> None:
        """Stop accepting and close every connection (the application's WebSocket drops)."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.transport.abort()
            return
        self._writers.update({writer, up_writer})

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(OSError, asyncio.CancelledError):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            dst.transport.abort()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        self._writers.difference_update({writer, up_writer})


class AppThread:
    """Stasis application instance(s) in a thread with its own event loop, on a real Screener."""

    def __init__(self, config: Path, redis_url: str, *, ari_host: str | None = None, ari_port: int = ARI_PORT,
                 options: AppOptions | None = None) -> None:
        self.config = config
        self.redis_url = redis_url
        self.ari_target = (ari_host or ARI_HOST, ari_port)
        self.options = options or AppOptions(ring_timeout_s=4, opt_out_window_s=1.5)
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.screener: Screener | None = None
        self.apps: dict[str, tuple[StasisApp, AriClient, asyncio.Event, asyncio.Future[None], AppScreener]] = {}
        self.proxies: dict[str, TcpProxy] = {}

    def __enter__(self) -> AppThread:
        self._thread.start()
        self.call(self._make_screener)
        return self

    def __exit__(self, *exc: object) -> None:
        for name in list(self.apps):
            self.stop_app(name)
        if self.screener is not None:
            self.call(self.screener.aclose)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
        self.loop.close()

    def call(self, factory: Callable[[], Coroutine[Any, Any, Any]], timeout_s: float = 30.0) -> Any:
        return asyncio.run_coroutine_threadsafe(factory(), self.loop).result(timeout_s)

    async def _make_screener(self) -> None:
        self.screener = Screener(ConfigHolder(self.config), connect(self.redis_url, 0.15))

    def start_app(self, name: str, *, via_proxy: bool = False, wait: bool = True) -> StasisApp:
        """Start application ``name`` (optionally through a TcpProxy) and wait until its WebSocket is open."""
        async def go() -> StasisApp:
            assert self.screener is not None
            host, port = self.ari_target
            if via_proxy:
                proxy = TcpProxy(self.ari_target)
                await proxy.open()
                self.proxies[name] = proxy
                host, port = "127.0.0.1", proxy.port
            ari = AriSettings(enabled=True, url=f"http://{host}:{port}", username=ARI_USER,
                              password=Secret(ARI_PASSWORD), app=name)
            screener = AppScreener(self.screener, ari)
            client = AriClient(ari.url, ari.username, ari.password, ari.app,
                               backoff=Backoff(initial_s=0.2, max_s=1.0))
            await client.__aenter__()
            app = StasisApp(client, screener, self.options)
            stop = asyncio.Event()
            runner = asyncio.ensure_future(client.run(app.handle, stop))
            self.apps[name] = (app, client, stop, runner, screener)
            if wait:
                async with asyncio.timeout(15):
                    await client.connected.wait()
            return app
        app: StasisApp = self.call(go)
        return app

    def stop_app(self, name: str) -> None:
        app, client, stop, runner, _ = self.apps.pop(name)

        async def go() -> None:
            stop.set()
            await runner
            await app.shutdown(5.0)
            await client.close()
            proxy = self.proxies.pop(name, None)
            if proxy is not None:
                await proxy.cut()
        self.call(go)

    def kill_app(self, name: str) -> None:
        """The instance dies: its WebSocket and its calls go away at once (no graceful shutdown)."""
        _app, client, _stop, runner, _ = self.apps.pop(name)

        async def go() -> None:
            runner.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await runner
            await client.close()
        self.call(go)

    def drain(self, name: str) -> None:
        """The instance is stopping (run_ari's first step): new calls are handed back to the dialplan."""
        app = self.apps[name][0]
        self.loop.call_soon_threadsafe(app.drain)

    def cut(self, name: str) -> None:
        self.call(self.proxies[name].cut)

    def restore(self, name: str) -> None:
        self.call(self.proxies[name].open)

    def wait_connected(self, name: str, timeout_s: float = 15.0) -> None:
        client = self.apps[name][1]

        async def go() -> None:
            async with asyncio.timeout(timeout_s):
                while not client.connected.is_set():
                    await asyncio.sleep(0.05)
        self.call(go, timeout_s + 5)

    def wait_idle(self, name: str, timeout_s: float = 20.0) -> None:
        """Until the application has no call in flight (its teardown is done)."""
        app = self.apps[name][0]

        async def go() -> None:
            async with asyncio.timeout(timeout_s):
                while app.active_calls:
                    await asyncio.sleep(0.05)
        self.call(go, timeout_s + 5)

    def requests(self, name: str) -> list[ScreenRequest]:
        return list(self.apps[name][4].requests)


def ari_get(path: str) -> Any:
    """GET /ari/<path> on the sandbox's ARI (channels, bridges...), decoded."""
    import base64
    import json
    import urllib.request

    request = urllib.request.Request(f"http://{ARI_HOST}:{ARI_PORT}/ari/{path}")
    token = base64.b64encode(f"{ARI_USER}:{ARI_PASSWORD}".encode()).decode()
    request.add_header("Authorization", f"Basic {token}")
    with urllib.request.urlopen(request, timeout=5) as resp:
        return json.loads(resp.read().decode() or "null")


def wait_nothing_left(timeout_s: float = 10.0) -> tuple[list[Any], list[Any]]:
    """Poll GET /ari/channels and /ari/bridges until both are empty (or the deadline); the last answers."""
    deadline = time.monotonic() + timeout_s
    while True:
        channels, bridges = ari_get("channels"), ari_get("bridges")
        if (not channels and not bridges) or time.monotonic() > deadline:
            return channels, bridges
        time.sleep(0.1)


#: one agent call through the sandbox (the same record as the FastAGI lab's)
LabCall = Call


def place_ari_call(workdir: Path, number: str, *, callee: str = "uas_answer.xml", press_after_ms: int = 500,
                   agent_scenario: str = "uac.xml", hold_ms: int = 500, campaign: str = "",
                   timeout_s: float = 60.0) -> LabCall:
    """An agents-ari call to ``number``; the callee runs ``callee`` behind the carrier trunk (stopped before
    this returns). ``campaign`` goes in X-Screener-Campaign (empty: the lab campaign)."""
    carrier_ip = sipp.CARRIER_IP
    with RtpListener(carrier_ip) as rtp:
        keys = {"rtp_ip": carrier_ip, "rtp_port": str(rtp.port), "digit": "9"}
        with SippUas(callee, workdir, ip=carrier_ip, keys=keys, pause_ms=press_after_ms) as uas:
            result = place_call(number, workdir, scenario_name=agent_scenario, ip=ARI_AGENT_IP, campaign=campaign,
                                hold_ms=hold_ms, timeout_s=timeout_s, target=sipp.ASTERISK_SIP)
            time.sleep(0.3)  # let the callee log its last message
    return LabCall(result=result, callee=uas, rtp=rtp)


def wait_app_state(sandbox: AsteriskSandbox, name: str, *, registered: bool, timeout_s: float = 10.0) -> None:
    """Until Asterisk lists (or no longer lists) application ``name`` in ``ari show apps``."""
    deadline = time.monotonic() + timeout_s
    while True:
        listed = name in sandbox.rx("ari show apps").split()
        if listed == registered:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"application {name} still {'absent' if registered else 'listed'} in Asterisk")
        time.sleep(0.05)
