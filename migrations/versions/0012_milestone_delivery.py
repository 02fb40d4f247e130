"""milestone delivery: the supplier marks a milestone delivered (with what was delivered), the buyer accepts it or
rejects it with a reason; only an accepted milestone can be paid

Revision ID: 0012_milestone_delivery
Revises: 0006_competitions
Create Date: 2026-12-02 11:45:00.000000

Milestones already asked for payment, paid or refunded keep their state; planned ones now wait for delivery.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0012_milestone_delivery'
down_revision: str | None = '0006_competitions'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('contract_milestone', schema=None) as batch_op:
        batch_op.add_column(sa.Column('delivery_note', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('delivered_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('rejection_reason', sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('contract_milestone', schema=None) as batch_op:
        batch_op.drop_column('rejection_reason')
        batch_op.drop_column('decided_at')
        batch_op.drop_column('delivered_at')
        batch_op.drop_column('delivery_note')
