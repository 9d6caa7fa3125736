"""article times index: an article's times read without its row

Sparklines of the stories page and story pages read each member's ``published`` and
``first_seen``. In SQLite those columns sit after ``text`` in the row, so every lookup walked
the text's overflow pages: on the soak's database (10k articles, stories of hundreds) the
sparklines of one stories page took 45 ms; with this covering index 19 ms. In PostgreSQL the
same lookups become index-only scans.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28 18:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEX = "ix_articles_id_published_first_seen"
COLUMNS = ["id", "published", "first_seen"]


def upgrade() -> None:
    with op.batch_alter_table("articles", schema=None) as batch_op:
        batch_op.create_index(INDEX, COLUMNS, unique=False)


def downgrade() -> None:
    with op.batch_alter_table("articles", schema=None) as batch_op:
        batch_op.drop_index(INDEX)
