"""A fake Asterisk ARI: a real aiohttp HTTP server + events WebSocket on loopback that records every request
and reacts like Asterisk does (StasisStart on create, Dial and state events on dial, playback events, the
hang-up sequence ChannelHangupRequest -> StasisEnd -> ChannelDestroyed, 404 for what does not exist).
For the ARI tests (tests/ari) and the fault drills (``drop`` cuts the events WebSocket mid-call).
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

USER, PASSWORD = "screener", "s3cr3t-Pa55"


@dataclass
class Req:
    method: str
    path: str
    query: dict[str, str]
    body: Any

    @property
    def line(self) -> str:
        return f"{self.method} {self.path}"


@dataclass
class FakeChannel:
    id: str
    name: str
    state: str = "Ring"
    exten: str = ""

    def json(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "state": self.state,
                "caller": {"name": "", "number": "agent"},
                "dialplan": {"context": "screener-outbound-ari", "exten": self.exten, "priority": 13}}


@dataclass
class FakeAri:
    app: str = "screener"
    #: what a dialed callee does: "answer", "busy", "noanswer"
    callee: str = "answer"
    #: how long a playback lasts (seconds); None: never finishes by itself
    playback_s: float | None = 0.05
    #: media that fails to play (a missing sound file): PlaybackFinished with state "failed"
    missing_media: set[str] = field(default_factory=set)
    #: refuse the next N WebSocket handshakes with this status
    refuse: int = 0
    refuse_status: int = 503
    requests: list[Req] = field(default_factory=list)
    #: channels sent back to the dialplan with /continue
    continued: list[str] = field(default_factory=list)
    channels: dict[str, FakeChannel] = field(default_factory=dict)
    bridges: dict[str, list[str]] = field(default_factory=dict)
    connections: int = 0
    handshakes: int = 0
    ws: web.WebSocketResponse | None = None
    port: int = 0
    _counter: int = 0
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    # -- server ---------------------------------------------------------------------------------------
    @asynccontextmanager
    async def serve(self) -> AsyncIterator[FakeAri]:
        app = web.Application()
        app.router.add_get("/ari/events", self._events)
        app.router.add_route("*", "/ari/{tail:.*}", self._rest)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", self.port)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        try:
            yield self
        finally:
            for task in self._tasks:
                task.cancel()
            await runner.cleanup()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _authorized(self, request: web.Request) -> bool:
        expected = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
        return request.headers.get("Authorization") == expected

    async def _events(self, request: web.Request) -> web.StreamResponse:
        self.handshakes += 1
        if not self._authorized(request):
            return web.Response(status=401)
        if self.refuse > 0:
            self.refuse -= 1
            return web.Response(status=self.refuse_status)
        if request.query.get("app") != self.app:
            return web.Response(status=400)
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self.ws = ws
        self.connections += 1
        async for msg in ws:
            if msg.type is WSMsgType.ERROR:
                break
        if self.ws is ws:
            self.ws = None
        return ws

    async def drop(self) -> None:
        """Close the events WebSocket from the server side."""
        ws = self.ws
        self.ws = None
        if ws is not None:
            await ws.close()

    async def wait_connected(self, connections: int = 1, timeout_s: float = 5.0) -> None:
        async with asyncio.timeout(timeout_s):
            while self.connections < connections or self.ws is None:
                await asyncio.sleep(0.01)

    async def emit(self, event: dict[str, Any]) -> None:
        event.setdefault("application", self.app)
        if self.ws is not None and not self.ws.closed:
            await self.ws.send_str(json.dumps(event))

    def later(self, delay_s: float, *events: dict[str, Any]) -> None:
        async def go() -> None:
            await asyncio.sleep(delay_s)
            for e in events:
                await self.emit(e)
        task = asyncio.ensure_future(go())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- the world ------------------------------------------------------------------------------------
    async def start_call(self, channel_id: str, args: list[str], *, name: str = "PJSIP/agents-0001") -> None:
        """An agent's call enters Stasis(app, args...)."""
        ch = FakeChannel(channel_id, name, exten=args[0] if args else "")
        self.channels[channel_id] = ch
        await self.emit({"type": "StasisStart", "args": args, "channel": ch.json()})

    async def far_end_hangup(self, channel_id: str, cause: int = 16) -> None:
        ch = self.channels.pop(channel_id, None)
        if ch is None:
            return
        for bridge in self.bridges.values():
            if channel_id in bridge:
                bridge.remove(channel_id)
        await self.emit({"type": "ChannelHangupRequest", "cause": cause, "channel": ch.json()})
        await self.emit({"type": "StasisEnd", "channel": ch.json()})
        await self.emit({"type": "ChannelDestroyed", "cause": cause, "cause_txt": "", "channel": ch.json()})

    async def dtmf(self, channel_id: str, digit: str) -> None:
        await self.emit({"type": "ChannelDtmfReceived", "digit": digit, "duration_ms": 100,
                         "channel": self.channels[channel_id].json()})

    def made(self, method: str, prefix: str) -> list[Req]:
        return [r for r in self.requests if r.method == method and r.path.startswith(prefix)]

    def index(self, method: str, prefix: str) -> int:
        for i, r in enumerate(self.requests):
            if r.method == method and r.path.startswith(prefix):
                return i
        raise AssertionError(f"no {method} {prefix}* in {[r.line for r in self.requests]}")

    async def _rest(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return web.Response(status=401)
        path = request.match_info["tail"]
        body = await request.json() if request.can_read_body else None
        req = Req(request.method, path, dict(request.query), body)
        self.requests.append(req)
        parts = path.split("/")
        try:
            return await self._route(req, parts)
        except KeyError:
            return web.json_response({"message": "not found"}, status=404)

    async def _route(self, req: Req, parts: list[str]) -> web.Response:  # noqa: C901 - a fake switchboard
        ok = web.Response(status=204)
        if parts[0] == "channels":
            if req.method == "GET" and len(parts) == 1:
                return web.json_response([c.json() for c in self.channels.values()])
            if parts[1:] == ["create"]:
                ch = FakeChannel(req.query["channelId"], "PJSIP/carrier-0001", state="Down")
                self.channels[ch.id] = ch
                # like Asterisk: StasisStart may reach the WebSocket before the POST's response
                await self.emit({"type": "StasisStart", "args": [], "channel": ch.json()})
                await asyncio.sleep(0.02)
                return web.json_response(ch.json())
            ch = self.channels[parts[1]]
            action = parts[2] if len(parts) > 2 else ""
            if req.method == "GET" and not action:
                return web.json_response(ch.json())
            if req.method == "DELETE" and not action:
                await self.far_end_hangup(ch.id, int(req.query.get("reason_code", "16")))
                return ok
            if action == "dial":
                await self._dial(ch, int(req.query.get("timeout", "30")))
            elif action == "continue":  # back to the dialplan: the channel leaves the application
                del self.channels[ch.id]
                self.continued.append(ch.id)
                await self.emit({"type": "StasisEnd", "channel": ch.json()})
            elif action == "answer":
                ch.state = "Up"
            elif action == "play":
                self._play(ch, req.query["playbackId"], req.query["media"])
            return ok
        if parts[0] == "applications" and req.method == "GET":
            return web.json_response({"name": parts[1], "channel_ids": list(self.channels), "bridge_ids": [],
                                      "endpoint_ids": [], "device_names": []})
        if parts[0] == "playbacks" and req.method == "DELETE":
            await self.emit({"type": "PlaybackFinished", "playback": {"id": parts[1], "state": "done",
                                                                       "target_uri": "channel:?"}})
            return ok
        if parts[0] == "bridges":
            if req.method == "GET":
                return web.json_response([{"id": b, "channels": c} for b, c in self.bridges.items()])
            if req.method == "POST" and len(parts) == 1:
                self.bridges[req.query["bridgeId"]] = []
                return web.json_response({"id": req.query["bridgeId"]})
            if req.method == "DELETE":
                del self.bridges[parts[1]]
                return ok
            if parts[2] == "addChannel":
                bridge = self.bridges[parts[1]]
                for cid in req.query["channel"].split(","):
                    if cid not in self.channels:
                        return web.json_response({"message": "Channel not in Stasis application"}, status=422)
                    bridge.append(cid)
                return ok
        return ok

    async def _dial(self, ch: FakeChannel, timeout_s: int) -> None:
        if self.callee == "noanswer":  # like Asterisk: the dial timeout hangs the callee up
            async def timeout() -> None:
                await asyncio.sleep(timeout_s)
                await self.far_end_hangup(ch.id, 16)
            task = asyncio.ensure_future(timeout())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        if self.callee == "answer":
            up = FakeChannel(ch.id, ch.name, state="Up")
            self.channels[ch.id] = up
            self.later(0.02, {"type": "Dial", "peer": ch.json(), "dialstatus": "RINGING"},
                       {"type": "Dial", "peer": up.json(), "dialstatus": "ANSWER"},
                       {"type": "ChannelStateChange", "channel": up.json()})
        elif self.callee == "busy":
            async def busy() -> None:
                await asyncio.sleep(0.02)
                await self.far_end_hangup(ch.id, 17)
                await self.emit({"type": "Dial", "peer": ch.json(), "dialstatus": "BUSY"})
            task = asyncio.ensure_future(busy())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    def _play(self, ch: FakeChannel, playback_id: str, media: str) -> None:
        playback = {"id": playback_id, "target_uri": f"channel:{ch.id}", "state": "playing"}
        self.later(0.0, {"type": "PlaybackStarted", "playback": playback})
        if media in self.missing_media:
            self.later(0.01, {"type": "PlaybackFinished", "playback": {**playback, "state": "failed"}})
            return
        if self.playback_s is not None:
            self.later(self.playback_s, {"type": "PlaybackFinished", "playback": {**playback, "state": "done"}})
