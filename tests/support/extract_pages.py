"""Real pages for extraction tests, read from ../shared/data (never copied into the repo).

``Benchmark`` gives the article-extraction-benchmark's pages by id prefix; ``article_html`` and
``section_front`` build small pages around real text (a benchmark article's paragraphs, a real
feed's headlines) for the cases the benchmark has no page for.
"""

from __future__ import annotations

import gzip
import html
import json
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

BENCHMARK = Path("extraction") / "article-extraction-benchmark"
FEEDS = Path("feeds") / "news-2026-02"


@dataclass(frozen=True)
class Benchmark:
    root: Path

    @classmethod
    def at(cls, shared_data: Path) -> Benchmark:
        return cls(shared_data / BENCHMARK)

    @cached_property
    def truth(self) -> dict[str, dict[str, str]]:
        with (self.root / "ground-truth.json").open(encoding="utf-8") as handle:
            data: dict[str, dict[str, str]] = json.load(handle)
        return data

    def key(self, prefix: str) -> str:
        (found,) = [key for key in self.truth if key.startswith(prefix)]
        return found

    def html(self, prefix: str) -> bytes:
        return gzip.decompress((self.root / "html" / f"{self.key(prefix)}.html.gz").read_bytes())

    def url(self, prefix: str) -> str:
        return self.truth[self.key(prefix)]["url"]

    def body(self, prefix: str) -> str:
        return self.truth[self.key(prefix)]["articleBody"]

    def paragraphs(self, prefix: str) -> list[str]:
        return [line.strip() for line in self.body(prefix).splitlines() if line.strip()]

    def published(self, name: str) -> dict[str, str | None]:
        with (self.root / "output" / f"{name}.json").open(encoding="utf-8") as handle:
            data = json.load(handle)
        outputs = data["output"] if isinstance(data.get("output"), dict) else data
        return {key: item.get("articleBody") for key, item in outputs.items()}


def article_html(
    title: str,
    paragraphs: Iterable[str],
    *,
    head: str = "",
    after: str = "",
    lang: str = "en",
    charset: str | None = "utf-8",
) -> str:
    """A plain article page around real paragraphs (``after`` goes below the article)."""
    meta = f'<meta charset="{charset}">' if charset else ""
    body = "".join(f"<p>{html.escape(p)}</p>" for p in paragraphs)
    return (
        f'<!DOCTYPE html><html lang="{lang}"><head>{meta}<title>{html.escape(title)}</title>'
        f"{head}</head><body><header><nav><a href='/'>Home</a></nav></header><main><article>"
        f"<h1>{html.escape(title)}</h1>{body}</article>{after}</main>"
        "<footer><p>© 2026 Example News</p></footer></body></html>"
    )


def feed_items(shared_data: Path, feed_id: str) -> list[tuple[str, str, str]]:
    """(title, link, summary) of a real RSS feed's items."""
    root = ET.parse(shared_data / FEEDS / feed_id).getroot()
    return [
        (
            (item.findtext("title") or "").strip(),
            (item.findtext("link") or "").strip(),
            (item.findtext("description") or "").strip(),
        )
        for item in root.iter("item")
    ]


def section_front(items: list[tuple[str, str, str]], *, summaries: bool = True) -> str:
    """A section front of story cards (headline link, teaser, time) from real feed items."""
    cards = []
    for title, link, summary in items:
        teaser = f"<p>{html.escape(summary)}</p>" if summaries and "<" not in summary else ""
        cards.append(
            f'<article class="card"><h3><a href="{html.escape(link)}">{html.escape(title)}</a>'
            f'</h3>{teaser}<span class="time">2 hours ago</span></article>'
        )
    sections = "".join(f'<li><a href="/{s}">{s.title()}</a></li>' for s in ("world", "us", "tech"))
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>World news</title>'
        f"</head><body><header><nav><ul>{sections}</ul></nav></header><main><h1>World</h1>"
        f"<section>{''.join(cards)}</section></main><footer><p>© 2026 Example News</p>"
        "</footer></body></html>"
    )
