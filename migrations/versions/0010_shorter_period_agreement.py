"""shorter tender period agreements: each supplier's recorded agreement to a shorter period (PCR 2015 reg 34(12))

Revision ID: 0010_shorter_period_agreement
Revises: 0006_competitions
Create Date: 2026-11-25 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0010_shorter_period_agreement'
down_revision: str | None = '0006_competitions'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('shorter_period_agreement',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('competition_id', sa.Integer(), nullable=False),
    sa.Column('organisation_id', sa.Integer(), nullable=False),
    sa.Column('agreed_deadline', sa.DateTime(timezone=True), nullable=False),
    sa.Column('evidence', sa.Text(), nullable=False),
    sa.Column('recorded_by_user_id', sa.Integer(), nullable=False),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['competition_id'], ['competition.id'],
                            name=op.f('fk_shorter_period_agreement_competition_id_competition')),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisation.id'],
                            name=op.f('fk_shorter_period_agreement_organisation_id_organisation')),
    sa.ForeignKeyConstraint(['recorded_by_user_id'], ['user_account.id'],
                            name=op.f('fk_shorter_period_agreement_recorded_by_user_id_user_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_shorter_period_agreement')),
    sa.UniqueConstraint('competition_id', 'organisation_id',
                        name=op.f('uq_shorter_period_agreement_competition_id_organisation_id'))
    )
    with op.batch_alter_table('shorter_period_agreement', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_shorter_period_agreement_competition_id'), ['competition_id'],
                              unique=False)


def downgrade() -> None:
    with op.batch_alter_table('shorter_period_agreement', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_shorter_period_agreement_competition_id'))

    op.drop_table('shorter_period_agreement')
