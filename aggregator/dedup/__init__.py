"""Copy groups and story clusters: shingles, MinHash signatures, a compact LSH index, and an
incremental, explainable engine. Pure: no database, no network; times come in as arguments.
(``command.py`` alone reads and writes files, for ``newsagg cluster``.)

The pipeline's view::

    params = DedupParams.from_mapping(settings.dedup)      # params.version names results
    engine = DedupEngine(params)
    engine.restore(stored_articles)                        # at start-up, in time order
    engine.restore(stored, idf=IdfCarry(table, after))     # ... with the IDF carried over
    table = engine.idf.to_bytes()                          # now and then, to carry it
    result = engine.add(doc_from_article(article))         # -> Assignment
    store(result.story_cluster, result.copy_group, result.why_dict(), result.signature)
    apply(result.events)                                   # merges and moves of earlier ones
    done, events = engine.correct(Correction(...))         # editors; store ``done``
"""

from __future__ import annotations

from aggregator.dedup.batch import CorpusResult, apply_corrections, cluster_corpus
from aggregator.dedup.corrections import Correction, CorrectionKind
from aggregator.dedup.engine import DedupEngine, IdfCarry, StoredArticle
from aggregator.dedup.features import DocInput, doc_from_article
from aggregator.dedup.metrics import PRF, Scores, bcubed, format_scores, pairwise, score
from aggregator.dedup.model import Assignment, ClusterEvent, Outcome, Placement, Rule, Why
from aggregator.dedup.params import DedupParams
from aggregator.dedup.signatures import ArticleSignature

__all__ = [
    "PRF",
    "ArticleSignature",
    "Assignment",
    "ClusterEvent",
    "CorpusResult",
    "Correction",
    "CorrectionKind",
    "DedupEngine",
    "DedupParams",
    "DocInput",
    "IdfCarry",
    "Outcome",
    "Placement",
    "Rule",
    "Scores",
    "StoredArticle",
    "Why",
    "apply_corrections",
    "bcubed",
    "cluster_corpus",
    "doc_from_article",
    "format_scores",
    "pairwise",
    "score",
]
