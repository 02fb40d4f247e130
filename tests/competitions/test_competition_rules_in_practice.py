"""The competition rules as people meet them: cancelling, closing by itself, who is invited, who may see and do
what, conflicts of interest, awarding below the top with a reason, and the deadlines for questions and bids."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa

from dps.admission.models import Admission
from dps.audit.models import AuditEvent
from dps.competitions.models import Competition, CompetitionInvitation, OutcomeLetter
from dps.competitions.rules import CLOSING_GRACE
from dps.competitions.services import awarding, evaluating
from dps.competitions.services.loading import close_due_competitions
from dps.db import make_engine, make_sessionmaker
from dps.identity.models import Role
from tests.competitions.support import Browser
from tests.factories import (
    competition_form,
    make_admission,
    make_bid,
    make_competition_world,
    make_published_competition,
    make_user,
    signed_in,
)
from tests.helpers import scalar
from tests.test_cli import run_dps

DEADLINE = datetime(2026, 1, 16, 12, 0, tzinfo=UTC)


async def test_cancelling_tells_everyone_invited_and_bids_stay_sealed(client, db, passwords, clock, smtp_server,
                                                                      drain_outbox):
    world = await make_competition_world(db, passwords, clock)
    competition_id = await make_published_competition(db, clock, world=world)
    acme = world.bidders[0]
    await make_bid(db, clock, party=acme, competition_id=competition_id, price_pence=90_000_00)
    browser = Browser(client)
    base = f"/buyer/competitions/{competition_id}"
    no_reason = await browser.post(world.buyer.email, f"{base}/cancel", {"reason": " "})
    assert no_reason.status_code == 400 and "Give the reason for cancelling the competition" in no_reason.text
    assert (await browser.post(world.buyer.email, f"{base}/cancel",
                               {"reason": "The service has been commissioned regionally"})).status_code == 303
    await drain_outbox()
    told = {m["To"]: m.get_content() for m in smtp_server.messages if m["Subject"].startswith("Competition cancelled")}
    assert set(told) == {p.email for p in world.bidders}
    assert all("The service has been commissioned regionally" in body for body in told.values())

    clock.set(DEADLINE)  # cancelled before its deadline: the bids are never opened
    page = await browser.get(world.buyer.email, base)
    assert "Cancelled" in page.text and acme.name not in page.text and "Bids received" not in page.text
    supplier_page = await browser.get(acme.email, f"/supplier/competitions/{competition_id}")
    assert "This competition has been cancelled" in supplier_page.text
    clock.set(datetime(2026, 1, 10, 12, 0, tzinfo=UTC))
    refused = await browser.post(acme.email, f"/supplier/competitions/{competition_id}/bid/withdraw")
    assert refused.status_code == 409 and "cancelled" in refused.text
    again = await browser.post(world.buyer.email, f"{base}/cancel", {"reason": "Again"})
    assert again.status_code == 409 and "A competition that is cancelled cannot be cancelled" in again.text


async def test_the_periodic_job_closes_due_competitions_and_tells_the_buyer(db, passwords, clock, settings, smtp_server,
                                                                            tmp_path, drain_outbox):
    world = await make_competition_world(db, passwords, clock)
    competition_id = await make_published_competition(db, clock, world=world)
    await make_bid(db, clock, party=world.bidders[0], competition_id=competition_id, price_pence=90_000_00)
    engine = make_engine(settings.database_url)
    sessions = make_sessionmaker(engine)
    try:
        assert await close_due_competitions(sessions, clock.now()) == 0
        clock.set(DEADLINE)  # bids received in time may still be being stored: not yet
        assert await close_due_competitions(sessions, clock.now()) == 0
        clock.set(DEADLINE + CLOSING_GRACE)
        assert await close_due_competitions(sessions, clock.now()) == 1
        assert await close_due_competitions(sessions, clock.now()) == 0  # idempotent
    finally:
        await engine.dispose()
    state, closed_at = (await db.execute(sa.select(Competition.state, Competition.closed_at).where(
        Competition.id == competition_id))).one()
    await db.commit()
    assert (state, closed_at) == ("closed", DEADLINE)
    await drain_outbox()
    # (A long subject is folded onto a continuation line; unfolding keeps the leading space.)
    closed = [m for m in smtp_server.messages if m["Subject"].strip().startswith("Bids are open for evaluation")]
    assert [m["To"] for m in closed] == [world.buyer.email] and "1 bid(s) were received" in closed[0].get_content()

    # `dps jobs run` (cron, when the web process does not run the jobs) closes them too, by the system clock.
    clock.set(datetime(2026, 1, 5, 9, 0, tzinfo=UTC))
    second = await make_published_competition(db, clock, world=world, title="Second competition")
    result = run_dps("jobs", "run", env={"DATABASE_URL": settings.database_url, "DPS_VAR_DIR": str(tmp_path)})
    assert result.returncode == 0, result.stderr
    assert "competitions closed: 1" in result.stdout
    assert (tmp_path / "ocds-bulk" / "2026.jsonl.gz").is_file()  # and rebuild the OCDS bulk files
    assert await scalar(db, sa.select(Competition.state).where(Competition.id == second)) == "closed"


async def test_who_is_invited_and_who_may_see_and_do_what(client, db, passwords, clock):
    world = await make_competition_world(db, passwords, clock)
    competition_id = await make_published_competition(db, clock, world=world)
    # After publication a newcomer is admitted and an invited supplier is suspended: the list stays as it was.
    await make_admission(db, clock, organisation=world.outsider.organisation, category_id=world.category_id,
                         created_by=world.outsider.user)
    carewave = world.bidders[2]
    admission = await scalar(db, sa.select(Admission).where(Admission.organisation_id == carewave.organisation.id))
    admission.state = "suspended"
    await db.commit()
    invited = (await db.scalars(sa.select(CompetitionInvitation.organisation_id).where(
        CompetitionInvitation.competition_id == competition_id))).all()
    await db.commit()
    assert sorted(invited) == sorted(p.organisation.id for p in world.bidders)
    browser = Browser(client)
    assert (await browser.get(world.outsider.email, f"/supplier/competitions/{competition_id}")).status_code == 404
    assert (await browser.get(carewave.email, f"/supplier/competitions/{competition_id}")).status_code == 200

    base = f"/buyer/competitions/{competition_id}"
    evaluator = world.evaluators[0].email
    assert (await browser.get(evaluator, base)).status_code == 200  # a chosen evaluator reads it
    assert (await browser.get(evaluator, "/buyer/competitions/new")).status_code == 403  # but only buyers create
    assert (await browser.post(evaluator, f"{base}/cancel", {"reason": "x"})).status_code == 403
    stranger = await make_user(db, passwords, clock, email="sam@trust.example.nhs.uk",
                               organisation=world.buyer.organisation, role=Role.EVALUATOR)
    assert (await browser.get(stranger.email, base)).status_code == 404  # not chosen for this one
    assert (await browser.get(stranger.email, f"{base}/evaluation")).status_code == 404
    assert (await browser.get(world.other_buyer.email, f"{base}/clarifications")).status_code == 404
    assert (await browser.get(world.bidders[0].email, base)).status_code == 403
    listing = await browser.get(evaluator, "/buyer/competitions")
    assert "Remote monitoring for 200 virtual ward beds" in listing.text
    assert "Remote monitoring" not in (await browser.get(world.other_buyer.email, "/buyer/competitions")).text


async def test_deadlines_for_questions_and_bids_an_empty_competition_and_nobody_to_invite(client, db, passwords,
                                                                                         clock):
    world = await make_competition_world(db, passwords, clock)
    competition_id = await make_published_competition(db, clock, world=world)
    browser = Browser(client)
    acme = world.bidders[0].email
    clock.set(datetime(2026, 1, 12, 12, 0, tzinfo=UTC))
    late_question = await browser.post(acme, f"/supplier/competitions/{competition_id}/questions", {"question": "Q?"})
    assert late_question.status_code == 409
    assert "The deadline for clarification questions passed at 12pm on 12 January 2026" in late_question.text
    clock.set(datetime(2026, 1, 16, 11, 59, 59, tzinfo=UTC))
    page = await browser.get(acme, f"/supplier/competitions/{competition_id}/bid")
    assert page.status_code == 200 and "Submit your bid" in page.text
    clock.set(DEADLINE)
    page = await browser.get(acme, f"/supplier/competitions/{competition_id}/bid")
    assert "Bids can no longer be changed" in page.text
    clock.set(DEADLINE + CLOSING_GRACE)
    refused = await browser.post(world.buyer.email, f"/buyer/competitions/{competition_id}/evaluation/start")
    assert refused.status_code == 409 and "No bids were received" in refused.text

    for party in world.bidders:
        admission = await scalar(db, sa.select(Admission).where(Admission.organisation_id == party.organisation.id))
        admission.state = "removed"
    await db.commit()
    unknown = await browser.post(world.buyer.email, "/buyer/competitions", competition_form(
        world, **{"fund-1-allocation": "999", "fund-1-amount": "1,000"}))
    assert unknown.status_code == 400
    assert "There is no allocation 999: choose one from the list of allocations open to" in unknown.text
    response = await browser.post(world.buyer.email, "/buyer/competitions", competition_form(
        world, **{"tender_deadline-day": "30", "clarification_deadline-day": "20"}))
    second = int(response.headers["location"].rsplit("/", 1)[1])
    nobody = await browser.post(world.buyer.email, f"/buyer/competitions/{second}/publish")
    assert nobody.status_code == 409 and "there is nobody to invite" in nobody.text
    assert await scalar(db, sa.select(Competition.state).where(Competition.id == second)) == "draft"


async def test_c7_a_conflicted_evaluator_stands_aside_and_the_award_moves_only_on_a_recorded_departure(
        client, db, passwords, clock, settings, smtp_server, drain_outbox):
    world = await make_competition_world(db, passwords, clock)
    competition_id = await make_published_competition(db, clock, world=world)
    acme, bright, _ = world.bidders
    acme_bid = await make_bid(db, clock, party=acme, competition_id=competition_id, price_pence=90_000_00)
    bright_bid = await make_bid(db, clock, party=bright, competition_id=competition_id, price_pence=100_000_00)
    clock.set(DEADLINE + CLOSING_GRACE)
    buyer = await signed_in(db, world.buyer.user)
    await evaluating.start_evaluation(db, buyer, competition_id, clock.now())
    browser = Browser(client)
    base = f"/buyer/competitions/{competition_id}"
    eva, evan = (e.email for e in world.evaluators)
    no_note = await browser.post(eva, f"{base}/evaluation/declaration", {"conflict": "yes"})
    assert no_note.status_code == 400 and "Describe the conflict of interest" in no_note.text
    assert (await browser.post(eva, f"{base}/evaluation/declaration",
                               {"conflict": "yes", "note": "I advised Acme in 2025"})).status_code == 303
    assert "You stand aside from this evaluation" in (await browser.get(eva, f"{base}/evaluation")).text
    barred = await browser.post(eva, f"{base}/bids/{acme_bid}/scores/q1",
                                {f"score-{acme_bid}-q1": "5", f"justification-{acme_bid}-q1": "x"})
    assert barred.status_code == 409 and "You declared a conflict of interest" in barred.text
    evan_user = await signed_in(db, world.evaluators[1])
    await evaluating.declare_interest(db, evan_user, competition_id, conflict=False, note="", now=clock.now())
    bad_score = await browser.post(evan, f"{base}/bids/{acme_bid}/scores/q1",
                                   {f"score-{acme_bid}-q1": "6", f"justification-{acme_bid}-q1": "x"})
    assert bad_score.status_code == 400 and "from 0 to 5" in bad_score.text
    for bid_id, values in ((acme_bid, (5, 5, 10)), (bright_bid, (2, 2, 4))):
        for key, value in zip(("q1", "q2", "q3"), values, strict=True):
            await evaluating.score_answer(db, evan_user, competition_id, bid_id, key, score=str(value),
                                          justification="Scored alone", now=clock.now())
            await evaluating.moderate(db, buyer, competition_id, bid_id, key, score=str(value), rationale="As scored",
                                      now=clock.now())
    moderation = await browser.get(world.buyer.email, f"{base}/moderation")
    assert "declared a conflict of interest and stands aside" in moderation.text
    lower = await browser.post(world.buyer.email, f"{base}/award", {
        "bid_id": str(bright_bid), "reasons": "Best overall value",
        "override_reason": "Acme cannot meet the go-live date confirmed at clarification"})
    assert lower.status_code == 303
    decision = await scalar(db, sa.select(AuditEvent.after).where(AuditEvent.action == "competition.award_decided"))
    assert "override_reason" not in decision  # no free-text override: the ranking decides
    assert (decision["winning_bid_id"], decision["top_ranked_bid_id"], decision["winning_rank"]) == \
        (acme_bid, acme_bid, 1)
    # A lawful departure: the first-ranked bidder fails a pre-contract check; recorded, told, the award moves on.
    no_reason = await browser.post(world.buyer.email, f"{base}/award/departure",
                                   {"departure": "failed_pre_contract_check", "reason": " "})
    assert no_reason.status_code == 400 and "Give the reason" in no_reason.text
    moved = await browser.post(world.buyer.email, f"{base}/award/departure", {
        "departure": "failed_pre_contract_check", "reason": "No evidence of the required insurance"})
    assert moved.status_code == 303
    ranking_page = await browser.get(world.buyer.email, f"{base}/ranking")
    assert "Excluded bids" in ranking_page.text
    assert "The bidder failed a pre-contract check: No evidence of the required insurance" in ranking_page.text
    await awarding.decide_award(db, buyer, competition_id, reasons="Next-ranked bid", now=clock.now())
    assert await scalar(db, sa.select(Competition.winning_bid_id).where(Competition.id == competition_id)) == \
        bright_bid
    await drain_outbox()
    told = {m["To"] for m in smtp_server.messages if m["Subject"].startswith("Award decision withdrawn")}
    assert told == {acme.email, bright.email}  # every bidder
    excluded = [m for m in smtp_server.messages if m["Subject"].startswith("Bid excluded:")]
    assert [m["To"] for m in excluded] == [acme.email]
    await awarding.start_standstill(db, buyer, competition_id, clock.now())
    letter = await scalar(db, sa.select(OutcomeLetter).where(OutcomeLetter.bid_id == bright_bid))
    assert letter.successful and letter.rank == 1
    assert await scalar(db, sa.select(sa.func.count()).select_from(OutcomeLetter).where(
        OutcomeLetter.bid_id == acme_bid)) == 0  # an excluded bid is not ranked
