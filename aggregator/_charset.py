"""Turn a feed's bytes into text: which character encoding, in which order of trust.

1. A byte order mark (UTF-8/16/32), or the UTF-16/32 pattern of ``<?`` when there is none.
2. Valid UTF-8 that contains non-ASCII bytes is UTF-8, whatever a label says: legacy text is
   practically never valid UTF-8 by accident, while feeds that declare ``ISO-8859-1`` or
   ``windows-1252`` but are UTF-8 are common.
3. The labels, in this order: the ``charset`` of the Content-Type header, the XML declaration,
   an HTML ``<meta charset>``; the first label that names a known codec and decodes the bytes
   without error wins. ``ISO-8859-1``/``US-ASCII`` labels are read as windows-1252 (as browsers
   do), ``GB2312`` as GB18030. A header saying ISO-8859-1/US-ASCII/windows-1252 (what many
   servers send by default) yields to an XML declaration that names another encoding.
4. Detection: UTF-8, then charset-normalizer when it sees a non-Latin script (Cyrillic,
   Greek, CJK ...), then windows-1252, then ISO-8859-1 (which decodes anything).
"""

from __future__ import annotations

import codecs
import re
import unicodedata
from dataclasses import dataclass
from types import MappingProxyType

from charset_normalizer import from_bytes

_BOMS = (
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
)
_MARKERS = (
    (b"\x00\x00\x00\x3c", "utf-32-be"),
    (b"\x3c\x00\x00\x00", "utf-32-le"),
    (b"\x00\x3c\x00\x3f", "utf-16-be"),
    (b"\x3c\x00\x3f\x00", "utf-16-le"),
)
_XML_ENCODING = re.compile(rb"""^\s*<\?xml[^>]{0,200}?encoding\s*=\s*["']([A-Za-z0-9._:-]{1,40})""")
_META_CHARSET = re.compile(
    rb"""<meta[^>]{0,200}?charset\s*=\s*["']?\s*([A-Za-z0-9._:-]{1,40})""", re.IGNORECASE
)
_LEGACY_ALIASES = MappingProxyType({"iso8859_1": "cp1252", "ascii": "cp1252", "gb2312": "gb18030"})
_WIDE = ("utf_16", "utf_16_be", "utf_16_le", "utf_32", "utf_32_be", "utf_32_le")
_DETECT_LIMIT = 64 * 1024


@dataclass(frozen=True, slots=True)
class Decoded:
    text: str
    encoding: str  # Python codec name actually used
    source: str  # "bom", "utf-8", "header", "xml", "meta", "detected"


def content_type_charset(content_type: str) -> str | None:
    """The ``charset`` parameter of a Content-Type header value, if any."""
    for param in content_type.split(";")[1:]:
        key, _, value = param.partition("=")
        if key.strip().lower() == "charset":
            return value.strip().strip("\"'") or None
    return None


def decode_document(body: bytes, content_type: str = "") -> Decoded:
    """Decode ``body`` (see the module docstring for the order of trust)."""
    for bom, encoding in _BOMS:
        if body.startswith(bom):
            text = body[len(bom) :].decode(encoding, "replace")
            return Decoded(text, encoding, "bom")
    wide = _sniff_wide(body)
    if wide is not None:
        return Decoded(body.decode(wide, "replace"), wide, "bom")
    if not body.isascii():
        try:
            return Decoded(body.decode("utf-8"), "utf-8", "utf-8")
        except UnicodeDecodeError:
            pass
    for codec, source in _candidates(body, content_type):
        try:
            return Decoded(body.decode(codec), codec, source)
        except UnicodeDecodeError:
            continue
    return _detect(body)


def _sniff_wide(body: bytes) -> str | None:
    """UTF-16/32 without a byte order mark: ``<?`` in that encoding, or a NUL in every other
    byte at the start (ASCII text in UTF-16)."""
    for marker, encoding in _MARKERS:
        if body.startswith(marker):
            return encoding
    head = body[:8]
    if len(head) == 8 and head[0::2] == b"\0" * 4 and b"\0" not in head[1::2]:
        return "utf-16-be"
    if len(head) == 8 and head[1::2] == b"\0" * 4 and b"\0" not in head[0::2]:
        return "utf-16-le"
    return None


def _candidates(body: bytes, content_type: str) -> list[tuple[str, str]]:
    """(codec, source) to try in order. A Latin-1/ASCII header charset (the old HTTP default
    many servers send without looking) yields to an XML declaration that names another."""
    found = [
        (codec, source) for label, source in _labels(body, content_type) if (codec := _codec(label))
    ]
    if (
        len(found) > 1
        and found[0] == ("cp1252", "header")
        and found[1][1] == "xml"
        and found[1][0] != "cp1252"
    ):
        found[0], found[1] = found[1], found[0]
    return found


def _labels(body: bytes, content_type: str) -> list[tuple[str, str]]:
    labels: list[tuple[str, str]] = []
    header = content_type_charset(content_type)
    if header:
        labels.append((header, "header"))
    head = body[:1024]
    match = _XML_ENCODING.match(head)
    if match:
        labels.append((match.group(1).decode("ascii"), "xml"))
    match = _META_CHARSET.search(body[:_DETECT_LIMIT])
    if match:
        labels.append((match.group(1).decode("ascii"), "meta"))
    return labels


def _codec(label: str) -> str | None:
    """The Python codec for a charset label; None when unknown or not ASCII-compatible (the
    bytes were found to be ASCII-compatible, so a UTF-16/32 label is wrong)."""
    try:
        name = codecs.lookup(label.strip().lower()).name.replace("-", "_")
    except LookupError:
        return None
    if name in _WIDE:
        return None
    return _LEGACY_ALIASES.get(name, name)


def _detect(body: bytes) -> Decoded:
    if body.isascii():
        return Decoded(body.decode("ascii"), "ascii", "detected")
    guess = _non_latin_guess(body)
    if guess is not None:
        return Decoded(body.decode(guess, "replace"), guess, "detected")
    try:
        return Decoded(body.decode("cp1252"), "cp1252", "detected")
    except UnicodeDecodeError:
        return Decoded(body.decode("latin-1"), "latin-1", "detected")


def _non_latin_guess(body: bytes) -> str | None:
    """charset-normalizer's guess, trusted only when its letters are not Latin: on Latin text
    it often picks a wrong single-byte code page (cp1257 for Portuguese), where windows-1252
    is the better default."""
    best = from_bytes(body[:_DETECT_LIMIT]).best()
    if best is None:
        return None
    sample = str(best)
    letters = [c for c in sample if ord(c) > 0x7F and c.isalpha()]
    if not letters:
        return None
    latin = sum(1 for c in letters if unicodedata.name(c, "").startswith("LATIN"))
    if latin * 2 >= len(letters):
        return None
    return str(best.encoding)
