"""Read feedparser's test documents and check the title/link parts of their ``Expect:`` lines.

Each document of ``feeds/feedparser-suite/tests`` starts with a comment holding
``Description:``, ``Expect:`` (a Python expression over feedparser's result) and optional
``Header:`` lines (HTTP headers). feedparser's own harness serves the documents whose path
contains ``http`` at ``http://127.0.0.1:8097/<path>`` with ``Content-type: text/xml`` unless a
header says otherwise, and parses the others with no headers; ``load_suite`` does the same.

From an ``Expect`` expression, ``title_link_checks`` keeps the comparisons that are asserted
(top-level ``and`` terms, not under ``not``/``or``) of the form ``<subject> == '<text>'``
where the subject is the feed's or an entry's title (``title``, ``title_detail.value``) or
link. ``check_ours`` judges our ``ParsedFeed`` against one, ``check_feedparser`` judges
feedparser's raw result (the baseline).
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

from aggregator.normalize import collapse_ws, plain_title
from aggregator.types import ParsedFeed

SUITE_HOST = "http://127.0.0.1:8097"
_DESC_RE = re.compile(r"Description:\s*(.*?)\s*Expect:\s*(.*)\s*-->")
_HEADER_RE = re.compile(r"^Header:\s+([^:]+):(.*)$", re.MULTILINE)
_SUBJECTS = {
    ("feed", "title"): "title",
    ("feed", "title_detail", "value"): "title",
    ("feed", "link"): "link",
}


@dataclass(frozen=True, slots=True)
class SuiteDoc:
    path: Path
    rel: str  # path below the suite root, e.g. "tests/wellformed/rss/item_title.xml"
    data: bytes
    url: str
    headers: dict[str, str]
    expect: str  # "" when the document has none


@dataclass(frozen=True, slots=True)
class Check:
    entry: int | None  # None: the feed itself
    field: str  # "title" or "link"
    expected: str

    def __str__(self) -> str:
        where = "feed" if self.entry is None else f"entries[{self.entry}]"
        return f"{where}.{self.field} == {self.expected!r}"


def load_suite(root: Path) -> list[SuiteDoc]:
    """Every document below ``root`` (the suite folder holding ``tests/``)."""
    docs = []
    for path in sorted(p for p in (root / "tests").rglob("*") if p.is_file()):
        data = path.read_bytes()
        text = _as_text(data)
        rel = path.relative_to(root).as_posix()
        url = f"{SUITE_HOST}/{rel}"
        headers: dict[str, str] = {}
        if "http" in rel:
            given = {k: v.strip() for k, v in _HEADER_RE.findall(text)}
            headers = {"Content-Type": given.pop("Content-type", "text/xml"), **given}
        match = _DESC_RE.search(text)
        expect = match.group(2).strip() if match else ""
        if path.suffix == ".json":
            expect = expect.rstrip('",').strip()
        docs.append(SuiteDoc(path, rel, data, url, headers, expect))
    return docs


def _as_text(data: bytes) -> str:
    """The document as text, to read its comment (byte order mark or UTF-16/32 pattern)."""
    for prefix, encoding in (
        (b"\x00\x00\xfe\xff", "utf-32-be"),
        (b"\xff\xfe\x00\x00", "utf-32-le"),
        (b"\x00\x00\x00\x3c", "utf-32-be"),
        (b"\x3c\x00\x00\x00", "utf-32-le"),
        (b"\xfe\xff", "utf-16-be"),
        (b"\xff\xfe", "utf-16-le"),
        (b"\x00\x3c", "utf-16-be"),
        (b"\x3c\x00", "utf-16-le"),
    ):
        if data.startswith(prefix):
            return data.decode(encoding, "ignore")
    return data.decode("utf-8", "ignore")


def title_link_checks(expect: str) -> list[Check]:
    """The asserted title/link comparisons of an ``Expect`` expression."""
    if not expect:
        return []
    try:
        tree = ast.parse(expect, mode="eval").body
    except SyntaxError:
        return []
    terms = tree.values if isinstance(tree, ast.BoolOp) and isinstance(tree.op, ast.And) else [tree]
    checks = []
    for term in terms:
        check = _check_of(term)
        if check is not None:
            checks.append(check)
    return checks


def _check_of(node: ast.expr) -> Check | None:
    if not (
        isinstance(node, ast.Compare)
        and len(node.ops) == 1
        and isinstance(node.ops[0], ast.Eq)
        and isinstance(node.comparators[0], ast.Constant)
        and isinstance(node.comparators[0].value, str)
    ):
        return None
    expected = node.comparators[0].value
    path = _subject_path(node.left) or ()
    if path[:1] == ("feed",):
        entry, field = None, _SUBJECTS.get(path)
    elif path[:1] == ("entries",) and len(path) > 2 and isinstance(path[1], int):
        entry, field = path[1], _SUBJECTS.get(("feed", *path[2:]))
    else:
        return None
    return Check(entry, field, expected) if field else None


def _subject_path(node: ast.expr) -> tuple[Any, ...] | None:
    """``feed['title_detail'].value`` -> ("feed", "title_detail", "value")."""
    parts: list[Any] = []
    while True:
        if isinstance(node, ast.Name):
            return (node.id, *reversed(parts))
        if isinstance(node, ast.Attribute):
            parts.append(node.attr)
            node = node.value
        elif isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant):
            parts.append(node.slice.value)
            node = node.value
        else:
            return None


def check_ours(feed: ParsedFeed, check: Check, url: str) -> bool:
    """Does our feed agree? Our titles are one line of plain text, so a title agrees when it
    equals the expected value with spaces collapsed, or (for an HTML title) the expected
    value rendered as text (tags stripped, entities decoded). Links agree after resolving the
    expected value against the document's URL (ours are absolute)."""
    if check.entry is None:
        title, link = feed.title, feed.link
    elif check.entry < len(feed.items):
        item = feed.items[check.entry]
        title, link = item.title, item.link
    else:
        return False
    if check.field == "title":
        return title in (collapse_ws(check.expected), plain_title(check.expected))
    return link is not None and link == urljoin(url, check.expected.strip())


def check_feedparser(result: Any, check: Check) -> bool:
    """Does feedparser's own result satisfy the comparison?"""
    try:
        holder = result["feed"] if check.entry is None else result["entries"][check.entry]
        return bool(holder.get(check.field) == check.expected)
    except (IndexError, KeyError):
        return False
