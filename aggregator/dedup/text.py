"""Text normalisation and tokens: NFKC, case folding, punctuation dropped, numbers kept.

Scripts written without spaces (Chinese, Japanese, Thai, ...) are cut into character
bigrams, so every script yields word-like tokens. Nothing here raises on odd input.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

# (str.translate with a table is slow on non-ASCII text: 0.1 ms an article; five scans are not)
_QUOTES = (("\u2019", "'"), ("\u2018", "'"), ("\u02bc", "'"), ("\u201c", '"'), ("\u201d", '"'))
# a number with its inner separators (1,200 / 3.5 / 10:30), else a run of letters and digits
_TOKEN = re.compile(r"\d+(?:[.,:]\d+)*|[^\W_]+")
_UNSPACED = re.compile(
    r"[\u0e00-\u0eff\u1000-\u109f\u1780-\u17ff\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff]"
)
_LETTER = re.compile(r"[^\W\d_]")
_LATIN = re.compile(r"[A-Za-z\u00c0-\u024f\u1e00-\u1eff]")
# a letter outside those ranges: rare in Latin text, so finding them all is cheap
_NON_LATIN_LETTER = re.compile(r"[^\W\d_A-Za-z\u00c0-\u024f\u1e00-\u1eff]")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n+")

_SCRIPT_RANGES = (
    (0x0250, "latin"),
    (0x0370, "ipa"),
    (0x0400, "greek"),
    (0x0530, "cyrillic"),
    (0x0590, "armenian"),
    (0x0600, "hebrew"),
    (0x0780, "arabic"),
    (0x0900, "other"),
    (0x0E00, "indic"),
    (0x0F00, "thai"),
    (0x1E00, "other"),
    (0x1F00, "latin"),
    (0x2000, "greek"),
    (0x3040, "other"),
    (0xAC00, "cjk"),
    (0xD7B0, "hangul"),
    (0x110000, "other"),
)


def normalize(text: str) -> str:
    """NFKC, one apostrophe and quote form, case folded."""
    text = unicodedata.normalize("NFKC", text)
    for quote, plain in _QUOTES:
        if quote in text:
            text = text.replace(quote, plain)
    return text.casefold()


def tokens(normalized: str) -> list[str]:
    """Word tokens of normalised text; unspaced scripts become character bigrams."""
    if not _UNSPACED.search(normalized):
        return _TOKEN.findall(normalized)
    out: list[str] = []
    for token in _TOKEN.findall(normalized):
        if len(token) > 2 and _UNSPACED.search(token):
            out.extend(_bigrams(token))
        else:
            out.append(token)
    return out


def _bigrams(token: str) -> list[str]:
    return [token[i : i + 2] for i in range(len(token) - 1)]


def sentences(text: str) -> list[str]:
    """Rough sentence (or line) pieces of a text."""
    return [piece for piece in _SENTENCE_END.split(text) if piece.strip()]


@lru_cache(maxsize=4096)
def _script_of(codepoint: int) -> str:
    for upper, name in _SCRIPT_RANGES:
        if codepoint < upper:
            return name
    return "other"


def script(text: str, sample: int = 2000) -> str:
    """The script most letters of ``text`` are written in ("latin", "cyrillic", "cjk" ...)."""
    head = text[:sample]
    if not _NON_LATIN_LETTER.search(head):  # 20 times cheaper than counting every letter
        return "latin" if _LETTER.search(head) else "none"
    letters = len(_LETTER.findall(head))
    if (letters - len(_NON_LATIN_LETTER.findall(head))) * 2 > letters:
        return "latin"
    counts: dict[str, int] = {}
    for char in head:
        if char.isalpha():
            name = _script_of(ord(char))
            counts[name] = counts.get(name, 0) + 1
    if not counts:
        return "none"
    return max(sorted(counts), key=lambda name: counts[name])
