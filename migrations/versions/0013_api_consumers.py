"""api consumers: anyone may register to get API keys of their own; each key belongs to its consumer's organisation,
and keeps when its secret was last rotated and when it was last used

Revision ID: 0013_api_consumers
Revises: 0005_catalogue
Create Date: 2026-12-02 15:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0013_api_consumers'
down_revision: str | None = '0005_catalogue'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('api_consumer',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('organisation_id', sa.Integer(), nullable=False),
    sa.Column('purpose', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisation.id'],
                            name=op.f('fk_api_consumer_organisation_id_organisation')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_api_consumer')),
    sa.UniqueConstraint('organisation_id', name=op.f('uq_api_consumer_organisation_id'))
    )
    with op.batch_alter_table('api_key', schema=None) as batch_op:
        batch_op.add_column(sa.Column('owner_organisation_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('rotated_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('last_used_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index(batch_op.f('ix_api_key_owner_organisation_id'), ['owner_organisation_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_api_key_owner_organisation_id_organisation'), 'organisation',
                                    ['owner_organisation_id'], ['id'])


def downgrade() -> None:
    with op.batch_alter_table('api_key', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_api_key_owner_organisation_id_organisation'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_api_key_owner_organisation_id'))
        batch_op.drop_column('last_used_at')
        batch_op.drop_column('rotated_at')
        batch_op.drop_column('owner_organisation_id')
    op.drop_table('api_consumer')
