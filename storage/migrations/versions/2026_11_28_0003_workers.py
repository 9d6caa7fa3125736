"""workers: the clusterer's consumption order and a per-host schedule shared by workers

``articles.cluster_seq`` records the order in which the clusterer took articles, so
``newsagg recluster`` replays exactly the sequence the service saw (clusters of an incremental
engine depend on order). ``host_slots`` holds, per host, the earliest time the next request
may start, so the per-host delay holds across worker processes and hosts.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28 10:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("articles", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "cluster_seq",
                sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
                nullable=True,
            )
        )
        batch_op.create_index(batch_op.f("ix_articles_cluster_seq"), ["cluster_seq"], unique=False)
    op.create_table(
        "host_slots",
        sa.Column("host", sa.String(length=255), nullable=False),
        sa.Column("next_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("host", name=op.f("pk_host_slots")),
    )


def downgrade() -> None:
    op.drop_table("host_slots")
    with op.batch_alter_table("articles", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_articles_cluster_seq"))
        batch_op.drop_column("cluster_seq")
