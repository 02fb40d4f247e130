"""audit: the unsealed-tail index also holds each event's time, so the tail's size and age read only that index

Revision ID: 0015_audit_unsealed_covering
Revises: 0014_outbox_waiting_index
Create Date: 2026-12-04 01:00:00.000000

`/health` (on every call) and `dps audit verify` ask how many events are unsealed and since when. That read went
through the unique index on `sequence` and then to every unsealed event's row: a long tail (the sealer stopped, when
the answer matters most) meant reading each of those rows, in each of the connections that asked at once. The index
also holds `sequence` (always NULL in it): SQLite answers from an index alone only when it holds every column the
query names.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0015_audit_unsealed_covering'
down_revision: str | None = '0014_outbox_waiting_index'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UNSEALED = sa.text("sequence IS NULL")


def upgrade() -> None:
    op.drop_index('ix_audit_event_unsealed', table_name='audit_event')
    op.create_index('ix_audit_event_unsealed', 'audit_event', ['xid', 'id', 'occurred_at', 'sequence'], unique=False,
                    sqlite_where=UNSEALED, postgresql_where=UNSEALED)


def downgrade() -> None:
    op.drop_index('ix_audit_event_unsealed', table_name='audit_event')
    op.create_index('ix_audit_event_unsealed', 'audit_event', ['xid', 'id'], unique=False,
                    sqlite_where=UNSEALED, postgresql_where=UNSEALED)
