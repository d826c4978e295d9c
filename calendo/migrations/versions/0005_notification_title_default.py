"""notification.event_title defaults to '' so the release before 0004 can still insert

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07

0004 added ``notification.event_title`` as NOT NULL without a server default, in one step. That
breaks the expand-then-contract rule of rolling upgrades (docs/operations.md): the release
before 0004 writes notifications without the column, and while its processes still serve
during the roll, each of its inserts fails against the 0004 schema. 0004 has shipped, so it is
left as it is (rewriting it would leave databases already at 0004 with another schema than new
ones); this revision gives the column a server default of ``''`` instead. A row written by
the old release during the roll then has an empty title (docs/operations.md says how to
backfill it once the roll is over); every row the current release writes names its title.

PostgreSQL changes the default in the catalogue only (no rewrite, a brief ACCESS EXCLUSIVE
lock). SQLite cannot change a default in place, so ``batch_alter_table`` rebuilds the table;
no trigger lives on ``notification`` (the triggers are on ``permission`` and ``event``:
calendo/sharing/triggers.py), so none needs creating again, and its index is rebuilt with it.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("notification", schema=None) as batch_op:
        batch_op.alter_column(
            "event_title",
            existing_type=sa.String(length=200),
            existing_nullable=False,
            server_default="",
        )


def downgrade() -> None:
    with op.batch_alter_table("notification", schema=None) as batch_op:
        batch_op.alter_column(
            "event_title",
            existing_type=sa.String(length=200),
            existing_nullable=False,
            server_default=None,
        )
