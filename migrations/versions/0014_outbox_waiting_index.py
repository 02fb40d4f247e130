"""outbox: partial indexes on the dead letters and on the messages still waiting

Revision ID: 0014_outbox_waiting_index
Revises: 0013_outbox_dead_letters
Create Date: 2026-12-03 21:40:00.000000

The outbox keeps every processed message. The oldest waiting one (the health check's backlog) was found through the
dead-letter index's `dead_at IS NULL`, reading every message that is not a dead letter. Now the dead-letter index holds
only dead letters (every query of it asks for `dead_at IS NOT NULL`), and a new one holds only the waiting messages.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0014_outbox_waiting_index'
down_revision: str | None = '0013_outbox_dead_letters'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DEAD = sa.text("dead_at IS NOT NULL")
WAITING = sa.text("processed_at IS NULL AND dead_at IS NULL")


def upgrade() -> None:
    op.drop_index('ix_outbox_message_dead', table_name='outbox_message')
    op.create_index('ix_outbox_message_dead', 'outbox_message', ['dead_at'], unique=False,
                    sqlite_where=DEAD, postgresql_where=DEAD)
    op.create_index('ix_outbox_message_waiting', 'outbox_message', ['available_at'], unique=False,
                    sqlite_where=WAITING, postgresql_where=WAITING)


def downgrade() -> None:
    op.drop_index('ix_outbox_message_waiting', table_name='outbox_message')
    op.drop_index('ix_outbox_message_dead', table_name='outbox_message')
    op.create_index('ix_outbox_message_dead', 'outbox_message', ['dead_at'], unique=False)
