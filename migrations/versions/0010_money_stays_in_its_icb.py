"""money stays in its ICB: the ICB a trust belongs to, and national funds

Revision ID: 0010_money_stays_in_its_icb
Revises: 0003_funds
Create Date: 2026-12-02 09:00:00.000000

`organisation.parent_icb_ods_code` is filled from the reference data by `dps db upgrade` (load_reference_data,
run after the migrations) and when a trust is created. Existing funds are not national.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = '0010_money_stays_in_its_icb'
down_revision: str | None = '0003_funds'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('organisation', schema=None) as batch_op:
        batch_op.add_column(sa.Column('parent_icb_ods_code', sqlmodel.sql.sqltypes.AutoString(length=10),
                                      nullable=True))
    with op.batch_alter_table('fund', schema=None) as batch_op:
        batch_op.add_column(sa.Column('national', sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table('fund', schema=None) as batch_op:
        batch_op.drop_column('national')
    with op.batch_alter_table('organisation', schema=None) as batch_op:
        batch_op.drop_column('parent_icb_ods_code')
