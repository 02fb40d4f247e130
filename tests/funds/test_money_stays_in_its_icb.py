"""RULES.md 5 on a real database (SQLite and PostgreSQL): "Every trust belongs to one ICB (reference data). A buyer
commits only allocations of its own ICB (an ICB buyer: its own), or of a fund marked national; it chooses them from
a list of those open to it." Enforced in `commit_funds`, so no path can bypass it; and "whether unspent money lapses
at 31 March" applied to payments in `record_payment`."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from dps.audit.models import AuditEvent
from dps.errors import ValidationFailed
from dps.funds import services
from dps.funds.models import Commitment
from dps.funds.rules import Balance, Refused
from dps.identity.models import Organisation, Role
from dps.reference import load_reference_data
from tests.factories import (
    ACTOR,
    POUND,
    category_id,
    make_allocation,
    make_fund,
    make_trust,
    make_user,
    organisation_by_ods,
)
from tests.funds.support import balance, footprint
from tests.helpers import count_rows, scalar, sign_in

AFTER_LAPSE = datetime(2026, 4, 2, 9, 0, tzinfo=UTC)  # 2025/26 closed on 31 March 2026


async def commit(db, clock, buyer_id, lines, reference="C-1", category=None, now=None):
    commitment = await services.commit_funds(
        db, buyer_org_id=buyer_id, category_id=category, lines=lines, total_pence=sum(p for _, p in lines),
        reference=reference, actor=ACTOR, now=now or clock.now())
    await db.commit()
    return commitment.id


async def test_every_trust_belongs_to_its_icb_from_the_reference_data_and_db_upgrade_fills_it_in(db, clock):
    gstt = await make_trust(db, clock, name="Guy's and St Thomas' NHS Foundation Trust", ods="RJ1")
    unknown = await make_trust(db, clock, name="Unrelated NHS Trust", ods="RZ9")
    await db.commit()
    assert (gstt.parent_icb_ods_code, gstt.region_ods_code) == ("QKK", "Y56")  # filled at creation
    assert unknown.parent_icb_ods_code is None  # not in the reference data: national funds only

    await db.execute(sa.update(Organisation).where(Organisation.id == gstt.id).values(parent_icb_ods_code=None))
    await db.commit()
    assert await load_reference_data(db, clock.now()) == 1  # what `dps db upgrade` runs after the migrations
    await db.commit()
    assert await scalar(db, sa.select(Organisation.parent_icb_ods_code).where(Organisation.id == gstt.id)) == "QKK"
    assert await scalar(db, sa.select(AuditEvent.action).order_by(AuditEvent.id.desc()).limit(1)) == (
        "organisation.icb_set")
    assert await load_reference_data(db, clock.now()) == 0
    await db.commit()


async def test_a_foreign_icbs_allocation_is_refused_with_a_clear_message_and_changes_nothing(db, clock):
    htaf = await make_fund(db, clock, name="HTAF")
    qmf_money = await make_allocation(db, clock, fund=htaf, ods="QMF", pounds=100_000)
    qkk_money = await make_allocation(db, clock, fund=htaf, ods="QKK", pounds=100_000)
    gstt = (await make_trust(db, clock, name="Guy's and St Thomas' NHS Foundation Trust", ods="RJ1")).id
    unknown = (await make_trust(db, clock, name="Unrelated NHS Trust", ods="RZ9")).id
    await db.commit()
    before = await footprint(db)

    cases = [
        (gstt, [(qmf_money, 500 * POUND)], "Guy's and St Thomas' NHS Foundation Trust cannot draw on HTAF 2025/26, "
         "NHS North East London Integrated Care Board (QMF), revenue: it belongs to NHS South East London Integrated "
         "Care Board (QKK)"),
        (gstt, [(qkk_money, 500 * POUND), (qmf_money, 500 * POUND)], "cannot draw on HTAF 2025/26, NHS North East"),
        (unknown, [(qmf_money, 500 * POUND)], "Unrelated NHS Trust cannot draw on HTAF 2025/26, NHS North East London "
         "Integrated Care Board (QMF), revenue: it is not yet in the reference data of trusts and their ICBs, so it "
         "can draw only on national funds"),
        ((await organisation_by_ods(db, "QKK")).id, [(qmf_money, 500 * POUND)],
         "an integrated care board can draw only on its own"),
        ((await organisation_by_ods(db, "Y56")).id, [(qkk_money, 500 * POUND)],
         "not an integrated care board or one of its trusts"),
    ]
    for buyer, lines, words in cases:
        with pytest.raises(Refused) as refused:
            await commit(db, clock, buyer, lines)
        await db.rollback()
        assert refused.value.rule == "own_icb_or_national"
        assert words in str(refused.value)
        assert str(refused.value).startswith("Fund rule: money stays in its ICB.")
        assert "Choose from the list of allocations open to" in str(refused.value)
    assert await footprint(db) == before
    assert await count_rows(db, Commitment) == 0

    await commit(db, clock, gstt, [(qkk_money, 500 * POUND)], reference="OWN-1")
    await commit(db, clock, (await organisation_by_ods(db, "QMF")).id, [(qmf_money, 500 * POUND)], reference="OWN-2")
    assert (await balance(db, qkk_money)).committed == (await balance(db, qmf_money)).committed == 500 * POUND


async def test_a_national_funds_allocation_is_open_to_every_buyer(db, clock):
    sbri = await make_fund(db, clock, name="SBRI Healthcare", national=True)
    qmf_money = await make_allocation(db, clock, fund=sbri, ods="QMF", pounds=10_000)
    gstt = (await make_trust(db, clock, name="Guy's and St Thomas' NHS Foundation Trust", ods="RJ1")).id
    unknown = (await make_trust(db, clock, name="Unrelated NHS Trust", ods="RZ9")).id
    await db.commit()
    for number, buyer in enumerate([gstt, unknown, (await organisation_by_ods(db, "QKK")).id,
                                    (await organisation_by_ods(db, "Y56")).id]):
        await commit(db, clock, buyer, [(qmf_money, 100 * POUND)], reference=f"N-{number}")
    assert await balance(db, qmf_money) == Balance(10_000 * POUND, 400 * POUND, 0)


async def test_the_list_of_allocations_open_to_a_buyer_is_its_icbs_and_the_national_funds(db, clock):
    ai = await category_id(db, "ai-diagnostics")
    wards = await category_id(db, "virtual-wards")
    htaf = await make_fund(db, clock, name="HTAF")
    sbri = await make_fund(db, clock, name="SBRI Healthcare", national=True)
    icb_only = await make_fund(db, clock, name="ICB transformation", eligible_buyer_types=frozenset({"icb"}))
    wards_only = await make_fund(db, clock, name="Virtual wards fund", eligible_category_ids=frozenset({wards}))
    ids = {
        "own": await make_allocation(db, clock, fund=htaf, ods="QKK", pounds=120_000),
        "foreign": await make_allocation(db, clock, fund=htaf, ods="QMF", pounds=120_000),
        "national": await make_allocation(db, clock, fund=sbri, ods="QMF", pounds=40_000),
        "lapsed": await make_allocation(db, clock, fund=htaf, ods="QKK", pounds=5_000, year="2024/25"),
        "icb_only": await make_allocation(db, clock, fund=icb_only, ods="QKK", pounds=7_000),
        "wards": await make_allocation(db, clock, fund=wards_only, ods="QKK", pounds=9_000),
    }
    gstt = (await make_trust(db, clock, name="Guy's and St Thomas' NHS Foundation Trust", ods="RJ1")).id
    unknown = (await make_trust(db, clock, name="Unrelated NHS Trust", ods="RZ9")).id
    await db.commit()
    await commit(db, clock, gstt, [(ids["own"], 20_000 * POUND)])
    today = clock.now().date()

    listed = await services.allocations_open_to_buyer(db, gstt, today=today)
    assert [(a.allocation_id, a.label) for a in listed] == [
        (ids["own"], "HTAF 2025/26 QKK revenue: £100,000.00 remaining"),
        (ids["wards"], "Virtual wards fund 2025/26 QKK revenue: £9,000.00 remaining"),
        (ids["national"], "SBRI Healthcare 2025/26 QMF revenue (national fund): £40,000.00 remaining"),
    ]  # its own ICB's first; not QMF's HTAF, not a lapsed year, not a fund for ICBs only
    for_ai = await services.allocations_open_to_buyer(db, gstt, today=today, category_id=ai)
    assert ids["wards"] not in {a.allocation_id for a in for_ai}
    qkk = await services.allocations_open_to_buyer(db, (await organisation_by_ods(db, "QKK")).id, today=today)
    assert {a.allocation_id for a in qkk} == {ids["own"], ids["icb_only"], ids["wards"], ids["national"]}
    assert [a.allocation_id for a in await services.allocations_open_to_buyer(db, unknown, today=today)] == [
        ids["national"]]
    assert await services.allocations_open_to_buyer(db, 999_999, today=today) == []
    await db.commit()


async def test_naming_intended_funding_refuses_what_is_not_open_and_points_at_the_list(db, clock):
    htaf = await make_fund(db, clock, name="HTAF")
    own = await make_allocation(db, clock, fund=htaf, ods="QKK", pounds=1_000)
    foreign = await make_allocation(db, clock, fund=htaf, ods="QMF", pounds=1_000)
    gstt = (await make_trust(db, clock, name="Guy's and St Thomas' NHS Foundation Trust", ods="RJ1")).id
    await db.commit()
    today = clock.now().date()
    await services.check_open_to_buyer(db, buyer_organisation_id=gstt, allocation_ids=[own], today=today)
    with pytest.raises(Refused) as refused:
        await services.check_open_to_buyer(db, buyer_organisation_id=gstt, allocation_ids=[own, foreign],
                                           today=today, fields=["fund-1-allocation", "fund-3-allocation"])
    assert refused.value.field == "fund-3-allocation" and refused.value.rule == "own_icb_or_national"
    with pytest.raises(ValidationFailed, match="There is no allocation 999999: choose one from the list of "
                                               "allocations open to Guy's and St Thomas' NHS Foundation Trust"):
        await services.check_open_to_buyer(db, buyer_organisation_id=gstt, allocation_ids=[999_999], today=today)
    await db.commit()


async def test_a_payment_against_a_lapsed_allocation_is_refused_unless_the_fund_carries_money_over(db, clock):
    lapsing = await make_fund(db, clock, name="HTAF")
    lasting = await make_fund(db, clock, name="SBRI Healthcare", lapses_at_year_end=False)
    old = await make_allocation(db, clock, fund=lapsing, ods="QMF", pounds=1_000)
    kept = await make_allocation(db, clock, fund=lasting, ods="QMF", pounds=1_000)
    qmf = (await organisation_by_ods(db, "QMF")).id
    award = await commit(db, clock, qmf, [(old, 400 * POUND), (kept, 400 * POUND)])
    before = await footprint(db)

    with pytest.raises(Refused) as refused:
        await services.record_payment(db, commitment_id=award, allocation_id=old, pence=100 * POUND, actor=ACTOR,
                                      now=AFTER_LAPSE)
    await db.rollback()
    assert refused.value.rule == "lapse_at_year_end_payment"
    assert str(refused.value) == (
        "Fund rule: unspent money in HTAF lapses at 31 March, so HTAF 2025/26, NHS North East London Integrated Care "
        "Board (QMF), revenue closed on 31 March 2026: a payment on 2 April 2026 cannot be made from it")
    with pytest.raises(Refused, match="lapses at 31 March"):
        await services.check_can_pay(db, commitment_id=award, allocation_ids=[old], on=AFTER_LAPSE.date())
    await db.rollback()
    assert await footprint(db) == before

    # Asked for by 31 March (a milestone payment Stripe confirms later): paid from that year's money.
    await services.record_payment(db, commitment_id=award, allocation_id=old, pence=100 * POUND, actor=ACTOR,
                                  now=AFTER_LAPSE, payable_on=datetime(2026, 3, 31).date())
    # A fund whose rules carry money over pays on after 31 March.
    await services.check_can_pay(db, commitment_id=award, allocation_ids=[kept], on=AFTER_LAPSE.date())
    await services.record_payment(db, commitment_id=award, allocation_id=kept, pence=100 * POUND, actor=ACTOR,
                                  now=AFTER_LAPSE)
    await db.commit()
    assert (await balance(db, old)).spent == (await balance(db, kept)).spent == 100 * POUND
    assert await services.check_books(db) == []
    await db.commit()


async def test_the_organisation_page_shows_the_trusts_icb_and_the_allocations_open_to_it(client, db, passwords,
                                                                                        clock):
    htaf = await make_fund(db, clock, name="HTAF")
    own = await make_allocation(db, clock, fund=htaf, ods="QKK", pounds=120_000)
    foreign = await make_allocation(db, clock, fund=htaf, ods="QMF", pounds=120_000)
    gstt = await make_trust(db, clock, name="Guy's and St Thomas' NHS Foundation Trust", ods="RJ1")
    unknown = await make_trust(db, clock, name="Unrelated NHS Trust", ods="RZ9")
    await make_user(db, passwords, clock, email="bea@gstt.example.nhs.uk", organisation=gstt, role=Role.BUYER)
    await make_user(db, passwords, clock, email="uma@unrelated.example.nhs.uk", organisation=unknown, role=Role.BUYER)

    await sign_in(client, "bea@gstt.example.nhs.uk")
    home = await client.get("/buyer")
    assert f'href="/buyer/organisations/{gstt.id}"' in home.text
    page = await client.get(f"/buyer/organisations/{gstt.id}")
    assert page.status_code == 200
    text = " ".join(page.text.split())
    assert "NHS South East London Integrated Care Board (QKK)" in text and "NHS England London (Y56)" in text
    assert f'data-allocation-id="{own}"' in page.text and f'data-allocation-id="{foreign}"' not in page.text
    assert "£120,000.00" in text
    assert (await client.get(f"/buyer/organisations/{unknown.id}")).status_code == 404  # not theirs

    client.cookies.clear()
    await sign_in(client, "uma@unrelated.example.nhs.uk")
    text = " ".join((await client.get(f"/buyer/organisations/{unknown.id}")).text.split())
    assert "Not known: this trust is not yet in the reference data, so it can draw only on national funds" in text
    assert "No fund allocations are open to Unrelated NHS Trust" in text
