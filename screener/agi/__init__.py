"""FastAGI and process-AGI front end: a sans-I/O codec (codec, events, encode), an asyncio server (server),
and the ``screen`` / ``disclose`` scripts. The package itself only re-exports the codec layer."""

from screener.agi.codec import AgiConnection
from screener.agi.errors import AgiError, LocalProtocolError, RemoteProtocolError, UnsafeValueError
from screener.agi.events import NEED_DATA, AgiEnvironment, ConnectionClosed, HangupNotice, Reply

__all__ = [
    "NEED_DATA",
    "AgiConnection",
    "AgiEnvironment",
    "AgiError",
    "ConnectionClosed",
    "HangupNotice",
    "LocalProtocolError",
    "RemoteProtocolError",
    "Reply",
    "UnsafeValueError",
]
