"""Page bytes -> HTML text -> one lxml tree (private to ``aggregator.extract``).

Three steps, each pure:

1. ``sniff_binary``: magic numbers of formats that are never HTML (PDF, images, archives,
   audio/video, fonts, executables).
2. ``decode_page``: bytes to ``str``. The order follows the WHATWG encoding sniffing
   algorithm: byte order mark, then the HTTP ``charset``, then a ``<meta charset>`` /
   ``http-equiv`` / XML declaration in the first bytes, then detection
   (UTF-8 if the bytes are valid UTF-8, else charset-normalizer), then UTF-8 with
   replacement characters. Two deviations, both for servers that lie:
   a declared Latin-1/ASCII/windows-1252 charset loses to UTF-8 when the bytes are valid
   UTF-8 with non-ASCII characters in them, and a declared charset that leaves more than 1 %
   replacement characters is skipped for the next candidate.
   Input over the size cap is cut at the cap, and a multi-byte character cut in half at the
   end is dropped rather than turned into garbage.
3. ``sniff_text`` and ``parse_tree``: JSON, feeds, sitemaps, SVG and binary junk are not
   HTML; the rest is parsed once with lxml's HTML parser (the settings trafilatura uses
   itself: comments and processing instructions dropped).
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterator
from dataclasses import dataclass

import lxml.etree
import lxml.html
from charset_normalizer import from_bytes

_BINARY_MAGIC: tuple[bytes, ...] = (
    b"%PDF-",
    b"\x89PNG\r\n\x1a\n",
    b"GIF87a",
    b"GIF89a",
    b"\xff\xd8\xff",  # JPEG
    b"II*\x00",  # TIFF
    b"MM\x00*",
    b"PK\x03\x04",  # zip, docx, epub
    b"\x1f\x8b",  # gzip
    b"7z\xbc\xaf",
    b"Rar!",
    b"ID3",  # mp3
    b"OggS",
    b"fLaC",
    b"\x1a\x45\xdf\xa3",  # matroska / webm
    b"wOFF",
    b"wOF2",
    b"\x00asm",
    b"\x7fELF",
    b"MZ",
    b"\xd0\xcf\x11\xe0",  # old MS Office
)
_BOMS: tuple[tuple[bytes, str], ...] = (
    (b"\xef\xbb\xbf", "utf-8-sig"),
    (b"\xff\xfe\x00\x00", "utf-32-le"),
    (b"\x00\x00\xfe\xff", "utf-32-be"),
    (b"\xff\xfe", "utf-16-le"),
    (b"\xfe\xff", "utf-16-be"),
)
_WESTERN_SINGLE_BYTE = frozenset({"latin-1", "iso8859-1", "cp1252", "ascii"})
_META_CHARSET = re.compile(
    rb"""<meta[^>]{0,512}?charset\s*=\s*["']?\s*([A-Za-z0-9_.:\-]+)""", re.IGNORECASE
)
_XML_ENCODING = re.compile(rb"""^\s*<\?xml[^>]{0,200}?encoding\s*=\s*["']([A-Za-z0-9_.:\-]+)""")
_CHARSET_PARAM = re.compile(r"""charset\s*=\s*["']?\s*([A-Za-z0-9_.:\-]+)""", re.IGNORECASE)
_PRESCAN_BYTES = 4096
_MAX_REPLACEMENT_SHARE = 0.01

_XML_DECLARATION = re.compile(r"^\s*<\?xml[^>]*\?>")
_INVALID_XML_CHARS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_INVALID_XML_BYTES = bytes([*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20)])
# U+FFFE and U+FFFF in UTF-8; a pattern, since re finds its first byte with memchr and scans a
# page in a fifth of the time of two ``in`` tests (49 against 226 us on the benchmark's pages)
_NONCHARACTERS = re.compile(b"\xef\xbf[\xbe\xbf]")
_HTML_TAG = re.compile(
    r"<(?:!doctype\s+html|html|head|body|meta|title|script|style|link|div|p|article|main|"
    r"section|header|nav|span|table|a|br|img|h[1-6]|!--)[\s>/]",
    re.IGNORECASE,
)
# Element proxies made as plain ``HtmlElement`` by a lookup in C. lxml.html's own lookup calls
# a Python method for every proxy it makes (about 1,900 a page between our checks and
# trafilatura) to give form controls their own classes, which neither uses: 3.7 % of an
# extraction's instructions, for the same output.
_ELEMENT_CLASSES = lxml.etree.ElementDefaultClassLookup(
    element=lxml.html.HtmlElement,
    comment=lxml.html.HtmlComment,
    pi=lxml.html.HtmlProcessingInstruction,
    entity=lxml.html.HtmlEntity,
)
_NOT_HTML_ROOTS = ("<rss", "<feed", "<rdf:rdf", "<urlset", "<sitemapindex", "<svg", "<opml")
_SNIFF_CHARS = 8192


@dataclass(frozen=True, slots=True)
class DecodedPage:
    """The page as text, the encoding used, and whether bytes past the cap were dropped."""

    text: str
    encoding: str
    cut: bool


def sniff_binary(data: bytes) -> bool:
    """True when the bytes start like a binary format that is never HTML."""
    head = data[:1024].lstrip()
    if head.startswith(_BINARY_MAGIC):
        return True
    # ISO base media (mp4, mov, heic): a box size then "ftyp"
    return data[4:8] == b"ftyp" or (data[:4] == b"RIFF" and data[8:12] in {b"WEBP", b"WAVE"})


