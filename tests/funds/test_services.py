"""Fund services on a real database: every change is a ledger entry and an audit event; refusals change
nothing; the stored balances always equal what the ledger adds up to."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from dps.audit.models import AuditEvent
from dps.audit.services import verify_chain
from dps.errors import Conflict, IllegalTransition, ValidationFailed
from dps.funds import services
from dps.funds.models import Commitment, LedgerEntry
from dps.funds.rules import Balance, Refused
from tests.factories import ACTOR, POUND, category_id, icb, make_allocation, make_fund, make_trust
from tests.funds.support import balance, footprint
from tests.helpers import count_rows, scalar, seal_audit_log


async def commit(db, clock, lines, *, buyer="QMF", total=None, reference="C-1", category=None):
    buyer_id = (await icb(db, ods=buyer)).id if isinstance(buyer, str) else buyer
    commitment = await services.commit_funds(
        db, buyer_org_id=buyer_id, category_id=category, lines=lines,
        total_pence=total if total is not None else sum(p for _, p in lines), reference=reference, actor=ACTOR,
        now=clock.now())
    await db.commit()
    return commitment.id


async def test_a_whole_life_keeps_the_books_balanced_and_audited(db, clock):
    fund = await make_fund(db, clock)
    revenue = await make_allocation(db, clock, fund=fund, pounds=100_000)
    capital = await make_allocation(db, clock, fund=fund, pounds=50_000, budget="capital")
    audit_before = await count_rows(db, AuditEvent)

    award = await commit(db, clock, [(revenue, 30_000 * POUND), (capital, 20_000 * POUND)])
    await services.record_payment(db, commitment_id=award, allocation_id=revenue, pence=10_000 * POUND,
                                  reason="Milestone 1", actor=ACTOR, now=clock.now())
    await services.record_refund(db, commitment_id=award, allocation_id=revenue, pence=2_500 * POUND,
                                 reason="Overpaid", actor=ACTOR, now=clock.now())
    await services.adjust_allocation(db, allocation_id=revenue, delta_pence=-20_000 * POUND, reason="Reprofiled",
                                     actor=ACTOR, now=clock.now())
    await services.release_commitment(db, commitment_id=award, reason="Ended under budget", actor=ACTOR,
                                      now=clock.now())
    await db.commit()

    assert await balance(db, revenue) == Balance(80_000 * POUND, 0, 7_500 * POUND)
    assert await balance(db, capital) == Balance(50_000 * POUND, 0, 0)  # capital is its own pot
    assert await services.check_books(db) == []
    kinds = (await db.scalars(sa.select(LedgerEntry.kind).where(LedgerEntry.allocation_id == revenue)
                              .order_by(LedgerEntry.id))).all()
    assert kinds == ["allocate", "commit", "pay", "refund", "adjust", "release"]
    actions = (await db.scalars(sa.select(AuditEvent.action).order_by(AuditEvent.id)
                                .offset(audit_before))).all()
    assert actions == ["commitment.made", "commitment.paid", "commitment.refunded", "allocation.adjusted",
                       "commitment.released"]
    await seal_audit_log(db, clock.now())
    assert await verify_chain(db) is None
    await db.commit()


async def test_the_rebuilt_balances_match_the_stored_ones_and_catch_a_tampered_balance(db, clock):
    fund = await make_fund(db, clock)
    first = await make_allocation(db, clock, fund=fund, pounds=10_000)
    second = await make_allocation(db, clock, fund=fund, pounds=10_000, budget="capital")
    award = await commit(db, clock, [(first, 4_000 * POUND), (second, 1_000 * POUND)])
    await services.record_payment(db, commitment_id=award, allocation_id=first, pence=1_500 * POUND,
                                  actor=ACTOR, now=clock.now())
    await db.commit()
    rebuilt = await services.rebuild_balances(db)
    assert rebuilt == {first: await balance(db, first), second: await balance(db, second)}
    assert rebuilt[first] == Balance(10_000 * POUND, 2_500 * POUND, 1_500 * POUND)
    assert await services.check_books(db) == []

    await db.execute(sa.text("UPDATE fund_allocation SET allocated_pence = allocated_pence + 1 WHERE id = :id"),
                     {"id": second})
    await db.commit()
    problems = await services.check_books(db)
    assert [p.allocation_id for p in problems] == [second]


async def test_a_refused_commitment_changes_nothing_and_names_the_shortfall(db, clock):
    fund = await make_fund(db, clock)
    first = await make_allocation(db, clock, fund=fund, pounds=1_000)
    second = await make_allocation(db, clock, fund=fund, pounds=1_000, budget="capital")
    before = await footprint(db)

    with pytest.raises(Refused) as refused:
        await commit(db, clock, [(first, 500 * POUND), (second, 1_200 * POUND)])
    await db.rollback()

    assert refused.value.rule == "remaining"
    assert "£1,000.00 remaining, this commitment needs £1,200.00 from it (£200.00 short)" in str(refused.value)
    assert await footprint(db) == before
    assert await count_rows(db, Commitment) == 0


async def test_a_commitment_beyond_32_bits_of_pence_moves_every_allocation_of_its_split(db, clock):
    fund = await make_fund(db, clock)
    first = await make_allocation(db, clock, fund=fund, pounds=40_000_000)
    second = await make_allocation(db, clock, fund=fund, pounds=40_000_000, budget="capital")

    await commit(db, clock, [(first, 30_000_000 * POUND), (second, 25_000_001 * POUND)])

    assert 30_000_000 * POUND > 2**31  # more pence than a 32-bit integer holds
    assert await balance(db, first) == Balance(40_000_000 * POUND, 30_000_000 * POUND, 0)
    assert await balance(db, second) == Balance(40_000_000 * POUND, 25_000_001 * POUND, 0)
    assert await services.check_books(db) == []


async def test_a_caller_that_rolls_back_on_refusal_is_told_which_allocation_is_short(db, clock, monkeypatch):
    """The award confirmation rolls its whole transaction back on a refusal, so it asks for no savepoint. The
    allocations move in one UPDATE: when one line's condition fails there, the refusal still names that line's
    allocation (not one the same statement moved), and after the caller's rollback nothing is left."""
    fund = await make_fund(db, clock)
    first = await make_allocation(db, clock, fund=fund, pounds=100)
    second = await make_allocation(db, clock, fund=fund, pounds=100, budget="capital")
    before = await footprint(db)
    real_check = services.check_commit
    checked = []

    def only_after_the_update(balance, pence, label):  # the pre-check passes; the UPDATE must decide
        checked.append(label)
        return balance if len(checked) <= 2 else real_check(balance, pence, label)

    monkeypatch.setattr(services, "check_commit", only_after_the_update)
    plan = await services.check_commitment(db, buyer_org_id=(await icb(db, ods="QMF")).id, category_id=None,
                                           lines=[(first, 90 * POUND), (second, 150 * POUND)],
                                           total_pence=240 * POUND, reference="R-2", now=clock.now())
    commitment = plan.commitment(ACTOR, clock.now())
    db.add(commitment)
    await db.flush()
    with pytest.raises(Refused) as refused:
        await services.write_commitment(db, plan, commitment, actor=ACTOR, now=clock.now(),
                                        caller_rolls_back_on_refusal=True)
    await db.rollback()

    assert "£100.00 remaining, this commitment needs £150.00 from it (£50.00 short)" in str(refused.value)
    assert len(checked) == 3  # two pre-checks, then the one allocation the UPDATE did not move
    assert await footprint(db) == before
    assert await count_rows(db, Commitment) == 0


