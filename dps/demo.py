"""Demo data for `make run`: one account per role, real NHS-backed innovators as supplier organisations."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from dps.api_keys.consumers import demo_api_consumer
from dps.audit.services import Actor
from dps.clock import SystemClock
from dps.identity.commands import find_organisation
from dps.identity.models import Organisation, OrganisationKind, Role, User
from dps.identity.passwords import Passwords
from dps.identity.rules import BuyerType
from dps.identity.services import add_membership, create_organisation, create_user
from dps.reference import load_reference_data
from dps.settings import Settings

DEMO_PASSWORD = "demo-password-2026"

# Supplier organisations; the Companies House numbers are made up for the demo.
DEMO_SUPPLIERS: tuple[tuple[str, str], ...] = (
    ("HeartFlow UK Ltd (demo)", "11000001"),
    ("Plus Sutures Medical Ltd (demo)", "11000002"),
    ("Endocuff Vision Devices Ltd (demo)", "11000003"),
    ("SecurAcath Vascular Ltd (demo)", "11000004"),
)
DEMO_TRUST = ("Guy's and St Thomas' NHS Foundation Trust", "RJ1", "Y56")

# (role, email, organisation key: Companies House number, ODS code or 'authority'; for an API consumer, the name
# of its own organisation)
DEMO_USERS: tuple[tuple[Role, str, str, str], ...] = (
    (Role.SUPPLIER_ADMIN, "supplier.admin@heartflow.example", "Sam Supplier-Admin", "11000001"),
    (Role.SUPPLIER_USER, "supplier.user@heartflow.example", "Sasha Supplier-User", "11000001"),
    (Role.BUYER, "buyer@gstt.example.nhs.uk", "Bea Buyer", "RJ1"),
    (Role.EVALUATOR, "evaluator@gstt.example.nhs.uk", "Evan Evaluator", "RJ1"),
    (Role.EVALUATOR, "evaluator@dps-authority.example.nhs.uk", "Eve Evaluator", "authority"),
    (Role.FUND_MANAGER, "fund.manager@nelondon.example.nhs.uk", "Finn Fund-Manager", "QMF"),
    (Role.AUTHORITY_ADMIN, "admin@dps-authority.example.nhs.uk", "Ada Authority-Admin", "authority"),
    (Role.API_CONSUMER, "api.consumer@healthdata.example", "Ari API-Consumer", "Open Health Data Lab (demo)"),
)
DEMO_API_PURPOSE = "A public dashboard of the innovations NHS organisations buy, refreshed nightly."
DEMO_ACCOUNTS: tuple[tuple[str, str], ...] = tuple((role.value, email) for role, email, _, _ in DEMO_USERS)


@dataclass(frozen=True)
class DemoContext:
    """What a domain's demo loader gets: the one transaction, the moment, and the demo accounts' password."""

    session: AsyncSession
    now: datetime
    actor: Actor
    passwords: Passwords
    password: str


DemoLoader = Callable[[DemoContext], Awaitable[None]]


async def seed_demo(sessions: Any, settings: Settings, loaders: Sequence[DemoLoader], *,
                    only_if_empty: bool) -> tuple[tuple[str, str], ...] | None:
    """Load the demo organisations and accounts, then each domain's demo data (`loaders`, given by the
    composition root), in one transaction; None if skipped because users exist."""
    now = SystemClock().now()
    actor = Actor.system("demo-seed")
    passwords = Passwords.for_environment(settings.environment)
    async with sessions() as session:
        if only_if_empty and await session.scalar(sa.select(sa.func.count()).select_from(User)):
            return None
        await load_reference_data(session, now)
        existing_ch = set((await session.scalars(sa.select(col(Organisation.companies_house_number)))).all())
        for name, number in DEMO_SUPPLIERS:
            if number not in existing_ch:
                await create_organisation(session, kind=OrganisationKind.SUPPLIER, name=name,
                                          companies_house_number=number, actor=actor, now=now)
        if await session.scalar(sa.select(col(Organisation.id))
                .where(col(Organisation.ods_code) == DEMO_TRUST[1])) is None:
            await create_organisation(session, kind=OrganisationKind.BUYER, name=DEMO_TRUST[0], ods_code=DEMO_TRUST[1],
                                      buyer_type=BuyerType.TRUST, region_ods_code=DEMO_TRUST[2], actor=actor, now=now)
        for role, email, full_name, organisation_key in DEMO_USERS:
            user = await session.scalar(sa.select(User).where(col(User.email) == email))
            if user is None:
                user = await create_user(session, passwords, email=email, full_name=full_name,
                                         password=DEMO_PASSWORD, actor=actor, now=now, email_verified=True)
            if role is Role.API_CONSUMER:
                await demo_api_consumer(session, user, organisation_name=organisation_key, purpose=DEMO_API_PURPOSE,
                                        now=now)
                continue
            organisation = await find_organisation(session, organisation_key)
            await add_membership(session, user=user, organisation=organisation, role=role, actor=actor, now=now)
        context = DemoContext(session, now, actor, passwords, DEMO_PASSWORD)
        for load in loaders:
            await load(context)
        await session.commit()
    return DEMO_ACCOUNTS
