"""Find direct quotations: double quotes, straight or curly, across paragraphs.

A quote mark opens or closes by its surroundings, not by its shape, because real text mixes
them up (``happiness?“ he asked``): a mark after white space (or an opening bracket or dash)
and before a non-space opens; one after a non-space and before white space or punctuation
closes. A mark between two letters is decided by its shape (curly) or ignored (straight).

A quotation may run over several paragraphs. By the press convention, each of its paragraphs
opens with a quote mark and only the last one closes: when a paragraph ends inside a quote and
the next one starts with an opening mark, the quote goes on. A block quote may instead carry on
without marks until a closing one: when the next paragraph's first mark closes, the quote goes
on too. A quote left open otherwise is dropped (unbalanced marks are more often typos than
quotes), but quotes opened and closed inside it are kept. Quotes inside quotes with double
marks are nested, and only the outermost is reported. Single quotes are not read: in running
text they are mostly apostrophes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

QUOTE_MARK_RE = re.compile('["“”„]')
LINE_RE = re.compile(r"[^\n]+")
OPEN_BEFORE = frozenset("([{—–-/")
CLOSE_AFTER = frozenset(".,;:!?)]}—–-…'’")


@dataclass(frozen=True, slots=True)
class QuoteSpan:
    """A quotation: ``start``/``end`` include the marks; ``parts`` are the inner spans, one per
    paragraph it runs over; ``text`` is the inner text with the paragraphs joined by a space."""

    start: int
    end: int
    parts: tuple[tuple[int, int], ...]
    text: str

    @property
    def paragraphs(self) -> int:
        return len(self.parts)


@dataclass(slots=True)
class _Open:
    start: int
    inner: int
    parts: list[tuple[int, int]]


def find_quotes(text: str) -> list[QuoteSpan]:
    """All well-formed double-quoted passages of ``text``, in order (nested ones left out)."""
    found: list[QuoteSpan] = []
    carried: _Open | None = None
    for line in LINE_RE.finditer(text):
        carried = _scan_line(text, line.start(), line.end(), carried, found)
    return _outermost(found)


def _scan_line(
    text: str, start: int, end: int, carried: _Open | None, found: list[QuoteSpan]
) -> _Open | None:
    marks = [
        (m.start(), _role(text, m.start(), start, end))
        for m in QUOTE_MARK_RE.finditer(text, start, end)
    ]
    stack: list[_Open] = []
    if carried is not None and marks:
        first, role = marks[0]
        if role == "open" and not text[start:first].strip():
            stack.append(_Open(carried.start, first + 1, carried.parts))  # "the press convention"
            marks = marks[1:]
        elif role in {"close", "lone"}:
            stack.append(_Open(carried.start, start, carried.parts))  # a block quote
    for pos, role in marks:
        if role == "open":
            stack.append(_Open(pos, pos + 1, []))
        elif role in {"close", "lone"} and stack:
            current = stack.pop()
            current.parts.append((current.inner, pos))
            found.append(_span(text, current.start, pos + 1, current.parts))
    if not stack:
        return None
    outer = stack[0]  # inner quotes left open at the paragraph's end are dropped
    outer.parts.append((outer.inner, end))
    return outer


def _outermost(found: list[QuoteSpan]) -> list[QuoteSpan]:
    ordered = sorted(found, key=lambda q: (q.start, -q.end))
    kept: list[QuoteSpan] = []
    for quote in ordered:
        if kept and quote.end <= kept[-1].end:
            continue  # nested inside the previous one
        kept.append(quote)
    return kept


def _role(text: str, pos: int, start: int, end: int) -> str:
    before = text[pos - 1] if pos > start else " "
    after = text[pos + 1] if pos + 1 < end else " "
    opens = before.isspace() or before in OPEN_BEFORE
    closes = after.isspace() or after in CLOSE_AFTER
    if opens and not closes:
        return "open"
    if closes and not opens:
        return "close"
    if opens and closes:
        return "lone"  # between spaces: closes an open quote ("Concerned ... ”"), else nothing
    mark = text[pos]
    if mark in "“„":
        return "open"
    return "close" if mark == "”" else "none"


def _span(text: str, start: int, end: int, parts: list[tuple[int, int]]) -> QuoteSpan:
    trimmed = tuple(_trim(text, a, b) for a, b in parts)
    inner = " ".join(text[a:b] for a, b in trimmed if b > a)
    return QuoteSpan(start=start, end=end, parts=trimmed, text=inner)


def _trim(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end
