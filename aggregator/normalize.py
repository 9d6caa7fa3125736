"""Canonical URLs and text clean-up; pure functions, no I/O.

``canonical_url`` makes one string per article address, so that an article listed in several
of an outlet's feeds (with different tracking parameters, fragments, host case, default ports
or percent-encoding) is stored once:

- only ``http`` and ``https`` URLs are accepted; anything else (``javascript:``, ``mailto:``,
  ``ftp:``, garbage) gives ``None``. Relative URLs are resolved against ``base`` first;
- scheme and host are lower-cased, internationalised hosts are IDNA-encoded, a trailing dot on
  the host and user-info are dropped, default ports (80, 443) are dropped;
- the path keeps its case (paths are case-sensitive); dot segments are removed; an empty path
  becomes ``/``;
- percent-encoding is normalised everywhere: escapes of unreserved characters are decoded,
  other escapes are upper-cased, characters that must be escaped (spaces, non-ASCII ...) are
  escaped as UTF-8;
- tracking query parameters are removed (see ``TRACKING_PARAMS``, ``TRACKING_PREFIXES`` and
  ``REFERRAL_PARAMS``), the remaining parameters are sorted by name (a stable sort: repeated
  names keep their order), empty ``&&`` pieces are dropped;
- the fragment is dropped, except a ``#!`` "hashbang" fragment, which names the content.

The result is idempotent: ``canonical_url(canonical_url(u)) == canonical_url(u)``.
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from html.parser import HTMLParser
from types import MappingProxyType
from urllib.parse import unquote, unquote_plus, urljoin, urlsplit

# Query parameters that only say where a click came from (matched case-insensitively).
TRACKING_PARAMS = frozenset(
    {
        # ad and social click ids
        "fbclid",
        "gclid",
        "gclsrc",
        "dclid",
        "gbraid",
        "wbraid",
        "msclkid",
        "yclid",
        "twclid",
        "ttclid",
        "li_fat_id",
        "igshid",
        "igsh",
        "rb_clickid",
        "s_kwcid",
        # e-mail and marketing platforms (Mailchimp, HubSpot, Marketo, Vero ...)
        "mc_cid",
        "mc_eid",
        "_hsenc",
        "_hsmi",
        "__hstc",
        "__hssc",
        "__hsfp",
        "mkt_tok",
        "vero_conv",
        "vero_id",
        "oly_anon_id",
        "oly_enc_id",
        # analytics (Google, Adobe, Webtrekk, AT Internet, comScore, Xiti)
        "_ga",
        "_gl",
        "s_cid",
        "wt_mc",
        "wt_zmc",
        "xtor",
        "at_medium",
        "at_campaign",
        "at_custom1",
        "at_custom2",
        "at_custom3",
        "at_custom4",
        "at_format",
        "at_link_id",
        "at_link_origin",
        "at_link_type",
        "at_ptr_name",
        "at_bbc_team",
        "at_platform",
        "ns_mchannel",
        "ns_source",
        "ns_campaign",
        "ns_linkname",
        "ns_fee",
        # publishers' own campaign tags (CNN, Guardian, MSN, NYT, DW, Al Jazeera, CSM ...)
        "cmpid",
        "cmp",
        "ocid",
        "smid",
        "smtyp",
        "emc",
        "icid",
        "ito",
        "maca",
        "traffic_source",
        "sr_share",
        "ref_src",
        "ref_url",
        "spm",
    }
)
TRACKING_PREFIXES = ("utm_", "pk_", "mtm_", "matomo_", "hsa_")

# Generic names that are tracking only when their value names a referral channel
# (``?ref=rss``, ``?source=rss----d12c``, ``?share=twitter``); ``?ref=main`` is kept.
REFERRAL_PARAMS = frozenset({"ref", "source", "src", "from", "partner", "share", "feature"})
_REFERRAL_VALUE = re.compile(
    r"(?:rss|atom|feeds?|twitter|tw|x|facebook|fb|social|newsletter|e?mail|share|sharing"
    r"|linkedin|reddit|whatsapp|telegram|mastodon|bluesky|hp|homepage|home|nav|sidebar"
    r"|google|msn|yahoo|flipboard|smartnews|newsstand|apple_?news)(?:[^a-z0-9]|$)"
)

_DEFAULT_PORTS = MappingProxyType({"http": 80, "https": 443})
_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
_PATH_SAFE = _UNRESERVED | frozenset("!$&'()*+,;=:@/")
_QUERY_SAFE = _PATH_SAFE | frozenset("?")
_QUERY_NAME_SAFE = _QUERY_SAFE - frozenset("&=")
_QUERY_VALUE_SAFE = _QUERY_SAFE - frozenset("&")
_FRAGMENT_SAFE = _QUERY_SAFE | frozenset("#")
_HEX = frozenset("0123456789abcdefABCDEF")
_HOST_RE = re.compile(r"[a-z0-9_](?:[a-z0-9_.-]*[a-z0-9_])?")
_STRIP_IN_URL = re.compile(r"[\t\n\r]")

# C0/C1 controls (but tab and newline), lone surrogates and the two non-characters that XML
# and PostgreSQL refuse.
_CONTROL_RE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")
_BLOCK_TAGS = frozenset(
    {
        "address",
        "article",
        "aside",
        "blockquote",
        "br",
        "dd",
        "div",
        "dl",
        "dt",
        "figcaption",
        "figure",
        "footer",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "header",
        "hr",
        "li",
        "main",
        "nav",
        "ol",
        "p",
        "pre",
        "section",
        "table",
        "td",
        "th",
        "tr",
        "ul",
    }
)
_SKIP_TAGS = frozenset({"script", "style", "template", "noscript"})


def clean_text(text: str) -> str:
    """``text`` with CR/CRLF turned into LF, control characters (but tab and newline), lone
    surrogates and U+FFFE/U+FFFF removed, in Unicode NFC."""
    if not text:
        return ""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return unicodedata.normalize("NFC", _CONTROL_RE.sub("", text))


def collapse_ws(text: str) -> str:
    """Runs of whitespace (Unicode whitespace included) as one space, ends trimmed."""
    return " ".join(text.split())


def html_to_text(html: str) -> str:
    """Plain text of an HTML fragment: tags dropped (script/style content too), entities and
    character references decoded, block elements as line breaks, spaces collapsed per line."""
    if "<" not in html and "&" not in html:
        return "\n".join(filter(None, (collapse_ws(line) for line in html.split("\n"))))
    extractor = _TextExtractor()
    extractor.feed(html)
    extractor.close()
    lines = "".join(extractor.parts).split("\n")
    return "\n".join(filter(None, (collapse_ws(line) for line in lines)))


def plain_title(text: str) -> str:
    """A title as one clean line: control characters stripped, HTML entities decoded, tags
    stripped, whitespace collapsed."""
    return collapse_ws(html_to_text(clean_text(text)))


class _TextExtractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP_TAGS:
            self._skipping += 1
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP_TAGS:
            self._skipping = max(0, self._skipping - 1)
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self.parts.append(data)


def canonical_url(url: str, base: str | None = None) -> str | None:
    """The canonical form of an http(s) URL (see the module docstring), or ``None`` when
    ``url`` is not a usable http(s) URL. Never raises on any text."""
    if not isinstance(url, str):
        return None
    text = _STRIP_IN_URL.sub("", clean_text(url)).strip()
    if not text:
        return None
    try:
        if base:
            base = _STRIP_IN_URL.sub("", clean_text(base)).strip()
            text = urljoin(base, text)
        return _canonical_absolute(text)
    except (ValueError, UnicodeError):
        return None


def _canonical_absolute(text: str) -> str | None:
    parts = urlsplit(text)
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS:
        return None
    host = _canonical_host(parts.hostname or "")
    if host is None:
        return None
    port = parts.port  # raises ValueError on a bad port
    netloc = host if port is None or port == _DEFAULT_PORTS[scheme] else f"{host}:{port}"
    path = _remove_dot_segments(_normalize_escapes(parts.path, _PATH_SAFE)) or "/"
    if not path.startswith("/"):
        path = "/" + path
    query = _canonical_query(parts.query)
    url = f"{scheme}://{netloc}{path}"
    if query:
        url += "?" + query
    if parts.fragment.startswith("!"):
        url += "#" + _normalize_escapes(parts.fragment, _FRAGMENT_SAFE)
    return url


def _canonical_host(raw: str) -> str | None:
    """Lower-case, IDNA-encoded host name or bracketed IPv6 address; None when invalid."""
    host = unquote(raw).rstrip(".").lower()
    if not host:
        return None
    if ":" in host:
        try:
            return f"[{ipaddress.IPv6Address(host).compressed}]"
        except ValueError:
            return None
    if not host.isascii():
        host = host.encode("idna").decode("ascii")
    if len(host) > 253 or not _HOST_RE.fullmatch(host):
        return None
    if any(not label or len(label) > 63 for label in host.split(".")):
        return None
    return host


def _normalize_escapes(component: str, safe: frozenset[str]) -> str:
    """Decode escapes of unreserved characters, upper-case other escapes, escape what must be
    escaped (as UTF-8). A lone ``%`` becomes ``%25``."""
    out: list[str] = []
    i, n = 0, len(component)
    while i < n:
        char = component[i]
        if char == "%":
            pair = component[i + 1 : i + 3]
            if len(pair) == 2 and pair[0] in _HEX and pair[1] in _HEX:
                decoded = chr(int(pair, 16))
                out.append(decoded if decoded in _UNRESERVED else "%" + pair.upper())
                i += 3
                continue
            out.append("%25")
        elif char in safe:
            out.append(char)
        else:
            out.append("".join(f"%{b:02X}" for b in char.encode("utf-8", "surrogatepass")))
        i += 1
    return "".join(out)


def _remove_dot_segments(path: str) -> str:
    """RFC 3986 section 5.2.4, on a path whose escapes are already normalised."""
    if "." not in path:
        return path
    output: list[str] = []
    segments = path.split("/")
    for index, segment in enumerate(segments):
        last = index == len(segments) - 1
        if segment == ".":
            if last:
                output.append("")
        elif segment == "..":
            if len(output) > 1:
                output.pop()
            if last:
                output.append("")
        else:
            output.append(segment)
    result = "/".join(output)
    if path.startswith("/") and not result.startswith("/"):
        result = "/" + result
    return result


def _canonical_query(query: str) -> str:
    kept: list[tuple[str, str]] = []
    for piece in query.split("&"):
        if not piece:
            continue
        name, sep, value = piece.partition("=")
        if is_tracking_param(unquote_plus(name), unquote_plus(value)):
            continue
        name = _normalize_escapes(name, _QUERY_NAME_SAFE)
        value = _normalize_escapes(value, _QUERY_VALUE_SAFE)
        kept.append((name, f"{name}{sep}{value}"))
    kept.sort(key=lambda pair: pair[0])
    return "&".join(piece for _, piece in kept)


def is_tracking_param(name: str, value: str) -> bool:
    """True for a query parameter that only tracks where a click came from."""
    key = name.strip().lower()
    if key in TRACKING_PARAMS or key.startswith(TRACKING_PREFIXES):
        return True
    if key in REFERRAL_PARAMS:
        return _REFERRAL_VALUE.match(value.strip().lower()) is not None
    return False
