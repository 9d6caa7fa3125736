"""Names in running text: runs of capitalised words, without a model.

- A name is a run of capitalised words (``Hassan Rouhani``, ``Department of Homeland
  Security``: ``of``, ``the``, ``al``, ``bin`` ... may join two capitalised words), within one
  sentence, not broken by punctuation.
- A capitalised word whose lower-case form appears anywhere in the cluster is a common word
  (``Officials said``, ``Police``), not a name; words in capitals (``NATO``) are names. A lone
  capitalised word opening a sentence is a name only if the cluster also capitalises it
  inside a sentence (``Moreover`` is not; ``Kerry`` is).
- Lines set in title case (a headline repeated in the text) are skipped.
- Leading titles (``Mr.``, ``President``, ``Sen.`` ...) are dropped: ``President Obama`` is
  ``Obama``. Days and months are not names.
- A shorter name that ends a longer one (``Kerry`` / ``John Kerry``), or has its first and
  last words (``Omar Mateen`` / ``Omar Mir Seddique Mateen``), joins the most mentioned such
  longer name. Initials and abbreviated titles join a run across their period
  (``Donald J. Trump``; ``Gov. Rick Scott`` is ``Rick Scott``).
"""

from __future__ import annotations

import bisect
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from aggregator.compare.analysis import Doc
from aggregator.compare.text import STOPWORDS, Token, read_once, word_set

CONNECTORS = frozenset(
    {"of", "the", "de", "del", "al", "bin", "ibn", "van", "von", "da", "la", "du"}
)
TITLES = word_set(
    """mr mrs ms dr president vice sen senator rep representative gov governor gen general
    secretary minister prime chancellor king queen prince princess pope judge justice
    speaker chairman chairwoman ambassador lt col adm sgt capt former dame sir lord"""
)
SHORT_TITLES = word_set("mr mrs ms dr sen rep gov gen lt col adm sgt capt")
CALENDAR = word_set(
    """monday tuesday wednesday thursday friday saturday sunday january february march april
    may june july august september october november december jan feb mar apr jun jul aug sep
    sept oct nov dec"""
)
GENERIC_HEADS = word_set(
    """state states house party department ministry council court committee times news post
    journal university street square city union nations republic assembly congress senate
    office agency service forces army navy bank group company corp inc church school"""
)
TITLE_CASE_SHARE = 0.6
TITLE_CASE_MIN_WORDS = 4


@dataclass(frozen=True, slots=True)
class Vocabulary:
    """Cluster-wide evidence on words: seen in lower case (common words), seen capitalised
    inside a sentence (names, when not also seen in lower case)."""

    lower: frozenset[str]
    midcap: frozenset[str]
    # each text's name mentions under this vocabulary, read once (quotes and omissions both
    # need them; reprints word for word share them)
    mentions: dict[str, tuple[tuple[int, str], ...]] = field(
        default_factory=dict, compare=False, repr=False
    )

    @property
    def names(self) -> frozenset[str]:
        """Lower-cased words the cluster capitalises inside sentences, never in lower case."""
        return self.midcap - self.lower


def cluster_vocabulary(docs: list[Doc]) -> Vocabulary:
    docs = list({doc.text: doc for doc in docs}.values())  # each text once: sets of words
    lower = {t.lower for d in docs for t in d.tokens if t.text[:1].islower()}
    midcap: set[str] = set()
    for doc in docs:
        starts = sorted(s.start for s in doc.sentences)
        for first, last in doc.sentence_tokens:
            if _title_case(doc.tokens[first:last]):
                continue
            for i in range(first, last):
                token = doc.tokens[i]
                if token.text[:1].isupper() and not _opens_sentence(doc, i, starts):
                    midcap.add(token.lower)
    return Vocabulary(frozenset(lower), frozenset(midcap))


def _opens_sentence(doc: Doc, i: int, starts: list[int]) -> bool:
    """Is token ``i`` the first word of its sentence (quotes and brackets aside)?"""
    if i == 0:
        return True
    token = doc.tokens[i]
    previous_end = doc.tokens[i - 1].end
    k = bisect.bisect_left(starts, previous_end)
    return k < len(starts) and starts[k] <= token.start


def doc_names(doc: Doc, vocab: Vocabulary) -> Counter[str]:
    """How often the article mentions each name phrase."""
    return Counter(phrase for _, phrase in name_mentions(doc, vocab))


def name_mentions(doc: Doc, vocab: Vocabulary) -> tuple[tuple[int, str], ...]:
    """Each name mention of the article as (character offset, phrase), in text order."""
    return read_once(vocab.mentions, doc.text, lambda: tuple(_mentions(doc, vocab)))


def _mentions(doc: Doc, vocab: Vocabulary) -> list[tuple[int, str]]:
    found: list[tuple[int, str]] = []
    for first, last in doc.sentence_tokens:
        tokens = doc.tokens[first:last]
        if _title_case(tokens):
            continue
        for run in _runs(tokens, doc.text):
            name = _strip_titles(_trim_run(run, run[0] is tokens[0], vocab))
            if name:
                found.append((name[0].start, " ".join(t.text for t in name)))
    return found


