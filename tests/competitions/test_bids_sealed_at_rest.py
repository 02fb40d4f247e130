"""C5 at rest: until the deadline no row of the database links a supplier to its bid in clear text.

The main test copies every table (SELECT * from every table of the metadata, each value as text), as a backup, a
replica or anyone with SQL access would see it, just before the tender deadline, and searches the copy for what would
give a bid away: its prices (in pence, and in pounds as typed and as shown), its answers' text, the bidder
organisation's name and the bidder user's email address.

The one exclusion: rows that were already in the database, unchanged, before the suppliers took their first bidding
step. They exist whether or not anyone bids, so they cannot say who has bid: the organisation and user tables
themselves, the memberships and admissions, the competition invitation every admitted supplier receives (it names
the organisation), the invitation emails and the audit events of all that. Every row that bidding added or changed,
in any table (bids, keys, audit events, outbox and email rows), must be clean. The search is shown to be able to
find each value: the untouched rows do hold the names and emails, and after the opening the bid table holds the
price and the answers in exactly the forms searched for.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from dps.audit.models import AuditEvent
from dps.competitions.models import Bid
from dps.competitions.services import bidding, drafting, loading
from dps.competitions.services.sealing import BIDS_OPENED
from dps.crypto import DataKey, SealingError, SealingKey, sealing_key
from dps.db import make_engine, make_sessionmaker, metadata
from dps.identity.models import Role
from dps.outbox.models import OutboxMessage
from tests.factories import make_competition_world, make_published_competition, make_user, signed_in
from tests.helpers import scalar

DEADLINE = datetime(2026, 1, 16, 12, 0, tzinfo=UTC)  # the support form's tender deadline (GMT in January)
ACME_DRAFT = {"q1": "Quillmarsh telemetry halves readmissions", "q2": "Vantorel carbon ledger to net zero",
              "q3": "Brackenfold apprenticeships for local school leavers"}
ACME_FINAL = {"q1": "Orrinby wards alert nurses within minutes", "q2": "Thessaly fleet runs on green power",
              "q3": "Maplewick hires care leavers"}
BRIGHT = {"q1": "Sorrelgate patches stream vitals hourly", "q2": "Kelderwyn servers on renewable tariffs",
          "q3": "Ashcombe volunteers mentor carers"}
# (price, VAT) in pence: seven digits or more, so no hash or token matches one by chance.
ACME_PRICES = [(14_821_357, 2_964_271), (13_579_246, 2_715_849)]
BRIGHT_PRICE = (12_468_013, 2_493_602)


def money_forms(pence: int) -> list[str]:
    pounds, rest = divmod(pence, 100)
    return [str(pence), f"{pounds}.{rest:02d}", f"{pounds:,}.{rest:02d}"]


async def copy_of_every_table(engine) -> dict[str, set[str]]:
    """Every row of every table, as the text a backup holds."""
    tables = {}
    async with engine.connect() as connection:
        for table in metadata.sorted_tables:
            rows = (await connection.execute(sa.text(f'SELECT * FROM "{table.name}"'))).all()
            tables[table.name] = {" | ".join("" if value is None else str(value) for value in row) for row in rows}
    return tables


def matches(tables: dict[str, set[str]], needles: list[str]) -> list[tuple[str, str, str]]:
    return [(name, needle, row[:300]) for name, rows in tables.items() for row in rows for needle in needles
            if needle in row]


async def test_no_row_links_a_supplier_to_its_bid_before_the_deadline(db, passwords, clock, settings,
                                                                      smtp_server, session_engine, drain_outbox):
    world = await make_competition_world(db, passwords, clock)
    acme, bright, _ = world.bidders
    colleague = await make_user(db, passwords, clock, email="tenders@acme.example", organisation=acme.organisation,
                                role=Role.SUPPLIER_USER)
    competition_id = await make_published_competition(db, clock, world=world)
    await drain_outbox()  # the invitations, sent to every admitted supplier
    before_bidding = await copy_of_every_table(session_engine)

    # Acme saves a draft, submits it, then revises it; Brightwell submits and withdraws. Receipts are sent.
    clock.advance(timedelta(days=1))
    acme_user, bright_user = await signed_in(db, acme.user), await signed_in(db, bright.user)
    steps = [(acme_user, ACME_DRAFT, ACME_PRICES[0], False), (acme_user, ACME_DRAFT, ACME_PRICES[0], True),
             (acme_user, ACME_FINAL, ACME_PRICES[1], True), (bright_user, BRIGHT, BRIGHT_PRICE, True)]
    for user, answers, (price, vat), submit in steps:
        clock.advance(timedelta(hours=1))
        saved = await bidding.save_bid(db, user, competition_id, answers=answers, price_pence=price, vat_pence=vat,
                                       submit=submit, now=clock.now())
        assert not saved.errors and saved.bid is not None and saved.bid.price_pence == price
    await bidding.withdraw_bid(db, bright_user, competition_id, clock.now())
    await drain_outbox()
    receipts = [(m["To"], m["Subject"]) for m in smtp_server.messages if m["Subject"].startswith("Bid ")]
    title = "Remote monitoring for 200 virtual ward beds"
    assert sorted(receipts) == sorted([(acme.email, f"Bid received: {title}")] * 2 + [
        (colleague.email, f"Bid received: {title}")] * 2 + [
        (bright.email, f"Bid received: {title}"), (bright.email, f"Bid withdrawn: {title}")])
    # One sealed outbox row per receipt, however many people the bidder has (a count would hint at who it is).
    assert await scalar(db, sa.select(sa.func.count()).select_from(OutboxMessage).where(
        OutboxMessage.dedupe_key.like("email:sealed:%"))) == 4

    # The bidder still sees its own bid, unsealed for it alone.
    own = await bidding.own_bid(db, competition_id, acme.organisation.id)
    await db.commit()
    assert own is not None and (own.state, own.revision, own.price_pence, own.answers) == (
        "submitted", 2, ACME_PRICES[1][0], ACME_FINAL)

    # --- just before the deadline: a copy of every table ------------------------------------------------------
    clock.set(DEADLINE - timedelta(seconds=1))
    just_before = await copy_of_every_table(session_engine)
    needles = [*(form for prices in (*ACME_PRICES, BRIGHT_PRICE) for pence in prices for form in money_forms(pence)),
               *ACME_DRAFT.values(), *ACME_FINAL.values(), *BRIGHT.values(),
               acme.name, bright.name, acme.email, colleague.email, bright.email]
    changed_by_bidding = {name: rows - before_bidding[name] for name, rows in just_before.items()}
    assert changed_by_bidding["bid"] and changed_by_bidding["outbox_message"] and changed_by_bidding["audit_event"]
    assert matches(changed_by_bidding, needles) == []
    # The rows left out are the ones that exist regardless of bidding, and they do hold the names and emails: the
    # search would find them anywhere else.
    untouched = {name: rows & before_bidding[name] for name, rows in just_before.items()}
    assert {name for name, _, _ in matches(untouched, [acme.name, acme.email])} >= {
        "organisation", "user_account", "competition_invitation", "outbox_message"}

    # --- the deadline passes: one recorded step opens the bids --------------------------------------------------
    clock.set(DEADLINE + timedelta(minutes=1))
    sessions = make_sessionmaker(make_engine(settings.database_url))
    assert await loading.close_due_competitions(sessions, clock.now()) == 1
    assert await loading.close_due_competitions(sessions, clock.now()) == 0
    opened = (await db.scalars(sa.select(AuditEvent).where(AuditEvent.action == BIDS_OPENED))).all()
    await db.commit()
    assert len(opened) == 1 and opened[0].entity_id == str(competition_id)
    assert opened[0].after["submitted"] == 1 and len(opened[0].after["bids"]) == 2
    bids = {bid.organisation_id: bid for bid in (await db.scalars(sa.select(Bid).where(
        Bid.competition_id == competition_id))).all()}
    await db.commit()
    assert set(bids) == {acme.organisation.id, bright.organisation.id}
    assert (bids[acme.organisation.id].price_pence, bids[acme.organisation.id].answers) == (ACME_PRICES[1][0],
                                                                                          ACME_FINAL)
    assert (bids[acme.organisation.id].created_by_user_id, bids[acme.organisation.id].submitted_by_user_id) == (
        acme.user.id, acme.user.id)
    assert bids[bright.organisation.id].state == "withdrawn"
    assert all(bid.sealed_content is None for bid in bids.values())
    after_opening = await copy_of_every_table(session_engine)
    assert {needle for _, needle, _ in matches({"bid": after_opening["bid"]}, needles)} >= {
        *money_forms(ACME_PRICES[1][0])[:1], *ACME_FINAL.values()}


async def test_a_competition_cancelled_before_its_deadline_never_opens_its_bids(db, passwords, clock):
    world = await make_competition_world(db, passwords, clock)
    acme = world.bidders[0]
    competition_id = await make_published_competition(db, clock, world=world)
    await bidding.save_bid(db, await signed_in(db, acme.user), competition_id, answers=ACME_FINAL,
                           price_pence=ACME_PRICES[0][0], vat_pence=0, submit=True, now=clock.now())
    await drafting.cancel(db, await signed_in(db, world.buyer.user), competition_id, "No longer needed",
                          clock.now())
    clock.set(DEADLINE + timedelta(days=1))
    buyer = await signed_in(db, world.buyer.user)
    await loading.competition_for_buyer(db, buyer, competition_id, clock.now())
    await db.commit()
    bid = await scalar(db, sa.select(Bid).where(Bid.competition_id == competition_id))
    assert bid.organisation_id is None and bid.price_pence is None and bid.sealed_content
    assert await scalar(db, sa.select(sa.func.count()).select_from(AuditEvent).where(
        AuditEvent.action == BIDS_OPENED)) == 0


async def test_a_sealed_bid_moved_to_another_row_does_not_open(db, passwords, clock):
    """The ciphertext is bound to its competition and bid: swapping two bids' content fails loudly instead of
    giving one supplier's bid to another."""
    world = await make_competition_world(db, passwords, clock)
    acme, bright, _ = world.bidders
    competition_id = await make_published_competition(db, clock, world=world)
    for party, price in ((acme, ACME_PRICES[0][0]), (bright, BRIGHT_PRICE[0])):
        await bidding.save_bid(db, await signed_in(db, party.user), competition_id, answers=ACME_FINAL,
                               price_pence=price, vat_pence=0, submit=True, now=clock.now())
    first, second = (await db.scalars(sa.select(Bid).order_by(Bid.id))).all()
    first.sealed_content, second.sealed_content = second.sealed_content, first.sealed_content
    await db.commit()
    with pytest.raises(SealingError):
        await bidding.own_bid(db, competition_id, acme.organisation.id)
    await db.rollback()


