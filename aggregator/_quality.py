"""Quality flags of an extracted page (private to ``aggregator.extract``).

Each rule reads the extracted paragraphs and, where it needs to, the page's own tree; none
changes the text. The rules, as documented in docs/extraction.md:

``empty_text``     nothing was extracted.
``too_short``      some text, but fewer than ``min_text_chars`` characters.
``repeated_text``  a paragraph of at least 10 words occurs more than once.
``truncated``      the text says it is cut (a paywall sentence such as "subscribe to continue
                   reading" in its last three paragraphs), or it ends suspiciously (an
                   ellipsis, or no closing punctuation) on a page that declares a paywall
                   (JSON-LD ``isAccessibleForFree: false`` or an element whose class/id names a
                   paywall). A paywall declaration alone is not enough: metered sites (LA
                   Times, Wired) declare one on pages whose full text is there.
``index_page``     at least 10 headline links (links of 4+ words that fill their block), and
                   the extracted text lies mostly inside the small "cards" around those links
                   (headline + teaser + time), or uses fewer than 50 distinct words: a section
                   front, a tag page, a list of stories. Over 1,000 links of 16+ characters
                   make an index page outright (benchmark articles have at most ~110).
``non_latin``      more than half of the letters are not Latin script (word shingles of
                   unspaced scripts such as Chinese or Japanese mean little).
"""

from __future__ import annotations

import re
from collections import Counter

import lxml.etree
import lxml.html

from aggregator._language import non_latin_share
from aggregator._pagemeta import PageSignals
from aggregator.types import Flag

_WORD = re.compile(r"\w+")
_REPEAT_MIN_WORDS = 10
_TAIL_PARAGRAPHS = 3
_PAYWALL_TEXT = re.compile(
    r"subscribe (?:now )?to (?:continue|keep) reading"
    r"|continue reading,? (?:please )?(?:subscribe|sign in|log in|register)"
    r"|(?:sign|log) in to (?:continue|read|keep reading)"
    r"|(?:register|create a free account|subscribe) (?:for free )?to (?:continue|read|unlock)"
    r"|to read (?:the )?(?:full|rest of|this|more)(?: this)? (?:article|story)"
    r"|(?:this|the rest of this) (?:article|story|content) is (?:only )?(?:available|exclusive|"
    r"reserved) (?:only )?(?:to|for) (?:our )?(?:subscribers|members|premium)"
    r"|(?:is|are|for) (?:our )?(?:subscribers|members|premium subscribers) only"
    r"|already a (?:subscriber|member)\?"
    r"|you(?:'|’)ve (?:reached|hit|used) (?:your|all of your|the) (?:limit|free|monthly)",
    re.IGNORECASE,
)
_PAYWALL_NAME = re.compile(
    r"pay-?wall|reg-?wall|metered|subscriber-?only|subscription-?(?:wall|required)"
    r"|premium-?(?:content|article|only)|piano-?(?:offer|paywall|container)",
    re.IGNORECASE,
)
_PAYWALL_NAME_LOWER = re.compile(_PAYWALL_NAME.pattern)
_ELLIPSIS_END = re.compile(r"(?:\.\.\.|…)\W*$")
_CLOSED_END = re.compile(r"[.!?…\"”’»)\]]\W*$")

_MIN_HEADLINES = 10
_TINY_TEXT_WORDS = 50
_HEADLINE_MIN_WORDS = 4
_CARD_MAX_CHARS = 500
_CARD_CLIMB = 4
_MAX_ANCHORS = 1_000
# at least ``_HEADLINE_MIN_WORDS`` runs of word characters, without listing them
_ENOUGH_WORDS = re.compile(r"\W*+" + r"\w++\W++" * (_HEADLINE_MIN_WORDS - 1) + r"\w")
_LONG_ANCHORS = lxml.etree.XPath("/html/body//a[string-length(normalize-space(.)) >= 16]")
_TEXT_LENGTH = lxml.etree.XPath("string-length(normalize-space(.))")
_CLASS_AND_ID_VALUES = lxml.etree.XPath("//@class | //@id", smart_strings=False)
_BLOCKS = frozenset(
    {
        *("p", "li", "dd", "dt", "td", "th", "h1", "h2", "h3", "h4", "h5", "h6", "div"),
        *("article", "section", "figure", "header", "footer", "aside", "main", "nav", "ul", "ol"),
    }
)


def flags(
    tree: lxml.html.HtmlElement,
    paragraphs: list[str],
    signals: PageSignals,
    *,
    min_text_chars: int,
) -> set[str]:
    """Every quality flag that applies to the extracted ``paragraphs`` of ``tree``."""
    found: set[str] = set()
    length = sum(len(p) for p in paragraphs) + 2 * max(len(paragraphs) - 1, 0)
    if not paragraphs:
        found.add(Flag.EMPTY_TEXT)
    elif length < min_text_chars:
        found.add(Flag.TOO_SHORT)
    if has_repeats(paragraphs):
        found.add(Flag.REPEATED_TEXT)
    if is_truncated(tree, paragraphs, signals):
        found.add(Flag.TRUNCATED)
    if is_index_page(tree, paragraphs):
        found.add(Flag.INDEX_PAGE)
    if paragraphs and non_latin_share(" ".join(paragraphs[:20])) > 0.5:
        found.add(Flag.NON_LATIN)
    return found


