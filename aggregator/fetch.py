"""The only network code of newsagg: one guarded, polite, bounded HTTP GET at a time.

``Fetcher.fetch(url)`` returns a :class:`~aggregator.types.FetchedResponse` or raises
:class:`~aggregator.errors.FetchError` whose ``code`` is one of:

=====================  ==================================================================
``timeout``            connect/read timeout, or the request's wall-clock deadline passed
``too_large``          Content-Length, raw bytes or *decoded* bytes over ``max_bytes``
``too_many_redirects`` more than ``max_redirects`` hops (loops included)
``blocked_address``    the SSRF guard refused an address (BlockedAddressError)
``bad_scheme``         a URL or redirect that is not http/https (BlockedAddressError)
``bad_url``            a URL or Location that cannot be parsed, or an invalid numeric host
``tls``                TLS handshake or certificate failure (never retried without TLS)
``network``            DNS failure, connection refused or reset, broken HTTP framing
``bad_encoding``       unknown Content-Encoding, or corrupt/truncated compressed data
``rate_limited``       429, or 503 with Retry-After (``retry_after_s`` set when parseable)
``server_error``       other 5xx
``blocked``            403 (or 503) anti-bot challenge: Cloudflare, DataDome, "Just a moment..."
``forbidden``          a plain 403
``not_found``          404
``gone``               410
``client_error``       other 4xx
``bad_status``         any other non-success status (a 3xx without Location, a 1xx ...)
``empty_body``         a 2xx with an empty body
=====================  ==================================================================

Every message names the URL (and the redirect hop when it differs); ``status`` is set when a
response was received; ``retry_after_s`` is set from Retry-After on any error response
(seconds or an HTTP date; garbage gives None). Credentials in URLs (user:password@, and the
values of query parameters named like ``token``, ``api_key``, ``signature`` ...) are masked in
messages and logs.

What one request does:

- The scheme of the URL and of every redirect target must be http or https; IP-literal hosts
  are checked before anything is sent, and every connection, on every hop, goes through the
  SSRF guard of ``aggregator._netguard`` (resolve, check every address, connect to a checked
  one) unless its host is in ``allow_hosts``. An injected ``transport`` replaces that guard:
  only the scheme and IP-literal checks remain, so inject one in tests only. Proxy variables
  (HTTP_PROXY ...) are ignored on purpose: a proxy would connect where the guard cannot see.
- Redirects are followed by hand, at most ``max_redirects`` of them.
- ``timeout_s`` bounds the DNS lookup, connecting and every read; ``deadline_s`` bounds the
  whole request, redirects included, checked on every read and every body chunk. Time spent
  waiting for the per-host gate below does not count against the deadline.
- Per host (name as in the URL): at most ``per_host_concurrency`` requests in flight and
  request starts ``per_host_delay_s`` apart, for every hop and every robots.txt fetch.
- The body is read raw and decoded here (gzip, deflate, br) with bounded decoders, so the
  ``max_bytes`` cap bounds memory whatever the body expands to. Nothing partial is returned.
- Conditional GET: If-None-Match / If-Modified-Since from the validators, unless
  ``unconditional``. A 304, or a 2xx whose sha256 (hex, of the decoded body) equals
  ``validators.body_hash``, gives ``not_modified=True`` (a 304 has an empty body).

``robots_allows(url)`` reads ``/robots.txt`` of the URL's origin through the same path and
caches it for ``robots_ttl_s``; rules are matched as ``aggregator._robots`` describes, for the
product token of our User-Agent. A 2xx is parsed (the first 512 KiB); a 4xx other than 429
means no robots.txt: allow (RFC 9309 2.3.1.3). A 5xx, a 429 or a network failure means
"unreachable": the last rules fetched successfully are used when there are any, else we
*allow*, as this project chose; note that RFC 9309 2.3.1.4 asks for complete disallow there.
That result is cached for at most ``_UNREACHABLE_TTL_S`` (5 minutes).
"""

