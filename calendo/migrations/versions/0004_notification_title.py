"""notifications carry the event title as it was when written

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03

``notification.event_title`` is written with each notification from then on. Rows written
before it have no record of the title at their time, so they take the event's current title
(every notification has its event: ``event_id`` cascades on delete). The column is added
nullable, filled, then made NOT NULL; on SQLite that last step rebuilds the table through
``batch_alter_table`` (no trigger lives on ``notification``, so none needs creating again).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("notification", schema=None) as batch_op:
        batch_op.add_column(sa.Column("event_title", sa.String(length=200), nullable=True))
    event = sa.table("event", sa.column("id"), sa.column("title"))
    notification = sa.table("notification", sa.column("event_id"), sa.column("event_title"))
    current_title = (
        sa.select(event.c.title).where(event.c.id == notification.c.event_id).scalar_subquery()
    )
    op.execute(notification.update().values(event_title=current_title))
    with op.batch_alter_table("notification", schema=None) as batch_op:
        batch_op.alter_column("event_title", existing_type=sa.String(length=200), nullable=False)


def downgrade() -> None:
    with op.batch_alter_table("notification", schema=None) as batch_op:
        batch_op.drop_column("event_title")
