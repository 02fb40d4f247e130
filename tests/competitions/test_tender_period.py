"""C2, the minimum tender period as buyers meet it: whole London days from the day after publication, a floor that
no agreement setting goes below, and a shorter period only under PCR 2015 with every invited supplier's recorded
agreement (reg 34(12)). The clock stands at 09:00 on Monday 5 January 2026 (London keeps UTC in winter)."""

from __future__ import annotations

from datetime import datetime

import pytest
import sqlalchemy as sa

from dps import reference
from dps.agreements.models import Agreement
from dps.audit.models import AuditEvent
from dps.competitions.models import Competition, CompetitionInvitation
from dps.errors import ValidationFailed
from dps.reference import load_reference_data
from tests.competitions.support import Browser, competition_id_from
from tests.factories import competition_form, make_admission, make_competition_world
from tests.helpers import scalar

REGIMES = ["pcr2015_dps", "pa2023_dynamic_market"]


def deadlines(tender_day: str, tender_time: str = "12:00", clarification_day: str = "6",
              clarification_time: str = "12:00") -> dict[str, str]:
    return {"tender_deadline-day": tender_day, "tender_deadline-time": tender_time,
            "clarification_deadline-day": clarification_day, "clarification_deadline-time": clarification_time}


async def state_of(db, competition_id: int) -> str:
    return await scalar(db, sa.select(Competition.state).where(Competition.id == competition_id))


async def invitations(db, competition_id: int) -> int:
    return await scalar(db, sa.select(sa.func.count()).select_from(CompetitionInvitation).where(
        CompetitionInvitation.competition_id == competition_id))


@pytest.mark.parametrize("regime", REGIMES)
async def test_c2_publication_counts_whole_london_days_not_240_hours(client, db, passwords, clock, regime):
    world = await make_competition_world(db, passwords, clock, regime=regime)
    browser = Browser(client)
    buyer = world.buyer.email
    # 12:00 on Thu 15 January is more than 240 hours after 09:00 on Mon 5 January, but inside the 10th day.
    competition_id = competition_id_from(await browser.post(buyer, "/buyer/competitions",
                                                            competition_form(world, **deadlines("15"))))
    base = f"/buyer/competitions/{competition_id}"

    refused = await browser.post(buyer, f"{base}/publish")

    assert refused.status_code == 400
    assert ("The tender deadline must be at least 10 full days after the invitation: if you publish now, suppliers "
            "must be able to bid until the end of Thursday 15 January 2026, so the deadline can be no earlier than "
            "11:59pm on Thursday 15 January 2026.") in refused.text
    assert "(C2)" not in refused.text
    assert await state_of(db, competition_id) == "draft" and await invitations(db, competition_id) == 0
    # 14:00 on the 10th day (240 hours) is too early.
    assert (await browser.post(buyer, f"{base}/edit", competition_form(world, **deadlines("15", "14:00")))) \
        .status_code == 303
    assert (await browser.post(buyer, f"{base}/publish")).status_code == 400
    # The end of the 10th day, typed as 23:59 and stored as 23:59:59, is the earliest deadline.
    assert (await browser.post(buyer, f"{base}/edit", competition_form(world, **deadlines("15", "23:59")))) \
        .status_code == 303
    assert (await browser.post(buyer, f"{base}/publish")).status_code == 303
    assert await invitations(db, competition_id) == len(world.bidders)


@pytest.mark.parametrize("regime", REGIMES)
async def test_c2_an_agreement_setting_below_the_floor_cannot_open_a_short_tender(client, db, passwords, clock,
                                                                                  regime):
    world = await make_competition_world(db, passwords, clock, regime=regime)
    agreement = await scalar(db, sa.select(Agreement).where(Agreement.regime == regime))
    agreement.rule_settings = {**agreement.rule_settings, "minimum_tender_days": 0}  # written before it was checked
    await db.commit()
    browser = Browser(client)
    buyer = world.buyer.email
    one_hour = competition_form(world, **deadlines("5", "10:00", clarification_day="5", clarification_time="09:30"))
    competition_id = competition_id_from(await browser.post(buyer, "/buyer/competitions", one_hour))

    refused = await browser.post(buyer, f"/buyer/competitions/{competition_id}/publish")

    assert refused.status_code == 400
    assert "at least 10 full days after the invitation" in refused.text
    assert await state_of(db, competition_id) == "draft" and await invitations(db, competition_id) == 0
    lawful = competition_form(world, **deadlines("15", "23:59"))
    assert (await browser.post(buyer, f"/buyer/competitions/{competition_id}/edit", lawful)).status_code == 303
    assert (await browser.post(buyer, f"/buyer/competitions/{competition_id}/publish")).status_code == 303
    published = await scalar(db, sa.select(Competition).where(Competition.id == competition_id))
    assert published.minimum_tender_days == 10  # the floor, not the setting of 0


