"""Per-outlet comparison of a story cluster (issue 4): pure, no database, network or clock.

Public API::

    compare_cluster(articles, outlets, lexicons, *, now=None, background=None, options=None)
        -> dict  (JSON-serialisable; see docs/compare.md for the schema)
    comparison_rows(cluster_id, comparison) -> (outlet_rows, term_rows)
    load_lexicons(path) / parse_lexicons(mapping) -> Lexicons   (ConfigError naming the key)
    split_sentences(text) -> list[Sentence]
"""

from aggregator.compare.core import CompareJob, compare_cluster
from aggregator.compare.lexicon import (
    LexiconGroup,
    Lexicons,
    Variant,
    load_lexicons,
    parse_lexicons,
)
from aggregator.compare.model import COMPARE_VERSION, CompareArticle, CompareOptions, OutletInfo
from aggregator.compare.rows import comparison_rows
from aggregator.compare.sentences import Sentence, split_sentences

__all__ = [
    "COMPARE_VERSION",
    "CompareArticle",
    "CompareJob",
    "CompareOptions",
    "LexiconGroup",
    "Lexicons",
    "OutletInfo",
    "Sentence",
    "Variant",
    "compare_cluster",
    "comparison_rows",
    "load_lexicons",
    "parse_lexicons",
    "split_sentences",
]