async def test_a_refusal_inside_the_callers_transaction_leaves_the_callers_own_work_alone(db, clock, monkeypatch):
    """Competitions call commit_funds inside their award transaction. Here the friendly pre-check is switched off,
    so the first line's conditional UPDATE succeeds and the second's matches no row: the refusal must undo the
    first line (no half commitment) and leave the caller's own earlier work in its transaction."""
    fund = await make_fund(db, clock)
    first = await make_allocation(db, clock, fund=fund, pounds=100)
    second = await make_allocation(db, clock, fund=fund, pounds=100, budget="capital")
    mine = await make_allocation(db, clock, fund=fund, ods="QOQ", pounds=100)
    before = await footprint(db)
    monkeypatch.setattr(services, "check_commit", lambda balance, pence, label: balance)  # the UPDATE must decide

    await services.adjust_allocation(db, allocation_id=mine, delta_pence=5 * POUND, reason="caller's own change",
                                     actor=ACTOR, now=clock.now())
    with pytest.raises(Conflict):
        await services.commit_funds(db, buyer_org_id=(await icb(db, ods="QMF")).id, category_id=None,
                                    lines=[(second, 150 * POUND), (first, 50 * POUND)], total_pence=200 * POUND,
                                    reference="R-1", actor=ACTOR, now=clock.now())
    await db.commit()  # the caller goes on and commits its own work

    ledger, audit, balances = await footprint(db)
    assert ledger == before[0] + 1  # only the caller's adjustment
    assert audit == before[1] + 1
    assert balances[mine] == Balance(105 * POUND, 0, 0)
    assert balances[first] == before[2][first]  # its successful UPDATE was rolled back with the refusal
    assert balances[second] == before[2][second]
    assert await count_rows(db, Commitment) == 0
    assert await services.check_books(db) == []
    await seal_audit_log(db, clock.now())
    assert await verify_chain(db) is None
    await db.commit()


