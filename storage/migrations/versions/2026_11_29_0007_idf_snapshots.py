"""idf_snapshots: the clusterer's IDF table, kept across restarts

The story-cluster scores weigh terms by an IDF counted over every article the clusterer has
seen. A restart rebuilt it from the articles still inside the time window only, so once
articles had left the window a restarted clusterer scored otherwise than one that never
stopped. ``idf_snapshots`` holds, per parameter set, the table (``IdfTable.to_bytes``,
zlib-compressed counters and the articles waiting for the next IDF step), written in the
transaction of a clustering batch together with the last ``cluster_seq`` it counted.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29 10:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "idf_snapshots",
        sa.Column("param_version", sa.String(length=64), nullable=False),
        sa.Column("cluster_seq", sa.BigInteger(), nullable=False),
        sa.Column("articles", sa.BigInteger(), nullable=False),
        sa.Column("payload", sa.LargeBinary(), nullable=False),
        sa.Column("saved_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["param_version"],
            ["param_sets.version"],
            name=op.f("fk_idf_snapshots_param_version_param_sets"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("param_version", name=op.f("pk_idf_snapshots")),
    )


def downgrade() -> None:
    op.drop_table("idf_snapshots")
