"""bid exclusion and the published tie-break: an excluded bid keeps when and why it was excluded (A8, C1, C7); a
competition keeps the tie-break rule published with its criteria (C7)

Revision ID: 0011_bid_exclusion_and_tie_break
Revises: 0006_competitions
Create Date: 2026-12-02 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0011_bid_exclusion_and_tie_break'
down_revision: str | None = '0006_competitions'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('bid', schema=None) as batch_op:
        batch_op.add_column(sa.Column('excluded_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('exclusion_reason', sa.Text(), nullable=True))
    with op.batch_alter_table('competition', schema=None) as batch_op:
        batch_op.add_column(sa.Column('tie_break', sa.String(length=40), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('competition', schema=None) as batch_op:
        batch_op.drop_column('tie_break')
    with op.batch_alter_table('bid', schema=None) as batch_op:
        batch_op.drop_column('exclusion_reason')
        batch_op.drop_column('excluded_at')
