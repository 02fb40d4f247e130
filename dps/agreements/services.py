from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from dps.agreements.models import Agreement, Category


@dataclass(frozen=True)
class AgreementWithCategories:
    agreement: Agreement
    categories: tuple[Category, ...]


async def list_agreements(session: AsyncSession) -> list[AgreementWithCategories]:
    agreements = (await session.scalars(sa.select(Agreement).order_by(col(Agreement.name)))).all()
    categories = (await session.scalars(sa.select(Category).order_by(col(Category.name)))).all()
    return [
        AgreementWithCategories(a, tuple(c for c in categories if c.agreement_id == a.id)) for a in agreements
    ]
