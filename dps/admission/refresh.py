"""A6: the authority asks a category's admitted suppliers to refresh their declaration; each answers within
5 working days (a per-agreement setting), is reminded, and shows as overdue after that.

And the assurance watch: 30 days before a dated assurance (certificate, insurance, DSPT status) expires, the
supplier is emailed; once expired it is flagged on the supplier's record.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from dps.admission.models import Admission, Application, RefreshRequest, RefreshResponse
from dps.admission.questionnaire import assurance_expiries
from dps.admission.rules import MembershipState, clock_status
from dps.admission.services import category_with_agreement, email_organisation
from dps.agreements.models import Agreement, Category
from dps.assurance import AssuranceExpiry
from dps.audit.services import Actor, record
from dps.calendar import REFRESH_WORKING_DAYS, WorkingDayCalendar, london_date, refresh_due
from dps.dates import format_london
from dps.errors import Conflict, NotFound
from dps.exclusion.rules import MANDATORY_GROUND_QUESTIONS, MandatoryGround, declared_grounds
from dps.exclusion.services import record_debarment
from dps.forms import FormErrors, InputInvalid
from dps.identity.models import Organisation, OrganisationKind
from dps.identity.services import SignedInUser, actor_of
from dps.mail import page_link
from dps.outbox.models import OutboxMessage

REMINDER_WORKING_DAYS_LEFT = 1


async def request_refresh(session: AsyncSession, user: SignedInUser, *, category_id: int, message: str,
                          now: datetime) -> RefreshRequest:
    category, agreement = await category_with_agreement(session, category_id)
    working_days = int(agreement.rule_settings.get("refresh_response_working_days", REFRESH_WORKING_DAYS))
    due_at = refresh_due(now, agreement.regime, working_days)
    admissions = (await session.scalars(sa.select(Admission).where(
        col(Admission.category_id) == category_id, col(Admission.state) == MembershipState.ACTIVE))).all()
    if not admissions:
        raise Conflict(f"No supplier is admitted to {category.name}: there is nobody to ask")
    request = RefreshRequest(category_id=category_id, message=message.strip(), requested_by_user_id=user.id,
                             requested_at=now, due_at=due_at)
    session.add(request)
    await session.flush()
    await record(session, actor=actor_of(user), action="refresh.requested", entity_type="refresh_request",
                 entity_id=request.id or 0, now=now,
                 after={"category_id": category_id, "due_at": due_at, "suppliers": len(admissions)})
    for admission in admissions:
        response = RefreshResponse(refresh_request_id=request.id or 0, organisation_id=admission.organisation_id,
                                   due_at=due_at)
        session.add(response)
        await session.flush()
        await email_organisation(
            session, admission.organisation_id, now, f"refresh:{request.id}:request",
            f"Please confirm your declaration for {category.name}",
            f"The DPS authority asks every supplier admitted to {category.name} ({agreement.name}) to confirm that "
            f"the declarations in its application remain true, or to tell us what has changed.\n\n"
            + (f"{message.strip()}\n\n" if message.strip() else "")
            + f"Please answer in the supplier portal by {format_london(due_at)}. A supplier that does not answer "
            f"in time may be suspended.\n\nAnswer here:\n{page_link(f'/supplier/refresh/{response.id}')}\n")
    await session.commit()
    return request


async def response_for_supplier(session: AsyncSession, user: SignedInUser, response_id: int,
                                *, for_update: bool = False) -> RefreshResponse:
    query = sa.select(RefreshResponse).where(
        col(RefreshResponse.id) == response_id,
        col(RefreshResponse.organisation_id).in_(user.organisation_ids_of_kind(OrganisationKind.SUPPLIER)))
    response = await session.scalar(query.with_for_update() if for_update else query)
    if response is None:
        raise NotFound("There is no such request")
    return response


async def respond_to_refresh(session: AsyncSession, user: SignedInUser, response_id: int, *, confirmed: bool,
                             changes: str, grounds: Mapping[str, str], now: datetime) -> RefreshResponse:
    """A6 with A8: the supplier confirms its declaration and answers yes or no to each mandatory exclusion ground.
    A "yes" puts it on the debarment list (source: its own declaration), which removes it from every category."""
    response = await response_for_supplier(session, user, response_id, for_update=True)
    if response.responded_at is not None:
        raise Conflict("Your organisation has already answered this request")
    errors = FormErrors()
    if not confirmed and not changes.strip():
        errors.add("confirmed", "Confirm your declaration still stands, or tell us what has changed")
    for ground, question in MANDATORY_GROUND_QUESTIONS.items():
        if grounds.get(ground.value) not in ("yes", "no"):
            errors.add(f"ground-{ground.value}",
                       f"Select yes if your organisation or a person in it has been {question}")
    if errors:
        raise InputInvalid(errors)
    answers = {ground.value: grounds[ground.value] == "yes" for ground in MandatoryGround}
    response.declaration = {"confirmed": confirmed, "changes": changes.strip(), "grounds": answers}
    response.responded_at, response.responded_by_user_id = now, user.id
    await record(session, actor=actor_of(user), action="refresh.answered", entity_type="refresh_response",
                 entity_id=response.id or 0, now=now,
                 after={**response.declaration, "late": now > response.due_at})
    declared = declared_grounds(answers)
    if declared:
        await record_debarment(session, organisation_id=response.organisation_id,
                               grounds=[ground.value for ground in declared], source="declaration",
                               listed_from=london_date(now), listed_until=None,
                               details=f"Declared in answer to declaration refresh {response.refresh_request_id}",
                               actor=actor_of(user), now=now)
    await session.commit()
    return response


@dataclass(frozen=True)
class RefreshRow:
    response: RefreshResponse
    organisation_name: str
    category_name: str
    status: str  # answered | answered_late | waiting | overdue
    working_days_left: int


def response_status(response: RefreshResponse, now: datetime) -> str:
    if response.responded_at is not None:
        return "answered_late" if response.responded_at > response.due_at else "answered"
    return "overdue" if now > response.due_at else "waiting"


async def refresh_rows(session: AsyncSession, now: datetime, *, request_id: int | None = None,
                       organisation_ids: frozenset[int] | None = None) -> list[RefreshRow]:
    query = (sa.select(RefreshResponse, col(Organisation.name), col(Category.name), col(Agreement.regime))
             .join(RefreshRequest, col(RefreshRequest.id) == RefreshResponse.refresh_request_id)
             .join(Organisation, col(Organisation.id) == RefreshResponse.organisation_id)
             .join(Category, col(Category.id) == RefreshRequest.category_id)
             .join(Agreement, col(Agreement.id) == Category.agreement_id)
             .order_by(col(RefreshResponse.due_at), col(Organisation.name)))
    if request_id is not None:
        query = query.where(col(RefreshResponse.refresh_request_id) == request_id)
    if organisation_ids is not None:
        query = query.where(col(RefreshResponse.organisation_id).in_(organisation_ids))
    rows = (await session.execute(query)).all()
    return [RefreshRow(response, org, cat, response_status(response, now),
                       clock_status(response.due_at, now, WorkingDayCalendar.for_regime(regime)).working_days_left)
            for response, org, cat, regime in rows]


async def refresh_requests(session: AsyncSession) -> list[tuple[RefreshRequest, str]]:
    rows = (await session.execute(sa.select(RefreshRequest, col(Category.name))
                                  .join(Category, col(Category.id) == RefreshRequest.category_id)
                                  .order_by(col(RefreshRequest.requested_at).desc()))).all()
    return [(request, name) for request, name in rows]


async def send_refresh_reminders(session: AsyncSession, now: datetime) -> int:
    """Remind each supplier that has not answered once, on its last working day (or when it is overdue)."""
    rows = [row for row in await refresh_rows(session, now)
            if row.status in ("waiting", "overdue") and row.response.reminder_sent_at is None
            and row.working_days_left <= REMINDER_WORKING_DAYS_LEFT]
    for row in rows:
        row.response.reminder_sent_at = now
        await record(session, actor=Actor.system("reminders"), action="refresh.reminded",
                     entity_type="refresh_response", entity_id=row.response.id or 0, now=now)
        await email_organisation(
            session, row.response.organisation_id, now, f"refresh:{row.response.refresh_request_id}:reminder",
            f"Reminder: confirm your declaration for {row.category_name}",
            f"We have not yet had your organisation's answer to the request to confirm its declaration for "
            f"{row.category_name}. It was due by {format_london(row.response.due_at)}.\n\nAnswer here:\n"
            f"{page_link(f'/supplier/refresh/{row.response.id}')}\n")
    await session.commit()
    return len(rows)


@dataclass(frozen=True)
class SupplierAssurance:
    organisation_id: int
    organisation_name: str
    expiries: list[AssuranceExpiry]


async def admitted_supplier_assurance(session: AsyncSession,
                                      organisation_ids: frozenset[int] | None = None) -> list[SupplierAssurance]:
    """Dated assurance of each admitted (active or suspended) supplier, from its admitted applications."""
    query = (sa.select(col(Admission.organisation_id), col(Organisation.name), col(Application.answers))
             .join(Application, col(Application.id) == Admission.application_id)
             .join(Organisation, col(Organisation.id) == Admission.organisation_id)
             .where(col(Admission.state) != MembershipState.REMOVED)
             .order_by(col(Organisation.name), col(Application.decided_at)))
    if organisation_ids is not None:
        query = query.where(col(Admission.organisation_id).in_(organisation_ids))
    latest: dict[int, tuple[str, Any]] = {}
    for organisation_id, name, answers in (await session.execute(query)).all():
        latest[organisation_id] = (name, answers)  # the most recently decided application wins
    return [SupplierAssurance(org_id, name, assurance_expiries(answers)) for org_id, (name, answers) in latest.items()]


async def send_assurance_warnings(session: AsyncSession, now: datetime) -> int:
    """Email a supplier once per dated assurance, 30 days (or less) before it expires."""
    today = london_date(now)
    sent = 0
    for supplier in await admitted_supplier_assurance(session):
        for expiry in supplier.expiries:
            if not expiry.expiring_soon(today):
                continue
            key = f"assurance:{supplier.organisation_id}:{expiry.kind}:{expiry.expires_on.isoformat()}"
            already = await session.scalar(sa.select(col(OutboxMessage.id))
                .where(col(OutboxMessage.dedupe_key).like(f"email:{key}:%")))
            if already is not None:
                continue
            await email_organisation(
                session, supplier.organisation_id, now, key, f"{expiry.kind} expires on "
                f"{format_london(expiry.expires_on)}",
                f"Your organisation's {expiry.kind} expires on {format_london(expiry.expires_on)}. Buyers see "
                "expired assurance on your record and in search: please renew it and tell the DPS authority.\n\n"
                f"See your organisation:\n{page_link('/supplier')}\n")
            await record(session, actor=Actor.system("assurance-watch"), action="assurance.expiry_warned",
                         entity_type="organisation", entity_id=supplier.organisation_id, now=now,
                         after={"kind": expiry.kind, "expires_on": expiry.expires_on.isoformat()})
            sent += 1
    await session.commit()
    return sent


async def run_daily_jobs(sessionmaker: Any, now: datetime) -> dict[str, int]:
    """The admission housekeeping the clock drives; idempotent, so running it hourly is harmless."""
    async with sessionmaker() as session:
        reminders = await send_refresh_reminders(session, now)
    async with sessionmaker() as session:
        warnings = await send_assurance_warnings(session, now)
    return {"refresh_reminders": reminders, "assurance_warnings": warnings}
