"""Which addresses a fetch may reach: the address policy, checked on the address each
connection is opened to (after DNS: no rebinding gap between a check and the connect).

The config's author chooses what a source fetches, internal addresses included; a redirect
or a page's own requests are not that choice. So a hop that comes from a public address may
not reach a private, loopback or link-local one (unless `[http] allow_private_redirects`),
and cloud metadata addresses are refused always (unless `[http] allow_networks` names them).
A URL typed into the web page (a page-made source, the editor's snapshots) is not the config
author's choice either: its every hop is held to public addresses (`AddressPolicy.typed`,
unless `[server] private_urls`).
"""

from __future__ import annotations

import contextvars
import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from ipaddress import (
    IPv4Address,
    IPv4Network,
    IPv6Address,
    IPv6Network,
    ip_address,
    ip_network,
)
from typing import Any

from feedbridge.core.errors import FeedbridgeError

Address = IPv4Address | IPv6Address
Network = IPv4Network | IPv6Network

# Not on the internet: this host, private networks, shared (CGNAT), link-local, unique local,
# multicast, reserved. Addresses inside IPv6 (mapped, NAT64, 6to4) are checked as IPv4.
DEFAULT_INTERNAL: tuple[Network, ...] = tuple(
    ip_network(n)
    for n in (
        "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16",
        "172.16.0.0/12", "192.0.0.0/24", "192.168.0.0/16", "198.18.0.0/15", "224.0.0.0/4",
        "240.0.0.0/4", "::/128", "::1/128", "fc00::/7", "fe80::/10", "ff00::/8",
    )
)  # fmt: skip
# The instance metadata services of the clouds (AWS, ECS, EKS, GCP, Azure, Alibaba):
# credentials for the asking, so never fetched unless named in `[http] allow_networks`.
METADATA_ADDRESSES: frozenset[Address] = frozenset(
    ip_address(a)
    for a in (
        "169.254.169.254", "169.254.170.2", "169.254.170.23", "168.63.129.16",
        "100.100.100.200", "fd00:ec2::254", "fd00:ec2::23",
    )
)  # fmt: skip
METADATA_HOSTS = frozenset({"metadata.google.internal", "metadata.goog", "metadata"})
_NAT64 = ip_network("64:ff9b::/96")
_6TO4 = ip_network("2002::/16")


def embedded(address: Address) -> Address:
    """The IPv4 address inside an IPv4-mapped, NAT64 or 6to4 IPv6 address, else itself."""
    if isinstance(address, IPv6Address):
        if address.ipv4_mapped is not None:
            return address.ipv4_mapped
        if address in _NAT64:
            return IPv4Address(int(address) & 0xFFFFFFFF)
        if address in _6TO4:
            return IPv4Address((int(address) >> 80) & 0xFFFFFFFF)
    return address


def parse_address(text: str) -> Address | None:
    """An IP address from a socket address or a URL host (`[::1]`, `fe80::1%eth0`), else None."""
    try:
        return ip_address(text.strip("[]").partition("%")[0])
    except ValueError:
        return None


class AddressRefused(FeedbridgeError, OSError):
    """A connection the address policy refused, raised where the socket would be made: an
    OSError there, as aiohttp's socket factory must raise (it reports a connection error)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class AddressPolicy:
    """What counts as internal, what is refused always, and what the config allows.

    `internal` is a parameter so that tests can call one loopback address public and
    another internal: a hostile upstream on 127.0.0.1 could not look public otherwise.
    """

    internal: tuple[Network, ...] = DEFAULT_INTERNAL
    metadata: frozenset[Address] = METADATA_ADDRESSES
    allowed: tuple[Network, ...] = ()  # `[http] allow_networks`: never refused
    private_redirects: bool = False  # `[http] allow_private_redirects`
    typed: bool = False  # for a URL typed into the web page: internal addresses refused too

    @classmethod
    def build(
        cls, allow_networks: Iterable[str] = (), private_redirects: bool = False
    ) -> AddressPolicy:
        """The policy `[http]` asks for, on the default internal networks."""
        return cls(
            allowed=tuple(ip_network(n, strict=False) for n in allow_networks),
            private_redirects=private_redirects,
        )

    def for_typed(self) -> AddressPolicy:
        """This policy for a URL typed into the web page: every hop, the first included, may
        reach public addresses only (but what `[http] allow_networks` names)."""
        return replace(self, typed=True)

    def is_internal(self, address: Address) -> bool:
        address = embedded(address)
        return any(address in network for network in self.internal)

    def refusal(self, address: Address, *, after_public: bool) -> str | None:
        """Why a connection to `address` is refused, or None. `after_public`: the hop comes
        from a public address (a redirect, or a browser page's own request)."""
        inner = embedded(address)
        if any(inner in network or address in network for network in self.allowed):
            return None
        if inner in self.metadata or address in self.metadata:
            return (
                f"{address} is a cloud metadata address, never fetched "
                f'(unless [http] allow_networks = ["{address}"])'
            )
        if self.typed and self.is_internal(address):
            return (
                f"{address} is a {_kind(inner)} address; a URL typed into the web page may "
                "reach public addresses only (unless [server] private_urls = true)"
            )
        if after_public and not self.private_redirects and self.is_internal(address):
            return (
                f"{address} is a {_kind(inner)} address, reached from a public one "
                "(set [http] allow_private_redirects = true to allow it)"
            )
        return None

    def host_refusal(self, host: str) -> str | None:
        """A metadata service's name is refused before any lookup (it may resolve elsewhere)."""
        name = host.lower().rstrip(".")
        named = any(a in n for a in self.metadata for n in self.allowed)
        if name in METADATA_HOSTS and not named:
            return f"{name} is a cloud metadata service, never fetched"
        return None


def _kind(address: Address) -> str:
    if address.is_loopback:
        return "loopback"
    if address.is_link_local:
        return "link-local"
    return "private"


@dataclass(slots=True)
class Hop:
    """What one request connected to (new connections only), and what the policy refused."""

    addresses: list[Address] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)


# The hop being sent in this task: the socket factory records into it. Happy-eyeballs tasks
# copy the context, so they share the same Hop object.
CURRENT_HOP: contextvars.ContextVar[Hop | None] = contextvars.ContextVar("hop", default=None)

AddrInfo = tuple[Any, Any, int, str, tuple[Any, ...]]


def socket_factory(
    policy: AddressPolicy, *, after_public: bool
) -> Callable[[AddrInfo], socket.socket]:
    """aiohttp's `socket_factory`: called with the very address the socket will connect to,
    it refuses what the policy refuses and records the rest for the current hop."""

    def make(addr_info: AddrInfo) -> socket.socket:
        family, kind, proto, _, sockaddr = addr_info
        address = parse_address(str(sockaddr[0]))
        hop = CURRENT_HOP.get()
        if address is not None:
            reason = policy.refusal(address, after_public=after_public)
            if reason is not None:
                if hop is not None:
                    hop.refused.append(reason)
                raise AddressRefused(reason)
            if hop is not None:
                hop.addresses.append(address)
        return socket.socket(family=family, type=kind, proto=proto)

    return make
