"""Funds services: define funds, allocate, adjust, commit, pay, refund, release, and rebuild balances.

These functions take the caller's session and never commit: a competition's award transaction calls
`commit_funds` inside its own transaction, and the page commands in `dps.funds.commands` commit.
Each change writes its ledger entries and one audit event in the caller's transaction.

How overspending is prevented, under any concurrency
----------------------------------------------------
Every change of a balance is ONE conditional UPDATE that carries its own check, for example

    UPDATE fund_allocation SET committed_pence = committed_pence + :x
    WHERE id = :id AND allocated_pence - committed_pence - spent_pence >= :x

and the service reads the returned row (UPDATE ... RETURNING) to see whether it happened. We use this rather than
SELECT ... FOR UPDATE because:
- it is one atomic statement on both databases: PostgreSQL takes the row lock for the UPDATE and, under READ
  COMMITTED, re-evaluates the WHERE clause against the newest committed version of the row after waiting for a
  concurrent writer, so a check and its write can never be split by another transaction; SQLite has no row
  locks and no FOR UPDATE at all (it would be silently ignored), but serialises writers (BEGIN IMMEDIATE);
- no lock is held between a read in Python and the write, and there is no read-modify-write to get wrong;
- the allocation's CHECK constraint (committed + spent <= allocated) stays as a last line of defence.
Reads before the UPDATE only produce a friendly message; the UPDATE is what decides.

Lock order: allocations are updated in id order, so two transactions never wait for each other in a cycle. (An
audit event is an insert of its own row and locks nothing shared: see "The audit log" in docs/CONVENTIONS.md.)
Each service runs inside a SAVEPOINT: when it refuses, nothing it did stays in the caller's transaction. (An award
calls `check_commitment` and `write_commitment` itself, with no savepoint: it rolls its whole transaction back on a
refusal.)
"""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from dps.agreements.models import Category
from dps.audit.services import Actor, record
from dps.calendar import financial_year_bounds, london_date
from dps.db import changed_rows, table_of
from dps.errors import Conflict, IllegalTransition, NotFound, ValidationFailed
from dps.funds.models import (
    Allocation,
    BudgetType,
    Commitment,
    CommitmentLine,
    CommitmentSource,
    CommitmentState,
    Fund,
    LedgerEntry,
    LedgerKind,
)
from dps.funds.rules import (
    AllocationPlace,
    Balance,
    BuyerPlace,
    FundRules,
    LineBalance,
    Refused,
    allocation_open_to,
    apply,
    check_adjust,
    check_allocation_open_to,
    check_commit,
    check_fund_rules,
    check_line_pay,
    check_line_refund,
    check_not_lapsed,
    check_pay,
    check_payment_not_lapsed,
    check_refund,
    check_split,
    is_lapsed,
    rebuild,
    validate_rules,
)
from dps.identity.models import Organisation, OrganisationKind
from dps.identity.rules import BuyerType
from dps.money import format_pence

ALLOCATIONS = table_of(Allocation)
LINES = table_of(CommitmentLine)
COMMITMENTS = table_of(Commitment)


def rules_of(fund: Fund) -> FundRules:
    return FundRules(
        name=fund.name,
        eligible_category_ids=frozenset(fund.eligible_category_ids or ()),
        eligible_buyer_types=frozenset(fund.eligible_buyer_types or ()),
        match_funding_bps=fund.match_funding_bps,
        per_award_cap_pence=fund.per_award_cap_pence,
        lapses_at_year_end=fund.lapses_at_year_end,
        national=fund.national,
    )


def balance_of(allocation: Allocation) -> Balance:
    return Balance(allocation.allocated_pence, allocation.committed_pence, allocation.spent_pence)


@dataclass(frozen=True)
class AllocationContext:
    """An allocation with what a person needs to recognise it."""

    allocation: Allocation
    fund: Fund
    icb: Organisation

    @property
    def label(self) -> str:
        return (f"{self.fund.name} {self.allocation.financial_year}, {self.icb.name} ({self.icb.ods_code}), "
                f"{self.allocation.budget_type}")

    @property
    def balance(self) -> Balance:
        return balance_of(self.allocation)

    @property
    def place(self) -> AllocationPlace:
        return AllocationPlace(self.icb.ods_code or "", self.icb.name, self.label)


def unnamed_buyer_place(buyer: Organisation) -> BuyerPlace:
    """The buyer as the ICB rule sees it (RULES.md 5), its ICB known by its code only: enough to apply the rule."""
    return BuyerPlace(name=buyer.name, buyer_type=buyer.buyer_type, ods_code=buyer.ods_code,
                      parent_icb_ods_code=buyer.parent_icb_ods_code)


async def buyer_place(session: AsyncSession, buyer: Organisation) -> BuyerPlace:
    """The buyer as the ICB rule sees it (RULES.md 5): its ICB, named, as a refusal or a page names it."""
    place = unnamed_buyer_place(buyer)
    if place.home_icb is None:
        return place
    name = await session.scalar(sa.select(col(Organisation.name)).where(col(Organisation.ods_code) == place.home_icb))
    return replace(place, icb_name=name)