async def test_fund_rules_are_checked_at_commitment(db, clock):
    ai = await category_id(db, "ai-diagnostics")
    wards = await category_id(db, "virtual-wards")
    fund = await make_fund(db, clock, name="AI Diagnostic Fund", eligible_buyer_types=frozenset({"trust"}),
                           eligible_category_ids=frozenset({ai}), per_award_cap_pence=1_000 * POUND)
    allocation = await make_allocation(db, clock, fund=fund, ods="QKK", pounds=10_000)  # RJ1's ICB
    rj1 = (await make_trust(db, clock, name="Guy's and St Thomas' NHS Foundation Trust", ods="RJ1")).id
    before = await footprint(db)

    cases = [
        ({"buyer": "QKK", "category": ai}, "eligible_buyer_types", "open to NHS trusts only"),
        ({"buyer": rj1, "category": wards}, "eligible_categories", "Virtual wards and remote monitoring is not one"),
        ({"buyer": rj1, "category": None}, "eligible_categories", "choose an eligible category"),
    ]
    for arguments, rule, words in cases:
        with pytest.raises(Refused) as refused:
            await commit(db, clock, [(allocation, 500 * POUND)], **arguments)
        await db.rollback()
        assert refused.value.rule == rule
        assert words in str(refused.value)
    with pytest.raises(Refused) as capped:
        await commit(db, clock, [(allocation, 1_500 * POUND)], buyer=rj1, category=ai)
    await db.rollback()
    assert capped.value.rule == "per_award_cap"
    assert "£500.00 over the cap" in str(capped.value)
    assert await footprint(db) == before

    await commit(db, clock, [(allocation, 1_000 * POUND)], buyer=rj1, category=ai)
    assert (await balance(db, allocation)).committed == 1_000 * POUND


async def test_match_funding_comes_from_other_allocations_in_the_split(db, clock):
    matched = await make_fund(db, clock, name="Matched", match_funding_bps=5000)
    own = await make_fund(db, clock, name="ICB own budget")
    from_matched = await make_allocation(db, clock, fund=matched, pounds=10_000)
    from_own = await make_allocation(db, clock, fund=own, pounds=10_000)
    with pytest.raises(Refused) as refused:
        await commit(db, clock, [(from_matched, 1_000 * POUND)])
    await db.rollback()
    assert refused.value.rule == "match_funding"
    assert "£500.00 more must come from other allocations" in str(refused.value)
    await commit(db, clock, [(from_matched, 500 * POUND), (from_own, 500 * POUND)])
    assert await services.check_books(db) == []


async def test_a_lapsed_allocation_takes_no_new_commitments_but_a_non_lapsing_one_does(db, clock):
    lapsing = await make_fund(db, clock, name="Lapsing")
    lasting = await make_fund(db, clock, name="Lasting", lapses_at_year_end=False)
    old = await make_allocation(db, clock, fund=lapsing, year="2024/25")
    kept = await make_allocation(db, clock, fund=lasting, year="2024/25")
    with pytest.raises(Refused, match="lapses at 31 March: its 2024/25 allocations closed on 31 March 2025"):
        await commit(db, clock, [(old, 100 * POUND)])
    await db.rollback()
    await commit(db, clock, [(kept, 100 * POUND)])


