"""SSRF guard of the crawler: only http(s) to public addresses, checked after DNS resolution, on every hop.

Without a proxy the guard resolves the host with an injectable resolver, refuses the URL if ANY address is
private, loopback, link-local, reserved, multicast or unspecified (unless allowed), and hands back the
addresses so the caller can connect to exactly the address it checked (no DNS-rebinding window).

With a proxy (CRAWL_PROXY_URL) the proxy resolves names, not us: the guard then checks what it can see —
scheme, IP-literal hosts and local names (localhost, *.local, *.internal, ...) — and leaves name resolution
to the proxy's own egress rules. The allowlist (CRAWL_ALLOW_PRIVATE_HOSTS: host names or CIDRs) exempts
sandbox targets in both modes.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from leadgen.domains import to_ascii
from leadgen.errors import FetchFailed, UnsafeTarget

Resolver = Callable[[str], Awaitable[list[str]]]
"""An async function from a host name to its IP addresses (as strings)."""

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
ALLOWED_SCHEMES = frozenset({"http", "https"})
LOCAL_NAME_SUFFIXES = (".localhost", ".local", ".internal", ".intranet", ".lan", ".home.arpa", ".corp")


async def system_resolver(host: str) -> list[str]:
    """Resolve with the operating system (getaddrinfo in a thread, via the event loop)."""
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


@dataclass(frozen=True, slots=True)
class Target:
    """A checked URL: scheme, host (lower-case, IDNA), port, and the addresses it may be fetched from."""

    url: str
    scheme: str
    host: str
    port: int
    addresses: tuple[str, ...]  # empty when a proxy resolves the name


def is_public(address: IPAddress) -> bool:
    """True for globally routable unicast addresses (IPv4-mapped IPv6 judged by its IPv4 part)."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return bool(
        address.is_global
        and not address.is_multicast
        and not address.is_reserved
        and not address.is_loopback
        and not address.is_link_local
        and not address.is_private
        and not address.is_unspecified
    )


class SsrfGuard:
    """Checks every URL the crawler is about to fetch (the start URL and each redirect hop).

    >>> guard = SsrfGuard(resolver=fake_resolver, allow=["127.0.0.1/32"])
    >>> target = await guard.check("http://site.test/")        # raises UnsafeTarget when refused
    """

    def __init__(self, *, resolver: Resolver | None = None, allow: Iterable[str] = (), proxied: bool = False):
        self._resolver = resolver or system_resolver
        self._proxied = proxied
        self._allowed_hosts: set[str] = set()
        self._allowed_nets: list[IPNetwork] = []
        for item in allow:
            item = item.strip().lower()
            if not item:
                continue
            try:
                self._allowed_nets.append(ipaddress.ip_network(item, strict=False))
            except ValueError:
                self._allowed_hosts.add(item.rstrip("."))

    def _address_allowed(self, address: IPAddress) -> bool:
        return is_public(address) or any(address in net for net in self._allowed_nets)

    def _host_allowed(self, host: str) -> bool:
        return host in self._allowed_hosts or any(host.endswith("." + h) for h in self._allowed_hosts)

    async def check(self, url: str) -> Target:
        """The checked target of `url`, or UnsafeTarget saying why it is refused."""
        try:
            parts = urlsplit(url)
            scheme = parts.scheme.lower()
            host = (parts.hostname or "").rstrip(".").lower()
            port = parts.port or (443 if scheme == "https" else 80)
        except ValueError as exc:
            raise UnsafeTarget(f"malformed URL {url!r}") from exc
        if scheme not in ALLOWED_SCHEMES:
            raise UnsafeTarget(f"scheme {scheme or '(none)'!r} is not http(s)")
        if not host:
            raise UnsafeTarget("URL has no host")
        ascii_host = to_ascii(host)  # DNS spelling (leadgen.domains, the one IDN rule)
        if ascii_host is None:
            raise UnsafeTarget(f"host {host!r} is not a valid IDN")
        host = ascii_host
        literal = _ip_literal(host)
        if literal is not None:
            if not self._address_allowed(literal) and not self._host_allowed(host):
                raise UnsafeTarget(f"address {literal} is not public")
            return Target(url, scheme, host, port, (str(literal),))
        if self._host_allowed(host):
            addresses = () if self._proxied else tuple(await self._resolve(host))
            return Target(url, scheme, host, port, addresses)
        if host == "localhost" or host.endswith(LOCAL_NAME_SUFFIXES) or "." not in host:
            raise UnsafeTarget(f"host {host!r} is a local name")
        if self._proxied:
            return Target(url, scheme, host, port, ())
        addresses = tuple(await self._resolve(host))
        for text in addresses:
            address = ipaddress.ip_address(text.split("%", 1)[0])
            if not self._address_allowed(address):
                raise UnsafeTarget(f"host {host!r} resolves to non-public address {address}")
        return Target(url, scheme, host, port, tuple(addresses))

    async def _resolve(self, host: str) -> list[str]:
        try:
            addresses = await self._resolver(host)
        except (OSError, UnicodeError) as exc:
            raise FetchFailed(f"cannot resolve {host!r}: {exc}") from exc
        if not addresses:
            raise FetchFailed(f"host {host!r} has no address")
        return addresses


def _ip_literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        pass
    # Legacy numeric forms that resolvers accept: 2130706433, 0x7f.1, 017700000001.
    try:
        return ipaddress.IPv4Address(socket.inet_aton(host))
    except (OSError, ValueError):
        return None