async def allocation_contexts(session: AsyncSession, allocation_ids: Sequence[int]) -> dict[int, AllocationContext]:
    """Fresh from the database (populate_existing: the conditional UPDATEs bypass the identity map)."""
    if not allocation_ids:
        return {}
    rows = await session.execute(_allocation_contexts_query(), {"allocation_ids": sorted(set(allocation_ids))})
    return {allocation.id: AllocationContext(allocation, fund, icb) for allocation, fund, icb in rows}


@functools.cache
def _allocation_contexts_query() -> sa.Executable:
    """Built once: every commitment, payment and funds page asks."""
    return (sa.select(Allocation, Fund, Organisation)
            .join(Fund, col(Fund.id) == Allocation.fund_id)
            .join(Organisation, col(Organisation.id) == Allocation.icb_organisation_id)
            .where(col(Allocation.id).in_(sa.bindparam("allocation_ids", expanding=True)))
            .execution_options(populate_existing=True))


async def allocation_context(session: AsyncSession, allocation_id: int) -> AllocationContext:
    found = await allocation_contexts(session, [allocation_id])
    if allocation_id not in found:
        raise NotFound("There is no such allocation")
    return found[allocation_id]


def _ledger(allocation_id: int, kind: LedgerKind, amount: int, actor: Actor, now: datetime, *,
            commitment_id: int | None = None, reason: str = "") -> LedgerEntry:
    return LedgerEntry(allocation_id=allocation_id, kind=kind, amount_pence=amount, commitment_id=commitment_id,
                       reason=reason, actor_user_id=actor.user_id, actor_label=actor.label[:320], at=now)


async def _move(session: AsyncSession, allocation_id: int, condition: Any, now: datetime, *, allocated: int = 0,
                committed: int = 0, spent: int = 0) -> Balance | None:
    """Change an allocation's balances in one conditional UPDATE; None if the condition did not hold."""
    row = (await session.execute(
        sa.update(ALLOCATIONS)
        .where(ALLOCATIONS.c.id == allocation_id, condition)
        .values(allocated_pence=ALLOCATIONS.c.allocated_pence + allocated,
                committed_pence=ALLOCATIONS.c.committed_pence + committed,
                spent_pence=ALLOCATIONS.c.spent_pence + spent,
                version=ALLOCATIONS.c.version + 1, updated_at=now)
        .returning(ALLOCATIONS.c.allocated_pence, ALLOCATIONS.c.committed_pence, ALLOCATIONS.c.spent_pence)
    )).first()
    return None if row is None else Balance(*row)


def _remaining_at_least(pence: Any) -> Any:
    c = ALLOCATIONS.c
    return c.allocated_pence - c.committed_pence - c.spent_pence >= pence


# --- funds and allocations --------------------------------------------------------------------------------


async def define_fund(session: AsyncSession, *, name: str, description: str, owner_organisation_id: int,
                      rules: FundRules, actor: Actor, now: datetime) -> Fund:
    name = name.strip()
    rules = replace(rules, name=name)
    validate_rules(rules)
    if len(name) > 200:
        raise ValidationFailed("Enter a fund name of 200 characters or fewer", field="name")
    owner = await session.get(Organisation, owner_organisation_id)
    if owner is None or owner.kind not in (OrganisationKind.AUTHORITY, OrganisationKind.BUYER):
        raise ValidationFailed("Choose the organisation that owns the fund", field="owner_organisation_id")
    if rules.eligible_category_ids:
        known = set((await session.scalars(
            sa.select(col(Category.id)).where(col(Category.id).in_(rules.eligible_category_ids)))).all())
        if known != set(rules.eligible_category_ids):
            raise ValidationFailed("Choose eligible categories from the list", field="eligible_category_ids")
    if await session.scalar(sa.select(col(Fund.id)).where(sa.func.lower(col(Fund.name)) == name.lower())) is not None:
        raise ValidationFailed(f"A fund called {name} already exists", field="name")
    fund = Fund(name=name, description=description.strip(), owner_organisation_id=owner_organisation_id,
                eligible_category_ids=sorted(rules.eligible_category_ids),
                eligible_buyer_types=sorted(rules.eligible_buyer_types),
                match_funding_bps=rules.match_funding_bps, per_award_cap_pence=rules.per_award_cap_pence,
                lapses_at_year_end=rules.lapses_at_year_end, national=rules.national, created_at=now,
                updated_at=now)
    session.add(fund)
    await session.flush()
    await record(session, actor=actor, action="fund.defined", entity_type="fund", entity_id=fund.id or 0, now=now,
                 after=fund.model_dump(mode="json", exclude={"id", "created_at", "updated_at"}))
    return fund


