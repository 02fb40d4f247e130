"""The supplier organisation: creating it with its first administrator, its profile, and who may act for it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from dps.audit.services import record
from dps.errors import Conflict, Forbidden, NotFound, ValidationFailed
from dps.events import domain_events
from dps.identity.events import SupplierProfileChanged
from dps.identity.models import Membership, Organisation, OrganisationKind, Role, User
from dps.identity.profile import SupplierProfile, parse_supplier_profile
from dps.identity.rules import SmeAssessment, assess_sme
from dps.identity.services import actor_of, add_membership, create_organisation


def profile_snapshot(organisation: Organisation) -> dict[str, Any]:
    """The supplier profile fields (and the SME outcome they give), for audit events and pages."""
    snapshot: dict[str, Any] = {
        "legal_name": organisation.name,
        "trading_name": organisation.trading_name,
        "companies_house_number": organisation.companies_house_number,
        "registered_address": organisation.registered_address,
        "headcount": organisation.headcount,
        "turnover_pence": organisation.turnover_pence,
        "balance_sheet_pence": organisation.balance_sheet_pence,
    }
    sme = sme_of(organisation)
    snapshot["sme"] = None if sme is None else sme.is_sme
    return snapshot


def sme_of(organisation: Organisation) -> SmeAssessment | None:
    """The SME test on the organisation's stored figures; None until all three are known."""
    figures = (organisation.headcount, organisation.turnover_pence, organisation.balance_sheet_pence)
    if any(value is None for value in figures):
        return None
    return assess_sme(*figures)  # type: ignore[arg-type]


def _apply_profile(organisation: Organisation, profile: SupplierProfile) -> None:
    organisation.name = profile.legal_name
    organisation.trading_name = profile.trading_name
    organisation.companies_house_number = profile.companies_house_number
    organisation.registered_address = profile.registered_address
    organisation.headcount = profile.headcount
    organisation.turnover_pence = profile.turnover_pence
    organisation.balance_sheet_pence = profile.balance_sheet_pence


def _number_taken() -> ValidationFailed:
    return ValidationFailed(
        "An organisation with this Companies House number is already registered. If it is yours, ask its "
        "administrator to invite you.",
        field="companies_house_number",
    )


async def check_companies_house_number_free(
    session: AsyncSession, number: str, *, except_organisation_id: int | None = None
) -> None:
    query = sa.select(col(Organisation.id)).where(col(Organisation.companies_house_number) == number)
    if except_organisation_id is not None:
        query = query.where(col(Organisation.id) != except_organisation_id)
    if await session.scalar(query) is not None:
        raise _number_taken()


async def supplier_organisation_ids(session: AsyncSession, user_id: int) -> list[int]:
    rows = await session.scalars(
        sa.select(col(Membership.organisation_id))
        .join(Organisation, col(Organisation.id) == Membership.organisation_id)
        .where(col(Membership.user_id) == user_id, col(Organisation.kind) == OrganisationKind.SUPPLIER)
        .order_by(col(Membership.organisation_id))
        .distinct()
    )
    return list(rows.all())


async def _may_create_organisation(session: AsyncSession, user_id: int, *, lock: bool = False) -> User:
    user = await session.get(User, user_id, with_for_update=lock)
    if user is None or not user.is_active:
        raise NotFound("We could not find your account")
    if user.email_verified_at is None:
        raise Forbidden("Confirm your email address before you set up an organisation")
    if await supplier_organisation_ids(session, user_id):
        raise Conflict("You already belong to a supplier organisation")
    return user


async def check_new_organisation(session: AsyncSession, *, user_id: int, form: Mapping[str, str]) -> SupplierProfile:
    """The profile typed for a new organisation, checked (format and a Companies House number not yet
    registered) before the check-your-answers page; nothing is written. Raises InputInvalid / ValidationFailed."""
    await _may_create_organisation(session, user_id)
    profile = parse_supplier_profile(form)
    await check_companies_house_number_free(session, profile.companies_house_number)
    await session.commit()  # end the read transaction
    return profile


async def create_supplier_organisation(
    session: AsyncSession, *, user_id: int, profile: SupplierProfile, now: datetime
) -> Organisation:
    """The verified user's supplier organisation, with them as its administrator."""
    user = await _may_create_organisation(session, user_id, lock=True)
    await check_companies_house_number_free(session, profile.companies_house_number)
    actor = actor_of(user)
    organisation = await create_organisation(
        session, kind=OrganisationKind.SUPPLIER, name=profile.legal_name, trading_name=profile.trading_name,
        companies_house_number=profile.companies_house_number, actor=actor, now=now,
    )
    before = profile_snapshot(organisation)
    _apply_profile(organisation, profile)
    await session.flush()
    await record(session, actor=actor, action="organisation.profile_updated", entity_type="organisation",
                 entity_id=organisation.id or 0, now=now, before=before, after=profile_snapshot(organisation))
    await add_membership(session, user=user, organisation=organisation, role=Role.SUPPLIER_ADMIN, actor=actor, now=now)
    try:
        await session.commit()
    except IntegrityError:  # the same number registered at the same moment by another request
        await session.rollback()
        raise _number_taken() from None
    return organisation


@dataclass(frozen=True)
class SupplierAccess:
    organisation: Organisation
    user: User
    roles: frozenset[Role]

    @property
    def is_admin(self) -> bool:
        return Role.SUPPLIER_ADMIN in self.roles


NOT_FOUND_MESSAGE = "We could not find that page. Check the address, or go back to the supplier portal."


async def supplier_access(session: AsyncSession, *, organisation_id: int, user_id: int,
                          admin: bool = False) -> SupplierAccess:
    """The user's standing in a supplier organisation: NotFound unless they belong to it (so nobody learns that
    someone else's organisation exists), Forbidden if `admin` is asked for and they are not its administrator."""
    organisation = await session.get(Organisation, organisation_id)
    user = await session.get(User, user_id)
    roles = frozenset(
        Role(role) for role in await session.scalars(
            sa.select(col(Membership.role)).where(col(Membership.user_id) == user_id,
                                             col(Membership.organisation_id) == organisation_id)
        )
    )
    if organisation is None or user is None or organisation.kind != OrganisationKind.SUPPLIER or not roles:
        raise NotFound(NOT_FOUND_MESSAGE)
    access = SupplierAccess(organisation, user, roles)
    if admin and not access.is_admin:
        raise Forbidden("Only your organisation's administrators can do this")
    return access


async def update_supplier_profile(
    session: AsyncSession, *, organisation_id: int, user_id: int, form: Mapping[str, str], now: datetime
) -> Organisation:
    """Change the organisation's profile (administrators only), recording before and after."""
    access = await supplier_access(session, organisation_id=organisation_id, user_id=user_id, admin=True)
    profile = parse_supplier_profile(form)
    organisation = access.organisation
    await check_companies_house_number_free(session, profile.companies_house_number,
                                            except_organisation_id=organisation.id)
    before = profile_snapshot(organisation)
    _apply_profile(organisation, profile)
    after = profile_snapshot(organisation)
    if after != before:
        await record(session, actor=actor_of(access.user), action="organisation.profile_updated",
                     entity_type="organisation", entity_id=organisation.id or 0, now=now, before=before, after=after)
        await session.flush()
        await domain_events.publish(session, SupplierProfileChanged(organisation.id or 0, actor_of(access.user), now))
    try:
        await session.commit()
    except IntegrityError:
        await session.rollback()
        raise _number_taken() from None
    return organisation
