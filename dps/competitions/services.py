"""Mini-competitions, from requirement to signed contract (RULES.md section 2, C1-C10).

Each command is one transaction: the state change, its audit event and its emails (outbox) commit together, and
the command function ends with `session.commit()`. Loading checks access: a competition a user may not see is
NotFound, never a hint that it exists. Loading also closes a competition whose tender deadline has passed
(`close_if_due`), so no manual step and no worker is needed for a competition to close.

Sealed bids (C5): while a competition is a draft or open, nothing here returns anything about bids to anyone but
the bidder itself: no count, no name, no price. Until the deadline each step of a bid is audited as an opaque
sealed event (a digest under a random token); the steps themselves enter the audit trail at the close.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from dps.admission.models import Admission
from dps.admission.rules import MembershipState
from dps.admission.services import category_with_agreement, email_organisation
from dps.agreements.models import Agreement, Category
from dps.audit.services import Actor, record
from dps.calendar import london_date
from dps.competitions.forms import CompetitionInput
from dps.competitions.models import (
    AwardNotice,
    Bid,
    Clarification,
    Competition,
    CompetitionEvaluator,
    CompetitionInvitation,
    Contract,
    ContractMilestone,
    EvaluatorScore,
    ModeratedScore,
    OutcomeLetter,
)
from dps.competitions.rules import (
    SEALED_STATES,
    BidEvent,
    BidForScoring,
    BidState,
    CompetitionEvent,
    CompetitionState,
    Criterion,
    FundLine,
    Milestone,
    RankedBid,
    award_notice_due,
    bid_problems,
    bids_open,
    can_confirm_award,
    check_award_choice,
    check_fund_split,
    check_milestones,
    check_publication,
    check_refinement,
    check_score,
    criteria_from_json,
    display_score,
    is_due_to_close,
    minimum_tender_days,
    needs_contracts_finder,
    next_bid_state,
    next_competition_state,
    questions_of,
    rank_bids,
    resumed_standstill_end,
    score_bids,
    standstill_ends,
    validate_criteria,
)
from dps.dates import format_london
from dps.errors import Conflict, DomainError, NotFound, ValidationFailed
from dps.forms import FormErrors
from dps.identity.models import Membership, Organisation, OrganisationKind, Role, User
from dps.identity.services import SignedInUser, actor_of
from dps.mail import page_link, queue_email
from dps.money import format_pence

CLOCK = Actor.system("clock")
NO_CONFLICT, CONFLICT = "none", "conflict"


def _snapshot(competition: Competition) -> dict[str, Any]:
    return {"state": competition.state, "tender_deadline": competition.tender_deadline,
            "standstill_ends_at": competition.standstill_ends_at,
            "paused": competition.standstill_paused_at is not None}


def criteria_of(competition: Competition) -> tuple[Criterion, ...]:
    return criteria_from_json(competition.criteria)


async def _audit(session: AsyncSession, actor: Actor, action: str, competition: Competition, now: datetime,
                 before: dict[str, Any] | None = None, after: dict[str, Any] | None = None) -> None:
    await record(session, actor=actor, action=f"competition.{action}", entity_type="competition",
                 entity_id=competition.id or 0, now=now, before=before, after=after)


# --- loading, access, and closing at the deadline -------------------------------------------------------


async def _lock(session: AsyncSession, competition_id: int) -> Competition | None:
    return await session.scalar(sa.select(Competition).where(Competition.id == competition_id)
                                .with_for_update().execution_options(populate_existing=True))


async def close_if_due(session: AsyncSession, competition: Competition, now: datetime) -> Competition:
    """C5: once the tender deadline has passed the competition closes by itself (its own transaction)."""
    if not is_due_to_close(competition.state, competition.tender_deadline, now):
        return competition
    locked = await _lock(session, competition.id or 0)
    if locked is None or not is_due_to_close(locked.state, locked.tender_deadline, now):
        await session.commit()
        return locked or competition
    before = _snapshot(locked)
    locked.state = next_competition_state(locked.state, CompetitionEvent.CLOSE)
    locked.closed_at = locked.tender_deadline
    locked.updated_at = now
    received = await session.scalar(sa.select(sa.func.count()).select_from(Bid).where(
        Bid.competition_id == locked.id, Bid.state == BidState.SUBMITTED))
    await _audit(session, CLOCK, "closed", locked, now, before,
                 {**_snapshot(locked), "closed_at": locked.closed_at, "bids_received": received})
    await _unseal_audit(session, locked, now)
    await _email_buyers(session, locked, now, "closed", f"Bids are open for evaluation: {locked.title}",
                        f"The tender deadline of {locked.title} passed at {format_london(locked.tender_deadline)}. "
                        f"{received} bid(s) were received. Sign in to the buyer portal to start the evaluation.")
    await session.commit()
    return locked


async def close_due_competitions(sessionmaker: Any, now: datetime) -> int:
    """The periodic job: close every open competition whose deadline has passed. Idempotent."""
    async with sessionmaker() as session:
        due = (await session.scalars(sa.select(Competition.id).where(
            Competition.state == CompetitionState.PUBLISHED, Competition.tender_deadline <= now))).all()
        await session.commit()
    closed = 0
    for competition_id in due:
        async with sessionmaker() as session:
            competition = await session.get(Competition, competition_id)
            if competition is not None and (await close_if_due(session, competition, now)).state == \
                    CompetitionState.CLOSED:
                closed += 1
    return closed


async def _load(session: AsyncSession, query: Any, now: datetime, for_update: bool) -> Competition | None:
    competition = await session.scalar(query.with_for_update() if for_update else query)
    if competition is not None and is_due_to_close(competition.state, competition.tender_deadline, now):
        await close_if_due(session, competition, now)
        competition = await session.scalar((query.with_for_update() if for_update else query)
                                           .execution_options(populate_existing=True))
    return competition


def _buyer_org_ids(user: SignedInUser) -> frozenset[int]:
    return frozenset(m.organisation_id for m in user.memberships
                     if m.organisation_kind is OrganisationKind.BUYER and m.role is Role.BUYER)


async def competition_for_buyer(session: AsyncSession, user: SignedInUser, competition_id: int, now: datetime,
                                *, for_update: bool = False) -> Competition:
    """The competition if the user is a buyer of the organisation running it; NotFound otherwise."""
    query = sa.select(Competition).where(Competition.id == competition_id,
                                         Competition.buyer_organisation_id.in_(_buyer_org_ids(user)))
    competition = await _load(session, query, now, for_update)
    if competition is None:
        raise NotFound("There is no such competition")
    return competition


async def competition_for_team(session: AsyncSession, user: SignedInUser, competition_id: int,
                               now: datetime) -> Competition:
    """For reading: a buyer of the running organisation, or an evaluator chosen for this competition."""
    evaluates = sa.select(CompetitionEvaluator.competition_id).where(CompetitionEvaluator.user_id == user.id)
    query = sa.select(Competition).where(
        Competition.id == competition_id,
        sa.or_(Competition.buyer_organisation_id.in_(_buyer_org_ids(user)), Competition.id.in_(evaluates)))
    competition = await _load(session, query, now, False)
    if competition is None:
        raise NotFound("There is no such competition")
    return competition


async def _evaluator_seat(session: AsyncSession, user: SignedInUser, competition_id: int, now: datetime,
                          *, for_update: bool = False) -> tuple[Competition, CompetitionEvaluator]:
    if not user.has_role_in(OrganisationKind.BUYER, Role.EVALUATOR):
        raise NotFound("There is no such competition")
    query = sa.select(Competition).join(CompetitionEvaluator, CompetitionEvaluator.competition_id == Competition.id) \
        .where(Competition.id == competition_id, CompetitionEvaluator.user_id == user.id)
    competition = await _load(session, query, now, for_update)
    seat = await session.scalar(sa.select(CompetitionEvaluator).where(
        CompetitionEvaluator.competition_id == competition_id, CompetitionEvaluator.user_id == user.id))
    if competition is None or seat is None:
        raise NotFound("There is no such competition")
    return competition, seat


async def competition_for_supplier(session: AsyncSession, user: SignedInUser, competition_id: int, now: datetime,
                                   *, for_update: bool = False) -> tuple[Competition, CompetitionInvitation]:
    """The competition if one of the user's supplier organisations was invited to it; NotFound otherwise."""
    supplier_ids = user.organisation_ids_of_kind(OrganisationKind.SUPPLIER)
    invitation = await session.scalar(sa.select(CompetitionInvitation).where(
        CompetitionInvitation.competition_id == competition_id,
        CompetitionInvitation.organisation_id.in_(supplier_ids)).order_by(CompetitionInvitation.organisation_id))
    if invitation is None:
        raise NotFound("There is no such competition")
    competition = await _load(session, sa.select(Competition).where(Competition.id == competition_id), now,
                              for_update)
    if competition is None:
        raise NotFound("There is no such competition")
    return competition, invitation