async def allocate(session: AsyncSession, *, fund_id: int, financial_year: str, icb_organisation_id: int,
                   budget_type: str, pence: int, actor: Actor, now: datetime, reason: str = "") -> Allocation:
    """A new allocation of a fund to one ICB for one financial year, capital or revenue."""
    financial_year = financial_year.strip()
    financial_year_bounds(financial_year)  # refuses anything that is not like 2025/26
    try:
        budget = BudgetType(budget_type)
    except ValueError:
        raise ValidationFailed("Choose capital or revenue", field="budget_type") from None
    fund = await session.get(Fund, fund_id)
    if fund is None:
        raise NotFound("There is no such fund")
    icb = await session.get(Organisation, icb_organisation_id)
    if icb is None or icb.buyer_type != BuyerType.ICB:
        raise ValidationFailed("Choose an integrated care board", field="icb_organisation_id")
    opening = apply(Balance(), LedgerKind.ALLOCATE, pence)
    taken = await session.scalar(sa.select(col(Allocation.id)).where(
        col(Allocation.fund_id) == fund_id, col(Allocation.financial_year) == financial_year,
        col(Allocation.icb_organisation_id) == icb_organisation_id, col(Allocation.budget_type) == budget))
    if taken is not None:
        raise ValidationFailed(f"{fund.name} already has a {budget} allocation for {icb.name} in {financial_year}: "
                               "adjust that allocation instead", field="icb_organisation_id")
    async with session.begin_nested():
        allocation = Allocation(fund_id=fund_id, financial_year=financial_year, icb_organisation_id=icb_organisation_id,
                                budget_type=budget, allocated_pence=opening.allocated, created_at=now, updated_at=now)
        session.add(allocation)
        await session.flush()
        await record(session, actor=actor, action="allocation.created", entity_type="fund_allocation",
                     entity_id=allocation.id or 0, now=now,
                     after={"fund_id": fund_id, "financial_year": financial_year, "icb_organisation_id": icb.id,
                            "budget_type": budget, "allocated_pence": opening.allocated, "reason": reason})
        session.add(_ledger(allocation.id or 0, LedgerKind.ALLOCATE, opening.allocated, actor, now, reason=reason))
        await session.flush()
    return allocation


async def adjust_allocation(session: AsyncSession, *, allocation_id: int, delta_pence: int, reason: str,
                            actor: Actor, now: datetime) -> Balance:
    """Move an allocation up or down; never below what is committed and spent. Returns the new balance."""
    reason = reason.strip()
    if not reason:
        raise ValidationFailed("Enter the reason for the adjustment", field="reason")
    context = await allocation_context(session, allocation_id)
    check_adjust(context.balance, delta_pence, context.label)
    async with session.begin_nested():
        await record(session, actor=actor, action="allocation.adjusted", entity_type="fund_allocation",
                     entity_id=allocation_id, now=now, before={"allocated_pence": context.balance.allocated},
                     after={"delta_pence": delta_pence, "reason": reason})
        c = ALLOCATIONS.c
        floor_holds = c.allocated_pence + delta_pence >= c.committed_pence + c.spent_pence
        moved = await _move(session, allocation_id, floor_holds, now, allocated=delta_pence)
        if moved is None:
            await _refuse_again(session, allocation_id, lambda fresh, label: check_adjust(fresh, delta_pence, label))
        session.add(_ledger(allocation_id, LedgerKind.ADJUST, delta_pence, actor, now, reason=reason))
        await session.flush()
    return moved  # type: ignore[return-value]


async def _refuse_again(session: AsyncSession, allocation_id: int, check: Any) -> None:
    """A conditional UPDATE matched nothing: someone changed the allocation since we looked. Say why, freshly."""
    fresh = await allocation_context(session, allocation_id)
    check(fresh.balance, fresh.label)
    raise Conflict(f"{fresh.label} changed while this was being saved: try again")


# --- commitments ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CommitmentPlan:
    """A commitment checked against the rules and the allocations' money as last read (`check_commitment`), not
    yet written. The conditional UPDATE that writes it (`write_commitment`) still decides."""

    source: CommitmentSource
    reference: str
    buyer_organisation_id: int
    category_id: int | None
    split: tuple[tuple[int, int], ...]  # (allocation id, pence), in allocation id order: the lock order
    total_pence: int
    description: str

    def commitment(self, actor: Actor, now: datetime) -> Commitment:
        return Commitment(source=self.source, reference=self.reference,
                          buyer_organisation_id=self.buyer_organisation_id, category_id=self.category_id,
                          description=self.description, total_pence=self.total_pence, state=CommitmentState.OPEN,
                          created_by_user_id=actor.user_id, created_at=now, updated_at=now)


async def commit_funds(session: AsyncSession, *, buyer_org_id: int, category_id: int | None,
                       lines: Sequence[tuple[int, int]], total_pence: int, reference: str, actor: Actor,
                       now: datetime, description: str = "",
                       source: CommitmentSource | str = CommitmentSource.AWARD,
                       fields: Sequence[str] | None = None) -> Commitment:
    """Commit money for one award, split over allocations as `lines` of (allocation id, pence): `check_commitment`,
    then `write_commitment`. It does NOT commit the transaction. A refusal raises `dps.funds.rules.Refused` (a
    ValidationFailed naming the rule and the shortfall) and leaves the session as it was, through a savepoint.

    A caller writing the commitment in a transaction of its own that rolls back whole on a refusal (an award) calls
    the two steps itself: the check before its own writes, so that a refusal costs none of them, and the write last,
    with no savepoint."""
    plan = await check_commitment(session, buyer_org_id=buyer_org_id, category_id=category_id, lines=lines,
                                  total_pence=total_pence, reference=reference, now=now, description=description,
                                  source=source, fields=fields)
    async with session.begin_nested():
        commitment = plan.commitment(actor, now)
        session.add(commitment)
        await session.flush()
        await write_commitment(session, plan, commitment, actor=actor, now=now)
    return commitment


