"""The SSRF guard: redirects, DNS answers and IP literals that point inside are refused at
connect time unless allowed (RELIABILITY.md, "Fetching").

Only loopback addresses are ever connected to. Tests of other private ranges use a transport
that records calls (the guard must refuse before any transport is reached) or the pure guard.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
import time
from collections.abc import Callable, Iterator, Sequence

import httpx
import pytest
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from aggregator._netguard import AddressGuard, AllowList, deny_reason, parse_ip_host
from aggregator.errors import BlockedAddressError, FetchError
from aggregator.fetch import Fetcher
from tests.support.fetchkit import reset, settings
from tests.support.httpserver import LocalServer, serve


@pytest.fixture(scope="module")
def _public_server() -> Iterator[LocalServer]:
    with serve("127.0.0.1") as server:
        yield server


@pytest.fixture(scope="module")
def _private_server() -> Iterator[LocalServer]:
    with serve("127.0.0.2") as server:
        yield server


@pytest.fixture
def http_server(_public_server: LocalServer) -> LocalServer:
    return reset(_public_server)


@pytest.fixture
def private_server(_private_server: LocalServer) -> LocalServer:
    """Plays the internal network: its hit counter must stay 0."""
    server = reset(_private_server)
    server.route("/secret", b"internal data")
    return server


class FakeDNS:
    """An injectable resolver: a fixed table, and a record of what was asked."""

    def __init__(self, table: dict[str, Sequence[str]]) -> None:
        self.table = table
        self.asked: list[str] = []

    def __call__(self, host: str, port: int) -> Sequence[str]:
        self.asked.append(host)
        if host not in self.table:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return self.table[host]


def _no_dns(host: str, port: int) -> Sequence[str]:
    raise AssertionError(f"the resolver must not be asked for {host!r}")


def blocked(fetcher: Fetcher, url: str) -> BlockedAddressError:
    with pytest.raises(BlockedAddressError) as caught:
        fetcher.fetch(url)
    assert caught.value.code == "blocked_address", caught.value
    return caught.value


# -- through the real network backend (loopback only) -----------------------------------------


def test_redirect_from_allowed_server_to_private_address_is_refused(
    http_server: LocalServer, private_server: LocalServer
) -> None:
    target = private_server.url("/secret")
    url = http_server.route("/jump", status=302, headers={"Location": target})
    with Fetcher(settings()) as f:
        error = blocked(f, url)
    assert url in str(error) and target in str(error) and "loopback" in str(error)
    assert private_server.total_hits == 0


def test_host_name_resolving_to_private_address_is_refused_at_connect_time(
    private_server: LocalServer,
) -> None:
    dns = FakeDNS({"rebind.example": ["127.0.0.2"]})
    with Fetcher(settings(), resolver=dns) as f:
        error = blocked(f, f"http://rebind.example:{private_server.port}/secret")
    assert dns.asked == ["rebind.example"]  # resolved once, by the guard, at connect time
    assert "127.0.0.2" in str(error)
    assert private_server.total_hits == 0


def test_redirect_to_name_resolving_to_private_address_is_refused(
    http_server: LocalServer, private_server: LocalServer
) -> None:
    dns = FakeDNS({"cdn.example": ["127.0.0.2"]})
    target = f"http://cdn.example:{private_server.port}/secret"
    url = http_server.route("/to-name", status=301, headers={"Location": target})
    with Fetcher(settings(), resolver=dns) as f:
        blocked(f, url)
    assert private_server.total_hits == 0


def test_allowed_name_connects_to_the_address_the_guard_resolved(
    http_server: LocalServer,
) -> None:
    dns = FakeDNS({"feeds.test": ["127.0.0.1"]})
    http_server.route("/feed", b"<rss/>")
    with Fetcher(settings(allow_hosts=("feeds.test",)), resolver=dns) as f:
        got = f.fetch(f"http://feeds.test:{http_server.port}/feed")
    assert got.body == b"<rss/>"
    assert http_server.requests[-1].headers["Host"] == f"feeds.test:{http_server.port}"


def test_name_resolving_to_an_allowed_address_is_still_checked(
    http_server: LocalServer,
) -> None:
    dns = FakeDNS({"sneaky.example": ["127.0.0.1"]})
    http_server.route("/feed", b"<rss/>")
    with Fetcher(settings(allow_hosts=("127.0.0.1",)), resolver=dns) as f:
        blocked(f, f"http://sneaky.example:{http_server.port}/feed")
    assert http_server.total_hits == 0


def test_localhost_is_refused_unless_allowed(http_server: LocalServer) -> None:
    http_server.route("/feed", b"<rss/>")
    url = f"http://localhost:{http_server.port}/feed"
    with Fetcher(settings(allow_hosts=())) as f:
        blocked(f, url)
        blocked(f, http_server.url("/feed"))
    assert http_server.total_hits == 0
    with Fetcher(settings(allow_hosts=("localhost", "127.0.0.1"))) as f:
        assert f.fetch(url).body == b"<rss/>"


@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.2",
        "2130706434",  # decimal
        "0177.0.0.2",  # octal
        "0x7f.0.0.2",  # hex
        "0x7f000002",
        "127.2",  # short form
        "[::ffff:127.0.0.2]",
        "[::ffff:7f00:2]",
        "[::127.0.0.2]",
        "[::1]",
        "0.0.0.0",
    ],
)
def test_loopback_literals_in_every_form_are_refused(
    private_server: LocalServer, host: str
) -> None:
    with Fetcher(settings(), resolver=_no_dns) as f:
        blocked(f, f"http://{host}:{private_server.port}/secret")
    assert private_server.total_hits == 0


def test_dns_failure_is_a_network_error() -> None:
    with Fetcher(settings(), resolver=FakeDNS({})) as f, pytest.raises(FetchError) as caught:
        f.fetch("http://no-such-host.example/feed")
    assert caught.value.code == "network"
    assert "no-such-host.example" in str(caught.value)


def test_stuck_dns_lookup_is_cut_by_the_timeout() -> None:
    release = threading.Event()

    def stuck(host: str, port: int) -> Sequence[str]:
        release.wait(5.0)
        return ["127.0.0.1"]

    try:
        with Fetcher(settings(timeout_s=0.3, deadline_s=0.6), resolver=stuck) as f:
            started = time.monotonic()
            with pytest.raises(FetchError) as caught:
                f.fetch("http://stuck-dns.example/feed")
            assert caught.value.code == "timeout"
            assert time.monotonic() - started < 2.0
    finally:
        release.set()


# -- literals of other ranges: refused before any transport ------------------------------------


class RecordingTransport(httpx.MockTransport):
    def __init__(self) -> None:
        self.calls: list[str] = []
        super().__init__(self._answer)

    def _answer(self, request: httpx.Request) -> httpx.Response:
        self.calls.append(str(request.url))
        return httpx.Response(200, content=b"reached")


@pytest.mark.parametrize(
    "host",
    [
        "10.0.0.1",
        "172.16.5.4",
        "192.168.1.1",
        "169.254.169.254",  # cloud metadata
        "100.64.0.1",  # shared address space
        "224.0.0.1",
        "255.255.255.255",
        "[fd00:ec2::254]",  # cloud metadata, IPv6
        "[fe80::1]",
        "[fe80::1%25eth0]",
        "[fc00::1]",
        "[ff02::1]",
        "[64:ff9b::a00:1]",  # NAT64 of 10.0.0.1
        "[64:ff9b:1::a00:1]",
        "[2002:a00:1::1]",  # 6to4 of 10.0.0.1
        "[2001:0:4136:e378:8000:63bf:3fff:fdd2]",  # Teredo
        "[2001:10::1]",  # ORCHID
        "[::ffff:10.0.0.1]",
        "167772161",  # 10.0.0.1 as a number
        "0xa9.0xfe.0xa9.0xfe",  # 169.254.169.254 in hex
    ],
)
def test_private_and_special_literals_are_refused_before_connecting(host: str) -> None:
    transport = RecordingTransport()
    with Fetcher(settings(), transport=transport, resolver=_no_dns) as f:
        blocked(f, f"http://{host}/latest/meta-data/")
    assert transport.calls == []


def test_allow_list_accepts_addresses_and_networks() -> None:
    allow = AllowList.from_entries(["127.0.0.1", "10.1.0.0/16", "[::1]", "Feeds.Test."])
    assert allow.permits("127.0.0.1") and allow.permits("2130706433")
    assert allow.permits("10.1.2.3") and not allow.permits("10.2.0.1")
    assert allow.permits("[::1]") and allow.permits("feeds.test")
    assert not allow.permits("127.0.0.2") and not allow.permits("other.test")


def test_guard_checks_every_resolved_address() -> None:
    guard = AddressGuard(AllowList(), FakeDNS({"mixed.example": ["93.184.216.34", "10.0.0.7"]}))
    with pytest.raises(BlockedAddressError, match=r"10\.0\.0\.7"):
        guard.addresses("mixed.example", 80)
    public = AddressGuard(AllowList(), FakeDNS({"ok.example": ["93.184.216.34"]}))
    assert public.addresses("ok.example", 80) == ["93.184.216.34"]


# -- property: every form of a denied address is denied ----------------------------------------

_DENIED_V4 = [
    ipaddress.ip_network(n)
    for n in (
        "0.0.0.0/8",
        "10.0.0.0/8",
        "100.64.0.0/10",
        "127.0.0.0/8",
        "169.254.0.0/16",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "198.18.0.0/15",
        "224.0.0.0/4",
        "240.0.0.0/4",
    )
]


@st.composite
def denied_v4(draw: st.DrawFn) -> ipaddress.IPv4Address:
    network = draw(st.sampled_from(_DENIED_V4))
    offset = draw(st.integers(0, network.num_addresses - 1))
    return ipaddress.IPv4Address(int(network.network_address) + offset)


def _v4_forms(address: ipaddress.IPv4Address) -> list[str]:
    octets = [int(o) for o in str(address).split(".")]
    value = int(address)
    return [
        str(address),
        str(value),
        hex(value),
        ".".join(f"0{o:o}" for o in octets),
        ".".join(hex(o) for o in octets),
        f"{octets[0]}.{value & 0xFFFFFF}",
        f"{octets[0]}.{octets[1]}.{value & 0xFFFF}",
        f"[::ffff:{address}]",
        f"[::ffff:{value >> 16:x}:{value & 0xFFFF:x}]",
        f"[64:ff9b::{address}]",
        f"[64:ff9b:1::{address}]",
        f"[2002:{value >> 16:x}:{value & 0xFFFF:x}::1]",
    ]


def _transport_never_called(request: httpx.Request) -> httpx.Response:
    raise AssertionError(f"a denied address reached the transport: {request.url}")


@hsettings(max_examples=200, deadline=None)
@given(address=denied_v4(), pick=st.integers(0, 11))
def test_every_form_of_a_denied_ipv4_address_is_refused(
    address: ipaddress.IPv4Address, pick: int
) -> None:
    form = _v4_forms(address)[pick]
    decoded = parse_ip_host(form)
    assert decoded is not None and deny_reason(decoded) is not None
    transport = httpx.MockTransport(_transport_never_called)
    fetcher = Fetcher(settings(allow_hosts=()), transport=transport, resolver=_no_dns)
    with fetcher, pytest.raises(BlockedAddressError):
        fetcher.fetch(f"http://{form}:8080/x")


@given(st.ip_addresses(v=6))
def test_no_ipv6_wrapper_of_a_private_address_is_global_to_the_guard(
    address: ipaddress.IPv6Address,
) -> None:
    """NAT64, 6to4, Teredo and mapped forms are denied whatever they wrap."""
    wrappers: list[Callable[[ipaddress.IPv6Address], bool]] = [
        lambda a: a in ipaddress.ip_network("64:ff9b::/96"),
        lambda a: a in ipaddress.ip_network("2002::/16"),
        lambda a: a.ipv4_mapped is not None,
        lambda a: a.teredo is not None,
    ]
    if any(check(address) for check in wrappers):
        assert deny_reason(address) is not None


@given(st.ip_addresses(v=4))
def test_decimal_form_denotes_the_same_address(address: ipaddress.IPv4Address) -> None:
    assert parse_ip_host(str(int(address))) == address
    assert parse_ip_host(hex(int(address))) == address
