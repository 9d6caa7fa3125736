"""PostgreSQL search: a table of its own, written only when a title or text changes

The search index was a GIN index on an expression of ``articles`` (``to_tsvector`` of the
title and text). PostgreSQL adds an entry to every index of a table for each row version an
UPDATE makes (unless no indexed column changes and the new version fits on the same page),
so each update of an article (its page's text, then ``state = 'clustered'``, a lease, ...)
tokenised the whole text again and put every word into the GIN index again. Measured on the
end-to-end benchmark (1,810 articles, ``bench.pipeline_e2e``): the server spent 3.0 ms of
CPU an article, 1.3 ms without that index.

The words now live in ``article_search`` (one row per article, deleted with it), written by
a trigger ``AFTER INSERT OR UPDATE OF title, text`` (as SQLite's FTS5 triggers already do);
its GIN index is on a plain column. Pages are stored zstd-compressed
(``aggregator.pagepack``), so ``article_html.html_gz`` is marked ``STORAGE EXTERNAL``:
PostgreSQL no longer tries to compress them again.

SQLite: nothing changes.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29 07:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The search document (as before: title and text, the first 200,000 characters); the
# function and the backfill spell it out for NEW and for articles.
UPGRADE = [
    "CREATE TABLE article_search ("
    " article_id BIGINT PRIMARY KEY REFERENCES articles (id) ON DELETE CASCADE,"
    " document TSVECTOR NOT NULL)",
    "CREATE FUNCTION article_search_sync() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
    "INSERT INTO article_search (article_id, document) VALUES (NEW.id, to_tsvector('simple', "
    "left(coalesce(NEW.title, '') || ' ' || coalesce(NEW.text, ''), 200000))) "
    "ON CONFLICT (article_id) DO UPDATE SET document = EXCLUDED.document; "
    "RETURN NULL; END $$",
    "CREATE TRIGGER article_search_sync AFTER INSERT OR UPDATE OF title, text ON articles "
    "FOR EACH ROW EXECUTE FUNCTION article_search_sync()",
    "INSERT INTO article_search (article_id, document) SELECT id, to_tsvector('simple', "
    "left(coalesce(title, '') || ' ' || coalesce(text, ''), 200000)) FROM articles",
    "CREATE INDEX ix_article_search_document ON article_search USING gin (document)",
    "DROP INDEX IF EXISTS ix_articles_fts",
    "ALTER TABLE article_html ALTER COLUMN html_gz SET STORAGE EXTERNAL",
]

DOWNGRADE = [
    "ALTER TABLE article_html ALTER COLUMN html_gz SET STORAGE EXTENDED",
    "CREATE INDEX IF NOT EXISTS ix_articles_fts ON articles USING gin "
    "(to_tsvector('simple', left(coalesce(title, '') || ' ' || coalesce(text, ''), 200000)))",
    "DROP TRIGGER IF EXISTS article_search_sync ON articles",
    "DROP FUNCTION IF EXISTS article_search_sync()",
    "DROP TABLE IF EXISTS article_search",
]


def upgrade() -> None:
    if op.get_context().dialect.name == "postgresql":
        for statement in UPGRADE:
            op.execute(statement)


def downgrade() -> None:
    if op.get_context().dialect.name == "postgresql":
        for statement in DOWNGRADE:
            op.execute(statement)