async def check_commitment(session: AsyncSession, *, buyer_org_id: int, category_id: int | None,
                           lines: Sequence[tuple[int, int]], total_pence: int, reference: str, now: datetime,
                           description: str = "", source: CommitmentSource | str = CommitmentSource.AWARD,
                           fields: Sequence[str] | None = None,
                           reference_new_by_construction: bool = False) -> CommitmentPlan:
    """Check a commitment before anything is written. `fields` names the form field that chose each line's
    allocation, so that a refusal of one line points at its chooser.

    It checks the split (sums to `total_pence` exactly), that each allocation is open to the buyer (RULES.md 5, money
    stays in its ICB: its own ICB's, or a national fund's), each fund's rules (buyer type, category, per-award cap,
    match funding, lapse) and each allocation's remaining money as last committed, and refuses with
    `dps.funds.rules.Refused`. It reads and writes nothing else. A caller whose reference cannot have been used
    (an award's: one a competition, confirmed once, under the competition's lock) skips the reference's lookup with
    `reference_new_by_construction`; the (source, reference) unique constraint still holds."""
    reference = reference.strip()
    if not reference:
        raise ValidationFailed("Enter a reference for the commitment, like a contract number", field="reference")
    if len(reference) > 100:
        raise ValidationFailed("Enter a reference of 100 characters or fewer", field="reference")
    try:
        source = CommitmentSource(source)
    except ValueError:
        raise ValidationFailed("Unknown commitment source", field="source") from None
    split = [(int(allocation_id), int(pence)) for allocation_id, pence in lines]
    check_split(split, total_pence)

    buyer = await session.get(Organisation, buyer_org_id)
    if buyer is None or buyer.kind != OrganisationKind.BUYER:
        raise ValidationFailed("Choose the NHS organisation making the award", field="buyer_organisation_id")
    category = None
    if category_id is not None:
        category = await session.get(Category, category_id)
        if category is None:
            raise ValidationFailed("Choose a category from the list", field="category_id")
    contexts = await allocation_contexts(session, [allocation_id for allocation_id, _ in split])

    def field_of(index: int) -> str:
        return fields[index] if fields is not None and index < len(fields) else "lines"

    for index, (allocation_id, _) in enumerate(split):
        if allocation_id not in contexts:
            raise ValidationFailed(f"There is no allocation {allocation_id}: choose one from the list",
                                   field=field_of(index))

    today = london_date(now)
    place = unnamed_buyer_place(buyer)
    drawn_by_fund: dict[int, int] = defaultdict(int)
    for allocation_id, pence in split:
        drawn_by_fund[contexts[allocation_id].fund.id or 0] += pence
    for index, (allocation_id, pence) in enumerate(split):
        context = contexts[allocation_id]
        rules = rules_of(context.fund)
        try:
            if not allocation_open_to(place, context.place, rules):  # refused, naming the buyer's ICB
                check_allocation_open_to(await buyer_place(session, buyer), context.place, rules)
            check_fund_rules(rules, category_id=category_id, category_name=category.name if category else None,
                             buyer_type=buyer.buyer_type, buyer_name=buyer.name,
                             drawn_pence=drawn_by_fund[context.fund.id or 0], total_pence=total_pence)
            check_not_lapsed(rules, context.allocation.financial_year, today)
            check_commit(context.balance, pence, context.label)
        except Refused as refused:
            if fields is None:
                raise
            raise Refused(str(refused), rule=refused.rule, field=field_of(index),
                          shortfall_pence=refused.shortfall_pence) from None
    if not reference_new_by_construction and await session.scalar(sa.select(col(Commitment.id)).where(
            col(Commitment.source) == source, col(Commitment.reference) == reference)) is not None:
        raise ValidationFailed(f"A commitment with the reference {reference} already exists", field="reference")
    return CommitmentPlan(source=source, reference=reference, buyer_organisation_id=buyer_org_id,
                          category_id=category_id, split=tuple(sorted(split)), total_pence=total_pence,
                          description=description.strip())


