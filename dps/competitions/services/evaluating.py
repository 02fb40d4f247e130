"""Evaluation after the deadline: the bids received, evaluators' declarations and scores, moderation, ranking.

Each evaluator scores alone and never sees another's score before giving their own; the buyer sets the
consensus (moderated) score of each answer, and the ranking is on the moderated scores only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from dps.audit.services import record
from dps.competitions.models import Bid, Competition, CompetitionEvaluator, EvaluatorScore, ModeratedScore
from dps.competitions.rules import (
    BidForScoring,
    BidState,
    CompetitionEvent,
    CompetitionState,
    Criterion,
    RankedBid,
    check_score,
    display_score,
    next_competition_state,
    questions_of,
    rank_bids,
    score_bids,
    tie_break_of,
)
from dps.competitions.services.excluding import exclude_ineligible_bids
from dps.competitions.services.loading import (
    audit_competition,
    bids_sealed,
    competition_for_buyer,
    competition_snapshot,
    criteria_of,
    evaluator_seat,
    require_state,
)
from dps.competitions.services.sealing import AttachmentInfo, opened_attachments
from dps.errors import Conflict, NotFound, ValidationFailed
from dps.identity.models import Organisation, User
from dps.identity.services import SignedInUser, actor_of
from dps.mail import page_link, queue_email

# An evaluator's declaration: no conflict of interest (may score), or a conflict (stands aside).
NO_CONFLICT, CONFLICT = "none", "conflict"


async def submitted_bids(session: AsyncSession, competition: Competition) -> list[tuple[Bid, str]]:
    """The bids received and not excluded, with their bidders' names. Refuses while bids are sealed (C5)."""
    if bids_sealed(competition):
        raise Conflict("Bids are sealed until the tender deadline")
    rows = (await session.execute(
        sa.select(Bid, Organisation.name).join(Organisation, Organisation.id == Bid.organisation_id)
        .where(Bid.competition_id == competition.id, Bid.state == BidState.SUBMITTED, Bid.excluded_at.is_(None))
        .order_by(Bid.submitted_at, Bid.id))).all()
    return [(bid, name) for bid, name in rows]


async def start_evaluation(session: AsyncSession, user: SignedInUser, competition_id: int,
                           now: datetime) -> Competition:
    competition = await competition_for_buyer(session, user, competition_id, now, for_update=True)
    require_state(competition, CompetitionState.CLOSED, doing="starting the evaluation")
    # A8/C1: a bidder suspended, removed or debarred since the close is excluded now, with its reason.
    excluded = await exclude_ineligible_bids(session, competition, now, actor=actor_of(user),
                                             stage="evaluation_started")
    bids = await submitted_bids(session, competition)
    if not bids:
        if excluded:
            await session.commit()  # the exclusions stand, recorded and told
            raise Conflict("No bid can be evaluated: every bidder is excluded. Cancel the competition with a reason.")
        raise Conflict("No bids were received: there is nothing to evaluate. Cancel the competition with a reason.")
    before = competition_snapshot(competition)
    competition.state = next_competition_state(competition.state, CompetitionEvent.START_EVALUATION)
    competition.evaluation_started_at, competition.updated_at = now, now
    await audit_competition(session, actor_of(user), "evaluation_started", competition, now, before,
                            {**competition_snapshot(competition), "bids": [bid.id for bid, _ in bids]})
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
    competition, seat = await evaluator_seat(session, user, competition_id, now, for_update=True)
    require_state(competition, CompetitionState.EVALUATION, doing="declaring interests")
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
                                                    Bid.state == BidState.SUBMITTED, Bid.excluded_at.is_(None)))
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
    competition, seat = await evaluator_seat(session, user, competition_id, now, for_update=True)
    require_state(competition, CompetitionState.EVALUATION, doing="scoring")
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
    require_state(competition, CompetitionState.EVALUATION, doing="moderating")
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
    documents: dict[int, tuple[AttachmentInfo, ...]] = field(default_factory=dict)  # by bid id, with the answers


async def evaluator_view(session: AsyncSession, user: SignedInUser, competition_id: int,
                         now: datetime) -> EvaluatorView:
    competition, seat = await evaluator_seat(session, user, competition_id, now)
    if bids_sealed(competition):
        raise Conflict("Bids are sealed until the tender deadline: evaluation starts after it")
    bids = await submitted_bids(session, competition)
    if competition.state == CompetitionState.CLOSED:
        bids = []  # bids are seen by evaluators once the buyer starts the evaluation
    own = {(s.bid_id, s.criterion_key): s for s in (await session.scalars(sa.select(EvaluatorScore).where(
        EvaluatorScore.competition_id == competition.id, EvaluatorScore.evaluator_user_id == user.id))).all()}
    moderated = await _moderated(session, competition)
    answers = []
    documents: dict[int, tuple[AttachmentInfo, ...]] = {}
    if seat.declaration == NO_CONFLICT:
        for bid, name in bids:
            for question in questions_of(criteria_of(competition)):
                answers.append(AnswerReview(bid, name, question, str(bid.answers.get(question.key, "")),
                                            own=own.get((bid.id or 0, question.key)),
                                            moderated=moderated.get((bid.id or 0, question.key))))
        documents = await opened_attachments(session, [bid.id or 0 for bid, _ in bids])
    return EvaluatorView(competition, seat, tuple(name for _, name in bids), tuple(answers), documents)


async def _moderated(session: AsyncSession, competition: Competition) -> dict[tuple[int, str], ModeratedScore]:
    return {(m.bid_id, m.criterion_key): m for m in (await session.scalars(sa.select(ModeratedScore).where(
        ModeratedScore.competition_id == competition.id))).all()}


@dataclass(frozen=True)
class ModerationView:
    competition: Competition
    seats: tuple[tuple[str, CompetitionEvaluator], ...]
    answers: tuple[AnswerReview, ...]
    documents: dict[int, tuple[AttachmentInfo, ...]] = field(default_factory=dict)  # by bid id, with the answers

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
    bids = await submitted_bids(session, competition)
    for bid, name in bids:
        for question in questions_of(criteria_of(competition)):
            given = scores.get((bid.id or 0, question.key), [])
            waiting = len(scoring - {s.evaluator_user_id for s in given}) + (0 if all_declared else 1)
            shown = () if waiting or not scoring else tuple(
                (names.get(s.evaluator_user_id, "Evaluator"), s)
                for s in sorted(given, key=lambda s: s.evaluator_user_id))
            answers.append(AnswerReview(bid, name, question, str(bid.answers.get(question.key, "")),
                                        individual=shown, waiting_for=waiting,
                                        moderated=moderated.get((bid.id or 0, question.key))))
    return ModerationView(competition, tuple((name, seat) for name, seat in seats), tuple(answers),
                          await opened_attachments(session, [bid.id or 0 for bid, _ in bids]))


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
    ranked = rank_bids(score_bids(criteria, scoring), tie_break_of(competition.tie_break))
    return [RankingRow(r, *by_id[r.scored.bid_id]) for r in ranked]
