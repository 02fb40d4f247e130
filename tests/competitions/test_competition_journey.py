"""A competition driven through every state over HTTP, on SQLite and PostgreSQL, under both regimes:
draft -> published -> closed -> evaluation -> award_decided -> standstill -> awarded (and cancelled elsewhere)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from dps.audit.models import AuditEvent
from dps.audit.services import verify_chain
from dps.competitions.models import (
    AwardNotice,
    Bid,
    Competition,
    CompetitionInvitation,
    OutcomeLetter,
)
from dps.competitions.rules import CLOSING_GRACE
from dps.contracts.models import Contract, ContractMilestone
from dps.funds.models import Allocation
from tests.competitions.support import Browser, bid_form, competition_id_from
from tests.factories import BID_ANSWERS, competition_form, make_allocation, make_competition_world, make_fund
from tests.helpers import scalar, seal_audit_log

# Standstill started Tue 20 Jan 2026 10:00 (PCR: the outcome letters; PA 2023: the contract award notice): PCR day 10
# is Fri 30 Jan; PA 2023 day 8 (day 1 = 20 Jan) is Thu 29 Jan. Each ends at midnight at the end of its last day.
STANDSTILL_STARTS = datetime(2026, 1, 20, 10, 0, tzinfo=UTC)
# The last second of the standstill's last day (London keeps UTC in January).
STANDSTILL_ENDS = {"pcr2015_dps": datetime(2026, 1, 30, 23, 59, 59, tzinfo=UTC),
                   "pa2023_dynamic_market": datetime(2026, 1, 29, 23, 59, 59, tzinfo=UTC)}
LAST_DAY = {"pcr2015_dps": "30 January 2026", "pa2023_dynamic_market": "29 January 2026"}


async def _fund_allocations(db, clock) -> tuple[int, int]:
    # The buyer is trust RX1, which belongs to the Nottingham and Nottinghamshire ICB (RULES.md 5).
    fund = await make_fund(db, clock, name="Medtech fund for ICSs", description="")
    small = await make_allocation(db, clock, fund=fund, ods="QT1", pounds=50_000, budget="revenue")
    large = await make_allocation(db, clock, fund=fund, ods="QT1", pounds=1_000_000, budget="capital")
    return small, large


@pytest.mark.parametrize("regime", ["pcr2015_dps", "pa2023_dynamic_market"])
async def test_a_competition_from_requirement_to_signed_contract(client, db, passwords, clock, smtp_server, regime,
                                                                 drain_outbox):
    world = await make_competition_world(db, passwords, clock, regime=regime)
    small_allocation, large_allocation = await _fund_allocations(db, clock)
    browser = Browser(client)
    buyer, (eva, evan) = world.buyer.email, world.evaluators
    acme, bright, carewave = world.bidders

    # --- draft: C4 refused, then saved with an intended fund line -------------------------------------------
    short_of_c4 = await browser.post(buyer, "/buyer/competitions", competition_form(
        world, **{"q1-weight": "51", "q2-weight": "5", "q3-weight": "4"}))
    assert short_of_c4.status_code == 400
    assert "at least 10% of the total weight together: they carry 9%" in short_of_c4.text
    assert "Remote monitoring for 200 virtual ward beds" in short_of_c4.text  # what was typed is kept
    too_soon = competition_form(world, **{"tender_deadline-day": "14", "fund-1-allocation": str(large_allocation),
                                          "fund-1-amount": "200,000"})
    competition_id = competition_id_from(await browser.post(buyer, "/buyer/competitions", too_soon))
    base = f"/buyer/competitions/{competition_id}"
    page = await browser.get(buyer, base)
    assert "Draft" in page.text and "£250,000.00 excluding VAT" in page.text

    # --- publish: C2 refused short of 10 full days, then every active admitted supplier invited (C1) ---------
    refused = await browser.post(buyer, f"{base}/publish")
    assert refused.status_code == 400
    assert "at least 10 full days after the invitation" in refused.text
    assert "no earlier than 11:59pm on Thursday 15 January 2026" in refused.text
    assert (await browser.post(buyer, f"{base}/edit", competition_form(
        world, **{"fund-1-allocation": str(large_allocation), "fund-1-amount": "200,000"}))).status_code == 303
    assert (await browser.post(buyer, f"{base}/publish")).status_code == 303
    invited = set((await db.scalars(sa.select(CompetitionInvitation.organisation_name).where(
        CompetitionInvitation.competition_id == competition_id))).all())
    await db.commit()
    assert invited == {p.name for p in world.bidders}  # not the suspended supplier, not another category's
    # C3: the weights cannot change after publication; wording can be made more precise.
    assert (await browser.post(buyer, f"{base}/edit", competition_form(world))).status_code == 409
    clearer = await browser.post(buyer, f"{base}/criteria/q1", {
        "q1-title": "Clinical outcomes", "q1-question": "How will outcomes improve? Give readmission data."})
    assert clearer.status_code == 303

    await drain_outbox()
    invitations = [m for m in smtp_server.messages if m["Subject"].startswith("Invitation to bid")]
    assert sorted(m["To"] for m in invitations) == sorted(p.email for p in world.bidders)

    # --- access: only invited suppliers, only the running buyer ---------------------------------------------
    for outsider in (world.suspended.email, world.outsider.email):
        assert (await browser.get(outsider, f"/supplier/competitions/{competition_id}")).status_code == 404
        assert "Remote monitoring" not in (await browser.get(outsider, "/supplier/competitions")).text
    assert (await browser.get(world.other_buyer.email, base)).status_code == 404
    inbox = await browser.get(acme.email, "/supplier/competitions")
    assert "Remote monitoring for 200 virtual ward beds" in inbox.text and "Open for bids" in inbox.text
    requirement = await browser.get(acme.email, f"/supplier/competitions/{competition_id}")
    assert "Give readmission data." in requirement.text

    # --- clarifications (C6) -----------------------------------------------------------------------------
    asked = await browser.post(acme.email, f"/supplier/competitions/{competition_id}/questions",
                               {"question": "Acme asks: must the system integrate with EPIC?"})
    assert asked.status_code == 303
    clarifications = await browser.get(buyer, f"{base}/clarifications")
    assert "must the system integrate with EPIC?" in clarifications.text and acme.name not in clarifications.text
    clarification_id = int(clarifications.text.split(f"{base}/clarifications/")[1].split('"')[0])
    answered = await browser.post(buyer, f"{base}/clarifications/{clarification_id}", {
        f"question-{clarification_id}": "Must the system integrate with EPIC?",
        f"answer-{clarification_id}": "Yes, through FHIR R4."})
    assert answered.status_code == 303
    seen_by_other = await browser.get(carewave.email, f"/supplier/competitions/{competition_id}")
    assert "Must the system integrate with EPIC?" in seen_by_other.text
    assert "Yes, through FHIR R4." in seen_by_other.text
    assert "Acme" not in seen_by_other.text

    # --- bids: draft, submit, revise, withdraw; word limits -------------------------------------------------
    bid_path = f"/supplier/competitions/{competition_id}/bid"
    draft = await browser.post(acme.email, bid_path, bid_form("90,000", action="save"))
    assert draft.status_code == 200 and "Your draft was saved" in draft.text
    assert "Words so far" not in draft.text and 'data-maxwords="20"' in draft.text  # the live count is the only one
    long_draft = await browser.post(acme.email, bid_path, bid_form("90,000", q1="word " * 21, action="save"))
    assert long_draft.status_code == 200 and "Your draft was saved" in long_draft.text
    assert "cannot be submitted yet" in long_draft.text and "has 21 words: the limit is 20" in long_draft.text
    assert "There is a problem" not in long_draft.text and "nhsuk-error-message" not in long_draft.text
    assert "word " * 20 in long_draft.text  # what was typed is kept
    too_long = await browser.post(acme.email, bid_path, bid_form("90,000", q1="word " * 21))
    assert too_long.status_code == 400 and "has 21 words: the limit is 20" in too_long.text
    assert (await browser.post(acme.email, bid_path, bid_form("90,000", "18,000"))).status_code == 303
    assert (await browser.post(bright.email, bid_path, bid_form("120,000", q1="Good outcomes."))).status_code == 303
    revised = await browser.post(bright.email, bid_path, bid_form("100,000", "20,000", q1="Better outcomes."))
    assert revised.status_code == 303
    assert (await browser.post(carewave.email, bid_path, bid_form("80,000"))).status_code == 303
    assert (await browser.post(carewave.email, f"{bid_path}/withdraw")).status_code == 303
    mine = await browser.get(bright.email, f"/supplier/competitions/{competition_id}")
    assert "version 2" in mine.text and "Revise your bid" in mine.text

    # --- the deadline: judged by server time; the competition closes by itself ------------------------------
    clock.set(datetime(2026, 1, 16, 12, 0, tzinfo=UTC))
    late = await browser.post(carewave.email, bid_path, bid_form("70,000"))
    assert late.status_code == 409
    assert "The tender deadline passed at 16 January 2026 12:00:00" in late.text
    clock.advance(CLOSING_GRACE)  # it closes once the bids received in time can all have been stored
    overview = await browser.get(buyer, base)
    assert "Closed for bids" in overview.text
    assert "Bids received" in overview.text and ">2<" in overview.text.replace(" ", "").replace("\n", "")
    assert all(p.name in overview.text for p in world.bidders)  # the invited list is shown once unsealed

    # --- evaluation: declarations, independent scores, moderation ------------------------------------------
    assert (await browser.post(buyer, f"{base}/evaluation/start")).status_code == 303
    bids = {bid.organisation_id: bid for bid in (await db.scalars(sa.select(Bid).where(
        Bid.competition_id == competition_id, Bid.state == "submitted"))).all()}
    await db.commit()
    acme_bid, bright_bid = bids[acme.organisation.id].id, bids[bright.organisation.id].id
    not_declared = await browser.post(eva.email, f"{base}/bids/{acme_bid}/scores/q1",
                                      {f"score-{acme_bid}-q1": "4", f"justification-{acme_bid}-q1": "Strong"})
    assert not_declared.status_code == 409 and "Declare that you have no conflict" in not_declared.text
    for evaluator in (eva, evan):
        page = await browser.get(evaluator.email, f"{base}/evaluation")
        assert acme.name in page.text and BID_ANSWERS["q1"] not in page.text  # no answers before the declaration
        assert (await browser.post(evaluator.email, f"{base}/evaluation/declaration",
                                   {"conflict": "no"})).status_code == 303
    scores = {eva.email: {acme_bid: (4, 5, 8), bright_bid: (3, 3, 6)},
              evan.email: {acme_bid: (5, 4, 8), bright_bid: (3, 4, 6)}}
    for email, by_bid in scores.items():
        for bid_id, values in by_bid.items():
            for key, value in zip(("q1", "q2", "q3"), values, strict=True):
                response = await browser.post(email, f"{base}/bids/{bid_id}/scores/{key}", {
                    f"score-{bid_id}-{key}": str(value), f"justification-{bid_id}-{key}": f"{email} reasons {key}"})
                assert response.status_code == 303, response.text[-2000:]
        if email == eva.email:
            early = await browser.post(buyer, f"{base}/bids/{acme_bid}/moderation/q1",
                                       {f"moderated-{acme_bid}-q1": "4", f"rationale-{acme_bid}-q1": "Agreed"})
            assert early.status_code == 409  # evan has not scored yet
            own_page = await browser.get(eva.email, f"{base}/evaluation")
            assert "eva@trust.example.nhs.uk reasons q1" in own_page.text
            assert "evan@trust.example.nhs.uk reasons" not in own_page.text
    moderation = await browser.get(buyer, f"{base}/moderation")
    assert "evan@trust.example.nhs.uk reasons q2" in moderation.text
    consensus = {acme_bid: (4, 5, 8), bright_bid: (3, 4, 6)}
    for bid_id, values in consensus.items():
        for key, value in zip(("q1", "q2", "q3"), values, strict=True):
            response = await browser.post(buyer, f"{base}/bids/{bid_id}/moderation/{key}", {
                f"moderated-{bid_id}-{key}": str(value), f"rationale-{bid_id}-{key}": "Consensus reached"})
            assert response.status_code == 303, response.text[-2000:]

    # --- ranking and award decision (C7) -------------------------------------------------------------------
    # Acme: price 40 x 90/90 = 40; q1 45 x 4/5 = 36; q2 10 x 5/5 = 10; q3 5 x 8/10 = 4 -> 90.00
    # Bright: price 40 x 90/100 = 36; q1 27; q2 8; q3 3 -> 74.00
    ranking = await browser.get(buyer, f"{base}/ranking")
    assert "90.00" in ranking.text and "74.00" in ranking.text
    assert ranking.text.index(acme.name) < ranking.text.index(bright.name)
    assert "the bid with the higher quality score ranks higher" in ranking.text  # the published tie-break
    assert 'name="bid_id"' not in ranking.text  # no choice of bidder: the ranking decides (C7)
    no_reason = await browser.post(buyer, f"{base}/award", {"reasons": " "})
    assert no_reason.status_code == 400 and "Give the reasons for the decision" in no_reason.text
    decided = await browser.post(buyer, f"{base}/award", {
        "bid_id": str(bright_bid), "reasons": "Highest total score on the published criteria."})
    assert decided.status_code == 303
    winner = await scalar(db, sa.select(Competition.winning_bid_id).where(Competition.id == competition_id))
    assert winner == acme_bid  # a bid id sent in the form is ignored: the first-ranked bid wins
    letters_page = await browser.get(buyer, f"{base}/letters")
    assert "Not sent yet" in letters_page.text

    # --- standstill (C8) with a pause for a challenge -------------------------------------------------------
    # PCR 2015: the outcome letters start it. PA 2023: publishing the contract award notice starts it and sends
    # the letters at the same moment.
    clock.set(STANDSTILL_STARTS)
    decided_page = await browser.get(buyer, base)
    if regime == "pa2023_dynamic_market":
        assert "Publish the contract award notice" in decided_page.text
        assert f"published now, it ends at midnight at the end of {LAST_DAY[regime]}" in decided_page.text
        assert "Send the outcome letters" not in decided_page.text
        assert (await browser.post(buyer, f"{base}/award-notice")).status_code == 303
    else:
        assert "Send the outcome letters and start standstill" in decided_page.text
        assert "Publish the contract award notice" not in decided_page.text
        assert (await browser.post(buyer, f"{base}/award-notice")).status_code == 409
        assert (await browser.post(buyer, f"{base}/standstill")).status_code == 303
    competition = await scalar(db, sa.select(Competition).where(Competition.id == competition_id))
    assert competition.state == "standstill" and competition.standstill_ends_at == STANDSTILL_ENDS[regime]
    in_standstill = await browser.get(buyer, base)
    assert f"<strong>midnight at the end of {LAST_DAY[regime]}</strong>" in in_standstill.text
    await drain_outbox()
    outcomes = {m["To"]: m.get_content() for m in smtp_server.messages if m["Subject"].startswith("Outcome:")}
    assert set(outcomes) == {acme.email, bright.email}  # every bidder, not the one that withdrew
    assert "Your bid has been selected for award." in outcomes[acme.email]
    assert "Total: 74.00 out of 100 (rank 2 of 2)" in outcomes[bright.email]
    assert f"The scores of the successful bid ({acme.name})" in outcomes[bright.email]
    assert "Total: 90.00 out of 100 (rank 1 of 2)" in outcomes[bright.email]
    supplier_page = await browser.get(bright.email, f"/supplier/competitions/{competition_id}")
    assert "Your bid has not been successful" in supplier_page.text

    early_confirm = await browser.post(buyer, f"{base}/confirm", {})
    assert early_confirm.status_code == 409 and "The standstill period ends at" in early_confirm.text
    clock.set(STANDSTILL_ENDS[regime] - timedelta(days=2))
    assert (await browser.post(buyer, f"{base}/standstill/pause",
                               {"reason": "Brightwell has challenged the decision"})).status_code == 303
    clock.advance(timedelta(days=3))
    paused = await browser.post(buyer, f"{base}/confirm", {})
    assert paused.status_code == 409 and "paused" in paused.text
    assert (await browser.post(buyer, f"{base}/standstill/resume")).status_code == 303
    resumed_end = await scalar(db, sa.select(Competition.standstill_ends_at).where(Competition.id == competition_id))
    assert resumed_end == STANDSTILL_ENDS[regime] + timedelta(days=3)  # it keeps the two days it had left
    assert re.search(r">\s*Standstill\s*<", (await browser.get(buyer, base)).text)
    clock.set(resumed_end + timedelta(seconds=1))
    # Nobody has acted since, but the clock has: the status says the standstill has ended.
    assert re.search(r">\s*Standstill ended\s*<", (await browser.get(buyer, base)).text)
    assert re.search(r">\s*Standstill ended\s*<", (await browser.get(buyer, "/buyer/competitions")).text)

    # --- confirming the award: funds committed atomically, contract with milestones -------------------------
    confirm_page = await browser.get(buyer, f"{base}/confirm")
    assert confirm_page.status_code == 200 and "£108,000.00" in confirm_page.text  # 90,000 + 18,000 VAT
    form = {"fund-1-allocation": str(small_allocation), "fund-1-amount": "60,000",
            "fund-2-allocation": str(large_allocation), "fund-2-amount": "48,000",
            "milestone-1-title": "Go live", "milestone-1-due-day": "1", "milestone-1-due-month": "4",
            "milestone-1-due-year": "2026", "milestone-1-amount": "54,000",
            "milestone-2-title": "Year end", "milestone-2-due-day": "31", "milestone-2-due-month": "3",
            "milestone-2-due-year": "2027", "milestone-2-amount": "54,000"}
    short = await browser.post(buyer, f"{base}/confirm", form)
    assert short.status_code == 400 and "£10,000.00 short" in short.text
    assert (await scalar(db, sa.select(Competition.state).where(Competition.id == competition_id))) == "standstill"
    assert await scalar(db, sa.select(sa.func.count()).select_from(Contract)) == 0
    assert await scalar(db, sa.select(sa.func.sum(Allocation.committed_pence))) == 0
    form.update({"fund-1-amount": "50,000", "fund-2-amount": "58,000"})
    assert (await browser.post(buyer, f"{base}/confirm", form)).status_code == 303
    contract = await scalar(db, sa.select(Contract).where(Contract.competition_id == competition_id))
    assert (contract.value_pence, contract.vat_pence, contract.supplier_organisation_id) == \
        (90_000_00, 18_000_00, acme.organisation.id)
    milestones = (await db.scalars(sa.select(ContractMilestone.amount_pence).where(
        ContractMilestone.contract_id == contract.id))).all()
    await db.commit()
    assert sum(milestones) == 108_000_00
    committed = dict((await db.execute(sa.select(Allocation.id, Allocation.committed_pence))).all())
    await db.commit()
    assert committed == {small_allocation: 50_000_00, large_allocation: 58_000_00}
    notice = await scalar(db, sa.select(AwardNotice).where(AwardNotice.competition_id == competition_id))
    assert notice.contracts_finder_required and notice.value_incl_vat_pence == 108_000_00
    assert notice.regime == regime and notice.contract_id == contract.id and notice.bids_received == 2
    assert notice.publish_by == clock.now() + timedelta(days=30)
    # C9: nothing more was needed from the buyer, so the notice that follows the contract was published with it.
    assert notice.contract_notice_published_at == clock.now()
    assert notice.published_at == (STANDSTILL_STARTS if regime == "pa2023_dynamic_market" else clock.now())
    final = await browser.get(buyer, base)
    assert "Awarded" in final.text and "Go live" in final.text and "Cancel the competition" not in final.text
    assert (await browser.post(buyer, f"{base}/cancel", {"reason": "Too late"})).status_code == 409
    assert "Contract awarded to your organisation" in (await browser.get(
        acme.email, f"/supplier/competitions/{competition_id}")).text

    # --- every step audited, the chain intact -------------------------------------------------------------
    actions = set((await db.scalars(sa.select(AuditEvent.action).where(
        AuditEvent.entity_type == "competition", AuditEvent.entity_id == str(competition_id)))).all())
    await db.commit()
    started = ("competition.award_notice_published" if regime == "pa2023_dynamic_market"
               else "competition.standstill_started")
    assert {"competition.created", "competition.published", "competition.closed", "competition.evaluation_started",
            "competition.award_decided", started, "competition.standstill_paused",
            "competition.standstill_resumed", "competition.awarded", "competition.criterion_refined",
            "competition.interest_declared", "competition.contract_notice_published"} <= actions
    await seal_audit_log(db, clock.now())
    assert await verify_chain(db) is None
    await db.commit()
    letters = (await db.scalars(sa.select(OutcomeLetter).where(OutcomeLetter.competition_id == competition_id))).all()
    await db.commit()
    assert len(letters) == 2 and all(letter.sent_at == STANDSTILL_STARTS for letter in letters)
