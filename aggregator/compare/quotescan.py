"""Find direct quotations: double quotes, straight or curly, across paragraphs.

A quote mark opens or closes by its surroundings, not by its shape, because real text mixes
them up (``happiness?“ he asked``): a mark after white space (or an opening bracket or dash)
and before a non-space opens; one after a non-space and before white space or punctuation
closes. A mark between two letters is decided by its shape (curly) or ignored (straight).

A quotation may run over several paragraphs. By the press convention, each of its paragraphs
opens with a quote mark and only the last one closes: when a paragraph ends inside a quote and
the next one starts with an opening mark, the quote goes on. A quote left open otherwise is
dropped (unbalanced marks are more often typos than quotes). Single quotes are not read: in
running text they are mostly apostrophes.
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
    """All well-formed double-quoted passages of ``text``, in order."""
    found: list[QuoteSpan] = []
    carried: _Open | None = None
    for line in LINE_RE.finditer(text):
        carried = _scan_line(text, line.start(), line.end(), carried, found)
    return found


def _scan_line(
    text: str, start: int, end: int, carried: _Open | None, found: list[QuoteSpan]
) -> _Open | None:
    marks = [m.start() for m in QUOTE_MARK_RE.finditer(text, start, end)]
    current: _Open | None = None
    if carried is not None and marks and _continues(text, start, marks[0]):
        current = _Open(carried.start, marks[0] + 1, carried.parts)
        marks = marks[1:]
    for pos in marks:
        role = _role(text, pos, start, end)
        if current is None:
            if role == "open":
                current = _Open(pos, pos + 1, [])
        elif role == "close":
            current.parts.append((current.inner, pos))
            found.append(_span(text, current.start, pos + 1, current.parts))
            current = None
        elif role == "open":
            current = _Open(pos, pos + 1, [])  # the earlier one never closed
    if current is None:
        return None
    current.parts.append((current.inner, end))
    return current


def _continues(text: str, line_start: int, first_mark: int) -> bool:
    """Does this paragraph start with an opening mark (a quote carried over goes on)?"""
    return not text[line_start:first_mark].strip() and text[first_mark] != "”"


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
        return "none"  # a lone mark between spaces
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