async def write_commitment(session: AsyncSession, plan: CommitmentPlan, commitment: Commitment, *, actor: Actor,
                           now: datetime, caller_rolls_back_on_refusal: bool = False) -> None:
    """Write a checked commitment: `commitment` is `plan.commitment()`, flushed (it has its id). Its lines, ledger
    entries and audit event go out with everything else the transaction holds unflushed, in one flush; then the
    allocations' rows, in one conditional UPDATE, which stay locked from it to the commit, so nothing but the commit
    should follow. If the money is no longer there, it refuses (Refused, freshly said). A caller that rolls back its
    whole transaction on a refusal says so (`caller_rolls_back_on_refusal`): the transaction is rolled back at once,
    so the allocations' rows are not held while the reason is read."""
    await record(session, actor=actor, action="commitment.made", entity_type="fund_commitment",
                 entity_id=commitment.id or 0, now=now,
                 after={"source": plan.source, "reference": plan.reference,
                        "buyer_organisation_id": plan.buyer_organisation_id, "category_id": plan.category_id,
                        "total_pence": plan.total_pence, "lines": [list(line) for line in plan.split]})
    for allocation_id, pence in plan.split:
        session.add(CommitmentLine(commitment_id=commitment.id or 0, allocation_id=allocation_id, amount_pence=pence))
        session.add(_ledger(allocation_id, LedgerKind.COMMIT, pence, actor, now, commitment_id=commitment.id,
                            reason=f"{plan.source.replace('_', '-')} {plan.reference}"))
    await session.flush()
    moved = await _commit_to_allocations(session, plan.split, now)
    short = [(allocation_id, pence) for allocation_id, pence in plan.split if allocation_id not in moved]
    if short and caller_rolls_back_on_refusal:
        await session.rollback()  # as the caller would, but now: the allocations are free while we say why
    for allocation_id, pence in short:
        await _refuse_again(session, allocation_id,
                            lambda fresh, label, pence=pence: check_commit(fresh, pence, label))


async def _commit_to_allocations(session: AsyncSession, split: Sequence[tuple[int, int]], now: datetime) -> set[int]:
    """Commit each line's pence to its allocation in ONE conditional UPDATE (each row keeps its own check) and
    return the allocations it moved. The rows are locked first in id order (a locking CTE), so concurrent splits
    over the same allocations never deadlock; on PostgreSQL the UPDATE then re-checks each row's condition on its
    latest committed version, as any conditional UPDATE does."""
    parameters: dict[str, Any] = {"allocation_ids": sorted(allocation_id for allocation_id, _ in split),
                                  "moved_at": now}
    for index, (allocation_id, pence) in enumerate(split):
        parameters[f"allocation_{index}"], parameters[f"pence_{index}"] = allocation_id, pence
    rows = await session.execute(_commit_statement(len(split)), parameters)
    return {int(allocation_id) for (allocation_id,) in rows}


@functools.cache
def _commit_statement(lines: int) -> sa.Update:
    """The UPDATE of `_commit_to_allocations` for a split of so many lines, built once: building it is most of the
    Python an award's commitment costs."""
    c = ALLOCATIONS.c
    pence = sa.case(*((c.id == sa.bindparam(f"allocation_{index}"), sa.bindparam(f"pence_{index}", type_=sa.BigInteger))
                      for index in range(lines)))
    # FOR NO KEY UPDATE, the lock the UPDATE itself takes: it does not wait on the key-share locks that the
    # lines' and ledger's foreign keys hold on these rows (FOR UPDATE would, and deadlock).
    locked = (sa.select(c.id).where(c.id.in_(sa.bindparam("allocation_ids", expanding=True))).order_by(c.id)
              .with_for_update(key_share=True).cte("locked"))
    return (sa.update(ALLOCATIONS)
            .where(c.id.in_(sa.select(locked.c.id)), _remaining_at_least(pence))
            .values(committed_pence=c.committed_pence + pence, version=c.version + 1,
                    updated_at=sa.bindparam("moved_at"))
            .returning(c.id))


@dataclass(frozen=True)
class LineContext:
    commitment: Commitment
    line: CommitmentLine
    allocation: AllocationContext

    @property
    def balance(self) -> LineBalance:
        return LineBalance(self.line.amount_pence, self.line.spent_pence, self.line.released_pence)


async def commitment_lines(session: AsyncSession, commitment_id: int) -> tuple[Commitment, list[LineContext]]:
    commitment = await session.scalar(sa.select(Commitment).where(col(Commitment.id) == commitment_id)
                                      .execution_options(populate_existing=True))
    if commitment is None:
        raise NotFound("There is no such commitment")
    lines = (await session.scalars(sa.select(CommitmentLine).where(col(CommitmentLine.commitment_id) == commitment_id)
                                   .order_by(col(CommitmentLine.allocation_id))
                                   .execution_options(populate_existing=True))).all()
    contexts = await allocation_contexts(session, [line.allocation_id for line in lines])
    return commitment, [LineContext(commitment, line, contexts[line.allocation_id]) for line in lines]


async def _line(session: AsyncSession, commitment_id: int, allocation_id: int) -> LineContext:
    _commitment, lines = await commitment_lines(session, commitment_id)
    for line in lines:
        if line.line.allocation_id == allocation_id:
            return line
    raise NotFound("This commitment does not draw on that allocation")


async def _move_line(session: AsyncSession, line_id: int, condition: Any, *, spent: int = 0,
                     released: int = 0) -> bool:
    changed = await changed_rows(session,
        sa.update(LINES).where(LINES.c.id == line_id, condition)
        .values(spent_pence=LINES.c.spent_pence + spent, released_pence=LINES.c.released_pence + released))
    return changed == 1


def _outstanding_at_least(pence: int) -> Any:
    return LINES.c.amount_pence - LINES.c.spent_pence - LINES.c.released_pence >= pence


