"""Editor corrections: merge stories, split articles off, move an article.

A correction is stored (with an audit entry) as data keyed by article ids, so it can be
re-applied after any re-clustering and wins over it. It is applied to the stored clusters at
once, so the editor sees it, and the clusterer learns it on its next run (at once when the web
runs in the service's process) and keeps the cluster the editor sees under the same id.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from aggregator.errors import ConflictError, InputError, NotFoundError
from storage.store import Store


def _version(store: Store) -> str:
    version = store.clusters.active_version()
    if version is None:
        raise NotFoundError("no story clusters yet", resource="clusters")
    return version


def _members(store: Store, cluster_id: int) -> list[int]:
    summary = store.clusters.cluster(cluster_id)
    if summary.merged_into is not None:
        raise ConflictError(
            f"was merged into cluster {summary.merged_into}", resource=f"cluster {cluster_id}"
        )
    return [article_id for article_id, _ in store.clusters.members(cluster_id)]


def merge(store: Store, cluster_ids: Sequence[int], *, actor: str, note: str, now: datetime) -> int:
    """Merge clusters into the first one; returns the surviving cluster id."""
    ids = list(dict.fromkeys(cluster_ids))
    if len(ids) < 2:
        raise InputError("merge needs at least two different clusters", resource="merge")
    version = _version(store)
    groups = [_members(store, cid) for cid in ids]
    keys = [store.clusters.cluster(cid).key for cid in ids]
    store.corrections.add_correction(
        "merge",
        {
            "clusters": ids,
            "anchors": [group[0] for group in groups if group],
            "articles": [a for group in groups for a in group],
            "survivor_key": keys[0],
        },
        actor=actor,
        note=note,
        now=now,
    )
    store.clusters.merge_clusters(version, keys[0], keys[1:], now)
    store.clusters.refresh_stats([ids[0]], now)
    return ids[0]


def split(
    store: Store,
    cluster_id: int,
    article_ids: Sequence[int],
    *,
    actor: str,
    note: str,
    now: datetime,
) -> int:
    """Move ``article_ids`` out of a cluster into a new one; returns the new cluster id."""
    members = set(_members(store, cluster_id))
    chosen = list(dict.fromkeys(article_ids))
    if not chosen or not set(chosen) <= members:
        raise InputError("split needs articles of this cluster", resource=f"cluster {cluster_id}")
    if set(chosen) == members:
        raise InputError("split must leave at least one article", resource=f"cluster {cluster_id}")
    version = _version(store)
    payload = {"cluster": cluster_id, "articles": chosen}
    correction = store.corrections.add_correction("split", payload, actor=actor, note=note, now=now)
    # A negative key cannot collide with the engine's; the clusterer renames it to the id
    # the engine gives the new cluster when it learns the correction.
    key = str(-correction)
    store.corrections.update_payload(correction, {**payload, "key": key})
    new_id = store.clusters.move_articles(version, chosen, key, now)
    store.clusters.refresh_stats([cluster_id, new_id], now)
    return new_id


def move(
    store: Store, article_id: int, to_cluster_id: int, *, actor: str, note: str, now: datetime
) -> int:
    """Move one article into another cluster; returns that cluster's id."""
    version = _version(store)
    current = store.clusters.cluster_ids_of(version, [article_id]).get(article_id)
    if current is None:
        raise NotFoundError("article is in no cluster", resource=f"article {article_id}")
    if current == to_cluster_id:
        raise InputError("the article is already in that cluster", resource=f"article {article_id}")
    target = _members(store, to_cluster_id)
    store.corrections.add_correction(
        "move",
        {"article": article_id, "from": current, "to": to_cluster_id, "with": target[:5]},
        actor=actor,
        note=note,
        now=now,
    )
    store.clusters.move_articles(
        version, [article_id], store.clusters.cluster(to_cluster_id).key, now
    )
    store.clusters.refresh_stats([current, to_cluster_id], now)
    return to_cluster_id


def replay(
    store: Store, version: str, kind: str, payload: dict[str, object], *, key: str, now: datetime
) -> None:
    """Apply a stored correction's intent to the stored clusters of ``version`` (after a
    re-clustering, for articles the engine no longer holds). Idempotent; ``key`` names the
    cluster a split creates when it has to create one."""
    if kind == "merge":
        _replay_merge(store, version, _ints(payload.get("anchors")), now)
    elif kind == "split":
        _replay_split(store, version, _ints(payload.get("articles")), key, now)
    elif kind == "move":
        anchors = _ints(payload.get("with"))[:1]
        _replay_move(store, version, _ints([payload.get("article")]) + anchors, now)


def _replay_merge(store: Store, version: str, anchors: list[int], now: datetime) -> None:
    targets = list(dict.fromkeys(store.clusters.cluster_ids_of(version, anchors).values()))
    if len(targets) > 1:
        keys = [store.clusters.cluster(cid).key for cid in targets]
        store.clusters.merge_clusters(version, keys[0], keys[1:], now)
        store.clusters.refresh_stats(targets[:1], now)


def _replay_split(store: Store, version: str, chosen: list[int], key: str, now: datetime) -> None:
    homes = set(store.clusters.cluster_ids_of(version, chosen).values())
    if not homes:
        return
    if len(homes) == 1:
        members = {a for a, _ in store.clusters.members(next(iter(homes)))}
        if members == set(chosen):
            return  # already a story of its own
    new_id = store.clusters.move_articles(version, chosen, key, now)
    store.clusters.refresh_stats([*homes, new_id], now)


def _replay_move(store: Store, version: str, pair: list[int], now: datetime) -> None:
    if len(pair) != 2:
        return
    article, anchor = pair
    where = store.clusters.cluster_ids_of(version, pair)
    if anchor not in where or where.get(article) == where[anchor]:
        return
    target = where[anchor]
    store.clusters.move_articles(version, [article], store.clusters.cluster(target).key, now)
    store.clusters.refresh_stats([target, *([where[article]] if article in where else [])], now)


def _ints(values: object) -> list[int]:
    items = values if isinstance(values, list | tuple) else []
    return [int(v) for v in items if isinstance(v, int | str) and str(v).lstrip("-").isdigit()]
