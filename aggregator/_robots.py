"""robots.txt rules as RFC 9309 reads them (private to ``aggregator.fetch``).

- Groups start with one or more ``user-agent`` lines. The groups naming our product token
  (case-insensitive; ``newsagg`` for "newsagg/0.1 (+https://...)") are combined; when none
  does, the ``*`` groups are; when there is neither, everything is allowed.
- ``allow`` / ``disallow`` values are path patterns with ``*`` (any run of characters) and a
  final ``$`` (end of the path). The longest matching pattern wins; on a tie ``allow`` wins.
  An empty ``disallow`` allows everything. ``/robots.txt`` itself is always allowed.
- Matching is a linear-time wildcard scan, not a regular expression, so a hostile robots.txt
  cannot make it backtrack for ages.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote, urlsplit

_SAFE = "/:?#[]@!$&'()*+,;=%-._~"


@dataclass(frozen=True, slots=True)
class Rule:
    allow: bool
    pattern: str  # percent-encoded; may hold '*' and a final '$'


@dataclass(frozen=True, slots=True)
class RobotsRules:
    rules: tuple[Rule, ...] = ()

    def allows(self, url: str) -> bool:
        path = path_of(url)
        if path == "/robots.txt":
            return True
        best: Rule | None = None
        for rule in self.rules:
            if not _matches(rule.pattern, path):
                continue
            if best is None or _beats(rule, best):
                best = rule
        return best is None or best.allow


ALLOW_ALL = RobotsRules()


def _beats(rule: Rule, best: Rule) -> bool:
    if len(rule.pattern) != len(best.pattern):
        return len(rule.pattern) > len(best.pattern)
    return rule.allow and not best.allow


def path_of(url: str) -> str:
    """The part of a URL robots rules are matched against: path and query, normalised."""
    parts = urlsplit(url)
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return quote(path, safe=_SAFE)


def product_token(user_agent: str) -> str:
    """``newsagg`` for ``newsagg/0.1 (+https://...)``."""
    words = user_agent.split("/", 1)[0].split()
    return words[0].lower() if words else ""


def parse_robots(text: str, user_agent: str) -> RobotsRules:
    """The rules of ``text`` that apply to ``user_agent``'s product token."""
    token = product_token(user_agent)
    ours: list[Rule] = []
    anyone: list[Rule] = []
    agents: set[str] = set()
    named = in_rules = False
    for key, value in _lines(text):
        if key == "user-agent":
            if in_rules:
                agents, in_rules = set(), False
            agents.add(value.split("/", 1)[0].strip().lower())
            named = named or token in agents
        elif key in ("allow", "disallow") and agents:
            in_rules = True
            rule = _rule(key, value)
            if rule is not None and token in agents:
                ours.append(rule)
            if rule is not None and "*" in agents:
                anyone.append(rule)
    # When a group names us, only such groups apply, even if they hold no rule.
    return RobotsRules(tuple(ours if named else anyone))


def _rule(key: str, value: str) -> Rule | None:
    if not value:
        return None  # "Disallow:" with no path allows everything; "Allow:" adds nothing
    pattern = quote(value, safe=_SAFE)
    if not pattern.startswith(("/", "*")):
        pattern = "/" + pattern
    return Rule(allow=key == "allow", pattern=pattern)


def _lines(text: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for raw in text.lstrip("\ufeff").splitlines():
        line = raw.split("#", 1)[0].strip()
        key, sep, value = line.partition(":")
        if sep:
            out.append((key.strip().lower(), value.strip()))
    return out


def _matches(pattern: str, path: str) -> bool:
    """Does ``pattern`` match a prefix of ``path`` (all of it when it ends with '$')?"""
    anchored = pattern.endswith("$")
    body = pattern[:-1] if anchored else pattern + "*"
    return _wildcard(body, path)


def _wildcard(pattern: str, text: str) -> bool:
    """Full match of ``text`` by ``pattern`` where '*' is any run: greedy with one backtrack
    point, O(len(pattern) * len(text)) at worst."""
    p = t = 0
    star = -1
    star_t = 0
    while t < len(text):
        if p < len(pattern) and pattern[p] == "*":
            star, star_t = p, t
            p += 1
        elif p < len(pattern) and pattern[p] == text[t]:
            p += 1
            t += 1
        elif star >= 0:
            p = star + 1
            star_t += 1
            t = star_t
        else:
            return False
    while p < len(pattern) and pattern[p] == "*":
        p += 1
    return p == len(pattern)
