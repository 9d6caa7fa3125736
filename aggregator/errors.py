"""One exception tree for newsagg.

Every error names the resource it concerns and carries a stable ``code`` that is stored on
feeds, shown in the UI and counted in metrics::

    NewsaggError                    code: str, resource: str
    ├── ConfigError                 a setting or an outlets/lexicon file is invalid
    ├── InputError                  a bad line of user input (JSONL import), with its line number
    ├── FetchError                  network fetch failed (code: timeout, too_large, ...)
    │   ├── BlockedAddressError     refused by the SSRF guard (code: blocked_address, bad_scheme)
    │   └── OriginPaused            not sent: the origin asked for a pause (code: rate_limited)
    ├── ParseError                  feed bytes could not be read (empty_body, not_a_feed, ...)
    ├── ExtractError                page extraction failed (extract_timeout, extract_crashed)
    ├── StorageError                the database refused or failed
    │   ├── NotFoundError           a requested row does not exist
    │   └── ConflictError           a concurrent change or a violated invariant
    └── DedupError                  bad parameters or signatures for the dedup engine

Codes are short snake_case words; ``str(err)`` reads "<resource>: <message>".
"""

from __future__ import annotations


class NewsaggError(Exception):
    """Base of every error newsagg raises on purpose."""

    default_code = "error"

    def __init__(self, message: str, *, code: str | None = None, resource: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.code = code or self.default_code
        self.resource = resource

    def __str__(self) -> str:
        return f"{self.resource}: {self.message}" if self.resource else self.message


class ConfigError(NewsaggError):
    default_code = "config"


class InputError(NewsaggError):
    default_code = "bad_input"

    def __init__(self, message: str, *, line: int | None = None, resource: str = "") -> None:
        where = f"{resource}:{line}" if line is not None else resource
        super().__init__(message, resource=where)
        self.line = line


class FetchError(NewsaggError):
    """A fetch failed. ``retry_after_s`` carries a server's Retry-After, when it gave one."""

    default_code = "network"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        resource: str = "",
        status: int | None = None,
        retry_after_s: float | None = None,
    ) -> None:
        super().__init__(message, code=code, resource=resource)
        self.status = status
        self.retry_after_s = retry_after_s


class BlockedAddressError(FetchError):
    default_code = "blocked_address"


class OriginPaused(FetchError):
    """Nothing was sent: a 429/503 with Retry-After from this origin still holds
    (``retry_after_s``: what is left of it)."""

    default_code = "rate_limited"


class ParseError(NewsaggError):
    default_code = "parse_failed"


class ExtractError(NewsaggError):
    default_code = "extract_failed"


class StorageError(NewsaggError):
    default_code = "storage"


class NotFoundError(StorageError):
    default_code = "not_found"


class ConflictError(StorageError):
    default_code = "conflict"


class DedupError(NewsaggError):
    default_code = "dedup"