def has_repeats(paragraphs: list[str]) -> bool:
    """True when a paragraph of at least ten words occurs more than once."""
    folded = [p.casefold() for p in paragraphs]
    twice = {text for text, count in Counter(folded).items() if count > 1}
    if not twice:  # most pages: no paragraph at all comes twice, no words to count
        return False
    long_ones = (
        f
        for p, f in zip(paragraphs, folded, strict=True)
        if f in twice and _words(p) >= _REPEAT_MIN_WORDS
    )
    return any(count > 1 for count in Counter(long_ones).values())


def is_truncated(tree: lxml.html.HtmlElement, paragraphs: list[str], signals: PageSignals) -> bool:
    """True when the text is cut by a paywall (see the module docstring for the rule)."""
    if not paragraphs:
        return False
    tail = paragraphs[-_TAIL_PARAGRAPHS:]
    if any(_PAYWALL_TEXT.search(p) for p in tail):
        return True
    last = paragraphs[-1]
    suspicious_end = bool(_ELLIPSIS_END.search(last)) or not _CLOSED_END.search(last)
    return suspicious_end and (signals.free is False or has_paywall_element(tree))


def has_paywall_element(tree: lxml.html.HtmlElement) -> bool:
    """True when an element's class or id names a paywall (``paywall``, ``regwall`` ...)."""
    names = " ".join(_CLASS_AND_ID_VALUES(tree))
    if names.isascii():  # the usual case: lower case and a case-sensitive search, 8x faster
        return bool(_PAYWALL_NAME_LOWER.search(names.lower()))
    return bool(_PAYWALL_NAME.search(names))


def is_index_page(tree: lxml.html.HtmlElement, paragraphs: list[str]) -> bool:
    """True for a page made of headline cards rather than running text."""
    anchors = _LONG_ANCHORS(tree)
    if len(anchors) > _MAX_ANCHORS:
        return True  # real articles have a few dozen links of this length, at most ~110
    headlines, cards = _headline_cards(anchors)
    if headlines < _MIN_HEADLINES:
        return False
    if _tiny_vocabulary(paragraphs):
        return True
    total = _words("\n".join(paragraphs))  # one pass: no word runs across a line break
    # an element's text, squashed, lies within its card's squashed text: paragraphs found in
    # no card's text cannot count as inside, and most articles end the test here, before
    # the text of every element of every card is read (or the words of each paragraph)
    cards_text = "\n".join(_squash(card.text_content()) for card in cards)
    at_most = sum(_words(p) for p in paragraphs if p in cards_text)
    if at_most < total - at_most:
        return False
    pieces = _pieces(cards)
    inside = sum(_words(p) for p in paragraphs if p in pieces)
    return inside >= total - inside


def _tiny_vocabulary(paragraphs: list[str]) -> bool:
    """Fewer than ``_TINY_TEXT_WORDS`` distinct words (read until that many are found)."""
    vocabulary: set[str] = set()
    for paragraph in paragraphs:
        vocabulary.update(word.casefold() for word in _WORD.findall(paragraph))
        if len(vocabulary) >= _TINY_TEXT_WORDS:
            return False
    return True


def _headline_cards(
    anchors: list[lxml.html.HtmlElement],
) -> tuple[int, set[lxml.html.HtmlElement]]:
    """The number of distinct headline links (up to a cap), and the cards around them."""
    headlines: set[str] = set()
    cards: set[lxml.html.HtmlElement] = set()
    lengths = _Lengths()  # neighbouring cards climb through the same ancestors
    for anchor in anchors:
        raw = anchor.text_content()
        if not _ENOUGH_WORDS.match(raw):  # squashing spaces changes no word
            continue
        text = _squash(raw)
        block = _enclosing_block(anchor)
        if block is None or lengths[block] > 2 * len(text):
            continue  # a link inside a sentence, not a headline
        headlines.add(text)
        cards.add(_card(block, lengths))
    return len(headlines), cards


def _pieces(cards: set[lxml.html.HtmlElement]) -> set[str]:
    """Every piece of text of the cards: each card's own text and that of each element in it
    (read only for a page with enough headlines: most pages have not)."""
    return {_squash(element.text_content()) for card in cards for element in card.iter("*")}


def _enclosing_block(element: lxml.html.HtmlElement) -> lxml.html.HtmlElement | None:
    parent = element.getparent()
    while parent is not None and parent.tag not in _BLOCKS:
        parent = parent.getparent()
    return parent


class _Lengths(dict[lxml.html.HtmlElement, int]):
    """``_text_length`` of elements, each computed once (lxml hands back the same proxy
    object for a node while one is alive, and this dict keeps them alive)."""

    def __missing__(self, element: lxml.html.HtmlElement) -> int:
        length = self[element] = _text_length(element)
        return length


def _card(block: lxml.html.HtmlElement, lengths: _Lengths) -> lxml.html.HtmlElement:
    """The largest ancestor of a headline's block (up to four levels) still card-sized."""
    node = block
    for _ in range(_CARD_CLIMB):
        parent = node.getparent()
        if parent is None or parent.tag in {"body", "html"}:
            break
        if lengths[parent] > _CARD_MAX_CHARS:
            break
        node = parent
    return node


def _text_length(element: lxml.html.HtmlElement) -> int:
    """Characters of the element's text with spaces collapsed (computed by libxml2)."""
    return int(_TEXT_LENGTH(element))


def _squash(text: str) -> str:
    return " ".join(text.split())


def _words(text: str) -> int:
    return len(_WORD.findall(text))
