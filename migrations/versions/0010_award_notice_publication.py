"""award notices are published: the notice after the contract and the key performance indicators it carries

Revision ID: 0010_award_notice_publication
Revises: 0006_competitions
Create Date: 2026-11-25 10:00:00.000000

`award_notice.published_at` now records the contract award notice and `contract_notice_published_at` the notice
due within 30 days of the contract (PCR 2015: the same contract award notice; PA 2023: the contract details
notice). `kpis` holds the key performance indicators a PA 2023 contract over £5m publishes.

Contracts made before this revision were already public: listed on the contracts register and in the open data
from the moment they were made, and their award (OCDS award release) from the start of standstill. Those moments
are recorded as their publications, so nothing that was public disappears. Awards without a contract stay
unpublished: under PA 2023 the buyer publishes the contract award notice (which restarts the standstill); under
PCR 2015 the notice is published with the contract.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0010_award_notice_publication'
down_revision: str | None = '0006_competitions'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Added in place (no copy of the table); existing notices get no key performance indicators.
    with op.batch_alter_table('award_notice', schema=None) as batch_op:
        batch_op.add_column(sa.Column('contract_notice_published_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('kpis', sa.JSON(), nullable=False, server_default='[]'))

    notice = sa.table('award_notice', sa.column('regime', sa.String),
                      sa.column('contract_id', sa.Integer),
                      sa.column('standstill_started_at', sa.DateTime(timezone=True)),
                      sa.column('contract_created_at', sa.DateTime(timezone=True)),
                      sa.column('published_at', sa.DateTime(timezone=True)),
                      sa.column('contract_notice_published_at', sa.DateTime(timezone=True)))
    made = sa.and_(notice.c.contract_id.is_not(None), notice.c.contract_created_at.is_not(None),
                   notice.c.published_at.is_(None))
    op.execute(notice.update().where(made, notice.c.regime == 'pcr2015_dps').values(
        published_at=notice.c.contract_created_at, contract_notice_published_at=notice.c.contract_created_at))
    op.execute(notice.update().where(made, notice.c.regime != 'pcr2015_dps').values(
        published_at=notice.c.standstill_started_at, contract_notice_published_at=notice.c.contract_created_at))


def downgrade() -> None:
    with op.batch_alter_table('award_notice', schema=None) as batch_op:
        batch_op.drop_column('kpis')
        batch_op.drop_column('contract_notice_published_at')