async def record_payment(session: AsyncSession, *, commitment_id: int, allocation_id: int, pence: int,
                         actor: Actor, now: datetime, reason: str = "", payable_on: date | None = None) -> Balance:
    """A payment (a contract milestone) moves money from committed to spent on one line of a commitment.

    RULES.md 5, lapse at 31 March: refused when the allocation's money has lapsed on `payable_on`, the London date
    the payment was asked for (today unless given: a milestone payment raised before 31 March and confirmed by
    Stripe after it was accrued in its year), unless the fund's rules carry money over."""
    item = await _line(session, commitment_id, allocation_id)
    if item.commitment.state != CommitmentState.OPEN:
        raise IllegalTransition("This commitment has been released: nothing is left to pay")
    label = item.allocation.label
    check_payment_not_lapsed(rules_of(item.allocation.fund), item.allocation.allocation.financial_year,
                             payable_on or london_date(now), label)
    check_line_pay(item.balance, pence, label)
    check_pay(item.allocation.balance, pence, label)
    async with session.begin_nested():
        await record(session, actor=actor, action="commitment.paid", entity_type="fund_commitment",
                     entity_id=commitment_id, now=now,
                     after={"allocation_id": allocation_id, "amount_pence": pence, "reason": reason.strip()})
        if not await _move_line(session, item.line.id or 0, _outstanding_at_least(pence), spent=pence):
            fresh = await _line(session, commitment_id, allocation_id)
            check_line_pay(fresh.balance, pence, label)
            raise Conflict("The commitment changed while this payment was being saved: try again")
        moved = await _move(session, allocation_id, ALLOCATIONS.c.committed_pence >= pence, now,
                            committed=-pence, spent=pence)
        if moved is None:
            await _refuse_again(session, allocation_id, lambda fresh, label: check_pay(fresh, pence, label))
        session.add(_ledger(allocation_id, LedgerKind.PAY, pence, actor, now, commitment_id=commitment_id,
                            reason=reason.strip()))
        await _touch(session, commitment_id, now)
    return moved  # type: ignore[return-value]


async def check_can_pay(session: AsyncSession, *, commitment_id: int, allocation_ids: Sequence[int],
                        on: date) -> None:
    """Before a payment is asked for elsewhere (a milestone payment at Stripe): would `record_payment` on these lines
    of the commitment be refused because their money lapsed at 31 March (RULES.md 5)? Raises `Refused` if so."""
    commitment, lines = await commitment_lines(session, commitment_id)
    if commitment.state != CommitmentState.OPEN:
        raise IllegalTransition("This commitment has been released: nothing is left to pay")
    wanted = set(allocation_ids)
    for item in lines:
        if item.line.allocation_id in wanted:
            check_payment_not_lapsed(rules_of(item.allocation.fund), item.allocation.allocation.financial_year, on,
                                     item.allocation.label)


async def record_refund(session: AsyncSession, *, commitment_id: int, allocation_id: int, pence: int,
                        reason: str, actor: Actor, now: datetime) -> Balance:
    """A refund moves money back from spent to committed on one line. On a released commitment the refunded
    money is released at once (back to remaining), since nothing is left to pay it to."""
    reason = reason.strip()
    if not reason:
        raise ValidationFailed("Enter the reason for the refund", field="reason")
    item = await _line(session, commitment_id, allocation_id)
    label = item.allocation.label
    check_line_refund(item.balance, pence, label)
    check_refund(item.allocation.balance, pence, label)
    released = item.commitment.state == CommitmentState.RELEASED
    async with session.begin_nested():
        await record(session, actor=actor, action="commitment.refunded", entity_type="fund_commitment",
                     entity_id=commitment_id, now=now,
                     after={"allocation_id": allocation_id, "amount_pence": pence, "reason": reason,
                            "released_at_once": released})
        if not await _move_line(session, item.line.id or 0, LINES.c.spent_pence >= pence, spent=-pence,
                                released=pence if released else 0):
            fresh = await _line(session, commitment_id, allocation_id)
            check_line_refund(fresh.balance, pence, label)
            raise Conflict("The commitment changed while this refund was being saved: try again")
        moved = await _move(session, allocation_id, ALLOCATIONS.c.spent_pence >= pence, now,
                            committed=0 if released else pence, spent=-pence)
        if moved is None:
            await _refuse_again(session, allocation_id, lambda fresh, label: check_refund(fresh, pence, label))
        session.add(_ledger(allocation_id, LedgerKind.REFUND, pence, actor, now, commitment_id=commitment_id,
                            reason=reason))
        if released:
            session.add(_ledger(allocation_id, LedgerKind.RELEASE, pence, actor, now, commitment_id=commitment_id,
                                reason="refund on a released commitment"))
        await _touch(session, commitment_id, now)
    return moved  # type: ignore[return-value]


