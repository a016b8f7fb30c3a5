"""Typed ARI events: the few the Stasis application acts on, parsed from the WebSocket's JSON.

Anything else (or anything malformed) becomes ``OtherEvent`` and is routed by its channel id when it has
one; the client never crashes on an event it does not know.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Channel:
    """The parts of an ARI Channel object the application uses."""

    id: str
    name: str = ""
    state: str = ""
    caller_number: str = ""
    dialplan_exten: str = ""
    dialplan_context: str = ""

    @classmethod
    def parse(cls, raw: Any) -> Channel | None:
        if not isinstance(raw, dict) or not isinstance(raw.get("id"), str):
            return None
        caller = _dict(raw.get("caller"))
        dialplan = _dict(raw.get("dialplan"))
        return cls(id=raw["id"], name=str(raw.get("name", "")), state=str(raw.get("state", "")),
                   caller_number=str(caller.get("number", "")), dialplan_exten=str(dialplan.get("exten", "")),
                   dialplan_context=str(dialplan.get("context", "")))


@dataclass(frozen=True)
class Event:
    """Base of every event: its type name and the application it was sent for."""

    type: str
    application: str

    @property
    def channel_ids(self) -> tuple[str, ...]:
        """The channels this event concerns (used to route it to its call)."""
        return ()


@dataclass(frozen=True)
class ChannelEvent(Event):
    channel: Channel

    @property
    def channel_ids(self) -> tuple[str, ...]:
        return (self.channel.id,)


@dataclass(frozen=True)
class StasisStart(ChannelEvent):
    args: tuple[str, ...] = ()


@dataclass(frozen=True)
class StasisEnd(ChannelEvent):
    pass


@dataclass(frozen=True)
class ChannelStateChange(ChannelEvent):
    pass


@dataclass(frozen=True)
class ChannelDtmfReceived(ChannelEvent):
    digit: str = ""
    duration_ms: int = 0


@dataclass(frozen=True)
class ChannelHangupRequest(ChannelEvent):
    cause: int = 0


@dataclass(frozen=True)
class ChannelDestroyed(ChannelEvent):
    cause: int = 0
    cause_txt: str = ""


@dataclass(frozen=True)
class Dial(Event):
    """Progress of a dial: ``dialstatus`` "" while ringing, then ANSWER, BUSY, NOANSWER, CANCEL, ..."""

    peer: Channel
    caller: Channel | None = None
    dialstatus: str = ""

    @property
    def channel_ids(self) -> tuple[str, ...]:
        return (self.peer.id,) + ((self.caller.id,) if self.caller else ())


@dataclass(frozen=True)
class PlaybackEvent(Event):
    """PlaybackStarted / PlaybackFinished: ``target_uri`` is ``channel:<id>`` for a channel's playback."""

    playback_id: str
    target_uri: str = ""
    state: str = ""

    @property
    def channel_ids(self) -> tuple[str, ...]:
        kind, _, ident = self.target_uri.partition(":")
        return (ident,) if kind == "channel" and ident else ()


@dataclass(frozen=True)
class ApplicationReplaced(Event):
    """Another WebSocket registered the same application name: this connection no longer gets events."""


@dataclass(frozen=True)
class OtherEvent(Event):
    """An event the application does not act on (kept for routing and debugging)."""

    ids: tuple[str, ...] = ()
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def channel_ids(self) -> tuple[str, ...]:
        return self.ids


@dataclass(frozen=True)
class Reconnected(Event):
    """Synthetic, on every WebSocket open: ``first`` False means it came back after a gap, whose events were
    lost (calls resynchronise); every open also sweeps channels and bridges no call owns."""

    first: bool = False


_CHANNEL_EVENTS: dict[str, type[ChannelEvent]] = {
    "StasisEnd": StasisEnd,
    "ChannelStateChange": ChannelStateChange,
}


def parse_event(raw: Any) -> Event | None:
    """One decoded JSON message → an Event, or None when it is not an event object at all."""
    if not isinstance(raw, dict) or not isinstance(raw.get("type"), str):
        return None
    kind: str = raw["type"]
    app = str(raw.get("application", ""))
    channel = Channel.parse(raw.get("channel"))
    if kind == "StasisStart" and channel is not None:
        args = raw["args"] if isinstance(raw.get("args"), list) else []
        return StasisStart(kind, app, channel, tuple(str(a) for a in args))
    if kind in _CHANNEL_EVENTS and channel is not None:
        return _CHANNEL_EVENTS[kind](kind, app, channel)
    if kind == "ChannelDtmfReceived" and channel is not None:
        return ChannelDtmfReceived(kind, app, channel, str(raw.get("digit", "")), _int(raw.get("duration_ms")))
    if kind == "ChannelHangupRequest" and channel is not None:
        return ChannelHangupRequest(kind, app, channel, _int(raw.get("cause")))
    if kind == "ChannelDestroyed" and channel is not None:
        return ChannelDestroyed(kind, app, channel, _int(raw.get("cause")), str(raw.get("cause_txt", "")))
    if kind == "Dial":
        peer = Channel.parse(raw.get("peer"))
        if peer is not None:
            return Dial(kind, app, peer, Channel.parse(raw.get("caller")), str(raw.get("dialstatus", "")))
    if kind in ("PlaybackStarted", "PlaybackFinished") and isinstance(raw.get("playback"), dict):
        pb = raw["playback"]
        return PlaybackEvent(kind, app, str(pb.get("id", "")), str(pb.get("target_uri", "")), str(pb.get("state", "")))
    if kind == "ApplicationReplaced":
        return ApplicationReplaced(kind, app)
    ids = tuple(c.id for c in (channel,) if c is not None)
    return OtherEvent(kind, app, ids, raw)


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}