async def test_c2_reference_data_refuses_an_agreement_setting_below_the_floor(db, clock, monkeypatch):
    short = {"reference": "DPS-SHORT-2026", "name": "A DPS with a short tender period", "regime": "pcr2015_dps",
             "description": "", "starts_on": datetime(2026, 1, 1).date(), "ends_on": datetime(2027, 1, 1).date(),
             "rule_settings": {"minimum_tender_days": 3}}
    monkeypatch.setattr(reference, "AGREEMENTS", (*reference.AGREEMENTS, short))

    with pytest.raises(ValidationFailed) as refused:
        await load_reference_data(db, clock.now())
    await db.rollback()

    assert "cannot be shorter than 10 days" in str(refused.value)
    assert await scalar(db, sa.select(sa.func.count()).select_from(Agreement).where(
        Agreement.reference == "DPS-SHORT-2026")) == 0
    # A longer period is a lawful setting.
    monkeypatch.setattr(reference, "AGREEMENTS", (*reference.AGREEMENTS[:-1],
                                                   {**short, "rule_settings": {"minimum_tender_days": 14}}))
    await load_reference_data(db, clock.now())
    await db.commit()
    loaded = await scalar(db, sa.select(Agreement).where(Agreement.reference == "DPS-SHORT-2026"))
    assert loaded.rule_settings == {"minimum_tender_days": 14}


async def test_c2_a_shorter_period_needs_the_recorded_agreement_of_every_supplier_invited(
        client, db, passwords, clock, smtp_server, drain_outbox):
    world = await make_competition_world(db, passwords, clock, regime="pcr2015_dps")
    browser = Browser(client)
    buyer = world.buyer.email
    acme, bright, carewave = world.bidders
    # Bids due at 12:00 on Thursday 8 January: three days, not ten.
    competition_id = competition_id_from(await browser.post(buyer, "/buyer/competitions",
                                                            competition_form(world, **deadlines("8"))))
    base = f"/buyer/competitions/{competition_id}"
    assert "A shorter tender period, if every supplier agrees" in (await browser.get(buyer, base)).text
    page = await browser.get(buyer, f"{base}/shorter-period")
    assert page.status_code == 200
    assert page.text.count("Not recorded") == 3 and world.suspended.name not in page.text
    assert "earlier than the usual minimum" in page.text
    refused = await browser.post(buyer, f"{base}/publish")
    assert refused.status_code == 400 and "at least 10 full days" in refused.text

    record = f"{base}/shorter-period"
    no_evidence = await browser.post(buyer, record, {"organisation_id": str(acme.organisation.id), "evidence": " "})
    assert no_evidence.status_code == 400 and "Say how and when the supplier agreed" in no_evidence.text
    not_invited = await browser.post(buyer, record, {"organisation_id": str(world.suspended.organisation.id),
                                                     "evidence": "Phone call"})
    assert not_invited.status_code == 400 and f"Choose a supplier admitted to {world.category_name}" in not_invited.text
    for party in (acme, bright):
        assert (await browser.post(buyer, record, {"organisation_id": str(party.organisation.id),
                                                   "evidence": f"Email from {party.name}, 5 January 2026"})) \
            .status_code == 303

    two_of_three = await browser.post(buyer, f"{base}/publish")
    assert two_of_three.status_code == 400
    assert "2 of 3 have agreed to this deadline; not yet Carewave Digital Ltd" in two_of_three.text
    assert await state_of(db, competition_id) == "draft"

    assert (await browser.post(buyer, record, {"organisation_id": str(carewave.organisation.id),
                                               "evidence": "Letter of 5 January 2026"})).status_code == 303
    # A supplier admitted meanwhile would be invited too, and has not agreed.
    await make_admission(db, clock, organisation=world.outsider.organisation, category_id=world.category_id,
                         created_by=world.outsider.user)
    newcomer = await browser.post(buyer, f"{base}/publish")
    assert newcomer.status_code == 400 and f"3 of 4 have agreed to this deadline; not yet {world.outsider.name}" \
        in newcomer.text
    assert (await browser.post(buyer, record, {"organisation_id": str(world.outsider.organisation.id),
                                               "evidence": "Email, 5 January 2026"})).status_code == 303

    assert (await browser.post(buyer, f"{base}/publish")).status_code == 303
    assert await invitations(db, competition_id) == 4
    recorded = await scalar(db, sa.select(sa.func.count()).select_from(AuditEvent).where(
        AuditEvent.action == "competition.shorter_period_agreed", AuditEvent.entity_id == str(competition_id)))
    assert recorded == 4
    late = await browser.post(buyer, record, {"organisation_id": str(acme.organisation.id), "evidence": "Again"})
    assert late.status_code == 409 and "recorded before publication" in late.text

    await drain_outbox()
    told = {m["To"]: m.get_content() for m in smtp_server.messages
            if m["Subject"].startswith("Your agreement to a shorter tender period")}
    assert set(told) == {acme.email, bright.email, carewave.email, world.outsider.email}
    assert "Email from Acme Health Ltd, 5 January 2026" in told[acme.email]
    assert "12pm on 8 January 2026" in told[acme.email] and "If your organisation did not agree" in told[acme.email]


