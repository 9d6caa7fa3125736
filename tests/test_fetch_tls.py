"""TLS: a failure is an error with code ``tls``, never a silent downgrade; connecting to the
address the guard checked keeps SNI and certificate checks on the URL's host name."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest

from aggregator.errors import FetchError
from aggregator.fetch import Fetcher
from tests.support.fetchkit import TLSServer, make_certificate, reset, settings
from tests.support.httpserver import LocalServer, serve

NAME = "tls.test"


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    made = make_certificate(tmp_path_factory.mktemp("tls"), NAME)
    if made is None:
        pytest.skip("the openssl command is needed to make a test certificate")
    return made


@pytest.fixture
def tls_server(certificate: tuple[Path, Path]) -> Iterator[TLSServer]:
    with TLSServer(*certificate) as server:
        yield server


@pytest.fixture
def http_server() -> Iterator[LocalServer]:
    with serve("127.0.0.1") as server:
        yield reset(server)


def resolve_test_name(host: str, port: int) -> list[str]:
    if host != NAME:
        raise OSError(f"unknown host {host}")
    return ["127.0.0.1"]


def tls_error(fetcher: Fetcher, url: str) -> FetchError:
    with pytest.raises(FetchError) as caught:
        fetcher.fetch(url)
    return caught.value


def test_https_to_a_plain_http_port_is_a_tls_error(http_server: LocalServer) -> None:
    http_server.route("/feed", b"<rss/>")
    url = f"https://127.0.0.1:{http_server.port}/feed"
    with Fetcher(settings()) as f:
        error = tls_error(f, url)
    assert error.code == "tls" and url in str(error)
    assert all(r.path != "/feed" for r in http_server.requests)  # no plain-HTTP retry


def test_self_signed_certificate_is_a_tls_error(tls_server: TLSServer) -> None:
    with Fetcher(settings(allow_hosts=(NAME,)), resolver=resolve_test_name) as f:
        error = tls_error(f, f"https://{NAME}:{tls_server.port}/feed")
    assert error.code == "tls"
    assert "certificate" in str(error).lower()


def test_trusted_certificate_is_checked_against_the_host_name_not_the_address(
    tls_server: TLSServer, certificate: tuple[Path, Path]
) -> None:
    trusting = ssl.create_default_context(cafile=str(certificate[0]))
    with Fetcher(
        settings(allow_hosts=(NAME, "127.0.0.1")),
        resolver=resolve_test_name,
        ssl_context=trusting,
    ) as f:
        got = f.fetch(f"https://{NAME}:{tls_server.port}/feed")
        assert got.body == b"secure hello"
        assert tls_server.server_names == [NAME]  # SNI carried the name, not 127.0.0.1
        mismatch = tls_error(f, f"https://127.0.0.1:{tls_server.port}/feed")
    assert mismatch.code == "tls"
