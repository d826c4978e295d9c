"""imported_uid and event_ical_extra: what an iCalendar import needs to update instead of
duplicate, and to lose nothing

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07

Expand-only (docs/operations.md, "Rolling upgrades"): two new tables, which the release
before it neither reads nor writes, so it keeps serving while this one rolls out (it has no
import route; its exports simply lack the kept properties). No existing table changes, so on
SQLite nothing is rebuilt (the permission-copy triggers stay). Downgrade drops both: a
re-import then creates new events for foreign UIDs, and exports lose the kept properties.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import calendo.core.types

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "imported_uid",
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.Column("uid", sa.String(length=255), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["owner_id"],
            ["user_account.id"],
            name=op.f("fk_imported_uid_owner_id_user_account"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["event.id"],
            name=op.f("fk_imported_uid_event_id_event"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("owner_id", "uid", name=op.f("pk_imported_uid")),
    )
    op.create_index(op.f("ix_imported_uid_event_id"), "imported_uid", ["event_id"], unique=False)
    op.create_table(
        "event_ical_extra",
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column(
            "lines", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False
        ),
        sa.Column("updated_at", calendo.core.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["event.id"],
            name=op.f("fk_event_ical_extra_event_id_event"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("event_id", name=op.f("pk_event_ical_extra")),
    )


def downgrade() -> None:
    op.drop_table("event_ical_extra")
    op.drop_index(op.f("ix_imported_uid_event_id"), table_name="imported_uid")
    op.drop_table("imported_uid")
