"""Who said a quotation: the speaker phrase around it, by the patterns of news prose.

Tried in order, within the quote's paragraph:

- after the quote, when the quote ends a clause (``,” ?” !”``):
  ``“...,” Kerry said`` / ``“...,” said Kerry`` / ``“...,” the minister told reporters``;
- right before it, when it is introduced by ``:`` or ``,``:
  ``Kerry said: “...”`` / ``said Kerry, “...”`` / ``according to Kerry, “...”``;
- earlier in the same sentence (a partial quote): ``Kerry said the plan was “dead”``.

A speaker is a pronoun, a run of capitalised words (``Secretary of State John Kerry``) or a
short noun phrase with a determiner (``a spokesman for the ministry``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from aggregator.compare.text import STOPWORDS, word_set

TOKEN_RE = re.compile(r"[^\W\d_][\w’'.-]*|[,:;.!?—]")
QUOTE_MARK_RE = re.compile('["“”„]')
SPEECH_VERBS = frozenset(
    """said says say told tells added adds asked asks wrote writes declared declares stated
    states explained explains noted notes insisted insists argued argues continued recalled
    recalls replied replies responded responds warned warns claimed claims tweeted posted
    acknowledged acknowledges admitted admits announced announces posited quipped joked
    shouted yelled countered counters conceded concedes suggested suggests urged urges
    cautioned predicted testified remarked observed complained complains boasted lamented
    stressed emphasized added, vowed vows pleaded whispered exclaimed told, agreed
    concluded""".replace(",", "").split()
)
PRONOUNS = frozenset({"he", "she", "they", "we", "i"})
TITLES = word_set("mr. mrs. ms. dr. sen. rep. gov. gen. lt. col. capt. adm. prof. rev.")
CONNECTORS = frozenset({"of", "the", "for", "de", "al", "bin", "van", "von", "la", "le", "du"})
DETERMINERS = frozenset({"the", "a", "an", "one", "another", "his", "her", "their", "its"})
PHRASE_ENDS = word_set("who which that in on at during after before when while to as and but from")
CLAUSE_END = frozenset({".", "!", "?", ";"})
MAX_SPEAKER_WORDS = 7
MAX_OBJECT_WORDS = 5
AFTER_CHARS = 120
BEFORE_CHARS = 200


@dataclass(frozen=True, slots=True)
class Attribution:
    speaker: str  # as written: "Kerry", "he", "a State Department spokesman"
    how: str  # "after", "before" or "embedded"
    verb: str


def attribute(
    text: str, start: int, end: int, line_start: int, line_end: int
) -> Attribution | None:
    """The attribution of the quote spanning ``text[start:end]`` (marks included).

    ``line_start``/``line_end`` bound the paragraph of the quote's closing mark; the search
    before the quote is bounded by ``line_start`` too (pass the start of the quote's first
    paragraph, or the end of the previous quote in it).
    """
    inner_end = text[start:end].rstrip('"“”„ ')
    clause_open = bool(inner_end) and inner_end[-1] in ",?!—–-…"
    after = QUOTE_MARK_RE.split(text[end : min(line_end, end + AFTER_CHARS)])[0]
    found = _after(_tokens(after), clause_open)
    if found is None:
        before = QUOTE_MARK_RE.split(text[max(line_start, start - BEFORE_CHARS) : start])[-1]
        found = _before(_tokens(before))
    return found


def _tokens(window: str) -> list[str]:
    tokens: list[str] = []
    for raw in TOKEN_RE.findall(window):
        if len(raw) > 1 and raw.endswith(".") and raw.lower() not in TITLES and "." not in raw[:-1]:
            tokens.extend((raw[:-1], "."))
        else:
            tokens.append(raw)
    return tokens


def _after(tokens: list[str], clause_open: bool) -> Attribution | None:
    if tokens[:1] == [","]:
        tokens, clause_open = tokens[1:], True
    if not clause_open or not tokens:
        return None
    if _is_verb(tokens[0]):
        speaker = _forward(tokens[1:])
        return Attribution(speaker, "after", tokens[0]) if speaker else None
    for i, token in enumerate(tokens[: MAX_SPEAKER_WORDS + 2]):
        if token in CLAUSE_END:
            return None
        if _is_verb(token):
            speaker = _backward(_drop_adverbs(tokens[:i]), whole=True)
            return Attribution(speaker, "after", token) if speaker else None
    return None


def _before(tokens: list[str]) -> Attribution | None:
    if tokens and tokens[-1] in {":", ","}:
        found = _introduced(tokens[:-1])
        if found is not None:
            return found
    clause = _last_clause(tokens)
    for i in range(len(clause) - 1, -1, -1):
        if _is_verb(clause[i]):
            speaker = _backward(_drop_adverbs(clause[:i]), whole=False)
            return Attribution(speaker, "embedded", clause[i]) if speaker else None
    return None


def _introduced(tokens: list[str]) -> Attribution | None:
    """``Kerry said:`` / ``said Kerry,`` / ``Kerry told reporters:`` / ``according to Kerry,``."""
    clause = _last_clause(tokens)
    for i in range(len(clause) - 1, max(-1, len(clause) - MAX_OBJECT_WORDS - 3), -1):
        word = clause[i].lower()
        if word == "according" and clause[i + 1 : i + 2] == ["to"]:
            speaker = _forward(clause[i + 2 :])
            return Attribution(speaker, "before", "according to") if speaker else None
        if _is_verb(clause[i]):
            rest = clause[i + 1 :]
            speaker = _forward(rest) if rest and _name_word(rest[0]) else None
            if speaker is None and len(rest) <= MAX_OBJECT_WORDS:
                speaker = _backward(_drop_adverbs(clause[:i]), whole=False)
            return Attribution(speaker, "before", clause[i]) if speaker else None
    return None


def _last_clause(tokens: list[str]) -> list[str]:
    for i in range(len(tokens) - 1, -1, -1):
        if tokens[i] in CLAUSE_END:
            return tokens[i + 1 :]
    return tokens


def _is_verb(token: str) -> bool:
    return token.lower() in SPEECH_VERBS


def _drop_adverbs(tokens: list[str]) -> list[str]:
    while tokens and tokens[-1].endswith("ly") and tokens[-1].islower():
        tokens = tokens[:-1]
    return tokens


def _name_word(token: str) -> bool:
    """A capitalised word that can be part of a name ("But", "The" cannot)."""
    if not token[:1].isupper():
        return False
    return token.lower() in TITLES or token.lower().rstrip(".") not in STOPWORDS


def _backward(tokens: list[str], *, whole: bool) -> str | None:
    """The speaker phrase at the end of ``tokens``; with ``whole``, it must be all of them."""
    if not tokens:
        return None
    if tokens[-1] == ",":  # an apposition: "Kerry, the secretary of state, said"
        inner = tokens[:-1]
        commas = [i for i, t in enumerate(inner) if t == ","]
        return _backward(inner[: commas[-1]], whole=whole) if commas else None
    candidates: list[list[str]] = [
        p for p in (_name_run_back(tokens), _noun_phrase_back(tokens)) if p
    ]
    if whole:
        candidates = [p for p in candidates if len(p) == len(tokens)]
    if not candidates:
        return None
    longest: list[str] = max(candidates, key=len)
    return " ".join(longest)


def _name_run_back(tokens: list[str]) -> list[str] | None:
    if tokens[-1].lower() in PRONOUNS:
        return tokens[-1:]
    i = len(tokens)
    while i > 0 and len(tokens) - i < MAX_SPEAKER_WORDS:
        word = tokens[i - 1]
        if _name_word(word) or (word in CONNECTORS and i > 1 and _name_word(tokens[i - 2])):
            i -= 1
            continue
        break
    run = tokens[i:]
    return run if run and _name_word(run[0]) else None


def _noun_phrase_back(tokens: list[str]) -> list[str] | None:
    """The longest determiner phrase ending ``tokens``: "a spokesman for the ministry"."""
    found: list[str] | None = None
    if not tokens[-1][0].isalpha():
        return None
    for i in range(len(tokens) - 2, max(-1, len(tokens) - MAX_SPEAKER_WORDS - 1), -1):
        word = tokens[i]
        if not word[0].isalpha() or word.lower() in PHRASE_ENDS:
            break
        if word.lower() in DETERMINERS:
            found = tokens[i:]
    return found


def _forward(tokens: list[str]) -> str | None:
    """The speaker phrase at the start of ``tokens`` (``said Kerry``, ``said a spokesman``)."""
    if not tokens:
        return None
    if tokens[0].lower() in PRONOUNS:
        return tokens[0]
    run: list[str] = []
    for i, word in enumerate(tokens[:MAX_SPEAKER_WORDS]):
        nxt = tokens[i + 1] if i + 1 < len(tokens) else ""
        if _name_word(word) or (run and word in CONNECTORS and _name_word(nxt)):
            run.append(word)
        else:
            break
    if run:
        return " ".join(run)
    if tokens[0].lower() not in DETERMINERS:
        return None
    phrase = [tokens[0]]
    for word in tokens[1:MAX_SPEAKER_WORDS]:
        if not word[0].isalpha() or word.lower() in PHRASE_ENDS:
            break
        phrase.append(word)
    return " ".join(phrase) if len(phrase) > 1 else None
