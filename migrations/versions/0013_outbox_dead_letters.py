"""outbox dead letters: a message that failed OUTBOX_MAX_ATTEMPTS times is kept as a dead letter

Revision ID: 0013_outbox_dead_letters
Revises: 0012_audit_sealer
Create Date: 2026-12-02 14:45:00.000000

`dead_at` marks the dead letter (the worker leaves it alone until an authority user retries it); `first_attempt_at`
and `last_attempt_at` tell when it was tried.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0013_outbox_dead_letters'
down_revision: str | None = '0012_audit_sealer'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('outbox_message', schema=None) as batch_op:
        batch_op.add_column(sa.Column('first_attempt_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('last_attempt_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('dead_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index('ix_outbox_message_dead', ['dead_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('outbox_message', schema=None) as batch_op:
        batch_op.drop_index('ix_outbox_message_dead')
        batch_op.drop_column('dead_at')
        batch_op.drop_column('last_attempt_at')
        batch_op.drop_column('first_attempt_at')
