"""Flat tables of a comparison for CSV/Parquet exports.

``comparison_rows`` gives one row per (cluster, outlet) and one per (cluster, outlet, term);
every value is a str, int, float, bool or None. Outlet labels become ``label_<key>`` columns.
Term rows are of two kinds: ``variant`` (a lexicon variant used by at least one outlet of the
cluster; outlets that did not use it get a row with count 0), ``distinctive`` (a word of the
outlet's distinctive-word list, with its z-score and rank) and ``distinctive_name`` (the same
for names).
"""

from __future__ import annotations

from statistics import mean
from typing import Any

Scalar = str | int | float | bool | None


def comparison_rows(
    cluster_id: str | int, comparison: dict[str, Any]
) -> tuple[list[dict[str, Scalar]], list[dict[str, Scalar]]]:
    info = comparison["outlets"]["outlets"]
    outlets = sorted(info)
    label_keys = sorted({key for outlet in outlets for key in info[outlet]["labels"]})
    outlet_rows = []
    for outlet in outlets:
        row = _outlet_row(cluster_id, outlet, comparison)
        row.update({f"label_{key}": info[outlet]["labels"].get(key) for key in label_keys})
        outlet_rows.append(row)
    term_rows = [row for outlet in outlets for row in _term_rows(cluster_id, outlet, comparison)]
    return outlet_rows, term_rows


def _outlet_row(cluster_id: str | int, outlet: str, c: dict[str, Any]) -> dict[str, Scalar]:
    info = c["outlets"]["outlets"][outlet]
    row: dict[str, Scalar] = {
        "cluster_id": cluster_id,
        "comparison_version": c["version"],
        "outlet": outlet,
        "outlet_name": info["name"],
        "country": info["country"],
        "articles": info["articles"],
        "words": c["terms"]["words"].get(outlet, 0),
        "non_english_articles": sum(
            1 for a in c["articles"] if a["outlet"] == outlet and a["language"] == "other"
        ),
    }
    row.update(_timeline_cols(outlet, c["timeline"]))
    row.update(_similarity_cols(outlet, c["similarity"]))
    row.update(_sentence_cols(c["sentences"]["outlets"].get(outlet)))
    row.update(_quote_cols(c["quotes"]["by_outlet"].get(outlet)))
    row.update(_headline_cols(c["headlines"]["outlets"].get(outlet)))
    row.update(_omission_cols(outlet, c["omissions"]))
    distinctive = c["terms"]["distinctive"]
    row["distinctive_words"] = " ".join(w["word"] for w in distinctive["outlets"].get(outlet, []))
    row["distinctive_names"] = " ".join(w["word"] for w in distinctive["names"].get(outlet, []))
    return row


def _timeline_cols(outlet: str, timeline: dict[str, Any]) -> dict[str, Scalar]:
    first = timeline.get("first_reporter") or {}
    mine: dict[str, Any] = next((r for r in timeline["outlets"] if r["outlet"] == outlet), {})
    return {
        "first_article": mine.get("article"),
        "first_published": mine.get("published"),
        "time_source": mine.get("time_source"),
        "time_precision": mine.get("precision"),
        "delay_s": mine.get("delay_s"),
        "rank": mine.get("rank"),
        "is_first_reporter": first.get("outlet") == outlet or outlet in first.get("tied_with", []),
        "first_reporter_confidence": first.get("confidence"),
    }


def _similarity_cols(outlet: str, sim: dict[str, Any]) -> dict[str, Scalar]:
    mine: list[dict[str, Any]] = [a for a in sim["articles"].values() if a["outlet"] == outlet]
    others = [v for k, v in sim["cosine"].get(outlet, {}).items() if k != outlet]
    return {
        "wire_share_max": max((a["wire_share"] for a in mine), default=0.0),
        "wire_share_mean": round(mean(a["wire_share"] for a in mine), 4) if mine else 0.0,
        "copy_group": next((a["copy_group"] for a in mine if a["copy_group"]), None),
        "cosine_mean": round(mean(others), 4) if others else None,
    }


def _sentence_cols(cell: dict[str, Any] | None) -> dict[str, Scalar]:
    cell = cell or {}
    return {
        "sentences_shared": cell.get("shared", 0),
        "sentences_unique": cell.get("unique", 0),
        "unique_share": cell.get("unique_share", 0.0),
    }


def _quote_cols(cell: dict[str, Any] | None) -> dict[str, Scalar]:
    cell = cell or {}
    speakers = cell.get("speakers", {})
    return {
        "quotes": cell.get("quotes", 0),
        "quotes_shared": cell.get("shared", 0),
        "quotes_alone": cell.get("alone", 0),
        "quotes_attributed": cell.get("attributed", 0),
        "short_quotes": cell.get("short_quotes", 0),
        "top_speaker": next(iter(speakers), None),
    }


def _headline_cols(cell: dict[str, Any] | None) -> dict[str, Scalar]:
    cell = cell or {}
    return {
        "headline": cell.get("title"),
        "headline_changed_words": cell.get("changed_words"),
        "headline_similarity": cell.get("similarity"),
        "headline_revisions": len(cell.get("revisions", [])),
    }


def _omission_cols(outlet: str, omissions: dict[str, Any]) -> dict[str, Scalar]:
    counts = omissions["by_outlet"].get(outlet, {})
    casualties = omissions["casualty_figures"].get(outlet, [])
    return {
        **{key: int(value) for key, value in counts.items()},
        "casualty_figures": ";".join(f"{v:g}" for v in casualties),
    }


def _term_rows(cluster_id: str | int, outlet: str, c: dict[str, Any]) -> list[dict[str, Scalar]]:
    rows: list[dict[str, Scalar]] = []
    for group in c["terms"]["groups"]:
        cell = group["outlets"].get(outlet, {"variants": {}})
        for variant in group["variants_used"]:
            counts = cell["variants"].get(variant, {"count": 0, "per_1000": 0.0})
            rows.append(
                _term(cluster_id, outlet, "variant", group=group["id"], term=variant, counts=counts)
            )
    for kind, key in (("distinctive", "outlets"), ("distinctive_name", "names")):
        for rank, word in enumerate(c["terms"]["distinctive"][key].get(outlet, []), start=1):
            row = _term(cluster_id, outlet, kind, group=None, term=word["word"], counts=word)
            row.update(z=word["z"], rank=rank)
            rows.append(row)
    return rows


def _term(
    cluster_id: str | int,
    outlet: str,
    kind: str,
    *,
    group: str | None,
    term: str,
    counts: dict[str, Any],
) -> dict[str, Scalar]:
    return {
        "cluster_id": cluster_id,
        "outlet": outlet,
        "kind": kind,
        "group": group,
        "term": term,
        "count": int(counts["count"]),
        "per_1000": float(counts["per_1000"]),
        "z": None,
        "rank": None,
    }
