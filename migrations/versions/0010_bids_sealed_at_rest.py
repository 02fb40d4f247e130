"""bids sealed at rest: a data key per competition, bid content and bidder sealed until the bids are opened

Revision ID: 0010_bids_sealed_at_rest
Revises: 0006_competitions
Create Date: 2026-11-25 10:00:00.000000

A branch of its own from the competitions: it changes only the bid table and adds bid_data_key.

Data: every competition that has bids gets a data key, wrapped by the sealing key (BID_SEALING_KEY, read from the
environment like every setting; needed only when there are bids), and every bid its keyed bidder hash. The bids of a
competition still sealed (a draft, open, or cancelled before its deadline) are sealed: who bid, the content and the
waiting audit steps become one ciphertext and the plain columns are emptied. Bids already opened stay as they are.
The downgrade unseals them again. The formats are those of dps.competitions.services.sealing at this revision,
written out here so that this migration keeps doing what it did.
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = '0010_bids_sealed_at_rest'
down_revision: str | None = '0006_competitions'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

bid = sa.table(
    'bid', sa.column('id', sa.Integer), sa.column('competition_id', sa.Integer),
    sa.column('organisation_id', sa.Integer), sa.column('answers', sa.JSON), sa.column('price_pence', sa.BigInteger),
    sa.column('vat_pence', sa.BigInteger), sa.column('sealed_steps', sa.JSON),
    sa.column('created_by_user_id', sa.Integer), sa.column('submitted_by_user_id', sa.Integer),
    sa.column('bidder_key', sa.String), sa.column('sealed_content', sa.Text))
competition = sa.table('competition', sa.column('id', sa.Integer), sa.column('state', sa.String),
                       sa.column('closed_at', sa.DateTime(timezone=True)),
                       sa.column('updated_at', sa.DateTime(timezone=True)))
bid_data_key = sa.table('bid_data_key', sa.column('competition_id', sa.Integer), sa.column('sealing_key_id', sa.String),
                        sa.column('wrapped_key', sa.Text), sa.column('opened_at', sa.DateTime(timezone=True)))


def _key_context(competition_id: int) -> str:
    return f"competition:{competition_id}:bid-data-key"


def _content_context(competition_id: int, bid_id: int) -> str:
    return f"bid:{competition_id}:{bid_id}"


def _still_sealed(state: str, closed_at: Any) -> bool:
    return state in ("draft", "published") or (state == "cancelled" and closed_at is None)


def upgrade() -> None:
    op.create_table('bid_data_key',
    sa.Column('competition_id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('sealing_key_id', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('wrapped_key', sa.Text(), nullable=False),
    sa.Column('opened_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['competition_id'], ['competition.id'], name=op.f('fk_bid_data_key_competition_id_competition')),
    sa.PrimaryKeyConstraint('competition_id', name=op.f('pk_bid_data_key'))
    )
    with op.batch_alter_table('bid', schema=None) as batch_op:
        batch_op.add_column(sa.Column('bidder_key', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True))
        batch_op.add_column(sa.Column('sealed_content', sa.Text(), nullable=True))
        batch_op.alter_column('organisation_id', existing_type=sa.INTEGER(), nullable=True)
        batch_op.alter_column('created_by_user_id', existing_type=sa.INTEGER(), nullable=True)

    _seal_existing_bids()

    with op.batch_alter_table('bid', schema=None) as batch_op:
        batch_op.alter_column('bidder_key', existing_type=sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False)
        batch_op.create_unique_constraint(batch_op.f('uq_bid_competition_id_bidder_key'), ['competition_id', 'bidder_key'])
        batch_op.drop_column('sealed_steps')


def _seal_existing_bids() -> None:
    connection = op.get_bind()
    rows = connection.execute(sa.select(bid, competition.c.state, competition.c.closed_at, competition.c.updated_at)
                              .join(competition, competition.c.id == bid.c.competition_id)
                              .order_by(bid.c.competition_id, bid.c.id)).mappings().all()
    if not rows:
        return
    from dps.crypto import DataKey, sealing_key

    sealing = sealing_key()
    keys: dict[int, DataKey] = {}
    for row in rows:
        competition_id = row['competition_id']
        sealed = _still_sealed(row['state'], row['closed_at'])
        if competition_id not in keys:
            keys[competition_id] = DataKey.generate()
            connection.execute(bid_data_key.insert().values(
                competition_id=competition_id, sealing_key_id=sealing.key_id,
                wrapped_key=sealing.wrap(keys[competition_id], context=_key_context(competition_id)),
                opened_at=None if sealed else (row['closed_at'] or row['updated_at'])))
        key = keys[competition_id]
        values: dict[str, Any] = {'bidder_key': key.lookup_hash(f"organisation:{row['organisation_id']}")}
        if sealed:
            content = {'organisation_id': row['organisation_id'], 'created_by_user_id': row['created_by_user_id'],
                       'submitted_by_user_id': row['submitted_by_user_id'], 'answers': dict(row['answers'] or {}),
                       'price_pence': row['price_pence'], 'vat_pence': row['vat_pence'],
                       'steps': list(row['sealed_steps'] or [])}
            values.update(sealed_content=key.seal(content, context=_content_context(competition_id, row['id'])),
                          organisation_id=None, created_by_user_id=None, submitted_by_user_id=None, answers={},
                          price_pence=None, vat_pence=None)
        connection.execute(bid.update().where(bid.c.id == row['id']).values(**values))


def downgrade() -> None:
    with op.batch_alter_table('bid', schema=None) as batch_op:
        batch_op.add_column(sa.Column('sealed_steps', sa.JSON(), nullable=True))

    _unseal_existing_bids()

    with op.batch_alter_table('bid', schema=None) as batch_op:
        batch_op.alter_column('sealed_steps', existing_type=sa.JSON(), nullable=False)
        batch_op.drop_constraint(batch_op.f('uq_bid_competition_id_bidder_key'), type_='unique')
        batch_op.alter_column('created_by_user_id', existing_type=sa.INTEGER(), nullable=False)
        batch_op.alter_column('organisation_id', existing_type=sa.INTEGER(), nullable=False)
        batch_op.drop_column('sealed_content')
        batch_op.drop_column('bidder_key')

    op.drop_table('bid_data_key')


def _unseal_existing_bids() -> None:
    connection = op.get_bind()
    connection.execute(bid.update().values(sealed_steps=[]))
    rows = connection.execute(sa.select(bid.c.id, bid.c.competition_id, bid.c.sealed_content, bid_data_key.c.wrapped_key)
                              .join(bid_data_key, bid_data_key.c.competition_id == bid.c.competition_id)
                              .where(bid.c.sealed_content.is_not(None))).mappings().all()
    if not rows:
        return
    from dps.crypto import sealing_key

    sealing = sealing_key()
    for row in rows:
        key = sealing.unwrap(row['wrapped_key'], context=_key_context(row['competition_id']))
        content = key.open(row['sealed_content'], context=_content_context(row['competition_id'], row['id']))
        connection.execute(bid.update().where(bid.c.id == row['id']).values(
            organisation_id=content['organisation_id'], created_by_user_id=content['created_by_user_id'],
            submitted_by_user_id=content['submitted_by_user_id'], answers=content['answers'],
            price_pence=content['price_pence'], vat_pence=content['vat_pence'], sealed_steps=content['steps'],
            sealed_content=None))
