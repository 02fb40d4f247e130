"""The award: decision and outcome letters (C7), what starts the standstill and its pauses (C8: the award decision
notices under PCR 2015, the contract award notice under PA 2023), and confirming the award: the fund commitment and
the contract with its milestones, in one transaction, with the notice that follows the contract (C9, C10; see
dps.competitions.services.notices)."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from dps.admission.services import category_with_agreement, email_organisation
from dps.agreements.models import Agreement, Category
from dps.audit.services import Actor
from dps.calendar import describe_period_end
from dps.competitions.models import AwardNotice, Bid, Competition, OutcomeLetter
from dps.competitions.rules import (
    CompetitionEvent,
    CompetitionState,
    Criterion,
    FundLine,
    award_notice_due,
    award_winner,
    can_confirm_award,
    check_fund_split,
    is_due_to_close,
    needs_contracts_finder,
    next_competition_state,
    questions_of,
    resumed_standstill_end,
    standstill_ends,
    standstill_starts_with_notice,
    tie_break_of,
)
from dps.competitions.services.departures import withdraw_award
from dps.competitions.services.evaluating import RankingRow, ranking
from dps.competitions.services.excluding import (
    exclude_bid,
    exclude_ineligible_bids,
    excluded_bids,
    reasons_cannot_take_part,
)
from dps.competitions.services.loading import (
    audit_competition,
    buyer_organisation_ids,
    competition_for_buyer,
    competition_snapshot,
    criteria_of,
    require_state,
)
from dps.competitions.services.notices import enqueue_ocds_publication, notice_of, publish_contract_notice_if_ready
from dps.contracts.models import Contract
from dps.contracts.rules import Milestone, check_milestones
from dps.contracts.services import add_contract, add_milestones
from dps.dates import format_london
from dps.errors import Conflict, DomainError, NotFound, ValidationFailed
from dps.funds.services import check_commitment, write_commitment
from dps.identity.models import Organisation
from dps.identity.services import SignedInUser, active_member_emails, actor_of
from dps.mail import page_link
from dps.money import format_pence

# --- award decision, outcome letters, standstill (C7, C8) -----------------------------------------------


def _score_lines(row: RankingRow, criteria: Sequence[Criterion]) -> dict[str, Any]:
    return {"price_score": row.price_score, "quality_score": row.quality_score, "total": row.total,
            "rank": row.ranked.rank,
            "questions": [{"key": q.key, "title": q.title, "weight": q.weight, "max_score": q.max_score,
                           "score": row.question_score(q.key)} for q in questions_of(criteria)],
            "price_weight": next(c.weight for c in criteria if c.is_price)}


async def decide_award(session: AsyncSession, user: SignedInUser, competition_id: int, *, reasons: str,
                       now: datetime) -> Competition:
    """C7: the award goes to the most advantageous tender on the published criteria, the first-ranked bid, and only
    to it: the buyer confirms the decision, the ranking makes it. A bidder who can no longer take part (A8) is
    excluded first, with its reason, and the award goes to the next-ranked bid. The outcome letters are prepared
    for every bidder ranked."""
    competition = await competition_for_buyer(session, user, competition_id, now, for_update=True)
    require_state(competition, CompetitionState.EVALUATION, doing="deciding the award")
    if not reasons.strip():
        raise ValidationFailed("Give the reasons for the decision: they are told to every bidder", field="reasons")
    excluded = await exclude_ineligible_bids(session, competition, now, actor=actor_of(user), stage="award_decision")
    rows = await ranking(session, competition)
    if rows is None:
        raise Conflict("Moderate every answer before deciding the award")
    first = award_winner([r.ranked for r in rows])
    if first is None:
        if excluded:
            await session.commit()  # the exclusions stand, recorded and told
        raise Conflict("No bid can be awarded the contract: every bidder is excluded or withdrew. "
                       "Cancel the competition with a reason.")
    chosen = first
    before = competition_snapshot(competition)
    competition.state = next_competition_state(competition.state, CompetitionEvent.DECIDE_AWARD)
    competition.winning_bid_id = chosen.scored.bid_id
    competition.award_reasons = reasons.strip()
    competition.override_reason = None
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
                     "reasons": competition.award_reasons}))
    await session.flush()
    await audit_competition(session, actor_of(user), "award_decided", competition, now, before,
                            {**competition_snapshot(competition), "winning_bid_id": competition.winning_bid_id,
                             "winning_rank": chosen.rank, "top_ranked_bid_id": rows[0].bid.id,
                             "reasons": competition.award_reasons,
                             "tie_break": str(tie_break_of(competition.tie_break)),
                             "ranking": [{"bid_id": r.bid.id, "rank": r.ranked.rank, "total": r.total} for r in rows],
                             "excluded": [{"bid_id": b.id, "reason": b.exclusion_reason}
                                          for b, _ in await excluded_bids(session, competition)]})
    await session.commit()
    return competition


def letter_body(letter: OutcomeLetter, competition: Competition, notice_published_at: datetime | None = None) -> str:
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
    if content.get("override_reason"):  # decisions recorded before the award was bound to the ranking
        text += ["", f"The contract is not awarded to the top-ranked bid, because: {content['override_reason']}"]
    if notice_published_at is not None:
        published_on = format_london(notice_published_at, "%-d %B %Y")
        text += ["", f"The contract award notice was published on {published_on}. It is on the public contracts "
                     "register if the contract is worth £30,000 or more including VAT."]
    if competition.standstill_ends_at:
        text += ["", f"A standstill period runs until {describe_period_end(competition.standstill_ends_at)}. The "
                     "contract will not be entered into before it ends."]
    return "\n".join(text)


async def letters(session: AsyncSession, competition: Competition) -> list[OutcomeLetter]:
    return list((await session.scalars(sa.select(OutcomeLetter).where(
        OutcomeLetter.competition_id == competition.id).order_by(OutcomeLetter.rank))).all())


async def _send_letters(session: AsyncSession, competition: Competition, now: datetime,
                        notice_published_at: datetime | None = None) -> list[OutcomeLetter]:
    """Every bidder's outcome letter (its assessment summary), sent now; a letter sent before (a standstill that
    started before its notice was published) goes again, with the new standstill."""
    sent = await letters(session, competition)
    for letter in sent:
        key = f"competition:{competition.id}:outcome" + (":notice" if letter.sent_at is not None else "")
        letter.body, letter.sent_at = letter_body(letter, competition, notice_published_at), now
        await email_organisation(session, letter.organisation_id, now, key, f"Outcome: {competition.title}",
                                 letter.body + "\n\n" + page_link(f"/supplier/competitions/{competition.id}"))
    return sent


async def _new_notice(session: AsyncSession, competition: Competition, regime: str, bids: int,
                      now: datetime) -> AwardNotice:
    winner = await session.get(Bid, competition.winning_bid_id)
    assert winner is not None
    value_incl_vat = (winner.price_pence or 0) + (winner.vat_pence or 0)
    notice = AwardNotice(
        competition_id=competition.id or 0, regime=regime,
        buyer_organisation_id=competition.buyer_organisation_id, supplier_organisation_id=winner.organisation_id,
        category_id=competition.category_id, title=competition.title, description=competition.requirement,
        value_pence=winner.price_pence or 0, value_incl_vat_pence=value_incl_vat,
        contracts_finder_required=needs_contracts_finder(value_incl_vat), bids_received=bids,
        award_decided_at=competition.award_decided_at or now, standstill_started_at=now,
        standstill_ends_at=competition.standstill_ends_at or now, contract_starts_on=competition.contract_starts_on,
        contract_ends_on=competition.contract_ends_on, created_at=now)
    session.add(notice)
    return notice


async def start_standstill(session: AsyncSession, user: SignedInUser, competition_id: int,
                           now: datetime) -> Competition:
    """C8: start the standstill the way the agreement's regime starts it.

    pcr2015_dps: the award decision notices (the outcome letters) go to every bidder and the standstill runs from
    now (10 calendar days); the award notice data is kept for the contract award notice, published with the
    contract. pa2023_dynamic_market: the standstill starts only by publishing the contract award notice, which
    this does (`publish_award_notice`)."""
    competition = await competition_for_buyer(session, user, competition_id, now, for_update=True)
    _, agreement = await category_with_agreement(session, competition.category_id)
    if standstill_starts_with_notice(agreement.regime):
        return await _publish_award_notice(session, user, competition, agreement.regime, now)
    require_state(competition, CompetitionState.AWARD_DECIDED, doing="starting the standstill")
    before = competition_snapshot(competition)
    competition.state = next_competition_state(competition.state, CompetitionEvent.START_STANDSTILL)
    competition.standstill_started_at = now
    competition.standstill_ends_at = standstill_ends(now, agreement.regime)
    competition.updated_at = now
    sent = await _send_letters(session, competition, now)
    await _new_notice(session, competition, agreement.regime, len(sent), now)
    await audit_competition(session, actor_of(user), "standstill_started", competition, now, before,
                            {**competition_snapshot(competition), "regime": agreement.regime,
                             "letters": [x.bid_id for x in sent]})
    await session.commit()
    return competition


async def publish_award_notice(session: AsyncSession, user: SignedInUser, competition_id: int,
                               now: datetime) -> Competition:
    """C8 under PA 2023 (s.50, s.51): publish the contract award notice (the OCDS award release, its public page
    and, from £30,000 including VAT, the contracts register), send every bidder its assessment summary at the same
    moment, and start the standstill: 8 working days, the publication day being day 1 if it is a working day.
    The state change, its audit event, the emails and the open-data publication commit together.

    A competition whose standstill started before its notice was published gets its notice now, and its
    standstill runs again from the publication."""
    competition = await competition_for_buyer(session, user, competition_id, now, for_update=True)
    _, agreement = await category_with_agreement(session, competition.category_id)
    if not standstill_starts_with_notice(agreement.regime):
        raise Conflict("Under this agreement the outcome letters start the standstill and the contract award "
                       "notice is published when the contract is made")
    return await _publish_award_notice(session, user, competition, agreement.regime, now)


async def _publish_award_notice(session: AsyncSession, user: SignedInUser, competition: Competition, regime: str,
                                now: datetime) -> Competition:
    notice = await notice_of(session, competition.id or 0)
    restart = (competition.state == CompetitionState.STANDSTILL and notice is not None
               and notice.published_at is None)
    if restart and competition.standstill_paused_at is not None:
        raise Conflict("The standstill is paused because of a challenge: resume it before publishing the contract "
                       "award notice")
    if not restart:
        require_state(competition, CompetitionState.AWARD_DECIDED, doing="publishing the contract award notice")
    before = competition_snapshot(competition)
    if not restart:
        competition.state = next_competition_state(competition.state, CompetitionEvent.START_STANDSTILL)
    competition.standstill_started_at = now
    competition.standstill_ends_at = standstill_ends(now, regime)
    competition.updated_at = now
    sent = await _send_letters(session, competition, now, notice_published_at=now)
    if notice is None:
        notice = await _new_notice(session, competition, regime, len(sent), now)
    notice.standstill_started_at, notice.standstill_ends_at = now, competition.standstill_ends_at
    notice.published_at = now
    await session.flush()
    await enqueue_ocds_publication(session, competition.id or 0, "award", now)
    await audit_competition(session, actor_of(user), "award_notice_published", competition, now, before,
                            {**competition_snapshot(competition), "regime": regime, "notice_id": notice.id,
                             "published_at": now, "standstill_started_at": now, "restarted": restart,
                             "contracts_register": notice.contracts_finder_required,
                             "letters": [x.bid_id for x in sent]})
    await session.commit()
    return competition


async def pause_standstill(session: AsyncSession, user: SignedInUser, competition_id: int, reason: str,
                           now: datetime) -> Competition:
    competition = await competition_for_buyer(session, user, competition_id, now, for_update=True)
    require_state(competition, CompetitionState.STANDSTILL, doing="pausing the standstill")
    if competition.standstill_paused_at is not None:
        raise Conflict("The standstill is already paused")
    if not reason.strip():
        raise ValidationFailed("Describe the challenge that pauses the standstill", field="reason")
    before = competition_snapshot(competition)
    competition.standstill_paused_at, competition.standstill_pause_reason = now, reason.strip()
    competition.updated_at = now
    await audit_competition(session, actor_of(user), "standstill_paused", competition, now, before,
                            {**competition_snapshot(competition), "reason": reason.strip()})
    await session.commit()
    return competition


async def resume_standstill(session: AsyncSession, user: SignedInUser, competition_id: int,
                            now: datetime) -> Competition:
    competition = await competition_for_buyer(session, user, competition_id, now, for_update=True)
    require_state(competition, CompetitionState.STANDSTILL, doing="resuming the standstill")
    if competition.standstill_paused_at is None or competition.standstill_ends_at is None:
        raise Conflict("The standstill is not paused")
    before = competition_snapshot(competition)
    competition.standstill_ends_at = resumed_standstill_end(competition.standstill_ends_at,
                                                            competition.standstill_paused_at, now)
    competition.standstill_paused_at = None
    competition.updated_at = now
    notice = await notice_of(session, competition.id or 0)
    if notice is not None:
        notice.standstill_ends_at = competition.standstill_ends_at
    await audit_competition(session, actor_of(user), "standstill_resumed", competition, now, before,
                            {**competition_snapshot(competition), "reason_was": competition.standstill_pause_reason})
    await session.commit()
    return competition


# --- confirming the award: funds, contract, milestones ---------------------------------------------------


async def award_value(session: AsyncSession, competition: Competition) -> tuple[Bid, int]:
    """The winning bid and what the buyer pays under it (price plus VAT), which funds and milestones add up to."""
    bid = await session.get(Bid, competition.winning_bid_id) if competition.winning_bid_id else None
    if bid is None:
        raise Conflict("No award has been decided")
    return bid, (bid.price_pence or 0) + (bid.vat_pence or 0)


async def _require_winner_may_be_awarded(session: AsyncSession, competition: Competition, bid: Bid, now: datetime,
                                         actor: Actor) -> None:
    """A8/C7: a winner suspended, removed or debarred since the decision cannot have the award confirmed: its bid
    is excluded with the reason, the decision is withdrawn and every bidder told (committed), and the award moves
    to the next-ranked bid once the buyer confirms the new decision."""
    reason = (await reasons_cannot_take_part(session, competition, [bid.organisation_id], now)).get(
        bid.organisation_id)
    if reason is None:
        return
    why = f"{reason[:1].upper()}{reason[1:]}"
    await exclude_bid(session, competition, bid, why, now, actor=actor, stage="award_confirmation")
    await withdraw_award(session, competition, reason=f"The bidder can no longer take part: {reason}", actor=actor,
                         now=now)
    await session.commit()
    raise Conflict(f"The award cannot be confirmed: the supplier selected can no longer take part ({reason}). Its "
                   "bid has been excluded and every bidder told. Confirm the new award decision: it goes to the "
                   "next-ranked bid.")


# Award confirmations a process runs at once. Awards drawing on the same fund allocations commit one after another
# at the allocations' rows, each holding them from its last statement to its commit; in a process running many
# confirmations at once, the holder waits for its turn on the event loop behind the others' work, and every award
# waits that much longer. Two at a time keep the wait short (the benchmark's 40 at once: twice as many a second);
# the others queue here before they touch the database.
CONFIRMATIONS_AT_ONCE = 2
_confirmation_gates: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = (
    weakref.WeakKeyDictionary())


def _confirmation_gate() -> asyncio.Semaphore:
    loop = asyncio.get_running_loop()  # one gate an event loop: a semaphore belongs to the loop it waits on
    gate = _confirmation_gates.get(loop)
    if gate is None:
        gate = _confirmation_gates[loop] = asyncio.Semaphore(CONFIRMATIONS_AT_ONCE)
    return gate


async def confirm_award(session: AsyncSession, user: SignedInUser, competition_id: int, *,
                        fund_lines: Sequence[FundLine], milestones: Sequence[Milestone], now: datetime,
                        fund_line_fields: Sequence[str] | None = None) -> Contract:
    """After standstill: commit the award value to the fund allocations (dps.funds.services.check_commitment and
    write_commitment) and create the contract with its milestones (dps.contracts.services.add_contract), all in one
    transaction. If any allocation would go negative nothing changes at all."""
    # A caller whose transaction is open may hold what a confirmation inside the gate needs (SQLite's write lock): it
    # must not wait at the gate.
    async with contextlib.nullcontext() if session.in_transaction() else _confirmation_gate():
        return await _confirm_award(session, user, competition_id, fund_lines=fund_lines, milestones=milestones,
                                    now=now, fund_line_fields=fund_line_fields)


@functools.cache
def _confirmation_query() -> Any:
    """The competition (locked), its notice, its category's agreement, its winning bid and its buyer, in one query:
    built once, since a confirmation's statements are most of its cost."""
    return (sa.select(Competition, AwardNotice, Category, Agreement, Bid, Organisation)
            .join(Category, col(Category.id) == Competition.category_id)
            .join(Agreement, col(Agreement.id) == Category.agreement_id)
            .join(Organisation, col(Organisation.id) == Competition.buyer_organisation_id)
            .outerjoin(AwardNotice, col(AwardNotice.competition_id) == Competition.id)
            .outerjoin(Bid, col(Bid.id) == Competition.winning_bid_id)
            .where(col(Competition.id) == sa.bindparam("competition_id"),
                   col(Competition.buyer_organisation_id).in_(sa.bindparam("buyer_ids", expanding=True)))
            .with_for_update(of=Competition))