def bids_sealed(competition: Competition) -> bool:
    """C5: sealed while a draft or open, and for ever if cancelled before its deadline (never opened)."""
    if competition.state == CompetitionState.CANCELLED:
        return competition.closed_at is None
    return CompetitionState(competition.state) in SEALED_STATES


def _require_state(competition: Competition, *states: CompetitionState, doing: str) -> None:
    if CompetitionState(competition.state) not in states:
        raise Conflict(f"This competition is {competition.state.replace('_', ' ')}: {doing} is not possible now")


# --- the buyer: drafting, publishing, clarifications, cancelling ----------------------------------------


async def buyer_organisations(session: AsyncSession, user: SignedInUser) -> list[Organisation]:
    ids = _buyer_org_ids(user)
    return list((await session.scalars(sa.select(Organisation).where(Organisation.id.in_(ids))
                                       .order_by(Organisation.name))).all())


async def evaluators_of(session: AsyncSession, organisation_ids: Sequence[int]) -> list[tuple[int, User]]:
    """Users holding the evaluator role in the given buyer organisations, as (organisation id, user)."""
    rows = (await session.execute(
        sa.select(Membership.organisation_id, User).join(User, User.id == Membership.user_id)
        .where(Membership.organisation_id.in_(organisation_ids), Membership.role == Role.EVALUATOR,
               User.is_active.is_(True)).order_by(User.full_name, User.id))).all()
    return [(org_id, user) for org_id, user in rows]


async def _check_input(session: AsyncSession, user: SignedInUser, data: CompetitionInput) -> None:
    if data.buyer_organisation_id not in _buyer_org_ids(user):
        raise ValidationFailed("Choose an organisation you buy for", field="buyer_organisation_id")
    if await session.get(Category, data.category_id) is None:
        raise ValidationFailed("Choose the category of the DPS to run the competition in", field="category_id")
    allowed = {u.id for _, u in await evaluators_of(session, [data.buyer_organisation_id])}
    if not data.evaluator_user_ids or not set(data.evaluator_user_ids) <= allowed:
        raise ValidationFailed("Choose evaluators from your organisation's evaluators", field="evaluator_ids")
    validate_criteria(data.criteria)
    if data.fund_lines:
        known = await _known_allocations(session, [line.allocation_id for line in data.fund_lines])
        for index, line in enumerate(data.fund_lines, start=1):
            if known is not None and line.allocation_id not in known:
                raise ValidationFailed(f"There is no fund allocation number {line.allocation_id}",
                                       field=f"fund-{index}-allocation")


async def _known_allocations(session: AsyncSession, ids: Sequence[int]) -> set[int] | None:
    """Which of these fund allocations exist; None when this installation has no funds module."""
    try:
        from dps.funds.models import Allocation
    except ImportError:
        return None
    return set((await session.scalars(sa.select(Allocation.id).where(Allocation.id.in_(ids)))).all())


async def _set_evaluators(session: AsyncSession, competition: Competition, user_ids: Sequence[int]) -> None:
    existing = (await session.scalars(sa.select(CompetitionEvaluator).where(
        CompetitionEvaluator.competition_id == competition.id))).all()
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
    await _check_input(session, user, data)
    competition = Competition(state=CompetitionState.DRAFT, created_by_user_id=user.id, created_at=now,
                              updated_at=now, buyer_organisation_id=0, category_id=0, title="",
                              estimated_value_pence=0, contract_starts_on=data.contract_starts_on,
                              contract_ends_on=data.contract_ends_on, clarification_deadline=now, tender_deadline=now)
    _apply_input(competition, data)
    session.add(competition)
    await session.flush()
    await _set_evaluators(session, competition, data.evaluator_user_ids)
    await _audit(session, actor_of(user), "created", competition, now,
                 after={"state": competition.state, **_draft_audit(competition, data.evaluator_user_ids)})
    await session.commit()
    return competition


async def update_draft(session: AsyncSession, user: SignedInUser, competition_id: int, data: CompetitionInput,
                       now: datetime) -> Competition:
    competition = await competition_for_buyer(session, user, competition_id, now, for_update=True)
    _require_state(competition, CompetitionState.DRAFT, doing="changing it as a draft")
    await _check_input(session, user, data)
    before = _draft_audit(competition, await evaluator_ids(session, competition.id or 0))
    _apply_input(competition, data)
    competition.updated_at = now
    await _set_evaluators(session, competition, data.evaluator_user_ids)
    await _audit(session, actor_of(user), "draft_updated", competition, now, before,
                 _draft_audit(competition, data.evaluator_user_ids))
    await session.commit()
    return competition


async def evaluator_ids(session: AsyncSession, competition_id: int) -> list[int]:
    return list((await session.scalars(sa.select(CompetitionEvaluator.user_id).where(
        CompetitionEvaluator.competition_id == competition_id).order_by(CompetitionEvaluator.user_id))).all())


async def invited_organisation_ids(session: AsyncSession, competition_id: int) -> list[int]:
    return list((await session.scalars(sa.select(CompetitionInvitation.organisation_id).where(
        CompetitionInvitation.competition_id == competition_id).order_by(CompetitionInvitation.organisation_id))).all())


