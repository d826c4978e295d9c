"""feed_token: the iCalendar subscription feeds' tokens (stored as SHA-256 hashes)

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07

Expand-only (docs/operations.md, "Rolling upgrades"): a new table, which the release before it
neither reads nor writes, so it keeps serving while this one rolls out; until then its
processes serve no feed (a feed URL is 404 there). No existing table changes, so on SQLite
nothing is rebuilt (the permission-copy triggers of calendo/sharing/triggers.py stay).
Downgrade drops the table, and with it every feed (their URLs then answer 404).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import calendo.core.types

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "feed_token",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("busy_only", sa.Boolean(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", calendo.core.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["user_account.id"],
            name=op.f("fk_feed_token_user_id_user_account"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_feed_token")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_feed_token_token_hash")),
    )
    op.create_index(op.f("ix_feed_token_user_id"), "feed_token", ["user_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_feed_token_user_id"), table_name="feed_token")
    op.drop_table("feed_token")
