"""One request in progress, and how its errors name it (private to ``aggregator.fetch``)."""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass
from urllib.parse import SplitResult, unquote, urlsplit, urlunsplit

from aggregator._polite import Budget
from aggregator.errors import BlockedAddressError, FetchError


@dataclass(slots=True)
class Call:
    """One fetch in progress: what was asked, the hop being fetched, and its limits."""

    url: str
    resource: str
    budget: Budget
    limit: int
    truncate: bool = False  # cut the body at the limit instead of refusing it
    hop_url: str = ""

    def __post_init__(self) -> None:
        self.hop_url = self.hop_url or self.url

    def error(self, what: str, code: str, status: int | None = None) -> FetchError:
        """An error naming the URL (and the hop when it differs), never its credentials."""
        where = redact(self.url)
        if self.hop_url != self.url:
            where += f" (at {redact(self.hop_url)})"
        message = f"GET {where}: {what}"
        kind = BlockedAddressError if code in ("blocked_address", "bad_scheme") else FetchError
        return kind(message, code=code, resource=self.resource, status=status)


def basic_auth(parts: SplitResult, url: str) -> str | None:
    """Credentials written in the URL, sent only to the origin they were written for."""
    if parts.username is None:
        return None
    first = urlsplit(url)
    if (first.scheme, first.hostname, first.port) != (parts.scheme, parts.hostname, parts.port):
        return None
    pair = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
    return "Basic " + base64.b64encode(pair.encode("utf-8")).decode("ascii")


_SECRET_PARAM = re.compile(
    r"(^|&)([^=&]*(?:token|key|secret|passw|auth|sig)[^=&]*)=[^&]*", re.IGNORECASE
)


def redact(url: str) -> str:
    """The URL for messages and logs: no user:password@, and the values of query parameters
    that look like credentials (``api_key``, ``token``, ``X-Amz-Signature`` ...) masked."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url.rsplit("@", maxsplit=1)[-1]
    netloc = parts.netloc.rpartition("@")[2]
    query = _SECRET_PARAM.sub(r"\1\2=***", parts.query)
    if (netloc, query) == (parts.netloc, parts.query):
        return url
    return urlunsplit(parts._replace(netloc=netloc, query=query))
