"""Make a decoded XML document safe to hand to feedparser, and find its root element.

- Characters XML 1.0 forbids (C0 controls but tab/CR/LF, U+FFFE, U+FFFF) and character
  references to them are removed, so that one stray NUL does not push the whole document
  to the loose parser.
- Text before the first markup (a PHP warning, stray bytes) and every XML declaration of the
  prolog are removed; the caller puts one UTF-8 declaration in front.
- The DOCTYPE is rebuilt: its system identifier is dropped (nothing is ever fetched), and of
  its internal subset only short internal entities whose value is literal text or a single
  character reference are kept. External entities (XXE), parameter entities and entities
  that refer to other entities (billion laughs) are dropped, so no expansion can happen;
  references to dropped entities stay as plain text.

Scanning is linear in the size of the prolog.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_ILLEGAL_CHARS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_ILLEGAL_REFS = re.compile(
    r"&#(?:[xX]0*(?:[0-8bBcCeEfF]|1[0-9a-fA-F])|0*(?:[0-8]|1[1-2]|1[4-9]|2[0-9]|3[01]));"
)
_NAME = re.compile(r"[A-Za-z_:][\w.:-]*")
_SAFE_ENTITY = re.compile(
    r"<!ENTITY\s+([A-Za-z_][\w.-]*)\s+(\"|')(&#(?:\d{1,7}|x[0-9a-fA-F]{1,6});|[^&%<\"']{0,16})\2\s*>"
)
_PUBLIC_ID = re.compile(r"PUBLIC\s+(\"|')([^\"']{0,200})\1")
_MAX_SAFE_ENTITIES = 256


@dataclass(frozen=True, slots=True)
class Prepared:
    text: str  # the document without XML declaration, with a safe DOCTYPE
    root: str | None  # local name of the first element, lower-cased


def prepare_xml(text: str) -> Prepared:
    """See the module docstring."""
    text = _ILLEGAL_REFS.sub("", _ILLEGAL_CHARS.sub("", text))
    kept: list[str] = []
    i, n = 0, len(text)
    while i < n:
        start = text.find("<", i)
        if start < 0:
            return Prepared("".join(kept), None)
        if text.startswith("<?", start):
            end = text.find("?>", start + 2)
            stop = n if end < 0 else end + 2
            if not _is_xml_declaration(text, start):
                kept.append(text[start:stop])
        elif text.startswith("<!--", start):
            end = text.find("-->", start + 4)
            stop = n if end < 0 else end + 3
            kept.append(text[start:stop])
        elif text[start : start + 9].upper() == "<!DOCTYPE":
            stop, doctype = _rebuild_doctype(text, start)
            kept.append(doctype)
        elif text.startswith("<!", start):
            end = text.find(">", start + 2)
            stop = n if end < 0 else end + 1
        else:
            match = _NAME.match(text, start + 1)
            if match is None:  # a stray "<" in text before the root: skip it
                i = start + 1
                continue
            kept.append(text[start:])
            return Prepared("".join(kept), match.group(0).rpartition(":")[2].lower())
        i = stop
    return Prepared("".join(kept), None)


def _is_xml_declaration(text: str, start: int) -> bool:
    return text[start + 2 : start + 5].lower() == "xml" and text[start + 5 : start + 6] in (
        " ",
        "\t",
        "\n",
        "\r",
        "?",
    )


def _rebuild_doctype(text: str, start: int) -> tuple[int, str]:
    """Return where the DOCTYPE ends and its safe replacement."""
    end, subset_start, subset_end = _doctype_extent(text, start)
    header = text[start + 9 : subset_start if subset_start >= 0 else end]
    name_match = _NAME.search(header)
    name = name_match.group(0) if name_match else "feed"
    public = _PUBLIC_ID.search(header)
    external = f' PUBLIC "{public.group(2)}" ""' if public else ""
    entities: list[str] = []
    if subset_start >= 0:
        subset = text[subset_start + 1 : subset_end]
        for match in _SAFE_ENTITY.finditer(subset):
            entities.append(f'<!ENTITY {match.group(1)} "{match.group(3)}">')
            if len(entities) >= _MAX_SAFE_ENTITIES:
                break
    if entities:
        return end, f"<!DOCTYPE {name}{external} [\n" + "\n".join(entities) + "\n]>"
    return end, f"<!DOCTYPE {name}{external}>"


def _doctype_extent(text: str, start: int) -> tuple[int, int, int]:
    """End of the DOCTYPE (after its ``>``), and the positions of ``[`` and ``]`` of its
    internal subset (-1 when it has none). Quotes and comments inside are skipped."""
    i, n = start + 9, len(text)
    subset_start = subset_end = -1
    quote = ""
    while i < n:
        char = text[i]
        if quote:
            if char == quote:
                quote = ""
        elif char in "\"'":
            quote = char
        elif subset_start >= 0 and subset_end < 0:
            skip = _skip_markup(text, i)
            if skip > i:
                i = skip
                continue
            if char == "]":
                subset_end = i
        elif char == "[" and subset_start < 0:
            subset_start = i
        elif char == ">":
            return i + 1, subset_start, subset_end
        i += 1
    if subset_start >= 0 and subset_end < 0:
        subset_end = n
    return n, subset_start, subset_end


def _skip_markup(text: str, i: int) -> int:
    """Past a comment or processing instruction starting at ``i`` (else ``i``)."""
    for opener, closer in (("<!--", "-->"), ("<?", "?>")):
        if text.startswith(opener, i):
            close = text.find(closer, i + len(opener))
            return len(text) if close < 0 else close + len(closer)
    return i
