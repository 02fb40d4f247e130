"""competitions

Revision ID: 0006_competitions
Revises: 0002_admission
Create Date: 2026-11-23 12:52:00.894724
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = '0006_competitions'
down_revision: str | None = '0002_admission'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('competition',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('buyer_organisation_id', sa.Integer(), nullable=False),
    sa.Column('category_id', sa.Integer(), nullable=False),
    sa.Column('state', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('title', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('requirement', sa.Text(), nullable=False),
    sa.Column('estimated_value_pence', sa.BigInteger(), nullable=False),
    sa.Column('contract_starts_on', sa.Date(), nullable=False),
    sa.Column('contract_ends_on', sa.Date(), nullable=False),
    sa.Column('clarification_deadline', sa.DateTime(timezone=True), nullable=False),
    sa.Column('tender_deadline', sa.DateTime(timezone=True), nullable=False),
    sa.Column('criteria', sa.JSON(), nullable=False),
    sa.Column('fund_lines', sa.JSON(), nullable=False),
    sa.Column('created_by_user_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('published_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('published_by_user_id', sa.Integer(), nullable=True),
    sa.Column('minimum_tender_days', sa.Integer(), nullable=True),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('evaluation_started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('winning_bid_id', sa.Integer(), nullable=True),
    sa.Column('award_reasons', sa.Text(), nullable=True),
    sa.Column('override_reason', sa.Text(), nullable=True),
    sa.Column('award_decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('award_decided_by_user_id', sa.Integer(), nullable=True),
    sa.Column('standstill_started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('standstill_ends_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('standstill_paused_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('standstill_pause_reason', sa.Text(), nullable=True),
    sa.Column('awarded_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('cancelled_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('cancel_reason', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['award_decided_by_user_id'], ['user_account.id'], name=op.f('fk_competition_award_decided_by_user_id_user_account')),
    sa.ForeignKeyConstraint(['buyer_organisation_id'], ['organisation.id'], name=op.f('fk_competition_buyer_organisation_id_organisation')),
    sa.ForeignKeyConstraint(['category_id'], ['category.id'], name=op.f('fk_competition_category_id_category')),
    sa.ForeignKeyConstraint(['created_by_user_id'], ['user_account.id'], name=op.f('fk_competition_created_by_user_id_user_account')),
    sa.ForeignKeyConstraint(['published_by_user_id'], ['user_account.id'], name=op.f('fk_competition_published_by_user_id_user_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_competition'))
    )
    with op.batch_alter_table('competition', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_competition_buyer_organisation_id'), ['buyer_organisation_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_competition_category_id'), ['category_id'], unique=False)
        batch_op.create_index('ix_competition_state_tender_deadline', ['state', 'tender_deadline'], unique=False)

    op.create_table('bid',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('competition_id', sa.Integer(), nullable=False),
    sa.Column('organisation_id', sa.Integer(), nullable=False),
    sa.Column('state', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('answers', sa.JSON(), nullable=False),
    sa.Column('price_pence', sa.BigInteger(), nullable=True),
    sa.Column('vat_pence', sa.BigInteger(), nullable=True),
    sa.Column('revision', sa.Integer(), nullable=False),
    sa.Column('sealed_steps', sa.JSON(), nullable=False),
    sa.Column('created_by_user_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('submitted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('submitted_by_user_id', sa.Integer(), nullable=True),
    sa.Column('withdrawn_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['competition_id'], ['competition.id'], name=op.f('fk_bid_competition_id_competition')),
    sa.ForeignKeyConstraint(['created_by_user_id'], ['user_account.id'], name=op.f('fk_bid_created_by_user_id_user_account')),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisation.id'], name=op.f('fk_bid_organisation_id_organisation')),
    sa.ForeignKeyConstraint(['submitted_by_user_id'], ['user_account.id'], name=op.f('fk_bid_submitted_by_user_id_user_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_bid')),
    sa.UniqueConstraint('competition_id', 'organisation_id', name=op.f('uq_bid_competition_id_organisation_id'))
    )
    with op.batch_alter_table('bid', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_bid_competition_id'), ['competition_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_bid_organisation_id'), ['organisation_id'], unique=False)

    op.create_table('clarification',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('competition_id', sa.Integer(), nullable=False),
    sa.Column('asked_by_organisation_id', sa.Integer(), nullable=True),
    sa.Column('asked_by_user_id', sa.Integer(), nullable=True),
    sa.Column('question', sa.Text(), nullable=False),
    sa.Column('asked_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('published_question', sa.Text(), nullable=True),
    sa.Column('answer', sa.Text(), nullable=True),
    sa.Column('answered_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('answered_by_user_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['answered_by_user_id'], ['user_account.id'], name=op.f('fk_clarification_answered_by_user_id_user_account')),
    sa.ForeignKeyConstraint(['asked_by_organisation_id'], ['organisation.id'], name=op.f('fk_clarification_asked_by_organisation_id_organisation')),
    sa.ForeignKeyConstraint(['asked_by_user_id'], ['user_account.id'], name=op.f('fk_clarification_asked_by_user_id_user_account')),
    sa.ForeignKeyConstraint(['competition_id'], ['competition.id'], name=op.f('fk_clarification_competition_id_competition')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_clarification'))
    )
    with op.batch_alter_table('clarification', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_clarification_competition_id'), ['competition_id'], unique=False)

    op.create_table('competition_evaluator',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('competition_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('declaration', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=True),
    sa.Column('declaration_note', sa.Text(), nullable=True),
    sa.Column('declared_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['competition_id'], ['competition.id'], name=op.f('fk_competition_evaluator_competition_id_competition')),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], name=op.f('fk_competition_evaluator_user_id_user_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_competition_evaluator')),
    sa.UniqueConstraint('competition_id', 'user_id', name=op.f('uq_competition_evaluator_competition_id_user_id'))
    )
    with op.batch_alter_table('competition_evaluator', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_competition_evaluator_competition_id'), ['competition_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_competition_evaluator_user_id'), ['user_id'], unique=False)

    op.create_table('competition_invitation',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('competition_id', sa.Integer(), nullable=False),
    sa.Column('organisation_id', sa.Integer(), nullable=False),
    sa.Column('admission_id', sa.Integer(), nullable=False),
    sa.Column('organisation_name', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('invited_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['admission_id'], ['admission.id'], name=op.f('fk_competition_invitation_admission_id_admission')),
    sa.ForeignKeyConstraint(['competition_id'], ['competition.id'], name=op.f('fk_competition_invitation_competition_id_competition')),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisation.id'], name=op.f('fk_competition_invitation_organisation_id_organisation')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_competition_invitation')),
    sa.UniqueConstraint('competition_id', 'organisation_id', name=op.f('uq_competition_invitation_competition_id_organisation_id'))
    )
    with op.batch_alter_table('competition_invitation', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_competition_invitation_competition_id'), ['competition_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_competition_invitation_organisation_id'), ['organisation_id'], unique=False)

    op.create_table('contract',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('competition_id', sa.Integer(), nullable=False),
    sa.Column('bid_id', sa.Integer(), nullable=False),
    sa.Column('buyer_organisation_id', sa.Integer(), nullable=False),
    sa.Column('supplier_organisation_id', sa.Integer(), nullable=False),
    sa.Column('title', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('value_pence', sa.BigInteger(), nullable=False),
    sa.Column('vat_pence', sa.BigInteger(), nullable=False),
    sa.Column('starts_on', sa.Date(), nullable=False),
    sa.Column('ends_on', sa.Date(), nullable=False),
    sa.Column('state', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('fund_lines', sa.JSON(), nullable=False),
    sa.Column('created_by_user_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['bid_id'], ['bid.id'], name=op.f('fk_contract_bid_id_bid')),
    sa.ForeignKeyConstraint(['buyer_organisation_id'], ['organisation.id'], name=op.f('fk_contract_buyer_organisation_id_organisation')),
    sa.ForeignKeyConstraint(['competition_id'], ['competition.id'], name=op.f('fk_contract_competition_id_competition')),
    sa.ForeignKeyConstraint(['created_by_user_id'], ['user_account.id'], name=op.f('fk_contract_created_by_user_id_user_account')),
    sa.ForeignKeyConstraint(['supplier_organisation_id'], ['organisation.id'], name=op.f('fk_contract_supplier_organisation_id_organisation')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_contract')),
    sa.UniqueConstraint('competition_id', name=op.f('uq_contract_competition_id'))
    )
    with op.batch_alter_table('contract', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_contract_buyer_organisation_id'), ['buyer_organisation_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_contract_supplier_organisation_id'), ['supplier_organisation_id'], unique=False)

    op.create_table('evaluator_score',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('competition_id', sa.Integer(), nullable=False),
    sa.Column('bid_id', sa.Integer(), nullable=False),
    sa.Column('criterion_key', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('evaluator_user_id', sa.Integer(), nullable=False),
    sa.Column('score', sa.Integer(), nullable=False),
    sa.Column('justification', sa.Text(), nullable=False),
    sa.Column('scored_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['bid_id'], ['bid.id'], name=op.f('fk_evaluator_score_bid_id_bid')),
    sa.ForeignKeyConstraint(['competition_id'], ['competition.id'], name=op.f('fk_evaluator_score_competition_id_competition')),
    sa.ForeignKeyConstraint(['evaluator_user_id'], ['user_account.id'], name=op.f('fk_evaluator_score_evaluator_user_id_user_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_evaluator_score')),
    sa.UniqueConstraint('bid_id', 'criterion_key', 'evaluator_user_id', name=op.f('uq_evaluator_score_bid_id_criterion_key_evaluator_user_id'))
    )
    with op.batch_alter_table('evaluator_score', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_evaluator_score_bid_id'), ['bid_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_evaluator_score_competition_id'), ['competition_id'], unique=False)

    op.create_table('moderated_score',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('competition_id', sa.Integer(), nullable=False),
    sa.Column('bid_id', sa.Integer(), nullable=False),
    sa.Column('criterion_key', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('score', sa.Integer(), nullable=False),
    sa.Column('rationale', sa.Text(), nullable=False),
    sa.Column('moderated_by_user_id', sa.Integer(), nullable=False),
    sa.Column('moderated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['bid_id'], ['bid.id'], name=op.f('fk_moderated_score_bid_id_bid')),
    sa.ForeignKeyConstraint(['competition_id'], ['competition.id'], name=op.f('fk_moderated_score_competition_id_competition')),
    sa.ForeignKeyConstraint(['moderated_by_user_id'], ['user_account.id'], name=op.f('fk_moderated_score_moderated_by_user_id_user_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_moderated_score')),
    sa.UniqueConstraint('bid_id', 'criterion_key', name=op.f('uq_moderated_score_bid_id_criterion_key'))
    )
    with op.batch_alter_table('moderated_score', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_moderated_score_bid_id'), ['bid_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_moderated_score_competition_id'), ['competition_id'], unique=False)

    op.create_table('outcome_letter',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('competition_id', sa.Integer(), nullable=False),
    sa.Column('bid_id', sa.Integer(), nullable=False),
    sa.Column('organisation_id', sa.Integer(), nullable=False),
    sa.Column('successful', sa.Boolean(), nullable=False),
    sa.Column('rank', sa.Integer(), nullable=False),
    sa.Column('content', sa.JSON(), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['bid_id'], ['bid.id'], name=op.f('fk_outcome_letter_bid_id_bid')),
    sa.ForeignKeyConstraint(['competition_id'], ['competition.id'], name=op.f('fk_outcome_letter_competition_id_competition')),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisation.id'], name=op.f('fk_outcome_letter_organisation_id_organisation')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_outcome_letter')),
    sa.UniqueConstraint('competition_id', 'bid_id', name=op.f('uq_outcome_letter_competition_id_bid_id'))
    )
    with op.batch_alter_table('outcome_letter', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_outcome_letter_competition_id'), ['competition_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_outcome_letter_organisation_id'), ['organisation_id'], unique=False)

    op.create_table('award_notice',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('competition_id', sa.Integer(), nullable=False),
    sa.Column('contract_id', sa.Integer(), nullable=True),
    sa.Column('regime', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('buyer_organisation_id', sa.Integer(), nullable=False),
    sa.Column('supplier_organisation_id', sa.Integer(), nullable=False),
    sa.Column('category_id', sa.Integer(), nullable=False),
    sa.Column('title', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('value_pence', sa.BigInteger(), nullable=False),
    sa.Column('value_incl_vat_pence', sa.BigInteger(), nullable=False),
    sa.Column('contracts_finder_required', sa.Boolean(), nullable=False),
    sa.Column('bids_received', sa.Integer(), nullable=False),
    sa.Column('award_decided_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('standstill_started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('standstill_ends_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('contract_starts_on', sa.Date(), nullable=False),
    sa.Column('contract_ends_on', sa.Date(), nullable=False),
    sa.Column('contract_created_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('publish_by', sa.DateTime(timezone=True), nullable=True),
    sa.Column('published_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['buyer_organisation_id'], ['organisation.id'], name=op.f('fk_award_notice_buyer_organisation_id_organisation')),
    sa.ForeignKeyConstraint(['category_id'], ['category.id'], name=op.f('fk_award_notice_category_id_category')),
    sa.ForeignKeyConstraint(['competition_id'], ['competition.id'], name=op.f('fk_award_notice_competition_id_competition')),
    sa.ForeignKeyConstraint(['contract_id'], ['contract.id'], name=op.f('fk_award_notice_contract_id_contract')),
    sa.ForeignKeyConstraint(['supplier_organisation_id'], ['organisation.id'], name=op.f('fk_award_notice_supplier_organisation_id_organisation')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_award_notice')),
    sa.UniqueConstraint('competition_id', name=op.f('uq_award_notice_competition_id'))
    )
    op.create_table('contract_milestone',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('contract_id', sa.Integer(), nullable=False),
    sa.Column('sequence', sa.Integer(), nullable=False),
    sa.Column('title', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('due_on', sa.Date(), nullable=False),
    sa.Column('amount_pence', sa.BigInteger(), nullable=False),
    sa.Column('state', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.ForeignKeyConstraint(['contract_id'], ['contract.id'], name=op.f('fk_contract_milestone_contract_id_contract')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_contract_milestone')),
    sa.UniqueConstraint('contract_id', 'sequence', name=op.f('uq_contract_milestone_contract_id_sequence'))
    )
    with op.batch_alter_table('contract_milestone', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_contract_milestone_contract_id'), ['contract_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('contract_milestone', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_contract_milestone_contract_id'))

    op.drop_table('contract_milestone')
    op.drop_table('award_notice')
    with op.batch_alter_table('outcome_letter', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_outcome_letter_organisation_id'))
        batch_op.drop_index(batch_op.f('ix_outcome_letter_competition_id'))

    op.drop_table('outcome_letter')
    with op.batch_alter_table('moderated_score', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_moderated_score_competition_id'))
        batch_op.drop_index(batch_op.f('ix_moderated_score_bid_id'))

    op.drop_table('moderated_score')
    with op.batch_alter_table('evaluator_score', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_evaluator_score_competition_id'))
        batch_op.drop_index(batch_op.f('ix_evaluator_score_bid_id'))

    op.drop_table('evaluator_score')
    with op.batch_alter_table('contract', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_contract_supplier_organisation_id'))
        batch_op.drop_index(batch_op.f('ix_contract_buyer_organisation_id'))

    op.drop_table('contract')
    with op.batch_alter_table('competition_invitation', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_competition_invitation_organisation_id'))
        batch_op.drop_index(batch_op.f('ix_competition_invitation_competition_id'))

    op.drop_table('competition_invitation')
    with op.batch_alter_table('competition_evaluator', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_competition_evaluator_user_id'))
        batch_op.drop_index(batch_op.f('ix_competition_evaluator_competition_id'))

    op.drop_table('competition_evaluator')
    with op.batch_alter_table('clarification', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_clarification_competition_id'))

    op.drop_table('clarification')
    with op.batch_alter_table('bid', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_bid_organisation_id'))
        batch_op.drop_index(batch_op.f('ix_bid_competition_id'))

    op.drop_table('bid')
    with op.batch_alter_table('competition', schema=None) as batch_op:
        batch_op.drop_index('ix_competition_state_tender_deadline')
        batch_op.drop_index(batch_op.f('ix_competition_category_id'))
        batch_op.drop_index(batch_op.f('ix_competition_buyer_organisation_id'))

    op.drop_table('competition')
