"""Bounded reading and decompression of a response body (private to ``aggregator.fetch``).

The body is read raw (as sent on the wire) and decoded here, never by httpx, so that the size
cap applies to the *decoded* bytes while they are produced: every decoder hands out pieces of
at most ``PIECE`` bytes, and the collector stops as soon as the running total passes the cap.
A gzip, deflate or brotli bomb therefore costs at most ``limit + PIECE`` bytes of memory and
the CPU time to produce ``limit`` bytes, whatever it would expand to.

Brotli needs ``brotli >= 1.2`` (``Decompressor.process(..., output_buffer_limit=)``); with an
older brotli the ``br`` coding is neither advertised nor accepted.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Protocol

import brotli

PIECE = 64 * 1024  # largest piece a decoder hands out at once

_GZIP_WBITS = 16 + zlib.MAX_WBITS
_ZLIB_WBITS = zlib.MAX_WBITS
_RAW_DEFLATE_WBITS = -zlib.MAX_WBITS


class BodyTooLarge(Exception):
    """The raw or decoded body passed the cap."""


class BadEncoding(Exception):
    """The Content-Encoding is unknown, or the compressed data is corrupt or incomplete."""


class _Decoder(Protocol):
    def decode(self, data: bytes) -> Iterator[bytes]: ...

    def finish(self) -> Iterator[bytes]: ...


def brotli_supported() -> bool:
    """True when the installed brotli can bound its output (brotli >= 1.2)."""
    return hasattr(brotli.Decompressor, "can_accept_more_data")


def accept_encoding() -> str:
    """The Accept-Encoding we send: only codings we can decode with bounded memory."""
    return "gzip, deflate, br" if brotli_supported() else "gzip, deflate"


class _ZlibDecoder:
    """gzip (several members allowed), zlib-wrapped deflate, or raw deflate."""

    def __init__(self, coding: str) -> None:
        self._coding = coding
        self._obj: Any = None
        self._pending = b""  # for deflate: bytes kept until the header can be sniffed
        if coding == "gzip":
            self._obj = zlib.decompressobj(_GZIP_WBITS)

    def decode(self, data: bytes) -> Iterator[bytes]:
        if self._obj is None:
            self._pending += data
            if len(self._pending) < 2:
                return
            data, self._pending = self._pending, b""
            self._obj = zlib.decompressobj(_deflate_wbits(data))
        yield from self._inflate(data)

    def _inflate(self, data: bytes) -> Iterator[bytes]:
        try:
            while True:
                out = self._obj.decompress(data, PIECE)
                data = self._obj.unconsumed_tail
                if out:
                    yield out
                if self._obj.eof:
                    data = self._next_member(data)
                if not data and len(out) < PIECE:
                    return
        except zlib.error as exc:
            raise BadEncoding(f"corrupt {self._coding} data: {exc}") from exc

    def _next_member(self, data: bytes) -> bytes:
        """After the end of a stream: gzip may go on with another member; else drop the rest."""
        rest: bytes = self._obj.unused_data + data
        if self._coding == "gzip" and rest.strip(b"\0"):
            self._obj = zlib.decompressobj(_GZIP_WBITS)
            return rest
        return b""

    def finish(self) -> Iterator[bytes]:
        if self._obj is None:
            if self._pending:
                raise BadEncoding(f"truncated {self._coding} data")
            return
        yield from self._inflate(b"")
        if not self._obj.eof:
            raise BadEncoding(f"truncated {self._coding} data")


def _deflate_wbits(head: bytes) -> int:
    """HTTP 'deflate' should be zlib-wrapped (RFC 9110) but some servers send it raw."""
    cmf, flg = head[0], head[1]
    is_zlib = cmf & 0x0F == 8 and (cmf << 8 | flg) % 31 == 0
    return _ZLIB_WBITS if is_zlib else _RAW_DEFLATE_WBITS


class _BrotliDecoder:
    def __init__(self) -> None:
        self._obj: Any = brotli.Decompressor()

    def decode(self, data: bytes) -> Iterator[bytes]:
        try:
            out: bytes = self._obj.process(data, output_buffer_limit=PIECE)
            if out:
                yield out
            while not self._obj.can_accept_more_data():
                out = self._obj.process(b"", output_buffer_limit=PIECE)
                if out:
                    yield out
        except brotli.error as exc:
            raise BadEncoding(f"corrupt br data: {exc}") from exc

    def finish(self) -> Iterator[bytes]:
        if not self._obj.is_finished():
            raise BadEncoding("truncated br data")
        return iter(())


def decoders_for(content_encoding: str | None) -> list[_Decoder]:
    """Decoders to apply, in order, for a Content-Encoding header ("gzip", "gzip, br" ...)."""
    codings = [c.strip().lower() for c in (content_encoding or "").split(",")]
    decoders: list[_Decoder] = []
    for coding in reversed([c for c in codings if c and c != "identity"]):
        if coding in ("gzip", "x-gzip"):
            decoders.append(_ZlibDecoder("gzip"))
        elif coding == "deflate":
            decoders.append(_ZlibDecoder("deflate"))
        elif coding == "br" and brotli_supported():
            decoders.append(_BrotliDecoder())
        else:
            raise BadEncoding(f"unsupported content-encoding {coding!r}")
    return decoders


def _through(decoder: _Decoder, pieces: Iterable[bytes]) -> Iterator[bytes]:
    for piece in pieces:
        yield from decoder.decode(piece)
    yield from decoder.finish()


def _capped_raw(chunks: Iterable[bytes], limit: int, truncate: bool) -> Iterator[bytes]:
    total = 0
    for chunk in chunks:
        total += len(chunk)
        if total > limit:
            if truncate:
                yield chunk[: len(chunk) - (total - limit)]
                return
            raise BodyTooLarge(f"more than {limit} bytes on the wire")
        yield chunk


def read_decoded(
    chunks: Iterable[bytes],
    content_encoding: str | None,
    limit: int,
    *,
    truncate: bool = False,
    tick: Callable[[], None] = lambda: None,
) -> bytes:
    """Decode ``chunks`` (raw body bytes) and return at most ``limit`` decoded bytes.

    Past the limit this raises :class:`BodyTooLarge`, or with ``truncate`` returns the first
    ``limit`` bytes (then a compressed body cut short is not an error). ``tick`` runs after
    every piece, raw or decoded: the caller's deadline check.
    """
    pieces: Iterable[bytes] = _ticking(_capped_raw(chunks, limit, truncate), tick)
    for decoder in decoders_for(content_encoding):
        pieces = _through(decoder, pieces)
    out = bytearray()
    try:
        for piece in _ticking(pieces, tick):
            room = limit - len(out)
            if len(piece) > room:
                if truncate:
                    out += piece[:room]
                    break
                raise BodyTooLarge(f"more than {limit} bytes once decoded")
            out += piece
    except BadEncoding:
        if not truncate:
            raise
    return bytes(out)


def _ticking(pieces: Iterable[bytes], tick: Callable[[], None]) -> Iterator[bytes]:
    for piece in pieces:
        tick()
        yield piece