async def test_split_reference_and_adjustment_refusals(db, clock):
    fund = await make_fund(db, clock)
    allocation = await make_allocation(db, clock, fund=fund, pounds=1_000)
    await commit(db, clock, [(allocation, 600 * POUND)], reference="DUP-1")
    before = await footprint(db)
    with pytest.raises(Refused, match="£100.00 short of £700.00"):
        await commit(db, clock, [(allocation, 600 * POUND)], total=700 * POUND, reference="X-2")
    await db.rollback()
    with pytest.raises(ValidationFailed, match="reference DUP-1 already exists"):
        await commit(db, clock, [(allocation, 100 * POUND)], reference="DUP-1")
    await db.rollback()
    with pytest.raises(Refused, match=r"below what is committed and spent \(£600.00\)"):
        await services.adjust_allocation(db, allocation_id=allocation, delta_pence=-401 * POUND, reason="cut",
                                         actor=ACTOR, now=clock.now())
    await db.rollback()
    with pytest.raises(ValidationFailed, match="reason"):
        await services.adjust_allocation(db, allocation_id=allocation, delta_pence=-1, reason=" ", actor=ACTOR,
                                         now=clock.now())
    await db.rollback()
    assert await footprint(db) == before


async def test_payments_and_refunds_stay_within_their_line_and_a_refund_after_release_goes_back(db, clock):
    fund = await make_fund(db, clock)
    allocation = await make_allocation(db, clock, fund=fund, pounds=1_000)
    award = await commit(db, clock, [(allocation, 400 * POUND)])
    with pytest.raises(Refused, match="a payment of £400.01 is £0.01 too much"):
        await services.record_payment(db, commitment_id=award, allocation_id=allocation, pence=40_001,
                                      actor=ACTOR, now=clock.now())
    await db.rollback()
    await services.record_payment(db, commitment_id=award, allocation_id=allocation, pence=300 * POUND,
                                  actor=ACTOR, now=clock.now())
    await services.release_commitment(db, commitment_id=award, reason="done", actor=ACTOR, now=clock.now())
    await db.commit()
    assert await balance(db, allocation) == Balance(1_000 * POUND, 0, 300 * POUND)
    with pytest.raises(IllegalTransition):
        await services.record_payment(db, commitment_id=award, allocation_id=allocation, pence=1,
                                      actor=ACTOR, now=clock.now())
    await db.rollback()
    with pytest.raises(IllegalTransition):
        await services.release_commitment(db, commitment_id=award, reason="again", actor=ACTOR, now=clock.now())
    await db.rollback()
    await services.record_refund(db, commitment_id=award, allocation_id=allocation, pence=100 * POUND,
                                 reason="Returned kit", actor=ACTOR, now=clock.now() + timedelta(days=1))
    await db.commit()
    assert await balance(db, allocation) == Balance(1_000 * POUND, 0, 200 * POUND)
    assert await services.check_books(db) == []


async def test_allocations_are_unique_per_fund_year_icb_and_budget(db, clock):
    fund = await make_fund(db, clock)
    await make_allocation(db, clock, fund=fund)
    await make_allocation(db, clock, fund=fund, budget="capital")  # capital is a separate allocation
    with pytest.raises(ValidationFailed, match="already has a revenue allocation"):
        await make_allocation(db, clock, fund=fund)
    await db.rollback()
    with pytest.raises(ValidationFailed, match="financial year like 2025/26"):
        await make_allocation(db, clock, fund=fund, year="2025/27")
    await db.rollback()
    with pytest.raises(ValidationFailed, match="integrated care board"):
        await make_allocation(db, clock, fund=fund, ods="Y56")
    await db.rollback()


async def test_the_ledger_cannot_be_changed_through_the_orm(db, clock):
    fund = await make_fund(db, clock)
    await make_allocation(db, clock, fund=fund)
    entry = await scalar(db, sa.select(LedgerEntry))
    entry.amount_pence = 1
    with pytest.raises(RuntimeError, match="append-only"):
        await db.flush()
    await db.rollback()