async def publish(session: AsyncSession, user: SignedInUser, competition_id: int, now: datetime) -> Competition:
    """C1: every supplier with an active admission to the category at this instant is invited, at the same moment,
    by email and in its portal; the invited list is stored as it was. C2 and C3 are checked here."""
    competition = await competition_for_buyer(session, user, competition_id, now, for_update=True)
    _require_state(competition, CompetitionState.DRAFT, doing="publishing")
    category, agreement = await category_with_agreement(session, competition.category_id)
    today = london_date(now)
    if not agreement.starts_on <= today <= agreement.ends_on:
        raise Conflict(f"{agreement.name} runs from {agreement.starts_on:%-d %B %Y} to {agreement.ends_on:%-d %B %Y}: "
                       "a competition can only be published while it runs")
    validate_criteria(criteria_of(competition))
    days = minimum_tender_days(agreement.regime, agreement.rule_settings)
    check_publication(now=now, clarification_deadline=competition.clarification_deadline,
                      tender_deadline=competition.tender_deadline, minimum_days=days)
    admitted = (await session.execute(
        sa.select(Admission, Organisation.name).join(Organisation, Organisation.id == Admission.organisation_id)
        .where(Admission.category_id == competition.category_id, Admission.state == MembershipState.ACTIVE)
        .order_by(Admission.organisation_id))).all()
    if not admitted:
        raise Conflict(f"No supplier is admitted to {category.name} at the moment: there is nobody to invite")
    before = _snapshot(competition)
    competition.state = next_competition_state(competition.state, CompetitionEvent.PUBLISH)
    competition.published_at, competition.published_by_user_id = now, user.id
    competition.minimum_tender_days = days
    competition.updated_at = now
    for admission, name in admitted:
        session.add(CompetitionInvitation(competition_id=competition.id or 0, organisation_id=admission.organisation_id,
                                          admission_id=admission.id or 0, organisation_name=name, invited_at=now))
    await session.flush()
    await _audit(session, actor_of(user), "published", competition, now, before,
                 {**_snapshot(competition), "published_at": now, "minimum_tender_days": days,
                  "regime": agreement.regime, "criteria": competition.criteria,
                  "invited": [admission.organisation_id for admission, _ in admitted]})
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
    _require_state(competition, CompetitionState.PUBLISHED, doing="asking a question")
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
    await _email_buyers(session, competition, now, f"question:{clarification.id}",
                        f"New clarification question: {competition.title}",
                        f"A supplier asked a clarification question about {competition.title}. Answer it in the "
                        f"buyer portal; the answer goes to every invited supplier without naming the asker.")
    await session.commit()
    return clarification


async def answer_question(session: AsyncSession, user: SignedInUser, competition_id: int, clarification_id: int,
                          *, published_question: str, answer: str, now: datetime) -> Clarification:
    """C6: the answer goes to every invited supplier, with the question as published and the asker not named."""
    competition = await competition_for_buyer(session, user, competition_id, now, for_update=True)
    _require_state(competition, CompetitionState.PUBLISHED, doing="answering a clarification")
    clarification = await session.scalar(sa.select(Clarification).where(
        Clarification.id == clarification_id, Clarification.competition_id == competition.id))
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
    await _email_invited(session, competition, now, f"clarification:{clarification.id}",
                         f"Clarification published: {competition.title}",
                         f"A clarification has been published to every invited supplier.\n\n"
                         f"Question: {clarification.published_question}\n\nAnswer: {clarification.answer}")
    await session.commit()
    return clarification


