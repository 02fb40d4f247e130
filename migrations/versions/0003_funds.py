"""funds and budgets: funds, allocations, commitments and their lines, the append-only ledger

Revision ID: 0003_funds
Revises: 0002_admission
Create Date: 2026-11-23 12:44:33.031271
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = '0003_funds'
down_revision: str | None = '0002_admission'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('fund',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('owner_organisation_id', sa.Integer(), nullable=False),
    sa.Column('eligible_category_ids', sa.JSON(), nullable=False),
    sa.Column('eligible_buyer_types', sa.JSON(), nullable=False),
    sa.Column('match_funding_bps', sa.Integer(), nullable=False),
    sa.Column('per_award_cap_pence', sa.BigInteger(), nullable=True),
    sa.Column('lapses_at_year_end', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('match_funding_bps >= 0 AND match_funding_bps < 10000', name=op.f('ck_fund_match_funding_share')),
    sa.CheckConstraint('per_award_cap_pence IS NULL OR per_award_cap_pence > 0', name=op.f('ck_fund_cap_positive')),
    sa.ForeignKeyConstraint(['owner_organisation_id'], ['organisation.id'], name=op.f('fk_fund_owner_organisation_id_organisation')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_fund')),
    sa.UniqueConstraint('name', name=op.f('uq_fund_name'))
    )
    with op.batch_alter_table('fund', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_fund_owner_organisation_id'), ['owner_organisation_id'], unique=False)

    op.create_table('fund_allocation',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('fund_id', sa.Integer(), nullable=False),
    sa.Column('financial_year', sqlmodel.sql.sqltypes.AutoString(length=7), nullable=False),
    sa.Column('icb_organisation_id', sa.Integer(), nullable=False),
    sa.Column('budget_type', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
    sa.Column('allocated_pence', sa.BigInteger(), nullable=False),
    sa.Column('committed_pence', sa.BigInteger(), nullable=False),
    sa.Column('spent_pence', sa.BigInteger(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("budget_type IN ('capital', 'revenue')", name=op.f('ck_fund_allocation_budget_type')),
    sa.CheckConstraint('committed_pence + spent_pence <= allocated_pence', name=op.f('ck_fund_allocation_not_overspent')),
    sa.CheckConstraint('committed_pence >= 0 AND spent_pence >= 0', name=op.f('ck_fund_allocation_non_negative')),
    sa.ForeignKeyConstraint(['fund_id'], ['fund.id'], name=op.f('fk_fund_allocation_fund_id_fund')),
    sa.ForeignKeyConstraint(['icb_organisation_id'], ['organisation.id'], name=op.f('fk_fund_allocation_icb_organisation_id_organisation')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_fund_allocation')),
    sa.UniqueConstraint('fund_id', 'financial_year', 'icb_organisation_id', 'budget_type', name=op.f('uq_fund_allocation_fund_id_financial_year_icb_organisation_id_budget_type'))
    )
    with op.batch_alter_table('fund_allocation', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_fund_allocation_financial_year'), ['financial_year'], unique=False)
        batch_op.create_index(batch_op.f('ix_fund_allocation_fund_id'), ['fund_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_fund_allocation_icb_organisation_id'), ['icb_organisation_id'], unique=False)

    op.create_table('fund_commitment',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('source', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('reference', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('buyer_organisation_id', sa.Integer(), nullable=False),
    sa.Column('category_id', sa.Integer(), nullable=True),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('total_pence', sa.BigInteger(), nullable=False),
    sa.Column('state', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('created_by_user_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('released_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint('total_pence > 0', name=op.f('ck_fund_commitment_total_positive')),
    sa.ForeignKeyConstraint(['buyer_organisation_id'], ['organisation.id'], name=op.f('fk_fund_commitment_buyer_organisation_id_organisation')),
    sa.ForeignKeyConstraint(['category_id'], ['category.id'], name=op.f('fk_fund_commitment_category_id_category')),
    sa.ForeignKeyConstraint(['created_by_user_id'], ['user_account.id'], name=op.f('fk_fund_commitment_created_by_user_id_user_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_fund_commitment')),
    sa.UniqueConstraint('source', 'reference', name=op.f('uq_fund_commitment_source_reference'))
    )
    with op.batch_alter_table('fund_commitment', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_fund_commitment_buyer_organisation_id'), ['buyer_organisation_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_fund_commitment_state'), ['state'], unique=False)

    op.create_table('fund_commitment_line',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('commitment_id', sa.Integer(), nullable=False),
    sa.Column('allocation_id', sa.Integer(), nullable=False),
    sa.Column('amount_pence', sa.BigInteger(), nullable=False),
    sa.Column('spent_pence', sa.BigInteger(), nullable=False),
    sa.Column('released_pence', sa.BigInteger(), nullable=False),
    sa.CheckConstraint('amount_pence > 0', name=op.f('ck_fund_commitment_line_amount_positive')),
    sa.CheckConstraint('spent_pence + released_pence <= amount_pence', name=op.f('ck_fund_commitment_line_within_amount')),
    sa.CheckConstraint('spent_pence >= 0 AND released_pence >= 0', name=op.f('ck_fund_commitment_line_non_negative')),
    sa.ForeignKeyConstraint(['allocation_id'], ['fund_allocation.id'], name=op.f('fk_fund_commitment_line_allocation_id_fund_allocation')),
    sa.ForeignKeyConstraint(['commitment_id'], ['fund_commitment.id'], name=op.f('fk_fund_commitment_line_commitment_id_fund_commitment')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_fund_commitment_line')),
    sa.UniqueConstraint('commitment_id', 'allocation_id', name=op.f('uq_fund_commitment_line_commitment_id_allocation_id'))
    )
    with op.batch_alter_table('fund_commitment_line', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_fund_commitment_line_allocation_id'), ['allocation_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_fund_commitment_line_commitment_id'), ['commitment_id'], unique=False)

    op.create_table('fund_ledger_entry',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('allocation_id', sa.Integer(), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
    sa.Column('amount_pence', sa.BigInteger(), nullable=False),
    sa.Column('commitment_id', sa.Integer(), nullable=True),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('actor_user_id', sa.Integer(), nullable=True),
    sa.Column('actor_label', sqlmodel.sql.sqltypes.AutoString(length=320), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['actor_user_id'], ['user_account.id'], name=op.f('fk_fund_ledger_entry_actor_user_id_user_account')),
    sa.ForeignKeyConstraint(['allocation_id'], ['fund_allocation.id'], name=op.f('fk_fund_ledger_entry_allocation_id_fund_allocation')),
    sa.ForeignKeyConstraint(['commitment_id'], ['fund_commitment.id'], name=op.f('fk_fund_ledger_entry_commitment_id_fund_commitment')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_fund_ledger_entry'))
    )
    with op.batch_alter_table('fund_ledger_entry', schema=None) as batch_op:
        batch_op.create_index('ix_fund_ledger_entry_allocation_at', ['allocation_id', 'at'], unique=False)
        batch_op.create_index(batch_op.f('ix_fund_ledger_entry_commitment_id'), ['commitment_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('fund_ledger_entry', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_fund_ledger_entry_commitment_id'))
        batch_op.drop_index('ix_fund_ledger_entry_allocation_at')

    op.drop_table('fund_ledger_entry')
    with op.batch_alter_table('fund_commitment_line', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_fund_commitment_line_commitment_id'))
        batch_op.drop_index(batch_op.f('ix_fund_commitment_line_allocation_id'))

    op.drop_table('fund_commitment_line')
    with op.batch_alter_table('fund_commitment', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_fund_commitment_state'))
        batch_op.drop_index(batch_op.f('ix_fund_commitment_buyer_organisation_id'))

    op.drop_table('fund_commitment')
    with op.batch_alter_table('fund_allocation', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_fund_allocation_icb_organisation_id'))
        batch_op.drop_index(batch_op.f('ix_fund_allocation_fund_id'))
        batch_op.drop_index(batch_op.f('ix_fund_allocation_financial_year'))

    op.drop_table('fund_allocation')
    with op.batch_alter_table('fund', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_fund_owner_organisation_id'))

    op.drop_table('fund')