async def test_the_sealed_outbox_row_names_nobody_and_opens_only_for_its_consumer(db, passwords, clock, settings,
                                                                                   smtp_server, drain_outbox):
    world = await make_competition_world(db, passwords, clock)
    acme = world.bidders[0]
    competition_id = await make_published_competition(db, clock, world=world)
    await bidding.save_bid(db, await signed_in(db, acme.user), competition_id, answers=ACME_FINAL,
                           price_pence=ACME_PRICES[0][0], vat_pence=0, submit=True, now=clock.now())
    receipt = await scalar(db, sa.select(OutboxMessage).where(OutboxMessage.dedupe_key.like("email:sealed:%")))
    assert set(receipt.payload) == {"sealed", "key_id"} and "bid" not in receipt.dedupe_key
    # A row whose payload was moved from another sealed row (or changed) is refused, not sent to someone else.
    other = sealing_key().seal({"to": "someone@else.example", "subject": "x", "body": "y"}, context="elsewhere")
    receipt.payload = {**receipt.payload, "sealed": other}
    await db.commit()
    await drain_outbox()
    refused = await scalar(db, sa.select(OutboxMessage).where(OutboxMessage.id == receipt.id)
                           .execution_options(populate_existing=True))
    assert refused.processed_at is None and "does not open" in (refused.last_error or "")
    assert "else.example" not in refused.last_error and not [
        m for m in smtp_server.messages if m["To"] == "someone@else.example"]