from __future__ import annotations

import hashlib
import logging
import ssl
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from types import TracebackType
from typing import Self
from urllib.parse import SplitResult, urljoin, urlsplit, urlunsplit

import httpcore
import httpx

from aggregator import _decode, _robots, _status
from aggregator._call import Call, basic_auth, redact
from aggregator._netguard import AddressGuard, AllowList, Resolver, system_resolver
from aggregator._polite import Budget, Budgets, HostGate
from aggregator._transport import GuardedBackend, GuardedTransport
from aggregator.errors import BlockedAddressError, FetchError, OriginPaused
from aggregator.settings import FetchSettings
from aggregator.types import FetchedResponse, Validators

logger = logging.getLogger(__name__)

FEED_ACCEPT = (
    "application/rss+xml, application/atom+xml, application/feed+json, application/rdf+xml,"
    " application/xml;q=0.9, text/xml;q=0.9, application/json;q=0.8, text/html;q=0.7,"
    " */*;q=0.5"
)
HTML_ACCEPT = "text/html, application/xhtml+xml, application/xml;q=0.9, */*;q=0.5"
ROBOTS_ACCEPT = "text/plain, */*;q=0.5"
ROBOTS_MAX_BYTES = 512 * 1024
_PEEK_BYTES = 64 * 1024  # read of an error body, to recognise a challenge page
_UNREACHABLE_TTL_S = 300.0
_LOOKUP_THREADS = 4  # DNS lookups in flight at once; a stuck one only costs its thread


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class _Answer:
    """The last hop of an exchange, its body read (or not) and the connection closed."""

    final_url: str
    status: int
    headers: httpx.Headers
    body: bytes


@dataclass(frozen=True, slots=True)
class _RobotsEntry:
    rules: _robots.RobotsRules
    expires_at: float
    fetched: bool  # rules come from a robots.txt that was read (or known absent)


