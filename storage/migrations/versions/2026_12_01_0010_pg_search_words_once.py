"""PostgreSQL search: a reprint takes the words of the identical text already stored

Wire copy reaches us from many outlets with the same title and text, and the trigger of 0006
ran ``to_tsvector`` over each copy again: about half of the server's CPU an article on the
end-to-end benchmark. The trigger now first looks for another article with the same
``content_hash`` (indexed) whose title and text are equal to the new ones and, when there is
one, copies its stored words; the search document is a function of the title and the text
alone, so the copy is what ``to_tsvector`` would make. A text seen for the first time costs
one index probe more (and the reading of at most 8 articles with the same hash).

SQLite: nothing changes (FTS5 keeps its own index).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01 01:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# content_hash only narrows the search (a hash of the text, or of the summary while there is
# no text); the equal title and text are what make the stored words the right ones. At most
# 8 articles of the hash are looked at: a hash shared by thousands (every article with no
# text and the same empty summary, a paywall's boilerplate under many titles) would
# otherwise be read in full for each new one.
UPGRADE = """
CREATE OR REPLACE FUNCTION article_search_sync() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE words tsvector;
BEGIN
  SELECT s.document INTO words
  FROM (SELECT id, title, text FROM articles
        WHERE content_hash = NEW.content_hash AND id <> NEW.id LIMIT 8) a
  JOIN article_search s ON s.article_id = a.id
  WHERE coalesce(a.title, '') = coalesce(NEW.title, '')
    AND coalesce(a.text, '') = coalesce(NEW.text, '')
  LIMIT 1;
  IF NOT FOUND THEN
    words := to_tsvector('simple',
                         left(coalesce(NEW.title, '') || ' ' || coalesce(NEW.text, ''), 200000));
  END IF;
  INSERT INTO article_search (article_id, document) VALUES (NEW.id, words)
  ON CONFLICT (article_id) DO UPDATE SET document = EXCLUDED.document;
  RETURN NULL;
END $$
"""

# 0006's function, as it was
DOWNGRADE = (
    "CREATE OR REPLACE FUNCTION article_search_sync() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
    "INSERT INTO article_search (article_id, document) VALUES (NEW.id, to_tsvector('simple', "
    "left(coalesce(NEW.title, '') || ' ' || coalesce(NEW.text, ''), 200000))) "
    "ON CONFLICT (article_id) DO UPDATE SET document = EXCLUDED.document; "
    "RETURN NULL; END $$"
)


def upgrade() -> None:
    if op.get_context().dialect.name == "postgresql":
        op.execute(UPGRADE)


def downgrade() -> None:
    if op.get_context().dialect.name == "postgresql":
        op.execute(DOWNGRADE)
