"""Identity commands run from the CLI: whole transactions, committed here."""

from __future__ import annotations

import contextlib
from typing import Any

import sqlalchemy as sa
from sqlmodel import col

from dps.audit.services import Actor
from dps.clock import SystemClock
from dps.errors import NotFound, ValidationFailed
from dps.identity.models import Organisation, OrganisationKind, Role
from dps.identity.passwords import Passwords
from dps.identity.rules import normalise_companies_house_number
from dps.identity.services import add_membership, create_user
from dps.settings import Settings


async def find_organisation(session: Any, key: str) -> Organisation:
    """An organisation by ODS code, Companies House number, or the word 'authority'."""
    key = key.strip()
    if key.lower() == "authority":
        query = sa.select(Organisation).where(col(Organisation.kind) == OrganisationKind.AUTHORITY)
    else:
        candidates = {key.upper()}
        with contextlib.suppress(ValidationFailed):
            candidates.add(normalise_companies_house_number(key))  # not a Companies House number: an ODS code, then
        query = sa.select(Organisation).where(
            sa.or_(col(Organisation.ods_code).in_(candidates), col(Organisation.companies_house_number).in_(candidates))
        )
    organisation = (await session.scalars(query)).first()
    if organisation is None:
        raise NotFound(f"No organisation has the ODS code or Companies House number {key!r}")
    return organisation


async def create_user_with_role(
    sessions: Any, settings: Settings, *, email: str, role: str, organisation_key: str, full_name: str, password: str
) -> int:
    now = SystemClock().now()
    actor = Actor.system("cli")
    async with sessions() as session:
        organisation = await find_organisation(session, organisation_key)
        user = await create_user(session, Passwords.for_environment(settings.environment), email=email,
                                 full_name=full_name, password=password, actor=actor, now=now, email_verified=True)
        await add_membership(session, user=user, organisation=organisation, role=Role(role), actor=actor, now=now)
        await session.commit()
        return user.id or 0
