"""The SSRF guard, enforced where sockets are opened (private to ``aggregator.fetch``).

``AddressGuard.addresses`` is asked by the fetcher's network backend (``aggregator._transport``)
for every new connection: it resolves the host itself, refuses when *any* resolved address is
not a public unicast address, and the backend then connects to one of the addresses checked.
So a DNS answer that changes between a check and the connect (rebinding) cannot slip through,
and every redirect hop is checked the same way. TLS still runs on top with SNI and certificate
verification against the URL's host name.

A host is let through unchecked only when it is listed in the allow list
(``NEWSAGG_FETCH_ALLOW_HOSTS``): a name matches when the URL's host is that name; an address or
network (``127.0.0.1``, ``10.0.0.0/8``) matches when the URL's host is an IP literal inside it.
A name that merely *resolves* to an allowed address is still checked.

IP literals are recognised in every form a resolver would accept (``2130706433``,
``0177.0.0.1``, ``0x7f.1``, ``[::ffff:127.0.0.1]``), so obfuscated addresses get no pass.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from urllib.parse import unquote

import httpcore

from aggregator.errors import BlockedAddressError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[[str, int], Sequence[str]]
"""(host, port) -> the IP addresses (as strings) to try, in order. Raises OSError on failure."""


def _net(text: str) -> IPNetwork:
    return ipaddress.ip_network(text)


# Checked in order, before the generic ``ipaddress`` flags, so the reason names the real thing.
# ``is_global`` alone is not enough: it is True for NAT64 and 6to4 wrappers of private addresses.
_DENIED: tuple[tuple[IPNetwork, str], ...] = (
    (_net("169.254.169.254/32"), "cloud metadata"),
    (_net("168.63.129.16/32"), "cloud metadata"),
    (_net("fd00:ec2::254/128"), "cloud metadata"),
    (_net("0.0.0.0/8"), "unspecified"),
    (_net("10.0.0.0/8"), "private"),
    (_net("100.64.0.0/10"), "shared address space"),
    (_net("127.0.0.0/8"), "loopback"),
    (_net("169.254.0.0/16"), "link-local"),
    (_net("172.16.0.0/12"), "private"),
    (_net("192.0.0.0/24"), "IETF protocol assignments"),
    (_net("192.0.2.0/24"), "documentation"),
    (_net("192.88.99.0/24"), "6to4 relay"),
    (_net("192.168.0.0/16"), "private"),
    (_net("198.18.0.0/15"), "benchmarking"),
    (_net("198.51.100.0/24"), "documentation"),
    (_net("203.0.113.0/24"), "documentation"),
    (_net("224.0.0.0/4"), "multicast"),
    (_net("240.0.0.0/4"), "reserved"),
    (_net("::/128"), "unspecified"),
    (_net("::1/128"), "loopback"),
    (_net("::ffff:0:0/96"), "IPv4-mapped"),
    (_net("::ffff:0:0:0/96"), "IPv4-translated"),
    (_net("::/96"), "IPv4-compatible"),
    (_net("64:ff9b::/96"), "NAT64"),
    (_net("64:ff9b:1::/48"), "NAT64"),
    (_net("100::/64"), "discard"),
    (_net("2001::/32"), "Teredo"),
    (_net("2001:2::/48"), "benchmarking"),
    (_net("2001:10::/28"), "ORCHID"),
    (_net("2001:20::/28"), "ORCHID"),
    (_net("2001:db8::/32"), "documentation"),
    (_net("2002::/16"), "6to4"),
    (_net("3fff::/20"), "documentation"),
    (_net("5f00::/16"), "segment routing"),
    (_net("fc00::/7"), "unique local"),
    (_net("fe80::/10"), "link-local"),
    (_net("fec0::/10"), "site-local"),
    (_net("ff00::/8"), "multicast"),
)


def deny_reason(address: IPAddress) -> str | None:
    """Why the fetcher must not connect to ``address``, or None for a public unicast one."""
    for network, reason in _DENIED:
        if address.version == network.version and address in network:
            return reason
    flags = (
        ("loopback", address.is_loopback),
        ("private", address.is_private),
        ("link-local", address.is_link_local),
        ("multicast", address.is_multicast),
        ("reserved", address.is_reserved),
        ("unspecified", address.is_unspecified),
        ("not globally routable", not address.is_global),
    )
    return next((name for name, hit in flags if hit), None)


def normalize_host(host: str) -> str:
    """Lower-case, without IPv6 brackets or a trailing dot."""
    return host.strip().lower().removeprefix("[").removesuffix("]").rstrip(".")


def parse_ip_host(host: str) -> IPAddress | None:
    """The address a URL host denotes when it is an IP literal, in any form; else None.

    Raises ValueError for a host that looks numeric but is no valid address (``1.2.3.999``).
    """
    text = normalize_host(host)
    try:
        return ipaddress.ip_address(unquote(text))
    except ValueError:
        pass
    if ":" in text:
        raise ValueError(f"invalid IPv6 address {host!r}")
    return _parse_legacy_ipv4(text)


def _parse_legacy_ipv4(text: str) -> ipaddress.IPv4Address | None:
    """inet_aton / WHATWG forms: 1 to 4 parts, each decimal, octal (0...) or hex (0x...)."""
    parts = text.split(".")
    numbers = [_ipv4_number(part) for part in parts]
    if numbers[-1] is None:
        return None  # an ordinary host name
    if None in numbers or len(parts) > 4:
        raise ValueError(f"invalid IPv4 address {text!r}")
    values = [n for n in numbers if n is not None]
    if any(v > 255 for v in values[:-1]) or values[-1] >= 256 ** (5 - len(values)):
        raise ValueError(f"invalid IPv4 address {text!r}")
    value = values[-1]
    for index, part in enumerate(values[:-1]):
        value += part << (8 * (3 - index))
    return ipaddress.IPv4Address(value)


def _ipv4_number(part: str) -> int | None:
    if part[:2] in ("0x", "0X"):
        digits, base = part[2:] or "0", 16
    elif len(part) > 1 and part.startswith("0"):
        digits, base = part[1:], 8
    else:
        digits, base = part, 10
    allowed = "0123456789abcdef"[:base]
    if not digits or any(c not in allowed for c in digits.lower()):
        return None
    return int(digits, base)


@dataclass(frozen=True, slots=True)
class AllowList:
    """Hosts the guard lets through: exact names, and addresses or networks for IP literals."""

    names: frozenset[str] = frozenset()
    networks: tuple[IPNetwork, ...] = ()

    @classmethod
    def from_entries(cls, entries: Iterable[str]) -> AllowList:
        names: set[str] = set()
        networks: list[IPNetwork] = []
        for entry in entries:
            text = normalize_host(entry)
            if not text:
                continue
            try:
                networks.append(ipaddress.ip_network(text, strict=False))
            except ValueError:
                names.update(_name_forms(text))
        return cls(frozenset(names), tuple(networks))

    def permits(self, host: str) -> bool:
        text = normalize_host(host)
        if text in self.names:
            return True
        try:
            address = parse_ip_host(text)
        except ValueError:
            return False
        return address is not None and any(
            address.version == net.version and address in net for net in self.networks
        )


def _name_forms(name: str) -> set[str]:
    """A host name as written and as sent on the wire (IDNA), so either form matches."""
    try:
        return {name, name.encode("idna").decode("ascii")}
    except UnicodeError:
        return {name}


def system_resolver(host: str, port: int) -> list[str]:
    """The operating system's resolver (getaddrinfo), addresses in its order, deduplicated."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    addresses: list[str] = []
    for info in infos:
        address = str(info[4][0])
        if address not in addresses:
            addresses.append(address)
    return addresses


