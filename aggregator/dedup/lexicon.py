"""Small word lists: English function words, and phrases that mark page boilerplate.

Function words carry no story: they are left out of story terms (still in copy shingles).
Other languages rely on the IDF, which gives their function words little weight.
"""

from __future__ import annotations

import re

_STOPWORDS = """
    a about above across after afterwards again against all almost alone along already also
    although always am among an and another any anyone anything anyway are around as at back
    be became because become becomes been before behind being below beside besides between
    beyond both but by can cannot could did do does doing done down during each either else
    enough etc even ever every everyone everything few first for former from further get gets
    got had has have having he her here hers herself him himself his how however i if in into
    is it its itself just last least less let like made make many may me might more most
    mostly much must my myself neither never nevertheless next no nobody none nor not nothing
    now of off often on once one only onto or other others otherwise our ours ourselves out
    over own per perhaps put rather re really said same say says see seem seemed seems several
    she should since so some someone something sometimes still such than that the their theirs
    them themselves then there thereby therefore these they this those though through
    throughout thus to together too toward towards under until up upon us very via was we well
    were what whatever when whence whenever where whereas whether which while who whoever
    whole whom whose why will with within without would yet you your yours yourself
    yourselves told tell according going go goes went new year years time times day days
    week weeks people including mr mrs ms dr s t don didn doesn isn wasn aren weren won
"""
ENGLISH_STOPWORDS = frozenset(_STOPWORDS.split())

# Page furniture that news sentences do not say: one of these marks its sentence.
_STRONG_PHRASES = (
    r"all rights reserved",
    r"enable javascript",
    r"javascript is disabled",
    r"privacy policy",
    r"click here",
    r"©",
    r"download (?:the|our) app",
    r"skip to (?:main )?content",
    r"this site uses",
    r"unsubscribe",
    r"cookie policy",
    r"accept (?:all )?cookies",
    r"read more",
    r"your inbox",
)
# Words news sentences use too ("urged members to sign up", "a new advertisement", "the most
# popular plans"): they mark a sentence they begin ("Sign up for ..."), a short one, or one
# with two of them.
_WEAK_PHRASES = (
    r"cookies?",
    r"subscribe",
    r"sign up",
    r"newsletters?",
    r"terms of (?:use|service)",
    r"advertisement",
    r"follow us",
    r"share (?:this|on)",
    r"log ?in",
    r"sign in",
    r"copyright",
    r"related (?:articles|stories|coverage)",
    r"most popular",
    r"your browser",
)
SHORT_PIECE_WORDS = 12  # a sentence of at most this many words is short
_LEADING = " \t\n\"'“‘([-–—•*|>"  # what may come before a sentence's first word


def _bounded(phrase: str) -> str:
    """``phrase`` matched as whole words ("sign in" not in "resign in")."""
    return rf"(?<!\w)(?:{phrase})(?!\w)" if phrase[0].isalnum() else phrase


_BOILERPLATE = re.compile(
    "(?P<strong>{})|(?P<weak>{})".format(
        "|".join(map(_bounded, _STRONG_PHRASES)), "|".join(map(_bounded, _WEAK_PHRASES))
    )
)
_SPECIAL = re.compile(r"[()?\[\\.*+{|^$]")


def boilerplate_pattern() -> re.Pattern[str]:
    """One compiled pattern matching any boilerplate phrase (case-folded text); a match's
    ``lastgroup`` is ``strong`` or ``weak``."""
    return _BOILERPLATE


def _literal_head(phrase: str) -> str:
    """The plain text every match of ``phrase`` starts with ("log ?in" -> "log")."""
    special = _SPECIAL.search(phrase)
    if special is None:
        return phrase
    head = phrase[: special.start()]
    return head[:-1] if special.group() in "?*{" else head


BOILERPLATE_HEADS = tuple(sorted({_literal_head(p) for p in (*_STRONG_PHRASES, *_WEAK_PHRASES)}))
if not all(BOILERPLATE_HEADS):  # an empty head would make boilerplate_found try everywhere
    raise ValueError("every boilerplate phrase must start with plain text")


def boilerplate_found(folded: str) -> set[str]:
    """Every distinct phrase match in ``folded`` (case-folded text), found by trying the
    pattern only where a phrase's head occurs (``str.find``): a text holds a match exactly
    when this set is not empty, and a piece of the text can hold one only if it contains one
    of these strings (no phrase spans a sentence break). Six times cheaper than letting the
    pattern scan an article."""
    found: set[str] = set()
    for head in BOILERPLATE_HEADS:
        at = folded.find(head)
        while at != -1:
            match = _BOILERPLATE.match(folded, at)
            if match is not None:
                found.add(match.group())
            at = folded.find(head, at + 1)
    return found


def boilerplate_piece(folded: str, found: set[str]) -> bool:
    """Whether a sentence piece (case-folded) is boilerplate: it holds a strong phrase, or
    begins with a weak one, or holds a weak one and is short, or two distinct weak ones.
    ``found``: ``boilerplate_found`` of the whole text, so that most pieces are passed over
    with a substring test."""
    if not any(phrase in folded for phrase in found):
        return False
    start = len(folded) - len(folded.lstrip(_LEADING))
    weak: set[str] = set()
    for match in _BOILERPLATE.finditer(folded):
        if match.lastgroup == "strong" or match.start() == start:
            return True
        weak.add(match.group())
    return len(weak) >= 2 or (len(weak) == 1 and len(folded.split()) <= SHORT_PIECE_WORDS)
