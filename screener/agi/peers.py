"""The allow-list of Asterisk peer addresses (IPs or CIDR networks; "any" allows everyone)."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class PeerFilter:
    def __init__(self, peers: Iterable[str]) -> None:
        self.allow_any = False
        self.networks: list[Network] = []
        for peer in peers:
            if peer.strip().lower() in ("any", "*"):
                self.allow_any = True
            else:
                self.networks.append(ipaddress.ip_network(peer.strip(), strict=False))

    def allows(self, host: str | None) -> bool:
        if self.allow_any:
            return True
        if not host:
            return False
        try:
            addr = ipaddress.ip_address(host.split("%", 1)[0])
        except ValueError:
            return False
        if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
            addr = addr.ipv4_mapped
        return any(addr in net for net in self.networks)