async def test_c2_an_agreement_covers_the_deadline_agreed_or_a_later_one(client, db, passwords, clock):
    world = await make_competition_world(db, passwords, clock, regime="pcr2015_dps")
    browser = Browser(client)
    buyer = world.buyer.email
    competition_id = competition_id_from(await browser.post(buyer, "/buyer/competitions",
                                                            competition_form(world, **deadlines("9"))))
    base = f"/buyer/competitions/{competition_id}"
    for party in world.bidders:
        assert (await browser.post(buyer, f"{base}/shorter-period", {
            "organisation_id": str(party.organisation.id), "evidence": "Email"})).status_code == 303

    assert (await browser.post(buyer, f"{base}/edit", competition_form(world, **deadlines("8")))).status_code == 303
    earlier = await browser.post(buyer, f"{base}/publish")
    assert earlier.status_code == 400 and "at least 10 full days" in earlier.text
    assert (await browser.get(buyer, f"{base}/shorter-period")).text.count("Agreed only to a later deadline") == 3

    assert (await browser.post(buyer, f"{base}/edit", competition_form(world, **deadlines("10")))).status_code == 303
    assert (await browser.post(buyer, f"{base}/publish")).status_code == 303


async def test_c2_a_dynamic_market_has_no_shorter_period_by_agreement(client, db, passwords, clock):
    world = await make_competition_world(db, passwords, clock, regime="pa2023_dynamic_market")
    browser = Browser(client)
    buyer = world.buyer.email
    competition_id = competition_id_from(await browser.post(buyer, "/buyer/competitions",
                                                            competition_form(world, **deadlines("8"))))
    base = f"/buyer/competitions/{competition_id}"
    assert "shorter tender period" not in (await browser.get(buyer, base)).text
    assert "cannot be shortened, even if suppliers agree" in (await browser.get(buyer, f"{base}/shorter-period")).text

    refused = await browser.post(buyer, f"{base}/shorter-period", {
        "organisation_id": str(world.bidders[0].organisation.id), "evidence": "Email"})

    assert refused.status_code == 400
    assert "A dynamic market under the Procurement Act 2023 cannot have a shorter tender period" in refused.text
    assert (await browser.post(buyer, f"{base}/publish")).status_code == 400
    assert await state_of(db, competition_id) == "draft"