async def refine_criterion(session: AsyncSession, user: SignedInUser, competition_id: int, key: str, *,
                           title: str, question: str, now: datetime) -> Competition:
    """C3: after publication a criterion may be made more precise (its wording), never added to or re-weighted."""
    competition = await competition_for_buyer(session, user, competition_id, now, for_update=True)
    _require_state(competition, CompetitionState.PUBLISHED, doing="making a criterion more precise")
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
    await _audit(session, actor_of(user), "criterion_refined", competition, now, before, after.to_json())
    await _email_invited(session, competition, now, f"refined:{key}:{now.isoformat()}",
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
    before = _snapshot(competition)
    competition.state = next_competition_state(competition.state, CompetitionEvent.CANCEL)
    competition.cancelled_at, competition.cancel_reason = now, reason.strip()
    competition.updated_at = now
    await _audit(session, actor_of(user), "cancelled", competition, now, before,
                 {**_snapshot(competition), "reason": reason.strip()})
    await _email_invited(session, competition, now, "cancelled", f"Competition cancelled: {competition.title}",
                         f"The buyer has cancelled the competition {competition.title}.\n\nReason: {reason.strip()}")
    await session.commit()
    return competition


async def _email_invited(session: AsyncSession, competition: Competition, now: datetime, key: str, subject: str,
                         body: str) -> None:
    for organisation_id in await invited_organisation_ids(session, competition.id or 0):
        await email_organisation(session, organisation_id, now, f"competition:{competition.id}:{key}", subject,
                                 body + "\n\n" + page_link(f"/supplier/competitions/{competition.id}"))


async def _email_buyers(session: AsyncSession, competition: Competition, now: datetime, key: str, subject: str,
                        body: str) -> None:
    emails = (await session.scalars(
        sa.select(User.email).join(Membership, Membership.user_id == User.id)
        .where(Membership.organisation_id == competition.buyer_organisation_id, Membership.role == Role.BUYER,
               User.is_active.is_(True)).distinct())).all()
    for email in emails:
        await queue_email(session, to=email, subject=subject,
                          body=body + "\n\n" + page_link(f"/buyer/competitions/{competition.id}"),
                          dedupe_key=f"competition:{competition.id}:{key}:{email}", now=now)


# --- the supplier: its own bid (C5) ---------------------------------------------------------------------


async def own_bid(session: AsyncSession, competition_id: int, organisation_id: int) -> Bid | None:
    return await session.scalar(sa.select(Bid).where(Bid.competition_id == competition_id,
                                                     Bid.organisation_id == organisation_id))


def _require_open_for_bids(competition: Competition, now: datetime) -> None:
    if competition.state == CompetitionState.CANCELLED:
        raise Conflict("This competition has been cancelled: bids are no longer accepted")
    if competition.state != CompetitionState.PUBLISHED or not bids_open(competition.tender_deadline, now):
        seconds = "%-d %B %Y %H:%M:%S"
        raise Conflict(f"The tender deadline passed at {format_london(competition.tender_deadline, seconds)} "
                       f"(server time {format_london(now, seconds)}): bids can no longer be submitted, changed or "
                       "withdrawn")


@dataclass
class SavedBid:
    bid: Bid | None
    errors: FormErrors = field(default_factory=FormErrors)
    submitted: bool = False


SEALED = Actor.system("sealed-bid")


def _digest(step: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(step, sort_keys=True, default=str).encode()).hexdigest()


async def _audit_sealed_step(session: AsyncSession, bid: Bid, action: str, user: SignedInUser,
                             now: datetime) -> None:
    """C5: the step is kept on the bid and the audit chain gets only its digest, under a random token of its
    own: no bidder, bid, competition or content, and nothing that links two steps of one bid, can be read from
    the audit log before the deadline. The salt stops anyone confirming a guessed step against the digest."""
    step = {"token": secrets.token_hex(16), "action": action, "actor_user_id": user.id, "actor_label": user.email,
            "state": bid.state, "revision": bid.revision, "at": now.isoformat(), "salt": secrets.token_hex(16)}
    bid.sealed_steps = [*bid.sealed_steps, step]
    await record(session, actor=SEALED, action="bid.sealed_step", entity_type="sealed_bid",
                 entity_id=step["token"], now=now, after={"digest": _digest(step)})


async def _unseal_audit(session: AsyncSession, competition: Competition, now: datetime) -> None:
    """At the close: every bid's steps go into the audit trail under the bid, with the digests of the sealed
    events they match."""
    bids = (await session.scalars(sa.select(Bid).where(Bid.competition_id == competition.id)
                                  .order_by(Bid.id))).all()
    for bid in bids:
        await record(session, actor=CLOCK, action="bid.unsealed", entity_type="bid", entity_id=bid.id or 0, now=now,
                     after={"competition_id": competition.id, "organisation_id": bid.organisation_id,
                            "state": bid.state, "revision": bid.revision,
                            "price_pence": bid.price_pence, "vat_pence": bid.vat_pence,
                            "steps": [{**step, "digest": _digest(step)} for step in bid.sealed_steps]})


async def save_bid(session: AsyncSession, user: SignedInUser, competition_id: int, *, answers: dict[str, str],
                   price_pence: int | None, vat_pence: int | None, submit: bool, now: datetime,
                   form_errors: FormErrors | None = None) -> SavedBid:
    """Save a draft (kept whatever its state, only the word limits reported) or submit (all answers within their
    limits and a price; a submitted bid's revision replaces it whole, or nothing changes)."""
    competition, invitation = await competition_for_supplier(session, user, competition_id, now, for_update=True)
    _require_open_for_bids(competition, now)
    criteria = criteria_of(competition)
    bid = await own_bid(session, competition.id or 0, invitation.organisation_id)
    problems = FormErrors()
    problems.add_all(form_errors or FormErrors())
    problems.add_all(bid_problems(criteria, answers, price_pence, complete=submit))
    if submit and problems:
        await session.commit()  # nothing changed: the submitted bid, if any, stands as it was
        return SavedBid(bid, problems)
    if bid is not None and bid.state == BidState.SUBMITTED and not submit:
        raise Conflict("Your bid is submitted: submit the revised bid to replace it, or withdraw it")
    if bid is None:
        bid = Bid(competition_id=competition.id or 0, organisation_id=invitation.organisation_id,
                  state=BidState.DRAFT, created_by_user_id=user.id, created_at=now, updated_at=now)
        session.add(bid)
    revising = bid.state == BidState.SUBMITTED
    if submit:
        event = BidEvent.REVISE if bid.state == BidState.SUBMITTED else BidEvent.SUBMIT
        bid.state = next_bid_state(bid.state, event)
        bid.revision += 1
        bid.submitted_at, bid.submitted_by_user_id, bid.withdrawn_at = now, user.id, None
    elif bid.state == BidState.WITHDRAWN:
        event = BidEvent.REOPEN
        bid.state = next_bid_state(bid.state, event)
    bid.answers = dict(answers)
    bid.price_pence, bid.vat_pence = price_pence, vat_pence
    bid.updated_at = now
    await session.flush()
    action = ("revised" if revising else "submitted") if submit else "draft_saved"
    await _audit_sealed_step(session, bid, action, user, now)
    if submit:
        await email_organisation(
            session, invitation.organisation_id, now, f"bid:{bid.id}:submitted:{bid.revision}",
            f"Bid received: {competition.title}",
            f"Your organisation's bid for {competition.title} was received at {format_london(now)} "
            f"(version {bid.revision}). You can revise or withdraw it until "
            f"{format_london(competition.tender_deadline)}.")
    await session.commit()
    return SavedBid(bid, FormErrors() if submit else problems, submitted=submit)


async def withdraw_bid(session: AsyncSession, user: SignedInUser, competition_id: int, now: datetime) -> Bid:
    competition, invitation = await competition_for_supplier(session, user, competition_id, now, for_update=True)
    _require_open_for_bids(competition, now)
    bid = await own_bid(session, competition.id or 0, invitation.organisation_id)
    if bid is None:
        raise Conflict("Your organisation has no bid to withdraw")
    bid.state = next_bid_state(bid.state, BidEvent.WITHDRAW)
    bid.withdrawn_at, bid.updated_at = now, now
    await _audit_sealed_step(session, bid, "withdrawn", user, now)
    await email_organisation(session, invitation.organisation_id, now, f"bid:{bid.id}:withdrawn:{now.isoformat()}",
                             f"Bid withdrawn: {competition.title}",
                             f"Your organisation's bid for {competition.title} was withdrawn at {format_london(now)}. "
                             f"You can submit a bid again until {format_london(competition.tender_deadline)}.")
    await session.commit()
    return bid


# --- evaluation -----------------------------------------------------------------------------------------


async def submitted_bids(session: AsyncSession, competition: Competition) -> list[tuple[Bid, str]]:
    """The bids received, with their bidders' names. Refuses while bids are sealed (C5)."""
    if bids_sealed(competition):
        raise Conflict("Bids are sealed until the tender deadline")
    rows = (await session.execute(
        sa.select(Bid, Organisation.name).join(Organisation, Organisation.id == Bid.organisation_id)
        .where(Bid.competition_id == competition.id, Bid.state == BidState.SUBMITTED)
        .order_by(Bid.submitted_at, Bid.id))).all()
    return [(bid, name) for bid, name in rows]


async def start_evaluation(session: AsyncSession, user: SignedInUser, competition_id: int,
                           now: datetime) -> Competition:
    competition = await competition_for_buyer(session, user, competition_id, now, for_update=True)
    _require_state(competition, CompetitionState.CLOSED, doing="starting the evaluation")
    bids = await submitted_bids(session, competition)
    if not bids:
        raise Conflict("No bids were received: there is nothing to evaluate. Cancel the competition with a reason.")
    before = _snapshot(competition)
    competition.state = next_competition_state(competition.state, CompetitionEvent.START_EVALUATION)
    competition.evaluation_started_at, competition.updated_at = now, now
    await _audit(session, actor_of(user), "evaluation_started", competition, now, before,
                 {**_snapshot(competition), "bids": [bid.id for bid, _ in bids]})
    evaluators = (await session.scalars(sa.select(User.email).join(
        CompetitionEvaluator, CompetitionEvaluator.user_id == User.id).where(
        CompetitionEvaluator.competition_id == competition.id))).all()
    for email in evaluators:
        await queue_email(session, to=email, subject=f"Evaluation open: {competition.title}",
                          body=f"You are an evaluator of {competition.title}. Declare any conflict of interest, then "
                               f"score each answer: {page_link(f'/buyer/competitions/{competition.id}/evaluation')}",
                          dedupe_key=f"competition:{competition.id}:evaluation:{email}", now=now)
    await session.commit()
    return competition


async def declare_interest(session: AsyncSession, user: SignedInUser, competition_id: int, *, conflict: bool | None,
                           note: str, now: datetime) -> CompetitionEvaluator:
    """Each evaluator declares, before scoring, that they have no conflict of interest with any bidder (or that
    they have one, and stand aside)."""
    competition, seat = await _evaluator_seat(session, user, competition_id, now, for_update=True)
    _require_state(competition, CompetitionState.EVALUATION, doing="declaring interests")
    if seat.declaration is not None:
        raise Conflict("You have already made your declaration for this competition")
    if conflict is None:
        raise ValidationFailed("Say whether you have a conflict of interest with any bidder", field="conflict")
    if conflict and not note.strip():
        raise ValidationFailed("Describe the conflict of interest", field="note")
    seat.declaration = CONFLICT if conflict else NO_CONFLICT
    seat.declaration_note, seat.declared_at = note.strip() or None, now
    await record(session, actor=actor_of(user), action="competition.interest_declared", entity_type="competition",
                 entity_id=competition.id or 0, now=now,
                 after={"evaluator_user_id": user.id, "declaration": seat.declaration, "note": seat.declaration_note})
    await session.commit()
    return seat


async def _submitted_bid(session: AsyncSession, competition: Competition, bid_id: int) -> Bid:
    bid = await session.scalar(sa.select(Bid).where(Bid.id == bid_id, Bid.competition_id == competition.id,
                                                    Bid.state == BidState.SUBMITTED))
    if bid is None:
        raise NotFound("There is no such bid")
    return bid


def _question(competition: Competition, key: str) -> Criterion:
    question = next((c for c in questions_of(criteria_of(competition)) if c.key == key), None)
    if question is None:
        raise NotFound("There is no such question")
    return question


async def score_answer(session: AsyncSession, user: SignedInUser, competition_id: int, bid_id: int, key: str, *,
                       score: str, justification: str, now: datetime) -> EvaluatorScore:
    """An evaluator scores one answer alone, with a justification; they never see the other evaluators' scores."""
    competition, seat = await _evaluator_seat(session, user, competition_id, now, for_update=True)
    _require_state(competition, CompetitionState.EVALUATION, doing="scoring")
    if seat.declaration != NO_CONFLICT:
        raise Conflict("Declare that you have no conflict of interest before scoring" if seat.declaration is None
                       else "You declared a conflict of interest: you cannot score this competition")
    bid = await _submitted_bid(session, competition, bid_id)
    question = _question(competition, key)
    field_name = f"score-{bid.id}-{key}"
    value = check_score(score, question, field_name)
    if not justification.strip():
        raise ValidationFailed("Justify your score", field=f"justification-{bid.id}-{key}")
    if await session.scalar(sa.select(ModeratedScore.id).where(ModeratedScore.bid_id == bid.id,
                                                               ModeratedScore.criterion_key == key)) is not None:
        raise Conflict("This answer has been moderated: the evaluators' scores are final")
    existing = await session.scalar(sa.select(EvaluatorScore).where(
        EvaluatorScore.bid_id == bid.id, EvaluatorScore.criterion_key == key,
        EvaluatorScore.evaluator_user_id == user.id))
    before = None if existing is None else {"score": existing.score, "justification": existing.justification}
    if existing is None:
        existing = EvaluatorScore(competition_id=competition.id or 0, bid_id=bid.id or 0, criterion_key=key,
                                  evaluator_user_id=user.id, score=value, justification=justification.strip(),
                                  scored_at=now)
        session.add(existing)
    else:
        existing.score, existing.justification, existing.scored_at = value, justification.strip(), now
    await session.flush()
    await record(session, actor=actor_of(user), action="bid.answer_scored", entity_type="bid", entity_id=bid.id or 0,
                 now=now, before=before, after={"criterion": key, "score": value,
                                                 "justification": justification.strip()})
    await session.commit()
    return existing


async def _scoring_evaluators(session: AsyncSession, competition_id: int) -> tuple[list[CompetitionEvaluator], bool]:
    """The evaluators who score (declared no conflict), and whether every evaluator has declared."""
    seats = (await session.scalars(sa.select(CompetitionEvaluator).where(
        CompetitionEvaluator.competition_id == competition_id))).all()
    return [s for s in seats if s.declaration == NO_CONFLICT], all(s.declaration is not None for s in seats)


async def moderate(session: AsyncSession, user: SignedInUser, competition_id: int, bid_id: int, key: str, *,
                   score: str, rationale: str, now: datetime) -> ModeratedScore:
    """The buyer sets the consensus score of one answer once every scoring evaluator has scored it alone."""
    competition = await competition_for_buyer(session, user, competition_id, now, for_update=True)
    _require_state(competition, CompetitionState.EVALUATION, doing="moderating")
    bid = await _submitted_bid(session, competition, bid_id)
    question = _question(competition, key)
    value = check_score(score, question, f"moderated-{bid.id}-{key}")
    if not rationale.strip():
        raise ValidationFailed("Record the reason for the consensus score", field=f"rationale-{bid.id}-{key}")
    scorers, all_declared = await _scoring_evaluators(session, competition.id or 0)
    scored_by = set((await session.scalars(sa.select(EvaluatorScore.evaluator_user_id).where(
        EvaluatorScore.bid_id == bid.id, EvaluatorScore.criterion_key == key))).all())
    if not all_declared or not scorers or not {s.user_id for s in scorers} <= scored_by:
        raise Conflict("Every evaluator must declare their interests and score this answer before it is moderated")
    existing = await session.scalar(sa.select(ModeratedScore).where(ModeratedScore.bid_id == bid.id,
                                                                    ModeratedScore.criterion_key == key))
    before = None if existing is None else {"score": existing.score, "rationale": existing.rationale}
    if existing is None:
        existing = ModeratedScore(competition_id=competition.id or 0, bid_id=bid.id or 0, criterion_key=key,
                                  score=value, rationale=rationale.strip(), moderated_by_user_id=user.id,
                                  moderated_at=now)
        session.add(existing)
    else:
        existing.score, existing.rationale = value, rationale.strip()
        existing.moderated_by_user_id, existing.moderated_at = user.id, now
    await session.flush()
    await record(session, actor=actor_of(user), action="bid.answer_moderated", entity_type="bid",
                 entity_id=bid.id or 0, now=now, before=before,
                 after={"criterion": key, "score": value, "rationale": rationale.strip()})
    await session.commit()
    return existing


@dataclass(frozen=True)
class AnswerReview:
    bid: Bid
    bidder: str
    question: Criterion
    answer: str
    own: EvaluatorScore | None = None  # the evaluator's own score (evaluator view)
    individual: tuple[tuple[str, EvaluatorScore], ...] = ()  # (evaluator name, score), moderation view only
    waiting_for: int = 0  # scoring evaluators who have not scored it yet
    moderated: ModeratedScore | None = None


@dataclass(frozen=True)
class EvaluatorView:
    competition: Competition
    seat: CompetitionEvaluator
    bidders: tuple[str, ...]
    answers: tuple[AnswerReview, ...]


async def evaluator_view(session: AsyncSession, user: SignedInUser, competition_id: int,
                         now: datetime) -> EvaluatorView:
    competition, seat = await _evaluator_seat(session, user, competition_id, now)
    if bids_sealed(competition):
        raise Conflict("Bids are sealed until the tender deadline: evaluation starts after it")
    bids = await submitted_bids(session, competition)
    if competition.state == CompetitionState.CLOSED:
        bids = []  # bids are seen by evaluators once the buyer starts the evaluation
    own = {(s.bid_id, s.criterion_key): s for s in (await session.scalars(sa.select(EvaluatorScore).where(
        EvaluatorScore.competition_id == competition.id, EvaluatorScore.evaluator_user_id == user.id))).all()}
    moderated = await _moderated(session, competition)
    answers = []
    if seat.declaration == NO_CONFLICT:
        for bid, name in bids:
            for question in questions_of(criteria_of(competition)):
                answers.append(AnswerReview(bid, name, question, str(bid.answers.get(question.key, "")),
                                            own=own.get((bid.id or 0, question.key)),
                                            moderated=moderated.get((bid.id or 0, question.key))))
    return EvaluatorView(competition, seat, tuple(name for _, name in bids), tuple(answers))


async def _moderated(session: AsyncSession, competition: Competition) -> dict[tuple[int, str], ModeratedScore]:
    return {(m.bid_id, m.criterion_key): m for m in (await session.scalars(sa.select(ModeratedScore).where(
        ModeratedScore.competition_id == competition.id))).all()}


@dataclass(frozen=True)
class ModerationView:
    competition: Competition
    seats: tuple[tuple[str, CompetitionEvaluator], ...]
    answers: tuple[AnswerReview, ...]

    @property
    def complete(self) -> bool:
        return bool(self.answers) and all(a.moderated is not None for a in self.answers)


async def moderation_view(session: AsyncSession, user: SignedInUser, competition_id: int,
                          now: datetime) -> ModerationView:
    """Each answer with the evaluators' scores, shown only once all of them have scored it (so that an evaluator
    who is also the moderator never sees another's score before giving their own)."""
    competition = await competition_for_buyer(session, user, competition_id, now)
    if competition.state in (CompetitionState.DRAFT, CompetitionState.PUBLISHED, CompetitionState.CLOSED):
        raise Conflict("Moderation starts once the evaluation has started")
    seats = (await session.execute(
        sa.select(User.full_name, CompetitionEvaluator).join(User, User.id == CompetitionEvaluator.user_id)
        .where(CompetitionEvaluator.competition_id == competition.id).order_by(User.full_name))).all()
    names = {seat.user_id: name for name, seat in seats}
    scoring = {seat.user_id for _, seat in seats if seat.declaration == NO_CONFLICT}
    all_declared = all(seat.declaration is not None for _, seat in seats)
    scores: dict[tuple[int, str], list[EvaluatorScore]] = {}
    for s in (await session.scalars(sa.select(EvaluatorScore).where(
            EvaluatorScore.competition_id == competition.id))).all():
        scores.setdefault((s.bid_id, s.criterion_key), []).append(s)
    moderated = await _moderated(session, competition)
    answers = []
    for bid, name in await submitted_bids(session, competition):
        for question in questions_of(criteria_of(competition)):
            given = scores.get((bid.id or 0, question.key), [])
            waiting = len(scoring - {s.evaluator_user_id for s in given}) + (0 if all_declared else 1)
            shown = () if waiting or not scoring else tuple(
                (names.get(s.evaluator_user_id, "Evaluator"), s)
                for s in sorted(given, key=lambda s: s.evaluator_user_id))
            answers.append(AnswerReview(bid, name, question, str(bid.answers.get(question.key, "")),
                                        individual=shown, waiting_for=waiting,
                                        moderated=moderated.get((bid.id or 0, question.key))))
    return ModerationView(competition, tuple((name, seat) for name, seat in seats), tuple(answers))


@dataclass(frozen=True)
class RankingRow:
    ranked: RankedBid
    bid: Bid
    bidder: str

    @property
    def price_score(self) -> str:
        return display_score(self.ranked.scored.price_score)

    @property
    def quality_score(self) -> str:
        return display_score(self.ranked.scored.quality_score)

    @property
    def total(self) -> str:
        return display_score(self.ranked.scored.total)

    def question_score(self, key: str) -> str:
        return display_score(self.ranked.scored.question_scores[key])


async def ranking(session: AsyncSession, competition: Competition) -> list[RankingRow] | None:
    """Totals and ranking on the moderated scores; None until every answer is moderated."""
    if bids_sealed(competition) or competition.state == CompetitionState.CLOSED:
        return None
    bids = await submitted_bids(session, competition)
    moderated = await _moderated(session, competition)
    criteria = criteria_of(competition)
    scoring = []
    for bid, _ in bids:
        scores = {q.key: moderated[(bid.id or 0, q.key)].score for q in questions_of(criteria)
                  if (bid.id or 0, q.key) in moderated}
        if len(scores) != len(questions_of(criteria)):
            return None
        assert bid.submitted_at is not None, "a submitted bid always has its submission time"
        scoring.append(BidForScoring(bid.id or 0, bid.price_pence or 0, bid.submitted_at, scores))
    by_id = {bid.id: (bid, name) for bid, name in bids}
    return [RankingRow(r, *by_id[r.scored.bid_id]) for r in rank_bids(score_bids(criteria, scoring))]


# --- award decision, outcome letters, standstill (C7, C8) -----------------------------------------------


def _score_lines(row: RankingRow, criteria: Sequence[Criterion]) -> dict[str, Any]:
    return {"price_score": row.price_score, "quality_score": row.quality_score, "total": row.total,
            "rank": row.ranked.rank,
            "questions": [{"key": q.key, "title": q.title, "weight": q.weight, "max_score": q.max_score,
                           "score": row.question_score(q.key)} for q in questions_of(criteria)],
            "price_weight": next(c.weight for c in criteria if c.is_price)}


async def decide_award(session: AsyncSession, user: SignedInUser, competition_id: int, *, bid_id: int,
                       reasons: str, override_reason: str, now: datetime) -> Competition:
    """C7: the most advantageous tender on the published criteria, i.e. the top-ranked bid; a lower-ranked bid
    only with a recorded reason, which the audit keeps. The outcome letters are prepared for every bidder."""
    competition = await competition_for_buyer(session, user, competition_id, now, for_update=True)
    _require_state(competition, CompetitionState.EVALUATION, doing="deciding the award")
    rows = await ranking(session, competition)
    if rows is None:
        raise Conflict("Moderate every answer before deciding the award")
    if not reasons.strip():
        raise ValidationFailed("Give the reasons for the decision: they are told to every bidder", field="reasons")
    chosen = check_award_choice([r.ranked for r in rows], bid_id, override_reason)
    before = _snapshot(competition)
    competition.state = next_competition_state(competition.state, CompetitionEvent.DECIDE_AWARD)
    competition.winning_bid_id = chosen.scored.bid_id
    competition.award_reasons = reasons.strip()
    competition.override_reason = override_reason.strip() if chosen.rank != 1 else None
    competition.award_decided_at, competition.award_decided_by_user_id = now, user.id
    competition.updated_at = now
    criteria = criteria_of(competition)
    winner = next(r for r in rows if r.bid.id == chosen.scored.bid_id)
    for row in rows:
        session.add(OutcomeLetter(
            competition_id=competition.id or 0, bid_id=row.bid.id or 0, organisation_id=row.bid.organisation_id,
            successful=row.bid.id == winner.bid.id, rank=row.ranked.rank, created_at=now, body="",
            content={"bidder": row.bidder, "bidders": len(rows), "own": _score_lines(row, criteria),
                     "winner_name": winner.bidder, "winner": _score_lines(winner, criteria),
                     "reasons": competition.award_reasons, "override_reason": competition.override_reason}))
    await session.flush()
    await _audit(session, actor_of(user), "award_decided", competition, now, before,
                 {**_snapshot(competition), "winning_bid_id": competition.winning_bid_id, "winning_rank": chosen.rank,
                  "top_ranked_bid_id": rows[0].bid.id, "reasons": competition.award_reasons,
                  "override_reason": competition.override_reason,
                  "ranking": [{"bid_id": r.bid.id, "rank": r.ranked.rank, "total": r.total} for r in rows]})
    await session.commit()
    return competition


def letter_body(letter: OutcomeLetter, competition: Competition) -> str:
    content = letter.content
    own, winner = content["own"], content["winner"]

    def lines(scores: dict[str, Any]) -> str:
        parts = [f"  Price (weight {scores['price_weight']}%): {scores['price_score']}"]
        parts += [f"  {q['title']} (weight {q['weight']}%): {q['score']}" for q in scores["questions"]]
        parts.append(f"  Total: {scores['total']} out of 100 (rank {scores['rank']} of {content['bidders']})")
        return "\n".join(parts)

    outcome = ("Your bid has been selected for award." if letter.successful else
               f"Your bid has not been successful. The contract is to be awarded to {content['winner_name']}.")
    text = [f"Outcome of {competition.title}", "", outcome, "", "Your scores:", lines(own)]
    if not letter.successful:
        text += ["", f"The scores of the successful bid ({content['winner_name']}):", lines(winner)]
    text += ["", f"Reasons for the decision: {content['reasons']}"]
    if content.get("override_reason"):
        text += ["", f"The contract is not awarded to the top-ranked bid, because: {content['override_reason']}"]
    if competition.standstill_ends_at:
        text += ["", f"A standstill period runs until {format_london(competition.standstill_ends_at)}. The contract "
                     "will not be entered into before it ends."]
    return "\n".join(text)


async def letters(session: AsyncSession, competition: Competition) -> list[OutcomeLetter]:
    return list((await session.scalars(sa.select(OutcomeLetter).where(
        OutcomeLetter.competition_id == competition.id).order_by(OutcomeLetter.rank))).all())


async def start_standstill(session: AsyncSession, user: SignedInUser, competition_id: int,
                           now: datetime) -> Competition:
    """C8: the outcome letters go to every bidder and the award notice data is recorded; standstill runs from now
    (pcr2015_dps: 10 calendar days; pa2023_dynamic_market: 8 working days from the contract award notice)."""
    competition = await competition_for_buyer(session, user, competition_id, now, for_update=True)
    _require_state(competition, CompetitionState.AWARD_DECIDED, doing="starting the standstill")
    _, agreement = await category_with_agreement(session, competition.category_id)
    before = _snapshot(competition)
    competition.state = next_competition_state(competition.state, CompetitionEvent.START_STANDSTILL)
    competition.standstill_started_at = now
    competition.standstill_ends_at = standstill_ends(now, agreement.regime)
    competition.updated_at = now
    sent = await letters(session, competition)
    for letter in sent:
        letter.body, letter.sent_at = letter_body(letter, competition), now
        await email_organisation(session, letter.organisation_id, now, f"competition:{competition.id}:outcome",
                                 f"Outcome: {competition.title}",
                                 letter.body + "\n\n" + page_link(f"/supplier/competitions/{competition.id}"))
    winner = await session.get(Bid, competition.winning_bid_id)
    assert winner is not None
    value_incl_vat = (winner.price_pence or 0) + (winner.vat_pence or 0)
    session.add(AwardNotice(
        competition_id=competition.id or 0, regime=agreement.regime,
        buyer_organisation_id=competition.buyer_organisation_id, supplier_organisation_id=winner.organisation_id,
        category_id=competition.category_id, title=competition.title, description=competition.requirement,
        value_pence=winner.price_pence or 0, value_incl_vat_pence=value_incl_vat,
        contracts_finder_required=needs_contracts_finder(value_incl_vat), bids_received=len(sent),
        award_decided_at=competition.award_decided_at or now, standstill_started_at=now,
        standstill_ends_at=competition.standstill_ends_at, contract_starts_on=competition.contract_starts_on,
        contract_ends_on=competition.contract_ends_on, created_at=now))
    await _audit(session, actor_of(user), "standstill_started", competition, now, before,
                 {**_snapshot(competition), "regime": agreement.regime, "letters": [x.bid_id for x in sent]})
    await session.commit()
    return competition


async def pause_standstill(session: AsyncSession, user: SignedInUser, competition_id: int, reason: str,
                           now: datetime) -> Competition:
    competition = await competition_for_buyer(session, user, competition_id, now, for_update=True)
    _require_state(competition, CompetitionState.STANDSTILL, doing="pausing the standstill")
    if competition.standstill_paused_at is not None:
        raise Conflict("The standstill is already paused")
    if not reason.strip():
        raise ValidationFailed("Describe the challenge that pauses the standstill", field="reason")
    before = _snapshot(competition)
    competition.standstill_paused_at, competition.standstill_pause_reason = now, reason.strip()
    competition.updated_at = now
    await _audit(session, actor_of(user), "standstill_paused", competition, now, before,
                 {**_snapshot(competition), "reason": reason.strip()})
    await session.commit()
    return competition


async def resume_standstill(session: AsyncSession, user: SignedInUser, competition_id: int,
                            now: datetime) -> Competition:
    competition = await competition_for_buyer(session, user, competition_id, now, for_update=True)
    _require_state(competition, CompetitionState.STANDSTILL, doing="resuming the standstill")
    if competition.standstill_paused_at is None or competition.standstill_ends_at is None:
        raise Conflict("The standstill is not paused")
    before = _snapshot(competition)
    competition.standstill_ends_at = resumed_standstill_end(competition.standstill_ends_at,
                                                            competition.standstill_paused_at, now)
    competition.standstill_paused_at = None
    competition.updated_at = now
    notice = await session.scalar(sa.select(AwardNotice).where(AwardNotice.competition_id == competition.id))
    if notice is not None:
        notice.standstill_ends_at = competition.standstill_ends_at
    await _audit(session, actor_of(user), "standstill_resumed", competition, now, before,
                 {**_snapshot(competition), "reason_was": competition.standstill_pause_reason})
    await session.commit()
    return competition


# --- confirming the award: funds, contract, milestones ---------------------------------------------------


class CommitFunds(Protocol):
    """dps.funds.services.commit_funds: adds the commitment to the caller's transaction (does not commit) and
    raises a DomainError naming the rule and the shortfall when an allocation would go negative."""

    async def __call__(self, session: AsyncSession, *, buyer_org_id: int, category_id: int,
                       lines: Sequence[tuple[int, int]], total_pence: int, reference: str, actor: Actor,
                       now: datetime) -> Any: ...


def default_commit_funds() -> CommitFunds | None:
    try:
        from dps.funds.services import commit_funds  # type: ignore[attr-defined]
    except ImportError:
        return None
    return commit_funds  # type: ignore[no-any-return]


async def award_value(session: AsyncSession, competition: Competition) -> tuple[Bid, int]:
    """The winning bid and what the buyer pays under it (price plus VAT), which funds and milestones add up to."""
    bid = await session.get(Bid, competition.winning_bid_id) if competition.winning_bid_id else None
    if bid is None:
        raise Conflict("No award has been decided")
    return bid, (bid.price_pence or 0) + (bid.vat_pence or 0)


async def confirm_award(session: AsyncSession, user: SignedInUser, competition_id: int, *,
                        fund_lines: Sequence[FundLine], milestones: Sequence[Milestone], now: datetime,
                        commit_funds: CommitFunds | None = None) -> Contract:
    """After standstill: commit the award value to the fund allocations and create the contract with its
    milestones, all in one transaction. If any allocation would go negative nothing changes at all."""
    competition = await competition_for_buyer(session, user, competition_id, now, for_update=True)
    _require_state(competition, CompetitionState.STANDSTILL, doing="confirming the award")
    if competition.standstill_paused_at is not None:
        raise Conflict("The standstill is paused because of a challenge: resume it before confirming the award")
    if not can_confirm_award(now, competition.standstill_ends_at, False):
        raise Conflict(f"The standstill period ends at {format_london(competition.standstill_ends_at)}: the award "
                       "can be confirmed after that")
    bid, total = await award_value(session, competition)
    check_fund_split(fund_lines, total)
    check_milestones(milestones, total)
    commit = commit_funds or default_commit_funds()
    try:
        if fund_lines:
            if commit is None:
                raise Conflict("Fund commitments are not available in this installation: confirm without fund lines")
            await commit(session, buyer_org_id=competition.buyer_organisation_id, category_id=competition.category_id,
                         lines=[(line.allocation_id, line.pence) for line in fund_lines], total_pence=total,
                         reference=f"competition:{competition.id}", actor=actor_of(user), now=now)
        contract = Contract(competition_id=competition.id or 0, bid_id=bid.id or 0,
                            buyer_organisation_id=competition.buyer_organisation_id,
                            supplier_organisation_id=bid.organisation_id, title=competition.title,
                            value_pence=bid.price_pence or 0, vat_pence=bid.vat_pence or 0,
                            starts_on=competition.contract_starts_on, ends_on=competition.contract_ends_on,
                            state="active", created_by_user_id=user.id, created_at=now,
                            fund_lines=[{"allocation_id": f.allocation_id, "pence": f.pence} for f in fund_lines])
        session.add(contract)
        await session.flush()
        for sequence, milestone in enumerate(milestones, start=1):
            session.add(ContractMilestone(contract_id=contract.id or 0, sequence=sequence, title=milestone.title,
                                          due_on=milestone.due_on, amount_pence=milestone.amount_pence,
                                          state="planned"))
        before = _snapshot(competition)
        competition.state = next_competition_state(competition.state, CompetitionEvent.CONFIRM_AWARD)
        competition.awarded_at, competition.updated_at = now, now
        notice = await session.scalar(sa.select(AwardNotice).where(AwardNotice.competition_id == competition.id))
        if notice is not None:
            notice.contract_id, notice.contract_created_at = contract.id, now
            notice.publish_by = award_notice_due(now)
        await session.flush()
        await _audit(session, actor_of(user), "awarded", competition, now, before,
                     {**_snapshot(competition), "contract_id": contract.id, "value_pence": contract.value_pence,
                      "vat_pence": contract.vat_pence,
                      "fund_lines": contract.fund_lines,
                      "milestones": [{"title": m.title, "due_on": m.due_on, "pence": m.amount_pence}
                                     for m in milestones]})
        await record(session, actor=actor_of(user), action="contract.created", entity_type="contract",
                     entity_id=contract.id or 0, now=now,
                     after={"competition_id": competition.id, "supplier_organisation_id": bid.organisation_id,
                            "value_pence": contract.value_pence, "vat_pence": contract.vat_pence})
        await email_organisation(session, bid.organisation_id, now, f"competition:{competition.id}:contract",
                                 f"Contract awarded: {competition.title}",
                                 f"The standstill period has ended and the contract for {competition.title} is "
                                 f"awarded to your organisation: {format_pence(total)} including VAT, from "
                                 f"{competition.contract_starts_on:%-d %B %Y} to "
                                 f"{competition.contract_ends_on:%-d %B %Y}.")
        await session.commit()
    except DomainError:
        await session.rollback()
        raise
    return contract


# --- reading --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CompetitionSummary:
    competition: Competition
    category_name: str
    agreement_name: str
    regime: str
    buyer_name: str


def _summary_query() -> Any:
    return (sa.select(Competition, Category.name, Agreement.name, Agreement.regime, Organisation.name)
            .join(Category, Category.id == Competition.category_id)
            .join(Agreement, Agreement.id == Category.agreement_id)
            .join(Organisation, Organisation.id == Competition.buyer_organisation_id))


async def summary(session: AsyncSession, competition: Competition) -> CompetitionSummary:
    row = (await session.execute(_summary_query().where(Competition.id == competition.id))).one()
    return CompetitionSummary(*row)


async def competitions_for_team(session: AsyncSession, user: SignedInUser) -> list[CompetitionSummary]:
    evaluates = sa.select(CompetitionEvaluator.competition_id).where(CompetitionEvaluator.user_id == user.id)
    rows = (await session.execute(_summary_query().where(sa.or_(
        Competition.buyer_organisation_id.in_(_buyer_org_ids(user)), Competition.id.in_(evaluates)))
        .order_by(Competition.created_at.desc(), Competition.id.desc()))).all()
    return [CompetitionSummary(*row) for row in rows]


@dataclass(frozen=True)
class BuyerView:
    summary: CompetitionSummary
    criteria: tuple[Criterion, ...]
    invited_count: int
    invited: tuple[CompetitionInvitation, ...]  # names only once bids are unsealed
    evaluators: tuple[tuple[str, CompetitionEvaluator], ...]
    clarifications: tuple[Clarification, ...]
    unanswered: int
    bids_received: int | None  # None while sealed (C5)
    contract: Contract | None
    milestones: tuple[ContractMilestone, ...]
    notice: AwardNotice | None
    is_buyer: bool
    is_evaluator: bool


async def buyer_view(session: AsyncSession, user: SignedInUser, competition: Competition) -> BuyerView:
    sealed = bids_sealed(competition)
    invitations = (await session.scalars(sa.select(CompetitionInvitation).where(
        CompetitionInvitation.competition_id == competition.id)
        .order_by(CompetitionInvitation.organisation_name))).all()
    seats = (await session.execute(
        sa.select(User.full_name, CompetitionEvaluator).join(User, User.id == CompetitionEvaluator.user_id)
        .where(CompetitionEvaluator.competition_id == competition.id).order_by(User.full_name))).all()
    clarifications = (await session.scalars(sa.select(Clarification).where(
        Clarification.competition_id == competition.id).order_by(Clarification.asked_at, Clarification.id))).all()
    received = None if sealed else await session.scalar(sa.select(sa.func.count()).select_from(Bid).where(
        Bid.competition_id == competition.id, Bid.state == BidState.SUBMITTED))
    contract = await session.scalar(sa.select(Contract).where(Contract.competition_id == competition.id))
    milestones = () if contract is None else tuple((await session.scalars(sa.select(ContractMilestone).where(
        ContractMilestone.contract_id == contract.id).order_by(ContractMilestone.sequence))).all())
    notice = await session.scalar(sa.select(AwardNotice).where(AwardNotice.competition_id == competition.id))
    return BuyerView(
        summary=await summary(session, competition), criteria=criteria_of(competition),
        invited_count=len(invitations), invited=() if sealed else tuple(invitations),
        evaluators=tuple((name, seat) for name, seat in seats), clarifications=tuple(clarifications),
        unanswered=sum(1 for c in clarifications if c.answered_at is None), bids_received=received,
        contract=contract, milestones=milestones, notice=notice,
        is_buyer=competition.buyer_organisation_id in _buyer_org_ids(user),
        is_evaluator=any(seat.user_id == user.id for _, seat in seats))


@dataclass(frozen=True)
class SupplierInvitation:
    competition: Competition
    invitation: CompetitionInvitation
    category_name: str
    buyer_name: str
    bid_state: str | None


async def supplier_inbox(session: AsyncSession, user: SignedInUser) -> list[SupplierInvitation]:
    supplier_ids = user.organisation_ids_of_kind(OrganisationKind.SUPPLIER)
    rows = (await session.execute(
        sa.select(Competition, CompetitionInvitation, Category.name, Organisation.name, Bid.state)
        .join(CompetitionInvitation, CompetitionInvitation.competition_id == Competition.id)
        .join(Category, Category.id == Competition.category_id)
        .join(Organisation, Organisation.id == Competition.buyer_organisation_id)
        .outerjoin(Bid, sa.and_(Bid.competition_id == Competition.id,
                                Bid.organisation_id == CompetitionInvitation.organisation_id))
        .where(CompetitionInvitation.organisation_id.in_(supplier_ids))
        .order_by(CompetitionInvitation.invited_at.desc(), Competition.id.desc()))).all()
    return [SupplierInvitation(*row) for row in rows]


@dataclass(frozen=True)
class SupplierView:
    summary: CompetitionSummary
    invitation: CompetitionInvitation
    criteria: tuple[Criterion, ...]
    published_clarifications: tuple[Clarification, ...]
    own_questions: tuple[Clarification, ...]
    bid: Bid | None
    letter: OutcomeLetter | None
    contract: Contract | None
    open_for_bids: bool
    open_for_questions: bool


async def supplier_view(session: AsyncSession, user: SignedInUser, competition_id: int,
                        now: datetime) -> SupplierView:
    competition, invitation = await competition_for_supplier(session, user, competition_id, now)
    clarifications = (await session.scalars(sa.select(Clarification).where(
        Clarification.competition_id == competition.id).order_by(Clarification.answered_at, Clarification.id))).all()
    letter = await session.scalar(sa.select(OutcomeLetter).where(
        OutcomeLetter.competition_id == competition.id, OutcomeLetter.organisation_id == invitation.organisation_id,
        OutcomeLetter.sent_at.is_not(None)))
    contract = await session.scalar(sa.select(Contract).where(
        Contract.competition_id == competition.id, Contract.supplier_organisation_id == invitation.organisation_id))
    published = competition.state == CompetitionState.PUBLISHED
    return SupplierView(
        summary=await summary(session, competition), invitation=invitation, criteria=criteria_of(competition),
        published_clarifications=tuple(c for c in clarifications if c.answered_at is not None),
        own_questions=tuple(c for c in clarifications if c.answered_at is None
                            and c.asked_by_organisation_id == invitation.organisation_id),
        bid=await own_bid(session, competition.id or 0, invitation.organisation_id), letter=letter,
        contract=contract, open_for_bids=published and bids_open(competition.tender_deadline, now),
        open_for_questions=published and now < competition.clarification_deadline)