class Fetcher:
    """Thread-safe HTTP GETs for the pipeline's feed workers; see the module docstring."""

    def __init__(
        self,
        settings: FetchSettings,
        *,
        transport: httpx.BaseTransport | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], datetime] = _utc_now,
        resolver: Resolver = system_resolver,
        ssl_context: ssl.SSLContext | None = None,
        sleep: Callable[[float], None] = time.sleep,
        host_schedule: Callable[[str, float], float] | None = None,
    ) -> None:
        self._settings = settings
        self._clock = clock
        self._wall_clock = wall_clock
        self._lookups = ThreadPoolExecutor(_LOOKUP_THREADS, thread_name_prefix="newsagg-dns")
        allow = AllowList.from_entries(settings.allow_hosts)
        self._guard = AddressGuard(allow, resolver, self._lookups)
        self._budgets = Budgets()
        self._gate = HostGate(
            settings.per_host_delay_s,
            settings.per_host_concurrency,
            clock,
            sleep,
            shared=host_schedule,
        )
        self._transport = transport or GuardedTransport(
            GuardedBackend(self._guard, self._budgets.remaining),
            ssl_context or httpx.create_ssl_context(),
        )
        self._robots: dict[str, _RobotsEntry] = {}
        self._robots_lock = threading.Lock()
        self._origin_locks: dict[str, threading.Lock] = {}

    # -- public API -------------------------------------------------------------------

    def fetch(
        self,
        url: str,
        *,
        validators: Validators | None = None,
        accept: str = FEED_ACCEPT,
        resource: str = "",
        unconditional: bool = False,
        fingerprint: bool = True,
    ) -> FetchedResponse:
        """GET ``url``; raises FetchError (see the module docstring for the codes).
        ``fingerprint=False``: no ``body_hash`` (a SHA-256 of the body, which only feeds keep
        to tell an unchanged body from a new one: ~0.14 ms a 170 kB page)."""
        fetched_at = self._wall_clock()
        started = self._clock()
        sent = None if unconditional else validators
        call = self._call(url, resource)
        answer = self._exchange(call, self._headers(accept, sent))
        self._raise_for_status(call, answer)
        response = self._response(
            call, answer, validators, fetched_at, started, fingerprint=fingerprint
        )
        logger.debug(
            "fetched url=%s final_url=%s status=%d bytes=%d not_modified=%s elapsed_s=%.3f",
            redact(url),
            redact(answer.final_url),
            answer.status,
            len(answer.body),
            response.not_modified,
            response.elapsed_s,
        )
        return response

    def robots_allows(self, url: str) -> bool:
        """May our User-Agent fetch ``url`` per its origin's robots.txt? Never raises for
        network trouble (see the module docstring); raises FetchError for a URL that cannot
        be fetched at all (bad_url, bad_scheme, blocked_address of an IP literal)."""
        if not self._settings.respect_robots:
            return True
        parts = self._checked(url, self._call(url, ""))
        origin = _origin(parts)
        with self._origin_lock(origin):
            entry = self._robots.get(origin)
            if entry is None or entry.expires_at <= self._clock():
                entry = self._load_robots(origin, entry)
                with self._robots_lock:
                    self._robots[origin] = entry
        return entry.rules.allows(url)

    def close(self) -> None:
        """Close the connection pool (also an injected transport)."""
        self._transport.close()
        self._lookups.shutdown(wait=False, cancel_futures=True)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- one exchange: redirects, deadline, politeness ----------------------------------

    def _call(self, url: str, resource: str, limit: int | None = None) -> Call:
        """A new request: its deadline starts now."""
        budget = Budget(self._clock, self._clock() + self._settings.deadline_s)
        return Call(url, resource, budget, limit or self._settings.max_bytes)

    def _exchange(self, call: Call, headers: dict[str, str]) -> _Answer:
        """GET with redirects followed by hand; returns the final hop with its body read
        (only a prefix for error statuses, nothing for a 304)."""
        with self._budgets.running(call.budget):
            for _ in range(self._settings.max_redirects + 1):
                parts = self._checked(call.hop_url, call)
                answer, location = self._hop(call, parts, headers)
                if location is None:
                    return answer
                call.hop_url = urljoin(answer.final_url, location)
        limit_text = f"more than {self._settings.max_redirects} redirects"
        raise call.error(limit_text, "too_many_redirects")

    def _hop(
        self, call: Call, parts: SplitResult, headers: dict[str, str]
    ) -> tuple[_Answer, str | None]:
        try:
            request = self._request(call, parts, headers)
        except httpx.InvalidURL as exc:
            raise call.error(f"bad URL: {exc}", "bad_url") from exc
        self._refuse_if_paused(call, parts)
        with self._gate.slot((parts.hostname or "").lower()) as waited:
            call.budget.extend(waited)
            try:
                response = self._transport.handle_request(request)
                try:
                    return self._read(call, response)
                finally:
                    response.close()
            except _TRANSPORT_ERRORS as exc:
                raise self._transport_error(call, exc) from exc
            except BlockedAddressError as exc:
                raise call.error(exc.message, exc.code) from exc

    def _refuse_if_paused(self, call: Call, parts: SplitResult) -> None:
        """A server that answered 429/503 with Retry-After pauses its whole origin: no request
        to it (feeds, pages, robots.txt) until the pause is over; nothing is sent."""
        left = self._gate.paused_for(_origin(parts))
        if left > 0:
            said = call.error(f"the server asked for a pause, {left:.0f} s left", "rate_limited")
            raise OriginPaused(said.message, resource=said.resource, retry_after_s=left)

    def _request(self, call: Call, parts: SplitResult, headers: dict[str, str]) -> httpx.Request:
        wait = max(0.001, min(self._settings.timeout_s, call.budget.remaining()))
        timeout = httpx.Timeout(wait, pool=self._settings.timeout_s)
        headers = dict(headers)
        auth = basic_auth(parts, call.url)
        if auth:
            headers["Authorization"] = auth
        netloc = parts.netloc.rpartition("@")[2]
        plain = urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, ""))
        return httpx.Request(
            "GET", plain, headers=headers, extensions={"timeout": timeout.as_dict()}
        )

    def _read(self, call: Call, response: httpx.Response) -> tuple[_Answer, str | None]:
        status, headers = response.status_code, response.headers
        if 200 <= status < 300:
            return _Answer(call.hop_url, status, headers, self._body(call, response)), None
        # Drained (a bounded prefix) so that the connection can be reused, not reset.
        head = _peek(response, call.budget)
        location = headers.get("location", "").strip()
        if status in _status.REDIRECT_STATUSES and location:
            return _Answer(call.hop_url, status, headers, b""), location
        return _Answer(call.hop_url, status, headers, head), None

    def _body(self, call: Call, response: httpx.Response) -> bytes:
        status = response.status_code
        declared = _status.content_length(response.headers)
        if declared is not None and declared > call.limit and not call.truncate:
            message = f"Content-Length {declared} over the {call.limit}-byte cap"
            raise call.error(message, "too_large", status)

        def tick() -> None:
            if call.budget.expired():
                deadline = f"deadline of {self._settings.deadline_s:g} s passed"
                raise call.error(deadline, "timeout", status)

        encoding = response.headers.get("content-encoding")
        try:
            return _decode.read_decoded(
                response.iter_raw(), encoding, call.limit, truncate=call.truncate, tick=tick
            )
        except _decode.BodyTooLarge as exc:
            raise call.error(f"body {exc}", "too_large", status) from exc
        except _decode.BadEncoding as exc:
            raise call.error(str(exc), "bad_encoding", status) from exc

    # -- results and errors -----------------------------------------------------------------

    def _raise_for_status(self, call: Call, answer: _Answer) -> None:
        code = _status.error_code(answer.status, answer.headers, answer.body)
        if code is None and 200 <= answer.status < 300 and not answer.body:
            code = "empty_body"
        if code is None:
            return
        retry_after = _status.parse_retry_after(
            answer.headers.get("retry-after"), self._wall_clock()
        )
        what = "empty body" if code == "empty_body" else f"HTTP {answer.status}"
        error = call.error(what, code, answer.status)
        error.retry_after_s = retry_after
        if code == "rate_limited" and retry_after:
            pause = min(retry_after, self._settings.max_host_pause_s)
            self._gate.pause(_origin(urlsplit(answer.final_url)), pause)
        raise error

    def _response(
        self,
        call: Call,
        answer: _Answer,
        validators: Validators | None,
        fetched_at: datetime,
        started: float,
        *,
        fingerprint: bool,
    ) -> FetchedResponse:
        headers = answer.headers
        old = validators or Validators()
        if answer.status == 304:
            body_hash = old.body_hash
            not_modified = True
        elif fingerprint:
            body_hash = hashlib.sha256(answer.body).hexdigest()
            not_modified = body_hash == old.body_hash
        else:
            body_hash, not_modified = None, False
        kept = answer.status == 304
        return FetchedResponse(
            url=call.url,
            final_url=answer.final_url,
            status=answer.status,
            headers=dict(headers.items()),
            body=answer.body,
            fetched_at=fetched_at,
            elapsed_s=self._clock() - started,
            not_modified=not_modified,
            etag=headers.get("etag") or (old.etag if kept else None),
            last_modified=headers.get("last-modified") or (old.last_modified if kept else None),
            body_hash=body_hash,
            content_type=headers.get("content-type"),
        )

    def _checked(self, current: str, call: Call) -> SplitResult:
        """Parse a URL (or redirect target) and refuse a bad scheme or an IP-literal host
        that the guard denies, before anything is sent."""
        try:
            parts = urlsplit(current.strip())
            host = parts.hostname
            _ = parts.port  # raises ValueError for a bad port
        except ValueError as exc:
            raise call.error(f"bad URL: {exc}", "bad_url") from exc
        if parts.scheme not in ("http", "https"):
            message = f"scheme {parts.scheme or '(none)'!r} is not http or https"
            raise call.error(message, "bad_scheme")
        if not host:
            raise call.error("URL has no host", "bad_url")
        try:
            self._guard.precheck(host)
        except ValueError as exc:
            raise call.error(str(exc), "bad_url") from exc
        except BlockedAddressError as exc:
            raise call.error(exc.message, exc.code) from exc
        return parts

    @staticmethod
    def _transport_error(call: Call, exc: Exception) -> FetchError:
        if isinstance(exc, httpx.TimeoutException | httpcore.TimeoutException):
            what = "deadline passed" if call.budget.expired() else "timed out"
            return call.error(f"{what} ({exc})", "timeout")
        if _status.is_tls_error(exc):
            return call.error(f"TLS error: {exc}", "tls")
        detail = str(exc) or type(exc).__name__
        return call.error(f"network error: {detail}", "network")

    def _headers(self, accept: str, validators: Validators | None) -> dict[str, str]:
        headers = {
            "User-Agent": self._settings.user_agent,
            "Accept": accept,
            "Accept-Encoding": _decode.accept_encoding(),
        }
        if validators is not None and validators.etag:
            headers["If-None-Match"] = validators.etag
        if validators is not None and validators.last_modified:
            headers["If-Modified-Since"] = validators.last_modified
        return headers

    # -- robots.txt ---------------------------------------------------------------------

    def _origin_lock(self, origin: str) -> threading.Lock:
        with self._robots_lock:
            return self._origin_locks.setdefault(origin, threading.Lock())

    def _load_robots(self, origin: str, previous: _RobotsEntry | None) -> _RobotsEntry:
        now = self._clock()
        ttl = self._settings.robots_ttl_s
        call = self._call(origin + "/robots.txt", "", ROBOTS_MAX_BYTES)
        call.truncate = True
        try:
            answer = self._exchange(call, self._headers(ROBOTS_ACCEPT, None))
        except FetchError as exc:
            logger.debug("robots unreachable origin=%s code=%s", origin, exc.code)
            if isinstance(exc, OriginPaused):  # nothing learnt: ask again after the pause
                return _unreachable(previous, now)
            return _unreachable(previous, now + min(ttl, _UNREACHABLE_TTL_S))
        if 200 <= answer.status < 300:
            text = answer.body.decode("utf-8", errors="replace")
            rules = _robots.parse_robots(text, self._settings.user_agent)
            return _RobotsEntry(rules, now + ttl, fetched=True)
        if 400 <= answer.status < 500 and answer.status != 429:
            return _RobotsEntry(_robots.ALLOW_ALL, now + ttl, fetched=True)
        logger.debug("robots unreachable origin=%s status=%d", origin, answer.status)
        return _unreachable(previous, now + min(ttl, _UNREACHABLE_TTL_S))


_TRANSPORT_ERRORS = (httpx.TransportError, httpcore.TimeoutException, httpcore.NetworkError)


def _peek(response: httpx.Response, budget: Budget) -> bytes:
    """The first bytes of an error page; whatever goes wrong, what could be read."""

    def tick() -> None:
        if budget.expired():
            raise _decode.BodyTooLarge("deadline passed")

    encoding = response.headers.get("content-encoding")
    try:
        return _decode.read_decoded(
            response.iter_raw(), encoding, _PEEK_BYTES, truncate=True, tick=tick
        )
    except (_decode.BodyTooLarge, _decode.BadEncoding, httpx.TransportError):
        return b""


def _unreachable(previous: _RobotsEntry | None, expires_at: float) -> _RobotsEntry:
    if previous is not None and previous.fetched:
        return _RobotsEntry(previous.rules, expires_at, fetched=True)
    return _RobotsEntry(_robots.ALLOW_ALL, expires_at, fetched=False)


def _origin(parts: SplitResult) -> str:
    """``scheme://host:port`` without credentials: what a Retry-After pauses."""
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2].lower()}"
