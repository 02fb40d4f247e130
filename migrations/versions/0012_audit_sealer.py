"""audit log without a global lock: writers append unsealed events, a sealer chains them; daily checkpoints

Revision ID: 0012_audit_sealer
Revises: 0001_foundation
Create Date: 2026-12-02 11:40:00.000000

The head row every writer locked (`audit_chain_head`) goes. An event row now carries its writer's PostgreSQL
transaction id (`xid`, defaulting to `pg_current_xact_id()`), and `sequence`, `prev_hash` and `hash` stay empty
until the sealer chains it. Events already written are sealed already: their values stay as they are.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = '0012_audit_sealer'
down_revision: str | None = '0001_foundation'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    with op.batch_alter_table('audit_event', schema=None) as batch_op:
        batch_op.add_column(sa.Column('xid', sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column('sealed_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.alter_column('sequence', existing_type=sa.Integer(), nullable=True)
        batch_op.alter_column('prev_hash', existing_type=sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True)
        batch_op.alter_column('hash', existing_type=sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True)
        batch_op.create_index('ix_audit_event_unsealed', ['xid', 'id'], unique=False,
                              postgresql_where=sa.text('sequence IS NULL'), sqlite_where=sa.text('sequence IS NULL'))
    if postgres:
        # The writer's transaction id, taken when the row is inserted: what the sealer's watermark is compared to.
        op.execute("ALTER TABLE audit_event ALTER COLUMN xid SET DEFAULT pg_current_xact_id()::text::bigint")
    op.create_table('audit_checkpoint',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('taken_on', sa.DateTime(timezone=True), nullable=False),
    sa.Column('sequence', sa.Integer(), nullable=False),
    sa.Column('hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_checkpoint'))
    )
    with op.batch_alter_table('audit_checkpoint', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_checkpoint_taken_on'), ['taken_on'], unique=False)
    op.drop_table('audit_chain_head')


def downgrade() -> None:
    op.create_table('audit_chain_head',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('last_sequence', sa.Integer(), nullable=False),
    sa.Column('last_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_chain_head'))
    )
    # The head is the last sealed event; events not yet sealed cannot be chained without the sealer, so they go.
    op.execute("DELETE FROM audit_event WHERE sequence IS NULL")
    op.execute("INSERT INTO audit_chain_head (id, last_sequence, last_hash) "
               "SELECT 1, COALESCE(MAX(sequence), 0), COALESCE((SELECT hash FROM audit_event "
               "WHERE sequence = (SELECT MAX(sequence) FROM audit_event)), '" + "0" * 64 + "') FROM audit_event")
    op.drop_table('audit_checkpoint')
    with op.batch_alter_table('audit_event', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_event_unsealed')
        batch_op.alter_column('hash', existing_type=sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False)
        batch_op.alter_column('prev_hash', existing_type=sqlmodel.sql.sqltypes.AutoString(length=64),
                              nullable=False)
        batch_op.alter_column('sequence', existing_type=sa.Integer(), nullable=False)
        batch_op.drop_column('sealed_at')
        batch_op.drop_column('xid')
