"""Who is speaking, when the attribution does not name them.

For each quote of an article, in order:

- a named attribution (``Kerry said``, ``a spokesman said``) is taken as written;
- ``he``/``she`` is the last named speaker of the article (``previous_speaker``; "she" skips
  a "Mr." and "he" a "Ms."/"Mrs."); before any
  named speaker, the person the article has named most often so far (``main_name``: the
  protagonist the lead introduced, "Glenn Beck ... he said"). Only names that appeared at
  least once with a first name count as persons ("Glenn Beck", then "Beck"), so "America" or
  "Republicans" never do;
- a quote without attribution continues the speaker of the quote before it (``continued``)
  when it is in the same paragraph or opens the next one, and no other person is named in
  between (the press convention for runs of quotes).
"""

from __future__ import annotations

import bisect
import re
from collections import Counter
from dataclasses import dataclass

from aggregator.compare.analysis import Doc
from aggregator.compare.attribution import DETERMINERS, PRONOUNS
from aggregator.compare.names import Vocabulary, name_mentions, person_like
from aggregator.compare.text import word_set

LINE_RE = re.compile(r"[^\n]+")
MALE_TITLES = word_set("mr sir lord king prince")
FEMALE_TITLES = word_set("ms mrs miss dame lady queen princess")


@dataclass(frozen=True, slots=True)
class Speaker:
    name: str | None
    resolution: str | None  # "as_written", "previous_speaker", "main_name", "continued"


def resolve_speakers(doc: Doc, vocab: Vocabulary) -> list[Speaker]:
    quoted = [(q.span.start, q.span.end) for q in doc.quotes]
    mentions = [
        (at, name)
        for at, name in name_mentions(doc, vocab)
        if person_like(name) and not any(a <= at < b for a, b in quoted)
    ]
    persons = {name.split()[-1] for _, name in mentions if " " in name}
    mentions = [(at, name) for at, name in mentions if name.split()[-1] in persons]
    lines = _line_starts(doc.text)
    resolved: list[Speaker] = []
    named_so_far: list[str] = []
    previous: Speaker = Speaker(None, None)
    previous_end = 0
    for quote in doc.quotes:
        written = quote.attribution.speaker if quote.attribution else None
        if written is None:
            speaker = Speaker(None, None)
            gap = (previous_end, quote.span.start)
            if previous.name and _continues(doc.text, lines, gap, mentions):
                speaker = Speaker(previous.name, "continued")
        elif written.lower() in {"he", "she"}:
            last_named = _last_agreeing(named_so_far, written.lower())
            speaker = _pronoun(last_named, mentions, quote.span.start)
        else:
            speaker = Speaker(written, "as_written")
            if named(written):
                named_so_far.append(written)
        resolved.append(speaker)
        previous, previous_end = speaker, quote.span.end
    return resolved


def _continues(
    text: str, lines: list[int], gap: tuple[int, int], mentions: list[tuple[int, str]]
) -> bool:
    """Does a quote at ``start`` continue the one ending at ``previous_end``: in the same
    paragraph, or opening the next one, with no other person named in between?"""
    previous_end, start = gap
    line = bisect.bisect_right(lines, start) - 1
    previous_line = bisect.bisect_right(lines, previous_end - 1) - 1
    opens_line = not text[lines[line] : start].strip()
    if not (line == previous_line or (line == previous_line + 1 and opens_line)):
        return False
    return not any(previous_end <= at < start for at, _ in mentions)


def named(speaker: str) -> bool:
    """A name, not a pronoun or a descriptive phrase ("a spokesman")."""
    first = speaker.split(maxsplit=1)[0].lower()
    return first not in PRONOUNS and first not in DETERMINERS


def _last_agreeing(names: list[str], pronoun: str) -> str | None:
    """The last name that a "he" or "she" can stand for ("she" is not "Mr. Netanyahu")."""
    clash = MALE_TITLES if pronoun == "she" else FEMALE_TITLES
    for name in reversed(names):
        if name.split(maxsplit=1)[0].lower().rstrip(".") not in clash:
            return name
    return None


def _pronoun(last_named: str | None, mentions: list[tuple[int, str]], before: int) -> Speaker:
    if last_named is not None:
        return Speaker(last_named, "previous_speaker")
    earlier = [(at, name) for at, name in mentions if at < before]
    full: dict[str, str] = {}
    for _, name in earlier:  # the longest form: "Glenn Beck" for "Beck"
        key = name.split()[-1]
        if len(name) > len(full.get(key, "")):
            full[key] = name
    counts = Counter(name.split()[-1] for _, name in earlier if name.split()[-1] in full)
    if not counts:
        return Speaker(None, None)
    first: dict[str, int] = {}
    for at, name in earlier:
        first.setdefault(name.split()[-1], at)
    key = max(counts, key=lambda k: (counts[k], -first[k]))
    return Speaker(full[key], "main_name")


def _line_starts(text: str) -> list[int]:
    """Where each non-empty line (paragraph) starts."""
    return [m.start() for m in LINE_RE.finditer(text)] or [0]