def test_envelope_keys_wrap_seal_and_bind_to_their_place():
    sealing, other = SealingKey(b"k" * 32), SealingKey(b"o" * 32)
    data = DataKey.generate()
    wrapped = sealing.wrap(data, context="competition:1:bid-data-key")
    assert sealing.unwrap(wrapped, context="competition:1:bid-data-key") == data
    for key, context in ((other, "competition:1:bid-data-key"), (sealing, "competition:2:bid-data-key")):
        with pytest.raises(SealingError):
            key.unwrap(wrapped, context=context)
    token = data.seal({"price_pence": 4_821_357}, context="bid:1:2")
    assert "4821357" not in token and token != data.seal({"price_pence": 4_821_357}, context="bid:1:2")
    assert data.open(token, context="bid:1:2") == {"price_pence": 4_821_357}
    with pytest.raises(SealingError):
        data.open(token, context="bid:1:3")
    with pytest.raises(SealingError):
        DataKey.generate().open(token, context="bid:1:2")
    assert data.lookup_hash("organisation:7") == data.lookup_hash("organisation:7")
    assert data.lookup_hash("organisation:7") != DataKey.generate().lookup_hash("organisation:7")
    assert sealing.key_id != other.key_id and sealing.key_id not in repr(sealing) and "kkkk" not in repr(sealing)