def _trim_run(run: list[Token], opens: bool, vocab: Vocabulary) -> list[Token]:
    """Keep a run of several capitalised words ("Tea Party Movement"), minus a common word
    opening the sentence; keep a single word only if it is no common word."""
    if opens and len(run) > 1 and run[0].lower in vocab.lower:
        run = run[1:]
        opens = False
    if len(run) > 1:
        return run
    word = run[0]
    if word.text.isupper() and len(word.text) > 1:
        return run
    if word.lower in vocab.lower or (opens and word.lower not in vocab.midcap):
        return []  # "Officials", "Moreover": capitalised only where a sentence starts
    return run


def _title_case(tokens: tuple[Token, ...]) -> bool:
    alpha = [t for t in tokens if t.text[:1].isalpha()]
    if len(alpha) < TITLE_CASE_MIN_WORDS:
        return False
    capital = sum(1 for t in alpha if t.text[:1].isupper())
    return capital / len(alpha) >= TITLE_CASE_SHARE


def _capitalised(token: Token) -> bool:
    return token.text[:1].isupper() and token.lower not in STOPWORDS


def _runs(tokens: tuple[Token, ...], text: str) -> list[list[Token]]:
    runs: list[list[Token]] = []
    run: list[Token] = []
    for i, token in enumerate(tokens):
        joined = bool(run) and _joined(run[-1], token, text)
        if _capitalised(token):
            if run and not joined:
                runs.append(run)
                run = []
            run.append(token)
        elif joined and token.lower in CONNECTORS and _next_capitalised(tokens, i, text):
            run.append(token)
        else:
            if run:
                runs.append(run)
            run = []
    if run:
        runs.append(run)
    return runs


def _joined(previous: Token, token: Token, text: str) -> bool:
    """Nothing but space between the words, or the period of an initial or a title
    ("Donald J. Trump", "Gov. Rick Scott")."""
    gap = text[previous.end : token.start].strip()
    if not gap:
        return True
    abbreviation = len(previous.text) == 1 or previous.lower in TITLES
    return gap == "." and abbreviation and previous.text[:1].isupper()


def _next_capitalised(tokens: tuple[Token, ...], i: int, text: str) -> bool:
    if i + 1 >= len(tokens) or text[tokens[i].end : tokens[i + 1].start].strip():
        return False
    return _capitalised(tokens[i + 1])


def _strip_titles(run: list[Token]) -> list[Token]:
    """Drop the titles before a name: "President Obama", "Florida GOP Gov. Rick Scott"."""
    cuts = [k for k, t in enumerate(run[:-1]) if t.lower in SHORT_TITLES]
    if cuts:
        run = run[cuts[-1] + 1 :]
    i = 0
    while i < len(run) - 1 and (run[i].lower.rstrip(".") in TITLES or run[i].lower in CONNECTORS):
        i += 1
    name = run[i:]
    if len(name) == 1 and (name[0].lower in CALENDAR or name[0].lower.rstrip(".") in TITLES):
        return []
    return [t for t in name if t.lower not in CALENDAR] if len(name) > 1 else name


def person_like(name: str) -> bool:
    """One to three words, no connector, not in capitals, not ending in a generic head
    ("House", "Ministry"): a name that may be a person's."""
    parts = name.split()
    if not 1 <= len(parts) <= 3 or any(p.lower() in CONNECTORS for p in parts):
        return False
    last = parts[-1]
    return last.lower() not in GENERIC_HEADS and not (last.isupper() and len(last) > 1)


def _part_of(short: tuple[str, ...], long: tuple[str, ...]) -> bool:
    """ "Kerry" ends "John Kerry"; "Omar Mateen" has the first and last words of "Omar Mir
    Seddique Mateen"."""
    if long[-len(short) :] == short:
        return True
    return len(short) > 1 and short[0] == long[0] and short[-1] == long[-1]


def canonical_names(phrases: Counter[str]) -> dict[str, str]:
    """Map each phrase to its entity's name: the most mentioned longer phrase it ends, if any
    (then that phrase's own entity name)."""
    buckets: dict[str, list[tuple[str, ...]]] = defaultdict(list)
    for phrase in phrases:
        words = tuple(phrase.split())
        buckets[words[-1]].append(words)
    parent: dict[str, str] = {}
    for bucket in buckets.values():
        for words in bucket:
            longer = [q for q in bucket if len(q) > len(words) and _part_of(words, q)]
            best = max(longer, key=lambda q: (phrases[" ".join(q)], len(q), q), default=words)
            parent[" ".join(words)] = " ".join(best)
    canonical: dict[str, str] = {}
    for phrase in parent:
        name = phrase
        while parent[name] != name:  # each step is strictly longer: this ends
            name = parent[name]
        canonical[phrase] = name
    return canonical
