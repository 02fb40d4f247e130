"""criteria per category: the questionnaire sections each category asks

Revision ID: 0011_category_selection_sections
Revises: 0001_foundation
Create Date: 2026-12-03 09:00:00.000000

`category.selection_sections` lists the keys of the selection questionnaire's sections a supplier answers to join
the category (RULES.md A2). Existing categories start with an empty list, which asks every section (what they asked
before); `dps db upgrade` then sets each reference category's own list (load_reference_data, run after the
migrations).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0011_category_selection_sections'
down_revision: str | None = '0001_foundation'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('category', schema=None) as batch_op:
        batch_op.add_column(sa.Column('selection_sections', sa.JSON(), nullable=False, server_default='[]'))


def downgrade() -> None:
    with op.batch_alter_table('category', schema=None) as batch_op:
        batch_op.drop_column('selection_sections')
