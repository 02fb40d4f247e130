"""debarment list: suppliers excluded by the authority (PA 2023 s.62, PCR 2015 reg 57)

Revision ID: 0010_debarment_list
Revises: 0001_foundation
Create Date: 2026-12-02 07:30:00.000000

A branch from the foundation: the list refers only to organisations and users.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = '0010_debarment_list'
down_revision: str | None = '0001_foundation'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('debarment_entry',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('organisation_id', sa.Integer(), nullable=False),
    sa.Column('grounds', sa.JSON(), nullable=False),
    sa.Column('details', sa.Text(), nullable=False),
    sa.Column('source', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('listed_from', sa.Date(), nullable=False),
    sa.Column('listed_until', sa.Date(), nullable=True),
    sa.Column('added_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('added_by_user_id', sa.Integer(), nullable=True),
    sa.Column('removed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('removed_by_user_id', sa.Integer(), nullable=True),
    sa.Column('removal_reason', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['added_by_user_id'], ['user_account.id'],
                            name=op.f('fk_debarment_entry_added_by_user_id_user_account')),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisation.id'],
                            name=op.f('fk_debarment_entry_organisation_id_organisation')),
    sa.ForeignKeyConstraint(['removed_by_user_id'], ['user_account.id'],
                            name=op.f('fk_debarment_entry_removed_by_user_id_user_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_debarment_entry'))
    )
    op.create_index(op.f('ix_debarment_entry_organisation_id'), 'debarment_entry', ['organisation_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_debarment_entry_organisation_id'), table_name='debarment_entry')
    op.drop_table('debarment_entry')
