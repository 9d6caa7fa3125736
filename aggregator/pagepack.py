"""The fetched page as it is stored: compressed, so articles can be extracted again later.

``pack`` writes a zstd frame (level 1): about 0.45 ms for a 170 kB news page and 21 % of its
size, where gzip at level 3 took 1.7 ms for 22 % (measured in the same run); compressing
every page in the fetch threads was a twentieth of the pipeline's CPU. ``unpack`` reads zstd
frames and the gzip members that earlier versions stored, never past ``limit`` bytes of output
(a stored page was at most the size cap when it was fetched, but the database is not trusted
to say so).
"""

from __future__ import annotations

import threading
import zlib

import zstandard

from aggregator.errors import NewsaggError

LEVEL = 1
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
GZIP_MAGIC = b"\x1f\x8b"
_local = threading.local()  # a zstd context serves one thread at a time


class PackError(NewsaggError):
    default_code = "bad_stored_page"


def pack(html: bytes) -> bytes:
    """``html`` compressed for storage (a zstd frame that records its size)."""
    compressor = getattr(_local, "compressor", None)
    if compressor is None:
        compressor = _local.compressor = zstandard.ZstdCompressor(level=LEVEL)
    packed: bytes = compressor.compress(html)
    return packed


def unpack(data: bytes, limit: int) -> bytes:
    """The page ``data`` holds (zstd, or gzip from earlier versions), at most ``limit`` bytes;
    raises ``PackError`` for anything else, a damaged stream or a page over ``limit``."""
    if data.startswith(ZSTD_MAGIC):
        return _unzstd(data, limit)
    if data.startswith(GZIP_MAGIC):
        return _gunzip(data, limit)
    raise PackError("stored page is neither zstd nor gzip")


def _unzstd(data: bytes, limit: int) -> bytes:
    out = bytearray()
    reader = zstandard.ZstdDecompressor().stream_reader(data)
    try:
        while chunk := reader.read(65536):
            out += chunk
            if len(out) > limit:
                raise PackError(f"stored page is over {limit} bytes")
    except zstandard.ZstdError as exc:
        raise PackError(f"stored page is damaged: {exc}") from exc
    return bytes(out)


def _gunzip(data: bytes, limit: int) -> bytes:
    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    try:
        out = inflater.decompress(data, limit + 1)
    except zlib.error as exc:
        raise PackError(f"stored page is damaged: {exc}") from exc
    if len(out) > limit or inflater.unconsumed_tail:
        raise PackError(f"stored page is over {limit} bytes")
    if not inflater.eof:
        raise PackError("stored page is damaged: the gzip stream is cut")
    return out