async def release_commitment(session: AsyncSession, *, commitment_id: int, reason: str, actor: Actor,
                             now: datetime) -> Commitment:
    """The contract ended under budget: whatever is still committed and unpaid goes back to remaining."""
    reason = reason.strip()
    if not reason:
        raise ValidationFailed("Enter why the commitment is being released", field="reason")
    commitment, lines = await commitment_lines(session, commitment_id)
    if commitment.state != CommitmentState.OPEN:
        raise IllegalTransition("This commitment has already been released")
    async with session.begin_nested():
        await record(session, actor=actor, action="commitment.released", entity_type="fund_commitment",
                     entity_id=commitment_id, now=now, before={"state": commitment.state},
                     after={"state": CommitmentState.RELEASED, "reason": reason,
                            "released": [[item.line.allocation_id, item.balance.outstanding] for item in lines]})
        closed = await changed_rows(session,
            sa.update(COMMITMENTS).where(COMMITMENTS.c.id == commitment_id, COMMITMENTS.c.state == CommitmentState.OPEN)
            .values(state=CommitmentState.RELEASED, released_at=now, updated_at=now))
        if closed != 1:
            raise IllegalTransition("This commitment has already been released")
        for item in lines:  # already in allocation id order
            pence = item.balance.outstanding
            if pence <= 0:
                continue
            c = LINES.c
            if not await _move_line(session, item.line.id or 0,
                                    c.amount_pence - c.spent_pence - c.released_pence == pence, released=pence):
                raise Conflict("The commitment changed while it was being released: try again")
            moved = await _move(session, item.line.allocation_id, ALLOCATIONS.c.committed_pence >= pence, now,
                                committed=-pence)
            if moved is None:
                raise Conflict(f"{item.allocation.label} has less committed than this commitment: the books need "
                               "checking")
            session.add(_ledger(item.line.allocation_id, LedgerKind.RELEASE, pence, actor, now,
                                commitment_id=commitment_id, reason=reason))
        await session.flush()
    await session.refresh(commitment)
    return commitment


async def _touch(session: AsyncSession, commitment_id: int, now: datetime) -> None:
    await session.execute(sa.update(COMMITMENTS).where(COMMITMENTS.c.id == commitment_id).values(updated_at=now))
    await session.flush()


# --- the allocations open to a buyer (RULES.md 5: money stays in its ICB) ---------------------------------


@dataclass(frozen=True)
class OpenAllocation:
    """An allocation a buyer may name, with what remains in it, as the buyer's choosers list it."""

    allocation_id: int
    fund_id: int
    fund_name: str
    national: bool
    financial_year: str
    icb_ods_code: str
    icb_name: str
    budget_type: str
    remaining: int

    @property
    def label(self) -> str:
        """Like "HTAF 2025/26 QKK revenue: £120,000.00 remaining"."""
        national = " (national fund)" if self.national else ""
        return (f"{self.fund_name} {self.financial_year} {self.icb_ods_code} {self.budget_type}{national}: "
                f"{format_pence(self.remaining)} remaining")


async def allocations_open_to_buyer(session: AsyncSession, buyer_organisation_id: int, *, today: date,
                                    category_id: int | None = None) -> list[OpenAllocation]:
    """The allocations this buyer may commit (RULES.md 5): its own ICB's (an ICB: its own; a trust: its ICB's) and
    every national fund's, leaving out those that have lapsed, those of funds not open to its type of buyer and,
    when `category_id` is given, those of funds that do not pay for that category. Its own ICB's come first."""
    buyer = await session.get(Organisation, buyer_organisation_id)
    if buyer is None or buyer.kind != OrganisationKind.BUYER:
        return []
    place = await buyer_place(session, buyer)
    open_to_it: sa.ColumnElement[bool] = col(Fund.national).is_(True)
    if place.home_icb is not None:
        open_to_it = sa.or_(open_to_it, col(Organisation.ods_code) == place.home_icb)
    rows = (await session.execute(
        sa.select(Allocation, Fund, Organisation).join(Fund, col(Fund.id) == Allocation.fund_id)
        .join(Organisation, col(Organisation.id) == Allocation.icb_organisation_id).where(open_to_it)
        .execution_options(populate_existing=True))).all()
    found = []
    for allocation, fund, owner in rows:
        rules = rules_of(fund)
        context = AllocationContext(allocation, fund, owner)
        if not allocation_open_to(place, context.place, rules):
            continue
        if is_lapsed(allocation.financial_year, rules.lapses_at_year_end, today):
            continue
        if rules.eligible_buyer_types and buyer.buyer_type not in rules.eligible_buyer_types:
            continue
        if category_id is not None and rules.eligible_category_ids and category_id not in rules.eligible_category_ids:
            continue
        found.append(OpenAllocation(allocation.id or 0, fund.id or 0, fund.name, fund.national,
                                    allocation.financial_year, owner.ods_code or "", owner.name, allocation.budget_type,
                                    balance_of(allocation).remaining))
    found.sort(key=lambda a: (a.icb_ods_code != place.home_icb, a.fund_name.lower(), _year_order(a.financial_year),
                              a.icb_ods_code, a.budget_type))
    return found


def _year_order(financial_year: str) -> int:
    """Newest year first."""
    return -int(financial_year[:4]) if financial_year[:4].isdigit() else 0


