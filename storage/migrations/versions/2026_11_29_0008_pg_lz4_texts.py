"""PostgreSQL: article texts, their search words and stories' comparisons compressed with lz4

PostgreSQL compresses a value over ~2 KB before it moves it out of line (TOAST), with pglz by
default. ``pglz_compress`` was the server's largest named symbol in a profile of the
end-to-end benchmark (``bench.pipeline_e2e``, 1,810 articles): every page's text, the
search words of it (``article_search.document``) and every story's comparison (JSON) go
through it. lz4 (PostgreSQL 14 and later, when the server was built with it) compresses
several times faster at a similar size. Only values written after this migration use it;
PostgreSQL reads both.

Skipped, with nothing changed, on a server without lz4 (``default_toast_compression`` does
not offer it). SQLite: nothing changes.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-29 13:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = (
    ("articles", "text"),
    ("article_search", "document"),
    ("story_comparisons", "comparison"),
)


def _lz4_available() -> bool:
    offered = op.get_bind().scalar(
        sa.text("SELECT enumvals FROM pg_settings WHERE name = 'default_toast_compression'")
    )
    return bool(offered) and "lz4" in offered


def _set(method: str) -> None:
    if op.get_context().dialect.name != "postgresql" or not _lz4_available():
        return
    for table, column in COLUMNS:
        op.execute(f"ALTER TABLE {table} ALTER COLUMN {column} SET COMPRESSION {method}")


def upgrade() -> None:
    _set("lz4")


def downgrade() -> None:
    _set("default")
