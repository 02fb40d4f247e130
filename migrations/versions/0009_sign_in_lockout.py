"""sign-in lockout: consecutive failed sign-ins per email address

Revision ID: 0009_sign_in_lockout
Revises: 0001_foundation
Create Date: 2026-11-24 10:00:00.000000

A branch of its own from the foundation: the table is keyed by the email address typed at sign-in (which may
have no account), so it depends on nothing later.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = '0009_sign_in_lockout'
down_revision: str | None = '0001_foundation'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('sign_in_lockout',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('email', sqlmodel.sql.sqltypes.AutoString(length=320), nullable=False),
    sa.Column('failures', sa.Integer(), nullable=False),
    sa.Column('locked_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_failure_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sign_in_lockout')),
    sa.UniqueConstraint('email', name=op.f('uq_sign_in_lockout_email'))
    )


def downgrade() -> None:
    op.drop_table('sign_in_lockout')
