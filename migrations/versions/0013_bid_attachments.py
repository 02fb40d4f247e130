"""bid attachments: PDFs attached to a bid, sealed with the competition's data key like the rest of the bid

Revision ID: 0013_bid_attachments
Revises: 0011_bid_exclusion_and_tie_break
Create Date: 2026-12-02 15:00:00.000000

A new table only: no existing row changes. Until the bids are opened the document's name, size and hash are in the
bid's sealed content, so the plain columns are nullable.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = '0013_bid_attachments'
down_revision: str | None = '0011_bid_exclusion_and_tie_break'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('bid_attachment',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('bid_id', sa.Integer(), nullable=False),
    sa.Column('sealed_file', sa.LargeBinary(), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=150), nullable=True),
    sa.Column('filename', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True),
    sa.Column('size_bytes', sa.Integer(), nullable=True),
    sa.Column('sha256', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.ForeignKeyConstraint(['bid_id'], ['bid.id'], name=op.f('fk_bid_attachment_bid_id_bid')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_bid_attachment'))
    )
    with op.batch_alter_table('bid_attachment', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_bid_attachment_bid_id'), ['bid_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('bid_attachment', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_bid_attachment_bid_id'))
    op.drop_table('bid_attachment')