def decode_page(data: bytes, content_type: str | None, max_bytes: int) -> DecodedPage:
    """Decode at most ``max_bytes`` of ``data`` to text (see the module docstring)."""
    cut = len(data) > max_bytes
    if cut:
        data = data[:max_bytes]
    for encoding, declared in _candidate_encodings(data, content_type):
        text = _decode_with(data, encoding, tolerant=declared, final=not cut)
        if text is not None:
            return DecodedPage(text, encoding, cut)
    text = codecs.getincrementaldecoder("utf-8")(errors="replace").decode(data, final=not cut)
    return DecodedPage(text, "utf-8", cut)


def sniff_text(text: str, content_type: str | None) -> bool:
    """True when decoded text is not an HTML document (JSON, a feed, binary junk ...).

    What the bytes show wins over the Content-Type: a page full of HTML tags is HTML whatever
    the server called it. Text without any HTML tag is HTML only when the server says so.
    """
    head = text[:_SNIFF_CHARS].lstrip("\ufeff \t\r\n")
    html_mime = _mime(content_type) in {"text/html", "application/xhtml+xml"}
    if not head:
        return not html_mime and content_type is not None
    if head[0] in "{[":
        return True  # JSON (an HTML document never starts with a brace or a bracket)
    lowered = head.lower()
    if "<html" not in lowered and any(root in lowered for root in _NOT_HTML_ROOTS):
        return True
    junk = len(_INVALID_XML_CHARS.findall(head)) + head.count("\ufffd")
    if junk > 0.05 * len(head):
        return True
    return not (_HTML_TAG.search(head) or html_mime)


def parse_tree(text: str) -> lxml.html.HtmlElement | None:
    """Parse HTML text once into an lxml tree rooted at ``<html>``; None if nothing parses.

    The text goes to libxml2 as UTF-8 bytes, the characters XML forbids deleted from the
    bytes: a regular expression over the text (wide characters, 170k of them on a typical
    page) took 0.8 ms a page, and libxml2 parses bytes a fifth faster than a ``str``."""
    text = _XML_DECLARATION.sub("", text, count=1)
    if not text or text.isspace():
        return None
    data = _without_invalid_xml(text.encode("utf-8", "replace"))
    parser = lxml.html.HTMLParser(
        encoding="utf-8",
        collect_ids=False,
        default_doctype=False,
        remove_comments=True,
        remove_pis=True,
    )
    parser.set_element_class_lookup(_ELEMENT_CLASSES)
    try:
        tree = lxml.html.document_fromstring(data, parser=parser)
    except (lxml.etree.ParserError, ValueError):
        return None
    return tree if isinstance(tree, lxml.html.HtmlElement) else None


def _without_invalid_xml(data: bytes) -> bytes:
    """UTF-8 ``data`` without C0 controls other than tab and newlines, U+FFFE and U+FFFF."""
    data = data.translate(None, _INVALID_XML_BYTES)
    if _NONCHARACTERS.search(data):  # whole characters of valid UTF-8: one pass removes all
        data = _NONCHARACTERS.sub(b"", data)
    return data


def _mime(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


def _candidate_encodings(data: bytes, content_type: str | None) -> Iterator[tuple[str, bool]]:
    """(encoding, declared) pairs to try, best first; a BOM, when present, is the only one.

    Lazy: detection (the slow part) only runs when nothing before it fitted.
    """
    for bom, name in _BOMS:
        if data.startswith(bom):
            yield name, True
            return
    header = _CHARSET_PARAM.search(content_type or "")
    if header:
        for name in _usable(header.group(1), data, from_header=True):
            yield name, True
    for name in _usable(_declared_in_page(data), data, from_header=False):
        yield name, True
    yield "utf-8", False
    for name in _detected(data):
        yield name, False


def _declared_in_page(data: bytes) -> str | None:
    head = data[:_PRESCAN_BYTES]
    found = _XML_ENCODING.match(head) or _META_CHARSET.search(head)
    return found.group(1).decode("ascii") if found else None


def _usable(label: str | None, data: bytes, *, from_header: bool) -> list[str]:
    """The codec for a declared label, adjusted the way browsers (and lying servers) need."""
    if not label:
        return []
    try:
        name = codecs.lookup(label.strip().lower()).name
    except LookupError:
        return []
    if name in {"utf-16", "utf-32"}:
        name += "-le"  # the bare labels mean little-endian without a BOM (WHATWG)
    if name.startswith(("utf-16", "utf-32")):
        # a <meta> that could be read as ASCII cannot be right about UTF-16 (WHATWG)
        return [name if from_header else "utf-8"]
    if name in _WESTERN_SINGLE_BYTE:
        # browsers read these labels as windows-1252; valid non-ASCII UTF-8 is UTF-8
        return ["utf-8", "cp1252"] if _is_utf8_not_ascii(data) else ["cp1252"]
    return [name]


def _is_utf8_not_ascii(data: bytes) -> bool:
    if data.isascii():
        return False
    try:
        codecs.getincrementaldecoder("utf-8")().decode(data, final=False)
    except UnicodeDecodeError:
        return False
    return True


def _detected(data: bytes) -> list[str]:
    if data.isascii():
        return []
    best = from_bytes(data).best()
    return [best.encoding] if best is not None else []


def _decode_with(data: bytes, encoding: str, *, tolerant: bool, final: bool) -> str | None:
    """The text, or None when the bytes do not fit this encoding.

    A declared encoding is ``tolerant``: a few bad bytes become replacement characters, but
    more than 1 % of them means the declaration is wrong. A guessed one must fit exactly.
    """
    try:
        decoder = codecs.getincrementaldecoder(encoding)(errors="replace" if tolerant else "strict")
        text = decoder.decode(data, final=final)
    except (LookupError, UnicodeDecodeError):
        return None
    bad = text.count("\ufffd") if tolerant else 0
    if bad > _MAX_REPLACEMENT_SHARE * max(len(text), 1):
        return None
    return text
