"""Pure decisions about an HTTP answer (private to ``aggregator.fetch``): which error code a
status means, when a server said to come back, and whether a 403 is a bot challenge."""

from __future__ import annotations

import email.utils
import ssl
from collections.abc import Mapping
from datetime import UTC, datetime

REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})

# Marks of an anti-bot challenge page (Cloudflare and its kin) in the first bytes of the body.
_CHALLENGE_MARKERS = (
    b"just a moment...",
    b"/cdn-cgi/challenge-platform/",
    b"cf-browser-verification",
    b"_cf_chl_opt",
    b"cf-chl-",
    b"attention required! | cloudflare",
    b"captcha-delivery.com",
    b"checking your browser before accessing",
)


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds to wait from a Retry-After value: delta-seconds or an HTTP date (a date in the
    past gives 0). Anything else gives None."""
    if value is None:
        return None
    text = value.strip()
    if text.isascii() and text.isdigit():
        return float(int(text))
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


def is_challenge(headers: Mapping[str, str], body_head: bytes) -> bool:
    """True for an anti-bot challenge (``cf-mitigated: challenge``, a Cloudflare or DataDome
    page, "Just a moment..."), as opposed to a plain refusal."""
    if headers.get("cf-mitigated", "").strip().lower() == "challenge":
        return True
    if "x-datadome" in headers:
        return True
    lowered = body_head.lower()
    return any(marker in lowered for marker in _CHALLENGE_MARKERS)


def error_code(status: int, headers: Mapping[str, str], body_head: bytes) -> str | None:
    """The stable error code of a final (non-redirect) status, or None when it is a success."""
    if 200 <= status < 300 or status == 304:
        return None
    if status == 429 or (status == 503 and "retry-after" in headers):
        return "rate_limited"
    if status in (403, 503) and is_challenge(headers, body_head):
        return "blocked"
    if status >= 500:
        return "server_error"
    return _CLIENT_CODES.get(status, "client_error" if status >= 400 else "bad_status")


_CLIENT_CODES = {403: "forbidden", 404: "not_found", 410: "gone"}


def content_length(headers: Mapping[str, str]) -> int | None:
    value = headers.get("content-length", "").strip()
    return int(value) if value.isascii() and value.isdigit() else None


def is_tls_error(exc: BaseException) -> bool:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, ssl.SSLError | ssl.CertificateError):
            return True
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return False
