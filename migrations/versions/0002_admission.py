"""admission and onboarding

Revision ID: 0002_admission
Revises: 0001_foundation
Create Date: 2026-11-23 12:23:02.693012
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = '0002_admission'
down_revision: str | None = '0001_foundation'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('invitation',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('organisation_id', sa.Integer(), nullable=False),
    sa.Column('email', sqlmodel.sql.sqltypes.AutoString(length=320), nullable=False),
    sa.Column('role', sqlmodel.sql.sqltypes.AutoString(length=30), nullable=False),
    sa.Column('invited_by_user_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('accepted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('accepted_user_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['accepted_user_id'], ['user_account.id'], name=op.f('fk_invitation_accepted_user_id_user_account')),
    sa.ForeignKeyConstraint(['invited_by_user_id'], ['user_account.id'], name=op.f('fk_invitation_invited_by_user_id_user_account')),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisation.id'], name=op.f('fk_invitation_organisation_id_organisation')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_invitation'))
    )
    with op.batch_alter_table('invitation', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_invitation_organisation_id'), ['organisation_id'], unique=False)

    op.create_table('application',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('organisation_id', sa.Integer(), nullable=False),
    sa.Column('category_id', sa.Integer(), nullable=False),
    sa.Column('state', sqlmodel.sql.sqltypes.AutoString(length=30), nullable=False),
    sa.Column('answers', sa.JSON(), nullable=False),
    sa.Column('created_by_user_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('submitted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('due_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('extended_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('extended_by_user_id', sa.Integer(), nullable=True),
    sa.Column('extension_reason', sa.Text(), nullable=True),
    sa.Column('evaluator_user_id', sa.Integer(), nullable=True),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('decided_by_user_id', sa.Integer(), nullable=True),
    sa.Column('decision_reasons', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['category_id'], ['category.id'], name=op.f('fk_application_category_id_category')),
    sa.ForeignKeyConstraint(['created_by_user_id'], ['user_account.id'], name=op.f('fk_application_created_by_user_id_user_account')),
    sa.ForeignKeyConstraint(['decided_by_user_id'], ['user_account.id'], name=op.f('fk_application_decided_by_user_id_user_account')),
    sa.ForeignKeyConstraint(['evaluator_user_id'], ['user_account.id'], name=op.f('fk_application_evaluator_user_id_user_account')),
    sa.ForeignKeyConstraint(['extended_by_user_id'], ['user_account.id'], name=op.f('fk_application_extended_by_user_id_user_account')),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisation.id'], name=op.f('fk_application_organisation_id_organisation')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_application'))
    )
    with op.batch_alter_table('application', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_application_category_id'), ['category_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_application_organisation_id'), ['organisation_id'], unique=False)
        batch_op.create_index('ix_application_state_due', ['state', 'due_at'], unique=False)

    op.create_table('refresh_request',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('category_id', sa.Integer(), nullable=False),
    sa.Column('message', sa.Text(), nullable=False),
    sa.Column('requested_by_user_id', sa.Integer(), nullable=False),
    sa.Column('requested_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('due_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['category_id'], ['category.id'], name=op.f('fk_refresh_request_category_id_category')),
    sa.ForeignKeyConstraint(['requested_by_user_id'], ['user_account.id'], name=op.f('fk_refresh_request_requested_by_user_id_user_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_refresh_request'))
    )
    with op.batch_alter_table('refresh_request', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_refresh_request_category_id'), ['category_id'], unique=False)

    op.create_table('admission',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('organisation_id', sa.Integer(), nullable=False),
    sa.Column('category_id', sa.Integer(), nullable=False),
    sa.Column('application_id', sa.Integer(), nullable=False),
    sa.Column('state', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('admitted_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('state_changed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('state_reason', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['application_id'], ['application.id'], name=op.f('fk_admission_application_id_application')),
    sa.ForeignKeyConstraint(['category_id'], ['category.id'], name=op.f('fk_admission_category_id_category')),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisation.id'], name=op.f('fk_admission_organisation_id_organisation')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_admission')),
    sa.UniqueConstraint('organisation_id', 'category_id', name=op.f('uq_admission_organisation_id_category_id'))
    )
    with op.batch_alter_table('admission', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_admission_category_id'), ['category_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_admission_organisation_id'), ['organisation_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_admission_state'), ['state'], unique=False)

    op.create_table('refresh_response',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('refresh_request_id', sa.Integer(), nullable=False),
    sa.Column('organisation_id', sa.Integer(), nullable=False),
    sa.Column('due_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('declaration', sa.JSON(), nullable=True),
    sa.Column('responded_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('responded_by_user_id', sa.Integer(), nullable=True),
    sa.Column('reminder_sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisation.id'], name=op.f('fk_refresh_response_organisation_id_organisation')),
    sa.ForeignKeyConstraint(['refresh_request_id'], ['refresh_request.id'], name=op.f('fk_refresh_response_refresh_request_id_refresh_request')),
    sa.ForeignKeyConstraint(['responded_by_user_id'], ['user_account.id'], name=op.f('fk_refresh_response_responded_by_user_id_user_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_refresh_response')),
    sa.UniqueConstraint('refresh_request_id', 'organisation_id', name=op.f('uq_refresh_response_refresh_request_id_organisation_id'))
    )
    with op.batch_alter_table('refresh_response', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_refresh_response_organisation_id'), ['organisation_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_refresh_response_refresh_request_id'), ['refresh_request_id'], unique=False)

    op.create_table('section_evaluation',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('application_id', sa.Integer(), nullable=False),
    sa.Column('section', sqlmodel.sql.sqltypes.AutoString(length=60), nullable=False),
    sa.Column('outcome', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
    sa.Column('comment', sa.Text(), nullable=False),
    sa.Column('evaluator_user_id', sa.Integer(), nullable=False),
    sa.Column('evaluated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['application_id'], ['application.id'], name=op.f('fk_section_evaluation_application_id_application')),
    sa.ForeignKeyConstraint(['evaluator_user_id'], ['user_account.id'], name=op.f('fk_section_evaluation_evaluator_user_id_user_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_section_evaluation')),
    sa.UniqueConstraint('application_id', 'section', name=op.f('uq_section_evaluation_application_id_section'))
    )
    with op.batch_alter_table('section_evaluation', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_section_evaluation_application_id'), ['application_id'], unique=False)

    with op.batch_alter_table('organisation', schema=None) as batch_op:
        batch_op.add_column(sa.Column('registered_address', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('headcount', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('turnover_pence', sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column('balance_sheet_pence', sa.BigInteger(), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table('organisation', schema=None) as batch_op:
        batch_op.drop_column('balance_sheet_pence')
        batch_op.drop_column('turnover_pence')
        batch_op.drop_column('headcount')
        batch_op.drop_column('registered_address')

    with op.batch_alter_table('section_evaluation', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_section_evaluation_application_id'))

    op.drop_table('section_evaluation')
    with op.batch_alter_table('refresh_response', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_refresh_response_refresh_request_id'))
        batch_op.drop_index(batch_op.f('ix_refresh_response_organisation_id'))

    op.drop_table('refresh_response')
    with op.batch_alter_table('admission', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_admission_state'))
        batch_op.drop_index(batch_op.f('ix_admission_organisation_id'))
        batch_op.drop_index(batch_op.f('ix_admission_category_id'))

    op.drop_table('admission')
    with op.batch_alter_table('refresh_request', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_refresh_request_category_id'))

    op.drop_table('refresh_request')
    with op.batch_alter_table('application', schema=None) as batch_op:
        batch_op.drop_index('ix_application_state_due')
        batch_op.drop_index(batch_op.f('ix_application_organisation_id'))
        batch_op.drop_index(batch_op.f('ix_application_category_id'))

    op.drop_table('application')
    with op.batch_alter_table('invitation', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_invitation_organisation_id'))

    op.drop_table('invitation')