@dataclass(frozen=True)
class _Confirming:
    competition: Competition
    notice: AwardNotice | None
    agreement: Agreement
    # Held, not read: the session's identity map keeps an object only while something refers to it, and the fund
    # check and the exclusion check find these there instead of asking the database again.
    loaded: tuple[Any, ...]


async def _confirmation_of(session: AsyncSession, user: SignedInUser, competition_id: int,
                           now: datetime) -> _Confirming:
    """What confirming reads before it decides, for a buyer of the running organisation (NotFound otherwise). The
    winning bid and the buyer's organisation are left in the session, where `award_value` and the fund check find
    them without another query."""
    row = (await session.execute(_confirmation_query(), {
        "competition_id": competition_id, "buyer_ids": sorted(buyer_organisation_ids(user))})).first()
    if row is None:
        raise NotFound("There is no such competition")
    competition, notice, category, agreement, bid, buyer = row
    if is_due_to_close(competition.state, competition.tender_deadline, now):
        # Closing is done (and said) where every loader does it; the state check then refuses.
        competition = await competition_for_buyer(session, user, competition_id, now, for_update=True)
    return _Confirming(competition, notice, agreement, loaded=(category, bid, buyer))


async def _confirm_award(session: AsyncSession, user: SignedInUser, competition_id: int, *,
                         fund_lines: Sequence[FundLine], milestones: Sequence[Milestone], now: datetime,
                         fund_line_fields: Sequence[str] | None) -> Contract:
    confirming = await _confirmation_of(session, user, competition_id, now)
    competition, notice, agreement = confirming.competition, confirming.notice, confirming.agreement
    require_state(competition, CompetitionState.STANDSTILL, doing="confirming the award")
    if competition.standstill_paused_at is not None:
        raise Conflict("The standstill is paused because of a challenge: resume it before confirming the award")
    if standstill_starts_with_notice(agreement.regime) and (notice is None or notice.published_at is None):
        raise Conflict("The contract award notice has not been published, so the contract cannot be entered into. "
                       "Publish the notice from the competition's page: the standstill starts on the day it is "
                       "published.")
    if not can_confirm_award(now, competition.standstill_ends_at, False):
        ends = competition.standstill_ends_at
        raise Conflict(f"The standstill period ends at {describe_period_end(ends) if ends else 'a date not set'}: "
                       "the award can be confirmed after that")
    bid, total = await award_value(session, competition)
    await _require_winner_may_be_awarded(session, competition, bid, now, actor_of(user))
    check_fund_split(fund_lines, total)
    check_milestones(milestones, total)
    actor = actor_of(user)
    lines = [(line.allocation_id, line.pence) for line in fund_lines]
    try:
        # Everything read first: the fund rules and the allocations' money as last committed (so an award the money
        # no longer covers is refused before anything is written), and who is told of the contract. The writes then
        # go out in two flushes and the allocations' UPDATE, just before the commit.
        plan = await check_commitment(session, buyer_org_id=competition.buyer_organisation_id,
                                      category_id=competition.category_id, lines=lines, total_pence=total,
                                      reference=f"competition:{competition.id}", now=now,
                                      fields=fund_line_fields, reference_new_by_construction=True) if lines else None
        supplier_emails = await active_member_emails(session, bid.organisation_id)
        contract = add_contract(
            session, competition_id=competition.id or 0, bid_id=bid.id or 0,
            buyer_organisation_id=competition.buyer_organisation_id, supplier_organisation_id=bid.organisation_id,
            title=competition.title, value_pence=bid.price_pence or 0, vat_pence=bid.vat_pence or 0,
            starts_on=competition.contract_starts_on, ends_on=competition.contract_ends_on, fund_lines=lines,
            milestones=milestones, actor=actor, now=now)
        commitment = None
        if plan is not None:
            commitment = plan.commitment(actor, now)
            session.add(commitment)
        await session.flush()  # the contract's and the commitment's ids, which the rest refers to
        await add_milestones(session, contract, milestones, actor=actor, now=now)
        before = competition_snapshot(competition)
        competition.state = next_competition_state(competition.state, CompetitionEvent.CONFIRM_AWARD)
        competition.awarded_at, competition.updated_at = now, now
        if notice is not None:
            notice.contract_id, notice.contract_created_at = contract.id, now
            notice.publish_by = award_notice_due(now)
            # C9: published at once when nothing more is needed from the buyer; otherwise the buyer is reminded.
            await publish_contract_notice_if_ready(session, notice, competition, actor, now)
        await audit_competition(session, actor, "awarded", competition, now, before,
                                {**competition_snapshot(competition), "contract_id": contract.id,
                                 "value_pence": contract.value_pence, "vat_pence": contract.vat_pence,
                                 "fund_lines": contract.fund_lines,
                                 "milestones": [{"title": m.title, "due_on": m.due_on, "pence": m.amount_pence}
                                                for m in milestones]})
        await email_organisation(session, bid.organisation_id, now, f"competition:{competition.id}:contract",
                                 f"Contract awarded: {competition.title}",
                                 f"The standstill period has ended and the contract for {competition.title} is "
                                 f"awarded to your organisation: {format_pence(total)} including VAT, from "
                                 f"{competition.contract_starts_on:%-d %B %Y} to "
                                 f"{competition.contract_ends_on:%-d %B %Y}.\n\nSee the contract and its "
                                 f"milestones:\n{page_link(f'/supplier/contracts/{contract.id}')}\n",
                                 recipients=supplier_emails)
        # Last, just before the commit: the allocations' rows stay locked from here to the commit, and awards that
        # share an allocation wait on each other only for that moment, not for the whole award.
        if plan is not None and commitment is not None:
            await write_commitment(session, plan, commitment, actor=actor, now=now,
                                   caller_rolls_back_on_refusal=True)
        await session.commit()
    except DomainError:
        await session.rollback()
        raise
    return contract
