"""story_clusters.revision: a comparison computed from an older membership stays stale

The comparison job reads a stale story's members, computes its comparison (seconds for a
large story, in a worker process) and stores it, clearing ``comparison_stale``. When the
clusterer changed the story in between (an article added or moved, the flag set again), the
store cleared the flag all the same, and the story kept a comparison without its newest
articles until it changed again. ``revision`` counts the changes of a story's members (each
refresh of its statistics adds one); the comparison clears the flag only when the revision
is still the one it was computed from.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30 08:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("story_clusters") as batch:
        batch.add_column(sa.Column("revision", sa.BigInteger(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("story_clusters") as batch:
        batch.drop_column("revision")
