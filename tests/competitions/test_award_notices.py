"""The award notice starts the clock (RULES C8, C9, C10), on SQLite and PostgreSQL.

- C8: under the Procurement Act 2023 the buyer publishes the contract award notice, which makes the award public and
  starts the standstill (day 1 = the publication day), with every bidder's assessment summary sent at that moment;
  no contract without it. Under PCR 2015 the outcome letters start 10 calendar days that end at midnight.
- C9: the notice due within 30 days of the contract is published as the contract is made, or the buyer is reminded
  and sees it overdue.
- C10: from £30,000 including VAT an award is on the public register from the moment its notice is published.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from dps.audit.models import AuditEvent
from dps.calendar import standstill_end
from dps.competitions.models import AwardNotice, Competition, OutcomeLetter
from dps.competitions.services import awarding
from dps.competitions.services.notices import OCDS_PUBLICATION_TOPIC
from dps.contracts.models import Contract
from dps.contracts.rules import default_milestones
from dps.db import make_engine, make_sessionmaker
from dps.errors import Conflict
from dps.mail import EMAIL_TOPIC
from dps.outbox.models import OutboxMessage
from dps.transparency import services as transparency
from dps.wiring import run_daily_jobs
from tests.competitions.support import Browser
from tests.factories import make_competition_world, signed_in
from tests.helpers import count_rows, scalar
from tests.transparency.support import assert_valid, awarded_competition
from tests.transparency.test_api_and_register import api_key

PA, PCR = "pa2023_dynamic_market", "pcr2015_dps"
TITLE = "Remote monitoring for 200 virtual ward beds"
# A competition run before Christmas 2025: published on 20 November, bids closed on 5 December.
EARLY = datetime(2025, 11, 20, 9, 0, tzinfo=UTC)
DECEMBER_DEADLINES = {
    "clarification_deadline-day": "1", "clarification_deadline-month": "12", "clarification_deadline-year": "2025",
    "tender_deadline-day": "5", "tender_deadline-month": "12", "tender_deadline-year": "2025"}
DECEMBER_DEADLINE = datetime(2025, 12, 5, 12, 0, tzinfo=UTC)
# RULES.md section 3, worked example: a notice published on Mon 22 Dec 2025 gives a standstill whose last day is
# Tue 6 Jan 2026 (all-UK calendar: 2 Jan is a Scottish holiday); it ends at midnight at the end of that day.
PUBLISHED = datetime(2025, 12, 22, 10, 0, tzinfo=UTC)
WORKED_EXAMPLE_END = datetime(2026, 1, 6, 23, 59, 59, tzinfo=UTC)  # the end of the last day, 6 January
STANDSTILL_OVER = datetime(2026, 1, 7, 0, 0, tzinfo=UTC)  # the midnight after it


async def _fresh(db, model, competition_id: int):
    """The row as the app left it (not the copy this session loaded before)."""
    return await scalar(db, sa.select(model).where(model.competition_id == competition_id if model is not Competition
                                                   else Competition.id == competition_id)
                        .execution_options(populate_existing=True))


async def _rows(db, statement) -> list:
    rows = list((await db.scalars(statement)).all())
    await db.commit()
    return rows


async def _emails(db, subject_start: str) -> list[OutboxMessage]:
    return [m for m in await _rows(db, sa.select(OutboxMessage).where(OutboxMessage.topic == EMAIL_TOPIC)
                                   .order_by(OutboxMessage.id))
            if "subject" in m.payload and m.payload["subject"].startswith(subject_start)]  # receipts are sealed


async def _daily_jobs(settings, now: datetime) -> dict[str, int]:
    engine = make_engine(settings.database_url)
    try:
        return await run_daily_jobs(make_sessionmaker(engine), now, settings)
    finally:
        await engine.dispose()


# --- C8 --------------------------------------------------------------------------------------------------------


async def test_c8_publishing_the_award_notice_starts_the_standstill_worked_example(client, db, passwords, clock,
                                                                                  settings):
    clock.set(EARLY)
    world = await make_competition_world(db, passwords, clock, regime=PA)
    acme, bright, _ = world.bidders
    _, competition_id = await awarded_competition(db, passwords, clock, world=world, vat=18_000_00, standstill=False,
                                                  deadline=DECEMBER_DEADLINE, **DECEMBER_DEADLINES)
    browser, buyer, base = Browser(client), world.buyer.email, f"/buyer/competitions/{competition_id}"
    ocid = f"{settings.ocid_prefix}-{competition_id}"

    clock.set(PUBLISHED)
    page = await browser.get(buyer, base)
    assert "Publish the contract award notice" in page.text
    assert "published now, it ends at midnight at the end of 6 January 2026" in page.text
    # Nothing is public before the notice.
    assert TITLE not in (await client.get("/contracts-register")).text
    assert [r["tag"] for r in await transparency.all_releases(db, settings)] == [["tender"]]
    assert (await client.get(f"/contracts-register/{ocid}")).status_code == 404

    assert (await browser.post(buyer, f"{base}/award-notice")).status_code == 303

    competition = await scalar(db, sa.select(Competition).where(Competition.id == competition_id))
    assert competition.state == "standstill" and competition.standstill_started_at == PUBLISHED
    assert competition.standstill_ends_at == WORKED_EXAMPLE_END
    notice = await scalar(db, sa.select(AwardNotice).where(AwardNotice.competition_id == competition_id))
    assert notice.published_at == PUBLISHED and notice.standstill_ends_at == WORKED_EXAMPLE_END
    # Every bidder's assessment summary, sent at the moment of publication, in the same transaction.
    letters = await _rows(db, sa.select(OutcomeLetter).where(OutcomeLetter.competition_id == competition_id))
    assert len(letters) == 2 and all(letter.sent_at == PUBLISHED for letter in letters)
    outcomes = await _emails(db, "Outcome:")
    assert sorted(m.payload["to"] for m in outcomes) == sorted([acme.email, bright.email])
    for message in outcomes:
        assert message.created_at == PUBLISHED
        assert "The contract award notice was published on 22 December 2025" in message.payload["body"]
        assert "runs until midnight at the end of 6 January 2026" in message.payload["body"]
    assert "Total: " in outcomes[0].payload["body"]  # the scores
    published = await _rows(db, sa.select(OutboxMessage).where(OutboxMessage.topic == OCDS_PUBLICATION_TOPIC))
    assert [(m.payload, m.created_at) for m in published] == [
        ({"competition_id": competition_id, "release": "award"}, PUBLISHED)]
    audited = await _rows(db, sa.select(AuditEvent).where(AuditEvent.action == "competition.award_notice_published"))
    assert len(audited) == 1 and audited[0].entity_id == str(competition_id)

    # Public at once: the OCDS award release (which validates), the contracts register and the notice page.
    releases = await transparency.all_releases(db, settings)
    assert [r["tag"] for r in releases] == [["tender"], ["award"]]
    award = releases[1]
    assert award["date"] == "2025-12-22T10:00:00Z" and award["awards"][0]["status"] == "pending"
    assert award["tender"]["awardPeriod"]["endDate"] == "2026-01-06T23:59:59Z"
    assert_valid(transparency.package(releases, settings, uri="https://example.org/p", published_at=clock.now()))
    register = await client.get("/contracts-register")
    assert TITLE in register.text and "standstill until midnight at the end of 6 January 2026" in register.text
    public = await client.get(f"/contracts-register/{ocid}")
    assert public.status_code == 200
    for shown in (TITLE, acme.name, "£108,000.00 including VAT", "Published on 22 December 2025",
                  "midnight at the end of 6 January 2026", "Bids received"):
        assert shown in public.text, shown
    for hidden in (bright.name, "Highest total score"):
        assert hidden not in public.text, hidden
    assert "Your bid has not been successful" in (await browser.get(
        bright.email, f"/supplier/competitions/{competition_id}")).text

    # The contract cannot be entered into a moment before midnight at the end of 6 January 2026.
    clock.set(WORKED_EXAMPLE_END)
    early = await browser.post(buyer, f"{base}/confirm", {})
    assert early.status_code == 409 and "midnight at the end of 6 January 2026" in early.text
    clock.set(STANDSTILL_OVER)
    assert "Confirm the award" in (await browser.get(buyer, base)).text


async def test_c8_the_award_cannot_be_confirmed_while_no_award_notice_is_published(client, db, passwords, clock,
                                                                                  settings):
    world = await make_competition_world(db, passwords, clock, regime=PA)
    _, competition_id = await awarded_competition(db, passwords, clock, world=world, confirm=False)
    # A standstill started the way it used to be, without publishing the contract award notice.
    await db.execute(sa.update(AwardNotice).where(AwardNotice.competition_id == competition_id)
                     .values(published_at=None))
    await db.commit()
    browser, buyer, base = Browser(client), world.buyer.email, f"/buyer/competitions/{competition_id}"
    competition = await scalar(db, sa.select(Competition).where(Competition.id == competition_id))
    clock.set(competition.standstill_ends_at + timedelta(days=1))

    refused = await browser.post(buyer, f"{base}/confirm", {})
    assert refused.status_code == 409
    assert "The contract award notice has not been published, so the contract cannot be entered into" in refused.text
    assert await count_rows(db, Contract) == 0
    page = await browser.get(buyer, base)
    assert "The contract award notice has not been published" in page.text and "Confirm the award" not in page.text

    # Publishing it now starts the standstill again from the publication, and every bidder is told again.
    published_at = clock.now()
    assert (await browser.post(buyer, f"{base}/award-notice")).status_code == 303
    competition = await _fresh(db, Competition, competition_id)
    assert competition.standstill_started_at == published_at
    assert competition.standstill_ends_at == standstill_end(published_at, PA)
    resent = [m for m in await _emails(db, "Outcome:") if m.created_at == published_at]
    assert len(resent) == 2
    still = await browser.post(buyer, f"{base}/confirm", {})
    assert still.status_code == 409 and "The standstill period ends at" in still.text
    assert (await browser.post(buyer, f"{base}/award-notice")).status_code == 409  # published once only

    clock.set(competition.standstill_ends_at + timedelta(seconds=1))
    signed = await signed_in(db, world.buyer.user)
    _, total = await awarding.award_value(db, competition)
    contract = await awarding.confirm_award(db, signed, competition_id, fund_lines=[], now=clock.now(),
                                            milestones=default_milestones(total, competition.contract_starts_on,
                                                                          competition.contract_ends_on))
    assert contract.id is not None


async def test_c8_pcr_outcome_letters_start_ten_calendar_days_ending_at_midnight(db, passwords, clock, settings):
    world = await make_competition_world(db, passwords, clock, regime=PCR)
    # Letters sent on Wed 21 Jan 2026: the tenth day is Sat 31 Jan, so the standstill runs to midnight at the end of
    # Mon 2 Feb, the next working day in England.
    sent = datetime(2026, 1, 21, 15, 0, tzinfo=UTC)
    _, competition_id = await awarded_competition(db, passwords, clock, world=world, confirm=False, standstill_at=sent)
    competition = await scalar(db, sa.select(Competition).where(Competition.id == competition_id))
    assert competition.standstill_ends_at == datetime(2026, 2, 2, 23, 59, 59, tzinfo=UTC)
    letters = await _rows(db, sa.select(OutcomeLetter).where(OutcomeLetter.competition_id == competition_id))
    assert all("runs until midnight at the end of 2 February 2026" in letter.body for letter in letters)
    # Under PCR 2015 nothing is public before the contract: the contract award notice follows it.
    notice = await scalar(db, sa.select(AwardNotice).where(AwardNotice.competition_id == competition_id))
    assert notice.published_at is None
    assert [r["tag"] for r in await transparency.all_releases(db, settings)] == [["tender"]]

    signed = await signed_in(db, world.buyer.user)
    _, total = await awarding.award_value(db, competition)
    milestones = default_milestones(total, competition.contract_starts_on, competition.contract_ends_on)
    with pytest.raises(Conflict, match="midnight at the end of 2 February 2026"):
        await awarding.confirm_award(db, signed, competition_id, fund_lines=[], milestones=milestones,
                                     now=datetime(2026, 2, 2, 23, 59, 59, 999999, tzinfo=UTC))
    midnight = datetime(2026, 2, 3, 0, 0, tzinfo=UTC)
    await awarding.confirm_award(db, signed, competition_id, fund_lines=[], milestones=milestones, now=midnight)
    notice = await _fresh(db, AwardNotice, competition_id)
    assert notice.published_at == notice.contract_notice_published_at == midnight


# --- C9 --------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("regime", [PCR, PA])
async def test_c9_the_notice_after_the_contract_is_published_as_the_contract_is_made(db, passwords, clock, settings,
                                                                                    regime):
    world = await make_competition_world(db, passwords, clock, regime=regime)
    _, competition_id = await awarded_competition(db, passwords, clock, world=world, vat=18_000_00)
    contract = await scalar(db, sa.select(Contract).where(Contract.competition_id == competition_id))
    notice = await scalar(db, sa.select(AwardNotice).where(AwardNotice.competition_id == competition_id))
    assert notice.contract_notice_published_at == contract.created_at == clock.now()
    assert notice.publish_by == contract.created_at + timedelta(days=30)
    releases = await transparency.all_releases(db, settings)
    assert [r["tag"] for r in releases] == [["tender"], ["award"], ["contract"]]
    assert releases[2]["date"] == contract.created_at.isoformat().replace("+00:00", "Z")
    queued = await _rows(db, sa.select(OutboxMessage).where(OutboxMessage.topic == OCDS_PUBLICATION_TOPIC))
    assert sorted(m.payload["release"] for m in queued) == ["award", "contract"]
    audited = await _rows(db, sa.select(AuditEvent.action).where(
        AuditEvent.action == "competition.contract_notice_published"))
    assert len(audited) == 1
    # Nothing is left to remind anyone of, even long after.
    done = await _daily_jobs(settings, clock.now() + timedelta(days=40))
    assert done["award_notice_reminders"] == 0
    assert await _emails(db, "Overdue") == [] and await _emails(db, "Publish the") == []


async def test_c9_a_notice_that_needs_the_buyer_is_reminded_and_marked_overdue(client, db, passwords, clock, settings):
    world = await make_competition_world(db, passwords, clock, regime=PA)
    # £4.5m plus £0.9m VAT: more than £5m, so its contract details notice carries key performance indicators.
    _, competition_id = await awarded_competition(db, passwords, clock, world=world, vat=900_000_00,
                                                  prices=(4_500_000_00, 4_600_000_00))
    made = clock.now()
    notice = await scalar(db, sa.select(AwardNotice).where(AwardNotice.competition_id == competition_id))
    assert notice.contract_id is not None and notice.contract_notice_published_at is None
    assert notice.published_at is not None and notice.publish_by == made + timedelta(days=30)
    due = f"{notice.publish_by:%-d %B %Y}"
    assert [r["tag"] for r in await transparency.all_releases(db, settings)] == [["tender"], ["award"]]
    browser, buyer, base = Browser(client), world.buyer.email, f"/buyer/competitions/{competition_id}"

    # The daily jobs remind the buyer once while it is due ...
    assert (await _daily_jobs(settings, made))["award_notice_reminders"] == 1
    assert (await _daily_jobs(settings, made + timedelta(hours=1)))["award_notice_reminders"] == 0
    reminders = await _emails(db, "Publish the contract details notice")
    assert [(m.payload["to"], m.payload["subject"]) for m in reminders] == [
        (buyer, f"Publish the contract details notice for {TITLE} by {due}")]
    assert "give at least 3 key performance indicators" in reminders[0].payload["body"]
    home = await browser.get(buyer, "/buyer")
    assert "Award notices to publish" in home.text and f"contract details notice is due by {due}" in home.text
    assert "Overdue" not in home.text

    # ... and once more when it is overdue; the home page marks it.
    clock.set(made + timedelta(days=31))
    assert (await _daily_jobs(settings, clock.now()))["award_notice_reminders"] == 1
    assert [m.payload["subject"] for m in await _emails(db, "Overdue")] == [
        f"Overdue: the contract details notice for {TITLE} was due by {due}"]
    home = await browser.get(buyer, "/buyer")
    assert "Overdue" in home.text and f"contract details notice was due by {due}" in home.text
    assert "That date has passed" in (await browser.get(buyer, base)).text

    # The buyer gives the key performance indicators and publishes it.
    kpis = {"kpi-1": "Platform available 99.5% of the time", "kpi-2": "Alerts answered within 15 minutes"}
    too_few = await browser.post(buyer, f"{base}/contract-notice", kpis)
    assert too_few.status_code == 400 and "at least 3 key performance indicators" in too_few.text
    assert "Alerts answered within 15 minutes" in too_few.text  # what was typed is kept
    kpis["kpi-3"] = "Readmissions down by a tenth"
    assert (await browser.post(buyer, f"{base}/contract-notice", kpis)).status_code == 303
    notice = await _fresh(db, AwardNotice, competition_id)
    assert notice.contract_notice_published_at == clock.now() and notice.kpis == list(kpis.values())
    releases = await transparency.all_releases(db, settings)
    assert [r["tag"] for r in releases] == [["tender"], ["award"], ["contract"]]
    assert "1. Platform available 99.5% of the time" in releases[2]["contracts"][0]["description"]
    assert_valid(transparency.package(releases, settings, uri="https://example.org/p", published_at=clock.now()))
    assert "Award notices to publish" not in (await browser.get(buyer, "/buyer")).text
    public = await client.get(f"/contracts-register/{settings.ocid_prefix}-{competition_id}")
    assert "Key performance indicators" in public.text and "Readmissions down by a tenth" in public.text
    assert (await _daily_jobs(settings, clock.now() + timedelta(days=1)))["award_notice_reminders"] == 0


# --- C10 -------------------------------------------------------------------------------------------------------


async def test_c10_an_award_is_on_the_register_from_its_notice_when_worth_30000_including_vat(client, db, passwords,
                                                                                             clock, settings):
    world = await make_competition_world(db, passwords, clock, regime=PA)
    # £25,000 plus £5,000 VAT: £30,000 including VAT, so it is listed although its price alone is below.
    _, big = await awarded_competition(db, passwords, clock, world=world, prices=(25_000_00, 40_000_00),
                                       vat=5_000_00, confirm=False, title="Remote monitoring, big enough")
    clock.set(clock.now() + timedelta(days=1))
    form = {"title": "Small remote monitoring pilot", "tender_deadline-month": "2", "tender_deadline-day": "16",
            "clarification_deadline-month": "2", "clarification_deadline-day": "10"}
    _, small = await awarded_competition(db, passwords, clock, prices=(24_999_99, 40_000_00), world=world,
                                         confirm=False, deadline=datetime(2026, 2, 16, 12, 0, tzinfo=UTC), **form)
    # Both notices are published, both in standstill: no contract yet, and no step taken for the register.
    assert await count_rows(db, Contract) == 0
    page = await client.get("/contracts-register")
    assert "Remote monitoring, big enough" in page.text and "Small remote monitoring pilot" not in page.text
    assert "Contract not made yet" in page.text and "£30,000.00 including VAT" in page.text
    headers = await api_key(db, clock)
    data = (await client.get("/api/v1/contracts-register", headers=headers)).json()["data"]
    assert [row["title"] for row in data] == ["Remote monitoring, big enough"]
    assert (data[0]["value_excl_vat_pence"], data[0]["value_incl_vat_pence"], data[0]["contract_made_on"]) == \
        (25_000_00, 30_000_00, None)
    rows = list(csv.DictReader(io.StringIO((await client.get("/contracts-register.csv")).text)))
    assert [(r["title"], r["value_incl_vat_pounds"], r["contract_made_on"]) for r in rows] == [
        ("Remote monitoring, big enough", "30000.00", "")]
    # The small award's notice is public, though not on the register.
    notice_page = await client.get(f"/contracts-register/{settings.ocid_prefix}-{small}")
    assert notice_page.status_code == 200 and "not listed on the contracts register" in notice_page.text
    assert (await client.get(f"/contracts-register/{settings.ocid_prefix}-{big}")).status_code == 200
    assert (await client.get(f"/contracts-register/{settings.ocid_prefix}-424242")).status_code == 404
