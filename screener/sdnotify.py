"""systemd's readiness protocol (``Type=notify``), without a dependency: one datagram to ``$NOTIFY_SOCKET``.

``notify("READY=1")`` once the service accepts calls, ``notify("STOPPING=1")`` when it begins to stop. Outside
systemd (no ``NOTIFY_SOCKET``) it does nothing.
"""

from __future__ import annotations

import logging
import os
import socket

log = logging.getLogger("screener.sdnotify")


def notify(state: str) -> bool:
    """Send ``state`` (``KEY=VALUE`` lines) to systemd; True when sent."""
    address = os.environ.get("NOTIFY_SOCKET", "")
    if not address:
        return False
    if address.startswith("@"):  # an abstract socket
        address = "\0" + address[1:]
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            sock.connect(address)
            sock.sendall(state.encode("utf-8"))
    except OSError as exc:
        log.warning("could not notify the service manager at $NOTIFY_SOCKET (%s): %s", state.split("\n")[0], exc)
        return False
    return True