async def check_open_to_buyer(session: AsyncSession, *, buyer_organisation_id: int, allocation_ids: Sequence[int],
                              today: date, category_id: int | None = None,
                              fields: Sequence[str] | None = None) -> None:
    """Where a buyer names allocations before any money moves (intended funding of a competition): each must exist,
    be open to the buyer (RULES.md 5: its own ICB's, or a national fund's), be of a fund open to its type of buyer
    and (when given) the category, and not have lapsed. `fields` names the form field of each allocation, for the
    message; a refusal points at the list of allocations open to the buyer. The amounts are checked at the award
    (`commit_funds`)."""
    buyer = await session.get(Organisation, buyer_organisation_id)
    if buyer is None or buyer.kind != OrganisationKind.BUYER:
        raise ValidationFailed("Choose the NHS organisation buying", field="buyer_organisation_id")
    place = await buyer_place(session, buyer)
    contexts = await allocation_contexts(session, allocation_ids)
    category = await session.get(Category, category_id) if category_id is not None else None
    for index, allocation_id in enumerate(allocation_ids):
        field = fields[index] if fields is not None else "lines"
        context = contexts.get(allocation_id)
        if context is None:
            raise ValidationFailed(f"There is no allocation {allocation_id}: choose one from the list of allocations "
                                   f"open to {buyer.name}", field=field)
        rules = rules_of(context.fund)
        if category_id is None:  # not known yet: the category is checked at the award
            rules = replace(rules, eligible_category_ids=frozenset())
        try:
            check_allocation_open_to(place, context.place, rules, field)
            check_fund_rules(rules, category_id=category_id, category_name=category.name if category else None,
                             buyer_type=buyer.buyer_type, buyer_name=buyer.name, drawn_pence=0, total_pence=0)
            check_not_lapsed(rules, context.allocation.financial_year, today)
        except Refused as refused:
            raise Refused(str(refused), rule=refused.rule, field=field) from None


@dataclass(frozen=True)
class BuyerFunding:
    """An NHS buyer's place in the money: the ICB it belongs to (RULES.md 5) and the allocations open to it."""

    organisation: Organisation
    icb: Organisation | None
    region: Organisation | None
    allocations: list[OpenAllocation]

    @property
    def place(self) -> BuyerPlace:
        return BuyerPlace(self.organisation.name, self.organisation.buyer_type, self.organisation.ods_code,
                          self.organisation.parent_icb_ods_code, self.icb.name if self.icb else None)


async def buyer_funding(session: AsyncSession, organisation_id: int, *, today: date) -> BuyerFunding:
    organisation = await session.get(Organisation, organisation_id)
    if organisation is None or organisation.kind != OrganisationKind.BUYER:
        raise NotFound("There is no such organisation")
    place = await buyer_place(session, organisation)

    async def by_code(code: str | None) -> Organisation | None:
        if not code:
            return None
        return await session.scalar(sa.select(Organisation).where(col(Organisation.ods_code) == code))

    return BuyerFunding(organisation, await by_code(place.home_icb), await by_code(organisation.region_ods_code),
                        await allocations_open_to_buyer(session, organisation_id, today=today))


# --- the ledger -------------------------------------------------------------------------------------------


async def rebuild_balances(session: AsyncSession) -> dict[int, Balance]:
    """Every allocation's balance recomputed from its ledger entries alone."""
    sums: dict[int, list[tuple[str, int]]] = defaultdict(list)
    rows = await session.execute(
        sa.select(col(LedgerEntry.allocation_id), col(LedgerEntry.kind), sa.func.sum(col(LedgerEntry.amount_pence)))
        .group_by(col(LedgerEntry.allocation_id), col(LedgerEntry.kind)))
    for allocation_id, kind, total in rows:
        sums[allocation_id].append((kind, int(total)))
    ids = (await session.scalars(sa.select(col(Allocation.id)))).all()
    return {allocation_id: rebuild(sums.get(allocation_id, [])) for allocation_id in ids}


@dataclass(frozen=True)
class BooksProblem:
    allocation_id: int
    problem: str


async def check_books(session: AsyncSession) -> list[BooksProblem]:
    """Stored balances against the ledger, and against the commitment lines; empty when the books balance."""
    rebuilt = await rebuild_balances(session)
    stored = {allocation.id: balance_of(allocation) for allocation in (await session.scalars(
        sa.select(Allocation).execution_options(populate_existing=True))).all()}
    lines = await session.execute(
        sa.select(col(CommitmentLine.allocation_id),
                  sa.func.sum(col(CommitmentLine.amount_pence) - col(CommitmentLine.spent_pence)
                              - col(CommitmentLine.released_pence)),
                  sa.func.sum(col(CommitmentLine.spent_pence)))
        .group_by(col(CommitmentLine.allocation_id)))
    by_lines = {allocation_id: (int(outstanding), int(spent)) for allocation_id, outstanding, spent in lines}
    problems = []
    for allocation_id, balance in stored.items():
        if rebuilt.get(allocation_id) != balance:
            problems.append(BooksProblem(allocation_id or 0, f"stored {balance} but the ledger adds up to "
                                                               f"{rebuilt.get(allocation_id)}"))
        if not balance.holds():
            problems.append(BooksProblem(allocation_id or 0, f"{balance} breaks allocated = committed + spent + "
                                                               "remaining with every term >= 0"))
        if by_lines.get(allocation_id, (0, 0)) != (balance.committed, balance.spent):
            problems.append(BooksProblem(allocation_id or 0, f"commitment lines say {by_lines.get(allocation_id)} "
                                                               f"(committed, spent), the allocation {balance}"))
    return problems

