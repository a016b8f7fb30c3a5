"""Parsing ARI events (shapes as Asterisk 22 sends them, rest-api/events.json)."""

from __future__ import annotations

from screener.ari.events import (
    ChannelDestroyed,
    ChannelDtmfReceived,
    Dial,
    OtherEvent,
    PlaybackEvent,
    StasisStart,
    parse_event,
)

CHANNEL = {"id": "1795873638.0", "name": "PJSIP/agents-ari-00000000", "state": "Ring",
           "caller": {"name": "Agent", "number": "agent"}, "dialplan": {"context": "screener-outbound-ari",
                                                                         "exten": "12125550101", "priority": 13}}


def test_stasis_start_carries_its_arguments_and_channel() -> None:
    event = parse_event({"type": "StasisStart", "application": "screener", "args": ["12125550101", "lab", "carrier"],
                         "channel": CHANNEL})
    assert isinstance(event, StasisStart)
    assert event.args == ("12125550101", "lab", "carrier")
    assert event.channel.id == "1795873638.0" and event.channel.dialplan_exten == "12125550101"
    assert event.channel_ids == ("1795873638.0",)


def test_dial_dtmf_destroyed_and_playback_route_by_their_channels() -> None:
    dial = parse_event({"type": "Dial", "peer": {**CHANNEL, "id": "callee"}, "dialstatus": "BUSY"})
    assert isinstance(dial, Dial) and dial.dialstatus == "BUSY" and dial.channel_ids == ("callee",)
    dtmf = parse_event({"type": "ChannelDtmfReceived", "digit": "9", "duration_ms": 120, "channel": CHANNEL})
    assert isinstance(dtmf, ChannelDtmfReceived) and dtmf.digit == "9"
    gone = parse_event({"type": "ChannelDestroyed", "cause": 17, "cause_txt": "User busy", "channel": CHANNEL})
    assert isinstance(gone, ChannelDestroyed) and gone.cause == 17
    pb = parse_event({"type": "PlaybackFinished", "playback": {"id": "p1", "target_uri": "channel:callee",
                                                                "state": "done"}})
    assert isinstance(pb, PlaybackEvent) and pb.channel_ids == ("callee",) and pb.playback_id == "p1"
    bridge_pb = parse_event({"type": "PlaybackStarted", "playback": {"id": "p2", "target_uri": "bridge:b1"}})
    assert isinstance(bridge_pb, PlaybackEvent) and bridge_pb.channel_ids == ()


def test_unknown_and_malformed_events_never_raise() -> None:
    assert parse_event([1, 2]) is None
    assert parse_event({"no": "type"}) is None
    other = parse_event({"type": "ChannelVarset", "channel": CHANNEL, "variable": "X"})
    assert isinstance(other, OtherEvent) and other.channel_ids == ("1795873638.0",)
    broken = parse_event({"type": "StasisStart", "channel": {"name": "no id"}})
    assert isinstance(broken, OtherEvent) and broken.channel_ids == ()
    odd = parse_event({"type": "ChannelDtmfReceived", "digit": "9", "duration_ms": "x", "channel": CHANNEL})
    assert isinstance(odd, ChannelDtmfReceived) and odd.duration_ms == 0
