"""C2, PCR 2015 reg 34(12): recording each supplier's agreement to a shorter tender period before publication.

A sub-central buyer (NHS trusts and ICBs are) may set the time limit for tenders by agreement with every supplier
it invites; without that agreement the period is at least 10 days. The buyer asks the suppliers admitted to the
category (outside the marketplace, by email or letter) and records each agreement here, with how it was given,
while the competition is a draft. An agreement is to the tender deadline the draft holds when it is recorded, and
covers that deadline or a later one. Publication (`services.publish`) accepts a deadline earlier than the minimum
only if every supplier it invites has such an agreement (`rules.shorter_period_problem`); a dynamic market under
the Procurement Act 2023 never does. The supplier is told by email that its agreement was recorded, so a wrong
record does not go unnoticed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from dps.admission.models import Admission
from dps.admission.rules import MembershipState
from dps.admission.services import category_with_agreement, email_organisation
from dps.audit.services import Actor, record
from dps.calendar import minimum_tender_deadline
from dps.competitions.models import Competition, ShorterPeriodAgreement
from dps.competitions.rules import CompetitionState, minimum_tender_days, shorter_period_problem
from dps.competitions.services.loading import competition_for_buyer
from dps.dates import format_london
from dps.errors import Conflict, ValidationFailed
from dps.identity.models import Organisation
from dps.identity.services import SignedInUser
from dps.mail import page_link
from dps.regimes import Regime


@dataclass(frozen=True)
class SupplierAgreement:
    organisation_id: int
    name: str
    agreement: ShorterPeriodAgreement | None

    def covers(self, tender_deadline: datetime) -> bool:
        return self.agreement is not None and self.agreement.agreed_deadline <= tender_deadline


@dataclass(frozen=True)
class ShorterPeriodView:
    competition: Competition
    regime: str
    minimum_days: int
    earliest_without_agreement: datetime  # the earliest tender deadline if published now, without agreement
    suppliers: list[SupplierAgreement]  # those publication would invite now: active in the category
    problem: str | None  # why a shorter period is not allowed (yet); None when it is

    @property
    def needed(self) -> bool:
        return self.competition.tender_deadline < self.earliest_without_agreement

    @property
    def possible(self) -> bool:
        return Regime(self.regime) is Regime.PCR2015_DPS and self.competition.state == CompetitionState.DRAFT


async def _suppliers(session: AsyncSession, competition: Competition) -> list[SupplierAgreement]:
    rows = (await session.execute(
        sa.select(col(Admission.organisation_id), col(Organisation.name), ShorterPeriodAgreement)
        .join(Organisation, col(Organisation.id) == Admission.organisation_id)
        .outerjoin(ShorterPeriodAgreement,
                   sa.and_(col(ShorterPeriodAgreement.competition_id) == competition.id,
                           col(ShorterPeriodAgreement.organisation_id) == Admission.organisation_id))
        .where(col(Admission.category_id) == competition.category_id, col(Admission.state) == MembershipState.ACTIVE)
        .order_by(col(Organisation.name)))).all()
    return [SupplierAgreement(organisation_id, name, agreement) for organisation_id, name, agreement in rows]


async def shorter_period_view(session: AsyncSession, user: SignedInUser, competition_id: int,
                              now: datetime) -> ShorterPeriodView:
    competition = await competition_for_buyer(session, user, competition_id, now)
    _category, agreement = await category_with_agreement(session, competition.category_id)
    suppliers = await _suppliers(session, competition)
    days = minimum_tender_days(agreement.regime, agreement.rule_settings)
    agreed = {s.organisation_id for s in suppliers if s.covers(competition.tender_deadline)}
    problem = shorter_period_problem(agreement.regime, {s.organisation_id: s.name for s in suppliers}, agreed)
    return ShorterPeriodView(competition, agreement.regime, days, minimum_tender_deadline(now, days), suppliers,
                             problem)


async def record_agreement(session: AsyncSession, user: SignedInUser, competition_id: int, *,
                           organisation_id: int | None, evidence: str, now: datetime) -> ShorterPeriodAgreement:
    """Record (or record again, for the draft's current deadline) one supplier's agreement to a shorter period."""
    competition = await competition_for_buyer(session, user, competition_id, now, for_update=True)
    if competition.state != CompetitionState.DRAFT:
        raise Conflict("Agreements to a shorter tender period are recorded before publication: this competition "
                       "has been published")
    category, agreement = await category_with_agreement(session, competition.category_id)
    if Regime(agreement.regime) is not Regime.PCR2015_DPS:
        raise ValidationFailed(shorter_period_problem(agreement.regime, {}, set()) or "", field="organisation_id")
    supplier = next((s for s in await _suppliers(session, competition) if s.organisation_id == organisation_id), None)
    if supplier is None:
        raise ValidationFailed(f"Choose a supplier admitted to {category.name}", field="organisation_id")
    if not evidence.strip():
        raise ValidationFailed("Say how and when the supplier agreed, for example: email from Sam Jones, 2 June 2026",
                               field="evidence")
    row = supplier.agreement
    before = None if row is None else {"agreed_deadline": row.agreed_deadline, "evidence": row.evidence}
    if row is None:
        row = ShorterPeriodAgreement(competition_id=competition.id or 0, organisation_id=supplier.organisation_id,
                                     agreed_deadline=competition.tender_deadline, evidence="",
                                     recorded_by_user_id=user.id, recorded_at=now)
        session.add(row)
    row.agreed_deadline, row.evidence = competition.tender_deadline, evidence.strip()
    row.recorded_by_user_id, row.recorded_at = user.id, now
    await session.flush()
    await record(session, actor=Actor(user.id, user.email), action="competition.shorter_period_agreed",
                 entity_type="competition", entity_id=competition.id or 0, now=now, before=before,
                 after={"organisation_id": supplier.organisation_id, "agreed_deadline": row.agreed_deadline,
                        "evidence": row.evidence})
    days = minimum_tender_days(agreement.regime, agreement.rule_settings)
    await email_organisation(
        session, supplier.organisation_id, now, f"competition:{competition.id}:shorter-period:{now.isoformat()}",
        f"Your agreement to a shorter tender period: {competition.title}",
        f"The buyer running the mini-competition \"{competition.title}\" in {category.name} recorded that your "
        f"organisation agreed to a shorter tender period, with bids due by {format_london(row.agreed_deadline)}."
        f"\n\nHow you agreed, as recorded: {row.evidence}\n\n"
        f"If your organisation did not agree, tell the buyer at once: without the agreement of every supplier "
        f"invited, the tender period cannot be shorter than {days} full days.\n\n"
        f"See the competition:\n{page_link(f'/supplier/competitions/{competition.id}')}\n")
    await session.commit()
    return row
