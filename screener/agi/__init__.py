"""FastAGI and process-AGI front end: a sans-I/O codec, an asyncio server, and the screen/disclose scripts."""

from screener.agi.codec import AgiConnection
from screener.agi.contract import ScreenerLike, ScriptOptions
from screener.agi.errors import AgiError, LocalProtocolError, RemoteProtocolError, UnsafeValueError
from screener.agi.events import NEED_DATA, AgiEnvironment, ConnectionClosed, HangupNotice, Reply
from screener.agi.server import FastAgiServer

__all__ = [
    "NEED_DATA",
    "AgiConnection",
    "AgiEnvironment",
    "AgiError",
    "ConnectionClosed",
    "FastAgiServer",
    "HangupNotice",
    "LocalProtocolError",
    "RemoteProtocolError",
    "Reply",
    "ScreenerLike",
    "ScriptOptions",
    "UnsafeValueError",
]