class AddressGuard:
    """Decides which addresses a host may be reached at.

    With ``lookups`` (an executor), name lookups run there so that a stuck resolver costs a
    request no more than its timeout (getaddrinfo itself cannot be interrupted)."""

    def __init__(
        self, allow: AllowList, resolver: Resolver, lookups: Executor | None = None
    ) -> None:
        self._allow = allow
        self._resolver = resolver
        self._lookups = lookups

    def precheck(self, host: str) -> None:
        """Refuse an IP-literal host before any request (names are checked at connect time)."""
        if self._allow.permits(host):
            return
        address = parse_ip_host(host)
        if address is not None:
            _refuse_if_denied(host, address)

    def addresses(self, host: str, port: int, timeout: float | None = None) -> list[str]:
        """The checked addresses to connect to for ``host``; raises BlockedAddressError."""
        literal = parse_ip_host(host)
        if self._allow.permits(host):
            if literal is not None:
                return [str(literal)]
            return self._resolve(host, port, timeout)
        if literal is not None:
            _refuse_if_denied(host, literal)
            return [str(literal)]
        addresses = self._resolve(host, port, timeout)
        for text in addresses:
            _refuse_if_denied(host, ipaddress.ip_address(text.split("%")[0]))
        return addresses

    def _resolve(self, host: str, port: int, timeout: float | None) -> list[str]:
        try:
            if self._lookups is None:
                addresses = list(self._resolver(host, port))
            else:
                lookup = self._lookups.submit(self._resolver, host, port)
                addresses = list(lookup.result(timeout=timeout))
        except TimeoutError as exc:
            raise httpcore.ConnectTimeout(f"resolving {host!r} took over {timeout} s") from exc
        except (OSError, UnicodeError) as exc:
            raise httpcore.ConnectError(f"cannot resolve host {host!r}: {exc}") from exc
        if not addresses:
            raise httpcore.ConnectError(f"host {host!r} resolves to no address")
        return addresses


def _refuse_if_denied(host: str, address: IPAddress) -> None:
    reason = deny_reason(address)
    if reason is None:
        return
    shown = host if normalize_host(host) == str(address) else f"{host} ({address})"
    raise BlockedAddressError(
        f"refused to connect to {shown}: {reason} address", code="blocked_address"
    )
