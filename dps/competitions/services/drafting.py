"""The buyer's competition before the deadline: drafting, publishing (C1-C3), clarifications (C6), cancelling."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from dps.admission.models import Admission
from dps.admission.rules import MembershipState
from dps.admission.services import category_with_agreement, email_organisation
from dps.agreements.models import Category
from dps.audit.services import record
from dps.calendar import london_date
from dps.competitions.forms import CompetitionInput
from dps.competitions.models import (
    Clarification,
    Competition,
    CompetitionEvaluator,
    CompetitionInvitation,
    ShorterPeriodAgreement,
)
from dps.competitions.rules import (
    DEFAULT_TIE_BREAK,
    CompetitionEvent,
    CompetitionState,
    Criterion,
    check_publication,
    check_refinement,
    minimum_tender_days,
    next_competition_state,
    validate_criteria,
)
from dps.competitions.services.loading import (
    audit_competition,
    buyer_organisation_ids,
    competition_for_buyer,
    competition_for_supplier,
    competition_snapshot,
    criteria_of,
    email_buyers,
    email_invited,
    require_state,
)
from dps.dates import format_london
from dps.errors import Conflict, NotFound, ValidationFailed
from dps.funds.services import check_open_to_buyer
from dps.identity.models import Membership, Organisation, Role, User
from dps.identity.services import SignedInUser, actor_of
from dps.mail import page_link


async def buyer_organisations(session: AsyncSession, user: SignedInUser) -> list[Organisation]:
    ids = buyer_organisation_ids(user)
    return list((await session.scalars(sa.select(Organisation).where(col(Organisation.id).in_(ids))
                                       .order_by(col(Organisation.name)))).all())


async def evaluators_of(session: AsyncSession, organisation_ids: Sequence[int]) -> list[tuple[int, User]]:
    """Users holding the evaluator role in the given buyer organisations, as (organisation id, user)."""
    rows = (await session.execute(
        sa.select(col(Membership.organisation_id), User).join(User, col(User.id) == Membership.user_id)
        .where(col(Membership.organisation_id).in_(organisation_ids), col(Membership.role) == Role.EVALUATOR,
               col(User.is_active).is_(True)).order_by(col(User.full_name), col(User.id)))).all()
    return [(org_id, user) for org_id, user in rows]


async def _check_input(session: AsyncSession, user: SignedInUser, data: CompetitionInput, now: datetime) -> None:
    if data.buyer_organisation_id not in buyer_organisation_ids(user):
        raise ValidationFailed("Choose an organisation you buy for", field="buyer_organisation_id")
    if await session.get(Category, data.category_id) is None:
        raise ValidationFailed("Choose the category of the DPS to run the competition in", field="category_id")
    allowed = {u.id for _, u in await evaluators_of(session, [data.buyer_organisation_id])}
    if not data.evaluator_user_ids or not set(data.evaluator_user_ids) <= allowed:
        raise ValidationFailed("Choose evaluators from your organisation's evaluators", field="evaluator_ids")
    validate_criteria(data.criteria)
    if data.fund_lines:
        # RULES.md 5: intended funding names only allocations open to the buyer (its own ICB's or a national fund's).
        await check_open_to_buyer(session, buyer_organisation_id=data.buyer_organisation_id,
                                  allocation_ids=[line.allocation_id for line in data.fund_lines],
                                  today=london_date(now), category_id=data.category_id,
                                  fields=list(data.fund_line_fields) or None)


async def _set_evaluators(session: AsyncSession, competition: Competition, user_ids: Sequence[int]) -> None:
    existing = (await session.scalars(sa.select(CompetitionEvaluator).where(
        col(CompetitionEvaluator.competition_id) == competition.id))).all()
    for seat in existing:
        if seat.user_id not in user_ids:
            await session.delete(seat)
    have = {seat.user_id for seat in existing}
    for user_id in user_ids:
        if user_id not in have:
            session.add(CompetitionEvaluator(competition_id=competition.id or 0, user_id=user_id))
    await session.flush()


def _apply_input(competition: Competition, data: CompetitionInput) -> None:
    competition.buyer_organisation_id = data.buyer_organisation_id
    competition.category_id = data.category_id
    competition.title, competition.requirement = data.title, data.requirement
    competition.estimated_value_pence = data.estimated_value_pence
    competition.contract_starts_on, competition.contract_ends_on = data.contract_starts_on, data.contract_ends_on
    competition.clarification_deadline = data.clarification_deadline
    competition.tender_deadline = data.tender_deadline
    competition.criteria = [c.to_json() for c in data.criteria]
    competition.fund_lines = [{"allocation_id": line.allocation_id, "pence": line.pence} for line in data.fund_lines]


def _draft_audit(competition: Competition, evaluators: Sequence[int]) -> dict[str, Any]:
    return {"title": competition.title, "category_id": competition.category_id,
            "estimated_value_pence": competition.estimated_value_pence,
            "clarification_deadline": competition.clarification_deadline,
            "tender_deadline": competition.tender_deadline, "criteria": competition.criteria,
            "evaluators": list(evaluators), "fund_lines": competition.fund_lines}


async def create_competition(session: AsyncSession, user: SignedInUser, data: CompetitionInput,
                             now: datetime) -> Competition:
    await _check_input(session, user, data, now)
    competition = Competition(state=CompetitionState.DRAFT, created_by_user_id=user.id, created_at=now,
                              updated_at=now, buyer_organisation_id=0, category_id=0, title="",
                              estimated_value_pence=0, contract_starts_on=data.contract_starts_on,
                              contract_ends_on=data.contract_ends_on, clarification_deadline=now, tender_deadline=now)
    _apply_input(competition, data)
    session.add(competition)
    await session.flush()
    await _set_evaluators(session, competition, data.evaluator_user_ids)
    await audit_competition(session, actor_of(user), "created", competition, now,
                            after={"state": competition.state, **_draft_audit(competition, data.evaluator_user_ids)})
    await session.commit()
    return competition


async def update_draft(session: AsyncSession, user: SignedInUser, competition_id: int, data: CompetitionInput,
                       now: datetime) -> Competition:
    competition = await competition_for_buyer(session, user, competition_id, now, for_update=True)
    require_state(competition, CompetitionState.DRAFT, doing="changing it as a draft")
    await _check_input(session, user, data, now)
    before = _draft_audit(competition, await evaluator_ids(session, competition.id or 0))
    _apply_input(competition, data)
    competition.updated_at = now
    await _set_evaluators(session, competition, data.evaluator_user_ids)
    await audit_competition(session, actor_of(user), "draft_updated", competition, now, before,
                            _draft_audit(competition, data.evaluator_user_ids))
    await session.commit()
    return competition


async def evaluator_ids(session: AsyncSession, competition_id: int) -> list[int]:
    return list((await session.scalars(sa.select(col(CompetitionEvaluator.user_id)).where(
        col(CompetitionEvaluator.competition_id) == competition_id).order_by(col(CompetitionEvaluator.user_id)))).all())


async def _admitted_to(session: AsyncSession, category_id: int) -> list[tuple[Admission, str]]:
    """The suppliers with an active admission to the category now, with their names: who publishing invites (C1)."""
    return [(admission, name) for admission, name in (await session.execute(
        sa.select(Admission, col(Organisation.name)).join(Organisation,
                                                          col(Organisation.id) == Admission.organisation_id)
        .where(col(Admission.category_id) == category_id, col(Admission.state) == MembershipState.ACTIVE)
        .order_by(col(Admission.organisation_id)))).all()]


async def suppliers_to_invite(session: AsyncSession, competition: Competition) -> list[str]:
    """The names of the suppliers that publishing the draft now would invite, for the buyer to see before it does."""
    return sorted(name for _, name in await _admitted_to(session, competition.category_id))


async def publish(session: AsyncSession, user: SignedInUser, competition_id: int, now: datetime) -> Competition:
    """C1: every supplier with an active admission to the category at this instant is invited, at the same moment,
    by email and in its portal; the invited list is stored as it was. C2 and C3 are checked here."""
    competition = await competition_for_buyer(session, user, competition_id, now, for_update=True)
    require_state(competition, CompetitionState.DRAFT, doing="publishing")
    category, agreement = await category_with_agreement(session, competition.category_id)
    today = london_date(now)
    if not agreement.starts_on <= today <= agreement.ends_on:
        raise Conflict(f"{agreement.name} runs from {agreement.starts_on:%-d %B %Y} to {agreement.ends_on:%-d %B %Y}: "
                       "a competition can only be published while it runs")
    validate_criteria(criteria_of(competition))
    days = minimum_tender_days(agreement.regime, agreement.rule_settings)
    admitted = await _admitted_to(session, competition.category_id)
    agreed = set((await session.scalars(sa.select(col(ShorterPeriodAgreement.organisation_id)).where(
        col(ShorterPeriodAgreement.competition_id) == competition.id,
        col(ShorterPeriodAgreement.agreed_deadline) <= competition.tender_deadline))).all())  # C2, reg 34(12)
    check_publication(now=now, clarification_deadline=competition.clarification_deadline,
                      tender_deadline=competition.tender_deadline, minimum_days=days, regime=agreement.regime,
                      invited={admission.organisation_id: name for admission, name in admitted}, agreed=agreed)
    if not admitted:
        raise Conflict(f"No supplier is admitted to {category.name} at the moment: there is nobody to invite")
    before = competition_snapshot(competition)
    competition.state = next_competition_state(competition.state, CompetitionEvent.PUBLISH)
    competition.published_at, competition.published_by_user_id = now, user.id
    competition.minimum_tender_days = days
    competition.tie_break = str(DEFAULT_TIE_BREAK)  # C7: published with the criteria, fixed from now on
    competition.updated_at = now
    for admission, name in admitted:
        session.add(CompetitionInvitation(competition_id=competition.id or 0, organisation_id=admission.organisation_id,
                                          admission_id=admission.id or 0, organisation_name=name, invited_at=now))
    await session.flush()
    await audit_competition(session, actor_of(user), "published", competition, now, before,
                            {**competition_snapshot(competition), "published_at": now, "minimum_tender_days": days,
                             "regime": agreement.regime, "criteria": competition.criteria,
                             "tie_break": competition.tie_break,
                             "invited": [admission.organisation_id for admission, _ in admitted],
                             "shorter_period_agreed_by": sorted(agreed)})
    for admission, _name in admitted:
        await email_organisation(
            session, admission.organisation_id, now, f"competition:{competition.id}:invitation",
            f"Invitation to bid: {competition.title}",
            f"Your organisation is invited to bid in a mini-competition under {agreement.name}, category "
            f"{category.name}: {competition.title}.\n\n"
            f"Clarification questions by {format_london(competition.clarification_deadline)}.\n"
            f"Bids by {format_london(competition.tender_deadline)} (bids after the deadline are refused).\n\n"
            "Read the requirement and bid in the supplier portal: "
            + page_link(f"/supplier/competitions/{competition.id}"))
    await session.commit()
    return competition


async def ask_question(session: AsyncSession, user: SignedInUser, competition_id: int, question: str,
                       now: datetime) -> Clarification:
    competition, invitation = await competition_for_supplier(session, user, competition_id, now, for_update=True)
    require_state(competition, CompetitionState.PUBLISHED, doing="asking a question")
    if now >= competition.clarification_deadline:
        raise Conflict(f"The deadline for clarification questions passed at "
                       f"{format_london(competition.clarification_deadline)}")
    if not question.strip():
        raise ValidationFailed("Enter your question", field="question")
    clarification = Clarification(competition_id=competition.id or 0,
                                  asked_by_organisation_id=invitation.organisation_id, asked_by_user_id=user.id,
                                  question=question.strip(), asked_at=now)
    session.add(clarification)
    await session.flush()
    await record(session, actor=actor_of(user), action="clarification.asked", entity_type="clarification",
                 entity_id=clarification.id or 0, now=now,
                 after={"competition_id": competition.id, "question": clarification.question})
    await email_buyers(session, competition, now, f"question:{clarification.id}",
                       f"New clarification question: {competition.title}",
                       f"A supplier asked a clarification question about {competition.title}. Answer it in the "
                       f"buyer portal; the answer goes to every invited supplier without naming the asker.")
    await session.commit()
    return clarification


async def answer_question(session: AsyncSession, user: SignedInUser, competition_id: int, clarification_id: int,
                          *, published_question: str, answer: str, now: datetime) -> Clarification:
    """C6: the answer goes to every invited supplier, with the question as published and the asker not named."""
    competition = await competition_for_buyer(session, user, competition_id, now, for_update=True)
    require_state(competition, CompetitionState.PUBLISHED, doing="answering a clarification")
    clarification = await session.scalar(sa.select(Clarification).where(
        col(Clarification.id) == clarification_id, col(Clarification.competition_id) == competition.id))
    if clarification is None:
        raise NotFound("There is no such question")
    if clarification.answered_at is not None:
        raise Conflict("This question has already been answered and published")
    if not answer.strip():
        raise ValidationFailed("Enter the answer", field=f"answer-{clarification.id}")
    if not published_question.strip():
        raise ValidationFailed("Enter the question as it will be published", field=f"question-{clarification.id}")
    clarification.published_question, clarification.answer = published_question.strip(), answer.strip()
    clarification.answered_at, clarification.answered_by_user_id = now, user.id
    await record(session, actor=actor_of(user), action="clarification.answered", entity_type="clarification",
                 entity_id=clarification.id or 0, now=now,
                 after={"competition_id": competition.id, "published_question": clarification.published_question,
                        "answer": clarification.answer})
    await email_invited(session, competition, now, f"clarification:{clarification.id}",
                        f"Clarification published: {competition.title}",
                        f"A clarification has been published to every invited supplier.\n\n"
                        f"Question: {clarification.published_question}\n\nAnswer: {clarification.answer}")
    await session.commit()
    return clarification


async def refine_criterion(session: AsyncSession, user: SignedInUser, competition_id: int, key: str, *,
                           title: str, question: str, now: datetime) -> Competition:
    """C3: after publication a criterion may be made more precise (its wording), never added to or re-weighted."""
    competition = await competition_for_buyer(session, user, competition_id, now, for_update=True)
    require_state(competition, CompetitionState.PUBLISHED, doing="making a criterion more precise")
    criteria = criteria_of(competition)
    if key not in {c.key for c in criteria} or key == "price":
        raise NotFound("There is no such question")
    proposed = tuple(Criterion(c.key, c.kind, title.strip(), c.weight, question.strip(), c.max_score, c.word_limit)
                     if c.key == key else c for c in criteria)
    check_refinement(criteria, proposed)
    before = next(c for c in criteria if c.key == key).to_json()
    competition.criteria = [c.to_json() for c in proposed]
    competition.updated_at = now
    after = next(c for c in proposed if c.key == key)
    await audit_competition(session, actor_of(user), "criterion_refined", competition, now, before, after.to_json())
    await email_invited(session, competition, now, f"refined:{key}:{now.isoformat()}",
                        f"Award criterion made more precise: {competition.title}",
                        f"The wording of the award criterion \"{after.title}\" has been made more precise. Its weight "
                        f"and scoring have not changed.\n\n{after.question}")
    await session.commit()
    return competition


async def cancel(session: AsyncSession, user: SignedInUser, competition_id: int, reason: str,
                 now: datetime) -> Competition:
    """At any stage before the award is confirmed, with a reason; everyone invited is told."""
    competition = await competition_for_buyer(session, user, competition_id, now, for_update=True)
    if not reason.strip():
        raise ValidationFailed("Give the reason for cancelling the competition", field="cancel_reason")
    before = competition_snapshot(competition)
    competition.state = next_competition_state(competition.state, CompetitionEvent.CANCEL)
    competition.cancelled_at, competition.cancel_reason = now, reason.strip()
    competition.updated_at = now
    await audit_competition(session, actor_of(user), "cancelled", competition, now, before,
                            {**competition_snapshot(competition), "reason": reason.strip()})
    await email_invited(session, competition, now, "cancelled", f"Competition cancelled: {competition.title}",
                        f"The buyer has cancelled the competition {competition.title}.\n\nReason: {reason.strip()}")
    await session.commit()
    return competition
